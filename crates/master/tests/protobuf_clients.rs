//! Protobuf clients against the embedded master: raw requests that ask for
//! `application/vnd.kubernetes.protobuf` (get, list, watch, errors) decoded
//! with the independent prost messages of k8s-pb; the current kubectl
//! (PyPI), whose typed requests send and accept protobuf; and Debian's
//! kubectl v1.20, an old Go client (JSON only, as `-v=8` shows).

mod common;

use apimachinery::protobuf;
use bytes::Bytes;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use kube::api::{Api, PostParams};
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

const PB: &str = "application/vnd.kubernetes.protobuf";

/// Unwraps a protobuf body with prost: (apiVersion, kind, raw message).
fn unwrap_body(body: &[u8]) -> (String, String, Vec<u8>) {
    let rest = body
        .strip_prefix(b"k8s\0")
        .unwrap_or_else(|| panic!("no protobuf magic: {:?}", String::from_utf8_lossy(body)));
    let u = Unknown::decode(rest).expect("runtime.Unknown");
    let tm = u.type_meta.expect("typeMeta");
    (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
        u.raw.unwrap_or_default(),
    )
}

fn request(path: &str, accept: &str) -> http::Request<kube::client::Body> {
    http::Request::get(path)
        .header(http::header::ACCEPT, accept)
        .body(kube::client::Body::empty())
        .expect("request")
}

async fn fetch(client: &kube::Client, path: &str) -> (u16, String, Bytes) {
    let resp = client.send(request(path, PB)).await.expect("send");
    let status = resp.status().as_u16();
    let ct = resp.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .expect("content type")
        .to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ct, body)
}

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), name.to_string())])),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_list_watch_and_errors_in_protobuf() {
    let m = common::start().await;
    let client = m.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("pb-a"))
        .await
        .expect("create");

    // get
    let (status, ct, body) = fetch(&client, "/api/v1/namespaces/default/configmaps/pb-a").await;
    assert_eq!((status, ct.as_str()), (200, PB));
    let (api_version, kind, raw) = unwrap_body(&body);
    assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "ConfigMap"));
    let got = core::ConfigMap::decode(raw.as_slice()).expect("ConfigMap");
    let meta = got.metadata.expect("metadata");
    assert_eq!(meta.name.as_deref(), Some("pb-a"));
    assert!(meta.uid.is_some_and(|u| !u.is_empty()));
    assert!(meta.creation_timestamp.and_then(|t| t.seconds).unwrap_or(0) > 1_600_000_000);
    assert_eq!(got.data.get("k").map(String::as_str), Some("pb-a"));

    // list
    let (status, ct, body) = fetch(&client, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!((status, ct.as_str()), (200, PB));
    let (_, kind, raw) = unwrap_body(&body);
    assert_eq!(kind, "ConfigMapList");
    let list = core::ConfigMapList::decode(raw.as_slice()).expect("ConfigMapList");
    let list_rv = list
        .metadata
        .and_then(|m| m.resource_version)
        .unwrap_or_default();
    assert!(
        list_rv.parse::<u64>().is_ok(),
        "list resourceVersion {list_rv:?}"
    );
    assert!(list
        .items
        .iter()
        .any(|c| c.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("pb-a")));

    // Errors come back as a protobuf Status.
    let (status, ct, body) = fetch(&client, "/api/v1/namespaces/default/configmaps/missing").await;
    assert_eq!((status, ct.as_str()), (404, PB));
    let (_, kind, raw) = unwrap_body(&body);
    assert_eq!(kind, "Status");
    let st = meta::Status::decode(raw.as_slice()).expect("Status");
    assert_eq!(
        (st.code, st.reason.as_deref()),
        (Some(404), Some("NotFound"))
    );

    // A Table request stays JSON.
    let resp = client
        .send(request(
            "/api/v1/namespaces/default/configmaps",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        ))
        .await
        .expect("send");
    assert!(resp.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .starts_with("application/json"));

    // watch: length-prefixed WatchEvent frames.
    let path = format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={list_rv}");
    let resp = client.send(request(&path, PB)).await.expect("watch");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()[http::header::CONTENT_TYPE],
        protobuf::WATCH_CONTENT_TYPE
    );
    let mut body = resp.into_body();
    cms.create(&PostParams::default(), &cm("pb-b"))
        .await
        .expect("create");
    cms.delete("pb-a", &Default::default())
        .await
        .expect("delete");
    let mut stream = Vec::new();
    let mut events: Vec<(String, String)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while events.len() < 2 {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("watch events in time")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            stream.extend_from_slice(&data);
        }
        // Take every complete frame.
        while stream.len() >= 4 {
            let len = u32::from_be_bytes(stream[..4].try_into().expect("4 bytes")) as usize;
            if stream.len() < 4 + len {
                break;
            }
            let ev = meta::WatchEvent::decode(&stream[4..4 + len]).expect("WatchEvent");
            stream.drain(..4 + len);
            let raw = ev.object.and_then(|o| o.raw).expect("object");
            let (_, kind, raw) = unwrap_body(&raw);
            assert_eq!(kind, "ConfigMap");
            let obj = core::ConfigMap::decode(raw.as_slice()).expect("ConfigMap");
            let name = obj.metadata.and_then(|m| m.name).unwrap_or_default();
            events.push((ev.r#type.unwrap_or_default(), name));
        }
    }
    assert_eq!(
        events,
        vec![
            ("ADDED".to_string(), "pb-b".to_string()),
            ("DELETED".to_string(), "pb-a".to_string())
        ]
    );
}

