//! ResourceUsageSummary: CPU (cores) and resident memory of each master
//! component, sampled periodically, summarised by percentile 50/90/99/100.
//!
//! Samples come from `/proc/<pid>/stat` and `/proc/<pid>/status` for local
//! processes, or from the `process_cpu_seconds_total` /
//! `process_resident_memory_bytes` metrics of a remote component.
//!
//! The summary keeps the samples as time series too (CPU cores per
//! interval, resident memory per sample), for the dashboard's charts.

use crate::prom::Scrape;
use crate::stats;
use serde::Serialize;

/// One reading: wall time (s), cumulative CPU seconds, resident bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UsageSample {
    pub at: f64,
    pub cpu_seconds: f64,
    pub rss_bytes: f64,
}

/// A sample from the `process_*` metrics of a scrape taken at `at`.
pub fn sample_from_metrics(scrape: &Scrape, at: f64) -> Option<UsageSample> {
    Some(UsageSample {
        at,
        cpu_seconds: scrape.first_value("process_cpu_seconds_total")?,
        rss_bytes: scrape.first_value("process_resident_memory_bytes")?,
    })
}

/// A component's usage over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSummary {
    pub component: String,
    /// CPU cores between consecutive samples: p50, p90, p99, p100.
    pub cpu_cores: [f64; 4],
    /// Resident memory in bytes: p50, p90, p99, p100.
    pub memory_bytes: [f64; 4],
    pub samples: usize,
    /// CPU cores over each interval, at its end: `(unix seconds, cores)`.
    #[serde(skip)]
    pub cpu_series: Vec<(f64, f64)>,
    /// Resident memory at each sample: `(unix seconds, bytes)`.
    #[serde(skip)]
    pub memory_series: Vec<(f64, f64)>,
}

fn four(sorted: &[f64]) -> Option<[f64; 4]> {
    Some([
        stats::nearest_rank(sorted, 50.0)?,
        stats::nearest_rank(sorted, 90.0)?,
        stats::nearest_rank(sorted, 99.0)?,
        stats::nearest_rank(sorted, 100.0)?,
    ])
}

/// Summarises a component's samples (in time order). `None` without at
/// least two samples (no CPU rate can be formed).
pub fn summarize(component: &str, samples: &[UsageSample]) -> Option<UsageSummary> {
    let times: Vec<f64> = samples.iter().map(|s| s.at).collect();
    // The last sample (at gather) usually comes moments after the last
    // periodic one: its interval joins the one before (see rate_windows).
    let cpu_series: Vec<(f64, f64)> = super::rate_windows(&times)
        .into_iter()
        .map(|(a, b)| (samples[a], samples[b]))
        // A process restart makes the counter go down; skip that interval.
        .filter(|(a, b)| b.cpu_seconds >= a.cpu_seconds)
        .map(|(a, b)| (b.at, (b.cpu_seconds - a.cpu_seconds) / (b.at - a.at)))
        .collect();
    let memory_series: Vec<(f64, f64)> = samples.iter().map(|s| (s.at, s.rss_bytes)).collect();
    let mut cpu: Vec<f64> = cpu_series.iter().map(|p| p.1).collect();
    let mut mem: Vec<f64> = memory_series.iter().map(|p| p.1).collect();
    cpu.sort_by(f64::total_cmp);
    mem.sort_by(f64::total_cmp);
    Some(UsageSummary {
        component: component.to_string(),
        cpu_cores: four(&cpu)?,
        memory_bytes: four(&mem)?,
        samples: samples.len(),
        cpu_series,
        memory_series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    #[test]
    fn summary_percentiles() {
        let s = |at: f64, cpu: f64, mb: f64| UsageSample {
            at,
            cpu_seconds: cpu,
            rss_bytes: mb * 1e6,
        };
        // Rates over 10 s windows: 0.5, 1.0, 0.2, 2.0 cores.
        let samples = [
            s(0.0, 0.0, 100.0),
            s(10.0, 5.0, 300.0),
            s(20.0, 15.0, 200.0),
            s(30.0, 17.0, 400.0),
            s(40.0, 37.0, 250.0),
        ];
        let u = summarize("kube-apiserver", &samples).unwrap();
        assert_eq!(u.cpu_cores, [0.5, 2.0, 2.0, 2.0]);
        assert_eq!(u.memory_bytes, [250e6, 400e6, 400e6, 400e6]);
        assert_eq!(u.samples, 5);
        // The samples as series: CPU per interval at its end, memory per
        // sample.
        assert_eq!(
            u.cpu_series,
            [(10.0, 0.5), (20.0, 1.0), (30.0, 0.2), (40.0, 2.0)]
        );
        assert_eq!(
            u.memory_series,
            [
                (0.0, 100e6),
                (10.0, 300e6),
                (20.0, 200e6),
                (30.0, 400e6),
                (40.0, 250e6)
            ]
        );
        assert!(summarize("x", &samples[..1]).is_none());
        // A last sample moments after the previous one: no 10 ms rate.
        let mut tail = samples.to_vec();
        tail.push(s(40.05, 38.0, 260.0));
        let t = summarize("x", &tail).unwrap();
        assert_eq!(
            t.cpu_series.last().map(|p| p.0),
            Some(40.05),
            "{:?}",
            t.cpu_series
        );
        assert_eq!(t.cpu_series.len(), 4);
        assert!((t.cpu_series[3].1 - 21.0 / 10.05).abs() < 1e-9);
        assert_eq!(t.memory_series.len(), 6);
        // A restart (counter going down) skips that interval only.
        let restart = [s(0.0, 10.0, 1.0), s(10.0, 1.0, 1.0), s(20.0, 3.0, 1.0)];
        let r = summarize("x", &restart).unwrap();
        assert_eq!(r.cpu_cores, [0.2; 4]);
        assert_eq!(r.cpu_series, [(20.0, 0.2)]);
        assert_eq!(r.memory_series.len(), 3);
        let scrape =
            parse("process_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 1e+08\n").unwrap();
        assert_eq!(
            sample_from_metrics(&scrape, 3.0),
            Some(UsageSample {
                at: 3.0,
                cpu_seconds: 12.5,
                rss_bytes: 1e8
            })
        );
        assert_eq!(sample_from_metrics(&parse("x 1\n").unwrap(), 3.0), None);
    }
}
