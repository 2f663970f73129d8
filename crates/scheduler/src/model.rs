//! Compact, pre-parsed views of Pods and Nodes: everything the filters and
//! scores read, converted once per object change so the per-node checks are
//! plain integer and string comparisons.

use apimachinery::quantity::Quantity;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use std::collections::BTreeMap;

/// Millicores a container without a CPU request counts as, for scoring only.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Bytes a container without a memory request counts as, for scoring only.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A resource list in the units the scheduler compares: millicores, bytes,
/// pod slots and raw values of scalar (extended) resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Only meaningful for node allocatable (`pods`).
    pub allowed_pods: i64,
    /// Extended, hugepages and attachable-volume resources, sorted by name.
    pub scalar: Vec<(String, i64)>,
}

/// Extended (`example.com/gpu`), prefixed native, hugepages and attachable
/// volume resources are compared one by one; other names are ignored.
pub fn is_scalar_resource(name: &str) -> bool {
    !name.starts_with("requests.")
        && (name.contains('/')
            || name.starts_with("hugepages-")
            || name.starts_with("attachable-volumes-"))
}

fn quantity_parts(q: &ApiQuantity) -> Option<Quantity> {
    match Quantity::parse(&q.0) {
        Ok(v) => Some(v),
        Err(e) => {
            // The API server validates quantities; a bad one counts as zero.
            tracing::debug!(quantity = %q.0, error = %e, "ignoring unparsable quantity");
            None
        }
    }
}

