//! Server-side field validation (the `fieldValidation` query parameter
//! kubectl sends): find the fields of a request body that the kind's schema
//! does not have, and word the outcome like the real server: a 400
//! `strict decoding error: unknown field "spec.x"` for `Strict`, a
//! `Warning` header per field for `Warn`, nothing for `Ignore`.
//!
//! The schemas are the ones `/openapi/v2` serves (see `openapi`), so what
//! we reject is exactly what we publish. Duplicate fields cannot be
//! reported: bodies reach us already parsed, and JSON parsing keeps the last
//! duplicate.

use apimachinery::status::{ApiError, Cause};
use serde_json::{Map, Value};

use crate::openapi;

/// The `fieldValidation` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldValidationError {
    #[error("fieldValidation: Unsupported value: {0:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"")]
    Unsupported(String),
}

impl FieldValidation {
    /// Parses the query parameter; absent or empty means `Warn`, the
    /// server's default since v1.23.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, FieldValidationError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(FieldValidationError::Unsupported(other.to_string())),
        }
    }
}

/// JSON paths (`.spec.containers[0].imagee`) of the fields in `obj` that the
/// schema of `kind` in `kind_group` does not define, in document order.
/// Empty when the kind has no schema (nothing to check against).
pub fn unknown_fields(kind_group: &str, kind: &str, obj: &Value) -> Vec<String> {
    let Some(name) = openapi::definition_name(kind_group, kind) else {
        return Vec::new();
    };
    let defs = openapi::definitions();
    let Some(root) = defs.get(&name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(defs, root, obj, String::new(), &mut out, 0);
    out
}

/// Deep enough for every built-in type; stops runaway recursion through
/// self-referencing schemas on hostile input.
const MAX_DEPTH: usize = 64;

/// Follows `$ref` to the definition it names.
fn resolve<'a>(defs: &'a Map<String, Value>, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        let Some(r) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let name = r.rsplit('/').next().unwrap_or(r);
        match defs.get(name) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

/// The schemas a value must satisfy: the schema itself (resolved) and the
/// members of its `allOf`, each resolved (OpenAPI 3 wraps described refs
/// in `allOf`).
fn parts<'a>(defs: &'a Map<String, Value>, schema: &'a Value) -> Vec<&'a Value> {
    let base = resolve(defs, schema);
    let mut out = vec![base];
    for s in [schema, base] {
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            out.extend(all.iter().map(|m| resolve(defs, m)));
        }
    }
    out
}

fn walk(
    defs: &Map<String, Value>,
    schema: &Value,
    value: &Value,
    path: String,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let parts = parts(defs, schema);
    let flag = |key: &str| {
        parts
            .iter()
            .any(|p| p.get(key).and_then(Value::as_bool) == Some(true))
    };
    // Anything goes below these.
    if flag("x-kubernetes-preserve-unknown-fields") || flag("x-kubernetes-int-or-string") {
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties: Vec<&Map<String, Value>> = parts
                .iter()
                .filter_map(|p| p.get("properties").and_then(Value::as_object))
                .collect();
            let additional = parts.iter().find_map(|p| p.get("additionalProperties"));
            if properties.is_empty() && additional.is_none() {
                // Free-form object (RawExtension, FieldsV1): any content.
                return;
            }
            for (key, child) in fields {
                let child_path = format!("{path}.{key}");
                if let Some(prop) = properties.iter().find_map(|p| p.get(key)) {
                    walk(defs, prop, child, child_path, out, depth + 1);
                } else {
                    match additional {
                        Some(Value::Bool(true)) => {}
                        Some(s) if s.is_object() => {
                            walk(defs, s, child, child_path, out, depth + 1)
                        }
                        _ => out.push(child_path),
                    }
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = parts.iter().find_map(|p| p.get("items")) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                walk(
                    defs,
                    item_schema,
                    item,
                    format!("{path}[{i}]"),
                    out,
                    depth + 1,
                );
            }
        }
        _ => {}
    }
}

/// `spec.x` from `.spec.x`: the real messages name fields without the
/// leading dot.
fn field_name(path: &str) -> &str {
    path.strip_prefix('.').unwrap_or(path)
}

/// One warning per unknown field, for `Warn`: `unknown field "spec.x"`.
pub fn warnings(unknown: &[String]) -> Vec<String> {
    unknown
        .iter()
        .map(|p| format!("unknown field {:?}", field_name(p)))
        .collect()
}

/// A `Warning` header value carrying `text` (RFC 7234 code 299, as the real
/// server sends them): `299 - "unknown field \"spec.x\""`.
pub fn warning_header_value(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("299 - \"{escaped}\"")
}

/// `strict decoding error: unknown field "spec.x", unknown field "spec.y"`.
pub fn strict_decoding_error(unknown: &[String]) -> String {
    format!("strict decoding error: {}", warnings(unknown).join(", "))
}

/// The 400 a `Strict` create or update is refused with:
/// `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.x"`.
pub fn strict_error(kind: &str, version: &str, unknown: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: {}",
        strict_decoding_error(unknown)
    ))
}

