//! JSON patch (RFC 6902) with the behaviour of evanphx/json-patch v4.12, the
//! library kube-apiserver v1.24 applies it with. Quirks kept on purpose:
//! negative array indices count from the end, `replace` of a missing object
//! key sets it, `copy` from a missing object key copies `null`, a missing
//! `value` reads as `null`, and `test` of an absent or null target passes
//! when the expected value is `null`.

use serde_json::{Map, Value};

use super::{json_type_name, PatchError};

/// The server refuses JSON patches with more operations (413).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10000;

/// Applies a JSON patch document (`ops` must be an array of operation
/// objects; `null` is an empty patch).
pub fn json_patch(original: &Value, ops: &Value) -> Result<Value, PatchError> {
    let ops = match ops {
        Value::Null => return Ok(original.clone()),
        Value::Array(a) => a,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_type_name(other)
            )))
        }
    };
    if let Some(bad) = ops.iter().find(|op| !(op.is_object() || op.is_null())) {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_type_name(bad)
        )));
    }
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut doc = original.clone();
    let empty = Map::new();
    for op in ops {
        let op = op.as_object().unwrap_or(&empty);
        apply_op(&mut doc, op)?;
    }
    Ok(doc)
}

fn apply_op(doc: &mut Value, op: &Map<String, Value>) -> Result<(), PatchError> {
    // A missing or non-string "op" reads as "unknown".
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    match kind {
        "add" => {
            let path = string_field(op, "path")?;
            let value = op.get("value").cloned().unwrap_or(Value::Null);
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "add operation does not apply: doc is missing path: \"{path}\""
                ))
            })?;
            con_add(con, &key, value)
        }
        "remove" => {
            let path = string_field(op, "path")?;
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "remove operation does not apply: doc is missing path: \"{path}\""
                ))
            })?;
            con_remove(con, &key)
        }
        "replace" => {
            let path = string_field(op, "path")?;
            let value = op.get("value").cloned().unwrap_or(Value::Null);
            if path.is_empty() {
                if !(value.is_object() || value.is_array()) {
                    return Err(apply_err(
                        "replace operation value must be object or array".to_string(),
                    ));
                }
                *doc = value;
                return Ok(());
            }
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "replace operation does not apply: doc is missing path: {path}"
                ))
            })?;
            con_get(con, &key).map_err(|_| {
                apply_err(format!(
                    "replace operation does not apply: doc is missing key: {path}"
                ))
            })?;
            con_set(con, &key, value)
        }
        "move" => {
            let from = string_field(op, "from")?;
            let path = string_field(op, "path")?;
            let (con, key) = find_object(doc, &from).ok_or_else(|| {
                apply_err(format!(
                    "move operation does not apply: doc is missing from path: {from}"
                ))
            })?;
            let value = con_get(con, &key)
                .map_err(|e| apply_err(format!("error in move for path: '{key}': {e}")))?;
            con_remove(con, &key)?;
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "move operation does not apply: doc is missing destination path: {path}"
                ))
            })?;
            con_add(con, &key, value)
        }
        "copy" => {
            let from = string_field(op, "from")?;
            let path = string_field(op, "path")?;
            let (con, key) = find_object(doc, &from).ok_or_else(|| {
                apply_err(format!(
                    "copy operation does not apply: doc is missing from path: {from}"
                ))
            })?;
            let value = con_get(con, &key)
                .map_err(|e| apply_err(format!("error in copy for from: '{from}': {e}")))?;
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "copy operation does not apply: doc is missing destination path: {path}"
                ))
            })?;
            con_add(con, &key, value)
        }
        "test" => {
            let path = string_field(op, "path")?;
            let expected = op.get("value").unwrap_or(&Value::Null);
            let failed = || PatchError::TestFailed { path: path.clone() };
            if path.is_empty() {
                return if &*doc == expected {
                    Ok(())
                } else {
                    Err(failed())
                };
            }
            let (con, key) = find_object(doc, &path).ok_or_else(|| {
                apply_err(format!(
                    "test operation does not apply: is missing path: {path}"
                ))
            })?;
            let actual = con_get(con, &key)
                .map_err(|e| apply_err(format!("error in test for path: '{path}': {e}")))?;
            if actual == *expected {
                Ok(())
            } else {
                Err(failed())
            }
        }
        other => Err(apply_err(format!("Unexpected kind: {other}"))),
    }
}

fn apply_err(message: String) -> PatchError {
    PatchError::Apply(message)
}

fn string_field(op: &Map<String, Value>, name: &str) -> Result<String, PatchError> {
    match op.get(name) {
        None | Some(Value::Null) => Err(apply_err(format!("operation missing {name} field"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(apply_err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_type_name(other)
        ))),
    }
}

/// RFC 6901 unescaping: `~1` is `/`, `~0` is `~` (in one left-to-right pass).
fn decode_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                    continue;
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// `strconv.Atoi`: optional sign, decimal digits.
fn atoi(key: &str) -> Result<i64, String> {
    key.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing \"{key}\": invalid syntax"))
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}")
}