fn sat(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl Resources {
    pub fn from_list(list: &BTreeMap<String, ApiQuantity>) -> Resources {
        let mut r = Resources::default();
        r.add_list(list);
        r
    }

    /// `Resource.Add`: sums a resource list into this one.
    pub fn add_list(&mut self, list: &BTreeMap<String, ApiQuantity>) {
        for (name, q) in list {
            let Some(q) = quantity_parts(q) else { continue };
            match name.as_str() {
                "cpu" => self.milli_cpu = self.milli_cpu.saturating_add(sat(q.milli_value())),
                "memory" => self.memory = self.memory.saturating_add(sat(q.value())),
                "ephemeral-storage" => {
                    self.ephemeral_storage = self.ephemeral_storage.saturating_add(sat(q.value()))
                }
                "pods" => self.allowed_pods = self.allowed_pods.saturating_add(sat(q.value())),
                n if is_scalar_resource(n) => {
                    let v = self.scalar(n).saturating_add(sat(q.value()));
                    self.set_scalar(n, v);
                }
                _ => {}
            }
        }
    }

    /// `Resource.SetMaxResource`: element-wise max with a resource list
    /// (how init containers count).
    pub fn set_max_list(&mut self, list: &BTreeMap<String, ApiQuantity>) {
        for (name, q) in list {
            let Some(q) = quantity_parts(q) else { continue };
            match name.as_str() {
                "cpu" => self.milli_cpu = self.milli_cpu.max(sat(q.milli_value())),
                "memory" => self.memory = self.memory.max(sat(q.value())),
                "ephemeral-storage" => {
                    self.ephemeral_storage = self.ephemeral_storage.max(sat(q.value()))
                }
                n if is_scalar_resource(n) => {
                    let v = self.scalar(n).max(sat(q.value()));
                    self.set_scalar(n, v);
                }
                _ => {}
            }
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_add(other.allowed_pods);
        for (name, v) in &other.scalar {
            let sum = self.scalar(name).saturating_add(*v);
            self.set_scalar(name, sum);
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_sub(other.allowed_pods);
        for (name, v) in &other.scalar {
            let diff = self.scalar(name).saturating_sub(*v);
            self.set_scalar(name, diff);
        }
    }

    pub fn scalar(&self, name: &str) -> i64 {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1,
            Err(_) => 0,
        }
    }

    pub fn set_scalar(&mut self, name: &str, value: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = value,
            Err(i) => self.scalar.insert(i, (name.to_string(), value)),
        }
    }

    /// True when a pod asks for nothing the fit filter compares (then only
    /// the pod count matters).
    pub fn is_empty_request(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
    /// Anything else (rejected by API validation).
    Other,
}

impl TaintEffect {
    pub fn parse(s: &str) -> TaintEffect {
        match s {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            _ => TaintEffect::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

impl Taint {
    pub fn new(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TolerationOperator {
    Equal,
    Exists,
    /// Unknown operators tolerate nothing.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// Empty matches every key (only with `Exists`).
    pub key: String,
    pub operator: TolerationOperator,
    pub value: String,
    /// `None` matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    pub fn from_api(t: &k8s_openapi::api::core::v1::Toleration) -> Toleration {
        Toleration {
            key: t.key.clone().unwrap_or_default(),
            operator: match t.operator.as_deref().unwrap_or("") {
                "" | "Equal" => TolerationOperator::Equal,
                "Exists" => TolerationOperator::Exists,
                _ => TolerationOperator::Invalid,
            },
            value: t.value.clone().unwrap_or_default(),
            effect: t
                .effect
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(TaintEffect::parse),
        }
    }

    /// `Toleration.ToleratesTaint` from k8s.io/api/core/v1.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if let Some(effect) = self.effect {
            if effect != taint.effect {
                return false;
            }
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Exists => true,
            TolerationOperator::Invalid => false,
        }
    }
}

/// True when some toleration tolerates the taint.
pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// One parsed `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRequirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

impl LabelRequirement {
    pub fn parse(r: &NodeSelectorRequirement) -> Result<LabelRequirement, String> {
        let values = r.values.clone().unwrap_or_default();
        if r.key.is_empty() {
            return Err("key: Invalid value: \"\": name part must be non-empty".to_string());
        }
        let key = r.key.clone();
        let number = |values: &[String]| -> Result<i64, String> {
            match values {
                [v] => v.parse::<i64>().map_err(|_| {
                    format!("for 'Gt', 'Lt' operators, the value must be an integer: {v:?}")
                }),
                _ => Err("for 'Gt', 'Lt' operators, exactly one value is required".to_string()),
            }
        };
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                Err("for 'in', 'notin' operators, values set can't be empty".to_string())
            }
            "In" => Ok(LabelRequirement::In(key, values)),
            "NotIn" => Ok(LabelRequirement::NotIn(key, values)),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                Err("values set must be empty for exists and does not exist".to_string())
            }
            "Exists" => Ok(LabelRequirement::Exists(key)),
            "DoesNotExist" => Ok(LabelRequirement::DoesNotExist(key)),
            "Gt" => Ok(LabelRequirement::Gt(key, number(&values)?)),
            "Lt" => Ok(LabelRequirement::Lt(key, number(&values)?)),
            other => Err(format!("{other:?} is not a valid label selector operator")),
        }
    }

    /// `labels.Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            LabelRequirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            LabelRequirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            LabelRequirement::Exists(k) => labels.contains_key(k),
            LabelRequirement::DoesNotExist(k) => !labels.contains_key(k),
            LabelRequirement::Gt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            LabelRequirement::Lt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        }
    }
}

/// One parsed `matchFields` entry: only `metadata.name` In/NotIn exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRequirement {
    NameIn(String),
    NameNotIn(String),
}

impl FieldRequirement {
    pub fn parse(r: &NodeSelectorRequirement) -> Result<FieldRequirement, String> {
        if r.key != "metadata.name" {
            return Err(format!(
                "{:?} is not a valid field selector key for nodes",
                r.key
            ));
        }
        let value = match r.values.as_deref() {
            Some([v]) => v.clone(),
            _ => return Err(
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"
                    .to_string(),
            ),
        };
        match r.operator.as_str() {
            "In" => Ok(FieldRequirement::NameIn(value)),
            "NotIn" => Ok(FieldRequirement::NameNotIn(value)),
            other => Err(format!(
                "{other:?} is not a valid node field selector operator"
            )),
        }
    }

    pub fn matches(&self, node_name: &str) -> bool {
        match self {
            FieldRequirement::NameIn(v) => v == node_name,
            FieldRequirement::NameNotIn(v) => v != node_name,
        }
    }
}

