//! The table of resources of the v1.24 API and the subset the embedded
//! master serves: group, version, kind, plural, scope, verbs and
//! subresources, as the real v1.24 discovery documents describe them.
//!
//! Names, group/version and scope are not written here: they come from the
//! `k8s_openapi::Resource` constants of each API type listed in
//! [`v1_24_api!`](crate::v1_24_api), which the OpenAPI documents expand too.
//! The singular name and the `storageVersionHash` are computed from them at
//! compile time. What the types cannot tell (verbs, short names, categories,
//! subresources, storage version, whether we serve it) is the per-type
//! policy in that list, checked against recorded v1.24 discovery documents
//! by the tests.

mod const_str;
pub mod v1_24_only;

use k8s_openapi::Resource;

use const_str::ConstStr;

/// Verbs on a collection resource that supports everything.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];
const CREATE_ONLY: &[&str] = &["create"];

/// A subresource such as `pods/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// Name after the slash: `status`, `scale`, `binding`, ...
    pub name: &'static str,
    /// Kind of the object the subresource takes or returns.
    pub kind: &'static str,
    /// Group/version of that kind when it differs from the parent (Scale is
    /// `autoscaling/v1`, Eviction is `policy/v1`, TokenRequest is
    /// `authentication.k8s.io/v1`).
    pub kind_group_version: Option<&'static str>,
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core (legacy) group served under `/api`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// Stable identifier as in the real discovery documents.
    pub storage_version_hash: &'static str,
    /// What a CustomResourceDefinition says about its resources (schema,
    /// subresource paths, printer columns); `None` for built-in resources.
    pub custom: Option<&'static CustomResource>,
}

/// The served form of one version of a CustomResourceDefinition: what the
/// handlers need beyond the discovery facts of [`ResourceInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResource {
    /// `metadata.name` of the CustomResourceDefinition (`<plural>.<group>`).
    pub crd_name: String,
    /// The version objects are stored as (`storage: true`).
    pub storage_version: String,
    /// `schema.openAPIV3Schema` of this version, when given.
    pub schema: Option<serde_json::Value>,
    /// `subresources.status` is set.
    pub status: bool,
    /// `subresources.scale`, when set.
    pub scale: Option<CustomScale>,
    /// `additionalPrinterColumns` of this version (empty: NAME and AGE).
    pub printer_columns: Vec<PrinterColumn>,
}

/// `subresources.scale` of a CustomResourceDefinition version: JSON paths
/// (`.spec.replicas`) of the scale fields in the custom resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomScale {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    /// OpenAPI type: `integer`, `number`, `string`, `boolean`, `date`.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    /// Simple JSONPath relative to the object, e.g. `.spec.replicas`.
    pub json_path: String,
}

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Kind of the list type, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Name used as the storage key prefix and in metrics: `pods`,
    /// `deployments.apps`, `events.events.k8s.io`.
    pub fn storage_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether the collection itself can be written (bindings is create-only).
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

/// Whether a k8s-openapi scope marker means namespaced.
trait ScopeFlag {
    const NAMESPACED: bool;
}

impl ScopeFlag for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl ScopeFlag for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// Which group/version/kind the real server stores a resource as: what its
/// discovery `storageVersionHash` is computed from.
#[derive(Debug, Clone, Copy)]
enum Storage {
    /// Stored as its own group/version/kind.
    Own,
    /// Not persisted (bindings, reviews, componentstatuses): no hash.
    None,
    /// Stored as another group/version/kind.
    As(&'static str, &'static str, &'static str),
}

/// The parts of a resource that the API types cannot tell: the policy of
/// what we serve and the facts of the v1.24 REST storage
/// (`pkg/registry/<group>/<resource>/storage/storage.go`: `ShortNames()`,
/// `Categories()`, which REST verbs it implements and its subresources, as
/// wired in `pkg/registry/<group>/rest/storage_<group>.go`).
#[derive(Debug, Clone, Copy)]
struct Policy {
    /// Served by the embedded master today.
    served: bool,
    verbs: &'static [&'static str],
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
    storage: Storage,
}

const SERVED: Policy = Policy {
    served: true,
    verbs: ALL_VERBS,
    short_names: &[],
    categories: &[],
    subresources: &[],
    storage: Storage::Own,
};

