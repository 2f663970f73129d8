//! Process faults on loopback: `kill -9` of a hollow-node process, of the
//! embedded master in the middle of a Density run, and a data directory
//! that runs out of space (RLIMIT_FSIZE on the master process). Each test
//! names the invariant it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/procs.rs"]
mod procs;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams};
use procs::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn loopback0() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn pod(name: &str, node: &str, toleration_seconds: Option<i64>) -> Pod {
    let mut tol = serde_json::json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    ]);
    if let Some(s) = toleration_seconds {
        for t in tol.as_array_mut().unwrap() {
            t["tolerationSeconds"] = s.into();
        }
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "tolerations": tol,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.7"}],
        },
    }))
    .unwrap()
}

async fn pods_by_name(client: &kube::Client) -> BTreeMap<String, Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
                .collect()
        })
        .unwrap_or_default()
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let t0 = Instant::now();
    loop {
        let r = f().await;
        match r {
            Ok(()) => return,
            Err(state) => assert!(t0.elapsed() < limit, "{what} not within {limit:?}: {state}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Invariant: after `kill -9` of a hollow-node process its nodes turn
/// Ready=Unknown through the master's node lifecycle controller within the
/// grace period, its pods that tolerate `unreachable` for 5 s are evicted
/// after those 5 s while a pod tolerating it forever stays, and a process
/// restarted with the same indices re-adopts the same Nodes and Leases
/// (same names and uids, no duplicates) and completes the evictions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_hollow_process_nodes_not_ready_pods_evicted_restart_readopts() {
    const N: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let m = master(
        &dir.path().join("data"),
        loopback0(),
        true,
        &["--node-monitor-grace-period", "6"],
        &dir.path().join("master.log"),
    )
    .await;
    let admin = client(&m.kubeconfig).await;
    let log = dir.path().join("hollow.log");
    let mut h = Hollow::start(&m.kubeconfig, "hk-", 0, N as u32, "4s", &log, &[]);
    wait_nodes(
        &admin,
        "hk-",
        N,
        "True",
        Duration::from_secs(60),
        "at start",
    )
    .await;
    let nodes_before = node_uids(&admin).await;
    let leases_before: BTreeMap<String, String> = leases(&admin, "hk-")
        .await
        .into_iter()
        .map(|(n, (uid, _))| (n, uid))
        .collect();
    assert_eq!(leases_before.len(), N);

    let api: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let mut evictable = BTreeSet::new();
    for i in 0..N {
        let name = format!("short-{i}");
        api.create(
            &PostParams::default(),
            &pod(&name, &format!("hk-{i}"), Some(5)),
        )
        .await
        .unwrap();
        evictable.insert(name);
    }
    api.create(&PostParams::default(), &pod("forever", "hk-0", None))
        .await
        .unwrap();
    wait_for("all pods Running", Duration::from_secs(30), || async {
        let pods = pods_by_name(&admin).await;
        let running = pods.values().filter(|p| phase(p) == "Running").count();
        (running == N + 1)
            .then_some(())
            .ok_or(format!("{running} Running"))
    })
    .await;

    h.kill9();
    let killed = Instant::now();
    // Grace period 6 s, plus the controller's monitor period.
    wait_nodes(
        &admin,
        "hk-",
        N,
        "Unknown",
        Duration::from_secs(20),
        "after kill -9 (node lifecycle)",
    )
    .await;
    let unknown_after = killed.elapsed();
    wait_for(
        "pods tolerating unreachable for 5 s evicted",
        Duration::from_secs(30),
        || async {
            let pods = pods_by_name(&admin).await;
            let left: Vec<&String> = evictable
                .iter()
                .filter(|n| {
                    pods.get(*n)
                        .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
                })
                .collect();
            left.is_empty()
                .then_some(())
                .ok_or(format!("not evicted: {left:?}"))
        },
    )
    .await;
    let evicted_after = killed.elapsed();
    assert!(
        evicted_after >= unknown_after + Duration::from_secs(4),
        "eviction waits for tolerationSeconds (5 s) after the taint: Unknown after {unknown_after:?}, evicted after {evicted_after:?}"
    );
    let forever = pods_by_name(&admin).await.remove("forever").unwrap();
    assert!(
        forever.metadata.deletion_timestamp.is_none(),
        "a pod tolerating unreachable without tolerationSeconds is not evicted"
    );

    let mut h2 = Hollow::start(&m.kubeconfig, "hk-", 0, N as u32, "4s", &log, &[]);
    wait_nodes(
        &admin,
        "hk-",
        N,
        "True",
        Duration::from_secs(30),
        "after the restart",
    )
    .await;
    let nodes_after = node_uids(&admin).await;
    let leases_after: BTreeMap<String, String> = leases(&admin, "hk-")
        .await
        .into_iter()
        .map(|(n, (uid, _))| (n, uid))
        .collect();
    assert_eq!(
        nodes_after, nodes_before,
        "the restarted process re-adopts the same Nodes (names and uids)"
    );
    assert_eq!(
        leases_after, leases_before,
        "the restarted process re-adopts the same Leases (names and uids)"
    );
    // The restarted kubelets finish the evictions; the other pod runs on.
    wait_for(
        "evicted pods removed by the restarted kubelets",
        Duration::from_secs(30),
        || async {
            let pods = pods_by_name(&admin).await;
            let left: Vec<&String> = evictable.iter().filter(|n| pods.contains_key(*n)).collect();
            let forever_running = pods.get("forever").is_some_and(|p| phase(p) == "Running");
            (left.is_empty() && forever_running)
                .then_some(())
                .ok_or(format!("left {left:?}, forever Running: {forever_running}"))
        },
    )
    .await;
    h2.kill9();
}

async fn node_uids(client: &kube::Client) -> BTreeMap<String, String> {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| {
            let name = n.metadata.name?;
            name.starts_with("hk-")
                .then(|| (name, n.metadata.uid.unwrap_or_default()))
        })
        .collect()
}

fn cm(name: &str, bytes: usize) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "data": {"v": "x".repeat(bytes)},
    }))
    .unwrap()
}

