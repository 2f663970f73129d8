//! CustomResourceDefinitions served by the embedded master, as
//! apiextensions-apiserver serves them: each Established CRD's served
//! versions become resources next to the built-in ones (request routing,
//! discovery, OpenAPI, Table output), their objects are pruned, defaulted
//! and validated by the CRD's structural schema ([`schema`]) and printed
//! with its `additionalPrinterColumns` ([`printer`]).
//!
//! The built-in registry is a static table of `&'static ResourceInfo`; a
//! custom resource's entry is built here once per distinct CRD content and
//! interned (leaked once, reused when the same CRD is created again), and
//! each master keeps its own [`CrdRegistry`] snapshot of what it serves.

pub mod openapi;
pub mod printer;
pub mod schema;

use apimachinery::registry::{
    CustomResource, CustomScale, PrinterColumn, ResourceInfo, Subresource,
};
use apimachinery::Cause;
use base64::Engine;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use std::sync::Arc;

/// `customresourcedefinitions.apiextensions.k8s.io` in the store.
pub const CRD_STORAGE: &str = "customresourcedefinitions.apiextensions.k8s.io";
/// The finalizer the real server puts on every CRD so that its custom
/// resources are deleted before it goes.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Verbs of a custom resource collection, in the real discovery order.
const CR_VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];
const SUB_VERBS: &[&str] = &["get", "patch", "update"];

/// Whether a resource is the CustomResourceDefinition kind itself.
pub fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.kind == "CustomResourceDefinition"
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, ptr: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Interning

fn leak_str(s: &str) -> &'static str {
    static STRS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut all = STRS.lock();
    if let Some(found) = all.iter().find(|x| **x == s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    all.push(leaked);
    leaked
}

fn leak_strs(v: &[String]) -> &'static [&'static str] {
    if v.is_empty() {
        return &[];
    }
    let list: Vec<&'static str> = v.iter().map(|s| leak_str(s)).collect();
    Box::leak(list.into_boxed_slice())
}

/// Everything a custom resource's `ResourceInfo` is built from, owned, so
/// that an identical CRD finds the entry interned before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResourceSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub custom: CustomResource,
}

/// The interned `ResourceInfo` of a custom resource: built and leaked the
/// first time this exact content is seen, reused afterwards.
pub fn intern(spec: &CustomResourceSpec) -> &'static ResourceInfo {
    static INFOS: Mutex<Vec<(CustomResourceSpec, &'static ResourceInfo)>> = Mutex::new(Vec::new());
    let mut all = INFOS.lock();
    if let Some((_, info)) = all.iter().find(|(k, _)| k == spec) {
        return info;
    }
    let mut subs = Vec::new();
    if spec.custom.status {
        subs.push(Subresource {
            name: "status",
            kind: "",
            kind_group_version: None,
            verbs: SUB_VERBS,
        });
    }
    if spec.custom.scale.is_some() {
        subs.push(Subresource {
            name: "scale",
            kind: "Scale",
            kind_group_version: Some("autoscaling/v1"),
            verbs: SUB_VERBS,
        });
    }
    let subresources: &'static [Subresource] = if subs.is_empty() {
        &[]
    } else {
        Box::leak(subs.into_boxed_slice())
    };
    let custom: &'static CustomResource = Box::leak(Box::new(spec.custom.clone()));
    let info: &'static ResourceInfo = Box::leak(Box::new(ResourceInfo {
        group: leak_str(&spec.group),
        version: leak_str(&spec.version),
        kind: leak_str(&spec.kind),
        plural: leak_str(&spec.plural),
        singular: leak_str(&spec.singular),
        namespaced: spec.namespaced,
        verbs: CR_VERBS,
        short_names: leak_strs(&spec.short_names),
        categories: leak_strs(&spec.categories),
        subresources,
        storage_version_hash: leak_str(&storage_version_hash(
            &spec.group,
            &spec.custom.storage_version,
            &spec.kind,
        )),
        custom: Some(custom),
    }));
    all.push((spec.clone(), info));
    info
}

/// k8s.io/apiserver's `discovery.StorageVersionHash`: base64 of the first 8
/// bytes of sha256(`group/version/kind`).
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{group}/{version}/{kind}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

// ---------------------------------------------------------------------------
// CRD → served resources

