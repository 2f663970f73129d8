//! Carrying out a plan against the API: create / patch / delete with
//! retries, paced batches of such operations, and waits on conditions,
//! each with progress output, a deadline and cancellation (Ctrl-C).

use crate::progress::{Mode, Progress};
use crate::PerfError;
use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Requests in flight at once within a paced batch.
const MAX_IN_FLIGHT: usize = 64;
/// Per-request deadline; a request that takes longer is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const RETRIES: u32 = 5;

/// The kinds of object the tests touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjKind {
    Namespace,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    Service,
    ConfigMap,
    Secret,
}

impl ObjKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjKind::Namespace => "Namespace",
            ObjKind::Deployment => "Deployment",
            ObjKind::StatefulSet => "StatefulSet",
            ObjKind::DaemonSet => "DaemonSet",
            ObjKind::Job => "Job",
            ObjKind::Service => "Service",
            ObjKind::ConfigMap => "ConfigMap",
            ObjKind::Secret => "Secret",
        }
    }

    pub fn from_kind(kind: &str) -> Option<ObjKind> {
        [
            ObjKind::Namespace,
            ObjKind::Deployment,
            ObjKind::StatefulSet,
            ObjKind::DaemonSet,
            ObjKind::Job,
            ObjKind::Service,
            ObjKind::ConfigMap,
            ObjKind::Secret,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }

    fn api_resource(self) -> ApiResource {
        let (group, version, plural) = match self {
            ObjKind::Namespace => ("", "v1", "namespaces"),
            ObjKind::Deployment => ("apps", "v1", "deployments"),
            ObjKind::StatefulSet => ("apps", "v1", "statefulsets"),
            ObjKind::DaemonSet => ("apps", "v1", "daemonsets"),
            ObjKind::Job => ("batch", "v1", "jobs"),
            ObjKind::Service => ("", "v1", "services"),
            ObjKind::ConfigMap => ("", "v1", "configmaps"),
            ObjKind::Secret => ("", "v1", "secrets"),
        };
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, self.as_str()),
            plural,
        )
    }
}

impl From<crate::plan::Kind> for ObjKind {
    fn from(k: crate::plan::Kind) -> ObjKind {
        match k {
            crate::plan::Kind::Deployment => ObjKind::Deployment,
            crate::plan::Kind::StatefulSet => ObjKind::StatefulSet,
            crate::plan::Kind::Job => ObjKind::Job,
            crate::plan::Kind::DaemonSet => ObjKind::DaemonSet,
        }
    }
}

/// One API operation.
#[derive(Debug, Clone)]
pub enum Op {
    Create(Value),
    Patch {
        kind: ObjKind,
        namespace: String,
        name: String,
        patch: Value,
    },
    Delete {
        kind: ObjKind,
        namespace: Option<String>,
        name: String,
    },
}

impl Op {
    pub fn delete(kind: impl Into<ObjKind>, namespace: &str, name: &str) -> Op {
        Op::Delete {
            kind: kind.into(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Op::Create(v) => format!(
                "create {} {}/{}",
                v["kind"].as_str().unwrap_or("?"),
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("?")
            ),
            Op::Patch {
                kind,
                namespace,
                name,
                ..
            } => format!("patch {} {namespace}/{name}", kind.as_str()),
            Op::Delete {
                kind,
                namespace,
                name,
            } => {
                format!(
                    "delete {} {}/{name}",
                    kind.as_str(),
                    namespace.as_deref().unwrap_or("")
                )
            }
        }
    }
}

/// Objects created / updated / deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
}

/// How a batch or a wait ended (errors are `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    TimedOut { done: usize, total: usize },
    Cancelled,
}

pub struct Exec {
    client: kube::Client,
    cancel: CancellationToken,
    mode: Mode,
    /// Shared with the executors made by [`Exec::with_cancel`].
    tally: Arc<Mutex<BTreeMap<&'static str, Tally>>>,
}

fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

fn retriable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

enum Failure {
    Kube(kube::Error),
    Timeout,
    Bad(String),
}

