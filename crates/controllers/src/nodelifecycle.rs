//! Node lifecycle: a node whose Lease (`kube-node-lease/<node>`) and status
//! heartbeats stop for `--node-monitor-grace-period` gets its kubelet
//! conditions set to Unknown ("Kubelet stopped posting node status."), its
//! pods marked not ready, and the `node.kubernetes.io/unreachable` taints
//! (NoExecute and NoSchedule); taints follow the Ready condition back when
//! the kubelet reports again. The taint manager part deletes pods on
//! NoExecute-tainted nodes once their toleration seconds run out (at once
//! without a matching toleration).

use crate::actions;
use crate::events::{object_ref, EventRecorder};
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Conditions the kubelet owns and the controller marks Unknown.
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

fn condition<'a>(node: &'a Node, t: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
}

pub fn ready_status(node: &Node) -> Option<&str> {
    condition(node, "Ready").map(|c| c.status.as_str())
}

/// The conditions after marking the node Unknown (`tryUpdateNodeHealth`),
/// or `None` when they are already Unknown.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conds = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for t in KUBELET_CONDITIONS {
        match conds.iter_mut().find(|c| c.type_ == *t) {
            Some(c) => {
                if c.status != "Unknown" {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(Time(now));
                    changed = true;
                }
            }
            None => {
                conds.push(NodeCondition {
                    type_: t.to_string(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conds)
}

/// Whether the node missed its heartbeats: no probe within the grace
/// period (the startup grace for nodes that never reported Ready).
pub fn heartbeat_expired(
    node: &Node,
    since_probe: Duration,
    grace: Duration,
    startup_grace: Duration,
) -> bool {
    let g = if condition(node, "Ready").is_some() {
        grace
    } else {
        startup_grace
    };
    since_probe > g
}

fn taint(key: &str, effect: &str, added: Option<Timestamp>) -> Taint {
    Taint {
        key: key.into(),
        value: None,
        effect: effect.into(),
        time_added: added.map(Time),
    }
}

/// Taints the controller manages, from the node's conditions
/// (`doNoExecuteTaintingPass` + `doNoScheduleTaintingPass`).
pub fn wanted_taints(node: &Node) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, e: &str| out.push((k.to_string(), e.to_string()));
    match ready_status(node) {
        Some("False") => {
            add(NOT_READY, "NoExecute");
            add(NOT_READY, "NoSchedule");
        }
        Some("Unknown") => {
            add(UNREACHABLE, "NoExecute");
            add(UNREACHABLE, "NoSchedule");
        }
        _ => {}
    }
    for (cond, key) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        (
            "NetworkUnavailable",
            "node.kubernetes.io/network-unavailable",
        ),
    ] {
        if condition(node, cond).is_some_and(|c| c.status == "True") {
            add(key, "NoSchedule");
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        add("node.kubernetes.io/unschedulable", "NoSchedule");
    }
    out
}

const MANAGED: &[&str] = &[
    NOT_READY,
    UNREACHABLE,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/unschedulable",
];

/// The node's new taint list, or `None` when it is already right. Taints
/// we do not manage are kept; NoExecute taints get `timeAdded`.
pub fn taints_update(node: &Node, now: Timestamp) -> Option<Vec<Taint>> {
    let current = util::node_taints(node);
    let wanted = wanted_taints(node);
    let has = |k: &str, e: &str| current.iter().any(|t| t.key == k && t.effect == e);
    let stale = current.iter().any(|t| {
        MANAGED.contains(&t.key.as_str())
            && !wanted.iter().any(|(k, e)| *k == t.key && *e == t.effect)
    });
    let missing: Vec<&(String, String)> = wanted.iter().filter(|(k, e)| !has(k, e)).collect();
    if !stale && missing.is_empty() {
        return None;
    }
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| {
            !MANAGED.contains(&t.key.as_str())
                || wanted.iter().any(|(k, e)| *k == t.key && *e == t.effect)
        })
        .cloned()
        .collect();
    for (k, e) in missing {
        out.push(taint(k, e, (e == "NoExecute").then_some(now)));
    }
    Some(out)
}

/// When the taint manager evicts a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    Never,
    Now,
    At(Timestamp),
}

