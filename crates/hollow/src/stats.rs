//! Live per-node counters, written by a node's kubelet and proxy tasks
//! and read by the fleet without locking, and the fleet-wide and per-node
//! summaries built from them.

use crate::node_status::NodeIdent;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one node, read by the fleet without locking.
#[derive(Debug, Default)]
pub struct NodeStats {
    pub registered: AtomicBool,
    pub ready: AtomicBool,
    pub pods: AtomicU32,
    pub pods_running: AtomicU32,
    pub lease_renewals: AtomicU64,
    pub proxy_services: AtomicU32,
    pub proxy_endpoints: AtomicU32,
    pub proxy_rules: AtomicU32,
    pub problems: AtomicU32,
    /// Times the kubelet task woke for a timer: a handful per status
    /// period; a runaway count means a timer that does not advance.
    pub timer_wakeups: AtomicU64,
}

/// Fleet-wide numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetStats {
    pub nodes: usize,
    /// Nodes whose kubelet task runs (not stopped).
    pub running: usize,
    pub registered: usize,
    pub ready: usize,
    pub pods: u64,
    pub pods_running: u64,
    pub proxy_services: u64,
    pub proxy_endpoints: u64,
    pub proxy_rules: u64,
    pub problems: u64,
    pub connections: i64,
    pub streams: i64,
    pub watches: i64,
    pub lease_renewals: u64,
    pub lease_failures: u64,
    pub lease_misses: u64,
    pub lease_lateness_p99: Duration,
    pub lease_lateness_max: Duration,
    /// Timer wake-ups of all kubelet tasks (see `NodeStats::timer_wakeups`).
    pub timer_wakeups: u64,
}

/// One node's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    pub name: String,
    pub internal_ip: String,
    pub pod_cidr: String,
    pub registered: bool,
    pub ready: bool,
    pub pods: u32,
    pub pods_running: u32,
    pub lease_renewals: u64,
    pub proxy_services: u32,
    pub proxy_endpoints: u32,
    pub problems: u32,
}

pub fn summary(id: &NodeIdent, s: &NodeStats) -> NodeSummary {
    NodeSummary {
        name: id.name.clone(),
        internal_ip: id.internal_ip.to_string(),
        pod_cidr: id.pod_cidr.to_string(),
        registered: s.registered.load(Ordering::Relaxed),
        ready: s.ready.load(Ordering::Relaxed),
        pods: s.pods.load(Ordering::Relaxed),
        pods_running: s.pods_running.load(Ordering::Relaxed),
        lease_renewals: s.lease_renewals.load(Ordering::Relaxed),
        proxy_services: s.proxy_services.load(Ordering::Relaxed),
        proxy_endpoints: s.proxy_endpoints.load(Ordering::Relaxed),
        problems: s.problems.load(Ordering::Relaxed),
    }
}
