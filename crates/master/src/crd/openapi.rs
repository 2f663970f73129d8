//! OpenAPI of custom resources: each served version's `openAPIV3Schema`
//! as a definition (with apiVersion, kind, metadata and the
//! `x-kubernetes-group-version-kind` extension) plus its list type and
//! paths, merged into `/openapi/v2` and served as `/openapi/v3/apis/<g>/<v>`
//! documents, so that `kubectl explain` and client-side validation know
//! them. Documents are rebuilt only when the served set changes.

use super::Snapshot;
use apimachinery::registry::ResourceInfo;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `stable.example.com`, `v1`, `CronTab` → `com.example.stable.v1.CronTab`,
/// the real server's definition name.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Removes what Swagger 2.0 cannot say (the real server's v2 publishing
/// drops nullable and the combinators).
fn to_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if matches!(k.as_str(), "nullable" | "anyOf" | "oneOf" | "not" | "allOf") {
                    continue;
                }
                let keep_as_is = matches!(k.as_str(), "default" | "enum" | "example");
                out.insert(k.clone(), if keep_as_is { v.clone() } else { to_v2(v) });
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v2).collect()),
        other => other.clone(),
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!([{ "group": group, "kind": kind, "version": version }])
}

/// The definition of a custom resource and of its list, under `prefix`
/// (`#/definitions/` or `#/components/schemas/`).
pub fn definitions(r: &ResourceInfo, v3: bool) -> Vec<(String, Value)> {
    let prefix = if v3 {
        "#/components/schemas/"
    } else {
        "#/definitions/"
    };
    let name = definition_name(r.group, r.version, r.kind);
    let mut schema = r
        .custom
        .and_then(|c| c.schema.clone())
        .unwrap_or_else(|| json!({"type": "object"}));
    if !v3 {
        schema = to_v2(&schema);
    }
    let meta_ref = format!("{prefix}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    if let Some(m) = schema.as_object_mut() {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
            p.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
            p.insert(
                "metadata".into(),
                if v3 {
                    json!({"description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "allOf": [{"$ref": meta_ref}]})
                } else {
                    json!({"description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "$ref": meta_ref})
                },
            );
        }
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            gvk(r.group, r.version, r.kind),
        );
    }
    let list_kind = format!("{}List", r.kind);
    let list = json!({
        "description": format!("{list_kind} is a list of {}", r.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": format!("{prefix}{name}")}},
            "kind": {"type": "string"},
            "metadata": {"$ref": format!("{prefix}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")},
        },
        "x-kubernetes-group-version-kind": gvk(r.group, r.version, &list_kind),
    });
    vec![(format!("{name}List"), list), (name, schema)]
}

/// The documents of one snapshot.
#[derive(Debug)]
pub struct Documents {
    pub v2: Bytes,
    pub v3_root: Bytes,
    /// (group, version, document bytes)
    pub v3: Vec<(String, String, Bytes)>,
}

/// Documents built for a snapshot generation.
#[derive(Debug, Default)]
pub struct Cache {
    built: Mutex<Option<(u64, Arc<Documents>)>>,
}

impl Cache {
    pub fn get(&self, snap: &Snapshot) -> Arc<Documents> {
        let mut built = self.built.lock();
        if let Some((generation, docs)) = built.as_ref() {
            if *generation == snap.generation {
                return docs.clone();
            }
        }
        let docs = Arc::new(build(&snap.resources));
        *built = Some((snap.generation, docs.clone()));
        docs
    }
}

fn build(resources: &[&'static ResourceInfo]) -> Documents {
    let mut v2 = crate::openapi::openapi_v2();
    for r in resources {
        let name = definition_name(r.group, r.version, r.kind);
        if let Some(defs) = v2.get_mut("definitions").and_then(Value::as_object_mut) {
            for (k, d) in definitions(r, false) {
                defs.insert(k, d);
            }
        }
        if let Some(paths) = v2.get_mut("paths").and_then(Value::as_object_mut) {
            paths.extend(crate::openapi::custom_resource_paths(false, r, &name));
        }
    }
    let v2 = Bytes::from(v2.to_string());
    let mut gvs: Vec<(&str, &str)> = Vec::new();
    for r in resources {
        if !gvs.contains(&(r.group, r.version)) {
            gvs.push((r.group, r.version));
        }
    }
    let shared = crate::openapi::v3_shared_schemas();
    let mut root = crate::openapi::v3_root_paths();
    let mut v3 = Vec::new();
    for (g, v) in gvs {
        let mut schemas = shared.clone();
        let mut paths = Map::new();
        for r in resources.iter().filter(|r| r.group == g && r.version == v) {
            let name = definition_name(r.group, r.version, r.kind);
            schemas.extend(definitions(r, true));
            paths.extend(crate::openapi::custom_resource_paths(true, r, &name));
        }
        let doc = json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
            },
        });
        let bytes = doc.to_string().into_bytes();
        let hash = crate::openapi::content_hash(&bytes);
        let path = format!("apis/{g}/{v}");
        root.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
        v3.push((g.to_string(), v.to_string(), Bytes::from(bytes)));
    }
    Documents {
        v2,
        v3_root: Bytes::from(json!({"paths": root}).to_string()),
        v3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_names_reverse_the_group() {
        assert_eq!(
            definition_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
    }

    #[test]
    fn v2_drops_what_swagger_cannot_say() {
        let s = json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true,
            "anyOf": [{"type": "string"}]}, "b": {"default": {"nullable": 1}}}});
        assert_eq!(
            to_v2(&s),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"default": {"nullable": 1}}}})
        );
    }
}