/// `kubectl get all`.
const ALL: &[&str] = &["all"];
/// `kubectl get api-extensions`.
const API_EXTENSIONS: &[&str] = &["api-extensions"];
/// componentstatuses can only be read.
const GET_LIST: &[&str] = &["get", "list"];

const STATUS: Subresource = Subresource {
    name: "status",
    kind: "",
    kind_group_version: None,
    verbs: STATUS_VERBS,
};
const FINALIZE: Subresource = Subresource {
    name: "finalize",
    kind: "",
    kind_group_version: None,
    verbs: &["update"],
};
const APPROVAL: Subresource = Subresource {
    name: "approval",
    kind: "",
    kind_group_version: None,
    verbs: STATUS_VERBS,
};
/// `pods/binding` takes a core/v1 Binding (whose own URL segment is
/// `bindings`, hence the explicit name).
const POD_BINDING: Subresource = Subresource {
    name: "binding",
    kind: <k8s_openapi::api::core::v1::Binding as Resource>::KIND,
    kind_group_version: None,
    verbs: CREATE_ONLY,
};
const SCALE: Subresource = subresource_of::<k8s_openapi::api::autoscaling::v1::Scale>(STATUS_VERBS);
const EVICTION: Subresource = subresource_of::<k8s_openapi::api::policy::v1::Eviction>(CREATE_ONLY);
const TOKEN: Subresource =
    subresource_of::<k8s_openapi::api::authentication::v1::TokenRequest>(CREATE_ONLY);

/// A subresource whose kind lives in another group/version (Scale,
/// Eviction, TokenRequest): name, kind and group/version from k8s-openapi.
const fn subresource_of<T: Resource>(verbs: &'static [&'static str]) -> Subresource {
    Subresource {
        name: T::URL_PATH_SEGMENT,
        kind: T::KIND,
        kind_group_version: Some(T::API_VERSION),
        verbs,
    }
}

const fn storage_hash<T: Resource>(storage: Storage) -> ConstStr {
    match storage {
        Storage::Own => ConstStr::storage_version_hash(T::GROUP, T::VERSION, T::KIND),
        Storage::None => ConstStr::storage_version_hash("", "", ""),
        Storage::As(g, v, k) => ConstStr::storage_version_hash(g, v, k),
    }
}

