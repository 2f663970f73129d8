//! `kubemark bench density`: Density at several node counts, each on a
//! fresh embedded master, reporting wall time, saturation pods/s and the
//! latency pods' startup.

use crate::args::{BenchArgs, RunArgs, TestKind};
use crate::slo::fmt_num;
use crate::{run, stats, PerfError};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Target: 1,000 nodes x 30 pods saturated in under this many seconds...
pub const TARGET_SATURATION_SECONDS: f64 = 60.0;
/// ...with latency pods' p99 startup under this.
pub const TARGET_LATENCY_P99_MS: f64 = 1000.0;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchResult {
    pub nodes: usize,
    pub saturation_pods: usize,
    /// From creating the saturation Deployments until all their pods ran.
    pub saturation_seconds: Option<f64>,
    pub pods_per_second: Option<f64>,
    /// Latency pods' pod_startup p99 (server timestamps, 1 s resolution).
    pub pod_startup_p99_ms: Option<f64>,
    /// Latency pods' startup p99 as seen by the watch (sub-second).
    pub watch_startup_p99_ms: Option<f64>,
    /// The whole run: master start to shutdown.
    pub wall_seconds: f64,
    pub slos_passed: bool,
    pub artifacts_dir: Option<PathBuf>,
}

/// The result table (pure).
pub fn table(results: &[BenchResult]) -> String {
    let opt = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| "-".into());
    let mut s = format!(
        "{:>6}  {:>8}  {:>13}  {:>7}  {:>15}  {:>17}  {:>8}  {}\n",
        "NODES",
        "PODS",
        "SATURATION s",
        "PODS/s",
        "STARTUP p99 ms",
        "WATCH p99 ms",
        "WALL s",
        "SLOs"
    );
    for r in results {
        s.push_str(&format!(
            "{:>6}  {:>8}  {:>13}  {:>7}  {:>15}  {:>17}  {:>8}  {}\n",
            r.nodes,
            r.saturation_pods,
            opt(r.saturation_seconds),
            opt(r.pods_per_second),
            opt(r.pod_startup_p99_ms),
            opt(r.watch_startup_p99_ms),
            fmt_num((r.wall_seconds * 10.0).round() / 10.0),
            if r.slos_passed { "PASS" } else { "FAIL" }
        ));
    }
    s
}

/// Runs Density once per node count and prints the table.
pub async fn bench_density(args: BenchArgs) -> Result<Vec<BenchResult>, PerfError> {
    if args.nodes.is_empty() || args.nodes.contains(&0) {
        return Err(PerfError::Args(crate::args::ArgsError(
            "--nodes needs one or more positive node counts".into(),
        )));
    }
    let base = args.artifacts.clone().unwrap_or_else(|| {
        PathBuf::from("artifacts").join(format!(
            "bench-density-{}",
            stats::compact_timestamp(stats::now_unix())
        ))
    });
    let mut results = Vec::new();
    for &n in &args.nodes {
        let mut r = RunArgs::new(TestKind::Density);
        r.nodes = Some(n);
        r.pods_per_node = args.pods_per_node;
        r.latency_pods = args.latency_pods;
        r.timeout = args.timeout;
        r.artifacts = Some(base.join(format!("density-{n}-nodes")));
        // Like real nodes, one connection per kubelet and per proxy unless
        // asked to multiplex.
        r.shared_connections = args.shared_connections;
        println!(
            "=== Density with {n} nodes x {} pods ({}) ===",
            args.pods_per_node,
            match args.shared_connections {
                Some(k) => format!("hollow nodes multiplexed on {k} connections"),
                None => "one connection per hollow kubelet and proxy".into(),
            }
        );
        let t0 = Instant::now();
        let outcome = run(r).await?;
        let wall = t0.elapsed().as_secs_f64();
        let pods_per_second = outcome
            .saturation_seconds
            .filter(|s| *s > 0.0)
            .map(|s| (outcome.saturation_pods as f64 / s * 10.0).round() / 10.0);
        results.push(BenchResult {
            nodes: n,
            saturation_pods: outcome.saturation_pods,
            saturation_seconds: outcome
                .saturation_seconds
                .map(|s| (s * 10.0).round() / 10.0),
            pods_per_second,
            pod_startup_p99_ms: outcome.pod_startup_p99_ms,
            watch_startup_p99_ms: outcome.watch_startup_p99_ms.map(|v| v.round()),
            wall_seconds: wall,
            slos_passed: outcome.passed,
            artifacts_dir: outcome.artifacts_dir.clone(),
        });
    }
    println!();
    print!("{}", table(&results));
    if let Some(r) = results
        .iter()
        .find(|r| r.nodes == 1000 && args.pods_per_node == 30)
    {
        let sat_ok = r
            .saturation_seconds
            .is_some_and(|s| s < TARGET_SATURATION_SECONDS);
        let lat_ok = r
            .watch_startup_p99_ms
            .is_some_and(|v| v < TARGET_LATENCY_P99_MS);
        println!(
            "target (1,000 nodes x 30 pods saturated in < {}s, latency p99 < {}ms by watch): saturation {}, latency {}",
            fmt_num(TARGET_SATURATION_SECONDS),
            fmt_num(TARGET_LATENCY_P99_MS),
            if sat_ok { "met" } else { "NOT met" },
            if lat_ok { "met" } else { "NOT met" },
        );
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows() {
        let r = BenchResult {
            nodes: 1000,
            saturation_pods: 30000,
            saturation_seconds: Some(42.5),
            pods_per_second: Some(705.9),
            pod_startup_p99_ms: Some(1000.0),
            watch_startup_p99_ms: None,
            wall_seconds: 80.04,
            slos_passed: true,
            artifacts_dir: None,
        };
        let t = table(&[r]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1].contains("30000") && lines[1].contains("42.5") && lines[1].contains("706")
        );
        assert!(lines[1].trim_end().ends_with("PASS"));
        assert!(lines[1].contains(" - "));
    }
}
