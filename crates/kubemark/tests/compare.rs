//! `kubemark compare` and `kubemark report` on two real short Density runs
//! made by this test (about 20 s each), the dashboard hint `kubemark run`
//! prints at its end, and the time series charts of a real run's one-run
//! page in headless Chromium (dashboard and report; screenshots go to
//! target/dashboard-screenshots/ like the dashboard crate's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The dashboard crate's WebDriver client (chromedriver + Chromium).
#[path = "../../dashboard/tests/common/mod.rs"]
mod webdriver;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
        // Several usage samples even in so short a run (time series charts).
        "--usage-interval",
        "1s",
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

    // The time series of run a, as charts in the dashboard and the report.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(time_series_in_chromium(&a, &html)).unwrap();
}

/// Points per series of a run's `timeSeries` in the PerfData file whose
/// name starts with `prefix`: series name as the chart's legend shows it
/// (the component for usage, the summary for throughput) → (unit, points).
fn file_series(dir: &Path, prefix: &str) -> Result<BTreeMap<String, (String, usize)>> {
    let file = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .with_context(|| format!("no {prefix}* in {}", dir.display()))?;
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file.path())?)?;
    let mut out = BTreeMap::new();
    for s in v["timeSeries"].as_array().context("no timeSeries")? {
        let name = s["labels"]["Name"]
            .as_str()
            .map(|n| format!("{}/{n}", s["labels"]["Resource"].as_str().unwrap_or("")))
            .unwrap_or_else(|| prefix.trim_end_matches('_').to_string());
        let n = s["points"].as_array().map(Vec::len).unwrap_or(0);
        out.insert(name, (s["unit"].as_str().unwrap_or("").to_string(), n));
    }
    Ok(out)
}

/// What the one-run page shows: per chart and series, its points (hover
/// circles) and the chart's unit, in the same shape as [`file_series`].
async fn page_series(d: &webdriver::Driver) -> Result<BTreeMap<String, (String, usize)>> {
    let v = d
        .exec(
            "var out = {};
             [['throughput-chart', ''], ['cpu-chart', 'cpu/'], ['memory-chart', 'memory/']].forEach(function (c) {
               var chart = document.getElementById(c[0]);
               if (!chart) return;
               var unit = chart.querySelector('svg text.unit').textContent;
               chart.querySelectorAll('g.series').forEach(function (g) {
                 out[c[1] + g.getAttribute('data-series')] = [unit, g.querySelectorAll('circle.pt').length];
               });
             });
             return out;",
            json!([]),
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

async fn check_run_charts(
    d: &webdriver::Driver,
    want: &BTreeMap<String, (String, usize)>,
    shot: &str,
) -> Result<()> {
    d.wait_for("return document.querySelectorAll('#timeseries-charts svg').length === 3")
        .await?;
    let got = page_series(d).await?;
    ensure!(&got == want, "charts show {got:?}, the files hold {want:?}");
    let legends = d
        .exec(
            "return Array.from(document.querySelectorAll('#cpu-chart svg text.legend')).map(t => t.textContent)",
            json!([]),
        )
        .await?;
    let components: Vec<&str> = want.keys().filter_map(|k| k.strip_prefix("cpu/")).collect();
    ensure!(legends == json!(components), "cpu legend {legends}");
    let x = d
        .exec(
            "return document.querySelector('#memory-chart svg text.x-unit').textContent",
            json!([]),
        )
        .await?;
    ensure!(
        x.as_str().unwrap_or_default().starts_with("time since "),
        "x axis {x}"
    );
    d.exec(
        "document.getElementById('timeseries-charts').scrollIntoView()",
        json!([]),
    )
    .await?;
    d.screenshot(shot).await?;
    Ok(())
}

async fn time_series_in_chromium(run: &Path, report: &Path) -> Result<()> {
    let mut want = file_series(run, "SchedulingThroughput_")?;
    want.extend(file_series(run, "ResourceUsageSummary_")?);
    ensure!(
        want.get("SchedulingThroughput")
            .is_some_and(|s| s.0 == "pods/s" && s.1 >= 1),
        "{want:?}"
    );
    ensure!(
        want.iter()
            .filter(|(k, _)| k.starts_with("memory/"))
            .all(|(_, (unit, n))| unit == "MiB" && *n >= 2),
        "{want:?}"
    );
    ensure!(
        want.keys().any(|k| k.starts_with("cpu/")),
        "cpu series: {want:?}"
    );

    let server = dashboard::server::start(dashboard::server::Config {
        dirs: vec![run.to_path_buf()],
        listen: "127.0.0.1:0".parse()?,
        tolerances: dashboard::compare::Tolerances::default(),
    })
    .await?;
    let d = webdriver::Driver::start(false).await?;
    d.goto(&server.url()).await?;
    d.wait_ready().await?;
    d.navigate_hash("#/run/density-a").await?;
    check_run_charts(&d, &want, "dashboard-run-timeseries.png").await?;
    d.assert_no_console_errors("dashboard").await?;
    server.shutdown();

    d.goto(&format!("file://{}", report.display())).await?;
    d.wait_ready().await?;
    d.navigate_hash("#/run/density-a").await?;
    check_run_charts(&d, &want, "report-run-timeseries.png").await?;
    d.assert_no_console_errors("report").await?;
    d.quit().await
}