/// The resources an Established CRD serves, one per served version (in the
/// CRD's version order); empty while it is not established or terminating.
pub fn served_resources(crd: &Value) -> Vec<CustomResourceSpec> {
    if !is_established(crd) || is_terminating(crd) {
        return Vec::new();
    }
    let group = s(crd, "/spec/group").to_string();
    let names = crd
        .pointer("/status/acceptedNames")
        .filter(|n| n.is_object())
        .or_else(|| crd.pointer("/spec/names"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = s(&names, "/kind").to_string();
    let plural = s(&names, "/plural").to_string();
    let singular = match s(&names, "/singular") {
        "" => kind.to_ascii_lowercase(),
        x => x.to_string(),
    };
    let namespaced = s(crd, "/spec/scope") != "Cluster";
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| s(v, "/name").to_string())
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .map(|v| {
            let scale = v.pointer("/subresources/scale").map(|sc| CustomScale {
                spec_replicas_path: s(sc, "/specReplicasPath").to_string(),
                status_replicas_path: s(sc, "/statusReplicasPath").to_string(),
                label_selector_path: Some(s(sc, "/labelSelectorPath").to_string())
                    .filter(|p| !p.is_empty()),
            });
            let printer_columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: s(c, "/name").to_string(),
                            type_: s(c, "/type").to_string(),
                            format: s(c, "/format").to_string(),
                            description: s(c, "/description").to_string(),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                            json_path: s(c, "/jsonPath").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            CustomResourceSpec {
                group: group.clone(),
                version: s(v, "/name").to_string(),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings(&names, "/shortNames"),
                categories: strings(&names, "/categories"),
                custom: CustomResource {
                    crd_name: s(crd, "/metadata/name").to_string(),
                    storage_version: storage_version.clone(),
                    schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                    status: v.pointer("/subresources/status").is_some(),
                    scale,
                    printer_columns,
                },
            }
        })
        .collect()
}

fn condition_true(crd: &Value, kind: &str) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "/type") == kind && s(c, "/status") == "True")
        })
}

pub fn is_established(crd: &Value) -> bool {
    condition_true(crd, "Established")
}

pub fn is_terminating(crd: &Value) -> bool {
    crd.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

// ---------------------------------------------------------------------------
// CRD validation and status

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The essentials of the real server's CRD validation
/// (`apiextensions/validation`): names, group, scope, versions, schemas and
/// subresource paths.
pub fn validate_crd(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let group = s(crd, "/spec/group");
    let plural = s(crd, "/spec/names/plural");
    let name = s(crd, "/metadata/name");
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(Cause::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        causes.push(Cause::required("spec.group"));
    } else if !group.contains('.') {
        causes.push(Cause::invalid(
            "spec.group",
            &json!(group),
            "should be a domain with at least one dot",
        ));
    }
    match s(crd, "/spec/scope") {
        "Cluster" | "Namespaced" => {}
        "" => causes.push(Cause::required("spec.scope")),
        other => causes.push(Cause::not_supported(
            "spec.scope",
            &json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    if plural.is_empty() {
        causes.push(Cause::required("spec.names.plural"));
    } else if !is_dns_label(plural) {
        causes.push(Cause::invalid(
            "spec.names.plural",
            &json!(plural),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ));
    }
    let singular = s(crd, "/spec/names/singular");
    if !singular.is_empty() && !is_dns_label(singular) {
        causes.push(Cause::invalid(
            "spec.names.singular",
            &json!(singular),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ));
    }
    if s(crd, "/spec/names/kind").is_empty() {
        causes.push(Cause::required("spec.names.kind"));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: must have exactly one version marked as storage version"
                .into(),
            field: "spec.versions".into(),
        });
    }
    let storage_count = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if !versions.is_empty() && storage_count != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            &Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let base = format!("spec.versions[{i}]");
        let vname = s(v, "/name");
        if !is_dns_label(vname) {
            causes.push(Cause::invalid(
                &format!("{base}.name"),
                &json!(vname),
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            ));
        }
        match v.pointer("/schema/openAPIV3Schema") {
            None => causes.push(Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: schemas are required".into(),
                field: format!("{base}.schema.openAPIV3Schema"),
            }),
            Some(schema) => {
                if s(schema, "/type") != "object" {
                    causes.push(Cause::invalid(
                        &format!("{base}.schema.openAPIV3Schema.type"),
                        &json!(s(schema, "/type")),
                        "must be object at the root",
                    ));
                }
                check_patterns(
                    schema,
                    &format!("{base}.schema.openAPIV3Schema"),
                    &mut causes,
                );
            }
        }
        if let Some(sc) = v.pointer("/subresources/scale") {
            let spec_path = s(sc, "/specReplicasPath");
            if !spec_path.starts_with(".spec.") {
                causes.push(Cause::invalid(
                    &format!("{base}.subresources.scale.specReplicasPath"),
                    &json!(spec_path),
                    "should be a json path under .spec",
                ));
            }
            let status_path = s(sc, "/statusReplicasPath");
            if !status_path.starts_with(".status.") {
                causes.push(Cause::invalid(
                    &format!("{base}.subresources.scale.statusReplicasPath"),
                    &json!(status_path),
                    "should be a json path under .status",
                ));
            }
        }
        if let Some(cols) = v.get("additionalPrinterColumns").and_then(Value::as_array) {
            for (j, c) in cols.iter().enumerate() {
                let ty = s(c, "/type");
                if !matches!(ty, "integer" | "number" | "string" | "boolean" | "date") {
                    causes.push(Cause::not_supported(
                        &format!("{base}.additionalPrinterColumns[{j}].type"),
                        &json!(ty),
                        &["boolean", "date", "integer", "number", "string"],
                    ));
                }
                if s(c, "/name").is_empty() {
                    causes.push(Cause::required(&format!(
                        "{base}.additionalPrinterColumns[{j}].name"
                    )));
                }
                let path = s(c, "/jsonPath");
                if printer::find(path, &json!({})).is_err() || path.is_empty() {
                    causes.push(Cause::invalid(
                        &format!("{base}.additionalPrinterColumns[{j}].jsonPath"),
                        &json!(path),
                        "must be a simple json path",
                    ));
                }
            }
        }
    }
    causes
}

