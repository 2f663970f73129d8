//! The synchronous core: objects, per-resource event history, watcher registry.
//!
//! Nothing here blocks or needs a runtime; [`crate::Store`] puts it behind a lock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use crate::object::with_rv;
use crate::{
    continue_token, EventType, ListOptions, ListResult, ListRv, ObjectKey, Rv, StoreError,
    StoredObject, WatchEvent, WatchFilter, WatchFrom, WatchOptions,
};

/// A committed change to apply to the state.
#[derive(Clone, Debug)]
pub enum Change {
    /// Create or replace the object (ADDED if absent, else MODIFIED).
    Put(Arc<StoredObject>),
    /// Remove the object; carries its last content stamped with the delete's rv.
    Delete(Arc<StoredObject>),
}

impl Change {
    pub fn object(&self) -> &Arc<StoredObject> {
        match self {
            Change::Put(o) | Change::Delete(o) => o,
        }
    }
}

/// One retained event, with the object's previous state so that filtered watches can
/// synthesize ADDED/DELETED and lists can be rebuilt at an older resourceVersion.
pub(crate) struct HistoryEntry {
    rv: Rv,
    kind: EventType,
    skey: String,
    object: Arc<StoredObject>,
    prev: Option<Arc<StoredObject>>,
    /// The previous content at this event's rv, computed the first time a filtered
    /// watcher sees the object stop matching.
    deleted_view: OnceLock<Arc<StoredObject>>,
}

impl HistoryEntry {
    /// What a DELETED event for this entry carries: like the apiserver's cacher, the
    /// previous content with the event's resourceVersion.
    fn deleted_view(&self) -> Arc<StoredObject> {
        if self.kind == EventType::Deleted {
            return self.object.clone();
        }
        self.deleted_view
            .get_or_init(|| match &self.prev {
                Some(p) => match with_rv(p, self.rv) {
                    Ok(o) => Arc::new(o),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot restamp previous object; sending the new one");
                        self.object.clone()
                    }
                },
                None => self.object.clone(),
            })
            .clone()
    }

    /// The event as seen through a watcher's predicate (None = not interesting).
    fn convert(&self, matches: impl Fn(&StoredObject) -> bool) -> Option<WatchEvent> {
        let cur = self.kind != EventType::Deleted && matches(&self.object);
        let old = self.prev.as_deref().is_some_and(&matches);
        let (kind, object) = match (cur, old) {
            (true, false) => (EventType::Added, self.object.clone()),
            (true, true) => (EventType::Modified, self.object.clone()),
            (false, true) => (EventType::Deleted, self.deleted_view()),
            (false, false) => return None,
        };
        Some(WatchEvent { kind, object })
    }
}

struct WatcherEntry {
    namespace: Option<String>,
    filter: Option<WatchFilter>,
    index: Option<(&'static str, String)>,
    /// Events at or below this rv are not delivered (watch from a future rv).
    min_rv: Rv,
    tx: mpsc::Sender<WatchEvent>,
}

impl WatcherEntry {
    fn matches(&self, o: &StoredObject) -> bool {
        if let Some(ns) = &self.namespace {
            if o.key.namespace != *ns {
                return false;
            }
        }
        if let Some((field, value)) = &self.index {
            if o.field(field) != Some(value.as_str()) {
                return false;
            }
        }
        self.filter.as_ref().is_none_or(|f| f(o))
    }

