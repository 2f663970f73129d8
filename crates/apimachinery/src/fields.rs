//! Field selectors: which fields each resource supports and their values.
//!
//! The real v1.24 server checks a field selector in two independent layers,
//! and so do we:
//!
//! 1. Acceptance: the per-kind field label conversion functions
//!    (`pkg/apis/<group>/<version>/conversion.go`). A label they reject is a
//!    400 whose message depends on the kind; kinds without such a function
//!    (every apps/v1 kind, configmaps, services, leases, ...) accept only
//!    `metadata.name` and `metadata.namespace`. Some labels are aliases that
//!    are rewritten before matching (`spec.host` -> `spec.nodeName` for pods,
//!    `regarding.*` -> `involvedObject.*` for events.k8s.io).
//! 2. Matching: the registry strategies' `ToSelectableFields`
//!    (`pkg/registry/*/strategy.go`), which compute the canonical field set
//!    from the object. A label that is accepted but not computed (pods'
//!    `status.podIPs`) reads as `""`, exactly as `fields.Set.Get` does.
//!
//! There is no machine-readable source of either upstream, so both live in
//! one table, `FIELD_SELECTORS`, keyed by the kinds of the registry (from
//! their k8s-openapi types). The public functions take the registry's
//! storage name (`ResourceInfo::storage_name()`).

use k8s_openapi::api::{apps, batch, core, events};
use k8s_openapi::Resource;
use serde_json::Value;

use crate::registry;
use crate::selector::{go_quote, FieldSelector, SelectorError};

/// How a kind's conversion function words a rejected label.
#[derive(Clone, Copy)]
enum Reject {
    /// `field label not supported: X` (core kinds, events.k8s.io).
    Plain,
    /// `field label "X" not supported for batchv1.Job`.
    Job,
    /// `"X" is not a known field selector: only "metadata.name", "metadata.namespace"`
    /// (`runtime.DefaultMetaV1FieldSelectorConversion`).
    Meta,
}

struct Rules {
    /// Every label the conversion accepts, aliases included.
    accepted: &'static [&'static str],
    /// Accepted label -> canonical label used for matching.
    aliases: &'static [(&'static str, &'static str)],
    reject: Reject,
}

const META_ONLY: Rules = Rules {
    accepted: &["metadata.name", "metadata.namespace"],
    aliases: &[],
    reject: Reject::Meta,
};

const PODS: Rules = Rules {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
        "spec.host",
    ],
    // Old v1 clients send spec.host.
    aliases: &[("spec.host", "spec.nodeName")],
    reject: Reject::Plain,
};

const NODES: Rules = Rules {
    accepted: &["metadata.name", "spec.unschedulable"],
    aliases: &[],
    reject: Reject::Plain,
};

const NAMESPACES: Rules = Rules {
    accepted: &["metadata.name", "status.phase"],
    aliases: &[],
    reject: Reject::Plain,
};

const SECRETS: Rules = Rules {
    accepted: &["metadata.name", "metadata.namespace", "type"],
    aliases: &[],
    reject: Reject::Plain,
};

const REPLICATION_CONTROLLERS: Rules = Rules {
    accepted: &["metadata.name", "metadata.namespace", "status.replicas"],
    aliases: &[],
    reject: Reject::Plain,
};

const CORE_EVENTS: Rules = Rules {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ],
    aliases: &[],
    reject: Reject::Plain,
};

const EVENTS_K8S_IO: Rules = Rules {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "source",
        "type",
    ],
    // events.k8s.io shares the core Event field set.
    aliases: &[
        ("regarding.kind", "involvedObject.kind"),
        ("regarding.namespace", "involvedObject.namespace"),
        ("regarding.name", "involvedObject.name"),
        ("regarding.uid", "involvedObject.uid"),
        ("regarding.apiVersion", "involvedObject.apiVersion"),
        (
            "regarding.resourceVersion",
            "involvedObject.resourceVersion",
        ),
        ("regarding.fieldPath", "involvedObject.fieldPath"),
        ("reportingController", "reportingComponent"),
    ],
    reject: Reject::Plain,
};

