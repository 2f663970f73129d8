//! The generator of `src/patch/schema_v1_24.rs`, the strategic-merge-patch
//! table, from the vendored v1.24.0 OpenAPI definitions
//! (`testdata/k8s-v1.24.0-definitions.json.gz`, see `testdata/README.md`).
//!
//! The test fails when the checked-in table differs from what the
//! definitions produce; `KUBEMARK_REGENERATE=1 cargo test -p apimachinery
//! --test generated_tables` rewrites it.
//!
//! What is generated: `x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key` are kube-openapi's copies of the Go
//! `patchStrategy`/`patchMergeKey` struct tags, which are all that the
//! server-side strategic merge patch reads (`x-kubernetes-list-type` and
//! `-map-keys` drive server-side apply only, so they are not carried). For
//! every kind (`x-kubernetes-group-version-kind`) the table holds the tagged
//! fields and the object-typed fields that lead to them; lists that are not
//! merged are replaced whole, so nothing below them is needed.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;

use serde_json::{Map, Value};

const DEFINITIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/k8s-v1.24.0-definitions.json.gz"
);
const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/patch/schema_v1_24.rs");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Default,
    Merge,
    Replace,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    strategy: Strategy,
    merge_key: String,
    /// Definition of the field's object, or of a merged list's elements.
    target: Option<String>,
}

fn definition_ref(v: &Value) -> Option<String> {
    let r = v.get("$ref").or_else(|| {
        v.get("allOf")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|x| x.get("$ref"))
    })?;
    r.as_str()?
        .strip_prefix("#/definitions/")
        .map(str::to_string)
}

/// Maps the extension to what the server does with it: `merge,retainKeys`
/// merges; `retainKeys` alone only matters through the `$retainKeys`
/// directive, which is honoured wherever it appears.
fn strategy(s: Option<&str>) -> Strategy {
    match s {
        None | Some("retainKeys") => Strategy::Default,
        Some("merge") | Some("merge,retainKeys") => Strategy::Merge,
        Some("replace") => Strategy::Replace,
        Some(other) => {
            panic!("unknown x-kubernetes-patch-strategy {other:?}: extend the generator")
        }
    }
}

