//! Network faults between hollow nodes and a real `kubemark master`, on
//! loopback, through proxies of our own (tests/common/faultproxy.rs):
//! connections cut, a slow master, and a master answering 429/5xx. Each
//! test names the invariant it checks; the hollow process's CPU is read
//! from /proc during the fault to prove it does not hot-loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/faultproxy.rs"]
mod faultproxy;
#[path = "common/procs.rs"]
mod procs;

use faultproxy::{HttpFault, HttpFaultProxy, Mode, TcpFaultProxy};
use procs::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const NODES: usize = 10;
/// Hollow lease duration (renewed every 2 s) and the master's grace period.
const LEASE: &str = "8s";
const LEASE_PERIOD: Duration = Duration::from_secs(8);
const GRACE: &str = "10";

/// A hollow process whose CPU stays under this many cores while every
/// request fails is backing off (10 nodes; a retry hot loop burns a core).
const MAX_FAULT_CORES: f64 = 0.15;

fn loopback0() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Invariant: connections cut (reset, new ones reset at accept) for 30 s
/// and then restored: the master marks the nodes Unknown, the hollow
/// process backs off (bounded CPU and bounded reconnect rate, no hot
/// loop), and after the restore every node is Ready again and every lease
/// renewed within two lease periods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_30s_then_restored_nodes_recover_without_hot_loop() {
    let dir = tempfile::tempdir().unwrap();
    let m = master(
        &dir.path().join("data"),
        loopback0(),
        true,
        &["--node-monitor-grace-period", GRACE],
        &dir.path().join("master.log"),
    )
    .await;
    let admin = client(&m.kubeconfig).await;
    let proxy = TcpFaultProxy::start(master_addr(&m)).await;
    let h = Hollow::start(
        &proxy.kubeconfig(&m.kubeconfig),
        "cut-",
        0,
        NODES as u32,
        LEASE,
        &dir.path().join("hollow.log"),
        &[],
    );
    wait_nodes(
        &admin,
        "cut-",
        NODES,
        "True",
        Duration::from_secs(60),
        "before the cut",
    )
    .await;

    proxy.set(Mode::Cut);
    let accepted0 = proxy.accepted();
    let (cores, ()) = cores_during(h.pid(), tokio::time::sleep(Duration::from_secs(30))).await;
    let reconnects = proxy.accepted() - accepted0;
    let during = node_readiness(&admin, "cut-").await;
    let before_restore = leases(&admin, "cut-").await;
    proxy.set(Mode::Pass);
    let t = Instant::now();
    wait_nodes(
        &admin,
        "cut-",
        NODES,
        "True",
        2 * LEASE_PERIOD,
        "after the restore (two lease periods)",
    )
    .await;
    wait_leases_renewed(
        &admin,
        "cut-",
        NODES,
        &before_restore,
        2 * LEASE_PERIOD,
        "after the restore (two lease periods)",
    )
    .await;
    let recovered = t.elapsed();
    eprintln!(
        "cut 30s: hollow CPU {cores:.3} cores, {reconnects} connection attempts ({:.1}/s), recovered in {recovered:?}",
        reconnects as f64 / 30.0
    );
    assert!(
        during.values().all(|s| s == "Unknown"),
        "the cut must be visible: with a {GRACE}s grace period every node turns Unknown: {during:?}"
    );
    assert!(
        cores < MAX_FAULT_CORES,
        "no hot loop while cut: hollow used {cores:.3} cores (max {MAX_FAULT_CORES})\n{}",
        tail(&h.output())
    );
    // Each node retries its lease (≤ every ~2 s) and a few watches with
    // backoff (about 2 per node per second with an 8 s lease; a hot loop
    // makes hundreds).
    let rate = reconnects as f64 / 30.0 / NODES as f64;
    assert!(
        rate < 5.0,
        "no reconnect hot loop while cut: {rate:.2} connection attempts per node per second"
    );
}