const JOBS: Rules = Rules {
    accepted: &["metadata.name", "metadata.namespace", "status.successful"],
    aliases: &[],
    reject: Reject::Job,
};

/// Adds a kind's selectable fields beyond `metadata.name`/`.namespace`.
type Values = fn(&Value, &mut Vec<(&'static str, String)>);

/// One kind's field selector support.
struct KindFields {
    group: &'static str,
    kind: &'static str,
    rules: &'static Rules,
    values: Values,
}

macro_rules! kind_fields {
    ($t:ty, $rules:expr, $values:expr) => {
        KindFields {
            group: <$t as Resource>::GROUP,
            kind: <$t as Resource>::KIND,
            rules: $rules,
            values: $values,
        }
    };
}

/// Every kind whose field selectors go beyond metadata, as in v1.24:
/// acceptance from `AddFieldLabelConversionFunc` in
/// `pkg/apis/<group>/<version>/conversion.go`, values from
/// `GetAttrs`/`ToSelectableFields` in `pkg/registry/<group>/<resource>/strategy.go`.
/// Every other kind accepts and computes `metadata.name` and
/// `metadata.namespace` only.
static FIELD_SELECTORS: &[KindFields] = &[
    // pkg/apis/core/v1/conversion.go; pkg/registry/core/pod/strategy.go
    kind_fields!(core::v1::Pod, &PODS, pod_values),
    // pkg/registry/core/node/strategy.go (NodeToSelectableFields)
    kind_fields!(core::v1::Node, &NODES, |obj, out| {
        out.push(("spec.unschedulable", bool_at(obj, "/spec/unschedulable")));
    }),
    // pkg/registry/core/namespace/strategy.go (NamespaceToSelectableFields)
    kind_fields!(core::v1::Namespace, &NAMESPACES, |obj, out| {
        out.push(("status.phase", string_at(obj, "/status/phase")));
    }),
    // pkg/registry/core/secret/strategy.go (SelectableFields)
    kind_fields!(core::v1::Secret, &SECRETS, |obj, out| {
        out.push(("type", string_at(obj, "/type")));
    }),
    // pkg/registry/core/replicationcontroller/strategy.go
    kind_fields!(
        core::v1::ReplicationController,
        &REPLICATION_CONTROLLERS,
        replicas_values
    ),
    // pkg/registry/core/event/strategy.go (ToSelectableFields)
    kind_fields!(core::v1::Event, &CORE_EVENTS, event_values),
    // pkg/apis/events/v1/conversion.go: regarding.* etc. map onto the core
    // Event fields, which the shared storage computes.
    kind_fields!(events::v1::Event, &EVENTS_K8S_IO, event_values),
    // pkg/apis/batch/v1/conversion.go; pkg/registry/batch/job/strategy.go
    kind_fields!(batch::v1::Job, &JOBS, |obj, out| {
        out.push(("status.successful", int_at(obj, "/status/succeeded")));
    }),
    // apps/v1 registers no field label conversion, so replicasets reject
    // status.replicas, but pkg/registry/apps/replicaset/strategy.go computes it.
    kind_fields!(apps::v1::ReplicaSet, &META_ONLY, replicas_values),
];

fn kind_fields(storage_name: &str) -> Option<&'static KindFields> {
    let info = &registry::builtin_by_storage_name(storage_name)?.info;
    FIELD_SELECTORS
        .iter()
        .find(|f| f.group == info.group && f.kind == info.kind)
}

fn rules(storage_name: &str) -> &'static Rules {
    kind_fields(storage_name).map_or(&META_ONLY, |f| f.rules)
}

/// Every field label the real server accepts in a field selector for this
/// resource (aliases such as pods' `spec.host` included).
pub fn supported_fields(storage_name: &str) -> &'static [&'static str] {
    rules(storage_name).accepted
}

fn reject_message(reject: Reject, field: &str) -> String {
    match reject {
        Reject::Plain => format!("field label not supported: {field}"),
        Reject::Job => format!(
            "field label {} not supported for batchv1.Job",
            go_quote(field)
        ),
        Reject::Meta => format!(
            "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            go_quote(field)
        ),
    }
}

