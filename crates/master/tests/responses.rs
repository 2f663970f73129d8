//! Reproduces each exchange recorded from a real v1.24 kube-apiserver in
//! `shared/reference/kube-apiserver-1.24/responses.txt`: status code, reason
//! and message shape.

mod common;

use serde_json::{json, Value};

struct Resp {
    code: u16,
    body: Value,
    raw: String,
}

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Resp {
    send_with(client, method, path, content_type, None, body).await
}

async fn send_with(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: &str,
) -> Resp {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let req = req
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp { code, body, raw }
}

fn assert_status(r: &Resp, code: u16, reason: &str, message: &str) {
    assert_eq!(r.code, code, "{}", r.raw);
    assert_eq!(r.body["kind"], "Status", "{}", r.raw);
    assert_eq!(r.body["apiVersion"], "v1");
    assert_eq!(r.body["status"], "Failure");
    assert_eq!(r.body["code"], code);
    assert_eq!(r.body["reason"], reason, "{}", r.raw);
    assert_eq!(r.body["message"], message, "{}", r.raw);
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_exchanges() {
    let m = common::start().await;
    let c = m.client().await;

    // get-missing-pod-404
    let r = send(&c, "GET", "/api/v1/namespaces/default/pods/nope", None, "").await;
    assert_status(&r, 404, "NotFound", "pods \"nope\" not found");
    assert_eq!(r.body["details"], json!({"name": "nope", "kind": "pods"}));

    // create-invalid-pod-422
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/pods",
        JSON,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[]}}"#,
    )
    .await;
    assert_status(
        &r,
        422,
        "Invalid",
        "Pod \"bad\" is invalid: spec.containers: Required value",
    );
    assert_eq!(
        r.body["details"]["causes"],
        json!([{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}])
    );
    assert_eq!(r.body["details"]["name"], "bad");
    assert_eq!(r.body["details"]["kind"], "Pod");

    // create-configmap-201
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"data":{"a":"1"}}"#;
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        cm,
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.raw);
    assert_eq!(r.body["kind"], "ConfigMap");
    assert_eq!(r.body["metadata"]["namespace"], "default");
    let uid = r.body["metadata"]["uid"].as_str().expect("uid").to_string();
    let rv1: u64 = r.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("numeric rv");
    assert!(r.body["metadata"]["creationTimestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // create-duplicate-409
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        cm,
    )
    .await;
    assert_status(
        &r,
        409,
        "AlreadyExists",
        "configmaps \"cm1\" already exists",
    );
    assert_eq!(
        r.body["details"],
        json!({"name": "cm1", "kind": "configmaps"})
    );

    // update-stale-resourceversion-409
    let r = send(&c, "PUT", "/api/v1/namespaces/default/configmaps/cm1", JSON,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","resourceVersion":"1"},"data":{"a":"2"}}"#).await;
    assert_status(&r, 409, "Conflict", "Operation cannot be fulfilled on configmaps \"cm1\": the object has been modified; please apply your changes to the latest version and try again");

    // merge-patch-200
    let r = send(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm1",
        Some("application/merge-patch+json"),
        r#"{"data":{"b":"2"}}"#,
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.raw);
    assert_eq!(r.body["data"], json!({"a": "1", "b": "2"}));
    let rv2: u64 = r.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("rv");
    assert!(rv2 > rv1);

    // strategic-merge-patch-200
    let r = send(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm1",
        Some("application/strategic-merge-patch+json"),
        r#"{"metadata":{"labels":{"x":"y"}}}"#,
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.raw);
    assert_eq!(r.body["metadata"]["labels"], json!({"x": "y"}));
    assert_eq!(r.body["data"], json!({"a": "1", "b": "2"}));

    // json-patch-test-failure-422
    let r = send(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm1",
        Some("application/json-patch+json"),
        r#"[{"op":"test","path":"/data/a","value":"zzz"}]"#,
    )
    .await;
    assert_status(
        &r,
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    );

    // malformed-json-400
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        "{not json",
    )
    .await;
    assert_eq!(r.code, 400, "{}", r.raw);
    assert_eq!(r.body["reason"], "BadRequest");
    let msg = r.body["message"].as_str().expect("message");
    assert!(msg.starts_with("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: "), "{msg}");
    assert!(msg.ends_with("({not json)"), "{msg}");
    assert!(r.body.get("details").is_none());

    // wrong-kind-for-endpoint-400
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#,
    )
    .await;
    assert_status(&r, 400, "BadRequest", "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion");

    // missing-namespace-404
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/nonexistent/configmaps",
        JSON,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
    )
    .await;
    assert_status(&r, 404, "NotFound", "namespaces \"nonexistent\" not found");
    assert_eq!(
        r.body["details"],
        json!({"name": "nonexistent", "kind": "namespaces"})
    );

    // unknown-resource-404
    let r = send(&c, "GET", "/api/v1/frobnicators", None, "").await;
    assert_status(
        &r,
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    assert_eq!(r.body["details"], json!({}));

    // list-pods-bad-fieldselector-400
    let r = send(
        &c,
        "GET",
        "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
        None,
        "",
    )
    .await;
    assert_status(
        &r,
        400,
        "BadRequest",
        "field label not supported: spec.bogus",
    );

    // list-pods-bad-labelselector-400
    let r = send(
        &c,
        "GET",
        "/api/v1/pods?labelSelector=a%20in%20(b",
        None,
        "",
    )
    .await;
    assert_status(
        &r,
        400,
        "BadRequest",
        "unable to parse requirement: found '', expected: ',' or ')'",
    );

    // watch-from-resourceversion-1: replays retained history, then ends.
    let r = send(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1",
        None,
        "",
    )
    .await;
    assert_eq!(r.code, 200);
    let events: Vec<Value> = r
        .raw
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line"))
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, vec!["ADDED", "MODIFIED", "MODIFIED"], "{}", r.raw);
    assert_eq!(events[2]["object"]["metadata"]["labels"], json!({"x": "y"}));

    // delete-configmap-200
    let r = send(
        &c,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/cm1",
        None,
        "",
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.raw);
    assert_eq!(
        r.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": "cm1", "kind": "configmaps", "uid": uid}})
    );
}

