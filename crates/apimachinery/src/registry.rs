//! The table of resources the embedded master serves: group, version, kind,
//! plural, scope, verbs and subresources, as the real v1.24 discovery
//! documents describe them.

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

macro_rules! sub {
    ($name:literal, $kind:literal, $verbs:expr) => {
        Subresource {
            name: $name,
            kind: $kind,
            kind_group_version: None,
            verbs: $verbs,
        }
    };
    ($name:literal, $kind:literal, $gv:literal, $verbs:expr) => {
        Subresource {
            name: $name,
            kind: $kind,
            kind_group_version: Some($gv),
            verbs: $verbs,
        }
    };
}

const STATUS: Subresource = sub!("status", "", STATUS_VERBS);
const SCALE: Subresource = sub!("scale", "Scale", "autoscaling/v1", STATUS_VERBS);

#[allow(clippy::too_many_arguments)]
const fn res(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
    storage_version_hash: &'static str,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        verbs: ALL_VERBS,
        short_names,
        categories,
        subresources,
        storage_version_hash,
    }
}

/// Every resource served, in discovery order within each group/version.
pub static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    ResourceInfo {
        verbs: CREATE_ONLY,
        ..res(
            "",
            "v1",
            "Binding",
            "bindings",
            "binding",
            true,
            &[],
            &[],
            &[],
            "",
        )
    },
    res(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        &[],
        &[],
        "qFsyl6wFWjQ=",
    ),
    res(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        &["ep"],
        &[],
        &[],
        "fWeeMqaN/OA=",
    ),
    res(
        "",
        "v1",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        &[],
        "r2yiGXH7wu8=",
    ),
    ResourceInfo {
        verbs: NAMESPACE_VERBS,
        ..res(
            "",
            "v1",
            "Namespace",
            "namespaces",
            "namespace",
            false,
            &["ns"],
            &[],
            &[sub!("finalize", "", &["update"]), STATUS],
            "Q3oi5N2YM8M=",
        )
    },
    res(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        false,
        &["no"],
        &[],
        &[STATUS],
        "XwShjMxG9Fs=",
    ),
    res(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        true,
        &["po"],
        &["all"],
        &[
            sub!("binding", "Binding", CREATE_ONLY),
            sub!("eviction", "Eviction", "policy/v1", CREATE_ONLY),
            STATUS,
        ],
        "xPOwRZ+Yhw8=",
    ),
    res(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        "replicationcontroller",
        true,
        &["rc"],
        &["all"],
        &[SCALE, STATUS],
        "Jond2If31h0=",
    ),
    res(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        true,
        &[],
        &[],
        &[],
        "S6u1pOWzb84=",
    ),
    res(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        &[],
        &[sub!(
            "token",
            "TokenRequest",
            "authentication.k8s.io/v1",
            CREATE_ONLY
        )],
        "pbx9ZvyFpBE=",
    ),
    res(
        "",
        "v1",
        "Service",
        "services",
        "service",
        true,
        &["svc"],
        &["all"],
        &[STATUS],
        "0/CO1lhkEBI=",
    ),
    // apps/v1
    res(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        true,
        &[],
        &[],
        &[],
        "85nkx63pcBU=",
    ),
    res(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        true,
        &["ds"],
        &["all"],
        &[STATUS],
        "dd7pWHUlMKQ=",
    ),
    res(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        &["all"],
        &[SCALE, STATUS],
        "8aSe+NMegvE=",
    ),
    res(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        &["rs"],
        &["all"],
        &[SCALE, STATUS],
        "P1RzHs8/mWQ=",
    ),
    res(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        true,
        &["sts"],
        &["all"],
        &[SCALE, STATUS],
        "H+vl74LkKdo=",
    ),
    // batch/v1
    res(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        true,
        &[],
        &["all"],
        &[STATUS],
        "mudhfqk/qZY=",
    ),
    // coordination.k8s.io/v1
    res(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        &[],
        &[],
        "gqkMMb/YqFM=",
    ),
    // discovery.k8s.io/v1
    res(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        &[],
        &[],
        &[],
        "Nx3SIv6I0mE=",
    ),
    // events.k8s.io/v1
    res(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        &[],
        "r2yiGXH7wu8=",
    ),
    // storage.k8s.io/v1
    res(
        "storage.k8s.io",
        "v1",
        "CSIDriver",
        "csidrivers",
        "csidriver",
        false,
        &[],
        &[],
        &[],
        "hL6j/rwBV5w=",
    ),
    res(
        "storage.k8s.io",
        "v1",
        "CSINode",
        "csinodes",
        "csinode",
        false,
        &[],
        &[],
        &[],
        "Pe62DkZtjuo=",
    ),
    // node.k8s.io/v1
    res(
        "node.k8s.io",
        "v1",
        "RuntimeClass",
        "runtimeclasses",
        "runtimeclass",
        false,
        &[],
        &[],
        &[],
        "WQTu1GL3T2Q=",
    ),
    // scheduling.k8s.io/v1
    res(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        false,
        &["pc"],
        &[],
        &[],
        "1QwjyaZjj3Y=",
    ),
];

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

    #[test]
    fn groups_are_listed_once() {
        let g = groups();
        assert!(g.contains(&"apps"));
        assert!(!g.contains(&""));
        assert_eq!(g.iter().filter(|x| **x == "apps").count(), 1);
    }
}
