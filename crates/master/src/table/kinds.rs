//! Printers of the kinds served beyond the workload core, with the columns
//! and cell rules of the real v1.24 printers
//! (`pkg/printers/internalversion/printers.go`, and the aggregator's for
//! APIServices). Roles, ClusterRoles, LimitRanges and
//! CustomResourceDefinitions use the default table there too.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{
    age, arr, boolean, col, container_cells, format_label_selector, format_labels, human_duration,
    int, name, s, since, Col, Desc, Printer, Row, RowFn, AGE, CONTAINERS, IMAGES, NAME,
};

pub(super) fn printer_for(storage_name: &str) -> Option<Printer> {
    let p = |columns: fn() -> Vec<Col>, row: RowFn| Some(Printer { columns, row });
    match storage_name {
        "componentstatuses" => p(componentstatus_columns, componentstatus_row),
        "persistentvolumes" => p(pv_columns, pv_row),
        "persistentvolumeclaims" => p(pvc_columns, pvc_row),
        "podtemplates" => p(podtemplate_columns, podtemplate_row),
        "resourcequotas" => p(resourcequota_columns, resourcequota_row),
        "cronjobs.batch" => p(cronjob_columns, cronjob_row),
        "storageclasses.storage.k8s.io" => p(storageclass_columns, storageclass_row),
        "volumeattachments.storage.k8s.io" => p(volumeattachment_columns, volumeattachment_row),
        "csistoragecapacities.storage.k8s.io" => p(csc_columns, csc_row),
        "mutatingwebhookconfigurations.admissionregistration.k8s.io"
        | "validatingwebhookconfigurations.admissionregistration.k8s.io" => {
            p(webhook_columns, webhook_row)
        }
        "apiservices.apiregistration.k8s.io" => p(apiservice_columns, apiservice_row),
        "horizontalpodautoscalers.autoscaling" => p(hpa_columns, hpa_row),
        "certificatesigningrequests.certificates.k8s.io" => p(csr_columns, csr_row),
        "ingressclasses.networking.k8s.io" => p(ingressclass_columns, ingressclass_row),
        "ingresses.networking.k8s.io" => p(ingress_columns, ingress_row),
        "networkpolicies.networking.k8s.io" => p(networkpolicy_columns, networkpolicy_row),
        "poddisruptionbudgets.policy" => p(pdb_columns, pdb_row),
        "rolebindings.rbac.authorization.k8s.io"
        | "clusterrolebindings.rbac.authorization.k8s.io" => p(binding_columns, binding_row),
        "flowschemas.flowcontrol.apiserver.k8s.io" => p(flowschema_columns, flowschema_row),
        "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io" => p(plc_columns, plc_row),
        "podsecuritypolicies.policy" => p(psp_columns, psp_row),
        _ => None,
    }
}

const fn text(name: &'static str, ty: &'static str, priority: u8, d: &'static str) -> Col {
    col(name, ty, priority, Desc::Text(d))
}

