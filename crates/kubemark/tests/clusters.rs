//! Named clusters as a user drives them from a shell: `kubemark start`
//! (embedded master, local hollow nodes), the real kubectl, `status`,
//! `which`, `logs`, `run density --cluster`, `scale` both ways, a killed
//! master restarted by the supervisor, `stop` leaving nothing behind; a
//! cluster whose processes were all killed by hand; two clusters side by
//! side; `--master existing` on another cluster's master; and
//! `--hollow external` on another kubemark cluster standing in for the
//! external cluster, its pods' containers run as local processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/pod.rs"]
mod pod;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Env {
    base: tempfile::TempDir,
}

/// A failed test must not leave clusters running.
impl Drop for Env {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.base.path()) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let _ = self.kubemark(&["stop", "--force", "--name", &name]);
        }
    }
}

impl Env {
    fn new() -> Env {
        Env {
            base: tempfile::tempdir().unwrap(),
        }
    }

    fn kubemark(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kubemark"))
            .args(args)
            .env("KUBEMARK_DIR", self.base.path())
            .env("KUBEMARK_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs kubemark and requires success.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubemark(args);
        assert!(
            out.status.success(),
            "kubemark {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.base.path().join(name)
    }

    fn kubeconfig(&self, name: &str) -> PathBuf {
        self.dir(name).join("kubeconfig")
    }

    fn status(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(&["status", "--name", name, "-o", "json"])).unwrap()
    }

    fn runtime(&self, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir(name).join("runtime.json")).unwrap())
            .unwrap()
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let bin = std::env::var("KUBEMARK_TEST_KUBECTL")
        .expect("KUBEMARK_TEST_KUBECTL names the kubectl to test with (scripts/test.sh sets it)");
    let out = Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Node name → Ready, as kubectl sees them.
fn nodes(kubeconfig: &Path) -> Vec<(String, bool)> {
    let v: Value =
        serde_json::from_str(&kubectl(kubeconfig, &["get", "nodes", "-o", "json"])).unwrap();
    let mut out: Vec<(String, bool)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (n["metadata"]["name"].as_str().unwrap().to_string(), ready)
        })
        .collect();
    out.sort();
    out
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Live processes whose command line mentions `path`.
fn processes_mentioning(path: &Path) -> Vec<u64> {
    let needle = path.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .filter(|pid| alive(*pid))
        .collect()
}

fn kill9(pid: u64) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn pids_of(runtime: &Value) -> Vec<u64> {
    let mut pids: Vec<u64> = runtime["processes"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p["process"]["pid"].as_u64())
        .collect();
    pids.extend(runtime["supervisor"]["pid"].as_u64());
    pids
}

