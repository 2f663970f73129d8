//! Our protobuf codec against an independent one: the prost messages of the
//! `k8s-pb` crate (generated from upstream `generated.proto`). Bodies that
//! prost encodes decode to the expected JSON with ours; bodies we encode
//! decode with prost to the same values and survive a prost re-encoding.

#![allow(clippy::unwrap_used)]

use apimachinery::protobuf;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The Kubernetes envelope, written by prost.
fn prost_body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [&b"k8s\0"[..], &unknown.encode_to_vec()].concat()
}

/// Unwraps a body with prost: (apiVersion, kind, raw).
fn prost_unwrap(body: &[u8]) -> (String, String, Vec<u8>) {
    let rest = body.strip_prefix(b"k8s\0").expect("magic");
    let u = Unknown::decode(rest).unwrap();
    let tm = u.type_meta.unwrap();
    (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
        u.raw.unwrap_or_default(),
    )
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn time(seconds: i64) -> Option<meta::Time> {
    Some(meta::Time {
        seconds: Some(seconds),
        nanos: Some(0),
    })
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod() -> core::Pod {
    core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("web-0"),
            namespace: s("default"),
            uid: s("0b5b2f4e-1111-2222-3333-444455556666"),
            resource_version: s("42"),
            creation_timestamp: time(1_767_323_045),
            labels: labels(&[("app", "web")]),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s("web"),
                uid: s("u1"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                image: s("registry.k8s.io/pause:3.9"),
                ports: vec![core::ContainerPort {
                    container_port: Some(8080),
                    protocol: s("TCP"),
                    ..Default::default()
                }],
                resources: Some(core::ResourceRequirements {
                    requests: [("cpu".to_string(), Quantity { string: s("100m") })]
                        .into_iter()
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            node_name: s("hollow-node-1"),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            pod_ip: s("10.64.0.5"),
            ..Default::default()
        }),
    }
}

fn pod_json() -> Value {
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": "web-0", "namespace": "default",
            "uid": "0b5b2f4e-1111-2222-3333-444455556666", "resourceVersion": "42",
            "creationTimestamp": "2026-01-02T03:04:05Z", "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                "uid": "u1", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m"}}}],
            "terminationGracePeriodSeconds": 30,
            "nodeName": "hollow-node-1"
        },
        "status": {"phase": "Running", "podIP": "10.64.0.5"}
    })
}

#[test]
fn prost_encoded_objects_decode_to_their_json() {
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("e2e-tests-1"),
            labels: labels(&[("e2e", "true")]),
            ..Default::default()
        }),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: s("Active"),
            ..Default::default()
        }),
    };
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("cfg"),
            namespace: s("default"),
            ..Default::default()
        }),
        data: labels(&[("a", "1"), ("b", "")]),
        binary_data: [("bin".to_string(), vec![0u8, 1, 2, 255])]
            .into_iter()
            .collect(),
        immutable: Some(false),
    };
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            ..Default::default()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: s("http"),
                port: Some(80),
                target_port: Some(IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: s("http"),
                }),
                ..Default::default()
            }],
            selector: labels(&[("app", "web")]),
            r#type: s("ClusterIP"),
            ..Default::default()
        }),
        status: None,
    };
    let lease = coordination::Lease {
        metadata: Some(meta::ObjectMeta {
            name: s("hollow-node-1"),
            namespace: s("kube-node-lease"),
            ..Default::default()
        }),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("hollow-node-1"),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_767_323_045),
                nanos: Some(123_456_000),
            }),
            ..Default::default()
        }),
    };
    let list = core::ConfigMapList {
        metadata: Some(meta::ListMeta {
            resource_version: s("77"),
            remaining_item_count: Some(3),
            ..Default::default()
        }),
        items: vec![cm.clone()],
    };
    let status = meta::Status {
        metadata: Some(meta::ListMeta::default()),
        status: s("Failure"),
        message: s("pods \"x\" not found"),
        reason: s("NotFound"),
        details: Some(meta::StatusDetails {
            name: s("x"),
            kind: s("pods"),
            ..Default::default()
        }),
        code: Some(404),
    };
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (
            prost_body("v1", "Namespace", ns.encode_to_vec()),
            json!({"kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": "e2e-tests-1", "labels": {"e2e": "true"}},
                "spec": {}, "status": {"phase": "Active"}}),
        ),
        (
            prost_body("v1", "ConfigMap", cm.encode_to_vec()),
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "cfg", "namespace": "default"},
                "immutable": false, "data": {"a": "1", "b": ""}, "binaryData": {"bin": "AAEC/w=="}}),
        ),
        (prost_body("v1", "Pod", pod().encode_to_vec()), pod_json()),
        (
            prost_body("v1", "Service", svc.encode_to_vec()),
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web"},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                    "selector": {"app": "web"}, "type": "ClusterIP"},
                "status": {"loadBalancer": {}}}),
        ),
        (
            prost_body("coordination.k8s.io/v1", "Lease", lease.encode_to_vec()),
            json!({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": "hollow-node-1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "hollow-node-1", "leaseDurationSeconds": 40,
                    "renewTime": "2026-01-02T03:04:05.123456Z"}}),
        ),
        (
            prost_body("v1", "ConfigMapList", list.encode_to_vec()),
            json!({"kind": "ConfigMapList", "apiVersion": "v1",
                "metadata": {"resourceVersion": "77", "remainingItemCount": 3},
                "items": [{"metadata": {"name": "cfg", "namespace": "default"},
                    "immutable": false, "data": {"a": "1", "b": ""}, "binaryData": {"bin": "AAEC/w=="}}]}),
        ),
        (
            prost_body("v1", "Status", status.encode_to_vec()),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "pods \"x\" not found", "reason": "NotFound",
                "details": {"name": "x", "kind": "pods"}, "code": 404}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(protobuf::decode(&body).unwrap(), want);
    }
}

