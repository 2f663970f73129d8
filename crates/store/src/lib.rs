//! Versioned object store: one global resourceVersion, watch history, durable log with snapshots.
//!
//! This plays etcd plus the kube-apiserver watch cache for the embedded API server:
//!
//! * every write gets the next value of one global, strictly increasing resourceVersion
//!   (`Rv`), stamped into the stored JSON's `metadata.resourceVersion`;
//! * each resource (the caller's string, e.g. `"pods"`, `"deployments.apps"`) is its own
//!   keyspace, ordered like etcd keys (`namespace/name` bytes);
//! * a per-resource ring of recent events backs watches from an old resourceVersion and
//!   consistent paginated lists (`continue` tokens in the apiserver's exact format);
//! * watchers are indexed by one selectable field so an event only visits the watchers
//!   that can care about it;
//! * with a data directory, writes go through an append-only, CRC-checked log written by
//!   one group-committing thread, with periodic snapshots; `open` recovers from them.
//!
//! The synchronous core is [`StoreState`]; [`Store`] wraps it with a lock and the log.

mod continue_token;
mod error;
mod object;
mod state;
mod store;
mod wal;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use continue_token::{decode as decode_continue, encode as encode_continue};
pub use error::StoreError;
pub use object::{build_object, with_rv, ObjectKey, StoredObject};
pub use state::{Change, Registration, StoreState};
pub use store::{Store, Watcher};
pub use wal::recover_from_bytes;

/// One global, strictly increasing resourceVersion.
pub type Rv = u64;

/// Capacity of each watcher's live-event channel. A watcher that falls this far behind
/// is closed (its client re-watches from its last resourceVersion) instead of blocking
/// writers. Tokio allocates channel blocks lazily, so idle watchers cost nothing for it.
pub const WATCH_CHANNEL_CAPACITY: usize = 2048;

/// Kind of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The wire name used in watch streams.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One event delivered to a watcher.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub kind: EventType,
    pub object: Arc<StoredObject>,
}

/// Store configuration.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Data directory; `None` keeps everything in memory only.
    pub dir: Option<PathBuf>,
    /// Events retained per resource for watches and consistent pagination (min 1).
    pub history_capacity: usize,
    /// Take a snapshot (and drop older log segments) after this many log records;
    /// 0 never snapshots. Only one directory per `Store`: do not open it twice at once.
    pub snapshot_every_records: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: None,
            history_capacity: 10_000,
            snapshot_every_records: 10_000,
        }
    }
}

impl StoreConfig {
    /// An in-memory store with default limits.
    pub fn in_memory() -> Self {
        StoreConfig::default()
    }

    /// A durable store in `dir` with default limits.
    pub fn durable(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: Some(dir.into()),
            ..StoreConfig::default()
        }
    }
}

/// What `open` found on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Every anomaly found and repaired (corrupt/truncated log tails, discarded segments).
    pub warnings: Vec<String>,
    /// Objects present after recovery, over all resources.
    pub objects: usize,
    /// The store's resourceVersion after recovery; the next write gets a larger one.
    pub last_rv: Rv,
}

/// Which state a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ListRv {
    /// resourceVersion unset: the latest state (paginated if `limit` is set).
    #[default]
    Latest,
    /// resourceVersion=N (default match): any state at least as new as N.
    NotOlderThan(Rv),
    /// resourceVersionMatch=Exact: the state exactly at N (from retained history).
    Exact(Rv),
    /// resourceVersion=0: served from the cache; like the apiserver, `limit` is ignored.
    Any,
}

/// List parameters.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only this namespace (`None` or `""` = all).
    pub namespace: Option<String>,
    pub rv: ListRv,
    /// Page size; `None`/0 = everything.
    pub limit: Option<usize>,
    /// A token from a previous page; when set, `rv` is ignored and the list is served at
    /// the token's resourceVersion.
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Clone, Debug)]
pub struct ListResult {
    pub items: Vec<Arc<StoredObject>>,
    /// The resourceVersion the list reflects.
    pub rv: Rv,
    pub continue_token: Option<String>,
    /// Objects after this page; only set when there is a next page and no filter.
    pub remaining_item_count: Option<u64>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchFrom {
    /// Events with resourceVersion greater than this one (replayed from history, then live).
    Rv(Rv),
    /// A synthetic ADDED for every current matching object, then live events.
    Now,
}

/// A watch predicate evaluated against stored objects.
pub type WatchFilter = Arc<dyn Fn(&StoredObject) -> bool + Send + Sync>;

/// Watch parameters.
#[derive(Clone)]
pub struct WatchOptions {
    /// Only this namespace (`None` or `""` = all).
    pub namespace: Option<String>,
    pub from: WatchFrom,
    /// Label/field selector. Must not call back into the store (it runs under its lock).
    pub filter: Option<WatchFilter>,
    /// A (field, value) the filter requires; the watcher is then only visited for events
    /// whose old or new object has that value. Objects without the field never match.
    pub index: Option<(&'static str, String)>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            namespace: None,
            from: WatchFrom::Now,
            filter: None,
            index: None,
        }
    }
}

impl fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchOptions")
            .field("namespace", &self.namespace)
            .field("from", &self.from)
            .field("filter", &self.filter.as_ref().map(|_| "<fn>"))
            .field("index", &self.index)
            .finish()
    }
}
