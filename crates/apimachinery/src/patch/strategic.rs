//! Strategic merge patch, the server-side half of k8s.io/apimachinery
//! `pkg/util/strategicpatch` (`StrategicMergeMapPatch` with
//! `MergeParallelList` and `IgnoreUnmatchedNulls`), driven by the tag table
//! in `schema.rs` instead of reflection.
//!
//! One adaptation: the real server decodes the merged map into the typed
//! object, which silently drops directive keys (`$patch`, `$retainKeys`,
//! `$setElementOrder/..`, `$deleteFromPrimitiveList/..`) and nulls left in
//! parts copied verbatim from the patch. We store JSON as is, so such parts
//! are cleaned here instead (see `sanitize`).

use serde_json::{Map, Value};

use super::schema::{self, FieldMeta, Schema, Strategy};
use super::{json_type_name, PatchError};

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: &str =
    "invalid patch format of setElementOrder list";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

type JsonMap = Map<String, Value>;

/// Applies a strategic merge patch to an object of `kind` (e.g. "Pod").
///
/// Lists tagged `patchStrategy:"merge"` in the Kubernetes API types merge
/// by their `patchMergeKey` (or as sets for primitives); other lists are
/// replaced; maps merge recursively; `null` deletes a key. Supports the
/// `$patch: replace|delete` (and the rejected `merge` in lists),
/// `$retainKeys`, `$setElementOrder/<list>` and
/// `$deleteFromPrimitiveList/<list>` directives. Kinds without tagged
/// fields (and unknown kinds) only get ObjectMeta's tags, i.e. JSON merge
/// patch semantics for everything else.
pub fn strategic_merge(kind: &str, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(m) => m.clone(),
        // json.Unmarshal of `null` into a map leaves it empty.
        Value::Null => JsonMap::new(),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type_name(other)
            )))
        }
    };
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => JsonMap::new(),
        _ => return Err(PatchError::Internal("invalid JSON document".to_string())),
    };
    merge_map(original, patch, Some(schema::for_kind(kind))).map(Value::Object)
}

// ---------------------------------------------------------------------------
// Go value semantics
// ---------------------------------------------------------------------------

/// The Go type a value decodes to (apimachinery's JSON decoding turns
/// integral numbers into int64 and the rest into float64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

fn go_type(v: &Value) -> GoType {
    match v {
        Value::Null => GoType::Nil,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if n.is_i64() => GoType::Int,
        Value::Number(_) => GoType::Float,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::Slice,
        Value::Object(_) => GoType::Map,
    }
}

fn go_type_name(t: GoType) -> &'static str {
    match t {
        GoType::Nil => "%!s(<nil>)",
        GoType::Bool => "bool",
        GoType::Int => "int64",
        GoType::Float => "float64",
        GoType::String => "string",
        GoType::Slice => "[]interface {}",
        GoType::Map => "map[string]interface {}",
    }
}

/// Go's `==` on two `interface{}` values. Comparing two maps or slices
/// panics in Go; here they are simply unequal.
fn go_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => a == b,
    }
}

/// Go's `%v` of a decoded JSON value (maps print with sorted keys).
fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_fmt(&m[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn err_bad_arg_type(expected: GoType, actual: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a {}, but received a {}",
        go_type_name(expected),
        go_type_name(go_type(actual))
    ))
}

fn err_no_merge_key(m: &JsonMap, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt(&Value::Object(m.clone()))
    ))
}

fn err_bad_patch_type(t: &Value, m: &JsonMap) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(t),
        go_fmt(&Value::Object(m.clone()))
    ))
}