    /// Sends the event if the watcher cares; false if the watcher must be dropped.
    fn deliver(&self, e: &HistoryEntry) -> bool {
        if e.rv <= self.min_rv {
            return true;
        }
        let Some(ev) = e.convert(|o| self.matches(o)) else {
            return true;
        };
        match self.tx.try_send(ev) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!(rv = e.rv, "closing a watcher whose channel is full");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

type Bucket = HashMap<u64, WatcherEntry>;

/// Watchers of one resource: unindexed ones, and indexed ones bucketed by field value.
#[derive(Default)]
struct Registry {
    unindexed: Bucket,
    indexed: HashMap<&'static str, HashMap<String, Bucket>>,
}

impl Registry {
    fn len(&self) -> usize {
        self.unindexed.len()
            + self
                .indexed
                .values()
                .flat_map(|m| m.values())
                .map(HashMap::len)
                .sum::<usize>()
    }

    fn insert(&mut self, id: u64, w: WatcherEntry) {
        match w.index.clone() {
            None => {
                self.unindexed.insert(id, w);
            }
            Some((field, value)) => {
                self.indexed
                    .entry(field)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .insert(id, w);
            }
        }
    }

    fn remove(&mut self, id: u64, index: Option<&(&'static str, String)>) {
        match index {
            None => {
                self.unindexed.remove(&id);
            }
            Some((field, value)) => {
                let Some(by_value) = self.indexed.get_mut(field) else {
                    return;
                };
                if let Some(bucket) = by_value.get_mut(value) {
                    bucket.remove(&id);
                    if bucket.is_empty() {
                        by_value.remove(value);
                    }
                }
                if by_value.is_empty() {
                    self.indexed.remove(field);
                }
            }
        }
    }

    /// Pushes one event to every watcher that may care; drops full or abandoned ones.
    fn dispatch(&mut self, e: &HistoryEntry) {
        let mut dead: Vec<(u64, Option<(&'static str, String)>)> = Vec::new();
        for (id, w) in &self.unindexed {
            if !w.deliver(e) {
                dead.push((*id, None));
            }
        }
        for (field, by_value) in &self.indexed {
            let old = e.prev.as_deref().and_then(|p| p.field(field));
            let new = e.object.field(field);
            let mut visit = |value: &str| {
                if let Some(bucket) = by_value.get(value) {
                    for (id, w) in bucket {
                        if !w.deliver(e) {
                            dead.push((*id, Some((*field, value.to_owned()))));
                        }
                    }
                }
            };
            if let Some(v) = old {
                visit(v);
            }
            if let Some(v) = new {
                if Some(v) != old {
                    visit(v);
                }
            }
        }
        for (id, index) in dead {
            self.remove(id, index.as_ref());
        }
    }
}

struct ResourceState {
    /// Keyed by [`ObjectKey::storage_key`], so iteration order is etcd's key order.
    objects: BTreeMap<String, Arc<StoredObject>>,
    history: VecDeque<HistoryEntry>,
    /// Every event of this resource with rv above this one is in `history`.
    dropped_upto: Rv,
    watchers: Registry,
}

impl ResourceState {
    fn new(base_rv: Rv) -> Self {
        ResourceState {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            dropped_upto: base_rv,
            watchers: Registry::default(),
        }
    }

    /// For every key under `prefix` changed after `at`, its state at `at`.
    fn overrides_at(&self, at: Rv, prefix: &str) -> BTreeMap<String, Option<Arc<StoredObject>>> {
        let mut out = BTreeMap::new();
        let start = self.history.partition_point(|e| e.rv <= at);
        for e in self.history.range(start..) {
            if e.skey.starts_with(prefix) {
                out.entry(e.skey.clone()).or_insert_with(|| e.prev.clone());
            }
        }
        out
    }
}

/// A registered watcher as the core hands it out: events before registration are in
/// `backlog`, everything later arrives on `rx`.
pub struct Registration {
    pub id: u64,
    pub index: Option<(&'static str, String)>,
    pub backlog: VecDeque<WatchEvent>,
    pub rx: mpsc::Receiver<WatchEvent>,
    /// Bookmarks below this rv would be misleading (watch from a future rv).
    pub min_rv: Rv,
}

/// The whole in-memory state of the store.
pub struct StoreState {
    resources: HashMap<String, ResourceState>,
    rv: Rv,
    /// History before this rv is unknown (it predates the last snapshot loaded).
    base_rv: Rv,
    history_capacity: usize,
    channel_capacity: usize,
    next_watcher_id: u64,
}

/// Key range upper bound for a "ns/" prefix: "ns0" ('0' follows '/').
fn prefix_end(prefix: &str) -> Option<String> {
    prefix.strip_suffix('/').map(|stem| format!("{stem}0"))
}

/// Merges the current objects with per-key overrides (state at an older rv).
struct Merged<'a, A, B>
where
    A: Iterator<Item = (&'a String, &'a Arc<StoredObject>)>,
    B: Iterator<Item = (&'a String, &'a Option<Arc<StoredObject>>)>,
{
    cur: Peekable<A>,
    old: Peekable<B>,
}

impl<'a, A, B> Iterator for Merged<'a, A, B>
where
    A: Iterator<Item = (&'a String, &'a Arc<StoredObject>)>,
    B: Iterator<Item = (&'a String, &'a Option<Arc<StoredObject>>)>,
{
    type Item = (&'a str, &'a Arc<StoredObject>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_old = match (self.cur.peek(), self.old.peek()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((kc, _)), Some((ko, _))) => match kc.cmp(ko) {
                    Ordering::Less => false,
                    Ordering::Greater => true,
                    Ordering::Equal => {
                        // The override wins: skip the current version of this key.
                        self.cur.next();
                        true
                    }
                },
            };
            if take_old {
                if let Some((k, Some(o))) = self.old.next() {
                    return Some((k.as_str(), o));
                }
                // Absent at that rv: keep looking.
            } else {
                return self.cur.next().map(|(k, o)| (k.as_str(), o));
            }
        }
    }
}

impl StoreState {
    /// An empty state at rv 1 (like a fresh etcd), full history from the start.
    pub fn new(history_capacity: usize, channel_capacity: usize) -> Self {
        StoreState {
            resources: HashMap::new(),
            rv: 1,
            base_rv: 0,
            history_capacity: history_capacity.max(1),
            channel_capacity: channel_capacity.max(1),
            next_watcher_id: 1,
        }
    }

    /// Marks the state as loaded from a snapshot taken at `rv`: nothing before it is
    /// retained, and new resourceVersions start above it.
    pub fn set_snapshot_rv(&mut self, rv: Rv) {
        self.rv = self.rv.max(rv);
        self.base_rv = rv;
        for r in self.resources.values_mut() {
            r.dropped_upto = r.dropped_upto.max(rv);
        }
    }

    /// Inserts an object loaded from a snapshot (no event, no history).
    pub fn load_object(&mut self, resource: &str, obj: Arc<StoredObject>) {
        let base = self.base_rv;
        self.resource_mut(resource, base)
            .objects
            .insert(obj.key.storage_key(), obj);
    }

    fn resource_mut(&mut self, resource: &str, base: Rv) -> &mut ResourceState {
        if !self.resources.contains_key(resource) {
            self.resources
                .insert(resource.to_owned(), ResourceState::new(base));
        }
        // Just inserted if it was missing.
        self.resources
            .get_mut(resource)
            .unwrap_or_else(|| unreachable!("resource inserted above"))
    }

    /// The resourceVersion of the last applied change.
    pub fn current_rv(&self) -> Rv {
        self.rv
    }

    pub fn get(&self, resource: &str, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        self.get_by_storage_key(resource, &key.storage_key())
    }

    pub(crate) fn get_by_storage_key(
        &self,
        resource: &str,
        skey: &str,
    ) -> Option<Arc<StoredObject>> {
        self.resources.get(resource)?.objects.get(skey).cloned()
    }

    pub fn count(&self, resource: &str) -> usize {
        self.resources.get(resource).map_or(0, |r| r.objects.len())
    }

    /// (resource, object count), sorted by resource.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut v: Vec<_> = self
            .resources
            .iter()
            .map(|(k, r)| (k.clone(), r.objects.len()))
            .collect();
        v.sort();
        v
    }

    /// Every resource that has been written or watched, sorted.
    pub fn resources(&self) -> Vec<String> {
        let mut v: Vec<_> = self.resources.keys().cloned().collect();
        v.sort();
        v
    }

    /// Registered watchers of one resource.
    pub fn watcher_count(&self, resource: &str) -> usize {
        self.resources.get(resource).map_or(0, |r| r.watchers.len())
    }

    /// Every object, grouped by resource, at [`Self::current_rv`] (for snapshots).
    pub fn objects_by_resource(&self) -> Vec<(String, Vec<Arc<StoredObject>>)> {
        self.resources
            .iter()
            .filter(|(_, r)| !r.objects.is_empty())
            .map(|(k, r)| (k.clone(), r.objects.values().cloned().collect()))
            .collect()
    }

    pub fn object_count(&self) -> usize {
        self.resources.values().map(|r| r.objects.len()).sum()
    }

    /// Applies one change with a resourceVersion above the current one, records it in
    /// history and pushes it to the watchers.
    pub fn apply(&mut self, resource: &str, change: Change) -> Result<(), StoreError> {
        let object = change.object().clone();
        let rv = object.rv;
        if rv <= self.rv {
            return Err(StoreError::Corrupt(format!(
                "{resource} {}: resourceVersion {rv} is not above the current {}",
                object.key, self.rv
            )));
        }
        let (base, cap) = (self.base_rv, self.history_capacity);
        let res = self.resource_mut(resource, base);
        let skey = object.key.storage_key();
        let (kind, prev) = match change {
            Change::Put(o) => match res.objects.insert(skey.clone(), o) {
                None => (EventType::Added, None),
                Some(p) => (EventType::Modified, Some(p)),
            },
            Change::Delete(_) => match res.objects.remove(&skey) {
                Some(p) => (EventType::Deleted, Some(p)),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "{resource} {}: delete at resourceVersion {rv} of a missing object",
                        object.key
                    )))
                }
            },
        };
        let entry = HistoryEntry {
            rv,
            kind,
            skey,
            object,
            prev,
            deleted_view: OnceLock::new(),
        };
        res.watchers.dispatch(&entry);
        res.history.push_back(entry);
        while res.history.len() > cap {
            if let Some(old) = res.history.pop_front() {
                res.dropped_upto = old.rv;
            }
        }
        self.rv = rv;
        Ok(())
    }

