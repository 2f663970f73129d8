//! Stored objects: keys, the immutable per-version record, and building one from JSON.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

use crate::{Rv, StoreError};

/// Identity of an object inside one resource keyspace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectKey {
    /// "" for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A cluster-scoped key.
    pub fn cluster(name: impl Into<String>) -> Self {
        ObjectKey::new("", name)
    }

    /// The key as etcd would hold it below the resource prefix: "ns/name", or "name"
    /// for cluster-scoped objects. Lists are ordered by the bytes of this string.
    pub fn storage_key(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            let mut s = String::with_capacity(self.namespace.len() + 1 + self.name.len());
            s.push_str(&self.namespace);
            s.push('/');
            s.push_str(&self.name);
            s
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// One immutable stored version of one object, shared by `Arc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub rv: Rv,
    pub key: ObjectKey,
    /// The full object JSON; its metadata.resourceVersion is `rv.to_string()`.
    pub json: Bytes,
    /// metadata.labels.
    pub labels: BTreeMap<String, String>,
    /// Selectable field values, computed by the caller.
    pub fields: Vec<(&'static str, String)>,
    /// metadata.uid ("" if absent).
    pub uid: String,
}

impl StoredObject {
    /// The value of a selectable field, if the caller supplied it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The stored JSON parsed back into a value.
    pub fn to_value(&self) -> Result<Value, StoreError> {
        serde_json::from_slice(&self.json).map_err(|e| {
            StoreError::Corrupt(format!("stored JSON of {} does not parse: {e}", self.key))
        })
    }
}

/// Builds the stored form of `obj` at `rv`: stamps metadata.resourceVersion and extracts
/// labels and uid.
pub fn build_object(
    rv: Rv,
    key: ObjectKey,
    mut obj: Value,
    fields: Vec<(&'static str, String)>,
) -> Result<StoredObject, StoreError> {
    let map = obj.as_object_mut().ok_or_else(|| {
        StoreError::InvalidObject(format!("{key}: object JSON is not a JSON object"))
    })?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let meta = meta.as_object_mut().ok_or_else(|| {
        StoreError::InvalidObject(format!("{key}: metadata is not a JSON object"))
    })?;
    meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
    let uid = meta
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let labels = match meta.get("labels") {
        Some(Value::Object(l)) => l
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let json = serde_json::to_vec(&obj)
        .map_err(|e| StoreError::InvalidObject(format!("{key}: cannot serialize: {e}")))?;
    Ok(StoredObject {
        rv,
        key,
        json: Bytes::from(json),
        labels,
        fields,
        uid,
    })
}

/// `prev`'s content stamped with a later resourceVersion: what a DELETED event carries.
pub fn with_rv(prev: &StoredObject, rv: Rv) -> Result<StoredObject, StoreError> {
    let value = prev.to_value()?;
    build_object(rv, prev.key.clone(), value, prev.fields.clone())
}

/// Upper bound on distinct field names read back from disk, so corrupt data cannot make
/// the interner leak without bound.
const MAX_INTERNED: usize = 4096;

/// Returns a `'static` copy of a field name read from disk. Field names are a small
/// fixed set (e.g. "spec.nodeName"), so leaking one copy of each is bounded.
pub(crate) fn intern(name: &str) -> Result<&'static str, StoreError> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock();
    if let Some(s) = names.get(name) {
        return Ok(s);
    }
    if names.len() >= MAX_INTERNED {
        return Err(StoreError::Corrupt(format!(
            "more than {MAX_INTERNED} distinct selectable field names on disk"
        )));
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    Ok(leaked)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn storage_key_orders_like_etcd() {
        let cases = [
            (ObjectKey::new("ns", "a"), "ns/a"),
            (ObjectKey::cluster("node-1"), "node-1"),
            (ObjectKey::new("kube-system", "x.y"), "kube-system/x.y"),
        ];
        for (k, want) in cases {
            assert_eq!(k.storage_key(), want);
            assert_eq!(k.to_string(), want);
        }
    }

    #[test]
    fn build_object_stamps_rv_and_extracts_metadata() {
        let cases = [
            (
                json!({"metadata": {"name": "a", "uid": "u1", "labels": {"x": "y", "n": 1}}}),
                "u1",
                vec![("x", "y")],
            ),
            (json!({"kind": "ConfigMap"}), "", vec![]),
            (
                json!({"metadata": {"resourceVersion": "999", "labels": null}}),
                "",
                vec![],
            ),
        ];
        for (obj, uid, labels) in cases {
            let o =
                build_object(42, ObjectKey::new("ns", "a"), obj, vec![("f", "v".into())]).unwrap();
            let v: Value = serde_json::from_slice(&o.json).unwrap();
            assert_eq!(v["metadata"]["resourceVersion"], "42");
            assert_eq!(o.uid, uid);
            let want: BTreeMap<String, String> = labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(o.labels, want);
            assert_eq!(o.field("f"), Some("v"));
            assert_eq!(o.field("g"), None);
        }
    }

    #[test]
    fn build_object_rejects_non_objects() {
        for bad in [json!([1]), json!("s"), json!({"metadata": 3})] {
            let err = build_object(1, ObjectKey::cluster("a"), bad, vec![]).unwrap_err();
            assert!(matches!(err, StoreError::InvalidObject(_)), "{err}");
        }
    }

    #[test]
    fn with_rv_keeps_content() {
        let o = build_object(
            5,
            ObjectKey::cluster("a"),
            json!({"metadata": {"uid": "u"}, "data": 1}),
            vec![],
        )
        .unwrap();
        let d = with_rv(&o, 9).unwrap();
        let v: Value = serde_json::from_slice(&d.json).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "9");
        assert_eq!(v["data"], 1);
        assert_eq!(d.uid, "u");
        assert_eq!(d.rv, 9);
    }

    #[test]
    fn intern_returns_same_pointer() {
        let a = intern("spec.nodeName").unwrap();
        let b = intern(&String::from("spec.nodeName")).unwrap();
        assert!(std::ptr::eq(a, b));
    }
}
