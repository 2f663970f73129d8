//! Comparing runs (pure): per metric (a series of a `PerfData` file and
//! one of its values, e.g. `PodStartupLatency_PodStartupLatency{Metric=pod_startup} Perc99`)
//! the base and new values, the difference, and a verdict against a
//! tolerance. Several runs on a side are reduced to their median, and
//! their spread (max − min) is shown; a difference within the spread is
//! "inconclusive" rather than better or worse.

use crate::runs::{Measurement, Run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_TOLERANCE_PCT: f64 = 10.0;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error("tolerance {0:?}: expected a percentage such as 10% or 12.5")]
    Tolerance(String),
    #[error("thresholds file {path}: {reason}")]
    Thresholds { path: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Better,
    Worse,
    Missing,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Missing => "missing",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Parses `10%`, `10` or `12.5 %` as a percentage.
pub fn parse_tolerance(s: &str) -> Result<f64, CompareError> {
    let t = s.trim().trim_end_matches('%').trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(CompareError::Tolerance(s.to_string())),
    }
}

/// One rule of a thresholds file: applies to metrics whose name matches
/// `match` (`*` matches any text).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match")]
    pub pattern: String,
    /// Percentage, e.g. `25%`.
    #[serde(default, deserialize_with = "de_pct")]
    pub tolerance: Option<f64>,
    /// Absolute differences up to this (in the metric's unit) are `ok`.
    #[serde(default)]
    pub min: Option<f64>,
    /// Leave these metrics out of the comparison.
    #[serde(default)]
    pub ignore: bool,
    /// `higher` or `lower`: which direction is better (default by unit).
    #[serde(default)]
    pub better: Option<Direction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Higher,
    Lower,
}

fn de_pct<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = serde_yaml::Value::deserialize(d)?;
    let s = match v {
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Null => return Ok(None),
        other => format!("{other:?}"),
    };
    parse_tolerance(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Tolerances: a global one and per-metric rules (first match wins).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tolerances {
    pub default_pct: f64,
    pub rules: Vec<Rule>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            default_pct: DEFAULT_TOLERANCE_PCT,
            rules: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    #[serde(default, deserialize_with = "de_pct")]
    tolerance: Option<f64>,
    #[serde(default)]
    rules: Vec<Rule>,
}

impl Tolerances {
    /// Parses a thresholds file (YAML or JSON):
    ///
    /// ```yaml
    /// tolerance: 10%
    /// rules:
    ///   - match: "PodStartupLatency_*"
    ///     tolerance: 25%
    ///   - match: "APIResponsivenessPrometheus_simple*"
    ///     min: 5          # ms: smaller differences are ok
    ///   - match: "RequestCounts*"
    ///     ignore: true
    /// ```
    pub fn parse(path: &str, text: &str) -> Result<Tolerances, CompareError> {
        let f: ThresholdsFile =
            serde_yaml::from_str(text).map_err(|e| CompareError::Thresholds {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Tolerances {
            default_pct: f.tolerance.unwrap_or(DEFAULT_TOLERANCE_PCT),
            rules: f.rules,
        })
    }

    fn rule(&self, metric: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| glob(&r.pattern, metric))
    }
}

/// `*` matches any (possibly empty) text; everything else literally.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// Throughputs (`.../s`) are better higher; latencies, resource usage and
/// counts lower.
pub fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s")
}

/// The values of one side for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideStats {
    /// Per run of the side, in order; None where that run lacks the metric.
    pub values: Vec<Option<f64>>,
    pub n: usize,
    pub median: f64,
    /// max − min of the runs that have it (0 for one run).
    pub spread: f64,
}

pub fn side_stats(values: Vec<Option<f64>>) -> Option<SideStats> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(SideStats {
        values,
        n,
        median,
        spread: v[n - 1] - v[0],
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// `Series Stat`, e.g. `SchedulingThroughput{Metric=SchedulingThroughput} Perc50`.
    pub metric: String,
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    pub stat: String,
    pub unit: String,
    pub higher_is_better: bool,
    pub base: Option<SideStats>,
    pub new: Option<SideStats>,
    /// new − base (medians).
    pub diff: Option<f64>,
    /// Relative to base, in %; None when base is 0 (and new is not).
    pub diff_pct: Option<f64>,
    pub tolerance_pct: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub base_runs: Vec<String>,
    pub new_runs: Vec<String>,
    pub tolerance_pct: f64,
    pub rows: Vec<Row>,
    /// Count of rows per verdict.
    pub totals: BTreeMap<String, usize>,
}

impl Comparison {
    pub fn worse(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Worse)
    }

    /// 1 when anything is worse, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.worse())
    }
}