/// Patterns that do not compile are refused with the CRD, as the real
/// server refuses them, rather than on every write of a resource.
fn check_patterns(schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    match schema {
        Value::Object(m) => {
            if let Some(p) = m.get("pattern").and_then(Value::as_str) {
                if let Err(e) = regex::Regex::new(p) {
                    causes.push(Cause::invalid(
                        &format!("{path}.pattern"),
                        &json!(p),
                        &format!("must be a valid regular expression, but isn't: {e}"),
                    ));
                }
            }
            for (k, v) in m {
                if matches!(k.as_str(), "default" | "enum" | "example") {
                    continue;
                }
                check_patterns(v, &format!("{path}.{k}"), causes);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                check_patterns(v, &format!("{path}[{i}]"), causes);
            }
        }
        _ => {}
    }
}

/// Sets the status the real server's naming and establishing controllers
/// give a CRD: `acceptedNames` (the spec's names with singular and listKind
/// defaulted), `NamesAccepted` and `Established` conditions, and
/// `storedVersions`. A kind or short name another CRD of the group already
/// uses is not accepted. `others` are the other stored CRDs.
pub fn set_status(crd: &mut Value, others: &[Value], now: &str) {
    let group = s(crd, "/spec/group").to_string();
    let mut names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = s(&names, "/kind").to_string();
    if let Some(m) = names.as_object_mut() {
        if m.get("singular")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            m.insert("singular".into(), json!(kind.to_ascii_lowercase()));
        }
        if m.get("listKind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            m.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    let me = s(crd, "/metadata/name").to_string();
    let mut conflict: Option<(String, String)> = None;
    for other in others {
        if s(other, "/metadata/name") == me || s(other, "/spec/group") != group {
            continue;
        }
        let their = other
            .pointer("/status/acceptedNames")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if s(&their, "/kind") == kind {
            conflict = Some(("KindConflict".into(), format!("{kind:?} is already in use")));
        }
        let theirs = strings(&their, "/shortNames");
        for short in strings(&names, "/shortNames") {
            if theirs.contains(&short) && conflict.is_none() {
                conflict = Some((
                    "ShortNamesConflict".into(),
                    format!("{short:?} is already in use"),
                ));
            }
        }
    }
    let mut stored = strings(crd, "/status/storedVersions");
    if let Some(v) = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
    {
        let name = s(v, "/name").to_string();
        if !name.is_empty() && !stored.contains(&name) {
            stored.push(name);
        }
    }
    let was_established = is_established(crd);
    if !crd.get("status").is_some_and(Value::is_object) {
        crd["status"] = json!({});
    }
    let previous_accepted = crd.pointer("/status/acceptedNames").cloned();
    let (accepted_status, reason, message) = match &conflict {
        None => (
            "True",
            "NoConflicts".to_string(),
            "no conflicts found".to_string(),
        ),
        Some((r, m)) => ("False", r.clone(), m.clone()),
    };
    if conflict.is_none() {
        crd["status"]["acceptedNames"] = names;
    } else if previous_accepted.is_none() {
        crd["status"]["acceptedNames"] = json!({"plural": "", "kind": ""});
    }
    crd["status"]["storedVersions"] = json!(stored);
    put_condition(
        crd,
        "NamesAccepted",
        accepted_status,
        &reason,
        &message,
        now,
    );
    if conflict.is_none() || was_established {
        put_condition(
            crd,
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
            now,
        );
    } else {
        put_condition(
            crd,
            "Established",
            "False",
            "NotAccepted",
            "not all names are accepted",
            now,
        );
    }
}

/// Sets one condition, keeping its `lastTransitionTime` while its status
/// does not change.
pub fn put_condition(
    crd: &mut Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) {
    if !crd.get("status").is_some_and(Value::is_object) {
        crd["status"] = json!({});
    }
    if !crd["status"].get("conditions").is_some_and(Value::is_array) {
        crd["status"]["conditions"] = json!([]);
    }
    let Some(conds) = crd["status"]["conditions"].as_array_mut() else {
        return;
    };
    let mut cond = json!({"type": kind, "status": status, "lastTransitionTime": now,
                          "reason": reason, "message": message});
    match conds.iter_mut().find(|c| s(c, "/type") == kind) {
        Some(existing) => {
            if s(existing, "/status") == status {
                if let Some(t) = existing.get("lastTransitionTime") {
                    cond["lastTransitionTime"] = t.clone();
                }
            }
            *existing = cond;
        }
        None => conds.push(cond),
    }
}

// ---------------------------------------------------------------------------
// Custom resource writes

/// Prunes, defaults and validates a custom resource being written, as the
/// real server's decoding and strategy do; the causes answer 422.
pub fn admit(custom: &CustomResource, obj: &mut Value) -> Vec<Cause> {
    let Some(schema) = &custom.schema else {
        return Vec::new();
    };
    schema::prune(schema, obj);
    schema::apply_defaults(schema, obj);
    schema::prune(schema, obj);
    schema::validate(schema, obj)
}

/// Whether a write changes what bumps `metadata.generation`: anything but
/// metadata, and but status when the status subresource is on.
pub fn generation_changed(custom: &CustomResource, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut c = v.clone();
        if let Some(m) = c.as_object_mut() {
            m.remove("metadata");
            m.remove("apiVersion");
            m.remove("kind");
            if custom.status {
                m.remove("status");
            }
        }
        c
    };
    strip(old) != strip(new)
}

