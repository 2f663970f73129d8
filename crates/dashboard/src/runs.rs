//! Finding and reading runs: kubemark run directories (`run.json`,
//! `junit.xml`, perfdash `PerfData` files) and ClusterLoader2 artifact
//! directories (the same `PerfData` files, named
//! `<Summary>_<test>_<RFC3339>.json`).
//!
//! kubemark's SchedulingThroughput and ResourceUsageSummary files also
//! carry `timeSeries` (samples over time, for the one-run charts); other
//! files and older runs have none, which is not a problem.
//!
//! Parsing is pure ([`parse_run_json`], [`parse_perfdata`],
//! [`parse_time_series`], [`parse_summary_file_name`], [`build_run`]);
//! [`scan`] walks the
//! directories. Bad input never aborts a scan: each problem is recorded
//! with the file it concerns and the rest is read.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Labels that carry values (ClusterLoader2's APIResponsiveness counts),
/// not the identity of a measured series.
const VALUE_LABELS: &[&str] = &["Count", "SlowCount"];

/// Directories deeper than this are not searched (guards against huge trees).
const MAX_DEPTH: usize = 12;

/// Points per time series sent to the page: longer series are averaged
/// into this many buckets (the page gets every run's series on every
/// navigation, and a chart is 600 pixels wide).
pub const MAX_SERIES_POINTS: usize = 1000;

/// Something in the input that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why one file could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("not valid JSON ({0}); the file is corrupt or truncated")]
    Json(String),
    #[error("not a perfdash PerfData file (no \"dataItems\" list): {0}")]
    NotPerfData(String),
    #[error("not a kubemark run.json (expected an object with \"test\"): {0}")]
    NotRunJson(String),
    #[error("\"timeSeries\" is not a list but {0}; its charts are not shown")]
    BadTimeSeries(String),
}

/// One series of a `PerfData` file: its identity labels, unit and values
/// (`Perc50`, `Perc90`, `Perc99`, `Max`, `Count`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// e.g. `PodStartupLatency_PodStartupLatency`, `ResourceUsageSummary`.
    pub summary: String,
    pub unit: String,
    /// Labels naming the series (empty values dropped).
    pub labels: BTreeMap<String, String>,
    /// Labels carrying values (`Count`, `SlowCount`).
    pub info: BTreeMap<String, String>,
    pub data: BTreeMap<String, f64>,
    /// The file it came from (name only).
    pub file: String,
}

impl Measurement {
    /// `Summary{k=v,...}`: the series' stable name (used by compare rules
    /// and the UI).
    pub fn series(&self) -> String {
        series_name(&self.summary, &self.labels)
    }
}

pub fn series_name(summary: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return summary.to_string();
    }
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{summary}{{{}}}", l.join(","))
}

/// One quantity over time from a PerfData file's `timeSeries`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeSeries {
    /// The file's summary, e.g. `SchedulingThroughput`, `ResourceUsageSummary`.
    pub summary: String,
    /// e.g. `Metric`, or `Name` (component) and `Resource` (cpu, memory).
    pub labels: BTreeMap<String, String>,
    /// The values' unit (`pods/s`, `cores`, `MiB`).
    pub unit: String,
    /// `[unix time in ms, value]`, oldest first (pairs keep the page's
    /// data small); at most [`MAX_SERIES_POINTS`], see [`downsample`].
    pub points: Vec<(i64, f64)>,
    /// Points in the file.
    pub samples: usize,
    /// The file it came from (name only).
    pub file: String,
}