/// The verdict for one metric (pure, the heart of `compare`).
pub fn verdict(
    base: Option<&SideStats>,
    new: Option<&SideStats>,
    tolerance_pct: f64,
    min_abs: f64,
    higher_better: bool,
) -> (Verdict, Option<f64>, Option<f64>) {
    let (Some(b), Some(n)) = (base, new) else {
        return (Verdict::Missing, None, None);
    };
    let diff = n.median - b.median;
    let pct = if b.median != 0.0 {
        Some(diff / b.median.abs() * 100.0)
    } else if diff == 0.0 {
        Some(0.0)
    } else {
        None
    };
    if diff.abs() <= min_abs {
        return (Verdict::Ok, Some(diff), pct);
    }
    let beyond = match pct {
        Some(p) => p.abs() > tolerance_pct,
        None => true,
    };
    if !beyond {
        return (Verdict::Ok, Some(diff), pct);
    }
    if diff.abs() <= b.spread.max(n.spread) {
        return (Verdict::Inconclusive, Some(diff), pct);
    }
    let improved = if higher_better {
        diff > 0.0
    } else {
        diff < 0.0
    };
    let v = if improved {
        Verdict::Better
    } else {
        Verdict::Worse
    };
    (v, Some(diff), pct)
}

/// A metric's identity and its values per run of each side.
type Collected = (Key, Vec<Option<f64>>, Vec<Option<f64>>);

struct Key {
    summary: String,
    labels: BTreeMap<String, String>,
    stat: String,
    unit: String,
}

