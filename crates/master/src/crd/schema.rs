//! Structural-schema handling of custom resources, as apiextensions-apiserver
//! does it on every write: pruning of unknown fields, defaulting from
//! `default:` values, and validation of the essentials of OpenAPI v3
//! (type, nullable, required, enum, bounds, lengths, pattern, items,
//! properties, allOf/anyOf/oneOf/not), with the real server's field paths
//! and messages.

use apimachinery::Cause;
use regex::Regex;
use serde_json::{json, Map, Value};

/// Fields of every object that the schema does not govern at the root of a
/// resource (and of `x-kubernetes-embedded-resource` objects).
const TYPE_AND_META: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// `additionalProperties` when it is a schema (not a boolean).
fn additional(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|a| a.is_object())
}

/// Removes fields the schema does not specify, as the real server's
/// structural pruning: an object keeps only its `properties` unless it has
/// `x-kubernetes-preserve-unknown-fields: true` or an `additionalProperties`
/// schema; the root and embedded resources also keep apiVersion, kind and
/// metadata.
pub fn prune(schema: &Value, obj: &mut Value) {
    prune_node(Some(schema), obj, true);
}

fn prune_node(schema: Option<&Value>, v: &mut Value, resource_root: bool) {
    let Some(schema) = schema else {
        return;
    };
    match v {
        Value::Object(map) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = resource_root || flag(schema, "x-kubernetes-embedded-resource");
            if let Some(add) = additional(schema) {
                for val in map.values_mut() {
                    prune_node(Some(add), val, false);
                }
                return;
            }
            let props = properties(schema);
            map.retain(|k, _| {
                preserve
                    || props.is_some_and(|p| p.contains_key(k))
                    || (embedded && TYPE_AND_META.contains(&k.as_str()))
            });
            for (k, val) in map.iter_mut() {
                if embedded && k == "metadata" {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    prune_node(Some(s), val, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for item in items {
                    prune_node(Some(item_schema), item, false);
                }
            }
        }
        _ => {}
    }
}

/// Fills in `default:` values of absent fields (and of `null` ones the
/// schema does not declare `nullable`), depth first, as the real server
/// defaults on decoding.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    match obj {
        Value::Object(map) => {
            if let Some(props) = properties(schema) {
                for (k, s) in props {
                    let Some(default) = s.get("default") else {
                        continue;
                    };
                    let absent = match map.get(k) {
                        None => true,
                        Some(Value::Null) => !flag(s, "nullable"),
                        Some(_) => false,
                    };
                    if absent {
                        map.insert(k.clone(), default.clone());
                    }
                }
                for (k, val) in map.iter_mut() {
                    if let Some(s) = props.get(k) {
                        apply_defaults(s, val);
                    }
                }
            } else if let Some(add) = additional(schema) {
                for val in map.values_mut() {
                    apply_defaults(add, val);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// Validates a custom resource against its schema; the root's apiVersion,
/// kind and metadata are the server's business, not the schema's.
pub fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut root_schema = schema.clone();
    if let Some(props) = root_schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        for k in TYPE_AND_META {
            props.remove(k);
        }
    }
    if let Some(req) = root_schema
        .get_mut("required")
        .and_then(Value::as_array_mut)
    {
        req.retain(|r| !r.as_str().is_some_and(|r| TYPE_AND_META.contains(&r)));
    }
    let mut body = obj.clone();
    if let Some(m) = body.as_object_mut() {
        for k in TYPE_AND_META {
            m.remove(k);
        }
    }
    validate_node(&root_schema, &body, "", &mut causes);
    causes
}

/// `<root>` for the whole object, as go-openapi names it.
fn shown_path(path: &str) -> &str {
    if path.is_empty() {
        "<root>"
    } else {
        path
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

/// Go's `%v` of a float64 bound: `10`, `1.5`.
fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn validate_node(schema: &Value, v: &Value, path: &str, causes: &mut Vec<Cause>) {
    let shown = shown_path(path);
    if v.is_null() {
        if flag(schema, "nullable") {
            return;
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str) {
            causes.push(Cause::invalid(
                shown,
                &json!("null"),
                &format!("{shown} in body must be of type {ty}: \"null\""),
            ));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            causes.push(Cause::invalid(
                shown,
                &json!(json_type(v)),
                &format!(
                    "{shown} in body must be of type integer,string: \"{}\"",
                    json_type(v)
                ),
            ));
            return;
        }
    } else if let Some(ty) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(ty, v) {
            causes.push(Cause::invalid(
                shown,
                &json!(json_type(v)),
                &format!("{shown} in body must be of type {ty}: \"{}\"", json_type(v)),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!(
                    "Unsupported value: {v}: supported values: {}",
                    list.join(", ")
                ),
                field: shown.to_string(),
            });
        }
    }
    match v {
        Value::String(s) => validate_string(schema, s, v, shown, causes),
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                validate_number(schema, x, v, shown, causes);
            }
        }
        Value::Array(items) => {
            validate_array(schema, items, v, shown, causes);
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    validate_node(item_schema, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(map) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        causes.push(Cause::required(&child_path(path, r)));
                    }
                }
            }
            let count = map.len() as f64;
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_f64) {
                if count > max {
                    causes.push(Cause {
                        reason: "FieldValueTooMany".into(),
                        message: format!(
                            "Too many: {}: must have at most {} items",
                            map.len(),
                            fmt_num(max)
                        ),
                        field: shown.to_string(),
                    });
                }
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_f64) {
                if count < min {
                    causes.push(Cause::invalid(
                        shown,
                        &json!(map.len()),
                        &format!(
                            "{shown} in body should have at least {} properties",
                            fmt_num(min)
                        ),
                    ));
                }
            }
            let props = properties(schema);
            let add = additional(schema);
            for (k, val) in map {
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    validate_node(s, val, &child_path(path, k), causes);
                } else if let Some(s) = add {
                    validate_node(s, val, &child_path(path, k), causes);
                }
            }
        }
        _ => {}
    }
    validate_combinators(schema, v, path, causes);
}

