//! What the real API server does to an object between decoding and storage:
//! defaulting, the built-in admission plugins kubemark relies on
//! (ServiceAccount, DefaultTolerationSeconds), the create/update strategies
//! (status reset, generation) and validation of the essentials. Pure
//! functions over JSON values.

pub mod kinds;

use apimachinery::registry::ResourceInfo;
use apimachinery::{ApiError, Cause};
use serde_json::{json, Map, Value};

/// Characters the real server uses for `generateName` suffixes and
/// generated volume names (no vowels, no confusable digits).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random lower-case suffix of `n` characters from the real alphabet.
pub fn random_suffix(n: usize) -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(n);
    for i in 0..n {
        let b = bytes[i % bytes.len()] as usize + i * 7;
        out.push(NAME_ALPHABET[b % NAME_ALPHABET.len()] as char);
    }
    out
}

fn obj_mut(v: &mut Value) -> Option<&mut Map<String, Value>> {
    v.as_object_mut()
}

/// `v[key]`, creating an empty object there when missing or not an object
/// or array.
fn child<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    // Indexing an object by key inserts `null` when missing; never panics.
    let entry = &mut v[key];
    if !entry.is_object() && !entry.is_array() {
        *entry = Value::Object(Map::new());
    }
    entry
}

fn set_default(v: &mut Value, key: &str, default: Value) {
    if let Some(m) = obj_mut(v) {
        match m.get(key) {
            None | Some(Value::Null) => {
                m.insert(key.to_string(), default);
            }
            _ => {}
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Defaults of a container as the real `SetDefaults_Container` applies them.
fn default_container(c: &mut Value) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let latest = {
        // The tag is after the last ':' that follows the last '/'.
        let last = image.rsplit('/').next().unwrap_or("");
        let no_digest = !image.contains('@');
        match last.rsplit_once(':') {
            Some((_, tag)) => no_digest && tag == "latest",
            None => no_digest,
        }
    };
    set_default(
        c,
        "imagePullPolicy",
        json!(if latest { "Always" } else { "IfNotPresent" }),
    );
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    // Requests default to limits when only limits are given.
    let limits = c.pointer("/resources/limits").cloned();
    if let Some(Value::Object(limits)) = limits {
        let requests = child(child(c, "resources"), "requests");
        for (k, v) in limits {
            set_default(requests, &k, v);
        }
    }
}

/// Pod spec defaults shared by pods and workload templates.
pub fn default_pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                default_container(c);
            }
        }
    }
}

/// The pod's QoS class from its containers' requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let relevant = |m: Option<&Map<String, Value>>| {
            m.map(|m| {
                m.iter()
                    .filter(|(k, _)| *k == "cpu" || *k == "memory")
                    .count()
            })
            .unwrap_or(0)
        };
        if relevant(requests) > 0 || relevant(limits) > 0 {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let l = limits.and_then(|m| m.get(res));
            let r = requests.and_then(|m| m.get(res));
            match (l, r) {
                (Some(l), Some(r)) if l == r => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The ServiceAccount admission plugin: default the account and mount the
/// projected `kube-api-access-*` token volume (so that kubelets request a
/// token for the pod, as they do on a real cluster).
fn admit_service_account(pod: &mut Value) {
    let spec = child(pod, "spec");
    let sa = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .or_else(|| spec.get("serviceAccount").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    if let Some(m) = obj_mut(spec) {
        m.insert("serviceAccountName".into(), json!(sa));
        m.insert("serviceAccount".into(), json!(sa));
    }
    if spec.get("automountServiceAccountToken") == Some(&Value::Bool(false)) {
        return;
    }
    const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
    let already = ["containers", "initContainers"].iter().any(|k| {
        spec.get(*k).and_then(Value::as_array).is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("volumeMounts")
                    .and_then(Value::as_array)
                    .is_some_and(|vm| {
                        vm.iter()
                            .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
                    })
            })
        })
    });
    if already {
        return;
    }
    let volume_name = format!("kube-api-access-{}", random_suffix(5));
    let volume = json!({
        "name": volume_name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
            ]
        }
    });
    let volumes = child(spec, "volumes");
    if !volumes.is_array() {
        *volumes = json!([]);
    }
    if let Some(vs) = volumes.as_array_mut() {
        vs.push(volume);
    }
    for k in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(k).and_then(Value::as_array_mut) {
            for c in cs {
                let mounts = child(c, "volumeMounts");
                if !mounts.is_array() {
                    *mounts = json!([]);
                }
                if let Some(ms) = mounts.as_array_mut() {
                    ms.push(
                        json!({"mountPath": MOUNT_PATH, "name": volume_name, "readOnly": true}),
                    );
                }
            }
        }
    }
}

