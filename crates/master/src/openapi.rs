//! OpenAPI documents generated from the `k8s-openapi` types via `schemars`:
//! the v3 root (`/openapi/v3`), one v3 document per served group/version
//! (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`, ...) and the v2
//! (swagger 2.0) document (`/openapi/v2`).
//!
//! Schemas carry the real definition names (`io.k8s.api.core.v1.Pod`; the
//! k8s-openapi `JsonSchema` impls already name them so) and every kind the
//! registry serves carries `x-kubernetes-group-version-kind`, which is what
//! `kubectl explain` and kubectl's `fieldValidation` support check look for.
//! Paths are generated from the registry: one operation per served verb.
//!
//! Deviation from the real server, on purpose: PATCH operations advertise
//! JSON patch and merge patch but not `application/strategic-merge-patch+json`.
//! The k8s-openapi schemas carry no `x-kubernetes-patch-strategy` /
//! `x-kubernetes-patch-merge-key`, so a kubectl that computed its
//! strategic-merge patch from these documents would treat every list as
//! atomic; without the content type kubectl falls back to its compiled-in
//! type metadata, which is correct. (`/openapi/v2` should answer 406 to the
//! protobuf `Accept` kubectl sends, so that fallback happens there too.)
//!
//! Generation takes a moment, so everything is built once and cached.

use std::borrow::Cow;
use std::sync::OnceLock;

use apimachinery::registry::{self, ResourceInfo, Subresource};
use k8s_openapi::api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// `info.version` of every document: the version `/version` reports.
const INFO_VERSION: &str = crate::discovery::GIT_VERSION;

/// Where v3 documents keep their schemas, as a `$ref` prefix.
const V3_REF_PREFIX: &str = "#/components/schemas/";
/// Where v2 documents keep their schemas, as a `$ref` prefix.
const V2_REF_PREFIX: &str = "#/definitions/";

/// One Rust type whose schema we publish, with the kind it serializes as.
struct TypeEntry {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    add: fn(&mut SchemaGenerator) -> Schema,
    name: fn() -> Cow<'static, str>,
}

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

macro_rules! ty {
    ($group:literal, $version:literal, $kind:literal, $t:ty) => {
        TypeEntry {
            group: $group,
            version: $version,
            kind: $kind,
            add: add::<$t>,
            name: <$t as JsonSchema>::schema_name,
        }
    };
    ($t:ty) => {
        TypeEntry {
            group: <$t as k8s_openapi::Resource>::GROUP,
            version: <$t as k8s_openapi::Resource>::VERSION,
            kind: <$t as k8s_openapi::Resource>::KIND,
            add: add::<$t>,
            name: <$t as JsonSchema>::schema_name,
        }
    };
}

/// Expands the registry's list of v1.24 API types
/// ([`apimachinery::v1_24_api`]) into the kinds we can describe: every
/// resource that has a k8s-openapi type and the kinds its subresources
/// take, plus the few v1.24-only resources with an open schema.
macro_rules! openapi_types {
    (
        resources { $( ($t:ty) { $($policy:tt)* } ; )* }
        v1_24_only { $( ($u:ty) { $($only:tt)* } ; )* }
        subresource_kinds { $( ($s:ty) )* }
    ) => {
        &[ $( ty!($t), )* $( ty!($s), )* $( open_ty!($u), )* ]
    };
}

/// A v1.24-only kind (no k8s-openapi type): an open schema, see
/// [`add_open`].
macro_rules! open_ty {
    ($u:ty) => {
        TypeEntry {
            group: <$u as k8s_openapi::Resource>::GROUP,
            version: <$u as k8s_openapi::Resource>::VERSION,
            kind: <$u as k8s_openapi::Resource>::KIND,
            add: add_open::<$u>,
            name: open_name::<$u>,
        }
    };
}

/// The real definition name of a v1.24-only kind:
/// `io.k8s.api.<first group label>.<version>.<Kind>`
/// (`io.k8s.api.flowcontrol.v1beta2.FlowSchema`).
fn open_name<T: k8s_openapi::Resource>() -> Cow<'static, str> {
    let package = T::GROUP.split('.').next().unwrap_or(T::GROUP);
    Cow::Owned(format!("io.k8s.api.{package}.{}.{}", T::VERSION, T::KIND))
}

/// Schema of a v1.24-only kind. Without a Rust type we do not know its
/// fields, so `spec` and `status` keep unknown fields (no false
/// `fieldValidation` errors); the rest is the standard object shape.
fn add_open<T: k8s_openapi::Resource>(generator: &mut SchemaGenerator) -> Schema {
    let meta_ref = generator.subschema_for::<meta::ObjectMeta>();
    let meta_ref_path = meta_ref.get("$ref").cloned().unwrap_or(Value::Null);
    let name = open_name::<T>().into_owned();
    let open = |what: &str| {
        json!({
            "description": format!("{what} of the {} (fields not described by this server).", T::KIND),
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        })
    };
    let schema = json!({
        "description": format!("{} ({}).", T::KIND, T::API_VERSION),
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": meta_ref,
            "spec": open("Spec"),
            "status": open("Status"),
        },
    });
    generator.definitions_mut().insert(name.clone(), schema);
    // A `$ref` like the one subschema_for returns for a named type.
    let target = meta_ref_path
        .as_str()
        .and_then(|r| r.rsplit_once('/'))
        .map(|(prefix, _)| format!("{prefix}/{name}"))
        .unwrap_or(name);
    Schema::from(
        json!({ "$ref": target })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

/// Kinds we can describe, with group, version and kind from the registry's
/// types, so that adding a resource to the registry needs no change here.
static TYPES: &[TypeEntry] = apimachinery::v1_24_api!(openapi_types);

/// meta/v1 types every document references (responses, request bodies).
static META_TYPES: &[TypeEntry] = &[
    ty!("", "v1", "Status", meta::Status),
    ty!("", "v1", "DeleteOptions", meta::DeleteOptions),
    ty!("", "v1", "WatchEvent", meta::WatchEvent<api::core::v1::Pod>),
    ty!("", "v1", "Patch", meta::Patch),
    ty!("", "v1", "ListMeta", meta::ListMeta),
];

fn type_entry(group: &str, version: &str, kind: &str) -> Option<&'static TypeEntry> {
    TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.kind == kind)
}

