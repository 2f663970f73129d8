//! A hollow node's Node object and status, pure: the object the kubelet
//! registers, and the `nodes/status` strategic-merge patch it sends when
//! something it owns changed or the report interval passed (the kubelet's
//! `tryUpdateNodeStatus`: heartbeat times alone do not count as a change).
//! Shapes follow `tests/reference/hollow-node-object-go-kubemark.json`.

use crate::ipam::Ipv4Cidr;
use crate::pod_status::{rfc3339, ConditionView};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Annotation naming the host of the process running a hollow node.
pub const ANNOTATION_HOLLOW_HOST: &str = "kubemark.io/hollow-host";
/// Annotation naming the process id running a hollow node.
pub const ANNOTATION_HOLLOW_PID: &str = "kubemark.io/hollow-pid";

/// The kubelet's `--register-with-taints` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeSpecError {
    #[error("invalid taint {0:?}: expected key[=value]:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute")]
    Taint(String),
    #[error("invalid label {0:?}: expected key=value")]
    Label(String),
    #[error("invalid extended resource {0:?}: expected name=quantity, e.g. example.com/gpu=4")]
    ExtendedResource(String),
    #[error("invalid quantity {value:?} for {what}: {why}")]
    Quantity {
        what: String,
        value: String,
        why: String,
    },
}

/// Parses `key1=v1,key2=v2` (`--node-labels`).
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, NodeSpecError> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| NodeSpecError::Label(part.to_string()))?;
        if k.trim().is_empty() {
            return Err(NodeSpecError::Label(part.to_string()));
        }
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Parses `key=value:Effect,key2:Effect` (`--register-with-taints`).
pub fn parse_taints(s: &str) -> Result<Vec<Taint>, NodeSpecError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || NodeSpecError::Taint(part.to_string());
        let (kv, effect) = part.rsplit_once(':').ok_or_else(bad)?;
        if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            return Err(bad());
        }
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        if key.is_empty() {
            return Err(bad());
        }
        out.push(Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
        });
    }
    Ok(out)
}

/// Parses `name=quantity,...` (`--extended-resources`), checking each
/// quantity.
pub fn parse_extended_resources(s: &str) -> Result<BTreeMap<String, String>, NodeSpecError> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| NodeSpecError::ExtendedResource(part.to_string()))?;
        if k.trim().is_empty() {
            return Err(NodeSpecError::ExtendedResource(part.to_string()));
        }
        check_quantity(k.trim(), v.trim())?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Checks that `value` is a Kubernetes quantity.
pub fn check_quantity(what: &str, value: &str) -> Result<(), NodeSpecError> {
    apimachinery::quantity::Quantity::parse(value)
        .map(|_| ())
        .map_err(|e| NodeSpecError::Quantity {
            what: what.to_string(),
            value: value.to_string(),
            why: e.to_string(),
        })
}

/// Everything that is the same for all nodes of a fleet (shared).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTemplate {
    /// `--node-labels`, added to the kubelet's default labels.
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// capacity (= allocatable): cpu, memory, pods, ephemeral-storage and
    /// extended resources.
    pub capacity: BTreeMap<String, String>,
    pub kubelet_version: String,
    pub proxy_version: String,
    pub kubelet_port: i64,
    /// Where the fleet runs, for the hollow-host annotation.
    pub host: String,
    pub pid: u32,
}

/// One node's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdent {
    pub name: String,
    pub internal_ip: Ipv4Addr,
    pub pod_cidr: Ipv4Cidr,
}

/// The kubelet's default labels plus the user's.
pub fn labels(tpl: &NodeTemplate, id: &NodeIdent) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    for (k, v) in [
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubemark", "true"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/os", "linux"),
    ] {
        l.insert(k.to_string(), v.to_string());
    }
    l.insert("kubernetes.io/hostname".to_string(), id.name.clone());
    for (k, v) in &tpl.labels {
        l.insert(k.clone(), v.clone());
    }
    l
}

fn annotations(tpl: &NodeTemplate) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert(ANNOTATION_HOLLOW_HOST.to_string(), tpl.host.clone());
    a.insert(ANNOTATION_HOLLOW_PID.to_string(), tpl.pid.to_string());
    a
}