#[test]
fn embedded_cluster_start_use_scale_debug_stop() {
    let env = Env::new();
    let out = env.ok(&[
        "start",
        "--name",
        "life",
        "--nodes",
        "3",
        "--nodes-per-process",
        "2",
        "--timeout",
        "180s",
    ]);
    assert!(out.contains("Cluster \"life\" is ready"), "{out}");
    let kc = env.kubeconfig("life");
    assert_eq!(
        nodes(&kc),
        vec![
            ("hollow-node-0".to_string(), true),
            ("hollow-node-1".to_string(), true),
            ("hollow-node-2".to_string(), true)
        ]
    );
    // The layout the issue names: kubeconfig, PKI, a log per component,
    // the state file.
    let dir = env.dir("life");
    for f in [
        "kubeconfig",
        "state.json",
        "runtime.json",
        "supervisor.pid",
        "pki/hollow-node.kubeconfig",
        "logs/kubemark-master.log",
        "logs/hollow-nodes-0.log",
        "logs/hollow-nodes-1.log",
        "logs/supervisor.log",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }

    // Starting the same name again says so.
    let again = env.kubemark(&["start", "--name", "life", "--nodes", "1"]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already running"), "{err}");

    // status: every component, healthy, with versions, and nodes per host.
    let st = env.status("life");
    assert_eq!(st["master"], "embedded");
    assert_eq!(st["components"][0]["name"], "kubemark-master");
    assert!(st["components"][0]["pid"].as_u64().is_some());
    for h in st["components"][0]["health"].as_array().unwrap() {
        assert_eq!(h[1], "ok", "{st}");
    }
    assert!(
        st["components"][0]["version"]
            .as_str()
            .unwrap()
            .starts_with("v1.24"),
        "{st}"
    );
    let procs: Vec<&str> = st["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(procs, ["hollow-nodes-0", "hollow-nodes-1"]);
    assert_eq!(st["nodes_ready"], 3);
    assert_eq!(st["hosts"].as_array().unwrap().len(), 2, "{st}");
    let text = env.ok(&["status", "--name", "life"]);
    assert!(
        text.contains("kubemark-master") && text.contains("3/3 Ready"),
        "{text}"
    );

    // which: node 2 lives in the second process.
    let rt = env.runtime("life");
    let pid1 = rt["processes"]["hollow-nodes-1"]["process"]["pid"]
        .as_u64()
        .unwrap();
    let w: Value =
        serde_json::from_str(&env.ok(&["which", "--name", "life", "hollow-node-2", "-o", "json"]))
            .unwrap();
    assert_eq!(w["process"], "hollow-nodes-1");
    assert_eq!(w["pid"].as_u64(), Some(pid1));
    let w = env.ok(&["which", "--name", "life", "hollow-node-0"]);
    assert!(w.contains("hollow-nodes-0"), "{w}");
    let missing = env.kubemark(&["which", "--name", "life", "no-such-node"]);
    assert!(!missing.status.success());

    // logs: that node's own lines only.
    let logs = env.ok(&["logs", "--name", "life", "hollow-node-2"]);
    assert!(logs.contains("Successfully registered node"), "{logs}");
    for line in logs.lines() {
        assert!(
            line.split_whitespace().any(|w| w == "node=hollow-node-2"),
            "a line of another node: {line}"
        );
    }

    // A test run against the started cluster.
    let art = env.base.path().join("artifacts");
    let run = Command::new(env!("CARGO_BIN_EXE_kubemark"))
        .args([
            "run",
            "density",
            "--cluster",
            "life",
            "--pods-per-node",
            "2",
            "--latency-pods",
            "3",
            "--qps",
            "20",
            "--usage-interval",
            "1s",
            "--timeout",
            "120s",
            "--pod-startup-threshold",
            "60s",
            "--artifacts",
        ])
        .arg(&art)
        .env("KUBEMARK_DIR", env.base.path())
        .env("KUBEMARK_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "run density --cluster: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let run_json: Value =
        serde_json::from_slice(&std::fs::read(art.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["test"], "density");

    // scale up, then down: removed nodes are deleted, not left NotReady.
    env.ok(&[
        "scale",
        "--name",
        "life",
        "--nodes",
        "5",
        "--timeout",
        "120s",
    ]);
    let n = nodes(&kc);
    assert_eq!(n.len(), 5, "{n:?}");
    assert!(n.iter().all(|(_, r)| *r), "{n:?}");
    env.ok(&[
        "scale",
        "--name",
        "life",
        "--nodes",
        "2",
        "--timeout",
        "120s",
    ]);
    assert_eq!(
        nodes(&kc),
        vec![
            ("hollow-node-0".to_string(), true),
            ("hollow-node-1".to_string(), true)
        ]
    );
    let st = env.status("life");
    assert_eq!(st["processes"].as_array().unwrap().len(), 1, "{st}");

    // A crashed master is restarted by the supervisor.
    let master_pid = env.runtime("life")["processes"]["kubemark-master"]["process"]["pid"]
        .as_u64()
        .unwrap();
    kill9(master_pid);
    wait_until(
        "the master to be restarted",
        Duration::from_secs(60),
        || {
            let st = env.status("life");
            st["components"][0]["restarts"] == 1
                && st["components"][0]["health"][0][1] == "ok"
                && st["components"][0]["pid"].as_u64() != Some(master_pid)
        },
    );
    let sup_log = std::fs::read_to_string(dir.join("logs/supervisor.log")).unwrap();
    assert!(
        sup_log.contains("kubemark-master: crashed (signal 9)"),
        "{sup_log}"
    );
    // Objects survived the restart (durable data directory).
    wait_until(
        "nodes Ready after the restart",
        Duration::from_secs(90),
        || nodes(&kc).iter().filter(|(_, r)| *r).count() == 2,
    );

    // stop: no process, pid file or port left.
    let st = env.status("life");
    let url = st["url"].as_str().unwrap().to_string();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let pids = pids_of(&env.runtime("life"));
    assert!(pids.len() >= 3);
    let out = env.ok(&["stop", "--name", "life"]);
    assert!(out.contains("Stopped and removed"), "{out}");
    assert!(!dir.exists(), "the cluster directory is removed");
    for p in pids {
        assert!(!alive(p), "pid {p} still runs after stop");
    }
    assert!(processes_mentioning(&dir).is_empty());
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the master's port is free");
    // Idempotent.
    let out = env.ok(&["stop", "--name", "life"]);
    assert!(out.contains("nothing to stop"), "{out}");
}

#[test]
fn clusters_coexist_survive_manual_kills_and_use_existing_masters() {
    let env = Env::new();
    env.ok(&[
        "start",
        "--name",
        "one",
        "--nodes",
        "1",
        "--no-restart",
        "--timeout",
        "180s",
    ]);
    env.ok(&[
        "start",
        "--name",
        "two",
        "--nodes",
        "1",
        "--timeout",
        "180s",
    ]);
    // A third cluster whose master is cluster two's: hollow nodes only.
    let two_kc = env.kubeconfig("two");
    env.ok(&[
        "start",
        "--name",
        "three",
        "--master",
        "existing",
        "--master-kubeconfig",
        two_kc.to_str().unwrap(),
        "--name-prefix",
        "guest-",
        "--nodes",
        "2",
        "--timeout",
        "180s",
    ]);
    let on_two: Vec<String> = nodes(&two_kc).into_iter().map(|(n, _)| n).collect();
    assert_eq!(on_two, ["guest-0", "guest-1", "hollow-node-0"]);
    let st = env.status("three");
    assert_eq!(st["master"], "existing");
    assert_eq!(st["components"][0]["name"], "kube-apiserver");
    assert_eq!(st["components"][0]["health"][0][1], "ok", "{st}");
    // Stopping it deletes its Node objects from the master it borrowed.
    env.ok(&["stop", "--name", "three"]);
    let on_two: Vec<String> = nodes(&two_kc).into_iter().map(|(n, _)| n).collect();
    assert_eq!(on_two, ["hollow-node-0"]);

    // --no-restart: a crashed master stays down, and status says so.
    let one = env.dir("one");
    let master = env.runtime("one")["processes"]["kubemark-master"]["process"]["pid"]
        .as_u64()
        .unwrap();
    kill9(master);
    wait_until("the crash to be recorded", Duration::from_secs(30), || {
        env.runtime("one")["processes"]["kubemark-master"]["phase"] == "exited"
    });
    let st = env.status("one");
    assert_eq!(st["components"][0]["restarts"], 0, "{st}");
    assert!(st["components"][0]["pid"].is_null(), "{st}");
    assert_ne!(st["components"][0]["health"][0][1], "ok");

    // Everything of cluster one killed by hand, supervisor first.
    let rt = env.runtime("one");
    let sup = rt["supervisor"]["pid"].as_u64().unwrap();
    kill9(sup);
    for p in processes_mentioning(&one) {
        kill9(p);
    }
    wait_until(
        "cluster one's processes to die",
        Duration::from_secs(10),
        || processes_mentioning(&one).is_empty(),
    );
    let st = env.status("one");
    assert!(st["supervisor"].is_null(), "{st}");
    let out = env.ok(&["stop", "--name", "one"]);
    assert!(out.contains("Stopped and removed"), "{out}");
    assert!(!one.exists());

    // Cluster two was not touched.
    let st = env.status("two");
    assert_eq!(st["nodes_ready"], 1, "{st}");
    assert_eq!(st["components"][0]["health"][0][1], "ok");
    let two = env.dir("two");
    env.ok(&["stop", "--name", "two"]);
    assert!(processes_mentioning(&two).is_empty());
    assert!(!two.exists());
}

#[test]
fn bad_start_flags_are_named_and_leave_nothing() {
    let env = Env::new();
    for (args, want) in [
        (vec!["start", "--nodes", "0"], "--nodes"),
        (vec!["start", "--name", "Bad_Name"], "invalid cluster name"),
        (vec!["start", "--master", "existing"], "--master-kubeconfig"),
        (
            vec![
                "start",
                "--master",
                "existing",
                "--master-kubeconfig",
                "/nonexistent/kc",
            ],
            "/nonexistent/kc",
        ),
        (
            vec!["start", "--hollow", "external"],
            "--external-kubeconfig",
        ),
        (vec!["start", "--bin-dir", "/x"], "--master local"),
        (
            vec!["status", "--name", "nope"],
            "no cluster named \"nope\"",
        ),
    ] {
        let out = env.kubemark(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A port in use is named, and nothing is left behind.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let out = env.kubemark(&["start", "--name", "busy", "--listen", &addr]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    assert!(!env.dir("busy").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_hollow_nodes_start_which_stop() {
    let env = Env::new();
    // The "external" cluster: a kubemark cluster with one hollow node, so
    // the hollow-node pods get scheduled (and "run" there).
    env.ok(&[
        "start",
        "--name",
        "ext",
        "--nodes",
        "1",
        "--timeout",
        "180s",
    ]);
    let ext_kc = env.kubeconfig("ext");
    let start = Command::new(env!("CARGO_BIN_EXE_kubemark"))
        .args([
            "start",
            "--name",
            "km",
            "--hollow",
            "external",
            "--external-kubeconfig",
            ext_kc.to_str().unwrap(),
            "--image",
            "registry.example/kubemark:test",
            "--nodes",
            "5",
            "--nodes-per-pod",
            "2",
            "--timeout",
            "180s",
        ])
        .env("KUBEMARK_DIR", env.base.path())
        .env("KUBEMARK_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The objects appear on the external cluster as specified.
    wait_until("the StatefulSet", Duration::from_secs(120), || {
        let out = Command::new(std::env::var("KUBEMARK_TEST_KUBECTL").unwrap())
            .arg("--kubeconfig")
            .arg(&ext_kc)
            .args([
                "get",
                "statefulset",
                "hollow-node",
                "-n",
                "kubemark",
                "-o",
                "json",
            ])
            .output()
            .unwrap();
        out.status.success()
    });
    let sts: Value = serde_json::from_str(&kubectl(
        &ext_kc,
        &[
            "get",
            "statefulset",
            "hollow-node",
            "-n",
            "kubemark",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/kubemark:test"
    );
    kubectl(
        &ext_kc,
        &["get", "secret", "hollow-node-kubeconfig", "-n", "kubemark"],
    );
    let cm = kubectl(
        &ext_kc,
        &[
            "get",
            "configmap",
            "hollow-node-config",
            "-n",
            "kubemark",
            "-o",
            "json",
        ],
    );
    assert!(
        cm.contains("--total-nodes=5") && cm.contains("--nodes-per-pod=2"),
        "{cm}"
    );

    // Each pod's container, run as its spec says.
    let ext = cluster::external::External::connect(&ext_kc, None)
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut pods = Vec::new();
    for p in ["hollow-node-0", "hollow-node-1", "hollow-node-2"] {
        let r = root.path().join(p);
        std::fs::create_dir_all(&r).unwrap();
        pods.push(pod::run_pod(&ext, "kubemark", p, &r).await);
    }
    let status = tokio::task::spawn_blocking(move || start.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "start --hollow external: {}\n{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    let km_kc = env.kubeconfig("km");
    let n = nodes(&km_kc);
    assert_eq!(n.len(), 5, "{n:?}");
    assert!(n.iter().all(|(_, r)| *r));

    // which: node 3 is simulated by pod 1, on the external cluster's node.
    let w: Value =
        serde_json::from_str(&env.ok(&["which", "--name", "km", "hollow-node-3", "-o", "json"]))
            .unwrap();
    assert_eq!(w["pod"], "kubemark/hollow-node-1", "{w}");
    assert_eq!(w["host"], "hollow-node-0", "{w}");
    let st = env.status("km");
    assert_eq!(st["hollow"], "external");
    assert_eq!(st["nodes_ready"], 5);

    // stop removes the namespace from the external cluster.
    env.ok(&["stop", "--name", "km"]);
    let ns = Command::new(std::env::var("KUBEMARK_TEST_KUBECTL").unwrap())
        .arg("--kubeconfig")
        .arg(&ext_kc)
        .args(["get", "namespace", "kubemark"])
        .output()
        .unwrap();
    assert!(!ns.status.success(), "the kubemark namespace is gone");
    assert!(String::from_utf8_lossy(&ns.stderr).contains("NotFound"));
    drop(pods);

    // When the external cluster is gone, stop says what it could not
    // remove and keeps the directory for another try, unless --force.
    let out = env.kubemark(&[
        "start",
        "--name",
        "km2",
        "--hollow",
        "external",
        "--external-kubeconfig",
        ext_kc.to_str().unwrap(),
        "--image",
        "registry.example/kubemark:test",
        "--nodes",
        "1",
        "--timeout",
        "20s",
    ]);
    assert!(!out.status.success(), "no pod runs, so no node gets Ready");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("The cluster keeps running"), "{err}");
    env.ok(&["stop", "--name", "ext"]);
    let out = env.kubemark(&["stop", "--name", "km2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not be removed") && err.contains("kubemark"),
        "{err}"
    );
    assert!(env.dir("km2").exists());
    assert!(
        processes_mentioning(&env.dir("km2")).is_empty(),
        "its processes are stopped all the same"
    );
    env.ok(&["stop", "--name", "km2", "--force"]);
    assert!(!env.dir("km2").exists());
}

/// A fake Kubernetes binary: answers `--version` like a v1.24 one, records
/// its command line, then runs without ever serving (kube-apiserver is not
/// installable here; etcd is the real one).
fn fake_kube_binary(dir: &Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo \"Kubernetes v1.24.10\"; exit 0; fi\n\
             printf '%s\\n' \"$@\" > {}/{name}.args\nwhile true; do sleep 1; done\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn local_master_runs_real_etcd_and_cleans_up_when_the_apiserver_never_serves() {
    let env = Env::new();
    let bins = tempfile::tempdir().unwrap();
    // A missing binary is named, before anything runs.
    let out = env.kubemark(&[
        "start",
        "--name",
        "loc",
        "--master",
        "local",
        "--bin-dir",
        bins.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kube-apiserver"), "{err}");
    assert!(!env.dir("loc").exists(), "nothing left behind");

    for b in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        fake_kube_binary(bins.path(), b);
    }
    let out = env.kubemark(&[
        "start",
        "--name",
        "loc",
        "--master",
        "local",
        "--bin-dir",
        bins.path().to_str().unwrap(),
        "--apiserver-arg=--v=5",
        "--timeout",
        "20s",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    // The real etcd became ready (the supervisor then started the API
    // server), which never served: a clear error, then everything stopped.
    assert!(stdout.contains("waiting for etcd"), "{stdout}");
    assert!(stdout.contains("waiting for kube-apiserver"), "{stdout}");
    assert!(
        stderr.contains("kube-apiserver") && stderr.contains("not ready"),
        "{stderr}"
    );
    let args = std::fs::read_to_string(bins.path().join("kube-apiserver.args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for want in ["--authorization-mode=Node,RBAC", "--v=5"] {
        assert!(args.contains(&want), "{want} missing from {args:?}");
    }
    assert_eq!(args.last(), Some(&"--v=5"), "pass-through flags come last");
    assert!(args
        .iter()
        .any(|a| a.starts_with("--etcd-servers=http://127.0.0.1:")));
    assert!(args
        .iter()
        .any(|a| a.starts_with("--enable-admission-plugins=") && a.contains("NodeRestriction")));
    assert!(
        !env.dir("loc").exists(),
        "a failed start removes its directory"
    );
    assert!(
        processes_mentioning(&env.dir("loc")).is_empty(),
        "etcd and the fakes are stopped"
    );
}
