//! Request-profile fidelity: one hollow node's API traffic, counted by the
//! master per client (user agent and user), against the real kubelet's
//! traffic in `tests/reference/kubelet-traffic-profile.json` (Go kubemark
//! against a real v1.24 master), within 10 % per (verb, resource).
//!
//! The real cadence is per minute (status every 10 s, lease every 10 s, a
//! forced status report every 300 s); here every period is divided by
//! [`SCALE`] and the counts are normalised to the scaled minute.
//! Like the reference, the nodes run the kubelet and proxy morphs only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hollow::{FleetConfig, Morphs, USER_AGENT_KUBELET, USER_AGENT_NPD, USER_AGENT_PROXY};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
/// Every kubelet period is divided by this (10 s -> 1 s, 300 s -> 30 s).
const SCALE: u32 = 10;
/// Allowed deviation from the reference, per (verb, resource).
const TOLERANCE: f64 = 0.10;

type Key = (String, String);
type Counts = BTreeMap<Key, u64>;

fn key(verb: &str, resource: &str) -> Key {
    (verb.to_string(), resource.to_string())
}

/// The kubelet's watches (resource labels), opened once per node.
const KUBELET_WATCHES: [&str; 5] = ["pods", "nodes", "services", "csidrivers", "runtimeclasses"];
const PROXY_WATCHES: [&str; 3] = ["services", "endpointslices", "nodes"];
/// The kubelet's periodic requests (everything else is caused by pods).
const HEARTBEATS: [(&str, &str); 3] = [
    ("GET", "nodes"),
    ("PUT", "leases"),
    ("PATCH", "nodes/status"),
];

/// The kubelet's and proxy's real periods divided by [`SCALE`]; no NPD
/// (the reference ran the kubelet and proxy morphs).
fn scaled_config(env: &Env, nodes: usize) -> FleetConfig {
    let real = FleetConfig::default();
    FleetConfig {
        nodes,
        morph: Morphs {
            kubelet: true,
            proxy: true,
            npd: false,
        },
        node_status_update_frequency: real.node_status_update_frequency / SCALE,
        node_status_report_frequency: real.node_status_report_frequency / SCALE,
        node_lease_duration: real.node_lease_duration / SCALE,
        node_credentials: Some(node_credentials(&env.master)),
        ..real
    }
}

/// One row of a reference table, keyed as the master's metrics label it.
#[derive(Debug)]
struct Row {
    key: Key,
    value: f64,
}

fn metric_verb(v: &str) -> &'static str {
    match v {
        "get" => "GET",
        "list" => "LIST",
        "watch" => "WATCH",
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        other => panic!("unknown verb {other:?} in the reference"),
    }
}

fn rows(table: &str, field: &str) -> Vec<Row> {
    let profile = reference("kubelet-traffic-profile.json");
    profile[table]
        .as_array()
        .unwrap_or_else(|| panic!("no table {table}"))
        .iter()
        .map(|r| {
            let res = r["resource"].as_str().unwrap();
            let sub = r["subresource"].as_str().unwrap_or("");
            let resource = if sub.is_empty() {
                res.to_string()
            } else {
                format!("{res}/{sub}")
            };
            Row {
                key: key(metric_verb(r["verb"].as_str().unwrap()), &resource),
                value: if field.is_empty() {
                    1.0
                } else {
                    r[field].as_f64().unwrap()
                },
            }
        })
        .collect()
}

fn get(c: &Counts, k: &Key) -> u64 {
    c.get(k).copied().unwrap_or(0)
}

/// `after - before`, only what grew.
fn delta(after: &Counts, before: &Counts) -> Counts {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n.saturating_sub(get(before, k));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Requests of clients with this user agent, per user.
fn by_user(env: &Env, ua: &str) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for (l, n) in env.master.metrics.client_requests(ua) {
        let res = if l.subresource.is_empty() {
            l.resource.clone()
        } else {
            format!("{}/{}", l.resource, l.subresource)
        };
        *out.entry(l.user.clone())
            .or_default()
            .entry(key(l.verb, &res))
            .or_insert(0) += n;
    }
    out
}

