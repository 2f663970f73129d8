//! The DaemonSet controller: one pod per eligible node (nodeSelector, node
//! affinity, taints with the DaemonSet default tolerations), pinned to its
//! node with a `matchFields metadata.name` node affinity and left to the
//! scheduler to bind, following nodes as they come and go, with
//! RollingUpdate by `controller-revision-hash`.

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
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    }
}

/// `AddOrUpdateDaemonPodTolerations`: what every DaemonSet pod tolerates.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        toleration("node.kubernetes.io/not-ready", "NoExecute"),
        toleration("node.kubernetes.io/unreachable", "NoExecute"),
        toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(toleration(
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
        ));
    }
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    for t in wanted {
        // Replace a toleration for the same key and effect, else append.
        match list
            .iter_mut()
            .find(|x| x.key == t.key && x.effect == t.effect)
        {
            Some(x) => *x = t,
            None => list.push(t),
        }
    }
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.to_string()]),
        }]),
        match_expressions: None,
    };
    let mut a = affinity.unwrap_or_default();
    let na = a.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![term],
    });
    a
}

/// `GetTargetNodeName`: the pod's node, or the node its affinity pins it to.
pub fn target_node(pod: &Pod) -> Option<String> {
    if let Some(n) = util::pod_node_name(pod) {
        return Some(n.to_string());
    }
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields
            .as_ref()?
            .iter()
            .find(|f| f.key == "metadata.name" && f.operator == "In")
            .and_then(|f| f.values.as_ref()?.first().cloned())
    })
}

/// `NodeShouldRunDaemonPod`: (should run, should continue running).
pub fn node_should_run(node: &Node, template: &PodTemplateSpec) -> (bool, bool) {
    let mut spec = template.spec.clone().unwrap_or_default();
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        if Some(n) != node.metadata.name.as_deref() {
            return (false, false);
        }
    }
    add_daemon_tolerations(&mut spec);
    if !util::pod_fits_node_selectors(&spec, node) {
        return (false, false);
    }
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let taints = util::node_taints(node);
    let fits = taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| util::tolerated_by(&tolerations, t));
    if fits {
        return (true, true);
    }
    let fits_no_execute = taints
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .all(|t| util::tolerated_by(&tolerations, t));
    (false, fits_no_execute)
}

/// What one sync should do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DsPlan {
    /// Nodes that need a daemon pod.
    pub create_on: Vec<String>,
    /// Pod names to delete.
    pub delete: Vec<String>,
    /// Failed pods being deleted (for the FailedDaemonPod event): (pod, node).
    pub failed: Vec<(String, String)>,
}

/// The status counts of a DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DsStatus {
    pub desired_number_scheduled: i32,
    pub current_number_scheduled: i32,
    pub number_misscheduled: i32,
    pub number_ready: i32,
    pub number_available: i32,
    pub updated_number_scheduled: i32,
    pub number_unavailable: i32,
    pub observed_generation: i64,
}

fn pod_hash(p: &Pod) -> Option<&str> {
    p.metadata
        .labels
        .as_ref()?
        .get(util::CONTROLLER_REVISION_HASH_LABEL)
        .map(String::as_str)
}

