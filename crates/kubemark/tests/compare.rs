//! `kubemark compare` and `kubemark report` on two real short Density runs
//! made by this test (about 20 s each), and the dashboard hint `kubemark
//! run` prints at its end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const KUBEMARK: &str = env!("CARGO_BIN_EXE_kubemark");

fn kubemark(args: &[&str]) -> Output {
    Command::new(KUBEMARK).args(args).output().unwrap()
}

fn short_run(dir: &Path) -> String {
    let out = kubemark(&[
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
        "--timeout",
        "120s",
        "--pod-startup-threshold",
        "60s",
        "--artifacts",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn compare_and_report_two_real_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("density-a");
    let b = tmp.path().join("density-b");
    let stdout = short_run(&a);
    assert!(
        stdout.contains(&format!("kubemark dashboard {}", a.display())),
        "run prints the dashboard command: {stdout}"
    );
    assert!(stdout.contains("#/run/density-a"), "{stdout}");
    short_run(&b);
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());

    // A run against itself: everything ok, exit 0.
    let out = kubemark(&["compare", sa, sa, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.len() > 20, "{} rows", rows.len());
    assert!(rows.iter().all(|r| r["verdict"] == "ok"));

    // Two runs: the exit code says whether anything got worse.
    let out = kubemark(&["compare", sa, sb, "-o", "json", "--tolerance", "10%"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let worse = rows.iter().filter(|r| r["verdict"] == "worse").count();
    assert_eq!(out.status.code(), Some(if worse > 0 { 1 } else { 0 }));
    assert_eq!(v["totals"]["worse"], worse);
    let p99 = rows
        .iter()
        .find(|r| r["metric"] == "PodStartupLatency_PodStartupLatency{Metric=pod_startup} Perc99")
        .expect("pod_startup p99 compared");
    assert!(p99["base"]["median"].as_f64().unwrap() > 0.0);
    assert!(p99["new"]["median"].as_f64().unwrap() > 0.0);
    let thr = rows
        .iter()
        .find(|r| r["summary"] == "SchedulingThroughput")
        .unwrap();
    assert_eq!(thr["higherIsBetter"], true);

    // A huge tolerance and absolute floor (a metric at 0 in one run is
    // beyond any relative tolerance): nothing is worse, exit 0; the table
    // and junit forms.
    let thresholds = a.parent().unwrap().join("thresholds.yaml");
    std::fs::write(
        &thresholds,
        "tolerance: 100000%\nrules:\n  - match: \"*\"\n    min: 1000000000\n",
    )
    .unwrap();
    let out = kubemark(&[
        "compare",
        sa,
        sb,
        "--thresholds",
        thresholds.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("METRIC") && table.contains(" 0 worse"),
        "{table}"
    );
    let out = kubemark(&["compare", sa, sb, "-o", "junit"]);
    let junit = String::from_utf8_lossy(&out.stdout);
    assert!(junit.starts_with("<?xml") && junit.contains("<testsuite name=\"kubemark-compare\""));
    assert_eq!(junit.matches("<failure").count(), worse);

    // Bad input: an empty base, a bad tolerance.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = kubemark(&["compare", empty.to_str().unwrap(), sb]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: no runs found", empty.display())),
        "{err}"
    );
    let out = kubemark(&["compare", sa, sb, "--tolerance", "lots"]);
    assert_eq!(out.status.code(), Some(2));

    // The static report of both.
    let html = tmp.path().join("report.html");
    let out = kubemark(&["report", sa, sb, "--output", html.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("density-a") && text.contains("density-b"));
    assert!(
        text.contains("base=density-a\\u0026new=density-b"),
        "the comparison is embedded"
    );
}