/// DefaultTolerationSeconds: tolerate not-ready and unreachable for 300 s
/// unless the pod already tolerates them.
fn admit_default_tolerations(spec: &mut Value) {
    let tolerations = child(spec, "tolerations");
    if !tolerations.is_array() {
        *tolerations = json!([]);
    }
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key || (k.is_empty() && op == "Exists"))
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            list.push(json!({"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}));
        }
    }
}

fn default_template(obj: &mut Value) {
    if let Some(spec) = obj.pointer_mut("/spec/template/spec") {
        default_pod_spec(spec);
    }
}

fn default_rolling(spec: &mut Value, key: &str, surge: Value, unavailable: Value) {
    let strategy = child(spec, key);
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = child(strategy, "rollingUpdate");
        if !surge.is_null() {
            set_default(ru, "maxSurge", surge);
        }
        set_default(ru, "maxUnavailable", unavailable);
    }
}

/// Whether the kind tracks `metadata.generation` for spec changes.
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        info.kind,
        "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "ReplicationController"
            | "PriorityClass"
    ) || info.group == "storage.k8s.io"
        || kinds::TRACK_GENERATION.contains(&(info.group, info.kind))
}

/// Kinds whose Go type has a non-pointer `spec`, which the real server
/// always serializes (at least as `{}`).
fn has_spec(info: &ResourceInfo) -> bool {
    matches!(
        info.kind,
        "Pod"
            | "Node"
            | "Namespace"
            | "Service"
            | "ReplicationController"
            | "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "Lease"
            | "CSIDriver"
            | "CSINode"
    ) || kinds::WITH_SPEC.contains(&(info.group, info.kind))
}