fn validate_string(schema: &Value, s: &str, v: &Value, shown: &str, causes: &mut Vec<Cause>) {
    let len = s.chars().count() as f64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_f64) {
        if len > max {
            causes.push(Cause {
                reason: "FieldValueTooLong".into(),
                message: format!("Too long: may not be longer than {}", fmt_num(max)),
                field: shown.to_string(),
            });
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_f64) {
        if len < min {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!(
                    "{shown} in body should be at least {} chars long",
                    fmt_num(min)
                ),
            ));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        // A pattern that does not compile was rejected with the CRD; treat
        // it as matching rather than failing every write.
        if let Ok(re) = Regex::new(pattern) {
            if !re.is_match(s) {
                causes.push(Cause::invalid(
                    shown,
                    v,
                    &format!("{shown} in body should match '{pattern}'"),
                ));
            }
        }
    }
}

fn validate_number(schema: &Value, x: f64, v: &Value, shown: &str, causes: &mut Vec<Cause>) {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if (exclusive && x <= min) || (!exclusive && x < min) {
            let op = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body should be {op} {}", fmt_num(min)),
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if (exclusive && x >= max) || (!exclusive && x > max) {
            let op = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body should be {op} {}", fmt_num(max)),
            ));
        }
    }
    if let Some(m) = schema.get("multipleOf").and_then(Value::as_f64) {
        if m > 0.0 && (x / m).fract() != 0.0 {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body should be a multiple of {}", fmt_num(m)),
            ));
        }
    }
}

fn validate_array(
    schema: &Value,
    items: &[Value],
    v: &Value,
    shown: &str,
    causes: &mut Vec<Cause>,
) {
    let n = items.len() as f64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_f64) {
        if n > max {
            causes.push(Cause {
                reason: "FieldValueTooMany".into(),
                message: format!(
                    "Too many: {}: must have at most {} items",
                    items.len(),
                    fmt_num(max)
                ),
                field: shown.to_string(),
            });
        }
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_f64) {
        if n < min {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!(
                    "{shown} in body should have at least {} items",
                    fmt_num(min)
                ),
            ));
        }
    }
    if flag(schema, "uniqueItems") {
        for (i, a) in items.iter().enumerate() {
            if items[..i].contains(a) {
                causes.push(Cause::duplicate(&format!("{shown}[{i}]"), a));
            }
        }
    }
}

