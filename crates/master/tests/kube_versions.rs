//! resourceVersions as the real server handles them, seen by kube-rs: a
//! resourceVersion the master has not reached (a client resuming against a
//! fresh ephemeral master) is answered `504` with cause
//! `ResourceVersionTooLarge` after a brief wait, and watch-list
//! (`sendInitialEvents`) as kube-runtime's streaming lists use it.

mod common;

use futures::StreamExt;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

/// A kube-rs client without kube's own retry of 504s, so the test sees them.
async fn client_without_retry(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kube config");
    cfg.default_retry = false;
    kube::Client::try_from(cfg).expect("kube client")
}

struct Raw {
    code: u16,
    retry_after: Option<String>,
    text: String,
}

async fn get(client: &kube::Client, path: &str) -> Raw {
    let req = http::Request::builder()
        .method("GET")
        .uri(path)
        .body(kube::client::Body::from(Vec::new()))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Raw {
        code,
        retry_after,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect()
}

fn assert_too_large(status: &Value, requested: u64) {
    assert_eq!(status["code"], 504, "{status}");
    assert_eq!(status["reason"], "Timeout", "{status}");
    let msg = status["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with(&format!(
            "Timeout: Too large resource version: {requested}, current: "
        )),
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge",
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Too large resource version"
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_against_a_fresh_master_gets_504_then_relists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut cfg = master::server::MasterConfig::new(&data);
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.ephemeral = true;
    let first = master::server::start(cfg).await.expect("first master");
    let addr = first.addr;
    let client = client_without_retry(&first.kubeconfig).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..30 {
        cms.create(&PostParams::default(), &cm(&format!("old-{i}")))
            .await
            .expect("create");
    }

    // A kube-runtime watcher that has listed and is watching from the
    // first master's resourceVersion.
    let mut old = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut seen = 0;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), old.next())
            .await
            .expect("watcher event")
            .expect("watcher stream");
        match ev.expect("watcher ok") {
            watcher::Event::InitApply(_) => seen += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(seen, 30);
    let held_rv: u64 = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv")
        .parse()
        .expect("numeric rv");

    // Restart: same address and PKI, empty store.
    first.shutdown().await;
    let mut cfg = master::server::MasterConfig::new(&data);
    cfg.listen = addr;
    cfg.ephemeral = true;
    let second = master::server::start(cfg).await.expect("second master");
    cms.create(&PostParams::default(), &cm("new"))
        .await
        .expect("create on the fresh master");
    let fresh_rv = second.api.store.current_rv();
    assert!(fresh_rv < held_rv, "{fresh_rv} < {held_rv}");

    // The watcher resumes from its old resourceVersion: after about 3 s it
    // gets the 504 (an ERROR event, as upstream reports watch errors).
    let started = Instant::now();
    let status = loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), old.next())
            .await
            .expect("watcher reports the resume")
            .expect("watcher stream");
        match ev {
            Err(watcher::Error::WatchError(s)) => break s,
            // Connection errors while the master restarts.
            Err(_) => continue,
            Ok(e) => panic!("watcher resumed silently at a future rv: {e:?}"),
        }
    };
    assert_eq!(status.code, 504, "{status:?}");
    assert_eq!(status.reason, "Timeout");
    let details = status.details.as_ref().expect("details");
    assert_eq!(details.causes[0].reason, "ResourceVersionTooLarge");
    assert_eq!(details.retry_after_seconds, 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited briefly first"
    );
    drop(old);

    // A list at that resourceVersion: 504 too, with Retry-After.
    let t = Instant::now();
    let r = get(
        &client,
        &format!("/api/v1/namespaces/default/configmaps?resourceVersion={held_rv}"),
    )
    .await;
    assert_eq!(r.code, 504, "{}", r.text);
    assert!(t.elapsed() >= Duration::from_millis(2500));
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert_too_large(&serde_json::from_str(&r.text).expect("status"), held_rv);
    let err = cms
        .list(&ListParams::default().at(&held_rv.to_string()))
        .await
        .expect_err("504");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 504),
        "{err:?}"
    );

    // Relisting with kube-runtime's watcher sees the fresh master's state
    // and its live events.
    let mut relisted = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut names = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), relisted.next())
            .await
            .expect("relist event")
            .expect("relist stream");
        match ev.expect("relist ok") {
            watcher::Event::InitApply(o) => names.extend(o.metadata.name),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(names, ["new"]);
    cms.create(&PostParams::default(), &cm("live"))
        .await
        .expect("create live");
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), relisted.next())
            .await
            .expect("live event")
            .expect("live stream");
        if let Ok(watcher::Event::Apply(o)) = ev {
            assert_eq!(o.metadata.name.as_deref(), Some("live"));
            break;
        }
    }
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_list_with_kube_runtime_streaming_lists() {
    let m = common::start().await;
    let client = m.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        cms.create(&PostParams::default(), &cm(&format!("a{i}")))
            .await
            .expect("create");
    }
    let mut stream = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("event")
            .expect("stream");
        match ev.expect("watch-list ok") {
            watcher::Event::InitApply(o) => initial.extend(o.metadata.name),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    initial.sort();
    assert_eq!(initial, ["a0", "a1", "a2"]);
    cms.create(&PostParams::default(), &cm("b"))
        .await
        .expect("create");
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("live event")
            .expect("stream");
        if let Ok(watcher::Event::Apply(o)) = ev {
            assert_eq!(o.metadata.name.as_deref(), Some("b"));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_list_wire_format_and_validation() {
    let m = common::start().await;
    let client = client_without_retry(&m.master.kubeconfig).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..2 {
        cms.create(&PostParams::default(), &cm(&format!("x{i}")))
            .await
            .expect("create");
    }
    let rv = m.master.api.store.current_rv();
    let base = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1";

    // Initial ADDED events, then the initial-events-end bookmark at the
    // list's resourceVersion; a specific resourceVersion is allowed.
    for at in [String::new(), "0".to_string(), rv.to_string()] {
        let r = get(
            &client,
            &format!("{base}&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion={at}"),
        )
        .await;
        assert_eq!(r.code, 200, "{}", r.text);
        let ev = lines(&r.text);
        let kinds: Vec<&str> = ev
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            ["ADDED", "ADDED", "BOOKMARK"],
            "rv {at:?}: {}",
            r.text
        );
        let bm = &ev[2]["object"]["metadata"];
        assert_eq!(bm["annotations"]["k8s.io/initial-events-end"], "true");
        assert_eq!(bm["resourceVersion"], rv.to_string());
    }

    // Without bookmarks the initial events come without the bookmark.
    let r = get(
        &client,
        &format!("{base}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    let kinds: Vec<String> = lines(&r.text)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(kinds, ["ADDED", "ADDED"], "{}", r.text);

    // sendInitialEvents=false: no synthetic events, live ones only.
    let r = get(
        &client,
        &format!("{base}&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert!(lines(&r.text).is_empty(), "{}", r.text);

    // A resourceVersion not reached: ERROR event with the 504 status.
    let future = rv + 1000;
    let r = get(
        &client,
        &format!("{base}&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion={future}"),
    )
    .await;
    let ev = lines(&r.text);
    assert_eq!(ev.len(), 1, "{}", r.text);
    assert_eq!(ev[0]["type"], "ERROR");
    assert_too_large(&ev[0]["object"], future);

    // Invalid combinations, as upstream's ValidateListOptions answers them.
    let r = get(&client, &format!("{base}&sendInitialEvents=true")).await;
    assert_eq!(r.code, 422, "{}", r.text);
    let s: Value = serde_json::from_str(&r.text).expect("status");
    assert_eq!(
        s["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    );
    assert_eq!(s["details"]["kind"], "ListOptions");
    let r = get(
        &client,
        &format!("{base}&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert_eq!(r.code, 422, "{}", r.text);
    let r = get(
        &client,
        "/api/v1/namespaces/default/configmaps?sendInitialEvents=true",
    )
    .await;
    assert_eq!(r.code, 422, "{}", r.text);
    assert!(r.text.contains("sendInitialEvents is forbidden for list"));
    let r = get(
        &client,
        "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(r.code, 422, "{}", r.text);
    let r = get(
        &client,
        "/api/v1/namespaces/default/configmaps?sendInitialEvents=maybe",
    )
    .await;
    assert_eq!(r.code, 400, "{}", r.text);
}

/// Invariant: as upstream's cacher, a watch that allows bookmarks gets one
/// 2 s before its timeout, at the current resourceVersion, so that a
/// resuming client does not start from a stale (possibly expired) one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmark_before_the_watch_timeout() {
    let m = common::start().await;
    let client = client_without_retry(&m.master.kubeconfig).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("before"))
        .await
        .expect("create");
    let rv = m.master.api.store.current_rv();
    let base = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=3";
    let r = get(
        &client,
        &format!("{base}&allowWatchBookmarks=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    let ev = lines(&r.text);
    assert_eq!(ev.len(), 1, "one pre-timeout bookmark: {}", r.text);
    assert_eq!(ev[0]["type"], "BOOKMARK", "{}", r.text);
    let at: u64 = ev[0]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("bookmark resourceVersion");
    assert!(at >= rv, "bookmark at {at}, watch from {rv}");
    // Without allowWatchBookmarks: nothing.
    let r = get(&client, &format!("{base}&resourceVersion={rv}")).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert!(lines(&r.text).is_empty(), "{}", r.text);
}