/// Checks every term against the resource's accepted labels and rewrites
/// aliases to the canonical labels that [`field_values`] produces. Terms are
/// checked in the selector's (sorted) order, so the first unsupported one is
/// reported, as the real server does.
pub fn convert_field_selector(
    storage_name: &str,
    selector: &FieldSelector,
) -> Result<FieldSelector, SelectorError> {
    let r = rules(storage_name);
    selector.transform(|field, value| {
        if !r.accepted.contains(&field) {
            return Err(SelectorError::UnsupportedField {
                field: field.to_string(),
                message: reject_message(r.reject, field),
            });
        }
        let canonical = r
            .aliases
            .iter()
            .find(|(from, _)| *from == field)
            .map_or(field, |(_, to)| *to);
        Ok((canonical.to_string(), value.to_string()))
    })
}

/// Rejects a selector naming a field the resource does not support, with the
/// real message (e.g. `field label not supported: spec.bogus`, answered as
/// 400 BadRequest via [`SelectorError::to_api_error`]).
pub fn validate_field_selector(
    storage_name: &str,
    selector: &FieldSelector,
) -> Result<(), SelectorError> {
    convert_field_selector(storage_name, selector).map(|_| ())
}

fn at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    obj.pointer(pointer).filter(|v| !v.is_null())
}

