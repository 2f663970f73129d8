//! Fleet configuration: every `kubemark hollow-node` flag as a field, with
//! the kubelet's defaults, and the per-node plan (names, addresses, pod
//! subnets) computed from it.

use crate::error::HollowError;
use crate::ipam::{node_address, node_pod_cidr, Ipv4Cidr};
use crate::node_status::{check_quantity, NodeIdent, Taint};
use crate::pod_spec::PodBehavior;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Mints a client certificate for a node: given the node name, returns
/// (certificate PEM, private key PEM) for user `system:node:<name>` in
/// group `system:nodes`, or why it could not.
pub type NodeCredentials = Arc<dyn Fn(&str) -> Result<(String, String), String> + Send + Sync>;

/// Which hollow components each node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Morphs {
    pub kubelet: bool,
    pub proxy: bool,
    pub npd: bool,
}

impl Default for Morphs {
    fn default() -> Morphs {
        Morphs {
            kubelet: true,
            proxy: true,
            npd: true,
        }
    }
}

impl std::str::FromStr for Morphs {
    type Err = String;

    /// `kubelet,proxy,npd` (any subset, at least one).
    fn from_str(s: &str) -> Result<Morphs, String> {
        let mut m = Morphs {
            kubelet: false,
            proxy: false,
            npd: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "kubelet" => m.kubelet = true,
                "proxy" => m.proxy = true,
                "npd" => m.npd = true,
                other => {
                    return Err(format!(
                        "unknown morph {other:?}: use kubelet, proxy and/or npd"
                    ))
                }
            }
        }
        if !(m.kubelet || m.proxy || m.npd) {
            return Err("--morph needs at least one of kubelet, proxy, npd".into());
        }
        Ok(m)
    }
}

/// Everything a fleet of hollow nodes needs to know.
#[derive(Clone)]
pub struct FleetConfig {
    /// How many hollow nodes to run.
    pub nodes: usize,
    /// Node names are `<name_prefix><index>`.
    pub name_prefix: String,
    /// An explicit name for a single node (requires `nodes == 1`).
    pub name: Option<String>,
    /// Index of the first node: for names, addresses and pod subnets, so
    /// that several processes can share a cluster without overlap.
    pub first_index: u32,
    pub morph: Morphs,
    pub node_labels: BTreeMap<String, String>,
    pub register_with_taints: Vec<Taint>,
    pub max_pods: u32,
    pub node_cpu: String,
    pub node_memory: String,
    pub node_ephemeral_storage: String,
    pub extended_resources: BTreeMap<String, String>,
    /// Base range for pod subnets: node `i` gets the `i`-th /`pod_cidr_prefix`.
    pub pod_cidr: Ipv4Cidr,
    pub pod_cidr_prefix: u8,
    /// Node `i`'s InternalIP is `node_ip_base + 2 + i`.
    pub node_ip_base: Ipv4Cidr,
    pub node_status_update_frequency: Duration,
    pub node_status_report_frequency: Duration,
    pub node_lease_duration: Duration,
    /// Lease renewal interval; default a quarter of the lease duration
    /// (the kubelet's renew-interval fraction 0.25: 10 s for 40 s).
    pub node_lease_renew_interval: Option<Duration>,
    /// The kubelet's main client limit (QPS <= 0: unlimited).
    pub kube_api_qps: f64,
    pub kube_api_burst: u32,
    /// Multiplex all nodes onto this many connections (per component
    /// kind) instead of one connection per kubelet and per proxy.
    pub shared_connections: Option<usize>,
    /// Multiplex only the proxies onto this many connections; kubelets
    /// keep one connection each (fits 10,000 nodes in 20,000 descriptors
    /// while every kubelet keeps its own connection and identity).
    pub shared_proxy_connections: Option<usize>,
    /// Concurrent streams allowed on one connection.
    pub max_streams_per_connection: u32,
    /// Where to serve `/metrics`; `None` serves nothing.
    pub metrics_listen: Option<SocketAddr>,
    pub pod_behavior: PodBehavior,
    /// Per-node client certificates (identity `system:node:<name>`).
    pub node_credentials: Option<NodeCredentials>,
    /// kubeletVersion / kubeProxyVersion reported in nodeInfo.
    pub kubelet_version: String,
    /// NPD re-reports its conditions this often even without a change.
    pub npd_heartbeat_period: Duration,
    /// kube-proxy's minimum interval between rule syncs.
    pub proxy_min_sync_period: Duration,
    /// Nodes registering at the same time (bounds the start-up burst).
    pub registration_concurrency: usize,
}

