//! The shared store handle: the core behind a lock, plus the group-committing log thread.
//!
//! Locks: `write` (a mutex) serializes writers: precondition checks, rv assignment and
//! queueing to the log thread all happen under it, so the log receives records in rv
//! order. `state` (a RwLock) holds only durable, committed data; readers never wait for
//! an fsync. Writers take `write` then `state` (read); the log thread takes `state`
//! (write) and `write` separately, never both, so they cannot deadlock.
//!
//! A durable write becomes visible (get/list/watch) only after its record is fsynced;
//! until then the writer's `pending` overlay lets later writes see it for their checks.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::state::{check_create, check_delete, check_update, Change};
use crate::wal::{self, LogWriter, OP_DELETE, OP_PUT};
use crate::{
    build_object, with_rv, ListOptions, ListResult, ObjectKey, RecoveryReport, Rv, StoreConfig,
    StoreError, StoreState, StoredObject, WatchEvent, WatchOptions, WATCH_CHANNEL_CAPACITY,
};

/// Most records committed by one fsync.
const MAX_BATCH: usize = 4096;

/// Latest not-yet-durable version of each key written, for write-side checks.
type Overlay = HashMap<String, HashMap<String, (Rv, Option<Arc<StoredObject>>)>>;

struct WriteSide {
    /// Last resourceVersion handed out.
    last_rv: Rv,
    closed: bool,
    pending: Overlay,
}

impl WriteSide {
    fn pending(&self, resource: &str, skey: &str) -> Option<Option<Arc<StoredObject>>> {
        self.pending
            .get(resource)?
            .get(skey)
            .map(|(_, o)| o.clone())
    }

    fn set_pending(&mut self, resource: &str, skey: String, rv: Rv, o: Option<Arc<StoredObject>>) {
        self.pending
            .entry(resource.to_owned())
            .or_default()
            .insert(skey, (rv, o));
    }

    /// Drops the overlay entry once the committed state has caught up with it.
    fn committed(&mut self, resource: &str, skey: &str, rv: Rv) {
        let Some(keys) = self.pending.get_mut(resource) else {
            return;
        };
        if keys.get(skey).is_some_and(|(r, _)| *r == rv) {
            keys.remove(skey);
            if keys.is_empty() {
                self.pending.remove(resource);
            }
        }
    }
}

struct Shared {
    state: RwLock<StoreState>,
    write: Mutex<WriteSide>,
    /// Highest rv pushed to every watcher channel.
    dispatched: Arc<AtomicU64>,
    /// Set after a log write/fsync failure: the store then refuses writes.
    failed: AtomicBool,
    /// Wakes `wait_until_fresh` callers when `dispatched` advances.
    fresh: Notify,
    /// Callers inside `wait_until_fresh`; writers skip the wake-up when 0.
    fresh_waiters: AtomicUsize,
}

struct PendingWrite {
    resource: String,
    skey: String,
    change: Change,
    record: Vec<u8>,
    ack: oneshot::Sender<Result<(), StoreError>>,
}

enum LogMsg {
    Write(PendingWrite),
    Shutdown(oneshot::Sender<()>),
}

/// Owned only by `Store` handles: dropping the last one closes the log channel, which
/// ends the log thread.
struct Handle {
    log: Option<std_mpsc::Sender<LogMsg>>,
}

/// A cheap, cloneable handle to the store.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    handle: Arc<Handle>,
}

impl Store {
    /// Opens (recovering from `cfg.dir` if set) and starts the log thread.
    pub async fn open(cfg: StoreConfig) -> Result<(Store, RecoveryReport), StoreError> {
        let Some(dir) = cfg.dir.clone() else {
            let state = StoreState::new(cfg.history_capacity, WATCH_CHANNEL_CAPACITY);
            let report = RecoveryReport {
                warnings: Vec::new(),
                objects: 0,
                last_rv: state.current_rv(),
            };
            let store = Store {
                shared: Shared::new(state),
                handle: Arc::new(Handle { log: None }),
            };
            return Ok((store, report));
        };
        let (hc, every) = (cfg.history_capacity, cfg.snapshot_every_records);
        let recovered = tokio::task::spawn_blocking(move || {
            wal::recover(&dir, hc, WATCH_CHANNEL_CAPACITY, every)
        })
        .await
        .map_err(|e| StoreError::Io(io::Error::other(format!("recovery task failed: {e}"))))??;
        let shared = Shared::new(recovered.state);
        let (tx, rx) = std_mpsc::channel();
        let thread_shared = shared.clone();
        let log = recovered.log;
        std::thread::Builder::new()
            .name("store-log".into())
            .spawn(move || log_thread(thread_shared, rx, log))?;
        let store = Store {
            shared,
            handle: Arc::new(Handle { log: Some(tx) }),
        };
        Ok((store, recovered.report))
    }

