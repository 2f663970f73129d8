//! `kubemark run density --print-config DIR` writes a ClusterLoader2 config
//! that `kubemark run --config` runs unmodified, with the same artifacts as
//! the built-in test (one short real run, about 15 s).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const KUBEMARK: &str = env!("CARGO_BIN_EXE_kubemark");

fn kubemark(args: &[&str]) -> Output {
    Command::new(KUBEMARK).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn printed_density_config_runs_with_run_config() {
    let tmp = tempfile::tempdir().unwrap();
    // Printed to stdout: every file under its path.
    let o = kubemark(&["run", "load", "--print-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let listing = String::from_utf8_lossy(&o.stdout);
    for f in [
        "config.yaml",
        "modules/reconcile-objects.yaml",
        "deployment.yaml",
        "overrides.yaml",
    ] {
        assert!(listing.contains(&format!("# ==> {f} <==\n")), "{listing}");
    }

    // Written to a directory, with the flags as overrides.
    let dir = tmp.path().join("my-density");
    let d = dir.to_str().unwrap();
    let o = kubemark(&[
        "run",
        "density",
        "--print-config",
        d,
        "--pods-per-node",
        "2",
        "--latency-pods",
        "6",
        "--qps",
        "20",
        "--timeout",
        "120s",
        // The test checks the plumbing, not this loaded machine's latency.
        "--pod-startup-threshold",
        "60s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dir.join("config.yaml").is_file() && dir.join("deployment.yaml").is_file());
    let overrides = std::fs::read_to_string(dir.join("overrides.yaml")).unwrap();
    assert!(overrides.contains("PODS_PER_NODE: 2\n"), "{overrides}");

    let artifacts = tmp.path().join("art");
    let config = dir.join("config.yaml");
    let over = dir.join("overrides.yaml");
    let o = kubemark(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--testoverrides",
        over.to_str().unwrap(),
        "--nodes",
        "3",
        "--usage-interval",
        "1s",
        "--artifacts",
        artifacts.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(artifacts.join("run.json")).unwrap())
            .unwrap();
    assert_eq!(run["test"], "density");
    assert_eq!(run["verdict"], "pass");
    assert_eq!(run["objects"]["Deployment"]["created"], 1 + 6);
    let names: Vec<String> = std::fs::read_dir(&artifacts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    for prefix in [
        "PodStartupLatency_PodStartupLatency_density_",
        "PodStartupLatency_SaturationPodStartupLatency_density_",
        "APIResponsivenessPrometheus_simple_density_",
        "RequestCounts_density_",
        "SchedulingThroughput_density_",
        "SchedulingMetrics_density_",
        "ResourceUsageSummary_density_",
        "junit.xml",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "{prefix} in {names:?}"
        );
    }
}
