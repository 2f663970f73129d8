//! Watch responses: a stream of newline-delimited JSON events (ADDED,
//! MODIFIED, DELETED, BOOKMARK, ERROR) fed from a store watcher, with
//! bookmarks, `timeoutSeconds` and `410 Expired` as the real server sends
//! them (an ERROR event inside a 200 response).

use crate::api::{ApiServer, Rendering, Selection};
use crate::request::{Query, ResourceRequest};
use apimachinery::ApiError;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use store::{EventType, StoredObject, WatchEvent, WatchFrom, WatchOptions};
use tokio::sync::mpsc;

/// How often a watch that asked for bookmarks gets one (the real server
/// sends them about once a minute).
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// A parsed watch request.
pub struct WatchRequest {
    pub from: WatchFrom,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    pub selection: Selection,
    pub rendering: Rendering,
}

impl WatchRequest {
    pub fn parse(
        r: &ResourceRequest,
        query: &Query,
        rendering: Rendering,
    ) -> Result<WatchRequest, ApiError> {
        let selection = Selection::parse(r.info, query)?;
        let bookmarks = query.flag("allowWatchBookmarks")?;
        let send_initial_events = query.flag("sendInitialEvents")?;
        let from = match query.non_empty("resourceVersion") {
            None | Some("0") => WatchFrom::Now,
            Some(v) => {
                if send_initial_events {
                    return Err(ApiError::bad_request(
                        "sendInitialEvents is forbidden for a watch from a specific resourceVersion",
                    ));
                }
                WatchFrom::Rv(v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {v:?}"))
                })?)
            }
        };
        if send_initial_events && !bookmarks {
            return Err(ApiError::bad_request(
                "sendInitialEvents requires allowWatchBookmarks=true",
            ));
        }
        let timeout = match query.int("timeoutSeconds")? {
            Some(t) if t > 0 => Duration::from_secs(t as u64),
            // The real server picks 30-60 minutes at random.
            _ => Duration::from_secs(1800 + rand_secs(1800)),
        };
        Ok(WatchRequest {
            from,
            bookmarks,
            send_initial_events,
            timeout,
            selection,
            rendering,
        })
    }
}

fn rand_secs(max: u64) -> u64 {
    let b = uuid::Uuid::new_v4().as_u128();
    (b % u128::from(max.max(1))) as u64
}

/// Which field a selector pins, for the store's watcher index.
fn index_of(sel: &Selection) -> Option<(&'static str, String)> {
    let fields = sel.fields.as_ref()?;
    for field in ["spec.nodeName", "metadata.name"] {
        if let Some(v) = fields.requires_exact_match(field) {
            return Some((field, v.to_string()));
        }
    }
    None
}

fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn type_name(t: &EventType) -> &'static str {
    match t {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    }
}

/// Renders one stored object for the watch's requested form.
fn render(r: &ResourceRequest, rendering: Rendering, o: &StoredObject) -> Bytes {
    match rendering {
        Rendering::Object => o.json.clone(),
        Rendering::PartialObjectMetadata => {
            let v: Value = serde_json::from_slice(&o.json).unwrap_or(Value::Null);
            let meta = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata")});
            Bytes::from(serde_json::to_vec(&meta).unwrap_or_default())
        }
        Rendering::Table => {
            let v: Value = serde_json::from_slice(&o.json).unwrap_or(Value::Null);
            let table = crate::table::to_table(
                &r.info.storage_name(),
                &[v],
                json!({"resourceVersion": o.rv.to_string()}),
                crate::table::IncludeObject::Metadata,
                time::OffsetDateTime::now_utc(),
            );
            Bytes::from(serde_json::to_vec(&table).unwrap_or_default())
        }
    }
}

fn bookmark(r: &ResourceRequest, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": r.info.kind, "apiVersion": r.info.api_version(), "metadata": meta});
    event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

/// Starts a watch; returns the receiving end of its event stream. The
/// stream ends on timeout, when the store drops the watcher, or when the
/// client goes away.
pub fn start(
    api: Arc<ApiServer>,
    r: ResourceRequest,
    w: WatchRequest,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let selection = Arc::new(w.selection);
    let filter_sel = selection.clone();
    let filter: Option<store::WatchFilter> = if selection.is_everything() {
        None
    } else {
        Some(Arc::new(move |o: &StoredObject| filter_sel.matches(o)))
    };
    // With sendInitialEvents the initial state is a list at some rv, sent
    // as ADDED events and closed by a bookmark; the watch then resumes from
    // that rv, so nothing is missed or repeated.
    let mut initial = Vec::new();
    let mut from = w.from;
    if w.send_initial_events {
        let opts = store::ListOptions {
            namespace: (!r.namespace.is_empty()).then(|| r.namespace.clone()),
            rv: store::ListRv::Latest,
            limit: None,
            continue_token: None,
        };
        let f = |o: &StoredObject| selection.matches(o);
        let listed = api
            .store
            .list(&r.info.storage_name(), &opts, Some(&f))
            .map_err(|e| crate::api::store_error(r.info, "", e))?;
        from = WatchFrom::Rv(listed.rv);
        initial = listed.items;
    }
    let opts = WatchOptions {
        namespace: (!r.namespace.is_empty()).then(|| r.namespace.clone()),
        from,
        filter,
        index: index_of(&selection),
    };
    let watcher = api.store.watch(&r.info.storage_name(), opts);
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e @ store::StoreError::Expired { .. }) => {
            // The real server answers 200 and then one ERROR event.
            let status = ApiError::expired(e.to_string()).to_status();
            let line = event_line("ERROR", &serde_json::to_vec(&status).unwrap_or_default());
            let _ = tx.try_send(line);
            return Ok(rx);
        }
        Err(e) => return Err(crate::api::store_error(r.info, "", e)),
    };
    let initial_rv = match from {
        WatchFrom::Rv(rv) => rv,
        _ => api.store.current_rv(),
    };
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(w.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_INTERVAL,
            BOOKMARK_INTERVAL,
        );
        if w.send_initial_events {
            for o in &initial {
                if tx
                    .send(event_line("ADDED", &render(&r, w.rendering, o)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if tx.send(bookmark(&r, initial_rv, true)).await.is_err() {
                return;
            }
        }
        drop(initial);
        let mut last_sent = initial_rv;
        loop {
            tokio::select! {
                ev = watcher.next() => {
                    let Some(WatchEvent { kind, object }) = ev else { break };
                    last_sent = last_sent.max(object.rv);
                    let line = event_line(type_name(&kind), &render(&r, w.rendering, &object));
                    if tx.send(line).await.is_err() {
                        break;
                    }
                }
                _ = ticker.tick(), if w.bookmarks => {
                    // Everything up to dispatched_rv is already in our
                    // channel: drain it first, then bookmark.
                    let rv = api.store.dispatched_rv();
                    let mut closed = false;
                    while let Some(WatchEvent { kind, object }) = watcher.try_next() {
                        let line = event_line(type_name(&kind), &render(&r, w.rendering, &object));
                        if tx.send(line).await.is_err() {
                            closed = true;
                            break;
                        }
                    }
                    if closed || tx.send(bookmark(&r, rv.max(last_sent), false)).await.is_err() {
                        break;
                    }
                }
                _ = &mut deadline => break,
                _ = tx.closed() => break,
            }
        }
    });
    Ok(rx)
}
