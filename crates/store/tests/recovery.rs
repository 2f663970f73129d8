//! Durability: acknowledged writes survive reopen, damaged logs recover to the last good
//! record with a warning, snapshots bound replay, resourceVersions keep increasing.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use store::{
    EventType, ListOptions, ObjectKey, RecoveryReport, Store, StoreConfig, StoreError, WatchFrom,
    WatchOptions,
};

fn cfg(dir: &Path, snapshot_every: usize) -> StoreConfig {
    StoreConfig {
        dir: Some(dir.to_owned()),
        history_capacity: 1000,
        snapshot_every_records: snapshot_every,
    }
}

async fn open(dir: &Path, snapshot_every: usize) -> (Store, RecoveryReport) {
    Store::open(cfg(dir, snapshot_every)).await.unwrap()
}

fn obj(name: &str, v: u32) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"v": v.to_string()}}, "data": {"v": v}})
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("ns", name)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("wal-") && n.ends_with(".log")
        })
        .collect();
    v.sort();
    v
}

/// Everything visible in one resource as (name, rv, json).
fn dump(s: &Store, resource: &str) -> Vec<(String, u64, bytes::Bytes)> {
    s.list(resource, &ListOptions::default(), None)
        .unwrap()
        .items
        .iter()
        .map(|o| (o.key.name.clone(), o.rv, o.json.clone()))
        .collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (s, report) = open(dir.path(), 0).await;
    assert!(report.warnings.is_empty());
    for i in 0..30 {
        s.create(
            "pods",
            key(&format!("p{i}")),
            obj(&format!("p{i}"), 0),
            vec![("spec.nodeName", format!("n{i}"))],
        )
        .await
        .unwrap();
    }
    for i in 0..10 {
        s.update(
            "pods",
            key(&format!("p{i}")),
            obj(&format!("p{i}"), 1),
            vec![],
            None,
        )
        .await
        .unwrap();
    }
    for i in 20..30 {
        s.delete("pods", &key(&format!("p{i}")), None, None)
            .await
            .unwrap();
    }
    s.create(
        "nodes",
        ObjectKey::cluster("n1"),
        json!({"metadata": {"name": "n1"}}),
        vec![],
    )
    .await
    .unwrap();
    let last = s.delete("pods", &key("p19"), None, None).await.unwrap().rv;
    let before = dump(&s, "pods");
    s.close().await;
    drop(s);

    let (s, report) = open(dir.path(), 0).await;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.last_rv, last, "the last write was a delete");
    assert_eq!(report.objects, 20);
    assert_eq!(dump(&s, "pods"), before);
    assert_eq!(s.count("nodes"), 1);
    let p0 = s.get("pods", &key("p0")).unwrap();
    assert_eq!(p0.labels.get("v").map(String::as_str), Some("1"));
    let p15 = s.get("pods", &key("p15")).unwrap();
    assert_eq!(
        p15.field("spec.nodeName"),
        Some("n15"),
        "fields are persisted"
    );
    let next = s
        .create("pods", key("new"), obj("new", 0), vec![])
        .await
        .unwrap();
    assert!(next.rv > last);

    // The log since the last snapshot is replayed into history: watches survive restarts.
    let mut w = s
        .watch(
            "pods",
            WatchOptions {
                from: WatchFrom::Rv(last - 1),
                ..Default::default()
            },
        )
        .unwrap();
    let e = w.try_next().unwrap();
    assert_eq!((e.kind, e.object.rv), (EventType::Deleted, last));
    assert_eq!(w.try_next().unwrap().object.rv, next.rv);
}

#[tokio::test]
async fn dropping_the_store_without_close_keeps_acked_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = open(dir.path(), 0).await;
    let a = s
        .create("pods", key("a"), obj("a", 0), vec![])
        .await
        .unwrap();
    drop(s);
    // The log thread exits on its own; every acked write was fsynced before the ack.
    let (s, report) = open(dir.path(), 0).await;
    assert!(report.warnings.is_empty());
    assert_eq!(s.get("pods", &key("a")).unwrap().json, a.json);
}

async fn write_n(dir: &Path, n: usize) -> Vec<u64> {
    let (s, _) = open(dir, 0).await;
    let mut rvs = Vec::new();
    for i in 0..n {
        rvs.push(
            s.create("pods", key(&format!("p{i:03}")), obj("x", i as u32), vec![])
                .await
                .unwrap()
                .rv,
        );
    }
    s.close().await;
    rvs
}

#[tokio::test]
async fn truncated_tail_recovers_to_last_good_record() {
    let dir = tempfile::tempdir().unwrap();
    let rvs = write_n(dir.path(), 10).await;
    let seg = segments(dir.path()).pop().unwrap();
    let full = fs::read(&seg).unwrap();
    let cut = full.len() - 25; // inside the last record
    fs::write(&seg, &full[..cut]).unwrap();

    let (s, report) = open(dir.path(), 0).await;
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let w = &report.warnings[0];
    assert!(w.contains("byte offset") && w.contains("dropped"), "{w}");
    assert_eq!(report.objects, 9);
    assert_eq!(report.last_rv, rvs[8]);
    assert!(s.get("pods", &key("p008")).is_some());
    assert!(s.get("pods", &key("p009")).is_none());
    let good_len = fs::metadata(&seg).unwrap().len() as usize;
    assert!(good_len < cut);
    assert!(w.contains(&format!("byte offset {good_len}")), "{w}");
    assert!(
        w.contains(&format!("dropped {} bytes", cut - good_len)),
        "{w}"
    );
    // New resourceVersions continue above everything recovered.
    let next = s
        .create("pods", key("after"), obj("after", 0), vec![])
        .await
        .unwrap();
    assert!(next.rv > rvs[8]);
    s.close().await;
    drop(s);

    let (s, report) = open(dir.path(), 0).await;
    assert!(
        report.warnings.is_empty(),
        "repaired: {:?}",
        report.warnings
    );
    assert_eq!(report.objects, 10);
    assert!(s.get("pods", &key("after")).is_some());
}

