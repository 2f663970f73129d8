//! Small pure helpers shared by the controllers: keys, label selectors,
//! owner references, pod state, taints/tolerations, node affinity, template
//! hashing and slow-start batching.

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodTemplateSpec, Taint,
    Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use std::time::Duration;

/// Label on pods and ReplicaSets that names the pod template's hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// Label on DaemonSet and StatefulSet pods naming their revision.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// `namespace/name`, or `name` for cluster-scoped objects (the cache key
/// format of client-go's `MetaNamespaceKeyFunc`).
pub fn key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// The key of an object from its metadata.
pub fn meta_key(meta: &ObjectMeta) -> String {
    key(
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or(""),
    )
}

/// Splits a key into (namespace, name); namespace is empty for
/// cluster-scoped keys.
pub fn split_key(key: &str) -> (&str, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", key),
    }
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

pub fn now_time() -> Time {
    Time(Timestamp::now())
}

/// Seconds between two timestamps as a std `Duration` (zero when negative).
pub fn duration_between(from: Timestamp, to: Timestamp) -> Duration {
    let d: SignedDuration = to.duration_since(from);
    if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    }
}

/// `t + secs` (saturating on overflow).
pub fn add_secs(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap_or(t)
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// Whether a `metav1.LabelSelector` matches a label set. An empty selector
/// matches everything; an invalid operator matches nothing (as the real
/// conversion fails and the controllers then ignore the object).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if let Some(ml) = &selector.match_labels {
        for (k, v) in ml {
            if labels.get(k) != Some(v) {
                return false;
            }
        }
    }
    if let Some(exprs) = &selector.match_expressions {
        for e in exprs {
            let values = e.values.as_deref().unwrap_or(&[]);
            let got = labels.get(&e.key);
            let ok = match e.operator.as_str() {
                "In" => got.is_some_and(|v| values.contains(v)),
                "NotIn" => got.is_none_or(|v| !values.contains(v)),
                "Exists" => got.is_some(),
                "DoesNotExist" => got.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether a selector is empty (matches everything). Controllers refuse
/// empty selectors as the API server's validation does.
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// A map selector (Service, ReplicationController): every pair must match.
/// An empty map matches nothing here, as `labels.SelectorFromValidatedSet`
/// is only used on non-empty sets by the callers.
pub fn map_selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The labels of an object (empty when unset).
pub fn labels_of(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Renders a selector in the string form used by `?labelSelector=`.
pub fn selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(ml) = &selector.match_labels {
        parts.extend(ml.iter().map(|(k, v)| format!("{k}={v}")));
    }
    if let Some(exprs) = &selector.match_expressions {
        for e in exprs {
            let values = e.values.clone().unwrap_or_default().join(",");
            parts.push(match e.operator.as_str() {
                "In" => format!("{} in ({values})", e.key),
                "NotIn" => format!("{} notin ({values})", e.key),
                "Exists" => e.key.clone(),
                _ => format!("!{}", e.key),
            });
        }
    }
    parts.join(",")
}

// ---------------------------------------------------------------------------
// Owner references
// ---------------------------------------------------------------------------

/// An owner reference as controllers set it: `controller: true`,
/// `blockOwnerDeletion: true`.
pub fn controller_owner_ref(
    api_version: &str,
    kind: &str,
    name: &str,
    uid: &str,
) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether the object's controller is the owner with this uid.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// A JSON patch that sets `metadata.ownerReferences` to `new`, guarded by a
/// `test` of the current value so that a concurrent change fails with a
/// conflict instead of being overwritten.
pub fn owner_refs_patch(
    old: Option<&Vec<OwnerReference>>,
    new: &[OwnerReference],
) -> serde_json::Value {
    let path = "/metadata/ownerReferences";
    let mut ops = Vec::new();
    match old {
        Some(old) => {
            ops.push(serde_json::json!({"op": "test", "path": path, "value": old}));
            if new.is_empty() {
                ops.push(serde_json::json!({"op": "remove", "path": path}));
            } else {
                ops.push(serde_json::json!({"op": "replace", "path": path, "value": new}));
            }
        }
        None => ops.push(serde_json::json!({"op": "add", "path": path, "value": new})),
    }
    serde_json::Value::Array(ops)
}

/// A JSON patch that removes one finalizer, guarded by a `test` of the list.
pub fn remove_finalizer_patch(finalizers: &[String], finalizer: &str) -> serde_json::Value {
    let path = "/metadata/finalizers";
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let last = if rest.is_empty() {
        serde_json::json!({"op": "remove", "path": path})
    } else {
        serde_json::json!({"op": "replace", "path": path, "value": rest})
    };
    serde_json::json!([{"op": "test", "path": path, "value": finalizers}, last])
}

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

pub fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed.
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(pod_phase(pod), "Succeeded" | "Failed")
}

pub fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// `controller.IsPodActive`: not terminal and not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && !is_deleting(&pod.metadata)
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// The pod's Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod became Ready (the Ready condition's lastTransitionTime).
pub fn pod_ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// `podutil.IsPodAvailable`: Ready for at least `min_ready_seconds`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match pod_ready_since(pod) {
        Some(t) => add_secs(t, i64::from(min_ready_seconds)) <= now,
        None => false,
    }
}

