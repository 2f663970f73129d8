//! The filters of the default profile that apply to kubemark pods, in the
//! real order: NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
//! NodeResourcesFit. The first failing filter decides a node's status.
//!
//! Failures are small `Copy` values so that rejecting a node costs no
//! allocation; the reason strings are produced only for messages.

use crate::cache::NodeInfo;
use crate::model::{tolerations_tolerate, NodeView, PodInfo, Taint, TaintEffect, Toleration};

/// A filter plugin (for the failure diagnosis and requeue decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plugin {
    NodeUnschedulable,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
}

impl Plugin {
    pub const ALL: [Plugin; 5] = [
        Plugin::NodeUnschedulable,
        Plugin::TaintToleration,
        Plugin::NodeAffinity,
        Plugin::NodePorts,
        Plugin::NodeResourcesFit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of plugins (the ones that rejected a pod somewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PluginSet(u8);

impl PluginSet {
    pub fn insert(&mut self, p: Plugin) {
        self.0 |= p.bit();
    }

    pub fn contains(self, p: Plugin) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Plugin> {
        Plugin::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

/// Framework status codes of a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Removing pods (preemption) might help.
    Unschedulable,
    /// Preemption cannot help.
    UnschedulableAndUnresolvable,
}

/// Which resources a node lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insufficient {
    pub pods: bool,
    pub cpu: bool,
    pub memory: bool,
    pub ephemeral_storage: bool,
    /// Some scalar resource; the names are recomputed for messages.
    pub scalar: bool,
}

impl Insufficient {
    pub fn any(&self) -> bool {
        self.pods || self.cpu || self.memory || self.ephemeral_storage || self.scalar
    }
}

/// Why one node was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterFailure {
    NodeUnschedulable,
    /// Index into the node's taints.
    UntoleratedTaint(usize),
    NodeAffinity,
    HostPorts,
    Resources(Insufficient),
}

pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";

impl FilterFailure {
    pub fn plugin(&self) -> Plugin {
        match self {
            FilterFailure::NodeUnschedulable => Plugin::NodeUnschedulable,
            FilterFailure::UntoleratedTaint(_) => Plugin::TaintToleration,
            FilterFailure::NodeAffinity => Plugin::NodeAffinity,
            FilterFailure::HostPorts => Plugin::NodePorts,
            FilterFailure::Resources(_) => Plugin::NodeResourcesFit,
        }
    }

    pub fn code(&self) -> Code {
        match self {
            FilterFailure::HostPorts | FilterFailure::Resources(_) => Code::Unschedulable,
            _ => Code::UnschedulableAndUnresolvable,
        }
    }

    /// The real reason strings (one per insufficient resource).
    pub fn reasons(&self, pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
        match self {
            FilterFailure::NodeUnschedulable => vec![ERR_REASON_UNSCHEDULABLE.to_string()],
            FilterFailure::UntoleratedTaint(i) => {
                let taint = node.node.as_ref().and_then(|v| v.taints.get(*i));
                let (k, v) = taint
                    .map(|t| (t.key.as_str(), t.value.as_str()))
                    .unwrap_or(("", ""));
                // The v1.24 wording (v1.25 changed it to "had untolerated taint").
                vec![format!(
                    "node(s) had taint {{{k}: {v}}}, that the pod didn't tolerate"
                )]
            }
            FilterFailure::NodeAffinity => vec![ERR_REASON_AFFINITY.to_string()],
            FilterFailure::HostPorts => vec![ERR_REASON_PORTS.to_string()],
            FilterFailure::Resources(ins) => {
                let mut out = Vec::new();
                if ins.pods {
                    out.push("Too many pods".to_string());
                }
                if ins.cpu {
                    out.push("Insufficient cpu".to_string());
                }
                if ins.memory {
                    out.push("Insufficient memory".to_string());
                }
                if ins.ephemeral_storage {
                    out.push("Insufficient ephemeral-storage".to_string());
                }
                if ins.scalar {
                    if let Some(view) = &node.node {
                        for (name, q) in &pod.spec.requests.scalar {
                            if *q
                                > view
                                    .allocatable
                                    .scalar(name)
                                    .saturating_sub(node.requested.scalar(name))
                            {
                                out.push(format!("Insufficient {name}"));
                            }
                        }
                    }
                }
                out
            }
        }
    }
}

/// Runs the filters in order; the first failure wins.
#[inline]
pub fn run_filters(pod: &PodInfo, node: &NodeInfo, view: &NodeView) -> Result<(), FilterFailure> {
    node_unschedulable(pod, view)?;
    taint_toleration(pod, view)?;
    node_affinity(pod, view)?;
    node_ports(pod, node)?;
    let ins = insufficient_resources(pod, node, view);
    if ins.any() {
        return Err(FilterFailure::Resources(ins));
    }
    Ok(())
}

const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

/// NodeUnschedulable: `spec.unschedulable` unless the pod tolerates the
/// `node.kubernetes.io/unschedulable:NoSchedule` taint.
pub fn node_unschedulable(pod: &PodInfo, view: &NodeView) -> Result<(), FilterFailure> {
    if !view.unschedulable {
        return Ok(());
    }
    let taint = Taint::new(UNSCHEDULABLE_TAINT_KEY, "", TaintEffect::NoSchedule);
    if tolerations_tolerate(&pod.spec.tolerations, &taint) {
        Ok(())
    } else {
        Err(FilterFailure::NodeUnschedulable)
    }
}

/// The first taint with an effect `filter` selects that no toleration
/// tolerates (`FindMatchingUntoleratedTaint`).
pub fn find_untolerated_taint(
    taints: &[Taint],
    tolerations: &[Toleration],
    filter: impl Fn(TaintEffect) -> bool,
) -> Option<usize> {
    taints
        .iter()
        .position(|t| filter(t.effect) && !tolerations_tolerate(tolerations, t))
}

/// TaintToleration: NoSchedule and NoExecute taints must be tolerated;
/// PreferNoSchedule only affects scoring.
pub fn taint_toleration(pod: &PodInfo, view: &NodeView) -> Result<(), FilterFailure> {
    if view.taints.is_empty() {
        return Ok(());
    }
    match find_untolerated_taint(&view.taints, &pod.spec.tolerations, |e| {
        matches!(e, TaintEffect::NoSchedule | TaintEffect::NoExecute)
    }) {
        Some(i) => Err(FilterFailure::UntoleratedTaint(i)),
        None => Ok(()),
    }
}

/// NodeAffinity: `nodeSelector` labels and required node affinity terms.
pub fn node_affinity(pod: &PodInfo, view: &NodeView) -> Result<(), FilterFailure> {
    if node_affinity_matches(pod, view) {
        Ok(())
    } else {
        Err(FilterFailure::NodeAffinity)
    }
}

pub fn node_affinity_matches(pod: &PodInfo, view: &NodeView) -> bool {
    let s = &pod.spec;
    for (k, v) in &s.node_selector {
        if view.labels.get(k) != Some(v) {
            return false;
        }
    }
    match &s.required_affinity {
        Some(sel) => sel.matches(&view.name, &view.labels),
        None => true,
    }
}

/// NodePorts: no wanted host port may conflict with one in use.
pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Result<(), FilterFailure> {
    let wanted = &pod.spec.host_ports;
    if wanted.is_empty() || node.used_ports.is_empty() {
        return Ok(());
    }
    if wanted
        .iter()
        .any(|w| node.used_ports.iter().any(|u| u.conflicts(w)))
    {
        return Err(FilterFailure::HostPorts);
    }
    Ok(())
}

/// NodeResourcesFit (`fitsRequest`): pod count, then cpu, memory,
/// ephemeral storage and scalar resources against allocatable minus the
/// requests of the pods already there.
#[inline]
pub fn insufficient_resources(pod: &PodInfo, node: &NodeInfo, view: &NodeView) -> Insufficient {
    let req = &pod.spec.requests;
    let alloc = &view.allocatable;
    let used = &node.requested;
    let mut ins = Insufficient {
        pods: node.pods.len() as i64 + 1 > alloc.allowed_pods,
        ..Insufficient::default()
    };
    if req.is_empty_request() {
        return ins;
    }
    ins.cpu = req.milli_cpu > alloc.milli_cpu.saturating_sub(used.milli_cpu);
    ins.memory = req.memory > alloc.memory.saturating_sub(used.memory);
    ins.ephemeral_storage = req.ephemeral_storage
        > alloc
            .ephemeral_storage
            .saturating_sub(used.ephemeral_storage);
    ins.scalar = req
        .scalar
        .iter()
        .any(|(name, q)| *q > alloc.scalar(name).saturating_sub(used.scalar(name)));
    ins
}

/// `preCheckForNode`: can a node add/update make this unschedulable pod fit?
/// (resources, affinity, ports and NoSchedule taints; ignores preemption).
pub fn pre_check_for_node(pod: &PodInfo, node: &NodeInfo) -> bool {
    let Some(view) = &node.node else { return false };
    !insufficient_resources(pod, node, view).any()
        && node_affinity_matches(pod, view)
        && node_ports(pod, node).is_ok()
        && find_untolerated_taint(&view.taints, &pod.spec.tolerations, |e| {
            e == TaintEffect::NoSchedule
        })
        .is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::{json, Value};
    use std::sync::Arc;

    fn node_info(node_patch: Value, pods: &[Value]) -> NodeInfo {
        let view = node_from(merge(node_json("n1", "2", "4Gi", "3"), node_patch));
        let mut ni = NodeInfo::new("n1");
        ni.node = Some(view);
        for p in pods {
            ni.add_pod(Arc::new(pod_from(p.clone())));
        }
        ni
    }

    fn check(
        pod_patch: Value,
        node_patch: Value,
        pods: &[Value],
    ) -> (Result<(), FilterFailure>, Vec<String>) {
        let ni = node_info(node_patch, pods);
        let pod = pod_from(merge(pod_json("p", "", ""), pod_patch));
        let view = ni.node.as_ref().expect("view");
        let res = run_filters(&pod, &ni, view);
        let reasons = res.err().map(|f| f.reasons(&pod, &ni)).unwrap_or_default();
        (res, reasons)
    }

    fn requests(cpu: &str, mem: &str) -> Value {
        json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}})
    }

    #[test]
    fn filters_table() {
        let one_cpu = pod_json("x", "1", "1Gi");
        let port_pod = merge(
            pod_json("h", "", ""),
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}),
        );
        let tol = |key: &str, op: &str, effect: &str| json!({"spec": {"tolerations": [{"key": key, "operator": op, "effect": effect}]}});
        // (name, pod patch, node patch, pods on the node, reasons)
        type Case = (&'static str, Value, Value, Vec<Value>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("fits", requests("1", "1Gi"), json!({}), vec![one_cpu.clone()], vec![]),
            ("exact fit", requests("1", "3Gi"), json!({}), vec![one_cpu.clone()], vec![]),
            ("cpu", requests("1500m", "1Gi"), json!({}), vec![one_cpu.clone()], vec!["Insufficient cpu"]),
            ("cpu and memory", requests("2", "4Gi"), json!({}), vec![one_cpu.clone()], vec!["Insufficient cpu", "Insufficient memory"]),
            ("too many pods", json!({}), json!({}), vec![pod_json("a", "", ""), pod_json("b", "", ""), pod_json("c", "", "")], vec!["Too many pods"]),
            ("pods and cpu", requests("3", "1"), json!({}), vec![pod_json("a", "", ""), pod_json("b", "", ""), pod_json("c", "", "")], vec!["Too many pods", "Insufficient cpu"]),
            ("zero request fits a full node", json!({}), json!({}), vec![pod_json("a", "2", "4Gi")], vec![]),
            (
                "extended resource",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "2"}}}]}}),
                json!({"status": {"allocatable": {"example.com/gpu": "1"}}}),
                vec![],
                vec!["Insufficient example.com/gpu"],
            ),
            (
                "extended resource fits",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}}}]}}),
                json!({"status": {"allocatable": {"example.com/gpu": "1"}}}),
                vec![],
                vec![],
            ),
            (
                "extended resource the node lacks",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}}}]}}),
                json!({}),
                vec![],
                vec!["Insufficient example.com/gpu"],
            ),
            ("cordoned", json!({}), json!({"spec": {"unschedulable": true}}), vec![], vec![ERR_REASON_UNSCHEDULABLE]),
            ("cordoned, tolerated", tol("node.kubernetes.io/unschedulable", "Exists", "NoSchedule"), json!({"spec": {"unschedulable": true}}), vec![], vec![]),
            ("cordon beats resources", requests("9", "1"), json!({"spec": {"unschedulable": true}}), vec![], vec![ERR_REASON_UNSCHEDULABLE]),
            (
                "NoSchedule taint",
                json!({}),
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
                vec![],
                vec!["node(s) had taint {dedicated: gpu}, that the pod didn't tolerate"],
            ),
            ("NoExecute taint", json!({}), json!({"spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}), vec![], vec!["node(s) had taint {k: }, that the pod didn't tolerate"]),
            ("PreferNoSchedule is ignored", json!({}), json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}), vec![], vec![]),
            ("tolerated taint", tol("k", "Exists", ""), json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}), vec![], vec![]),
            ("tolerate everything", json!({"spec": {"tolerations": [{"operator": "Exists"}]}}), json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}]}}), vec![], vec![]),
            (
                "second taint untolerated",
                tol("a", "Exists", "NoSchedule"),
                json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "b", "value": "1", "effect": "NoExecute"}]}}),
                vec![],
                vec!["node(s) had taint {b: 1}, that the pod didn't tolerate"],
            ),
            (
                "not ready node",
                json!({}),
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                vec![],
                vec!["node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate"],
            ),
            ("not ready node, tolerated", tol("node.kubernetes.io/not-ready", "Exists", "NoSchedule"), json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}), vec![], vec![]),
            ("nodeSelector match", json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "n1"}}}), json!({}), vec![], vec![]),
            ("nodeSelector mismatch", json!({"spec": {"nodeSelector": {"disk": "ssd"}}}), json!({}), vec![], vec![ERR_REASON_AFFINITY]),
            (
                "required affinity match",
                json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}}),
                json!({"metadata": {"labels": {"zone": "a"}}}),
                vec![],
                vec![],
            ),
            (
                "required affinity mismatch",
                json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}}}),
                json!({}),
                vec![],
                vec![ERR_REASON_AFFINITY],
            ),
            (
                "selector and affinity must both match",
                json!({"spec": {"nodeSelector": {"zone": "b"}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}}}}}),
                json!({"metadata": {"labels": {"zone": "a"}}}),
                vec![],
                vec![ERR_REASON_AFFINITY],
            ),
            ("taint before affinity", json!({"spec": {"nodeSelector": {"x": "y"}}}), json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}), vec![], vec!["node(s) had taint {k: }, that the pod didn't tolerate"]),
            ("host port conflict", json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": 8080}]}]}}), json!({}), vec![port_pod.clone()], vec![ERR_REASON_PORTS]),
            ("host port other protocol", json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": 8080, "protocol": "UDP"}]}]}}), json!({}), vec![port_pod.clone()], vec![]),
            ("ports before resources", json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": 8080}], "resources": {"requests": {"cpu": "9"}}}]}}), json!({}), vec![port_pod], vec![ERR_REASON_PORTS]),
        ];
        for (name, pod_patch, node_patch, pods, want) in cases {
            let (res, reasons) = check(pod_patch, node_patch, &pods);
            assert_eq!(reasons, want, "{name}: {res:?}");
            assert_eq!(res.is_ok(), want.is_empty(), "{name}");
        }
    }

    #[test]
    fn codes_and_plugins() {
        let cases = [
            (
                FilterFailure::NodeUnschedulable,
                Plugin::NodeUnschedulable,
                Code::UnschedulableAndUnresolvable,
            ),
            (
                FilterFailure::UntoleratedTaint(0),
                Plugin::TaintToleration,
                Code::UnschedulableAndUnresolvable,
            ),
            (
                FilterFailure::NodeAffinity,
                Plugin::NodeAffinity,
                Code::UnschedulableAndUnresolvable,
            ),
            (
                FilterFailure::HostPorts,
                Plugin::NodePorts,
                Code::Unschedulable,
            ),
            (
                FilterFailure::Resources(Insufficient::default()),
                Plugin::NodeResourcesFit,
                Code::Unschedulable,
            ),
        ];
        for (f, plugin, code) in cases {
            assert_eq!((f.plugin(), f.code()), (plugin, code), "{f:?}");
        }
        let mut set = PluginSet::default();
        assert!(set.is_empty());
        set.insert(Plugin::NodePorts);
        set.insert(Plugin::NodeUnschedulable);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Plugin::NodeUnschedulable, Plugin::NodePorts]
        );
    }

    #[test]
    fn pre_check_ignores_no_execute_and_cordon_but_not_resources() {
        let cases = [
            (requests("1", "1Gi"), json!({}), true),
            (requests("3", "1Gi"), json!({}), false),
            (
                json!({"spec": {"nodeSelector": {"a": "b"}}}),
                json!({}),
                false,
            ),
            (
                json!({}),
                json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}),
                false,
            ),
            (
                json!({}),
                json!({"spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}),
                true,
            ),
            (json!({}), json!({"spec": {"unschedulable": true}}), true),
        ];
        for (pod_patch, node_patch, want) in cases {
            let ni = node_info(node_patch.clone(), &[]);
            let pod = pod_from(merge(pod_json("p", "", ""), pod_patch.clone()));
            assert_eq!(
                pre_check_for_node(&pod, &ni),
                want,
                "{pod_patch} {node_patch}"
            );
        }
    }
}