/// The newest store log segment of a data directory.
fn newest_segment(data: &Path) -> PathBuf {
    let store = data.join("store");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&store)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("wal-") && n.ends_with(".log"))
        })
        .collect();
    segs.sort();
    segs.pop().expect("a log segment")
}

fn prlimit_fsize(pid: u32, soft: &str) {
    let status = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={soft}:unlimited"))
        .status()
        .expect("prlimit (util-linux) is needed to limit the master's file size");
    assert!(status.success(), "prlimit --fsize={soft} failed");
}

struct RawMaster {
    child: std::process::Child,
    kubeconfig: String,
}

impl Drop for RawMaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubemark master` with SIGXFSZ ignored (so that exceeding the file
/// size limit fails the write with EFBIG instead of killing it).
async fn master_ignoring_sigxfsz(data: &Path, log: &Path) -> RawMaster {
    let ready = data.with_extension("ready.json");
    let _ = std::fs::remove_file(&ready);
    let child = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(KUBEMARK)
        .args(["master", "--listen", "127.0.0.1:0", "--controllers", ""])
        .arg("--data-dir")
        .arg(data)
        .arg("--ready-file")
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let info = loop {
        if let Some(i) = cluster::launcher::read_ready_file(&ready) {
            break i;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "master not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    RawMaster {
        child,
        kubeconfig: std::fs::read_to_string(info.kubeconfig).unwrap(),
    }
}

async fn w_names(client: &kube::Client) -> (BTreeSet<String>, u64) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap();
    let names = list
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .filter(|n| n.starts_with("w-") || n.starts_with("refused-"))
        .collect();
    (names, rv)
}

/// Invariant: when the data directory cannot take more bytes (the master's
/// file size limit is reached, as on a full disk) writes are refused with
/// a 500 `Status` (kube-apiserver's answer to a storage failure), reads go
/// on, nothing acknowledged is lost, refused writes do not appear, and
/// writes succeed again as soon as space returns, without a restart; after
/// a `kill -9` and restart everything acknowledged is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_data_directory_refuses_writes_with_status_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("master.log");
    let m = master_ignoring_sigxfsz(&data, &log).await;
    let pid = m.child.id();
    let admin = client(&m.kubeconfig).await;
    let api: Api<ConfigMap> = Api::namespaced(admin.clone(), "default");
    let mut acked = BTreeSet::new();
    for i in 0..40 {
        let name = format!("w-{i:03}");
        api.create(&PostParams::default(), &cm(&name, 2048))
            .await
            .unwrap();
        acked.insert(name);
    }
    // The disk is "full" at the current end of the log.
    let seg = newest_segment(&data);
    let full_at = std::fs::metadata(&seg).unwrap().len();
    prlimit_fsize(pid, &full_at.to_string());
    let mut refused = BTreeSet::new();
    for i in 0..5 {
        let name = format!("refused-{i}");
        match api.create(&PostParams::default(), &cm(&name, 2048)).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!(
                    (s.code, s.reason.as_str()),
                    (500, "InternalError"),
                    "a storage failure is a 500 InternalError Status: {s:?}"
                );
                assert!(
                    s.message.to_lowercase().contains("file too large")
                        || s.message.to_lowercase().contains("no space"),
                    "the Status names the storage problem: {}",
                    s.message
                );
                refused.insert(name);
            }
            other => panic!("a write to a full data directory must be refused: {other:?}"),
        }
    }
    let (present, _) = w_names(&admin).await;
    assert_eq!(
        present, acked,
        "reads go on; refused writes are not visible"
    );
    assert!(
        std::fs::metadata(&seg).unwrap().len() <= full_at,
        "no partial record is left in the log"
    );

    // Space returns: the very next write succeeds, no restart needed.
    prlimit_fsize(pid, "unlimited");
    for i in 40..50 {
        let name = format!("w-{i:03}");
        api.create(&PostParams::default(), &cm(&name, 2048))
            .await
            .unwrap_or_else(|e| panic!("writes succeed once space returns: {e}"));
        acked.insert(name);
    }
    let (_, rv_before) = w_names(&admin).await;
    drop(m);

    let m = master_ignoring_sigxfsz(&data, &log).await;
    let admin = client(&m.kubeconfig).await;
    let (present, rv_after) = w_names(&admin).await;
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let ghosts: Vec<&String> = refused.intersection(&present).collect();
    assert!(ghosts.is_empty(), "refused writes came back: {ghosts:?}");
    assert!(
        rv_after >= rv_before,
        "resourceVersion went back: {rv_before} -> {rv_after}"
    );
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains("store log write failed"),
        "the master logs the refused writes: {out}"
    );
    assert!(
        !out.contains("store recovery"),
        "the log ends on a whole record after the failed writes (no recovery warning): {out}"
    );
}

/// What the test saw of one pod through its own watch.
#[derive(Debug, Default, Clone)]
struct PodSeen {
    started_at: BTreeSet<String>,
    running_transitions: u32,
    last_phase: String,
}

/// Invariant: `kill -9` of the embedded master (durable data directory) in
/// the middle of a Density run, restarted on the same data directory and
/// address: every write acknowledged before the kill is there,
/// resourceVersions keep increasing, the run's hollow nodes are Ready again
/// within two lease periods, no pod is reported Running twice (one
/// container start per pod) and none that ran before the kill is lost, and
/// the run does not silently pass: it fails, or its artifacts record the
/// disruption (see `kill_9_master_mid_density_run_is_recorded_in_run_json`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_master_mid_density_run_loses_nothing() {
    let r = density_with_master_kill().await;
    assert!(
        !r.exit_ok || r.disruptions_recorded,
        "the run passed silently across a master kill -9 (exit {:?}); run.json: {}",
        r.exit,
        r.run_json
    );
}

/// Invariant: the run's artifacts record a master `kill -9` as a
/// disruption window (`run.json` `disruptions`, from perf::disruption).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_master_mid_density_run_is_recorded_in_run_json() {
    let r = density_with_master_kill().await;
    assert!(
        r.disruptions_recorded,
        "run.json records the master disruption: {}",
        r.run_json
    );
}

struct DensityResult {
    exit: Option<i32>,
    exit_ok: bool,
    disruptions_recorded: bool,
    run_json: String,
}

const DENSITY_NODES: usize = 4;
/// The run's hollow nodes use the default 40 s lease.
const DEFAULT_LEASE: Duration = Duration::from_secs(40);

async fn density_with_master_kill() -> DensityResult {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mlog = dir.path().join("master.log");
    let m = master(&data, loopback0(), false, &[], &mlog).await;
    let addr = master_addr(&m);
    let kc_path = dir.path().join("kubeconfig");
    std::fs::write(&kc_path, &m.kubeconfig).unwrap();
    let admin = client(&m.kubeconfig).await;
    let artifacts = dir.path().join("artifacts");
    let run_log = dir.path().join("run.log");
    let mut run = Command::new(KUBEMARK)
        .args(["run", "density", "--kubeconfig"])
        .arg(&kc_path)
        .args(["--nodes", &DENSITY_NODES.to_string()])
        .args(["--pods-per-node", "5", "--latency-pods", "12", "--qps", "4"])
        .args(["--timeout", "2m", "--usage-interval", "2s"])
        .arg("--artifacts")
        .arg(&artifacts)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&run_log).unwrap())
        .stderr(std::fs::File::create(run_log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();

    // Our own watch of every pod, resuming across the restart.
    let seen: Arc<Mutex<BTreeMap<String, PodSeen>>> = Arc::default();
    let watch = {
        let (admin, seen) = (admin.clone(), seen.clone());
        tokio::spawn(async move {
            use futures::StreamExt;
            use kube::runtime::WatchStreamExt;
            let pods: Api<Pod> = Api::all(admin);
            let mut s = kube::runtime::watcher(pods, Default::default())
                .applied_objects()
                .boxed();
            while let Some(ev) = s.next().await {
                let Ok(p) = ev else { continue };
                let uid = p.metadata.uid.clone().unwrap_or_default();
                let ph = phase(&p).to_string();
                let started: Vec<String> = p
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.clone())
                    .map(|t| t.0.to_string())
                    .collect();
                let mut seen = seen.lock().unwrap();
                let e = seen.entry(uid).or_default();
                if ph == "Running" && e.last_phase != "Running" {
                    e.running_transitions += 1;
                }
                e.last_phase = ph;
                e.started_at.extend(started);
            }
        })
    };
    // Our own acknowledged writes, across the kill.
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let writer = {
        let (api, acked) = (
            Api::<ConfigMap>::namespaced(admin.clone(), "default"),
            acked.clone(),
        );
        tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w-{i:05}");
                if api
                    .create(&PostParams::default(), &cm(&name, 64))
                    .await
                    .is_ok()
                {
                    acked.lock().unwrap().insert(name);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Kill once the saturation pods are partly running.
    let pods: Api<Pod> = Api::all(admin.clone());
    let t0 = Instant::now();
    let running_before: BTreeSet<String> = loop {
        let list = pods.list(&ListParams::default()).await.unwrap();
        let running: BTreeSet<String> = list
            .items
            .iter()
            .filter(|p| phase(p) == "Running")
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        if running.len() >= 8 {
            break running;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the density run did not get pods running: {}",
            std::fs::read_to_string(&run_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, rv_before) = w_names(&admin).await;
    m.kill().await;
    let acked_at_kill = acked.lock().unwrap().clone();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let m = master(&data, addr, false, &[], &mlog).await;
    let restarted = Instant::now();
    let (present, rv_after) = w_names(&admin).await;
    let lost: Vec<&String> = acked_at_kill.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost by kill -9: {lost:?}"
    );
    assert!(
        rv_after >= rv_before,
        "resourceVersion went back: {rv_before} -> {rv_after}"
    );
    let now: BTreeSet<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect();
    let lost_pods: Vec<&String> = running_before.difference(&now).collect();
    assert!(
        lost_pods.is_empty(),
        "pods Running before the kill are gone: {lost_pods:?}"
    );
    wait_nodes(
        &admin,
        "hollow-",
        DENSITY_NODES,
        "True",
        2 * DEFAULT_LEASE,
        "the run's hollow nodes after the master restart (two lease periods)",
    )
    .await;
    eprintln!("nodes Ready {:?} after the restart", restarted.elapsed());

    // The run goes on (or fails); either way it ends.
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(150) {
            let _ = run.kill();
            panic!(
                "the density run did not end after the restart: {}",
                std::fs::read_to_string(&run_log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    writer.abort();
    watch.abort();
    let twice: Vec<(String, PodSeen)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.started_at.len() > 1 || s.running_transitions > 1)
        .map(|(u, s)| (u.clone(), s.clone()))
        .collect();
    assert!(
        twice.is_empty(),
        "pods reported Running twice across the restart: {twice:?}"
    );
    let run_json = std::fs::read_to_string(artifacts.join("run.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&run_json).unwrap_or_default();
    let disruptions_recorded = v["disruptions"].as_array().is_some_and(|d| !d.is_empty());
    eprintln!(
        "density across kill -9: exit {:?}, disruptions in run.json: {disruptions_recorded}\n{}",
        status.code(),
        std::fs::read_to_string(&run_log).unwrap_or_default()
    );
    drop(m);
    DensityResult {
        exit: status.code(),
        exit_ok: status.success(),
        disruptions_recorded,
        run_json,
    }
}