/// Defaults that every write gets (the real server defaults on update and
/// patch too): spec fields and pod templates. Idempotent; never touches
/// status.
pub fn default_on_update(info: &ResourceInfo, obj: &mut Value) {
    if has_spec(info) {
        set_default(obj, "spec", json!({}));
    }
    match (info.group, info.kind) {
        ("", "Secret") => set_default(obj, "type", json!("Opaque")),
        ("apps", "Deployment") => {
            let spec = child(obj, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            default_rolling(spec, "strategy", json!("25%"), json!("25%"));
            default_template(obj);
        }
        ("apps", "ReplicaSet" | "StatefulSet") | ("", "ReplicationController") => {
            set_default(child(obj, "spec"), "replicas", json!(1));
            default_template(obj);
        }
        ("apps", "DaemonSet") | ("batch", "Job") => default_template(obj),
        _ => kinds::default_spec(info.group, info.kind, obj),
    }
}

/// Create-time defaulting and admission. `now` is RFC 3339.
pub fn default_on_create(info: &ResourceInfo, obj: &mut Value) {
    if has_spec(info) {
        set_default(obj, "spec", json!({}));
    }
    match (info.group, info.kind) {
        ("", "Pod") => {
            let spec = child(obj, "spec");
            default_pod_spec(spec);
            set_default(spec, "enableServiceLinks", json!(true));
            set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            set_default(spec, "priority", json!(0));
            admit_default_tolerations(spec);
            admit_service_account(obj);
            let qos = qos_class(obj.get("spec").unwrap_or(&Value::Null));
            if let Some(m) = obj_mut(obj) {
                m.insert(
                    "status".into(),
                    json!({"phase": "Pending", "qosClass": qos}),
                );
            }
        }
        ("", "Namespace") => {
            let name = str_at(obj, &["metadata", "name"]).unwrap_or("").to_string();
            let labels = child(child(obj, "metadata"), "labels");
            set_default(labels, "kubernetes.io/metadata.name", json!(name));
            let spec = child(obj, "spec");
            set_default(spec, "finalizers", json!(["kubernetes"]));
            if let Some(m) = obj_mut(obj) {
                m.insert("status".into(), json!({"phase": "Active"}));
            }
        }
        ("", "Secret") => set_default(obj, "type", json!("Opaque")),
        ("", "Service") => {
            let spec = child(obj, "spec");
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            if spec.get("type").and_then(Value::as_str) != Some("ExternalName") {
                set_default(spec, "ipFamilies", json!(["IPv4"]));
                set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        set_default(p, "targetPort", port);
                    }
                }
            }
            if let Some(m) = obj_mut(obj) {
                m.insert("status".into(), json!({"loadBalancer": {}}));
            }
        }
        ("", "ReplicationController") => {
            let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
            let spec = child(obj, "spec");
            set_default(spec, "replicas", json!(1));
            if let Some(labels) = template_labels {
                set_default(spec, "selector", labels);
            }
            default_template(obj);
            reset_status(obj);
        }
        ("apps", "Deployment") => {
            let spec = child(obj, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            default_rolling(spec, "strategy", json!("25%"), json!("25%"));
            default_template(obj);
            reset_status(obj);
        }
        ("apps", "ReplicaSet") => {
            set_default(child(obj, "spec"), "replicas", json!(1));
            default_template(obj);
            reset_status(obj);
        }
        ("apps", "StatefulSet") => {
            let spec = child(obj, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "revisionHistoryLimit", json!(10));
            let strategy = child(spec, "updateStrategy");
            set_default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                set_default(child(strategy, "rollingUpdate"), "partition", json!(0));
            }
            default_template(obj);
            reset_status(obj);
        }
        ("apps", "DaemonSet") => {
            let spec = child(obj, "spec");
            set_default(spec, "revisionHistoryLimit", json!(10));
            default_rolling(spec, "updateStrategy", json!(0), json!(1));
            default_template(obj);
            reset_status(obj);
        }
        ("batch", "Job") => {
            let spec = child(obj, "spec");
            let has_completions = spec.get("completions").is_some_and(|v| !v.is_null());
            let has_parallelism = spec.get("parallelism").is_some_and(|v| !v.is_null());
            if !has_completions && !has_parallelism {
                set_default(spec, "completions", json!(1));
            }
            set_default(spec, "parallelism", json!(1));
            set_default(spec, "backoffLimit", json!(6));
            set_default(spec, "completionMode", json!("NonIndexed"));
            set_default(spec, "suspend", json!(false));
            default_job_selector(obj);
            default_template(obj);
            reset_status(obj);
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            set_default(obj, "preemptionPolicy", json!("PreemptLowerPriority"))
        }
        ("storage.k8s.io", "CSIDriver") => {
            let spec = child(obj, "spec");
            set_default(spec, "attachRequired", json!(true));
            set_default(spec, "podInfoOnMount", json!(false));
            set_default(spec, "requiresRepublish", json!(false));
            set_default(spec, "storageCapacity", json!(false));
            set_default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
            set_default(spec, "volumeLifecycleModes", json!(["Persistent"]));
        }
        _ => {
            kinds::default_spec(info.group, info.kind, obj);
            kinds::default_create(info.group, info.kind, obj);
        }
    }
}

/// Jobs without `manualSelector` get a `controller-uid` selector and template
/// labels, as the real job strategy generates them. The uid is filled in by
/// [`finish_job_selector`] once the object has one.
fn default_job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("").to_string();
    let labels = child(
        child(child(child(obj, "spec"), "template"), "metadata"),
        "labels",
    );
    if let Some(m) = labels.as_object_mut() {
        m.insert("job-name".into(), json!(name));
    }
}

/// Completes the generated Job selector with the object's uid.
pub fn finish_job_selector(obj: &mut Value, uid: &str) {
    if obj.get("kind").and_then(Value::as_str) != Some("Job") {
        return;
    }
    if obj.pointer("/spec/manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let labels = child(
        child(child(child(obj, "spec"), "template"), "metadata"),
        "labels",
    );
    if let Some(m) = labels.as_object_mut() {
        m.insert("controller-uid".into(), json!(uid));
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"controller-uid": uid}}),
        );
    }
}