/// A kubelet-owned condition: (type, status, reason, message).
pub type CondSpec = (&'static str, bool, &'static str, &'static str);

/// The kubelet's four conditions; Ready once the runtime is up.
pub fn kubelet_conditions(ready: bool) -> [CondSpec; 4] {
    [
        (
            "MemoryPressure",
            false,
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            false,
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            false,
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        if ready {
            (
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
            )
        } else {
            (
                "Ready",
                false,
                "KubeletNotReady",
                "container runtime status check may not have completed yet",
            )
        },
    ]
}

fn node_info(tpl: &NodeTemplate) -> Value {
    json!({
        "architecture": "amd64",
        "bootID": "",
        "containerRuntimeVersion": "fakeRuntime://0.1.0",
        "kernelVersion": "3.16.0-0.bpo.4-amd64",
        "kubeProxyVersion": tpl.proxy_version,
        "kubeletVersion": tpl.kubelet_version,
        "machineID": "",
        "operatingSystem": "linux",
        "osImage": "Debian GNU/Linux 7 (wheezy)",
        "systemUUID": "",
    })
}

fn addresses(id: &NodeIdent) -> Value {
    json!([
        {"address": id.internal_ip.to_string(), "type": "InternalIP"},
        {"address": id.name, "type": "Hostname"},
    ])
}

fn daemon_endpoints(tpl: &NodeTemplate) -> Value {
    json!({"kubeletEndpoint": {"Port": tpl.kubelet_port}})
}

fn condition_json(c: &CondSpec, heartbeat: &str, transition: &str) -> Value {
    json!({
        "lastHeartbeatTime": heartbeat,
        "lastTransitionTime": transition,
        "message": c.3,
        "reason": c.2,
        "status": if c.1 { "True" } else { "False" },
        "type": c.0,
    })
}

/// The kubelet's `status.images`: the images its (fake) runtime pulled,
/// names only (the fake image service reports no size), at most
/// [`MAX_NODE_IMAGES`] (the kubelet's `--node-status-max-images`).
pub fn images_json<'a>(images: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(
        images
            .into_iter()
            .take(MAX_NODE_IMAGES)
            .map(|i| json!({"names": [i]}))
            .collect(),
    )
}

/// The kubelet's default `--node-status-max-images`.
pub const MAX_NODE_IMAGES: usize = 50;

/// The Node the kubelet registers (CREATE): not Ready until its first
/// status update, as a real kubelet whose runtime check has not run yet.
pub fn node_object(tpl: &NodeTemplate, id: &NodeIdent, now: i64) -> Value {
    let t = rfc3339(now);
    // No podCIDR: the Go hollow kubelet never sets one; a controller-manager
    // allocating node CIDRs does. Pod IPs come from `id.pod_cidr` inside the
    // hollow node only.
    let mut spec = Map::new();
    spec.insert(
        "providerID".into(),
        json!(format!("kubemark://{}", id.name)),
    );
    if !tpl.taints.is_empty() {
        let taints: Vec<Value> = tpl
            .taints
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("effect".into(), json!(t.effect));
                m.insert("key".into(), json!(t.key));
                if !t.value.is_empty() {
                    m.insert("value".into(), json!(t.value));
                }
                Value::Object(m)
            })
            .collect();
        spec.insert("taints".into(), Value::Array(taints));
    }
    let conditions: Vec<Value> = kubelet_conditions(false)
        .iter()
        .map(|c| condition_json(c, &t, &t))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": annotations(tpl),
            "labels": labels(tpl, id),
            "name": id.name,
        },
        "spec": spec,
        "status": {
            "addresses": addresses(id),
            "allocatable": tpl.capacity,
            "capacity": tpl.capacity,
            "conditions": conditions,
            "daemonEndpoints": daemon_endpoints(tpl),
            "nodeInfo": node_info(tpl),
        },
    })
}

