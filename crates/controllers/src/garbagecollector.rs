//! The garbage collector: a graph of owner references over every resource
//! that takes part in ownership, kept from the shared informers.
//!
//! - Background: an object whose owners are all gone (verified with a live
//!   GET by uid) is deleted; references to missing owners are removed from
//!   objects that still have a live owner.
//! - Foreground: an owner with the `foregroundDeletion` finalizer gets its
//!   dependents deleted (themselves in foreground), and the finalizer is
//!   removed once no dependent with `blockOwnerDeletion` is left.
//! - Orphan: an owner with the `orphan` finalizer has its reference removed
//!   from every dependent, then the finalizer is removed.

use crate::actions;
use crate::informer::{Cached, Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Finds an object's uid in an informer cache by (namespace, name).
type Lookup = Box<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

/// One monitored kind.
pub struct Kind {
    pub api_version: String,
    pub kind: String,
    pub namespaced: bool,
    /// URL path of the collection: `/api/v1/namespaces/<ns>/pods`.
    url: fn(Option<&str>) -> String,
    /// Looks an object up in the informer cache: uid by (namespace, name).
    lookup: Lookup,
}

impl Kind {
    pub fn object_path(&self, ns: &str, name: &str) -> String {
        format!(
            "{}/{}",
            (self.url)(if self.namespaced { Some(ns) } else { None }),
            name
        )
    }
}

/// A graph node: what the collector knows about one object.
#[derive(Debug, Clone, PartialEq)]
pub struct GcObject {
    pub uid: String,
    pub kind: usize,
    pub namespace: String,
    pub name: String,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
}

impl GcObject {
    fn from_meta(kind: usize, meta: &ObjectMeta) -> GcObject {
        GcObject {
            uid: meta.uid.clone().unwrap_or_default(),
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            owners: meta.owner_references.clone().unwrap_or_default(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
        }
    }

    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Being deleted in foreground: waiting for its dependents.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND_FINALIZER)
    }
}

/// How an owner reference resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not deleting its dependents.
    Solid,
    /// Exists and is being deleted in foreground.
    Waiting,
    /// Verified gone (404 or a different uid).
    Dangling,
}

/// What to do with a dependent, `attemptToDeleteItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Keep,
    /// Remove the references to these owner uids.
    RemoveOwners(Vec<String>),
    /// Delete with this propagation policy.
    Delete(&'static str),
}

/// Whether the live object `live` (a GET of the dependent) is still the
/// cached one with the cached owners. A dependent orphaned (or re-owned)
/// meanwhile must not be judged on stale owners: the real GC re-reads it
/// before classifying its owners for the same reason.
pub fn owners_unchanged(live: &serde_json::Value, uid: &str, cached: &[OwnerReference]) -> bool {
    if live.pointer("/metadata/uid").and_then(|u| u.as_str()) != Some(uid) {
        return false;
    }
    let owners: Option<Vec<OwnerReference>> = match live.pointer("/metadata/ownerReferences") {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).ok(),
    };
    owners.is_some_and(|o| o == cached)
}

/// Decides for an object with owners, given each owner's state.
pub fn decide(obj: &GcObject, owners: &[(String, OwnerState)], has_dependents: bool) -> Decision {
    if obj.owners.is_empty() {
        return Decision::Keep;
    }
    let solid = owners
        .iter()
        .filter(|(_, s)| *s == OwnerState::Solid)
        .count();
    let not_solid: Vec<String> = owners
        .iter()
        .filter(|(_, s)| *s != OwnerState::Solid)
        .map(|(u, _)| u.clone())
        .collect();
    let waiting = owners.iter().any(|(_, s)| *s == OwnerState::Waiting);
    if solid > 0 {
        let dangling: Vec<String> = owners
            .iter()
            .filter(|(_, s)| *s == OwnerState::Dangling)
            .map(|(u, _)| u.clone())
            .collect();
        if dangling.is_empty() && !waiting {
            return Decision::Keep;
        }
        return Decision::RemoveOwners(not_solid);
    }
    if waiting && has_dependents {
        return Decision::Delete("Foreground");
    }
    if obj.has_finalizer(ORPHAN_FINALIZER) {
        Decision::Delete("Orphan")
    } else if obj.has_finalizer(FOREGROUND_FINALIZER) {
        Decision::Delete("Foreground")
    } else {
        Decision::Delete("Background")
    }
}