/// A parsed `NodeSelectorTerm`: all expressions and fields must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectorTerm {
    pub labels: Vec<LabelRequirement>,
    pub fields: Vec<FieldRequirement>,
}

impl SelectorTerm {
    /// `None` for an empty term (which selects nothing); `Err` for a term
    /// that does not parse.
    pub fn parse(term: &NodeSelectorTerm) -> Result<Option<SelectorTerm>, String> {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        if exprs.is_empty() && fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(SelectorTerm {
            labels: exprs
                .iter()
                .map(LabelRequirement::parse)
                .collect::<Result<_, _>>()?,
            fields: fields
                .iter()
                .map(FieldRequirement::parse)
                .collect::<Result<_, _>>()?,
        }))
    }

    pub fn matches(&self, node_name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| r.matches(node_name))
    }
}

/// A parsed required `NodeSelector`: the terms are ORed. Empty and invalid
/// terms are dropped (they select nothing), like the lazy-error selector of
/// component-helpers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelector {
    pub terms: Vec<SelectorTerm>,
    /// Why terms were dropped (kept for debugging; they never match).
    pub errors: Vec<String>,
}

impl NodeSelector {
    pub fn parse(terms: &[NodeSelectorTerm]) -> NodeSelector {
        let mut out = NodeSelector::default();
        for term in terms {
            match SelectorTerm::parse(term) {
                Ok(Some(t)) => out.terms.push(t),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    pub fn matches(&self, node_name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }
}

/// Parsed preferred terms: (weight, term); zero weights, empty and invalid
/// terms are skipped.
pub fn parse_preferred(terms: &[PreferredSchedulingTerm]) -> Vec<(i64, SelectorTerm)> {
    terms
        .iter()
        .filter(|t| t.weight != 0)
        .filter_map(|t| match SelectorTerm::parse(&t.preference) {
            Ok(Some(term)) => Some((i64::from(t.weight), term)),
            _ => None,
        })
        .collect()
}

pub const BIND_ALL_HOST_IP: &str = "0.0.0.0";

/// A host port a container asks for, sanitized like `HostPortInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    pub fn new(ip: &str, protocol: &str, port: i32) -> HostPort {
        HostPort {
            ip: if ip.is_empty() {
                BIND_ALL_HOST_IP.to_string()
            } else {
                ip.to_string()
            },
            protocol: if protocol.is_empty() {
                "TCP".to_string()
            } else {
                protocol.to_string()
            },
            port,
        }
    }

    /// Same protocol and port on the same address, or either binds all.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == BIND_ALL_HOST_IP || other.ip == BIND_ALL_HOST_IP)
    }
}

/// What the scheduler needs from a pod's spec. Compared to decide whether an
/// update can make an unschedulable pod schedulable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSchedulingSpec {
    /// max(sum of containers, max init container) + overhead.
    pub requests: Resources,
    /// The same with 100m / 200Mi for unset CPU / memory requests (scoring).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub node_selector: Vec<(String, String)>,
    pub required_affinity: Option<NodeSelector>,
    pub preferred_affinity: Vec<(i64, SelectorTerm)>,
    pub tolerations: Vec<Toleration>,
    pub host_ports: Vec<HostPort>,
    pub priority: i32,
    pub preempt_never: bool,
}

/// The pod's current `PodScheduled` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionView {
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub scheduler_name: String,
    /// Empty while pending.
    pub node_name: String,
    /// Has a deletion timestamp.
    pub deleting: bool,
    /// Phase Succeeded or Failed: holds no resources.
    pub terminal: bool,
    pub spec: PodSchedulingSpec,
    pub scheduled_condition: Option<ConditionView>,
}