/// Compares the runs of `base` with those of `new`.
pub fn compare(base: &[&Run], new: &[&Run], tol: &Tolerances) -> Comparison {
    // metric name → (key, per-side per-run values)
    let mut metrics: BTreeMap<String, Collected> = BTreeMap::new();
    let sides: [(&[&Run], bool); 2] = [(base, true), (new, false)];
    for (runs, is_base) in sides {
        for (i, run) in runs.iter().enumerate() {
            for m in &run.measurements {
                for (stat, value) in &m.data {
                    let name = metric_name(m, stat);
                    let entry = metrics.entry(name).or_insert_with(|| {
                        (
                            Key {
                                summary: m.summary.clone(),
                                labels: m.labels.clone(),
                                stat: stat.clone(),
                                unit: m.unit.clone(),
                            },
                            vec![None; base.len()],
                            vec![None; new.len()],
                        )
                    });
                    let slot = if is_base {
                        &mut entry.1[i]
                    } else {
                        &mut entry.2[i]
                    };
                    *slot = Some(*value);
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (name, (key, b, n)) in metrics {
        let rule = tol.rule(&name);
        if rule.is_some_and(|r| r.ignore) {
            continue;
        }
        let tolerance_pct = rule.and_then(|r| r.tolerance).unwrap_or(tol.default_pct);
        let min_abs = rule.and_then(|r| r.min).unwrap_or(0.0);
        let higher = match rule.and_then(|r| r.better) {
            Some(Direction::Higher) => true,
            Some(Direction::Lower) => false,
            None => higher_is_better(&key.unit),
        };
        let bs = side_stats(b);
        let ns = side_stats(n);
        let (v, diff, diff_pct) = verdict(bs.as_ref(), ns.as_ref(), tolerance_pct, min_abs, higher);
        rows.push(Row {
            metric: name,
            summary: key.summary,
            labels: key.labels,
            stat: key.stat,
            unit: key.unit,
            higher_is_better: higher,
            base: bs,
            new: ns,
            diff,
            diff_pct,
            tolerance_pct,
            verdict: v,
        });
    }
    let mut totals = BTreeMap::new();
    for v in [
        Verdict::Ok,
        Verdict::Better,
        Verdict::Worse,
        Verdict::Missing,
        Verdict::Inconclusive,
    ] {
        totals.insert(
            v.as_str().to_string(),
            rows.iter().filter(|r| r.verdict == v).count(),
        );
    }
    Comparison {
        base_runs: base.iter().map(|r| r.id.clone()).collect(),
        new_runs: new.iter().map(|r| r.id.clone()).collect(),
        tolerance_pct: tol.default_pct,
        rows,
        totals,
    }
}

/// `Series Stat`.
pub fn metric_name(m: &Measurement, stat: &str) -> String {
    format!("{} {stat}", m.series())
}

/// A number for tables: 3 significant digits, no exponent for normal sizes.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn fmt_side(s: &Option<SideStats>, unit: &str) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n > 1 => format!(
            "{} ±{} {unit} (n={})",
            fmt_num(s.median),
            fmt_num(s.spread / 2.0),
            s.n
        ),
        Some(s) => format!("{} {unit}", fmt_num(s.median)),
    }
}

fn fmt_diff(r: &Row) -> String {
    match (r.diff, r.diff_pct) {
        (Some(_), Some(p)) => format!("{}{}%", if p > 0.0 { "+" } else { "" }, fmt_num(p)),
        (Some(d), None) => format!("+{} {} (base 0)", fmt_num(d), r.unit),
        _ => "-".into(),
    }
}

/// The terminal table.
pub fn table(c: &Comparison) -> String {
    let header = ["METRIC", "BASE", "NEW", "DIFF", "VERDICT"];
    let mut lines: Vec<[String; 5]> = vec![header.map(str::to_string)];
    for r in &c.rows {
        lines.push([
            r.metric.clone(),
            fmt_side(&r.base, &r.unit),
            fmt_side(&r.new, &r.unit),
            fmt_diff(r),
            r.verdict.as_str().to_string(),
        ]);
    }
    let mut w = [0usize; 5];
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = format!(
        "Base: {}\nNew:  {}\nTolerance: {}% (per-metric rules may differ)\n\n",
        c.base_runs.join(", "),
        c.new_runs.join(", "),
        fmt_num(c.tolerance_pct)
    );
    for l in &lines {
        let mut line = String::new();
        for (i, cell) in l.iter().enumerate() {
            if i == 4 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = w[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let t = &c.totals;
    let g = |k: &str| t.get(k).copied().unwrap_or(0);
    out.push_str(&format!(
        "\n{} metrics: {} ok, {} better, {} worse, {} inconclusive, {} missing\n",
        c.rows.len(),
        g("ok"),
        g("better"),
        g("worse"),
        g("inconclusive"),
        g("missing")
    ));
    out
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// junit: one testcase per metric; `worse` is a failure, `missing` and
/// `inconclusive` are skipped with the reason.
pub fn junit(c: &Comparison) -> String {
    let failures = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Worse)
        .count();
    let skipped = c
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Missing | Verdict::Inconclusive))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuite name=\"kubemark-compare\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
        c.rows.len()
    ));
    for r in &c.rows {
        let head = format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml_escape(&r.summary),
            xml_escape(&r.metric)
        );
        let msg = format!(
            "base {} new {} diff {} (tolerance {}%)",
            fmt_side(&r.base, &r.unit),
            fmt_side(&r.new, &r.unit),
            fmt_diff(r),
            fmt_num(r.tolerance_pct)
        );
        match r.verdict {
            Verdict::Worse => out.push_str(&format!(
                "{head}>\n    <failure message=\"{}\" type=\"Regression\"/>\n  </testcase>\n",
                xml_escape(&msg)
            )),
            Verdict::Missing | Verdict::Inconclusive => out.push_str(&format!(
                "{head}>\n    <skipped message=\"{}: {}\"/>\n  </testcase>\n",
                r.verdict.as_str(),
                xml_escape(&msg)
            )),
            _ => out.push_str(&format!("{head}/>\n")),
        }
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(v: &[f64]) -> Option<SideStats> {
        side_stats(v.iter().map(|x| Some(*x)).collect())
    }

    #[test]
    fn tolerances() {
        for (s, want) in [
            ("10%", Some(10.0)),
            ("12.5", Some(12.5)),
            (" 0 % ", Some(0.0)),
            ("x", None),
            ("-1%", None),
        ] {
            assert_eq!(parse_tolerance(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn globs() {
        for (p, s, want) in [
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "abc", true),
            ("a*b*c", "abc", true),
            ("a*d", "abc", false),
            ("abc", "abc", true),
            ("ab", "abc", false),
            ("*", "", true),
            ("a*a", "a", false),
        ] {
            assert_eq!(glob(p, s), want, "{p} ~ {s}");
        }
    }

    #[test]
    fn medians_and_spread() {
        let s = side_stats(vec![Some(3.0), None, Some(1.0), Some(2.0)]).unwrap();
        assert_eq!((s.n, s.median, s.spread), (3, 2.0, 2.0));
        let s = side(&[4.0, 1.0]).unwrap();
        assert_eq!((s.median, s.spread), (2.5, 3.0));
        assert!(side_stats(vec![None]).is_none());
    }

    #[test]
    fn verdicts() {
        struct Case {
            name: &'static str,
            base: &'static [f64],
            new: &'static [f64],
            higher: bool,
            min: f64,
            want: Verdict,
        }
        let cases = [
            Case {
                name: "equal",
                base: &[100.0],
                new: &[100.0],
                higher: false,
                min: 0.0,
                want: Verdict::Ok,
            },
            Case {
                name: "within tolerance",
                base: &[100.0],
                new: &[109.0],
                higher: false,
                min: 0.0,
                want: Verdict::Ok,
            },
            Case {
                name: "latency up",
                base: &[100.0],
                new: &[120.0],
                higher: false,
                min: 0.0,
                want: Verdict::Worse,
            },
            Case {
                name: "latency down",
                base: &[100.0],
                new: &[80.0],
                higher: false,
                min: 0.0,
                want: Verdict::Better,
            },
            Case {
                name: "throughput up",
                base: &[10.0],
                new: &[12.0],
                higher: true,
                min: 0.0,
                want: Verdict::Better,
            },
            Case {
                name: "throughput down",
                base: &[10.0],
                new: &[8.0],
                higher: true,
                min: 0.0,
                want: Verdict::Worse,
            },
            Case {
                name: "missing in new",
                base: &[10.0],
                new: &[],
                higher: false,
                min: 0.0,
                want: Verdict::Missing,
            },
            Case {
                name: "missing in base",
                base: &[],
                new: &[10.0],
                higher: false,
                min: 0.0,
                want: Verdict::Missing,
            },
            Case {
                name: "from zero",
                base: &[0.0],
                new: &[1.0],
                higher: false,
                min: 0.0,
                want: Verdict::Worse,
            },
            Case {
                name: "zero both",
                base: &[0.0],
                new: &[0.0],
                higher: false,
                min: 0.0,
                want: Verdict::Ok,
            },
            Case {
                name: "below absolute floor",
                base: &[1.0],
                new: &[3.0],
                higher: false,
                min: 5.0,
                want: Verdict::Ok,
            },
            // Medians 100 vs 130 (+30%) but the new runs range over 60.
            Case {
                name: "inconclusive",
                base: &[95.0, 100.0, 105.0],
                new: &[100.0, 130.0, 160.0],
                higher: false,
                min: 0.0,
                want: Verdict::Inconclusive,
            },
            Case {
                name: "clear despite spread",
                base: &[99.0, 100.0, 101.0],
                new: &[148.0, 150.0, 152.0],
                higher: false,
                min: 0.0,
                want: Verdict::Worse,
            },
        ];
        for c in cases {
            let (v, _, _) = verdict(
                side(c.base).as_ref(),
                side(c.new).as_ref(),
                10.0,
                c.min,
                c.higher,
            );
            assert_eq!(v, c.want, "{}", c.name);
        }
        let (_, d, p) = verdict(
            side(&[100.0]).as_ref(),
            side(&[120.0]).as_ref(),
            10.0,
            0.0,
            false,
        );
        assert_eq!((d, p), (Some(20.0), Some(20.0)));
        let (_, _, p) = verdict(
            side(&[0.0]).as_ref(),
            side(&[1.0]).as_ref(),
            10.0,
            0.0,
            false,
        );
        assert_eq!(p, None);
    }

    fn run(id: &str, items: &[(&str, &str, &str, f64)]) -> Run {
        Run {
            id: id.into(),
            dir: id.into(),
            test: "density".into(),
            when: String::new(),
            verdict: None,
            master: None,
            master_version: None,
            nodes: None,
            pods: None,
            duration_seconds: None,
            slos: vec![],
            phases: vec![],
            notes: vec![],
            problems: vec![],
            kubemark: false,
            time_series: vec![],
            measurements: items
                .iter()
                .map(|(summary, unit, stat, v)| Measurement {
                    summary: summary.to_string(),
                    unit: unit.to_string(),
                    labels: [("Metric".to_string(), "m".to_string())].into(),
                    info: BTreeMap::new(),
                    data: [(stat.to_string(), *v)].into(),
                    file: "f".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn compare_runs_with_rules() {
        let base = run(
            "b",
            &[
                (
                    "PodStartupLatency_PodStartupLatency",
                    "ms",
                    "Perc99",
                    1000.0,
                ),
                ("SchedulingThroughput", "pods/s", "Perc50", 10.0),
                ("RequestCounts", "requests", "Count", 100.0),
                ("ResourceUsageSummary", "MiB", "Perc99", 80.0),
            ],
        );
        let new = run(
            "n",
            &[
                (
                    "PodStartupLatency_PodStartupLatency",
                    "ms",
                    "Perc99",
                    1200.0,
                ),
                ("SchedulingThroughput", "pods/s", "Perc50", 12.0),
                ("RequestCounts", "requests", "Count", 300.0),
            ],
        );
        let c = compare(&[&base], &[&new], &Tolerances::default());
        let got: Vec<(&str, Verdict)> = c
            .rows
            .iter()
            .map(|r| (r.summary.as_str(), r.verdict))
            .collect();
        assert_eq!(
            got,
            [
                ("PodStartupLatency_PodStartupLatency", Verdict::Worse),
                ("RequestCounts", Verdict::Worse),
                ("ResourceUsageSummary", Verdict::Missing),
                ("SchedulingThroughput", Verdict::Better),
            ]
        );
        assert_eq!(c.exit_code(), 1);
        assert_eq!(c.totals["worse"], 2);
        assert_eq!(
            c.rows[0].metric,
            "PodStartupLatency_PodStartupLatency{Metric=m} Perc99"
        );

        let tol = Tolerances::parse(
            "t.yaml",
            "tolerance: 5%\nrules:\n  - match: \"PodStartupLatency_*\"\n    tolerance: 25%\n  - match: \"RequestCounts*\"\n    ignore: true\n",
        )
        .unwrap();
        let c = compare(&[&base], &[&new], &tol);
        assert_eq!(c.rows.len(), 3);
        assert_eq!(c.rows[0].verdict, Verdict::Ok);
        assert_eq!(c.rows[0].tolerance_pct, 25.0);
        assert_eq!(c.exit_code(), 0);
        assert_eq!(c.tolerance_pct, 5.0);

        // JSON output shape.
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["baseRuns"][0], "b");
        assert_eq!(v["rows"][0]["verdict"], "ok");
        assert_eq!(v["rows"][0]["base"]["median"], 1000.0);
        assert_eq!(v["rows"][0]["diffPct"], 20.0);

        let e = Tolerances::parse("t.yaml", "rules: [{match: x, bogus: 1}]").unwrap_err();
        assert!(e.to_string().starts_with("thresholds file t.yaml:"), "{e}");
        assert!(Tolerances::parse("t.yaml", "tolerance: lots").is_err());
    }

    #[test]
    fn outputs() {
        let base = run(
            "b",
            &[("S", "ms", "Perc99", 1000.0), ("T", "ms", "Perc50", 1.0)],
        );
        let new = run("n", &[("S", "ms", "Perc99", 2000.0)]);
        let c = compare(&[&base], &[&new], &Tolerances::default());
        let t = table(&c);
        assert!(t.contains("S{Metric=m} Perc99"), "{t}");
        assert!(t.contains("+100%"), "{t}");
        assert!(t.contains("worse"), "{t}");
        assert!(
            t.contains("2 metrics: 0 ok, 0 better, 1 worse, 0 inconclusive, 1 missing"),
            "{t}"
        );
        let j = junit(&c);
        assert!(
            j.contains("tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{j}"
        );
        assert!(j.contains("<failure message=\"base 1000 ms new 2000 ms diff +100% (tolerance 10%)\" type=\"Regression\"/>"), "{j}");
        assert!(j.contains("<skipped message=\"missing:"), "{j}");
        for (v, s) in [
            (1234.6, "1235"),
            (12.345, "12.3"),
            (1.5, "1.5"),
            (0.0123, "0.0123"),
            (0.0, "0"),
            (2.0, "2"),
        ] {
            assert_eq!(fmt_num(v), s);
        }
    }
}
