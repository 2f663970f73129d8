//! Waiting for a resourceVersion the store has not reached, in memory and durable.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::time::{Duration, Instant};

use serde_json::json;
use store::{ObjectKey, Store, StoreConfig, StoreError, WatchFrom, WatchOptions};

async fn put(s: &Store, name: &str) -> u64 {
    let v = json!({"metadata": {"name": name, "namespace": "ns", "uid": name}});
    s.create("configmaps", ObjectKey::new("ns", name), v, Vec::new())
        .await
        .unwrap()
        .rv
}

async fn check(s: Store) {
    let rv = put(&s, "a").await;
    // Reached already: no wait.
    let t = Instant::now();
    s.wait_until_fresh(rv, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));

    // Reached by a write during the wait.
    let writer = s.clone();
    let w = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        put(&writer, "b").await
    });
    let t = Instant::now();
    s.wait_until_fresh(rv + 1, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(w.await.unwrap(), rv + 1);

    // Never reached: TooLargeResourceVersion after the timeout.
    let t = Instant::now();
    let err = s
        .wait_until_fresh(rv + 100, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(
        matches!(err, StoreError::TooLargeResourceVersion { requested, current } if requested == rv + 100 && current == rv + 1),
        "{err:?}"
    );
    // A watch from the future is refused rather than silently skipping events.
    let err = s
        .watch(
            "configmaps",
            WatchOptions {
                from: WatchFrom::Rv(rv + 100),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLargeResourceVersion { .. }));
}

#[tokio::test]
async fn wait_until_fresh_in_memory() {
    let (s, _) = Store::open(StoreConfig::in_memory()).await.unwrap();
    check(s).await;
}

#[tokio::test]
async fn wait_until_fresh_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Store::open(StoreConfig::durable(dir.path())).await.unwrap();
    check(s.clone()).await;
    s.close().await;
}
