//! The `patchStrategy` / `patchMergeKey` struct tags of the built-in
//! Kubernetes API types (k8s.io/api v1.24), as a table the strategic merge
//! patch walks instead of Go reflection. Only fields with a tag, and the
//! structs leading to them, are listed: every other map merges key by key
//! and every other list is replaced, which is what an untagged field does.
//!
//! `merge,retainKeys` is listed as `Merge` and `retainKeys` alone as the
//! default: on the server side the retainKeys part only matters through the
//! `$retainKeys` directive, which is honoured wherever it appears.

/// How a field is combined with the live value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Untagged: maps merge recursively, lists are replaced.
    Default,
    /// `patchStrategy:"merge"`: lists merge (by `merge_key` for lists of
    /// objects, as a set for lists of primitives).
    Merge,
    /// `patchStrategy:"replace"`: the patch value replaces the live one.
    Replace,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldMeta {
    pub strategy: Strategy,
    /// `patchMergeKey`; empty when none.
    pub merge_key: &'static str,
    /// Schema of the field's struct (for lists: of the element struct).
    pub schema: Option<&'static Schema>,
}

impl FieldMeta {
    const DEFAULT: FieldMeta = FieldMeta {
        strategy: Strategy::Default,
        merge_key: "",
        schema: None,
    };
}

#[derive(Debug)]
pub(crate) struct Schema {
    pub fields: &'static [(&'static str, FieldMeta)],
}

/// Metadata of `key` inside a struct described by `schema` (unknown fields
/// and unknown structs get the untagged default).
pub(crate) fn lookup(schema: Option<&'static Schema>, key: &str) -> FieldMeta {
    schema
        .and_then(|s| s.fields.iter().find(|(k, _)| *k == key))
        .map_or(FieldMeta::DEFAULT, |(_, m)| *m)
}

const fn nested(schema: &'static Schema) -> FieldMeta {
    FieldMeta {
        strategy: Strategy::Default,
        merge_key: "",
        schema: Some(schema),
    }
}

const fn merge_by(key: &'static str) -> FieldMeta {
    FieldMeta {
        strategy: Strategy::Merge,
        merge_key: key,
        schema: None,
    }
}

const fn merge_by_into(key: &'static str, elem: &'static Schema) -> FieldMeta {
    FieldMeta {
        strategy: Strategy::Merge,
        merge_key: key,
        schema: Some(elem),
    }
}

/// A list of primitives merged as a set.
const MERGE_SET: FieldMeta = FieldMeta {
    strategy: Strategy::Merge,
    merge_key: "",
    schema: None,
};

static OBJECT_META: Schema = Schema {
    fields: &[
        ("finalizers", MERGE_SET),
        ("ownerReferences", merge_by("uid")),
    ],
};

/// Container and EphemeralContainer(Common).
static CONTAINER: Schema = Schema {
    fields: &[
        ("ports", merge_by("containerPort")),
        ("env", merge_by("name")),
        ("volumeMounts", merge_by("mountPath")),
        ("volumeDevices", merge_by("devicePath")),
    ],
};

static POD_SPEC: Schema = Schema {
    fields: &[
        ("volumes", merge_by("name")),
        ("initContainers", merge_by_into("name", &CONTAINER)),
        ("containers", merge_by_into("name", &CONTAINER)),
        ("ephemeralContainers", merge_by_into("name", &CONTAINER)),
        ("imagePullSecrets", merge_by("name")),
        ("hostAliases", merge_by("ip")),
        ("topologySpreadConstraints", merge_by("topologyKey")),
    ],
};

/// containerStatuses & co. carry no tags: they are replaced.
static POD_STATUS: Schema = Schema {
    fields: &[("conditions", merge_by("type")), ("podIPs", merge_by("ip"))],
};

static POD: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&POD_SPEC)),
        ("status", nested(&POD_STATUS)),
    ],
};

static POD_TEMPLATE_SPEC: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&POD_SPEC)),
    ],
};

/// `kind: PodTemplate`.
static POD_TEMPLATE: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("template", nested(&POD_TEMPLATE_SPEC)),
    ],
};

/// The spec of Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and
/// ReplicationController: the pod template is what carries tags.
static WORKLOAD_SPEC: Schema = Schema {
    fields: &[("template", nested(&POD_TEMPLATE_SPEC))],
};

static CONDITIONS_STATUS: Schema = Schema {
    fields: &[("conditions", merge_by("type"))],
};

static WORKLOAD: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&WORKLOAD_SPEC)),
        ("status", nested(&CONDITIONS_STATUS)),
    ],
};

static JOB_TEMPLATE_SPEC: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&WORKLOAD_SPEC)),
    ],
};

static CRON_JOB_SPEC: Schema = Schema {
    fields: &[("jobTemplate", nested(&JOB_TEMPLATE_SPEC))],
};

static CRON_JOB: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&CRON_JOB_SPEC)),
    ],
};

/// taints, images, volumesInUse and volumesAttached are untagged (replaced).
static NODE_SPEC: Schema = Schema {
    fields: &[("podCIDRs", MERGE_SET)],
};

static NODE_STATUS: Schema = Schema {
    fields: &[
        ("conditions", merge_by("type")),
        ("addresses", merge_by("type")),
    ],
};

static NODE: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&NODE_SPEC)),
        ("status", nested(&NODE_STATUS)),
    ],
};

