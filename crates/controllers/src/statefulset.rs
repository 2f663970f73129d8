//! The StatefulSet controller: pods `<name>-0 .. <name>-(n-1)` with stable
//! identity (hostname, subdomain, `statefulset.kubernetes.io/pod-name`),
//! created in order and each only after its predecessor is Running and
//! Ready (OrderedReady) or all at once (Parallel), removed highest ordinal
//! first, and rolled out highest ordinal first down to the partition.

use crate::actions;
use crate::events::{object_ref, EventRecorder};
use crate::expectations::Expectations;
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::replicaset::{api_in, count};
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::{self, Done};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The ordinal of a pod of set `set`: `web-3` -> 3.
pub fn ordinal(set: &str, pod_name: &str) -> Option<usize> {
    let rest = pod_name.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok()
}

/// The revision name (`<set>-<hash>`) of the set's current template.
pub fn update_revision(sts: &StatefulSet) -> String {
    let spec = sts.spec.clone().unwrap_or_default();
    let collision = sts.status.as_ref().and_then(|s| s.collision_count);
    format!(
        "{}-{}",
        sts.metadata.name.as_deref().unwrap_or(""),
        util::template_hash(&spec.template, collision)
    )
}

fn revision_of(p: &Pod) -> Option<&str> {
    p.metadata
        .labels
        .as_ref()?
        .get(util::CONTROLLER_REVISION_HASH_LABEL)
        .map(String::as_str)
}

fn healthy(p: &Pod, min_ready: i32, now: Timestamp) -> bool {
    !util::is_deleting(&p.metadata)
        && util::pod_phase(p) == "Running"
        && util::is_pod_available(p, min_ready, now)
}

/// One sync's actions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StsPlan {
    /// Ordinals to create.
    pub create: Vec<usize>,
    /// Pod names to delete.
    pub delete: Vec<String>,
}

/// The status counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StsStatus {
    pub observed_generation: i64,
    pub replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub current_replicas: i32,
    pub updated_replicas: i32,
    pub current_revision: String,
    pub update_revision: String,
}

