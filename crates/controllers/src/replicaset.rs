//! The ReplicaSet and ReplicationController controllers (one implementation,
//! as in the real kube-controller-manager): keep `spec.replicas` active pods
//! matching the selector, adopt orphans, release pods that stopped
//! matching, and report status.

use crate::actions;
use crate::events::{object_ref, EventRecorder};
use crate::expectations::Expectations;
use crate::informer::{Cached, Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::{self, Done};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::Resource;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pod selector: `metav1.LabelSelector` (ReplicaSet) or a plain map
/// (ReplicationController).
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Label(LabelSelector),
    Map(BTreeMap<String, String>),
}

impl Selector {
    /// Empty selectors match nothing (validation forbids them; matching
    /// everything would adopt every pod in the namespace).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Label(s) => !util::selector_is_empty(s) && util::selector_matches(s, labels),
            Selector::Map(m) => util::map_selector_matches(m, labels),
        }
    }
}

/// The replica status fields shared by ReplicaSet and ReplicationController.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaStatus {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
    /// `ReplicaFailure` condition: (reason, message).
    pub failure: Option<(String, String)>,
}

/// What the controller needs to know about a ReplicaSet / RC.
#[derive(Debug, Clone)]
pub struct ReplicaView {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub replicas: i32,
    pub min_ready_seconds: i32,
    pub selector: Selector,
    pub template: Option<PodTemplateSpec>,
    pub deleting: bool,
    pub status: ReplicaStatus,
    /// Existing status conditions, as JSON (kept when unchanged).
    pub conditions: Vec<Value>,
}

/// The kinds this controller manages.
pub trait ReplicaKind: Cached + Resource<Scope = k8s_openapi::NamespaceResourceScope> {
    const COMPONENT: &'static str;
    fn view(&self) -> ReplicaView;
}

fn failure_of(conditions: &[Value]) -> Option<(String, String)> {
    conditions
        .iter()
        .find(|c| c["type"] == "ReplicaFailure" && c["status"] == "True")
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
}

impl ReplicaKind for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    fn view(&self) -> ReplicaView {
        let spec = self.spec.clone().unwrap_or_default();
        let st = self.status.clone().unwrap_or_default();
        let conditions: Vec<Value> = st
            .conditions
            .iter()
            .flatten()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect();
        ReplicaView {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
            uid: self.metadata.uid.clone().unwrap_or_default(),
            generation: self.metadata.generation.unwrap_or(0),
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector: Selector::Label(spec.selector),
            template: spec.template,
            deleting: self.metadata.deletion_timestamp.is_some(),
            status: ReplicaStatus {
                replicas: st.replicas,
                fully_labeled_replicas: st.fully_labeled_replicas.unwrap_or(0),
                ready_replicas: st.ready_replicas.unwrap_or(0),
                available_replicas: st.available_replicas.unwrap_or(0),
                observed_generation: st.observed_generation.unwrap_or(0),
                failure: failure_of(&conditions),
            },
            conditions,
        }
    }
}

impl ReplicaKind for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";
    fn view(&self) -> ReplicaView {
        let spec = self.spec.clone().unwrap_or_default();
        let st = self.status.clone().unwrap_or_default();
        let conditions: Vec<Value> = st
            .conditions
            .iter()
            .flatten()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect();
        let selector = spec
            .selector
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| {
                spec.template
                    .as_ref()
                    .and_then(|t| t.metadata.as_ref())
                    .and_then(|m| m.labels.clone())
            })
            .unwrap_or_default();
        ReplicaView {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
            uid: self.metadata.uid.clone().unwrap_or_default(),
            generation: self.metadata.generation.unwrap_or(0),
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector: Selector::Map(selector),
            template: spec.template,
            deleting: self.metadata.deletion_timestamp.is_some(),
            status: ReplicaStatus {
                replicas: st.replicas,
                fully_labeled_replicas: st.fully_labeled_replicas.unwrap_or(0),
                ready_replicas: st.ready_replicas.unwrap_or(0),
                available_replicas: st.available_replicas.unwrap_or(0),
                observed_generation: st.observed_generation.unwrap_or(0),
                failure: failure_of(&conditions),
            },
            conditions,
        }
    }
}

/// What `manageReplicas` should do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaDiff {
    pub create: usize,
    /// Indices into the active pods, in deletion order.
    pub delete: Vec<usize>,
}