    /// The resourceVersion of the latest visible change.
    pub fn current_rv(&self) -> Rv {
        self.shared.state.read().current_rv()
    }

    /// Highest rv already pushed to every watcher channel (safe for BOOKMARKs).
    pub fn dispatched_rv(&self) -> Rv {
        self.shared.dispatched.load(Ordering::Acquire)
    }

    pub fn get(&self, resource: &str, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        self.shared.state.read().get(resource, key)
    }

    /// Waits until the store has reached `rv` (as the apiserver watch cache's
    /// `waitUntilFreshAndBlock` does), at most `timeout`; then
    /// `TooLargeResourceVersion` with the resourceVersion reached.
    pub async fn wait_until_fresh(&self, rv: Rv, timeout: Duration) -> Result<(), StoreError> {
        let shared = &self.shared;
        if shared.dispatched.load(Ordering::Acquire) >= rv {
            return Ok(());
        }
        shared.fresh_waiters.fetch_add(1, Ordering::SeqCst);
        let _guard = WaiterGuard(&shared.fresh_waiters);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = shared.fresh.notified();
            tokio::pin!(notified);
            // Registered before the check, so a publish in between still wakes us.
            notified.as_mut().enable();
            let current = shared.dispatched.load(Ordering::SeqCst);
            if current >= rv {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check_fresh(rv, shared.dispatched.load(Ordering::Acquire));
            }
        }
    }

    /// Creates an object; `AlreadyExists` if the key is taken.
    pub async fn create(
        &self,
        resource: &str,
        key: ObjectKey,
        obj: serde_json::Value,
        fields: Vec<(&'static str, String)>,
    ) -> Result<Arc<StoredObject>, StoreError> {
        self.write(resource, key.storage_key(), |current, rv| {
            check_create(current)?;
            Ok(Change::Put(Arc::new(build_object(rv, key, obj, fields)?)))
        })
        .await
    }

    /// Replaces an object; `NotFound` if absent, `Conflict` if `precondition_rv` is stale.
    pub async fn update(
        &self,
        resource: &str,
        key: ObjectKey,
        obj: serde_json::Value,
        fields: Vec<(&'static str, String)>,
        precondition_rv: Option<Rv>,
    ) -> Result<Arc<StoredObject>, StoreError> {
        self.write(resource, key.storage_key(), |current, rv| {
            check_update(current, precondition_rv)?;
            Ok(Change::Put(Arc::new(build_object(rv, key, obj, fields)?)))
        })
        .await
    }

    /// Deletes an object. The returned (and watched) object is its last content with a
    /// new resourceVersion, as the apiserver's watch reports deletions.
    pub async fn delete(
        &self,
        resource: &str,
        key: &ObjectKey,
        precondition_rv: Option<Rv>,
        precondition_uid: Option<&str>,
    ) -> Result<Arc<StoredObject>, StoreError> {
        self.write(resource, key.storage_key(), |current, rv| {
            check_delete(current, precondition_rv, precondition_uid)?;
            let cur = current.ok_or(StoreError::NotFound)?;
            Ok(Change::Delete(Arc::new(with_rv(cur, rv)?)))
        })
        .await
    }

    async fn write(
        &self,
        resource: &str,
        skey: String,
        build: impl FnOnce(Option<&Arc<StoredObject>>, Rv) -> Result<Change, StoreError>,
    ) -> Result<Arc<StoredObject>, StoreError> {
        let (ack, object) = {
            let mut ws = self.shared.write.lock();
            if ws.closed || self.shared.failed.load(Ordering::Acquire) {
                return Err(StoreError::Closed);
            }
            let current = match ws.pending(resource, &skey) {
                Some(p) => p,
                None => self.shared.state.read().get_by_storage_key(resource, &skey),
            };
            let rv = ws.last_rv + 1;
            let change = build(current.as_ref(), rv)?;
            let object = change.object().clone();
            let Some(log) = &self.handle.log else {
                // In memory: commit and publish right away.
                let mut st = self.shared.state.write();
                st.apply(resource, change)?;
                self.shared.publish(st.current_rv());
                ws.last_rv = rv;
                return Ok(object);
            };
            let mut record = Vec::new();
            let (op, after) = match &change {
                Change::Put(o) => (OP_PUT, Some(o.clone())),
                Change::Delete(_) => (OP_DELETE, None),
            };
            wal::encode_record(&mut record, op, resource, &object);
            let (tx, rx) = oneshot::channel();
            let msg = LogMsg::Write(PendingWrite {
                resource: resource.to_owned(),
                skey: skey.clone(),
                change,
                record,
                ack: tx,
            });
            log.send(msg).map_err(|_| StoreError::Closed)?;
            ws.last_rv = rv;
            ws.set_pending(resource, skey, rv, after);
            (rx, object)
        };
        match ack.await {
            Ok(Ok(())) => Ok(object),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// Lists one resource. With `continue_token` (or `ListRv::Exact`) the list is served
    /// at that older resourceVersion, rebuilt from retained history. `filter` must not
    /// call back into the store.
    pub fn list(
        &self,
        resource: &str,
        opts: &ListOptions,
        filter: Option<&dyn Fn(&StoredObject) -> bool>,
    ) -> Result<ListResult, StoreError> {
        self.shared.state.read().list(resource, opts, filter)
    }

    /// Starts a watch. Replayed or synthetic events and live ones form one gapless,
    /// duplicate-free sequence. `Expired` if events after `from` were already dropped.
    pub fn watch(&self, resource: &str, opts: WatchOptions) -> Result<Watcher, StoreError> {
        let reg = self.shared.state.write().watch(resource, opts)?;
        Ok(Watcher {
            backlog: reg.backlog,
            rx: reg.rx,
            min_rv: reg.min_rv,
            dispatched: self.shared.dispatched.clone(),
            owner: Arc::downgrade(&self.shared),
            resource: resource.to_owned(),
            id: reg.id,
            index: reg.index,
        })
    }

    pub fn count(&self, resource: &str) -> usize {
        self.shared.state.read().count(resource)
    }

    /// (resource, object count) for every known resource, sorted.
    pub fn counts(&self) -> Vec<(String, usize)> {
        self.shared.state.read().counts()
    }

    /// Every resource written or watched so far, sorted.
    pub fn resources(&self) -> Vec<String> {
        self.shared.state.read().resources()
    }

    /// Watchers currently registered on a resource.
    pub fn watcher_count(&self, resource: &str) -> usize {
        self.shared.state.read().watcher_count(resource)
    }

    /// Stops accepting writes, waits until every accepted write is durable and any
    /// running snapshot is finished, and ends all watches. Reads keep working.
    pub async fn close(&self) {
        let done = {
            let mut ws = self.shared.write.lock();
            if ws.closed {
                None
            } else {
                ws.closed = true;
                self.handle.log.as_ref().and_then(|log| {
                    let (tx, rx) = oneshot::channel();
                    log.send(LogMsg::Shutdown(tx)).ok().map(|_| rx)
                })
            }
        };
        if let Some(done) = done {
            let _ = done.await;
        }
        self.shared.state.write().close_watchers();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("current_rv", &self.current_rv())
            .field("durable", &self.handle.log.is_some())
            .finish()
    }
}

impl Shared {
    fn new(state: StoreState) -> Arc<Shared> {
        let rv = state.current_rv();
        Arc::new(Shared {
            state: RwLock::new(state),
            write: Mutex::new(WriteSide {
                last_rv: rv,
                closed: false,
                pending: HashMap::new(),
            }),
            dispatched: Arc::new(AtomicU64::new(rv)),
            failed: AtomicBool::new(false),
            fresh: Notify::new(),
            fresh_waiters: AtomicUsize::new(0),
        })
    }

    /// Makes everything up to `rv` visible to watchers and freshness waiters.
    fn publish(&self, rv: Rv) {
        self.dispatched.store(rv, Ordering::SeqCst);
        if self.fresh_waiters.load(Ordering::SeqCst) > 0 {
            self.fresh.notify_waiters();
        }
    }
}

/// Decrements the freshness-waiter count when a wait ends (also on cancel).
struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a store at `current` may serve a read that needs at least `requested`.
pub(crate) fn check_fresh(requested: Rv, current: Rv) -> Result<(), StoreError> {
    if requested > current {
        Err(StoreError::TooLargeResourceVersion { requested, current })
    } else {
        Ok(())
    }
}

/// The log thread: group commit. It takes everything queued, writes it with one fsync,
/// makes it visible and publishes it to watchers in rv order, then acks the writers.
fn log_thread(shared: Arc<Shared>, rx: std_mpsc::Receiver<LogMsg>, mut log: LogWriter) {
    let mut failure: Option<(io::ErrorKind, String)> = None;
    let mut buf = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut shutdown = None;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                LogMsg::Write(w) => batch.push(w),
                LogMsg::Shutdown(tx) => {
                    shutdown = Some(tx);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if let Some(e) = commit(&shared, &mut log, &mut buf, batch, &mut failure) {
                // The batch was refused but the log is whole again. Writes queued
                // behind it were checked against its (now void) results: refuse
                // them too, with the writers held off, and start over from the
                // committed state, so the next write tries the disk again.
                let mut ws = shared.write.lock();
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        LogMsg::Write(w) => {
                            let _ = w
                                .ack
                                .send(Err(StoreError::Io(io::Error::new(e.kind(), e.to_string()))));
                        }
                        LogMsg::Shutdown(tx) => shutdown = Some(tx),
                    }
                }
                ws.pending.clear();
            }
        }
        if let Some(done) = shutdown {
            log.finish();
            let _ = done.send(());
            return;
        }
    }
    log.finish();
}

