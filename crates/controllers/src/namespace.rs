//! The namespace controller: for a namespace being deleted, deletes every
//! namespaced object of every resource the server lists in discovery, waits
//! until nothing is left, then removes the `kubernetes` finalizer through
//! `PUT /api/v1/namespaces/<ns>/finalize` so the server removes the
//! namespace. Progress is reported in the namespace's status conditions.

use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::discovery::{verbs, Discovery, Scope};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const FINALIZER: &str = "kubernetes";

/// How long a discovery result is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);

/// Whether the controller has work for a namespace.
pub fn needs_finalizing(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        && ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// What remained after a deletion pass: resource -> (objects, finalizer -> count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remaining {
    pub objects: BTreeMap<String, usize>,
    pub finalizers: BTreeMap<String, usize>,
    pub errors: Vec<String>,
}

/// The namespace status conditions for a pass, as the real controller
/// words them.
pub fn conditions(r: &Remaining, now: &Time) -> Vec<Value> {
    let cond = |t: &str,
                ok: bool,
                reason_true: &str,
                msg: String,
                reason_false: &str,
                msg_false: &str| {
        if ok {
            json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason_true, "message": msg})
        } else {
            json!({"type": t, "status": "False", "lastTransitionTime": now, "reason": reason_false, "message": msg_false})
        }
    };
    let objects: Vec<String> = r
        .objects
        .iter()
        .map(|(res, n)| format!("{res} has {n} resource instances"))
        .collect();
    let finalizers: Vec<String> = r
        .finalizers
        .iter()
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect();
    vec![
        cond(
            "NamespaceDeletionDiscoveryFailure",
            false,
            "",
            String::new(),
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "",
            String::new(),
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        cond(
            "NamespaceDeletionContentFailure",
            !r.errors.is_empty(),
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                r.errors.len(),
                r.errors.join(", ")
            ),
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        cond(
            "NamespaceContentRemaining",
            !r.objects.is_empty(),
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", objects.join(", ")),
            "ContentRemoved",
            "All content successfully removed",
        ),
        cond(
            "NamespaceFinalizersRemaining",
            !r.finalizers.is_empty(),
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                finalizers.join(", ")
            ),
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        ),
    ]
}

/// Whether the conditions changed (ignoring transition times).
fn conditions_differ(ns: &Namespace, new: &[Value]) -> bool {
    let old: Vec<Value> = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .map(|c| json!([c.type_, c.status, c.reason, c.message]))
                .collect()
        })
        .unwrap_or_default();
    let new: Vec<Value> = new
        .iter()
        .map(|c| json!([c["type"], c["status"], c["reason"], c["message"]]))
        .collect();
    old != new
}

/// Resources to empty, each with whether it supports `deletecollection`.
type Resources = Vec<(ApiResource, bool)>;

pub struct NamespaceController {
    ctx: Ctx,
    namespaces: Arc<Informer<Namespace>>,
    discovery: Arc<Mutex<Option<(Instant, Resources)>>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let namespaces = factory.get::<Namespace>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&namespaces, &wiring.tx, |c: Change<Namespace>| c);
    let r = NamespaceController {
        ctx: ctx.clone(),
        namespaces,
        discovery: Arc::new(Mutex::new(None)),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

/// Namespaced resources that can be listed and deleted, one (preferred)
/// version per group.
async fn deletable_resources(
    ctx: &Ctx,
    cache: &Mutex<Option<(Instant, Resources)>>,
) -> Result<Resources, kube::Error> {
    if let Some((at, r)) = cache.lock().as_ref() {
        if at.elapsed() < DISCOVERY_TTL {
            return Ok(r.clone());
        }
    }
    let d = ctx.call(Discovery::new(ctx.client.clone()).run()).await?;
    let mut out = Vec::new();
    for group in d.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
            {
                let collection = caps.supports_operation(verbs::DELETE_COLLECTION);
                out.push((ar, collection));
            }
        }
    }
    *cache.lock() = Some((Instant::now(), out.clone()));
    Ok(out)
}

fn resource_name(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}

