//! Hollow nodes started by a run (in this process), and counting the
//! cluster's Ready nodes.

use crate::PerfError;
use k8s_openapi::api::core::v1::Node;

/// A fleet of hollow nodes named `<prefix><index>`.
pub struct HollowNodes {
    fleet: hollow::Fleet,
    pub prefix: String,
    pub count: usize,
}

impl HollowNodes {
    /// Starts `count` hollow nodes against the master of `config`.
    pub async fn start(
        config: kube::Config,
        count: usize,
        prefix: &str,
        shared_connections: Option<usize>,
    ) -> Result<HollowNodes, PerfError> {
        let cfg = hollow::FleetConfig {
            nodes: count,
            name_prefix: prefix.to_string(),
            // The run measures the master, not the fleet's own endpoint.
            metrics_listen: None,
            shared_connections,
            ..hollow::FleetConfig::default()
        };
        let fleet = hollow::start_fleet(config, cfg)
            .await
            .map_err(|e| PerfError::Hollow(format!("starting {count} hollow nodes: {e}")))?;
        Ok(HollowNodes {
            fleet,
            prefix: prefix.to_string(),
            count,
        })
    }

    /// Nodes whose kubelet reports itself Ready (cheap, local).
    pub fn ready_locally(&self) -> usize {
        self.fleet.stats().ready
    }

    pub fn stats(&self) -> hollow::FleetStats {
        self.fleet.stats()
    }

    pub async fn shutdown(self) {
        self.fleet.shutdown().await;
    }
}

/// Whether a node is Ready and takes pods (not cordoned, no NoSchedule /
/// NoExecute taint), as ClusterLoader2 counts schedulable nodes.
pub fn schedulable_and_ready(n: &Node) -> bool {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let spec = n.spec.as_ref();
    let cordoned = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let tainted = spec.and_then(|s| s.taints.as_ref()).is_some_and(|ts| {
        ts.iter()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
    });
    ready && !cordoned && !tainted
}

/// Ready schedulable nodes, optionally only those named `prefix*`.
pub async fn count_ready(client: &kube::Client, prefix: Option<&str>) -> Result<usize, PerfError> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| PerfError::Api {
            what: "list nodes".into(),
            reason: e.to_string(),
        })?;
    Ok(list
        .items
        .iter()
        .filter(|n| prefix.is_none_or(|p| n.metadata.name.as_deref().unwrap_or("").starts_with(p)))
        .filter(|n| schedulable_and_ready(n))
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedulable_nodes() {
        let node = |spec: serde_json::Value, ready: &str| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n"},
                "spec": spec,
                "status": {"conditions": [{"type": "Ready", "status": ready}]},
            }))
            .unwrap()
        };
        assert!(schedulable_and_ready(&node(json!({}), "True")));
        assert!(!schedulable_and_ready(&node(json!({}), "Unknown")));
        assert!(!schedulable_and_ready(&node(
            json!({"unschedulable": true}),
            "True"
        )));
        assert!(!schedulable_and_ready(&node(
            json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}),
            "True"
        )));
        assert!(schedulable_and_ready(&node(
            json!({"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}),
            "True"
        )));
    }
}