/// The server's Node, as far as a hollow node cares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeView {
    pub metadata: NodeMeta,
    pub spec: NodeSpecView,
    pub status: NodeStatusView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeMeta {
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeSpecView {
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeStatusView {
    pub conditions: Option<Vec<ConditionView>>,
    pub capacity: Option<BTreeMap<String, String>>,
    pub allocatable: Option<BTreeMap<String, String>>,
    pub addresses: Option<Vec<Value>>,
    pub node_info: Option<Value>,
    pub daemon_endpoints: Option<Value>,
    pub images: Option<Value>,
}

impl NodeView {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    pub fn condition(&self, kind: &str) -> Option<&ConditionView> {
        self.status
            .conditions
            .as_ref()
            .and_then(|cs| cs.iter().find(|c| c.kind == kind))
    }

    /// True when the server says the node is Ready.
    pub fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }
}

/// Why a status patch is sent, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchReason {
    Changed,
    Report,
}

/// The `nodes/status` patch for this sync, or `None` when nothing the
/// kubelet owns changed and no report is due (`force`). `images` is the
/// runtime's image list (see [`images_json`]).
pub fn status_patch(
    tpl: &NodeTemplate,
    id: &NodeIdent,
    server: &NodeView,
    images: &Value,
    ready: bool,
    force: bool,
    now: i64,
) -> Option<(Value, PatchReason)> {
    let conds = kubelet_conditions(ready);
    let cond_changed = conds.iter().any(|c| match server.condition(c.0) {
        None => true,
        Some(s) => {
            (s.status == "True") != c.1
                || s.reason.as_deref() != Some(c.2)
                || s.message.as_deref() != Some(c.3)
        }
    });
    let mut status = Map::new();
    let capacity = serde_json::to_value(&tpl.capacity).unwrap_or(Value::Null);
    let ours_in = |have: &Option<BTreeMap<String, String>>| {
        have.as_ref()
            .is_some_and(|h| tpl.capacity.iter().all(|(k, v)| h.get(k) == Some(v)))
    };
    if !ours_in(&server.status.capacity) {
        status.insert("capacity".into(), capacity.clone());
    }
    if !ours_in(&server.status.allocatable) {
        status.insert("allocatable".into(), capacity);
    }
    let addrs = addresses(id);
    if server.status.addresses.as_ref() != addrs.as_array() {
        status.insert("addresses".into(), addrs);
    }
    let info = node_info(tpl);
    let info_same = match (&server.status.node_info, info.as_object()) {
        (Some(have), Some(want)) => want.iter().all(|(k, v)| have.get(k) == Some(v)),
        _ => false,
    };
    if !info_same {
        status.insert("nodeInfo".into(), info);
    }
    let de = daemon_endpoints(tpl);
    if server.status.daemon_endpoints.as_ref() != Some(&de) {
        status.insert("daemonEndpoints".into(), de);
    }
    // An empty list is omitted on the wire, as the kubelet's is.
    let have_images = server.status.images.as_ref().filter(|v| !v.is_null());
    let images_same = match have_images {
        None => images.as_array().is_none_or(Vec::is_empty),
        Some(h) => h == images,
    };
    if !images_same {
        status.insert("images".into(), images.clone());
    }
    let changed = cond_changed || !status.is_empty();
    if !changed && !force {
        return None;
    }
    let heartbeat = rfc3339(now);
    let conditions: Vec<Value> = conds
        .iter()
        .map(|c| {
            let transition = server
                .condition(c.0)
                .filter(|s| (s.status == "True") == c.1)
                .and_then(|s| s.last_transition_time.clone())
                .unwrap_or_else(|| heartbeat.clone());
            condition_json(c, &heartbeat, &transition)
        })
        .collect();
    status.insert("conditions".into(), Value::Array(conditions));
    let reason = if changed {
        PatchReason::Changed
    } else {
        PatchReason::Report
    };
    Some((json!({"status": status}), reason))
}

