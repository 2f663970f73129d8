//! Invariant: a master that runs out of file descriptors keeps serving the
//! connections it has, backs its accept loop off instead of spinning (one
//! log line per interval, with a count, not one per failed accept), and
//! serves new clients again once descriptors are free.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ready(file: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_backs_off_on_emfile_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let log = dir.path().join("master.log");
    // A small open-files limit (soft and hard), so that a test can exhaust
    // it; the API server alone, so the limit is the listener's.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 96 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_kubemark"))
        .args([
            "master",
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--controllers",
            "",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--ready-file")
        .arg(&ready_file)
        .env("KUBEMARK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let info = loop {
        if let Some(v) = ready(&ready_file) {
            break v;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "master not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = info["url"].as_str().unwrap().to_string();
    let addr = url.trim_start_matches("https://").to_string();
    let kubeconfig = std::fs::read_to_string(info["kubeconfig"].as_str().unwrap()).unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    // A client connected before the descriptors run out.
    client.apiserver_version().await.expect("serving");

    // Hold far more idle connections than the limit allows for 3 s.
    let mut held = Vec::new();
    for _ in 0..200 {
        if let Ok(c) = tokio::net::TcpStream::connect(&addr).await {
            held.push(c);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The connection made before keeps being served meanwhile.
    client
        .apiserver_version()
        .await
        .expect("open connections keep working while accept fails");
    drop(held);

    // New clients are served again once descriptors are free.
    let t1 = Instant::now();
    loop {
        let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let fresh = kube::Client::try_from(cfg).unwrap();
        if fresh.apiserver_version().await.is_ok() {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(30),
            "the master did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = std::fs::read_to_string(&log).unwrap();
    let lines = out.lines().filter(|l| l.contains("accept failed")).count();
    assert!(lines >= 1, "descriptors never ran out: {out}");
    // A spinning loop logs every failed accept (hundreds in 3 s).
    assert!(lines <= 3, "{lines} accept-failure lines:\n{out}");
    assert!(out.contains("Too many open files"), "{out}");
}
