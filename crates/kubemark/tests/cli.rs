//! The command line as a user runs it: `kubemark run density` with its own
//! embedded master child process, bad parameters, Ctrl-C, and
//! `kubemark hollow-node` against a `kubemark master`, checked with the
//! real kubectl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn kubemark() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubemark"));
    c.env("KUBEMARK_LOG", "warn");
    c
}

fn kubectl() -> Command {
    let bin = std::env::var("KUBEMARK_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    Command::new(bin)
}

/// Sends a signal with the `kill` command (no libc in the tests).
fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes.
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

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Collects a child's stdout lines in the background.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let pipe = child.stdout.take().expect("stdout");
    let sink = out.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    out
}

fn wait_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn run_density_starts_and_stops_its_own_master() {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = tmp.path().join("art");
    let mut child = kubemark()
        .args([
            "run",
            "density",
            "--nodes",
            "3",
            "--pods-per-node",
            "2",
            "--latency-pods",
            "6",
            "--qps",
            "20",
            "--usage-interval",
            "1s",
            "--timeout",
            "120s",
            // The test checks the plumbing, not this loaded machine's latency.
            "--pod-startup-threshold",
            "60s",
            "--artifacts",
        ])
        .arg(&artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = collect_stdout(&mut child);
    // The embedded master is a child process while the run goes on.
    let mut master = None;
    let start = Instant::now();
    while master.is_none() && start.elapsed() < Duration::from_secs(60) {
        master = children(pid).into_iter().next();
        std::thread::sleep(Duration::from_millis(50));
    }
    let master = master.expect("the run starts its master as a child process");
    let status = wait_timeout(&mut child, Duration::from_secs(300));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let out = out.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{out}\n{err}");
    assert!(!alive(master), "the master child {master} outlived the run");
    assert!(out.contains("Result: PASS"), "{out}");
    assert!(out.contains("pod_startup p99"), "{out}");

    let run = read_json(&artifacts.join("run.json"));
    assert_eq!(run["test"], "density");
    assert_eq!(run["verdict"], "pass");
    assert_eq!(run["cluster"]["master"], "embedded");
    assert_eq!(run["cluster"]["nodes"], 3);
    for f in run["files"].as_array().unwrap() {
        assert!(artifacts.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    assert!(artifacts.join("junit.xml").is_file());
    let log = std::fs::read_to_string(artifacts.join("master.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    // The master's own process was sampled, apart from the hollow nodes.
    let usage = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ResourceUsageSummary_")
        })
        .expect("ResourceUsageSummary file");
    let usage = read_json(&usage.path());
    let components: std::collections::BTreeSet<String> = usage["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["labels"]["Name"].as_str().map(String::from))
        .collect();
    assert!(
        components.len() >= 2,
        "master and hollow nodes apart: {usage}"
    );
}

#[test]
fn run_rejects_bad_parameters_before_touching_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "density", "--nodes", "0"],
            "--nodes must be at least 1",
        ),
        (vec!["run", "density", "--pods-per-node", "500"], "max-pods"),
        (
            vec!["run", "load", "--kubeconfig", "/nonexistent/kubeconfig"],
            "/nonexistent/kubeconfig",
        ),
        (vec!["run", "density", "--timeout", "soon"], "soon"),
        (vec!["run", "sideways"], "sideways"),
    ];
    for (args, needle) in cases {
        let o = kubemark()
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
    // Nothing was created by the failed runs.
    assert!(!tmp.path().join("artifacts").exists());

    // An unreachable master fails fast with a clear message.
    let kc = tmp.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let started = Instant::now();
    let o = kubemark()
        .args(["run", "density", "--kubeconfig"])
        .arg(&kc)
        .arg("--artifacts")
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("127.0.0.1:1"), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(60));

    // --dry-run prints the plan and touches nothing.
    let o = kubemark()
        .args(["run", "density", "--nodes", "200", "--dry-run"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("200 hollow nodes"), "{}", text(&o));
    assert!(!tmp.path().join("artifacts").exists());
}

#[test]
fn ctrl_c_stops_the_run_and_its_master() {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = tmp.path().join("art");
    let mut child = kubemark()
        .args([
            "run",
            "density",
            "--nodes",
            "2",
            "--pods-per-node",
            "2",
            "--latency-pods",
            "200",
            "--qps",
            "2",
            "--artifacts",
        ])
        .arg(&artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = collect_stdout(&mut child);
    // Interrupt in the (long) latency phase.
    let start = Instant::now();
    while !out.lock().unwrap().contains("saturation pods Running") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            out.lock().unwrap()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            out.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let master = children(pid).into_iter().next().expect("master child");
    signal(pid, "INT");
    let status = wait_timeout(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(130), "{}", out.lock().unwrap());
    let start = Instant::now();
    while alive(master) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !alive(master),
        "the master child outlived the interrupted run"
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn hollow_node_command_joins_a_kubemark_master() {
    let tmp = tempfile::tempdir().unwrap();
    let mut master = Killed(
        kubemark()
            .args([
                "master",
                "--ephemeral",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(tmp.path().join("m"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(master.0.stdout.take().unwrap()).lines();
    let kubeconfig = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("export KUBECONFIG=")
                .map(String::from)
        })
        .expect("the master prints its kubeconfig");
    std::thread::spawn(move || for _ in lines {});

    // Flags that are wrong fail at once with exit code 2.
    let o = kubemark()
        .args([
            "hollow-node",
            "--kubeconfig",
            &kubeconfig,
            "--node-labels",
            "novalue",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("novalue"), "{}", text(&o));

    let mut nodes = Killed(
        kubemark()
            .args([
                "hollow-node",
                "--nodes",
                "3",
                "--node-labels",
                "zone=a",
                "--name-prefix",
                "cli-node-",
            ])
            // Standard kubeconfig loading: KUBECONFIG.
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = collect_stdout(&mut nodes.0);
    let start = Instant::now();
    let ready = loop {
        let o = kubectl()
            .args(["get", "nodes", "-l", "zone=a", "-o", "json"])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let list: Value = serde_json::from_slice(&o.stdout).unwrap();
        let ready: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| {
                n["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
            .collect();
        if ready.len() == 3 || start.elapsed() > Duration::from_secs(60) {
            break ready;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        ready,
        ["cli-node-0", "cli-node-1", "cli-node-2"],
        "{}",
        out.lock().unwrap()
    );
    // kubectl's table for nodes shows them Ready.
    let o = kubectl()
        .args(["get", "node", "cli-node-1"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("cli-node-1") && table.contains("Ready"),
        "{table}"
    );

    // `kubemark run` against this cluster: with --kubeconfig alone it uses
    // the Ready nodes there; with --nodes it brings its own for the run.
    let small_run = |dir: &Path, extra: &[&str]| {
        let o = kubemark()
            .args(["run", "density", "--kubeconfig", &kubeconfig])
            .args([
                "--pods-per-node",
                "2",
                "--latency-pods",
                "4",
                "--qps",
                "20",
                "--usage-interval",
                "1s",
                "--timeout",
                "120s",
                "--pod-startup-threshold",
                "60s",
            ])
            .args(extra)
            .arg("--artifacts")
            .arg(dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        read_json(&dir.join("run.json"))
    };
    let existing = small_run(&tmp.path().join("a1"), &[]);
    assert_eq!(existing["cluster"]["nodes"], 3, "{existing}");
    assert_eq!(existing["cluster"]["hollowNodesStarted"], 0, "{existing}");
    let brought = small_run(&tmp.path().join("a2"), &["--nodes", "2"]);
    assert_eq!(brought["cluster"]["hollowNodesStarted"], 2, "{brought}");
    assert_eq!(brought["verdict"], "pass", "{brought}");

    signal(nodes.0.id(), "TERM");
    let status = wait_timeout(&mut nodes.0, Duration::from_secs(30));
    assert!(status.success(), "{}", out.lock().unwrap());
    assert!(
        out.lock().unwrap().contains("3 hollow node(s)"),
        "{}",
        out.lock().unwrap()
    );
}