/// How long until a ready pod becomes available, if it is ready but not yet.
pub fn until_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Duration> {
    if min_ready_seconds <= 0 || !is_pod_ready(pod) {
        return None;
    }
    let at = add_secs(pod_ready_since(pod)?, i64::from(min_ready_seconds));
    (at > now).then(|| duration_between(now, at))
}

pub fn pod_node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn phase_rank(pod: &Pod) -> u8 {
    match pod_phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// The order in which `controller.ActivePods` sorts pods for deletion:
/// "less" pods are deleted first. Unassigned < assigned; Pending < Unknown <
/// Running; not ready < ready; ready for less time < longer; more restarts
/// first; newer before older.
pub fn deletion_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let assigned = |p: &Pod| pod_node_name(p).is_some();
    if assigned(a) != assigned(b) {
        return if assigned(a) {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    if phase_rank(a) != phase_rank(b) {
        return phase_rank(a).cmp(&phase_rank(b));
    }
    if is_pod_ready(a) != is_pod_ready(b) {
        return if is_pod_ready(a) {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    if is_pod_ready(a) {
        if let (Some(ta), Some(tb)) = (pod_ready_since(a), pod_ready_since(b)) {
            if ta != tb {
                // Ready more recently = ready for less time = delete first.
                return tb.cmp(&ta);
            }
        }
    }
    if restarts(a) != restarts(b) {
        return restarts(b).cmp(&restarts(a));
    }
    let ct = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    // Newer first.
    ct(b)
        .cmp(&ct(a))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// A pod built from a template, owned by `owner`, as
/// `GetPodFromTemplate` does: template labels/annotations/finalizers, the
/// template spec, and the owner reference.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    owner: OwnerReference,
) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name)),
            namespace: Some(namespace.to_string()),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

// ---------------------------------------------------------------------------
// Taints, tolerations, node affinity
// ---------------------------------------------------------------------------

/// `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

pub fn tolerated_by(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) =
                (value.and_then(|v| v.parse::<i64>().ok()), values.first())
            else {
                return false;
            };
            let Ok(bound) = bound.parse::<i64>() else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        // An empty term matches no objects.
        return false;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let v = if r.key == "metadata.name" {
                node.metadata.name.as_deref()
            } else {
                None
            };
            requirement_matches(r, v)
        })
}

/// Whether any of the selector's terms matches the node.
pub fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    selector
        .node_selector_terms
        .iter()
        .any(|t| term_matches(t, node))
}