/// The 422 a `Strict` patch is refused with: the real server reports the
/// patched object as an invalid `patch` field
/// (` "" is invalid: patch: Invalid value: "{...}": strict decoding error: ...`).
pub fn strict_patch_error(patched: &Value, unknown: &[String]) -> ApiError {
    ApiError::invalid(
        "",
        "",
        "",
        vec![Cause::invalid(
            "patch",
            &Value::String(patched.to_string()),
            &strict_decoding_error(unknown),
        )],
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(extra_container: Value) -> Value {
        let mut c = json!({"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra_container.as_object()) {
            c.extend(extra.clone());
        }
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p", "labels": {"app": "web"}, "annotations": {"a": "b"},
                "managedFields": [{"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}],
            },
            "spec": {"containers": [c], "nodeSelector": {"disk": "ssd"}},
            "status": {"phase": "Pending"},
        })
    }

    #[test]
    fn finds_unknown_fields_with_their_paths() {
        let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
            ("", "Pod", pod(json!({})), vec![]),
            (
                "",
                "Pod",
                pod(json!({"imagee": "x"})),
                vec![".spec.containers[0].imagee"],
            ),
            (
                "",
                "Pod",
                {
                    let mut p = pod(json!({"resources": {"limits": {"cpu": "1"}, "limitz": {}}}));
                    p["spec"]["frob"] = json!(1);
                    p["metadata"]["spec"] = json!({});
                    p["bogus"] = json!(true);
                    p
                },
                vec![
                    ".metadata.spec",
                    ".spec.containers[0].resources.limitz",
                    ".spec.frob",
                    ".bogus",
                ],
            ),
            (
                "apps",
                "Deployment",
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "web"}},
                        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                        "template": {"metadata": {"labels": {"app": "web"}, "containers": []},
                                     "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "x"}]}},
                    },
                }),
                vec![
                    ".spec.template.metadata.containers",
                    ".spec.template.spec.containers[0].imagePullPolice",
                ],
            ),
            (
                "",
                "Node",
                json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4", "pods": 110}, "conditions": [{"type": "Ready", "status": "True", "extra": 1}]}}),
                vec![".status.conditions[0].extra"],
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"name": "c"}, "data": {"any": "thing"}, "dataa": {}}),
                vec![".dataa"],
            ),
            ("", "Frobnicator", json!({"anything": 1}), vec![]),
            (
                "events.k8s.io",
                "Event",
                json!({"metadata": {"name": "e"}, "regarding": {"kind": "Pod"}, "note": "n", "message": "m"}),
                vec![".message"],
            ),
        ];
        for (group, kind, obj, want) in cases {
            assert_eq!(unknown_fields(group, kind, &obj), want, "{group}/{kind}");
        }
    }

    #[test]
    fn free_form_and_int_or_string_fields_are_not_checked() {
        let ctrl = json!({
            "metadata": {"name": "r"},
            "revision": 1,
            "data": {"spec": {"anything": {"goes": true}}},
        });
        assert!(unknown_fields("apps", "ControllerRevision", &ctrl).is_empty());
        let svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]}});
        assert!(unknown_fields("", "Service", &svc).is_empty());
    }

    #[test]
    fn walks_openapi3_style_all_of_refs() {
        let defs: Map<String, Value> = serde_json::from_value(json!({
            "T": {"type": "object", "properties": {"inner": {"description": "d", "allOf": [{"$ref": "#/components/schemas/U"}]}}},
            "U": {"type": "object", "properties": {"a": {"type": "string"}}},
            "P": {"type": "object", "properties": {"x": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
        }))
        .unwrap();
        let mut out = Vec::new();
        walk(
            &defs,
            &defs["T"],
            &json!({"inner": {"a": "1", "b": 2}}),
            String::new(),
            &mut out,
            0,
        );
        assert_eq!(out, [".inner.b"]);
        let mut out = Vec::new();
        walk(
            &defs,
            &defs["P"],
            &json!({"x": {"whatever": 1}, "y": 2}),
            String::new(),
            &mut out,
            0,
        );
        assert_eq!(out, [".y"]);
    }

    #[test]
    fn messages_match_the_real_server() {
        let unknown = vec![
            ".spec.containers[0].imagee".to_string(),
            ".spec.foo".to_string(),
        ];
        assert_eq!(
            warnings(&unknown),
            [
                r#"unknown field "spec.containers[0].imagee""#,
                r#"unknown field "spec.foo""#
            ]
        );
        let err = strict_error("Pod", "v1", &unknown[..1]);
        assert_eq!(err.code, 400);
        assert_eq!(err.reason, "BadRequest");
        assert_eq!(
            err.message,
            r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee""#
        );
        assert_eq!(
            strict_decoding_error(&unknown),
            r#"strict decoding error: unknown field "spec.containers[0].imagee", unknown field "spec.foo""#
        );
        let patch = strict_patch_error(&json!({"spec": {"foo": 1}}), &unknown[1..]);
        assert_eq!(patch.code, 422);
        assert_eq!(
            patch.message,
            r#" "" is invalid: patch: Invalid value: "{\"spec\":{\"foo\":1}}": strict decoding error: unknown field "spec.foo""#
        );
        assert_eq!(
            warning_header_value(r#"unknown field "spec.foo""#),
            r#"299 - "unknown field \"spec.foo\"""#
        );
    }

    #[test]
    fn parses_the_directive() {
        let cases = [
            (None, Ok(FieldValidation::Warn)),
            (Some(""), Ok(FieldValidation::Warn)),
            (Some("Strict"), Ok(FieldValidation::Strict)),
            (Some("Ignore"), Ok(FieldValidation::Ignore)),
            (
                Some("strict"),
                Err(FieldValidationError::Unsupported("strict".into())),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(FieldValidation::parse(input), want, "{input:?}");
        }
    }
}