/// A string cell, `or` when empty.
fn or(v: &str, or: &str) -> Value {
    json!(if v.is_empty() { or } else { v })
}

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(obj: &Value, ptr: &str) -> String {
    let modes: Vec<&str> = arr(obj, ptr).iter().filter_map(Value::as_str).collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| modes.contains(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn quantity(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A deleted-but-present object shows `Terminating`.
fn phase(obj: &Value) -> String {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating".into()
    } else {
        s(obj, "/status/phase").to_string()
    }
}

/// The beta annotation wins over the field, as `GetPersistentVolumeClass`.
fn storage_class(obj: &Value) -> String {
    let beta = s(
        obj,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    );
    if beta.is_empty() {
        s(obj, "/spec/storageClassName").to_string()
    } else {
        beta.to_string()
    }
}

fn componentstatus_columns() -> Vec<Col> {
    vec![
        NAME,
        text("Status", "string", 0, "Status of the component conditions"),
        text(
            "Message",
            "string",
            0,
            "Message of the component conditions",
        ),
        text("Error", "string", 0, "Error of the component conditions"),
    ]
}

fn componentstatus_row(obj: &Value, _now: OffsetDateTime) -> Row {
    let (mut status, mut message, mut error) = ("Unknown", "", "");
    if let Some(c) = arr(obj, "/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Healthy")
    {
        status = if s(c, "/status") == "True" {
            "Healthy"
        } else {
            "Unhealthy"
        };
        message = s(c, "/message");
        error = s(c, "/error");
    }
    vec![name(obj), json!(status), json!(message), json!(error)].into()
}

fn pv_columns() -> Vec<Col> {
    let spec = "io.k8s.api.core.v1.PersistentVolumeSpec";
    vec![
        NAME,
        col("Capacity", "string", 0, Desc::Field(spec, "capacity")),
        col(
            "Access Modes",
            "string",
            0,
            Desc::Field(spec, "accessModes"),
        ),
        col(
            "Reclaim Policy",
            "string",
            0,
            Desc::Field(spec, "persistentVolumeReclaimPolicy"),
        ),
        col(
            "Status",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.PersistentVolumeStatus", "phase"),
        ),
        col("Claim", "string", 0, Desc::Field(spec, "claimRef")),
        col(
            "StorageClass",
            "string",
            0,
            Desc::Field(spec, "storageClassName"),
        ),
        col(
            "Reason",
            "string",
            0,
            Desc::Field("io.k8s.api.core.v1.PersistentVolumeStatus", "reason"),
        ),
        AGE,
        col("VolumeMode", "string", 1, Desc::Field(spec, "volumeMode")),
    ]
}

fn pv_row(obj: &Value, now: OffsetDateTime) -> Row {
    let claim = match obj.pointer("/spec/claimRef").filter(|v| v.is_object()) {
        Some(c) => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        None => String::new(),
    };
    vec![
        name(obj),
        json!(quantity(obj, "/spec/capacity/storage")),
        json!(access_modes(obj, "/spec/accessModes")),
        json!(s(obj, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase(obj)),
        json!(claim),
        json!(storage_class(obj)),
        json!(s(obj, "/status/reason")),
        age(obj, now),
        or(s(obj, "/spec/volumeMode"), "<unset>"),
    ]
    .into()
}

fn pvc_columns() -> Vec<Col> {
    let spec = "io.k8s.api.core.v1.PersistentVolumeClaimSpec";
    let status = "io.k8s.api.core.v1.PersistentVolumeClaimStatus";
    vec![
        NAME,
        col("Status", "string", 0, Desc::Field(status, "phase")),
        col("Volume", "string", 0, Desc::Field(spec, "volumeName")),
        col("Capacity", "string", 0, Desc::Field(status, "capacity")),
        col(
            "Access Modes",
            "string",
            0,
            Desc::Field(status, "accessModes"),
        ),
        col(
            "StorageClass",
            "string",
            0,
            Desc::Field(spec, "storageClassName"),
        ),
        AGE,
        col("VolumeMode", "string", 1, Desc::Field(spec, "volumeMode")),
    ]
}

fn pvc_row(obj: &Value, now: OffsetDateTime) -> Row {
    let bound = !s(obj, "/spec/volumeName").is_empty();
    let (capacity, modes) = if bound {
        (
            quantity(obj, "/status/capacity/storage"),
            access_modes(obj, "/status/accessModes"),
        )
    } else {
        (String::new(), String::new())
    };
    vec![
        name(obj),
        json!(phase(obj)),
        json!(s(obj, "/spec/volumeName")),
        json!(capacity),
        json!(modes),
        json!(storage_class(obj)),
        age(obj, now),
        or(s(obj, "/spec/volumeMode"), "<unset>"),
    ]
    .into()
}

fn podtemplate_columns() -> Vec<Col> {
    vec![
        NAME,
        Col {
            priority: 0,
            ..CONTAINERS
        },
        Col {
            priority: 0,
            ..IMAGES
        },
        text(
            "Pod Labels",
            "string",
            0,
            "The labels for the pod template.",
        ),
    ]
}

fn podtemplate_row(obj: &Value, _now: OffsetDateTime) -> Row {
    let (containers, images) = container_cells(obj, "/template/spec/containers");
    vec![
        name(obj),
        containers,
        images,
        json!(format_labels(obj.pointer("/template/metadata/labels"))),
    ]
    .into()
}

fn resourcequota_columns() -> Vec<Col> {
    vec![
        NAME,
        AGE,
        text(
            "Request",
            "string",
            0,
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        text(
            "Limit",
            "string",
            0,
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ]
}

/// `used/hard` per resource of `status.hard`, sorted; `limits.*` apart.
fn resourcequota_row(obj: &Value, now: OffsetDateTime) -> Row {
    let mut names: Vec<&String> = obj
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    names.sort();
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    for r in names {
        let key = r.replace('~', "~0").replace('/', "~1");
        let used = quantity(obj, &format!("/status/used/{key}"));
        let used = if used.is_empty() { "0".into() } else { used };
        let cell = format!(
            "{r}: {used}/{}",
            quantity(obj, &format!("/status/hard/{key}"))
        );
        if r.split('.').next() == Some("limits") && r.contains('.') {
            limit.push(cell);
        } else {
            request.push(cell);
        }
    }
    vec![
        name(obj),
        age(obj, now),
        json!(request.join(", ")),
        json!(limit.join(", ")),
    ]
    .into()
}

fn cronjob_columns() -> Vec<Col> {
    let spec = "io.k8s.api.batch.v1.CronJobSpec";
    let status = "io.k8s.api.batch.v1.CronJobStatus";
    vec![
        NAME,
        col("Schedule", "string", 0, Desc::Field(spec, "schedule")),
        col("Suspend", "boolean", 0, Desc::Field(spec, "suspend")),
        col("Active", "integer", 0, Desc::Field(status, "active")),
        col(
            "Last Schedule",
            "string",
            0,
            Desc::Field(status, "lastScheduleTime"),
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

fn cronjob_row(obj: &Value, now: OffsetDateTime) -> Row {
    let last = match obj
        .pointer("/status/lastScheduleTime")
        .filter(|v| !v.is_null())
    {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let suspend = match boolean(obj, "/spec/suspend") {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let (containers, images) =
        container_cells(obj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        name(obj),
        json!(s(obj, "/spec/schedule")),
        json!(suspend),
        json!(arr(obj, "/status/active").len()),
        json!(last),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(
            obj.pointer("/spec/jobTemplate/spec/selector")
        )),
    ]
    .into()
}

fn storageclass_columns() -> Vec<Col> {
    let def = "io.k8s.api.storage.v1.StorageClass";
    vec![
        NAME,
        col("Provisioner", "string", 0, Desc::Field(def, "provisioner")),
        col(
            "ReclaimPolicy",
            "string",
            0,
            Desc::Field(def, "reclaimPolicy"),
        ),
        col(
            "VolumeBindingMode",
            "string",
            0,
            Desc::Field(def, "volumeBindingMode"),
        ),
        col(
            "AllowVolumeExpansion",
            "string",
            0,
            Desc::Field(def, "allowVolumeExpansion"),
        ),
        AGE,
    ]
}

fn storageclass_row(obj: &Value, now: OffsetDateTime) -> Row {
    let mut n = s(obj, "/metadata/name").to_string();
    let default = [
        "storageclass.kubernetes.io~1is-default-class",
        "storageclass.beta.kubernetes.io~1is-default-class",
    ]
    .iter()
    .any(|a| s(obj, &format!("/metadata/annotations/{a}")) == "true");
    if default {
        n.push_str(" (default)");
    }
    vec![
        json!(n),
        json!(s(obj, "/provisioner")),
        or(s(obj, "/reclaimPolicy"), "Delete"),
        or(s(obj, "/volumeBindingMode"), "Immediate"),
        json!(boolean(obj, "/allowVolumeExpansion").unwrap_or(false)),
        age(obj, now),
    ]
    .into()
}

fn volumeattachment_columns() -> Vec<Col> {
    let spec = "io.k8s.api.storage.v1.VolumeAttachmentSpec";
    vec![
        NAME,
        col("Attacher", "string", 0, Desc::Field(spec, "attacher")),
        col(
            "PV",
            "string",
            0,
            Desc::Field(
                "io.k8s.api.storage.v1.VolumeAttachmentSource",
                "persistentVolumeName",
            ),
        ),
        col("Node", "string", 0, Desc::Field(spec, "nodeName")),
        col(
            "Attached",
            "boolean",
            0,
            Desc::Field("io.k8s.api.storage.v1.VolumeAttachmentStatus", "attached"),
        ),
        AGE,
    ]
}

fn volumeattachment_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(s(obj, "/spec/attacher")),
        json!(s(obj, "/spec/source/persistentVolumeName")),
        json!(s(obj, "/spec/nodeName")),
        json!(boolean(obj, "/status/attached").unwrap_or(false)),
        age(obj, now),
    ]
    .into()
}

fn csc_columns() -> Vec<Col> {
    let def = "io.k8s.api.storage.v1.CSIStorageCapacity";
    vec![
        NAME,
        col(
            "StorageClassName",
            "string",
            0,
            Desc::Field(def, "storageClassName"),
        ),
        col("Capacity", "string", 0, Desc::Field(def, "capacity")),
    ]
}

fn csc_row(obj: &Value, _now: OffsetDateTime) -> Row {
    let capacity = quantity(obj, "/capacity");
    vec![
        name(obj),
        json!(s(obj, "/storageClassName")),
        or(&capacity, "<unset>"),
    ]
    .into()
}

fn webhook_columns() -> Vec<Col> {
    vec![
        NAME,
        text(
            "Webhooks",
            "integer",
            0,
            "Webhooks indicates the number of webhooks in the configuration",
        ),
        AGE,
    ]
}

fn webhook_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![name(obj), json!(arr(obj, "/webhooks").len()), age(obj, now)].into()
}

fn apiservice_columns() -> Vec<Col> {
    vec![
        NAME,
        text(
            "Service",
            "string",
            0,
            "The reference to the service that hosts this API endpoint.",
        ),
        text(
            "Available",
            "string",
            0,
            "Whether this service is available.",
        ),
        AGE,
    ]
}

fn apiservice_row(obj: &Value, now: OffsetDateTime) -> Row {
    let service = match obj.pointer("/spec/service").filter(|v| v.is_object()) {
        Some(svc) => format!("{}/{}", s(svc, "/namespace"), s(svc, "/name")),
        None => "Local".into(),
    };
    let available = match arr(obj, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Available")
    {
        None => "Unknown".to_string(),
        Some(c) if s(c, "/status") == "True" => "True".into(),
        Some(c) if !s(c, "/reason").is_empty() => {
            format!("{} ({})", s(c, "/status"), s(c, "/reason"))
        }
        Some(c) => s(c, "/status").to_string(),
    };
    vec![name(obj), json!(service), json!(available), age(obj, now)].into()
}

fn hpa_columns() -> Vec<Col> {
    let spec = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec";
    vec![
        NAME,
        col(
            "Reference",
            "string",
            0,
            Desc::Field(spec, "scaleTargetRef"),
        ),
        col("Targets", "string", 0, Desc::Field(spec, "metrics")),
        col("MinPods", "string", 0, Desc::Field(spec, "minReplicas")),
        col("MaxPods", "string", 0, Desc::Field(spec, "maxReplicas")),
        col(
            "Replicas",
            "string",
            0,
            Desc::Field(
                "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
                "currentReplicas",
            ),
        ),
        AGE,
    ]
}

/// `formatHPAMetrics`: `current/target` per metric, `<unknown>` before the
/// autoscaler has measured anything.
fn hpa_targets(obj: &Value) -> String {
    let metrics = arr(obj, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".into();
    }
    let current = arr(obj, "/status/currentMetrics");
    let mut out = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        let ty = s(m, "/type");
        let key = match ty {
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            "Pods" => "pods",
            "Object" => "object",
            "External" => "external",
            _ => "",
        };
        let target = m
            .pointer(&format!("/{key}/target"))
            .cloned()
            .unwrap_or(Value::Null);
        let cur = current
            .get(i)
            .and_then(|c| c.pointer(&format!("/{key}/current")));
        let cell = if let Some(u) = target.get("averageUtilization").and_then(Value::as_i64) {
            let c = cur
                .and_then(|c| c.get("averageUtilization"))
                .and_then(Value::as_i64)
                .map_or("<unknown>".to_string(), |v| format!("{v}%"));
            format!("{c}/{u}%")
        } else {
            let field = if target.get("averageValue").is_some() {
                "averageValue"
            } else {
                "value"
            };
            let t = quantity(&target, &format!("/{field}"));
            let c = cur
                .map(|c| quantity(c, &format!("/{field}")))
                .unwrap_or_default();
            format!("{}/{t}", if c.is_empty() { "<unknown>" } else { &c })
        };
        out.push(cell);
    }
    if out.len() > 1 {
        let more = out.len() - 1;
        return format!("{} + {more} more...", out[0]);
    }
    out.join(", ")
}

fn hpa_row(obj: &Value, now: OffsetDateTime) -> Row {
    let reference = format!(
        "{}/{}",
        s(obj, "/spec/scaleTargetRef/kind"),
        s(obj, "/spec/scaleTargetRef/name")
    );
    let min = match obj.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(n) => n.to_string(),
        None => "<unset>".into(),
    };
    vec![
        name(obj),
        json!(reference),
        json!(hpa_targets(obj)),
        json!(min),
        json!(int(obj, "/spec/maxReplicas")),
        json!(int(obj, "/status/currentReplicas")),
        age(obj, now),
    ]
    .into()
}

fn csr_columns() -> Vec<Col> {
    let spec = "io.k8s.api.certificates.v1.CertificateSigningRequestSpec";
    vec![
        NAME,
        AGE,
        col("SignerName", "string", 0, Desc::Field(spec, "signerName")),
        text(
            "Requestor",
            "string",
            0,
            "Name of the user which made this request.",
        ),
        col(
            "RequestedDuration",
            "string",
            0,
            Desc::Field(spec, "expirationSeconds"),
        ),
        text("Condition", "string", 0, "State of this request."),
    ]
}

fn csr_row(obj: &Value, now: OffsetDateTime) -> Row {
    let mut conditions: Vec<&str> = arr(obj, "/status/conditions")
        .iter()
        .map(|c| s(c, "/type"))
        .filter(|t| !t.is_empty())
        .collect();
    if !s(obj, "/status/certificate").is_empty() {
        conditions.push("Issued");
    }
    let condition = if conditions.is_empty() {
        "Pending".to_string()
    } else {
        conditions.join(",")
    };
    let duration = match obj
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
    {
        Some(secs) => human_duration(time::Duration::seconds(secs)),
        None => "<none>".into(),
    };
    vec![
        name(obj),
        age(obj, now),
        json!(s(obj, "/spec/signerName")),
        json!(s(obj, "/spec/username")),
        json!(duration),
        json!(condition),
    ]
    .into()
}

fn ingressclass_columns() -> Vec<Col> {
    let spec = "io.k8s.api.networking.v1.IngressClassSpec";
    vec![
        NAME,
        col("Controller", "string", 0, Desc::Field(spec, "controller")),
        col("Parameters", "string", 0, Desc::Field(spec, "parameters")),
        AGE,
    ]
}

fn ingressclass_row(obj: &Value, now: OffsetDateTime) -> Row {
    let params = match obj.pointer("/spec/parameters").filter(|v| v.is_object()) {
        None => "<none>".to_string(),
        Some(p) => {
            let mut out = s(p, "/kind").to_string();
            if !s(p, "/apiGroup").is_empty() {
                out = format!("{out}.{}", s(p, "/apiGroup"));
            }
            format!("{out}/{}", s(p, "/name"))
        }
    };
    vec![
        name(obj),
        json!(s(obj, "/spec/controller")),
        json!(params),
        age(obj, now),
    ]
    .into()
}

fn ingress_columns() -> Vec<Col> {
    vec![
        NAME,
        text(
            "Class",
            "string",
            0,
            "The name of the IngressClass resource that should be used for this Ingress.",
        ),
        text(
            "Hosts",
            "string",
            0,
            "Hosts that incoming requests are matched against before the ingress rule",
        ),
        text(
            "Address",
            "string",
            0,
            "Address is a list containing ingress points for the load-balancer",
        ),
        text(
            "Ports",
            "string",
            0,
            "Ports of TLS configurations that open",
        ),
        AGE,
    ]
}

fn ingress_row(obj: &Value, now: OffsetDateTime) -> Row {
    let hosts: Vec<&str> = arr(obj, "/spec/rules")
        .iter()
        .map(|r| s(r, "/host"))
        .filter(|h| !h.is_empty())
        .collect();
    let hosts = match hosts.len() {
        0 => "*".to_string(),
        n if n > 3 => format!("{} + {} more...", hosts[..3].join(","), n - 3),
        _ => hosts.join(","),
    };
    let address: Vec<&str> = arr(obj, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| {
            let ip = s(i, "/ip");
            if ip.is_empty() {
                s(i, "/hostname")
            } else {
                ip
            }
        })
        .filter(|a| !a.is_empty())
        .collect();
    let ports = if arr(obj, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        or(s(obj, "/spec/ingressClassName"), "<none>"),
        json!(hosts),
        json!(address.join(",")),
        json!(ports),
        age(obj, now),
    ]
    .into()
}

fn networkpolicy_columns() -> Vec<Col> {
    vec![
        NAME,
        col(
            "Pod-Selector",
            "string",
            0,
            Desc::Field("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector"),
        ),
        AGE,
    ]
}

fn networkpolicy_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(format_label_selector(obj.pointer("/spec/podSelector"))),
        age(obj, now),
    ]
    .into()
}

fn pdb_columns() -> Vec<Col> {
    let spec = "io.k8s.api.policy.v1.PodDisruptionBudgetSpec";
    vec![
        NAME,
        col(
            "Min Available",
            "string",
            0,
            Desc::Field(spec, "minAvailable"),
        ),
        col(
            "Max Unavailable",
            "string",
            0,
            Desc::Field(spec, "maxUnavailable"),
        ),
        col(
            "Allowed Disruptions",
            "integer",
            0,
            Desc::Field(
                "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
                "disruptionsAllowed",
            ),
        ),
        AGE,
    ]
}

/// An int-or-string cell; `N/A` when unset.
fn int_or_string(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".into(),
    }
}

fn pdb_row(obj: &Value, now: OffsetDateTime) -> Row {
    vec![
        name(obj),
        json!(int_or_string(obj, "/spec/minAvailable")),
        json!(int_or_string(obj, "/spec/maxUnavailable")),
        json!(int(obj, "/status/disruptionsAllowed")),
        age(obj, now),
    ]
    .into()
}

fn binding_columns() -> Vec<Col> {
    vec![
        NAME,
        text(
            "Role",
            "string",
            0,
            "Role references the role that this binding grants",
        ),
        AGE,
        text("Users", "string", 1, "Users in the roleBinding"),
        text("Groups", "string", 1, "Groups in the roleBinding"),
        text(
            "ServiceAccounts",
            "string",
            1,
            "ServiceAccounts in the roleBinding",
        ),
    ]
}

fn binding_row(obj: &Value, now: OffsetDateTime) -> Row {
    let subjects = arr(obj, "/subjects");
    let of = |kind: &str| -> String {
        subjects
            .iter()
            .filter(|x| s(x, "/kind") == kind)
            .map(|x| {
                if kind == "ServiceAccount" {
                    format!("{}/{}", s(x, "/namespace"), s(x, "/name"))
                } else {
                    s(x, "/name").to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            s(obj, "/roleRef/kind"),
            s(obj, "/roleRef/name")
        )),
        age(obj, now),
        json!(of("User")),
        json!(of("Group")),
        json!(of("ServiceAccount")),
    ]
    .into()
}

fn flowschema_columns() -> Vec<Col> {
    vec![
        NAME,
        text("PriorityLevel", "string", 0, "priorityLevelConfiguration should reference a PriorityLevelConfiguration in the cluster. If the reference cannot be resolved, the FlowSchema will be ignored and marked as invalid in its status. Required."),
        text("MatchingPrecedence", "string", 0, "matchingPrecedence is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default."),
        text("DistinguisherMethod", "string", 0, "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string."),
        AGE,
        text("MissingPL", "string", 0, "indicates whether the priority level referenced by the FlowSchema exists"),
    ]
}

fn flowschema_row(obj: &Value, now: OffsetDateTime) -> Row {
    let dangling = arr(obj, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Dangling")
        .map_or("?", |c| s(c, "/status"));
    vec![
        name(obj),
        json!(s(obj, "/spec/priorityLevelConfiguration/name")),
        json!(int(obj, "/spec/matchingPrecedence")),
        or(s(obj, "/spec/distinguisherMethod/type"), "<none>"),
        age(obj, now),
        json!(dangling),
    ]
    .into()
}

fn plc_columns() -> Vec<Col> {
    vec![
        NAME,
        text("Type", "string", 0, "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required."),
        text("AssuredConcurrencyShares", "string", 0, "`assuredConcurrencyShares` (ACS) configures the execution limit, which is a limit on the number of requests of this priority level that may be exeucting at a given time."),
        text("Queues", "string", 0, "`queues` is the number of queues for this priority level."),
        text("HandSize", "string", 0, "`handSize` is a small positive number that configures the shuffle sharding of requests into queues."),
        text("QueueLengthLimit", "string", 0, "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time."),
        AGE,
    ]
}

fn plc_row(obj: &Value, now: OffsetDateTime) -> Row {
    let none = || json!("<none>");
    let limited = obj.pointer("/spec/limited").filter(|v| v.is_object());
    let acs = limited
        .and_then(|l| l.get("assuredConcurrencyShares"))
        .and_then(Value::as_i64)
        .map_or_else(none, |n| json!(n));
    let queuing = limited.and_then(|l| l.pointer("/limitResponse/queuing"));
    let q = |k: &str| {
        queuing
            .and_then(|q| q.get(k))
            .and_then(Value::as_i64)
            .map_or_else(none, |n| json!(n))
    };
    vec![
        name(obj),
        json!(s(obj, "/spec/type")),
        acs,
        q("queues"),
        q("handSize"),
        q("queueLengthLimit"),
        age(obj, now),
    ]
    .into()
}

fn psp_columns() -> Vec<Col> {
    vec![
        NAME,
        text("Priv", "string", 0, "privileged determines if a pod can request to be run as privileged."),
        text("Caps", "string", 0, "allowedCapabilities is a list of capabilities that can be requested to add to the container."),
        text("SELinux", "string", 0, "seLinux is the strategy that will dictate the allowable labels that may be set."),
        text("RunAsUser", "string", 0, "runAsUser is the strategy that will dictate the allowable RunAsUser values that may be set."),
        text("FsGroup", "string", 0, "fsGroup is the strategy that will dictate what fs group is used by the SecurityContext."),
        text("SupGroup", "string", 0, "supplementalGroups is the strategy that will dictate what supplemental groups are used by the SecurityContext."),
        text("ReadOnlyRootFs", "string", 0, "readOnlyRootFilesystem when set to true will force containers to run with a read only root file system."),
        text("Volumes", "string", 0, "volumes is an allowlist of volume plugins."),
    ]
}

fn psp_row(obj: &Value, _now: OffsetDateTime) -> Row {
    let join = |ptr: &str| {
        arr(obj, ptr)
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    vec![
        name(obj),
        json!(boolean(obj, "/spec/privileged")
            .unwrap_or(false)
            .to_string()),
        json!(join("/spec/allowedCapabilities")),
        json!(s(obj, "/spec/seLinux/rule")),
        json!(s(obj, "/spec/runAsUser/rule")),
        json!(s(obj, "/spec/fsGroup/rule")),
        json!(s(obj, "/spec/supplementalGroups/rule")),
        json!(boolean(obj, "/spec/readOnlyRootFilesystem").unwrap_or(false)),
        json!(join("/spec/volumes")),
    ]
    .into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::super::{to_table, IncludeObject};
    use serde_json::{json, Value};
    use time::macros::datetime;

    fn cells(storage_name: &str, obj: Value) -> (Vec<String>, Vec<Value>) {
        let t = to_table(
            storage_name,
            &[obj],
            json!({}),
            IncludeObject::None,
            datetime!(2024-01-01 0:10 UTC),
        );
        let names = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        (names, t["rows"][0]["cells"].as_array().unwrap().clone())
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"})
    }

    /// (storage name, object, columns, cells) as the real printers give them.
    #[test]
    fn tables_of_the_new_kinds_match_the_real_printers() {
        let cases = vec![
            (
                "persistentvolumes",
                json!({"metadata": meta("pv1"), "spec": {"capacity": {"storage": "1Gi"},
                       "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                       "claimRef": {"namespace": "default", "name": "c"}, "storageClassName": "fast"},
                       "status": {"phase": "Bound"}}),
                vec![
                    "Name",
                    "Capacity",
                    "Access Modes",
                    "Reclaim Policy",
                    "Status",
                    "Claim",
                    "StorageClass",
                    "Reason",
                    "Age",
                    "VolumeMode",
                ],
                json!([
                    "pv1",
                    "1Gi",
                    "RWO,RWX",
                    "Retain",
                    "Bound",
                    "default/c",
                    "fast",
                    "",
                    "10m",
                    "<unset>"
                ]),
            ),
            (
                "persistentvolumeclaims",
                json!({"metadata": meta("c"), "spec": {"volumeName": "pv1", "volumeMode": "Filesystem"},
                       "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}),
                vec![
                    "Name",
                    "Status",
                    "Volume",
                    "Capacity",
                    "Access Modes",
                    "StorageClass",
                    "Age",
                    "VolumeMode",
                ],
                json!(["c", "Bound", "pv1", "1Gi", "RWO", "", "10m", "Filesystem"]),
            ),
            (
                "cronjobs.batch",
                json!({"metadata": meta("cj"), "spec": {"schedule": "*/5 * * * *", "suspend": false,
                       "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}}),
                vec![
                    "Name",
                    "Schedule",
                    "Suspend",
                    "Active",
                    "Last Schedule",
                    "Age",
                    "Containers",
                    "Images",
                    "Selector",
                ],
                json!([
                    "cj",
                    "*/5 * * * *",
                    "False",
                    0,
                    "<none>",
                    "10m",
                    "c",
                    "i",
                    "<none>"
                ]),
            ),
            (
                "storageclasses.storage.k8s.io",
                json!({"metadata": {"name": "sc", "creationTimestamp": "2024-01-01T00:00:00Z",
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"}),
                vec![
                    "Name",
                    "Provisioner",
                    "ReclaimPolicy",
                    "VolumeBindingMode",
                    "AllowVolumeExpansion",
                    "Age",
                ],
                json!(["sc (default)", "p", "Delete", "Immediate", false, "10m"]),
            ),
            (
                "horizontalpodautoscalers.autoscaling",
                json!({"metadata": meta("h"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                       "minReplicas": 1, "maxReplicas": 3, "metrics": [{"type": "Resource",
                       "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}),
                vec![
                    "Name",
                    "Reference",
                    "Targets",
                    "MinPods",
                    "MaxPods",
                    "Replicas",
                    "Age",
                ],
                json!(["h", "Deployment/web", "<unknown>/50%", "1", 3, 0, "10m"]),
            ),
            (
                "ingresses.networking.k8s.io",
                json!({"metadata": meta("i"), "spec": {"rules": [{"host": "a.example.com"}], "tls": [{}]}}),
                vec!["Name", "Class", "Hosts", "Address", "Ports", "Age"],
                json!(["i", "<none>", "a.example.com", "", "80, 443", "10m"]),
            ),
            (
                "poddisruptionbudgets.policy",
                json!({"metadata": meta("p"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 2}}),
                vec![
                    "Name",
                    "Min Available",
                    "Max Unavailable",
                    "Allowed Disruptions",
                    "Age",
                ],
                json!(["p", "50%", "N/A", 2, "10m"]),
            ),
            (
                "clusterrolebindings.rbac.authorization.k8s.io",
                json!({"metadata": meta("b"), "roleRef": {"kind": "ClusterRole", "name": "admin"},
                       "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"}]}),
                vec!["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"],
                json!(["b", "ClusterRole/admin", "10m", "alice", "", "ns/sa"]),
            ),
            (
                "resourcequotas",
                json!({"metadata": meta("q"), "status": {"hard": {"pods": "10", "limits.cpu": "2"}, "used": {"pods": "3"}}}),
                vec!["Name", "Age", "Request", "Limit"],
                json!(["q", "10m", "pods: 3/10", "limits.cpu: 0/2"]),
            ),
            (
                "certificatesigningrequests.certificates.k8s.io",
                json!({"metadata": meta("csr"), "spec": {"signerName": "s", "username": "u"},
                       "status": {"conditions": [{"type": "Approved"}], "certificate": "Zm9v"}}),
                vec![
                    "Name",
                    "Age",
                    "SignerName",
                    "Requestor",
                    "RequestedDuration",
                    "Condition",
                ],
                json!(["csr", "10m", "s", "u", "<none>", "Approved,Issued"]),
            ),
            (
                "componentstatuses",
                json!({"metadata": {"name": "store-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}),
                vec!["Name", "Status", "Message", "Error"],
                json!(["store-0", "Healthy", "ok", ""]),
            ),
            (
                "apiservices.apiregistration.k8s.io",
                json!({"metadata": meta("v1.apps"), "spec": {"group": "apps"},
                       "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}}),
                vec!["Name", "Service", "Available", "Age"],
                json!(["v1.apps", "Local", "True", "10m"]),
            ),
            (
                "roles.rbac.authorization.k8s.io",
                json!({"metadata": meta("r")}),
                vec!["Name", "Created At"],
                json!(["r", "2024-01-01T00:00:00Z"]),
            ),
        ];
        for (storage_name, obj, columns, want) in cases {
            let (names, got) = cells(storage_name, obj);
            assert_eq!(names, columns, "{storage_name}");
            assert_eq!(Value::Array(got), want, "{storage_name}");
        }
    }
}