fn oldest_first(a: &Arc<Pod>, b: &Arc<Pod>) -> std::cmp::Ordering {
    let ct = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ct(a)
        .cmp(&ct(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `manage` + `rollingUpdate` + `updateDaemonSetStatus` for one DaemonSet:
/// `pods` are the pods it controls; `hash` is the current template hash.
pub fn daemonset_plan(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    pods: &[Arc<Pod>],
    hash: &str,
    now: Timestamp,
) -> (DsPlan, DsStatus) {
    let spec = ds.spec.clone().unwrap_or_default();
    let template = spec.template.clone();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    let mut untargeted = Vec::new();
    for p in pods {
        match target_node(p) {
            Some(n) => by_node.entry(n).or_default().push(p.clone()),
            None => untargeted.push(p.clone()),
        }
    }
    let mut plan = DsPlan::default();
    let mut st = DsStatus {
        observed_generation: ds.metadata.generation.unwrap_or(0),
        ..Default::default()
    };
    let node_names: std::collections::HashSet<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    // Per node, the pod that counts as running there (for the rolling update).
    let mut running: Vec<(String, Arc<Pod>)> = Vec::new();
    let mut missing_on = 0;
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let (should_run, should_continue) = node_should_run(node, &template);
        let mut on_node = by_node.remove(&name).unwrap_or_default();
        on_node.sort_by(oldest_first);
        let exists = !on_node.is_empty();
        if should_run {
            st.desired_number_scheduled += 1;
        }
        if should_run && !exists {
            plan.create_on.push(name.clone());
            missing_on += 1;
        } else if should_continue {
            let mut alive = Vec::new();
            for p in &on_node {
                if util::is_deleting(&p.metadata) {
                    continue;
                }
                if util::pod_phase(p) == "Failed" {
                    let pn = p.metadata.name.clone().unwrap_or_default();
                    plan.failed.push((pn.clone(), name.clone()));
                    plan.delete.push(pn);
                    continue;
                }
                alive.push(p.clone());
            }
            // Keep the oldest pod, delete duplicates.
            for extra in alive.iter().skip(1) {
                plan.delete
                    .push(extra.metadata.name.clone().unwrap_or_default());
            }
            if let Some(first) = alive.first() {
                running.push((name.clone(), first.clone()));
            } else if should_run {
                missing_on += 1;
            }
        } else if exists {
            for p in &on_node {
                if !util::is_deleting(&p.metadata) {
                    plan.delete
                        .push(p.metadata.name.clone().unwrap_or_default());
                }
            }
        }
        // Status counts the node's first live pod.
        if should_run {
            if let Some(p) = on_node
                .iter()
                .find(|p| !util::is_deleting(&p.metadata))
                .or(on_node.first())
            {
                st.current_number_scheduled += 1;
                if util::is_pod_ready(p) {
                    st.number_ready += 1;
                    if util::is_pod_available(p, min_ready, now) {
                        st.number_available += 1;
                    }
                }
                if pod_hash(p) == Some(hash) {
                    st.updated_number_scheduled += 1;
                }
            }
        } else if exists {
            st.number_misscheduled += 1;
        }
    }
    // Unscheduled pods whose node is gone (bound ones are the pod GC's).
    for (node, ps) in by_node {
        if !node_names.contains(node.as_str()) {
            for p in ps {
                if util::pod_node_name(&p).is_none() && !util::is_deleting(&p.metadata) {
                    plan.delete
                        .push(p.metadata.name.clone().unwrap_or_default());
                }
            }
        }
    }
    for p in untargeted {
        if !util::is_deleting(&p.metadata) {
            plan.delete
                .push(p.metadata.name.clone().unwrap_or_default());
        }
    }
    st.number_unavailable = (st.desired_number_scheduled - st.number_available).max(0);
    // RollingUpdate (maxSurge 0): replace old pods, unavailable ones first,
    // keeping at most maxUnavailable nodes without an available pod.
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") == "RollingUpdate"
        && plan.create_on.is_empty()
    {
        let max_unavailable = crate::deployment::scaled_value(
            strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.max_unavailable.as_ref())
                .or(Some(&IntOrString::Int(1))),
            st.desired_number_scheduled,
            true,
            0,
        )
        .max(1);
        let mut unavailable = missing_on
            + count(
                running
                    .iter()
                    .filter(|(_, p)| !util::is_pod_available(p, min_ready, now))
                    .count(),
            );
        for (_, p) in &running {
            if pod_hash(p) == Some(hash) {
                continue;
            }
            let name = p.metadata.name.clone().unwrap_or_default();
            if plan.delete.contains(&name) {
                continue;
            }
            if !util::is_pod_available(p, min_ready, now) {
                plan.delete.push(name);
            } else if unavailable < max_unavailable {
                plan.delete.push(name);
                unavailable += 1;
            }
        }
    }
    (plan, st)
}

/// The DaemonSet pod for a node.
pub fn daemon_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let spec = ds.spec.clone().unwrap_or_default();
    let mut template = spec.template.clone();
    let tm = template.metadata.get_or_insert_with(Default::default);
    let labels = tm.labels.get_or_insert_with(Default::default);
    labels.insert(
        util::CONTROLLER_REVISION_HASH_LABEL.into(),
        hash.to_string(),
    );
    labels.insert(
        "pod-template-generation".into(),
        ds.metadata.generation.unwrap_or(0).to_string(),
    );
    let ps = template.spec.get_or_insert_with(Default::default);
    ps.affinity = Some(pin_to_node(ps.affinity.take(), node));
    add_daemon_tolerations(ps);
    let owner = util::controller_owner_ref(
        "apps/v1",
        "DaemonSet",
        ds.metadata.name.as_deref().unwrap_or(""),
        ds.metadata.uid.as_deref().unwrap_or(""),
    );
    util::pod_from_template(
        &template,
        ds.metadata.namespace.as_deref().unwrap_or(""),
        owner,
    )
}

