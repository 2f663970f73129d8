//! Artifacts of a run: one perfdash `PerfData` JSON file per measurement
//! (named `<Summary>_<test>_<RFC3339 time>.json` as ClusterLoader2 names
//! them), `junit.xml` with one testcase per SLO check, and `run.json`.
//!
//! SchedulingThroughput and ResourceUsageSummary files also carry their
//! samples over time under `timeSeries` (a kubemark extension: perfdash and
//! other PerfData readers ignore unknown keys), for the dashboard's charts.

use crate::measure::api_responsiveness::ApiCall;
use crate::measure::pod_startup::TransitionLatency;
use crate::measure::request_counts::RequestCount;
use crate::measure::resource_usage::UsageSummary;
use crate::measure::scheduling::{self, ScheduledCount, SchedulerLatency};
use crate::slo::SloCheck;
use crate::stats::{self, Percentiles};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct ArtifactError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// perfdash's format (`measurementutil.PerfData` in ClusterLoader2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfData {
    pub version: String,
    #[serde(rename = "dataItems")]
    pub data_items: Vec<DataItem>,
    /// The measurement's samples over time (absent when it has none).
    #[serde(rename = "timeSeries", default, skip_serializing_if = "Vec::is_empty")]
    pub time_series: Vec<TimeSeries>,
}

/// One quantity over time: labelled like the data item it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    pub labels: BTreeMap<String, String>,
    /// The values' unit (`pods/s`, `cores`, `MiB`).
    pub unit: String,
    /// In time order.
    pub points: Vec<TimePoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Milliseconds since the Unix epoch (UTC).
    #[serde(rename = "unixMs")]
    pub unix_ms: i64,
    pub value: f64,
}

