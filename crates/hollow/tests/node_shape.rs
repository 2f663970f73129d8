//! The Node that `kubemark hollow-node` registers with default flags, compared
//! field by field with the one upstream's v1.24 Go kubemark registers
//! (`tests/reference/hollow-node-object-go-kubemark.json`, vendored from
//! `../shared/reference/kube-apiserver-1.24/`). Every difference must be on
//! the explicit list below.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::*;
use serde_json::{json, Map, Value};
use std::time::Duration;

const T: Duration = Duration::from_secs(40);

/// Paths (`.`-separated keys, `[*]` any array index) whose values may
/// differ from the reference, and why.
const ALLOWED: &[(&str, &str)] = &[
    ("metadata.name", "node names differ"),
    ("metadata.uid", "server-assigned"),
    ("metadata.resourceVersion", "server-assigned"),
    ("metadata.creationTimestamp", "time"),
    (
        "metadata.managedFields",
        "server bookkeeping, not in the recording",
    ),
    ("metadata.labels.kubernetes\\.io/hostname", "the node name"),
    ("spec.providerID", "kubemark://<node name>, checked below"),
    ("status.addresses[*].address", "node addresses differ"),
    ("status.conditions[*].lastHeartbeatTime", "time"),
    ("status.conditions[*].lastTransitionTime", "time"),
    ("status.nodeInfo.machineID", "per machine"),
    ("status.nodeInfo.systemUUID", "per machine"),
    ("status.nodeInfo.bootID", "per boot"),
];

/// Removed before comparing, each checked on its own first.
/// - ours: `kubemark.io/hollow-host` and `kubemark.io/hollow-pid`
///   annotations (which process runs the node);
/// - ours: the NPD conditions (`KernelDeadlock`, `ReadonlyFilesystem`)
///   before the kubelet's four: the npd morph is on by default, the
///   recording ran the kubelet and proxy only;
/// - reference: `node.alpha.kubernetes.io/ttl`, set by
///   kube-controller-manager's TTL controller, not by the kubelet (the
///   embedded controller manager's `ttl` controller sets it too, see
///   controllers/tests/cluster.rs; this test's master runs no controllers).
const OUR_ANNOTATIONS: [&str; 2] = ["kubemark.io/hollow-host", "kubemark.io/hollow-pid"];
const TTL_ANNOTATION: &str = "node.alpha.kubernetes.io/ttl";
const NPD_CONDITIONS: [(&str, &str); 2] = [
    ("KernelDeadlock", "KernelHasNoDeadlock"),
    ("ReadonlyFilesystem", "FilesystemIsNotReadOnly"),
];

/// One difference: the path and what differs.
#[derive(Debug, Clone, PartialEq)]
struct Diff {
    path: Vec<String>,
    what: String,
}

fn path_str(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        if !seg.starts_with('[') && !s.is_empty() {
            s.push('.');
        }
        s.push_str(&seg.replace('.', "\\."));
    }
    s
}

/// Every leaf where `ours` and `want` differ (missing, extra or unequal).
fn diff(ours: &Value, want: &Value, path: &mut Vec<String>, out: &mut Vec<Diff>) {
    match (ours, want) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                path.push(k.clone());
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, path, out),
                    (Some(x), None) => out.push(Diff {
                        path: path.clone(),
                        what: format!("only ours: {x}"),
                    }),
                    (None, Some(y)) => out.push(Diff {
                        path: path.clone(),
                        what: format!("missing, reference has {y}"),
                    }),
                    (None, None) => {}
                }
                path.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                path.push(format!("[{i}]"));
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => diff(x, y, path, out),
                    (x, y) => out.push(Diff {
                        path: path.clone(),
                        what: format!("ours {x:?}, reference {y:?}"),
                    }),
                }
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Diff {
            path: path.clone(),
            what: format!("ours {a}, reference {b}"),
        }),
    }
}

/// Whether `path` falls under the allowed `pattern`.
fn allowed(path: &[String], pattern: &str) -> bool {
    let pat = pattern_segments(pattern);
    pat.len() <= path.len()
        && pat
            .iter()
            .zip(path)
            .all(|(p, s)| p == s || (p == "[*]" && s.starts_with('[')))
}

fn pattern_segments(pattern: &str) -> Vec<String> {
    // Split on unescaped dots, then split `key[*]` into `key`, `[*]`.
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '.' => segs.push(std::mem::take(&mut cur)),
            '[' => {
                if !cur.is_empty() {
                    segs.push(std::mem::take(&mut cur));
                }
                cur.push('[');
            }
            ']' => {
                cur.push(']');
                segs.push(std::mem::take(&mut cur));
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        segs.push(cur);
    }
    segs
}

fn unexplained(ours: &Value, reference: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(ours, reference, &mut Vec::new(), &mut out);
    out.into_iter()
        .filter(|d| !ALLOWED.iter().any(|(p, _)| allowed(&d.path, p)))
        .map(|d| format!("{}: {}", path_str(&d.path), d.what))
        .collect()
}

