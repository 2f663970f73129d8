//! The pod garbage collector: force-deletes (grace 0) pods bound to nodes
//! that no longer exist (after a quarantine and a live check that the node
//! is really gone), unscheduled pods stuck terminating, and the oldest
//! terminated pods beyond `--terminated-pod-gc-threshold`.

use crate::informer::{Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::util;
use futures::future::{join_all, BoxFuture};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pods to delete, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GcPlan {
    /// Terminated pods over the threshold, oldest first: (ns, name).
    pub terminated: Vec<(String, String)>,
    /// Pods whose node is missing and past quarantine, keyed by node.
    pub orphaned: HashMap<String, Vec<(String, String)>>,
    /// Unscheduled pods being deleted.
    pub unscheduled_terminating: Vec<(String, String)>,
}

fn id(p: &Pod) -> (String, String) {
    (
        p.metadata.namespace.clone().unwrap_or_default(),
        p.metadata.name.clone().unwrap_or_default(),
    )
}

/// Decides what to collect. `missing_since` records when each missing node
/// was first noticed (updated here); nodes missing for at least
/// `quarantine` yield their pods.
pub fn gc_plan(
    pods: &[Arc<Pod>],
    nodes: &HashSet<String>,
    threshold: usize,
    quarantine: Duration,
    missing_since: &mut HashMap<String, Instant>,
    now: Instant,
) -> GcPlan {
    let mut plan = GcPlan::default();
    // Terminated pods over the threshold.
    let mut terminated: Vec<&Arc<Pod>> = pods.iter().filter(|p| util::is_pod_terminal(p)).collect();
    if threshold > 0 && terminated.len() > threshold {
        terminated.sort_by(|a, b| {
            let ct = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            ct(a)
                .cmp(&ct(b))
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
        plan.terminated = terminated
            .iter()
            .take(terminated.len() - threshold)
            .map(|p| id(p))
            .collect();
    }
    // Orphaned pods.
    let mut still_missing: HashSet<String> = HashSet::new();
    for p in pods {
        let Some(node) = util::pod_node_name(p) else {
            if util::is_deleting(&p.metadata) {
                plan.unscheduled_terminating.push(id(p));
            }
            continue;
        };
        if nodes.contains(node) {
            continue;
        }
        still_missing.insert(node.to_string());
        let since = *missing_since.entry(node.to_string()).or_insert(now);
        if now.duration_since(since) >= quarantine {
            plan.orphaned
                .entry(node.to_string())
                .or_default()
                .push(id(p));
        }
    }
    missing_since.retain(|n, _| still_missing.contains(n));
    plan
}

pub struct PodGc {
    ctx: Ctx,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    missing_since: HashMap<String, Instant>,
}

const KEY: &str = "gc";

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let pods = factory.get::<Pod>();
    let nodes = factory.get::<Node>();
    let wiring: runtime::Wiring<()> = runtime::Wiring::new();
    let mut q = WorkQueue::new();
    q.add(KEY);
    // Keep the sender alive: the loop ends when the channel closes.
    let tx = wiring.tx.clone();
    let r = PodGc {
        ctx: ctx.clone(),
        pods,
        nodes,
        missing_since: HashMap::new(),
    };
    let inner = runtime::starter(r, wiring.rx, q);
    Box::new(move |shutdown| {
        Box::pin(async move {
            inner(shutdown).await;
            drop(tx);
        })
    })
}

impl Reconciler for PodGc {
    type Msg = ();
    type Done = ();

    fn on_msg(&mut self, _msg: (), _q: &mut WorkQueue) {}

    fn sync(&mut self, _key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, ()>> {
        let pods = self.pods.list();
        let nodes: HashSet<String> = self
            .nodes
            .list()
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let cfg = &self.ctx.config;
        let plan = gc_plan(
            &pods,
            &nodes,
            cfg.terminated_pod_gc_threshold,
            cfg.pod_gc_orphan_quarantine,
            &mut self.missing_since,
            Instant::now(),
        );
        let ctx = self.ctx.clone();
        Some(Box::pin(async move {
            let mut doomed = plan.terminated;
            doomed.extend(plan.unscheduled_terminating);
            // Confirm each missing node is really gone before deleting its pods.
            let nodes_api: Api<Node> = Api::all(ctx.client.clone());
            for (node, pods) in plan.orphaned {
                match ctx.call(nodes_api.get(&node)).await {
                    Err(e) if util::is_not_found(&e) => doomed.extend(pods),
                    _ => {}
                }
            }
            join_all(doomed.into_iter().map(|(ns, name)| {
                let ctx = ctx.clone();
                async move {
                    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
                    let dp = DeleteParams {
                        grace_period_seconds: Some(0),
                        ..Default::default()
                    };
                    if let Err(e) = ctx.call(api.delete(&name, &dp)).await {
                        if !util::is_not_found(&e) {
                            tracing::debug!(pod = %name, error = %e, "pod gc delete failed");
                        }
                    }
                }
            }))
            .await;
        }))
    }

    fn on_done(&mut self, key: &str, _done: (), q: &mut WorkQueue) {
        q.add_after(key, self.ctx.config.pod_gc_period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: Option<&str>, phase: &str, created: &str, deleting: bool) -> Arc<Pod> {
        let mut v = json!({"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"containers": [], "nodeName": node}, "status": {"phase": phase}});
        if deleting {
            v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn collects_orphans_after_quarantine() {
        let pods = vec![
            pod(
                "on-live",
                Some("a"),
                "Running",
                "2024-01-01T00:00:00Z",
                false,
            ),
            pod(
                "on-gone",
                Some("b"),
                "Running",
                "2024-01-01T00:00:00Z",
                false,
            ),
        ];
        let nodes: HashSet<String> = ["a".to_string()].into();
        let mut missing = HashMap::new();
        let t0 = Instant::now();
        let q = Duration::from_secs(40);
        let p = gc_plan(&pods, &nodes, 100, q, &mut missing, t0);
        assert!(p.orphaned.is_empty(), "quarantined first");
        let p = gc_plan(
            &pods,
            &nodes,
            100,
            q,
            &mut missing,
            t0 + Duration::from_secs(41),
        );
        assert_eq!(
            p.orphaned.get("b"),
            Some(&vec![("ns".to_string(), "on-gone".to_string())])
        );
        // The node came back: the record is dropped.
        let both: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        gc_plan(
            &pods,
            &both,
            100,
            q,
            &mut missing,
            t0 + Duration::from_secs(42),
        );
        assert!(missing.is_empty());
    }

    #[test]
    fn collects_oldest_terminated_over_threshold_and_stuck_unscheduled() {
        let pods = vec![
            pod("new", Some("a"), "Succeeded", "2024-01-03T00:00:00Z", false),
            pod("old", Some("a"), "Failed", "2024-01-01T00:00:00Z", false),
            pod("mid", Some("a"), "Succeeded", "2024-01-02T00:00:00Z", false),
            pod(
                "running",
                Some("a"),
                "Running",
                "2024-01-01T00:00:00Z",
                false,
            ),
            pod("stuck", None, "Pending", "2024-01-01T00:00:00Z", true),
        ];
        let nodes: HashSet<String> = ["a".to_string()].into();
        let p = gc_plan(
            &pods,
            &nodes,
            1,
            Duration::from_secs(40),
            &mut HashMap::new(),
            Instant::now(),
        );
        let names: Vec<&str> = p.terminated.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["old", "mid"]);
        assert_eq!(
            p.unscheduled_terminating,
            vec![("ns".to_string(), "stuck".to_string())]
        );
    }
}