fn validate_combinators(schema: &Value, v: &Value, path: &str, causes: &mut Vec<Cause>) {
    let shown = shown_path(path);
    let passes = |s: &Value| {
        let mut c = Vec::new();
        validate_node(s, v, path, &mut c);
        c.is_empty()
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate_node(s, v, path, causes);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.is_empty() && !any.iter().any(passes) {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body must validate at least one schema (anyOf)"),
            ));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if !one.is_empty() && one.iter().filter(|s| passes(s)).count() != 1 {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body must validate one and only one schema (oneOf)"),
            ));
        }
    }
    if let Some(not) = schema.get("not").filter(|n| n.is_object()) {
        if passes(not) {
            causes.push(Cause::invalid(
                shown,
                v,
                &format!("{shown} in body should not validate the schema (not)"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crontab_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["cronSpec"],
                    "properties": {
                        "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                        "image": {"type": "string", "maxLength": 10, "minLength": 1},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                     "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "default": "x"}}}},
                        "note": {"type": "string", "nullable": true},
                    }
                },
                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
            }
        })
    }

    #[test]
    fn pruning_keeps_only_specified_fields() {
        let cases: &[(Value, Value)] = &[
            (
                json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "x": 1}, "spec": {"cronSpec": "*", "bogus": 1}, "extra": true}),
                json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "x": 1}, "spec": {"cronSpec": "*"}}),
            ),
            (
                json!({"spec": {"free": {"anything": {"deep": [1, {"a": 2}]}}}}),
                json!({"spec": {"free": {"anything": {"deep": [1, {"a": 2}]}}}}),
            ),
            (
                json!({"spec": {"labels": {"a": "b", "c": "d"}}}),
                json!({"spec": {"labels": {"a": "b", "c": "d"}}}),
            ),
            (
                json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "x", "b": "y"}, "other": 1}}}),
                json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "x"}}}}),
            ),
            (
                json!({"spec": {"items": [{"name": "a", "junk": 1}, {"junk": 2}]}}),
                json!({"spec": {"items": [{"name": "a"}, {}]}}),
            ),
            (
                json!({"status": {"replicas": 2, "phase": "x"}}),
                json!({"status": {"replicas": 2}}),
            ),
        ];
        for (input, want) in cases {
            let mut got = input.clone();
            prune(&crontab_schema(), &mut got);
            assert_eq!(&got, want, "{input}");
        }
        let mut everything = json!({"spec": {"a": 1}, "b": 2});
        prune(
            &json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            &mut everything,
        );
        assert_eq!(everything, json!({"spec": {"a": 1}, "b": 2}));
        let mut empty_object = json!({"spec": {"a": 1}});
        prune(
            &json!({"type": "object", "properties": {"spec": {"type": "object"}}}),
            &mut empty_object,
        );
        assert_eq!(empty_object, json!({"spec": {}}));
    }

    #[test]
    fn defaults_fill_absent_and_null_fields() {
        let cases: &[(Value, Value)] = &[
            (
                json!({"spec": {"cronSpec": "*"}}),
                json!({"spec": {"cronSpec": "*", "replicas": 1, "mode": "a"}}),
            ),
            (
                json!({"spec": {"replicas": 3, "mode": null}}),
                json!({"spec": {"replicas": 3, "mode": "a"}}),
            ),
            (
                json!({"spec": {"items": [{}, {"name": "y"}], "replicas": 2, "mode": "b"}}),
                json!({"spec": {"items": [{"name": "x"}, {"name": "y"}], "replicas": 2, "mode": "b"}}),
            ),
            (json!({"other": 1}), json!({"other": 1})),
        ];
        for (input, want) in cases {
            let mut got = input.clone();
            apply_defaults(&crontab_schema(), &mut got);
            assert_eq!(&got, want, "{input}");
        }
    }

    #[test]
    fn validation_reports_the_real_messages() {
        let cases: &[(Value, &[&str])] = &[
            (json!({"spec": {"cronSpec": "* * * * *", "replicas": 5}}), &[]),
            (
                json!({"spec": {"cronSpec": "* * * *", "replicas": 15}}),
                &[
                    "spec.cronSpec: Invalid value: \"* * * *\": spec.cronSpec in body should match '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
                    "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10",
                ],
            ),
            (json!({"spec": {}}), &["spec.cronSpec: Required value"]),
            (
                json!({"spec": {"cronSpec": "* * * * *", "replicas": "three"}}),
                &["spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "replicas": 0}}),
                &["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "mode": "c"}}),
                &["spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\""],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "image": "0123456789ab"}}),
                &["spec.image: Too long: may not be longer than 10"],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "image": ""}}),
                &["spec.image: Invalid value: \"\": spec.image in body should be at least 1 chars long"],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "port": 80}}),
                &[],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "port": true}}),
                &["spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "tags": ["a", "b", "c"]}}),
                &["spec.tags: Too many: 3: must have at most 2 items"],
            ),
            (
                json!({"spec": {"cronSpec": "* * * * *", "labels": {"a": 1}}}),
                &["spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\""],
            ),
            (json!({"spec": {"cronSpec": "* * * * *", "note": null}}), &[]),
            (
                json!({"spec": {"cronSpec": "* * * * *", "image": null}}),
                &["spec.image: Invalid value: \"null\": spec.image in body must be of type string: \"null\""],
            ),
            (
                json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": "nope"}),
                &["spec: Invalid value: \"string\": spec in body must be of type object: \"string\""],
            ),
        ];
        for (obj, want) in cases {
            let got: Vec<String> = validate(&crontab_schema(), obj)
                .iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect();
            assert_eq!(got, *want, "{obj}");
        }
    }

    #[test]
    fn root_required_and_combinators() {
        let schema = json!({"type": "object", "required": ["spec", "kind"],
            "properties": {"spec": {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}}});
        let got: Vec<String> = validate(&schema, &json!({"kind": "K"}))
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(got, vec!["spec: Required value".to_string()]);
        let got = validate(&schema, &json!({"spec": {"c": 1}}));
        assert_eq!(got.len(), 1);
        assert!(got[0]
            .message
            .ends_with("must validate at least one schema (anyOf)"));
        assert!(validate(&schema, &json!({"spec": {"b": 1}})).is_empty());
    }
}
