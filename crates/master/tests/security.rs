//! Security properties of the embedded master, over real TLS connections
//! on loopback: no anonymous access beyond health and version, request
//! body and header limits, NodeRestriction for node identities, per-user
//! watch and in-flight limits (429 with Retry-After), private file modes.

// Helpers outside #[test] functions unwrap too: a failure is the test's.
#![allow(clippy::unwrap_used)]

mod common;

use http::{Request, StatusCode};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A kube-rs client for a kubeconfig, with its user's credentials removed
/// when `anonymous`.
async fn client_for(kubeconfig: &str, anonymous: bool) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap();
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    if anonymous {
        cfg.auth_info = Default::default();
    }
    kube::Client::try_from(cfg).unwrap()
}

/// Sends a request; (status, Retry-After, body as JSON or a string).
async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(kube::client::Body::from(body)).unwrap();
    let resp = client.send(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, retry, v)
}

fn assert_status(v: &Value, code: u16, reason: &str) {
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["apiVersion"], "v1", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
}

#[tokio::test]
async fn anonymous_requests_get_401_except_health_and_version() {
    let m = common::start().await;
    let anon = client_for(&m.master.kubeconfig, true).await;
    for path in ["/healthz", "/livez", "/readyz", "/version", "/version/"] {
        let (code, _, v) = send(&anon, "GET", path, Vec::new()).await;
        assert_eq!(code, StatusCode::OK, "{path}: {v}");
    }
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api"),
        ("GET", "/apis"),
        ("GET", "/api/v1/namespaces"),
        ("GET", "/api/v1/namespaces/kube-system/secrets"),
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?watch=true",
        ),
        ("GET", "/metrics"),
        ("GET", "/debug/requests"),
        ("GET", "/openapi/v2"),
        ("GET", "/healthz/ping"),
        ("GET", "/readyz/etcd"),
        ("GET", "/nonexistent"),
        ("POST", "/api/v1/namespaces"),
        ("DELETE", "/api/v1/namespaces/default"),
    ] {
        let body = if method == "POST" {
            serde_json::to_vec(&json!({"metadata": {"name": "x"}})).unwrap()
        } else {
            Vec::new()
        };
        let (code, _, v) = send(&anon, method, path, body).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{method} {path}: {v}");
        assert_status(&v, 401, "Unauthorized");
        assert_eq!(v["message"], "Unauthorized", "{v}");
    }
    // A bad bearer token is 401 everywhere, health included (as the real
    // server: authentication fails before authorization).
    let kc = kube::config::Kubeconfig::from_yaml(&m.master.kubeconfig).unwrap();
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    cfg.auth_info = kube::config::AuthInfo {
        token: Some("not-a-token".to_string().into()),
        ..Default::default()
    };
    let bad = kube::Client::try_from(cfg).unwrap();
    for path in ["/healthz", "/api/v1/pods"] {
        let (code, _, v) = send(&bad, "GET", path, Vec::new()).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert_status(&v, 401, "Unauthorized");
    }
}

#[tokio::test]
async fn kubectl_with_an_unknown_token_is_unauthorized() {
    let m = common::start().await;
    // The master's CA and address, and a token the master does not know
    // (without any credential kubectl prompts for a password instead).
    let ca = m
        .master
        .kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data:"))
        .unwrap()
        .trim()
        .to_string();
    let anon = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: anon\n  user:\n    token: not-a-token\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: anon\ncurrent-context: x\n",
        m.master.url
    );
    let path = m.dir.path().join("anonymous.kubeconfig");
    std::fs::write(&path, anon).unwrap();
    let out = tokio::process::Command::new(common::kubectl_path())
        .args(["get", "pods", "-A", "--kubeconfig"])
        .arg(&path)
        .env("HOME", m.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
}