fn take_map(v: &mut Value) -> JsonMap {
    match v.take() {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

fn take_list(v: &mut Value) -> Vec<Value> {
    match v.take() {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Cleaning values copied from the patch
// ---------------------------------------------------------------------------

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Drops directives and null map values from a value copied from the
/// patch; `None` when the value is itself a `$patch: delete`.
fn sanitize(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
                return None;
            }
            Some(Value::Object(sanitize_map(m, "")))
        }
        Value::Array(a) => Some(Value::Array(sanitize_list(a, ""))),
        other => Some(other),
    }
}

/// `keep` names a key kept even when null (a list's merge key, which the
/// ordering code requires on every element).
fn sanitize_map(m: JsonMap, keep: &str) -> JsonMap {
    let mut out = JsonMap::new();
    for (k, v) in m {
        if is_directive_key(&k) {
            continue;
        }
        if v.is_null() {
            if !keep.is_empty() && k == keep {
                out.insert(k, v);
            }
            continue;
        }
        if let Some(v) = sanitize(v) {
            out.insert(k, v);
        }
    }
    out
}

/// Drops directive elements (`{"$patch": "replace"}`, `$patch: delete`
/// entries) and cleans the others.
fn sanitize_list(a: Vec<Value>, merge_key: &str) -> Vec<Value> {
    a.into_iter()
        .filter_map(|v| match v {
            Value::Object(m) => {
                if let Some(d) = m.get(DIRECTIVE_MARKER) {
                    if d.as_str() == Some(DELETE_DIRECTIVE) || m.len() == 1 {
                        return None;
                    }
                }
                Some(Value::Object(sanitize_map(m, merge_key)))
            }
            other => sanitize(other),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------

fn merge_map(
    mut original: JsonMap,
    mut patch: JsonMap,
    schema: Option<&'static Schema>,
) -> Result<JsonMap, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER).cloned() {
        return handle_directive_in_merge_map(&directive, patch);
    }
    apply_retain_keys_directive(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, schema)?;

    for (k, patch_v) in patch {
        let (is_delete_list, k) = if k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (true, extract_key(&k, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?)
        } else {
            (false, k)
        };

        // null deletes; unmatched nulls are ignored.
        if patch_v.is_null() {
            original.shift_remove(&k);
            continue;
        }

        if !original.contains_key(&k) {
            if !is_delete_list {
                if let Some(v) = sanitize(patch_v) {
                    original.insert(k, v);
                }
            }
            continue;
        }
        let Some(orig_v) = original.get_mut(&k) else {
            continue;
        };

        if go_type(orig_v) != go_type(&patch_v) {
            if !is_delete_list {
                match sanitize(patch_v) {
                    Some(v) => *orig_v = v,
                    None => {
                        original.shift_remove(&k);
                    }
                }
            }
            continue;
        }

        let meta = schema::lookup(schema, &k);
        match patch_v {
            Value::Object(pm) => {
                let om = take_map(orig_v);
                *orig_v = Value::Object(merge_map_handler(om, pm, meta)?);
            }
            Value::Array(pa) => {
                let oa = take_list(orig_v);
                *orig_v = Value::Array(merge_slice_handler(oa, pa, meta, is_delete_list)?);
            }
            other => *orig_v = other,
        }
    }
    Ok(original)
}

fn handle_directive_in_merge_map(
    directive: &Value,
    mut patch: JsonMap,
) -> Result<JsonMap, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => {
            patch.shift_remove(DIRECTIVE_MARKER);
            Ok(sanitize_map(patch, ""))
        }
        Some(DELETE_DIRECTIVE) => Ok(JsonMap::new()),
        _ => Err(err_bad_patch_type(directive, &patch)),
    }
}

fn merge_map_handler(
    original: JsonMap,
    patch: JsonMap,
    meta: FieldMeta,
) -> Result<JsonMap, PatchError> {
    if meta.strategy == Strategy::Replace {
        Ok(sanitize_map(patch, ""))
    } else {
        merge_map(original, patch, meta.schema)
    }
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if meta.strategy == Strategy::Merge {
        merge_slice(original, patch, meta.schema, meta.merge_key, is_delete_list)
    } else {
        Ok(sanitize_list(patch, ""))
    }
}

/// `prefix/key` -> `key`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(PatchError::BadRequest(
            if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX {
                ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST
            } else {
                ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST
            }
            .to_string(),
        )),
    }
}