/// Writes and applies one batch. A failed write whose segment could be cut back to
/// its last durable record refuses the batch and returns the error (the store keeps
/// going); if the segment's end is unknown, the store refuses every later write.
fn commit(
    shared: &Shared,
    log: &mut LogWriter,
    buf: &mut Vec<u8>,
    batch: Vec<PendingWrite>,
    failure: &mut Option<(io::ErrorKind, String)>,
) -> Option<io::Error> {
    let refuse = |batch: Vec<PendingWrite>, kind: io::ErrorKind, msg: &str| {
        for w in batch {
            let _ = w
                .ack
                .send(Err(StoreError::Io(io::Error::new(kind, msg.to_owned()))));
        }
    };
    if let Some((kind, msg)) = failure {
        refuse(batch, *kind, msg);
        return None;
    }
    buf.clear();
    for w in &batch {
        buf.extend_from_slice(&w.record);
    }
    if let Err(e) = log.append(buf, batch.len()) {
        match log.roll_back() {
            Ok(()) => {
                tracing::error!(
                    error = %e,
                    "store log write failed; {} writes refused, the log is intact and later writes are tried again (free disk space or raise the file size limit)",
                    batch.len()
                );
                refuse(batch, e.kind(), &e.to_string());
                return Some(e);
            }
            Err(e2) => {
                // The segment's end is unknown: stop writing for good.
                tracing::error!(error = %e, rollback = %e2, "store log write failed and the log could not be cut back to its last record; the store is now read-only until restarted");
                shared.failed.store(true, Ordering::Release);
                *failure = Some((e.kind(), e.to_string()));
                refuse(batch, e.kind(), &e.to_string());
                return None;
            }
        }
    }
    {
        let mut st = shared.state.write();
        for w in &batch {
            if let Err(e) = st.apply(&w.resource, w.change.clone()) {
                // Writers checked against the pending overlay, so this is a bug.
                tracing::error!(error = %e, "committed record does not apply to the state");
            }
        }
        shared.publish(st.current_rv());
    }
    {
        let mut ws = shared.write.lock();
        for w in &batch {
            ws.committed(&w.resource, &w.skey, w.change.object().rv);
        }
    }
    for w in batch {
        let _ = w.ack.send(Ok(()));
    }
    if log.wants_snapshot() {
        let (rv, objects) = {
            let st = shared.state.read();
            (st.current_rv(), st.objects_by_resource())
        };
        log.start_snapshot(rv, objects);
    }
    None
}

