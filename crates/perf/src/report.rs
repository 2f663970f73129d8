//! Turning what a run recorded into measurement summaries and SLO checks
//! (pure): the inputs are pod times, metric scrapes, usage samples and
//! phase records; the output is the PerfData files and the verdicts.

use crate::args::TestKind;
use crate::artifacts::{self, PerfData};
use crate::measure::api_responsiveness::{self, ApiCall};
use crate::measure::pod_startup::{self, PodTimes, TransitionLatency};
use crate::measure::request_counts::{self, RequestCount};
use crate::measure::resource_usage::{self, UsageSample, UsageSummary};
use crate::measure::scheduling::{self, SchedulerLatency};
use crate::prom::Scrape;
use crate::slo::SloCheck;
use crate::stats::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;

/// One phase as it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    pub name: String,
    pub start: String,
    pub end: String,
    pub seconds: f64,
    /// ok, timeout, interrupted or error.
    pub status: String,
    pub detail: String,
}

impl PhaseRecord {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

pub struct ReportInputs<'a> {
    pub test: TestKind,
    /// Latency pods' times (the PodStartupLatency SLO).
    pub latency: &'a [PodTimes],
    /// Whether the latency phase ran to the end (an empty result is then a
    /// failure, not just an early stop).
    pub latency_expected: bool,
    /// Other pods' startup, reported without an SLO: (identifier, times).
    pub other_startup: Vec<(&'a str, Vec<PodTimes>)>,
    /// Cumulative scheduled-pod counts, one per second.
    pub throughput: Option<&'a [u64]>,
    pub scrape_start: &'a Result<Scrape, String>,
    pub scrape_end: &'a Result<Scrape, String>,
    pub usage: &'a BTreeMap<String, Vec<UsageSample>>,
    pub pod_startup_threshold_ms: f64,
    pub phases: &'a [PhaseRecord],
    pub timeout_seconds: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<SloCheck>,
    /// Summary name (e.g. `PodStartupLatency_PodStartupLatency`) → content.
    pub summaries: Vec<(String, PerfData)>,
    /// Measurements that could not be taken, and why.
    pub notes: Vec<String>,
    pub latency: Vec<TransitionLatency>,
    pub watch_startup: Option<TransitionLatency>,
    pub api_calls: Vec<ApiCall>,
    pub request_counts: Vec<RequestCount>,
    pub throughput: Option<Percentiles>,
    pub scheduler: Option<Vec<SchedulerLatency>>,
    pub usage: Vec<UsageSummary>,
}

impl Report {
    /// p99 of the latency pods' pod_startup, in ms.
    pub fn pod_startup_p99_ms(&self) -> Option<f64> {
        self.latency
            .iter()
            .find(|l| l.metric == "pod_startup")
            .map(|l| l.p99_ms)
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

const PHASES: &str = "Phases";

pub fn build(i: &ReportInputs) -> Report {
    // PodStartupLatency (latency pods) and its SLO.
    let mut r = Report {
        latency: pod_startup::transition_latencies(i.latency),
        watch_startup: pod_startup::watch_only_startup(i.latency),
        ..Report::default()
    };
    r.summaries.push((
        "PodStartupLatency_PodStartupLatency".into(),
        artifacts::pod_startup_perfdata(&r.latency),
    ));
    let secs = i.pod_startup_threshold_ms / 1000.0;
    let measured = r
        .latency
        .iter()
        .find(|l| l.metric == "pod_startup")
        .map(|l| l.count)
        .unwrap_or(0);
    r.checks.push(SloCheck::at_most(
        "PodStartupLatency",
        &format!(
            "latency pods: pod_startup p99 <= {}s",
            crate::slo::fmt_num(secs)
        ),
        r.pod_startup_p99_ms(),
        i.pod_startup_threshold_ms,
        "ms",
        i.latency_expected,
        if measured > 0 {
            format!("{measured} latency pods measured")
        } else {
            "no latency pod was seen Running".to_string()
        },
    ));
    for (id, times) in &i.other_startup {
        let l = pod_startup::transition_latencies(times);
        r.summaries.push((
            format!("PodStartupLatency_{id}"),
            artifacts::pod_startup_perfdata(&l),
        ));
    }

    // API responsiveness and request counts from the two scrapes.
    match (i.scrape_start, i.scrape_end) {
        (Ok(a), Ok(b)) => {
            r.api_calls = api_responsiveness::api_calls(a, b);
            r.checks.extend(api_responsiveness::checks(&r.api_calls));
            r.summaries.push((
                "APIResponsivenessPrometheus_simple".into(),
                artifacts::api_responsiveness_perfdata(&r.api_calls),
            ));
            r.request_counts = request_counts::request_counts(a, b);
            r.summaries.push((
                "RequestCounts".into(),
                artifacts::request_counts_perfdata(&r.request_counts),
            ));
            r.scheduler = scheduling::scheduler_latencies(a, b);
            match &r.scheduler {
                Some(s) => r.summaries.push((
                    "SchedulingMetrics".into(),
                    artifacts::scheduler_latency_perfdata(s),
                )),
                None => r.notes.push(
                    "SchedulingMetrics: the master's /metrics has no scheduler histograms".into(),
                ),
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            let why = format!("could not be measured: {e}");
            r.checks.push(SloCheck::failed(
                api_responsiveness::MEASUREMENT,
                "API call latency SLOs",
                why.clone(),
            ));
            r.notes.push(format!(
                "APIResponsiveness, RequestCounts, SchedulingMetrics {why}"
            ));
        }
    }

    // Scheduling throughput.
    match i.throughput {
        Some(samples) => {
            r.throughput = scheduling::throughput(samples);
            match &r.throughput {
                Some(p) => r.summaries.push((
                    "SchedulingThroughput".into(),
                    artifacts::scheduling_throughput_perfdata(p),
                )),
                None => r
                    .notes
                    .push("SchedulingThroughput: no pod was scheduled while sampling".into()),
            }
        }
        None => r
            .notes
            .push("SchedulingThroughput: the scheduling phase did not run".into()),
    }

    // Resource usage.
    for (component, samples) in i.usage {
        match resource_usage::summarize(component, samples) {
            Some(u) => r.usage.push(u),
            None => r.notes.push(format!(
                "ResourceUsageSummary: fewer than two samples of {component}"
            )),
        }
    }
    r.summaries.push((
        "ResourceUsageSummary".into(),
        artifacts::resource_usage_perfdata(&r.usage),
    ));

    // Phase deadlines: one check for all phases.
    let failed: Vec<&PhaseRecord> = i.phases.iter().filter(|p| !p.ok()).collect();
    let longest = i
        .phases
        .iter()
        .map(|p| p.seconds)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let detail = if failed.is_empty() {
        format!("{} phases", i.phases.len())
    } else {
        failed
            .iter()
            .map(|p| {
                format!("{}: {} {}", p.name, p.status, p.detail)
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut phase_check = SloCheck::at_most(
        PHASES,
        &format!("all {} phases completed within the timeout", i.test),
        longest,
        i.timeout_seconds,
        "s",
        true,
        detail,
    );
    phase_check.passed = failed.is_empty() && !i.phases.is_empty();
    r.checks.push(phase_check);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    fn times(n: usize, startup: f64) -> Vec<PodTimes> {
        (0..n)
            .map(|i| PodTimes {
                key: format!("p{i}"),
                created: Some(100.0),
                scheduled: Some(100.0),
                run: Some(100.0),
                watch: Some(100.0 + startup * (i + 1) as f64 / n as f64),
                first_seen: Some(100.0),
            })
            .collect()
    }

    fn phase(name: &str, status: &str, seconds: f64) -> PhaseRecord {
        PhaseRecord {
            name: name.into(),
            start: String::new(),
            end: String::new(),
            seconds,
            status: status.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn report_verdicts() {
        let lat = times(100, 2.0);
        let start = Ok(parse(
            "apiserver_request_total{verb=\"POST\",resource=\"pods\",code=\"201\"} 1\n",
        )
        .unwrap());
        let end = Ok(parse(concat!(
            "apiserver_request_total{verb=\"POST\",resource=\"pods\",code=\"201\"} 11\n",
            "apiserver_request_duration_seconds_bucket{verb=\"POST\",resource=\"pods\",scope=\"resource\",le=\"0.1\"} 10\n",
            "apiserver_request_duration_seconds_bucket{verb=\"POST\",resource=\"pods\",scope=\"resource\",le=\"+Inf\"} 10\n",
        ))
        .unwrap());
        let mut usage = BTreeMap::new();
        usage.insert(
            "master".to_string(),
            vec![
                UsageSample {
                    at: 0.0,
                    cpu_seconds: 0.0,
                    rss_bytes: 1.0,
                },
                UsageSample {
                    at: 10.0,
                    cpu_seconds: 5.0,
                    rss_bytes: 2.0,
                },
            ],
        );
        let phases = vec![phase("a", "ok", 3.0), phase("b", "ok", 7.0)];
        let inputs = ReportInputs {
            test: TestKind::Density,
            latency: &lat,
            latency_expected: true,
            other_startup: vec![("SaturationPodStartupLatency", times(10, 30.0))],
            throughput: Some(&[0, 5, 10]),
            scrape_start: &start,
            scrape_end: &end,
            usage: &usage,
            pod_startup_threshold_ms: 5000.0,
            phases: &phases,
            timeout_seconds: 60.0,
        };
        let r = build(&inputs);
        assert!(r.passed(), "{:?}", r.checks);
        assert_eq!(r.pod_startup_p99_ms().map(f64::round), Some(1980.0));
        let names: Vec<&str> = r.summaries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "PodStartupLatency_PodStartupLatency",
                "PodStartupLatency_SaturationPodStartupLatency",
                "APIResponsivenessPrometheus_simple",
                "RequestCounts",
                "SchedulingThroughput",
                "ResourceUsageSummary"
            ]
        );
        assert_eq!(r.request_counts[0].count, 10);
        assert_eq!(r.api_calls[0].count, 10);
        assert_eq!(r.throughput.unwrap().max, 5.0);
        assert_eq!(r.usage[0].cpu_cores, [0.5; 4]);
        // Checks: pod startup, 3 API classes, phases.
        assert_eq!(r.checks.len(), 5);
        assert!(r
            .notes
            .iter()
            .any(|n| n.contains("no scheduler histograms")));

        // Slow latency pods, a timed-out phase, a failed scrape.
        let slow = times(100, 8.0);
        let bad: Result<Scrape, String> = Err("connection refused".into());
        let phases = vec![phase("a", "ok", 3.0), phase("b", "timeout", 60.0)];
        let r = build(&ReportInputs {
            latency: &slow,
            scrape_end: &bad,
            phases: &phases,
            ..inputs
        });
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.measurement.as_str())
            .collect();
        assert_eq!(failed, ["PodStartupLatency", "APIResponsiveness", "Phases"]);
        assert!(r
            .checks
            .iter()
            .any(|c| c.detail.contains("connection refused")));
        assert!(r.checks.iter().any(|c| c.detail.contains("b: timeout")));
    }

    #[test]
    fn missing_latency_pods_fail_only_when_expected() {
        let none: Vec<PodTimes> = Vec::new();
        let ok: Result<Scrape, String> = Ok(Scrape::default());
        let usage = BTreeMap::new();
        let phases = vec![phase("a", "ok", 1.0)];
        let mk = |expected| ReportInputs {
            test: TestKind::Load,
            latency: &none,
            latency_expected: expected,
            other_startup: vec![],
            throughput: None,
            scrape_start: &ok,
            scrape_end: &ok,
            usage: &usage,
            pod_startup_threshold_ms: 5000.0,
            phases: &phases,
            timeout_seconds: 10.0,
        };
        assert!(!build(&mk(true)).checks[0].passed);
        assert!(build(&mk(false)).checks[0].passed);
    }
}