impl Exec {
    pub fn new(client: kube::Client, cancel: CancellationToken, mode: Mode) -> Exec {
        Exec {
            client,
            cancel,
            mode,
            tally: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn tally(&self) -> BTreeMap<&'static str, Tally> {
        self.tally.lock().clone()
    }

    /// The same client and tally under another cancellation token (e.g.
    /// cleaning up after Ctrl-C cancelled the run's).
    pub fn with_cancel(&self, cancel: CancellationToken) -> Exec {
        Exec {
            client: self.client.clone(),
            cancel,
            mode: self.mode,
            tally: self.tally.clone(),
        }
    }

    fn api(&self, kind: ObjKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = kind.api_resource();
        match (kind, namespace) {
            (ObjKind::Namespace, _) | (_, None) => Api::all_with(self.client.clone(), &ar),
            (_, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
        }
    }

    async fn try_op(&self, op: &Op) -> Result<(), Failure> {
        let fut = async {
            match op {
                Op::Create(v) => {
                    let kind = ObjKind::from_kind(v["kind"].as_str().unwrap_or(""))
                        .ok_or_else(|| Failure::Bad(format!("unsupported kind {}", v["kind"])))?;
                    let obj: DynamicObject = serde_json::from_value(v.clone())
                        .map_err(|e| Failure::Bad(e.to_string()))?;
                    let ns = v["metadata"]["namespace"].as_str();
                    match self
                        .api(kind, ns)
                        .create(&PostParams::default(), &obj)
                        .await
                    {
                        // A retried create that had gone through.
                        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                        Err(e) => Err(Failure::Kube(e)),
                        Ok(_) => {
                            self.tally.lock().entry(kind.as_str()).or_default().created += 1;
                            Ok(())
                        }
                    }
                }
                Op::Patch {
                    kind,
                    namespace,
                    name,
                    patch,
                } => {
                    let r = self
                        .api(*kind, Some(namespace))
                        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                        .await;
                    r.map_err(Failure::Kube)?;
                    self.tally.lock().entry(kind.as_str()).or_default().updated += 1;
                    Ok(())
                }
                Op::Delete {
                    kind,
                    namespace,
                    name,
                } => {
                    match self
                        .api(*kind, namespace.as_deref())
                        .delete(name, &DeleteParams::background())
                        .await
                    {
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => Err(Failure::Kube(e)),
                        Ok(_) => {
                            self.tally.lock().entry(kind.as_str()).or_default().deleted += 1;
                            Ok(())
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// One operation, retried on throttling, server errors and broken
    /// connections.
    pub async fn op(&self, op: &Op) -> Result<(), PerfError> {
        let mut attempt = 0;
        loop {
            let err = match self.try_op(op).await {
                Ok(()) => return Ok(()),
                Err(Failure::Bad(reason)) => {
                    return Err(PerfError::Api {
                        what: op.describe(),
                        reason,
                    })
                }
                Err(Failure::Timeout) if attempt < RETRIES => "timed out".to_string(),
                Err(Failure::Kube(e)) if attempt < RETRIES && retriable(&e) => kube_reason(&e),
                Err(Failure::Timeout) => {
                    return Err(PerfError::Api {
                        what: op.describe(),
                        reason: format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
                    })
                }
                Err(Failure::Kube(e)) => {
                    return Err(PerfError::Api {
                        what: op.describe(),
                        reason: kube_reason(&e),
                    })
                }
            };
            tracing::debug!("{}: {err}; retrying", op.describe());
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            attempt += 1;
        }
    }

    /// Runs `ops`, operation i starting `offsets[i]` seconds after the
    /// start (at once where `offsets` has no entry, so `&[]` runs them all
    /// as fast as `MAX_IN_FLIGHT` allows), with progress under `label`,
    /// until `deadline`.
    pub async fn paced(
        &self,
        label: &str,
        ops: &[Op],
        offsets: &[f64],
        deadline: Instant,
    ) -> Result<Outcome, PerfError> {
        let mut progress = Progress::new(self.mode, label, "objects", ops.len());
        let start = Instant::now();
        let due = |i: usize| {
            start + Duration::from_secs_f64(offsets.get(i).copied().unwrap_or(0.0).max(0.0))
        };
        let mut next = 0;
        let mut done = 0;
        let mut in_flight = FuturesUnordered::new();
        loop {
            let now = Instant::now();
            while next < ops.len() && in_flight.len() < MAX_IN_FLIGHT && due(next) <= now {
                in_flight.push(self.op(&ops[next]));
                next += 1;
            }
            if next == ops.len() && in_flight.is_empty() {
                progress.finish(done, "done");
                return Ok(Outcome::Done);
            }
            let wake = if next < ops.len() && in_flight.len() < MAX_IN_FLIGHT {
                due(next).min(now + Duration::from_millis(250))
            } else {
                now + Duration::from_millis(250)
            };
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    progress.finish(done, "interrupted");
                    return Ok(Outcome::Cancelled);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    progress.finish(done, "TIMED OUT");
                    return Ok(Outcome::TimedOut { done, total: ops.len() });
                }
                Some(r) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Err(e) = r {
                        progress.finish(done, "failed");
                        return Err(e);
                    }
                    done += 1;
                    progress.update(done);
                }
                _ = tokio::time::sleep_until(wake) => progress.update(done),
            }
        }
    }

    /// Polls `poll` (returning progress and whether the condition holds)
    /// every 250 ms until it holds, the deadline passes, or Ctrl-C.
    pub async fn wait<F, Fut>(
        &self,
        label: &str,
        unit: &'static str,
        total: usize,
        deadline: Instant,
        mut poll: F,
    ) -> Outcome
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = (usize, bool)>,
    {
        let mut progress = Progress::new(self.mode, label, unit, total);
        loop {
            let (done, finished) = poll().await;
            if finished {
                progress.finish(done, "done");
                return Outcome::Done;
            }
            progress.update(done);
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    progress.finish(done, "interrupted");
                    return Outcome::Cancelled;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let (done, finished) = poll().await;
                    if finished {
                        progress.finish(done, "done");
                        return Outcome::Done;
                    }
                    progress.finish(done, "TIMED OUT");
                    return Outcome::TimedOut { done, total };
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// GETs an object as JSON (`None` when it does not exist).
    pub async fn get(
        &self,
        kind: ObjKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, PerfError> {
        match self.api(kind, namespace).get_opt(name).await {
            Ok(Some(o)) => Ok(Some(serde_json::to_value(o).unwrap_or_default())),
            Ok(None) => Ok(None),
            Err(e) => Err(PerfError::Api {
                what: format!("get {} {name}", kind.as_str()),
                reason: kube_reason(&e),
            }),
        }
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in [
            "Namespace",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "Service",
            "ConfigMap",
            "Secret",
        ] {
            assert_eq!(ObjKind::from_kind(k).map(ObjKind::as_str), Some(k));
        }
        assert_eq!(ObjKind::from_kind("Pod"), None);
        let ar = ObjKind::Job.api_resource();
        assert_eq!(
            (ar.api_version.as_str(), ar.plural.as_str()),
            ("batch/v1", "jobs")
        );
        let ar = ObjKind::ConfigMap.api_resource();
        assert_eq!(
            (ar.api_version.as_str(), ar.plural.as_str()),
            ("v1", "configmaps")
        );
    }

    #[test]
    fn op_descriptions() {
        let c = Op::Create(
            serde_json::json!({"kind": "Deployment", "metadata": {"namespace": "n", "name": "d"}}),
        );
        assert_eq!(c.describe(), "create Deployment n/d");
        assert_eq!(
            Op::delete(ObjKind::Service, "n", "s").describe(),
            "delete Service n/s"
        );
        let ns = Op::Delete {
            kind: ObjKind::Namespace,
            namespace: None,
            name: "x".into(),
        };
        assert_eq!(ns.describe(), "delete Namespace /x");
    }
}