/// Every resource of the v1.24 API that kube-apiserver serves by default in
/// its preferred version (the 56 of `kubectl api-resources`), one entry per
/// API type, and the kinds their subresources take. Group, version, kind,
/// plural and scope come from the type's `k8s_openapi::Resource` constants
/// (k8s-openapi 0.29, `v1_33`: the same for every type listed here as in
/// v1.24); the braces hold the `Policy` of what the types cannot tell.
/// Types that are in v1.24 but not in k8s-openapi are in
/// [`v1_24_only`](crate::registry::v1_24_only).
///
/// Invokes `$callback! { resources { (Type) { policy fields }; ... }
/// v1_24_only { ... } subresource_kinds { (Type) ... } }`, so that the
/// registry and the OpenAPI documents (which need the Rust types for their
/// schemas) expand the same list. Within a group, entries are in discovery
/// order; groups that are served come first, in today's serving order.
#[macro_export]
macro_rules! v1_24_api {
    ($callback:ident) => {
        $callback! {
            resources {
                // core/v1: pkg/registry/core/rest/storage_core.go
                ($crate::k8s_openapi::api::core::v1::Binding) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::ComponentStatus) {
                    verbs: GET_LIST, short_names: &["cs"], storage: Storage::None, ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::ConfigMap) { short_names: &["cm"], ..SERVED };
                ($crate::k8s_openapi::api::core::v1::Endpoints) { short_names: &["ep"], ..SERVED };
                ($crate::k8s_openapi::api::core::v1::Event) { short_names: &["ev"], ..SERVED };
                ($crate::k8s_openapi::api::core::v1::LimitRange) {
                    short_names: &["limits"], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::Namespace) {
                    verbs: NAMESPACE_VERBS, short_names: &["ns"],
                    subresources: &[FINALIZE, STATUS], ..SERVED
                };
                // The real server also has nodes/proxy: not served.
                ($crate::k8s_openapi::api::core::v1::Node) {
                    short_names: &["no"], subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::PersistentVolumeClaim) {
                    short_names: &["pvc"], subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::PersistentVolume) {
                    short_names: &["pv"], subresources: &[STATUS], ..SERVED
                };
                // The real server also has pods/attach, ephemeralcontainers,
                // exec, log, portforward and proxy: not served.
                ($crate::k8s_openapi::api::core::v1::Pod) {
                    short_names: &["po"], categories: ALL,
                    subresources: &[POD_BINDING, EVICTION, STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::PodTemplate) { ..SERVED };
                ($crate::k8s_openapi::api::core::v1::ReplicationController) {
                    short_names: &["rc"], categories: ALL, subresources: &[SCALE, STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::ResourceQuota) {
                    short_names: &["quota"], subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::core::v1::Secret) { ..SERVED };
                ($crate::k8s_openapi::api::core::v1::ServiceAccount) {
                    short_names: &["sa"], subresources: &[TOKEN], ..SERVED
                };
                // The real server also has services/proxy: not served.
                ($crate::k8s_openapi::api::core::v1::Service) {
                    short_names: &["svc"], categories: ALL, subresources: &[STATUS], ..SERVED
                };
                // apps/v1
                ($crate::k8s_openapi::api::apps::v1::ControllerRevision) { ..SERVED };
                ($crate::k8s_openapi::api::apps::v1::DaemonSet) {
                    short_names: &["ds"], categories: ALL, subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::apps::v1::Deployment) {
                    short_names: &["deploy"], categories: ALL, subresources: &[SCALE, STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::apps::v1::ReplicaSet) {
                    short_names: &["rs"], categories: ALL, subresources: &[SCALE, STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::apps::v1::StatefulSet) {
                    short_names: &["sts"], categories: ALL, subresources: &[SCALE, STATUS], ..SERVED
                };
                // batch/v1
                ($crate::k8s_openapi::api::batch::v1::CronJob) {
                    short_names: &["cj"], categories: ALL, subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::batch::v1::Job) {
                    categories: ALL, subresources: &[STATUS], ..SERVED
                };
                // coordination.k8s.io/v1
                ($crate::k8s_openapi::api::coordination::v1::Lease) { ..SERVED };
                // discovery.k8s.io/v1: still stored as v1beta1 in v1.24
                // (the recorded storageVersionHash is that of v1beta1).
                ($crate::k8s_openapi::api::discovery::v1::EndpointSlice) {
                    storage: Storage::As("discovery.k8s.io", "v1beta1", "EndpointSlice"),
                    ..SERVED
                };
                // events.k8s.io/v1: stored as core/v1 Event.
                ($crate::k8s_openapi::api::events::v1::Event) {
                    short_names: &["ev"], storage: Storage::As("", "v1", "Event"), ..SERVED
                };
                // storage.k8s.io/v1
                ($crate::k8s_openapi::api::storage::v1::CSIDriver) { ..SERVED };
                ($crate::k8s_openapi::api::storage::v1::CSINode) { ..SERVED };
                // GA in v1.24 but still stored as v1beta1 there
                // (pkg/kubeapiserver/default_storage_factory_builder.go).
                ($crate::k8s_openapi::api::storage::v1::CSIStorageCapacity) {
                    storage: Storage::As("storage.k8s.io", "v1beta1", "CSIStorageCapacity"),
                    ..SERVED
                };
                ($crate::k8s_openapi::api::storage::v1::StorageClass) {
                    short_names: &["sc"], ..SERVED
                };
                ($crate::k8s_openapi::api::storage::v1::VolumeAttachment) {
                    subresources: &[STATUS], ..SERVED
                };
                // node.k8s.io/v1
                ($crate::k8s_openapi::api::node::v1::RuntimeClass) { ..SERVED };
                // scheduling.k8s.io/v1
                ($crate::k8s_openapi::api::scheduling::v1::PriorityClass) {
                    short_names: &["pc"], ..SERVED
                };
                // admissionregistration.k8s.io/v1
                ($crate::k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration) {
                    categories: API_EXTENSIONS, ..SERVED
                };
                ($crate::k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration) {
                    categories: API_EXTENSIONS, ..SERVED
                };
                // apiextensions.k8s.io/v1
                ($crate::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition) {
                    short_names: &["crd", "crds"], categories: API_EXTENSIONS,
                    subresources: &[STATUS], ..SERVED
                };
                // apiregistration.k8s.io/v1
                ($crate::k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService) {
                    categories: API_EXTENSIONS, subresources: &[STATUS], ..SERVED
                };
                // authentication.k8s.io/v1
                ($crate::k8s_openapi::api::authentication::v1::TokenReview) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                // authorization.k8s.io/v1
                ($crate::k8s_openapi::api::authorization::v1::LocalSubjectAccessReview) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                ($crate::k8s_openapi::api::authorization::v1::SelfSubjectAccessReview) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                ($crate::k8s_openapi::api::authorization::v1::SelfSubjectRulesReview) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                ($crate::k8s_openapi::api::authorization::v1::SubjectAccessReview) {
                    verbs: CREATE_ONLY, storage: Storage::None, ..SERVED
                };
                // autoscaling/v2 (v1.24 also serves v1, v2beta1, v2beta2).
                // Storage version unverified: assumed v2 (no recording).
                ($crate::k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler) {
                    short_names: &["hpa"], categories: ALL, subresources: &[STATUS], ..SERVED
                };
                // certificates.k8s.io/v1
                ($crate::k8s_openapi::api::certificates::v1::CertificateSigningRequest) {
                    short_names: &["csr"], subresources: &[APPROVAL, STATUS], ..SERVED
                };
                // networking.k8s.io/v1
                ($crate::k8s_openapi::api::networking::v1::IngressClass) { ..SERVED };
                ($crate::k8s_openapi::api::networking::v1::Ingress) {
                    short_names: &["ing"], subresources: &[STATUS], ..SERVED
                };
                ($crate::k8s_openapi::api::networking::v1::NetworkPolicy) {
                    short_names: &["netpol"], ..SERVED
                };
                // policy/v1
                ($crate::k8s_openapi::api::policy::v1::PodDisruptionBudget) {
                    short_names: &["pdb"], subresources: &[STATUS], ..SERVED
                };
                // rbac.authorization.k8s.io/v1
                ($crate::k8s_openapi::api::rbac::v1::ClusterRoleBinding) { ..SERVED };
                ($crate::k8s_openapi::api::rbac::v1::ClusterRole) { ..SERVED };
                ($crate::k8s_openapi::api::rbac::v1::RoleBinding) { ..SERVED };
                ($crate::k8s_openapi::api::rbac::v1::Role) { ..SERVED };
            }
            v1_24_only {
                ($crate::registry::v1_24_only::FlowSchema) {
                    subresources: &[STATUS], ..SERVED
                };
                ($crate::registry::v1_24_only::PriorityLevelConfiguration) {
                    subresources: &[STATUS], ..SERVED
                };
                ($crate::registry::v1_24_only::PodSecurityPolicy) {
                    short_names: &["psp"], ..SERVED
                };
            }
            subresource_kinds {
                ($crate::k8s_openapi::api::autoscaling::v1::Scale)
                ($crate::k8s_openapi::api::policy::v1::Eviction)
                ($crate::k8s_openapi::api::authentication::v1::TokenRequest)
            }
        }
    };
}

/// One entry of the registry table from its API type and [`Policy`].
macro_rules! builtin {
    ($t:ty, { $($policy:tt)* }) => {{
        const POLICY: Policy = Policy { $($policy)* };
        const SINGULAR: ConstStr = ConstStr::lowercase(<$t as Resource>::KIND);
        const HASH: ConstStr = storage_hash::<$t>(POLICY.storage);
        Builtin {
            served: POLICY.served,
            info: ResourceInfo {
                group: <$t as Resource>::GROUP,
                version: <$t as Resource>::VERSION,
                kind: <$t as Resource>::KIND,
                plural: <$t as Resource>::URL_PATH_SEGMENT,
                singular: SINGULAR.as_str(),
                namespaced: <<$t as Resource>::Scope as ScopeFlag>::NAMESPACED,
                verbs: POLICY.verbs,
                short_names: POLICY.short_names,
                categories: POLICY.categories,
                subresources: POLICY.subresources,
                storage_version_hash: HASH.as_str(),
                custom: None,
            },
        }
    }};
}

/// Expands [`v1_24_api`] into the registry table.
macro_rules! registry_table {
    (
        resources { $( ($t:ty) { $($p:tt)* } ; )* }
        v1_24_only { $( ($u:ty) { $($q:tt)* } ; )* }
        subresource_kinds { $( ($s:ty) )* }
    ) => {
        &[ $( builtin!($t, { $($p)* }), )* $( builtin!($u, { $($q)* }), )* ]
    };
}

/// A resource of the v1.24 API and whether the embedded master serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub info: ResourceInfo,
    pub served: bool,
}

const BUILTIN_TABLE: &[Builtin] = v1_24_api!(registry_table);

/// Every resource of the v1.24 API (preferred versions), served or not.
pub static BUILTINS: &[Builtin] = BUILTIN_TABLE;

const fn served_count(all: &[Builtin]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < all.len() {
        if all[i].served {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn served<const N: usize>(all: &[Builtin]) -> [ResourceInfo; N] {
    let mut out = [all[0].info; N];
    let mut n = 0;
    let mut i = 0;
    while i < all.len() {
        if all[i].served {
            out[n] = all[i].info;
            n += 1;
        }
        i += 1;
    }
    out
}

const SERVED_COUNT: usize = served_count(BUILTIN_TABLE);
const SERVED_TABLE: [ResourceInfo; SERVED_COUNT] = served::<SERVED_COUNT>(BUILTIN_TABLE);

/// Every resource served, in discovery order within each group/version.
pub static RESOURCES: &[ResourceInfo] = &SERVED_TABLE;

/// Finds a v1.24 resource (served or not) by group and kind.
pub fn builtin_kind(group: &str, kind: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|b| b.info.group == group && b.info.kind == kind)
}

/// Finds a v1.24 resource (served or not) by its storage name (`pods`,
/// `deployments.apps`, see [`ResourceInfo::storage_name`]) without
/// allocating.
pub fn builtin_by_storage_name(storage_name: &str) -> Option<&'static Builtin> {
    let (plural, group) = storage_name.split_once('.').unwrap_or((storage_name, ""));
    BUILTINS
        .iter()
        .find(|b| b.info.plural == plural && b.info.group == group)
}

/// The API groups served under `/apis`, in the order the real server lists
/// them (core `v1` is under `/api`).
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

/// Resources of one group/version, in discovery order.
pub fn resources_in<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Finds a resource by group, version and plural name.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by group and kind (any served version).
pub fn lookup_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// Splits an `apiVersion` into (group, version): `v1` -> ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_core_and_group_resources() {
        let pods = lookup("", "v1", "pods").expect("pods");
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(pods.storage_name(), "pods");
        let deploy = lookup("apps", "v1", "deployments").expect("deployments");
        assert_eq!(deploy.storage_name(), "deployments.apps");
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(deploy.subresource("scale").map(|s| s.kind), Some("Scale"));
        assert!(lookup("", "v1", "frobnicators").is_none());
        assert_eq!(lookup_kind("batch", "Job").map(|r| r.plural), Some("jobs"));
    }

    #[test]
    fn storage_names_are_unique() {
        let mut names: Vec<String> = RESOURCES.iter().map(|r| r.storage_name()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    /// The master serves every resource of the v1.24 API, in discovery
    /// order within each group/version.
    #[test]
    fn every_v1_24_resource_is_served() {
        assert_eq!(RESOURCES.len(), 56);
        assert!(BUILTINS.iter().all(|b| b.served));
        for name in [
            "persistentvolumeclaims",
            "rolebindings.rbac.authorization.k8s.io",
            "selfsubjectaccessreviews.authorization.k8s.io",
            "podsecuritypolicies.policy",
            "flowschemas.flowcontrol.apiserver.k8s.io",
        ] {
            let (plural, group) = name.split_once('.').unwrap_or((name, ""));
            assert!(
                RESOURCES
                    .iter()
                    .any(|r| r.plural == plural && r.group == group),
                "{name} not served"
            );
        }
    }

    /// `kubectl api-resources` of a v1.24 kube-apiserver lists 56.
    #[test]
    fn builtins_cover_every_v1_24_resource_once() {
        assert_eq!(BUILTINS.len(), 56);
        let mut names: Vec<String> = BUILTINS.iter().map(|b| b.info.storage_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 56);
        for r in RESOURCES {
            let b = builtin_by_storage_name(&r.storage_name()).expect("served is builtin");
            assert!(b.served && b.info == *r);
        }
        assert_eq!(
            builtin_by_storage_name("horizontalpodautoscalers.autoscaling")
                .map(|b| (b.info.version, b.served)),
            Some(("v2", true))
        );
        assert_eq!(
            builtin_kind("policy", "PodSecurityPolicy").map(|b| b.info.plural),
            Some("podsecuritypolicies")
        );
        assert!(builtin_by_storage_name("frobs.example.com").is_none());
    }

    fn reference(file: &str) -> serde_json::Value {
        let path = format!(
            "{}/../../../shared/reference/kube-apiserver-1.24/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reference file {path} is needed: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// Every recorded group/version: each recorded resource is in the table
    /// with the recorded kind, scope, verbs, short names, categories and
    /// storage version hash, and each subresource we list is recorded alike.
    #[test]
    fn builtins_match_the_recorded_v1_24_discovery() {
        let docs = [
            ("discovery_api_v1.json", ""),
            ("discovery_apis_apps_v1.json", "apps"),
            (
                "discovery_apis_coordination.k8s.io_v1.json",
                "coordination.k8s.io",
            ),
            (
                "discovery_apis_discovery.k8s.io_v1.json",
                "discovery.k8s.io",
            ),
            ("discovery_apis_events.k8s.io_v1.json", "events.k8s.io"),
        ];
        for (file, group) in docs {
            let doc = reference(file);
            let recorded = doc["resources"].as_array().unwrap();
            let find = |name: &str| recorded.iter().find(|r| r["name"] == name);
            let top: Vec<&serde_json::Value> = recorded
                .iter()
                .filter(|r| !r["name"].as_str().unwrap().contains('/'))
                .collect();
            let ours: Vec<&Builtin> = BUILTINS.iter().filter(|b| b.info.group == group).collect();
            assert_eq!(top.len(), ours.len(), "{file}: resource count");
            for rec in top {
                let name = rec["name"].as_str().unwrap();
                let b = ours
                    .iter()
                    .find(|b| b.info.plural == name)
                    .unwrap_or_else(|| panic!("{file}: {name} missing"));
                let r = &b.info;
                assert_eq!(r.kind, rec["kind"], "{file} {name}");
                assert_eq!(r.namespaced, rec["namespaced"], "{file} {name}");
                let mut verbs = strings(rec, "verbs");
                verbs.sort();
                let mut our_verbs: Vec<&str> = r.verbs.to_vec();
                our_verbs.sort();
                assert_eq!(our_verbs, verbs, "{file} {name} verbs");
                assert_eq!(r.short_names, strings(rec, "shortNames"), "{file} {name}");
                assert_eq!(r.categories, strings(rec, "categories"), "{file} {name}");
                assert_eq!(
                    r.storage_version_hash,
                    rec["storageVersionHash"].as_str().unwrap_or(""),
                    "{file} {name}"
                );
                for sub in r.subresources {
                    let full = format!("{name}/{}", sub.name);
                    let rec = find(&full).unwrap_or_else(|| panic!("{file}: {full} missing"));
                    let kind = if sub.kind.is_empty() {
                        r.kind
                    } else {
                        sub.kind
                    };
                    assert_eq!(kind, rec["kind"], "{full}");
                    let gv = match (rec["group"].as_str(), rec["version"].as_str()) {
                        (Some("") | None, Some(v)) => Some(v.to_string()),
                        (Some(g), Some(v)) => Some(format!("{g}/{v}")),
                        _ => None,
                    };
                    assert_eq!(sub.kind_group_version.map(String::from), gv, "{full}");
                    assert_eq!(sub.verbs, strings(rec, "verbs"), "{full}");
                }
            }
        }
    }

    #[test]
    fn subresource_kinds_are_listed_for_the_openapi_documents() {
        macro_rules! kinds {
            (
                resources { $( ($t:ty) { $($p:tt)* } ; )* }
                v1_24_only { $( ($u:ty) { $($q:tt)* } ; )* }
                subresource_kinds { $( ($s:ty) )* }
            ) => {
                [ $( (<$s as Resource>::API_VERSION, <$s as Resource>::KIND), )* ]
            };
        }
        let listed = crate::v1_24_api!(kinds);
        for b in BUILTINS {
            for sub in b.info.subresources {
                if let Some(gv) = sub.kind_group_version {
                    assert!(listed.contains(&(gv, sub.kind)), "{gv} {}", sub.kind);
                }
            }
        }
    }

    #[test]
    fn groups_are_listed_once() {
        let g = groups();
        assert!(g.contains(&"apps"));
        assert!(!g.contains(&""));
        assert_eq!(g.iter().filter(|x| **x == "apps").count(), 1);
    }
}
