//! SchedulingThroughput (pods newly bound per second, sampled every second)
//! and SchedulingMetrics (the scheduler's own latency histograms over the
//! test window, when the scheduler's metrics are served).
//!
//! Besides the percentiles, the samples themselves (with the time each was
//! taken) become a time series of the rate, for the dashboard's charts.

use crate::histogram;
use crate::prom::Scrape;
use crate::stats::{self, Percentiles};
use serde::Serialize;

/// Per-second scheduling rates from cumulative "pods scheduled" counts
/// taken once a second. Seconds before the first binding and after the
/// last one are dropped (the test was creating objects or waiting for
/// them to run, not scheduling); idle seconds in between are kept.
pub fn throughput_rates(cumulative: &[u64]) -> Vec<f64> {
    let rates: Vec<f64> = cumulative
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as f64)
        .collect();
    let Some(first) = rates.iter().position(|r| *r > 0.0) else {
        return Vec::new();
    };
    let last = rates.iter().rposition(|r| *r > 0.0).unwrap_or(first);
    rates[first..=last].to_vec()
}

/// p50/p90/p99/max of the rates (pods/s).
pub fn throughput(cumulative: &[u64]) -> Option<Percentiles> {
    stats::percentiles(&throughput_rates(cumulative))
}

/// One reading of the cumulative "pods scheduled" count, at `at` (unix
/// seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScheduledCount {
    pub at: f64,
    pub scheduled: u64,
}

impl ScheduledCount {
    /// A reading taken now.
    pub fn now(scheduled: u64) -> ScheduledCount {
        ScheduledCount {
            at: stats::now_unix(),
            scheduled,
        }
    }
}

/// [`throughput`] of timed readings (the percentiles keep their
/// one-reading-per-second definition).
pub fn throughput_of(readings: &[ScheduledCount]) -> Option<Percentiles> {
    let counts: Vec<u64> = readings.iter().map(|r| r.scheduled).collect();
    throughput(&counts)
}

/// The rate between consecutive readings, placed at the later one:
/// `(unix seconds, pods/s)`, idle intervals included (the chart shows the
/// whole measurement window). Intervals without elapsed time are dropped;
/// a count that goes down (relist) is a rate of 0, as in
/// [`throughput_rates`].
pub fn throughput_series(readings: &[ScheduledCount]) -> Vec<(f64, f64)> {
    readings
        .windows(2)
        .filter(|w| w[1].at > w[0].at)
        .map(|w| {
            let pods = w[1].scheduled.saturating_sub(w[0].scheduled) as f64;
            (w[1].at, pods / (w[1].at - w[0].at))
        })
        .collect()
}

/// One scheduler latency histogram over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerLatency {
    pub metric: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

/// The histograms SchedulingMetrics reports: (family, label in the output).
pub const SCHEDULER_HISTOGRAMS: [(&str, &str); 3] = [
    (
        "scheduler_e2e_scheduling_duration_seconds",
        "e2e_scheduling",
    ),
    (
        "scheduler_scheduling_attempt_duration_seconds",
        "scheduling_attempt",
    ),
    (
        "scheduler_pod_scheduling_duration_seconds",
        "pod_scheduling",
    ),
];

/// Scheduler latencies between two scrapes, summed over all label sets of
/// each family; `None` when the end scrape has none of the families (no
/// scheduler metrics served there).
pub fn scheduler_latencies(start: &Scrape, end: &Scrape) -> Option<Vec<SchedulerLatency>> {
    if !SCHEDULER_HISTOGRAMS.iter().any(|(f, _)| end.has_family(f)) {
        return None;
    }
    let mut out = Vec::new();
    for (family, label) in SCHEDULER_HISTOGRAMS {
        let all = |_: &crate::prom::Sample| Some(());
        let a = histogram::collect(start, family, all);
        let b = histogram::collect(end, family, all);
        let Some(h_end) = b.get(&()) else { continue };
        let h = histogram::diff(h_end, a.get(&()));
        let total = h.total();
        if total < 0.5 {
            continue;
        }
        let q = |p: f64| {
            histogram::quantile(p, &h)
                .map(|s| s * 1000.0)
                .unwrap_or(0.0)
        };
        out.push(SchedulerLatency {
            metric: label.to_string(),
            count: total.round() as u64,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    #[test]
    fn rates_trim_idle_edges() {
        let cases: &[(&[u64], &[f64])] = &[
            (&[], &[]),
            (&[5], &[]),
            (&[0, 0, 0], &[]),
            (&[0, 0, 10, 30, 30, 35, 35, 35], &[10.0, 20.0, 0.0, 5.0]),
            (&[0, 100], &[100.0]),
            // A count that goes down (relist) is not negative throughput.
            (&[0, 10, 8, 20], &[10.0, 0.0, 12.0]),
        ];
        for (cum, want) in cases {
            assert_eq!(throughput_rates(cum), want.to_vec(), "{cum:?}");
        }
        let p = throughput(&[0, 0, 10, 30, 30, 35, 35]).unwrap();
        assert_eq!(
            (p.p50, p.p90, p.p99, p.max, p.count),
            (5.0, 20.0, 20.0, 20.0, 4)
        );
        assert!(throughput(&[0, 0]).is_none());
    }

    #[test]
    fn series_of_timed_readings() {
        let r = |at: f64, scheduled: u64| ScheduledCount { at, scheduled };
        type Case = (&'static str, Vec<ScheduledCount>, Vec<(f64, f64)>);
        let cases: Vec<Case> = vec![
            ("none", vec![], vec![]),
            ("one reading has no interval", vec![r(10.0, 5)], vec![]),
            (
                "idle edges kept, last interval partial",
                vec![
                    r(10.0, 0),
                    r(11.0, 0),
                    r(12.0, 10),
                    r(13.0, 30),
                    r(13.5, 35),
                ],
                vec![(11.0, 0.0), (12.0, 10.0), (13.0, 20.0), (13.5, 10.0)],
            ),
            (
                "relist and a repeated time",
                vec![r(1.0, 10), r(2.0, 8), r(2.0, 9), r(4.0, 20)],
                vec![(2.0, 0.0), (4.0, 5.5)],
            ),
        ];
        for (name, readings, want) in cases {
            assert_eq!(throughput_series(&readings), want, "{name}");
        }
        let readings = [r(0.0, 0), r(1.0, 0), r(2.0, 10), r(3.0, 30), r(4.0, 30)];
        assert_eq!(throughput_of(&readings), throughput(&[0, 0, 10, 30, 30]));
        assert!(throughput_of(&readings[..1]).is_none());
        let now = ScheduledCount::now(7);
        assert_eq!(now.scheduled, 7);
        assert!(now.at > 1.7e9);
    }

    #[test]
    fn scheduler_histograms() {
        let start = parse(concat!(
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.001\"} 0\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.002\"} 0\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"+Inf\"} 0\n",
        ))
        .unwrap();
        let end = parse(concat!(
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.001\"} 50\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.002\"} 100\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"+Inf\"} 100\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"unschedulable\",le=\"0.001\"} 0\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"unschedulable\",le=\"0.002\"} 0\n",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"unschedulable\",le=\"+Inf\"} 0\n",
        ))
        .unwrap();
        let l = scheduler_latencies(&start, &end).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].metric, "e2e_scheduling");
        assert_eq!(l[0].count, 100);
        assert!((l[0].p50_ms - 1.0).abs() < 1e-9);
        assert!((l[0].p99_ms - 1.98).abs() < 1e-9);
        assert!(
            scheduler_latencies(&start, &parse("apiserver_request_total 1\n").unwrap()).is_none()
        );
    }
}
