//! The node Lease in `kube-node-lease` (the kubelet's heartbeat), pure:
//! the object to create or update, shaped like
//! `tests/reference/node-lease-go-kubemark.json`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// What the server told us about our lease (needed to update it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LeaseMeta {
    pub resource_version: String,
    pub uid: String,
    pub creation_timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LeaseView {
    pub metadata: LeaseMeta,
    pub spec: LeaseSpecView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LeaseSpecView {
    pub holder_identity: Option<String>,
    pub renew_time: Option<String>,
    pub lease_duration_seconds: Option<i64>,
}

/// `metav1.MicroTime`: RFC 3339 with microseconds.
pub fn micro_time(unix_nanos: i128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(unix_nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The Lease for node `name` renewed at `renew_time`. With `existing`,
/// the body of an UPDATE (carrying its resourceVersion); without, of a
/// CREATE. The owner reference to the Node is added once its UID is known.
pub fn lease_body(
    name: &str,
    node_uid: Option<&str>,
    duration_seconds: i64,
    renew_time: &str,
    existing: Option<&LeaseMeta>,
) -> Value {
    let mut meta = Map::new();
    if let Some(e) = existing {
        if let Some(c) = &e.creation_timestamp {
            meta.insert("creationTimestamp".into(), json!(c));
        }
    }
    meta.insert("name".into(), json!(name));
    meta.insert("namespace".into(), json!(LEASE_NAMESPACE));
    if let Some(uid) = node_uid.filter(|u| !u.is_empty()) {
        meta.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]),
        );
    }
    if let Some(e) = existing {
        if !e.resource_version.is_empty() {
            meta.insert("resourceVersion".into(), json!(e.resource_version));
        }
        if !e.uid.is_empty() {
            meta.insert("uid".into(), json!(e.uid));
        }
    }
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": renew_time,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn matches_the_reference_shape() {
        let r: Value = serde_json::from_str(include_str!(
            "../tests/reference/node-lease-go-kubemark.json"
        ))
        .unwrap();
        let existing = LeaseMeta {
            resource_version: "280".into(),
            uid: "aa1e1bda-e335-4d30-afe3-eedb22bcf531".into(),
            creation_timestamp: Some("2026-11-25T04:05:27Z".into()),
        };
        let renew = micro_time(1_795_579_538_138_564_000);
        assert_eq!(renew, "2026-11-25T04:05:38.138564Z");
        let b = lease_body(
            "hollow-node-1",
            Some("2d1e6d0b-d2db-4496-abde-8e423a78dabf"),
            40,
            &renew,
            Some(&existing),
        );
        assert_eq!(b, r);
        assert_eq!(keys(&b["metadata"]), keys(&r["metadata"]));
    }

    #[test]
    fn create_without_owner_until_the_node_is_known() {
        let b = lease_body("n", None, 40, "t", None);
        assert!(b["metadata"].get("ownerReferences").is_none());
        assert!(b["metadata"].get("resourceVersion").is_none());
        assert_eq!(b["spec"]["holderIdentity"], "n");
        assert_eq!(b["spec"]["leaseDurationSeconds"], 40);
    }

    #[test]
    fn micro_time_pads() {
        assert_eq!(micro_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(micro_time(1_000_001_000), "1970-01-01T00:00:01.000001Z");
    }
}