/// Resolves a (possibly negative) index for reading or replacing.
fn existing_index(len: usize, key: &str) -> Result<usize, String> {
    let mut idx = atoi(key)?;
    let len = len as i64;
    if idx < 0 {
        if idx < -len {
            return Err(invalid_index(idx));
        }
        idx += len;
    }
    if idx >= len {
        return Err(invalid_index(idx));
    }
    Ok(idx as usize)
}

/// The container holding the last path segment, and that segment decoded.
/// Like evanphx, whatever precedes the first `/` is ignored and "" has no
/// parent.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let parts = &split[1..split.len() - 1];
    let key = decode_key(split[split.len() - 1]);
    let mut cur = doc;
    for part in parts {
        let part = decode_key(part);
        let next = match cur {
            Value::Object(m) => m.get_mut(&part)?,
            Value::Array(a) => {
                let idx = existing_index(a.len(), &part).ok()?;
                a.get_mut(idx)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    if cur.is_object() || cur.is_array() {
        Some((cur, key))
    } else {
        None
    }
}

/// Reads a member; a missing object key reads as null (evanphx v4).
fn con_get(con: &Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(m) => Ok(m.get(key).cloned().unwrap_or(Value::Null)),
        Value::Array(a) => {
            let idx = existing_index(a.len(), key)?;
            Ok(a.get(idx).cloned().unwrap_or(Value::Null))
        }
        _ => Err("not a container".to_string()),
    }
}

fn con_add(con: &mut Value, key: &str, value: Value) -> Result<(), PatchError> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(value);
                return Ok(());
            }
            let mut idx = atoi(key).map_err(|e| {
                apply_err(format!("value was not a proper array index: '{key}': {e}"))
            })?;
            let size = a.len() as i64 + 1;
            if idx >= size {
                return Err(apply_err(invalid_index(idx)));
            }
            if idx < 0 {
                if idx < -size {
                    return Err(apply_err(invalid_index(idx)));
                }
                idx += size;
            }
            a.insert(idx as usize, value);
            Ok(())
        }
        _ => Err(apply_err("not a container".to_string())),
    }
}

fn con_set(con: &mut Value, key: &str, value: Value) -> Result<(), PatchError> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = existing_index(a.len(), key).map_err(apply_err)?;
            a[idx] = value;
            Ok(())
        }
        _ => Err(apply_err("not a container".to_string())),
    }
}

