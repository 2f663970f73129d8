//! Load end to end on an in-process control plane with 10 hollow nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use perf::{RunArgs, TestKind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_on_ten_hollow_nodes() {
    let env = control_plane().await;
    let mut args = RunArgs::new(TestKind::Load);
    args.nodes = Some(10);
    args.pods_per_node = 3;
    args.latency_pods = Some(10);
    args.qps = 20.0;
    args.pod_throughput = 50.0;
    args.timeout = Duration::from_secs(90);
    args.usage_interval = Duration::from_secs(2);
    args.seed = Some(7);
    let (outcome, dir) = run(&env, &args).await;

    assert!(outcome.timed_out.is_none(), "{:?}", outcome.phases);
    assert!(
        outcome.phases.iter().all(|p| p.status == "ok"),
        "{:?}",
        outcome.phases
    );
    assert_eq!(outcome.passed, outcome.checks.iter().all(|c| c.passed));
    // 1 namespace of 30 pods: 1 big, 5 medium, 13 small Deployments (+10
    // latency), 2 StatefulSets, 2 Jobs, 1 DaemonSet; a ConfigMap and a
    // Secret per load Deployment; 11 Services + 2 headless.
    let o = &outcome.objects;
    assert_eq!(o["Deployment"].created, 19 + 10);
    assert_eq!(o["Deployment"].deleted, 19 + 10);
    assert_eq!(o["StatefulSet"].created, 2);
    assert_eq!(o["Job"].created, 2);
    assert_eq!(o["DaemonSet"].created, 1);
    assert_eq!(o["DaemonSet"].updated, 1);
    assert_eq!(o["ConfigMap"].created, 19);
    assert_eq!(o["Secret"].deleted, 19);
    assert_eq!(o["Service"].created, 13);
    assert_eq!(o["Service"].deleted, 13);
    assert_eq!(
        o["Deployment"].updated + o["StatefulSet"].updated + o["Job"].updated,
        19 + 2 + 2
    );

    let run = read_json(&dir.join("run.json"));
    assert_eq!(run["test"], "load");
    // The embedded load config: 21 steps (with its modules expanded).
    assert_eq!(run["test"], "load");
    assert_eq!(run["config"], "builtin:load");
    assert_eq!(run["plan"].as_array().unwrap().len(), 21);
    assert_eq!(
        run["phases"].as_array().unwrap().len(),
        1 + 21 + 1,
        "nodes, 21 steps, cleanup"
    );
    let created: u64 = run["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str().unwrap().contains("create"))
        .map(|p| p["pods"].as_u64().unwrap())
        .sum();
    assert_eq!(
        created,
        35 + 10,
        "load pods, the DaemonSet's and latency pods"
    );
    check_junit(&dir, &run);

    let counts = summary(&dir, "RequestCounts_load_");
    // Plus, maybe, the namespace's kube-root-ca.crt, made by the root-CA
    // publisher right after the namespace (created before the first step,
    // as in ClusterLoader2, so it may precede the measurements' start).
    let configmaps = requests(&counts, "POST", "configmaps");
    assert!((19..=20).contains(&configmaps), "{configmaps}");
    assert_eq!(requests(&counts, "POST", "secrets"), 19);
    assert_eq!(requests(&counts, "POST", "services"), 13);
    assert_eq!(requests(&counts, "POST", "statefulsets"), 2);
    assert_eq!(requests(&counts, "POST", "jobs"), 2);
    assert_eq!(requests(&counts, "POST", "daemonsets"), 1);
    assert_eq!(requests(&counts, "POST", "deployments"), 29);

    let lat = summary(&dir, "PodStartupLatency_PodStartupLatency_load_");
    check_perfdata(&lat);
    let counted = run["podStartup"]["latency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["metric"] == "pod_startup")
        .unwrap();
    assert_eq!(counted["count"], 10);
    check_perfdata(&summary(
        &dir,
        "PodStartupLatency_LoadPodStartupLatency_load_",
    ));
    check_perfdata(&summary(&dir, "APIResponsivenessPrometheus_simple_load_"));
    check_perfdata(&summary(&dir, "SchedulingThroughput_load_"));
    check_perfdata(&summary(&dir, "ResourceUsageSummary_load_"));

    env.plane.shutdown().await;
}