/// Reads a simple `.a.b.c` path.
pub fn get_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Writes a simple `.a.b.c` path, creating objects on the way.
pub fn set_path(obj: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    let Some((last, head)) = parts.split_last() else {
        return;
    };
    let mut cur = obj;
    for part in head {
        if !cur.get(*part).is_some_and(Value::is_object) {
            if let Some(m) = cur.as_object_mut() {
                m.insert((*part).to_string(), json!({}));
            } else {
                return;
            }
        }
        let Some(next) = cur.get_mut(*part) else {
            return;
        };
        cur = next;
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert((*last).to_string(), value);
    }
}

/// The autoscaling/v1 Scale of a custom resource, from its scale paths.
pub fn scale_of(scale: &CustomScale, obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut scale_meta = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(x) = meta.get(k) {
            scale_meta.insert(k.into(), x.clone());
        }
    }
    let spec = get_path(obj, &scale.spec_replicas_path)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = get_path(obj, &scale.status_replicas_path)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut st = json!({"replicas": status});
    if let Some(sel) = scale
        .label_selector_path
        .as_deref()
        .and_then(|p| get_path(obj, p))
        .and_then(Value::as_str)
    {
        st["selector"] = json!(sel);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": spec},
        "status": st,
    })
}

/// Rewrites a stored object's `apiVersion` to the version it is read at
/// (versions differ only in apiVersion: conversion strategy `None`).
pub fn at_version(info: &ResourceInfo, json: &[u8]) -> Option<Vec<u8>> {
    let custom = info.custom?;
    if custom.storage_version == info.version {
        return None;
    }
    let mut v: Value = serde_json::from_slice(json).ok()?;
    let m = v.as_object_mut()?;
    m.insert("apiVersion".into(), json!(info.api_version()));
    serde_json::to_vec(&v).ok()
}