/// At most `max` points: consecutive runs of ⌈n/max⌉ points become their
/// mean value at the run's last time. Shorter series are unchanged.
pub fn downsample(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let k = points.len().div_ceil(max);
    points
        .chunks(k)
        .filter_map(|c| {
            let last = c.last()?;
            let mean = c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64;
            Some((last.0, mean))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slo {
    pub name: String,
    pub measurement: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub unit: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub name: String,
    pub start: String,
    pub end: String,
    pub seconds: f64,
    pub status: String,
    pub detail: String,
}

/// What `run.json` says about a run (all optional: older or partial files).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    pub test: String,
    pub verdict: Option<String>,
    pub start: Option<String>,
    pub master: Option<String>,
    pub master_version: Option<String>,
    pub nodes: Option<u64>,
    pub pods: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub slos: Vec<Slo>,
    pub phases: Vec<Phase>,
    pub notes: Vec<String>,
    /// Files the run says it wrote.
    pub files: Vec<String>,
}

/// One run, ready for comparing and display.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Stable identifier (the directory relative to the scanned directory's
    /// parent, `/`-separated).
    pub id: String,
    pub dir: String,
    pub test: String,
    /// RFC3339 time of the run (run.json's start, else the PerfData time).
    pub when: String,
    /// pass / fail / error / interrupted; None for ClusterLoader2 artifacts.
    pub verdict: Option<String>,
    pub master: Option<String>,
    pub master_version: Option<String>,
    pub nodes: Option<u64>,
    pub pods: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub slos: Vec<Slo>,
    pub phases: Vec<Phase>,
    pub notes: Vec<String>,
    pub measurements: Vec<Measurement>,
    /// Samples over time (empty for older runs and ClusterLoader2
    /// artifacts).
    pub time_series: Vec<TimeSeries>,
    /// Problems found in this run's files (reported, and skipped).
    pub problems: Vec<Problem>,
    /// Whether it has a run.json (a kubemark run) or only PerfData files.
    pub kubemark: bool,
}

/// All runs found under some directories, oldest first, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scan {
    pub runs: Vec<Run>,
    pub problems: Vec<Problem>,
}

impl Scan {
    pub fn run(&self, id: &str) -> Option<&Run> {
        self.runs.iter().find(|r| r.id == id)
    }
}

/// `<Summary>_<test>_<RFC3339>.json` → (summary, test, time).
pub fn parse_summary_file_name(name: &str) -> Option<(String, String, String)> {
    let stem = name.strip_suffix(".json")?;
    let (rest, ts) = stem.rsplit_once('_')?;
    if !looks_like_rfc3339(ts) {
        return None;
    }
    let (summary, test) = rest.rsplit_once('_')?;
    if summary.is_empty() || test.is_empty() {
        return None;
    }
    Some((summary.to_string(), test.to_string(), ts.to_string()))
}

fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
}

#[derive(Deserialize)]
struct RawPerfData {
    #[serde(rename = "dataItems")]
    data_items: Option<Vec<serde_json::Value>>,
}

/// Parses a `PerfData` file's contents. Items that are not
/// `{data: {name: number}, unit, labels}` are skipped (and counted in the
/// second value).
pub fn parse_perfdata(
    summary: &str,
    file: &str,
    text: &str,
) -> Result<(Vec<Measurement>, usize), ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let raw: RawPerfData =
        serde_json::from_value(v.clone()).map_err(|e| ParseError::NotPerfData(e.to_string()))?;
    let items = raw
        .data_items
        .ok_or_else(|| ParseError::NotPerfData(describe_json(&v)))?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for item in items {
        let Some(data) = item.get("data").and_then(|d| d.as_object()) else {
            skipped += 1;
            continue;
        };
        let data: BTreeMap<String, f64> = data
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
            .collect();
        if data.is_empty() {
            skipped += 1;
            continue;
        }
        let mut labels = BTreeMap::new();
        let mut info = BTreeMap::new();
        if let Some(l) = item.get("labels").and_then(|l| l.as_object()) {
            for (k, v) in l {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if VALUE_LABELS.contains(&k.as_str()) {
                    info.insert(k.clone(), v);
                } else if !v.is_empty() {
                    labels.insert(k.clone(), v);
                }
            }
        }
        out.push(Measurement {
            summary: summary.to_string(),
            unit: item
                .get("unit")
                .and_then(|u| u.as_str())
                .unwrap_or("")
                .to_string(),
            labels,
            info,
            data,
            file: file.to_string(),
        });
    }
    Ok((out, skipped))
}