/// Compares measured values with the reference rows (printing both);
/// returns the rows off by more than [`TOLERANCE`].
fn compare(what: &str, rows: &[Row], measured: impl Fn(&Key) -> f64) -> Vec<String> {
    let mut bad = Vec::new();
    for r in rows {
        let m = measured(&r.key);
        let off = (m - r.value) / r.value;
        println!(
            "{what:<22} {:<6} {:<24} measured {m:>7.3}  reference {:>5.2}  ({:+5.1} %)",
            r.key.0,
            r.key.1,
            r.value,
            off * 100.0
        );
        if off.abs() > TOLERANCE {
            bad.push(format!(
                "{what}: {} {} measured {m:.3}, reference {}",
                r.key.0, r.key.1, r.value
            ));
        }
    }
    bad
}

/// Request kinds in `counts` that are not in `allowed`.
fn unexpected(counts: &Counts, allowed: &BTreeSet<Key>) -> Vec<String> {
    counts
        .iter()
        .filter(|(k, _)| !allowed.contains(*k))
        .map(|(k, n)| format!("{} {} x{n}", k.0, k.1))
        .collect()
}

/// Polls the kubelet's counts until `k` reaches `n`; the time and counts
/// at that moment.
async fn wait_count(env: &Env, k: &Key, n: u64, timeout: Duration) -> (Instant, Counts) {
    let deadline = Instant::now() + timeout;
    loop {
        let c = env.requests(USER_AGENT_KUBELET);
        if get(&c, k) >= n {
            return (Instant::now(), c);
        }
        assert!(
            Instant::now() < deadline,
            "{} {} did not reach {n} within {timeout:?}: {c:?}",
            k.0,
            k.1
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The kubelets' counts once the pod-driven ones (everything but the
/// heartbeats) stopped changing for a second.
async fn settled(env: &Env) -> Counts {
    let pod_driven = |c: &Counts| -> Counts {
        c.iter()
            .filter(|(k, _)| !HEARTBEATS.iter().any(|h| key(h.0, h.1) == **k))
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    };
    let deadline = Instant::now() + T;
    let mut last = pod_driven(&env.requests(USER_AGENT_KUBELET));
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let all = env.requests(USER_AGENT_KUBELET);
        let now = pod_driven(&all);
        if now == last {
            return all;
        }
        assert!(Instant::now() < deadline, "requests never settled: {now:?}");
        last = now;
    }
}

/// Waits until each of the `nodes` kubelets and proxies holds its watches (as
/// counted by the master).
async fn watches_open(env: &Env, nodes: usize) {
    eventually(T, "kubelet and proxy watches", || async {
        let k = env.requests(USER_AGENT_KUBELET);
        let p = env.requests(USER_AGENT_PROXY);
        let all = KUBELET_WATCHES
            .iter()
            .all(|r| get(&k, &key("WATCH", r)) == nodes as u64)
            && PROXY_WATCHES
                .iter()
                .all(|r| get(&p, &key("WATCH", r)) == nodes as u64);
        all.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_and_registration_match_the_reference() {
    let env = start().await;
    let cfg = scaled_config(&env, 1);
    // The lease is renewed every quarter of its duration (10 s of 40 s).
    assert_eq!(cfg.lease_renew_interval(), Duration::from_secs(10) / SCALE);
    let minute = Duration::from_secs(60) / SCALE;
    let report = cfg.node_status_report_frequency;
    let fleet = hollow::start_fleet(env.config.clone(), cfg).await.unwrap();
    let node = fleet.node_names()[0].clone();
    let patch = key("PATCH", "nodes/status");

    // The window is one report period: from the status report right after
    // registration to the next forced one, so exactly one PATCH falls in
    // it. Everything between is the kubelet's steady state (plus its
    // watches being opened, counted once over the whole run below).
    let (t1, s1) = wait_count(&env, &patch, 1, T).await;
    assert_eq!(get(&s1, &patch), 1, "{s1:?}");
    let (t2, s2) = wait_count(&env, &patch, 2, report + T).await;
    assert_eq!(get(&s2, &patch), 2, "{s2:?}");
    let window = t2 - t1;
    let d = delta(&s2, &s1);
    println!(
        "steady state: window {window:?} = {:.2} scaled minutes ({minute:?} each)",
        window.as_secs_f64() / minute.as_secs_f64()
    );
    let per_minute = |k: &Key| get(&d, k) as f64 * minute.as_secs_f64() / window.as_secs_f64();
    let mut bad = compare(
        "steady (per minute)",
        &rows("steady_state_per_node_per_minute", "rate"),
        per_minute,
    );
    // Nothing else in steady state but opening the watches.
    let mut allowed: BTreeSet<Key> = HEARTBEATS.iter().map(|h| key(h.0, h.1)).collect();
    for r in KUBELET_WATCHES {
        allowed.insert(key("LIST", r));
        allowed.insert(key("WATCH", r));
    }
    for u in unexpected(&d, &allowed) {
        bad.push(format!("unexpected steady-state request {u}"));
    }

    // Registration and watches, over the whole run: each exactly once.
    let kubelet = env.requests(USER_AGENT_KUBELET);
    let mut once: BTreeSet<Key> = rows("registration_once_per_node", "")
        .into_iter()
        .map(|r| r.key)
        .collect();
    for r in KUBELET_WATCHES {
        once.insert(key("LIST", r));
        once.insert(key("WATCH", r));
    }
    for k in &once {
        println!("registration {:<6} {:<24} {}", k.0, k.1, get(&kubelet, k));
        if get(&kubelet, k) != 1 {
            bad.push(format!(
                "{} {}: {} times over the run, want once",
                k.0,
                k.1,
                get(&kubelet, k)
            ));
        }
    }
    let mut all_kubelet = once.clone();
    all_kubelet.extend(allowed.iter().cloned());
    for u in unexpected(&kubelet, &all_kubelet) {
        bad.push(format!("unexpected kubelet request {u}"));
    }
    // The proxy: its three list+watches and nothing else.
    let proxy = env.requests(USER_AGENT_PROXY);
    let want_proxy: Counts = PROXY_WATCHES
        .iter()
        .flat_map(|r| [(key("LIST", r), 1), (key("WATCH", r), 1)])
        .collect();
    println!("proxy over the run: {proxy:?}");
    if proxy != want_proxy {
        bad.push(format!("proxy requests {proxy:?}, want {want_proxy:?}"));
    }
    assert!(env.requests(USER_AGENT_NPD).is_empty());
    // The kubelet speaks as its node; the master holds 5 + 3 watches.
    let users: Vec<String> = by_user(&env, USER_AGENT_KUBELET).into_keys().collect();
    assert_eq!(users, vec![format!("system:node:{node}")]);
    assert_eq!(env.master.metrics.open_watches(), 8);
    assert_eq!(fleet.stats().watches, 8);
    assert!(bad.is_empty(), "off the reference:\n{}", bad.join("\n"));
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_pod_requests_match_the_reference() {
    const NODES: usize = 3;
    const PODS: usize = 30;
    let env = start().await;
    let ns = "fidelity";
    env.ensure_namespace_basics(ns).await;
    // The real (unscaled) periods: pods start and go away at the real
    // client rate limit (QPS 10), so a node's deletions span about as
    // many status updates as on a real node. No forced report falls in
    // the test: the only node status PATCHes are the ones pods cause.
    let cfg = FleetConfig {
        nodes: NODES,
        node_status_update_frequency: Duration::from_secs(10),
        node_status_report_frequency: Duration::from_secs(300),
        node_lease_duration: Duration::from_secs(40),
        ..scaled_config(&env, NODES)
    };
    let fleet = hollow::start_fleet(env.config.clone(), cfg).await.unwrap();
    fleet.wait_for(T, |s| s.ready == NODES).await.unwrap();
    watches_open(&env, NODES).await;
    let names = fleet.node_names();
    let before = settled(&env).await;
    let users_before = by_user(&env, USER_AGENT_KUBELET);

    // Start: the ServiceAccount admission mounts the projected token
    // volume (kube-api-access-*, with kube-root-ca.crt) into every pod.
    for i in 0..PODS {
        let name = format!("p{i:02}");
        env.create_pod(ns, &name, json!({})).await;
        env.bind(ns, &name, &names[i % NODES]).await;
    }
    let pods = eventually(T, "all pods running", || async {
        let pods = env.pods(ns).await;
        (pods.len() == PODS
            && pods
                .iter()
                .all(|p| p["status"]["phase"] == "Running" && is_ready(p)))
        .then_some(pods)
    })
    .await;
    for p in &pods {
        let projected = p["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["projected"]["sources"].as_array())
            .flatten()
            .any(|s: &Value| s.get("serviceAccountToken").is_some());
        assert!(projected, "no token volume: {}", p["spec"]);
    }
    fleet
        .wait_for(T, |s| s.pods_running == PODS as u64)
        .await
        .unwrap();
    let started = settled(&env).await;
    let users_started = by_user(&env, USER_AGENT_KUBELET);
    let d = delta(&started, &before);
    println!("start of {PODS} pods on {NODES} nodes: {d:?}");
    let per_pod = |k: &Key| get(&d, k) as f64 / PODS as f64;
    let mut bad = compare(
        "per pod started",
        &rows("per_pod_started", "count"),
        per_pod,
    );
    let mut allowed: BTreeSet<Key> = HEARTBEATS.iter().map(|h| key(h.0, h.1)).collect();
    allowed.extend(rows("per_pod_started", "").into_iter().map(|r| r.key));
    allowed.insert(key("LIST", "configmaps"));
    allowed.insert(key("WATCH", "configmaps"));
    for u in unexpected(&d, &allowed) {
        bad.push(format!("unexpected request while starting pods: {u}"));
    }
    // kube-root-ca.crt: one list+watch per node for the namespace, and
    // the node's watches otherwise unchanged.
    for (user, c) in &users_started {
        let dd = delta(c, users_before.get(user).unwrap_or(&Counts::new()));
        for v in ["LIST", "WATCH"] {
            if get(&dd, &key(v, "configmaps")) != 1 {
                bad.push(format!("{user}: {v} configmaps {dd:?}, want one"));
            }
        }
    }
    assert_eq!(users_started.len(), NODES);
    assert_eq!(fleet.stats().watches, NODES as i64 * (5 + 3 + 1));

    // Graceful deletion (kubectl-style): the kubelet reports the killed
    // containers, confirms, then deletes with grace period 0.
    for i in 0..PODS {
        env.delete_pod(ns, &format!("p{i:02}")).await;
    }
    eventually(T, "pods deleted", || async {
        env.pods(ns).await.is_empty().then_some(())
    })
    .await;
    fleet.wait_for(T, |s| s.pods == 0).await.unwrap();
    // The node status is reported after its pods went away: wait for it.
    let status = key("PATCH", "nodes/status");
    eventually(T, "a status report per node", || async {
        by_user(&env, USER_AGENT_KUBELET)
            .iter()
            .all(|(user, c)| get(c, &status) > get(&users_started[user], &status))
            .then_some(())
    })
    .await;
    let deleted = settled(&env).await;
    let d = delta(&deleted, &started);
    println!("graceful deletion of {PODS} pods: {d:?}");
    let per_pod = |k: &Key| get(&d, k) as f64 / PODS as f64;
    bad.extend(compare(
        "per pod deleted",
        &rows("per_pod_deleted", "count"),
        per_pod,
    ));
    let mut allowed: BTreeSet<Key> = HEARTBEATS.iter().map(|h| key(h.0, h.1)).collect();
    allowed.extend(rows("per_pod_deleted", "").into_iter().map(|r| r.key));
    for u in unexpected(&d, &allowed) {
        bad.push(format!("unexpected request while deleting pods: {u}"));
    }
    // About one status report per node after its pods changed (one per
    // status update in which some went away: the deletions take about
    // 3 s at QPS 10, so they may straddle two updates).
    for (user, c) in by_user(&env, USER_AGENT_KUBELET) {
        let n = get(&delta(&c, &users_started[&user]), &status);
        println!("{user}: {n} PATCH nodes/status after its pods were deleted");
        if !(1..=2).contains(&n) {
            bad.push(format!("{user}: {n} node status reports after deletion"));
        }
    }
    // The kube-root-ca.crt watches end with the last pod that used them.
    let s = fleet
        .wait_for(T, |s| s.watches == NODES as i64 * (5 + 3))
        .await;
    assert!(s.is_ok(), "watches after deletion: {s:?}");
    assert!(bad.is_empty(), "off the reference:\n{}", bad.join("\n"));
    fleet.shutdown().await;
}