/// `manageReplicas`: create the missing pods or delete the surplus (the
/// pods that rank first in `ActivePods` order), at most `burst` per sync.
pub fn replicaset_diff(desired: i32, active: &[Arc<Pod>], burst: usize) -> ReplicaDiff {
    let desired = usize::try_from(desired.max(0)).unwrap_or(0);
    if active.len() < desired {
        return ReplicaDiff {
            create: (desired - active.len()).min(burst),
            delete: Vec::new(),
        };
    }
    let surplus = (active.len() - desired).min(burst);
    if surplus == 0 {
        return ReplicaDiff::default();
    }
    let mut idx: Vec<usize> = (0..active.len()).collect();
    idx.sort_by(|a, b| util::deletion_order(&active[*a], &active[*b]));
    idx.truncate(surplus);
    ReplicaDiff {
        create: 0,
        delete: idx,
    }
}

/// `calculateStatus` from the active pods we control. Also returns how long
/// until a ready pod becomes available (to re-sync then).
pub fn replica_status(
    view: &ReplicaView,
    active: &[Arc<Pod>],
    failure: Option<(String, String)>,
    now: Timestamp,
) -> (ReplicaStatus, Option<Duration>) {
    let template_labels = view
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut st = ReplicaStatus {
        replicas: count(active.len()),
        observed_generation: view.generation,
        failure,
        ..Default::default()
    };
    let mut wait: Option<Duration> = None;
    for p in active {
        let labels = util::labels_of(&p.metadata);
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            st.fully_labeled_replicas += 1;
        }
        if util::is_pod_ready(p) {
            st.ready_replicas += 1;
            if util::is_pod_available(p, view.min_ready_seconds, now) {
                st.available_replicas += 1;
            } else if let Some(d) = util::until_available(p, view.min_ready_seconds, now) {
                wait = Some(wait.map_or(d, |w| w.min(d)));
            }
        }
    }
    (st, wait)
}

pub(crate) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The status JSON for a merge patch, keeping unchanged conditions.
pub fn status_json(st: &ReplicaStatus, existing: &[Value], now: Timestamp) -> Value {
    let mut conditions: Vec<Value> = existing
        .iter()
        .filter(|c| c["type"] != "ReplicaFailure")
        .cloned()
        .collect();
    if let Some((reason, message)) = &st.failure {
        let kept = existing.iter().find(|c| {
            c["type"] == "ReplicaFailure"
                && c["reason"] == reason.as_str()
                && c["message"] == message.as_str()
        });
        conditions.push(kept.cloned().unwrap_or_else(|| {
            json!({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
                   "reason": reason, "message": message})
        }));
    }
    json!({
        "replicas": st.replicas,
        "fullyLabeledReplicas": st.fully_labeled_replicas,
        "readyReplicas": st.ready_replicas,
        "availableReplicas": st.available_replicas,
        "observedGeneration": st.observed_generation,
        "conditions": if conditions.is_empty() { Value::Null } else { Value::Array(conditions) },
    })
}

pub enum Msg<K> {
    Owner(Change<K>),
    Pod(Change<Pod>),
}

pub struct ReplicaController<K: ReplicaKind> {
    ctx: Ctx,
    owners: Arc<Informer<K>>,
    pods: Arc<Informer<Pod>>,
    expectations: Expectations,
    /// Last create/delete error per key, for the ReplicaFailure condition.
    failures: HashMap<String, String>,
    recorder: EventRecorder,
}

pub(crate) fn setup_rs(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    setup::<ReplicaSet>(ctx, factory)
}

pub(crate) fn setup_rc(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    setup::<ReplicationController>(ctx, factory)
}

fn setup<K: ReplicaKind>(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let owners = factory.get::<K>();
    let pods = factory.get::<Pod>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&owners, &wiring.tx, Msg::Owner);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    let r = ReplicaController {
        ctx: ctx.clone(),
        owners,
        pods,
        expectations: Expectations::new(),
        failures: HashMap::new(),
        recorder: ctx.recorder(K::COMPONENT),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

impl<K: ReplicaKind> ReplicaController<K> {
    fn owner_key(&self, pod: &Pod) -> Option<String> {
        let r = util::controller_of(&pod.metadata)?;
        (r.kind == K::kind(&()) && r.api_version == K::api_version(&()))
            .then(|| util::key(pod.metadata.namespace.as_deref(), &r.name))
    }

    /// Owners in the pod's namespace whose selector matches it (for orphans).
    fn matching_owners(&self, pod: &Pod) -> Vec<String> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let labels = util::labels_of(&pod.metadata);
        self.owners
            .list_namespace(&ns)
            .iter()
            .filter(|o| o.view().selector.matches(&labels))
            .map(|o| util::meta_key(o.meta()))
            .collect()
    }

    fn on_pod(&mut self, change: Change<Pod>, q: &mut WorkQueue) {
        let pod = change.object().clone();
        match &change {
            Change::Added(_) => {
                if let Some(k) = self.owner_key(&pod) {
                    sync::observe_pod(&mut self.expectations, &k, &change);
                    q.add(k);
                } else if util::controller_of(&pod.metadata).is_none() {
                    for k in self.matching_owners(&pod) {
                        q.add(k);
                    }
                }
            }
            Change::Updated { old, new } => {
                let new_owner = self.owner_key(new);
                let old_owner = self.owner_key(old);
                if let Some(k) = &new_owner {
                    sync::observe_pod(&mut self.expectations, k, &change);
                    q.add(k.clone());
                }
                if let Some(k) = old_owner
                    .as_ref()
                    .filter(|o| Some(*o) != new_owner.as_ref())
                {
                    q.add(k.clone());
                }
                if util::controller_of(&new.metadata).is_none()
                    && (old.metadata.labels != new.metadata.labels || old_owner.is_some())
                {
                    for k in self.matching_owners(new) {
                        q.add(k);
                    }
                }
            }
            Change::Deleted(_) => {
                if let Some(k) = self.owner_key(&pod) {
                    sync::observe_pod(&mut self.expectations, &k, &change);
                    q.add(k);
                }
            }
        }
    }
}