/// A `nodes` merge patch for an adopted Node whose labels or hollow
/// annotations are not ours (the kubelet's `updateDefaultLabels`), or
/// `None`.
pub fn adoption_patch(tpl: &NodeTemplate, id: &NodeIdent, server: &NodeView) -> Option<Value> {
    let want_labels = labels(tpl, id);
    let want_ann = annotations(tpl);
    let missing = |want: &BTreeMap<String, String>, have: &Option<BTreeMap<String, String>>| {
        let mut m = Map::new();
        for (k, v) in want {
            if have.as_ref().and_then(|h| h.get(k)) != Some(v) {
                m.insert(k.clone(), json!(v));
            }
        }
        m
    };
    let l = missing(&want_labels, &server.metadata.labels);
    let a = missing(&want_ann, &server.metadata.annotations);
    if l.is_empty() && a.is_empty() {
        return None;
    }
    let mut meta = Map::new();
    if !a.is_empty() {
        meta.insert("annotations".into(), Value::Object(a));
    }
    if !l.is_empty() {
        meta.insert("labels".into(), Value::Object(l));
    }
    Some(json!({"metadata": meta}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn tpl() -> NodeTemplate {
        let mut capacity = BTreeMap::new();
        for (k, v) in [
            ("cpu", "1"),
            ("ephemeral-storage", "0"),
            ("memory", "3840Mi"),
            ("pods", "110"),
        ] {
            capacity.insert(k.to_string(), v.to_string());
        }
        NodeTemplate {
            labels: BTreeMap::new(),
            taints: Vec::new(),
            capacity,
            kubelet_version: "v1.24.10".into(),
            proxy_version: "v1.24.10".into(),
            kubelet_port: 20001,
            host: "box".into(),
            pid: 42,
        }
    }

    fn id() -> NodeIdent {
        NodeIdent {
            name: "hollow-node-1".into(),
            internal_ip: Ipv4Addr::new(192, 0, 2, 2),
            pod_cidr: "10.64.1.0/24".parse().unwrap(),
        }
    }

    fn reference() -> Value {
        serde_json::from_str(include_str!(
            "../tests/reference/hollow-node-object-go-kubemark.json"
        ))
        .unwrap()
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn registered_node_matches_the_reference_shape() {
        let n = node_object(&tpl(), &id(), 1_700_000_000);
        let r = reference();
        assert_eq!(n["metadata"]["labels"], r["metadata"]["labels"]);
        assert_eq!(n["spec"]["providerID"], r["spec"]["providerID"]);
        // The kubelet sets no podCIDR (a controller-manager may).
        assert_eq!(keys(&n["spec"]), keys(&r["spec"]));
        // The reference ran one pod, hence its images.
        let mut want = keys(&r["status"]);
        want.remove("images");
        assert_eq!(keys(&n["status"]), want);
        for k in [
            "addresses",
            "allocatable",
            "capacity",
            "daemonEndpoints",
            "nodeInfo",
        ] {
            assert_eq!(n["status"][k], r["status"][k], "{k}");
        }
        let types: Vec<&str> = n["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        assert_eq!(n["status"]["conditions"][3]["status"], "False");
        assert_eq!(
            n["metadata"]["annotations"][ANNOTATION_HOLLOW_PID],
            json!("42")
        );
    }

    #[test]
    fn first_update_turns_ready_then_only_reports() {
        let t = tpl();
        let registered: NodeView =
            serde_json::from_value(node_object(&t, &id(), 1_700_000_000)).unwrap();
        let none = images_json([]);
        let (p, why) =
            status_patch(&t, &id(), &registered, &none, true, false, 1_700_000_010).unwrap();
        assert_eq!(why, PatchReason::Changed);
        // Only the conditions changed.
        assert_eq!(
            keys(&p["status"]),
            BTreeSet::from(["conditions".to_string()])
        );
        let ready = &p["status"]["conditions"][3];
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["reason"], "KubeletReady");
        assert_eq!(ready["lastTransitionTime"], "2023-11-14T22:13:30Z");
        let mem = &p["status"]["conditions"][0];
        assert_eq!(mem["lastTransitionTime"], "2023-11-14T22:13:20Z");
        assert_eq!(mem["lastHeartbeatTime"], "2023-11-14T22:13:30Z");

        // The reference node (after one pause pod) is Ready with our
        // template: nothing to send...
        let r: NodeView = serde_json::from_value(reference()).unwrap();
        let pause = images_json(["registry.k8s.io/pause:3.9"]);
        assert!(status_patch(&t, &id(), &r, &pause, true, false, 1_700_000_020).is_none());
        // ...unless the report interval passed.
        let (p, why) = status_patch(&t, &id(), &r, &pause, true, true, 1_700_000_020).unwrap();
        assert_eq!(why, PatchReason::Report);
        assert_eq!(
            p["status"]["conditions"][3]["lastTransitionTime"],
            "2026-12-03T14:44:44Z"
        );
        assert!(p["status"].get("images").is_none());
    }

    #[test]
    fn capacity_changes_are_patched() {
        let r: NodeView = serde_json::from_value(reference()).unwrap();
        let mut t = tpl();
        t.capacity.insert("example.com/gpu".into(), "4".into());
        let pause = images_json(["registry.k8s.io/pause:3.9"]);
        let (p, why) = status_patch(&t, &id(), &r, &pause, true, false, 0).unwrap();
        assert_eq!(why, PatchReason::Changed);
        assert_eq!(p["status"]["capacity"]["example.com/gpu"], "4");
        assert_eq!(p["status"]["allocatable"]["example.com/gpu"], "4");
    }

    #[test]
    fn pulled_images_are_reported_on_change() {
        let t = tpl();
        let fresh: NodeView = serde_json::from_value(json!({"status": {
            "conditions": node_object(&t, &id(), 0)["status"]["conditions"],
        }}))
        .unwrap();
        let registered: NodeView = serde_json::from_value(node_object(&t, &id(), 0)).unwrap();
        let r: NodeView = serde_json::from_value(reference()).unwrap();
        let two = images_json(["busybox", "registry.k8s.io/pause:3.9"]);
        // (server node, runtime images, images sent)
        let cases = [
            (&registered, images_json([]), None),
            (&fresh, images_json([]), None),
            (&registered, two.clone(), Some(two.clone())),
            (&r, two.clone(), Some(two.clone())),
            (&r, images_json(["registry.k8s.io/pause:3.9"]), None),
        ];
        for (i, (server, images, want)) in cases.into_iter().enumerate() {
            let sent = status_patch(&t, &id(), server, &images, false, true, 0)
                .and_then(|(p, _)| p["status"].get("images").cloned());
            assert_eq!(sent, want, "case {i}");
        }
        let many: Vec<String> = (0..60).map(|i| format!("img-{i:02}")).collect();
        let j = images_json(many.iter().map(String::as_str));
        assert_eq!(j.as_array().unwrap().len(), MAX_NODE_IMAGES);
        assert_eq!(j[0], json!({"names": ["img-00"]}));
    }

    #[test]
    fn adoption_adds_missing_labels_and_annotations() {
        let r: NodeView = serde_json::from_value(reference()).unwrap();
        let p = adoption_patch(&tpl(), &id(), &r).unwrap();
        assert_eq!(p["metadata"]["annotations"][ANNOTATION_HOLLOW_HOST], "box");
        assert!(p["metadata"].get("labels").is_none());
        let mine: NodeView = serde_json::from_value(node_object(&tpl(), &id(), 0)).unwrap();
        assert!(adoption_patch(&tpl(), &id(), &mine).is_none());
    }

    #[test]
    fn parses_flags() {
        let l = parse_labels("a=1, b.io/c=x,").unwrap();
        assert_eq!(l.len(), 2);
        assert!(parse_labels("novalue").is_err());
        let t = parse_taints("k=v:NoSchedule,only:NoExecute").unwrap();
        assert_eq!(
            t,
            vec![
                Taint {
                    key: "k".into(),
                    value: "v".into(),
                    effect: "NoSchedule".into()
                },
                Taint {
                    key: "only".into(),
                    value: "".into(),
                    effect: "NoExecute".into()
                }
            ]
        );
        for bad in ["k=v", "k=v:Sometimes", ":NoSchedule"] {
            assert!(parse_taints(bad).is_err(), "{bad}");
        }
        let e = parse_extended_resources("example.com/gpu=4,example.com/fpga=1").unwrap();
        assert_eq!(e["example.com/gpu"], "4");
        assert!(parse_extended_resources("x=lots").is_err());
        let n = node_object(&NodeTemplate { taints: t, ..tpl() }, &id(), 0);
        assert_eq!(
            n["spec"]["taints"],
            json!([{"effect": "NoSchedule", "key": "k", "value": "v"}, {"effect": "NoExecute", "key": "only"}])
        );
    }
}
