//! What the web UI is given (pure): the runs, the problems found while
//! reading them, the tolerance, and (for the static report, which has no
//! server to ask) precomputed comparisons.

use crate::compare::{self, Comparison, Tolerances};
use crate::runs::{Run, Scan};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Model<'a> {
    pub runs: &'a [Run],
    pub problems: &'a [crate::runs::Problem],
    pub tolerance_pct: f64,
    /// `base=<id>&new=<id>` → comparison (static report only).
    pub comparisons: BTreeMap<String, Comparison>,
    /// True in the static report.
    pub r#static: bool,
}

pub fn model<'a>(scan: &'a Scan, tol: &Tolerances) -> Model<'a> {
    Model {
        runs: &scan.runs,
        problems: &scan.problems,
        tolerance_pct: tol.default_pct,
        comparisons: BTreeMap::new(),
        r#static: false,
    }
}

/// The key the UI uses to find a precomputed comparison.
pub fn comparison_key(base: &[&str], new: &[&str]) -> String {
    format!("base={}&new={}", base.join(","), new.join(","))
}

/// Comparisons a static report carries: for every test, each run against
/// the run of that test before it (runs are sorted oldest first), and the
/// first against the last.
pub fn report_comparisons(scan: &Scan, tol: &Tolerances) -> BTreeMap<String, Comparison> {
    let mut by_test: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in &scan.runs {
        by_test.entry(r.test.as_str()).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for runs in by_test.values() {
        let mut pairs: Vec<(&Run, &Run)> = runs.windows(2).map(|w| (w[0], w[1])).collect();
        if runs.len() > 2 {
            pairs.push((runs[0], runs[runs.len() - 1]));
        }
        for (b, n) in pairs {
            out.insert(
                comparison_key(&[&b.id], &[&n.id]),
                compare::compare(&[b], &[n], tol),
            );
        }
    }
    out
}

/// JSON safe to place inside a `<script>` element.
pub fn script_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let s = script_json(&serde_json::json!({"a": "</script><!--&"}));
        assert!(!s.contains("</"));
        assert!(!s.contains("<!--"));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["a"], "</script><!--&");
    }

    #[test]
    fn report_pairs_per_test() {
        let mk = |id: &str, test: &str, when: &str| Run {
            id: id.into(),
            dir: id.into(),
            test: test.into(),
            when: when.into(),
            verdict: None,
            master: None,
            master_version: None,
            nodes: None,
            pods: None,
            duration_seconds: None,
            slos: vec![],
            phases: vec![],
            notes: vec![],
            measurements: vec![],
            time_series: vec![],
            problems: vec![],
            kubemark: true,
        };
        let scan = Scan {
            runs: vec![
                mk("a", "density", "1"),
                mk("b", "density", "2"),
                mk("x", "load", "3"),
                mk("c", "density", "4"),
            ],
            problems: vec![],
        };
        let keys: Vec<String> = report_comparisons(&scan, &Tolerances::default())
            .into_keys()
            .collect();
        assert_eq!(keys, ["base=a&new=b", "base=a&new=c", "base=b&new=c"]);
    }
}