#[test]
fn our_encoding_decodes_with_prost_and_round_trips() {
    let body = protobuf::encode(&pod_json()).unwrap();
    let (api_version, kind, raw) = prost_unwrap(&body);
    assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "Pod"));
    let decoded = core::Pod::decode(raw.as_slice()).unwrap();
    // Go writes unset value fields as zeros; prost reads them as Some(zero).
    let meta = decoded.metadata.as_ref().unwrap();
    assert_eq!(meta.name.as_deref(), Some("web-0"));
    assert_eq!(
        meta.creation_timestamp.as_ref().unwrap().seconds,
        Some(1_767_323_045)
    );
    assert_eq!(meta.owner_references[0].controller, Some(true));
    let spec = decoded.spec.as_ref().unwrap();
    assert_eq!(spec.node_name.as_deref(), Some("hollow-node-1"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.containers[0].ports[0].container_port, Some(8080));
    assert_eq!(
        spec.containers[0].resources.as_ref().unwrap().requests["cpu"]
            .string
            .as_deref(),
        Some("100m")
    );
    assert_eq!(
        decoded.status.as_ref().unwrap().pod_ip.as_deref(),
        Some("10.64.0.5")
    );
    // A pointer field left unset stays unset.
    assert_eq!(spec.active_deadline_seconds, None);
    // prost's re-encoding decodes to the same JSON with ours.
    let again = prost_body("v1", "Pod", decoded.encode_to_vec());
    assert_eq!(protobuf::decode(&again).unwrap(), pod_json());
}

#[test]
fn lists_and_watch_frames_decode_with_prost() {
    let list = json!({"kind": "PodList", "apiVersion": "v1",
        "metadata": {"resourceVersion": "9", "continue": "abc"},
        "items": [pod_json(), pod_json()]});
    let (_, kind, raw) = prost_unwrap(&protobuf::encode(&list).unwrap());
    assert_eq!(kind, "PodList");
    let pods = core::PodList::decode(raw.as_slice()).unwrap();
    assert_eq!(pods.items.len(), 2);
    assert_eq!(
        pods.metadata.as_ref().unwrap().r#continue.as_deref(),
        Some("abc")
    );
    assert_eq!(
        pods.items[1],
        core::Pod::decode(
            prost_unwrap(&protobuf::encode(&pod_json()).unwrap())
                .2
                .as_slice()
        )
        .unwrap()
    );

    // A watch frame: 4-byte big-endian length, then a bare WatchEvent whose
    // object is a whole protobuf body.
    let frame = protobuf::encode_watch_frame("MODIFIED", &pod_json()).unwrap();
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len + 4, frame.len());
    let event = meta::WatchEvent::decode(&frame[4..]).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("MODIFIED"));
    let RawExtension { raw } = event.object.unwrap();
    let (_, kind, raw) = prost_unwrap(&raw.unwrap());
    assert_eq!(kind, "Pod");
    assert_eq!(core::Pod::decode(raw.as_slice()).unwrap(), pods.items[0]);

    // And frames that prost writes decode with ours.
    let theirs = meta::WatchEvent {
        r#type: s("DELETED"),
        object: Some(RawExtension {
            raw: Some(prost_body("v1", "Pod", pod().encode_to_vec())),
        }),
    }
    .encode_to_vec();
    let mut stream = (theirs.len() as u32).to_be_bytes().to_vec();
    stream.extend(&theirs);
    stream.extend(&frame);
    assert_eq!(
        protobuf::decode_watch_frames(&stream).unwrap(),
        vec![
            ("DELETED".to_string(), pod_json()),
            ("MODIFIED".to_string(), pod_json())
        ]
    );
}