fn reset_status(obj: &mut Value) {
    if let Some(m) = obj_mut(obj) {
        m.insert("status".into(), json!({}));
    }
}

/// Whether a kind has a `status` subresource, so that writes to the main
/// resource leave status alone and writes to status leave the rest alone.
pub fn has_status_subresource(info: &ResourceInfo) -> bool {
    info.subresource("status").is_some()
}

/// Update strategy: carries over what the client may not change through this
/// endpoint, and bumps `generation` when the spec changed.
pub fn prepare_update(info: &ResourceInfo, subresource: &str, new: &mut Value, old: &Value) {
    // Fields owned by the server are never taken from the client.
    for key in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        let old_val = old.pointer(&format!("/metadata/{key}")).cloned();
        let meta = child(new, "metadata");
        if let Some(m) = meta.as_object_mut() {
            match old_val {
                Some(v) => {
                    m.insert(key.to_string(), v);
                }
                None => {
                    m.remove(key);
                }
            }
        }
    }
    if subresource == "status" {
        // Status writes change only status.
        let status = new.get("status").cloned();
        *new = old.clone();
        if let Some(m) = obj_mut(new) {
            match status {
                Some(s) => m.insert("status".into(), s),
                None => m.remove("status"),
            };
        }
        // resourceVersion precondition is the caller's; keep the client's.
        return;
    }
    if has_status_subresource(info) && info.kind != "Namespace" {
        if let Some(m) = obj_mut(new) {
            match old.get("status") {
                Some(s) => m.insert("status".into(), s.clone()),
                None => m.remove("status"),
            };
        }
    }
    if info.kind == "Namespace" {
        // Namespace status is only changed through namespaces/status.
        if let (Some(m), Some(s)) = (obj_mut(new), old.get("status")) {
            m.insert("status".into(), s.clone());
        }
        // spec.finalizers only through namespaces/finalize.
        if subresource != "finalize" {
            if let (Some(m), Some(s)) = (obj_mut(new), old.get("spec")) {
                m.insert("spec".into(), s.clone());
            }
        }
    }
    if info.kind == "Pod" {
        // The pod's QoS class is fixed at creation.
        if let Some(q) = old.pointer("/status/qosClass").cloned() {
            if let Some(st) = child(new, "status").as_object_mut() {
                st.insert("qosClass".into(), q);
            }
        }
    }
    if tracks_generation(info) && new.get("spec") != old.get("spec") {
        let gen = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        if let Some(m) = child(new, "metadata").as_object_mut() {
            m.insert("generation".into(), json!(gen));
        }
    }
}

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_label_part(s)
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label_part)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase())
}

/// Which name rule a kind's `metadata.name` follows.
fn validate_name(info: &ResourceInfo, name: &str, causes: &mut Vec<Cause>) {
    let field = "metadata.name";
    let v = json!(name);
    let (ok, msg, max) = match info.kind {
        // `v1.`, `v1.apps`, `system:basic-user`: any valid path segment
        // (`IsValidPathSegmentName`, as the real RBAC and APIService
        // validation use).
        _ if info.kind == "APIService" || info.group == "rbac.authorization.k8s.io" => (
            name != "." && name != ".." && !name.contains(['/', '%']),
            "may not contain '/' or '%' or be '.' or '..'",
            usize::MAX,
        ),
        "Namespace" => (is_dns1123_label(name), DNS1123_LABEL_MSG, 63),
        "Service" => (is_dns1035_label(name), DNS1035_LABEL_MSG, 63),
        // Nodes, events and leases allow subdomain names; so do most kinds.
        _ => (is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG, 253),
    };
    if name.len() > max {
        causes.push(Cause::invalid(
            field,
            &v,
            &format!("must be no more than {max} characters"),
        ));
    } else if !ok {
        causes.push(Cause::invalid(field, &v, msg));
    }
}

