//! `kubectl get` of custom resources: the `Table` built from a
//! CustomResourceDefinition's `additionalPrinterColumns` as
//! apiextensions-apiserver's table convertor builds it (a NAME column, then
//! each column's JSONPath evaluated on the object and typed per column), and
//! the small JSONPath subset those columns use.

use apimachinery::registry::PrinterColumn;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// One step of a parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    /// `[?(@.a.b == "x")]` / `!=`.
    Filter {
        path: Vec<String>,
        equal: bool,
        value: Value,
    },
}

/// Why a JSONPath cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathError {
    #[error("unterminated bracket in JSONPath {0:?}")]
    Unterminated(String),
    #[error(
        "unsupported JSONPath expression {0:?}: use fields, [n], [*] or [?(@.field==\"value\")]"
    )]
    Unsupported(String),
}

/// Parses `.spec.replicas`, `.status.conditions[0].type`,
/// `.items[*].name`, `.status.conditions[?(@.type=="Ready")].status`,
/// `.metadata.labels['app']` (with or without braces).
fn parse(path: &str) -> Result<Vec<Step>, JsonPathError> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(p);
    let p = p.strip_prefix('$').unwrap_or(p);
    let mut steps = Vec::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
                i = j;
            }
            '[' => {
                let Some(end) = find_close(&chars, i) else {
                    return Err(JsonPathError::Unterminated(path.to_string()));
                };
                let inner: String = chars[i + 1..end].iter().collect();
                steps.push(bracket(&inner, path)?);
                i = end + 1;
            }
            _ => {
                let start = i;
                let mut j = i;
                while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                    j += 1;
                }
                steps.push(Step::Field(chars[start..j].iter().collect()));
                i = j;
            }
        }
    }
    Ok(steps)
}

/// Index of the `]` closing the `[` at `open`, skipping quoted text.
fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for (k, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
}

fn bracket(inner: &str, path: &str) -> Result<Step, JsonPathError> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Ok(Step::Index(n));
    }
    if let Some(key) = unquote(inner) {
        return Ok(Step::Field(key.to_string()));
    }
    let unsupported = || JsonPathError::Unsupported(path.to_string());
    let expr = inner
        .strip_prefix("?(")
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(unsupported)?;
    let (lhs, rhs, equal) = if let Some((l, r)) = expr.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, r, false)
    } else {
        return Err(unsupported());
    };
    let lhs = lhs.trim().strip_prefix('@').ok_or_else(unsupported)?;
    let field_path: Vec<String> = lhs
        .split('.')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let value = match unquote(rhs) {
        Some(s) => Value::String(s.to_string()),
        None => serde_json::from_str(rhs.trim()).map_err(|_| unsupported())?,
    };
    Ok(Step::Filter {
        path: field_path,
        equal,
        value,
    })
}

/// Every value the path selects in `obj`, in document order.
pub fn find(path: &str, obj: &Value) -> Result<Vec<Value>, JsonPathError> {
    let steps = parse(path)?;
    let mut current: Vec<&Value> = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in current {
            match step {
                Step::Field(name) => {
                    if let Some(x) = v.get(name.as_str()) {
                        next.push(x);
                    }
                }
                Step::Index(n) => {
                    if let Some(a) = v.as_array() {
                        let idx = if *n < 0 { a.len() as i64 + n } else { *n };
                        if let Some(x) = usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                            next.push(x);
                        }
                    }
                }
                Step::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter { path, equal, value } => {
                    if let Some(a) = v.as_array() {
                        for item in a {
                            let mut field = Some(item);
                            for p in path {
                                field = field.and_then(|f| f.get(p.as_str()));
                            }
                            let matched = field.is_some_and(|f| f == value);
                            if matched == *equal && field.is_some() {
                                next.push(item);
                            }
                        }
                    }
                }
            }
        }
        current = next;
    }
    Ok(current.into_iter().cloned().collect())
}

/// How a JSONPath result prints in a string column (`fmt`'s `%v` of the
/// decoded value, as kubectl's JSONPath printer).
fn print_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The cell of one column for one object: `null` when the path selects
/// nothing or the value does not fit the column's type.
pub fn cell(column: &PrinterColumn, obj: &Value, now: OffsetDateTime) -> Value {
    let Ok(found) = find(&column.json_path, obj) else {
        return Value::Null;
    };
    let Some(value) = found.into_iter().next() else {
        return Value::Null;
    };
    match column.type_.as_str() {
        "integer" => match &value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map_or(Value::Null, |i| json!(i)),
            _ => Value::Null,
        },
        "number" => match &value {
            Value::Number(_) => value,
            _ => Value::Null,
        },
        "boolean" => match &value {
            Value::Bool(_) => value,
            _ => Value::Null,
        },
        "date" => match value.as_str().and_then(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        }) {
            Some(t) => json!(crate::table::human_duration(now - t)),
            None => Value::Null,
        },
        _ => json!(print_value(&value)),
    }
}