/// Whether a pod spec's `nodeSelector` and required node affinity match.
pub fn pod_fits_node_selectors(spec: &k8s_openapi::api::core::v1::PodSpec, node: &Node) -> bool {
    if let Some(ns) = &spec.node_selector {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        if !ns.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    required.is_none_or(|sel| node_selector_matches(sel, node))
}

// ---------------------------------------------------------------------------
// Hashing, batching
// ---------------------------------------------------------------------------

/// FNV-1a, 32 bit (the hash the real controllers use for template hashes).
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `rand.SafeEncodeString`: maps each character onto an alphabet without
/// vowels and confusable characters, so hashes never spell words.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// `controller.ComputeHash`: a short, stable hash of a pod template (and a
/// collision count), e.g. `5d4f8c7b9`. We hash the canonical JSON of the
/// template (the real one hashes Go's deep-printed struct; the values differ
/// but have the same shape and stability).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// A template with the `pod-template-hash` label removed, for
/// `EqualIgnoreHash` comparisons.
pub fn template_without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    t
}

/// `SetDefaults_PodSpec` / `SetDefaults_Container` for the fields the API
/// server defaults, applied to a pod template as JSON. Comparing defaulted
/// templates makes a template written without defaults (e.g. by an update
/// the server did not default) equal to its defaulted copy.
pub fn default_template_json(t: &mut serde_json::Value) {
    use serde_json::{json, Value};
    fn set(v: &mut Value, k: &str, d: Value) {
        if let Some(m) = v.as_object_mut() {
            if m.get(k).is_none_or(Value::is_null) {
                m.insert(k.to_string(), d);
            }
        }
    }
    let Some(spec) = t.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let last = image.rsplit('/').next().unwrap_or("");
            let latest = !image.contains('@')
                && last.rsplit_once(':').is_none_or(|(_, tag)| tag == "latest");
            set(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            set(c, "terminationMessagePath", json!("/dev/termination-log"));
            set(c, "terminationMessagePolicy", json!("File"));
            set(c, "resources", json!({}));
            for p in c
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                set(p, "protocol", json!("TCP"));
            }
            if let Some(Value::Object(limits)) = c.pointer("/resources/limits").cloned() {
                if let Some(res) = c.get_mut("resources") {
                    set(res, "requests", json!({}));
                    if let Some(req) = res.get_mut("requests") {
                        for (k, v) in limits {
                            set(req, &k, v);
                        }
                    }
                }
            }
        }
    }
}

/// A pod template with the server's defaults applied.
pub fn defaulted_template(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    default_template_json(&mut v);
    serde_json::from_value(v).unwrap_or_else(|_| t.clone())
}

/// `EqualIgnoreHash` (on defaulted templates).
pub fn templates_equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let norm = |t: &PodTemplateSpec| {
        let mut v = serde_json::to_value(template_without_hash(t)).unwrap_or_default();
        default_template_json(&mut v);
        // An empty label map and a missing one are the same template.
        if v.pointer("/metadata/labels")
            .is_some_and(|l| l.as_object().is_some_and(|m| m.is_empty()))
        {
            if let Some(m) = v.pointer_mut("/metadata").and_then(|m| m.as_object_mut()) {
                m.remove("labels");
            }
        }
        v
    };
    norm(a) == norm(b)
}

/// `slowStartBatch` sizes: 1, 2, 4, ... until `total` is covered.
pub fn slow_start_batches(total: usize, initial: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut remaining = total;
    let mut size = initial.max(1);
    while remaining > 0 {
        let n = size.min(remaining);
        out.push(n);
        remaining -= n;
        size = size.saturating_mul(2);
    }
    out
}

/// The HTTP status code of a kube-rs API error.
pub fn error_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

pub fn is_not_found(e: &kube::Error) -> bool {
    error_code(e) == Some(404)
}

pub fn is_conflict(e: &kube::Error) -> bool {
    error_code(e) == Some(409)
}

pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// A namespace being torn down: pods can't be created in it.
pub fn is_namespace_terminating_error(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403 && s.message.contains("being terminated"))
}

// ---------------------------------------------------------------------------
// Claiming (ControllerRefManager)
// ---------------------------------------------------------------------------

/// Access to an object's metadata through a reference or an `Arc`.
pub trait HasMeta {
    fn meta_ref(&self) -> &ObjectMeta;
}

impl<K: kube::Resource> HasMeta for std::sync::Arc<K> {
    fn meta_ref(&self) -> &ObjectMeta {
        self.meta()
    }
}