fn non_zero_requests(list: Option<&BTreeMap<String, ApiQuantity>>) -> (i64, i64) {
    let get = |name: &str| list.and_then(|l| l.get(name)).map(quantity_parts);
    let cpu = match get("cpu") {
        None => DEFAULT_MILLI_CPU_REQUEST,
        Some(q) => q.map(|q| sat(q.milli_value())).unwrap_or(0),
    };
    let mem = match get("memory") {
        None => DEFAULT_MEMORY_REQUEST,
        Some(q) => q.map(|q| sat(q.value())).unwrap_or(0),
    };
    (cpu, mem)
}

impl PodInfo {
    pub fn from_pod(pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let mut info = PodInfo {
            key: format!("{namespace}/{name}"),
            namespace,
            name,
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            ..PodInfo::default()
        };
        if let Some(status) = &pod.status {
            info.terminal = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
            info.scheduled_condition = status
                .conditions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|c| c.type_ == "PodScheduled")
                .map(|c| ConditionView {
                    status: c.status.clone(),
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                });
        }
        let Some(spec) = &pod.spec else { return info };
        info.scheduler_name = spec
            .scheduler_name
            .clone()
            .unwrap_or_else(|| crate::DEFAULT_SCHEDULER_NAME.to_string());
        info.node_name = spec.node_name.clone().unwrap_or_default();
        let s = &mut info.spec;
        let (mut cpu0, mut mem0) = (0i64, 0i64);
        for c in &spec.containers {
            let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
            if let Some(r) = requests {
                s.requests.add_list(r);
            }
            let (c0, m0) = non_zero_requests(requests);
            cpu0 = cpu0.saturating_add(c0);
            mem0 = mem0.saturating_add(m0);
            for p in c.ports.as_deref().unwrap_or_default() {
                if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
                    s.host_ports.push(HostPort::new(
                        p.host_ip.as_deref().unwrap_or(""),
                        p.protocol.as_deref().unwrap_or(""),
                        hp,
                    ));
                }
            }
        }
        for c in spec.init_containers.as_deref().unwrap_or_default() {
            let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
            if let Some(r) = requests {
                s.requests.set_max_list(r);
            }
            let (c0, m0) = non_zero_requests(requests);
            cpu0 = cpu0.max(c0);
            mem0 = mem0.max(m0);
        }
        if let Some(overhead) = &spec.overhead {
            s.requests.add_list(overhead);
            let o = Resources::from_list(overhead);
            if overhead.contains_key("cpu") {
                cpu0 = cpu0.saturating_add(o.milli_cpu);
            }
            if overhead.contains_key("memory") {
                mem0 = mem0.saturating_add(o.memory);
            }
        }
        // Only the pod count is compared for `pods`; a request for it is ignored.
        s.requests.allowed_pods = 0;
        s.non_zero_milli_cpu = cpu0;
        s.non_zero_memory = mem0;
        s.node_selector = spec
            .node_selector
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if let Some(na) = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
        {
            s.required_affinity = na
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .map(|sel| NodeSelector::parse(&sel.node_selector_terms));
            s.preferred_affinity = parse_preferred(
                na.preferred_during_scheduling_ignored_during_execution
                    .as_deref()
                    .unwrap_or_default(),
            );
        }
        s.tolerations = spec
            .tolerations
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(Toleration::from_api)
            .collect();
        s.priority = spec.priority.unwrap_or(0);
        s.preempt_never = spec.preemption_policy.as_deref() == Some("Never");
        info
    }

    /// Bound (or being bound) to a node.
    pub fn is_assigned(&self) -> bool {
        !self.node_name.is_empty()
    }
}

/// Node conditions that the node lifecycle controller turns into NoSchedule
/// taints (TaintNodesByCondition): (condition, status, taint key).
const CONDITION_TAINTS: &[(&str, &str, &str)] = &[
    ("Ready", "False", "node.kubernetes.io/not-ready"),
    ("Ready", "Unknown", "node.kubernetes.io/unreachable"),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
];

/// A node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `spec.taints` plus the NoSchedule taints its conditions imply.
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// (type, status) of each condition, for change detection.
    pub conditions: Vec<(String, String)>,
    /// Any PreferNoSchedule taint (enables the taint score).
    pub has_prefer_no_schedule: bool,
}