/// The `timeSeries` of a PerfData file's contents: `{labels, unit,
/// points: [{unixMs, value}]}` entries. No `timeSeries` key is no series.
/// Malformed entries and points are skipped and counted (second value);
/// a `timeSeries` that is not a list is an error.
pub fn parse_time_series(
    summary: &str,
    file: &str,
    text: &str,
) -> Result<(Vec<TimeSeries>, usize), ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let Some(raw) = v.get("timeSeries") else {
        return Ok((Vec::new(), 0));
    };
    let list = raw
        .as_array()
        .ok_or_else(|| ParseError::BadTimeSeries(describe_json(raw)))?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for entry in list {
        let Some(points) = entry.get("points").and_then(|p| p.as_array()) else {
            skipped += 1;
            continue;
        };
        let mut pts: Vec<(i64, f64)> = Vec::with_capacity(points.len());
        for p in points {
            match (
                p.get("unixMs").and_then(|t| t.as_i64()),
                p.get("value").and_then(|x| x.as_f64()),
            ) {
                (Some(t), Some(x)) => pts.push((t, x)),
                _ => skipped += 1,
            }
        }
        if pts.is_empty() {
            skipped += 1;
            continue;
        }
        pts.sort_by_key(|p| p.0);
        let samples = pts.len();
        let labels = entry
            .get("labels")
            .and_then(|l| l.as_object())
            .map(|l| {
                l.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        out.push(TimeSeries {
            summary: summary.to_string(),
            labels,
            unit: entry
                .get("unit")
                .and_then(|u| u.as_str())
                .unwrap_or("")
                .to_string(),
            points: downsample(&pts, MAX_SERIES_POINTS),
            samples,
            file: file.to_string(),
        });
    }
    Ok((out, skipped))
}

fn describe_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let keys: Vec<&str> = m.keys().take(5).map(String::as_str).collect();
            format!("an object with keys {}", keys.join(", "))
        }
        serde_json::Value::Array(_) => "a JSON array".into(),
        _ => "a JSON scalar".into(),
    }
}

/// Parses `run.json` as `kubemark run` writes it.
pub fn parse_run_json(text: &str) -> Result<RunInfo, ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let test = v
        .get("test")
        .and_then(|t| t.as_str())
        .ok_or_else(|| ParseError::NotRunJson(describe_json(&v)))?
        .to_string();
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
    let u = |p: &str| v.pointer(p).and_then(|x| x.as_u64());
    let slos = v
        .get("slos")
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .map(|c| Slo {
                    name: str_of(c, "name"),
                    measurement: str_of(c, "measurement"),
                    value: c.get("value").and_then(|x| x.as_f64()),
                    threshold: c.get("threshold").and_then(|x| x.as_f64()),
                    unit: str_of(c, "unit"),
                    passed: c.get("passed").and_then(|x| x.as_bool()).unwrap_or(false),
                    detail: str_of(c, "detail"),
                })
                .collect()
        })
        .unwrap_or_default();
    let phases = v
        .get("phases")
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .map(|p| Phase {
                    name: str_of(p, "name"),
                    start: str_of(p, "start"),
                    end: str_of(p, "end"),
                    seconds: p.get("seconds").and_then(|x| x.as_f64()).unwrap_or(0.0),
                    status: str_of(p, "status"),
                    detail: str_of(p, "detail"),
                })
                .collect()
        })
        .unwrap_or_default();
    // Pods the test created: the plan's creating phases.
    let pods = v.get("plan").and_then(|x| x.as_array()).map(|a| {
        a.iter()
            .filter(|p| {
                p.get("name")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| n.contains("create"))
            })
            .filter_map(|p| p.get("pods").and_then(|n| n.as_u64()))
            .sum()
    });
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(RunInfo {
        test,
        verdict: s("/verdict"),
        start: s("/start"),
        master: s("/cluster/master"),
        master_version: s("/cluster/version/gitVersion"),
        nodes: u("/cluster/nodes").or_else(|| u("/resolved/nodes")),
        pods,
        duration_seconds: v.get("durationSeconds").and_then(|x| x.as_f64()),
        slos,
        phases,
        notes: strings("notes"),
        files: strings("files"),
    })
}

