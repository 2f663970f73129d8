//! Property test: random create/update/delete interleavings against a simple model.
//!
//! Checks that resourceVersions strictly increase and match the stored JSON, that a
//! watch from ANY resourceVersion replays exactly the model's events after it (or is
//! Expired exactly when history no longer covers it), that filtered watches synthesize
//! ADDED/DELETED like the apiserver, and that exact-rv paginated lists rebuild the
//! model's state at that rv.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use store::{
    EventType, ListOptions, ListRv, ObjectKey, Rv, Store, StoreConfig, StoreError, StoredObject,
    WatchFilter, WatchFrom, WatchOptions,
};

#[derive(Clone, Debug)]
enum Op {
    Create(u8, bool),
    Update(u8, bool, bool),
    Delete(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(k, l)| Op::Create(k, l)),
        (0u8..4, any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(k, l, s)| Op::Update(k, l, s)),
        (0u8..4, prop::bool::weighted(0.2)).prop_map(|(k, bad)| Op::Delete(k, bad)),
    ]
}

fn key(k: u8) -> ObjectKey {
    ObjectKey::new(["a", "b"][usize::from(k % 2)], format!("k{k}"))
}

fn label(x: bool) -> &'static str {
    if x {
        "x"
    } else {
        "y"
    }
}

fn body(k: u8, x: bool) -> serde_json::Value {
    let key = key(k);
    json!({"metadata": {"name": key.name, "namespace": key.namespace, "uid": format!("uid-{k}"), "labels": {"app": label(x)}}})
}

#[derive(Clone, Debug)]
struct Ev {
    rv: Rv,
    kind: EventType,
    key: ObjectKey,
    /// app=x before and after (after is None for a delete).
    before: Option<bool>,
    after: Option<bool>,
}

/// Model state at `at`: key -> (rv, app=x).
fn state_at(events: &[Ev], at: Rv) -> BTreeMap<String, (Rv, bool)> {
    let mut m = BTreeMap::new();
    for e in events.iter().filter(|e| e.rv <= at) {
        match e.after {
            Some(x) => m.insert(e.key.storage_key(), (e.rv, x)),
            None => m.remove(&e.key.storage_key()),
        };
    }
    m
}

/// What a watcher with predicate "app=x" expects from one event.
fn filtered(e: &Ev) -> Option<(EventType, Rv)> {
    let cur = e.after == Some(true);
    let old = e.before == Some(true);
    match (cur, old) {
        (true, false) => Some((EventType::Added, e.rv)),
        (true, true) => Some((EventType::Modified, e.rv)),
        (false, true) => Some((EventType::Deleted, e.rv)),
        (false, false) => None,
    }
}

fn check(ok: bool, what: &str) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!("unexpected result: {what}")))
    }
}

fn drain(w: &mut store::Watcher) -> Vec<(EventType, String, Rv)> {
    let mut out = Vec::new();
    while let Some(e) = w.try_next() {
        out.push((e.kind, e.object.key.storage_key(), e.object.rv));
    }
    out
}