fn validate_containers(spec: &Value, prefix: &str, causes: &mut Vec<Cause>) {
    match spec.get("containers").and_then(Value::as_array) {
        None => causes.push(Cause::required(&format!("{prefix}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(Cause::required(&format!("{prefix}.containers"))),
        Some(cs) => {
            let mut seen = Vec::new();
            for (i, c) in cs.iter().enumerate() {
                let field = format!("{prefix}.containers[{i}]");
                match c.get("name").and_then(Value::as_str) {
                    None | Some("") => causes.push(Cause::required(&format!("{field}.name"))),
                    Some(n) => {
                        if !is_dns1123_label(n) {
                            causes.push(Cause::invalid(
                                &format!("{field}.name"),
                                &json!(n),
                                DNS1123_LABEL_MSG,
                            ));
                        }
                        if seen.contains(&n) {
                            causes.push(Cause::duplicate(&format!("{field}.name"), &json!(n)));
                        }
                        seen.push(n);
                    }
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(Cause::required(&format!("{field}.image")));
                }
            }
        }
    }
    if let Some(rp) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !matches!(rp, "Always" | "OnFailure" | "Never") {
            causes.push(Cause::not_supported(
                &format!("{prefix}.restartPolicy"),
                &json!(rp),
                &["Always", "OnFailure", "Never"],
            ));
        }
    }
}

fn labels_of(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// Checks that `spec.selector` (metav1.LabelSelector) matches the template.
fn validate_selector_matches_template(obj: &Value, causes: &mut Vec<Cause>) {
    let selector = match obj.pointer("/spec/selector") {
        Some(s) if !s.is_null() => s,
        _ => {
            causes.push(Cause::required("spec.selector"));
            return;
        }
    };
    let parsed = match apimachinery::selector::LabelSelector::from_label_selector_json(selector) {
        Ok(s) => s,
        Err(e) => {
            causes.push(Cause::invalid("spec.selector", selector, &e.to_string()));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push(Cause::invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ));
        return;
    }
    let labels = labels_of(obj.pointer("/spec/template/metadata/labels"));
    let as_map: std::collections::BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    if !parsed.matches(&as_map) {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &Value::Object(labels),
            "`selector` does not match template `labels`",
        ));
    }
}

fn validate_non_negative(obj: &Value, pointer: &str, field: &str, causes: &mut Vec<Cause>) {
    if let Some(v) = obj.pointer(pointer) {
        match v.as_i64() {
            Some(n) if n >= 0 => {}
            Some(_) => causes.push(Cause::invalid(
                field,
                v,
                "must be greater than or equal to 0",
            )),
            None if v.is_null() => {}
            None => causes.push(Cause::invalid(field, v, "must be an integer")),
        }
    }
}

/// Validation of the essentials; an empty result means valid.
pub fn validate(info: &ResourceInfo, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else {
        validate_name(info, name, &mut causes);
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if !v.is_string() {
                causes.push(Cause::invalid(
                    "metadata.labels",
                    v,
                    "label values must be strings",
                ));
            } else {
                for msg in apimachinery::selector::is_qualified_name(k) {
                    causes.push(Cause::invalid("metadata.labels", &json!(k), &msg));
                }
                for msg in apimachinery::selector::is_valid_label_value(v.as_str().unwrap_or("")) {
                    causes.push(Cause::invalid("metadata.labels", v, &msg));
                }
            }
        }
    }
    match (info.group, info.kind) {
        ("", "Pod") => {
            if let Some(spec) = obj.get("spec") {
                validate_containers(spec, "spec", &mut causes);
            } else {
                causes.push(Cause::required("spec.containers"));
            }
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            validate_non_negative(obj, "/spec/replicas", "spec.replicas", &mut causes);
            validate_selector_matches_template(obj, &mut causes);
            match obj.pointer("/spec/template/spec") {
                Some(spec) => validate_containers(spec, "spec.template.spec", &mut causes),
                None => causes.push(Cause::required("spec.template.spec.containers")),
            }
        }
        ("batch", "Job") => {
            validate_non_negative(obj, "/spec/parallelism", "spec.parallelism", &mut causes);
            validate_non_negative(obj, "/spec/completions", "spec.completions", &mut causes);
            match obj.pointer("/spec/template/spec") {
                Some(spec) => {
                    validate_containers(spec, "spec.template.spec", &mut causes);
                    let rp = spec
                        .get("restartPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("Always");
                    if rp != "Never" && rp != "OnFailure" {
                        causes.push(Cause::not_supported(
                            "spec.template.spec.restartPolicy",
                            &json!(rp),
                            &["OnFailure", "Never"],
                        ));
                    }
                }
                None => causes.push(Cause::required("spec.template.spec.containers")),
            }
        }
        ("", "ReplicationController") => {
            validate_non_negative(obj, "/spec/replicas", "spec.replicas", &mut causes);
            match obj.pointer("/spec/template/spec") {
                Some(spec) => validate_containers(spec, "spec.template.spec", &mut causes),
                None => causes.push(Cause::required("spec.template")),
            }
        }
        ("", "Service") => {
            let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
            let external =
                obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
            if ports.is_none_or(Vec::is_empty) && !headless && !external {
                causes.push(Cause::required("spec.ports"));
            }
            for (i, p) in ports.into_iter().flatten().enumerate() {
                match p.get("port").and_then(Value::as_i64) {
                    Some(n) if (1..=65535).contains(&n) => {}
                    Some(n) => causes.push(Cause::invalid(
                        &format!("spec.ports[{i}].port"),
                        &json!(n),
                        "must be between 1 and 65535, inclusive",
                    )),
                    None => causes.push(Cause::required(&format!("spec.ports[{i}].port"))),
                }
            }
        }
        ("coordination.k8s.io", "Lease") => {
            validate_non_negative(
                obj,
                "/spec/leaseDurationSeconds",
                "spec.leaseDurationSeconds",
                &mut causes,
            );
        }
        _ => kinds::validate(info.group, info.kind, obj, &mut causes),
    }
    causes
}

/// Fields that may not change after creation, checked on update.
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let immutable = |ptr: &str, field: &str, causes: &mut Vec<Cause>| {
        let (n, o) = (new.pointer(ptr), old.pointer(ptr));
        if n != o && o.is_some() {
            causes.push(Cause::invalid(
                field,
                n.unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
    };
    match (info.group, info.kind) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            immutable("/spec/selector", "spec.selector", &mut causes)
        }
        ("batch", "Job") => immutable("/spec/selector", "spec.selector", &mut causes),
        ("", "Service") => {
            // An omitted clusterIP on update keeps the allocated one (the
            // caller copies it over); a different one is refused.
            if let (Some(n), Some(o)) = (
                new.pointer("/spec/clusterIP"),
                old.pointer("/spec/clusterIP"),
            ) {
                if n != o && !n.as_str().unwrap_or("").is_empty() {
                    causes.push(Cause::invalid("spec.clusterIP", n, "field is immutable"));
                }
            }
        }
        ("", "Pod") => {
            // Pod specs are immutable except images, activeDeadlineSeconds
            // and added tolerations (and nodeName through binding).
            let strip = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                for list in ["containers", "initContainers"] {
                    if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                        for c in cs {
                            if let Some(m) = c.as_object_mut() {
                                m.remove("image");
                            }
                        }
                    }
                }
                if let Some(m) = spec.as_object_mut() {
                    m.remove("activeDeadlineSeconds");
                    m.remove("tolerations");
                }
                spec
            };
            if strip(new) != strip(old) {
                causes.push(Cause::forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
            }
        }
        _ => kinds::validate_update(info.group, info.kind, new, old, &mut causes),
    }
    causes
}