/// A running watch. Dropping it unregisters it.
pub struct Watcher {
    backlog: VecDeque<WatchEvent>,
    rx: mpsc::Receiver<WatchEvent>,
    min_rv: Rv,
    dispatched: Arc<AtomicU64>,
    owner: Weak<Shared>,
    resource: String,
    id: u64,
    index: Option<(&'static str, String)>,
}

impl Watcher {
    /// The next event; `None` once the store has closed this watch (it fell too far
    /// behind, or the store closed): the client should re-watch from its last rv.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_next(&mut self) -> Option<WatchEvent> {
        self.backlog.pop_front().or_else(|| self.rx.try_recv().ok())
    }

    /// A resourceVersion a BOOKMARK may carry now: `Some` only when this watcher has
    /// consumed every event up to it.
    pub fn bookmark_rv(&self) -> Option<Rv> {
        // Load first: every event up to `rv` was queued before this store happened.
        let rv = self.dispatched.load(Ordering::Acquire);
        let drained = self.backlog.is_empty() && self.rx.is_empty() && !self.rx.is_closed();
        (drained && rv >= self.min_rv).then_some(rv)
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("resource", &self.resource)
            .field("id", &self.id)
            .field("index", &self.index)
            .field("buffered", &(self.backlog.len() + self.rx.len()))
            .finish()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(shared) = self.owner.upgrade() {
            shared
                .state
                .write()
                .unregister(&self.resource, self.id, self.index.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_rule() {
        let cases: &[(Rv, Rv, bool)] = &[(1, 1, true), (5, 9, true), (0, 1, true), (10, 9, false)];
        for &(requested, current, ok) in cases {
            let got = check_fresh(requested, current);
            assert_eq!(got.is_ok(), ok, "requested {requested} current {current}");
            if let Err(e) = got {
                assert_eq!(
                    e.to_string(),
                    format!("Too large resource version: {requested}, current: {current}")
                );
            }
        }
    }
}
