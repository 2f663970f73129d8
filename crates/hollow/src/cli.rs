//! `kubemark hollow-node`: the flags, kubeconfig loading, and running a
//! fleet until interrupted.

use crate::config::{FleetConfig, Morphs};
use crate::duration::parse_duration;
use crate::error::HollowError;
use crate::fleet::start_fleet;
use crate::ipam::Ipv4Cidr;
use crate::node_status::{parse_extended_resources, parse_labels, parse_taints};
use crate::pod_spec::{DelayDist, PodBehavior};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

fn fraction_arg(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number between 0 and 1"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// Run N hollow nodes (kubelet, kube-proxy and node problem detector
/// simulators) in this process against the master of a kubeconfig.
#[derive(Debug, Clone, clap::Args)]
pub struct HollowNodeArgs {
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Number of hollow nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Node names are <prefix><index>.
    #[arg(long, default_value = "hollow-node-")]
    pub name_prefix: String,
    /// Name of the single node (with --nodes 1).
    #[arg(long)]
    pub name: Option<String>,
    /// Index of the first node (names, addresses, pod subnets), so that
    /// several processes can share a cluster.
    #[arg(long, default_value_t = 0)]
    pub first_index: u32,
    /// Components per node: any of kubelet, proxy, npd.
    #[arg(long, default_value = "kubelet,proxy,npd")]
    pub morph: Morphs,
    /// Extra node labels: key=value,...
    #[arg(long, default_value = "")]
    pub node_labels: String,
    /// Taints to register with: key[=value]:Effect,...
    #[arg(long, default_value = "")]
    pub register_with_taints: String,
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// CPU capacity (= allocatable) of each node; the default is upstream
    /// kubemark's fake machine.
    #[arg(long, default_value = "1")]
    pub node_cpu: String,
    /// Memory capacity (= allocatable) of each node; the default is
    /// upstream kubemark's fake machine (4026531840 bytes).
    #[arg(long, default_value = "3840Mi")]
    pub node_memory: String,
    /// Extended resources: name=quantity,... (e.g. example.com/gpu=4).
    #[arg(long, default_value = "")]
    pub extended_resources: String,
    /// Base range of the pod IPs; node i hands out the i-th /24 of it
    /// (not written to the Node: spec.podCIDR is the controller-manager's).
    #[arg(long, default_value = "10.64.0.0/11")]
    pub pod_cidr: Ipv4Cidr,
    /// Node i's InternalIP is base + 2 + i.
    #[arg(long, default_value = "10.0.0.0/10")]
    pub node_ip_base: Ipv4Cidr,
    #[arg(long, default_value = "10s", value_parser = duration_arg)]
    pub node_status_update_frequency: Duration,
    #[arg(long, default_value = "5m", value_parser = duration_arg)]
    pub node_status_report_frequency: Duration,
    #[arg(long, default_value = "40s", value_parser = duration_arg)]
    pub node_lease_duration: Duration,
    /// QPS of each kubelet's main client (<= 0: unlimited).
    #[arg(long, default_value_t = 10.0)]
    pub kube_api_qps: f64,
    #[arg(long, default_value_t = 20)]
    pub kube_api_burst: u32,
    /// Multiplex all nodes onto this many connections instead of one per
    /// kubelet and per proxy (scale over fidelity).
    #[arg(long)]
    pub shared_connections: Option<usize>,
    /// Multiplex only the proxies onto this many connections; every
    /// kubelet keeps its own (10,000 nodes in about 10,400 descriptors).
    #[arg(long, conflicts_with = "shared_connections")]
    pub shared_proxy_connections: Option<usize>,
    /// Concurrent streams allowed on one connection.
    #[arg(long, default_value_t = 90)]
    pub max_streams_per_connection: u32,
    /// Address for /metrics and /debug/nodes.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_listen: SocketAddr,
    /// Container startup delay: 2s, fixed:2s, uniform:1s-5s or
    /// lognormal:2s,0.5 (median, sigma). The kubemark.io/startup-delay
    /// annotation overrides it per pod.
    #[arg(long, default_value = "0s")]
    pub pod_startup_delay: DelayDist,
    /// Fraction of pods (by UID) whose containers crash-loop.
    #[arg(long, default_value = "0", value_parser = fraction_arg)]
    pub crash_loop_fraction: f64,
    /// Fraction of pods (by UID) that never become ready.
    #[arg(long, default_value = "0", value_parser = fraction_arg)]
    pub never_ready_fraction: f64,
    /// How long a crash-looping container runs before it crashes.
    #[arg(long, default_value = "5s", value_parser = duration_arg)]
    pub crash_after: Duration,
    /// kubeletVersion and kubeProxyVersion reported by the nodes.
    #[arg(long, default_value = "v1.24.10")]
    pub kubelet_version: String,
    /// Derive --first-index and --nodes from the pod ordinal: the trailing
    /// -<N> of $HOSTNAME (else $POD_NAME), as in a StatefulSet pod. Pod N
    /// runs nodes [N*K, min((N+1)*K, total)), so pods never overlap and a
    /// restarted pod gets its nodes back. Needs --nodes-per-pod and
    /// --total-nodes.
    #[arg(
        long,
        requires_all = ["nodes_per_pod", "total_nodes"],
        conflicts_with_all = ["nodes", "first_index", "name"]
    )]
    pub index_from_hostname: bool,
    /// Hollow nodes per pod (K) for --index-from-hostname.
    #[arg(long, requires = "index_from_hostname")]
    pub nodes_per_pod: Option<usize>,
    /// Hollow nodes over all pods for --index-from-hostname.
    #[arg(long, requires = "index_from_hostname")]
    pub total_nodes: Option<usize>,
}