/// `updateStatefulSet`: what to do now, given the pods the set controls.
pub fn statefulset_plan(
    sts: &StatefulSet,
    pods: &[Arc<Pod>],
    update_rev: &str,
    now: Timestamp,
) -> (StsPlan, StsStatus) {
    let spec = sts.spec.clone().unwrap_or_default();
    let set = sts.metadata.name.clone().unwrap_or_default();
    let replicas = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");
    let mut slots: Vec<Option<Arc<Pod>>> = vec![None; replicas];
    let mut condemned: BTreeMap<usize, Arc<Pod>> = BTreeMap::new();
    for p in pods {
        let Some(i) = p.metadata.name.as_deref().and_then(|n| ordinal(&set, n)) else {
            continue;
        };
        if i < replicas {
            slots[i] = Some(p.clone());
        } else {
            condemned.insert(i, p.clone());
        }
    }
    // Status over every pod we have.
    let old = sts.status.clone().unwrap_or_default();
    let mut st = StsStatus {
        observed_generation: sts.metadata.generation.unwrap_or(0),
        update_revision: update_rev.to_string(),
        current_revision: old
            .current_revision
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| update_rev.to_string()),
        ..Default::default()
    };
    for p in slots.iter().flatten().chain(condemned.values()) {
        st.replicas += 1;
        if util::is_pod_ready(p) && util::pod_phase(p) == "Running" {
            st.ready_replicas += 1;
            if util::is_pod_available(p, min_ready, now) {
                st.available_replicas += 1;
            }
        }
        if !util::is_deleting(&p.metadata) {
            if revision_of(p) == Some(st.current_revision.as_str()) {
                st.current_replicas += 1;
            }
            if revision_of(p) == Some(update_rev) {
                st.updated_replicas += 1;
            }
        }
    }
    if st.updated_replicas == count(replicas) && st.replicas == count(replicas) {
        st.current_revision = update_rev.to_string();
        st.current_replicas = st.updated_replicas;
    }

    let mut plan = StsPlan::default();
    if util::is_deleting(&sts.metadata) {
        return (plan, st);
    }
    let first_unhealthy: Option<String> = slots
        .iter()
        .flatten()
        .chain(condemned.values())
        .find(|p| !healthy(p, min_ready, now))
        .and_then(|p| p.metadata.name.clone());
    for (i, slot) in slots.iter().enumerate() {
        match slot {
            None => {
                plan.create.push(i);
                if monotonic {
                    return (plan, st);
                }
            }
            Some(p) if util::pod_phase(p) == "Failed" && !util::is_deleting(&p.metadata) => {
                // Deleted now, recreated once it is gone.
                plan.delete
                    .push(p.metadata.name.clone().unwrap_or_default());
                if monotonic {
                    return (plan, st);
                }
            }
            Some(p) => {
                if monotonic && !healthy(p, min_ready, now) {
                    return (plan, st);
                }
            }
        }
    }
    // Scale down, highest ordinal first.
    for p in condemned.values().rev() {
        if util::is_deleting(&p.metadata) {
            if monotonic {
                return (plan, st);
            }
            continue;
        }
        if monotonic && !healthy(p, min_ready, now) && p.metadata.name != first_unhealthy {
            return (plan, st);
        }
        plan.delete
            .push(p.metadata.name.clone().unwrap_or_default());
        if monotonic {
            return (plan, st);
        }
    }
    if !plan.create.is_empty() || !plan.delete.is_empty() {
        return (plan, st);
    }
    // RollingUpdate: replace old revisions from the top down to the partition.
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") == "RollingUpdate" {
        let partition = strategy
            .rolling_update
            .and_then(|r| r.partition)
            .unwrap_or(0)
            .max(0);
        let partition = usize::try_from(partition).unwrap_or(0);
        for i in (partition..replicas).rev() {
            let Some(p) = &slots[i] else { continue };
            if revision_of(p) != Some(update_rev) && !util::is_deleting(&p.metadata) {
                plan.delete
                    .push(p.metadata.name.clone().unwrap_or_default());
                return (plan, st);
            }
            if !healthy(p, min_ready, now) {
                return (plan, st);
            }
        }
    }
    (plan, st)
}

/// The pod for ordinal `i`.
pub fn stateful_pod(sts: &StatefulSet, i: usize, revision: &str) -> Pod {
    let spec = sts.spec.clone().unwrap_or_default();
    let set = sts.metadata.name.clone().unwrap_or_default();
    let name = format!("{set}-{i}");
    let owner = util::controller_owner_ref(
        "apps/v1",
        "StatefulSet",
        &set,
        sts.metadata.uid.as_deref().unwrap_or(""),
    );
    let mut pod = util::pod_from_template(
        &spec.template,
        sts.metadata.namespace.as_deref().unwrap_or(""),
        owner,
    );
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.clone());
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), i.to_string());
    labels.insert(
        util::CONTROLLER_REVISION_HASH_LABEL.into(),
        revision.to_string(),
    );
    let ps = pod.spec.get_or_insert_with(Default::default);
    ps.hostname = Some(name);
    if !spec.service_name.as_deref().unwrap_or("").is_empty() {
        ps.subdomain = spec.service_name.clone();
    }
    pod
}

fn status_json(st: &StsStatus, sts: &StatefulSet) -> Value {
    json!({
        "observedGeneration": st.observed_generation,
        "replicas": st.replicas,
        "readyReplicas": st.ready_replicas,
        "availableReplicas": st.available_replicas,
        "currentReplicas": st.current_replicas,
        "updatedReplicas": st.updated_replicas,
        "currentRevision": st.current_revision,
        "updateRevision": st.update_revision,
        "collisionCount": sts.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0),
    })
}

fn current_status(sts: &StatefulSet) -> StsStatus {
    let s = sts.status.clone().unwrap_or_default();
    StsStatus {
        observed_generation: s.observed_generation.unwrap_or(0),
        replicas: s.replicas,
        ready_replicas: s.ready_replicas.unwrap_or(0),
        available_replicas: s.available_replicas.unwrap_or(0),
        current_replicas: s.current_replicas.unwrap_or(0),
        updated_replicas: s.updated_replicas.unwrap_or(0),
        current_revision: s.current_revision.unwrap_or_default(),
        update_revision: s.update_revision.unwrap_or_default(),
    }
}