/// `processPodOnNode`: a pod not tolerating every NoExecute taint goes now;
/// otherwise after the smallest `tolerationSeconds` of the tolerations used,
/// counted from when the taints were added; without seconds, never.
pub fn eviction(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    let no_exec: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if no_exec.is_empty() {
        return Eviction::Never;
    }
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut min_secs: Option<i64> = None;
    for t in &no_exec {
        let used: Vec<_> = tolerations
            .iter()
            .filter(|x| util::tolerates(x, t))
            .collect();
        if used.is_empty() {
            return Eviction::Now;
        }
        for x in used {
            if let Some(s) = x.toleration_seconds {
                min_secs = Some(min_secs.map_or(s, |m| m.min(s)));
            }
        }
    }
    let Some(secs) = min_secs else {
        return Eviction::Never;
    };
    if secs <= 0 {
        return Eviction::Now;
    }
    let since = no_exec
        .iter()
        .filter_map(|t| t.time_added.as_ref().map(|x| x.0))
        .max()
        .unwrap_or(now);
    let at = util::add_secs(since, secs);
    if at <= now {
        Eviction::Now
    } else {
        Eviction::At(at)
    }
}

/// The pod's conditions with Ready set to False (`MarkPodsNotReady`), or
/// `None` when it is not Ready.
pub fn pod_not_ready_conditions(pod: &Pod, now: Timestamp) -> Option<Vec<serde_json::Value>> {
    let conds = pod.status.as_ref()?.conditions.clone()?;
    if !conds
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
    {
        return None;
    }
    Some(
        conds
            .into_iter()
            .map(|mut c| {
                if c.type_ == "Ready" {
                    c.status = "False".into();
                    c.last_transition_time = Some(Time(now));
                }
                serde_json::to_value(c).unwrap_or_default()
            })
            .collect(),
    )
}

#[derive(Debug, Clone)]
struct Health {
    probe: Instant,
    lease_renew: Option<String>,
    heartbeat: Option<String>,
}

pub enum Msg {
    Node(Change<Node>),
    Lease(Change<Lease>),
    Pod(Change<Pod>),
}

pub struct NodeLifecycle {
    ctx: Ctx,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    health: HashMap<String, Health>,
    /// node -> pod keys on it.
    pods_on: HashMap<String, HashSet<String>>,
    recorder: EventRecorder,
    taint_recorder: EventRecorder,
}

const MONITOR: &str = "monitor";

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let nodes = factory.get::<Node>();
    let pods = factory.get::<Pod>();
    let client = ctx.client.clone();
    let leases = factory.get_with::<Lease>(
        LEASE_NAMESPACE,
        || Api::namespaced(client, LEASE_NAMESPACE),
        watcher::Config::default(),
    );
    let wiring = runtime::Wiring::new();
    runtime::forward(&nodes, &wiring.tx, Msg::Node);
    runtime::forward(&leases, &wiring.tx, Msg::Lease);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    let mut q = WorkQueue::new();
    q.add(MONITOR);
    let r = NodeLifecycle {
        ctx: ctx.clone(),
        nodes,
        pods,
        health: HashMap::new(),
        pods_on: HashMap::new(),
        recorder: ctx.recorder("node-controller"),
        taint_recorder: ctx.recorder("taint-controller"),
    };
    runtime::starter(r, wiring.rx, q)
}