/// The ownership graph.
#[derive(Debug, Default)]
pub struct Graph {
    pub objects: HashMap<String, GcObject>,
    /// owner uid -> dependent uids.
    pub dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Inserts or replaces an object; returns the previous version.
    pub fn upsert(&mut self, obj: GcObject) -> Option<GcObject> {
        let old = self.objects.insert(obj.uid.clone(), obj.clone());
        if let Some(o) = &old {
            for r in &o.owners {
                if let Some(d) = self.dependents.get_mut(&r.uid) {
                    d.remove(&o.uid);
                    if d.is_empty() {
                        self.dependents.remove(&r.uid);
                    }
                }
            }
        }
        for r in &obj.owners {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(obj.uid.clone());
        }
        old
    }

    pub fn remove(&mut self, uid: &str) -> Option<GcObject> {
        let old = self.objects.remove(uid)?;
        for r in &old.owners {
            if let Some(d) = self.dependents.get_mut(&r.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&r.uid);
                }
            }
        }
        Some(old)
    }

    pub fn dependents_of(&self, uid: &str) -> Vec<&GcObject> {
        self.dependents
            .get(uid)
            .map(|s| s.iter().filter_map(|d| self.objects.get(d)).collect())
            .unwrap_or_default()
    }

    /// Dependents whose reference to `owner` blocks its foreground deletion.
    pub fn blocking_dependents(&self, owner: &str) -> Vec<&GcObject> {
        self.dependents_of(owner)
            .into_iter()
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|r| r.uid == owner && r.block_owner_deletion == Some(true))
            })
            .collect()
    }
}

/// What an owner being deleted in foreground does with one dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependentAction {
    /// Already being deleted: wait for it.
    Skip,
    /// Another live owner keeps it: only the reference to this owner goes.
    DropOwner,
    /// Delete it. `unblock`: first make its owner references non-blocking,
    /// because one of its own dependents is already waiting in foreground
    /// (an ownership cycle), which would otherwise wait for itself forever.
    Delete { policy: &'static str, unblock: bool },
}

/// `attemptToDeleteItem` for a dependent whose owner `owner` waits for its
/// dependents: as the real collector, a dependent that has dependents
/// itself goes in foreground, and one of those already deleting in
/// foreground means a cycle, broken by unblocking the dependent's owner
/// references before deleting it ("should not be blocked by dependency
/// circle").
pub fn dependent_action(graph: &Graph, owner: &str, d: &GcObject) -> DependentAction {
    if d.deleting {
        return DependentAction::Skip;
    }
    let solid_other = d.owners.iter().any(|r| {
        r.uid != owner
            && graph
                .objects
                .get(&r.uid)
                .is_some_and(|o| !o.deleting_dependents())
    });
    if solid_other {
        return DependentAction::DropOwner;
    }
    let own = graph.dependents_of(&d.uid);
    if own.is_empty() {
        let policy = if d.has_finalizer(ORPHAN_FINALIZER) {
            "Orphan"
        } else if d.has_finalizer(FOREGROUND_FINALIZER) {
            "Foreground"
        } else {
            "Background"
        };
        return DependentAction::Delete {
            policy,
            unblock: false,
        };
    }
    let cycle = own.iter().any(|x| x.deleting_dependents());
    let blocks = d
        .owners
        .iter()
        .any(|r| r.block_owner_deletion == Some(true));
    DependentAction::Delete {
        policy: "Foreground",
        unblock: cycle && blocks,
    }
}

/// The owner references with `blockOwnerDeletion` cleared.
pub fn unblocked(owners: &[OwnerReference]) -> Vec<OwnerReference> {
    owners
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
            }
            r
        })
        .collect()
}