/// Debian's kubectl v1.20 (`kubernetes-client`; scripts/test.sh unpacks it
/// and sets KUBEMARK_TEST_KUBECTL_1_20).
fn kubectl_1_20() -> String {
    std::env::var("KUBEMARK_TEST_KUBECTL_1_20").expect(
        "KUBEMARK_TEST_KUBECTL_1_20 names Debian's kubectl v1.20 (scripts/test.sh installs it)",
    )
}

async fn run(m: &common::TestMaster, bin: &str, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = m.master.kubeconfig_path.clone();
    let home = m.dir.path().join("home-1.20");
    let bin = bin.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&bin)
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", &home)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run kubectl 1.20")
    })
    .await
    .expect("join");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ok(m: &common::TestMaster, bin: &str, args: &[&str]) -> (String, String) {
    let (success, out, err) = run(m, bin, args).await;
    assert!(success, "kubectl {args:?} failed:\n{err}\n{out}");
    (out, err)
}

/// A kind whose tables are generated (storage.k8s.io VolumeAttachment):
/// created with a prost-encoded protobuf body, as client-go does, and read
/// back in protobuf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_get_a_generated_kind_in_protobuf() {
    use k8s_pb::api::storage::v1 as storage;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;
    let m = common::start().await;
    let client = m.client().await;
    let va = storage::VolumeAttachment {
        metadata: Some(meta::ObjectMeta {
            name: Some("va-1".into()),
            ..Default::default()
        }),
        spec: Some(storage::VolumeAttachmentSpec {
            attacher: Some("csi.example.com".into()),
            source: Some(storage::VolumeAttachmentSource {
                persistent_volume_name: Some("pv-1".into()),
                ..Default::default()
            }),
            node_name: Some("hollow-node-1".into()),
        }),
        status: None,
    };
    let envelope = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some("storage.k8s.io/v1".into()),
            kind: Some("VolumeAttachment".into()),
        }),
        raw: Some(va.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let body = [&b"k8s\0"[..], &envelope.encode_to_vec()].concat();
    let req = http::Request::post("/apis/storage.k8s.io/v1/volumeattachments")
        .header(http::header::ACCEPT, PB)
        .header(http::header::CONTENT_TYPE, PB)
        .body(kube::client::Body::from(body))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (_, kind, raw) = unwrap_body(&body);
    assert_eq!(kind, "VolumeAttachment");
    let created = storage::VolumeAttachment::decode(raw.as_slice()).expect("VolumeAttachment");
    let spec = created.spec.expect("spec");
    assert_eq!(spec.attacher.as_deref(), Some("csi.example.com"));
    assert_eq!(spec.node_name.as_deref(), Some("hollow-node-1"));
    assert_eq!(
        spec.source
            .and_then(|s| s.persistent_volume_name)
            .as_deref(),
        Some("pv-1")
    );
    let (status, ct, body) = fetch(&client, "/apis/storage.k8s.io/v1/volumeattachments/va-1").await;
    assert_eq!((status, ct.as_str()), (200, PB));
    let (_, _, raw) = unwrap_body(&body);
    let got = storage::VolumeAttachment::decode(raw.as_slice()).expect("VolumeAttachment");
    assert_eq!(got.metadata.and_then(|m| m.name).as_deref(), Some("va-1"));
}