impl Default for FleetConfig {
    fn default() -> FleetConfig {
        FleetConfig {
            nodes: 1,
            name_prefix: "hollow-node-".into(),
            name: None,
            first_index: 0,
            morph: Morphs::default(),
            node_labels: BTreeMap::new(),
            register_with_taints: Vec::new(),
            max_pods: 110,
            // Upstream kubemark's fake cAdvisor machine: 1 core, 3840Mi.
            node_cpu: "1".into(),
            node_memory: "3840Mi".into(),
            node_ephemeral_storage: "0".into(),
            extended_resources: BTreeMap::new(),
            // A /11 keeps clear of the usual service range 10.96.0.0/12
            // and still holds 8,192 node subnets.
            pod_cidr: Ipv4Cidr::clamped(std::net::Ipv4Addr::new(10, 64, 0, 0), 11),
            pod_cidr_prefix: 24,
            node_ip_base: Ipv4Cidr::clamped(std::net::Ipv4Addr::new(10, 0, 0, 0), 10),
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            node_lease_duration: Duration::from_secs(40),
            node_lease_renew_interval: None,
            kube_api_qps: 10.0,
            kube_api_burst: 20,
            shared_connections: None,
            shared_proxy_connections: None,
            max_streams_per_connection: 90,
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            pod_behavior: PodBehavior::default(),
            node_credentials: None,
            kubelet_version: "v1.24.10".into(),
            npd_heartbeat_period: Duration::from_secs(300),
            proxy_min_sync_period: Duration::from_secs(1),
            registration_concurrency: 64,
        }
    }
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("nodes", &self.nodes)
            .field("name_prefix", &self.name_prefix)
            .field("name", &self.name)
            .field("first_index", &self.first_index)
            .field("morph", &self.morph)
            .field("pod_cidr", &self.pod_cidr.to_string())
            .field(
                "node_status_update_frequency",
                &self.node_status_update_frequency,
            )
            .field(
                "node_status_report_frequency",
                &self.node_status_report_frequency,
            )
            .field("node_lease_duration", &self.node_lease_duration)
            .field("shared_connections", &self.shared_connections)
            .field("shared_proxy_connections", &self.shared_proxy_connections)
            .field("node_credentials", &self.node_credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    pub fn lease_renew_interval(&self) -> Duration {
        self.node_lease_renew_interval
            .unwrap_or(self.node_lease_duration / 4)
            .max(Duration::from_millis(10))
    }

    /// Capacity (= allocatable) of every node.
    pub fn capacity(&self) -> BTreeMap<String, String> {
        let mut c = BTreeMap::new();
        c.insert("cpu".to_string(), self.node_cpu.clone());
        c.insert("memory".to_string(), self.node_memory.clone());
        c.insert("pods".to_string(), self.max_pods.to_string());
        c.insert(
            "ephemeral-storage".to_string(),
            self.node_ephemeral_storage.clone(),
        );
        for (k, v) in &self.extended_resources {
            c.insert(k.clone(), v.clone());
        }
        c
    }

    pub fn validate(&self) -> Result<(), HollowError> {
        let bad = |m: String| Err(HollowError::Config(m));
        if self.nodes == 0 {
            return bad("--nodes must be at least 1".into());
        }
        if self.name.is_some() && self.nodes != 1 {
            return bad(format!(
                "--name names a single node but --nodes is {}; use --name-prefix for several",
                self.nodes
            ));
        }
        if self.name.is_none() && self.name_prefix.is_empty() {
            return bad("--name-prefix must not be empty".into());
        }
        if self.max_pods == 0 {
            return bad("--max-pods must be at least 1".into());
        }
        check_quantity("--node-cpu", &self.node_cpu)?;
        check_quantity("--node-memory", &self.node_memory)?;
        check_quantity("ephemeral-storage", &self.node_ephemeral_storage)?;
        for (k, v) in &self.extended_resources {
            check_quantity(k, v)?;
        }
        if self.node_status_update_frequency.is_zero() || self.node_lease_duration.is_zero() {
            return bad(
                "--node-status-update-frequency and --node-lease-duration must be positive".into(),
            );
        }
        if self.max_streams_per_connection < 8 {
            return bad(format!(
                "at least 8 streams per connection are needed (a node holds 5 to 8 watches), got {}",
                self.max_streams_per_connection
            ));
        }
        if self.shared_connections == Some(0) {
            return bad("--shared-connections must be at least 1".into());
        }
        if self.shared_proxy_connections == Some(0) {
            return bad("--shared-proxy-connections must be at least 1".into());
        }
        if let (Some(last), true) = (
            self.first_index.checked_add(self.nodes as u32 - 1),
            self.nodes <= u32::MAX as usize,
        ) {
            node_pod_cidr(self.pod_cidr, self.pod_cidr_prefix, last)?;
            node_address(self.node_ip_base, last)?;
        } else {
            return bad(format!("too many nodes: {}", self.nodes));
        }
        Ok(())
    }

    /// Name, address and pod subnet of every node, in index order.
    pub fn plan(&self) -> Result<Vec<NodeIdent>, HollowError> {
        self.validate()?;
        (0..self.nodes as u32)
            .map(|i| {
                let index = self.first_index + i;
                let name = match &self.name {
                    Some(n) => n.clone(),
                    None => format!("{}{index}", self.name_prefix),
                };
                Ok(NodeIdent {
                    name,
                    internal_ip: node_address(self.node_ip_base, index)?,
                    pod_cidr: node_pod_cidr(self.pod_cidr, self.pod_cidr_prefix, index)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_kubelet() {
        let c = FleetConfig::default();
        assert_eq!(c.lease_renew_interval(), Duration::from_secs(10));
        assert_eq!(c.node_status_update_frequency, Duration::from_secs(10));
        assert_eq!(c.node_status_report_frequency, Duration::from_secs(300));
        assert_eq!(c.kube_api_qps, 10.0);
        assert_eq!(c.kube_api_burst, 20);
        assert_eq!(c.pod_cidr.to_string(), "10.64.0.0/11");
        let cap = c.capacity();
        assert_eq!(cap["pods"], "110");
        assert_eq!(cap["cpu"], "1");
        assert_eq!(cap["memory"], "3840Mi");
        assert_eq!(cap["ephemeral-storage"], "0");
    }

    #[test]
    fn plans_nodes_without_overlap() {
        let c = FleetConfig {
            nodes: 3,
            first_index: 5,
            ..FleetConfig::default()
        };
        let plan = c.plan().unwrap();
        let names: Vec<&str> = plan.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["hollow-node-5", "hollow-node-6", "hollow-node-7"]);
        assert_eq!(plan[0].pod_cidr.to_string(), "10.64.5.0/24");
        assert_eq!(plan[2].internal_ip.to_string(), "10.0.0.9");
        let one = FleetConfig {
            name: Some("solo".into()),
            ..FleetConfig::default()
        };
        assert_eq!(one.plan().unwrap()[0].name, "solo");
    }

    #[test]
    fn rejects_bad_configs() {
        let cases = [
            FleetConfig {
                nodes: 0,
                ..FleetConfig::default()
            },
            FleetConfig {
                nodes: 2,
                name: Some("x".into()),
                ..FleetConfig::default()
            },
            FleetConfig {
                node_cpu: "lots".into(),
                ..FleetConfig::default()
            },
            FleetConfig {
                nodes: 9000,
                ..FleetConfig::default()
            },
            FleetConfig {
                max_streams_per_connection: 4,
                ..FleetConfig::default()
            },
            FleetConfig {
                shared_connections: Some(0),
                ..FleetConfig::default()
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(c.validate().is_err(), "case {i}");
        }
        let e = FleetConfig {
            nodes: 9000,
            ..FleetConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("--pod-cidr"), "{e}");
    }

    #[test]
    fn parses_morphs() {
        assert_eq!(
            "kubelet,proxy,npd".parse::<Morphs>().unwrap(),
            Morphs::default()
        );
        let k: Morphs = "kubelet".parse().unwrap();
        assert!(k.kubelet && !k.proxy && !k.npd);
        assert!("".parse::<Morphs>().is_err());
        assert!("kubelet,dns".parse::<Morphs>().is_err());
    }
}