enum DependentWork {
    Patch(String, serde_json::Value),
    Delete(String, String, &'static str),
}

pub enum Msg {
    Upsert(GcObject),
    Delete(GcObject),
}

pub struct GarbageCollector {
    ctx: Ctx,
    kinds: Arc<Vec<Kind>>,
    graph: Graph,
}

fn watch_kind<K>(factory: &InformerFactory, kinds: &mut Vec<Kind>, tx: &mpsc::UnboundedSender<Msg>)
where
    K: Cached,
    K::Scope: 'static,
{
    let inf: Arc<Informer<K>> = factory.get::<K>();
    let idx = kinds.len();
    let namespaced = std::any::TypeId::of::<K::Scope>()
        == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>();
    let lookup_inf = inf.clone();
    kinds.push(Kind {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        namespaced,
        url: |ns| K::url_path(&(), ns),
        lookup: Box::new(move |ns, name| {
            lookup_inf.get(ns, name).and_then(|o| o.meta().uid.clone())
        }),
    });
    let tx = tx.clone();
    inf.subscribe(move |c| {
        let obj = GcObject::from_meta(idx, c.object().meta());
        let _ = tx.send(match c {
            Change::Deleted(_) => Msg::Delete(obj),
            _ => Msg::Upsert(obj),
        });
    });
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, coordination::v1 as coord, core::v1 as core,
    };
    use k8s_openapi::api::{discovery::v1 as disc, storage::v1 as storage};
    let wiring = runtime::Wiring::new();
    let mut kinds = Vec::new();
    watch_kind::<core::Pod>(factory, &mut kinds, &wiring.tx);
    watch_kind::<apps::ReplicaSet>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::ReplicationController>(factory, &mut kinds, &wiring.tx);
    watch_kind::<apps::Deployment>(factory, &mut kinds, &wiring.tx);
    watch_kind::<apps::DaemonSet>(factory, &mut kinds, &wiring.tx);
    watch_kind::<apps::StatefulSet>(factory, &mut kinds, &wiring.tx);
    watch_kind::<apps::ControllerRevision>(factory, &mut kinds, &wiring.tx);
    watch_kind::<batch::Job>(factory, &mut kinds, &wiring.tx);
    watch_kind::<batch::CronJob>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::PersistentVolumeClaim>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::PersistentVolume>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::Service>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::Endpoints>(factory, &mut kinds, &wiring.tx);
    watch_kind::<disc::EndpointSlice>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::ConfigMap>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::Secret>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::ServiceAccount>(factory, &mut kinds, &wiring.tx);
    watch_kind::<coord::Lease>(factory, &mut kinds, &wiring.tx);
    watch_kind::<core::Node>(factory, &mut kinds, &wiring.tx);
    watch_kind::<storage::CSINode>(factory, &mut kinds, &wiring.tx);
    let r = GarbageCollector {
        ctx: ctx.clone(),
        kinds: Arc::new(kinds),
        graph: Graph::default(),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

/// Queue keys: `d:<uid>` (attempt to delete / process dependents) and
/// `o:<uid>` (orphan dependents).
fn attempt(uid: &str) -> String {
    format!("d:{uid}")
}

impl GarbageCollector {
    fn kind_of(&self, r: &OwnerReference) -> Option<usize> {
        self.kinds
            .iter()
            .position(|k| k.api_version == r.api_version && k.kind == r.kind)
    }

    fn on_upsert(&mut self, obj: GcObject, q: &mut WorkQueue) {
        let uid = obj.uid.clone();
        let old = self.graph.upsert(obj.clone());
        if obj.deleting_dependents() {
            q.add(attempt(&uid));
        }
        if obj.deleting && obj.has_finalizer(ORPHAN_FINALIZER) {
            q.add(format!("o:{uid}"));
        }
        let owners_changed = old.as_ref().is_none_or(|o| o.owners != obj.owners);
        if !obj.owners.is_empty() && owners_changed {
            // Check owners that we do not know (yet).
            if obj
                .owners
                .iter()
                .any(|r| !self.graph.objects.contains_key(&r.uid))
            {
                q.add(attempt(&uid));
            }
        }
        // An owner that started foreground deletion: its dependents go.
        if let Some(o) = &old {
            if !o.deleting_dependents() && obj.deleting_dependents() {
                for d in self.graph.dependents_of(&uid) {
                    q.add(attempt(&d.uid));
                }
            }
        }
        // Owners waiting for this object may be able to finish.
        if obj.deleting {
            for r in &obj.owners {
                if self
                    .graph
                    .objects
                    .get(&r.uid)
                    .is_some_and(GcObject::deleting_dependents)
                {
                    q.add(attempt(&r.uid));
                }
            }
        }
    }

    fn on_delete(&mut self, obj: GcObject, q: &mut WorkQueue) {
        let removed = self.graph.remove(&obj.uid).unwrap_or(obj);
        for d in self.graph.dependents_of(&removed.uid) {
            q.add(attempt(&d.uid));
        }
        for r in &removed.owners {
            if self
                .graph
                .objects
                .get(&r.uid)
                .is_some_and(GcObject::deleting_dependents)
            {
                q.add(attempt(&r.uid));
            }
        }
    }

    /// Foreground: delete dependents, drop the finalizer when none block.
    fn process_deleting_dependents(&self, owner: &GcObject) -> Option<BoxFuture<'static, bool>> {
        let blocking = self.graph.blocking_dependents(&owner.uid);
        if blocking.is_empty() {
            let path = self
                .kinds
                .get(owner.kind)?
                .object_path(&owner.namespace, &owner.name);
            let patch = util::remove_finalizer_patch(&owner.finalizers, FOREGROUND_FINALIZER);
            let ctx = self.ctx.clone();
            return Some(Box::pin(async move {
                patch_ok(actions::json_patch(&ctx, &path, &patch).await)
            }));
        }
        // Dependents not yet deleting are deleted (they see a waiting owner).
        let mut work = Vec::new();
        for d in self.graph.dependents_of(&owner.uid) {
            let Some(kind) = self.kinds.get(d.kind) else {
                continue;
            };
            let path = kind.object_path(&d.namespace, &d.name);
            match dependent_action(&self.graph, &owner.uid, d) {
                DependentAction::Skip => {}
                DependentAction::DropOwner => {
                    let new: Vec<OwnerReference> = d
                        .owners
                        .iter()
                        .filter(|r| r.uid != owner.uid)
                        .cloned()
                        .collect();
                    work.push(DependentWork::Patch(
                        path,
                        util::owner_refs_patch(Some(&d.owners), &new),
                    ));
                }
                DependentAction::Delete { policy, unblock } => {
                    if unblock {
                        work.push(DependentWork::Patch(
                            path.clone(),
                            util::owner_refs_patch(Some(&d.owners), &unblocked(&d.owners)),
                        ));
                    }
                    work.push(DependentWork::Delete(path, d.uid.clone(), policy));
                }
            }
        }
        if work.is_empty() {
            return None;
        }
        let ctx = self.ctx.clone();
        Some(Box::pin(async move {
            let mut ok = true;
            for w in work {
                let r = match w {
                    DependentWork::Patch(path, p) => actions::json_patch(&ctx, &path, &p).await,
                    DependentWork::Delete(path, uid, policy) => {
                        delete_object(&ctx, &path, &uid, policy).await
                    }
                };
                ok &= patch_ok(r);
            }
            ok
        }))
    }

    fn process_orphan(&self, owner: &GcObject) -> Option<BoxFuture<'static, bool>> {
        let mut patches = Vec::new();
        for d in self.graph.dependents_of(&owner.uid) {
            let Some(kind) = self.kinds.get(d.kind) else {
                continue;
            };
            let new: Vec<OwnerReference> = d
                .owners
                .iter()
                .filter(|r| r.uid != owner.uid)
                .cloned()
                .collect();
            patches.push((
                kind.object_path(&d.namespace, &d.name),
                util::owner_refs_patch(Some(&d.owners), &new),
            ));
        }
        let owner_path = self
            .kinds
            .get(owner.kind)?
            .object_path(&owner.namespace, &owner.name);
        let fin_patch = util::remove_finalizer_patch(&owner.finalizers, ORPHAN_FINALIZER);
        let ctx = self.ctx.clone();
        Some(Box::pin(async move {
            let mut ok = true;
            for (path, patch) in patches {
                ok &= patch_ok(actions::json_patch(&ctx, &path, &patch).await);
            }
            // Only once every dependent is orphaned may the owner go.
            if ok {
                ok &= patch_ok(actions::json_patch(&ctx, &owner_path, &fin_patch).await);
            }
            ok
        }))
    }