/// The ordinal of a StatefulSet pod from its name (= hostname):
/// `hollow-node-12` -> 12.
pub fn pod_ordinal(hostname: &str) -> Result<usize, HollowError> {
    hostname
        .rsplit_once('-')
        .and_then(|(_, n)| {
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                n.parse().ok()
            } else {
                None
            }
        })
        .ok_or_else(|| {
            HollowError::Config(format!(
                "--index-from-hostname: hostname {hostname:?} does not end in -<ordinal> like a StatefulSet pod's (e.g. hollow-node-3)"
            ))
        })
}

/// The nodes pod `hostname` runs with `--index-from-hostname`: (first
/// index, count) = [ordinal*K, min((ordinal+1)*K, total)). A pod past the
/// end (its range is empty) is an error: it should not exist, and exiting
/// makes it visible (CrashLoopBackOff) instead of idling unnoticed.
pub fn node_range_for_pod(
    hostname: &str,
    nodes_per_pod: usize,
    total_nodes: usize,
) -> Result<(u32, usize), HollowError> {
    if nodes_per_pod == 0 {
        return Err(HollowError::Config(
            "--nodes-per-pod must be at least 1".into(),
        ));
    }
    let ordinal = pod_ordinal(hostname)?;
    let first = ordinal.saturating_mul(nodes_per_pod);
    let end = ordinal
        .saturating_add(1)
        .saturating_mul(nodes_per_pod)
        .min(total_nodes);
    if first >= end {
        return Err(HollowError::Config(format!(
            "--index-from-hostname: pod {hostname:?} (ordinal {ordinal}) has no nodes to run: {total_nodes} node(s) at {nodes_per_pod} per pod need only {} pod(s)",
            total_nodes.div_ceil(nodes_per_pod)
        )));
    }
    let first_index = u32::try_from(first).map_err(|_| {
        HollowError::Config(format!(
            "--index-from-hostname: first index {first} is too large"
        ))
    })?;
    Ok((first_index, end - first))
}

