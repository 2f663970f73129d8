//! The built-in Density and Load tests are ClusterLoader2 configs: their
//! flags render the expected plan, and the config `--print-config` hands
//! out runs unmodified with `kubemark run --config`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use perf::cl2::builtin;
use perf::cl2::plan::{OpKind, StepPlan};
use perf::{RunArgs, TestKind};
use std::path::Path;
use std::time::Duration;

/// Objects of `kind` that `op` touches in the step whose name ends with `step`.
fn count(plan: &[StepPlan], step: &str, kind: &str, op: OpKind) -> usize {
    plan.iter()
        .filter(|s| s.name.ends_with(step))
        .map(|s| s.objects.get(&(kind.to_string(), op)).copied().unwrap_or(0))
        .sum()
}

fn pods(plan: &[StepPlan], step: &str) -> usize {
    plan.iter()
        .filter(|s| s.name.ends_with(step))
        .map(|s| s.pods_created)
        .sum()
}

#[test]
fn density_flags_render_the_expected_plan() {
    let mut a = RunArgs::new(TestKind::Density);
    a.nodes = Some(250);
    a.pods_per_node = 3;
    a.latency_pods = Some(8);
    let r = perf::runner::render(&a).unwrap();
    assert_eq!(r.config.name, "density");
    // floor(250 / 100) = 2 namespaces of 375 saturation pods: every node's 3.
    assert_eq!(r.config.namespace.number, 2);
    assert_eq!(
        count(&r.steps, "saturation: create", "Deployment", OpKind::Create),
        2
    );
    assert_eq!(pods(&r.steps, "saturation: create"), 750);
    // 8 latency pods, 4 per namespace, created then deleted.
    assert_eq!(
        count(&r.steps, "latency: create", "Deployment", OpKind::Create),
        8
    );
    assert_eq!(pods(&r.steps, "latency: create"), 8);
    assert_eq!(
        count(&r.steps, "latency: delete", "Deployment", OpKind::Delete),
        8
    );
    assert_eq!(
        count(&r.steps, "saturation: delete", "Deployment", OpKind::Delete),
        2
    );
    assert!(r.skipped.is_empty(), "every measurement is supported");

    // Defaults: 100 nodes x 30 pods in one namespace, max(500, nodes)
    // latency pods; on 10 nodes as many as fit on 1-core nodes (9 each
    // next to 3 saturation pods).
    let d = perf::runner::render(&RunArgs::new(TestKind::Density)).unwrap();
    assert_eq!(pods(&d.steps, "saturation: create"), 3000);
    assert_eq!(pods(&d.steps, "latency: create"), 500);
    let mut small = RunArgs::new(TestKind::Density);
    small.nodes = Some(10);
    small.pods_per_node = 3;
    let s = perf::runner::render(&small).unwrap();
    assert_eq!(pods(&s.steps, "latency: create"), 90);
    // --param wins over the flags.
    small.param = vec!["PODS_PER_NODE=5".into()];
    let s = perf::runner::render(&small).unwrap();
    assert_eq!(pods(&s.steps, "saturation: create"), 50);
}