fn status_json(st: &DsStatus, ds: &DaemonSet) -> Value {
    json!({
        "desiredNumberScheduled": st.desired_number_scheduled,
        "currentNumberScheduled": st.current_number_scheduled,
        "numberMisscheduled": st.number_misscheduled,
        "numberReady": st.number_ready,
        "numberAvailable": st.number_available,
        "updatedNumberScheduled": st.updated_number_scheduled,
        "numberUnavailable": st.number_unavailable,
        "observedGeneration": st.observed_generation,
        "collisionCount": ds.status.as_ref().and_then(|s| s.collision_count),
    })
}

fn current_status(ds: &DaemonSet) -> DsStatus {
    let s = ds.status.clone().unwrap_or_default();
    DsStatus {
        desired_number_scheduled: s.desired_number_scheduled,
        current_number_scheduled: s.current_number_scheduled,
        number_misscheduled: s.number_misscheduled,
        number_ready: s.number_ready,
        number_available: s.number_available.unwrap_or(0),
        updated_number_scheduled: s.updated_number_scheduled.unwrap_or(0),
        number_unavailable: s.number_unavailable.unwrap_or(0),
        observed_generation: s.observed_generation.unwrap_or(0),
    }
}

pub enum Msg {
    DaemonSet(Change<DaemonSet>),
    Pod(Change<Pod>),
    Node(Change<Node>),
}

pub struct DaemonSetController {
    ctx: Ctx,
    daemonsets: Arc<Informer<DaemonSet>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    expectations: Expectations,
    recorder: EventRecorder,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let daemonsets = factory.get::<DaemonSet>();
    let pods = factory.get::<Pod>();
    let nodes = factory.get::<Node>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&daemonsets, &wiring.tx, Msg::DaemonSet);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    runtime::forward(&nodes, &wiring.tx, Msg::Node);
    let r = DaemonSetController {
        ctx: ctx.clone(),
        daemonsets,
        pods,
        nodes,
        expectations: Expectations::new(),
        recorder: ctx.recorder("daemonset-controller"),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

/// Node changes that can change where daemons run.
fn node_changed(old: &Node, new: &Node) -> bool {
    let ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
    };
    old.metadata.labels != new.metadata.labels
        || old.spec.as_ref().map(|s| (&s.taints, s.unschedulable))
            != new.spec.as_ref().map(|s| (&s.taints, s.unschedulable))
        || ready(old) != ready(new)
}

fn ds_selector_matches(ds: &DaemonSet, labels: &BTreeMap<String, String>) -> bool {
    ds.spec.as_ref().is_some_and(|s| {
        !util::selector_is_empty(&s.selector) && util::selector_matches(&s.selector, labels)
    })
}