static SERVICE_SPEC: Schema = Schema {
    fields: &[("ports", merge_by("port"))],
};

static SERVICE: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&SERVICE_SPEC)),
        ("status", nested(&CONDITIONS_STATUS)),
    ],
};

static NAMESPACE: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("status", nested(&CONDITIONS_STATUS)),
    ],
};

static SERVICE_ACCOUNT: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("secrets", merge_by("name")),
    ],
};

static CSI_NODE_SPEC: Schema = Schema {
    fields: &[("drivers", merge_by("name"))],
};

static CSI_NODE: Schema = Schema {
    fields: &[
        ("metadata", nested(&OBJECT_META)),
        ("spec", nested(&CSI_NODE_SPEC)),
    ],
};

/// Kinds without tagged fields outside their ObjectMeta (ConfigMap, Secret,
/// Endpoints, EndpointSlice, Event, Lease, ...), and unknown kinds.
static GENERIC: Schema = Schema {
    fields: &[("metadata", nested(&OBJECT_META))],
};

/// The schema of a kind (by `kind` name; the built-in kinds are unique
/// across the groups we serve).
pub(crate) fn for_kind(kind: &str) -> &'static Schema {
    match kind {
        "Pod" => &POD,
        "PodTemplate" => &POD_TEMPLATE,
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &WORKLOAD,
        "CronJob" => &CRON_JOB,
        "Node" => &NODE,
        "Service" => &SERVICE,
        "Namespace" => &NAMESPACE,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "CSINode" => &CSI_NODE,
        _ => &GENERIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows a dotted path of struct fields to the metadata of its last one.
    fn meta(kind: &str, path: &str) -> FieldMeta {
        let mut schema = Some(for_kind(kind));
        let mut m = FieldMeta::DEFAULT;
        for part in path.split('.') {
            m = lookup(schema, part);
            schema = m.schema;
        }
        m
    }

    #[test]
    fn tags_of_the_api_types() {
        let cases: &[(&str, &str, Strategy, &str)] = &[
            ("Pod", "spec.containers", Strategy::Merge, "name"),
            ("Pod", "spec.initContainers", Strategy::Merge, "name"),
            ("Pod", "spec.ephemeralContainers", Strategy::Merge, "name"),
            (
                "Pod",
                "spec.containers.ports",
                Strategy::Merge,
                "containerPort",
            ),
            ("Pod", "spec.containers.env", Strategy::Merge, "name"),
            (
                "Pod",
                "spec.containers.volumeMounts",
                Strategy::Merge,
                "mountPath",
            ),
            (
                "Pod",
                "spec.containers.volumeDevices",
                Strategy::Merge,
                "devicePath",
            ),
            ("Pod", "spec.containers.envFrom", Strategy::Default, ""),
            ("Pod", "spec.volumes", Strategy::Merge, "name"),
            ("Pod", "spec.imagePullSecrets", Strategy::Merge, "name"),
            ("Pod", "spec.hostAliases", Strategy::Merge, "ip"),
            ("Pod", "spec.tolerations", Strategy::Default, ""),
            ("Pod", "status.conditions", Strategy::Merge, "type"),
            ("Pod", "status.podIPs", Strategy::Merge, "ip"),
            ("Pod", "status.containerStatuses", Strategy::Default, ""),
            ("Pod", "metadata.finalizers", Strategy::Merge, ""),
            ("Pod", "metadata.ownerReferences", Strategy::Merge, "uid"),
            ("Pod", "metadata.labels", Strategy::Default, ""),
            (
                "Deployment",
                "spec.template.spec.containers.env",
                Strategy::Merge,
                "name",
            ),
            (
                "StatefulSet",
                "spec.template.metadata.finalizers",
                Strategy::Merge,
                "",
            ),
            ("Job", "status.conditions", Strategy::Merge, "type"),
            (
                "ReplicationController",
                "spec.template.spec.volumes",
                Strategy::Merge,
                "name",
            ),
            (
                "CronJob",
                "spec.jobTemplate.spec.template.spec.containers",
                Strategy::Merge,
                "name",
            ),
            ("Node", "status.conditions", Strategy::Merge, "type"),
            ("Node", "status.addresses", Strategy::Merge, "type"),
            ("Node", "status.images", Strategy::Default, ""),
            ("Node", "spec.taints", Strategy::Default, ""),
            ("Node", "spec.podCIDRs", Strategy::Merge, ""),
            ("Service", "spec.ports", Strategy::Merge, "port"),
            ("Service", "status.conditions", Strategy::Merge, "type"),
            ("Namespace", "status.conditions", Strategy::Merge, "type"),
            ("ServiceAccount", "secrets", Strategy::Merge, "name"),
            ("CSINode", "spec.drivers", Strategy::Merge, "name"),
            ("Endpoints", "subsets", Strategy::Default, ""),
            ("EndpointSlice", "endpoints", Strategy::Default, ""),
            ("ConfigMap", "metadata.finalizers", Strategy::Merge, ""),
            ("Frobnicator", "spec.items", Strategy::Default, ""),
        ];
        for (kind, path, strategy, key) in cases {
            let m = meta(kind, path);
            assert_eq!(
                (m.strategy, m.merge_key),
                (*strategy, *key),
                "{kind} {path}"
            );
        }
    }
}