/// Invariant: a master that answers 2 s late (every byte it sends is
/// delayed 2 s) for a minute keeps every node Ready (leases are still
/// renewed within the grace period), the hollow process stays idle-ish,
/// and leases renew promptly once the delay ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_master_2s_per_request_for_a_minute_keeps_nodes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let m = master(
        &dir.path().join("data"),
        loopback0(),
        true,
        &["--node-monitor-grace-period", "20"],
        &dir.path().join("master.log"),
    )
    .await;
    let admin = client(&m.kubeconfig).await;
    let proxy = TcpFaultProxy::start(master_addr(&m)).await;
    let h = Hollow::start(
        &proxy.kubeconfig(&m.kubeconfig),
        "slow-",
        0,
        NODES as u32,
        LEASE,
        &dir.path().join("hollow.log"),
        &[],
    );
    wait_nodes(
        &admin,
        "slow-",
        NODES,
        "True",
        Duration::from_secs(60),
        "before the delay",
    )
    .await;

    let at_start = leases(&admin, "slow-").await;
    proxy.set(Mode::Slow(Duration::from_secs(2)));
    let (cores, not_ready) = cores_during(h.pid(), async {
        let mut not_ready = Vec::new();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            for (n, s) in node_readiness(&admin, "slow-").await {
                if s != "True" {
                    not_ready.push((t0.elapsed().as_secs(), n, s));
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        not_ready
    })
    .await;
    let at_end = leases(&admin, "slow-").await;
    proxy.set(Mode::Pass);
    eprintln!("slow 60s: hollow CPU {cores:.3} cores");
    assert!(
        not_ready.is_empty(),
        "a slow master still gets heartbeats: nodes not Ready during the delay: {not_ready:?}\n{}",
        tail(&h.output())
    );
    let renewed = at_end
        .iter()
        .filter(|(n, (_, t))| at_start.get(*n).is_some_and(|(_, b)| t > b))
        .count();
    assert_eq!(
        renewed, NODES,
        "every lease renewed while the master was slow"
    );
    assert!(
        cores < MAX_FAULT_CORES,
        "slow master: hollow used {cores:.3} cores (max {MAX_FAULT_CORES})"
    );
    wait_leases_renewed(
        &admin,
        "slow-",
        NODES,
        &at_end,
        2 * LEASE_PERIOD,
        "after the delay ends",
    )
    .await;
}

/// Invariant: a master that answers every request with 429 +
/// `Retry-After: 3`, then 503 without `Retry-After`, then 500 with
/// `Retry-After: 1`: the hollow nodes honour Retry-After and back off
/// (bounded requests per node per second, bounded CPU), and once the
/// master answers again every node is Ready and every lease renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_retry_after_and_5xx_back_off_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let m = master(
        &dir.path().join("data"),
        loopback0(),
        true,
        &["--node-monitor-grace-period", GRACE],
        &dir.path().join("master.log"),
    )
    .await;
    let admin = client(&m.kubeconfig).await;
    let proxy = HttpFaultProxy::start(&m.kubeconfig).await;
    let h = Hollow::start(
        &proxy.kubeconfig,
        "busy-",
        0,
        NODES as u32,
        LEASE,
        &dir.path().join("hollow.log"),
        &[],
    );
    wait_nodes(
        &admin,
        "busy-",
        NODES,
        "True",
        Duration::from_secs(60),
        "before the faults",
    )
    .await;
    // Let registration traffic settle so the fault phases count retries.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let phases = [
        ("429 Retry-After: 3", 429, Some(3), 20),
        ("503", 503, None, 20),
        ("500 Retry-After: 1", 500, Some(1), 10),
    ];
    let mut report = Vec::new();
    for (label, code, retry_after, secs) in phases {
        proxy.set(HttpFault::Status { code, retry_after });
        let r0 = proxy.requests();
        let (cores, ()) =
            cores_during(h.pid(), tokio::time::sleep(Duration::from_secs(secs))).await;
        let per_node = (proxy.requests() - r0) as f64 / secs as f64 / NODES as f64;
        eprintln!(
            "{label} for {secs}s: hollow CPU {cores:.3} cores, {per_node:.2} requests per node per second"
        );
        report.push((label, cores, per_node));
    }
    let before_restore = leases(&admin, "busy-").await;
    proxy.set(HttpFault::None);
    wait_nodes(
        &admin,
        "busy-",
        NODES,
        "True",
        2 * LEASE_PERIOD,
        "after the faults (two lease periods)",
    )
    .await;
    wait_leases_renewed(
        &admin,
        "busy-",
        NODES,
        &before_restore,
        2 * LEASE_PERIOD,
        "after the faults (two lease periods)",
    )
    .await;
    assert!(proxy.faulted() > 0, "the faults were injected");
    for (label, cores, per_node) in report {
        assert!(
            cores < MAX_FAULT_CORES,
            "{label}: no hot loop: hollow used {cores:.3} cores (max {MAX_FAULT_CORES})"
        );
        // About ten retry loops per node (lease, status, watches, NPD,
        // proxy), each waiting ≥ 1 s: well under 5 requests per second.
        assert!(
            per_node < 5.0,
            "{label}: no retry hot loop: {per_node:.2} requests per node per second\n{}",
            tail(&h.output())
        );
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
