//! Shared pieces of the end-to-end tests: an in-process control plane, a
//! run against it, and readers for the artifacts.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use perf::progress::Mode;
use perf::{run_with, RunArgs, RunOptions, RunOutcome, Target};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Env {
    pub plane: cluster::ControlPlane,
    pub dir: tempfile::TempDir,
}

pub async fn control_plane() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut mc = master::server::MasterConfig::new(dir.path().join("master"));
    mc.listen = "127.0.0.1:0".parse().unwrap();
    mc.ephemeral = true;
    let plane = cluster::start(cluster::ControlPlaneConfig::new(mc))
        .await
        .unwrap();
    Env { plane, dir }
}

pub async fn run(env: &Env, args: &RunArgs) -> (RunOutcome, PathBuf) {
    let target = Target::in_process(&env.plane).await.unwrap();
    let artifacts = env.dir.path().join("artifacts");
    let mut opts = RunOptions::new(artifacts.clone());
    opts.progress = Mode::Lines;
    let outcome = run_with(args, target, opts).await.unwrap();
    (outcome, artifacts)
}

/// The one file in `dir` whose name starts with `prefix`, parsed.
pub fn summary(dir: &Path, prefix: &str) -> Value {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    assert_eq!(names.len(), 1, "files starting with {prefix}: {names:?}");
    serde_json::from_str(&std::fs::read_to_string(dir.join(&names[0])).unwrap()).unwrap()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every PerfData item is well formed and ordered p50 <= p90 <= p99.
pub fn check_perfdata(v: &Value) -> usize {
    assert_eq!(v["version"], "v1");
    let items = v["dataItems"].as_array().unwrap();
    for it in items {
        assert!(it["unit"].is_string());
        assert!(it["labels"].is_object());
        let d = &it["data"];
        if let (Some(a), Some(b), Some(c)) = (
            d["Perc50"].as_f64(),
            d["Perc90"].as_f64(),
            d["Perc99"].as_f64(),
        ) {
            assert!(a <= b && b <= c, "unordered percentiles in {it}");
            assert!(a >= 0.0);
        }
    }
    items.len()
}

/// The data item whose label `key` is `value`.
pub fn item<'a>(v: &'a Value, key: &str, value: &str) -> &'a Value {
    v["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["labels"][key] == value)
        .unwrap_or_else(|| panic!("no item with {key}={value} in {v}"))
}

/// Requests counted for verb and resource (all subresources).
pub fn requests(counts: &Value, verb: &str, resource: &str) -> u64 {
    counts["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["labels"]["Verb"] == verb
                && i["labels"]["Resource"] == resource
                && i["labels"]["Subresource"] == ""
        })
        .map(|i| i["data"]["Count"].as_f64().unwrap() as u64)
        .sum()
}

/// junit.xml agrees with run.json's SLO list.
pub fn check_junit(dir: &Path, run: &Value) {
    let x = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let slos = run["slos"].as_array().unwrap();
    let failed = slos.iter().filter(|s| s["passed"] == false).count();
    assert_eq!(x.matches("<testcase ").count(), slos.len(), "{x}");
    assert_eq!(x.matches("<failure ").count(), failed, "{x}");
    assert!(x.contains(&format!("failures=\"{failed}\"")));
    // Verdicts follow the thresholds.
    for s in slos {
        if let Some(v) = s["value"].as_f64() {
            let within = v <= s["threshold"].as_f64().unwrap();
            if s["measurement"] != "Phases" {
                assert_eq!(s["passed"].as_bool().unwrap(), within, "{s}");
            }
        }
    }
}