    fn attempt_to_delete(&self, obj: &GcObject) -> Option<BoxFuture<'static, bool>> {
        if obj.deleting_dependents() {
            return self.process_deleting_dependents(obj);
        }
        if obj.deleting || obj.owners.is_empty() {
            return None;
        }
        // Resolve owners from the graph and the caches; the rest need a live check.
        let mut known: Vec<(String, OwnerState)> = Vec::new();
        let mut unknown: Vec<(OwnerReference, Option<String>)> = Vec::new();
        for r in &obj.owners {
            match self.graph.objects.get(&r.uid) {
                Some(o) => known.push((
                    r.uid.clone(),
                    if o.deleting_dependents() {
                        OwnerState::Waiting
                    } else {
                        OwnerState::Solid
                    },
                )),
                None => match self.kind_of(r) {
                    Some(k) => {
                        let kind = &self.kinds[k];
                        if (kind.lookup)(if kind.namespaced { &obj.namespace } else { "" }, &r.name)
                            .as_deref()
                            == Some(r.uid.as_str())
                        {
                            known.push((r.uid.clone(), OwnerState::Solid));
                        } else {
                            unknown
                                .push((r.clone(), Some(kind.object_path(&obj.namespace, &r.name))));
                        }
                    }
                    // A kind we do not monitor: never presume it gone.
                    None => known.push((r.uid.clone(), OwnerState::Solid)),
                },
            }
        }
        let quick = decide(obj, &known, !self.graph.dependents_of(&obj.uid).is_empty());
        if unknown.is_empty() && quick == Decision::Keep {
            return None;
        }
        let has_dependents = !self.graph.dependents_of(&obj.uid).is_empty();
        // A dependent already waiting in foreground means an ownership
        // cycle: see `dependent_action`.
        let cycle = self
            .graph
            .dependents_of(&obj.uid)
            .iter()
            .any(|d| d.deleting_dependents())
            && obj
                .owners
                .iter()
                .any(|r| r.block_owner_deletion == Some(true));
        let obj = obj.clone();
        let path = self
            .kinds
            .get(obj.kind)?
            .object_path(&obj.namespace, &obj.name);
        let ctx = self.ctx.clone();
        Some(Box::pin(async move {
            if !unknown.is_empty() {
                // An owner may be gone: check the dependent itself first, as
                // its cached owners may be stale (e.g. it was orphaned just
                // before its owner went). A changed dependent is re-queued
                // by its own watch event.
                let req = match http::Request::get(path.as_str()).body(Vec::new()) {
                    Ok(req) => req,
                    Err(_) => return false,
                };
                match ctx.call(ctx.client.request::<serde_json::Value>(req)).await {
                    Ok(live) if owners_unchanged(&live, &obj.uid, &obj.owners) => {}
                    Ok(_) => return true,
                    Err(e) if util::is_not_found(&e) => return true,
                    Err(_) => return false,
                }
            }
            let mut states = known;
            for (r, owner_path) in unknown {
                let Some(p) = owner_path else { continue };
                let req = http::Request::get(p).body(Vec::new());
                let state = match req {
                    Ok(req) => match ctx.call(ctx.client.request::<serde_json::Value>(req)).await {
                        Ok(v)
                            if v.pointer("/metadata/uid").and_then(|u| u.as_str())
                                == Some(r.uid.as_str()) =>
                        {
                            let fin = v
                                .pointer("/metadata/finalizers")
                                .and_then(|f| f.as_array())
                                .is_some_and(|f| f.iter().any(|x| x == FOREGROUND_FINALIZER));
                            if v.pointer("/metadata/deletionTimestamp")
                                .is_some_and(|t| !t.is_null())
                                && fin
                            {
                                OwnerState::Waiting
                            } else {
                                OwnerState::Solid
                            }
                        }
                        Ok(_) => OwnerState::Dangling,
                        Err(e) if util::is_not_found(&e) => OwnerState::Dangling,
                        Err(_) => return false,
                    },
                    Err(_) => return false,
                };
                states.push((r.uid.clone(), state));
            }
            match decide(&obj, &states, has_dependents) {
                Decision::Keep => true,
                Decision::RemoveOwners(uids) => {
                    let new: Vec<OwnerReference> = obj
                        .owners
                        .iter()
                        .filter(|r| !uids.contains(&r.uid))
                        .cloned()
                        .collect();
                    patch_ok(
                        actions::json_patch(
                            &ctx,
                            &path,
                            &util::owner_refs_patch(Some(&obj.owners), &new),
                        )
                        .await,
                    )
                }
                Decision::Delete(policy) => {
                    let waiting = states.iter().any(|(_, s)| *s == OwnerState::Waiting);
                    if cycle && waiting && policy == "Foreground" {
                        let unblock =
                            util::owner_refs_patch(Some(&obj.owners), &unblocked(&obj.owners));
                        if let Err(e) = actions::json_patch(&ctx, &path, &unblock).await {
                            return patch_ok(Err(e));
                        }
                    }
                    patch_ok(delete_object(&ctx, &path, &obj.uid, policy).await)
                }
            }
        }))
    }
}