#[test]
fn the_comparison_catches_differences() {
    let reference = reference("hollow-node-object-go-kubemark.json");
    assert!(unexplained(&reference, &reference).is_empty());
    let mut ours = reference.clone();
    ours["metadata"]["uid"] = json!("other");
    ours["status"]["conditions"][2]["lastHeartbeatTime"] = json!("2030-01-01T00:00:00Z");
    ours["status"]["addresses"][0]["address"] = json!("10.0.0.2");
    ours["metadata"]["labels"]["kubernetes.io/hostname"] = json!("x");
    assert!(unexplained(&ours, &reference).is_empty());
    // The old hollow node: 72 cores, 288Gi, a podCIDR of its own.
    ours["status"]["capacity"]["cpu"] = json!("72");
    ours["status"]["allocatable"]["memory"] = json!("288Gi");
    ours["spec"]["podCIDR"] = json!("10.64.0.0/24");
    ours["status"]["conditions"][3]["reason"] = json!("KubeletNotReady");
    ours["metadata"]["labels"]["kubernetes.io/os"] = json!("windows");
    ours["status"]["addresses"].as_array_mut().unwrap().pop();
    let got = unexplained(&ours, &reference);
    assert_eq!(
        got.iter()
            .map(|l| l.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "metadata.labels.kubernetes\\.io/os",
            "spec.podCIDR",
            "status.addresses[1]",
            "status.allocatable.memory",
            "status.capacity.cpu",
            "status.conditions[3].reason",
        ],
        "{got:#?}"
    );
}

#[derive(Parser)]
struct HollowNodeCmd {
    #[command(flatten)]
    args: hollow::HollowNodeArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_hollow_node_matches_upstream_kubemark_field_by_field() {
    let env = start().await;
    // `kubemark hollow-node` with no flags (the kubeconfig aside), each
    // kubelet authenticating as its node.
    let mut cfg = HollowNodeCmd::try_parse_from(["hollow-node"])
        .unwrap()
        .args
        .fleet_config()
        .unwrap();
    cfg.node_credentials = Some(node_credentials(&env.master));
    assert_eq!(cfg.nodes, 1);
    let fleet = hollow::start_fleet(env.config.clone(), cfg).await.unwrap();
    fleet
        .wait_for(T, |s| s.ready == 1)
        .await
        .unwrap_or_else(|s| panic!("not ready: {s:?}"));
    let name = fleet.node_names()[0].clone();
    // The reference node had run one pause pod: run one too.
    env.create_pod("default", "pause", json!({})).await;
    env.bind("default", "pause", &name).await;
    let path = format!("/api/v1/nodes/{name}");
    // Images reach the Node with the next status update (every 10 s).
    let mut ours = eventually(T, "the pause image in status.images", || async {
        let n = env.get(&path).await;
        n["status"]["images"].is_array().then_some(n)
    })
    .await;
    let mut want = reference("hollow-node-object-go-kubemark.json");

    // Our annotations.
    let ann = ours["metadata"]["annotations"].as_object_mut().unwrap();
    let pid = ann.remove(OUR_ANNOTATIONS[1]).unwrap();
    assert_eq!(pid, json!(std::process::id().to_string()));
    let host = ann.remove(OUR_ANNOTATIONS[0]).unwrap();
    assert!(host.as_str().is_some_and(|h| !h.is_empty()), "{host}");
    assert!(
        ann.is_empty(),
        "annotations the kubelet does not set: {ann:?}"
    );
    ours["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let ttl = want["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(TTL_ANNOTATION);
    assert_eq!(ttl, Some(json!("0")));
    assert_eq!(want["metadata"]["annotations"], json!({}));
    want["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");

    // The NPD's conditions come first: its status patch adds them to the
    // kubelet's four, and a strategic merge puts new list items before the
    // server's (as on real clusters running NPD).
    let all = ours["status"]["conditions"].clone();
    let conds = ours["status"]["conditions"].as_array_mut().unwrap();
    assert_eq!(conds.len(), 6, "{all:#}");
    for (c, (kind, reason)) in conds.drain(..2).zip(NPD_CONDITIONS) {
        assert_eq!(c["type"], kind, "{all:#}");
        assert_eq!(c["reason"], reason);
        assert_eq!(c["status"], "False");
    }

    assert_eq!(ours["spec"]["providerID"], format!("kubemark://{name}"));
    assert_eq!(ours["metadata"]["labels"]["kubernetes.io/hostname"], name);
    assert_eq!(ours["status"]["addresses"][1]["address"], name);
    let bad = unexplained(&ours, &want);
    assert!(
        bad.is_empty(),
        "fields that differ from upstream kubemark's node:\n{}\nours: {ours:#}",
        bad.join("\n")
    );
    // Spelled as the reference spells it: 3840Mi = 4026531840 bytes.
    assert_eq!(ours["status"]["capacity"]["memory"], "3840Mi");
    assert_eq!(ours["status"]["capacity"]["cpu"], "1");
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_cpu_and_memory_flags_change_the_capacity() {
    let env = start().await;
    let mut cfg = HollowNodeCmd::try_parse_from([
        "hollow-node",
        "--node-cpu",
        "4",
        "--node-memory",
        "16Gi",
        "--max-pods",
        "30",
    ])
    .unwrap()
    .args
    .fleet_config()
    .unwrap();
    cfg.node_credentials = Some(node_credentials(&env.master));
    let fleet = hollow::start_fleet(env.config.clone(), cfg).await.unwrap();
    fleet.wait_for(T, |s| s.ready == 1).await.unwrap();
    let n = env
        .get(&format!("/api/v1/nodes/{}", fleet.node_names()[0]))
        .await;
    let want: Map<String, Value> = [
        ("cpu", "4"),
        ("ephemeral-storage", "0"),
        ("memory", "16Gi"),
        ("pods", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect();
    assert_eq!(n["status"]["capacity"], Value::Object(want.clone()));
    assert_eq!(n["status"]["allocatable"], Value::Object(want));
    assert!(n["spec"].get("podCIDR").is_none(), "{}", n["spec"]);
    fleet.shutdown().await;
}