/// One deletion pass over every resource; returns what is left.
async fn delete_content(ctx: &Ctx, namespace: &str, resources: &Resources) -> Remaining {
    let mut remaining = Remaining::default();
    let dp = DeleteParams::background();
    for (ar, collection) in resources {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, ar);
        if *collection {
            // One call for the bulk; stragglers are deleted one by one below.
            if let Err(e) = ctx
                .call(api.delete_collection(&dp, &ListParams::default()))
                .await
            {
                if !util::is_not_found(&e) && util::error_code(&e) != Some(405) {
                    remaining.errors.push(format!(
                        "{}: {}",
                        resource_name(ar),
                        crate::actions::api_message(&e)
                    ));
                }
            }
        }
        let list = match ctx.call(api.list(&ListParams::default())).await {
            Ok(l) => l,
            Err(e) if util::is_not_found(&e) || util::error_code(&e) == Some(405) => continue,
            Err(e) => {
                remaining.errors.push(format!("{}: {e}", resource_name(ar)));
                continue;
            }
        };
        if list.items.is_empty() {
            continue;
        }
        let mut left = 0;
        for obj in &list.items {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if obj.metadata.deletion_timestamp.is_none() {
                match ctx.call(api.delete(&name, &dp)).await {
                    Ok(either) => {
                        if either.is_right() {
                            // Deleted at once.
                            continue;
                        }
                    }
                    Err(e) if util::is_not_found(&e) => continue,
                    Err(e) => remaining.errors.push(format!(
                        "{} {name}: {}",
                        resource_name(ar),
                        crate::actions::api_message(&e)
                    )),
                }
            }
            left += 1;
            for f in obj.metadata.finalizers.iter().flatten() {
                *remaining.finalizers.entry(f.clone()).or_default() += 1;
            }
        }
        if left > 0 {
            remaining.objects.insert(resource_name(ar), left);
        }
    }
    remaining
}

#[derive(Debug)]
pub enum Done {
    Finalized,
    /// Content remains: check again after this long.
    Retry(Duration),
    Failed,
}

impl Reconciler for NamespaceController {
    type Msg = Change<Namespace>;
    type Done = Done;

    fn on_msg(&mut self, c: Change<Namespace>, q: &mut WorkQueue) {
        if !matches!(c, Change::Deleted(_)) && needs_finalizing(c.object()) {
            q.add(c.object().metadata.name.clone().unwrap_or_default());
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let ns = self.namespaces.get("", key)?;
        if !needs_finalizing(&ns) {
            return None;
        }
        let ctx = self.ctx.clone();
        let cache = self.discovery.clone();
        let name = key.to_string();
        Some(Box::pin(async move {
            let resources = match deletable_resources(&ctx, &cache).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(namespace = name, error = %e, "discovery failed");
                    return Done::Failed;
                }
            };
            let remaining = delete_content(&ctx, &name, &resources).await;
            let api: Api<Namespace> = Api::all(ctx.client.clone());
            if !remaining.objects.is_empty() || !remaining.errors.is_empty() {
                let conds = conditions(&remaining, &util::now_time());
                if conditions_differ(&ns, &conds) {
                    let _ = ctx
                        .call(api.patch_status(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({"status": {"conditions": conds}})),
                        ))
                        .await;
                }
                // Pods wait for their kubelets; check again soon.
                return Done::Retry(Duration::from_secs(1));
            }
            // Everything is gone: drop our finalizer.
            let mut fresh = match ctx.call(api.get(&name)).await {
                Ok(n) => n,
                Err(e) if util::is_not_found(&e) => return Done::Finalized,
                Err(_) => return Done::Failed,
            };
            if let Some(spec) = fresh.spec.as_mut() {
                if let Some(f) = spec.finalizers.as_mut() {
                    f.retain(|x| x != FINALIZER);
                }
            }
            match ctx
                .call(api.replace_subresource("finalize", &name, &PostParams::default(), &fresh))
                .await
            {
                Ok(_) => Done::Finalized,
                Err(e) if util::is_not_found(&e) => Done::Finalized,
                Err(e) => {
                    tracing::debug!(namespace = name, error = %e, "finalize failed");
                    Done::Failed
                }
            }
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        match done {
            Done::Finalized => q.forget(key),
            Done::Retry(d) => q.add_after(key, d),
            Done::Failed => q.add_rate_limited(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deleting_namespaces_with_our_finalizer_are_handled() {
        let mk = |v: Value| -> Namespace { serde_json::from_value(v).unwrap() };
        let cases = [
            (
                json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"finalizers": ["kubernetes"]}}),
                true,
            ),
            (
                json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"finalizers": []}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}),
                false,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(needs_finalizing(&mk(v.clone())), want, "{v}");
        }
    }

    #[test]
    fn conditions_describe_what_remains() {
        let now = Time("2024-01-01T00:00:00Z".parse().unwrap());
        let r = Remaining {
            objects: BTreeMap::from([("pods".to_string(), 2)]),
            finalizers: BTreeMap::from([("foregroundDeletion".to_string(), 1)]),
            errors: vec![],
        };
        let c = conditions(&r, &now);
        let find = |t: &str| c.iter().find(|x| x["type"] == t).cloned().unwrap();
        assert_eq!(
            find("NamespaceContentRemaining")["message"],
            "Some resources are remaining: pods has 2 resource instances"
        );
        assert_eq!(find("NamespaceFinalizersRemaining")["status"], "True");
        assert_eq!(find("NamespaceDeletionContentFailure")["status"], "False");
        let clean = conditions(&Remaining::default(), &now);
        assert!(clean.iter().all(|x| x["status"] == "False"));
    }
}