// ---------------------------------------------------------------------------
// The registry of one master

/// What one master serves from its CRDs; swapped as a whole on change.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub resources: Vec<&'static ResourceInfo>,
    /// Bumped on every change, for caches of derived documents.
    pub generation: u64,
}

/// The custom resources one master serves.
#[derive(Debug, Default)]
pub struct CrdRegistry {
    current: RwLock<Arc<Snapshot>>,
    pub(crate) openapi_cache: openapi::Cache,
}

impl CrdRegistry {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().clone()
    }

    /// Rebuilds the served set from every stored CRD.
    pub fn reload(&self, crds: &[Value]) {
        let mut resources = Vec::new();
        for crd in crds {
            for spec in served_resources(crd) {
                resources.push(intern(&spec));
            }
        }
        let mut cur = self.current.write();
        if cur.resources == resources {
            return;
        }
        let generation = cur.generation + 1;
        *cur = Arc::new(Snapshot {
            resources,
            generation,
        });
    }

    /// Answers the discovery and OpenAPI paths that custom resources
    /// change (`/apis`, `/apis/<g>[/<v>]`, `/openapi/v2`, `/openapi/v3[/...]`)
    /// with status, content type and body; `None` when the built-in answer
    /// stands (nothing custom is served, or another path).
    pub fn non_resource(&self, path: &str, accept: &str) -> Option<(u16, &'static str, Bytes)> {
        let snap = self.snapshot();
        if snap.resources.is_empty() {
            return None;
        }
        let extra = snap.resources.as_slice();
        let json = |v: Value| Some((200, "application/json", Bytes::from(v.to_string())));
        let p = path.trim_end_matches('/');
        let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["apis"] if accept.contains("as=APIGroupDiscoveryList") => Some((
                200,
                crate::discovery::AGGREGATED_DISCOVERY_CONTENT_TYPE,
                Bytes::from(crate::discovery::aggregated_discovery_with(false, extra).to_string()),
            )),
            ["apis"] => json(crate::discovery::api_group_list_with(extra)),
            ["apis", g] if extra.iter().any(|r| r.group == *g) => {
                crate::discovery::api_group_with(g, extra).and_then(json)
            }
            ["apis", g, v] if extra.iter().any(|r| r.group == *g && r.version == *v) => {
                crate::discovery::api_resource_list_with(g, v, extra).and_then(json)
            }
            ["openapi", "v2"] if !accept.contains("protobuf") || accept.contains("json") => Some((
                200,
                "application/json",
                self.openapi_cache.get(&snap).v2.clone(),
            )),
            ["openapi", "v3"] => Some((
                200,
                "application/json",
                self.openapi_cache.get(&snap).v3_root.clone(),
            )),
            ["openapi", "v3", "apis", g, v] => {
                let docs = self.openapi_cache.get(&snap);
                docs.v3
                    .iter()
                    .find(|(dg, dv, _)| dg == g && dv == v)
                    .map(|(_, _, b)| (200, "application/json", b.clone()))
            }
            _ => None,
        }
    }

    pub fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceInfo> {
        self.current
            .read()
            .resources
            .iter()
            .copied()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crontab_crd() -> Value {
        serde_yaml::from_str(
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object}
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas, priority: 1}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object}
  - name: v1alpha1
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
"#,
        )
        .unwrap()
    }

    #[test]
    fn crd_becomes_discovery_entries() {
        let mut crd = crontab_crd();
        assert!(served_resources(&crd).is_empty(), "not established yet");
        set_status(&mut crd, &[], "2024-01-01T00:00:00Z");
        assert!(is_established(&crd));
        assert_eq!(crd["status"]["acceptedNames"]["listKind"], "CronTabList");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        let specs = served_resources(&crd);
        let infos: Vec<&'static ResourceInfo> = specs.iter().map(intern).collect();
        assert_eq!(infos.len(), 2);
        let v1 = infos[0];
        assert_eq!(
            (
                v1.group,
                v1.version,
                v1.kind,
                v1.plural,
                v1.singular,
                v1.namespaced
            ),
            (
                "stable.example.com",
                "v1",
                "CronTab",
                "crontabs",
                "crontab",
                true
            )
        );
        assert_eq!(v1.short_names, ["ct"]);
        assert_eq!(v1.categories, ["all"]);
        assert_eq!(v1.verbs, CR_VERBS);
        let subs: Vec<(&str, &str, Option<&str>)> = v1
            .subresources
            .iter()
            .map(|s| (s.name, s.kind, s.kind_group_version))
            .collect();
        assert_eq!(
            subs,
            [
                ("status", "", None),
                ("scale", "Scale", Some("autoscaling/v1"))
            ]
        );
        assert_eq!(
            v1.storage_version_hash,
            storage_version_hash("stable.example.com", "v1", "CronTab")
        );
        let beta = infos[1];
        assert_eq!(beta.version, "v1beta1");
        assert!(beta.subresources.is_empty());
        assert_eq!(beta.custom.unwrap().storage_version, "v1");
        // The same CRD again interns to the same entries.
        let again: Vec<&'static ResourceInfo> = served_resources(&crd).iter().map(intern).collect();
        assert!(std::ptr::eq(again[0], v1));
        // Terminating CRDs are not served.
        crd["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(served_resources(&crd).is_empty());
    }

    #[test]
    fn discovery_documents_list_custom_resources() {
        let mut crd = crontab_crd();
        set_status(&mut crd, &[], "2024-01-01T00:00:00Z");
        let extra: Vec<&'static ResourceInfo> = served_resources(&crd).iter().map(intern).collect();
        let groups = crate::discovery::api_group_list_with(&extra);
        let group = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "stable.example.com")
            .unwrap();
        // v1 is preferred over v1beta1, as kube-aware version ordering has it.
        assert_eq!(group["preferredVersion"]["version"], "v1");
        assert_eq!(group["versions"][1]["version"], "v1beta1");
        let list =
            crate::discovery::api_resource_list_with("stable.example.com", "v1", &extra).unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["crontabs", "crontabs/scale", "crontabs/status"]);
        let main = &list["resources"][0];
        assert_eq!(main["singularName"], "crontab");
        assert_eq!(main["shortNames"], json!(["ct"]));
        assert_eq!(main["categories"], json!(["all"]));
        assert_eq!(main["verbs"], json!(CR_VERBS));
        let scale = &list["resources"][1];
        assert_eq!(
            (
                scale["group"].as_str(),
                scale["version"].as_str(),
                scale["kind"].as_str()
            ),
            (Some("autoscaling"), Some("v1"), Some("Scale"))
        );
        assert!(
            crate::discovery::api_resource_list_with("stable.example.com", "v1alpha1", &extra)
                .is_none()
        );
        let aggregated = crate::discovery::aggregated_discovery_with(false, &extra);
        let item = aggregated["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "stable.example.com")
            .unwrap();
        assert_eq!(
            item["versions"][0]["resources"][0]["singularResource"],
            "crontab"
        );
        // The built-in documents are unchanged without custom resources.
        assert!(crate::discovery::api_group("stable.example.com").is_none());
    }

    #[test]
    fn registry_serves_and_forgets() {
        let reg = CrdRegistry::default();
        let mut crd = crontab_crd();
        set_status(&mut crd, &[], "t");
        assert!(reg.non_resource("/apis", "").is_none());
        reg.reload(std::slice::from_ref(&crd));
        let first = reg.snapshot().generation;
        assert!(reg.lookup("stable.example.com", "v1", "crontabs").is_some());
        assert!(reg
            .lookup("stable.example.com", "v1alpha1", "crontabs")
            .is_none());
        let (code, _, body) = reg.non_resource("/apis/stable.example.com/v1", "").unwrap();
        assert_eq!(code, 200);
        assert!(String::from_utf8_lossy(&body).contains("crontabs/scale"));
        let (_, _, v3) = reg
            .non_resource("/openapi/v3/apis/stable.example.com/v1", "")
            .unwrap();
        let v3: Value = serde_json::from_slice(&v3).unwrap();
        let schema = &v3["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"][0]["kind"],
            "CronTab"
        );
        assert!(v3["paths"]
            ["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"]
            .is_object());
        // Reloading the same CRDs changes nothing; removing them stops serving.
        reg.reload(std::slice::from_ref(&crd));
        assert_eq!(reg.snapshot().generation, first);
        reg.reload(&[]);
        assert!(reg.lookup("stable.example.com", "v1", "crontabs").is_none());
        assert!(reg.non_resource("/apis", "").is_none());
    }

    #[test]
    fn storage_version_hash_matches_the_real_one() {
        // From the recorded v1.24 discovery: apps/v1 Deployment.
        assert_eq!(
            storage_version_hash("apps", "v1", "Deployment"),
            "8aSe+NMegvE="
        );
    }

    #[test]
    fn names_conflicts_are_not_accepted() {
        let mut first = crontab_crd();
        set_status(&mut first, &[], "t");
        let mut second = crontab_crd();
        second["metadata"]["name"] = json!("others.stable.example.com");
        second["spec"]["names"]["plural"] = json!("others");
        set_status(&mut second, std::slice::from_ref(&first), "t");
        assert!(!is_established(&second));
        let cond = second["status"]["conditions"][0].clone();
        assert_eq!(
            (
                cond["type"].as_str(),
                cond["status"].as_str(),
                cond["reason"].as_str()
            ),
            (Some("NamesAccepted"), Some("False"), Some("KindConflict"))
        );
    }

    #[test]
    fn crd_validation_essentials() {
        let cases: &[(&str, Value, &str)] = &[
            ("/metadata/name", json!("wrong"), "metadata.name: Invalid value: \"wrong\": must be spec.names.plural+\".\"+spec.group"),
            ("/spec/group", json!("nodot"), "spec.group: Invalid value: \"nodot\": should be a domain with at least one dot"),
            ("/spec/scope", json!("Everywhere"), "spec.scope: Unsupported value: \"Everywhere\": supported values: \"Cluster\", \"Namespaced\""),
            ("/spec/names/kind", json!(""), "spec.names.kind: Required value"),
            ("/spec/versions/1/storage", json!(true), "spec.versions: Invalid value"),
            ("/spec/versions/0/schema", json!({}), "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"),
            ("/spec/versions/0/schema/openAPIV3Schema/type", json!("string"), "spec.versions[0].schema.openAPIV3Schema.type: Invalid value: \"string\": must be object at the root"),
            ("/spec/versions/0/subresources/scale/specReplicasPath", json!(".replicas"), "spec.versions[0].subresources.scale.specReplicasPath: Invalid value"),
            ("/spec/versions/0/additionalPrinterColumns/0/type", json!("float"), "spec.versions[0].additionalPrinterColumns[0].type: Unsupported value"),
        ];
        assert!(validate_crd(&crontab_crd()).is_empty());
        for (ptr, value, want) in cases {
            let mut crd = crontab_crd();
            *crd.pointer_mut(ptr).unwrap() = value.clone();
            let got: Vec<String> = validate_crd(&crd)
                .iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect();
            assert!(got.iter().any(|g| g.starts_with(want)), "{ptr}: {got:?}");
        }
    }

    #[test]
    fn generation_and_scale_paths() {
        let custom = CustomResource {
            crd_name: "x".into(),
            storage_version: "v1".into(),
            schema: None,
            status: true,
            scale: None,
            printer_columns: Vec::new(),
        };
        let old = json!({"metadata": {"labels": {}}, "spec": {"a": 1}, "status": {"b": 1}});
        let cases = [
            (
                json!({"metadata": {"labels": {"x": "y"}}, "spec": {"a": 1}, "status": {"b": 1}}),
                false,
            ),
            (
                json!({"metadata": {}, "spec": {"a": 1}, "status": {"b": 2}}),
                false,
            ),
            (
                json!({"metadata": {}, "spec": {"a": 2}, "status": {"b": 1}}),
                true,
            ),
        ];
        for (new, want) in cases {
            assert_eq!(generation_changed(&custom, &old, &new), want, "{new}");
        }
        let no_status = CustomResource {
            status: false,
            ..custom
        };
        assert!(generation_changed(
            &no_status,
            &old,
            &json!({"spec": {"a": 1}, "status": {"b": 2}})
        ));
        let scale = CustomScale {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        };
        let obj = json!({"metadata": {"name": "a", "namespace": "n", "resourceVersion": "3"},
                         "spec": {"replicas": 4}, "status": {"replicas": 2, "selector": "app=x"}});
        let sc = scale_of(&scale, &obj);
        assert_eq!(sc["spec"]["replicas"], 4);
        assert_eq!(sc["status"], json!({"replicas": 2, "selector": "app=x"}));
        let mut o = json!({});
        set_path(&mut o, ".spec.replicas", json!(7));
        assert_eq!(o, json!({"spec": {"replicas": 7}}));
    }
}