#[tokio::test]
async fn torn_record_header_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    write_n(dir.path(), 3).await;
    let seg = segments(dir.path()).pop().unwrap();
    let mut data = fs::read(&seg).unwrap();
    data.extend_from_slice(&[7, 0, 0]);
    fs::write(&seg, &data).unwrap();
    let (_, report) = open(dir.path(), 0).await;
    assert_eq!(report.objects, 3);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("dropped 3 bytes"),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn flipped_byte_recovers_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let rvs = write_n(dir.path(), 10).await;
    let seg = segments(dir.path()).pop().unwrap();
    let mut data = fs::read(&seg).unwrap();
    // Flip a byte in the middle of the file: inside record 4 or 5.
    let mid = data.len() / 2;
    data[mid] ^= 0x20;
    fs::write(&seg, &data).unwrap();

    let (s, report) = open(dir.path(), 0).await;
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("byte offset"),
        "{:?}",
        report.warnings
    );
    let n = report.objects;
    assert!((4..=5).contains(&n), "recovered {n}");
    assert_eq!(report.last_rv, rvs[n - 1]);
    let names: Vec<_> = dump(&s, "pods").into_iter().map(|(n, _, _)| n).collect();
    let want: Vec<_> = (0..n).map(|i| format!("p{i:03}")).collect();
    assert_eq!(names, want);
}

#[tokio::test]
async fn snapshot_plus_log_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = open(dir.path(), 10).await;
    let mut last = 0;
    for i in 0..35u32 {
        let name = format!("p{}", i % 12);
        let r = if s.get("pods", &key(&name)).is_some() {
            if i % 5 == 0 {
                s.delete("pods", &key(&name), None, None).await
            } else {
                s.update("pods", key(&name), obj(&name, i), vec![], None)
                    .await
            }
        } else {
            s.create("pods", key(&name), obj(&name, i), vec![]).await
        };
        last = r.unwrap().rv;
    }
    let before = dump(&s, "pods");
    s.close().await;
    drop(s);
    assert!(dir.path().join("snapshot.bin").exists());
    // Snapshots drop older segments: only the tail since the last snapshot remains.
    let segs = segments(dir.path());
    assert!(segs.len() <= 2, "{segs:?}");

    let (s, report) = open(dir.path(), 10).await;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.last_rv, last);
    assert_eq!(dump(&s, "pods"), before);
    // History before the snapshot is gone after a restart: clients must relist.
    assert!(matches!(
        s.watch(
            "pods",
            WatchOptions {
                from: WatchFrom::Rv(2),
                ..Default::default()
            }
        ),
        Err(StoreError::Expired { requested: 2, .. })
    ));
    let next = s
        .create("pods", key("z"), obj("z", 0), vec![])
        .await
        .unwrap();
    assert!(next.rv > last);
}

#[tokio::test]
async fn stale_segments_after_a_crash_during_snapshot_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let rvs = write_n(dir.path(), 5).await;
    // Simulate a crash after the snapshot was written but before old segments were
    // deleted: keep a copy of the log, snapshot, then put the old segment back.
    let seg = segments(dir.path()).pop().unwrap();
    let saved = fs::read(&seg).unwrap();
    let (s, _) = open(dir.path(), 1).await;
    s.create("pods", key("trigger"), obj("t", 0), vec![])
        .await
        .unwrap();
    s.close().await;
    drop(s);
    assert!(dir.path().join("snapshot.bin").exists());
    fs::write(&seg, &saved).unwrap();
    fs::write(dir.path().join("snapshot.bin.tmp"), b"partial").unwrap();

    let (s, report) = open(dir.path(), 0).await;
    assert_eq!(report.objects, 6);
    assert!(report.last_rv > rvs[4]);
    assert_eq!(
        report.warnings.len(),
        1,
        "only the leftover temp file: {:?}",
        report.warnings
    );
    assert!(report.warnings[0].contains("incomplete snapshot"));
    assert!(s.get("pods", &key("trigger")).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_group_commit_in_rv_order() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = open(dir.path(), 50).await;
    let mut w = s.watch("pods", WatchOptions::default()).unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut rvs = Vec::new();
            for i in 0..40 {
                let name = format!("t{t}-{i}");
                rvs.push(
                    s.create("pods", key(&name), obj(&name, i), vec![])
                        .await
                        .unwrap()
                        .rv,
                );
                // Every acked write is immediately readable.
                assert!(s.get("pods", &key(&name)).is_some());
            }
            rvs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 320);
    let mut seen = Vec::new();
    while let Some(e) = w.try_next() {
        seen.push(e.object.rv);
    }
    assert_eq!(seen, all, "watchers get every event once, in rv order");
    let before = dump(&s, "pods");
    s.close().await;
    drop(s);
    let (s, report) = open(dir.path(), 50).await;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(dump(&s, "pods"), before);
}