fn meta_name(kind: &str) -> String {
    META_TYPES
        .iter()
        .find(|t| t.kind == kind)
        .map(|t| (t.name)().into_owned())
        .unwrap_or_default()
}

/// Group, version and kind a subresource takes: the parent's for `status`,
/// the registry's `kind_group_version` for Scale / Eviction / TokenRequest.
fn subresource_gvk(
    parent: &ResourceInfo,
    sub: &Subresource,
) -> (&'static str, &'static str, &'static str) {
    let kind = if sub.kind.is_empty() {
        parent.kind
    } else {
        sub.kind
    };
    match sub.kind_group_version {
        Some(gv) => {
            let (g, v) = registry::split_api_version(gv);
            (g, v, kind)
        }
        None => (parent.group, parent.version, kind),
    }
}

/// `x-kubernetes-group-version-kind` value; keys in the order the real
/// server writes them (Go marshals map keys sorted).
fn gvk_value(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Which flavour of document is being generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    V2,
    V3,
}

impl Flavor {
    fn settings(self) -> SchemaSettings {
        match self {
            Flavor::V3 => SchemaSettings::openapi3(),
            // Swagger 2.0 keeps `$ref` siblings like the real v2 document.
            Flavor::V2 => SchemaSettings::draft07().with(|s| {
                s.definitions_path = "/definitions".into();
                s.meta_schema = None;
                s.transforms = Vec::new();
            }),
        }
    }

    fn schema_ref(self, name: &str) -> Value {
        let prefix = match self {
            Flavor::V2 => V2_REF_PREFIX,
            Flavor::V3 => V3_REF_PREFIX,
        };
        json!({ "$ref": format!("{prefix}{name}") })
    }

    /// A reference with a description next to it, spelled the way each
    /// format allows (`allOf` wrapper in OpenAPI 3.0).
    fn described_ref(self, name: &str, description: &str) -> Value {
        match self {
            Flavor::V2 => {
                let mut v = self.schema_ref(name);
                if let Some(o) = v.as_object_mut() {
                    o.insert("description".into(), Value::String(description.into()));
                }
                v
            }
            Flavor::V3 => json!({
                "description": description,
                "allOf": [self.schema_ref(name)],
            }),
        }
    }
}

/// The kinds (and their group/version) a document for these resources must
/// describe: each resource's kind and every subresource kind.
fn kinds_for(
    resources: &[&'static ResourceInfo],
) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out: Vec<(&str, &str, &str)> = Vec::new();
    for r in resources {
        let mut push = |gvk: (&'static str, &'static str, &'static str)| {
            if !out.contains(&gvk) {
                out.push(gvk);
            }
        };
        push((r.group, r.version, r.kind));
        for sub in r.subresources {
            push(subresource_gvk(r, sub));
        }
    }
    out
}

/// Generates `components.schemas` / `definitions` for the given resources:
/// the schemas of their kinds and everything those reference, plus list
/// kinds, meta types and the GVK extensions.
fn build_schemas(flavor: Flavor, resources: &[&'static ResourceInfo]) -> Map<String, Value> {
    let mut generator = flavor.settings().into_generator();
    let kinds = kinds_for(resources);
    for (g, v, k) in &kinds {
        if let Some(t) = type_entry(g, v, k) {
            (t.add)(&mut generator);
        }
    }
    for t in META_TYPES {
        (t.add)(&mut generator);
    }
    let mut schemas = generator.take_definitions(true);

    for (g, v, k) in &kinds {
        let Some(t) = type_entry(g, v, k) else {
            continue;
        };
        let name = (t.name)().into_owned();
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk_value(g, v, k)]),
            );
            drop_required_metadata(schema);
        }
    }

    // List kinds have no Rust type of their own (k8s-openapi uses a generic
    // `List<T>`), so their schemas are written here.
    for r in resources {
        let Some(t) = type_entry(r.group, r.version, r.kind) else {
            continue;
        };
        if !r.supports("list") {
            continue;
        }
        let item_name = (t.name)().into_owned();
        let list_name = format!("{item_name}List");
        let list = list_schema(flavor, r, &item_name, schemas.get(&item_name));
        schemas.insert(list_name, list);
    }

    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    for r in resources {
        if !gvs.contains(&(r.group, r.version)) {
            gvs.push((r.group, r.version));
        }
    }
    let per_gv = |kind: &str| -> Value {
        Value::Array(gvs.iter().map(|(g, v)| gvk_value(g, v, kind)).collect())
    };
    let extensions = [
        ("Status", json!([gvk_value("", "v1", "Status")])),
        ("DeleteOptions", per_gv("DeleteOptions")),
        ("WatchEvent", per_gv("WatchEvent")),
    ];
    for (kind, gvks) in extensions {
        if let Some(Value::Object(schema)) = schemas.get_mut(&meta_name(kind)) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvks);
        }
    }
    sort_map(schemas)
}

/// k8s-openapi marks `metadata` required because its Rust field is not an
/// `Option`; the real schemas do not, and `kubectl explain` would print
/// `-required-` next to it.
fn drop_required_metadata(schema: &mut Map<String, Value>) {
    let now_empty = match schema.get_mut("required") {
        Some(Value::Array(req)) => {
            req.retain(|f| f != "metadata");
            req.is_empty()
        }
        _ => false,
    };
    if now_empty {
        schema.remove("required");
    }
}

