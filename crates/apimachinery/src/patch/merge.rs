//! JSON merge patch (RFC 7386) as evanphx/json-patch v4 `MergePatch`
//! applies it in kube-apiserver.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies a JSON merge patch.
///
/// The patch must be an object (anything else is the 400 "Invalid JSON
/// Patch" the server answers). `null` removes a key; objects merge
/// recursively; everything else, arrays included, replaces. Like evanphx,
/// nulls are pruned from objects newly added by the patch.
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError::BadRequest("Invalid JSON Patch".to_string()));
    };
    match original {
        Value::Object(doc) => {
            let mut doc = doc.clone();
            merge_docs(&mut doc, p);
            Ok(Value::Object(doc))
        }
        Value::Null => Err(PatchError::Internal("Invalid JSON Document".to_string())),
        // Not a document: the patch itself becomes the result.
        _ => {
            let mut out = patch.clone();
            prune_nulls(&mut out);
            Ok(out)
        }
    }
}

fn merge_docs(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.shift_remove(k);
            continue;
        }
        match doc.get_mut(k) {
            Some(cur) if !cur.is_null() => {
                let taken = cur.take();
                *cur = merge_node(taken, v);
            }
            _ => {
                let mut v = v.clone();
                prune_nulls(&mut v);
                doc.insert(k.clone(), v);
            }
        }
    }
}

fn merge_node(cur: Value, patch: &Value) -> Value {
    match cur {
        Value::Object(mut cur_doc) => match patch {
            Value::Object(p) => {
                merge_docs(&mut cur_doc, p);
                Value::Object(cur_doc)
            }
            // evanphx returns a non-object patch as is here, unpruned.
            other => other.clone(),
        },
        _ => {
            let mut p = patch.clone();
            prune_nulls(&mut p);
            p
        }
    }
}

/// Removes null-valued keys from objects, recursing through arrays (whose
/// null elements stay).
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            for x in m.values_mut() {
                prune_nulls(x);
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune_nulls(x);
            }
        }
        _ => {}
    }
}

/// Computes a merge patch that turns `original` into `modified` (the inverse
/// of [`merge_patch`] for documents without nulls).
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    let (Value::Object(o), Value::Object(m)) = (original, modified) else {
        return modified.clone();
    };
    let mut patch = Map::new();
    for k in o.keys() {
        if !m.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    for (k, mv) in m {
        match o.get(k) {
            Some(ov) if ov == mv => {}
            Some(ov @ Value::Object(_)) if mv.is_object() => {
                patch.insert(k.clone(), create_merge_patch(ov, mv));
            }
            _ => {
                patch.insert(k.clone(), mv.clone());
            }
        }
    }
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn rfc7386_appendix_a() {
        let cases: Vec<(Value, Value, Value)> = vec![
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
            // Arrays replace wholesale; null elements inside arrays stay.
            (
                json!({"a": [1, 2]}),
                json!({"a": [null, 3]}),
                json!({"a": [null, 3]}),
            ),
            // Recorded merge-patch-200: data.b added to a ConfigMap.
            (
                json!({"kind": "ConfigMap", "data": {"a": "1"}}),
                json!({"data": {"b": "2"}}),
                json!({"kind": "ConfigMap", "data": {"a": "1", "b": "2"}}),
            ),
        ];
        for (orig, patch, want) in cases {
            assert_eq!(
                merge_patch(&orig, &patch).unwrap(),
                want,
                "{orig} + {patch}"
            );
        }
    }

    #[test]
    fn key_order_is_kept() {
        let got = merge_patch(&json!({"a": 1, "b": 2, "c": 3}), &json!({"b": 9, "d": 4})).unwrap();
        assert_eq!(got.to_string(), r#"{"a":1,"b":9,"c":3,"d":4}"#);
        let got = merge_patch(&json!({"a": 1, "b": 2, "c": 3}), &json!({"a": null})).unwrap();
        assert_eq!(got.to_string(), r#"{"b":2,"c":3}"#);
    }

    #[test]
    fn non_object_patches_are_bad_requests() {
        for p in [json!(null), json!([1]), json!("x"), json!(1)] {
            let e = merge_patch(&json!({}), &p).unwrap_err();
            assert_eq!(e, PatchError::BadRequest("Invalid JSON Patch".into()));
            assert_eq!(e.to_api_error().code, 400);
        }
        assert_eq!(
            merge_patch(&json!([1]), &json!({"a": null, "b": 1})).unwrap(),
            json!({"b": 1})
        );
    }

    #[test]
    fn create_merge_patch_table() {
        let cases = vec![
            (json!({"a": 1}), json!({"a": 1}), json!({})),
            (json!({"a": 1}), json!({"a": 2}), json!({"a": 2})),
            (json!({"a": 1}), json!({}), json!({"a": null})),
            (
                json!({"a": {"b": 1, "c": 2}}),
                json!({"a": {"b": 1}}),
                json!({"a": {"c": null}}),
            ),
            (
                json!({"a": [1]}),
                json!({"a": [1, 2]}),
                json!({"a": [1, 2]}),
            ),
        ];
        for (o, m, want) in cases {
            assert_eq!(create_merge_patch(&o, &m), want);
            assert_eq!(merge_patch(&o, &create_merge_patch(&o, &m)).unwrap(), m);
        }
    }

    /// JSON without nulls (merge patches cannot set a null).
    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-c]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-e]", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-e]", arb_json(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn applying_a_computed_merge_patch_yields_the_target(orig in arb_object(), modified in arb_object()) {
            let patch = create_merge_patch(&orig, &modified);
            prop_assert_eq!(merge_patch(&orig, &patch).unwrap(), modified.clone());
            // Merge patches are idempotent.
            let once = merge_patch(&orig, &patch).unwrap();
            prop_assert_eq!(merge_patch(&once, &patch).unwrap(), once);
        }
    }
}