impl<K: kube::Resource> HasMeta for &K {
    fn meta_ref(&self) -> &ObjectMeta {
        self.meta()
    }
}

/// Pods sorted by their relation to one controller object.
#[derive(Debug, Default)]
pub struct Claim<T> {
    /// Controlled by us and matching the selector.
    pub owned: Vec<T>,
    /// Orphans matching the selector: adopt them.
    pub adopt: Vec<T>,
    /// Controlled by us but no longer matching: release them.
    pub release: Vec<T>,
}

/// `ClaimObjects`: owned objects that match stay, orphans that match are
/// adopted (unless the controller or the object is being deleted), owned
/// objects that stopped matching are released.
pub fn claim<T: HasMeta>(
    objects: impl IntoIterator<Item = T>,
    owner_uid: &str,
    owner_deleting: bool,
    matches: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Claim<T> {
    let empty = BTreeMap::new();
    let mut c = Claim {
        owned: Vec::new(),
        adopt: Vec::new(),
        release: Vec::new(),
    };
    for o in objects {
        let meta = o.meta_ref();
        let labels = meta.labels.as_ref().unwrap_or(&empty);
        match controller_of(meta) {
            Some(r) if r.uid == owner_uid => {
                if matches(labels) {
                    c.owned.push(o);
                } else if !owner_deleting {
                    c.release.push(o);
                }
            }
            Some(_) => {}
            None => {
                if !owner_deleting && !is_deleting(meta) && matches(labels) {
                    c.adopt.push(o);
                }
            }
        }
    }
    c
}

/// The owner references of `meta` with `owner` added (adopt).
pub fn with_owner(meta: &ObjectMeta, owner: &OwnerReference) -> Vec<OwnerReference> {
    let mut refs: Vec<OwnerReference> = meta
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner.uid)
        .collect();
    refs.push(owner.clone());
    refs
}