fn fields_of(def: &Value) -> Vec<Field> {
    let Some(props) = def.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out: Vec<Field> = props
        .iter()
        .map(|(name, p)| {
            let strategy = strategy(p.get("x-kubernetes-patch-strategy").and_then(Value::as_str));
            let merge_key = p
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let is_array = p.get("type").and_then(Value::as_str) == Some("array");
            let target = if is_array {
                // Only merged lists look inside their elements.
                (strategy == Strategy::Merge)
                    .then(|| p.get("items").and_then(definition_ref))
                    .flatten()
            } else {
                definition_ref(p)
            };
            Field {
                name: name.clone(),
                strategy,
                merge_key,
                target,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn static_name(def: &str) -> String {
    def.trim_start_matches("io.k8s.")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn strategy_src(s: Strategy) -> &'static str {
    match s {
        Strategy::Default => "Strategy::Default",
        Strategy::Merge => "Strategy::Merge",
        Strategy::Replace => "Strategy::Replace",
    }
}

fn load_definitions() -> Map<String, Value> {
    let file = std::fs::File::open(DEFINITIONS)
        .unwrap_or_else(|e| panic!("vendored definitions {DEFINITIONS} are needed: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["definitions"].as_object().unwrap().clone()
}

/// The Rust source of `src/patch/schema_v1_24.rs`.
fn generate(defs: &Map<String, Value>) -> String {
    let fields: BTreeMap<&str, Vec<Field>> = defs
        .iter()
        .map(|(n, d)| (n.as_str(), fields_of(d)))
        .collect();

    // A definition is needed when one of its fields is tagged or leads to a
    // needed definition; iterate to the fixed point (definitions recurse).
    let mut needed: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = needed.len();
        for (name, fs) in &fields {
            let relevant = fs.iter().any(|f| {
                f.strategy != Strategy::Default
                    || !f.merge_key.is_empty()
                    || f.target.as_deref().is_some_and(|t| needed.contains(t))
            });
            if relevant {
                needed.insert(name);
            }
        }
        if needed.len() == before {
            break;
        }
    }
    let relevant = |f: &Field| {
        f.strategy != Strategy::Default
            || !f.merge_key.is_empty()
            || f.target.as_deref().is_some_and(|t| needed.contains(t))
    };

    // Keep what the kinds reach.
    let roots: Vec<&str> = defs
        .iter()
        .filter(|(n, d)| {
            d.get("x-kubernetes-group-version-kind").is_some() && needed.contains(n.as_str())
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let mut reachable: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = roots.clone();
    while let Some(name) = stack.pop() {
        if !reachable.insert(name) {
            continue;
        }
        for f in &fields[name] {
            if let Some(t) = f.target.as_deref() {
                if needed.contains(t) && relevant(f) {
                    let t = defs.get_key_value(t).map(|(k, _)| k.as_str()).unwrap();
                    stack.push(t);
                }
            }
        }
    }

    let mut out = String::new();
    out.push_str(
        "// @generated by crates/apimachinery/tests/generated_tables.rs from\n\
         // testdata/k8s-v1.24.0-definitions.json.gz: do not edit. Regenerate with\n\
         // `KUBEMARK_REGENERATE=1 cargo test -p apimachinery --test generated_tables`.\n\
         \n\
         //! Strategic-merge-patch metadata of the v1.24 API types: for every kind,\n\
         //! its fields tagged `patchStrategy`/`patchMergeKey` and the fields that\n\
         //! lead to them.\n\
         \n\
         use super::{FieldMeta, Schema, Strategy};\n",
    );
    for name in &reachable {
        let _ = writeln!(out, "\n/// `{name}`");
        let _ = writeln!(
            out,
            "pub(super) static {}: Schema = Schema {{",
            static_name(name)
        );
        out.push_str("    fields: &[\n");
        for f in fields[name].iter().filter(|f| relevant(f)) {
            let schema = match f.target.as_deref() {
                Some(t) if needed.contains(t) => format!("Some(&{})", static_name(t)),
                _ => "None".to_string(),
            };
            let _ = writeln!(
                out,
                "        ({:?}, FieldMeta {{ strategy: {}, merge_key: {:?}, schema: {} }}),",
                f.name,
                strategy_src(f.strategy),
                f.merge_key,
                schema
            );
        }
        out.push_str("    ],\n};\n");
    }
    out.push_str(
        "\n/// Group, version and kind (`x-kubernetes-group-version-kind`) of every\n\
         /// kind above.\n\
         pub(super) static KINDS: &[(&str, &str, &str, &Schema)] = &[\n",
    );
    let mut kinds: Vec<(String, String, String, String)> = Vec::new();
    for name in &reachable {
        let Some(gvks) = defs[*name]
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for gvk in gvks {
            let s = |k: &str| gvk[k].as_str().unwrap().to_string();
            kinds.push((s("group"), s("version"), s("kind"), static_name(name)));
        }
    }
    kinds.sort();
    for (g, v, k, s) in kinds {
        let _ = writeln!(out, "    ({g:?}, {v:?}, {k:?}, &{s}),");
    }
    out.push_str("];\n");
    out
}

#[test]
fn patch_schema_table_is_generated_from_the_v1_24_definitions() {
    let generated = generate(&load_definitions());
    if std::env::var_os("KUBEMARK_REGENERATE").is_some() {
        std::fs::write(TABLE, &generated).unwrap();
    }
    let checked_in =
        std::fs::read_to_string(TABLE).unwrap_or_else(|e| panic!("{TABLE} is needed: {e}"));
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{TABLE} differs from what the vendored definitions generate (first at {line}); \
             run `KUBEMARK_REGENERATE=1 cargo test -p apimachinery --test generated_tables` \
             and review the diff"
        );
    }
}

/// The vendored document is the v1.24 API: spot-check what changed after it.
#[test]
fn vendored_definitions_are_v1_24() {
    let defs = load_definitions();
    // Removed in v1.25.
    assert!(defs.contains_key("io.k8s.api.policy.v1beta1.PodSecurityPolicy"));
    // Added in v1.25 / v1.26.
    assert!(!defs.contains_key("io.k8s.api.core.v1.PodSchedulingGate"));
    assert!(!defs["io.k8s.api.core.v1.PodSpec"]["properties"]
        .as_object()
        .unwrap()
        .contains_key("hostUsers"));
    // ObjectMeta still has clusterName in v1.24.
    assert!(
        defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
            .as_object()
            .unwrap()
            .contains_key("clusterName")
    );
}