    /// Lists one resource; see [`crate::Store::list`].
    pub fn list(
        &self,
        resource: &str,
        opts: &ListOptions,
        filter: Option<&dyn Fn(&StoredObject) -> bool>,
    ) -> Result<ListResult, StoreError> {
        let prefix = match opts.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => format!("{ns}/"),
            _ => String::new(),
        };
        let (at, start, paginate, from_token) = match &opts.continue_token {
            Some(tok) => {
                let (rv, start) = continue_token::decode(tok)?;
                if rv > self.rv {
                    tracing::debug!(rv, current = self.rv, "continue token from the future");
                    return Err(StoreError::InvalidContinue);
                }
                (rv, Some(start), true, true)
            }
            None => match opts.rv {
                ListRv::Latest => (self.rv, None, true, false),
                // The apiserver serves rv=0 from its cache and ignores limit there.
                ListRv::Any => (self.rv, None, false, false),
                ListRv::NotOlderThan(r) | ListRv::Exact(r) if r > self.rv => {
                    return Err(StoreError::TooLargeResourceVersion {
                        requested: r,
                        current: self.rv,
                    })
                }
                ListRv::NotOlderThan(_) => (self.rv, None, true, false),
                ListRv::Exact(r) => (r, None, true, false),
            },
        };
        let limit = if paginate {
            opts.limit.filter(|l| *l > 0)
        } else {
            None
        };
        let res = self.resources.get(resource);
        let oldest = res.map_or(self.base_rv, |r| r.dropped_upto);
        if at < oldest {
            return Err(if from_token {
                StoreError::ContinueExpired
            } else {
                StoreError::Expired {
                    requested: at,
                    oldest,
                }
            });
        }
        let Some(res) = res else {
            return Ok(ListResult {
                items: Vec::new(),
                rv: at,
                continue_token: None,
                remaining_item_count: None,
            });
        };
        let overrides = if at < self.rv {
            res.overrides_at(at, &prefix)
        } else {
            BTreeMap::new()
        };
        let lower = match &start {
            Some(s) => format!("{prefix}{s}"),
            None => prefix.clone(),
        };
        let upper = prefix_end(&prefix);
        let upper_bound = match &upper {
            Some(u) => Bound::Excluded(u.as_str()),
            None => Bound::Unbounded,
        };
        let range = (Bound::Included(lower.as_str()), upper_bound);
        let merged = Merged {
            cur: res.objects.range::<str, _>(range).peekable(),
            old: overrides.range::<str, _>(range).peekable(),
        };