fn str_of(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// A run directory's files as read from disk: name → contents (or the
/// read error).
pub type DirFiles = BTreeMap<String, Result<String, String>>;

/// Builds a run from a directory's files (pure). `None` when the directory
/// holds no run (no run.json and no PerfData file).
pub fn build_run(id: &str, dir: &str, files: &DirFiles) -> Option<Run> {
    let path = |name: &str| format!("{dir}/{name}");
    let mut problems = Vec::new();
    let info = match files.get("run.json") {
        Some(Ok(text)) => match parse_run_json(text) {
            Ok(i) => Some(i),
            Err(e) => {
                problems.push(Problem {
                    path: path("run.json"),
                    message: format!("{e}; skipped"),
                });
                None
            }
        },
        Some(Err(e)) => {
            problems.push(Problem {
                path: path("run.json"),
                message: format!("cannot read: {e}"),
            });
            None
        }
        None => None,
    };
    let summaries: Vec<(&String, (String, String, String))> = files
        .keys()
        .filter_map(|n| parse_summary_file_name(n).map(|p| (n, p)))
        .collect();
    // Nothing of a run here; a broken run.json alone is still a run the
    // user should hear about.
    if info.is_none() && summaries.is_empty() && problems.is_empty() {
        return None;
    }
    let mut measurements = Vec::new();
    let mut time_series: Vec<TimeSeries> = Vec::new();
    let mut tests: BTreeMap<String, usize> = BTreeMap::new();
    let mut latest_time = String::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, (summary, test, ts)) in &summaries {
        let text = match files.get(*name) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                problems.push(Problem {
                    path: path(name),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
            None => continue,
        };
        match parse_perfdata(summary, name, text) {
            Ok((m, skipped)) => {
                if skipped > 0 {
                    problems.push(Problem {
                        path: path(name),
                        message: format!("{skipped} data items without numeric data skipped"),
                    });
                }
                // ClusterLoader2 may leave several files of one summary (a
                // rerun in the same directory): keep the latest.
                let key = format!("{summary}_{test}");
                if let Some(prev) = seen.get(&key) {
                    problems.push(Problem {
                        path: path(name),
                        message: format!(
                            "another {summary} file for {test} ({prev}); the later one is used"
                        ),
                    });
                    if prev.as_str() > name.as_str() {
                        continue;
                    }
                    measurements.retain(|x: &Measurement| &x.file != prev);
                    time_series.retain(|x| &x.file != prev);
                }
                seen.insert(key, (*name).clone());
                measurements.extend(m);
                // The series are extra: a bad `timeSeries` costs only the
                // charts, not the file's measurements.
                match parse_time_series(summary, name, text) {
                    Ok((ts, skipped)) => {
                        if skipped > 0 {
                            problems.push(Problem {
                                path: path(name),
                                message: format!(
                                    "{skipped} malformed time series entries or points skipped"
                                ),
                            });
                        }
                        time_series.extend(ts);
                    }
                    Err(e) => problems.push(Problem {
                        path: path(name),
                        message: e.to_string(),
                    }),
                }
                *tests.entry(test.clone()).or_default() += 1;
                if *ts > latest_time {
                    latest_time = ts.clone();
                }
            }
            Err(e) => problems.push(Problem {
                path: path(name),
                message: format!("{e}; skipped"),
            }),
        }
    }
    if let Some(i) = &info {
        for f in &i.files {
            if !files.contains_key(f) {
                problems.push(Problem {
                    path: path(f),
                    message: "listed in run.json but missing; its measurement is not shown"
                        .to_string(),
                });
            }
        }
    }
    let test = match &info {
        Some(i) => i.test.clone(),
        None => tests
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let info_or = info.clone().unwrap_or_default();
    Some(Run {
        id: id.to_string(),
        dir: dir.to_string(),
        test,
        when: info_or.start.clone().unwrap_or(latest_time),
        verdict: info_or.verdict.clone(),
        master: info_or.master.clone(),
        master_version: info_or.master_version.clone(),
        nodes: info_or.nodes,
        pods: info_or.pods,
        duration_seconds: info_or.duration_seconds,
        slos: info_or.slos.clone(),
        phases: info_or.phases.clone(),
        notes: info_or.notes.clone(),
        measurements,
        time_series,
        problems,
        kubemark: info.is_some(),
    })
}

/// Reads the files of one directory that matter for a run.
fn read_dir_files(dir: &Path, names: &[String]) -> DirFiles {
    names
        .iter()
        .filter(|n| {
            matches!(n.as_str(), "run.json" | "junit.xml") || parse_summary_file_name(n).is_some()
        })
        .map(|n| {
            (
                n.clone(),
                std::fs::read_to_string(dir.join(n)).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// Scans `dirs` recursively for runs. Never fails: unreadable directories,
/// directories without runs and bad files are listed in `problems`.
pub fn scan(dirs: &[PathBuf]) -> Scan {
    let mut out = Scan::default();
    let mut ids = BTreeSet::new();
    for root in dirs {
        let before = out.runs.len();
        let base = root.parent().map(Path::to_path_buf).unwrap_or_default();
        if !root.is_dir() {
            out.problems.push(Problem {
                path: root.display().to_string(),
                message: "not a directory (or does not exist); pass a run directory or a directory holding runs".into(),
            });
            continue;
        }
        walk(root, &base, 0, &mut out, &mut ids);
        if out.runs.len() == before {
            out.problems.push(Problem {
                path: root.display().to_string(),
                message: "no runs found: no run.json and no <Summary>_<test>_<time>.json PerfData file in it or below".into(),
            });
        }
    }
    out.runs
        .sort_by(|a, b| a.when.cmp(&b.when).then(a.id.cmp(&b.id)));
    out
}

fn walk(dir: &Path, base: &Path, depth: usize, out: &mut Scan, ids: &mut BTreeSet<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(Problem {
                path: dir.display().to_string(),
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    let mut names = Vec::new();
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().to_string();
        // Symlinked directories are not followed (no cycles).
        if ft.is_dir() {
            subdirs.push(e.path());
        } else if ft.is_file() || ft.is_symlink() {
            names.push(name);
        }
    }
    names.sort();
    subdirs.sort();
    let files = read_dir_files(dir, &names);
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let mut id = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join("/");
    if id.is_empty() {
        id = dir.display().to_string();
    }
    if ids.contains(&id) {
        let mut n = 2;
        while ids.contains(&format!("{id}~{n}")) {
            n += 1;
        }
        id = format!("{id}~{n}");
    }
    if let Some(run) = build_run(&id, &dir.display().to_string(), &files) {
        ids.insert(id);
        out.problems.extend(run.problems.iter().cloned());
        out.runs.push(run);
    }
    if depth < MAX_DEPTH {
        for d in subdirs {
            walk(&d, base, depth + 1, out, ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_file_names() {
        type Want = Option<(&'static str, &'static str, &'static str)>;
        let cases: &[(&str, Want)] = &[
            (
                "PodStartupLatency_PodStartupLatency_density_2026-12-03T16:42:02Z.json",
                Some((
                    "PodStartupLatency_PodStartupLatency",
                    "density",
                    "2026-12-03T16:42:02Z",
                )),
            ),
            (
                "ResourceUsageSummary_load_2021-01-04T09:07:22+01:00.json",
                Some(("ResourceUsageSummary", "load", "2021-01-04T09:07:22+01:00")),
            ),
            ("run.json", None),
            ("junit.xml", None),
            ("Foo_2026-12-03T16:42:02Z.json", None),
            ("A_b_notatime.json", None),
            ("A_b_2026-12-03T16:42:02Z.txt", None),
        ];
        for (name, want) in cases {
            let got = parse_summary_file_name(name);
            let want = want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn perfdata_parsing() {
        let text = r#"{"version":"v1","dataItems":[
            {"data":{"Perc50":1.5,"Perc99":3},"unit":"ms","labels":{"Verb":"LIST","Subresource":"","Count":"7"}},
            {"data":{"Perc50":"x"},"unit":"ms","labels":{}},
            {"nodata":1}
        ]}"#;
        let (m, skipped) = parse_perfdata("S", "f.json", text).unwrap();
        assert_eq!(skipped, 2);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].data["Perc99"], 3.0);
        assert_eq!(
            m[0].labels.len(),
            1,
            "empty and value labels are not identity"
        );
        assert_eq!(m[0].info["Count"], "7");
        assert_eq!(m[0].series(), "S{Verb=LIST}");

        let bad: &[(&str, &str)] = &[
            ("{not json", "not valid JSON"),
            (
                r#"{"kind":"Pod","apiVersion":"v1"}"#,
                "not a perfdash PerfData",
            ),
            ("[1,2]", "not a perfdash PerfData"),
            (r#"{"dataItems": 5}"#, "not a perfdash PerfData"),
        ];
        for (text, want) in bad {
            let e = parse_perfdata("S", "f.json", text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn time_series_parsing() {
        type Want = Result<(usize, &'static [usize], usize), &'static str>;
        let cases: &[(&str, &str, Want)] = &[
            (
                "no key (older run, ClusterLoader2)",
                r#"{"version":"v1","dataItems":[]}"#,
                Ok((0, &[], 0)),
            ),
            (
                "two series",
                r#"{"dataItems":[],"timeSeries":[
                    {"labels":{"Name":"kube-apiserver","Resource":"cpu"},"unit":"cores","points":[{"unixMs":2000,"value":0.5},{"unixMs":1000,"value":0.25}]},
                    {"labels":{"Metric":"SchedulingThroughput"},"unit":"pods/s","points":[{"unixMs":1000,"value":3}]}]}"#,
                Ok((2, &[2, 1], 0)),
            ),
            (
                "bad entries and points skipped",
                r#"{"dataItems":[],"timeSeries":[
                    {"unit":"cores"},
                    {"unit":"MiB","points":[{"unixMs":"x","value":1}]},
                    {"unit":"MiB","points":[{"unixMs":1,"value":1},{"value":2},{"unixMs":3,"value":null}]}]}"#,
                Ok((1, &[1], 5)),
            ),
            (
                "not a list",
                r#"{"dataItems":[],"timeSeries":{"a":1}}"#,
                Err("\"timeSeries\" is not a list"),
            ),
            ("corrupt", "{\"timeSeries\": [", Err("not valid JSON")),
        ];
        for (name, text, want) in cases {
            match (parse_time_series("S", "f.json", text), want) {
                (Ok((ts, skipped)), Ok((n, lens, sk))) => {
                    assert_eq!(ts.len(), *n, "{name}");
                    let got: Vec<usize> = ts.iter().map(|t| t.points.len()).collect();
                    assert_eq!(got, lens.to_vec(), "{name}");
                    assert_eq!(skipped, *sk, "{name}");
                }
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
        let (ts, _) = parse_time_series(
            "ResourceUsageSummary",
            "f.json",
            r#"{"timeSeries":[{"labels":{"Name":"etcd","Resource":"memory","n":1},"unit":"MiB","points":[{"unixMs":20,"value":2},{"unixMs":10,"value":1}]}]}"#,
        )
        .unwrap();
        assert_eq!(ts[0].points, [(10, 1.0), (20, 2.0)], "sorted by time");
        assert_eq!(ts[0].labels.len(), 2, "non-string labels dropped");
        assert_eq!(ts[0].summary, "ResourceUsageSummary");
        assert_eq!(ts[0].unit, "MiB");
    }

    #[test]
    fn long_series_are_averaged() {
        type Points = Vec<(i64, f64)>;
        let pts = |v: &[(i64, f64)]| v.to_vec();
        let cases: Vec<(usize, Points, Points)> = vec![
            (3, vec![], vec![]),
            (
                3,
                pts(&[(1, 1.0), (2, 2.0), (3, 3.0)]),
                pts(&[(1, 1.0), (2, 2.0), (3, 3.0)]),
            ),
            (
                2,
                pts(&[(1, 1.0), (2, 3.0), (3, 5.0)]),
                pts(&[(2, 2.0), (3, 5.0)]),
            ),
            (
                2,
                pts(&[(1, 0.0), (2, 2.0), (3, 4.0), (4, 6.0), (5, 8.0)]),
                pts(&[(3, 2.0), (5, 7.0)]),
            ),
            (0, pts(&[(1, 1.0), (2, 2.0)]), pts(&[(1, 1.0), (2, 2.0)])),
        ];
        for (max, input, want) in cases {
            assert_eq!(downsample(&input, max), want, "{max} {input:?}");
        }
        let long: Vec<String> = (0..2500)
            .map(|i| format!("{{\"unixMs\":{i},\"value\":1}}"))
            .collect();
        let text = format!(
            "{{\"timeSeries\":[{{\"unit\":\"MiB\",\"points\":[{}]}}]}}",
            long.join(",")
        );
        let (ts, _) = parse_time_series("S", "f", &text).unwrap();
        assert_eq!(ts[0].samples, 2500);
        assert_eq!(ts[0].points.len(), 834);
        assert!(ts[0].points.len() <= MAX_SERIES_POINTS);
        assert_eq!(ts[0].points.last(), Some(&(2499, 1.0)));
    }

    #[test]
    fn runs_carry_time_series_and_bad_ones_are_reported() {
        let with = r#"{"version":"v1","dataItems":[{"data":{"Perc50":6},"unit":"pods/s","labels":{}}],
            "timeSeries":[{"labels":{"Metric":"SchedulingThroughput"},"unit":"pods/s","points":[{"unixMs":1000,"value":6}]}]}"#;
        let bad = r#"{"version":"v1","dataItems":[{"data":{"Perc50":0.5},"unit":"cores","labels":{"Name":"etcd","Resource":"cpu"}}],"timeSeries":7}"#;
        let run = build_run(
            "id",
            "d",
            &files(&[
                (
                    "SchedulingThroughput_density_2026-12-03T16:42:02Z.json",
                    with,
                ),
                (
                    "ResourceUsageSummary_density_2026-12-03T16:42:02Z.json",
                    bad,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(run.time_series.len(), 1);
        assert_eq!(run.time_series[0].summary, "SchedulingThroughput");
        assert_eq!(
            run.measurements.len(),
            2,
            "a bad timeSeries keeps the measurements"
        );
        let p: Vec<String> = run.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with(
            "d/ResourceUsageSummary_density_2026-12-03T16:42:02Z.json: \"timeSeries\" is not a list"
        ));
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(
            json["timeSeries"][0]["points"],
            serde_json::json!([[1000, 6.0]])
        );
    }

    fn files(list: &[(&str, &str)]) -> DirFiles {
        list.iter()
            .map(|(k, v)| (k.to_string(), Ok(v.to_string())))
            .collect()
    }

    #[test]
    fn runs_from_directory_files() {
        let pd = r#"{"version":"v1","dataItems":[{"data":{"Perc99":2},"unit":"ms","labels":{"Metric":"pod_startup"}}]}"#;
        let run_json = r#"{"test":"density","verdict":"pass","start":"2026-12-03T16:41:58Z",
            "cluster":{"master":"embedded","nodes":3,"version":{"gitVersion":"v1.24.10+kubemark"}},
            "durationSeconds":5.1,
            "plan":[{"name":"saturation: create","pods":6},{"name":"latency: create","pods":6},{"name":"latency: delete","pods":6}],
            "slos":[{"name":"x","measurement":"PodStartupLatency","value":null,"threshold":5000,"unit":"ms","passed":true,"detail":""}],
            "phases":[{"name":"a","start":"s","end":"e","seconds":1.5,"status":"ok","detail":""}],
            "files":["PodStartupLatency_PodStartupLatency_density_2026-12-03T16:42:02Z.json","SchedulingThroughput_density_2026-12-03T16:42:02Z.json","junit.xml"]}"#;
        struct Case {
            name: &'static str,
            files: DirFiles,
            run: bool,
            measurements: usize,
            problems: &'static [&'static str],
        }
        let cases = vec![
            Case {
                name: "empty",
                files: files(&[]),
                run: false,
                measurements: 0,
                problems: &[],
            },
            Case {
                name: "kubemark run missing a measurement",
                files: files(&[
                    ("run.json", run_json),
                    (
                        "PodStartupLatency_PodStartupLatency_density_2026-12-03T16:42:02Z.json",
                        pd,
                    ),
                ]),
                run: true,
                measurements: 1,
                problems: &[
                    "d/SchedulingThroughput_density_2026-12-03T16:42:02Z.json: listed in run.json but missing",
                    "d/junit.xml: listed in run.json but missing",
                ],
            },
            Case {
                name: "clusterloader2 dir with a corrupt and a foreign file",
                files: files(&[
                    ("PodStartupLatency_PodStartupLatency_load_2021-01-04T09:07:22Z.json", pd),
                    ("MetricsForE2E_load_2021-01-04T09:07:22Z.json", r#"{"ApiServerMetrics":{}}"#),
                    ("SchedulingThroughput_load_2021-01-04T09:07:22Z.json", "{\"version\": \"v1\", \"dataIt"),
                ]),
                run: true,
                measurements: 1,
                problems: &[
                    "d/MetricsForE2E_load_2021-01-04T09:07:22Z.json: not a perfdash PerfData file",
                    "d/SchedulingThroughput_load_2021-01-04T09:07:22Z.json: not valid JSON",
                ],
            },
            Case {
                name: "corrupt run.json",
                files: files(&[("run.json", "{")]),
                run: true,
                measurements: 0,
                problems: &["d/run.json: not valid JSON"],
            },
        ];
        for c in cases {
            let run = build_run("id", "d", &c.files);
            assert_eq!(run.is_some(), c.run, "{}", c.name);
            let Some(run) = run else { continue };
            assert_eq!(run.measurements.len(), c.measurements, "{}", c.name);
            let got: Vec<String> = run.problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(got.len(), c.problems.len(), "{}: {got:?}", c.name);
            for want in c.problems {
                assert!(
                    got.iter().any(|g| g.starts_with(want)),
                    "{}: {want} in {got:?}",
                    c.name
                );
            }
        }
        let run = build_run(
            "id",
            "d",
            &files(&[
                ("run.json", run_json),
                (
                    "PodStartupLatency_PodStartupLatency_density_2026-12-03T16:42:02Z.json",
                    pd,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(run.test, "density");
        assert_eq!(run.when, "2026-12-03T16:41:58Z");
        assert_eq!(run.master.as_deref(), Some("embedded"));
        assert_eq!(run.master_version.as_deref(), Some("v1.24.10+kubemark"));
        assert_eq!(run.nodes, Some(3));
        assert_eq!(run.pods, Some(12));
        assert_eq!(run.slos.len(), 1);
        assert_eq!(run.phases[0].seconds, 1.5);
        assert!(run.kubemark);
    }

    #[test]
    fn scan_reports_bad_directories_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let runs = tmp.path().join("runs");
        let r1 = runs.join("r1");
        std::fs::create_dir_all(&r1).unwrap();
        std::fs::write(
            r1.join("SchedulingThroughput_density_2026-12-03T16:42:02Z.json"),
            r#"{"version":"v1","dataItems":[{"data":{"Perc50":6},"unit":"pods/s","labels":{}}]}"#,
        )
        .unwrap();
        let missing = tmp.path().join("nope");
        let s = scan(&[empty.clone(), runs, missing.clone()]);
        assert_eq!(s.runs.len(), 1);
        assert_eq!(s.runs[0].id, "runs/r1");
        assert_eq!(s.runs[0].test, "density");
        assert!(!s.runs[0].kubemark);
        let p: Vec<String> = s.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with(&format!("{}: no runs found", empty.display())));
        assert!(p[1].starts_with(&format!("{}: not a directory", missing.display())));
    }
}