impl TimeSeries {
    /// From `(unix seconds, value)` pairs; `scale` converts the values
    /// (e.g. bytes to MiB). Non-finite values are dropped (JSON has no NaN).
    pub fn new(labels: &[(&str, String)], unit: &str, points: &[(f64, f64)], scale: f64) -> Self {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            unit: unit.to_string(),
            points: points
                .iter()
                .map(|(at, v)| (at, v * scale))
                .filter(|(at, v)| at.is_finite() && v.is_finite())
                .map(|(at, value)| TimePoint {
                    unix_ms: (at * 1000.0).round() as i64,
                    value,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataItem {
    pub data: BTreeMap<String, f64>,
    pub unit: String,
    pub labels: BTreeMap<String, String>,
}

impl PerfData {
    pub fn new(items: Vec<DataItem>) -> PerfData {
        PerfData {
            version: "v1".to_string(),
            data_items: items,
            time_series: Vec::new(),
        }
    }

    /// The same data with these time series (empty ones are left out).
    pub fn with_time_series(mut self, series: Vec<TimeSeries>) -> PerfData {
        self.time_series
            .extend(series.into_iter().filter(|s| !s.points.is_empty()));
        self
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn item(data: &[(&str, f64)], unit: &str, labels: &[(&str, String)]) -> DataItem {
    DataItem {
        // JSON has no NaN/Inf; a missing estimate is reported as 0.
        data: data
            .iter()
            .map(|(k, v)| (k.to_string(), if v.is_finite() { *v } else { 0.0 }))
            .collect(),
        unit: unit.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// PodStartupLatency: one item per transition, labelled `Metric`.
pub fn pod_startup_perfdata(latencies: &[TransitionLatency]) -> PerfData {
    PerfData::new(
        latencies
            .iter()
            .map(|l| {
                item(
                    &[
                        ("Perc50", l.p50_ms),
                        ("Perc90", l.p90_ms),
                        ("Perc99", l.p99_ms),
                    ],
                    "ms",
                    &[("Metric", l.metric.clone())],
                )
            })
            .collect(),
    )
}

/// APIResponsivenessPrometheus: one item per call kind, labelled as
/// ClusterLoader2 does (Verb, Resource, Subresource, Scope, Count, SlowCount).
pub fn api_responsiveness_perfdata(calls: &[ApiCall]) -> PerfData {
    PerfData::new(
        calls
            .iter()
            .map(|c| {
                item(
                    &[
                        ("Perc50", c.p50_ms),
                        ("Perc90", c.p90_ms),
                        ("Perc99", c.p99_ms),
                    ],
                    "ms",
                    &[
                        ("Verb", c.key.verb.clone()),
                        ("Resource", c.key.resource.clone()),
                        ("Subresource", c.key.subresource.clone()),
                        ("Scope", c.key.scope.clone()),
                        ("Count", c.count.to_string()),
                        ("SlowCount", c.slow_count.to_string()),
                    ],
                )
            })
            .collect(),
    )
}

/// SchedulingThroughput: pods/s percentiles and max.
pub fn scheduling_throughput_perfdata(p: &Percentiles) -> PerfData {
    PerfData::new(vec![item(
        &[
            ("Perc50", p.p50),
            ("Perc90", p.p90),
            ("Perc99", p.p99),
            ("Max", p.max),
        ],
        "pods/s",
        &[("Metric", "SchedulingThroughput".to_string())],
    )])
}

/// SchedulingThroughput's readings as a pods/s time series, labelled as its
/// data item.
pub fn scheduling_throughput_series(readings: &[ScheduledCount]) -> TimeSeries {
    TimeSeries::new(
        &[("Metric", "SchedulingThroughput".to_string())],
        "pods/s",
        &scheduling::throughput_series(readings),
        1.0,
    )
}

/// SchedulingMetrics: one item per scheduler histogram.
pub fn scheduler_latency_perfdata(l: &[SchedulerLatency]) -> PerfData {
    PerfData::new(
        l.iter()
            .map(|s| {
                item(
                    &[
                        ("Perc50", s.p50_ms),
                        ("Perc90", s.p90_ms),
                        ("Perc99", s.p99_ms),
                    ],
                    "ms",
                    &[("Metric", s.metric.clone())],
                )
            })
            .collect(),
    )
}

/// ResourceUsageSummary: a CPU item (cores) and a memory item (MiB) per
/// component, and the same two as time series.
pub fn resource_usage_perfdata(u: &[UsageSummary]) -> PerfData {
    let mut items = Vec::new();
    let mut series = Vec::new();
    for s in u {
        let labels =
            |resource: &str| [("Name", s.component.clone()), ("Resource", resource.into())];
        series.push(TimeSeries::new(&labels("cpu"), "cores", &s.cpu_series, 1.0));
        series.push(TimeSeries::new(
            &labels("memory"),
            "MiB",
            &s.memory_series,
            1.0 / MIB,
        ));
        let c = s.cpu_cores;
        items.push(item(
            &[
                ("Perc50", c[0]),
                ("Perc90", c[1]),
                ("Perc99", c[2]),
                ("Perc100", c[3]),
            ],
            "cores",
            &[
                ("Name", s.component.clone()),
                ("Resource", "cpu".to_string()),
            ],
        ));
        let m = s.memory_bytes.map(|b| b / MIB);
        items.push(item(
            &[
                ("Perc50", m[0]),
                ("Perc90", m[1]),
                ("Perc99", m[2]),
                ("Perc100", m[3]),
            ],
            "MiB",
            &[
                ("Name", s.component.clone()),
                ("Resource", "memory".to_string()),
            ],
        ));
    }
    PerfData::new(items).with_time_series(series)
}

/// RequestCounts: requests per verb and resource during the test.
pub fn request_counts_perfdata(c: &[RequestCount]) -> PerfData {
    PerfData::new(
        c.iter()
            .map(|r| {
                item(
                    &[("Count", r.count as f64)],
                    "requests",
                    &[
                        ("Verb", r.verb.clone()),
                        ("Resource", r.resource.clone()),
                        ("Subresource", r.subresource.clone()),
                    ],
                )
            })
            .collect(),
    )
}

/// `<summary>_<test>_<RFC3339>.json`, ClusterLoader2's report file name.
pub fn summary_file_name(summary: &str, test: &str, at_unix: f64) -> String {
    format!("{summary}_{test}_{}.json", stats::format_rfc3339(at_unix))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A junit report: one testcase per check, a `<failure>` for each failed one.
pub fn junit_xml(suite: &str, checks: &[SloCheck], duration_seconds: f64) -> String {
    let failures = checks.iter().filter(|c| !c.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3}\">\n",
        xml_escape(suite),
        checks.len(),
        failures,
        duration_seconds.max(0.0)
    ));
    for c in checks {
        let head = format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml_escape(&c.measurement),
            xml_escape(&c.name)
        );
        if c.passed {
            out.push_str(&head);
            out.push_str("/>\n");
        } else {
            let message = format!("{} (threshold {})", c.value_text(), c.threshold_text());
            out.push_str(&head);
            out.push_str(">\n");
            out.push_str(&format!(
                "    <failure message=\"{}\" type=\"SLOViolation\">{}</failure>\n",
                xml_escape(&message),
                xml_escape(&c.detail)
            ));
            out.push_str("  </testcase>\n");
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// Writes `contents` to `dir/name`.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, ArtifactError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| ArtifactError {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Pretty JSON (as ClusterLoader2's `PrettyPrintJSON`) of any value.
pub fn to_json<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::api_responsiveness::CallKey;

    #[test]
    fn perfdata_shape() {
        let l = vec![TransitionLatency {
            metric: "pod_startup".into(),
            count: 3,
            p50_ms: 1.5,
            p90_ms: 2.0,
            p99_ms: f64::NAN,
            max_ms: 2.0,
        }];
        let v: serde_json::Value =
            serde_json::from_str(&to_json(&pod_startup_perfdata(&l))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version": "v1", "dataItems": [
                {"data": {"Perc50": 1.5, "Perc90": 2.0, "Perc99": 0.0}, "unit": "ms", "labels": {"Metric": "pod_startup"}}
            ]})
        );
        let calls = vec![ApiCall {
            key: CallKey {
                verb: "LIST".into(),
                resource: "pods".into(),
                subresource: String::new(),
                scope: "cluster".into(),
            },
            count: 7,
            slow_count: 1,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
        }];
        let v = serde_json::to_value(api_responsiveness_perfdata(&calls)).unwrap();
        assert_eq!(
            v["dataItems"][0]["labels"],
            serde_json::json!({"Count": "7", "Resource": "pods", "Scope": "cluster", "SlowCount": "1", "Subresource": "", "Verb": "LIST"})
        );
        let p = Percentiles {
            count: 3,
            p50: 1.0,
            p90: 2.0,
            p99: 3.0,
            max: 4.0,
        };
        let v = serde_json::to_value(scheduling_throughput_perfdata(&p)).unwrap();
        assert_eq!(
            v["dataItems"][0]["data"],
            serde_json::json!({"Max": 4.0, "Perc50": 1.0, "Perc90": 2.0, "Perc99": 3.0})
        );
        assert_eq!(v["dataItems"][0]["unit"], "pods/s");
        let u = vec![UsageSummary {
            component: "kube-apiserver".into(),
            cpu_cores: [0.1, 0.2, 0.3, 0.4],
            memory_bytes: [1048576.0, 2097152.0, 3145728.0, 4194304.0],
            samples: 4,
            cpu_series: vec![],
            memory_series: vec![],
        }];
        let v = serde_json::to_value(resource_usage_perfdata(&u)).unwrap();
        assert_eq!(v["dataItems"].as_array().unwrap().len(), 2);
        assert_eq!(v["dataItems"][1]["data"]["Perc100"], 4.0);
        assert_eq!(v["dataItems"][1]["unit"], "MiB");
        assert_eq!(v["dataItems"][0]["labels"]["Resource"], "cpu");
        assert!(v.get("timeSeries").is_none(), "no samples, no series");
        // Round trip.
        let back: PerfData = serde_json::from_value(v).unwrap();
        assert_eq!(back.version, "v1");
        // A ClusterLoader2 file (no timeSeries) reads too.
        let cl2: PerfData = serde_json::from_str(r#"{"version":"v1","dataItems":[]}"#).unwrap();
        assert!(cl2.time_series.is_empty());
    }

    #[test]
    fn time_series_in_perfdata() {
        let u = vec![UsageSummary {
            component: "kube-apiserver".into(),
            cpu_cores: [0.5; 4],
            memory_bytes: [MIB; 4],
            samples: 3,
            cpu_series: vec![(1_795_582_810.0, 0.5), (1_795_582_820.0, f64::NAN)],
            memory_series: vec![
                (1_795_582_800.0, 2.0 * MIB),
                (1_795_582_810.0, 3.0 * MIB),
                (1_795_582_820.5, 4.0 * MIB),
            ],
        }];
        let v = serde_json::to_value(resource_usage_perfdata(&u)).unwrap();
        assert_eq!(
            v["timeSeries"],
            serde_json::json!([
                {"labels": {"Name": "kube-apiserver", "Resource": "cpu"}, "unit": "cores",
                 "points": [{"unixMs": 1_795_582_810_000_i64, "value": 0.5}]},
                {"labels": {"Name": "kube-apiserver", "Resource": "memory"}, "unit": "MiB",
                 "points": [{"unixMs": 1_795_582_800_000_i64, "value": 2.0},
                            {"unixMs": 1_795_582_810_000_i64, "value": 3.0},
                            {"unixMs": 1_795_582_820_500_i64, "value": 4.0}]}
            ])
        );
        let back: PerfData = serde_json::from_value(v).unwrap();
        assert_eq!(back.time_series.len(), 2);

        let r = |at: f64, scheduled: u64| ScheduledCount { at, scheduled };
        let p = Percentiles {
            count: 2,
            p50: 10.0,
            p90: 20.0,
            p99: 20.0,
            max: 20.0,
        };
        let data = scheduling_throughput_perfdata(&p).with_time_series(vec![
            scheduling_throughput_series(&[r(100.0, 0), r(101.0, 10), r(102.0, 30)]),
            scheduling_throughput_series(&[r(100.0, 0)]),
        ]);
        let v = serde_json::to_value(&data).unwrap();
        assert_eq!(
            v["timeSeries"].as_array().unwrap().len(),
            1,
            "empty left out"
        );
        assert_eq!(v["timeSeries"][0]["unit"], "pods/s");
        assert_eq!(
            v["timeSeries"][0]["labels"],
            serde_json::json!({"Metric": "SchedulingThroughput"})
        );
        assert_eq!(
            v["timeSeries"][0]["points"],
            serde_json::json!([{"unixMs": 101000, "value": 10.0}, {"unixMs": 102000, "value": 20.0}])
        );
    }

    #[test]
    fn file_names_follow_clusterloader2() {
        assert_eq!(
            summary_file_name(
                "PodStartupLatency_PodStartupLatency",
                "density",
                1_795_582_800.0
            ),
            "PodStartupLatency_PodStartupLatency_density_2026-11-25T05:00:00Z.json"
        );
    }

    #[test]
    fn junit_has_one_case_per_check_and_failures() {
        let checks = vec![
            SloCheck::at_most(
                "PodStartupLatency",
                "pod_startup p99 <= 5s",
                Some(812.0),
                5000.0,
                "ms",
                true,
                String::new(),
            ),
            SloCheck::at_most(
                "APIResponsiveness",
                "calls <& 1s",
                Some(1500.0),
                1000.0,
                "ms",
                false,
                "POST \"pods\"".into(),
            ),
        ];
        let x = junit_xml("kubemark-density", &checks, 12.3456);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        assert!(x.contains("<testsuite name=\"kubemark-density\" tests=\"2\" failures=\"1\" errors=\"0\" time=\"12.346\">"));
        assert!(x.contains("<testcase classname=\"PodStartupLatency\" name=\"pod_startup p99 &lt;= 5s\" time=\"0\"/>"));
        assert!(x.contains("name=\"calls &lt;&amp; 1s\""));
        assert!(x.contains(
            "<failure message=\"1500 ms (threshold 1000 ms)\" type=\"SLOViolation\">POST &quot;pods&quot;</failure>"
        ));
        assert_eq!(x.matches("<testcase").count(), 2);
        assert_eq!(x.matches("<failure").count(), 1);
        assert!(x.trim_end().ends_with("</testsuite>"));
        assert_eq!(xml_escape("a\u{1}b"), "a?b");
    }
}
