//! The API calls controllers make, shared: pod creation in slow-start
//! batches, pod deletion, adoption/release patches, status patches, each
//! with the events the real controllers record.

use crate::events::EventRecorder;
use crate::runtime::Ctx;
use crate::util;
use futures::future::join_all;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// The outcome of creating pods.
#[derive(Debug, Default)]
pub struct Created {
    /// Names of pods created.
    pub names: Vec<String>,
    /// Pods not created (failed, or not attempted after a failed batch).
    pub skipped: usize,
    /// The first error, if any.
    pub error: Option<String>,
}

/// `slowStartBatch`: creates pods in batches of 1, 2, 4, ... so that a
/// controller that cannot create pods (quota, admission) fails after one
/// call instead of thousands. Stops after the first batch with an error.
/// Records `SuccessfulCreate "Created pod: <name>"` / `FailedCreate`.
pub async fn create_pods(
    ctx: &Ctx,
    pods: Vec<Pod>,
    recorder: &EventRecorder,
    involved: &ObjectReference,
) -> Created {
    create_pods_with(ctx, pods, |_, r| match r {
        Ok(name) => recorder.normal(
            involved,
            "SuccessfulCreate",
            &format!("Created pod: {name}"),
        ),
        Err(msg) => recorder.warning(involved, "FailedCreate", &format!("Error creating: {msg}")),
    })
    .await
}

/// [`create_pods`] with the controller's own events: `report` gets the
/// pod as sent and the created name or the error message of each create.
pub async fn create_pods_with(
    ctx: &Ctx,
    pods: Vec<Pod>,
    report: impl Fn(&Pod, Result<&str, &str>),
) -> Created {
    let mut out = Created::default();
    let total = pods.len();
    let mut iter = pods.into_iter();
    for size in util::slow_start_batches(total, 1) {
        let batch: Vec<Pod> = iter.by_ref().take(size).collect();
        let results = join_all(batch.iter().map(|p| create_pod(ctx, p))).await;
        let mut failed = false;
        for (pod, r) in batch.iter().zip(results) {
            match r {
                Ok(name) => {
                    report(pod, Ok(&name));
                    out.names.push(name);
                }
                Err(e) => {
                    failed = true;
                    // Creating into a terminating namespace is expected, not an error.
                    if !util::is_namespace_terminating_error(&e) {
                        let msg = api_message(&e);
                        report(pod, Err(&msg));
                        out.error.get_or_insert(msg);
                    }
                }
            }
        }
        if failed {
            break;
        }
    }
    out.skipped = total - out.names.len();
    out
}

async fn create_pod(ctx: &Ctx, pod: &Pod) -> Result<String, kube::Error> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let created = ctx.call(api.create(&PostParams::default(), pod)).await?;
    Ok(created.metadata.name.unwrap_or_default())
}

/// The message of an API error (the Status message when there is one).
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        other => other.to_string(),
    }
}

/// Deletes pods (graceful, default options). Returns the keys whose delete
/// failed (a 404 counts as done).
pub async fn delete_pods(
    ctx: &Ctx,
    pods: Vec<(String, String)>,
    recorder: &EventRecorder,
    involved: &ObjectReference,
) -> Vec<String> {
    let results = join_all(pods.into_iter().map(|(ns, name)| async move {
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        let r = ctx.call(api.delete(&name, &DeleteParams::default())).await;
        (ns, name, r)
    }))
    .await;
    let mut failed = Vec::new();
    for (ns, name, r) in results {
        match r {
            Ok(_) => recorder.normal(
                involved,
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
            ),
            Err(e) if util::is_not_found(&e) => {}
            Err(e) => {
                recorder.warning(
                    involved,
                    "FailedDelete",
                    &format!("Error deleting: {}", api_message(&e)),
                );
                failed.push(util::key(Some(&ns), &name));
            }
        }
    }
    failed
}

/// Adopts (`adopt`) or releases (`!adopt`) objects by patching their owner
/// references. Returns how many patches failed for reasons other than the
/// object being gone or changed meanwhile.
pub async fn set_owner<K>(
    ctx: &Ctx,
    objs: Vec<std::sync::Arc<K>>,
    owner: &OwnerReference,
    adopt: bool,
) -> usize
where
    K: Resource<DynamicType = ()>,
{
    let results = join_all(objs.into_iter().map(|o| async move {
        let meta = o.meta();
        let ns = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let new = if adopt {
            util::with_owner(meta, owner)
        } else {
            util::without_owner(meta, &owner.uid)
        };
        let patch = util::owner_refs_patch(meta.owner_references.as_ref(), &new);
        json_patch(ctx, &object_path::<K>(Some(&ns), &name), &patch).await
    }))
    .await;
    results
        .into_iter()
        .filter(|r| matches!(r, Err(e) if !util::is_not_found(e) && util::error_code(e) != Some(422) && !util::is_conflict(e)))
        .count()
}

/// Sends a JSON patch (`application/json-patch+json`) for the object at
/// `path` (e.g. `/api/v1/namespaces/ns/pods/p`, plus `/status` for the
/// subresource). kube-rs only builds JSON patches with an optional crate, so
/// the request is made by hand.
pub async fn json_patch(
    ctx: &Ctx,
    path: &str,
    patch: &serde_json::Value,
) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(patch).map_err(kube::Error::SerdeError)?;
    let req = http::Request::builder()
        .method(http::Method::PATCH)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e)))?;
    ctx.call(ctx.client.request::<serde_json::Value>(req))
        .await
        .map(|_| ())
}

/// The URL path of a typed object.
pub fn object_path<K: Resource<DynamicType = ()>>(namespace: Option<&str>, name: &str) -> String {
    format!(
        "{}/{}",
        K::url_path(&(), namespace.filter(|n| !n.is_empty())),
        name
    )
}

/// Merge-patches the status subresource with `{"status": status}`.
pub async fn patch_status<K>(
    ctx: &Ctx,
    api: &Api<K>,
    name: &str,
    status: serde_json::Value,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    ctx.call(api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    ))
    .await
    .map(|_| ())
}