/// Gone objects and precondition failures (the object changed meanwhile;
/// its update re-queues it) count as done.
fn patch_ok(r: Result<(), kube::Error>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            util::is_not_found(&e) || util::is_conflict(&e) || util::error_code(&e) == Some(422)
        }
    }
}

/// DELETE with a propagation policy and a uid precondition.
async fn delete_object(ctx: &Ctx, path: &str, uid: &str, policy: &str) -> Result<(), kube::Error> {
    let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy, "preconditions": {"uid": uid}});
    let req = http::Request::delete(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).map_err(kube::Error::SerdeError)?)
        .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e)))?;
    ctx.call(ctx.client.request::<serde_json::Value>(req))
        .await
        .map(|_| ())
}

impl Reconciler for GarbageCollector {
    type Msg = Msg;
    type Done = bool;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Upsert(o) => self.on_upsert(o, q),
            Msg::Delete(o) => self.on_delete(o, q),
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let (what, uid) = key.split_once(':')?;
        let obj = self.graph.objects.get(uid)?.clone();
        match what {
            "o" if obj.deleting && obj.has_finalizer(ORPHAN_FINALIZER) => self.process_orphan(&obj),
            "d" => self.attempt_to_delete(&obj),
            _ => None,
        }
    }

    fn on_done(&mut self, key: &str, ok: bool, q: &mut WorkQueue) {
        sync::retry_or_forget(q, key, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn obj(
        uid: &str,
        owners: Vec<OwnerReference>,
        finalizers: &[&str],
        deleting: bool,
    ) -> GcObject {
        GcObject {
            uid: uid.into(),
            kind: 0,
            namespace: "ns".into(),
            name: uid.into(),
            owners,
            finalizers: finalizers.iter().map(|s| s.to_string()).collect(),
            deleting,
        }
    }

    #[test]
    fn a_dependent_is_judged_on_its_live_owners() {
        let a = oref("a", true);
        let live = |uid: &str, owners: serde_json::Value| json!({"metadata": {"uid": uid, "name": "p", "ownerReferences": owners}});
        let a_json = serde_json::to_value(&a).unwrap();
        let cases = [
            (
                "same owners",
                live("p", json!([a_json.clone()])),
                vec![a.clone()],
                true,
            ),
            (
                "orphaned meanwhile",
                live("p", json!([])),
                vec![a.clone()],
                false,
            ),
            (
                "no owners key",
                json!({"metadata": {"uid": "p"}}),
                vec![a.clone()],
                false,
            ),
            (
                "no owners either way",
                json!({"metadata": {"uid": "p"}}),
                vec![],
                true,
            ),
            (
                "another owner",
                live("p", json!([serde_json::to_value(oref("b", true)).unwrap()])),
                vec![a.clone()],
                false,
            ),
            (
                "recreated under the same name",
                live("q", json!([a_json.clone()])),
                vec![a.clone()],
                false,
            ),
            (
                "unreadable owners",
                live("p", json!("x")),
                vec![a.clone()],
                false,
            ),
        ];
        for (name, live, cached, want) in cases {
            assert_eq!(owners_unchanged(&live, "p", &cached), want, "{name}");
        }
    }

    #[test]
    fn decisions_follow_owner_states() {
        use OwnerState::*;
        let two = obj("p", vec![oref("a", true), oref("b", true)], &[], false);
        let one = obj("p", vec![oref("a", true)], &[], false);
        type Case<'a> = (&'a GcObject, Vec<(&'a str, OwnerState)>, bool, Decision);
        let cases: Vec<Case> = vec![
            (&one, vec![("a", Solid)], false, Decision::Keep),
            (
                &one,
                vec![("a", Dangling)],
                false,
                Decision::Delete("Background"),
            ),
            (
                &two,
                vec![("a", Solid), ("b", Dangling)],
                false,
                Decision::RemoveOwners(vec!["b".into()]),
            ),
            (
                &two,
                vec![("a", Dangling), ("b", Dangling)],
                false,
                Decision::Delete("Background"),
            ),
            (
                &one,
                vec![("a", Waiting)],
                true,
                Decision::Delete("Foreground"),
            ),
            (
                &one,
                vec![("a", Waiting)],
                false,
                Decision::Delete("Background"),
            ),
            (
                &two,
                vec![("a", Solid), ("b", Waiting)],
                false,
                Decision::RemoveOwners(vec!["b".into()]),
            ),
        ];
        for (i, (o, states, deps, want)) in cases.into_iter().enumerate() {
            let states: Vec<(String, OwnerState)> = states
                .into_iter()
                .map(|(u, s)| (u.to_string(), s))
                .collect();
            assert_eq!(decide(o, &states, deps), want, "case {i}");
        }
        let orphaning = obj("p", vec![oref("a", true)], &[ORPHAN_FINALIZER], false);
        assert_eq!(
            decide(&orphaning, &[("a".into(), Dangling)], false),
            Decision::Delete("Orphan")
        );
        assert_eq!(
            decide(&obj("p", vec![], &[], false), &[], false),
            Decision::Keep
        );
    }

    #[test]
    fn graph_tracks_dependents_through_updates() {
        let mut g = Graph::default();
        g.upsert(obj("rs", vec![], &[], false));
        g.upsert(obj("p1", vec![oref("rs", true)], &[], false));
        g.upsert(obj("p2", vec![oref("rs", false)], &[], false));
        assert_eq!(g.dependents_of("rs").len(), 2);
        assert_eq!(g.blocking_dependents("rs").len(), 1);
        // p1 released by the owner.
        g.upsert(obj("p1", vec![], &[], false));
        assert_eq!(g.dependents_of("rs").len(), 1);
        assert!(g.blocking_dependents("rs").is_empty());
        g.remove("p2");
        assert!(g.dependents_of("rs").is_empty());
        assert!(g.dependents.is_empty());
        let waiting = obj("rs", vec![], &[FOREGROUND_FINALIZER], true);
        assert!(waiting.deleting_dependents());
    }

    fn pod_ref(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: uid.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    /// The e2e spec's shape: pod1 owned by pod3, pod2 by pod1, pod3 by pod2.
    fn circle() -> Graph {
        let mut g = Graph::default();
        g.upsert(obj(
            "pod1",
            vec![pod_ref("pod3")],
            &[FOREGROUND_FINALIZER],
            true,
        ));
        g.upsert(obj("pod2", vec![pod_ref("pod1")], &[], false));
        g.upsert(obj("pod3", vec![pod_ref("pod2")], &[], false));
        g
    }

    #[test]
    fn dependents_of_a_foreground_owner() {
        let mut g = circle();
        // pod2 has a dependent (pod3) that is not deleting: plain foreground.
        let pod2 = g.objects["pod2"].clone();
        assert_eq!(
            dependent_action(&g, "pod1", &pod2),
            DependentAction::Delete {
                policy: "Foreground",
                unblock: false
            }
        );
        // Once pod2 waits, pod3's dependent (pod1) waits too: a cycle.
        g.upsert(obj(
            "pod2",
            vec![pod_ref("pod1")],
            &[FOREGROUND_FINALIZER],
            true,
        ));
        let pod3 = g.objects["pod3"].clone();
        assert_eq!(
            dependent_action(&g, "pod2", &pod3),
            DependentAction::Delete {
                policy: "Foreground",
                unblock: true
            }
        );
        assert_eq!(
            dependent_action(&g, "pod3", &g.objects["pod1"].clone()),
            DependentAction::Skip
        );
        // A leaf goes in background; one with another live owner keeps it.
        g.upsert(obj("leaf", vec![pod_ref("pod3")], &[], false));
        g.upsert(obj(
            "shared",
            vec![pod_ref("pod3"), oref("rs", true)],
            &[],
            false,
        ));
        g.upsert(obj("rs", vec![], &[], false));
        let leaf = g.objects["leaf"].clone();
        let shared = g.objects["shared"].clone();
        assert_eq!(
            dependent_action(&g, "pod3", &leaf),
            DependentAction::Delete {
                policy: "Background",
                unblock: false
            }
        );
        assert_eq!(
            dependent_action(&g, "pod3", &shared),
            DependentAction::DropOwner
        );
        assert_eq!(
            unblocked(&[pod_ref("a"), oref("b", false)])
                .iter()
                .map(|r| r.block_owner_deletion)
                .collect::<Vec<_>>(),
            vec![Some(false), Some(false)]
        );
    }

    /// Runs the foreground machinery on a model of the API server until
    /// nothing changes; returns the objects left.
    fn settle(mut g: Graph, honour_unblock: bool) -> Vec<String> {
        for _ in 0..50 {
            let mut changed = false;
            let waiting: Vec<GcObject> = g
                .objects
                .values()
                .filter(|o| o.deleting_dependents())
                .cloned()
                .collect();
            for owner in waiting {
                if !g.objects.contains_key(&owner.uid) {
                    continue;
                }
                if g.blocking_dependents(&owner.uid).is_empty() {
                    // Finalizer removed: the object goes.
                    g.remove(&owner.uid);
                    changed = true;
                    continue;
                }
                let deps: Vec<GcObject> =
                    g.dependents_of(&owner.uid).into_iter().cloned().collect();
                for d in deps {
                    match dependent_action(&g, &owner.uid, &d) {
                        DependentAction::Skip => {}
                        DependentAction::DropOwner => {
                            let mut d = d.clone();
                            d.owners.retain(|r| r.uid != owner.uid);
                            g.upsert(d);
                            changed = true;
                        }
                        DependentAction::Delete { policy, unblock } => {
                            let mut d = d.clone();
                            if unblock && honour_unblock {
                                d.owners = unblocked(&d.owners);
                            }
                            if policy == "Foreground" {
                                d.finalizers.push(FOREGROUND_FINALIZER.into());
                                d.deleting = true;
                                g.upsert(d);
                            } else {
                                g.remove(&d.uid);
                            }
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut left: Vec<String> = g.objects.keys().cloned().collect();
        left.sort();
        left
    }

    #[test]
    fn a_dependency_circle_does_not_block_foreground_deletion() {
        assert!(settle(circle(), true).is_empty());
        // Without unblocking, the three wait for each other forever.
        assert_eq!(settle(circle(), false), vec!["pod1", "pod2", "pod3"]);
    }
}
