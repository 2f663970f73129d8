//! The `Table` form `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the real
//! server-side printer columns and cells for the resources we serve, and the
//! default `Name` / `Created At` table for everything else.
//!
//! Like the real server, cells are always produced for every column
//! (the server prints "wide"); clients hide columns by `priority`.
//! Column descriptions are the real API field docs: the v1.24 text where the
//! reference recording shows it (nodes, name, age), otherwise the doc of the
//! field in our OpenAPI definitions (k8s-openapi's, i.e. v1.33 wording).

mod kinds;

use std::collections::BTreeSet;

use apimachinery::registry::{self, ResourceInfo};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::openapi;

/// What each row's `object` holds (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `object: null`.
    None,
    /// A `PartialObjectMetadata` with the object's metadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("includeObject: Unsupported value: {0:?}: supported values: \"None\", \"Metadata\", \"Object\"")]
    UnsupportedIncludeObject(String),
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; absent or empty means
    /// `Metadata`.
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, TableError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(TableError::UnsupportedIncludeObject(other.to_string())),
        }
    }
}

// ---------------------------------------------------------------------------
// Durations and timestamps

/// kubectl's `duration.HumanDuration`: "26s", "5m3s", "3h", "2d3h", "400d".
pub fn human_duration(d: Duration) -> String {
    let seconds = d.whole_seconds();
    // Up to a second in the future is "now" (clock skew between machines).
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.whole_minutes();
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.whole_hours();
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{h}h", hours / 24);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{dy}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

fn parse_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    let s = v?.as_str()?;
    if s.is_empty() {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// `translateTimestampSince`: "<unknown>" for a missing time.
fn since(v: Option<&Value>, now: OffsetDateTime) -> String {
    match parse_time(v) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn age(obj: &Value, now: OffsetDateTime) -> Value {
    Value::String(since(obj.pointer("/metadata/creationTimestamp"), now))
}

// ---------------------------------------------------------------------------
// Value accessors (objects come from storage as JSON)

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn boolean(obj: &Value, ptr: &str) -> Option<bool> {
    obj.pointer(ptr).and_then(Value::as_bool)
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn map_len(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len() as i64)
}

fn name(obj: &Value) -> Value {
    Value::String(s(obj, "/metadata/name").to_string())
}

/// `labels.FormatLabels`: "k=v,k2=v2" sorted by key, "<none>" when empty.
fn format_labels(v: Option<&Value>) -> String {
    let Some(m) = v.and_then(Value::as_object) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs.sort();
    pairs.join(",")
}

/// `metav1.LabelSelectorAsSelector(sel).String()`; `Err` for an operator
/// the selector language does not have.
fn label_selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|v| v.is_object()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let text = match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`.
fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
        Err(()) => "<error>".into(),
    }
}

/// `layoutContainerCells`: names and images joined by commas.
fn container_cells(obj: &Value, containers_ptr: &str) -> (Value, Value) {
    let cs = arr(obj, containers_ptr);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (
        Value::String(names.join(",")),
        Value::String(images.join(",")),
    )
}

// ---------------------------------------------------------------------------
// Column definitions

struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: u8,
    description: Desc,
}

/// Where a column's description comes from.
enum Desc {
    Text(&'static str),
    /// (definition name, property): the field's doc in our OpenAPI.
    Field(&'static str, &'static str),
}

pub(crate) const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: http://kubernetes.io/docs/user-guide/identifiers#names";
pub(crate) const CREATED_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const NODE_ADDRESSES_DOC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See http://pr.k8s.io/79391 for an example.";
const CONTAINERS_DOC: &str = "Names of each container in the template.";
const IMAGES_DOC: &str = "Images referenced by each container in the template.";

const fn col(name: &'static str, ty: &'static str, priority: u8, description: Desc) -> Col {
    Col {
        name,
        ty,
        format: "",
        priority,
        description,
    }
}
const NAME: Col = Col {
    name: "Name",
    ty: "string",
    format: "name",
    priority: 0,
    description: Desc::Text(NAME_DOC),
};
const AGE: Col = col("Age", "string", 0, Desc::Text(CREATED_DOC));
const CONTAINERS: Col = col("Containers", "string", 1, Desc::Text(CONTAINERS_DOC));
const IMAGES: Col = col("Images", "string", 1, Desc::Text(IMAGES_DOC));

fn column_value(c: &Col) -> Value {
    let description = match c.description {
        Desc::Text(t) => t.to_string(),
        Desc::Field(def, field) => openapi::definitions()
            .get(def)
            .and_then(|d| d.pointer(&format!("/properties/{field}/description")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    json!({
        "name": c.name,
        "type": c.ty,
        "format": c.format,
        "description": description,
        "priority": c.priority,
    })
}

/// The printer for one resource: its columns and how to fill a row.
struct Printer {
    columns: fn() -> Vec<Col>,
    row: RowFn,
}

/// Fills one row's cells from an object, with `now` for ages.
type RowFn = fn(&Value, OffsetDateTime) -> Row;

struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl From<Vec<Value>> for Row {
    fn from(cells: Vec<Value>) -> Row {
        Row {
            cells,
            conditions: None,
        }
    }
}

fn printer_for(storage_name: &str) -> Option<Printer> {
    let p = |columns: fn() -> Vec<Col>, row: RowFn| Some(Printer { columns, row });
    match storage_name {
        "nodes" => p(node_columns, node_row),
        "pods" => p(pod_columns, pod_row),
        "deployments.apps" => p(deployment_columns, deployment_row),
        "replicasets.apps" => p(replicaset_columns, replicaset_row),
        "replicationcontrollers" => p(rc_columns, rc_row),
        "statefulsets.apps" => p(statefulset_columns, statefulset_row),
        "daemonsets.apps" => p(daemonset_columns, daemonset_row),
        "controllerrevisions.apps" => p(controllerrevision_columns, controllerrevision_row),
        "jobs.batch" => p(job_columns, job_row),
        "services" => p(service_columns, service_row),
        "endpoints" => p(endpoints_columns, endpoints_row),
        "endpointslices.discovery.k8s.io" => p(endpointslice_columns, endpointslice_row),
        "events" | "events.events.k8s.io" => p(event_columns, event_row),
        "namespaces" => p(namespace_columns, namespace_row),
        "configmaps" => p(configmap_columns, configmap_row),
        "secrets" => p(secret_columns, secret_row),
        "serviceaccounts" => p(serviceaccount_columns, serviceaccount_row),
        "leases.coordination.k8s.io" => p(lease_columns, lease_row),
        "priorityclasses.scheduling.k8s.io" => p(priorityclass_columns, priorityclass_row),
        "runtimeclasses.node.k8s.io" => p(runtimeclass_columns, runtimeclass_row),
        "csidrivers.storage.k8s.io" => p(csidriver_columns, csidriver_row),
        "csinodes.storage.k8s.io" => p(csinode_columns, csinode_row),
        _ => kinds::printer_for(storage_name),
    }
}

// --- nodes

fn node_columns() -> Vec<Col> {
    vec![
        NAME,
        col("Status", "string", 0, Desc::Text("The status of the node")),
        col("Roles", "string", 0, Desc::Text("The roles of the node")),
        AGE,
        col("Version", "string", 0, Desc::Text("Kubelet Version reported by the node.")),
        col("Internal-IP", "string", 1, Desc::Text(NODE_ADDRESSES_DOC)),
        col("External-IP", "string", 1, Desc::Text(NODE_ADDRESSES_DOC)),
        col(
            "OS-Image",
            "string",
            1,
            Desc::Text("OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
        ),
        col(
            "Kernel-Version",
            "string",
            1,
            Desc::Text("Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
        ),
        col(
            "Container-Runtime",
            "string",
            1,
            Desc::Text("ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
        ),
    ]
}

fn node_address(obj: &Value, ty: &str) -> String {
    arr(obj, "/status/addresses")
        .iter()
        .find(|a| s(a, "/type") == ty)
        .map(|a| s(a, "/address").to_string())
        .unwrap_or_else(|| "<none>".into())
}

/// Roles from `node-role.kubernetes.io/<role>` labels and the
/// `kubernetes.io/role` label, sorted.
fn node_roles(obj: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node_status(obj: &Value) -> String {
    let mut status: Vec<&str> = Vec::new();
    // Only the Ready condition counts; the last one wins like the map in Go.
    if let Some(ready) = arr(obj, "/status/conditions")
        .iter()
        .rev()
        .find(|c| s(c, "/type") == "Ready")
    {
        status.push(if s(ready, "/status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if boolean(obj, "/spec/unschedulable") == Some(true) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

fn or_unknown(v: &str) -> Value {
    Value::String(if v.is_empty() {
        "<unknown>".into()
    } else {
        v.to_string()
    })
}

fn node_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(node_status(obj)),
        json!(node_roles(obj)),
        age(obj, now),
        json!(s(obj, "/status/nodeInfo/kubeletVersion")),
        json!(node_address(obj, "InternalIP")),
        json!(node_address(obj, "ExternalIP")),
        or_unknown(s(obj, "/status/nodeInfo/osImage")),
        or_unknown(s(obj, "/status/nodeInfo/kernelVersion")),
        or_unknown(s(obj, "/status/nodeInfo/containerRuntimeVersion")),
    ]
    .into()
}

// --- pods

fn pod_columns() -> Vec<Col> {
    vec![
        NAME,
        col("Ready", "string", 0, Desc::Text("The aggregate readiness state of this pod for accepting traffic.")),
        col("Status", "string", 0, Desc::Text("The aggregate status of the containers in this pod.")),
        col(
            "Restarts",
            "string",
            0,
            Desc::Text("The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        ),
        AGE,
        col("IP", "string", 1, Desc::Field("io.k8s.api.core.v1.PodStatus", "podIP")),
        col("Node", "string", 1, Desc::Field("io.k8s.api.core.v1.PodSpec", "nodeName")),
        col("Nominated Node", "string", 1, Desc::Field("io.k8s.api.core.v1.PodStatus", "nominatedNodeName")),
        col("Readiness Gates", "string", 1, Desc::Field("io.k8s.api.core.v1.PodSpec", "readinessGates")),
    ]
}

/// The STATUS column as kubectl's pod printer computes it, with the
/// restart count and the latest restart time.
fn pod_status(pod: &Value) -> (String, i64, usize, Option<OffsetDateTime>) {
    let mut restarts: i64 = 0;
    let mut ready = 0usize;
    let mut last_restart: Option<OffsetDateTime> = None;
    let mut note_restart = |c: &Value| {
        if let Some(t) = parse_time(c.pointer("/lastState/terminated/finishedAt")) {
            if last_restart.is_none_or(|l| l < t) {
                last_restart = Some(t);
            }
        }
    };
    let mut reason = s(pod, "/status/phase").to_string();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_string();
    }

    let init_total = arr(pod, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        restarts += int(c, "/restartCount");
        note_restart(c);
        let terminated = c.pointer("/state/terminated").filter(|v| v.is_object());
        let waiting_reason = s(c, "/state/waiting/reason");
        match terminated {
            Some(t) if int(t, "/exitCode") == 0 => continue,
            Some(t) => {
                reason = if s(t, "/reason").is_empty() {
                    if int(t, "/signal") != 0 {
                        format!("Init:Signal:{}", int(t, "/signal"))
                    } else {
                        format!("Init:ExitCode:{}", int(t, "/exitCode"))
                    }
                } else {
                    format!("Init:{}", s(t, "/reason"))
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{init_total}"),
        }
        initializing = true;
        break;
    }

    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for c in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += int(c, "/restartCount");
            note_restart(c);
            let terminated = c.pointer("/state/terminated").filter(|v| v.is_object());
            let waiting_reason = s(c, "/state/waiting/reason");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = if !s(t, "/reason").is_empty() {
                    s(t, "/reason").to_string()
                } else if int(t, "/signal") != 0 {
                    format!("Signal:{}", int(t, "/signal"))
                } else {
                    format!("ExitCode:{}", int(t, "/exitCode"))
                };
            } else if boolean(c, "/ready") == Some(true)
                && c.pointer("/state/running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod with a container still running is not "Completed".
        if reason == "Completed" && has_running {
            let pod_ready = arr(pod, "/status/conditions")
                .iter()
                .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
            reason = if pod_ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && s(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting {
        reason = "Terminating".into();
    }
    (reason, restarts, ready, last_restart)
}

fn pod_row(pod: &Value, now: OffsetDateTime) -> Row {
    let (reason, restarts, ready, last_restart) = pod_status(pod);
    let total = arr(pod, "/spec/containers").len();
    let restarts_cell = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", human_duration(now - t)),
        None => restarts.to_string(),
    };
    let none_if_empty = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    // podIPs is authoritative; podIP is its first entry in v1.
    let ip = arr(pod, "/status/podIPs")
        .first()
        .map(|p| s(p, "/ip"))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| s(pod, "/status/podIP"));
    let gates = arr(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(pod, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| {
                let ty = s(g, "/conditionType");
                conditions
                    .iter()
                    .find(|c| s(c, "/type") == ty)
                    .is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let conditions = match s(pod, "/status/phase") {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed.",
        }])),
        _ => None,
    };
    Row {
        cells: vec![
            name(pod),
            json!(format!("{ready}/{total}")),
            json!(reason),
            json!(restarts_cell),
            age(pod, now),
            json!(none_if_empty(ip)),
            json!(none_if_empty(s(pod, "/spec/nodeName"))),
            json!(none_if_empty(s(pod, "/status/nominatedNodeName"))),
            json!(readiness_gates),
        ],
        conditions,
    }
}

// --- workloads

/// `spec.replicas`, which the server defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn deployment_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Ready",
            "string",
            0,
            Desc::Text("Number of the pod with ready state"),
        ),
        col(
            "Up-to-date",
            "string",
            0,
            Desc::Field("io.k8s.api.apps.v1.DeploymentStatus", "updatedReplicas"),
        ),
        col(
            "Available",
            "string",
            0,
            Desc::Field("io.k8s.api.apps.v1.DeploymentStatus", "availableReplicas"),
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        col(
            "Selector",
            "string",
            1,
            Desc::Field("io.k8s.api.apps.v1.DeploymentSpec", "selector"),
        ),
    ]
}

fn deployment_row(obj: &Value, now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    let selector = label_selector_string(obj.pointer("/spec/selector"))
        .unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int(obj, "/status/readyReplicas"),
            desired_replicas(obj)
        )),
        json!(int(obj, "/status/updatedReplicas")),
        json!(int(obj, "/status/availableReplicas")),
        age(obj, now),
        containers,
        images,
        json!(selector),
    ]
    .into()
}

fn replicaset_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Desired",
            "integer",
            0,
            Desc::Field("io.k8s.api.apps.v1.ReplicaSetSpec", "replicas"),
        ),
        col(
            "Current",
            "integer",
            0,
            Desc::Field("io.k8s.api.apps.v1.ReplicaSetStatus", "replicas"),
        ),
        col(
            "Ready",
            "integer",
            0,
            Desc::Field("io.k8s.api.apps.v1.ReplicaSetStatus", "readyReplicas"),
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        col(
            "Selector",
            "string",
            1,
            Desc::Field("io.k8s.api.apps.v1.ReplicaSetSpec", "selector"),
        ),
    ]
}

fn replicaset_row(obj: &Value, now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(desired_replicas(obj)),
        json!(int(obj, "/status/replicas")),
        json!(int(obj, "/status/readyReplicas")),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
    .into()
}

fn rc_columns() -> Vec<Col> {
    let spec = "io.k8s.api.core.v1.ReplicationControllerSpec";
    let status = "io.k8s.api.core.v1.ReplicationControllerStatus";
    vec![
        NAME,
        col("Desired", "integer", 0, Desc::Field(spec, "replicas")),
        col("Current", "integer", 0, Desc::Field(status, "replicas")),
        col("Ready", "integer", 0, Desc::Field(status, "readyReplicas")),
        AGE,
        CONTAINERS,
        IMAGES,
        col("Selector", "string", 1, Desc::Field(spec, "selector")),
    ]
}

fn rc_row(obj: &Value, now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(desired_replicas(obj)),
        json!(int(obj, "/status/replicas")),
        json!(int(obj, "/status/readyReplicas")),
        age(obj, now),
        containers,
        images,
        json!(format_labels(obj.pointer("/spec/selector"))),
    ]
    .into()
}

fn statefulset_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Ready",
            "string",
            0,
            Desc::Text("Number of the pod with ready state"),
        ),
        AGE,
        CONTAINERS,
        IMAGES,
    ]
}

fn statefulset_row(obj: &Value, now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int(obj, "/status/readyReplicas"),
            desired_replicas(obj)
        )),
        age(obj, now),
        containers,
        images,
    ]
    .into()
}

fn daemonset_columns() -> Vec<Col> {
    let status = "io.k8s.api.apps.v1.DaemonSetStatus";
    vec![
        NAME,
        col(
            "Desired",
            "integer",
            0,
            Desc::Field(status, "desiredNumberScheduled"),
        ),
        col(
            "Current",
            "integer",
            0,
            Desc::Field(status, "currentNumberScheduled"),
        ),
        col("Ready", "integer", 0, Desc::Field(status, "numberReady")),
        col(
            "Up-to-date",
            "integer",
            0,
            Desc::Field(status, "updatedNumberScheduled"),
        ),
        col(
            "Available",
            "integer",
            0,
            Desc::Field(status, "numberAvailable"),
        ),
        col(
            "Node Selector",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        col(
            "Selector",
            "string",
            1,
            Desc::Field("io.k8s.api.apps.v1.DaemonSetSpec", "selector"),
        ),
    ]
}

fn daemonset_row(obj: &Value, now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(int(obj, "/status/desiredNumberScheduled")),
        json!(int(obj, "/status/currentNumberScheduled")),
        json!(int(obj, "/status/numberReady")),
        json!(int(obj, "/status/updatedNumberScheduled")),
        json!(int(obj, "/status/numberAvailable")),
        json!(format_labels(
            obj.pointer("/spec/template/spec/nodeSelector")
        )),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
    .into()
}

fn controllerrevision_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Controller",
            "string",
            0,
            Desc::Text("Controller of the object"),
        ),
        col(
            "Revision",
            "string",
            0,
            Desc::Field("io.k8s.api.apps.v1.ControllerRevision", "revision"),
        ),
        AGE,
    ]
}

fn controllerrevision_row(obj: &Value, now: OffsetDateTime) -> Row {
    // "daemonset.apps/name": the lower-cased Kind.group of the controller.
    let controller = arr(obj, "/metadata/ownerReferences")
        .iter()
        .find(|o| boolean(o, "/controller") == Some(true))
        .map(|o| {
            let (group, _) = registry::split_api_version(s(o, "/apiVersion"));
            let kind = s(o, "/kind");
            let gk = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            if gk.is_empty() {
                s(o, "/name").to_string()
            } else {
                format!("{}/{}", gk.to_lowercase(), s(o, "/name"))
            }
        })
        .unwrap_or_else(|| "<none>".into());
    vec![
        name(obj),
        json!(controller),
        json!(int(obj, "/revision")),
        age(obj, now),
    ]
    .into()
}

fn job_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Completions",
            "string",
            0,
            Desc::Field("io.k8s.api.batch.v1.JobStatus", "succeeded"),
        ),
        col(
            "Duration",
            "string",
            0,
            Desc::Text("Time required to complete the job."),
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        col(
            "Selector",
            "string",
            1,
            Desc::Field("io.k8s.api.batch.v1.JobSpec", "selector"),
        ),
    ]
}

fn job_row(obj: &Value, now: OffsetDateTime) -> Row {
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int(obj, "/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let duration = match (
        parse_time(obj.pointer("/status/startTime")),
        parse_time(obj.pointer("/status/completionTime")),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let (containers, images) = container_cells(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(completions),
        json!(duration),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
    .into()
}

// --- networking

fn service_columns() -> Vec<Col> {
    let spec = "io.k8s.api.core.v1.ServiceSpec";
    vec![
        NAME,
        col("Type", "string", 0, Desc::Field(spec, "type")),
        col("Cluster-IP", "string", 0, Desc::Field(spec, "clusterIP")),
        col("External-IP", "string", 0, Desc::Field(spec, "externalIPs")),
        col("Port(s)", "string", 0, Desc::Field(spec, "ports")),
        AGE,
        col("Selector", "string", 1, Desc::Field(spec, "selector")),
    ]
}

fn service_type(obj: &Value) -> &str {
    match s(obj, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    }
}

fn service_external_ip(obj: &Value) -> String {
    let external: Vec<&str> = arr(obj, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service_type(obj) {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            // The server prints wide, so the list is never clipped.
            let lb: BTreeSet<&str> = arr(obj, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| {
                    if !s(i, "/ip").is_empty() {
                        s(i, "/ip")
                    } else {
                        s(i, "/hostname")
                    }
                })
                .filter(|v| !v.is_empty())
                .collect();
            let mut all: Vec<&str> = lb.into_iter().collect();
            all.extend(external);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(obj, "/spec/externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

fn service_ports(obj: &Value) -> String {
    let pieces: Vec<String> = arr(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = match s(p, "/protocol") {
                "" => "TCP",
                other => other,
            };
            let port = int(p, "/port");
            match int(p, "/nodePort") {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".into()
    } else {
        pieces.join(",")
    }
}

fn service_row(obj: &Value, now: OffsetDateTime) -> Row {
    let cluster_ip = arr(obj, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .or_else(|| obj.pointer("/spec/clusterIP").and_then(Value::as_str))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    vec![
        name(obj),
        json!(service_type(obj)),
        json!(cluster_ip),
        json!(service_external_ip(obj)),
        json!(service_ports(obj)),
        age(obj, now),
        json!(format_labels(obj.pointer("/spec/selector"))),
    ]
    .into()
}

fn endpoints_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Endpoints",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.Endpoints", "subsets"),
        ),
        AGE,
    ]
}

/// `host:port`, bracketing IPv6 like Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// "10.0.0.1:80,10.0.0.2:80 + 3 more...", "<none>" without subsets.
fn format_endpoints(obj: &Value) -> String {
    let subsets = arr(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            for a in addresses {
                if list.len() < MAX {
                    list.push(s(a, "/ip").to_string());
                }
                count += 1;
            }
        } else {
            for p in ports {
                for a in addresses {
                    if list.len() < MAX {
                        list.push(join_host_port(s(a, "/ip"), int(p, "/port")));
                    }
                    count += 1;
                }
            }
        }
    }
    let ret = list.join(",");
    if count > MAX {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

fn endpoints_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![name(obj), json!(format_endpoints(obj)), age(obj, now)].into()
}

fn list_with_more(list: Vec<String>, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if count > max {
        format!("{ret} + {} more...", count - max)
    } else if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

fn endpointslice_columns() -> Vec<Col> {
    let def = "io.k8s.api.discovery.v1.EndpointSlice";
    vec![
        NAME,
        col("AddressType", "string", 0, Desc::Field(def, "addressType")),
        col("Ports", "string", 0, Desc::Field(def, "ports")),
        col("Endpoints", "string", 0, Desc::Field(def, "endpoints")),
        AGE,
    ]
}

fn endpointslice_row(obj: &Value, now: OffsetDateTime) -> Row {
    const MAX: usize = 3;
    let ports_all = arr(obj, "/ports");
    let ports: Vec<String> = ports_all
        .iter()
        .take(MAX)
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
        })
        .collect();
    let addresses: Vec<&str> = arr(obj, "/endpoints")
        .iter()
        .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
        .collect();
    let shown: Vec<String> = addresses.iter().take(MAX).map(|a| a.to_string()).collect();
    vec![
        name(obj),
        json!(s(obj, "/addressType")),
        json!(list_with_more(ports, ports_all.len(), MAX)),
        json!(list_with_more(shown, addresses.len(), MAX)),
        age(obj, now),
    ]
    .into()
}

// --- events

fn event_columns() -> Vec<Col> {
    let ev = "io.k8s.api.core.v1.Event";
    vec![
        col("Last Seen", "string", 0, Desc::Field(ev, "lastTimestamp")),
        col("Type", "string", 0, Desc::Field(ev, "type")),
        col("Reason", "string", 0, Desc::Field(ev, "reason")),
        col("Object", "string", 0, Desc::Field(ev, "involvedObject")),
        col(
            "Subobject",
            "string",
            1,
            Desc::Field("io.k8s.api.core.v1.ObjectReference", "fieldPath"),
        ),
        col("Source", "string", 1, Desc::Field(ev, "source")),
        col("Message", "string", 0, Desc::Field(ev, "message")),
        col("First Seen", "string", 1, Desc::Field(ev, "firstTimestamp")),
        col("Count", "string", 1, Desc::Field(ev, "count")),
        Col {
            priority: 1,
            ..NAME
        },
    ]
}

/// A field of a core/v1 Event, or its events.k8s.io/v1 counterpart (the
/// real server prints both through the same internal type).
fn event_field<'a>(obj: &'a Value, core: &str, new_api: &str) -> Option<&'a Value> {
    obj.get(core)
        .or_else(|| obj.get(new_api))
        .filter(|v| !v.is_null())
}

fn event_row(obj: &Value, now: OffsetDateTime) -> Row {
    let first = event_field(obj, "firstTimestamp", "deprecatedFirstTimestamp");
    let first_seen = match parse_time(first) {
        Some(t) => human_duration(now - t),
        None => since(obj.get("eventTime"), now),
    };
    let last = event_field(obj, "lastTimestamp", "deprecatedLastTimestamp");
    let mut last_seen = match parse_time(last) {
        Some(t) => human_duration(now - t),
        None => first_seen.clone(),
    };
    let mut count = event_field(obj, "count", "deprecatedCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = obj.get("series").filter(|v| v.is_object()) {
        last_seen = since(series.get("lastObservedTime"), now);
        count = int(series, "/count");
    } else if count == 0 {
        // Singleton events carry no count in the new API.
        count = 1;
    }
    let involved = event_field(obj, "involvedObject", "regarding")
        .cloned()
        .unwrap_or(Value::Null);
    let kind = s(&involved, "/kind").to_lowercase();
    let target = match s(&involved, "/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = event_field(obj, "source", "deprecatedSource")
        .cloned()
        .unwrap_or(Value::Null);
    let mut source_text = s(&source, "/component").to_string();
    if !s(&source, "/host").is_empty() {
        source_text = format!("{source_text}, {}", s(&source, "/host"));
    }
    let message = event_field(obj, "message", "note")
        .and_then(Value::as_str)
        .unwrap_or_default();
    vec![
        json!(last_seen),
        json!(s(obj, "/type")),
        json!(s(obj, "/reason")),
        json!(target),
        json!(s(&involved, "/fieldPath")),
        json!(source_text),
        json!(message.trim()),
        json!(first_seen),
        json!(count),
        name(obj),
    ]
    .into()
}

// --- small core kinds

fn namespace_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Status",
            "string",
            0,
            Desc::Text("The status of the namespace"),
        ),
        AGE,
    ]
}

fn namespace_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![name(obj), json!(s(obj, "/status/phase")), age(obj, now)].into()
}

fn configmap_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Data",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.ConfigMap", "data"),
        ),
        AGE,
    ]
}

fn configmap_row(obj: &Value, now: OffsetDateTime) -> Row {
    let data = map_len(obj, "/data") + map_len(obj, "/binaryData");
    vec![name(obj), json!(data), age(obj, now)].into()
}

fn secret_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Type",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.Secret", "type"),
        ),
        col(
            "Data",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.Secret", "data"),
        ),
        AGE,
    ]
}

fn secret_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(s(obj, "/type")),
        json!(map_len(obj, "/data")),
        age(obj, now),
    ]
    .into()
}

fn serviceaccount_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Secrets",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.ServiceAccount", "secrets"),
        ),
        AGE,
    ]
}

fn serviceaccount_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![name(obj), json!(arr(obj, "/secrets").len()), age(obj, now)].into()
}

fn lease_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Holder",
            "string",
            0,
            Desc::Field("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity"),
        ),
        AGE,
    ]
}

fn lease_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(s(obj, "/spec/holderIdentity")),
        age(obj, now),
    ]
    .into()
}

fn priorityclass_columns() -> Vec<Col> {
    let def = "io.k8s.api.scheduling.v1.PriorityClass";
    vec![
        NAME,
        col("Value", "integer", 0, Desc::Field(def, "value")),
        col(
            "Global-Default",
            "boolean",
            0,
            Desc::Field(def, "globalDefault"),
        ),
        AGE,
    ]
}

fn priorityclass_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(int(obj, "/value")),
        json!(boolean(obj, "/globalDefault").unwrap_or(false)),
        age(obj, now),
    ]
    .into()
}

fn runtimeclass_columns() -> Vec<Col> {
    // The real printer looks the description up on ObjectMeta, where there
    // is no `handler`, so it is empty.
    vec![NAME, col("Handler", "string", 0, Desc::Text("")), AGE]
}

fn runtimeclass_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![name(obj), json!(s(obj, "/handler")), age(obj, now)].into()
}

fn csidriver_columns() -> Vec<Col> {
    let spec = "io.k8s.api.storage.v1.CSIDriverSpec";
    vec![
        NAME,
        col(
            "AttachRequired",
            "boolean",
            0,
            Desc::Field(spec, "attachRequired"),
        ),
        col(
            "PodInfoOnMount",
            "boolean",
            0,
            Desc::Field(spec, "podInfoOnMount"),
        ),
        col(
            "StorageCapacity",
            "boolean",
            0,
            Desc::Field(spec, "storageCapacity"),
        ),
        col(
            "TokenRequests",
            "string",
            0,
            Desc::Field(spec, "tokenRequests"),
        ),
        col(
            "RequiresRepublish",
            "boolean",
            0,
            Desc::Field(spec, "requiresRepublish"),
        ),
        col(
            "Modes",
            "string",
            0,
            Desc::Field(spec, "volumeLifecycleModes"),
        ),
        AGE,
    ]
}

fn csidriver_row(obj: &Value, now: OffsetDateTime) -> Row {
    let modes: Vec<&str> = arr(obj, "/spec/volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let token_requests = match obj.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|t| s(t, "/audience"))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".into(),
    };
    vec![
        name(obj),
        json!(boolean(obj, "/spec/attachRequired").unwrap_or(true)),
        json!(boolean(obj, "/spec/podInfoOnMount").unwrap_or(false)),
        json!(boolean(obj, "/spec/storageCapacity").unwrap_or(false)),
        json!(token_requests),
        json!(boolean(obj, "/spec/requiresRepublish").unwrap_or(false)),
        json!(if modes.is_empty() {
            "<none>".to_string()
        } else {
            modes.join(",")
        }),
        age(obj, now),
    ]
    .into()
}

fn csinode_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Drivers",
            "integer",
            0,
            Desc::Text("Drivers indicates the number of CSI drivers registered on the node"),
        ),
        AGE,
    ]
}

fn csinode_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(arr(obj, "/spec/drivers").len()),
        age(obj, now),
    ]
    .into()
}

// --- default

fn default_columns() -> Vec<Col> {
    vec![
        NAME,
        Col {
            name: "Created At",
            ty: "date",
            ..AGE
        },
    ]
}

/// The default table's creation time: UTC RFC 3339 to the second.
fn created_at(obj: &Value) -> String {
    let t = parse_time(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .and_then(|t| t.replace_nanosecond(0).ok());
    match t.and_then(|t| t.format(&Rfc3339).ok()) {
        Some(s) => s,
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn default_row(obj: &Value, _now: OffsetDateTime) -> Row {
    vec![name(obj), json!(created_at(obj))].into()
}

// ---------------------------------------------------------------------------

fn row_object(storage_name: &str, item: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": item.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => {
            // List items from storage may lack kind/apiVersion; rows carry
            // complete objects.
            let mut obj = item.clone();
            if let (Some(m), Some(r)) = (
                obj.as_object_mut(),
                registry::RESOURCES
                    .iter()
                    .find(|r| r.storage_name() == storage_name),
            ) {
                if !m.contains_key("kind") || !m.contains_key("apiVersion") {
                    let mut full = Map::new();
                    full.insert("kind".into(), json!(r.kind));
                    full.insert("apiVersion".into(), json!(r.api_version()));
                    for (k, v) in std::mem::take(m) {
                        full.entry(k).or_insert(v);
                    }
                    *m = full;
                }
            }
            obj
        }
    }
}

/// A `meta.k8s.io/v1` `Table` for a list of objects of one resource
/// (`storage_name` as in the registry: `pods`, `deployments.apps`, ...).
/// `list_metadata` becomes the table's `metadata` (resourceVersion,
/// continue, remainingItemCount); `now` is the time ages are measured to.
pub fn to_table(
    storage_name: &str,
    items: &[Value],
    list_metadata: Value,
    include_object: IncludeObject,
    now: OffsetDateTime,
) -> Value {
    let (columns, row_fn): (Vec<Col>, RowFn) = match printer_for(storage_name) {
        Some(p) => ((p.columns)(), p.row),
        None => (default_columns(), default_row),
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let row = row_fn(item, now);
            let mut r = Map::new();
            r.insert("cells".into(), Value::Array(row.cells));
            if let Some(c) = row.conditions {
                r.insert("conditions".into(), c);
            }
            r.insert(
                "object".into(),
                row_object(storage_name, item, include_object),
            );
            Value::Object(r)
        })
        .collect();
    let metadata = if list_metadata.is_object() {
        list_metadata
    } else {
        json!({})
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns.iter().map(column_value).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// [`to_table`] for a resource: a custom resource's table comes from its
/// CRD's printer columns, a built-in's from its printer.
pub fn to_table_for(
    info: &ResourceInfo,
    items: &[Value],
    list_metadata: Value,
    include_object: IncludeObject,
    now: OffsetDateTime,
) -> Value {
    let Some(custom) = info.custom else {
        return to_table(
            &info.storage_name(),
            items,
            list_metadata,
            include_object,
            now,
        );
    };
    let row_object = |item: &Value| match include_object {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": item.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => {
            let mut obj = item.clone();
            if let Some(m) = obj.as_object_mut() {
                m.insert("apiVersion".into(), json!(info.api_version()));
                m.entry("kind").or_insert_with(|| json!(info.kind));
            }
            obj
        }
    };
    crate::crd::printer::to_table(
        &custom.printer_columns,
        items,
        list_metadata,
        row_object,
        now,
    )
}

/// [`to_table_single`] for a resource (custom resources included).
pub fn to_table_single_for(
    info: &ResourceInfo,
    object: &Value,
    include_object: IncludeObject,
    now: OffsetDateTime,
) -> Value {
    let mut metadata = Map::new();
    if let Some(rv) = object.pointer("/metadata/resourceVersion") {
        metadata.insert("resourceVersion".into(), rv.clone());
    }
    to_table_for(
        info,
        std::slice::from_ref(object),
        Value::Object(metadata),
        include_object,
        now,
    )
}

/// The table for a single-object GET: one row, the object's
/// resourceVersion as the table's.
pub fn to_table_single(
    storage_name: &str,
    object: &Value,
    include_object: IncludeObject,
    now: OffsetDateTime,
) -> Value {
    let mut metadata = Map::new();
    if let Some(rv) = object.pointer("/metadata/resourceVersion") {
        metadata.insert("resourceVersion".into(), rv.clone());
    }
    to_table(
        storage_name,
        std::slice::from_ref(object),
        Value::Object(metadata),
        include_object,
        now,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Exchanges recorded from the real v1.24 kube-apiserver, vendored next
    /// to the tests from `../shared/reference/kube-apiserver-1.24/`.
    const RESPONSES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/responses.txt");

    /// The JSON body of one exchange in responses.txt.
    fn exchange_body(text: &str, title: &str) -> Value {
        let start = text.find(&format!("### {title}")).unwrap();
        let rest = &text[start..];
        let brace = rest.find("\n{").unwrap() + 1;
        let mut de = serde_json::Deserializer::from_str(&rest[brace..]).into_iter::<Value>();
        de.next().unwrap().unwrap()
    }

    #[test]
    fn human_duration_matches_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (26, "26s"),
            (119, "119s"),
            (120, "2m"),
            (303, "5m3s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (2 * 86400 + 3 * 3600, "2d3h"),
            (3 * 86400, "3d"),
            (400 * 86400, "400d"),
            (2 * 365 * 86400 + 5 * 86400, "2y5d"),
            (3 * 365 * 86400, "3y"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::seconds(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn nodes_table_matches_the_real_server() {
        let text = std::fs::read_to_string(RESPONSES).unwrap_or_else(|e| {
            panic!("reference recording {RESPONSES}: {e} (vendored from ../shared/reference/kube-apiserver-1.24/)")
        });
        let list = exchange_body(&text, "list-nodes-limit-2-continue");
        let real = exchange_body(&text, "table-nodes-kubectl-get");
        let items = list["items"].as_array().unwrap();
        // The recording was made 26 s after the nodes registered.
        let now = datetime!(2026-11-25 04:12:12 UTC);
        let ours = to_table(
            "nodes",
            items,
            real["metadata"].clone(),
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(ours["columnDefinitions"], real["columnDefinitions"]);
        assert_eq!(ours["rows"], real["rows"]);
        assert_eq!(ours, real);
    }

    fn node(labels: Value, ready: Option<&str>, unschedulable: bool) -> Value {
        let conditions = match ready {
            Some(st) => {
                json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": st}])
            }
            None => json!([]),
        };
        json!({
            "metadata": {"name": "n", "labels": labels, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": "v1.24.10"}},
        })
    }

    #[test]
    fn node_status_and_roles() {
        let now = datetime!(2024-01-01 00:00:10 UTC);
        let cases = [
            (node(json!({}), Some("True"), false), "Ready", "<none>"),
            (node(json!({}), Some("False"), false), "NotReady", "<none>"),
            (
                node(json!({}), Some("Unknown"), false),
                "NotReady",
                "<none>",
            ),
            (node(json!({}), None, false), "Unknown", "<none>"),
            (
                node(json!({}), Some("True"), true),
                "Ready,SchedulingDisabled",
                "<none>",
            ),
            (
                node(
                    json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": ""}),
                    Some("True"),
                    false,
                ),
                "Ready",
                "control-plane,worker",
            ),
            (
                node(json!({"kubernetes.io/role": "master"}), Some("True"), false),
                "Ready",
                "master",
            ),
        ];
        for (n, status, roles) in cases {
            let t = to_table("nodes", &[n], json!({}), IncludeObject::None, now);
            let cells = &t["rows"][0]["cells"];
            assert_eq!(cells[1], status);
            assert_eq!(cells[2], roles);
            assert_eq!(cells[3], "10s");
            assert_eq!(cells[5], "<none>");
            assert_eq!(cells[7], "<unknown>");
            assert_eq!(t["rows"][0]["object"], Value::Null);
        }
    }

    fn pod(extra_status: Value, deletion: bool) -> Value {
        let mut p = json!({
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1"},
        });
        if let (Some(st), Some(extra)) = (p["status"].as_object_mut(), extra_status.as_object()) {
            for (k, v) in extra {
                st.insert(k.clone(), v.clone());
            }
        }
        if deletion {
            p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:01:00Z");
        }
        p
    }

    fn running(ready: bool) -> Value {
        json!({"name": "a", "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}}})
    }

    #[test]
    fn pod_status_column_like_kubectl() {
        let now = datetime!(2024-01-01 01:00:00 UTC);
        let cases: Vec<(Value, &str, &str, &str)> = vec![
            (
                pod(
                    json!({"containerStatuses": [running(true), running(true)]}),
                    false,
                ),
                "2/2",
                "Running",
                "0",
            ),
            (
                pod(
                    json!({"containerStatuses": [running(true), running(false)]}),
                    false,
                ),
                "1/2",
                "Running",
                "0",
            ),
            (
                pod(
                    json!({"phase": "Pending", "containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
                    ]}),
                    false,
                ),
                "0/2",
                "ContainerCreating",
                "0",
            ),
            (
                pod(
                    json!({"containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:55:00Z"}}},
                    ]}),
                    false,
                ),
                "0/2",
                "CrashLoopBackOff",
                "3 (5m ago)",
            ),
            (
                pod(
                    json!({"phase": "Succeeded", "containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ]}),
                    false,
                ),
                "0/2",
                "Completed",
                "0",
            ),
            (
                pod(
                    json!({"containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}},
                    ]}),
                    false,
                ),
                "0/2",
                "Signal:9",
                "0",
            ),
            (
                pod(
                    json!({"containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}},
                    ]}),
                    false,
                ),
                "0/2",
                "ExitCode:2",
                "0",
            ),
            (
                pod(
                    json!({"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running(true),
                    ]}),
                    false,
                ),
                "1/2",
                "Running",
                "0",
            ),
            (
                pod(
                    json!({"containerStatuses": [running(true), running(true)]}),
                    true,
                ),
                "2/2",
                "Terminating",
                "0",
            ),
            (
                pod(json!({"reason": "NodeLost"}), true),
                "0/2",
                "Unknown",
                "0",
            ),
            (
                pod(json!({"phase": "Failed", "reason": "Evicted"}), false),
                "0/2",
                "Evicted",
                "0",
            ),
        ];
        for (i, (p, ready, status, restarts)) in cases.into_iter().enumerate() {
            let t = to_table("pods", &[p], json!({}), IncludeObject::Metadata, now);
            let cells = &t["rows"][0]["cells"];
            assert_eq!(cells[1], ready, "case {i}");
            assert_eq!(cells[2], status, "case {i}");
            assert_eq!(cells[3], restarts, "case {i}");
            assert_eq!(cells[4], "60m", "case {i}");
            assert_eq!(cells[5], "10.0.0.1");
            assert_eq!(cells[6], "node-1");
            assert_eq!(cells[7], "<none>");
            assert_eq!(cells[8], "<none>");
        }
    }

    #[test]
    fn pod_init_containers_and_conditions() {
        let now = datetime!(2024-01-01 00:00:30 UTC);
        let mut p = pod(
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
                {"name": "i1", "restartCount": 0, "state": {"running": {}}},
            ]}),
            false,
        );
        p["spec"]["initContainers"] = json!([{"name": "i0"}, {"name": "i1"}]);
        let t = to_table(
            "pods",
            &[p.clone()],
            json!({}),
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(t["rows"][0]["cells"][2], "Init:1/2");
        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "ErrImagePull"}});
        let t = to_table(
            "pods",
            &[p.clone()],
            json!({}),
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(t["rows"][0]["cells"][2], "Init:ErrImagePull");
        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        let t = to_table("pods", &[p], json!({}), IncludeObject::Metadata, now);
        assert_eq!(t["rows"][0]["cells"][2], "Init:Error");

        let done = pod(json!({"phase": "Succeeded"}), false);
        let t = to_table("pods", &[done], json!({}), IncludeObject::Metadata, now);
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
        let mut gated = pod(
            json!({"conditions": [{"type": "example.com/gate", "status": "True"}]}),
            false,
        );
        gated["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/gate"}, {"conditionType": "other"}]);
        let t = to_table("pods", &[gated], json!({}), IncludeObject::Metadata, now);
        assert_eq!(t["rows"][0]["cells"][8], "1/2");
        assert!(t["rows"][0].get("conditions").is_none());
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert!(!t["columnDefinitions"][5]["description"]
            .as_str()
            .unwrap()
            .is_empty());
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z", "resourceVersion": "7"})
    }

    #[test]
    fn workload_tables() {
        let now = datetime!(2024-01-03 03:00:00 UTC);
        let template = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "side", "image": "busybox"}]}});
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]});
        let cases: Vec<(&str, Value, Vec<Value>)> = vec![
            (
                "deployments.apps",
                json!({"metadata": meta("d"), "spec": {"replicas": 3, "selector": selector, "template": template},
                       "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                vec![
                    json!("d"),
                    json!("2/3"),
                    json!(3),
                    json!(2),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                    json!("app=web,tier in (a,b)"),
                ],
            ),
            (
                "replicasets.apps",
                json!({"metadata": meta("rs"), "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
                       "status": {"replicas": 2, "readyReplicas": 1}}),
                vec![
                    json!("rs"),
                    json!(2),
                    json!(2),
                    json!(1),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                    json!("app=web"),
                ],
            ),
            (
                "replicationcontrollers",
                json!({"metadata": meta("rc"), "spec": {"selector": {"app": "web"}, "template": template}, "status": {"replicas": 1}}),
                vec![
                    json!("rc"),
                    json!(1),
                    json!(1),
                    json!(0),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                    json!("app=web"),
                ],
            ),
            (
                "statefulsets.apps",
                json!({"metadata": meta("s"), "spec": {"replicas": 3, "template": template}, "status": {"readyReplicas": 3}}),
                vec![
                    json!("s"),
                    json!("3/3"),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                ],
            ),
            (
                "daemonsets.apps",
                json!({"metadata": meta("ds"), "spec": {"selector": {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]},
                       "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}}},
                       "status": {"desiredNumberScheduled": 5, "currentNumberScheduled": 5, "numberReady": 4, "updatedNumberScheduled": 5, "numberAvailable": 4}}),
                vec![
                    json!("ds"),
                    json!(5),
                    json!(5),
                    json!(4),
                    json!(5),
                    json!(4),
                    json!("kubernetes.io/os=linux"),
                    json!("2d3h"),
                    json!(""),
                    json!(""),
                    json!("!x"),
                ],
            ),
            (
                "jobs.batch",
                json!({"metadata": meta("j"), "spec": {"completions": 3, "template": template},
                       "status": {"succeeded": 1, "startTime": "2024-01-03T02:55:00Z"}}),
                vec![
                    json!("j"),
                    json!("1/3"),
                    json!("5m"),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                    json!("<none>"),
                ],
            ),
            (
                "jobs.batch",
                json!({"metadata": meta("j2"), "spec": {"parallelism": 2, "template": template},
                       "status": {"succeeded": 0, "startTime": "2024-01-03T02:00:00Z", "completionTime": "2024-01-03T02:00:42Z"}}),
                vec![
                    json!("j2"),
                    json!("0/1 of 2"),
                    json!("42s"),
                    json!("2d3h"),
                    json!("web,side"),
                    json!("nginx,busybox"),
                    json!("<none>"),
                ],
            ),
            (
                "controllerrevisions.apps",
                json!({"metadata": {"name": "cr", "creationTimestamp": "2024-01-01T00:00:00Z",
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 4}),
                vec![
                    json!("cr"),
                    json!("daemonset.apps/ds"),
                    json!(4),
                    json!("2d3h"),
                ],
            ),
        ];
        for (resource, obj, want) in cases {
            let t = to_table(resource, &[obj], json!({}), IncludeObject::Metadata, now);
            assert_eq!(
                t["rows"][0]["cells"],
                Value::Array(want.clone()),
                "{resource}"
            );
            assert_eq!(
                t["columnDefinitions"].as_array().unwrap().len(),
                want.len(),
                "{resource}"
            );
        }
    }

    #[test]
    fn service_and_endpoint_tables() {
        let now = datetime!(2024-01-01 00:00:05 UTC);
        let cases: Vec<(&str, Value, Vec<Value>)> = vec![
            (
                "services",
                json!({"metadata": meta("svc"), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                       "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "selector": {"k8s-app": "dns"}}}),
                vec![
                    json!("svc"),
                    json!("ClusterIP"),
                    json!("10.96.0.10"),
                    json!("<none>"),
                    json!("53/UDP,53/TCP"),
                    json!("5s"),
                    json!("k8s-app=dns"),
                ],
            ),
            (
                "services",
                json!({"metadata": meta("np"), "spec": {"type": "NodePort", "clusterIP": "10.96.0.11", "externalIPs": ["1.2.3.4"],
                       "ports": [{"port": 80, "nodePort": 30080}]}}),
                vec![
                    json!("np"),
                    json!("NodePort"),
                    json!("10.96.0.11"),
                    json!("1.2.3.4"),
                    json!("80:30080/TCP"),
                    json!("5s"),
                    json!("<none>"),
                ],
            ),
            (
                "services",
                json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"], "ports": []}}),
                vec![
                    json!("lb"),
                    json!("LoadBalancer"),
                    json!("10.96.0.12"),
                    json!("<pending>"),
                    json!("<none>"),
                    json!("5s"),
                    json!("<none>"),
                ],
            ),
            (
                "services",
                json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"}}),
                vec![
                    json!("ext"),
                    json!("ExternalName"),
                    json!("<none>"),
                    json!("example.com"),
                    json!("<none>"),
                    json!("5s"),
                    json!("<none>"),
                ],
            ),
            (
                "endpoints",
                json!({"metadata": meta("ep"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}, {"ip": "10.0.0.4"}],
                       "ports": [{"port": 8080}]}]}),
                vec![
                    json!("ep"),
                    json!("10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 1 more..."),
                    json!("5s"),
                ],
            ),
            (
                "endpoints",
                json!({"metadata": meta("empty")}),
                vec![json!("empty"), json!("<none>"), json!("5s")],
            ),
            (
                "endpointslices.discovery.k8s.io",
                json!({"metadata": meta("es"), "addressType": "IPv4", "ports": [{"port": 80}, {"name": "http"}],
                       "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}),
                vec![
                    json!("es"),
                    json!("IPv4"),
                    json!("80,http"),
                    json!("10.0.0.1,10.0.0.2"),
                    json!("5s"),
                ],
            ),
            (
                "endpointslices.discovery.k8s.io",
                json!({"metadata": meta("es2"), "addressType": "IPv4"}),
                vec![
                    json!("es2"),
                    json!("IPv4"),
                    json!("<unset>"),
                    json!("<unset>"),
                    json!("5s"),
                ],
            ),
        ];
        for (resource, obj, want) in cases {
            let t = to_table(resource, &[obj], json!({}), IncludeObject::Metadata, now);
            assert_eq!(t["rows"][0]["cells"], Value::Array(want), "{resource}");
        }
    }

    #[test]
    fn event_tables_for_both_event_apis() {
        let now = datetime!(2024-01-01 00:10:00 UTC);
        let core = json!({
            "metadata": meta("p.1"),
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "reason": "Started", "message": " Started container a ", "type": "Normal",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:09:00Z", "count": 4,
        });
        let t = to_table("events", &[core], json!({}), IncludeObject::Metadata, now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "60s",
                "Normal",
                "Started",
                "pod/p",
                "spec.containers{a}",
                "kubelet, node-1",
                "Started container a",
                "10m",
                4,
                "p.1"
            ])
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );

        let new_api = json!({
            "metadata": meta("e.2"),
            "regarding": {"kind": "Node", "name": "n"},
            "reason": "Ready", "note": "node is ready", "type": "Normal",
            "eventTime": "2024-01-01T00:08:00.000000Z", "reportingController": "kubelet",
        });
        let t = to_table(
            "events.events.k8s.io",
            &[new_api],
            json!({}),
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "2m",
                "Normal",
                "Ready",
                "node/n",
                "",
                "",
                "node is ready",
                "2m",
                1,
                "e.2"
            ])
        );

        let series = json!({
            "metadata": meta("e.3"), "involvedObject": {"kind": "Node"}, "type": "Warning", "reason": "X", "message": "m",
            "eventTime": "2024-01-01T00:00:00.000000Z", "series": {"count": 7, "lastObservedTime": "2024-01-01T00:09:30.000000Z"},
        });
        let t = to_table("events", &[series], json!({}), IncludeObject::Metadata, now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["30s", "Warning", "X", "node", "", "", "m", "10m", 7, "e.3"])
        );
    }

    #[test]
    fn small_kind_tables() {
        let now = datetime!(2024-01-01 00:00:30 UTC);
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "namespaces",
                json!({"metadata": meta("ns"), "status": {"phase": "Active"}}),
                json!(["ns", "Active", "30s"]),
            ),
            (
                "configmaps",
                json!({"metadata": meta("cm"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}}),
                json!(["cm", 2, "30s"]),
            ),
            (
                "secrets",
                json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "MQ=="}}),
                json!(["s", "Opaque", 1, "30s"]),
            ),
            (
                "serviceaccounts",
                json!({"metadata": meta("sa"), "secrets": [{"name": "t"}]}),
                json!(["sa", 1, "30s"]),
            ),
            (
                "serviceaccounts",
                json!({"metadata": meta("sa2")}),
                json!(["sa2", 0, "30s"]),
            ),
            (
                "leases.coordination.k8s.io",
                json!({"metadata": meta("l"), "spec": {"holderIdentity": "node-1"}}),
                json!(["l", "node-1", "30s"]),
            ),
            (
                "priorityclasses.scheduling.k8s.io",
                json!({"metadata": meta("pc"), "value": 1000}),
                json!(["pc", 1000, false, "30s"]),
            ),
            (
                "runtimeclasses.node.k8s.io",
                json!({"metadata": meta("rc"), "handler": "runc"}),
                json!(["rc", "runc", "30s"]),
            ),
            (
                "csidrivers.storage.k8s.io",
                json!({"metadata": meta("d"), "spec": {"volumeLifecycleModes": ["Persistent", "Ephemeral"], "tokenRequests": [{"audience": "a"}]}}),
                json!([
                    "d",
                    true,
                    false,
                    false,
                    "a",
                    false,
                    "Persistent,Ephemeral",
                    "30s"
                ]),
            ),
            (
                "csidrivers.storage.k8s.io",
                json!({"metadata": meta("d2"), "spec": {}}),
                json!(["d2", true, false, false, "<unset>", false, "<none>", "30s"]),
            ),
            (
                "csinodes.storage.k8s.io",
                json!({"metadata": meta("n"), "spec": {"drivers": [{"name": "x"}]}}),
                json!(["n", 1, "30s"]),
            ),
            (
                "bindings",
                json!({"metadata": meta("b")}),
                json!(["b", "2024-01-01T00:00:00Z"]),
            ),
            (
                "widgets.example.com",
                json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-01T00:00:00.5+01:00"}}),
                json!(["w", "2023-12-31T23:00:00Z"]),
            ),
        ];
        for (resource, obj, want) in cases {
            let t = to_table(resource, &[obj], json!({}), IncludeObject::Metadata, now);
            assert_eq!(t["rows"][0]["cells"], want, "{resource}");
        }
        let t = to_table(
            "widgets.example.com",
            &[],
            json!({}),
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(t["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"], json!([]));
    }

    #[test]
    fn include_object_modes_and_single_object() {
        let now = datetime!(2024-01-01 00:00:30 UTC);
        let cm = json!({"metadata": meta("cm"), "data": {"a": "1"}});
        let t = to_table_single("configmaps", &cm, IncludeObject::Object, now);
        assert_eq!(t["metadata"], json!({"resourceVersion": "7"}));
        assert_eq!(t["rows"].as_array().unwrap().len(), 1);
        let obj = &t["rows"][0]["object"];
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["data"]["a"], "1");
        let t = to_table_single("configmaps", &cm, IncludeObject::Metadata, now);
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta("cm")})
        );
        let t = to_table_single("configmaps", &cm, IncludeObject::None, now);
        assert_eq!(t["rows"][0]["object"], Value::Null);

        let parse = [
            (None, Ok(IncludeObject::Metadata)),
            (Some("Object"), Ok(IncludeObject::Object)),
            (Some("None"), Ok(IncludeObject::None)),
            (Some("Metadata"), Ok(IncludeObject::Metadata)),
            (
                Some("all"),
                Err(TableError::UnsupportedIncludeObject("all".into())),
            ),
        ];
        for (input, want) in parse {
            assert_eq!(IncludeObject::parse(input), want);
        }
    }

    #[test]
    fn label_selector_formatting() {
        let cases = [
            (Value::Null, "<none>"),
            (json!({}), "<none>"),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (
                json!({"matchExpressions": [{"key": "k", "operator": "NotIn", "values": ["z", "y"]}, {"key": "e", "operator": "Exists"}]}),
                "e,k notin (y,z)",
            ),
            (
                json!({"matchExpressions": [{"key": "k", "operator": "Near"}]}),
                "<error>",
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(format_label_selector(Some(&sel)), want, "{sel}");
        }
    }
}