fn heartbeat_of(node: &Node) -> Option<String> {
    condition(node, "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0.to_string())
}

fn no_execute(node: &Node) -> Vec<Taint> {
    util::node_taints(node)
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect()
}

pub enum Done {
    Ok,
    Failed,
    /// Check the pod again at this time.
    RecheckAt(Duration),
}

impl NodeLifecycle {
    fn touch(&mut self, name: &str) -> &mut Health {
        self.health
            .entry(name.to_string())
            .or_insert_with(|| Health {
                probe: Instant::now(),
                lease_renew: None,
                heartbeat: None,
            })
    }

    fn on_node(&mut self, c: Change<Node>, q: &mut WorkQueue) {
        let node = c.object().clone();
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Change::Deleted(_) = c {
            self.health.remove(&name);
            return;
        }
        let hb = heartbeat_of(&node);
        let h = self.touch(&name);
        if h.heartbeat != hb {
            h.heartbeat = hb;
            h.probe = Instant::now();
        }
        q.add(format!("node/{name}"));
        let old_taints = c.old().map(|o| no_execute(o)).unwrap_or_default();
        if old_taints != no_execute(&node) {
            for p in self.pods_on.get(&name).into_iter().flatten() {
                q.add(format!("pod/{p}"));
            }
        }
    }

    fn on_lease(&mut self, c: Change<Lease>) {
        if matches!(c, Change::Deleted(_)) {
            return;
        }
        let lease = c.object();
        let name = lease.metadata.name.clone().unwrap_or_default();
        let renew = lease
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string());
        let h = self.touch(&name);
        if renew.is_some() && h.lease_renew != renew {
            h.lease_renew = renew;
            h.probe = Instant::now();
        }
    }

    fn on_pod(&mut self, c: Change<Pod>, q: &mut WorkQueue) {
        let pod = c.object();
        let key = util::meta_key(&pod.metadata);
        if let Some(old) = c
            .old()
            .and_then(|o| util::pod_node_name(o).map(String::from))
        {
            if let Some(s) = self.pods_on.get_mut(&old) {
                s.remove(&key);
            }
        }
        let Some(node) = util::pod_node_name(pod).map(String::from) else {
            return;
        };
        if matches!(c, Change::Deleted(_)) {
            if let Some(s) = self.pods_on.get_mut(&node) {
                s.remove(&key);
                if s.is_empty() {
                    self.pods_on.remove(&node);
                }
            }
            return;
        }
        self.pods_on
            .entry(node.clone())
            .or_default()
            .insert(key.clone());
        if self
            .nodes
            .get("", &node)
            .is_some_and(|n| !no_execute(&n).is_empty())
        {
            q.add(format!("pod/{key}"));
        }
    }

    fn sync_node(&mut self, name: &str) -> Option<BoxFuture<'static, Done>> {
        let node = self.nodes.get("", name)?;
        let since = self.touch(name).probe.elapsed();
        let cfg = self.ctx.config.clone();
        let now = util::now();
        let expired = heartbeat_expired(
            &node,
            since,
            cfg.node_monitor_grace_period,
            cfg.node_startup_grace_period,
        );
        let mark = expired && unknown_conditions(&node, now).is_some();
        let mut preview = (*node).clone();
        if mark {
            if let (Some(st), Some(c)) = (preview.status.as_mut(), unknown_conditions(&node, now)) {
                st.conditions = Some(c);
            }
        }
        if !mark && taints_update(&preview, now).is_none() {
            return None;
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let name = name.to_string();
        let pods: Vec<Arc<Pod>> = if mark {
            self.pods_on
                .get(&name)
                .into_iter()
                .flatten()
                .filter_map(|k| self.pods.get_key(k))
                .collect()
        } else {
            Vec::new()
        };
        Some(Box::pin(async move {
            let api: Api<Node> = Api::all(ctx.client.clone());
            let Ok(mut fresh) = ctx.call(api.get_status(&name)).await else {
                return Done::Failed;
            };
            let now = util::now();
            if mark {
                if let Some(conds) = unknown_conditions(&fresh, now) {
                    if let Some(st) = fresh.status.as_mut() {
                        st.conditions = Some(conds);
                    }
                    match ctx
                        .call(api.replace_status(&name, &PostParams::default(), &fresh))
                        .await
                    {
                        Ok(n) => fresh = n,
                        Err(_) => return Done::Failed,
                    }
                    recorder.normal(
                        &object_ref(&fresh),
                        "NodeNotReady",
                        &format!("Node {name} status is now: NodeNotReady"),
                    );
                    // MarkPodsNotReady
                    for p in pods {
                        if let Some(conds) = pod_not_ready_conditions(&p, now) {
                            let ns = p.metadata.namespace.clone().unwrap_or_default();
                            let pname = p.metadata.name.clone().unwrap_or_default();
                            let papi: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
                            let patch = json!({"status": {"conditions": conds}});
                            if ctx
                                .call(papi.patch_status(
                                    &pname,
                                    &PatchParams::default(),
                                    &Patch::Merge(patch),
                                ))
                                .await
                                .is_ok()
                            {
                                recorder.warning(
                                    &object_ref(p.as_ref()),
                                    "NodeNotReady",
                                    "Node is not ready",
                                );
                            }
                        }
                    }
                }
            }
            if let Some(taints) = taints_update(&fresh, now) {
                let old = fresh.spec.as_ref().and_then(|s| s.taints.clone());
                let path = actions::object_path::<Node>(None, &name);
                let patch = match (&fresh.spec, &old) {
                    (_, Some(old)) => {
                        json!([{"op": "test", "path": "/spec/taints", "value": old}, {"op": "replace", "path": "/spec/taints", "value": taints}])
                    }
                    (Some(_), None) => {
                        json!([{"op": "add", "path": "/spec/taints", "value": taints}])
                    }
                    // JSON patch cannot add below a missing parent.
                    (None, None) => {
                        json!([{"op": "add", "path": "/spec", "value": {"taints": taints}}])
                    }
                };
                if actions::json_patch(&ctx, &path, &patch).await.is_err() {
                    return Done::Failed;
                }
            }
            Done::Ok
        }))
    }

    fn sync_pod(&mut self, key: &str) -> Option<BoxFuture<'static, Done>> {
        let pod = self.pods.get_key(key)?;
        if util::is_deleting(&pod.metadata) {
            return None;
        }
        let node = self.nodes.get("", util::pod_node_name(&pod)?)?;
        let now = util::now();
        match eviction(&pod, util::node_taints(&node), now) {
            Eviction::Never => None,
            Eviction::At(t) => {
                let d = util::duration_between(now, t);
                Some(Box::pin(async move { Done::RecheckAt(d) }))
            }
            Eviction::Now => {
                let ctx = self.ctx.clone();
                let recorder = self.taint_recorder.clone();
                let (ns, name) = util::split_key(key);
                let (ns, name) = (ns.to_string(), name.to_string());
                Some(Box::pin(async move {
                    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
                    recorder.normal(
                        &object_ref(pod.as_ref()),
                        "TaintManagerEviction",
                        &format!("Marking for deletion Pod {ns}/{name}"),
                    );
                    match ctx.call(api.delete(&name, &DeleteParams::default())).await {
                        Ok(_) => Done::Ok,
                        Err(e) if util::is_not_found(&e) => Done::Ok,
                        Err(_) => Done::Failed,
                    }
                }))
            }
        }
    }
}

