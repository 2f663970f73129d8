//! A parser for the Prometheus text exposition format (version 0.0.4), as
//! served by kube-apiserver's `/metrics`: `# HELP` / `# TYPE` comments and
//! samples `name{label="value",...} value [timestamp]`. Label values are
//! quoted strings that may contain commas, braces, `=` and the escapes
//! `\\`, `\"` and `\n`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("metrics text line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, or "" when absent (as PromQL treats it).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A parsed scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// `# TYPE` lines: metric family name → type.
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Samples named exactly `name`.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the first unlabelled-or-not sample named `name`.
    pub fn first_value(&self, name: &str) -> Option<f64> {
        self.series(name).next().map(|s| s.value)
    }

    /// Whether any sample of family `name` (incl. `_bucket`/`_count`/`_sum`) exists.
    pub fn has_family(&self, name: &str) -> bool {
        self.samples.iter().any(|s| {
            s.name == name
                || s.name
                    .strip_prefix(name)
                    .is_some_and(|rest| ["_bucket", "_count", "_sum"].contains(&rest))
        })
    }
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Scrape, ParseError> {
    let mut out = Scrape::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_matches([' ', '\t', '\r']);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            if words.next() == Some("TYPE") {
                if let (Some(name), Some(ty)) = (words.next(), words.next()) {
                    out.types.insert(name.to_string(), ty.to_string());
                }
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|reason| ParseError {
            line: i + 1,
            reason,
        })?;
        out.samples.push(sample);
    }
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// A cursor over one line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn name(&mut self, label: bool) -> Result<&'a str, String> {
        let start = self.pos;
        match self.peek() {
            // Label names may not contain ':'.
            Some(c) if is_name_start(c) && !(label && c == ':') => {
                self.pos += 1;
            }
            Some(c) => {
                return Err(format!(
                    "expected a name at column {}, found {c:?}",
                    start + 1
                ))
            }
            None => return Err("expected a name, found the end of the line".into()),
        }
        while let Some(c) = self.peek() {
            if is_name_char(c) && !(label && c == ':') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(&self.s[start..self.pos])
    }

    fn quoted(&mut self) -> Result<String, String> {
        if self.bump() != Some('"') {
            return Err(format!("expected '\"' at column {}", self.pos));
        }
        let mut v = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated label value".into()),
                Some('"') => return Ok(v),
                Some('\\') => match self.bump() {
                    Some('\\') => v.push('\\'),
                    Some('"') => v.push('"'),
                    Some('n') => v.push('\n'),
                    Some(c) => {
                        return Err(format!("invalid escape sequence '\\{c}' in a label value"))
                    }
                    None => return Err("unterminated label value".into()),
                },
                Some(c) => v.push(c),
            }
        }
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let mut c = Cursor { s: line, pos: 0 };
    let name = c.name(false)?.to_string();
    c.skip_ws();
    let mut labels = BTreeMap::new();
    if c.peek() == Some('{') {
        c.bump();
        loop {
            c.skip_ws();
            if c.peek() == Some('}') {
                c.bump();
                break;
            }
            let key = c.name(true)?.to_string();
            c.skip_ws();
            if c.bump() != Some('=') {
                return Err(format!("expected '=' after label {key:?}"));
            }
            c.skip_ws();
            let value = c.quoted()?;
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("duplicate label {key:?}"));
            }
            c.skip_ws();
            match c.bump() {
                Some(',') => continue,
                Some('}') => break,
                Some(other) => {
                    return Err(format!(
                        "expected ',' or '}}' after label {key:?}, found {other:?}"
                    ))
                }
                None => return Err("unterminated label set".into()),
            }
        }
    }
    c.skip_ws();
    let rest = &line[c.pos..];
    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("sample {name} has no value"))?;
    let value = parse_value(value_text)
        .ok_or_else(|| format!("sample {name}: bad value {value_text:?}"))?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("sample {name}: bad timestamp {ts:?}"))?;
    }
    if let Some(extra) = fields.next() {
        return Err(format!(
            "sample {name}: unexpected {extra:?} after the timestamp"
        ));
    }
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// Go's `strconv.ParseFloat` spellings used by the format: numbers,
/// `+Inf`, `-Inf`, `NaN`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_samples_with_tricky_labels() {
        let text = concat!(
            "# HELP apiserver_request_total [STABLE] Counter of apiserver requests, broken out.\n",
            "# TYPE apiserver_request_total counter\n",
            "apiserver_request_total{code=\"200\",resource=\"pods\",verb=\"LIST\"} 12\n",
            "weird{a=\"x,y=z\",b=\"say \\\"hi\\\"\",c=\"back\\\\slash\",d=\"two\\nlines\",e=\"{}\"} 1.5e3\n",
            "spaced { a = \"1\" , b=\"2\", } -7 1700000000000\n",
            "\n",
            "no_labels 3\n",
            "empty_labels{} +Inf\n",
            "neg{le=\"-Inf\"} -Inf\n",
            "nan NaN\n",
            "# a free comment with \"quotes\" and {braces}\n",
            "utf{v=\"größe ✓\"} 0\n",
        );
        let s = parse(text).unwrap();
        assert_eq!(
            s.types.get("apiserver_request_total").map(String::as_str),
            Some("counter")
        );
        let want: Vec<(&str, BTreeMap<String, String>, f64)> = vec![
            (
                "apiserver_request_total",
                labels(&[("code", "200"), ("resource", "pods"), ("verb", "LIST")]),
                12.0,
            ),
            (
                "weird",
                labels(&[
                    ("a", "x,y=z"),
                    ("b", "say \"hi\""),
                    ("c", "back\\slash"),
                    ("d", "two\nlines"),
                    ("e", "{}"),
                ]),
                1500.0,
            ),
            ("spaced", labels(&[("a", "1"), ("b", "2")]), -7.0),
            ("no_labels", labels(&[]), 3.0),
            ("empty_labels", labels(&[]), f64::INFINITY),
            ("neg", labels(&[("le", "-Inf")]), f64::NEG_INFINITY),
        ];
        for (i, (name, l, v)) in want.iter().enumerate() {
            assert_eq!(&s.samples[i].name, name);
            assert_eq!(&s.samples[i].labels, l, "{name}");
            assert_eq!(s.samples[i].value, *v, "{name}");
        }
        assert!(s.samples[6].value.is_nan());
        assert_eq!(s.samples[7].label("v"), "größe ✓");
        assert_eq!(s.samples[7].label("missing"), "");
        assert_eq!(s.samples.len(), 8);
    }

    #[test]
    fn reports_bad_lines_with_their_number() {
        let cases = [
            ("ok 1\nbad{a=\"1\" 2\n", 2, "expected ','"),
            ("x{a=\"unterminated} 1\n", 1, "unterminated"),
            ("x{a=\"\\t\"} 1\n", 1, "invalid escape"),
            ("x{a=1} 1\n", 1, "expected '\"'"),
            ("x 1 2 3\n", 1, "unexpected"),
            ("x abc\n", 1, "bad value"),
            ("x\n", 1, "no value"),
            ("1x 2\n", 1, "expected a name"),
            ("x{a=\"1\",a=\"2\"} 1\n", 1, "duplicate label"),
            ("x{a:b=\"1\"} 1\n", 1, "expected '='"),
        ];
        for (text, line, reason) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.reason.contains(reason), "{text:?}: {}", e.reason);
        }
    }

    #[test]
    fn family_lookup() {
        let s = parse("h_bucket{le=\"1\"} 1\nh_count 1\nother 2\n").unwrap();
        assert!(s.has_family("h"));
        assert!(!s.has_family("o"));
        assert_eq!(s.first_value("other"), Some(2.0));
        assert_eq!(s.series("h_bucket").count(), 1);
    }
}
