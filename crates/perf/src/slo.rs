//! SLO verdicts: one check per SLO (and per phase deadline), each with its
//! measured value, threshold and a PASS/FAIL result.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloCheck {
    /// Human-readable SLO, e.g. "latency pods: pod_startup p99 <= 5s".
    pub name: String,
    /// The measurement it belongs to (junit classname).
    pub measurement: String,
    /// The measured value (in `unit`), `None` when nothing was measured.
    pub value: Option<f64>,
    pub threshold: f64,
    pub unit: String,
    pub passed: bool,
    /// Why it failed, or what the value refers to.
    pub detail: String,
}

impl SloCheck {
    /// A `value <= threshold` check; no value passes (nothing violated it)
    /// unless `require_value`.
    pub fn at_most(
        measurement: &str,
        name: &str,
        value: Option<f64>,
        threshold: f64,
        unit: &str,
        require_value: bool,
        detail: String,
    ) -> SloCheck {
        let passed = match value {
            Some(v) => v <= threshold,
            None => !require_value,
        };
        SloCheck {
            name: name.to_string(),
            measurement: measurement.to_string(),
            value,
            threshold,
            unit: unit.to_string(),
            passed,
            detail,
        }
    }

    /// A check that could not be evaluated.
    pub fn failed(measurement: &str, name: &str, detail: String) -> SloCheck {
        SloCheck {
            name: name.to_string(),
            measurement: measurement.to_string(),
            value: None,
            threshold: 0.0,
            unit: String::new(),
            passed: false,
            detail,
        }
    }

    /// The value as the summary table prints it.
    pub fn value_text(&self) -> String {
        match self.value {
            Some(v) => format!("{} {}", fmt_num(v), self.unit),
            None => "-".to_string(),
        }
    }

    pub fn threshold_text(&self) -> String {
        if self.unit.is_empty() {
            "-".to_string()
        } else {
            format!("{} {}", fmt_num(self.threshold), self.unit)
        }
    }
}

/// Numbers for people: integers without decimals, others with up to 3.
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The end-of-run table: SLO, value, threshold, PASS/FAIL.
pub fn summary_table(checks: &[SloCheck]) -> String {
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                c.value_text(),
                c.threshold_text(),
                if c.passed {
                    "PASS".to_string()
                } else {
                    "FAIL".to_string()
                },
            ]
        })
        .collect();
    let header = [
        "SLO".to_string(),
        "VALUE".to_string(),
        "THRESHOLD".to_string(),
        "RESULT".to_string(),
    ];
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |r: &[String; 4]| {
        let mut s = String::new();
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i < 3 {
                s.push_str(&" ".repeat(w - cell.chars().count()));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    for r in &rows {
        out.push_str(&line(r));
    }
    for c in checks.iter().filter(|c| !c.passed && !c.detail.is_empty()) {
        out.push_str(&format!("FAIL {}: {}\n", c.name, c.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_thresholds() {
        let cases = [
            (Some(4999.0), 5000.0, false, true),
            (Some(5000.0), 5000.0, false, true),
            (Some(5000.1), 5000.0, false, false),
            (None, 5000.0, false, true),
            (None, 5000.0, true, false),
        ];
        for (value, threshold, require, want) in cases {
            let c = SloCheck::at_most("M", "n", value, threshold, "ms", require, String::new());
            assert_eq!(c.passed, want, "{value:?} vs {threshold}");
        }
    }

    #[test]
    fn table_lines_up() {
        let checks = vec![
            SloCheck::at_most("M", "short", Some(1.5), 5.0, "s", true, String::new()),
            SloCheck::at_most(
                "M",
                "a much longer name",
                Some(812.0),
                1000.0,
                "ms",
                true,
                String::new(),
            ),
            SloCheck::failed("M", "broken", "no samples".into()),
        ];
        let t = summary_table(&checks);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "SLO                 VALUE   THRESHOLD  RESULT");
        assert_eq!(lines[1], "short               1.5 s   5 s        PASS");
        assert_eq!(lines[2], "a much longer name  812 ms  1000 ms    PASS");
        assert_eq!(lines[3], "broken              -       -          FAIL");
        assert_eq!(lines[4], "FAIL broken: no samples");
        assert_eq!(fmt_num(0.12345), "0.123");
        assert_eq!(fmt_num(123.6), "124");
    }
}
