//! The dashboard and the static report in real headless Chromium, driven
//! over WebDriver (chromedriver). Fails when chromium or chromedriver is
//! missing. Screenshots of every view go to target/dashboard-screenshots/.

mod common;

use anyhow::{ensure, Result};
use common::*;
use dashboard::compare::Tolerances;
use serde_json::json;

const P99: &str = "PodStartupLatency_PodStartupLatency{Metric=pod_startup} Perc99";

/// Checks the values of the metric chart's Perc99 points against the files.
async fn check_metric_chart(d: &Driver, root: &std::path::Path, shot: &str) -> Result<()> {
    d.wait_for("return document.querySelectorAll('#metric-chart circle.pt').length > 0")
        .await?;
    let points = d
        .find_all("#metric-chart circle.pt[data-series='Perc99']")
        .await?;
    ensure!(points.len() == 3, "3 Perc99 points, got {}", points.len());
    for (i, p) in points.iter().enumerate() {
        let run = d.attr(p, "data-run").await?.unwrap_or_default();
        let value: f64 = d.attr(p, "data-value").await?.unwrap_or_default().parse()?;
        let want = pod_startup_p99(&root.join(format!("density-{}", i + 1)))?;
        ensure!(
            run.ends_with(&format!("density-{}", i + 1)),
            "point {i} is run {run}"
        );
        ensure!((value - want).abs() < 1e-6, "point {i}: {value} != {want}");
    }
    // Axes with units and a legend.
    let unit = d
        .exec(
            "return document.querySelector('#metric-chart svg text.unit').textContent",
            json!([]),
        )
        .await?;
    ensure!(unit == "ms", "y axis unit {unit}");
    let legend = d
        .exec("return Array.from(document.querySelectorAll('#metric-chart svg text.legend')).map(t => t.textContent)", json!([]))
        .await?;
    ensure!(
        legend == json!(["Perc50", "Perc90", "Perc99"]),
        "legend {legend}"
    );
    // Hover shows the exact value.
    let tip = d
        .exec("var c = document.querySelector(\"#metric-chart circle.pt[data-series='Perc99']\"); c.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); var t = document.getElementById('tip'); return t.hidden ? '' : t.textContent;", json!([]))
        .await?;
    ensure!(
        tip.as_str().unwrap_or_default().contains("Perc99 = "),
        "tooltip {tip}"
    );
    d.screenshot(shot).await?;
    Ok(())
}

