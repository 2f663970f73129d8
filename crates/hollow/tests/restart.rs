//! A durable master is shut down and started again on the same data
//! directory and address while a hollow fleet keeps running: the nodes
//! come back Ready as the same objects, leases are renewed again, every
//! pod is still there exactly once with its IP, and pods created or
//! deleted right after the restart are handled.
//!
//! Twice: with the master's default watch history (rebuilt from its log,
//! so the kubelets resume their watches where they were), and with a
//! history too short for that, as after a real kube-apiserver restart
//! (its watch cache starts empty), so that every kubelet's pod watch gets
//! 410 Gone and relists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hollow::USER_AGENT_KUBELET;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T: Duration = Duration::from_secs(30);
const NODES: usize = 3;
const PODS: usize = 9;
/// After the restart: p0 and p1 deleted, `after` created.
const LEFT: usize = PODS - 1;

/// What must survive the restart, per pod.
#[derive(Debug, Clone, PartialEq)]
struct PodFacts {
    uid: Value,
    node: Value,
    ip: Value,
    started_at: Value,
}

fn facts(p: &Value) -> PodFacts {
    PodFacts {
        uid: p["metadata"]["uid"].clone(),
        node: p["spec"]["nodeName"].clone(),
        ip: p["status"]["podIP"].clone(),
        started_at: p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].clone(),
    }
}

fn running(p: &Value) -> bool {
    p["status"]["phase"] == "Running" && is_ready(p) && p["status"]["podIP"].is_string()
}

fn name(p: &Value) -> String {
    p["metadata"]["name"].as_str().unwrap().to_string()
}

fn lease_path(node: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")
}

/// RFC 3339 seconds, comparable as strings with the API's timestamps.
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