/// The current kubectl (PyPI, KUBEMARK_TEST_KUBECTL) sends typed requests
/// in protobuf and accepts protobuf answers: creates, `describe` (typed
/// gets and lists) and `auth can-i` now get protobuf responses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_kubectl_gets_protobuf_responses() {
    let bin = common::kubectl_path();
    let m = common::start().await;
    ok(&m, &bin, &["create", "namespace", "pb"]).await;
    let pb_response = |log: &str| {
        log.lines()
            .any(|l| l.trim() == "Content-Type: application/vnd.kubernetes.protobuf")
            && log.contains("Accept: application/vnd.kubernetes.protobuf")
    };
    for args in [
        vec![
            "create",
            "configmap",
            "cm1",
            "-n",
            "pb",
            "--from-literal=a=1",
            "-v=8",
        ],
        vec![
            "create",
            "secret",
            "generic",
            "s1",
            "-n",
            "pb",
            "--from-literal=b=2",
            "-v=8",
        ],
        vec![
            "create",
            "deployment",
            "d1",
            "-n",
            "pb",
            "--image=registry.k8s.io/pause:3.9",
            "-v=8",
        ],
    ] {
        let (_, log) = ok(&m, &bin, &args).await;
        assert!(
            pb_response(&log),
            "kubectl {args:?}: no protobuf exchange:\n{log}"
        );
    }
    let (out, log) = ok(
        &m,
        &bin,
        &["describe", "configmap", "cm1", "-n", "pb", "-v=8"],
    )
    .await;
    assert!(pb_response(&log), "describe: no protobuf exchange:\n{log}");
    assert!(
        out.contains("Name:         cm1") && out.contains("a:"),
        "{out}"
    );
    let (out, log) = ok(&m, &bin, &["describe", "namespace", "pb", "-v=8"]).await;
    assert!(pb_response(&log), "{log}");
    assert!(out.contains("Status:       Active"), "{out}");
    let (out, log) = ok(
        &m,
        &bin,
        &["auth", "can-i", "create", "pods", "-n", "pb", "-v=8"],
    )
    .await;
    assert!(pb_response(&log), "{log}");
    assert_eq!(out.trim(), "yes");
    let (out, _) = ok(
        &m,
        &bin,
        &[
            "get",
            "deployment",
            "d1",
            "-n",
            "pb",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    )
    .await;
    assert_eq!(out, "1");
    ok(&m, &bin, &["delete", "configmap", "cm1", "-n", "pb"]).await;
    let (found, _, err) = run(&m, &bin, &["get", "configmap", "cm1", "-n", "pb"]).await;
    assert!(!found && err.contains("not found"), "{err}");
}

/// Debian's kubectl v1.20 (an old Go client; it talks JSON only: its typed
/// clients did not use protobuf yet) creates, gets, lists and deletes a
/// Namespace and a ConfigMap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_20_crud() {
    let bin = kubectl_1_20();
    let m = common::start().await;
    let (version, _) = ok(&m, &bin, &["version", "--client", "--short"]).await;
    assert!(version.contains("v1.20."), "not kubectl v1.20: {version}");

    ok(&m, &bin, &["create", "namespace", "old-client"]).await;
    ok(
        &m,
        &bin,
        &[
            "create",
            "configmap",
            "cm1",
            "-n",
            "old-client",
            "--from-literal=a=1",
        ],
    )
    .await;
    let (out, _) = ok(
        &m,
        &bin,
        &[
            "get",
            "namespace",
            "old-client",
            "-o",
            "jsonpath={.status.phase}",
        ],
    )
    .await;
    assert_eq!(out, "Active");
    let (out, _) = ok(
        &m,
        &bin,
        &[
            "get",
            "configmap",
            "cm1",
            "-n",
            "old-client",
            "-o",
            "jsonpath={.data.a}",
        ],
    )
    .await;
    assert_eq!(out, "1");
    let (out, _) = ok(
        &m,
        &bin,
        &["get", "configmaps", "-n", "old-client", "-o", "name"],
    )
    .await;
    assert!(out.lines().any(|l| l == "configmap/cm1"), "{out}");
    let (out, _) = ok(&m, &bin, &["get", "namespaces"]).await;
    assert!(
        out.lines()
            .any(|l| l.starts_with("old-client ") && l.contains("Active")),
        "{out}"
    );
    let (out, _) = ok(&m, &bin, &["describe", "namespace", "old-client"]).await;
    assert!(out.contains("Status:       Active"), "{out}");

    ok(
        &m,
        &bin,
        &["delete", "configmap", "cm1", "-n", "old-client"],
    )
    .await;
    let (found, _, err) = run(&m, &bin, &["get", "configmap", "cm1", "-n", "old-client"]).await;
    assert!(!found && err.contains("not found"), "{err}");
    ok(
        &m,
        &bin,
        &["delete", "namespace", "old-client", "--wait=false"],
    )
    .await;
}
