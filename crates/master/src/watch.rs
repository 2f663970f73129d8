//! Watch responses: a stream of newline-delimited JSON events (ADDED,
//! MODIFIED, DELETED, BOOKMARK, ERROR) fed from a store watcher, with
//! bookmarks, `timeoutSeconds` and `410 Expired` as the real server sends
//! them (an ERROR event inside a 200 response).
//!
//! Also the resourceVersion rules of lists and watches, as pure functions:
//! upstream's `ValidateListOptions` (with WatchList on), where a watch
//! starts, and the watch cache's wait for a resourceVersion not yet reached
//! (`waitUntilFreshAndBlock`: about 3 s, then `504` with cause
//! `ResourceVersionTooLarge`).

use crate::api::{ApiServer, Rendering, Selection};
use crate::request::{Query, ResourceRequest};
use apimachinery::status::{Cause, Details};
use apimachinery::ApiError;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use store::{EventType, ListRv, Rv, StoredObject, WatchEvent, WatchFrom, WatchOptions};
use tokio::sync::mpsc;

/// How often a watch that asked for bookmarks gets one (the real server
/// sends them about once a minute).
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// How long before a watch's timeout its last bookmark is sent (upstream's
/// cacher: 2 s).
pub const PRE_TIMEOUT_BOOKMARK: Duration = Duration::from_secs(2);

/// How long a read waits for a resourceVersion the store has not reached
/// (the watch cache's `blockTimeout`).
pub const FRESH_TIMEOUT: Duration = Duration::from_secs(3);

/// `Retry-After` of a too-large-resourceVersion answer
/// (`resourceVersionTooHighRetrySeconds`).
pub const TOO_LARGE_RETRY_SECONDS: u64 = 1;

/// The version-related query parameters of a list or watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VersionParams<'a> {
    pub watch: bool,
    /// `resourceVersion`, "" when unset.
    pub resource_version: &'a str,
    /// `resourceVersionMatch`, "" when unset.
    pub resource_version_match: &'a str,
    /// `sendInitialEvents`; `None` when unset.
    pub send_initial_events: Option<bool>,
    /// `continue`, "" when unset.
    pub continue_token: &'a str,
}