impl Reconciler for NodeLifecycle {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Node(c) => self.on_node(c, q),
            Msg::Lease(c) => self.on_lease(c),
            Msg::Pod(c) => self.on_pod(c, q),
        }
    }

    fn sync(&mut self, key: &str, q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        if key == MONITOR {
            for n in self.nodes.list() {
                q.add(format!("node/{}", n.metadata.name.as_deref().unwrap_or("")));
            }
            q.add_after(MONITOR, self.ctx.config.node_monitor_period);
            return None;
        }
        if let Some(name) = key.strip_prefix("node/") {
            return self.sync_node(name);
        }
        if let Some(pod) = key.strip_prefix("pod/") {
            return self.sync_pod(pod);
        }
        None
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        match done {
            Done::Ok => q.forget(key),
            Done::Failed => q.add_rate_limited(key),
            Done::RecheckAt(d) => q.add_after(key, d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn node(conds: Value, taints: Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"taints": taints}, "status": {"conditions": conds}}),
        )
        .unwrap()
    }

    fn ready(status: &str) -> Value {
        json!([{"type": "Ready", "status": status, "reason": "KubeletReady", "lastHeartbeatTime": "2024-01-01T00:00:00Z"},
               {"type": "MemoryPressure", "status": "False"}])
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn missed_heartbeats_mark_conditions_unknown() {
        let n = node(ready("True"), json!([]));
        let g = Duration::from_secs(40);
        let sg = Duration::from_secs(60);
        assert!(!heartbeat_expired(&n, Duration::from_secs(39), g, sg));
        assert!(heartbeat_expired(&n, Duration::from_secs(41), g, sg));
        let never = node(json!([]), json!([]));
        assert!(
            !heartbeat_expired(&never, Duration::from_secs(41), g, sg),
            "startup grace for new nodes"
        );
        let conds = unknown_conditions(&n, at("2024-01-01T00:01:00Z")).unwrap();
        let r = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(
            (r.status.as_str(), r.reason.as_deref(), r.message.as_deref()),
            (
                "Unknown",
                Some("NodeStatusUnknown"),
                Some("Kubelet stopped posting node status.")
            )
        );
        assert_eq!(
            r.last_heartbeat_time.as_ref().unwrap().0,
            at("2024-01-01T00:00:00Z"),
            "heartbeat time kept"
        );
        let d = conds.iter().find(|c| c.type_ == "DiskPressure").unwrap();
        assert_eq!(d.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        let mut marked = n.clone();
        marked.status.as_mut().unwrap().conditions = Some(conds);
        assert!(
            unknown_conditions(&marked, at("2024-01-01T00:02:00Z")).is_none(),
            "idempotent"
        );
    }

    #[test]
    fn taints_follow_ready_condition() {
        let now = at("2024-01-01T00:01:00Z");
        let keys = |t: Option<Vec<Taint>>| {
            t.map(|v| {
                v.into_iter()
                    .map(|t| format!("{}:{}", t.key, t.effect))
                    .collect::<Vec<_>>()
            })
        };
        let cases = [
            (node(ready("True"), json!([])), None),
            (
                node(ready("Unknown"), json!([])),
                Some(vec![
                    format!("{UNREACHABLE}:NoExecute"),
                    format!("{UNREACHABLE}:NoSchedule"),
                ]),
            ),
            (
                node(
                    ready("False"),
                    json!([{"key": "custom", "effect": "NoSchedule"}]),
                ),
                Some(vec![
                    "custom:NoSchedule".to_string(),
                    format!("{NOT_READY}:NoExecute"),
                    format!("{NOT_READY}:NoSchedule"),
                ]),
            ),
            (
                node(
                    ready("True"),
                    json!([{"key": UNREACHABLE, "effect": "NoExecute"}, {"key": "custom", "effect": "NoSchedule"}]),
                ),
                Some(vec!["custom:NoSchedule".to_string()]),
            ),
            (
                node(
                    ready("Unknown"),
                    json!([{"key": UNREACHABLE, "effect": "NoExecute"}, {"key": UNREACHABLE, "effect": "NoSchedule"}]),
                ),
                None,
            ),
        ];
        for (i, (n, want)) in cases.into_iter().enumerate() {
            assert_eq!(keys(taints_update(&n, now)), want, "case {i}");
        }
        let t = taints_update(&node(ready("Unknown"), json!([])), now).unwrap();
        assert_eq!(t[0].time_added.as_ref().map(|x| x.0), Some(now));
        assert!(t[1].time_added.is_none());
    }

    #[test]
    fn eviction_waits_for_toleration_seconds() {
        let now = at("2024-01-01T00:01:00Z");
        let taints: Vec<Taint> = serde_json::from_value(
            json!([{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"},
            {"key": UNREACHABLE, "effect": "NoSchedule"}]),
        )
        .unwrap();
        let pod = |tols: Value| -> Pod {
            serde_json::from_value(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tols}}),
            )
            .unwrap()
        };
        let cases = [
            (json!([]), Eviction::Now),
            (
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
                Eviction::At(at("2024-01-01T00:05:00Z")),
            ),
            (
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]),
                Eviction::Now,
            ),
            (
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]),
                Eviction::Never,
            ),
            (json!([{"operator": "Exists"}]), Eviction::Never),
            (
                json!([{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
                Eviction::Now,
            ),
        ];
        for (i, (tols, want)) in cases.into_iter().enumerate() {
            assert_eq!(eviction(&pod(tols), &taints, now), want, "case {i}");
        }
        assert_eq!(eviction(&pod(json!([])), &[], now), Eviction::Never);
    }

    #[test]
    fn ready_pods_are_marked_not_ready() {
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": [
            {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}}))
            .unwrap();
        let c = pod_not_ready_conditions(&p, at("2024-01-01T00:00:00Z")).unwrap();
        assert_eq!(c[0]["status"], "False");
        assert_eq!(c[1]["status"], "True");
        let np: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})).unwrap();
        assert!(pod_not_ready_conditions(&np, at("2024-01-01T00:00:00Z")).is_none());
    }
}
