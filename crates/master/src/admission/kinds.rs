//! Defaulting and validation of the essentials for the kinds served beyond
//! the workload core, as the v1.24 defaulters (`pkg/apis/*/v1/defaults.go`)
//! and validators (`pkg/apis/*/validation`) do them. Storage-only kinds get
//! the checks that keep clients from storing what the real server refuses;
//! deep validation (e.g. of CSR requests or webhook URLs) is not done.

use apimachinery::status::Cause;
use serde_json::{json, Value};

use super::{child, default_pod_spec, set_default};

/// Kinds (group, kind) whose Go type has a non-pointer `spec`.
pub(super) const WITH_SPEC: &[(&str, &str)] = &[
    ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"),
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("policy", "PodSecurityPolicy"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("apiregistration.k8s.io", "APIService"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "VolumeAttachment"),
];

/// Kinds whose strategy bumps `metadata.generation` on spec changes.
pub(super) const TRACK_GENERATION: &[(&str, &str)] = &[
    ("batch", "CronJob"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
];

/// Defaults applied on every write.
pub(super) fn default_spec(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "PersistentVolume") => {
            let spec = child(obj, "spec");
            set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            set_default(spec, "volumeMode", json!("Filesystem"));
        }
        ("", "PersistentVolumeClaim") => {
            set_default(child(obj, "spec"), "volumeMode", json!("Filesystem"));
        }
        ("", "PodTemplate") => {
            if let Some(spec) = obj.pointer_mut("/template/spec") {
                default_pod_spec(spec);
            }
        }
        ("batch", "CronJob") => {
            let spec = child(obj, "spec");
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            if let Some(pod) = obj.pointer_mut("/spec/jobTemplate/spec/template/spec") {
                default_pod_spec(pod);
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            set_default(obj, "reclaimPolicy", json!("Delete"));
            set_default(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let spec = child(obj, "spec");
            set_default(spec, "minReplicas", json!(1));
            let empty = spec
                .get("metrics")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if empty {
                if let Some(m) = spec.as_object_mut() {
                    m.insert(
                        "metrics".into(),
                        json!([{"type": "Resource", "resource": {"name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80}}}]),
                    );
                }
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            let has_egress = obj
                .pointer("/spec/egress")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty());
            let spec = child(obj, "spec");
            let types = if has_egress {
                json!(["Ingress", "Egress"])
            } else {
                json!(["Ingress"])
            };
            set_default(spec, "policyTypes", types);
            for dir in ["ingress", "egress"] {
                if let Some(rules) = spec.get_mut(dir).and_then(Value::as_array_mut) {
                    for rule in rules {
                        if let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut) {
                            for p in ports {
                                set_default(p, "protocol", json!("TCP"));
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Create-time defaults: a fresh status where the real strategy resets it.
pub(super) fn default_create(group: &str, kind: &str, obj: &mut Value) {
    let status = match (group, kind) {
        ("", "PersistentVolume" | "PersistentVolumeClaim") => json!({"phase": "Pending"}),
        ("batch", "CronJob")
        | ("policy", "PodDisruptionBudget")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("", "ResourceQuota")
        | ("certificates.k8s.io", "CertificateSigningRequest") => json!({}),
        _ => return,
    };
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), status);
    }
}

/// A CertificateSigningRequest records who asked, from the request's user
/// (the real strategy's `PrepareForCreate`); whatever the body said is
/// replaced.
pub fn stamp_csr_requester(obj: &mut Value, user: &crate::auth::UserInfo) {
    let spec = child(obj, "spec");
    if let Some(m) = spec.as_object_mut() {
        m.insert("username".into(), json!(user.name));
        m.insert("groups".into(), json!(user.groups));
        if user.uid.is_empty() {
            m.remove("uid");
        } else {
            m.insert("uid".into(), json!(user.uid));
        }
        m.remove("extra");
    }
}

fn has(obj: &Value, ptr: &str) -> bool {
    obj.pointer(ptr).is_some_and(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    })
}

/// A standard 5-field cron schedule (or a `@` macro), as robfig/cron's
/// standard parser accepts: each field `*`, numbers, ranges, lists, steps
/// and names.
pub fn valid_cron_schedule(schedule: &str) -> bool {
    let s = schedule.trim();
    let s = s
        .strip_prefix("TZ=")
        .or_else(|| s.strip_prefix("CRON_TZ="))
        .and_then(|rest| rest.split_once(' ').map(|(_, r)| r.trim()))
        .unwrap_or(s);
    if let Some(m) = s.strip_prefix('@') {
        return matches!(
            m,
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly"
        ) || m
            .strip_prefix("every ")
            .is_some_and(|d| !d.trim().is_empty());
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return false;
    }
    let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    let names: [&[&str]; 5] = [
        &[],
        &[],
        &[],
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ];
    fields
        .iter()
        .zip(bounds)
        .zip(names)
        .all(|((f, (lo, hi)), names)| {
            f.split(',').all(|part| {
                let (range, step) = match part.split_once('/') {
                    Some((r, st)) => (r, Some(st)),
                    None => (part, None),
                };
                if step.is_some_and(|st| st.parse::<u32>().map_or(true, |n| n == 0)) {
                    return false;
                }
                let value = |v: &str| -> Option<u32> {
                    if let Ok(n) = v.parse::<u32>() {
                        return (lo..=hi).contains(&n).then_some(n);
                    }
                    let lower = v.to_ascii_lowercase();
                    names
                        .iter()
                        .position(|n| *n == lower)
                        .and_then(|i| u32::try_from(i).ok())
                        .map(|i| if lo == 1 { i + 1 } else { i })
                };
                match range {
                    "*" | "?" => true,
                    r => match r.split_once('-') {
                        Some((a, b)) => {
                            matches!((value(a), value(b)), (Some(a), Some(b)) if a <= b)
                        }
                        None => value(r).is_some(),
                    },
                }
            })
        })
}

/// Validation of the essentials on every write.
pub(super) fn validate(group: &str, kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match (group, kind) {
        ("", "PersistentVolume") => {
            if !has(obj, "/spec/accessModes") {
                causes.push(Cause::required("spec.accessModes"));
            }
            if !has(obj, "/spec/capacity/storage") {
                causes.push(Cause::required("spec.capacity"));
            }
            let sources = obj
                .get("spec")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter(|k| {
                            !matches!(
                                k.as_str(),
                                "accessModes"
                                    | "capacity"
                                    | "claimRef"
                                    | "persistentVolumeReclaimPolicy"
                                    | "storageClassName"
                                    | "mountOptions"
                                    | "volumeMode"
                                    | "nodeAffinity"
                            )
                        })
                        .count()
                })
                .unwrap_or(0);
            if sources == 0 {
                let mut c = Cause::required("spec");
                c.message = "Required value: must specify a volume type".into();
                causes.push(c);
            }
        }
        ("", "PersistentVolumeClaim") => {
            if !has(obj, "/spec/accessModes") && !has(obj, "/spec/dataSource") {
                let mut c = Cause::required("spec.accessModes");
                c.message = "Required value: at least 1 access mode is required".into();
                causes.push(c);
            }
            if !has(obj, "/spec/resources/requests/storage") {
                causes.push(Cause::required("spec.resources[storage]"));
            }
        }
        ("batch", "CronJob") => {
            match obj.pointer("/spec/schedule").and_then(Value::as_str) {
                None | Some("") => causes.push(Cause::required("spec.schedule")),
                Some(s) if !valid_cron_schedule(s) => causes.push(Cause::invalid(
                    "spec.schedule",
                    &json!(s),
                    "unparseable cron schedule",
                )),
                Some(_) => {}
            }
            for (ptr, field) in [
                (
                    "/spec/startingDeadlineSeconds",
                    "spec.startingDeadlineSeconds",
                ),
                (
                    "/spec/successfulJobsHistoryLimit",
                    "spec.successfulJobsHistoryLimit",
                ),
                (
                    "/spec/failedJobsHistoryLimit",
                    "spec.failedJobsHistoryLimit",
                ),
            ] {
                super::validate_non_negative(obj, ptr, field, causes);
            }
            if let Some(p) = obj
                .pointer("/spec/concurrencyPolicy")
                .and_then(Value::as_str)
            {
                if !matches!(p, "Allow" | "Forbid" | "Replace") {
                    causes.push(Cause::not_supported(
                        "spec.concurrencyPolicy",
                        &json!(p),
                        &["Allow", "Forbid", "Replace"],
                    ));
                }
            }
            match obj.pointer("/spec/jobTemplate/spec/template/spec") {
                Some(spec) => {
                    super::validate_containers(spec, "spec.jobTemplate.spec.template.spec", causes);
                    let rp = spec
                        .get("restartPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("Always");
                    if rp != "Never" && rp != "OnFailure" {
                        causes.push(Cause::not_supported(
                            "spec.jobTemplate.spec.template.spec.restartPolicy",
                            &json!(rp),
                            &["OnFailure", "Never"],
                        ));
                    }
                }
                None => causes.push(Cause::required(
                    "spec.jobTemplate.spec.template.spec.containers",
                )),
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            if !has(obj, "/provisioner") {
                causes.push(Cause::required("provisioner"));
            }
            if let Some(p) = obj.get("reclaimPolicy").and_then(Value::as_str) {
                if !matches!(p, "Delete" | "Retain") {
                    causes.push(Cause::not_supported(
                        "reclaimPolicy",
                        &json!(p),
                        &["Delete", "Retain"],
                    ));
                }
            }
        }
        ("storage.k8s.io", "VolumeAttachment") => {
            for (ptr, field) in [
                ("/spec/attacher", "spec.attacher"),
                ("/spec/nodeName", "spec.nodeName"),
            ] {
                if !has(obj, ptr) {
                    causes.push(Cause::required(field));
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let max = obj.pointer("/spec/maxReplicas").and_then(Value::as_i64);
            let min = obj.pointer("/spec/minReplicas").and_then(Value::as_i64);
            match max {
                None => causes.push(Cause::required("spec.maxReplicas")),
                Some(m) if m < 1 => causes.push(Cause::invalid(
                    "spec.maxReplicas",
                    &json!(m),
                    "must be greater than or equal to 1",
                )),
                Some(m) => {
                    if let Some(n) = min.filter(|n| *n > m) {
                        causes.push(Cause::invalid(
                            "spec.maxReplicas",
                            &json!(m),
                            &format!("must be greater than or equal to `minReplicas` ({n})"),
                        ));
                    }
                }
            }
            for (ptr, field) in [
                ("/spec/scaleTargetRef/kind", "spec.scaleTargetRef.kind"),
                ("/spec/scaleTargetRef/name", "spec.scaleTargetRef.name"),
            ] {
                if !has(obj, ptr) {
                    causes.push(Cause::required(field));
                }
            }
        }
        ("policy", "PodDisruptionBudget")
            if has(obj, "/spec/minAvailable") && has(obj, "/spec/maxUnavailable") =>
        {
            causes.push(Cause::invalid(
                "spec",
                obj.get("spec").unwrap_or(&Value::Null),
                "minAvailable and maxUnavailable cannot be both set",
            ));
        }
        ("networking.k8s.io", "Ingress") => {
            for (i, rule) in obj
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (j, path) in rule
                    .pointer("/http/paths")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let field = format!("spec.rules[{i}].http.paths[{j}]");
                    match path.get("pathType").and_then(Value::as_str) {
                        None | Some("") => {
                            causes.push(Cause::required(&format!("{field}.pathType")))
                        }
                        Some("Exact" | "Prefix" | "ImplementationSpecific") => {}
                        Some(other) => causes.push(Cause::not_supported(
                            &format!("{field}.pathType"),
                            &json!(other),
                            &["Exact", "ImplementationSpecific", "Prefix"],
                        )),
                    }
                    if !has(path, "/backend") {
                        causes.push(Cause::required(&format!("{field}.backend")));
                    }
                }
            }
        }
        ("networking.k8s.io", "IngressClass") if !has(obj, "/spec/controller") => {
            causes.push(Cause::required("spec.controller"));
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            let role_kind = obj.pointer("/roleRef/kind").and_then(Value::as_str);
            let allowed: &[&str] = if kind == "RoleBinding" {
                &["Role", "ClusterRole"]
            } else {
                &["ClusterRole"]
            };
            match role_kind {
                None | Some("") => causes.push(Cause::required("roleRef.kind")),
                Some(k) if !allowed.contains(&k) => {
                    causes.push(Cause::not_supported("roleRef.kind", &json!(k), allowed))
                }
                Some(_) => {}
            }
            if !has(obj, "/roleRef/name") {
                causes.push(Cause::required("roleRef.name"));
            }
            match obj.pointer("/roleRef/apiGroup").and_then(Value::as_str) {
                Some("rbac.authorization.k8s.io") => {}
                other => causes.push(Cause::not_supported(
                    "roleRef.apiGroup",
                    &json!(other.unwrap_or("")),
                    &["rbac.authorization.k8s.io"],
                )),
            }
            for (i, s) in obj
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let field = format!("subjects[{i}]");
                if !has(s, "/name") {
                    causes.push(Cause::required(&format!("{field}.name")));
                }
                match s.get("kind").and_then(Value::as_str) {
                    Some("User" | "Group") => {}
                    Some("ServiceAccount") => {
                        if !has(s, "/namespace") && kind == "ClusterRoleBinding" {
                            causes.push(Cause::required(&format!("{field}.namespace")));
                        }
                    }
                    other => causes.push(Cause::not_supported(
                        &format!("{field}.kind"),
                        &json!(other.unwrap_or("")),
                        &["ServiceAccount", "User", "Group"],
                    )),
                }
            }
        }
        ("apiregistration.k8s.io", "APIService") => {
            let want = format!(
                "{}.{}",
                obj.pointer("/spec/version")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                obj.pointer("/spec/group")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name != want {
                causes.push(Cause::invalid(
                    "metadata.name",
                    &json!(name),
                    &format!("must be {want}"),
                ));
            }
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            if !has(obj, "/spec/request") {
                causes.push(Cause::required("spec.request"));
            }
            if !has(obj, "/spec/signerName") {
                causes.push(Cause::required("spec.signerName"));
            }
        }
        _ => {}
    }
}

/// Fields fixed after creation.
pub(super) fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    causes: &mut Vec<Cause>,
) {
    match (group, kind) {
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding")
            if new.get("roleRef") != old.get("roleRef") =>
        {
            causes.push(Cause::invalid(
                "roleRef",
                new.get("roleRef").unwrap_or(&Value::Null),
                "cannot change roleRef",
            ));
        }
        ("storage.k8s.io", "StorageClass") => {
            for key in [
                "provisioner",
                "parameters",
                "reclaimPolicy",
                "volumeBindingMode",
            ] {
                if new.get(key) != old.get(key) {
                    causes.push(Cause::forbidden(
                        key,
                        &format!("updates to {key} are forbidden."),
                    ));
                }
            }
        }
        ("storage.k8s.io", "VolumeAttachment") if new.get("spec") != old.get("spec") => {
            causes.push(Cause::invalid(
                "spec",
                new.get("spec").unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
        ("", "PersistentVolumeClaim") => {
            // Only the requested size (growing) and volumeName binding may change.
            let strip = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(m) = spec.as_object_mut() {
                    m.remove("resources");
                    if old
                        .pointer("/spec/volumeName")
                        .is_none_or(|n| n.as_str() == Some(""))
                    {
                        m.remove("volumeName");
                    }
                }
                spec
            };
            if strip(new) != strip(old) {
                causes.push(Cause::forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests for bound claims",
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;

    #[test]
    fn cron_schedules() {
        for ok in [
            "*/5 * * * *",
            "0 0 * * 0",
            "0 12 1-15 jan-mar mon,wed",
            "@hourly",
            "@every 5m",
            "CRON_TZ=UTC 0 * * * *",
        ] {
            assert!(valid_cron_schedule(ok), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "*/0 * * * *",
            "0 0 32 * *",
            "@sometimes",
            "a b c d e",
        ] {
            assert!(!valid_cron_schedule(bad), "{bad}");
        }
    }

    /// (group, kind, object, expected causes' fields)
    #[test]
    fn essentials_are_validated() {
        let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
            (
                "",
                "PersistentVolume",
                json!({"spec": {}}),
                vec!["spec.accessModes", "spec.capacity", "spec"],
            ),
            (
                "",
                "PersistentVolume",
                json!({"spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}}}),
                vec![],
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"spec": {}}),
                vec!["spec.accessModes", "spec.resources[storage]"],
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"schedule": "nope", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}}),
                vec![
                    "spec.schedule",
                    "spec.jobTemplate.spec.template.spec.restartPolicy",
                ],
            ),
            (
                "storage.k8s.io",
                "StorageClass",
                json!({}),
                vec!["provisioner"],
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"spec": {"minReplicas": 5, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "x"}}}),
                vec!["spec.maxReplicas"],
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"spec": {"minAvailable": 1, "maxUnavailable": 1}}),
                vec!["spec"],
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                       "subjects": [{"kind": "ServiceAccount", "name": "sa"}]}),
                vec!["roleRef.kind", "subjects[0].namespace"],
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"spec": {"rules": [{"http": {"paths": [{"path": "/"}]}}]}}),
                vec![
                    "spec.rules[0].http.paths[0].pathType",
                    "spec.rules[0].http.paths[0].backend",
                ],
            ),
        ];
        for (group, kind, obj, want) in cases {
            let mut causes = Vec::new();
            validate(group, kind, &obj, &mut causes);
            let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
            assert_eq!(fields, want, "{kind}: {causes:?}");
        }
    }

    #[test]
    fn defaults_and_immutable_fields() {
        let mut pvc = json!({"spec": {}});
        default_spec("", "PersistentVolumeClaim", &mut pvc);
        default_create("", "PersistentVolumeClaim", &mut pvc);
        assert_eq!(
            pvc,
            json!({"spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
        );
        let mut cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}});
        default_spec("batch", "CronJob", &mut cj);
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        let mut np = json!({"spec": {"egress": [{}]}});
        default_spec("networking.k8s.io", "NetworkPolicy", &mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let old = json!({"roleRef": {"kind": "ClusterRole", "name": "a"}});
        let new = json!({"roleRef": {"kind": "ClusterRole", "name": "b"}});
        let mut causes = Vec::new();
        validate_update(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            &new,
            &old,
            &mut causes,
        );
        assert_eq!(causes.len(), 1);
        assert!(causes[0].message.contains("cannot change roleRef"));
    }
}