impl DaemonSetController {
    fn owner_key(pod: &Pod) -> Option<String> {
        util::controller_of(&pod.metadata)
            .filter(|r| r.kind == "DaemonSet" && r.api_version == "apps/v1")
            .map(|r| util::key(pod.metadata.namespace.as_deref(), &r.name))
    }

    fn all_keys(&self, q: &mut WorkQueue) {
        for ds in self.daemonsets.list() {
            q.add(util::meta_key(&ds.metadata));
        }
    }
}

impl Reconciler for DaemonSetController {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::DaemonSet(c) => {
                sync::owner_changed(&mut self.expectations, q, &c);
            }
            Msg::Node(c) => match &c {
                Change::Updated { old, new } if !node_changed(old, new) => {}
                _ => self.all_keys(q),
            },
            Msg::Pod(c) => {
                let pod = c.object();
                match Self::owner_key(pod) {
                    Some(k) => {
                        sync::observe_pod(&mut self.expectations, &k, &c);
                        q.add(k);
                    }
                    None if util::controller_of(&pod.metadata).is_none()
                        && !matches!(c, Change::Deleted(_)) =>
                    {
                        let labels = util::labels_of(&pod.metadata);
                        let ns = pod.metadata.namespace.clone().unwrap_or_default();
                        for ds in self.daemonsets.list_namespace(&ns) {
                            if ds_selector_matches(&ds, &labels) {
                                q.add(util::meta_key(&ds.metadata));
                            }
                        }
                    }
                    None => {}
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let ds = self.daemonsets.get_key(key)?;
        let spec = ds.spec.clone().unwrap_or_default();
        if util::selector_is_empty(&spec.selector) {
            return None;
        }
        let ns = ds.metadata.namespace.clone().unwrap_or_default();
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let deleting = util::is_deleting(&ds.metadata);
        let claim = util::claim(self.pods.list_namespace(&ns), &uid, deleting, |l| {
            util::selector_matches(&spec.selector, l)
        });
        let pods: Vec<Arc<Pod>> = claim
            .owned
            .iter()
            .chain(claim.adopt.iter())
            .cloned()
            .collect();
        let nodes = self.nodes.list();
        let collision = ds.status.as_ref().and_then(|s| s.collision_count);
        let hash = util::template_hash(&spec.template, collision);
        let now = util::now();
        let (plan, status) = daemonset_plan(&ds, &nodes, &pods, &hash, now);
        let mut creates = Vec::new();
        let mut deletes = Vec::new();
        if !deleting && self.expectations.satisfied(key, Instant::now()) {
            let burst = self.ctx.config.burst_replicas;
            creates = plan
                .create_on
                .iter()
                .take(burst)
                .map(|n| daemon_pod(&ds, n, &hash))
                .collect::<Vec<_>>();
            deletes = plan
                .delete
                .iter()
                .take(burst)
                .map(|n| (ns.clone(), n.clone()))
                .collect::<Vec<_>>();
            if !creates.is_empty() || !deletes.is_empty() {
                let del_keys = deletes.iter().map(|(ns, n)| util::key(Some(ns), n));
                self.expectations
                    .expect(key, creates.len(), del_keys, Instant::now());
            }
            for (pod, node) in &plan.failed {
                self.recorder.warning(
                    &object_ref(ds.as_ref()),
                    "FailedDaemonPod",
                    &format!(
                        "Found failed daemon pod {ns}/{pod} on node {node}, will try to kill it"
                    ),
                );
            }
        }
        // Re-sync when a ready pod becomes available.
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let requeue_after = pods
            .iter()
            .filter_map(|p| util::until_available(p, min_ready, now))
            .min();
        let status_patch = (status != current_status(&ds)).then(|| status_json(&status, &ds));
        if creates.is_empty()
            && deletes.is_empty()
            && status_patch.is_none()
            && claim.adopt.is_empty()
            && claim.release.is_empty()
        {
            return sync::later(requeue_after);
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(ds.as_ref());
        let name = ds.metadata.name.clone().unwrap_or_default();
        let owner_ref = util::controller_owner_ref("apps/v1", "DaemonSet", &name, &uid);
        let (adopt, release) = (claim.adopt, claim.release);
        Some(Box::pin(async move {
            let mut done = Done::new(requeue_after);
            let patch_failures = actions::set_owner(&ctx, adopt, &owner_ref, true).await
                + actions::set_owner(&ctx, release, &owner_ref, false).await;
            done.fail_if(patch_failures > 0, "failed to adopt or release pods");
            if !creates.is_empty() {
                done.created(actions::create_pods(&ctx, creates, &recorder, &involved).await);
            }
            if !deletes.is_empty() {
                done.deleted(actions::delete_pods(&ctx, deletes, &recorder, &involved).await);
            }
            if let Some(st) = status_patch {
                let api: Api<DaemonSet> = api_in(&ctx, &ns);
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

    fn node(name: &str, labels: Value, taints: Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}),
            )
            .unwrap(),
        )
    }

    fn ds(extra_spec: Value) -> DaemonSet {
        let mut spec = json!({"selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}});
        for (k, v) in extra_spec.as_object().unwrap() {
            if k == "templateSpec" {
                for (k2, v2) in v.as_object().unwrap() {
                    spec["template"]["spec"][k2] = v2.clone();
                }
            } else {
                spec[k] = v.clone();
            }
        }
        serde_json::from_value(json!({"metadata": {"name": "d", "namespace": "ns", "uid": "u", "generation": 1}, "spec": spec})).unwrap()
    }

    fn pod_on(name: &str, node: &str, hash: &str, ready: bool, created: &str) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created,
            "labels": {"app": "d", "controller-revision-hash": hash}},
            "spec": {"containers": [], "nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": created}]}})).unwrap())
    }

    #[test]
    fn eligibility_follows_selectors_and_taints() {
        let t = |taints: Value| node("n", json!({"disk": "ssd"}), taints);
        let cases = [
            (ds(json!({})), t(json!([])), (true, true)),
            (
                ds(json!({"templateSpec": {"nodeSelector": {"disk": "hdd"}}})),
                t(json!([])),
                (false, false),
            ),
            (
                ds(json!({"templateSpec": {"nodeSelector": {"disk": "ssd"}}})),
                t(json!([])),
                (true, true),
            ),
            (
                ds(json!({})),
                t(json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])),
                (false, true),
            ),
            (
                ds(json!({})),
                t(json!([{"key": "dedicated", "value": "x", "effect": "NoExecute"}])),
                (false, false),
            ),
            // Default tolerations: unschedulable, not-ready, unreachable.
            (
                ds(json!({})),
                t(json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])),
                (true, true),
            ),
            (
                ds(json!({})),
                t(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])),
                (true, true),
            ),
            (
                ds(json!({})),
                t(
                    json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                ),
                (false, true),
            ),
            (
                ds(json!({"templateSpec": {"hostNetwork": true}})),
                t(
                    json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                ),
                (true, true),
            ),
            (
                ds(json!({"templateSpec": {"tolerations": [{"operator": "Exists"}]}})),
                t(json!([{"key": "a", "effect": "NoExecute"}])),
                (true, true),
            ),
        ];
        for (i, (d, n, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                node_should_run(&n, &d.spec.unwrap().template),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn plan_creates_missing_deletes_misplaced_and_duplicates() {
        let d = ds(json!({"templateSpec": {"nodeSelector": {"role": "w"}}}));
        let nodes = vec![
            node("a", json!({"role": "w"}), json!([])),
            node("b", json!({"role": "w"}), json!([])),
            node("c", json!({}), json!([])),
        ];
        let pods = vec![
            pod_on("on-b-old", "b", "h", true, "2024-01-01T00:00:00Z"),
            pod_on("on-b-new", "b", "h", true, "2024-01-02T00:00:00Z"),
            pod_on("on-c", "c", "h", true, "2024-01-01T00:00:00Z"),
        ];
        let (plan, st) = daemonset_plan(&d, &nodes, &pods, "h", util::now());
        assert_eq!(plan.create_on, vec!["a".to_string()]);
        let mut del = plan.delete.clone();
        del.sort();
        assert_eq!(del, vec!["on-b-new".to_string(), "on-c".to_string()]);
        assert_eq!(st.desired_number_scheduled, 2);
        assert_eq!(st.current_number_scheduled, 1);
        assert_eq!(st.number_misscheduled, 1);
        assert_eq!(st.number_ready, 1);
        assert_eq!(st.updated_number_scheduled, 1);
        assert_eq!(st.number_unavailable, 1);
    }

    #[test]
    fn failed_pods_and_pods_of_vanished_nodes_are_deleted() {
        let d = ds(json!({}));
        let nodes = vec![node("a", json!({}), json!([]))];
        let mut failed = (*pod_on("failed", "a", "h", false, "2024-01-01T00:00:00Z")).clone();
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        let mut unbound = daemon_pod(&d, "gone", "h");
        unbound.metadata.name = Some("pinned-to-gone".into());
        let pods = vec![
            Arc::new(failed),
            Arc::new(unbound),
            pod_on("bound-to-gone", "gone", "h", true, "2024-01-01T00:00:00Z"),
        ];
        let (plan, _) = daemonset_plan(&d, &nodes, &pods, "h", util::now());
        let mut del = plan.delete.clone();
        del.sort();
        assert_eq!(
            del,
            vec!["failed".to_string(), "pinned-to-gone".to_string()]
        );
        assert_eq!(plan.failed, vec![("failed".to_string(), "a".to_string())]);
    }

    #[test]
    fn rolling_update_replaces_one_available_pod_at_a_time() {
        let d = ds(json!({}));
        let nodes = vec![
            node("a", json!({}), json!([])),
            node("b", json!({}), json!([])),
            node("c", json!({}), json!([])),
        ];
        let pods = vec![
            pod_on("pa", "a", "old", true, "2024-01-01T00:00:00Z"),
            pod_on("pb", "b", "old", true, "2024-01-01T00:00:00Z"),
            pod_on("pc", "c", "old", false, "2024-01-01T00:00:00Z"),
        ];
        let (plan, _) = daemonset_plan(&d, &nodes, &pods, "new", util::now());
        // The unavailable old pod goes at once; no budget left for available ones.
        assert_eq!(plan.delete, vec!["pc".to_string()]);
        let pods = vec![
            pod_on("pa", "a", "old", true, "2024-01-01T00:00:00Z"),
            pod_on("pb", "b", "new", true, "2024-01-01T00:00:00Z"),
        ];
        let (plan, _) = daemonset_plan(&d, &nodes[..2], &pods, "new", util::now());
        assert_eq!(plan.delete, vec!["pa".to_string()]);
    }

    #[test]
    fn daemon_pods_are_pinned_and_tolerant() {
        let d = ds(json!({}));
        let p = daemon_pod(&d, "node-7", "h1");
        assert_eq!(target_node(&p).as_deref(), Some("node-7"));
        assert!(p.spec.as_ref().unwrap().node_name.is_none());
        let tols = p.spec.as_ref().unwrap().tolerations.clone().unwrap();
        assert!(tols.iter().any(
            |t| t.key.as_deref() == Some("node.kubernetes.io/unreachable")
                && t.effect.as_deref() == Some("NoExecute")
        ));
        assert_eq!(
            p.metadata.labels.as_ref().unwrap()["controller-revision-hash"],
            "h1"
        );
        assert_eq!(p.metadata.generate_name.as_deref(), Some("d-"));
        assert_eq!(
            p.metadata.owner_references.as_ref().unwrap()[0].kind,
            "DaemonSet"
        );
    }
}
