//! Real `kubemark master` and `kubemark hollow-node` processes for the
//! fault tests, and what the tests read from them (Ready nodes, leases,
//! CPU time).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use cluster::launcher::{MasterChild, MasterLaunch};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KUBEMARK: &str = env!("CARGO_BIN_EXE_kubemark");

/// `kubemark master` on `data_dir` (durable unless `ephemeral`), on
/// `listen` (port 0: a free one), with `extra` flags; output in `log`.
pub async fn master(
    data_dir: &Path,
    listen: SocketAddr,
    ephemeral: bool,
    extra: &[&str],
    log: &Path,
) -> MasterChild {
    let mut launch = MasterLaunch::ephemeral(log);
    launch.exe = Some(PathBuf::from(KUBEMARK));
    launch.data_dir = Some(data_dir.to_path_buf());
    launch.ephemeral = ephemeral;
    launch.listen = listen;
    launch.extra_args = extra.iter().map(|s| s.to_string()).collect();
    MasterChild::spawn(&launch)
        .await
        .unwrap_or_else(|e| panic!("master did not start: {e}"))
}

pub fn master_addr(m: &MasterChild) -> SocketAddr {
    m.ready
        .url
        .trim_start_matches("https://")
        .parse()
        .expect("master url")
}

pub async fn client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

/// A `kubemark hollow-node` process; killed when dropped.
pub struct Hollow {
    pub child: Child,
    pub log: PathBuf,
}

impl Hollow {
    /// `nodes` hollow nodes `<prefix><first>..` against `kubeconfig` (a
    /// file written next to `log`), lease duration `lease` (renewed every
    /// quarter), status checked every 2 s.
    pub fn start(
        kubeconfig: &str,
        prefix: &str,
        first: u32,
        nodes: u32,
        lease: &str,
        log: &Path,
        extra: &[&str],
    ) -> Hollow {
        let kc = log.with_extension("kubeconfig");
        std::fs::write(&kc, kubeconfig).unwrap();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(KUBEMARK)
            .arg("hollow-node")
            .arg("--kubeconfig")
            .arg(&kc)
            .args(["--name-prefix", prefix])
            .args(["--first-index", &first.to_string()])
            .args(["--nodes", &nodes.to_string()])
            .args(["--node-lease-duration", lease])
            .args(["--node-status-update-frequency", "2s"])
            .args(extra)
            .env("KUBEMARK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start kubemark hollow-node");
        Hollow {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Hollow {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    procstat::parse_cpu_seconds(&stat).expect("cpu seconds in /proc/<pid>/stat")
}

/// CPU used by `pid` over `f` (in cores: CPU seconds per second).
pub async fn cores_during<F: std::future::Future<Output = T>, T>(pid: u32, f: F) -> (f64, T) {
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    let out = f.await;
    let (c1, t1) = (cpu_seconds(pid), Instant::now());
    ((c1 - c0) / (t1 - t0).as_secs_f64(), out)
}

pub fn ready(n: &Node) -> Option<String> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

/// Ready condition status of every node named `<prefix>*`.
pub async fn node_readiness(client: &kube::Client, prefix: &str) -> BTreeMap<String, String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let Ok(list) = nodes.list(&ListParams::default()).await else {
        return BTreeMap::new();
    };
    list.items
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.clone()?;
            name.starts_with(prefix)
                .then(|| (name, ready(n).unwrap_or_else(|| "None".into())))
        })
        .collect()
}

/// Waits until exactly `count` nodes `<prefix>*` exist and all have Ready
/// = `want`; returns how long it took. Panics naming `what` after `limit`.
pub async fn wait_nodes(
    client: &kube::Client,
    prefix: &str,
    count: usize,
    want: &str,
    limit: Duration,
    what: &str,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let r = node_readiness(client, prefix).await;
        if r.len() == count && r.values().all(|s| s == want) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{what}: nodes {prefix}* not all Ready={want} within {limit:?}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The node leases of `<prefix>*`: name -> (uid, renewTime).
pub async fn leases(
    client: &kube::Client,
    prefix: &str,
) -> BTreeMap<String, (String, Option<Timestamp>)> {
    let api: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let Ok(list) = api.list(&ListParams::default()).await else {
        return BTreeMap::new();
    };
    list.items
        .into_iter()
        .filter_map(|l| {
            let name = l.metadata.name.clone()?;
            if !name.starts_with(prefix) {
                return None;
            }
            let uid = l.metadata.uid.clone().unwrap_or_default();
            let renew = l.spec.and_then(|s| s.renew_time).map(|t| t.0);
            Some((name, (uid, renew)))
        })
        .collect()
}

/// Waits until every lease of `<prefix>*` was renewed after `after`
pub async fn wait_leases_renewed(
    client: &kube::Client,
    prefix: &str,
    count: usize,
    after: &BTreeMap<String, (String, Option<Timestamp>)>,
    limit: Duration,
    what: &str,
) {
    let t0 = Instant::now();
    loop {
        let now = leases(client, prefix).await;
        let renewed = now
            .iter()
            .filter(|(n, (_, t))| after.get(*n).is_none_or(|(_, before)| t > before))
            .count();
        if now.len() == count && renewed == count {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "{what}: {renewed}/{count} leases of {prefix}* renewed within {limit:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