impl HollowNodeArgs {
    /// The fleet configuration; with `--index-from-hostname` the node
    /// range comes from `$HOSTNAME` (else `$POD_NAME`).
    pub fn fleet_config(&self) -> Result<FleetConfig, HollowError> {
        let pod_name = || {
            ["HOSTNAME", "POD_NAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        };
        self.fleet_config_for_pod(pod_name)
    }

    /// [`Self::fleet_config`] with the pod name given (for tests).
    pub fn fleet_config_for_pod(
        &self,
        pod_name: impl FnOnce() -> Option<String>,
    ) -> Result<FleetConfig, HollowError> {
        let (first_index, nodes) = match (
            self.index_from_hostname,
            self.nodes_per_pod,
            self.total_nodes,
        ) {
            (false, None, None) => (self.first_index, self.nodes),
            (true, Some(k), Some(total)) => {
                let host = pod_name().ok_or_else(|| {
                    HollowError::Config(
                        "--index-from-hostname: neither HOSTNAME nor POD_NAME is set".into(),
                    )
                })?;
                node_range_for_pod(&host, k, total)?
            }
            _ => {
                return Err(HollowError::Config(
                    "--index-from-hostname, --nodes-per-pod and --total-nodes go together".into(),
                ))
            }
        };
        Ok(FleetConfig {
            nodes,
            name_prefix: self.name_prefix.clone(),
            name: self.name.clone(),
            first_index,
            morph: self.morph,
            node_labels: parse_labels(&self.node_labels)?,
            register_with_taints: parse_taints(&self.register_with_taints)?,
            max_pods: self.max_pods,
            node_cpu: self.node_cpu.clone(),
            node_memory: self.node_memory.clone(),
            extended_resources: parse_extended_resources(&self.extended_resources)?,
            pod_cidr: self.pod_cidr,
            node_ip_base: self.node_ip_base,
            node_status_update_frequency: self.node_status_update_frequency,
            node_status_report_frequency: self.node_status_report_frequency,
            node_lease_duration: self.node_lease_duration,
            kube_api_qps: self.kube_api_qps,
            kube_api_burst: self.kube_api_burst,
            shared_connections: self.shared_connections,
            shared_proxy_connections: self.shared_proxy_connections,
            max_streams_per_connection: self.max_streams_per_connection,
            metrics_listen: Some(self.metrics_listen),
            pod_behavior: PodBehavior {
                startup_delay: self.pod_startup_delay.clone(),
                crash_loop_fraction: self.crash_loop_fraction,
                never_ready_fraction: self.never_ready_fraction,
                crash_after: self.crash_after,
            },
            kubelet_version: self.kubelet_version.clone(),
            ..FleetConfig::default()
        })
    }
}

/// Loads a kubeconfig the standard way: `path`, else `$KUBECONFIG`, else
/// `~/.kube/config` (then in-cluster), using `context` or the current one.
pub async fn load_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, HollowError> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(String::from),
        ..Default::default()
    };
    match path {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p)
                .map_err(|e| HollowError::Kubeconfig(format!("{}: {e}", p.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| HollowError::Kubeconfig(format!("{}: {e}", p.display())))
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| HollowError::Kubeconfig(e.to_string())),
        None => kube::Config::infer()
            .await
            .map_err(|e| HollowError::Kubeconfig(e.to_string())),
    }
}

/// A client configuration from kubeconfig YAML text.
pub async fn config_from_yaml(
    yaml: &str,
    context: Option<&str>,
) -> Result<kube::Config, HollowError> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml)
        .map_err(|e| HollowError::Kubeconfig(e.to_string()))?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(String::from),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| HollowError::Kubeconfig(e.to_string()))
}

async fn interrupted() -> Result<(), HollowError> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(HollowError::Signal)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(HollowError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(HollowError::Signal)
    }
}