fn json_rv(o: &StoredObject) -> String {
    let v: serde_json::Value = serde_json::from_slice(&o.json).unwrap_or_default();
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn run(ops: Vec<Op>, cap: usize) -> Result<(), TestCaseError> {
    let cfg = StoreConfig {
        history_capacity: cap,
        ..StoreConfig::in_memory()
    };
    let (s, _) = Store::open(cfg)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut live = s
        .watch("things", WatchOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model: BTreeMap<u8, (Rv, bool)> = BTreeMap::new();
    let mut events: Vec<Ev> = Vec::new();
    let mut last = s.current_rv();

    for op in ops {
        let (k, res, after) = match op {
            Op::Create(k, x) => {
                let r = s.create("things", key(k), body(k, x), vec![]).await;
                match model.get(&k) {
                    Some(_) => check(
                        matches!(r, Err(StoreError::AlreadyExists)),
                        "create of an existing key",
                    )?,
                    None => prop_assert!(r.is_ok()),
                }
                (k, r, Some(x))
            }
            Op::Update(k, x, stale) => {
                let pre = model
                    .get(&k)
                    .map(|(rv, _)| if stale { rv - 1 } else { *rv });
                let r = s.update("things", key(k), body(k, x), vec![], pre).await;
                match model.get(&k) {
                    None => check(
                        matches!(r, Err(StoreError::NotFound)),
                        "update of a missing key",
                    )?,
                    Some((rv, _)) if stale => check(
                        matches!(r, Err(StoreError::Conflict { current_rv }) if current_rv == *rv),
                        "stale update precondition",
                    )?,
                    Some(_) => prop_assert!(r.is_ok()),
                }
                (k, r, Some(x))
            }
            Op::Delete(k, bad_uid) => {
                let uid = if bad_uid {
                    "wrong".to_owned()
                } else {
                    format!("uid-{k}")
                };
                let r = s.delete("things", &key(k), None, Some(&uid)).await;
                match model.get(&k) {
                    None => check(
                        matches!(r, Err(StoreError::NotFound)),
                        "delete of a missing key",
                    )?,
                    Some(_) if bad_uid => check(
                        matches!(r, Err(StoreError::PreconditionUidMismatch)),
                        "delete with a wrong uid",
                    )?,
                    Some(_) => prop_assert!(r.is_ok()),
                }
                (k, r, None)
            }
        };
        let Ok(o) = res else { continue };
        prop_assert!(o.rv > last, "rv {} not above {}", o.rv, last);
        prop_assert_eq!(o.rv, s.current_rv());
        prop_assert_eq!(json_rv(&o), o.rv.to_string());
        last = o.rv;
        let before = model.get(&k).map(|(_, x)| *x);
        let kind = match (before, after) {
            (None, _) => EventType::Added,
            (Some(_), Some(_)) => EventType::Modified,
            (Some(_), None) => EventType::Deleted,
        };
        match after {
            Some(x) => model.insert(k, (o.rv, x)),
            None => model.remove(&k),
        };
        events.push(Ev {
            rv: o.rv,
            kind,
            key: key(k),
            before,
            after,
        });
    }

    // The live watcher saw exactly the model's events.
    let want: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.key.storage_key(), e.rv))
        .collect();
    prop_assert_eq!(drain(&mut live), want);

    // Current state.
    let listed: Vec<_> = s
        .list("things", &ListOptions::default(), None)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .items
        .iter()
        .map(|o| (o.key.storage_key(), o.rv))
        .collect();
    let want: Vec<_> = state_at(&events, last)
        .into_iter()
        .map(|(k, (rv, _))| (k, rv))
        .collect();
    prop_assert_eq!(listed, want);

    // Oldest watchable rv: the last evicted event's.
    let boundary = if events.len() > cap {
        events[events.len() - cap - 1].rv
    } else {
        0
    };
    let only_x: WatchFilter =
        Arc::new(|o: &StoredObject| o.labels.get("app").map(String::as_str) == Some("x"));
    for r in 0..=last {
        let all = s.watch(
            "things",
            WatchOptions {
                from: WatchFrom::Rv(r),
                ..Default::default()
            },
        );
        let sel = s.watch(
            "things",
            WatchOptions {
                from: WatchFrom::Rv(r),
                filter: Some(only_x.clone()),
                ..Default::default()
            },
        );
        let exact = ListOptions {
            rv: ListRv::Exact(r),
            limit: Some(2),
            ..Default::default()
        };
        let listed = s.list("things", &exact, None);
        if r < boundary {
            check(
                matches!(all, Err(StoreError::Expired { requested, oldest }) if requested == r && oldest == boundary),
                "watch below the history boundary",
            )?;
            check(
                matches!(sel, Err(StoreError::Expired { .. })),
                "filtered watch below the boundary",
            )?;
            check(
                matches!(listed, Err(StoreError::Expired { .. })),
                "exact list below the boundary",
            )?;
            continue;
        }
        let (Ok(mut all), Ok(mut sel), Ok(first)) = (all, sel, listed) else {
            return Err(TestCaseError::fail(format!(
                "rv {r} should be retained (boundary {boundary})"
            )));
        };
        let after: Vec<_> = events.iter().filter(|e| e.rv > r).collect();
        let want: Vec<_> = after
            .iter()
            .map(|e| (e.kind, e.key.storage_key(), e.rv))
            .collect();
        prop_assert_eq!(drain(&mut all), want);
        let want: Vec<_> = after
            .iter()
            .filter_map(|e| filtered(e).map(|(k, rv)| (k, e.key.storage_key(), rv)))
            .collect();
        prop_assert_eq!(drain(&mut sel), want);

        // Exact list at r, two items per page, must equal the model's state at r.
        let mut items: Vec<_> = first
            .items
            .iter()
            .map(|o| (o.key.storage_key(), o.rv))
            .collect();
        prop_assert_eq!(first.rv, r);
        let mut token = first.continue_token;
        while let Some(t) = token {
            let page = s
                .list(
                    "things",
                    &ListOptions {
                        continue_token: Some(t),
                        limit: Some(2),
                        ..Default::default()
                    },
                    None,
                )
                .map_err(|e| TestCaseError::fail(format!("page at {r}: {e}")))?;
            prop_assert_eq!(page.rv, r);
            items.extend(page.items.iter().map(|o| (o.key.storage_key(), o.rv)));
            token = page.continue_token;
        }
        let want: Vec<_> = state_at(&events, r)
            .into_iter()
            .map(|(k, (rv, _))| (k, rv))
            .collect();
        prop_assert_eq!(items, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn random_interleavings_match_the_model(ops in prop::collection::vec(op(), 1..50), cap in 1usize..24) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run(ops, cap))?;
    }
}