async fn check_compare(d: &Driver, shot: &str) -> Result<()> {
    d.wait_for("return document.querySelectorAll('#compare-table tr.cmp-row').length > 0")
        .await?;
    let row = d.find(&format!("tr.cmp-row[data-metric='{P99}']")).await?;
    let verdict = d.attr(&row, "data-verdict").await?;
    ensure!(verdict.as_deref() == Some("worse"), "{P99}: {verdict:?}");
    let pct: f64 = d
        .attr(&row, "data-diff-pct")
        .await?
        .unwrap_or_default()
        .parse()?;
    ensure!(pct > 100.0, "diff {pct}%");
    let worse = d.find("#totals [data-verdict='worse']").await?;
    ensure!(
        !d.text(&worse).await?.starts_with("0 "),
        "totals show worse metrics"
    );
    d.find("#compare-chart svg rect.bar").await?;
    d.screenshot(shot).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("runs");
    make_runs(&root)?;
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty)?;
    let server = dashboard::server::start(dashboard::server::Config {
        dirs: vec![root.clone(), empty.clone()],
        listen: "127.0.0.1:0".parse()?,
        tolerances: Tolerances::default(),
    })
    .await?;
    let d = Driver::start(false).await?;
    d.goto(&server.url()).await?;
    d.wait_ready().await?;

    // Runs: three runs, and the bad input reported by name.
    let rows = d.find_all("#runs-table tr.run-row").await?;
    ensure!(rows.len() == 3, "3 runs listed, got {}", rows.len());
    let problems = d
        .exec(
            "return Array.from(document.querySelectorAll('#problems li')).map(l => l.textContent)",
            json!([]),
        )
        .await?;
    let text = problems.to_string();
    ensure!(
        text.contains("Foreign_density_2026-12-03T16:42:02Z.json: not a perfdash PerfData"),
        "{text}"
    );
    ensure!(text.contains("empty: no runs found"), "{text}");
    let verdicts = d
        .exec("return Array.from(document.querySelectorAll('#runs-table tr.run-row td .verdict-pass')).length", json!([]))
        .await?;
    ensure!(verdicts == json!(3), "3 PASS verdicts, got {verdicts}");
    d.screenshot("dashboard-runs.png").await?;

    // The filter narrows the table.
    let filter = d.find("#filter").await?;
    d.cmd(
        "POST",
        &format!("/element/{filter}/value"),
        json!({"text": "density-2"}),
    )
    .await?;
    let shown = d
        .exec("return Array.from(document.querySelectorAll('#runs-table tr.run-row')).filter(r => !r.hidden).length", json!([]))
        .await?;
    ensure!(shown == json!(1), "filter shows one run, got {shown}");
    d.navigate_hash("#/runs").await?;

    // One run.
    d.navigate_hash("#/run/runs/density-1").await?;
    let slos = d.find_all("#slo-table tr.slo-row").await?;
    ensure!(slos.len() == 5, "5 SLO rows, got {}", slos.len());
    ensure!(
        d.find_all("svg.timeline rect.phase").await?.len() >= 6,
        "phases on the timeline"
    );
    ensure!(
        !d.find_all("#pod-startup-charts rect.bar").await?.is_empty(),
        "pod startup chart"
    );
    ensure!(
        !d.find_all("#usage-charts rect.bar").await?.is_empty(),
        "usage charts"
    );
    // The fixtures predate time series: the run says so (no error).
    let none = d.find("#no-timeseries").await?;
    ensure!(
        d.text(&none)
            .await?
            .starts_with("No time series in this run"),
        "no time series message"
    );
    // Sorting the API table by p99 (descending) puts the slowest call first.
    let first_p99 = d
        .exec("var rows = document.querySelectorAll('#api-table tbody tr'); return Array.from(rows).map(r => parseFloat(r.cells[7].textContent));", json!([]))
        .await?;
    let v: Vec<f64> = serde_json::from_value(first_p99)?;
    ensure!(
        v.windows(2).all(|w| w[0] >= w[1]),
        "api table sorted by p99 desc: {v:?}"
    );
    let header = d.find("#api-table th[data-col='0']").await?;
    d.click(&header).await?;
    let verbs = d
        .exec("return Array.from(document.querySelectorAll('#api-table tbody tr')).map(r => r.cells[0].textContent)", json!([]))
        .await?;
    let verbs: Vec<String> = serde_json::from_value(verbs)?;
    let mut sorted = verbs.clone();
    sorted.sort();
    ensure!(verbs == sorted, "sorted by verb: {verbs:?}");
    d.screenshot("dashboard-run.png").await?;

    // A metric across runs.
    d.navigate_hash("#/metric?test=density&series=PodStartupLatency_PodStartupLatency%7BMetric%3Dpod_startup%7D")
        .await?;
    check_metric_chart(&d, &root, "dashboard-metric.png").await?;

    // Compare, chosen in the runs table: density-1 as base, density-3 new.
    d.navigate_hash("#/runs").await?;
    let base = d.find("input.sel-base[value='runs/density-1']").await?;
    let new = d.find("input.sel-new[value='runs/density-3']").await?;
    d.click(&base).await?;
    d.click(&new).await?;
    let button = d.find("#compare-selected").await?;
    d.click(&button).await?;
    d.wait_ready().await?;
    let hash = d.exec("return location.hash", json!([])).await?;
    ensure!(
        hash == json!("#/compare?base=runs%2Fdensity-1&new=runs%2Fdensity-3"),
        "stable URL: {hash}"
    );
    check_compare(&d, "dashboard-compare.png").await?;

    // A new run appears without a restart, also in an open runs table.
    d.navigate_hash("#/runs").await?;
    ensure!(d.find_all("#runs-table tr.run-row").await?.len() == 3);
    let d4 = root.join("density-4");
    std::fs::create_dir(&d4)?;
    for e in std::fs::read_dir(root.join("density-2"))? {
        let e = e?;
        std::fs::copy(e.path(), d4.join(e.file_name()))?;
    }
    d.wait_for("return document.querySelectorAll('#runs-table tr.run-row').length === 4")
        .await?;

    d.assert_no_console_errors("dashboard").await?;

    // A linked comparison of an unknown run says so instead of a blank page.
    d.navigate_hash("#/compare?base=nope&new=runs%2Fdensity-1")
        .await?;
    d.wait_for("return document.body.innerText.indexOf('Cannot compare: no run \"nope\"') >= 0")
        .await?;
    d.navigate_hash("#/run/nope").await?;
    d.wait_for("return document.body.innerText.indexOf('Run not found') >= 0")
        .await?;

    // The only console entry is the API's 404 for the unknown run.
    let logs = d.logs().await?;
    ensure!(
        logs.iter().all(|e| e["level"] != "SEVERE"
            || e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("api/compare?base=nope")),
        "unexpected console errors: {logs:?}"
    );
    d.quit().await?;
    server.shutdown();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_in_chromium_offline() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("runs");
    make_runs(&root)?;
    let scan = dashboard::runs::scan(std::slice::from_ref(&root));
    ensure!(scan.runs.len() == 3);
    let file = tmp.path().join("report.html");
    std::fs::write(
        &file,
        dashboard::report::render(&scan, &Tolerances::default()),
    )?;

    let d = Driver::start(true).await?;
    // Networking really is off.
    d.goto("http://example.com/").await.ok();
    let t = d
        .exec(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .await?;
    ensure!(
        !t.as_str().unwrap_or_default().contains("Example Domain"),
        "network reachable"
    );
    d.logs().await?;

    d.goto(&format!("file://{}", file.display())).await?;
    d.wait_ready().await?;
    let rows = d.find_all("#runs-table tr.run-row").await?;
    ensure!(rows.len() == 3, "3 runs listed, got {}", rows.len());
    d.screenshot("report-runs.png").await?;

    d.navigate_hash("#/run/runs/density-2").await?;
    ensure!(
        !d.find_all("#pod-startup-charts rect.bar").await?.is_empty(),
        "pod startup chart"
    );
    ensure!(
        !d.find_all("svg.timeline rect.phase").await?.is_empty(),
        "timeline"
    );
    d.find("#no-timeseries").await?;
    d.screenshot("report-run.png").await?;

    d.navigate_hash("#/metric?test=density&series=PodStartupLatency_PodStartupLatency%7BMetric%3Dpod_startup%7D")
        .await?;
    check_metric_chart(&d, &root, "report-metric.png").await?;

    // The precomputed comparison, reached from the runs table.
    d.navigate_hash("#/runs").await?;
    let link = d
        .find("tr.run-row[data-run='runs/density-3'] a.cmp-prev")
        .await?;
    d.click(&link).await?;
    d.wait_ready().await?;
    check_compare(&d, "report-compare.png").await?;

    d.assert_no_console_errors("report").await?;
    d.quit().await?;
    Ok(())
}