impl<'a> VersionParams<'a> {
    /// Reads the parameters (400 for a malformed boolean, as Go's conversion).
    pub fn from_query(query: &'a Query, watch: bool) -> Result<VersionParams<'a>, ApiError> {
        let send_initial_events = match query.get("sendInitialEvents") {
            None => None,
            Some(_) => Some(query.flag("sendInitialEvents")?),
        };
        Ok(VersionParams {
            watch,
            resource_version: query.get("resourceVersion").unwrap_or(""),
            resource_version_match: query.get("resourceVersionMatch").unwrap_or(""),
            send_initial_events,
            continue_token: query.get("continue").unwrap_or(""),
        })
    }
}

const EXACT: &str = "Exact";
const NOT_OLDER_THAN: &str = "NotOlderThan";
const RV_MATCH: &str = "resourceVersionMatch";

/// k8s.io/apimachinery `ValidateListOptions` with the WatchList feature on:
/// the field errors of a list's or watch's version parameters.
pub fn validate_list_options(p: &VersionParams) -> Vec<Cause> {
    let m = p.resource_version_match;
    let mut errs = Vec::new();
    if p.watch {
        if p.send_initial_events.is_some() && m != NOT_OLDER_THAN {
            errs.push(Cause::forbidden(
                RV_MATCH,
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !m.is_empty() {
            if p.send_initial_events.is_none() {
                errs.push(Cause::forbidden(
                    RV_MATCH,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if m != NOT_OLDER_THAN {
                errs.push(Cause::not_supported(RV_MATCH, &json!(m), &[NOT_OLDER_THAN]));
            }
            if !p.continue_token.is_empty() {
                errs.push(Cause::forbidden(
                    RV_MATCH,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
        return errs;
    }
    if !m.is_empty() {
        if p.resource_version.is_empty() {
            errs.push(Cause::forbidden(
                RV_MATCH,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if !p.continue_token.is_empty() {
            errs.push(Cause::forbidden(
                RV_MATCH,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != EXACT && m != NOT_OLDER_THAN {
            errs.push(Cause::not_supported(
                RV_MATCH,
                &json!(m),
                &[EXACT, NOT_OLDER_THAN, ""],
            ));
        }
        if m == EXACT && p.resource_version == "0" {
            errs.push(Cause::forbidden(
                RV_MATCH,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if p.send_initial_events.is_some() {
        errs.push(Cause::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    errs
}

/// The `422` upstream answers for invalid list options
/// (`ListOptions.meta.k8s.io "" is invalid: ...`).
pub fn invalid_list_options(causes: Vec<Cause>) -> ApiError {
    let mut e = ApiError::invalid("meta.k8s.io", "ListOptions", "", causes);
    e.message = e
        .message
        .replacen("ListOptions", "ListOptions.meta.k8s.io", 1);
    if let Some(d) = e.details.as_mut() {
        d.name = None;
    }
    e
}

/// `storage.NewTooLargeResourceVersionError`: a `504 Timeout` whose cause
/// is `ResourceVersionTooLarge`, with `Retry-After`.
pub fn too_large(requested: Rv, current: Rv) -> ApiError {
    let mut e = ApiError::timeout(format!(
        "Timeout: Too large resource version: {requested}, current: {current}"
    ));
    e.retry_after = Some(TOO_LARGE_RETRY_SECONDS);
    e.details = Some(Details {
        causes: vec![Cause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }],
        ..Details::default()
    });
    e
}

fn parse_rv(v: &str) -> Result<Rv, ApiError> {
    v.parse::<Rv>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))
}

/// Which state a (validated) list reads.
pub fn list_rv(p: &VersionParams) -> Result<ListRv, ApiError> {
    let errs = validate_list_options(p);
    if !errs.is_empty() {
        return Err(invalid_list_options(errs));
    }
    let rv = p.resource_version;
    if !p.continue_token.is_empty() && !rv.is_empty() && rv != "0" {
        // The etcd3 store's answer.
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    Ok(match (rv, p.resource_version_match) {
        ("", _) => ListRv::Latest,
        ("0", _) => ListRv::Any,
        (v, EXACT) => ListRv::Exact(parse_rv(v)?),
        (v, _) => ListRv::NotOlderThan(parse_rv(v)?),
    })
}

/// Where a (validated) watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// resourceVersion "" or "0": a synthetic ADDED for every current
    /// object, then live events.
    SyntheticAdded,
    /// `sendInitialEvents=false` with resourceVersion "" or "0": only
    /// events after the store's current resourceVersion.
    Current,
    /// Events after this resourceVersion, once the store has reached it.
    After(Rv),
    /// Watch-list (`sendInitialEvents=true`): the state at least as new as
    /// `min` (0: any) as ADDED events, the initial-events-end BOOKMARK
    /// (when bookmarks are allowed), then live events.
    InitialEvents { min: Rv },
}

impl WatchStart {
    /// The resourceVersion the store must reach before the watch starts.
    pub fn needs_rv(self) -> Option<Rv> {
        match self {
            WatchStart::After(rv) | WatchStart::InitialEvents { min: rv } if rv > 0 => Some(rv),
            _ => None,
        }
    }
}

/// The start of a watch from its parameters (validating them first).
pub fn watch_start(p: &VersionParams) -> Result<WatchStart, ApiError> {
    let errs = validate_list_options(p);
    if !errs.is_empty() {
        return Err(invalid_list_options(errs));
    }
    let rv = match p.resource_version {
        "" | "0" => None,
        v => Some(parse_rv(v)?),
    };
    Ok(match (p.send_initial_events, rv) {
        (Some(true), rv) => WatchStart::InitialEvents {
            min: rv.unwrap_or(0),
        },
        (Some(false), None) => WatchStart::Current,
        (None, None) => WatchStart::SyntheticAdded,
        (_, Some(rv)) => WatchStart::After(rv),
    })
}

/// A parsed watch request.
pub struct WatchRequest {
    pub start: WatchStart,
    pub bookmarks: bool,
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
        let start = watch_start(&VersionParams::from_query(query, true)?)?;
        let timeout = match query.int("timeoutSeconds")? {
            Some(t) if t > 0 => Duration::from_secs(t as u64),
            // The real server picks 30-60 minutes at random.
            _ => Duration::from_secs(1800 + rand_secs(1800)),
        };
        Ok(WatchRequest {
            start,
            bookmarks,
            timeout,
            selection,
            rendering,
        })
    }
}

/// A list that first waits (up to [`FRESH_TIMEOUT`]) for a
/// `resourceVersion` (NotOlderThan) the store has not reached yet, as the
/// watch cache serves such lists; `504` if it does not get there.
pub async fn list_fresh(
    api: &ApiServer,
    r: &ResourceRequest,
    query: &Query,
) -> Result<store::ListResult, ApiError> {
    let params = VersionParams::from_query(query, false)?;
    if let ListRv::NotOlderThan(rv) = list_rv(&params)? {
        api.store
            .wait_until_fresh(rv, FRESH_TIMEOUT)
            .await
            .map_err(|e| crate::api::store_error(r.info, "", e))?;
    }
    api.list(r, query)
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
        Rendering::Object => match crate::crd::at_version(r.info, &o.json) {
            Some(converted) => Bytes::from(converted),
            None => o.json.clone(),
        },
        Rendering::PartialObjectMetadata => {
            let v: Value = serde_json::from_slice(&o.json).unwrap_or(Value::Null);
            let meta = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata")});
            Bytes::from(serde_json::to_vec(&meta).unwrap_or_default())
        }
        Rendering::Table => {
            let v: Value = serde_json::from_slice(&o.json).unwrap_or(Value::Null);
            let table = crate::table::to_table_for(
                r.info,
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

/// Everything a watch needs before its live loop: the initial events of a
/// watch-list, the store watcher, and the resourceVersion it starts at.
struct Opened {
    initial: Vec<Arc<StoredObject>>,
    watcher: store::Watcher,
    start_rv: Rv,
}

/// Waits for the start resourceVersion, lists (watch-list) and registers.
async fn open(
    api: &ApiServer,
    r: &ResourceRequest,
    start: WatchStart,
    selection: &Selection,
    filter: Option<store::WatchFilter>,
) -> Result<Opened, ApiError> {
    let resource = r.info.storage_name();
    let store_err = |e| crate::api::store_error(r.info, "", e);
    if let Some(rv) = start.needs_rv() {
        api.store
            .wait_until_fresh(rv, FRESH_TIMEOUT)
            .await
            .map_err(store_err)?;
    }
    let namespace = (!r.namespace.is_empty()).then(|| r.namespace.clone());
    let mut initial = Vec::new();
    let from = match start {
        WatchStart::SyntheticAdded => WatchFrom::Now,
        WatchStart::Current => WatchFrom::Rv(api.store.current_rv()),
        WatchStart::After(rv) => WatchFrom::Rv(rv),
        WatchStart::InitialEvents { .. } => {
            // The initial state is a list at some rv (at least `min`, waited
            // for above); the watch then resumes from that rv, so nothing is
            // missed or repeated.
            let opts = store::ListOptions {
                namespace: namespace.clone(),
                rv: ListRv::Latest,
                limit: None,
                continue_token: None,
            };
            let f = |o: &StoredObject| selection.matches(o);
            let listed = api
                .store
                .list(&resource, &opts, Some(&f))
                .map_err(store_err)?;
            initial = listed.items;
            WatchFrom::Rv(listed.rv)
        }
    };
    let opts = WatchOptions {
        namespace,
        from,
        filter,
        index: index_of(selection),
    };
    let watcher = api.store.watch(&resource, opts).map_err(store_err)?;
    let start_rv = match from {
        WatchFrom::Rv(rv) => rv,
        WatchFrom::Now => api.store.current_rv(),
    };
    Ok(Opened {
        initial,
        watcher,
        start_rv,
    })
}

/// Starts a watch; returns the receiving end of its event stream. Errors
/// after the request was parsed (a resourceVersion too old or never
/// reached) are, as upstream, one ERROR event inside the 200 response. The
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
    // "From now" means the moment of the request, not of registration.
    let start = match w.start {
        WatchStart::Current => WatchStart::After(api.store.current_rv()),
        s => s,
    };
    tokio::spawn(async move {
        // The wait for a resourceVersion happens before the watch's own
        // timeout starts, as upstream's Watch() returns before serveWatch.
        let opened = tokio::select! {
            o = open(&api, &r, start, &selection, filter) => o,
            _ = tx.closed() => return,
        };
        let deadline = tokio::time::sleep(w.timeout);
        tokio::pin!(deadline);
        // As upstream's cacher (nextBookmarkTime), a bookmark 2 s before the
        // timeout too, so a watcher resumes from a fresh resourceVersion
        // instead of one up to a minute old that busy history has expired.
        let pre_timeout = tokio::time::sleep(w.timeout.saturating_sub(PRE_TIMEOUT_BOOKMARK));
        tokio::pin!(pre_timeout);
        let mut pre_timeout_sent = w.timeout <= PRE_TIMEOUT_BOOKMARK;
        let Opened {
            initial,
            mut watcher,
            start_rv,
        } = match opened {
            Ok(o) => o,
            Err(e) => {
                let status = serde_json::to_vec(&e.to_status()).unwrap_or_default();
                let _ = tx.send(event_line("ERROR", &status)).await;
                return;
            }
        };
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_INTERVAL,
            BOOKMARK_INTERVAL,
        );
        if let WatchStart::InitialEvents { .. } = start {
            for o in &initial {
                if tx
                    .send(event_line("ADDED", &render(&r, w.rendering, o)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // Upstream sends the initial-events-end bookmark only to
            // watchers that allow bookmarks.
            if w.bookmarks && tx.send(bookmark(&r, start_rv, true)).await.is_err() {
                return;
            }
        }
        drop(initial);
        let mut last_sent = start_rv;
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
                _ = async {
                    tokio::select! {
                        _ = ticker.tick() => {}
                        _ = &mut pre_timeout, if !pre_timeout_sent => {}
                    }
                }, if w.bookmarks => {
                    if pre_timeout.is_elapsed() {
                        pre_timeout_sent = true;
                    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn params<'a>(
        watch: bool,
        rv: &'a str,
        m: &'a str,
        sie: Option<bool>,
        cont: &'a str,
    ) -> VersionParams<'a> {
        VersionParams {
            watch,
            resource_version: rv,
            resource_version_match: m,
            send_initial_events: sie,
            continue_token: cont,
        }
    }

    fn messages(p: &VersionParams) -> Vec<String> {
        validate_list_options(p)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn validation_matches_upstream() {
        let nf = "resourceVersionMatch: Forbidden: ";
        let cases: Vec<(VersionParams, Vec<String>)> = vec![
            (params(false, "", "", None, ""), vec![]),
            (params(false, "5", "Exact", None, ""), vec![]),
            (params(false, "0", "NotOlderThan", None, ""), vec![]),
            (
                params(false, "", "Exact", None, ""),
                vec![format!("{nf}resourceVersionMatch is forbidden unless resourceVersion is provided")],
            ),
            (
                params(false, "5", "Exact", None, "tok"),
                vec![format!("{nf}resourceVersionMatch is forbidden when continue is provided")],
            ),
            (
                params(false, "5", "Newest", None, ""),
                vec![r#"resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", """#.to_string()],
            ),
            (
                params(false, "0", "Exact", None, ""),
                vec![format!("{nf}resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")],
            ),
            (
                params(false, "", "", Some(false), ""),
                vec!["sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list".to_string()],
            ),
            (params(true, "", "", None, ""), vec![]),
            (params(true, "7", "NotOlderThan", Some(true), ""), vec![]),
            (params(true, "", "NotOlderThan", Some(false), ""), vec![]),
            (
                params(true, "", "", Some(true), ""),
                vec![format!("{nf}sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")],
            ),
            (
                params(true, "", "NotOlderThan", None, ""),
                vec![format!("{nf}resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")],
            ),
            (
                params(true, "", "Exact", Some(true), "c"),
                vec![
                    format!("{nf}sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
                    r#"resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan""#.to_string(),
                    format!("{nf}resourceVersionMatch is forbidden when continue is provided"),
                ],
            ),
        ];
        for (p, want) in cases {
            assert_eq!(messages(&p), want, "{p:?}");
        }
    }

    #[test]
    fn invalid_options_are_422_list_options() {
        let err = watch_start(&params(true, "", "", Some(true), "")).unwrap_err();
        assert_eq!(err.code, 422);
        let s = err.to_status();
        assert_eq!(
            s["message"],
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        );
        assert_eq!(s["details"]["group"], "meta.k8s.io");
        assert_eq!(s["details"]["kind"], "ListOptions");
        assert!(s["details"].get("name").is_none());
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueForbidden");
        assert_eq!(s["details"]["causes"][0]["field"], "resourceVersionMatch");
    }

    #[test]
    fn list_versions() {
        let cases: Vec<(VersionParams, Result<ListRv, u16>)> = vec![
            (params(false, "", "", None, ""), Ok(ListRv::Latest)),
            (params(false, "0", "", None, ""), Ok(ListRv::Any)),
            (
                params(false, "0", "NotOlderThan", None, ""),
                Ok(ListRv::Any),
            ),
            (
                params(false, "9", "", None, ""),
                Ok(ListRv::NotOlderThan(9)),
            ),
            (
                params(false, "9", "NotOlderThan", None, ""),
                Ok(ListRv::NotOlderThan(9)),
            ),
            (params(false, "9", "Exact", None, ""), Ok(ListRv::Exact(9))),
            (params(false, "", "", None, "tok"), Ok(ListRv::Latest)),
            (params(false, "9", "", None, "tok"), Err(400)),
            (params(false, "x", "", None, ""), Err(400)),
            (params(false, "", "Exact", None, ""), Err(422)),
        ];
        for (p, want) in cases {
            assert_eq!(list_rv(&p).map_err(|e| e.code), want, "{p:?}");
        }
    }

    #[test]
    fn watch_starts() {
        use WatchStart::*;
        let n = "NotOlderThan";
        let cases: Vec<(VersionParams, Result<WatchStart, u16>)> = vec![
            (params(true, "", "", None, ""), Ok(SyntheticAdded)),
            (params(true, "0", "", None, ""), Ok(SyntheticAdded)),
            (params(true, "12", "", None, ""), Ok(After(12))),
            (params(true, "", n, Some(false), ""), Ok(Current)),
            (params(true, "0", n, Some(false), ""), Ok(Current)),
            (params(true, "12", n, Some(false), ""), Ok(After(12))),
            (
                params(true, "", n, Some(true), ""),
                Ok(InitialEvents { min: 0 }),
            ),
            (
                params(true, "0", n, Some(true), ""),
                Ok(InitialEvents { min: 0 }),
            ),
            (
                params(true, "12", n, Some(true), ""),
                Ok(InitialEvents { min: 12 }),
            ),
            (params(true, "12", "", Some(true), ""), Err(422)),
            (params(true, "abc", "", None, ""), Err(400)),
        ];
        for (p, want) in cases {
            assert_eq!(watch_start(&p).map_err(|e| e.code), want, "{p:?}");
        }
        assert_eq!(SyntheticAdded.needs_rv(), None);
        assert_eq!(InitialEvents { min: 0 }.needs_rv(), None);
        assert_eq!(InitialEvents { min: 4 }.needs_rv(), Some(4));
        assert_eq!(After(4).needs_rv(), Some(4));
    }

    #[test]
    fn too_large_status_is_upstreams() {
        let e = too_large(100, 7);
        assert_eq!(e.code, 504);
        assert_eq!(e.retry_after, Some(1));
        assert_eq!(
            e.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Timeout: Too large resource version: 100, current: 7",
                "reason": "Timeout",
                "details": {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1},
                "code": 504
            })
        );
    }
}