impl NodeView {
    pub fn from_node(node: &Node) -> NodeView {
        let mut view = NodeView {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            ..NodeView::default()
        };
        if let Some(spec) = &node.spec {
            view.unschedulable = spec.unschedulable.unwrap_or(false);
            view.taints = spec
                .taints
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|t| Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: TaintEffect::parse(&t.effect),
                })
                .collect();
        }
        if let Some(status) = &node.status {
            if let Some(a) = &status.allocatable {
                view.allocatable = Resources::from_list(a);
            }
            view.conditions = status
                .conditions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect();
        }
        // A node that never reported Ready is not ready (the kubelet registers
        // with the not-ready taint until its first Ready status).
        if !view.conditions.iter().any(|(t, _)| t == "Ready") {
            view.add_implicit_taint("node.kubernetes.io/not-ready");
        }
        for (ctype, cstatus, key) in CONDITION_TAINTS {
            if view
                .conditions
                .iter()
                .any(|(t, s)| t == ctype && s == cstatus)
            {
                view.add_implicit_taint(key);
            }
        }
        view.has_prefer_no_schedule = view
            .taints
            .iter()
            .any(|t| t.effect == TaintEffect::PreferNoSchedule);
        view
    }

    fn add_implicit_taint(&mut self, key: &str) {
        if !self
            .taints
            .iter()
            .any(|t| t.key == key && t.effect == TaintEffect::NoSchedule)
        {
            self.taints
                .push(Taint::new(key, "", TaintEffect::NoSchedule));
        }
    }

    /// Whether an update can change scheduling decisions (allocatable,
    /// labels, taints, unschedulable, condition statuses): heartbeats don't.
    pub fn scheduling_properties_differ(&self, old: &NodeView) -> bool {
        self.allocatable != old.allocatable
            || self.labels != old.labels
            || self.taints != old.taints
            || self.unschedulable != old.unschedulable
            || self.conditions != old.conditions
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use serde_json::{json, Value};

    /// A Ready node with the given allocatable cpu / memory / pods.
    pub fn node_json(name: &str, cpu: &str, memory: &str, pods: &str) -> Value {
        json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                "capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        })
    }

    pub fn node_from(v: Value) -> NodeView {
        let node: Node = serde_json::from_value(v).expect("node json");
        NodeView::from_node(&node)
    }

    pub fn node(name: &str, cpu: &str, memory: &str, pods: &str) -> NodeView {
        node_from(node_json(name, cpu, memory, pods))
    }

    /// A pending pod with one container requesting cpu / memory (empty = unset).
    pub fn pod_json(name: &str, cpu: &str, memory: &str) -> Value {
        let mut requests = serde_json::Map::new();
        if !cpu.is_empty() {
            requests.insert("cpu".into(), json!(cpu));
        }
        if !memory.is_empty() {
            requests.insert("memory".into(), json!(memory));
        }
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": requests}}]}
        })
    }

    pub fn pod_from(v: Value) -> PodInfo {
        let pod: Pod = serde_json::from_value(v).expect("pod json");
        PodInfo::from_pod(&pod)
    }

    pub fn pod(name: &str, cpu: &str, memory: &str) -> PodInfo {
        pod_from(pod_json(name, cpu, memory))
    }

    /// Merges `patch` into `base` (objects recursively, everything else replaced).
    pub fn merge(mut base: Value, patch: Value) -> Value {
        fn go(b: &mut Value, p: Value) {
            match (b, p) {
                (Value::Object(bm), Value::Object(pm)) => {
                    for (k, v) in pm {
                        go(bm.entry(k).or_insert(Value::Null), v);
                    }
                }
                (b, p) => *b = p,
            }
        }
        go(&mut base, patch);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn pod_requests_follow_the_real_formula() {
        // (containers, init containers, overhead) -> (cpu, memory, non-zero cpu, non-zero memory)
        let cases = [
            (
                json!([{"cpu": "100m", "memory": "1Gi"}, {"cpu": "200m"}]),
                json!([]),
                json!(null),
                (300, 1 << 30, 300, (1 << 30) + DEFAULT_MEMORY_REQUEST),
            ),
            (
                json!([{}]),
                json!([]),
                json!(null),
                (0, 0, DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST),
            ),
            (
                json!([{"cpu": "0"}]),
                json!([]),
                json!(null),
                (0, 0, 0, DEFAULT_MEMORY_REQUEST),
            ),
            (
                json!([{"cpu": "100m", "memory": "100Mi"}]),
                json!([{"cpu": "1", "memory": "10Mi"}]),
                json!(null),
                (1000, 100 << 20, 1000, 100 << 20),
            ),
            (
                json!([{"cpu": "1"}]),
                json!([]),
                json!({"cpu": "250m", "memory": "120Mi"}),
                (1250, 120 << 20, 1250, DEFAULT_MEMORY_REQUEST + (120 << 20)),
            ),
        ];
        for (containers, inits, overhead, want) in cases {
            let mk = |list: &Value| -> Vec<Value> {
                list.as_array()
                    .map(|a| a.iter().enumerate().map(|(i, r)| json!({"name": format!("c{i}"), "resources": {"requests": r}})).collect())
                    .unwrap_or_default()
            };
            let mut spec = json!({"containers": mk(&containers), "initContainers": mk(&inits)});
            if !overhead.is_null() {
                spec["overhead"] = overhead.clone();
            }
            let p = pod_from(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}));
            let s = &p.spec;
            assert_eq!(
                (
                    s.requests.milli_cpu,
                    s.requests.memory,
                    s.non_zero_milli_cpu,
                    s.non_zero_memory
                ),
                want,
                "{containers} {inits} {overhead}"
            );
        }
    }

    #[test]
    fn scalar_resources() {
        let cases = [
            ("example.com/gpu", true),
            ("hugepages-2Mi", true),
            ("attachable-volumes-aws-ebs", true),
            ("kubernetes.io/batch", true),
            ("cpu", false),
            ("storage", false),
            ("requests.example.com/x", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_scalar_resource(name), want, "{name}");
        }
        let p = pod_from(
            json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [
                {"name": "a", "resources": {"requests": {"example.com/gpu": "2", "storage": "1"}}},
                {"name": "b", "resources": {"requests": {"example.com/gpu": "1", "hugepages-2Mi": "4Mi"}}}
            ]}}),
        );
        assert_eq!(
            p.spec.requests.scalar,
            vec![
                ("example.com/gpu".to_string(), 3),
                ("hugepages-2Mi".to_string(), 4 << 20)
            ]
        );
    }

    #[test]
    fn pod_metadata_and_defaults() {
        let p = pod_from(merge(
            pod_json("web", "1", ""),
            json!({"metadata": {"resourceVersion": "7", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                   "spec": {"priority": 10, "preemptionPolicy": "Never", "nodeSelector": {"disk": "ssd"},
                            "containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}, {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"}]}]},
                   "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m"}]}}),
        ));
        assert_eq!(p.key, "default/web");
        assert_eq!(p.scheduler_name, "default-scheduler");
        assert!(p.deleting && !p.terminal && !p.is_assigned());
        assert_eq!(p.spec.priority, 10);
        assert!(p.spec.preempt_never);
        assert_eq!(
            p.spec.node_selector,
            vec![("disk".to_string(), "ssd".to_string())]
        );
        assert_eq!(
            p.spec.host_ports,
            vec![
                HostPort::new("", "", 8080),
                HostPort::new("10.0.0.1", "UDP", 53)
            ]
        );
        assert_eq!(
            p.scheduled_condition,
            Some(ConditionView {
                status: "False".into(),
                reason: "Unschedulable".into(),
                message: "m".into()
            })
        );
    }

    #[test]
    fn toleration_matching_matches_kubernetes() {
        let taint = Taint::new("k", "v", TaintEffect::NoSchedule);
        let tol = |key: &str, op: &str, value: &str, effect: &str| {
            Toleration::from_api(&k8s_openapi::api::core::v1::Toleration {
                key: Some(key.into()).filter(|s: &String| !s.is_empty()),
                operator: Some(op.into()).filter(|s: &String| !s.is_empty()),
                value: Some(value.into()).filter(|s: &String| !s.is_empty()),
                effect: Some(effect.into()).filter(|s: &String| !s.is_empty()),
                toleration_seconds: None,
            })
        };
        let cases = [
            (tol("k", "Equal", "v", "NoSchedule"), true),
            (tol("k", "", "v", "NoSchedule"), true),
            (tol("k", "Equal", "other", "NoSchedule"), false),
            (tol("k", "Exists", "", "NoSchedule"), true),
            (tol("k", "Exists", "", ""), true),
            (tol("", "Exists", "", ""), true),
            (tol("", "Exists", "", "NoExecute"), false),
            (tol("", "Equal", "v", ""), true),
            (tol("", "Equal", "x", ""), false),
            (tol("other", "Exists", "", ""), false),
            (tol("k", "Equal", "v", "PreferNoSchedule"), false),
            (tol("k", "Bogus", "v", ""), false),
        ];
        for (i, (t, want)) in cases.iter().enumerate() {
            assert_eq!(t.tolerates(&taint), *want, "case {i}: {t:?}");
        }
    }

    #[test]
    fn label_requirements() {
        let labels: BTreeMap<String, String> = [("zone", "a"), ("gen", "5"), ("bad", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let req = |key: &str, op: &str, values: &[&str]| NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        };
        let cases: &[(NodeSelectorRequirement, Option<bool>)] = &[
            (req("zone", "In", &["a", "b"]), Some(true)),
            (req("zone", "In", &["b"]), Some(false)),
            (req("missing", "In", &["a"]), Some(false)),
            (req("zone", "NotIn", &["b"]), Some(true)),
            (req("zone", "NotIn", &["a"]), Some(false)),
            (req("missing", "NotIn", &["a"]), Some(true)),
            (req("zone", "Exists", &[]), Some(true)),
            (req("missing", "Exists", &[]), Some(false)),
            (req("missing", "DoesNotExist", &[]), Some(true)),
            (req("zone", "DoesNotExist", &[]), Some(false)),
            (req("gen", "Gt", &["4"]), Some(true)),
            (req("gen", "Gt", &["5"]), Some(false)),
            (req("gen", "Lt", &["6"]), Some(true)),
            (req("bad", "Gt", &["1"]), Some(false)),
            (req("missing", "Lt", &["1"]), Some(false)),
            // Invalid requirements.
            (req("zone", "In", &[]), None),
            (req("zone", "Exists", &["a"]), None),
            (req("gen", "Gt", &["x"]), None),
            (req("gen", "Gt", &["1", "2"]), None),
            (req("zone", "Like", &["a"]), None),
            (req("", "Exists", &[]), None),
        ];
        for (r, want) in cases {
            let got = LabelRequirement::parse(r).ok().map(|p| p.matches(&labels));
            assert_eq!(got, *want, "{r:?}");
        }
    }

    #[test]
    fn node_selector_terms_are_ored_and_invalid_or_empty_terms_never_match() {
        let labels: BTreeMap<String, String> = [("zone".to_string(), "a".to_string())].into();
        let term = |exprs: Value, fields: Value| -> NodeSelectorTerm {
            serde_json::from_value(json!({"matchExpressions": exprs, "matchFields": fields}))
                .expect("term")
        };
        let cases = [
            (
                vec![
                    term(
                        json!([{"key": "zone", "operator": "In", "values": ["b"]}]),
                        json!(null),
                    ),
                    term(
                        json!([{"key": "zone", "operator": "In", "values": ["a"]}]),
                        json!(null),
                    ),
                ],
                true,
            ),
            (vec![term(json!(null), json!(null))], false),
            (vec![], false),
            (
                vec![term(
                    json!(null),
                    json!([{"key": "metadata.name", "operator": "In", "values": ["n1"]}]),
                )],
                true,
            ),
            (
                vec![term(
                    json!(null),
                    json!([{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]),
                )],
                false,
            ),
            (
                vec![term(
                    json!(null),
                    json!([{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]),
                )],
                false,
            ),
            (
                vec![term(
                    json!(null),
                    json!([{"key": "metadata.labels", "operator": "In", "values": ["n1"]}]),
                )],
                false,
            ),
            (
                vec![term(
                    json!([{"key": "zone", "operator": "Exists"}]),
                    json!([{"key": "metadata.name", "operator": "In", "values": ["n2"]}]),
                )],
                false,
            ),
            (
                vec![
                    term(json!([{"key": "zone", "operator": "Bad"}]), json!(null)),
                    term(json!([{"key": "zone", "operator": "Exists"}]), json!(null)),
                ],
                true,
            ),
        ];
        for (i, (terms, want)) in cases.iter().enumerate() {
            assert_eq!(
                NodeSelector::parse(terms).matches("n1", &labels),
                *want,
                "case {i}"
            );
        }
    }

    #[test]
    fn host_port_conflicts() {
        let cases = [
            (
                HostPort::new("", "", 80),
                HostPort::new("", "TCP", 80),
                true,
            ),
            (
                HostPort::new("", "", 80),
                HostPort::new("", "UDP", 80),
                false,
            ),
            (HostPort::new("", "", 80), HostPort::new("", "", 81), false),
            (
                HostPort::new("10.0.0.1", "", 80),
                HostPort::new("", "", 80),
                true,
            ),
            (
                HostPort::new("10.0.0.1", "", 80),
                HostPort::new("10.0.0.2", "", 80),
                false,
            ),
            (
                HostPort::new("10.0.0.1", "", 80),
                HostPort::new("10.0.0.1", "", 80),
                true,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.conflicts(&b), want, "{a:?} {b:?}");
            assert_eq!(b.conflicts(&a), want, "{b:?} {a:?}");
        }
    }

    #[test]
    fn node_conditions_imply_taints() {
        let cases = [
            (json!([{"type": "Ready", "status": "True"}]), vec![]),
            (
                json!([{"type": "Ready", "status": "False"}]),
                vec!["node.kubernetes.io/not-ready"],
            ),
            (
                json!([{"type": "Ready", "status": "Unknown"}]),
                vec!["node.kubernetes.io/unreachable"],
            ),
            (json!([]), vec!["node.kubernetes.io/not-ready"]),
            (
                json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "True"}, {"type": "DiskPressure", "status": "False"}]),
                vec!["node.kubernetes.io/memory-pressure"],
            ),
        ];
        for (conditions, want) in cases {
            let n = node_from(merge(
                node_json("n", "1", "1Gi", "10"),
                json!({"status": {"conditions": conditions}}),
            ));
            let keys: Vec<&str> = n.taints.iter().map(|t| t.key.as_str()).collect();
            assert_eq!(keys, want, "{conditions}");
        }
        // An explicit not-ready taint is not duplicated.
        let n = node_from(merge(
            node_json("n", "1", "1Gi", "10"),
            json!({"spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
        ));
        assert_eq!(n.taints.len(), 1);
    }

    #[test]
    fn node_view_and_change_detection() {
        let base = node_json("n", "4", "8Gi", "110");
        let n = node_from(base.clone());
        assert_eq!(
            (
                n.allocatable.milli_cpu,
                n.allocatable.memory,
                n.allocatable.allowed_pods
            ),
            (4000, 8 << 30, 110)
        );
        let heartbeat = node_from(merge(
            base.clone(),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:00Z"}]}}),
        ));
        assert!(!heartbeat.scheduling_properties_differ(&n));
        let cases = [
            json!({"metadata": {"labels": {"x": "y"}}}),
            json!({"spec": {"unschedulable": true}}),
            json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}),
            json!({"status": {"allocatable": {"cpu": "8"}}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
        ];
        for patch in cases {
            let changed = node_from(merge(base.clone(), patch.clone()));
            assert!(changed.scheduling_properties_differ(&n), "{patch}");
        }
    }
}