/// Builds the 422 error for a kind from causes.
pub fn invalid(info: &ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid(info.group, info.kind, name, causes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apimachinery::registry::lookup;

    fn info(group: &str, plural: &str) -> &'static ResourceInfo {
        lookup(group, "v1", plural).expect("resource")
    }

    #[test]
    fn pod_defaults_match_a_real_pod() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9"}]}});
        default_on_create(info("", "pods"), &mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(2));
        let vol = spec["volumes"][0]["name"].as_str().expect("volume");
        assert!(vol.starts_with("kube-api-access-") && vol.len() == "kube-api-access-".len() + 5);
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["name"], vol);
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn qos_classes() {
        let c = |res: Value| json!({"containers": [{"name": "c", "image": "i", "resources": res}]});
        assert_eq!(qos_class(&c(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&c(json!({"requests": {"cpu": "1m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&c(
                json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&c(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
    }

    #[test]
    fn latest_images_are_always_pulled() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.2", "IfNotPresent"),
            ("reg:5000/nginx", "Always"),
            ("a@sha256:x", "IfNotPresent"),
        ] {
            let mut c = json!({"name": "c", "image": image});
            default_container(&mut c);
            assert_eq!(c["imagePullPolicy"], policy, "{image}");
        }
    }

    #[test]
    fn invalid_pod_matches_the_real_message() {
        let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[]}});
        let causes = validate(info("", "pods"), &pod);
        let e = invalid(info("", "pods"), "bad", causes);
        assert_eq!(
            e.message,
            "Pod \"bad\" is invalid: spec.containers: Required value"
        );
    }

    #[test]
    fn deployment_selector_must_match() {
        let d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let causes = validate(info("apps", "deployments"), &d);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(causes[0].field, "spec.template.metadata.labels");
    }

    #[test]
    fn names_are_checked() {
        let bad = json!({"metadata": {"name": "Bad_Name"}, "data": {}});
        let causes = validate(info("", "configmaps"), &bad);
        assert_eq!(causes[0].field, "metadata.name");
        assert!(causes[0].message.contains("RFC 1123 subdomain"));
        let missing = json!({"metadata": {}});
        assert_eq!(
            validate(info("", "configmaps"), &missing)[0].message,
            "Required value: name or generateName is required"
        );
    }

    #[test]
    fn status_updates_keep_spec_and_main_updates_keep_status() {
        let pods = info("", "pods");
        let old = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"a": 1}, "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        let mut status_write =
            json!({"metadata": {"name": "p"}, "spec": {"a": 2}, "status": {"phase": "Running"}});
        prepare_update(pods, "status", &mut status_write, &old);
        assert_eq!(status_write["spec"]["a"], 1);
        assert_eq!(status_write["status"]["phase"], "Running");
        assert_eq!(status_write["metadata"]["uid"], "u");
        let mut main_write =
            json!({"metadata": {"name": "p"}, "spec": {"a": 2}, "status": {"phase": "Failed"}});
        prepare_update(pods, "", &mut main_write, &old);
        assert_eq!(main_write["status"]["phase"], "Pending");
    }

    #[test]
    fn generation_bumps_on_spec_change() {
        let d = info("apps", "deployments");
        let old = json!({"metadata": {"name": "d", "generation": 1}, "spec": {"replicas": 1}});
        let mut same = old.clone();
        prepare_update(d, "", &mut same, &old);
        assert_eq!(same["metadata"]["generation"], 1);
        let mut changed = json!({"metadata": {"name": "d"}, "spec": {"replicas": 2}});
        prepare_update(d, "", &mut changed, &old);
        assert_eq!(changed["metadata"]["generation"], 2);
    }

    #[test]
    fn pod_spec_is_mostly_immutable() {
        let pods = info("", "pods");
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a"}], "nodeName": ""}});
        let image = json!({"spec": {"containers": [{"name": "c", "image": "b"}], "nodeName": ""}});
        assert!(validate_update(pods, &image, &old).is_empty());
        let other = json!({"spec": {"containers": [{"name": "d", "image": "a"}], "nodeName": ""}});
        assert_eq!(validate_update(pods, &other, &old).len(), 1);
    }

    #[test]
    fn updates_are_defaulted_like_creates() {
        let d = info("apps", "deployments");
        let mut patched = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
        default_on_update(d, &mut patched);
        assert_eq!(patched["spec"]["replicas"], 1);
        assert_eq!(
            patched["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            patched["spec"]["template"]["spec"]["restartPolicy"],
            "Always"
        );
        let mut node = json!({"metadata": {"name": "n"}});
        default_on_create(info("", "nodes"), &mut node);
        assert_eq!(node["spec"], json!({}));
    }

    #[test]
    fn random_suffixes_use_the_real_alphabet() {
        let s = random_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| NAME_ALPHABET.contains(&b)));
    }
}
