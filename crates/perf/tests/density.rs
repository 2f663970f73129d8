//! Density end to end on an in-process control plane with 10 hollow nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use perf::{RunArgs, TestKind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn density_on_ten_hollow_nodes() {
    let env = control_plane().await;
    let mut args = RunArgs::new(TestKind::Density);
    args.nodes = Some(10);
    args.pods_per_node = 3;
    args.nodes_per_namespace = 5;
    args.latency_pods = Some(20);
    args.qps = 20.0;
    args.timeout = Duration::from_secs(90);
    args.usage_interval = Duration::from_secs(2);
    args.seed = Some(1);
    let (outcome, dir) = run(&env, &args).await;

    // Phases all completed; 2 namespaces of 5 nodes x 3 pods.
    assert!(outcome.timed_out.is_none(), "{:?}", outcome.phases);
    assert!(
        outcome.phases.iter().all(|p| p.status == "ok"),
        "{:?}",
        outcome.phases
    );
    assert_eq!(outcome.saturation_pods, 30);
    assert!(outcome.saturation_seconds.unwrap() > 0.0);
    assert_eq!(outcome.passed, outcome.checks.iter().all(|c| c.passed));
    assert_eq!(outcome.exit_code(), if outcome.passed { 0 } else { 1 });
    assert_eq!(outcome.objects["Deployment"].created, 2 + 20);
    assert_eq!(outcome.objects["Deployment"].deleted, 2 + 20);
    assert_eq!(outcome.objects["Namespace"].created, 2);
    assert_eq!(outcome.objects["Namespace"].deleted, 2);

    // run.json
    let run = read_json(&dir.join("run.json"));
    assert_eq!(run["test"], "density");
    assert_eq!(run["cluster"]["master"], "embedded");
    assert_eq!(run["cluster"]["nodes"], 10);
    assert_eq!(run["cluster"]["hollowNodesStarted"], 10);
    assert!(run["cluster"]["version"]["gitVersion"].is_string());
    assert_eq!(run["resolved"]["namespaces"].as_array().unwrap().len(), 2);
    assert_eq!(run["parameters"]["podsPerNode"], 3);
    assert_eq!(run["verdict"], if outcome.passed { "pass" } else { "fail" });
    for f in run["files"].as_array().unwrap() {
        assert!(dir.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    check_junit(&dir, &run);

    // PodStartupLatency of the 20 latency pods.
    let lat = summary(&dir, "PodStartupLatency_PodStartupLatency_density_");
    assert_eq!(check_perfdata(&lat), 5);
    let startup = item(&lat, "Metric", "pod_startup");
    let p99 = startup["data"]["Perc99"].as_f64().unwrap();
    let reported = outcome.pod_startup_p99_ms.unwrap();
    assert!((p99 - reported).abs() < 1e-6, "{p99} vs {reported}");
    let counted = run["podStartup"]["latency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["metric"] == "pod_startup")
        .unwrap();
    assert_eq!(counted["count"], 20, "every latency pod measured");
    let slo = run["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["measurement"] == "PodStartupLatency")
        .unwrap();
    assert_eq!(slo["passed"].as_bool().unwrap(), p99 <= 5000.0);
    let sat = summary(
        &dir,
        "PodStartupLatency_SaturationPodStartupLatency_density_",
    );
    check_perfdata(&sat);

    // API calls and request counts match what the run did.
    let api = summary(&dir, "APIResponsivenessPrometheus_simple_density_");
    assert!(check_perfdata(&api) > 0);
    assert!(api["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["labels"]["Verb"] != "WATCH"));
    let counts = summary(&dir, "RequestCounts_density_");
    assert_eq!(requests(&counts, "POST", "deployments"), 22);
    assert_eq!(requests(&counts, "DELETE", "deployments"), 22);
    // ClusterLoader2 creates the namespaces before the first step, so
    // before the measurements start.
    assert_eq!(requests(&counts, "POST", "namespaces"), 0);
    assert!(
        requests(&counts, "POST", "pods") >= 50,
        "the controllers created the pods"
    );
    let post_deploy = api["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["labels"]["Verb"] == "POST" && i["labels"]["Resource"] == "deployments")
        .unwrap();
    assert_eq!(post_deploy["labels"]["Count"], "22");

    // Scheduling throughput and scheduler metrics (the embedded scheduler).
    let tp = summary(&dir, "SchedulingThroughput_density_");
    let d = &tp["dataItems"][0]["data"];
    assert!(d["Max"].as_f64().unwrap() >= d["Perc99"].as_f64().unwrap());
    assert!(d["Perc50"].as_f64().unwrap() >= 0.0 && d["Max"].as_f64().unwrap() > 0.0);
    let sm = summary(&dir, "SchedulingMetrics_density_");
    assert!(check_perfdata(&sm) > 0);

    // Resource usage of the (in-process) master.
    let ru = summary(&dir, "ResourceUsageSummary_density_");
    assert_eq!(check_perfdata(&ru), 2);
    let mem = item(&ru, "Resource", "memory");
    assert!(mem["data"]["Perc100"].as_f64().unwrap() > 1.0);

    env.plane.shutdown().await;
}