/// The owner references of `meta` without the owner `uid` (release/orphan).
pub fn without_owner(meta: &ObjectMeta, uid: &str) -> Vec<OwnerReference> {
    meta.owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != uid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn keys_round_trip() {
        assert_eq!(key(Some("ns"), "a"), "ns/a");
        assert_eq!(key(None, "n1"), "n1");
        assert_eq!(key(Some(""), "n1"), "n1");
        assert_eq!(split_key("ns/a"), ("ns", "a"));
        assert_eq!(split_key("n1"), ("", "n1"));
    }

    #[test]
    fn label_selectors() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "fe")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cases = [
            (json!({}), true),
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["fe"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Bogus"}]}),
                false,
            ),
        ];
        for (sel, want) in cases {
            let s: LabelSelector = serde_json::from_value(sel.clone()).unwrap();
            assert_eq!(selector_matches(&s, &labels), want, "{sel}");
        }
        let s: LabelSelector = serde_json::from_value(json!({"matchLabels": {"a": "1"},
            "matchExpressions": [{"key": "b", "operator": "In", "values": ["x", "y"]}, {"key": "c", "operator": "Exists"}]}))
        .unwrap();
        assert_eq!(selector_string(&s), "a=1,b in (x,y),c");
    }

    #[test]
    fn map_selectors_need_all_pairs_and_are_never_empty() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        assert!(map_selector_matches(&labels.clone(), &labels));
        assert!(!map_selector_matches(&BTreeMap::new(), &labels));
        let two: BTreeMap<String, String> = [("app", "web"), ("x", "y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(!map_selector_matches(&two, &labels));
    }

    #[test]
    fn pod_state_helpers() {
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let ready = pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "1970-01-12T13:46:40Z"}]}}),
        );
        assert!(is_pod_ready(&ready));
        assert!(is_pod_active(&ready));
        assert!(is_pod_available(&ready, 0, t0));
        assert!(is_pod_available(&ready, 10, add_secs(t0, 10)));
        assert!(!is_pod_available(&ready, 10, add_secs(t0, 9)));
        assert_eq!(
            until_available(&ready, 10, add_secs(t0, 4)),
            Some(Duration::from_secs(6))
        );
        let done = pod(json!({"metadata": {"name": "b"}, "status": {"phase": "Succeeded"}}));
        assert!(is_pod_terminal(&done) && !is_pod_active(&done) && !is_pod_ready(&done));
        let deleting =
            pod(json!({"metadata": {"name": "c", "deletionTimestamp": "2020-01-01T00:00:00Z"}}));
        assert!(!is_pod_active(&deleting));
    }

    #[test]
    fn deletion_order_prefers_unscheduled_pending_unready_newer() {
        let mk = |name: &str, node: Option<&str>, phase: &str, ready: bool, created: &str| {
            pod(
                json!({"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"containers": [], "nodeName": node},
                "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                    "lastTransitionTime": created}]}}),
            )
        };
        let mut pods = [
            mk(
                "ready-old",
                Some("n"),
                "Running",
                true,
                "2020-01-01T00:00:00Z",
            ),
            mk(
                "unscheduled",
                None,
                "Pending",
                false,
                "2020-01-01T00:00:00Z",
            ),
            mk(
                "pending",
                Some("n"),
                "Pending",
                false,
                "2020-01-01T00:00:00Z",
            ),
            mk(
                "running-unready",
                Some("n"),
                "Running",
                false,
                "2020-01-01T00:00:00Z",
            ),
            mk(
                "ready-new",
                Some("n"),
                "Running",
                true,
                "2020-01-02T00:00:00Z",
            ),
        ];
        pods.sort_by(deletion_order);
        let names: Vec<&str> = pods
            .iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "unscheduled",
                "pending",
                "running-unready",
                "ready-new",
                "ready-old"
            ]
        );
    }

    #[test]
    fn tolerations_match_taints() {
        let taint = |k: &str, v: Option<&str>, e: &str| Taint {
            key: k.into(),
            value: v.map(String::from),
            effect: e.into(),
            time_added: None,
        };
        let tol = |v: serde_json::Value| -> Toleration { serde_json::from_value(v).unwrap() };
        let cases = [
            (
                json!({"operator": "Exists"}),
                taint("a", None, "NoSchedule"),
                true,
            ),
            (
                json!({"key": "a", "operator": "Exists"}),
                taint("a", Some("x"), "NoExecute"),
                true,
            ),
            (
                json!({"key": "a", "operator": "Exists", "effect": "NoSchedule"}),
                taint("a", None, "NoExecute"),
                false,
            ),
            (
                json!({"key": "a", "value": "x"}),
                taint("a", Some("x"), "NoSchedule"),
                true,
            ),
            (
                json!({"key": "a", "value": "y", "operator": "Equal"}),
                taint("a", Some("x"), "NoSchedule"),
                false,
            ),
            (
                json!({"key": "b", "operator": "Exists"}),
                taint("a", None, "NoSchedule"),
                false,
            ),
        ];
        for (t, taint, want) in cases {
            assert_eq!(tolerates(&tol(t.clone()), &taint), want, "{t} vs {taint:?}");
        }
    }

    #[test]
    fn node_affinity_and_selectors() {
        let node: Node = serde_json::from_value(
            json!({"metadata": {"name": "n1", "labels": {"zone": "a", "cpu": "8"}}}),
        )
        .unwrap();
        let spec = |v: serde_json::Value| -> k8s_openapi::api::core::v1::PodSpec {
            serde_json::from_value(
                json!({"containers": []})
                    .as_object()
                    .unwrap()
                    .clone()
                    .into_iter()
                    .chain(v.as_object().unwrap().clone())
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            )
            .unwrap()
        };
        let aff = |terms: serde_json::Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
        let cases = [
            (json!({}), true),
            (json!({"nodeSelector": {"zone": "a"}}), true),
            (json!({"nodeSelector": {"zone": "b"}}), false),
            (
                aff(
                    json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]),
                ),
                true,
            ),
            (
                aff(
                    json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]),
                ),
                false,
            ),
            (
                aff(
                    json!([{"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["4"]}]}]),
                ),
                true,
            ),
            (
                aff(
                    json!([{"matchExpressions": [{"key": "cpu", "operator": "Lt", "values": ["4"]}]},
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]),
                ),
                true,
            ),
            (aff(json!([{}])), false),
        ];
        for (s, want) in cases {
            assert_eq!(
                pod_fits_node_selectors(&spec(s.clone()), &node),
                want,
                "{s}"
            );
        }
    }

    #[test]
    fn hashes_are_stable_and_safe() {
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        let t: PodTemplateSpec = serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap();
        let h = template_hash(&t, None);
        assert_eq!(h, template_hash(&t, None));
        assert_ne!(h, template_hash(&t, Some(1)));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        let mut with_hash = t.clone();
        with_hash
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH_LABEL.into(), h);
        assert!(templates_equal_ignoring_hash(&t, &with_hash));
        let mut other = t.clone();
        other.spec.as_mut().unwrap().containers[0].image = Some("j".into());
        assert!(!templates_equal_ignoring_hash(&t, &other));
        // A defaulted copy equals the original.
        let d = defaulted_template(&t);
        assert_eq!(
            d.spec.as_ref().unwrap().dns_policy.as_deref(),
            Some("ClusterFirst")
        );
        assert_eq!(
            d.spec.as_ref().unwrap().containers[0]
                .image_pull_policy
                .as_deref(),
            Some("Always")
        );
        assert!(templates_equal_ignoring_hash(&t, &d));
    }

    #[test]
    fn slow_start_doubles() {
        assert_eq!(slow_start_batches(0, 1), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1, 1), vec![1]);
        assert_eq!(slow_start_batches(10, 1), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(500, 1).iter().sum::<usize>(), 500);
    }

    #[test]
    fn patches_guard_with_test_ops() {
        let p = remove_finalizer_patch(&["a".into(), "b".into()], "a");
        assert_eq!(
            p,
            json!([{"op": "test", "path": "/metadata/finalizers", "value": ["a", "b"]},
            {"op": "replace", "path": "/metadata/finalizers", "value": ["b"]}])
        );
        let p = remove_finalizer_patch(&["a".into()], "a");
        assert_eq!(
            p[1],
            json!({"op": "remove", "path": "/metadata/finalizers"})
        );
        let r = controller_owner_ref("apps/v1", "ReplicaSet", "rs", "u1");
        let p = owner_refs_patch(None, std::slice::from_ref(&r));
        assert_eq!(p[0]["op"], "add");
        let p = owner_refs_patch(Some(&vec![r]), &[]);
        assert_eq!(
            p[1],
            json!({"op": "remove", "path": "/metadata/ownerReferences"})
        );
    }

    #[test]
    fn claim_sorts_owned_orphans_and_released() {
        let mk = |name: &str, app: &str, owner: Option<&str>| -> Pod {
            let refs = owner.map(|u| vec![controller_owner_ref("apps/v1", "ReplicaSet", "rs", u)]);
            Pod {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    labels: Some([("app".to_string(), app.to_string())].into()),
                    owner_references: refs,
                    ..Default::default()
                },
                ..Default::default()
            }
        };
        let pods = [
            mk("mine", "web", Some("u1")),
            mk("orphan", "web", None),
            mk("other", "web", Some("u2")),
            mk("mine-relabelled", "db", Some("u1")),
            mk("orphan-db", "db", None),
        ];
        let web = |l: &BTreeMap<String, String>| l.get("app").map(String::as_str) == Some("web");
        let names = |v: &[&Pod]| {
            v.iter()
                .map(|p| p.metadata.name.clone().unwrap())
                .collect::<Vec<_>>()
        };
        let c = claim(pods.iter(), "u1", false, web);
        assert_eq!(names(&c.owned), ["mine"]);
        assert_eq!(names(&c.adopt), ["orphan"]);
        assert_eq!(names(&c.release), ["mine-relabelled"]);
        let c = claim(pods.iter(), "u1", true, web);
        assert!(c.adopt.is_empty() && c.release.is_empty());
        let owner = controller_owner_ref("apps/v1", "ReplicaSet", "rs", "u9");
        assert_eq!(with_owner(&pods[0].metadata, &owner).len(), 2);
        assert!(without_owner(&pods[0].metadata, "u1").is_empty());
    }
}