/// The columns of a custom resource's table: NAME, then the CRD's columns
/// (or `Age` when it has none).
pub fn columns(custom: &[PrinterColumn]) -> Vec<PrinterColumn> {
    let mut out = vec![PrinterColumn {
        name: "Name".into(),
        type_: "string".into(),
        format: "name".into(),
        description: crate::table::NAME_DOC.into(),
        priority: 0,
        json_path: ".metadata.name".into(),
    }];
    if custom.is_empty() {
        out.push(PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: crate::table::CREATED_DOC.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        });
    } else {
        out.extend(custom.iter().cloned());
    }
    out
}

/// The `meta.k8s.io/v1` Table of custom resources.
pub fn to_table(
    custom: &[PrinterColumn],
    items: &[Value],
    list_metadata: Value,
    row_object: impl Fn(&Value) -> Value,
    now: OffsetDateTime,
) -> Value {
    let cols = columns(custom);
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let cells: Vec<Value> = cols.iter().map(|c| cell(c, item, now)).collect();
            let mut r = Map::new();
            r.insert("cells".into(), Value::Array(cells));
            r.insert("object".into(), row_object(item));
            Value::Object(r)
        })
        .collect();
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format,
                   "description": c.description, "priority": c.priority})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": if list_metadata.is_object() { list_metadata } else { json!({}) },
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn obj() -> Value {
        json!({
            "metadata": {"name": "c1", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"replicas": 3, "image": "nginx", "ratio": 0.5, "on": true, "items": [{"n": "a"}, {"n": "b"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}
        })
    }

    #[test]
    fn json_paths() {
        let cases: &[(&str, Value)] = &[
            (".spec.replicas", json!([3])),
            ("{.spec.image}", json!(["nginx"])),
            (".spec.items[1].n", json!(["b"])),
            (".spec.items[-1].n", json!(["b"])),
            (".spec.items[*].n", json!(["a", "b"])),
            (
                ".status.conditions[?(@.type==\"Ready\")].status",
                json!(["True"]),
            ),
            (
                ".status.conditions[?(@.type!=\"Ready\")].type",
                json!(["Synced"]),
            ),
            (".metadata.labels['app.kubernetes.io/name']", json!(["x"])),
            (".spec.missing", json!([])),
            (".spec.items[5]", json!([])),
        ];
        for (path, want) in cases {
            let got = find(path, &obj()).unwrap();
            assert_eq!(&Value::Array(got), want, "{path}");
        }
        assert!(find(".spec[", &obj()).is_err());
        assert!(find(".spec[?(@.a > 1)]", &obj()).is_err());
    }

    fn column(ty: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: "C".into(),
            type_: ty.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        }
    }

    #[test]
    fn cells_are_typed_per_column() {
        let now = datetime!(2024-01-01 00:05:00 UTC);
        let cases: &[(&str, &str, Value)] = &[
            ("integer", ".spec.replicas", json!(3)),
            ("integer", ".spec.image", Value::Null),
            ("number", ".spec.ratio", json!(0.5)),
            ("boolean", ".spec.on", json!(true)),
            ("string", ".spec.replicas", json!("3")),
            ("string", ".spec.image", json!("nginx")),
            ("string", ".spec.nothing", Value::Null),
            ("date", ".metadata.creationTimestamp", json!("5m")),
            ("date", ".spec.image", Value::Null),
        ];
        for (ty, path, want) in cases {
            assert_eq!(&cell(&column(ty, path), &obj(), now), want, "{ty} {path}");
        }
    }

    #[test]
    fn table_has_name_first_and_age_by_default() {
        let now = datetime!(2024-01-01 01:00:00 UTC);
        let t = to_table(
            &[],
            &[obj()],
            json!({"resourceVersion": "5"}),
            |_| Value::Null,
            now,
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(t["rows"][0]["cells"], json!(["c1", "60m"]));
        assert_eq!(t["metadata"]["resourceVersion"], "5");
        let mut wide = column("integer", ".spec.replicas");
        wide.priority = 1;
        let t = to_table(&[wide], &[obj()], json!({}), |_| Value::Null, now);
        assert_eq!(t["columnDefinitions"][1]["priority"], 1);
        assert_eq!(t["rows"][0]["cells"], json!(["c1", 3]));
    }
}