impl<K: ReplicaKind> Reconciler for ReplicaController<K> {
    type Msg = Msg<K>;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg<K>, q: &mut WorkQueue) {
        match msg {
            Msg::Owner(c) => {
                if let Some(key) = sync::owner_changed(&mut self.expectations, q, &c) {
                    self.failures.remove(&key);
                }
            }
            Msg::Pod(c) => self.on_pod(c, q),
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let obj = self.owners.get_key(key)?;
        let view = obj.view();
        let now = Instant::now();
        let pods = self.pods.list_namespace(&view.namespace);
        let claim = util::claim(pods, &view.uid, view.deleting, |l| view.selector.matches(l));
        let owner_ref =
            util::controller_owner_ref(&K::api_version(&()), &K::kind(&()), &view.name, &view.uid);
        let mut controlled: Vec<Arc<Pod>> = claim
            .owned
            .iter()
            .chain(claim.adopt.iter())
            .cloned()
            .collect();
        controlled.retain(|p| util::is_pod_active(p));

        let mut creates: Vec<Pod> = Vec::new();
        let mut deletes: Vec<(String, String)> = Vec::new();
        if !view.deleting && self.expectations.satisfied(key, now) {
            if let Some(template) = &view.template {
                let diff =
                    replicaset_diff(view.replicas, &controlled, self.ctx.config.burst_replicas);
                creates = (0..diff.create)
                    .map(|_| util::pod_from_template(template, &view.namespace, owner_ref.clone()))
                    .collect();
                deletes = diff
                    .delete
                    .iter()
                    .map(|i| {
                        (
                            view.namespace.clone(),
                            controlled[*i].metadata.name.clone().unwrap_or_default(),
                        )
                    })
                    .collect();
                let del_keys = deletes.iter().map(|(ns, n)| util::key(Some(ns), n));
                if !creates.is_empty() || !deletes.is_empty() {
                    self.expectations.expect(key, creates.len(), del_keys, now);
                }
            }
        }
        let failure = self
            .failures
            .get(key)
            .map(|m| ("FailedCreate".to_string(), m.clone()));
        let (status, requeue_after) = replica_status(&view, &controlled, failure, util::now());
        let status_patch =
            (status != view.status).then(|| status_json(&status, &view.conditions, util::now()));
        if creates.is_empty()
            && deletes.is_empty()
            && claim.adopt.is_empty()
            && claim.release.is_empty()
            && status_patch.is_none()
        {
            return sync::later(requeue_after);
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(obj.as_ref());
        let (adopt, release) = (claim.adopt, claim.release);
        let name = view.name.clone();
        let ns = view.namespace.clone();
        Some(Box::pin(async move {
            let mut done = Done::new(requeue_after);
            let patch_failures = actions::set_owner(&ctx, adopt, &owner_ref, true).await
                + actions::set_owner(&ctx, release, &owner_ref, false).await;
            if !creates.is_empty() {
                done.created(actions::create_pods(&ctx, creates, &recorder, &involved).await);
            }
            if !deletes.is_empty() {
                done.deleted(actions::delete_pods(&ctx, deletes, &recorder, &involved).await);
            }
            if let Some(st) = status_patch {
                let api: Api<K> = api_in::<K>(&ctx, &ns);
                done.status_patched(&actions::patch_status(&ctx, &api, &name, st).await);
            }
            // Last, so that a create error is the one ReplicaFailure shows.
            done.fail_if(patch_failures > 0, "failed to adopt or release pods");
            done
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        // The create error is kept for the ReplicaFailure condition until a
        // sync succeeds, which re-syncs once more to clear the condition.
        match &done.error {
            Some(e) if done.skipped_creates > 0 => {
                self.failures.insert(key.to_string(), e.clone());
            }
            Some(_) => {}
            None => {
                if self.failures.remove(key).is_some() {
                    q.add(key);
                }
            }
        }
        done.finish(key, &mut self.expectations, q);
    }
}

/// A namespaced `Api` for any of our namespaced kinds.
pub(crate) fn api_in<K>(ctx: &Ctx, ns: &str) -> Api<K>
where
    K: Cached,
    K::Scope: kube::core::NamespaceScope,
{
    Api::<K>::all(ctx.client.clone()).constrain(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"},
                "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"containers": [], "nodeName": node},
                "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}))
            .unwrap(),
        )
    }

    #[test]
    fn diff_creates_missing_and_deletes_surplus_in_order() {
        let pods = vec![
            pod("ready", Some("n"), "Running", true),
            pod("pending", None, "Pending", false),
            pod("starting", Some("n"), "Running", false),
        ];
        let cases: Vec<(i32, usize, ReplicaDiff)> = vec![
            (3, 500, ReplicaDiff::default()),
            (
                5,
                500,
                ReplicaDiff {
                    create: 2,
                    delete: vec![],
                },
            ),
            (
                1000,
                500,
                ReplicaDiff {
                    create: 500,
                    delete: vec![],
                },
            ),
            (
                2,
                500,
                ReplicaDiff {
                    create: 0,
                    delete: vec![1],
                },
            ),
            (
                0,
                500,
                ReplicaDiff {
                    create: 0,
                    delete: vec![1, 2, 0],
                },
            ),
            (
                0,
                2,
                ReplicaDiff {
                    create: 0,
                    delete: vec![1, 2],
                },
            ),
            (
                -1,
                500,
                ReplicaDiff {
                    create: 0,
                    delete: vec![1, 2, 0],
                },
            ),
        ];
        for (desired, burst, want) in cases {
            assert_eq!(
                replicaset_diff(desired, &pods, burst),
                want,
                "desired {desired} burst {burst}"
            );
        }
    }

    fn view(min_ready: i32) -> ReplicaView {
        let rs: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": 3},
            "spec": {"replicas": 3, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"containers": []}}}}))
        .unwrap();
        rs.view()
    }

    #[test]
    fn status_counts_ready_available_and_labels() {
        let now: Timestamp = "2024-01-01T00:00:05Z".parse().unwrap();
        let mut full = (*pod("full", Some("n"), "Running", true)).clone();
        full.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("tier".into(), "fe".into());
        let pods = vec![
            Arc::new(full),
            pod("ready", Some("n"), "Running", true),
            pod("notready", Some("n"), "Running", false),
        ];
        let (st, wait) = replica_status(&view(0), &pods, None, now);
        assert_eq!(
            st,
            ReplicaStatus {
                replicas: 3,
                fully_labeled_replicas: 1,
                ready_replicas: 2,
                available_replicas: 2,
                observed_generation: 3,
                failure: None
            }
        );
        assert_eq!(wait, None);
        let (st, wait) = replica_status(&view(10), &pods, None, now);
        assert_eq!(st.available_replicas, 0);
        assert_eq!(wait, Some(Duration::from_secs(5)));
    }

    #[test]
    fn status_json_sets_and_clears_failure_condition() {
        let now: Timestamp = "2024-01-01T00:00:05Z".parse().unwrap();
        let st = ReplicaStatus {
            replicas: 1,
            failure: Some(("FailedCreate".into(), "quota".into())),
            ..Default::default()
        };
        let v = status_json(&st, &[], now);
        assert_eq!(v["conditions"][0]["type"], "ReplicaFailure");
        assert_eq!(v["conditions"][0]["reason"], "FailedCreate");
        let cleared = status_json(
            &ReplicaStatus::default(),
            v["conditions"].as_array().unwrap(),
            now,
        );
        assert_eq!(cleared["conditions"], Value::Null);
        assert_eq!(cleared["replicas"], 0);
    }

    #[test]
    fn rc_selector_defaults_to_template_labels() {
        let rc: ReplicationController = serde_json::from_value(json!({"metadata": {"name": "rc", "namespace": "ns", "uid": "u"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}}))
        .unwrap();
        let v = rc.view();
        assert_eq!(v.replicas, 1);
        assert!(v
            .selector
            .matches(&[("app".to_string(), "web".to_string())].into()));
        assert!(!Selector::Label(LabelSelector::default()).matches(&BTreeMap::new()));
    }
}