fn con_remove(con: &mut Value, key: &str) -> Result<(), PatchError> {
    match con {
        Value::Object(m) => {
            if m.shift_remove(key).is_none() {
                return Err(apply_err(format!(
                    "Unable to remove nonexistent key: {key}: missing value"
                )));
            }
            Ok(())
        }
        Value::Array(a) => {
            let idx = existing_index(a.len(), key).map_err(apply_err)?;
            a.remove(idx);
            Ok(())
        }
        _ => Err(apply_err("not a container".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(doc: Value, ops: Value) -> Result<Value, PatchError> {
        json_patch(&doc, &ops)
    }

    #[test]
    fn rfc6902_appendix_a_and_more() {
        let ok: Vec<(Value, Value, Value)> = vec![
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}]),
                json!({"foo": "bar", "baz": "qux"}),
            ),
            (
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
                json!({"foo": ["bar", "qux", "baz"]}),
            ),
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}]),
                json!({"foo": "bar"}),
            ),
            (
                json!({"foo": ["bar", "qux", "baz"]}),
                json!([{"op": "remove", "path": "/foo/1"}]),
                json!({"foo": ["bar", "baz"]}),
            ),
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
                json!({"baz": "boo", "foo": "bar"}),
            ),
            (
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
                json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
            ),
            (
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
                json!({"foo": ["all", "cows", "eat", "grass"]}),
            ),
            (
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
                json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]),
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            ),
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
                json!({"foo": "bar", "child": {"grandchild": {}}}),
            ),
            (
                json!({"foo": ["bar"]}),
                json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
                json!({"foo": ["bar", ["abc", "def"]]}),
            ),
            (
                json!({"/": 1, "m~n": 2}),
                json!([{"op": "replace", "path": "/~1", "value": 3}, {"op": "remove", "path": "/m~0n"}]),
                json!({"/": 3}),
            ),
            (
                json!({"a": {"b": 1}}),
                json!([{"op": "copy", "from": "/a", "path": "/c"}]),
                json!({"a": {"b": 1}, "c": {"b": 1}}),
            ),
            // evanphx v4 quirks.
            (
                json!({"a": [1, 2, 3]}),
                json!([{"op": "remove", "path": "/a/-1"}]),
                json!({"a": [1, 2]}),
            ),
            (
                json!({"a": [1, 2]}),
                json!([{"op": "add", "path": "/a/-1", "value": 9}]),
                json!({"a": [1, 2, 9]}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "/b", "value": 2}]),
                json!({"a": 1, "b": 2}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "add", "path": "/b"}]),
                json!({"a": 1, "b": null}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "test", "path": "/missing", "value": null}]),
                json!({"a": 1}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": {"b": 2}}]),
                json!({"b": 2}),
            ),
            (json!({"a": 1}), json!(null), json!({"a": 1})),
            (json!({"a": 1}), json!([]), json!({"a": 1})),
            // Adding an existing key replaces it in place.
            (
                json!({"a": 1, "b": 2}),
                json!([{"op": "add", "path": "/a", "value": 3}]),
                json!({"a": 3, "b": 2}),
            ),
        ];
        for (doc, ops, want) in ok {
            let got =
                apply(doc.clone(), ops.clone()).unwrap_or_else(|e| panic!("{doc} {ops}: {e}"));
            assert_eq!(got, want, "{doc} {ops}");
        }
    }

    #[test]
    fn failures_and_their_classes() {
        let cases: Vec<(Value, Value, u16, bool)> = vec![
            // Recorded json-patch-test-failure-422.
            (
                json!({"data": {"a": "1"}}),
                json!([{"op": "test", "path": "/data/a", "value": "zzz"}]),
                422,
                true,
            ),
            (
                json!({"a": 1}),
                json!([{"op": "test", "path": "/a", "value": 1.0}]),
                422,
                true,
            ),
            (
                json!({"a": 1}),
                json!([{"op": "test", "path": "/b", "value": 1}]),
                422,
                true,
            ),
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
                422,
                false,
            ),
            (
                json!({"foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}]),
                422,
                false,
            ),
            (
                json!({"a": [1]}),
                json!([{"op": "add", "path": "/a/5", "value": 1}]),
                422,
                false,
            ),
            (
                json!({"a": [1]}),
                json!([{"op": "replace", "path": "/a/1", "value": 1}]),
                422,
                false,
            ),
            (
                json!({"a": [1]}),
                json!([{"op": "remove", "path": "/a/x"}]),
                422,
                false,
            ),
            (
                json!({"a": 1}),
                json!([{"op": "move", "from": "/b", "path": "/c"}]),
                422,
                false,
            ),
            (
                json!({"a": 1}),
                json!([{"op": "frobnicate", "path": "/a"}]),
                422,
                false,
            ),
            (json!({"a": 1}), json!([{"path": "/a"}]), 422, false),
            (
                json!({"a": 1}),
                json!([{"op": "add", "value": 1}]),
                422,
                false,
            ),
            (json!({"a": 1}), json!([null]), 422, false),
            (
                json!({"a": 1}),
                json!([{"op": "add", "path": "", "value": 1}]),
                422,
                false,
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": 1}]),
                422,
                false,
            ),
            (
                json!({"a": {"b": 1}}),
                json!([{"op": "add", "path": "/a/b/c", "value": 1}]),
                422,
                false,
            ),
            (json!({"a": 1}), json!({"op": "add"}), 400, false),
            (json!({"a": 1}), json!([1]), 400, false),
            (json!({"a": 1}), json!("x"), 400, false),
        ];
        for (doc, ops, code, is_test) in cases {
            let e = apply(doc.clone(), ops.clone()).unwrap_err();
            assert_eq!(e.status_code(), code, "{doc} {ops}: {e}");
            assert_eq!(e.is_test_failure(), is_test, "{doc} {ops}: {e}");
        }
        assert_eq!(
            apply(json!({}), json!({"op": "add"}))
                .unwrap_err()
                .to_string(),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        );
    }

    #[test]
    fn failed_patch_leaves_nothing_half_applied() {
        let doc = json!({"a": 1});
        let e = apply(
            doc.clone(),
            json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]),
        );
        assert!(e.unwrap_err().is_test_failure());
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn too_many_operations() {
        let ops: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
            .collect();
        let e = apply(json!({"a": 1}), Value::Array(ops)).unwrap_err();
        assert_eq!(
            e,
            PatchError::TooManyOperations {
                max: 10000,
                got: 10001
            }
        );
        assert_eq!(e.status_code(), 413);
    }

    #[test]
    fn pointer_decoding() {
        assert_eq!(decode_key("a~1b"), "a/b");
        assert_eq!(decode_key("m~0n"), "m~n");
        assert_eq!(decode_key("~01"), "~1");
        assert_eq!(decode_key("~2"), "~2");
    }
}