async fn durable_master(
    data: &Path,
    listen: SocketAddr,
    history: Option<usize>,
) -> master::server::RunningMaster {
    let mut cfg = master::server::MasterConfig::new(data);
    cfg.listen = listen;
    cfg.ephemeral = false;
    if let Some(h) = history {
        cfg.history_capacity = h;
    }
    master::server::start(cfg).await.expect("master starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_restart_is_survived_with_resumed_watches() {
    survive_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_restart_is_survived_with_relisting_watches() {
    survive_restart(Some(HISTORY)).await;
}

/// Watch events kept per resource in the short-history run.
const HISTORY: usize = 4;

async fn survive_restart(history: Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let master = durable_master(&data, "127.0.0.1:0".parse().unwrap(), history).await;
    let addr = master.addr;
    let env = env_for(master, dir).await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, NODES))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == NODES).await.unwrap();
    let names = fleet.node_names();
    for i in 0..PODS {
        let pod = format!("p{i}");
        env.create_pod("default", &pod, json!({})).await;
        env.bind("default", &pod, &names[i % NODES]).await;
    }
    let before: BTreeMap<String, PodFacts> = eventually(T, "pods running", || async {
        let pods = env.pods("default").await;
        (pods.len() == PODS && pods.iter().all(running))
            .then(|| pods.iter().map(|p| (name(p), facts(p))).collect())
    })
    .await;
    let ips: BTreeSet<String> = before
        .values()
        .map(|f| f.ip.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips.len(), PODS, "pod IPs unique: {before:?}");
    fleet
        .wait_for(T, |s| {
            s.pods == PODS as u64 && s.pods_running == PODS as u64
        })
        .await
        .unwrap();
    let node_uids: BTreeMap<String, Value> = env
        .nodes()
        .await
        .iter()
        .map(|n| (name(n), n["metadata"]["uid"].clone()))
        .collect();
    assert_eq!(node_uids.len(), NODES);
    if let Some(h) = history {
        // Pod events no kubelet watches for, more than the history holds:
        // after the restart no pod watch can resume from where it was.
        env.ensure_namespace_basics("filler").await;
        env.create_pod("filler", "filler", json!({})).await;
        for i in 0..2 * h {
            env.request(
                "PATCH",
                "/api/v1/namespaces/filler/pods/filler",
                Some(json!({"metadata": {"labels": {"round": i.to_string()}}})),
            )
            .await
            .unwrap();
        }
    }

    // Restart: same data directory, same address, the fleet keeps going.
    let Env { master, dir, .. } = env;
    master.shutdown().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted_at = rfc3339_now();
    let master = durable_master(&data, addr, history).await;
    assert_eq!(master.addr, addr);
    assert!(
        master.recovery_warnings.is_empty(),
        "{:?}",
        master.recovery_warnings
    );
    let env = env_for(master, dir).await;
    // At once, likely before the kubelets' watches are back: a new pod,
    // a graceful deletion (for the kubelet to finish) and a forced one
    // (the kubelet must drop the pod it never saw go).
    env.create_pod("default", "after", json!({})).await;
    env.bind("default", "after", &names[0]).await;
    env.delete_pod("default", "p0").await;
    env.request(
        "DELETE",
        "/api/v1/namespaces/default/pods/p1?gracePeriodSeconds=0",
        None,
    )
    .await
    .unwrap();
    let mut renewed = BTreeMap::new();
    for n in &names {
        renewed.insert(
            n.clone(),
            env.get(&lease_path(n)).await["spec"]["renewTime"].clone(),
        );
    }

    // Nodes: the same objects, Ready, with a heartbeat after the restart.
    eventually(T, "nodes report again after the restart", || async {
        let nodes = env.nodes().await;
        let fresh = nodes.len() == NODES
            && nodes.iter().all(|n| {
                condition(n, "Ready").is_some_and(|c| {
                    c["status"] == "True"
                        && c["lastHeartbeatTime"]
                            .as_str()
                            .is_some_and(|t| t > restarted_at.as_str())
                })
            });
        fresh.then_some(())
    })
    .await;
    for n in env.nodes().await {
        assert_eq!(n["metadata"]["uid"], node_uids[&name(&n)], "{}", name(&n));
    }
    fleet.wait_for(T, |s| s.ready == NODES).await.unwrap();
    // Leases: the stored ones, renewed again.
    for n in &names {
        eventually(T, "lease renewed after the restart", || async {
            let l = env.get(&lease_path(n)).await;
            (l["spec"]["renewTime"].as_str() > renewed[n].as_str()).then_some(())
        })
        .await;
    }

    // The new pod runs, the deleted one is deleted by its kubelet.
    let pods = eventually(T, "new pod running and p0 gone", || async {
        let pods = env.pods("default").await;
        let names: BTreeSet<String> = pods.iter().map(name).collect();
        let after_runs = pods.iter().any(|p| name(p) == "after" && running(p));
        (after_runs && !names.contains("p0") && pods.len() == LEFT).then_some(pods)
    })
    .await;
    // Every other pod exactly once, with its UID, node, IP and container.
    let mut after: BTreeMap<String, PodFacts> = pods.iter().map(|p| (name(p), facts(p))).collect();
    let new_pod = after.remove("after").unwrap();
    let mut want = before.clone();
    want.remove("p0");
    want.remove("p1");
    assert_eq!(after, want);
    for p in &pods {
        assert!(running(p), "{} not running: {}", name(p), p["status"]);
        assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0);
    }
    let live_ips: BTreeSet<&str> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap())
        .collect();
    assert_eq!(live_ips.len(), LEFT, "pod IPs unique: {pods:?}");
    let ip = new_pod.ip.as_str().unwrap();
    let cidr = fleet.node(&names[0]).unwrap().pod_cidr;
    assert!(
        ip.starts_with(cidr.trim_end_matches(".0/24")),
        "{ip} not in {cidr}"
    );
    // The fleet counts each pod once, and none that is gone.
    let s = fleet
        .wait_for(T, |s| {
            s.pods == LEFT as u64 && s.pods_running == LEFT as u64
        })
        .await;
    assert!(s.is_ok(), "fleet counts after the restart: {s:?}");
    let per_node: Vec<u32> = fleet.nodes().iter().map(|n| n.pods).collect();
    let want_per_node: Vec<u32> = names
        .iter()
        .map(|n| {
            pods.iter()
                .filter(|p| p["spec"]["nodeName"] == n.as_str())
                .count() as u32
        })
        .collect();
    assert_eq!(per_node, want_per_node);
    assert_eq!(per_node, vec![3, 2, 3]);

    // Every kubelet and proxy holds its watches on the new master again:
    // pods, own node, services, CSI drivers, runtime classes and
    // kube-root-ca.crt; services, endpoint slices and own node.
    let want_watches = NODES as i64 * (6 + 3);
    eventually(T, "watches open again", || async {
        let s = fleet.stats();
        (s.watches == want_watches && env.master.metrics.open_watches() == want_watches)
            .then_some(())
    })
    .await;
    let p = env.requests(hollow::USER_AGENT_PROXY);
    for res in ["services", "endpointslices", "nodes"] {
        assert!(
            p.get(&("WATCH".into(), res.into()))
                .is_some_and(|n| *n >= NODES as u64),
            "proxy {res}: {p:?}"
        );
    }
    println!("fleet after the restart: {:?}", fleet.stats());

    // Nothing was registered anew; the pod watches resumed or relisted.
    let k = env.requests(USER_AGENT_KUBELET);
    println!("history {history:?}: kubelet requests on the restarted master: {k:?}");
    for res in ["nodes", "leases", "csinodes"] {
        assert_eq!(k.get(&("POST".into(), res.into())), None, "{k:?}");
    }
    assert_eq!(k.get(&("DELETE".into(), "pods".into())), Some(&1), "{k:?}");
    let mut relists: BTreeMap<String, u64> = BTreeMap::new();
    for (l, n) in env.master.metrics.client_requests(USER_AGENT_KUBELET) {
        if (l.verb, l.resource.as_str()) == ("LIST", "pods") {
            *relists.entry(l.user).or_insert(0) += n;
        }
    }
    match history {
        // Resumed from where they were: no kubelet listed its pods again.
        None => assert!(relists.is_empty(), "{relists:?}"),
        // 410 Gone: every kubelet relisted (once, unless more than the
        // short history happened between its list and its watch).
        Some(_) => {
            assert_eq!(relists.len(), NODES, "{relists:?}");
            assert!(relists.values().all(|n| *n >= 1), "{relists:?}");
        }
    }
    fleet.shutdown().await;
}