/// `$retainKeys`: clears live keys missing from the list, after checking
/// that the patch sets nothing outside it.
fn apply_retain_keys_directive(
    original: &mut JsonMap,
    patch: &mut JsonMap,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(list) = retain else {
        return Err(PatchError::BadRequest(
            ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS.to_string(),
        ));
    };
    let retained = |k: &str| list.iter().any(|x| x.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::BadRequest(
                ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS.to_string(),
            ));
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the named list now and orders the
/// result by the directive, then by the patch, then by the live list.
fn merge_patch_into_original(
    original: &mut JsonMap,
    patch: &mut JsonMap,
    schema: Option<&'static Schema>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(order_v) = patch.shift_remove(&key) else {
            continue;
        };
        let order = match order_v {
            Value::Array(a) => a,
            other => return Err(err_bad_arg_type(GoType::Slice, &other)),
        };
        let original_key = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = match original.get(&original_key) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type(GoType::Slice, other)),
        };
        let patch_list = match patch.get(&original_key) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type(GoType::Slice, other)),
        };
        let meta = schema::lookup(schema, &original_key);
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            meta.merge_key,
        )?;

        let original_field = original_list.clone().unwrap_or_default();
        let patch_field = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => sanitize_list(p, meta.merge_key),
            (Some(o), Some(p)) => merge_slice_handler(o, p, meta, false)?,
            (None, None) => continue,
        };

        let (patch_items, server_only) = if meta.merge_key.is_empty() {
            partition_primitives(merged, &order)
        } else {
            partition_maps(merged, &order, meta.merge_key)?
        };
        let kind = slice_element_type(&[&original_field, &patch_field])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &original_field,
            meta.merge_key,
            kind,
        )?;
        original.insert(original_key.clone(), Value::Array(both));
        patch.shift_remove(&original_key);
    }
    Ok(())
}

fn contains_directive_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(go_eq(left, right));
    }
    let l = left
        .as_object()
        .ok_or_else(|| err_bad_arg_type(GoType::Map, left))?;
    let r = right
        .as_object()
        .ok_or_else(|| err_bad_arg_type(GoType::Map, right))?;
    let lv = l
        .get(merge_key)
        .ok_or_else(|| err_no_merge_key(l, merge_key))?;
    let rv = r
        .get(merge_key)
        .ok_or_else(|| err_no_merge_key(r, merge_key))?;
    Ok(go_eq(lv, rv))
}

/// The patch list's items must appear in the `$setElementOrder` list, in
/// the same relative order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if contains_directive_marker(&non_delete[pi]) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_fmt(&Value::Array(patch_list.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------