#[test]
fn load_flags_render_the_expected_plan() {
    let mut a = RunArgs::new(TestKind::Load);
    a.nodes = Some(10);
    a.pods_per_node = 3;
    a.latency_pods = Some(10);
    let r = perf::runner::render(&a).unwrap();
    let c = |kind: &str, op| count(&r.steps, "load: create objects", kind, op);
    // 30 pods in one namespace: 1 big (3), 5 medium (1), 13 small (1)
    // Deployments, each with a ConfigMap and a Secret; a small and a medium
    // StatefulSet with their headless Services; a small and a medium Job
    // (no big one under 100 nodes); the DaemonSet.
    assert_eq!(c("Deployment", OpKind::Create), 19);
    assert_eq!(c("ConfigMap", OpKind::Create), 19);
    assert_eq!(c("Secret", OpKind::Create), 19);
    assert_eq!(c("StatefulSet", OpKind::Create), 2);
    assert_eq!(c("Service", OpKind::Create), 2);
    assert_eq!(c("Job", OpKind::Create), 2);
    assert_eq!(c("DaemonSet", OpKind::Create), 1);
    assert_eq!(pods(&r.steps, "load: create objects"), 25 + 10);
    // Services for about half the Deployments: 1 + 3 + 7.
    assert_eq!(
        count(&r.steps, "load: create services", "Service", OpKind::Create),
        11
    );
    // Rescaled and updated, then deleted.
    let updated: usize = ["Deployment", "StatefulSet", "Job", "DaemonSet"]
        .iter()
        .map(|k| count(&r.steps, "load: rescale objects", k, OpKind::Patch))
        .sum();
    assert_eq!(updated, 19 + 2 + 2 + 1);
    assert_eq!(
        count(
            &r.steps,
            "load: delete objects",
            "Deployment",
            OpKind::Delete
        ),
        19
    );
    assert_eq!(pods(&r.steps, "latency: create"), 10);
    // 100 nodes x 30 pods: upstream's counts.
    let d = perf::runner::render(&RunArgs::new(TestKind::Load)).unwrap();
    let c = |kind: &str| count(&d.steps, "load: create objects", kind, OpKind::Create);
    assert_eq!(c("Deployment"), 2 + 23 + 298);
    assert_eq!(c("Job"), 3);
    assert_eq!(pods(&d.steps, "load: create objects"), 3000 + 100);
}

/// Splits `--print-config`'s listing into files under `dir`.
fn unpack(listing: &str, dir: &Path) {
    let mut current: Option<(String, String)> = None;
    let flush = |c: Option<(String, String)>| {
        if let Some((rel, text)) = c {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    };
    for line in listing.lines() {
        if let Some(rel) = line
            .strip_prefix("# ==> ")
            .and_then(|l| l.strip_suffix(" <=="))
        {
            flush(current.take());
            current = Some((rel.to_string(), String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(current);
}

#[test]
fn printed_listing_is_a_config() {
    for test in [TestKind::Density, TestKind::Load] {
        let dir = tempfile::tempdir().unwrap();
        let mut a = RunArgs::new(test);
        a.pods_per_node = 7;
        unpack(&builtin::listing(&a), dir.path());
        let mut c = RunArgs::new(test);
        c.config = Some(dir.path().join("config.yaml"));
        c.testoverrides = vec![dir.path().join(builtin::OVERRIDES_FILE)];
        c.nodes = Some(10);
        let printed = perf::runner::render(&c).unwrap();
        a.nodes = Some(10);
        let builtin = perf::runner::render(&a).unwrap();
        assert_eq!(printed.steps, builtin.steps, "{test}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_config_runs_unmodified() {
    let env = control_plane().await;
    let mut a = RunArgs::new(TestKind::Density);
    a.pods_per_node = 2;
    a.latency_pods = Some(4);
    a.qps = 20.0;
    a.timeout = Duration::from_secs(90);
    a.pod_startup_threshold = Duration::from_secs(60);
    let dir = env.dir.path().join("density-config");
    builtin::write_dir(&a, &dir).unwrap();

    let mut args = RunArgs::new(TestKind::Density);
    args.config = Some(dir.join("config.yaml"));
    args.testoverrides = vec![dir.join(builtin::OVERRIDES_FILE)];
    args.nodes = Some(3);
    args.usage_interval = Duration::from_secs(1);
    let (outcome, artifacts) = run(&env, &args).await;
    assert!(
        outcome.phases.iter().all(|p| p.status == "ok"),
        "{:#?}",
        outcome.phases
    );
    assert!(outcome.passed, "{:#?}", outcome.checks);
    assert_eq!(outcome.objects["Deployment"].created, 1 + 4);
    let run = read_json(&artifacts.join("run.json"));
    assert_eq!(run["test"], "density");
    check_junit(&artifacts, &run);
    // The same files as `kubemark run density`.
    for prefix in [
        "PodStartupLatency_PodStartupLatency_density_",
        "PodStartupLatency_SaturationPodStartupLatency_density_",
        "APIResponsivenessPrometheus_simple_density_",
        "RequestCounts_density_",
        "SchedulingThroughput_density_",
        "SchedulingMetrics_density_",
        "ResourceUsageSummary_density_",
    ] {
        check_perfdata(&summary(&artifacts, prefix));
    }
    env.plane.shutdown().await;
}
