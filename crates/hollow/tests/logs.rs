//! Per-node log lines: a fleet's log (tracing's fmt output, captured in a
//! buffer as a hollow-node process writes it to stderr) has, for every
//! node, its registration, lease, readiness, pod and proxy lines, each with
//! `node=<name>` and `component=...`, so `kubemark logs NODE` can pick one
//! node's lines with `hollow::line_is_for_node`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Whether some line of `lines` contains every one of `parts`.
fn has(lines: &[&String], parts: &[&str]) -> bool {
    lines.iter().any(|l| parts.iter().all(|p| l.contains(p)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_logs_its_own_lines_with_node_and_component_fields() {
    // Info level, plain text, as `kubemark hollow-node` writes to stderr.
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let env = start().await;
    // 11 nodes: hollow-node-1 and hollow-node-10 must not be confused.
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 11))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 11).await.unwrap();
    let names = fleet.node_names();
    for (i, node) in names.iter().enumerate() {
        let pod = format!("p{i}");
        env.create_pod("default", &pod, json!({})).await;
        env.bind("default", &pod, node).await;
    }
    fleet.wait_for(T, |s| s.pods_running == 11).await.unwrap();
    fleet
        .inject_problem("hollow-node-1", "KernelDeadlock")
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.problems == 1).await.unwrap();
    fleet
        .clear_problem("hollow-node-1", "KernelDeadlock")
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.problems == 0).await.unwrap();
    for i in 0..names.len() {
        env.delete_pod("default", &format!("p{i}")).await;
    }
    fleet.wait_for(T, |s| s.pods == 0).await.unwrap();
    // A few more status updates (every 0.5 s) and lease renewals (every
    // 1 s): they must not log at info.
    tokio::time::sleep(Duration::from_secs(3)).await;
    fleet.shutdown().await;

    let lines = captured.lines();
    for (i, node) in names.iter().enumerate() {
        let mine: Vec<&String> = lines
            .iter()
            .filter(|l| hollow::line_is_for_node(l, node))
            .collect();
        let field = format!(" node={node}");
        let ctx = || {
            format!(
                "{node}'s lines:\n{}",
                mine.iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        assert!(
            mine.iter().all(|l| l.contains(&field)
                && ["component=kubelet", "component=proxy", "component=npd"]
                    .iter()
                    .any(|c| l.contains(c))),
            "{}",
            ctx()
        );
        let pod = format!("pod=default/p{i}");
        for parts in [
            &["INFO", "Attempting to register node", "component=kubelet"][..],
            &["INFO", "Successfully registered node", "component=kubelet"],
            &["INFO", "Created node lease", "component=kubelet"],
            &["INFO", "Node became ready", "component=kubelet"],
            &["INFO", "pod started", &pod, "component=kubelet"],
            &["INFO", "Killing pod", &pod, "component=kubelet"],
            &["INFO", "pod deleted", &pod, "component=kubelet"],
            &[
                "INFO",
                "Synced services and endpointslices",
                "component=proxy",
            ],
        ] {
            assert!(has(&mine, parts), "no line with {parts:?}; {}", ctx());
        }
        // Bounded volume: the events above, nothing per heartbeat (the
        // nodes renewed their leases and checked their status many times).
        assert!(mine.len() <= 12, "{} lines; {}", mine.len(), ctx());
        if node == "hollow-node-1" {
            for what in ["Node problem injected", "Node problem cleared"] {
                assert!(
                    has(&mine, &[what, "problem=KernelDeadlock", "component=npd"]),
                    "no {what}; {}",
                    ctx()
                );
            }
            assert!(!mine.iter().any(|l| l.contains("node=hollow-node-10")));
        }
    }
    let n10 = lines
        .iter()
        .filter(|l| hollow::line_is_for_node(l, "hollow-node-10"))
        .count();
    assert!(n10 > 0);
    assert!(!lines
        .iter()
        .filter(|l| hollow::line_is_for_node(l, "hollow-node-10"))
        .any(|l| l.contains("problem=")));
}