#[tokio::test]
async fn request_bodies_over_3_mib_get_413() {
    let m = common::start().await;
    let admin = m.client().await;
    let cm = |name: &str, size: usize| {
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"blob": "x".repeat(size)},
        }))
        .unwrap()
    };
    let (code, _, v) = send(
        &admin,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        cm("big", 4 * 1024 * 1024),
    )
    .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_status(&v, 413, "RequestEntityTooLarge");
    let (code, _, v) = send(
        &admin,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        cm("small", 1024),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    // And with kubectl, a real client.
    let file = m.dir.path().join("blob");
    std::fs::write(&file, "y".repeat(4 * 1024 * 1024)).unwrap();
    let out = m
        .kubectl(&[
            "create",
            "configmap",
            "big2",
            &format!("--from-file=blob={}", file.display()),
        ])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("too large"), "{stderr}");
}

/// The master's CA as a rustls client configuration speaking `alpn`.
fn tls_client(m: &common::TestMaster, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(m.master.pki.root_store().unwrap())
        .with_no_client_auth();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// One HTTP/1.1 request over TLS with a header of `header_bytes`; the
/// status line of the answer.
async fn http1_with_header(m: &common::TestMaster, header_bytes: usize) -> String {
    let tcp = tokio::net::TcpStream::connect(m.master.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tls_client(m, b"http/1.1").connect(name, tcp).await.unwrap();
    let req = format!(
        "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(header_bytes)
    );
    // The server may answer (and close) before reading everything.
    let _ = tls.write_all(req.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn request_headers_over_1_mib_are_refused() {
    let m = common::start().await;
    assert_eq!(
        http1_with_header(&m, 64 * 1024).await,
        "HTTP/1.1 200 OK",
        "a 64 KiB header is fine"
    );
    let line = http1_with_header(&m, 2 * 1024 * 1024).await;
    assert!(
        line.starts_with("HTTP/1.1 431"),
        "a 2 MiB header: got {line:?}"
    );
    // HTTP/2 (kube-rs): a 2 MiB header does not get through either, and
    // the master keeps serving.
    let admin = m.client().await;
    let req = Request::get("/version")
        .header("x-padding", "b".repeat(2 * 1024 * 1024))
        .body(kube::client::Body::from(Vec::new()))
        .unwrap();
    match admin.send(req).await {
        Ok(resp) => assert_eq!(
            resp.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "2 MiB of HTTP/2 headers"
        ),
        Err(_refused) => {}
    }
    let (code, _, _) = send(&admin, "GET", "/version", Vec::new()).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn watches_per_user_are_capped_with_429() {
    let m = common::start_with(|c| c.limits.max_watches_per_user = 3).await;
    let admin = m.client().await;
    let watch = |admin: kube::Client| async move {
        let req = Request::get("/api/v1/namespaces/default/configmaps?watch=true")
            .body(kube::client::Body::from(Vec::new()))
            .unwrap();
        admin.send(req).await.unwrap()
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        let r = watch(admin.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    // Without kube-rs, which retries 429s by itself.
    let short = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1";
    let (code, retry, v) = raw(&m, "GET", short, b"").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_status(&v, 429, "TooManyRequests");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|s| s.contains("--max-watches-per-user")),
        "{v}"
    );
    // Other requests and other users are unaffected.
    let (code, _, _) = send(&admin, "GET", "/api/v1/namespaces", Vec::new()).await;
    assert_eq!(code, StatusCode::OK);
    let node = node_client(&m, "n1").await;
    assert_eq!(watch(node).await.status(), StatusCode::OK);
    // A closed watch frees its slot.
    drop(open.pop());
    let mut freed = false;
    for _ in 0..50 {
        let (code, _, _) = raw(&m, "GET", short, b"").await;
        if code == StatusCode::OK {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "closing a watch did not free its slot");
}

/// A TLS connection to the master as the admin (client certificate),
/// speaking HTTP/1.1.
async fn admin_tls(
    m: &common::TestMaster,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject as _;
    let cert =
        rustls_pki_types::CertificateDer::from_pem_slice(m.master.pki.admin_cert_pem().as_bytes())
            .unwrap();
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_slice(m.master.pki.admin_key_pem().as_bytes())
            .unwrap();
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(m.master.pki.root_store().unwrap())
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(m.master.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// One admin request over its own HTTP/1.1 connection, without kube-rs
/// (which retries 429s by itself): (status, Retry-After, body).
async fn raw(
    m: &common::TestMaster,
    method: &str,
    path: &str,
    body: &[u8],
) -> (StatusCode, Option<String>, Value) {
    let mut tls = admin_tls(m).await;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    tls.flush().await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let retry = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().to_string())
    });
    let v = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (StatusCode::from_u16(code).unwrap(), retry, v)
}

/// A POST as the admin whose body never completes: it holds a mutating
/// slot until the stream is dropped.
async fn stalled_post(
    m: &common::TestMaster,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut tls = admin_tls(m).await;
    tls.write_all(
        b"POST /api/v1/namespaces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    tls.flush().await.unwrap();
    tls
}

/// Sends `path` until it is refused with 429 (another request holds the
/// only slot); the refusal.
async fn until_refused(
    m: &common::TestMaster,
    method: &str,
    path: &str,
    body: &[u8],
) -> (StatusCode, Option<String>, Value) {
    for _ in 0..200 {
        let r = raw(m, method, path, body).await;
        if r.0 == StatusCode::TOO_MANY_REQUESTS {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{method} {path} was never refused while the only slot was taken");
}

fn assert_too_many(r: &(StatusCode, Option<String>, Value)) {
    assert_eq!(r.1.as_deref(), Some("1"), "Retry-After");
    assert_status(&r.2, 429, "TooManyRequests");
    assert_eq!(r.2["message"], "Too many requests, please try again later.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_inflight_limit_get_429_with_retry_after() {
    let m = common::start_with(|c| {
        c.limits.max_requests_inflight = 1;
        c.limits.max_mutating_requests_inflight = 1;
    })
    .await;
    let admin = m.client().await;
    // A create whose body never arrives holds the only mutating slot.
    let stalled = stalled_post(&m).await;

    let ns = serde_json::to_vec(&json!({"metadata": {"name": "b"}})).unwrap();
    let refused = until_refused(&m, "POST", "/api/v1/namespaces", &ns).await;
    assert_too_many(&refused);
    // Reads have their own pool, and watches are exempt.
    let (code, _, _) = send(&admin, "GET", "/api/v1/namespaces", Vec::new()).await;
    assert_eq!(code, StatusCode::OK, "reads pass meanwhile");
    let watches: Vec<_> = (0..3)
        .map(|_| {
            let c = admin.clone();
            tokio::spawn(async move {
                let req = Request::get("/api/v1/namespaces?watch=true")
                    .body(kube::client::Body::from(Vec::new()))
                    .unwrap();
                c.send(req).await.unwrap()
            })
        })
        .collect();
    for w in watches {
        assert_eq!(
            w.await.unwrap().status(),
            StatusCode::OK,
            "watches are exempt"
        );
    }
    drop(stalled);
    let mut created = false;
    for _ in 0..200 {
        let (code, _, _) = raw(&m, "POST", "/api/v1/namespaces", &ns).await;
        if code == StatusCode::CREATED {
            created = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        created,
        "the mutating slot was not freed when the client went away"
    );
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn data_directory_keys_and_kubeconfig_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A data directory that exists with loose permissions is tightened.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cfg = master::server::MasterConfig::new(&data);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let running = master::server::start(cfg).await.unwrap();
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("pki")), 0o700, "pki dir");
    for entry in std::fs::read_dir(data.join("pki")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert_eq!(mode(&running.kubeconfig_path), 0o600, "kubeconfig");
    running.shutdown().await;
    // A fresh, nested data directory is created 0700.
    let nested = dir.path().join("a/b/data");
    let mut cfg = master::server::MasterConfig::new(&nested);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.ephemeral = true;
    let running = master::server::start(cfg).await.unwrap();
    assert_eq!(mode(&nested), 0o700);
    running.shutdown().await;
}

/// A kube-rs client with the client certificate of node `name`.
async fn node_client(m: &common::TestMaster, name: &str) -> kube::Client {
    let user = format!("system:node:{name}");
    let (cert, key) = m
        .master
        .pki
        .issue_client_cert(&user, &["system:nodes"])
        .unwrap();
    let kc = m
        .master
        .pki
        .kubeconfig(&m.master.url, "t", &user, &cert, &key);
    client_for(&kc, false).await
}

#[tokio::test]
async fn node_identities_may_only_modify_their_own_objects() {
    let m = common::start().await;
    let admin = m.client().await;
    for n in ["n1", "n2"] {
        let (code, _, v) = send(
            &admin,
            "POST",
            "/api/v1/nodes",
            serde_json::to_vec(&json!({"metadata": {"name": n}})).unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::CREATED, "{v}");
        let (code, _, v) = send(
            &admin,
            "POST",
            "/api/v1/namespaces/default/pods",
            serde_json::to_vec(&json!({"metadata": {"name": format!("p-{n}")},
                "spec": {"nodeName": n, "containers": [{"name": "c", "image": "i"}]}}))
            .unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::CREATED, "{v}");
    }
    let n1 = node_client(&m, "n1").await;
    let patch = |path: &str, body: Value| {
        let c = n1.clone();
        let path = path.to_string();
        async move {
            let req = Request::patch(path)
                .header("content-type", "application/merge-patch+json")
                .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap();
            let resp = c.send(req).await.unwrap();
            let code = resp.status();
            let v: Value =
                serde_json::from_slice(&resp.into_body().collect_bytes().await.unwrap()).unwrap();
            (code, v)
        }
    };
    let labels = json!({"metadata": {"labels": {"x": "y"}}});
    let (code, v) = patch("/api/v1/nodes/n1", labels.clone()).await;
    assert_eq!(code, StatusCode::OK, "own Node: {v}");
    let (code, v) = patch("/api/v1/nodes/n2", labels.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "other Node: {v}");
    assert_status(&v, 403, "Forbidden");
    let (code, v) = patch("/api/v1/nodes/n2/status", json!({"status": {}})).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "other Node status: {v}");
    let pod_status = json!({"status": {"phase": "Running"}});
    let (code, v) = patch(
        "/api/v1/namespaces/default/pods/p-n1/status",
        pod_status.clone(),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "own pod's status: {v}");
    let (code, v) = patch("/api/v1/namespaces/default/pods/p-n2/status", pod_status).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "other node's pod: {v}");
    // Leases: its own in kube-node-lease only.
    let lease = |name: &str| {
        serde_json::to_vec(
            &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name}, "spec": {"holderIdentity": name}}),
        )
        .unwrap()
    };
    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    let (code, _, v) = send(&n1, "POST", leases, lease("n1")).await;
    assert_eq!(code, StatusCode::CREATED, "own Lease: {v}");
    let (code, _, v) = send(&n1, "POST", leases, lease("n2")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "other Lease: {v}");
    let (code, _, v) = send(
        &n1,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        lease("n1"),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "Lease elsewhere: {v}");
    // Nothing beyond the node's rules: no namespaces created, no pods
    // deleted on other nodes.
    let (code, _, v) = send(
        &n1,
        "POST",
        "/api/v1/namespaces",
        serde_json::to_vec(&json!({"metadata": {"name": "evil"}})).unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{v}");
    let (code, _, v) = send(
        &n1,
        "DELETE",
        "/api/v1/namespaces/default/pods/p-n2",
        Vec::new(),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{v}");
}