fn node(name: &str) -> String {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubemark": "true"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                   "nodeInfo": {"kubeletVersion": "v1.24.10", "osImage": "Debian GNU/Linux 7 (wheezy)", "kernelVersion": "3.16.0-0.bpo.4-amd64", "containerRuntimeVersion": "fakeRuntime://0.1.0"},
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.2"}, {"type": "Hostname", "address": name}]}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_lists_paginate_select_and_render_tables() {
    let m = common::start().await;
    let c = m.client().await;
    for i in 0..3 {
        let r = send(
            &c,
            "POST",
            "/api/v1/nodes",
            JSON,
            &node(&format!("hollow-node-{i}")),
        )
        .await;
        assert_eq!(r.code, 201, "{}", r.raw);
    }
    // list-nodes-limit-2-continue
    let r = send(&c, "GET", "/api/v1/nodes?limit=2", None, "").await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "NodeList");
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.body["metadata"]["remainingItemCount"], 1);
    let token = r.body["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .expect("base64url token");
    let decoded: Value = serde_json::from_slice(&decoded).expect("token JSON");
    assert_eq!(decoded["v"], "meta.k8s.io/v1");
    assert_eq!(decoded["start"], "hollow-node-1\u{0}");
    let r2 = send(
        &c,
        "GET",
        &format!("/api/v1/nodes?limit=2&continue={token}"),
        None,
        "",
    )
    .await;
    assert_eq!(
        r2.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r2.raw
    );
    assert_eq!(r2.body["items"][0]["metadata"]["name"], "hollow-node-2");
    assert!(r2.body["metadata"].get("continue").is_none_or(|c| c == ""));

    // list-nodes-fieldselector
    let r = send(
        &c,
        "GET",
        "/api/v1/nodes?fieldSelector=metadata.name%3Dhollow-node-1",
        None,
        "",
    )
    .await;
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["hollow-node-1"]);

    // table-nodes-kubectl-get
    let r = send_with(
        &c,
        "GET",
        "/api/v1/nodes?limit=2",
        None,
        Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        "",
    )
    .await;
    assert_eq!(r.body["kind"], "Table", "{}", r.raw);
    assert_eq!(r.body["apiVersion"], "meta.k8s.io/v1");
    let cols: Vec<&str> = r.body["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        cols,
        vec![
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
    let cells = &r.body["rows"][0]["cells"];
    assert_eq!(cells[0], "hollow-node-0");
    assert_eq!(cells[1], "Ready");
    assert_eq!(cells[2], "<none>");
    assert_eq!(cells[4], "v1.24.10");
    assert_eq!(cells[5], "192.0.2.2");
    assert_eq!(r.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(r.body["metadata"]["remainingItemCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_bad_input() {
    let m = common::start().await;
    let c = m.client().await;
    // unauthenticated-401: a wrong bearer token and no client certificate.
    let kc = kube::config::Kubeconfig::from_yaml(&m.master.kubeconfig).expect("kubeconfig");
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("cfg");
    cfg.auth_info = kube::config::AuthInfo {
        token: Some("wrong".to_string().into()),
        ..Default::default()
    };
    let anon = kube::Client::try_from(cfg).expect("client");
    let r = send(&anon, "GET", "/api/v1/nodes", None, "").await;
    assert_status(&r, 401, "Unauthorized", "Unauthorized");
    // A wrong token is refused everywhere, as the real server does.
    let r = send(&anon, "GET", "/healthz", None, "").await;
    assert_eq!(r.code, 401);
    // No credentials at all: health and version are public, resources are not.
    let kc = kube::config::Kubeconfig::from_yaml(&m.master.kubeconfig).expect("kubeconfig");
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("cfg");
    cfg.auth_info = kube::config::AuthInfo::default();
    let nobody = kube::Client::try_from(cfg).expect("client");
    let r = send(&nobody, "GET", "/healthz", None, "").await;
    assert_eq!((r.code, r.raw.as_str()), (200, "ok"));
    let r = send(&nobody, "GET", "/version", None, "").await;
    assert_eq!(r.code, 200);
    assert!(r.body["gitVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("v1.24")));
    let r = send(&nobody, "GET", "/api/v1/namespaces", None, "").await;
    assert_status(&r, 401, "Unauthorized", "Unauthorized");
    let r = send(&nobody, "GET", "/metrics", None, "").await;
    assert_eq!(r.code, 401);

    // Oversized body.
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 + 10)
    );
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        &big,
    )
    .await;
    assert_eq!(r.code, 413, "{}", &r.raw[..r.raw.len().min(300)]);
    assert_eq!(r.body["reason"], "RequestEntityTooLarge");
    // Server-side apply is refused clearly.
    let r = send(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?fieldManager=me",
        Some("application/apply-patch+yaml"),
        "{}",
    )
    .await;
    assert_eq!(r.code, 415, "{}", r.raw);
    assert!(r.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("server-side apply")));
    // A wrong path shape.
    let r = send(&c, "GET", "/api/v1/namespaces/default/pods/a/b/c", None, "").await;
    assert_eq!(r.code, 404);
    // An unparsable limit.
    let r = send(&c, "GET", "/api/v1/pods?limit=abc", None, "").await;
    assert_eq!(
        (r.code, r.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    // A non-object body.
    let r = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        "[1,2]",
    )
    .await;
    assert_eq!(r.code, 400, "{}", r.raw);
    // Nothing above changed stored state.
    let r = send(&c, "GET", "/api/v1/namespaces/default/configmaps", None, "").await;
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        r.raw
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_version_is_410_expired() {
    let m = common::start_with(|c| c.history_capacity = 5).await;
    let c = m.client().await;
    for i in 0..20 {
        let body =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}})
                .to_string();
        assert_eq!(
            send(
                &c,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                JSON,
                &body
            )
            .await
            .code,
            201
        );
    }
    let r = send(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2&timeoutSeconds=1",
        None,
        "",
    )
    .await;
    assert_eq!(r.code, 200);
    let first: Value =
        serde_json::from_str(r.raw.lines().next().expect("one event")).expect("json");
    assert_eq!(first["type"], "ERROR");
    assert_eq!(first["object"]["code"], 410);
    assert_eq!(first["object"]["reason"], "Expired");
    assert!(
        first["object"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too old resource version: 2 (")),
        "{first}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_use_the_real_names_and_count_per_client() {
    let m = common::start().await;
    let c = m.client().await;
    for _ in 0..3 {
        assert_eq!(
            send(&c, "GET", "/api/v1/namespaces/default", None, "")
                .await
                .code,
            200
        );
    }
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}}).to_string();
    assert_eq!(
        send(
            &c,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            JSON,
            &body
        )
        .await
        .code,
        201
    );
    assert_eq!(
        send(&c, "GET", "/api/v1/namespaces/default/pods/none", None, "")
            .await
            .code,
        404
    );
    let r = send(&c, "GET", "/metrics", None, "").await;
    assert_eq!(r.code, 200);
    let text = r.raw;
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(
        has(
            r#"apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="GET",version="v1"} 3"#
        ),
        "{text}"
    );
    assert!(has(
        r#"apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="POST",version="v1"} 1"#
    ));
    assert!(has(
        r#"apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="resource""#
    ));
    assert!(has(
        r#"apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="GET",version="v1",le="0.005"}"#
    ));
    assert!(has(
        "apiserver_current_inflight_requests{request_kind=\"readOnly\"}"
    ));
    // No watch is open: like Go's client, a vector without series is not
    // listed (metrics.rs tests the series of open watches).
    assert!(!has("apiserver_longrunning_requests{"));
    assert!(
        has(r#"apiserver_storage_objects{resource="namespaces"} 4"#),
        "{text}"
    );
    assert!(has("process_cpu_seconds_total "));
    assert!(has("process_resident_memory_bytes "));
    // Per-client counts are not in /metrics (unbounded label values) but
    // under /debug/requests, by user and user agent.
    assert!(!has("user_agent="), "{text}");
    let r = send(&c, "GET", "/debug/requests", None, "").await;
    assert_eq!(r.code, 200, "{}", r.raw);
    let admin = r.body["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["user"] == "kubernetes-admin")
        .expect("admin client");
    assert!(admin["userAgent"].is_string(), "{admin}");
    let gets = admin["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|q| q["verb"] == "GET" && q["resource"] == "namespaces")
        .expect("GET namespaces");
    assert_eq!(gets["count"], 3, "{admin}");
    assert!(r.body["limit"].as_u64().is_some_and(|l| l > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_identities_may_only_change_their_own_objects() {
    let m = common::start().await;
    let admin = m.client().await;
    let (cert, key) = m
        .master
        .pki
        .issue_client_cert("system:node:n1", &["system:nodes"])
        .expect("node cert");
    let kc = m
        .master
        .pki
        .kubeconfig(&m.master.url, "kubemark", "system:node:n1", &cert, &key);
    let kc = kube::config::Kubeconfig::from_yaml(&kc).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("cfg");
    let node = kube::Client::try_from(cfg).expect("client");
    // A kubelet registers its own Node, not another one.
    assert_eq!(
        send(&node, "POST", "/api/v1/nodes", JSON, &node_body("n1"))
            .await
            .code,
        201
    );
    let r = send(&node, "POST", "/api/v1/nodes", JSON, &node_body("n2")).await;
    assert_eq!(
        (r.code, r.body["reason"].as_str()),
        (403, Some("Forbidden")),
        "{}",
        r.raw
    );
    assert_eq!(
        send(&admin, "POST", "/api/v1/nodes", JSON, &node_body("n2"))
            .await
            .code,
        201
    );
    let patch =
        r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}}"#;
    let sm = Some("application/strategic-merge-patch+json");
    assert_eq!(
        send(&node, "PATCH", "/api/v1/nodes/n1/status", sm, patch)
            .await
            .code,
        200
    );
    let r = send(&node, "PATCH", "/api/v1/nodes/n2/status", sm, patch).await;
    assert_eq!(r.code, 403, "{}", r.raw);
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nodes \"n2\" is forbidden")),
        "{}",
        r.raw
    );
    // Pods: only those bound to it.
    for (name, node_name) in [("mine", "n1"), ("theirs", "n2")] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}});
        assert_eq!(
            send(
                &admin,
                "POST",
                "/api/v1/namespaces/default/pods",
                JSON,
                &pod.to_string()
            )
            .await
            .code,
            201
        );
    }
    let status = r#"{"status":{"phase":"Running"}}"#;
    let r = send(
        &node,
        "PATCH",
        "/api/v1/namespaces/default/pods/mine/status",
        sm,
        status,
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.raw);
    let r = send(
        &node,
        "PATCH",
        "/api/v1/namespaces/default/pods/theirs/status",
        sm,
        status,
    )
    .await;
    assert_eq!(r.code, 403, "{}", r.raw);
    // Its lease, in kube-node-lease only.
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}});
    let r = send(
        &node,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        JSON,
        &lease.to_string(),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.raw);
    let r = send(
        &node,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        JSON,
        &lease.to_string(),
    )
    .await;
    assert_eq!(r.code, 403, "{}", r.raw);
    // Reads are allowed; deleting namespaces is not.
    assert_eq!(
        send(&node, "GET", "/api/v1/services", None, "").await.code,
        200
    );
    assert_eq!(
        send(&node, "DELETE", "/api/v1/namespaces/default", None, "")
            .await
            .code,
        403
    );
}

fn node_body(name: &str) -> String {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}).to_string()
}
