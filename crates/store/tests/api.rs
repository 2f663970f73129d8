//! Store API behaviour in memory: CRUD, watches, pagination under concurrent writes,
//! and the cost of many indexed watchers.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use store::{
    EventType, ListOptions, ListRv, ObjectKey, Store, StoreConfig, StoreError, StoredObject,
    WatchFilter, WatchFrom, WatchOptions,
};

fn pod(ns: &str, name: &str, node: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"), "labels": labels},
        "spec": {"nodeName": node}
    })
}

fn fields(name: &str, node: &str) -> Vec<(&'static str, String)> {
    vec![
        ("metadata.name", name.to_owned()),
        ("spec.nodeName", node.to_owned()),
    ]
}

async fn memory() -> Store {
    Store::open(StoreConfig::in_memory()).await.unwrap().0
}

fn rv_in_json(o: &StoredObject) -> String {
    let v: Value = serde_json::from_slice(&o.json).unwrap();
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn crud_and_errors() {
    let s = memory().await;
    let k = ObjectKey::new("default", "p1");
    let start = s.current_rv();
    let a = s
        .create(
            "pods",
            k.clone(),
            pod("default", "p1", "", json!({"app": "x"})),
            fields("p1", ""),
        )
        .await
        .unwrap();
    assert!(a.rv > start);
    assert_eq!(rv_in_json(&a), a.rv.to_string());
    assert_eq!(a.uid, "uid-default-p1");
    assert_eq!(a.labels.get("app").map(String::as_str), Some("x"));
    assert_eq!(s.get("pods", &k), Some(a.clone()));
    assert_eq!(s.current_rv(), a.rv);
    assert_eq!(s.dispatched_rv(), a.rv);

    let dup = s
        .create(
            "pods",
            k.clone(),
            pod("default", "p1", "", json!({})),
            vec![],
        )
        .await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    let stale = s
        .update(
            "pods",
            k.clone(),
            pod("default", "p1", "n", json!({})),
            fields("p1", "n"),
            Some(a.rv - 1),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict { current_rv }) if current_rv == a.rv));
    let b = s
        .update(
            "pods",
            k.clone(),
            pod("default", "p1", "n", json!({})),
            fields("p1", "n"),
            Some(a.rv),
        )
        .await
        .unwrap();
    assert!(b.rv > a.rv);
    let missing = ObjectKey::new("default", "nope");
    assert!(matches!(
        s.update(
            "pods",
            missing.clone(),
            pod("default", "nope", "", json!({})),
            vec![],
            None
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete("pods", &missing, None, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete("pods", &k, None, Some("other-uid")).await,
        Err(StoreError::PreconditionUidMismatch)
    ));
    assert!(matches!(
        s.delete("pods", &k, Some(a.rv), None).await,
        Err(StoreError::Conflict { .. })
    ));
    let d = s
        .delete("pods", &k, Some(b.rv), Some("uid-default-p1"))
        .await
        .unwrap();
    assert!(d.rv > b.rv, "a delete gets a new rv");
    assert_eq!(rv_in_json(&d), d.rv.to_string());
    assert_eq!(d.field("spec.nodeName"), Some("n"));
    assert_eq!(s.get("pods", &k), None);
    assert_eq!(s.counts(), vec![("pods".to_owned(), 0)]);
    assert_eq!(s.resources(), vec!["pods".to_owned()]);

    // Separate keyspaces per resource.
    s.create(
        "configmaps",
        ObjectKey::new("default", "p1"),
        json!({"metadata": {}}),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(s.count("configmaps"), 1);
    assert_eq!(s.count("pods"), 0);
}

#[tokio::test]
async fn watch_sequence_and_bookmarks() {
    let s = memory().await;
    let k = ObjectKey::new("ns", "a");
    let c = s
        .create("pods", k.clone(), pod("ns", "a", "", json!({})), vec![])
        .await
        .unwrap();
    let mut w = s
        .watch(
            "pods",
            WatchOptions {
                from: WatchFrom::Rv(c.rv),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(w.bookmark_rv(), Some(c.rv));
    let u = s
        .update(
            "pods",
            k.clone(),
            pod("ns", "a", "n", json!({})),
            vec![],
            None,
        )
        .await
        .unwrap();
    // An undelivered event blocks bookmarks at or past it.
    assert_eq!(w.bookmark_rv(), None);
    let d = s.delete("pods", &k, None, None).await.unwrap();
    let e1 = w.next().await.unwrap();
    let e2 = w.next().await.unwrap();
    assert_eq!((e1.kind, e1.object.rv), (EventType::Modified, u.rv));
    assert_eq!((e2.kind, e2.object.rv), (EventType::Deleted, d.rv));
    assert!(w.try_next().is_none());
    assert_eq!(w.bookmark_rv(), Some(d.rv));
    assert_eq!(s.watcher_count("pods"), 1);
    drop(w);
    assert_eq!(s.watcher_count("pods"), 0);

    // Closing the store ends watches.
    let mut w = s.watch("pods", WatchOptions::default()).unwrap();
    s.close().await;
    assert!(w.next().await.is_none());
    assert!(matches!(
        s.create("pods", k, pod("ns", "a", "", json!({})), vec![])
            .await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn watch_from_now_and_filtered_synthesis_end_to_end() {
    let s = memory().await;
    for (ns, n, app) in [("a", "x", "web"), ("a", "y", "db"), ("b", "x", "web")] {
        s.create(
            "pods",
            ObjectKey::new(ns, n),
            pod(ns, n, "", json!({"app": app})),
            vec![],
        )
        .await
        .unwrap();
    }
    let web: WatchFilter =
        Arc::new(|o: &StoredObject| o.labels.get("app").map(String::as_str) == Some("web"));
    let mut w = s
        .watch(
            "pods",
            WatchOptions {
                namespace: Some("a".into()),
                filter: Some(web),
                ..Default::default()
            },
        )
        .unwrap();
    let first = w.try_next().unwrap();
    assert_eq!(
        (first.kind, first.object.key.name.as_str()),
        (EventType::Added, "x")
    );
    assert!(w.try_next().is_none());
    // y starts matching, x stops matching, b/x is in another namespace.
    let y = s
        .update(
            "pods",
            ObjectKey::new("a", "y"),
            pod("a", "y", "", json!({"app": "web"})),
            vec![],
            None,
        )
        .await
        .unwrap();
    let x = s
        .update(
            "pods",
            ObjectKey::new("a", "x"),
            pod("a", "x", "", json!({"app": "db"})),
            vec![],
            None,
        )
        .await
        .unwrap();
    s.update(
        "pods",
        ObjectKey::new("b", "x"),
        pod("b", "x", "", json!({"app": "db"})),
        vec![],
        None,
    )
    .await
    .unwrap();
    let e = w.try_next().unwrap();
    assert_eq!((e.kind, e.object.rv), (EventType::Added, y.rv));
    let e = w.try_next().unwrap();
    assert_eq!((e.kind, e.object.rv), (EventType::Deleted, x.rv));
    assert_eq!(rv_in_json(&e.object), x.rv.to_string());
    assert!(w.try_next().is_none());
}

#[tokio::test]
async fn pagination_is_consistent_while_writes_happen() {
    let s = memory().await;
    for i in 0..50 {
        let n = format!("p{i:02}");
        s.create(
            "pods",
            ObjectKey::new("ns", &n),
            pod("ns", &n, "", json!({})),
            vec![],
        )
        .await
        .unwrap();
    }
    let mut opts = ListOptions {
        limit: Some(7),
        ..Default::default()
    };
    let first = s.list("pods", &opts, None).unwrap();
    let expected = s.list("pods", &ListOptions::default(), None).unwrap();
    assert_eq!(first.rv, expected.rv);
    assert_eq!(first.remaining_item_count, Some(43));
    let mut got = first.items.clone();
    let mut token = first.continue_token.clone();
    let mut step = 0;
    while let Some(t) = token {
        // Churn: update, delete and create around and ahead of the cursor.
        step += 1;
        let u = format!("p{:02}", (step * 7 + 3) % 50);
        let _ = s
            .update(
                "pods",
                ObjectKey::new("ns", &u),
                pod("ns", &u, "moved", json!({})),
                vec![],
                None,
            )
            .await;
        let d = format!("p{:02}", (step * 11 + 20) % 50);
        let _ = s
            .delete("pods", &ObjectKey::new("ns", &d), None, None)
            .await;
        let c = format!("p{step:02}-new");
        s.create(
            "pods",
            ObjectKey::new("ns", &c),
            pod("ns", &c, "", json!({})),
            vec![],
        )
        .await
        .unwrap();

        opts.continue_token = Some(t);
        let page = s.list("pods", &opts, None).unwrap();
        assert_eq!(page.rv, first.rv);
        got.extend(page.items.iter().cloned());
        token = page.continue_token;
    }
    assert_eq!(
        got, expected.items,
        "pages reassemble the state at the first page's rv"
    );
    assert!(s.current_rv() > first.rv);

    let exact = s
        .list(
            "pods",
            &ListOptions {
                rv: ListRv::Exact(first.rv),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(exact.items, expected.items);

    assert!(matches!(
        s.list(
            "pods",
            &ListOptions {
                continue_token: Some("garbage".into()),
                ..Default::default()
            },
            None
        ),
        Err(StoreError::InvalidContinue)
    ));
}

#[tokio::test]
async fn continue_expires_with_history() {
    let cfg = StoreConfig {
        history_capacity: 5,
        ..StoreConfig::in_memory()
    };
    let (s, _) = Store::open(cfg).await.unwrap();
    for i in 0..4 {
        let n = format!("p{i}");
        s.create(
            "pods",
            ObjectKey::new("ns", &n),
            pod("ns", &n, "", json!({})),
            vec![],
        )
        .await
        .unwrap();
    }
    let first = s
        .list(
            "pods",
            &ListOptions {
                limit: Some(2),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    for _ in 0..6 {
        s.update(
            "pods",
            ObjectKey::new("ns", "p0"),
            pod("ns", "p0", "", json!({})),
            vec![],
            None,
        )
        .await
        .unwrap();
    }
    let err = s
        .list(
            "pods",
            &ListOptions {
                limit: Some(2),
                continue_token: first.continue_token,
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::ContinueExpired));
    assert!(err
        .to_string()
        .starts_with("The provided continue parameter is too old"));
    let err = s
        .watch(
            "pods",
            WatchOptions {
                from: WatchFrom::Rv(first.rv),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
    assert!(err
        .to_string()
        .starts_with(&format!("too old resource version: {} (", first.rv)));
}

#[tokio::test]
async fn slow_watcher_is_closed_not_blocking() {
    let s = memory().await;
    let mut w = s.watch("pods", WatchOptions::default()).unwrap();
    let n = store::WATCH_CHANNEL_CAPACITY + 10;
    for i in 0..n {
        let name = format!("p{i}");
        s.create(
            "pods",
            ObjectKey::new("ns", &name),
            pod("ns", &name, "", json!({})),
            vec![],
        )
        .await
        .unwrap();
    }
    let mut got = 0;
    while w.next().await.is_some() {
        got += 1;
    }
    assert_eq!(got, store::WATCH_CHANNEL_CAPACITY);
    assert_eq!(s.watcher_count("pods"), 0);
}

#[tokio::test]
async fn twenty_thousand_indexed_watchers() {
    const NODES: usize = 20_000;
    const WRITES: usize = 1_000;
    let s = memory().await;
    let t0 = Instant::now();
    let mut watchers: Vec<_> = (0..NODES)
        .map(|i| {
            s.watch(
                "pods",
                WatchOptions {
                    from: WatchFrom::Rv(s.current_rv()),
                    index: Some(("spec.nodeName", format!("node-{i}"))),
                    ..Default::default()
                },
            )
            .unwrap()
        })
        .collect();
    // One unindexed watcher sees everything.
    let mut all = s.watch("pods", WatchOptions::default()).unwrap();
    for i in 0..WRITES {
        let name = format!("p{i}");
        let node = format!("node-{}", (i * 7) % NODES);
        s.create(
            "pods",
            ObjectKey::new("ns", &name),
            pod("ns", &name, &node, json!({})),
            fields(&name, &node),
        )
        .await
        .unwrap();
    }
    let elapsed = t0.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    for i in 0..WRITES {
        let e = watchers[(i * 7) % NODES].try_next().unwrap();
        assert_eq!(e.object.key.name, format!("p{i}"));
    }
    assert!(watchers[1].try_next().is_none());
    let mut n = 0;
    while all.try_next().is_some() {
        n += 1;
    }
    assert_eq!(n, WRITES);
    assert_eq!(s.watcher_count("pods"), NODES + 1);
    watchers.clear();
    assert_eq!(s.watcher_count("pods"), 1);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Store>();
    send::<store::Watcher>();
    send_sync::<store::WatchEvent>();
    send_sync::<StoreError>();
}