        let mut items = Vec::new();
        let mut last_key: Option<&str> = None;
        let mut has_more = false;
        let mut remaining: u64 = 0;
        for (k, obj) in merged {
            if let Some(l) = limit {
                if items.len() >= l {
                    has_more = true;
                    if filter.is_some() {
                        break;
                    }
                    remaining += 1;
                    continue;
                }
            }
            if filter.is_none_or(|f| f(obj)) {
                items.push(obj.clone());
            }
            last_key = Some(k);
        }
        let continue_token = match (has_more, last_key) {
            (true, Some(k)) => {
                let rel = k.get(prefix.len()..).unwrap_or(k);
                Some(continue_token::encode(at, &format!("{rel}\u{0}")))
            }
            _ => None,
        };
        Ok(ListResult {
            items,
            rv: at,
            remaining_item_count: (continue_token.is_some() && filter.is_none())
                .then_some(remaining),
            continue_token,
        })
    }

    /// Registers a watcher; see [`crate::Store::watch`]. Replay and registration happen
    /// together, so the watcher sees every later event exactly once.
    pub fn watch(
        &mut self,
        resource: &str,
        opts: WatchOptions,
    ) -> Result<Registration, StoreError> {
        let now = self.rv;
        let base = self.base_rv;
        let cap = self.channel_capacity;
        let id = self.next_watcher_id;
        self.next_watcher_id += 1;
        let res = self.resource_mut(resource, base);
        let (tx, rx) = mpsc::channel(cap);
        let mut entry = WatcherEntry {
            namespace: opts.namespace.filter(|n| !n.is_empty()),
            filter: opts.filter,
            index: opts.index,
            min_rv: now,
            tx,
        };
        let mut backlog = VecDeque::new();
        match opts.from {
            WatchFrom::Rv(r) if r < res.dropped_upto => {
                return Err(StoreError::Expired {
                    requested: r,
                    oldest: res.dropped_upto,
                })
            }
            // The apiserver's watch cache waits (briefly) for a future resourceVersion
            // instead of silently skipping events up to it; the async layer does the
            // waiting, so here it is refused.
            WatchFrom::Rv(r) if r > now => {
                return Err(StoreError::TooLargeResourceVersion {
                    requested: r,
                    current: now,
                })
            }
            WatchFrom::Rv(r) if r == now => entry.min_rv = r,
            WatchFrom::Rv(r) => {
                let start = res.history.partition_point(|e| e.rv <= r);
                backlog.extend(
                    res.history
                        .range(start..)
                        .filter_map(|e| e.convert(|o| entry.matches(o))),
                );
            }
            WatchFrom::Now => {
                let prefix = entry
                    .namespace
                    .as_ref()
                    .map(|ns| format!("{ns}/"))
                    .unwrap_or_default();
                let upper = prefix_end(&prefix);
                let upper_bound = match &upper {
                    Some(u) => Bound::Excluded(u.as_str()),
                    None => Bound::Unbounded,
                };
                backlog.extend(
                    res.objects
                        .range::<str, _>((Bound::Included(prefix.as_str()), upper_bound))
                        .filter(|(_, o)| entry.matches(o))
                        .map(|(_, o)| WatchEvent {
                            kind: EventType::Added,
                            object: o.clone(),
                        }),
                );
            }
        }
        let index = entry.index.clone();
        let min_rv = entry.min_rv;
        res.watchers.insert(id, entry);
        Ok(Registration {
            id,
            index,
            backlog,
            rx,
            min_rv,
        })
    }

    /// Forgets a watcher (no-op if it was already dropped).
    pub fn unregister(&mut self, resource: &str, id: u64, index: Option<&(&'static str, String)>) {
        if let Some(r) = self.resources.get_mut(resource) {
            r.watchers.remove(id, index);
        }
    }

    /// Drops every watcher: their receivers end after draining what they hold.
    pub fn close_watchers(&mut self) {
        for r in self.resources.values_mut() {
            r.watchers = Registry::default();
        }
    }
}