/// The common element type of the lists (all elements must share one).
fn slice_element_type(slices: &[&[Value]]) -> Result<GoType, PatchError> {
    let mut prev: Option<GoType> = None;
    for s in slices {
        for v in s.iter() {
            let t = go_type(v);
            match prev {
                None => {
                    if t == GoType::Slice {
                        return Err(PatchError::Unprocessable(ERR_NO_LIST_OF_LISTS.to_string()));
                    }
                    if t == GoType::Nil {
                        return Err(PatchError::Internal(
                            "list elements must not be null".to_string(),
                        ));
                    }
                    prev = Some(t);
                }
                Some(p) if p != t => {
                    let all: Vec<Value> = slices.iter().map(|s| Value::Array(s.to_vec())).collect();
                    return Err(PatchError::Internal(format!(
                        "list element types are not identical: {}",
                        go_fmt(&Value::Array(all))
                    )));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or_else(|| PatchError::Internal("no elements in any of the given slices".to_string()))
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem_schema: Option<&'static Schema>,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_type(&[&original, &patch])?;
    if kind != GoType::Map {
        if is_delete_list {
            return Ok(delete_from_slice(original, &patch));
        }
        let server_order = original.clone();
        let mut both = original;
        both.extend(patch.iter().cloned());
        let merged = deduplicate_scalars(both);
        let (patch_items, server_only) = partition_primitives(merged, &patch);
        return normalize_element_order(patch_items, server_only, &patch, &server_order, "", kind);
    }
    if merge_key.is_empty() {
        return Err(PatchError::Internal(
            "cannot merge lists without merge key for type map".to_string(),
        ));
    }
    let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
    let server_order = original.clone();
    let merged = merge_slice_without_special_elements(original, &patch, merge_key, elem_schema)?;
    let (patch_items, server_only) = partition_maps(merged, &patch, merge_key)?;
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// Applies `$patch: delete` and `$patch: replace` elements; returns the
/// live list and the patch without them.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut without = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type(GoType::Map, &v));
        };
        match m.get(DIRECTIVE_MARKER) {
            None => without.push(v),
            Some(d) => match d.as_str() {
                Some(DELETE_DIRECTIVE) => match m.get(merge_key) {
                    Some(mv) => original = delete_matching_entries(original, merge_key, mv)?,
                    None => return Err(err_no_merge_key(m, merge_key)),
                },
                // Keep going to prune the other directive elements.
                Some(REPLACE_DIRECTIVE) => replace = true,
                Some(MERGE_DIRECTIVE) => {
                    return Err(PatchError::Internal(
                        "merging lists cannot yet be specified in the patch".to_string(),
                    ))
                }
                _ => return Err(err_bad_patch_type(d, m)),
            },
        }
    }
    if replace {
        return Ok((sanitize_list(without, merge_key), Vec::new()));
    }
    Ok((original, without))
}

fn find_map_in_slice(
    list: &[Value],
    key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let Some(m) = v.as_object() else {
            return Err(PatchError::Internal(format!(
                "value for key {i} is not a map."
            )));
        };
        if m.get(key).is_some_and(|x| go_eq(x, value)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn delete_matching_entries(
    mut original: Vec<Value>,
    key: &str,
    value: &Value,
) -> Result<Vec<Value>, PatchError> {
    while let Some(i) = find_map_in_slice(&original, key, value)? {
        original.remove(i);
    }
    Ok(original)
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem_schema: Option<&'static Schema>,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type(GoType::Map, v));
        };
        let Some(mv) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        match find_map_in_slice(&original, merge_key, mv)? {
            Some(i) => {
                let om = take_map(&mut original[i]);
                original[i] = Value::Object(merge_map(om, m.clone(), elem_schema)?);
            }
            None => original.push(Value::Object(sanitize_map(m.clone(), merge_key))),
        }
    }
    Ok(original)
}

fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|v| !to_delete.iter().any(|d| go_eq(v, d)))
        .collect()
}