/// `kubemark hollow-node`: runs the fleet until Ctrl-C or SIGTERM.
pub async fn run_cli(args: HollowNodeArgs) -> Result<(), HollowError> {
    let cfg = args.fleet_config()?;
    let kubeconfig = load_kubeconfig(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let server = kubeconfig.cluster_url.to_string();
    let nodes = cfg.nodes;
    let fleet = start_fleet(kubeconfig, cfg).await?;
    match fleet.metrics_addr() {
        Some(a) => println!(
            "hollow-node: {nodes} hollow node(s) against {server}; metrics at http://{a}/metrics, nodes at http://{a}/debug/nodes"
        ),
        None => println!("hollow-node: {nodes} hollow node(s) against {server}"),
    }
    let result = interrupted().await;
    let s = fleet.stats();
    println!(
        "hollow-node: stopping ({} registered, {} ready, {} pods running)",
        s.registered, s.ready, s.pods_running
    );
    fleet.shutdown().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: HollowNodeArgs,
    }

    #[test]
    fn flags_map_to_the_config() {
        let cmd = Cmd::try_parse_from([
            "x",
            "--nodes",
            "3",
            "--morph",
            "kubelet,proxy",
            "--node-labels",
            "zone=a",
            "--register-with-taints",
            "dedicated=hollow:NoSchedule",
            "--extended-resources",
            "example.com/gpu=2",
            "--node-status-update-frequency",
            "500ms",
            "--pod-startup-delay",
            "uniform:1s-3s",
            "--crash-loop-fraction",
            "0.1",
            "--shared-connections",
            "4",
        ])
        .unwrap();
        let c = cmd.args.fleet_config().unwrap();
        assert_eq!(c.nodes, 3);
        assert!(!c.morph.npd);
        assert_eq!(c.node_labels["zone"], "a");
        assert_eq!(c.register_with_taints[0].effect, "NoSchedule");
        assert_eq!(c.capacity()["example.com/gpu"], "2");
        assert_eq!(c.node_status_update_frequency, Duration::from_millis(500));
        assert_eq!(c.node_lease_duration, Duration::from_secs(40));
        assert_eq!(c.shared_connections, Some(4));
        assert_eq!(c.pod_behavior.crash_loop_fraction, 0.1);
        assert!(matches!(
            c.pod_behavior.startup_delay,
            DelayDist::Uniform { .. }
        ));
        assert_eq!(c.metrics_listen.unwrap().ip().to_string(), "127.0.0.1");
    }

    #[test]
    fn rejects_bad_flags() {
        for bad in [
            vec!["x", "--crash-loop-fraction", "2"],
            vec!["x", "--node-lease-duration", "forever"],
            vec!["x", "--pod-cidr", "10.0.0.0"],
            vec!["x", "--morph", "kubelet,dns"],
        ] {
            assert!(Cmd::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        let cmd = Cmd::try_parse_from(["x", "--node-labels", "novalue"]).unwrap();
        assert!(cmd.args.fleet_config().is_err());
    }

    #[test]
    fn node_range_from_the_pod_ordinal() {
        // (hostname, K, total) -> (first index, count) or an error
        // mentioning the text.
        type Case = (
            &'static str,
            usize,
            usize,
            Result<(u32, usize), &'static str>,
        );
        let cases: [Case; 11] = [
            ("hollow-node-0", 2, 5, Ok((0, 2))),
            ("hollow-node-1", 2, 5, Ok((2, 2))),
            ("hollow-node-2", 2, 5, Ok((4, 1))),
            ("hollow-node-3", 2, 5, Err("no nodes to run")),
            ("hollow-node-7", 100, 1000, Ok((700, 100))),
            ("a-b-10", 1, 11, Ok((10, 1))),
            ("hollow-node-0", 0, 5, Err("--nodes-per-pod")),
            ("hollow-node", 2, 5, Err("\"hollow-node\"")),
            ("hollow-node-", 2, 5, Err("-<ordinal>")),
            ("hollow-node-x1", 2, 5, Err("-<ordinal>")),
            (
                "hollow-node-99999999999999999999999",
                2,
                5,
                Err("-<ordinal>"),
            ),
        ];
        for (host, k, total, want) in cases {
            let got = node_range_for_pod(host, k, total);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{host} {k} {total}"),
                (Err(text), Err(e)) => {
                    assert!(e.to_string().contains(text), "{host}: {e}")
                }
                (w, g) => panic!("{host} {k} {total}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn index_from_hostname_flags() {
        let cmd = Cmd::try_parse_from([
            "x",
            "--nodes-per-pod=2",
            "--total-nodes=5",
            "--index-from-hostname",
        ])
        .unwrap();
        let c = cmd
            .args
            .fleet_config_for_pod(|| Some("hollow-node-1".into()))
            .unwrap();
        assert_eq!((c.first_index, c.nodes), (2, 2));
        let names: Vec<String> = c.plan().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["hollow-node-2", "hollow-node-3"]);
        let e = cmd.args.fleet_config_for_pod(|| None).unwrap_err();
        assert!(e.to_string().contains("HOSTNAME"), "{e}");
        for bad in [
            vec!["x", "--index-from-hostname"],
            vec!["x", "--index-from-hostname", "--nodes-per-pod=2"],
            vec!["x", "--nodes-per-pod=2", "--total-nodes=5"],
            vec![
                "x",
                "--index-from-hostname",
                "--nodes-per-pod=2",
                "--total-nodes=5",
                "--nodes=3",
            ],
            vec![
                "x",
                "--index-from-hostname",
                "--nodes-per-pod=2",
                "--total-nodes=5",
                "--first-index=3",
            ],
        ] {
            assert!(Cmd::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn loads_kubeconfig_yaml() {
        let yaml = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: ctx\ncurrent-context: ctx\nusers:\n- name: u\n  user:\n    token: abc\n";
        let cfg = config_from_yaml(yaml, None).await.unwrap();
        assert_eq!(cfg.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert!(config_from_yaml("not: [yaml", None).await.is_err());
        assert!(config_from_yaml(yaml, Some("nope")).await.is_err());
    }
}