pub enum Msg {
    Set(Change<StatefulSet>),
    Pod(Change<Pod>),
}

pub struct StatefulSetController {
    ctx: Ctx,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    expectations: Expectations,
    recorder: EventRecorder,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let sets = factory.get::<StatefulSet>();
    let pods = factory.get::<Pod>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&sets, &wiring.tx, Msg::Set);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    let r = StatefulSetController {
        ctx: ctx.clone(),
        sets,
        pods,
        expectations: Expectations::new(),
        recorder: ctx.recorder("statefulset-controller"),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

impl Reconciler for StatefulSetController {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Set(c) => {
                sync::owner_changed(&mut self.expectations, q, &c);
            }
            Msg::Pod(c) => {
                let pod = c.object();
                let Some(r) = util::controller_of(&pod.metadata)
                    .filter(|r| r.kind == "StatefulSet" && r.api_version == "apps/v1")
                else {
                    // Orphans: any set in the namespace may adopt them.
                    if util::controller_of(&pod.metadata).is_none()
                        && !matches!(c, Change::Deleted(_))
                    {
                        let ns = pod.metadata.namespace.clone().unwrap_or_default();
                        let labels = util::labels_of(&pod.metadata);
                        for s in self.sets.list_namespace(&ns) {
                            if s.spec.as_ref().is_some_and(|sp| {
                                !util::selector_is_empty(&sp.selector)
                                    && util::selector_matches(&sp.selector, &labels)
                            }) {
                                q.add(util::meta_key(&s.metadata));
                            }
                        }
                    }
                    return;
                };
                let k = util::key(pod.metadata.namespace.as_deref(), &r.name);
                sync::observe_pod(&mut self.expectations, &k, &c);
                q.add(k);
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let sts = self.sets.get_key(key)?;
        let spec = sts.spec.clone().unwrap_or_default();
        if util::selector_is_empty(&spec.selector) {
            return None;
        }
        let ns = sts.metadata.namespace.clone().unwrap_or_default();
        let uid = sts.metadata.uid.clone().unwrap_or_default();
        let name = sts.metadata.name.clone().unwrap_or_default();
        let deleting = util::is_deleting(&sts.metadata);
        let claim = util::claim(self.pods.list_namespace(&ns), &uid, deleting, |l| {
            util::selector_matches(&spec.selector, l)
        });
        // Only pods with this set's name pattern can be its pods.
        let adopt: Vec<Arc<Pod>> = claim
            .adopt
            .into_iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .and_then(|n| ordinal(&name, n))
                    .is_some()
            })
            .collect();
        let pods: Vec<Arc<Pod>> = claim.owned.iter().chain(adopt.iter()).cloned().collect();
        let rev = update_revision(&sts);
        let now = util::now();
        let (plan, status) = statefulset_plan(&sts, &pods, &rev, now);
        let satisfied = self.expectations.satisfied(key, Instant::now());
        let (creates, deletes) = if satisfied {
            let creates: Vec<Pod> = plan
                .create
                .iter()
                .take(self.ctx.config.burst_replicas)
                .map(|i| stateful_pod(&sts, *i, &rev))
                .collect();
            let deletes: Vec<(String, String)> = plan
                .delete
                .iter()
                .map(|n| (ns.clone(), n.clone()))
                .collect();
            if !creates.is_empty() || !deletes.is_empty() {
                self.expectations.expect(
                    key,
                    creates.len(),
                    deletes.iter().map(|(ns, n)| util::key(Some(ns), n)),
                    Instant::now(),
                );
            }
            (creates, deletes)
        } else {
            (Vec::new(), Vec::new())
        };
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let requeue_after = pods
            .iter()
            .filter_map(|p| util::until_available(p, min_ready, now))
            .min();
        let status_patch = (status != current_status(&sts)).then(|| status_json(&status, &sts));
        if creates.is_empty()
            && deletes.is_empty()
            && status_patch.is_none()
            && adopt.is_empty()
            && claim.release.is_empty()
        {
            return sync::later(requeue_after);
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(sts.as_ref());
        let owner_ref = util::controller_owner_ref("apps/v1", "StatefulSet", &name, &uid);
        let release = claim.release;
        Some(Box::pin(async move {
            let mut done = Done::new(requeue_after);
            let patch_failures = actions::set_owner(&ctx, adopt, &owner_ref, true).await
                + actions::set_owner(&ctx, release, &owner_ref, false).await;
            done.fail_if(patch_failures > 0, "failed to adopt or release pods");
            if !creates.is_empty() {
                let created = actions::create_pods_with(&ctx, creates, |pod, r| {
                    let pod = pod.metadata.name.as_deref().unwrap_or("");
                    match r {
                        Ok(_) => recorder.normal(
                            &involved,
                            "SuccessfulCreate",
                            &format!("create Pod {pod} in StatefulSet {name} successful"),
                        ),
                        Err(e) => recorder.warning(
                            &involved,
                            "FailedCreate",
                            &format!("create Pod {pod} in StatefulSet {name} failed error: {e}"),
                        ),
                    }
                })
                .await;
                done.created(created);
            }
            if !deletes.is_empty() {
                let results = futures::future::join_all(deletes.into_iter().map(|(ns, pod)| {
                    let ctx = ctx.clone();
                    async move {
                        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
                        let r = ctx.call(api.delete(&pod, &Default::default())).await;
                        (util::key(Some(&ns), &pod), pod, r)
                    }
                }))
                .await;
                let mut failed = Vec::new();
                for (k, pod, r) in results {
                    match r {
                        Ok(_) => recorder.normal(
                            &involved,
                            "SuccessfulDelete",
                            &format!("delete Pod {pod} in StatefulSet {name} successful"),
                        ),
                        Err(e) if util::is_not_found(&e) => {}
                        Err(e) => {
                            recorder.warning(
                                &involved,
                                "FailedDelete",
                                &format!(
                                    "delete Pod {pod} in StatefulSet {name} failed error: {}",
                                    actions::api_message(&e)
                                ),
                            );
                            failed.push(k);
                        }
                    }
                }
                done.deleted(failed);
            }
            if let Some(st) = status_patch {
                let api: Api<StatefulSet> = api_in(&ctx, &ns);
                done.status_patched(&actions::patch_status(&ctx, &api, &name, st).await);
            }
            done
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        done.finish(key, &mut self.expectations, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(replicas: i32, policy: &str, partition: i32) -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": 1},
            "spec": {"replicas": replicas, "serviceName": "web", "podManagementPolicy": policy,
                "selector": {"matchLabels": {"app": "web"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
        .unwrap()
    }

    fn pod(i: usize, phase: &str, ready: bool, rev: &str) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": format!("web-{i}"), "namespace": "ns",
            "labels": {"app": "web", "controller-revision-hash": rev}},
            "spec": {"containers": []},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": "2024-01-01T00:00:00Z"}]}})).unwrap())
    }

    fn run(s: &StatefulSet, pods: &[Arc<Pod>]) -> StsPlan {
        statefulset_plan(s, pods, "r2", util::now()).0
    }

    #[test]
    fn ordinals_parse_strictly() {
        let cases = [
            ("web-0", Some(0)),
            ("web-12", Some(12)),
            ("web-01", None),
            ("web-", None),
            ("webx-1", None),
            ("web-a", None),
            ("web-1-2", None),
        ];
        for (n, want) in cases {
            assert_eq!(ordinal("web", n), want, "{n}");
        }
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        let s = sts(3, "OrderedReady", 0);
        let cases: Vec<(Vec<Arc<Pod>>, StsPlan)> = vec![
            (
                vec![],
                StsPlan {
                    create: vec![0],
                    delete: vec![],
                },
            ),
            (vec![pod(0, "Pending", false, "r2")], StsPlan::default()),
            (vec![pod(0, "Running", false, "r2")], StsPlan::default()),
            (
                vec![pod(0, "Running", true, "r2")],
                StsPlan {
                    create: vec![1],
                    delete: vec![],
                },
            ),
            (
                vec![pod(0, "Running", true, "r2"), pod(1, "Running", true, "r2")],
                StsPlan {
                    create: vec![2],
                    delete: vec![],
                },
            ),
            (
                vec![pod(0, "Failed", false, "r2")],
                StsPlan {
                    create: vec![],
                    delete: vec!["web-0".into()],
                },
            ),
        ];
        for (i, (pods, want)) in cases.into_iter().enumerate() {
            assert_eq!(run(&s, &pods), want, "case {i}");
        }
    }

    #[test]
    fn parallel_creates_and_deletes_everything_at_once() {
        let s = sts(3, "Parallel", 0);
        assert_eq!(
            run(&s, &[]),
            StsPlan {
                create: vec![0, 1, 2],
                delete: vec![]
            }
        );
        let s1 = sts(1, "Parallel", 0);
        let pods = vec![
            pod(0, "Running", true, "r2"),
            pod(1, "Pending", false, "r2"),
            pod(2, "Running", true, "r2"),
        ];
        assert_eq!(
            run(&s1, &pods),
            StsPlan {
                create: vec![],
                delete: vec!["web-2".into(), "web-1".into()]
            }
        );
    }

    #[test]
    fn scale_down_removes_the_highest_ordinal_first() {
        let s = sts(1, "OrderedReady", 0);
        let pods = vec![
            pod(0, "Running", true, "r2"),
            pod(1, "Running", true, "r2"),
            pod(2, "Running", true, "r2"),
        ];
        assert_eq!(
            run(&s, &pods),
            StsPlan {
                create: vec![],
                delete: vec!["web-2".into()]
            }
        );
        // Waits for the terminating one.
        let mut terminating = (*pod(2, "Running", true, "r2")).clone();
        terminating.metadata.deletion_timestamp = Some(util::now_time());
        let pods = vec![
            pod(0, "Running", true, "r2"),
            pod(1, "Running", true, "r2"),
            Arc::new(terminating),
        ];
        assert_eq!(run(&s, &pods), StsPlan::default());
    }

    #[test]
    fn rolling_update_goes_top_down_to_the_partition() {
        let s = sts(3, "OrderedReady", 1);
        let pods = vec![
            pod(0, "Running", true, "r1"),
            pod(1, "Running", true, "r1"),
            pod(2, "Running", true, "r1"),
        ];
        assert_eq!(
            run(&s, &pods),
            StsPlan {
                create: vec![],
                delete: vec!["web-2".into()]
            }
        );
        let pods = vec![
            pod(0, "Running", true, "r1"),
            pod(1, "Running", true, "r1"),
            pod(2, "Running", true, "r2"),
        ];
        assert_eq!(
            run(&s, &pods),
            StsPlan {
                create: vec![],
                delete: vec!["web-1".into()]
            }
        );
        let pods = vec![
            pod(0, "Running", true, "r1"),
            pod(1, "Running", true, "r2"),
            pod(2, "Running", true, "r2"),
        ];
        assert_eq!(
            run(&s, &pods),
            StsPlan::default(),
            "partition 1 keeps web-0"
        );
    }

    #[test]
    fn status_counts_revisions() {
        let s = sts(2, "OrderedReady", 0);
        let pods = vec![
            pod(0, "Running", true, "r2"),
            pod(1, "Running", false, "r2"),
        ];
        let (_, st) = statefulset_plan(&s, &pods, "r2", util::now());
        assert_eq!(
            (
                st.replicas,
                st.ready_replicas,
                st.updated_replicas,
                st.current_replicas
            ),
            (2, 1, 2, 2)
        );
        assert_eq!(st.current_revision, "r2");
    }

    #[test]
    fn stateful_pods_have_identity() {
        let p = stateful_pod(&sts(3, "OrderedReady", 0), 2, "web-abc");
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let l = p.metadata.labels.unwrap();
        assert_eq!(l[POD_NAME_LABEL], "web-2");
        assert_eq!(l["controller-revision-hash"], "web-abc");
    }
}