fn list_schema(
    flavor: Flavor,
    r: &ResourceInfo,
    item_name: &str,
    item_schema: Option<&Value>,
) -> Value {
    let prop_description = |prop: &str| -> String {
        item_schema
            .and_then(|s| s.pointer(&format!("/properties/{prop}/description")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let list_kind = r.list_kind();
    json!({
        "description": format!("{list_kind} is a list of {}.", r.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": { "description": prop_description("apiVersion"), "type": "string" },
            "items": {
                "description": format!("List of {}.", r.plural),
                "type": "array",
                "items": flavor.schema_ref(item_name),
            },
            "kind": { "description": prop_description("kind"), "type": "string" },
            "metadata": flavor.described_ref(
                &meta_name("ListMeta"),
                "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            ),
        },
        "x-kubernetes-group-version-kind": [gvk_value(r.group, r.version, &list_kind)],
    })
}

/// Schemas sorted by name, as the real documents list them.
fn sort_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Paths

/// `core_v1`, `apps_v1`, `coordination_v1`: the operation tag.
fn tag(group: &str, version: &str) -> String {
    let g = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    format!("{g}_{version}")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `CoreV1`, `AppsV1`, `CoordinationV1`: the group/version part of an
/// operation id.
fn gv_camel(group: &str, version: &str) -> String {
    let g = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    format!("{}{}", upper_first(g), upper_first(version))
}

/// One query or path parameter.
struct Param {
    name: &'static str,
    location: &'static str,
    ty: &'static str,
    description: &'static str,
}

const P_PRETTY: Param = Param {
    name: "pretty",
    location: "query",
    ty: "string",
    description: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
};
const P_DRY_RUN: Param = Param {
    name: "dryRun",
    location: "query",
    ty: "string",
    description: "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
};
const P_FIELD_MANAGER: Param = Param {
    name: "fieldManager",
    location: "query",
    ty: "string",
    description: "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
};
const P_FIELD_VALIDATION: Param = Param {
    name: "fieldValidation",
    location: "query",
    ty: "string",
    description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
};
const P_FORCE: Param = Param {
    name: "force",
    location: "query",
    ty: "boolean",
    description: "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
};
const P_GRACE: Param = Param {
    name: "gracePeriodSeconds",
    location: "query",
    ty: "integer",
    description: "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
};
const P_ORPHAN: Param = Param {
    name: "orphanDependents",
    location: "query",
    ty: "boolean",
    description: "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
};
const P_PROPAGATION: Param = Param {
    name: "propagationPolicy",
    location: "query",
    ty: "string",
    description: "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
};
const LIST_PARAMS: &[Param] = &[
    Param {
        name: "allowWatchBookmarks",
        location: "query",
        ty: "boolean",
        description: "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
    },
    Param {
        name: "continue",
        location: "query",
        ty: "string",
        description: "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize.",
    },
    Param {
        name: "fieldSelector",
        location: "query",
        ty: "string",
        description: "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    },
    Param {
        name: "labelSelector",
        location: "query",
        ty: "string",
        description: "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    },
    Param {
        name: "limit",
        location: "query",
        ty: "integer",
        description: "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.",
    },
    Param {
        name: "resourceVersion",
        location: "query",
        ty: "string",
        description: "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    },
    Param {
        name: "resourceVersionMatch",
        location: "query",
        ty: "string",
        description: "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    },
    Param {
        name: "timeoutSeconds",
        location: "query",
        ty: "integer",
        description: "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
    },
    Param {
        name: "watch",
        location: "query",
        ty: "boolean",
        description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    },
];

fn param_value(flavor: Flavor, p: &Param, description: &str, required: bool) -> Value {
    let mut v = match flavor {
        Flavor::V3 => json!({
            "name": p.name,
            "in": p.location,
            "description": description,
            "schema": { "type": p.ty, "uniqueItems": true },
        }),
        Flavor::V2 => json!({
            "uniqueItems": true,
            "type": p.ty,
            "description": description,
            "name": p.name,
            "in": p.location,
        }),
    };
    if required {
        if let Some(o) = v.as_object_mut() {
            o.insert("required".into(), Value::Bool(true));
        }
    }
    v
}

fn query_params(flavor: Flavor, params: &[&Param]) -> Vec<Value> {
    params
        .iter()
        .map(|p| param_value(flavor, p, p.description, false))
        .collect()
}

/// Path-level parameters: `name` / `namespace` when the path has them, and
/// `pretty`.
fn path_params(flavor: Flavor, kind: &str, has_name: bool, has_namespace: bool) -> Value {
    let mut out = Vec::new();
    if has_name {
        let p = Param {
            name: "name",
            location: "path",
            ty: "string",
            description: "",
        };
        out.push(param_value(
            flavor,
            &p,
            &format!("name of the {kind}"),
            true,
        ));
    }
    if has_namespace {
        let p = Param {
            name: "namespace",
            location: "path",
            ty: "string",
            description: "",
        };
        out.push(param_value(
            flavor,
            &p,
            "object name and auth scope, such as for teams and projects",
            true,
        ));
    }
    out.push(param_value(flavor, &P_PRETTY, P_PRETTY.description, false));
    Value::Array(out)
}

/// What one operation takes and returns.
struct Op {
    method: &'static str,
    action: &'static str,
    id: String,
    description: String,
    gvk: (&'static str, &'static str, &'static str),
    params: Vec<&'static Param>,
    /// Request body schema name, content types, required.
    body: Option<(String, &'static [&'static str], bool)>,
    /// Response code and schema name.
    responses: Vec<(&'static str, String)>,
}

const JSON_ONLY: &[&str] = &["application/json"];
/// See the module comment for why strategic merge patch is not listed.
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
];

fn op_value(flavor: Flavor, group: &str, version: &str, op: &Op) -> Value {
    let mut o = Map::new();
    let responses: Map<String, Value> = op
        .responses
        .iter()
        .map(|(code, schema)| {
            let description = match *code {
                "200" => "OK",
                "201" => "Created",
                "202" => "Accepted",
                _ => "",
            };
            let v = match flavor {
                Flavor::V3 => json!({
                    "description": description,
                    "content": { "application/json": { "schema": flavor.schema_ref(schema) } },
                }),
                Flavor::V2 => {
                    json!({ "description": description, "schema": flavor.schema_ref(schema) })
                }
            };
            (code.to_string(), v)
        })
        .chain(std::iter::once((
            "401".to_string(),
            json!({ "description": "Unauthorized" }),
        )))
        .collect();
    let params = query_params(flavor, &op.params);
    match flavor {
        Flavor::V3 => {
            o.insert("tags".into(), json!([tag(group, version)]));
            o.insert("description".into(), Value::String(op.description.clone()));
            o.insert("operationId".into(), Value::String(op.id.clone()));
            if !params.is_empty() {
                o.insert("parameters".into(), Value::Array(params));
            }
            if let Some((schema, types, required)) = &op.body {
                let content: Map<String, Value> = types
                    .iter()
                    .map(|t| {
                        (
                            t.to_string(),
                            json!({ "schema": flavor.schema_ref(schema) }),
                        )
                    })
                    .collect();
                let mut body = Map::new();
                body.insert("content".into(), Value::Object(content));
                if *required {
                    body.insert("required".into(), Value::Bool(true));
                }
                o.insert("requestBody".into(), Value::Object(body));
            }
            o.insert("responses".into(), Value::Object(responses));
        }
        Flavor::V2 => {
            o.insert("description".into(), Value::String(op.description.clone()));
            let consumes = match &op.body {
                Some((_, types, _)) if op.method == "patch" => json!(types),
                _ => json!(["*/*"]),
            };
            o.insert("consumes".into(), consumes);
            o.insert("produces".into(), json!(JSON_ONLY));
            o.insert("schemes".into(), json!(["https"]));
            o.insert("tags".into(), json!([tag(group, version)]));
            o.insert("operationId".into(), Value::String(op.id.clone()));
            let mut all = Vec::new();
            if let Some((schema, _, required)) = &op.body {
                all.push(json!({
                    "name": "body",
                    "in": "body",
                    "required": required,
                    "schema": flavor.schema_ref(schema),
                }));
            }
            all.extend(params);
            if !all.is_empty() {
                o.insert("parameters".into(), Value::Array(all));
            }
            o.insert("responses".into(), Value::Object(responses));
        }
    }
    o.insert(
        "x-kubernetes-action".into(),
        Value::String(op.action.into()),
    );
    let (g, v, k) = op.gvk;
    o.insert("x-kubernetes-group-version-kind".into(), gvk_value(g, v, k));
    Value::Object(o)
}

/// Adds the operations of one resource (collection, item, all-namespaces
/// and subresource paths) to `paths`.
fn add_resource_paths(
    flavor: Flavor,
    paths: &mut Map<String, Value>,
    r: &'static ResourceInfo,
    names: &dyn Fn(&str, &str, &str) -> Option<String>,
) {
    let Some(kind_schema) = names(r.group, r.version, r.kind) else {
        return;
    };
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let scope = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let ns_word = if r.namespaced { "Namespaced" } else { "" };
    let gv = gv_camel(r.group, r.version);
    let kind = r.kind;
    let gvk = (r.group, r.version, r.kind);
    let status = meta_name("Status");
    let delete_options = meta_name("DeleteOptions");
    let patch = meta_name("Patch");
    let list_schema = format!("{kind_schema}List");
    let write_params: Vec<&'static Param> = vec![&P_DRY_RUN, &P_FIELD_MANAGER, &P_FIELD_VALIDATION];
    let patch_params: Vec<&'static Param> =
        vec![&P_DRY_RUN, &P_FIELD_MANAGER, &P_FIELD_VALIDATION, &P_FORCE];
    let delete_params: Vec<&'static Param> = vec![&P_DRY_RUN, &P_GRACE, &P_ORPHAN, &P_PROPAGATION];
    let list_params: Vec<&'static Param> = LIST_PARAMS.iter().collect();

    let mut insert = |path: String, ops: Vec<Op>, has_name: bool, has_namespace: bool| {
        if ops.is_empty() {
            return;
        }
        let mut item = Map::new();
        for op in &ops {
            item.insert(op.method.into(), op_value(flavor, r.group, r.version, op));
        }
        item.insert(
            "parameters".into(),
            path_params(flavor, kind, has_name, has_namespace),
        );
        paths.insert(path, Value::Object(item));
    };

    // Collection.
    let mut ops = Vec::new();
    if r.supports("list") {
        ops.push(Op {
            method: "get",
            action: "list",
            id: format!("list{gv}{ns_word}{kind}"),
            description: format!("list or watch objects of kind {kind}"),
            gvk,
            params: list_params.clone(),
            body: None,
            responses: vec![("200", list_schema.clone())],
        });
    }
    if r.supports("create") {
        ops.push(Op {
            method: "post",
            action: "post",
            id: format!("create{gv}{ns_word}{kind}"),
            description: format!("create {}", article(kind)),
            gvk,
            params: write_params.clone(),
            body: Some((kind_schema.clone(), JSON_ONLY, true)),
            responses: vec![
                ("200", kind_schema.clone()),
                ("201", kind_schema.clone()),
                ("202", kind_schema.clone()),
            ],
        });
    }
    if r.supports("deletecollection") {
        let mut params = delete_params.clone();
        params.extend(
            list_params
                .iter()
                .filter(|p| p.name != "watch" && p.name != "allowWatchBookmarks"),
        );
        ops.push(Op {
            method: "delete",
            action: "deletecollection",
            id: format!("delete{gv}Collection{ns_word}{kind}"),
            description: format!("delete collection of {kind}"),
            gvk,
            params,
            body: Some((delete_options.clone(), JSON_ONLY, false)),
            responses: vec![("200", status.clone())],
        });
    }
    insert(
        format!("{prefix}{scope}/{}", r.plural),
        ops,
        false,
        r.namespaced,
    );

    // Every namespace at once.
    if r.namespaced && r.supports("list") {
        let ops = vec![Op {
            method: "get",
            action: "list",
            id: format!("list{gv}{kind}ForAllNamespaces"),
            description: format!("list or watch objects of kind {kind}"),
            gvk,
            params: list_params.clone(),
            body: None,
            responses: vec![("200", list_schema.clone())],
        }];
        insert(format!("{prefix}/{}", r.plural), ops, false, false);
    }

    // One object.
    let mut ops = Vec::new();
    if r.supports("get") {
        ops.push(Op {
            method: "get",
            action: "get",
            id: format!("read{gv}{ns_word}{kind}"),
            description: format!("read the specified {kind}"),
            gvk,
            params: Vec::new(),
            body: None,
            responses: vec![("200", kind_schema.clone())],
        });
    }
    if r.supports("update") {
        ops.push(Op {
            method: "put",
            action: "put",
            id: format!("replace{gv}{ns_word}{kind}"),
            description: format!("replace the specified {kind}"),
            gvk,
            params: write_params.clone(),
            body: Some((kind_schema.clone(), JSON_ONLY, true)),
            responses: vec![("200", kind_schema.clone()), ("201", kind_schema.clone())],
        });
    }
    if r.supports("patch") {
        ops.push(Op {
            method: "patch",
            action: "patch",
            id: format!("patch{gv}{ns_word}{kind}"),
            description: format!("partially update the specified {kind}"),
            gvk,
            params: patch_params.clone(),
            body: Some((patch.clone(), PATCH_TYPES, true)),
            responses: vec![("200", kind_schema.clone()), ("201", kind_schema.clone())],
        });
    }
    if r.supports("delete") {
        ops.push(Op {
            method: "delete",
            action: "delete",
            id: format!("delete{gv}{ns_word}{kind}"),
            description: format!("delete {}", article(kind)),
            gvk,
            params: delete_params.clone(),
            body: Some((delete_options.clone(), JSON_ONLY, false)),
            responses: vec![("200", status.clone()), ("202", status.clone())],
        });
    }
    insert(
        format!("{prefix}{scope}/{}/{{name}}", r.plural),
        ops,
        true,
        r.namespaced,
    );

    // Subresources.
    for sub in r.subresources {
        let sub_gvk = subresource_gvk(r, sub);
        let Some(sub_schema) = names(sub_gvk.0, sub_gvk.1, sub_gvk.2) else {
            continue;
        };
        let word = upper_first(sub.name);
        let mut ops = Vec::new();
        for verb in sub.verbs {
            let op = match *verb {
                "get" => Op {
                    method: "get",
                    action: "get",
                    id: format!("read{gv}{ns_word}{kind}{word}"),
                    description: format!("read {} of the specified {kind}", sub.name),
                    gvk: sub_gvk,
                    params: Vec::new(),
                    body: None,
                    responses: vec![("200", sub_schema.clone())],
                },
                "update" => Op {
                    method: "put",
                    action: "put",
                    id: format!("replace{gv}{ns_word}{kind}{word}"),
                    description: format!("replace {} of the specified {kind}", sub.name),
                    gvk: sub_gvk,
                    params: write_params.clone(),
                    body: Some((sub_schema.clone(), JSON_ONLY, true)),
                    responses: vec![("200", sub_schema.clone()), ("201", sub_schema.clone())],
                },
                "patch" => Op {
                    method: "patch",
                    action: "patch",
                    id: format!("patch{gv}{ns_word}{kind}{word}"),
                    description: format!("partially update {} of the specified {kind}", sub.name),
                    gvk: sub_gvk,
                    params: patch_params.clone(),
                    body: Some((patch.clone(), PATCH_TYPES, true)),
                    responses: vec![("200", sub_schema.clone()), ("201", sub_schema.clone())],
                },
                "create" => Op {
                    method: "post",
                    action: "post",
                    id: format!("create{gv}{ns_word}{kind}{word}"),
                    description: format!("create {} of {}", sub.name, article(kind)),
                    gvk: sub_gvk,
                    params: write_params.clone(),
                    body: Some((sub_schema.clone(), JSON_ONLY, true)),
                    responses: vec![
                        ("200", sub_schema.clone()),
                        ("201", sub_schema.clone()),
                        ("202", sub_schema.clone()),
                    ],
                },
                _ => continue,
            };
            ops.push(op);
        }
        insert(
            format!("{prefix}{scope}/{}/{{name}}/{}", r.plural, sub.name),
            ops,
            true,
            r.namespaced,
        );
    }
}

/// "a Pod", "an Event".
fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

fn build_paths(flavor: Flavor, resources: &[&'static ResourceInfo]) -> Map<String, Value> {
    let names = |g: &str, v: &str, k: &str| type_entry(g, v, k).map(|t| (t.name)().into_owned());
    let mut paths = Map::new();
    for r in resources {
        add_resource_paths(flavor, &mut paths, r, &names);
    }
    sort_map(paths)
}

/// The operations of a custom resource (and its subresources) under the
/// definition name `definition`, in the v2 or v3 form.
pub(crate) fn custom_resource_paths(
    v3: bool,
    r: &'static ResourceInfo,
    definition: &str,
) -> Map<String, Value> {
    let flavor = if v3 { Flavor::V3 } else { Flavor::V2 };
    let names = |g: &str, v: &str, k: &str| {
        if g == r.group && v == r.version && k == r.kind {
            Some(definition.to_string())
        } else {
            type_entry(g, v, k).map(|t| (t.name)().into_owned())
        }
    };
    let mut paths = Map::new();
    add_resource_paths(flavor, &mut paths, r, &names);
    paths
}

/// The v3 schemas every custom resource document refers to: the meta
/// types (ObjectMeta, ListMeta, Status, DeleteOptions, Patch, ...) and
/// autoscaling/v1 Scale.
pub(crate) fn v3_shared_schemas() -> Map<String, Value> {
    let mut out = Map::new();
    for d in &documents().v3 {
        if let Some(Value::Object(schemas)) = d.doc.pointer("/components/schemas") {
            for (k, v) in schemas {
                if k.starts_with("io.k8s.apimachinery.")
                    || k.starts_with("io.k8s.api.autoscaling.v1.Scale")
                {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    out
}

/// Every v3 group/version document path with its hash (the root's
/// entries).
pub(crate) fn v3_root_paths() -> Map<String, Value> {
    match openapi_v3_root().get("paths") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

// ---------------------------------------------------------------------------
// Documents

fn security_scheme() -> Value {
    json!({
        "type": "apiKey",
        "description": "Bearer Token authentication",
        "name": "authorization",
        "in": "header",
    })
}

fn build_v3_document(group: &str, version: &str) -> Value {
    let resources: Vec<&'static ResourceInfo> = registry::resources_in(group, version).collect();
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": INFO_VERSION },
        "paths": build_paths(Flavor::V3, &resources),
        "components": {
            "schemas": build_schemas(Flavor::V3, &resources),
            "securitySchemes": { "BearerToken": security_scheme() },
        },
    })
}

fn build_v2_document() -> Value {
    let resources: Vec<&'static ResourceInfo> = registry::RESOURCES.iter().collect();
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": INFO_VERSION },
        "paths": build_paths(Flavor::V2, &resources),
        "definitions": build_schemas(Flavor::V2, &resources),
        "securityDefinitions": { "BearerToken": security_scheme() },
        "security": [{ "BearerToken": [] }],
    })
}

/// Upper-case hex SHA-512 of the serialized document, the form the real
/// server puts in `?hash=`.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

struct GvDocument {
    group: &'static str,
    version: &'static str,
    doc: Value,
    bytes: Vec<u8>,
    hash: String,
}

struct Documents {
    v3: Vec<GvDocument>,
    v2: Value,
    v2_bytes: Vec<u8>,
}

static DOCUMENTS: OnceLock<Documents> = OnceLock::new();

fn documents() -> &'static Documents {
    DOCUMENTS.get_or_init(|| {
        let mut gvs: Vec<(&'static str, &'static str)> = Vec::new();
        // Core first, then groups in registry order.
        for r in registry::RESOURCES.iter().filter(|r| r.group.is_empty()) {
            if !gvs.contains(&(r.group, r.version)) {
                gvs.push((r.group, r.version));
            }
        }
        for r in registry::RESOURCES.iter().filter(|r| !r.group.is_empty()) {
            if !gvs.contains(&(r.group, r.version)) {
                gvs.push((r.group, r.version));
            }
        }
        let v3 = gvs
            .into_iter()
            .map(|(group, version)| {
                let doc = build_v3_document(group, version);
                let bytes = doc.to_string().into_bytes();
                let hash = content_hash(&bytes);
                GvDocument {
                    group,
                    version,
                    doc,
                    bytes,
                    hash,
                }
            })
            .collect();
        let v2 = build_v2_document();
        let v2_bytes = v2.to_string().into_bytes();
        Documents { v3, v2, v2_bytes }
    })
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn find_gv(group: &str, version: &str) -> Option<&'static GvDocument> {
    documents()
        .v3
        .iter()
        .find(|d| d.group == group && d.version == version)
}

/// `GET /openapi/v3`: one entry per served group/version, each pointing at
/// its document with the content hash.
pub fn openapi_v3_root() -> Value {
    let paths: Map<String, Value> = documents()
        .v3
        .iter()
        .map(|d| {
            let path = gv_path(d.group, d.version);
            let url = format!("/openapi/v3/{path}?hash={}", d.hash);
            (path, json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`; `None`
/// for a group/version we do not serve.
pub fn openapi_v3_group_version(group: &str, version: &str) -> Option<Value> {
    find_gv(group, version).map(|d| d.doc.clone())
}

/// The same document already serialized, to answer without re-encoding.
pub fn openapi_v3_group_version_bytes(group: &str, version: &str) -> Option<&'static [u8]> {
    find_gv(group, version).map(|d| d.bytes.as_slice())
}

/// The hash in the root's `serverRelativeURL` for this group/version (the
/// server answers `?hash=` requests matching it as immutable).
pub fn openapi_v3_hash(group: &str, version: &str) -> Option<&'static str> {
    find_gv(group, version).map(|d| d.hash.as_str())
}

/// `GET /openapi/v2` (JSON): swagger 2.0 for every served resource.
pub fn openapi_v2() -> Value {
    documents().v2.clone()
}

/// The v2 document already serialized.
pub fn openapi_v2_bytes() -> &'static [u8] {
    documents().v2_bytes.as_slice()
}

/// Every v2 definition (refs point at `#/definitions/<name>`), for schema
/// validation.
pub fn definitions() -> &'static Map<String, Value> {
    static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
    match documents().v2.get("definitions") {
        Some(Value::Object(m)) => m,
        _ => EMPTY.get_or_init(Map::new),
    }
}

/// The definition name of a kind: (`""`, `Pod`) -> `io.k8s.api.core.v1.Pod`.
/// Any version we know the kind in; the served kinds exist in one.
pub fn definition_name(group: &str, kind: &str) -> Option<String> {
    let served_version = registry::lookup_kind(group, kind).map(|r| r.version);
    TYPES
        .iter()
        .filter(|t| t.group == group && t.kind == kind)
        .find(|t| served_version.is_none_or(|v| v == t.version))
        .map(|t| (t.name)().into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;

    fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
        doc.get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
            .unwrap_or_else(|| panic!("schema {name} missing"))
    }

    #[test]
    fn root_lists_every_served_group_version_with_a_hash() {
        let root = openapi_v3_root();
        let paths = root["paths"].as_object().unwrap();
        let core = paths["api/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(core.starts_with("/openapi/v3/api/v1?hash="));
        let hash = core.rsplit('=').next().unwrap();
        assert_eq!(hash.len(), 128);
        assert!(hash
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        assert_eq!(openapi_v3_hash("", "v1"), Some(hash));
        for r in registry::RESOURCES {
            assert!(
                paths.contains_key(&gv_path(r.group, r.version)),
                "{}",
                r.api_version()
            );
        }
        // The hash is of the served bytes.
        let bytes = openapi_v3_group_version_bytes("apps", "v1").unwrap();
        assert_eq!(
            Some(content_hash(bytes).as_str()),
            openapi_v3_hash("apps", "v1")
        );
        assert!(openapi_v3_group_version("apps", "v2").is_none());
    }

    #[test]
    fn pod_schema_has_spec_status_and_gvk() {
        let doc = openapi_v3_group_version("", "v1").unwrap();
        assert_eq!(doc["openapi"], "3.0.0");
        let pod = schema(&doc, "io.k8s.api.core.v1.Pod");
        let props = pod["properties"].as_object().unwrap();
        for p in ["apiVersion", "kind", "metadata", "spec", "status"] {
            assert!(props.contains_key(p), "{p}");
        }
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(pod.get("required").is_none());
        // Refs point into components and resolve.
        let spec_ref = pod["properties"]["spec"]["allOf"][0]["$ref"]
            .as_str()
            .unwrap();
        assert_eq!(spec_ref, "#/components/schemas/io.k8s.api.core.v1.PodSpec");
        schema(&doc, "io.k8s.api.core.v1.PodSpec");
        schema(&doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        let list = schema(&doc, "io.k8s.api.core.v1.PodList");
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "PodList"
        );
    }

    #[test]
    fn every_ref_resolves_in_every_document() {
        fn walk(v: &Value, prefix: &str, defs: &Map<String, Value>, bad: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        match r.strip_prefix(prefix) {
                            Some(name) if defs.contains_key(name) => {}
                            _ => bad.push(r.clone()),
                        }
                    }
                    m.values().for_each(|x| walk(x, prefix, defs, bad));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, prefix, defs, bad)),
                _ => {}
            }
        }
        let mut bad = Vec::new();
        for d in &documents().v3 {
            let defs = d.doc["components"]["schemas"].as_object().unwrap();
            walk(&d.doc, V3_REF_PREFIX, defs, &mut bad);
        }
        let v2 = openapi_v2();
        let defs = v2["definitions"].as_object().unwrap();
        walk(&v2, V2_REF_PREFIX, defs, &mut bad);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn every_registry_kind_has_a_schema_with_its_gvk() {
        let v2 = openapi_v2();
        for r in registry::RESOURCES {
            let name = definition_name(r.group, r.kind).unwrap_or_else(|| panic!("{}", r.kind));
            let doc = openapi_v3_group_version(r.group, r.version).unwrap();
            for s in [schema(&doc, &name), &v2["definitions"][&name]] {
                assert!(
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .unwrap()
                        .contains(&gvk_value(r.group, r.version, r.kind)),
                    "{name}"
                );
            }
            for sub in r.subresources {
                let (g, v, k) = subresource_gvk(r, sub);
                assert!(type_entry(g, v, k).is_some(), "{}/{}", r.plural, sub.name);
            }
        }
    }

    /// TYPES is the registry's table: every v1.24 resource (k8s-openapi
    /// types and the open v1.24-only ones), plus the subresource kinds, and
    /// nothing else.
    #[test]
    fn types_are_the_registry_kinds() {
        let mut types: Vec<(&str, &str, &str)> =
            TYPES.iter().map(|t| (t.group, t.version, t.kind)).collect();
        // v1.24-only resources have an open schema of their own.
        macro_rules! v1_24_only {
            (
                resources { $($resources:tt)* }
                v1_24_only { $( ($u:ty) { $($only:tt)* } ; )* }
                subresource_kinds { $($kinds:tt)* }
            ) => {
                [ $( (<$u as k8s_openapi::Resource>::GROUP, <$u as k8s_openapi::Resource>::KIND), )* ]
            };
        }
        let only = apimachinery::v1_24_api!(v1_24_only);
        assert_eq!(only.len(), 3);
        let mut want: Vec<(&str, &str, &str)> = Vec::new();
        for b in registry::BUILTINS {
            let r = &b.info;
            want.push((r.group, r.version, r.kind));
            for sub in r.subresources {
                want.push(subresource_gvk(r, sub));
            }
        }
        types.sort();
        types.dedup();
        want.sort();
        want.dedup();
        assert_eq!(types.len(), TYPES.len(), "a type is listed twice");
        assert_eq!(types, want);
        assert_eq!(TYPES.len(), 56 + 3);
    }

    /// The documents describe exactly the served resources: every path's
    /// kind is a served kind or one of its subresource kinds, and every
    /// served resource has its paths.
    #[test]
    fn documents_describe_exactly_the_served_resources() {
        let mut served: Vec<(&str, &str, &str)> = Vec::new();
        for r in registry::RESOURCES {
            served.push((r.group, r.version, r.kind));
            for sub in r.subresources {
                served.push(subresource_gvk(r, sub));
            }
        }
        let v2 = openapi_v2();
        let mut seen: Vec<(String, String, String)> = Vec::new();
        for (path, item) in v2["paths"].as_object().unwrap() {
            for op in item.as_object().unwrap().values() {
                let Some(gvk) = op.get("x-kubernetes-group-version-kind") else {
                    continue;
                };
                let s = |k: &str| gvk[k].as_str().unwrap().to_string();
                let key = (s("group"), s("version"), s("kind"));
                assert!(
                    served
                        .iter()
                        .any(|(g, v, k)| (*g, *v, *k) == (&*key.0, &*key.1, &*key.2)),
                    "{path}: {key:?} is not served"
                );
                seen.push(key);
            }
        }
        for r in registry::RESOURCES {
            assert!(
                seen.iter()
                    .any(|(g, v, k)| (g.as_str(), v.as_str(), k.as_str())
                        == (r.group, r.version, r.kind)),
                "{} has no path",
                r.storage_name()
            );
        }
    }

    #[test]
    fn kubectl_explain_finds_the_gvk_through_the_paths() {
        // kubectl explain looks for a get/post/put/patch/delete operation on
        // one of these paths carrying x-kubernetes-group-version-kind.
        let cases = [
            ("", "v1", "/api/v1/pods", "Pod"),
            ("", "v1", "/api/v1/nodes", "Node"),
            ("apps", "v1", "/apis/apps/v1/deployments", "Deployment"),
            (
                "apps",
                "v1",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                "Deployment",
            ),
        ];
        for (g, v, path, kind) in cases {
            let doc = openapi_v3_group_version(g, v).unwrap();
            assert_eq!(
                doc["paths"][path]["get"]["x-kubernetes-group-version-kind"]["kind"], kind,
                "{path}"
            );
        }
    }

    #[test]
    fn patch_operations_advertise_field_validation() {
        let doc = openapi_v3_group_version("apps", "v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            op["x-kubernetes-group-version-kind"],
            gvk_value("apps", "v1", "Deployment")
        );
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"fieldValidation"));
        let content = op["requestBody"]["content"].as_object().unwrap();
        assert!(content.contains_key("application/merge-patch+json"));
        assert!(!content.contains_key("application/strategic-merge-patch+json"));
        assert_eq!(op["operationId"], "patchAppsV1NamespacedDeployment");
        let scale =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"];
        assert_eq!(
            scale["x-kubernetes-group-version-kind"],
            gvk_value("autoscaling", "v1", "Scale")
        );
        schema(&doc, "io.k8s.api.autoscaling.v1.Scale");
    }

    #[test]
    fn operation_ids_and_tags_follow_the_real_naming() {
        let cases = [
            (
                "",
                "v1",
                "/api/v1/namespaces/{namespace}/pods",
                "get",
                "listCoreV1NamespacedPod",
                "core_v1",
            ),
            (
                "",
                "v1",
                "/api/v1/pods",
                "get",
                "listCoreV1PodForAllNamespaces",
                "core_v1",
            ),
            (
                "",
                "v1",
                "/api/v1/nodes/{name}",
                "get",
                "readCoreV1Node",
                "core_v1",
            ),
            (
                "",
                "v1",
                "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
                "post",
                "createCoreV1NamespacedPodEviction",
                "core_v1",
            ),
            (
                "coordination.k8s.io",
                "v1",
                "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
                "delete",
                "deleteCoordinationV1CollectionNamespacedLease",
                "coordination_v1",
            ),
        ];
        for (g, v, path, method, id, tag) in cases {
            let doc = openapi_v3_group_version(g, v).unwrap();
            let op = &doc["paths"][path][method];
            assert_eq!(op["operationId"], id, "{path} {method}");
            assert_eq!(op["tags"][0], tag);
        }
        // Bindings are create-only.
        let core = openapi_v3_group_version("", "v1").unwrap();
        let bindings = core["paths"]["/api/v1/namespaces/{namespace}/bindings"]
            .as_object()
            .unwrap();
        assert!(bindings.contains_key("post") && !bindings.contains_key("get"));
    }

    #[test]
    fn v2_is_swagger_with_definitions() {
        let v2 = openapi_v2();
        assert_eq!(v2["swagger"], "2.0");
        let pod = &v2["definitions"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.PodSpec"
        );
        let dep = &v2["definitions"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(dep["x-kubernetes-group-version-kind"][0]["group"], "apps");
        assert!(v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
        assert_eq!(openapi_v2_bytes(), v2.to_string().as_bytes());
    }

    #[test]
    fn definition_names_map_kinds_to_real_names() {
        let cases = [
            ("", "Pod", Some("io.k8s.api.core.v1.Pod")),
            ("apps", "Deployment", Some("io.k8s.api.apps.v1.Deployment")),
            ("events.k8s.io", "Event", Some("io.k8s.api.events.v1.Event")),
            ("", "Event", Some("io.k8s.api.core.v1.Event")),
            (
                "storage.k8s.io",
                "CSINode",
                Some("io.k8s.api.storage.v1.CSINode"),
            ),
            ("", "Frobnicator", None),
        ];
        for (g, k, want) in cases {
            assert_eq!(definition_name(g, k).as_deref(), want, "{g}/{k}");
        }
    }
}