/// Go's in-place deduplication (which moves the last element into a
/// duplicate's slot); the order is normalized afterwards anyway.
fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut length = s.len();
    let mut i = 0;
    while i + 1 < length {
        let mut j = i + 1;
        while j < length {
            if go_eq(&s[i], &s[j]) {
                s[j] = s[length - 1].clone();
                length -= 1;
                s.truncate(length);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    s
}

fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter()
        .partition(|v| by.iter().any(|b| go_eq(v, b)))
}

fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut in_patch = Vec::with_capacity(list.len());
    let mut server_only = Vec::with_capacity(list.len());
    for v in list {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type(GoType::Map, &v));
        };
        let Some(mv) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        if find_map_in_slice(by, merge_key, mv)?.is_some() {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

fn extract_to_delete_items(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in list {
        let Some(m) = v.as_object() else {
            return Err(err_bad_arg_type(GoType::Map, &v));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

fn validate_merge_key_in_lists(merge_key: &str, lists: &[&[Value]]) -> Result<(), PatchError> {
    for list in lists {
        for item in list.iter() {
            let Some(m) = item.as_object() else {
                return Err(err_bad_arg_type(GoType::Map, item));
            };
            if !m.contains_key(merge_key) {
                return Err(err_no_merge_key(m, merge_key));
            }
        }
    }
    Ok(())
}

/// Position of `value` in `list`, by merge key for maps.
fn index_of(list: &[Value], value: &Value, merge_key: &str, kind: GoType) -> Option<usize> {
    let key_of = |v: &'_ Value| -> Option<Value> {
        if kind == GoType::Map {
            v.as_object().and_then(|m| m.get(merge_key)).cloned()
        } else {
            Some(v.clone())
        }
    };
    let want = key_of(value);
    list.iter().position(|v| match (&want, key_of(v)) {
        (None, None) => true,
        (Some(a), Some(b)) => go_eq(a, &b),
        _ => false,
    })
}

/// Orders the patch items by the patch, the server-only items by the live
/// list, then interleaves them.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete) = if kind == GoType::Map {
        validate_merge_key_in_lists(merge_key, &[&to_sort, order])?;
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    // The Go comparator is not a strict order when an item is missing from
    // `order`; porting Go's stable sort keeps even that case identical.
    go_stable_sort(&mut to_sort, &|a: &Value, b: &Value| match (
        index_of(order, a, merge_key, kind),
        index_of(order, b, merge_key, kind),
    ) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// Inserts the server-only items (`left`) among the patch items (`right`),
/// keeping both relative orders, by their positions in the live list.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Vec<Value> {
    let size = left.len() + right.len();
    let mut out = Vec::with_capacity(size);
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    for _ in 0..size {
        let take_left = match (left.peek(), right.peek()) {
            (Some(_), None) => true,
            (None, _) => false,
            (Some(l), Some(r)) => {
                match (
                    index_of(server_order, l, merge_key, kind),
                    index_of(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

// ---------------------------------------------------------------------------
// Go's sort.SliceStable (insertion sort on blocks of 20, then SymMerge)
// ---------------------------------------------------------------------------

type Less<'a, T> = &'a dyn Fn(&T, &T) -> bool;

fn go_stable_sort<T>(data: &mut [T], less: Less<'_, T>) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: Less<'_, T>) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: Less<'_, T>) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i - 1 {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    // Shadows schema::Strategy brought in by `super::*`.
    use proptest::strategy::Strategy;
    use serde_json::json;

    fn smp(kind: &str, original: Value, patch: Value) -> Result<Value, PatchError> {
        strategic_merge(kind, &original, &patch)
    }

    #[test]
    fn merge_table() {
        let cases: Vec<(&str, &str, Value, Value, Value)> = vec![
            (
                "recorded strategic-merge-patch-200: labels added to a ConfigMap",
                "ConfigMap",
                json!({"metadata": {"name": "cm1"}, "data": {"a": "1", "b": "2"}}),
                json!({"metadata": {"labels": {"x": "y"}}}),
                json!({"metadata": {"name": "cm1", "labels": {"x": "y"}}, "data": {"a": "1", "b": "2"}}),
            ),
            (
                "null deletes, unmatched null ignored",
                "ConfigMap",
                json!({"data": {"a": "1", "b": "2"}}),
                json!({"data": {"a": null, "c": null}}),
                json!({"data": {"b": "2"}}),
            ),
            (
                "nulls inside a new map are dropped",
                "ConfigMap",
                json!({"metadata": {"name": "x"}}),
                json!({"metadata": {"annotations": {"a": null, "b": "1"}}}),
                json!({"metadata": {"name": "x", "annotations": {"b": "1"}}}),
            ),
            (
                "containers merge by name; new ones follow the patch order",
                "Pod",
                json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}),
                json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}),
                json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}),
            ),
            (
                "nested merge keys: env by name, ports by containerPort",
                "Pod",
                json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "3"}], "ports": [{"containerPort": 80, "name": "http"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "3"}], "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]}}),
            ),
            (
                "$patch: delete removes a list element",
                "Pod",
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
                json!({"spec": {"containers": [{"name": "b"}]}}),
            ),
            (
                "$patch: replace on a list",
                "Pod",
                json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}}),
                json!({"spec": {"containers": [{"name": "c"}, {"$patch": "replace"}]}}),
                json!({"spec": {"containers": [{"name": "c"}]}}),
            ),
            (
                "$patch: replace on a map",
                "Pod",
                json!({"spec": {"nodeSelector": {"a": "1", "b": "2"}}}),
                json!({"spec": {"nodeSelector": {"$patch": "replace", "c": "3"}}}),
                json!({"spec": {"nodeSelector": {"c": "3"}}}),
            ),
            (
                "$patch: delete on a map empties it",
                "Pod",
                json!({"spec": {"nodeSelector": {"a": "1"}, "x": 1}}),
                json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
                json!({"spec": {"nodeSelector": {}, "x": 1}}),
            ),
            (
                "finalizers merge as a set",
                "Pod",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["c", "a"]}}),
                json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
            ),
            (
                "$deleteFromPrimitiveList",
                "Pod",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"finalizers": ["a", "c"]}}),
            ),
            (
                "$deleteFromPrimitiveList on a missing list adds nothing",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"name": "p"}}),
            ),
            (
                "ownerReferences merge by uid",
                "ReplicaSet",
                json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}),
                // New items go first when the live list cannot place them.
                json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}]}}),
            ),
            (
                "untagged lists (tolerations) are replaced",
                "Pod",
                json!({"spec": {"tolerations": [{"key": "a"}], "containers": [{"name": "c"}]}}),
                json!({"spec": {"tolerations": [{"key": "b"}]}}),
                json!({"spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "c"}]}}),
            ),
            (
                "unknown kinds replace lists",
                "Frobnicator",
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"containers": [{"name": "b"}]}}),
                json!({"spec": {"containers": [{"name": "b"}]}}),
            ),
            (
                "Deployment pod template env merges",
                "Deployment",
                json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]}}}}),
                json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}),
                json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}]}}}}),
            ),
            (
                "Service ports merge by port",
                "Service",
                json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}),
                json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
                json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}]}}),
            ),
            (
                "types differ: the patch value wins",
                "ConfigMap",
                json!({"spec": {"x": "string"}}),
                json!({"spec": {"x": {"a": 1, "b": null}}}),
                json!({"spec": {"x": {"a": 1}}}),
            ),
            (
                "$retainKeys clears keys outside the list",
                "Deployment",
                json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
                json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
                json!({"spec": {"strategy": {"type": "Recreate"}}}),
            ),
            (
                "directives inside a new subtree are not stored",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}, {"name": "b"}], "$setElementOrder/containers": [{"name": "b"}]}}),
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "b"}]}}),
            ),
            (
                "empty patch",
                "Pod",
                json!({"a": 1}),
                json!({}),
                json!({"a": 1}),
            ),
            (
                "null patch",
                "Pod",
                json!({"a": 1}),
                Value::Null,
                json!({"a": 1}),
            ),
        ];
        for (name, kind, orig, patch, want) in cases {
            let got = smp(kind, orig, patch).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, want, "{name}");
            // List order matters; compare the serialized lists too.
            assert_eq!(got.to_string().len(), want.to_string().len(), "{name}");
        }
    }

    #[test]
    fn list_order_is_exact() {
        let got = smp(
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
            json!({"spec": {"containers": [{"name": "d"}, {"name": "b", "image": "x"}]}}),
        )
        .unwrap();
        let names: Vec<&str> = got["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["d", "a", "b", "c"]);
    }

    #[test]
    fn set_element_order() {
        let cases: Vec<(Value, Value, Vec<&str>)> = vec![
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}),
                vec!["c", "a", "b"],
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "new"}, {"name": "a"}], "containers": [{"name": "new", "image": "i"}]}}),
                vec!["b", "new", "a"],
            ),
            (
                // Items not named by the directive keep their live position.
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}]}}),
                vec!["b", "c", "a"],
            ),
        ];
        for (orig, patch, want) in cases {
            let got = smp("Pod", orig.clone(), patch.clone()).unwrap();
            let names: Vec<&str> = got["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, want, "{orig} {patch}");
            assert!(got["spec"].get("$setElementOrder/containers").is_none());
        }
        let got = smp(
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}}),
        )
        .unwrap();
        assert_eq!(got, json!({"metadata": {"finalizers": ["c", "b", "a"]}}));
    }

    #[test]
    fn kubelet_node_status_patch() {
        let node = json!({
            "metadata": {"name": "hollow-node-0"},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "t0"},
                    {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": "t0"},
                    {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": "t0"},
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": "t0"}
                ],
                "addresses": [{"type": "InternalIP", "address": "192.0.2.2"}, {"type": "Hostname", "address": "hollow-node-0"}],
                "images": [{"names": ["a"]}]
            }
        });
        let patch = json!({"status": {
            "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "DiskPressure"}, {"type": "PIDPressure"}, {"type": "Ready"}],
            "conditions": [{"type": "MemoryPressure", "lastHeartbeatTime": "t1"}, {"type": "Ready", "lastHeartbeatTime": "t1"}],
            "images": [{"names": ["b"]}]
        }});
        let got = smp("Node", node, patch).unwrap();
        let conds = got["status"]["conditions"].as_array().unwrap();
        let types: Vec<&str> = conds.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        assert_eq!(conds[0]["lastHeartbeatTime"], "t1");
        assert_eq!(conds[1]["lastHeartbeatTime"], "t0");
        assert_eq!(
            conds[3],
            json!({"type": "Ready", "status": "True", "lastHeartbeatTime": "t1"})
        );
        assert_eq!(got["status"]["images"], json!([{"names": ["b"]}]));
        assert_eq!(got["status"]["addresses"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn pod_status_patch_merges_conditions_replaces_container_statuses() {
        let pod = json!({"status": {
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0}]
        }});
        let patch = json!({"status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": true}],
            "podIP": "192.168.192.168", "phase": "Running"
        }});
        let got = smp("Pod", pod, patch).unwrap();
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}])
        );
        assert_eq!(
            got["status"]["containerStatuses"],
            json!([{"name": "a", "ready": true}])
        );
        assert_eq!(got["status"]["phase"], "Running");
    }

    #[test]
    fn errors_and_their_status() {
        let cases: Vec<(Value, Value, u16, &str)> = vec![
            (json!({}), json!([1]), 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
            (json!({}), json!("x"), 400, "json: cannot unmarshal string into Go value of type map[string]interface {}"),
            (
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"containers": [{"name": "b", "$patch": "merge"}]}}),
                500,
                "merging lists cannot yet be specified in the patch",
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"containers": [{"image": "x"}]}}),
                500,
                "map: map[image:x] does not contain declared merge key: name",
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                500,
                "map: map[$patch:delete] does not contain declared merge key: name",
            ),
            (json!({"spec": {}}), json!({"spec": {"$patch": "frob"}}), 500, "unknown patch type: frob in map: map[$patch:frob]"),
            (json!({"spec": {}}), json!({"spec": {"$patch": "merge"}}), 500, "unknown patch type: merge in map: map[$patch:merge]"),
            (
                json!({"spec": {"strategy": {"type": "A"}}}),
                json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
                400,
                "invalid patch format of retainKeys",
            ),
            (json!({"spec": {"x": {}}}), json!({"spec": {"x": {"$retainKeys": "type"}}}), 400, "invalid patch format of retainKeys"),
            (
                json!({"metadata": {"finalizers": [["a"]]}}),
                json!({"metadata": {"finalizers": [["b"]]}}),
                422,
                "lists of lists are not supported",
            ),
            (
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": [1]}}),
                500,
                "list element types are not identical: [[a] [1]]",
            ),
            (
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
                400,
                "invalid patch format of primitive list",
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b"}]}}),
                500,
                "The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n",
            ),
            (
                json!({"spec": {"containers": [{"image": "no-name"}]}}),
                json!({"spec": {"containers": [{"name": "b"}]}}),
                500,
                "map: map[image:no-name] does not contain declared merge key: name",
            ),
        ];
        for (orig, patch, code, msg) in cases {
            // spec.containers is Pod's; spec.strategy is Deployment's.
            let kind = if orig.pointer("/spec/strategy").is_some() {
                "Deployment"
            } else {
                "Pod"
            };
            let e = match smp(kind, orig.clone(), patch.clone()) {
                Ok(v) => panic!("{orig} {patch} gave {v}"),
                Err(e) => e,
            };
            assert_eq!(
                (e.status_code(), e.to_string().as_str()),
                (code, msg),
                "{orig} {patch}"
            );
        }
    }

    #[test]
    fn go_stable_sort_matches_a_stable_sort_for_consistent_orders() {
        for n in [0usize, 1, 2, 19, 20, 21, 45, 100] {
            let mut v: Vec<(u32, usize)> = (0..n).map(|i| (((i * 7919) % 13) as u32, i)).collect();
            let mut want = v.clone();
            want.sort_by_key(|x| x.0);
            go_stable_sort(&mut v, &|a: &(u32, usize), b: &(u32, usize)| a.0 < b.0);
            assert_eq!(v, want, "n={n}");
        }
    }

    #[test]
    fn dedup_like_go() {
        let got = deduplicate_scalars(vec![json!("a"), json!("b"), json!("a"), json!("c")]);
        assert_eq!(got, vec![json!("a"), json!("b"), json!("c")]);
        let got = deduplicate_scalars(vec![json!(1), json!(1), json!(1)]);
        assert_eq!(got, vec![json!(1)]);
        assert!(deduplicate_scalars(vec![]).is_empty());
    }

    fn arb_containers() -> impl Strategy<Value = Vec<Value>> {
        prop::collection::btree_map(
            "[a-f]",
            ("[x-z]{0,2}", prop::collection::btree_set("[A-D]", 0..3)),
            0..5,
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (image, envs))| {
                    let env: Vec<Value> = envs
                        .into_iter()
                        .map(|e| json!({"name": e, "value": image.clone()}))
                        .collect();
                    json!({"name": name, "image": image, "env": env})
                })
                .collect()
        })
    }

    fn arb_order() -> impl Strategy<Value = Vec<Value>> {
        (arb_containers(), any::<u64>()).prop_map(|(mut c, seed)| {
            // Shuffle deterministically so names come in any order.
            let n = c.len();
            for i in 0..n {
                let j = ((seed >> (i % 60)) as usize).wrapping_add(i * 31) % n;
                c.swap(i, j);
            }
            c
        })
    }

    proptest! {
        #[test]
        fn merging_by_key_is_idempotent_and_complete(orig in arb_order(), patch in arb_order(), finalizers in prop::collection::vec("[a-d]", 0..4)) {
            let original = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": orig}});
            let patch = json!({"metadata": {"finalizers": finalizers}, "spec": {"containers": patch}});
            let once = strategic_merge("Pod", &original, &patch).unwrap();
            let twice = strategic_merge("Pod", &once, &patch).unwrap();
            prop_assert_eq!(&twice, &once);
            prop_assert_eq!(twice.to_string(), once.to_string());

            let merged = once["spec"]["containers"].as_array().unwrap();
            let names: Vec<&str> = merged.iter().map(|c| c["name"].as_str().unwrap()).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), names.len());
            for c in original["spec"]["containers"].as_array().unwrap().iter().chain(patch["spec"]["containers"].as_array().unwrap()) {
                prop_assert!(names.contains(&c["name"].as_str().unwrap()));
            }
            // Patched fields win.
            for p in patch["spec"]["containers"].as_array().unwrap() {
                let m = merged.iter().find(|c| c["name"] == p["name"]).unwrap();
                prop_assert_eq!(&m["image"], &p["image"]);
            }
            let fins = once["metadata"]["finalizers"].as_array().unwrap();
            let mut uf = fins.clone();
            uf.dedup();
            prop_assert_eq!(uf.len(), fins.len());
        }
    }
}