/// Write preconditions, checked against the latest (possibly not yet durable) state.
pub(crate) fn check_create(current: Option<&Arc<StoredObject>>) -> Result<(), StoreError> {
    match current {
        Some(_) => Err(StoreError::AlreadyExists),
        None => Ok(()),
    }
}

pub(crate) fn check_update(
    current: Option<&Arc<StoredObject>>,
    precondition_rv: Option<Rv>,
) -> Result<(), StoreError> {
    let cur = current.ok_or(StoreError::NotFound)?;
    match precondition_rv {
        Some(rv) if rv != cur.rv => Err(StoreError::Conflict { current_rv: cur.rv }),
        _ => Ok(()),
    }
}

pub(crate) fn check_delete(
    current: Option<&Arc<StoredObject>>,
    precondition_rv: Option<Rv>,
    precondition_uid: Option<&str>,
) -> Result<(), StoreError> {
    check_update(current, precondition_rv)?;
    match (current, precondition_uid) {
        (Some(cur), Some(uid)) if cur.uid != uid => Err(StoreError::PreconditionUidMismatch),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::build_object;
    use serde_json::json;

    const RES: &str = "pods";

    fn obj(rv: Rv, ns: &str, name: &str, node: &str, labels: &[(&str, &str)]) -> Arc<StoredObject> {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let v = json!({"metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels}, "spec": {"nodeName": node}});
        Arc::new(
            build_object(
                rv,
                ObjectKey::new(ns, name),
                v,
                vec![("spec.nodeName", node.to_owned())],
            )
            .unwrap(),
        )
    }

    struct Fixture {
        st: StoreState,
    }

    impl Fixture {
        fn new(cap: usize) -> Self {
            Fixture {
                st: StoreState::new(cap, 16),
            }
        }
        fn next(&self) -> Rv {
            self.st.current_rv() + 1
        }
        fn put(&mut self, ns: &str, name: &str, node: &str, labels: &[(&str, &str)]) -> Rv {
            let rv = self.next();
            self.st
                .apply(RES, Change::Put(obj(rv, ns, name, node, labels)))
                .unwrap();
            rv
        }
        fn del(&mut self, ns: &str, name: &str) -> Rv {
            let rv = self.next();
            let cur = self.st.get(RES, &ObjectKey::new(ns, name)).unwrap();
            let d = Arc::new(with_rv(&cur, rv).unwrap());
            self.st.apply(RES, Change::Delete(d)).unwrap();
            rv
        }
    }

    fn drain(reg: &mut Registration) -> Vec<(EventType, String, Rv)> {
        let mut out: Vec<_> = reg
            .backlog
            .drain(..)
            .map(|e| (e.kind, e.object.key.name.clone(), e.object.rv))
            .collect();
        while let Ok(e) = reg.rx.try_recv() {
            out.push((e.kind, e.object.key.name.clone(), e.object.rv));
        }
        out
    }

    fn names(r: &ListResult) -> Vec<String> {
        r.items.iter().map(|o| o.key.to_string()).collect()
    }

    #[test]
    fn apply_assigns_kinds_and_rejects_old_rvs() {
        let mut f = Fixture::new(10);
        let r1 = f.put("ns", "a", "n1", &[]);
        let r2 = f.put("ns", "a", "n2", &[]);
        assert!(r2 > r1);
        assert_eq!(f.st.get(RES, &ObjectKey::new("ns", "a")).unwrap().rv, r2);
        let err =
            f.st.apply(RES, Change::Put(obj(r2, "ns", "b", "n", &[])))
                .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)));
        let missing = obj(r2 + 1, "ns", "zzz", "n", &[]);
        assert!(f.st.apply(RES, Change::Delete(missing)).is_err());
        f.del("ns", "a");
        assert_eq!(f.st.count(RES), 0);
        assert_eq!(f.st.counts(), vec![(RES.to_owned(), 0)]);
    }

    #[test]
    fn preconditions() {
        let o = obj(5, "ns", "a", "n", &[]);
        assert!(check_create(None).is_ok());
        assert!(matches!(
            check_create(Some(&o)),
            Err(StoreError::AlreadyExists)
        ));
        assert!(matches!(
            check_update(None, None),
            Err(StoreError::NotFound)
        ));
        assert!(check_update(Some(&o), Some(5)).is_ok());
        assert!(matches!(
            check_update(Some(&o), Some(4)),
            Err(StoreError::Conflict { current_rv: 5 })
        ));
        assert!(check_delete(Some(&o), None, Some("uid-a")).is_ok());
        assert!(matches!(
            check_delete(Some(&o), None, Some("other")),
            Err(StoreError::PreconditionUidMismatch)
        ));
        assert!(matches!(
            check_delete(None, None, None),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn list_orders_like_etcd_keys_and_scopes_namespaces() {
        let mut f = Fixture::new(10);
        for (ns, n) in [
            ("kube", "b"),
            ("kube-system", "a"),
            ("default", "z"),
            ("kube", "a"),
        ] {
            f.put(ns, n, "n", &[]);
        }
        let all = f.st.list(RES, &ListOptions::default(), None).unwrap();
        // '-' sorts before '/', as in etcd.
        assert_eq!(
            names(&all),
            ["default/z", "kube-system/a", "kube/a", "kube/b"]
        );
        let kube =
            f.st.list(
                RES,
                &ListOptions {
                    namespace: Some("kube".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(names(&kube), ["kube/a", "kube/b"]);
        assert_eq!(kube.rv, f.st.current_rv());
        let none = f.st.list("nodes", &ListOptions::default(), None).unwrap();
        assert!(none.items.is_empty());
    }

    #[test]
    fn pagination_tokens_and_counts() {
        let mut f = Fixture::new(100);
        for i in 0..5 {
            f.put("", &format!("node-{i}"), "n", &[]);
        }
        let rv = f.st.current_rv();
        let mut opts = ListOptions {
            limit: Some(2),
            ..Default::default()
        };
        let p1 = f.st.list(RES, &opts, None).unwrap();
        assert_eq!(names(&p1), ["node-0", "node-1"]);
        assert_eq!(p1.remaining_item_count, Some(3));
        assert_eq!(
            p1.continue_token.as_deref(),
            Some(continue_token::encode(rv, "node-1\u{0}").as_str())
        );
        opts.continue_token = p1.continue_token;
        let p2 = f.st.list(RES, &opts, None).unwrap();
        assert_eq!(names(&p2), ["node-2", "node-3"]);
        assert_eq!(p2.remaining_item_count, Some(1));
        opts.continue_token = p2.continue_token;
        let p3 = f.st.list(RES, &opts, None).unwrap();
        assert_eq!(names(&p3), ["node-4"]);
        assert_eq!((p3.continue_token, p3.remaining_item_count), (None, None));

        // A filter hides the count; rv=0 ignores the limit.
        let odd = |o: &StoredObject| o.key.name.ends_with('1') || o.key.name.ends_with('3');
        let pf =
            f.st.list(
                RES,
                &ListOptions {
                    limit: Some(1),
                    ..Default::default()
                },
                Some(&odd),
            )
            .unwrap();
        assert_eq!(names(&pf), ["node-1"]);
        assert!(pf.continue_token.is_some());
        assert_eq!(pf.remaining_item_count, None);
        let any =
            f.st.list(
                RES,
                &ListOptions {
                    limit: Some(1),
                    rv: ListRv::Any,
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(any.items.len(), 5);
        assert!(any.continue_token.is_none());
    }

    #[test]
    fn namespaced_continue_token_is_relative_to_the_namespace() {
        let mut f = Fixture::new(100);
        for n in ["a", "b", "c"] {
            f.put("ns1", n, "x", &[]);
            f.put("ns2", n, "x", &[]);
        }
        let opts = ListOptions {
            namespace: Some("ns1".into()),
            limit: Some(1),
            ..Default::default()
        };
        let p = f.st.list(RES, &opts, None).unwrap();
        let (_, start) = continue_token::decode(p.continue_token.as_deref().unwrap()).unwrap();
        assert_eq!(start, "a\u{0}");
        let all = ListOptions {
            limit: Some(1),
            ..Default::default()
        };
        let p = f.st.list(RES, &all, None).unwrap();
        let (_, start) = continue_token::decode(p.continue_token.as_deref().unwrap()).unwrap();
        assert_eq!(start, "ns1/a\u{0}");
    }

    #[test]
    fn later_pages_see_the_first_pages_rv() {
        let mut f = Fixture::new(100);
        for n in ["a", "b", "c", "d"] {
            f.put("ns", n, "x", &[]);
        }
        let mut opts = ListOptions {
            limit: Some(2),
            ..Default::default()
        };
        let p1 = f.st.list(RES, &opts, None).unwrap();
        let b_rv = p1.items[1].rv;
        let c_old = f.st.get(RES, &ObjectKey::new("ns", "c")).unwrap();
        // Change the world between pages.
        f.del("ns", "c");
        f.put("ns", "e", "x", &[]);
        f.put("ns", "d", "y", &[]);
        f.put("ns", "bb", "x", &[]);
        opts.continue_token = p1.continue_token;
        let p2 = f.st.list(RES, &opts, None).unwrap();
        assert_eq!(names(&p2), ["ns/c", "ns/d"]);
        assert_eq!(p2.items[0], c_old);
        assert_eq!(p2.rv, p1.rv);
        assert!(p2.items.iter().all(|o| o.rv <= p1.rv && o.rv != b_rv));
        // Exact reads the same reconstruction.
        let exact =
            f.st.list(
                RES,
                &ListOptions {
                    rv: ListRv::Exact(p1.rv),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(names(&exact), ["ns/a", "ns/b", "ns/c", "ns/d"]);
    }

    #[test]
    fn expired_history() {
        let mut f = Fixture::new(2);
        let first = f.put("ns", "a", "x", &[]);
        let mut opts = ListOptions {
            limit: Some(1),
            ..Default::default()
        };
        f.put("ns", "b", "x", &[]);
        let p1 = f.st.list(RES, &opts, None).unwrap();
        for _ in 0..3 {
            f.put("ns", "a", "x", &[]);
        }
        opts.continue_token = p1.continue_token;
        assert!(matches!(
            f.st.list(RES, &opts, None),
            Err(StoreError::ContinueExpired)
        ));
        let exact = ListOptions {
            rv: ListRv::Exact(first),
            ..Default::default()
        };
        assert!(matches!(
            f.st.list(RES, &exact, None),
            Err(StoreError::Expired { .. })
        ));
        let err =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(first),
                    ..Default::default()
                },
            )
            .err()
            .unwrap();
        let oldest = f.st.current_rv() - 2;
        assert!(
            matches!(err, StoreError::Expired { requested, oldest: o } if requested == first && o == oldest)
        );
        assert_eq!(
            err.to_string(),
            format!("too old resource version: {first} ({oldest})")
        );
        // The oldest itself is still fine.
        assert!(f
            .st
            .watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(oldest),
                    ..Default::default()
                }
            )
            .is_ok());
        let future = ListOptions {
            rv: ListRv::NotOlderThan(1000),
            ..Default::default()
        };
        assert!(matches!(
            f.st.list(RES, &future, None),
            Err(StoreError::TooLargeResourceVersion {
                requested: 1000,
                ..
            })
        ));
    }

    #[test]
    fn watch_replays_then_goes_live() {
        let mut f = Fixture::new(100);
        let r1 = f.put("ns", "a", "x", &[]);
        let r2 = f.put("ns", "b", "x", &[]);
        let mut w =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(r1),
                    ..Default::default()
                },
            )
            .unwrap();
        let r3 = f.del("ns", "a");
        assert_eq!(
            drain(&mut w),
            [
                (EventType::Added, "b".into(), r2),
                (EventType::Deleted, "a".into(), r3)
            ]
        );
        let mut now = f.st.watch(RES, WatchOptions::default()).unwrap();
        let r4 = f.put("ns", "b", "y", &[]);
        assert_eq!(
            drain(&mut now),
            [
                (EventType::Added, "b".into(), r2),
                (EventType::Modified, "b".into(), r4)
            ]
        );
        // From the current rv: only later events. From the future: refused.
        let mut cur =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(r4),
                    ..Default::default()
                },
            )
            .unwrap();
        let r5 = f.put("ns", "c", "y", &[]);
        assert_eq!(drain(&mut cur), [(EventType::Added, "c".into(), r5)]);
        let err =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(r5 + 1),
                    ..Default::default()
                },
            )
            .err()
            .unwrap();
        assert!(matches!(
            err,
            StoreError::TooLargeResourceVersion { requested, current } if requested == r5 + 1 && current == r5
        ));
    }

    #[test]
    fn filtered_watch_synthesizes_added_and_deleted() {
        let mut f = Fixture::new(100);
        let r0 = f.put("ns", "a", "x", &[]);
        let sel: WatchFilter =
            Arc::new(|o: &StoredObject| o.labels.get("app").map(String::as_str) == Some("web"));
        let mut w =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(r0),
                    filter: Some(sel.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
        let r1 = f.put("ns", "a", "x", &[("app", "web")]); // starts matching
        let r2 = f.put("ns", "a", "x", &[("app", "web"), ("v", "2")]); // still matches
        let r3 = f.put("ns", "a", "x", &[("app", "db")]); // stops matching
        f.put("ns", "a", "x", &[("app", "db"), ("v", "3")]); // never seen
        let r5 = f.put("ns", "a", "x", &[("app", "web")]);
        let r6 = f.del("ns", "a");
        let got: Vec<_> = w.rx.try_recv().into_iter().collect();
        let mut all = got;
        while let Ok(e) = w.rx.try_recv() {
            all.push(e);
        }
        let kinds: Vec<_> = all.iter().map(|e| (e.kind, e.object.rv)).collect();
        assert_eq!(
            kinds,
            [
                (EventType::Added, r1),
                (EventType::Modified, r2),
                (EventType::Deleted, r3),
                (EventType::Added, r5),
                (EventType::Deleted, r6)
            ]
        );
        // The stop-matching DELETED carries the previous content at the new rv.
        let deleted = &all[2].object;
        assert_eq!(deleted.labels.get("app").map(String::as_str), Some("web"));
        let v = deleted.to_value().unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], r3.to_string());
        // A replay from history converts identically.
        let mut replay =
            f.st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(r0),
                    filter: Some(sel),
                    ..Default::default()
                },
            )
            .unwrap();
        let replayed: Vec<_> = drain(&mut replay)
            .into_iter()
            .map(|(k, _, rv)| (k, rv))
            .collect();
        assert_eq!(replayed, kinds);
    }

    #[test]
    fn namespace_scoped_watch() {
        let mut f = Fixture::new(100);
        let mut w =
            f.st.watch(
                RES,
                WatchOptions {
                    namespace: Some("a".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        f.put("b", "x", "n", &[]);
        let r = f.put("a", "x", "n", &[]);
        assert_eq!(drain(&mut w), [(EventType::Added, "x".into(), r)]);
    }

    #[test]
    fn indexed_watchers_follow_field_moves() {
        let mut f = Fixture::new(100);
        let idx = |node: &str| WatchOptions {
            index: Some(("spec.nodeName", node.to_owned())),
            ..Default::default()
        };
        let mut n1 = f.st.watch(RES, idx("n1")).unwrap();
        let mut n2 = f.st.watch(RES, idx("n2")).unwrap();
        let a = f.put("ns", "p", "", &[]);
        let b = f.put("ns", "p", "n1", &[]);
        let c = f.put("ns", "p", "n2", &[]);
        let d = f.del("ns", "p");
        let _ = a;
        assert_eq!(
            drain(&mut n1),
            [
                (EventType::Added, "p".into(), b),
                (EventType::Deleted, "p".into(), c)
            ]
        );
        assert_eq!(
            drain(&mut n2),
            [
                (EventType::Added, "p".into(), c),
                (EventType::Deleted, "p".into(), d)
            ]
        );
        assert_eq!(f.st.watcher_count(RES), 2);
        f.st.unregister(RES, n1.id, n1.index.as_ref());
        f.st.unregister(RES, n2.id, n2.index.as_ref());
        assert_eq!(f.st.watcher_count(RES), 0);
    }

    #[test]
    fn full_or_dropped_watchers_are_removed() {
        let mut f = Fixture::new(100); // channel capacity 16
        let mut slow = f.st.watch(RES, WatchOptions::default()).unwrap();
        let gone = f.st.watch(RES, WatchOptions::default()).unwrap();
        drop(gone);
        for i in 0..20 {
            f.put("ns", &format!("p{i}"), "n", &[]);
        }
        assert_eq!(f.st.watcher_count(RES), 0);
        let mut got = 0;
        while slow.rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 16);
        assert!(slow.rx.is_closed());
    }

    #[test]
    fn snapshot_rv_sets_history_floor() {
        let mut st = StoreState::new(10, 4);
        st.load_object(RES, obj(7, "ns", "a", "n", &[]));
        st.set_snapshot_rv(9);
        assert_eq!(st.current_rv(), 9);
        assert!(matches!(
            st.watch(
                RES,
                WatchOptions {
                    from: WatchFrom::Rv(8),
                    ..Default::default()
                }
            ),
            Err(StoreError::Expired {
                requested: 8,
                oldest: 9
            })
        ));
        assert!(st
            .watch(
                "other",
                WatchOptions {
                    from: WatchFrom::Rv(9),
                    ..Default::default()
                }
            )
            .is_ok());
        assert_eq!(st.object_count(), 1);
        assert_eq!(st.objects_by_resource().len(), 1);
    }
}