/// A string field; missing or not a string reads as "" (the Go zero value).
fn string_at(obj: &Value, pointer: &str) -> String {
    at(obj, pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The first non-empty string among several JSON locations, else "".
fn first_string(obj: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .map(|p| string_at(obj, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// An integer field as `strconv.Itoa` prints it; missing reads as "0".
fn int_at(obj: &Value, pointer: &str) -> String {
    match at(obj, pointer) {
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => (f as i64).to_string(),
            _ => "0".to_string(),
        },
        _ => "0".to_string(),
    }
}

/// A bool field as `strconv.FormatBool` prints it; missing reads as "false".
fn bool_at(obj: &Value, pointer: &str) -> String {
    at(obj, pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn pod_values(obj: &Value, out: &mut Vec<(&'static str, String)>) {
    out.push(("spec.nodeName", string_at(obj, "/spec/nodeName")));
    out.push(("spec.restartPolicy", string_at(obj, "/spec/restartPolicy")));
    out.push(("spec.schedulerName", string_at(obj, "/spec/schedulerName")));
    // v1 conversion falls back to the deprecated serviceAccount alias.
    out.push((
        "spec.serviceAccountName",
        first_string(obj, &["/spec/serviceAccountName", "/spec/serviceAccount"]),
    ));
    out.push(("status.phase", string_at(obj, "/status/phase")));
    // Internally status.podIPs[0].ip, which v1 conversion fills from
    // podIP when both are set.
    out.push((
        "status.podIP",
        first_string(obj, &["/status/podIP", "/status/podIPs/0/ip"]),
    ));
    out.push((
        "status.nominatedNodeName",
        string_at(obj, "/status/nominatedNodeName"),
    ));
}

fn replicas_values(obj: &Value, out: &mut Vec<(&'static str, String)>) {
    out.push(("status.replicas", int_at(obj, "/status/replicas")));
}

/// Reads both wire shapes: events.k8s.io/v1 first, then core/v1.
fn event_values(obj: &Value, out: &mut Vec<(&'static str, String)>) {
    let pick = |new: &str, old: &str| first_string(obj, &[new, old]);
    out.push((
        "involvedObject.kind",
        pick("/regarding/kind", "/involvedObject/kind"),
    ));
    out.push((
        "involvedObject.namespace",
        pick("/regarding/namespace", "/involvedObject/namespace"),
    ));
    out.push((
        "involvedObject.name",
        pick("/regarding/name", "/involvedObject/name"),
    ));
    out.push((
        "involvedObject.uid",
        pick("/regarding/uid", "/involvedObject/uid"),
    ));
    out.push((
        "involvedObject.apiVersion",
        pick("/regarding/apiVersion", "/involvedObject/apiVersion"),
    ));
    out.push((
        "involvedObject.resourceVersion",
        pick(
            "/regarding/resourceVersion",
            "/involvedObject/resourceVersion",
        ),
    ));
    out.push((
        "involvedObject.fieldPath",
        pick("/regarding/fieldPath", "/involvedObject/fieldPath"),
    ));
    out.push(("reason", string_at(obj, "/reason")));
    let reporting = pick("/reportingController", "/reportingComponent");
    // source is source.component, falling back to the reporting controller.
    let source = first_string(obj, &["/source/component", "/deprecatedSource/component"]);
    let source = if source.is_empty() {
        reporting.clone()
    } else {
        source
    };
    out.push(("reportingComponent", reporting));
    out.push(("source", source));
    out.push(("type", string_at(obj, "/type")));
}

/// Every selectable field of `obj` with the value the real server computes,
/// under the canonical labels (`metadata.namespace` only when namespaced).
/// Match a selector from [`convert_field_selector`] against these.
pub fn field_values(
    storage_name: &str,
    namespaced: bool,
    obj: &Value,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::with_capacity(12);
    out.push(("metadata.name", string_at(obj, "/metadata/name")));
    if namespaced {
        out.push(("metadata.namespace", string_at(obj, "/metadata/namespace")));
    }
    if let Some(f) = kind_fields(storage_name) {
        (f.values)(obj, &mut out);
    }
    out
}

/// Whether `obj` matches a selector already passed through
/// [`convert_field_selector`].
pub fn object_matches(
    storage_name: &str,
    namespaced: bool,
    converted: &FieldSelector,
    obj: &Value,
) -> bool {
    converted.is_empty() || converted.matches_pairs(&field_values(storage_name, namespaced, obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RESOURCES;
    use serde_json::json;

    fn sel(s: &str) -> FieldSelector {
        FieldSelector::parse(s).unwrap()
    }

    #[test]
    fn supported_fields_per_resource() {
        let cases: &[(&str, &[&str])] = &[
            (
                "pods",
                &[
                    "metadata.name",
                    "metadata.namespace",
                    "spec.nodeName",
                    "status.phase",
                    "status.podIP",
                    "spec.host",
                ],
            ),
            ("nodes", &["metadata.name", "spec.unschedulable"]),
            ("namespaces", &["metadata.name", "status.phase"]),
            ("secrets", &["metadata.name", "metadata.namespace", "type"]),
            (
                "events",
                &[
                    "involvedObject.kind",
                    "involvedObject.fieldPath",
                    "reason",
                    "reportingComponent",
                    "source",
                    "type",
                ],
            ),
            (
                "events.events.k8s.io",
                &["regarding.name", "reportingController", "reason", "type"],
            ),
            ("replicationcontrollers", &["status.replicas"]),
            ("jobs.batch", &["status.successful"]),
            ("configmaps", &["metadata.name", "metadata.namespace"]),
            ("replicasets.apps", &["metadata.name", "metadata.namespace"]),
            (
                "csidrivers.storage.k8s.io",
                &["metadata.name", "metadata.namespace"],
            ),
        ];
        for (name, want) in cases {
            let got = supported_fields(name);
            for w in *want {
                assert!(got.contains(w), "{name} should support {w}: {got:?}");
            }
        }
        assert!(!supported_fields("nodes").contains(&"metadata.namespace"));
        assert!(!supported_fields("namespaces").contains(&"metadata.namespace"));
        assert!(!supported_fields("replicasets.apps").contains(&"status.replicas"));
        assert!(!supported_fields("events.events.k8s.io").contains(&"involvedObject.name"));
    }

    #[test]
    fn every_entry_names_a_v1_24_kind_once() {
        for (i, f) in FIELD_SELECTORS.iter().enumerate() {
            assert!(
                registry::builtin_kind(f.group, f.kind).is_some(),
                "{}/{} is not a kind of the registry",
                f.group,
                f.kind
            );
            assert!(
                !FIELD_SELECTORS[..i]
                    .iter()
                    .any(|g| (g.group, g.kind) == (f.group, f.kind)),
                "{}/{} listed twice",
                f.group,
                f.kind
            );
            assert!(f.rules.accepted.contains(&"metadata.name"));
        }
        // Looked up through the storage name.
        assert!(kind_fields("events.events.k8s.io").is_some());
        assert!(kind_fields("deployments.apps").is_none());
        assert!(kind_fields("frobs.example.com").is_none());
    }

    #[test]
    fn every_registry_resource_supports_metadata_name() {
        for r in RESOURCES {
            assert!(
                supported_fields(&r.storage_name()).contains(&"metadata.name"),
                "{}",
                r.storage_name()
            );
        }
    }

    #[test]
    fn validation_messages_match_the_real_server() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("pods", "spec.bogus=x", Some("field label not supported: spec.bogus")),
            ("pods", "spec.nodeName=n,status.phase=Running", None),
            ("pods", "status.podIPs=1.2.3.4", None),
            ("pods", "spec.host=n1", None),
            ("nodes", "metadata.namespace=x", Some("field label not supported: metadata.namespace")),
            ("nodes", "spec.unschedulable=false,metadata.name=n", None),
            ("jobs.batch", "status.succeeded=1", Some("field label \"status.succeeded\" not supported for batchv1.Job")),
            (
                "replicasets.apps",
                "status.replicas=1",
                Some("\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""),
            ),
            ("configmaps", "metadata.namespace=default", None),
            ("events.events.k8s.io", "involvedObject.name=x", Some("field label not supported: involvedObject.name")),
            ("events.events.k8s.io", "regarding.name=x,reportingController=k", None),
            // Sorted order decides which bad label is reported first.
            ("pods", "z.bad=1,a.bad=2", Some("field label not supported: a.bad")),
        ];
        for (res, s, want) in cases {
            let got = validate_field_selector(res, &sel(s))
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), *want, "{res} {s}");
        }
        let e = validate_field_selector("pods", &sel("spec.bogus=x")).unwrap_err();
        assert!(
            matches!(&e, SelectorError::UnsupportedField { field, .. } if field == "spec.bogus")
        );
        let api = e.to_api_error();
        assert_eq!((api.code, api.reason), (400, "BadRequest"));
        assert_eq!(
            api.to_status().to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"field label not supported: spec.bogus","reason":"BadRequest","code":400}"#
        );
    }

    #[test]
    fn conversion_rewrites_aliases() {
        let c = convert_field_selector("pods", &sel("spec.host=n1")).unwrap();
        assert_eq!(c.to_string(), "spec.nodeName=n1");
        let c = convert_field_selector(
            "events.events.k8s.io",
            &sel("regarding.kind=Pod,reportingController=kubelet"),
        )
        .unwrap();
        assert_eq!(
            c.to_string(),
            "involvedObject.kind=Pod,reportingComponent=kubelet"
        );
    }

    #[test]
    fn pod_field_values() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "node-1", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccount": "sa"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}
        });
        let v = field_values("pods", true, &pod);
        let get = |k: &str| v.iter().find(|(f, _)| *f == k).map(|(_, x)| x.as_str());
        assert_eq!(get("metadata.name"), Some("p"));
        assert_eq!(get("metadata.namespace"), Some("default"));
        assert_eq!(get("spec.nodeName"), Some("node-1"));
        assert_eq!(get("spec.serviceAccountName"), Some("sa"));
        assert_eq!(get("status.phase"), Some("Running"));
        assert_eq!(get("status.podIP"), Some("10.0.0.1"));
        assert_eq!(get("status.nominatedNodeName"), Some(""));
        assert_eq!(get("status.podIPs"), None);

        let cases: &[(&str, bool)] = &[
            ("spec.nodeName=node-1", true),
            ("spec.host=node-1", true),
            ("spec.nodeName=node-2", false),
            ("status.phase!=Succeeded,status.phase!=Failed", true),
            ("status.podIPs=10.0.0.1", false),
            ("status.podIPs=", true),
            ("metadata.namespace=default,metadata.name=p", true),
            ("", true),
        ];
        for (s, want) in cases {
            let c = convert_field_selector("pods", &sel(s)).unwrap();
            assert_eq!(object_matches("pods", true, &c, &pod), *want, "{s}");
        }
    }

    #[test]
    fn scalar_defaults_match_go_zero_values() {
        let empty = json!({"metadata": {"name": "x"}});
        let cases: &[(&str, bool, &str, &str)] = &[
            ("nodes", false, "spec.unschedulable", "false"),
            ("replicationcontrollers", true, "status.replicas", "0"),
            ("replicasets.apps", true, "status.replicas", "0"),
            ("jobs.batch", true, "status.successful", "0"),
            ("secrets", true, "type", ""),
            ("namespaces", false, "status.phase", ""),
            ("pods", true, "spec.nodeName", ""),
        ];
        for (res, ns, field, want) in cases {
            let v = field_values(res, *ns, &empty);
            let got = v.iter().find(|(f, _)| f == field).map(|(_, x)| x.as_str());
            assert_eq!(got, Some(*want), "{res} {field}");
        }
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(field_values("nodes", false, &node)
            .contains(&("spec.unschedulable", "true".to_string())));
        assert!(!field_values("nodes", false, &node)
            .iter()
            .any(|(f, _)| *f == "metadata.namespace"));
        let rc = json!({"metadata": {"name": "r"}, "status": {"replicas": 3}});
        assert!(field_values("replicationcontrollers", true, &rc)
            .contains(&("status.replicas", "3".to_string())));
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 2}});
        assert!(field_values("jobs.batch", true, &job)
            .contains(&("status.successful", "2".to_string())));
    }

    #[test]
    fn cluster_scoped_meta_only_resources_read_namespace_as_empty() {
        let obj = json!({"metadata": {"name": "d"}});
        let any = convert_field_selector("csidrivers.storage.k8s.io", &sel("metadata.namespace=x"))
            .unwrap();
        assert!(!object_matches(
            "csidrivers.storage.k8s.io",
            false,
            &any,
            &obj
        ));
        let empty =
            convert_field_selector("csidrivers.storage.k8s.io", &sel("metadata.namespace="))
                .unwrap();
        assert!(object_matches(
            "csidrivers.storage.k8s.io",
            false,
            &empty,
            &obj
        ));
    }

    #[test]
    fn event_field_values_both_shapes() {
        let core = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u1", "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
            "reason": "Started", "type": "Normal", "source": {"component": "kubelet"}, "reportingComponent": ""
        });
        let v = field_values("events", true, &core);
        for (f, want) in [
            ("involvedObject.kind", "Pod"),
            ("involvedObject.name", "p"),
            ("involvedObject.uid", "u1"),
            ("involvedObject.fieldPath", "spec.containers{c}"),
            ("reason", "Started"),
            ("type", "Normal"),
            ("source", "kubelet"),
            ("reportingComponent", ""),
        ] {
            assert!(v.contains(&(f, want.to_string())), "{f}: {v:?}");
        }
        let new = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Node", "name": "n1"},
            "reason": "NodeReady", "type": "Normal", "reportingController": "kubelet"
        });
        let v = field_values("events.events.k8s.io", true, &new);
        assert!(v.contains(&("involvedObject.kind", "Node".to_string())));
        assert!(v.contains(&("reportingComponent", "kubelet".to_string())));
        // No source.component: source falls back to the reporting controller.
        assert!(v.contains(&("source", "kubelet".to_string())));
        let c = convert_field_selector(
            "events.events.k8s.io",
            &sel("regarding.name=n1,type=Normal"),
        )
        .unwrap();
        assert!(object_matches("events.events.k8s.io", true, &c, &new));
    }

    #[test]
    fn exact_match_for_watch_indexing() {
        let c = convert_field_selector("pods", &sel("spec.host=node-1")).unwrap();
        assert_eq!(c.requires_exact_match("spec.nodeName"), Some("node-1"));
        let c = convert_field_selector("pods", &sel("spec.nodeName!=node-1")).unwrap();
        assert_eq!(c.requires_exact_match("spec.nodeName"), None);
    }
}
