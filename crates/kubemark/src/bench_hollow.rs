//! `kubemark bench hollow`: what thousands of hollow nodes in one process
//! cost. For each node count the embedded master runs as its own child
//! process and the hollow nodes (kubelet + proxy + NPD, kubelet defaults)
//! run in this process; after all are Ready and a warm-up, a steady-state
//! window measures this process's RSS and CPU per node, lease renewals and
//! their lateness, connections, and the master's RSS and CPU, next to the
//! targets and the Go kubemark.
//!
//! With several node counts each count runs in a fresh child process of
//! this benchmark (`--same-process` to opt out): memory freed by one fleet
//! stays in the allocator and would hide part of the next fleet's RSS.

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// RSS per hollow node (kubelet + proxy + NPD) at [`TARGET_NODES`].
pub const TARGET_RSS_MB_PER_NODE: f64 = 0.5;
/// CPU per idle hollow node at [`TARGET_NODES`].
pub const TARGET_CPU_CORES_PER_NODE: f64 = 0.0001;
/// The node count the per-node footprint targets are set for.
pub const TARGET_NODES: usize = 5000;
/// Every node Ready within this long after the fleet starts.
pub const TARGET_READY_SECONDS: f64 = 60.0;
/// p99 lease renewal lateness below this.
pub const TARGET_LATENESS_P99_MS: u64 = 1000;
/// The Go kubemark on the reference machine
/// (`../shared/reference/README.md`): private memory of a hollow kubelet
/// process plus a hollow proxy process...
pub const GO_RSS_MB_PER_NODE: f64 = 27.0;
/// ...and the idle CPU of a hollow kubelet.
pub const GO_CPU_CORES_PER_NODE: f64 = 0.005;

/// Long-lived streams per node as the fleet sizes shared connection sets
/// (kubelet 5 watches, proxy 3).
const STREAMS_PER_NODE: usize = 8;
/// File descriptors besides the connections (runtime, listeners, logs,
/// the master's store): headroom for the limit check.
const FD_MARGIN: u64 = 256;
/// Name of the Deployment that puts pods on the nodes (--pods-per-node).
const DEPLOYMENT: &str = "bench-hollow";

/// `kubemark bench hollow`.
#[derive(clap::Args, Debug, Clone)]
pub struct HollowBenchArgs {
    /// Node counts to measure, comma separated; each against a fresh
    /// master (and, with several, in a fresh process).
    #[arg(long, value_delimiter = ',', default_value = "1000,5000", value_parser = node_count)]
    pub nodes: Vec<usize>,
    /// Length of the steady-state measurement window, in seconds.
    #[arg(long, default_value_t = 60, value_parser = positive_seconds)]
    pub seconds: u64,
    /// Seconds to let the fleet settle after all nodes are Ready (and
    /// their pods run) before the window starts.
    #[arg(long, default_value_t = 20)]
    pub warmup: u64,
    /// Pods to run on every node during the window (a Deployment of
    /// nodes x this many replicas); 0 measures idle nodes.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=110))]
    pub pods_per_node: u32,
    /// Multiplex all kubelets and proxies onto K HTTP/2 connections
    /// (more are opened as streams fill up) instead of one connection per
    /// kubelet and per proxy, as real nodes have (the default).
    #[arg(long, value_parser = positive_usize)]
    pub shared_connections: Option<usize>,
    /// Seconds to wait for all nodes to be Ready before measuring anyway
    /// (the target is 60).
    #[arg(long, default_value_t = 300, value_parser = positive_seconds)]
    pub ready_timeout: u64,
    /// Seconds to wait for the pods of --pods-per-node to run.
    #[arg(long, default_value_t = 900, value_parser = positive_seconds)]
    pub pods_timeout: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Directory for the masters' logs [default: the system temp directory].
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// Measure several node counts one after another in this process
    /// instead of a fresh process each (memory freed by one fleet is then
    /// reused by the next, understating its RSS).
    #[arg(long)]
    pub same_process: bool,
}

pub(crate) fn positive_usize(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a positive whole number")),
    }
}

fn positive_seconds(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number of seconds")),
    }
}

fn node_count(s: &str) -> Result<usize, String> {
    if s.trim().is_empty() {
        return Err("an empty node count: give one or more counts like 1000,5000".into());
    }
    positive_usize(s).map_err(|e| format!("node count {e}"))
}

// ---------------------------------------------------------------------
// /proc parsing (pure)

/// A resource limit: a number or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Finite(u64),
    Unlimited,
}

impl Limit {
    fn allows(self, n: u64) -> bool {
        match self {
            Limit::Finite(l) => n <= l,
            Limit::Unlimited => true,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Finite(n) => write!(f, "{n}"),
            Limit::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// (soft, hard) of `Max open files` in /proc/<pid>/limits.
pub fn parse_nofile_limit(limits: &str) -> Option<(Limit, Limit)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut it = line["Max open files".len()..].split_whitespace();
    let parse = |s: &str| -> Option<Limit> {
        if s == "unlimited" {
            Some(Limit::Unlimited)
        } else {
            s.parse().ok().map(Limit::Finite)
        }
    };
    Some((parse(it.next()?)?, parse(it.next()?)?))
}

// ---------------------------------------------------------------------
// Connections and file descriptors (pure)

/// How the fleet connects to the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnMode {
    /// One HTTP/2 connection per kubelet and per proxy (fidelity).
    Dedicated,
    /// All nodes multiplexed onto this many connections (at least).
    Shared(usize),
}

impl ConnMode {
    pub fn from_flag(shared: Option<usize>) -> ConnMode {
        shared.map_or(ConnMode::Dedicated, ConnMode::Shared)
    }

    pub fn label(self) -> String {
        match self {
            ConnMode::Dedicated => "dedicated".into(),
            ConnMode::Shared(k) => format!("shared:{k}"),
        }
    }

    /// Connections the fleet is expected to open for `nodes` nodes.
    pub fn expected_connections(self, nodes: usize, proxies: bool, max_streams: usize) -> usize {
        match self {
            ConnMode::Dedicated => nodes * if proxies { 2 } else { 1 },
            ConnMode::Shared(k) => k.max(hollow::conn::connections_needed(
                nodes,
                STREAMS_PER_NODE,
                max_streams,
            )),
        }
    }

    pub fn describe(self, nodes: usize, proxies: bool, max_streams: usize) -> String {
        let conns = self.expected_connections(nodes, proxies, max_streams);
        match self {
            ConnMode::Dedicated => format!(
                "dedicated: one HTTP/2 connection per kubelet{} ({conns} connections)",
                if proxies { " and per proxy" } else { "" }
            ),
            ConnMode::Shared(k) if conns > k => format!(
                "shared: all nodes multiplexed onto {k} HTTP/2 connections (about {conns} at {max_streams} streams each)"
            ),
            ConnMode::Shared(k) => {
                format!("shared: all nodes multiplexed onto {k} HTTP/2 connections")
            }
        }
    }
}

/// Whether both this process and the master (each holding one end of
/// every connection) fit under the open-files limit.
pub fn check_fd_limit(
    connections: usize,
    soft: Limit,
    hard: Limit,
    mode: ConnMode,
) -> Result<u64, String> {
    let needed = connections as u64 + FD_MARGIN;
    if soft.allows(needed) {
        return Ok(needed);
    }
    let raise = if hard.allows(needed) {
        format!("raise it first (`ulimit -n {hard}` in this shell)")
    } else {
        format!("the hard limit is only {hard}: raise it as root (`ulimit -Hn {needed}` or limits.conf)")
    };
    let share = match mode {
        ConnMode::Dedicated => "or pass --shared-connections K to multiplex the nodes".to_string(),
        ConnMode::Shared(_) => "or use fewer nodes".to_string(),
    };
    Err(format!(
        "{connections} connections need about {needed} open files in this process and as many in the master, but the open-files limit (ulimit -n) is {soft}: {raise}, {share}"
    ))
}

// ---------------------------------------------------------------------
// Results (pure)

/// What one node count measured.
#[derive(Debug, Clone, PartialEq)]
pub struct HollowResult {
    pub nodes: usize,
    /// `dedicated` or `shared:K`.
    pub connection_mode: String,
    pub pods_per_node: u32,
    /// Fleet start to all nodes Ready (None: not within --ready-timeout).
    pub ready_seconds: Option<f64>,
    /// Nodes Ready when the wait ended.
    pub ready_nodes: usize,
    /// CPU seconds this process and the master used from fleet start
    /// until the wait for Ready ended (is registration CPU-bound?).
    pub registration_cpu_seconds: f64,
    pub master_registration_cpu_seconds: Option<f64>,
    /// All Ready to all pods running (None without pods or on timeout).
    pub pods_seconds: Option<f64>,
    pub window_seconds: f64,
    /// This process's RSS right before the fleet started...
    pub rss_before_bytes: u64,
    /// ...at the end of the window...
    pub rss_after_bytes: u64,
    /// ...and the most seen from fleet start to the end of the window.
    pub rss_peak_bytes: u64,
    /// CPU seconds this process used in the window.
    pub cpu_seconds: f64,
    pub lease_renewals: u64,
    pub lease_renewals_expected: f64,
    pub lease_failures: u64,
    pub lease_misses: u64,
    pub lease_lateness_p99_ms: u64,
    pub lease_lateness_max_ms: u64,
    /// Fewest Ready nodes seen during the window.
    pub ready_min_in_window: usize,
    pub pods_running: u64,
    pub connections: i64,
    pub streams: i64,
    pub watches: i64,
    pub master_rss_bytes: Option<u64>,
    pub master_cpu_seconds: Option<f64>,
}

const MB: f64 = 1024.0 * 1024.0;

impl HollowResult {
    /// (RSS at the end of the window − RSS before the fleet) / nodes, MB.
    pub fn rss_mb_per_node(&self) -> f64 {
        self.rss_after_bytes.saturating_sub(self.rss_before_bytes) as f64
            / MB
            / self.nodes.max(1) as f64
    }

    /// Whole-process RSS at the end of the window / nodes, MB.
    pub fn total_rss_mb_per_node(&self) -> f64 {
        self.rss_after_bytes as f64 / MB / self.nodes.max(1) as f64
    }

    /// CPU seconds in the window / window seconds / nodes.
    pub fn cpu_cores_per_node(&self) -> f64 {
        if self.window_seconds <= 0.0 {
            return 0.0;
        }
        self.cpu_seconds / self.window_seconds / self.nodes.max(1) as f64
    }

    pub fn master_cpu_cores(&self) -> Option<f64> {
        self.master_cpu_seconds
            .filter(|_| self.window_seconds > 0.0)
            .map(|c| c / self.window_seconds)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "nodes": self.nodes,
            "connectionMode": self.connection_mode,
            "podsPerNode": self.pods_per_node,
            "readySeconds": self.ready_seconds,
            "readyNodes": self.ready_nodes,
            "registrationCpuSeconds": self.registration_cpu_seconds,
            "masterRegistrationCpuSeconds": self.master_registration_cpu_seconds,
            "podsSeconds": self.pods_seconds,
            "windowSeconds": self.window_seconds,
            "rssBeforeBytes": self.rss_before_bytes,
            "rssAfterBytes": self.rss_after_bytes,
            "rssPeakBytes": self.rss_peak_bytes,
            "cpuSeconds": self.cpu_seconds,
            "rssMbPerNode": self.rss_mb_per_node(),
            "totalRssMbPerNode": self.total_rss_mb_per_node(),
            "cpuCoresPerNode": self.cpu_cores_per_node(),
            "leaseRenewals": self.lease_renewals,
            "leaseRenewalsExpected": self.lease_renewals_expected,
            "leaseFailures": self.lease_failures,
            "leaseMisses": self.lease_misses,
            "leaseLatenessP99Ms": self.lease_lateness_p99_ms,
            "leaseLatenessMaxMs": self.lease_lateness_max_ms,
            "readyMinInWindow": self.ready_min_in_window,
            "podsRunning": self.pods_running,
            "connections": self.connections,
            "streams": self.streams,
            "watches": self.watches,
            "masterRssBytes": self.master_rss_bytes,
            "masterCpuSeconds": self.master_cpu_seconds,
            "masterCpuCores": self.master_cpu_cores(),
            "checks": checks(self).iter().map(Check::to_json).collect::<Vec<_>>(),
        })
    }

    /// The inverse of [`HollowResult::to_json`] (derived fields ignored).
    pub fn from_json(v: &Value) -> Option<HollowResult> {
        let u = |k: &str| v.get(k).and_then(Value::as_u64);
        let f = |k: &str| v.get(k).and_then(Value::as_f64);
        let i = |k: &str| v.get(k).and_then(Value::as_i64);
        let us = |k: &str| u(k).and_then(|n| usize::try_from(n).ok());
        Some(HollowResult {
            nodes: us("nodes")?,
            connection_mode: v.get("connectionMode")?.as_str()?.to_string(),
            pods_per_node: u32::try_from(u("podsPerNode")?).ok()?,
            ready_seconds: f("readySeconds"),
            ready_nodes: us("readyNodes")?,
            registration_cpu_seconds: f("registrationCpuSeconds")?,
            master_registration_cpu_seconds: f("masterRegistrationCpuSeconds"),
            pods_seconds: f("podsSeconds"),
            window_seconds: f("windowSeconds")?,
            rss_before_bytes: u("rssBeforeBytes")?,
            rss_after_bytes: u("rssAfterBytes")?,
            rss_peak_bytes: u("rssPeakBytes")?,
            cpu_seconds: f("cpuSeconds")?,
            lease_renewals: u("leaseRenewals")?,
            lease_renewals_expected: f("leaseRenewalsExpected")?,
            lease_failures: u("leaseFailures")?,
            lease_misses: u("leaseMisses")?,
            lease_lateness_p99_ms: u("leaseLatenessP99Ms")?,
            lease_lateness_max_ms: u("leaseLatenessMaxMs")?,
            ready_min_in_window: us("readyMinInWindow")?,
            pods_running: u("podsRunning")?,
            connections: i("connections")?,
            streams: i("streams")?,
            watches: i("watches")?,
            master_rss_bytes: u("masterRssBytes"),
            master_cpu_seconds: f("masterCpuSeconds"),
        })
    }
}

/// Renewals `nodes` leases get in `window`, renewing every `interval`
/// with the kubelet's up-to-4 % jitter (2 % on average).
pub fn expected_renewals(nodes: usize, window: Duration, interval: Duration) -> f64 {
    let every = interval.as_secs_f64() * 1.02;
    if every <= 0.0 {
        return 0.0;
    }
    nodes as f64 * window.as_secs_f64() / every
}

/// One target and whether it was met.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub value: String,
    pub target: String,
    pub pass: bool,
}

impl Check {
    fn to_json(&self) -> Value {
        json!({"name": self.name, "value": self.value, "target": self.target, "pass": self.pass})
    }
}

/// Every target of the issue, judged on one result. The per-node
/// footprint targets are set for 5,000 nodes; other counts are judged
/// against them too (fixed costs weigh more on fewer nodes).
pub fn checks(r: &HollowResult) -> Vec<Check> {
    let at = if r.nodes == TARGET_NODES {
        String::new()
    } else {
        format!(" (set for {TARGET_NODES} nodes)")
    };
    let rss = r.rss_mb_per_node();
    let cpu = r.cpu_cores_per_node();
    vec![
        Check {
            name: "all Ready",
            value: match r.ready_seconds {
                Some(s) => format!("{s:.1} s"),
                None => format!("{}/{} Ready", r.ready_nodes, r.nodes),
            },
            target: format!("<= {TARGET_READY_SECONDS:.0} s"),
            pass: r.ready_seconds.is_some_and(|s| s <= TARGET_READY_SECONDS),
        },
        Check {
            name: "RSS per node",
            value: format!("{rss:.3} MB"),
            target: format!("<= {TARGET_RSS_MB_PER_NODE} MB{at}"),
            pass: rss <= TARGET_RSS_MB_PER_NODE,
        },
        Check {
            name: "CPU per node",
            value: format!("{cpu:.6} cores"),
            target: format!("<= {TARGET_CPU_CORES_PER_NODE} cores{at}"),
            pass: cpu <= TARGET_CPU_CORES_PER_NODE,
        },
        Check {
            name: "lease lateness p99",
            value: if r.lease_renewals == 0 {
                "no renewals in window".into()
            } else {
                format!("{} ms", r.lease_lateness_p99_ms)
            },
            target: format!("< {TARGET_LATENESS_P99_MS} ms"),
            // Zero renewals in the window proves nothing.
            pass: r.lease_renewals > 0 && r.lease_lateness_p99_ms < TARGET_LATENESS_P99_MS,
        },
    ]
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

/// "54x less" / "2.0x more" than the Go kubemark's `go` per node.
pub fn versus_go(ours: f64, go: f64) -> String {
    if ours <= 0.0 || go <= 0.0 {
        return "-".into();
    }
    let ratio = go / ours;
    if ratio >= 10.0 {
        format!("{ratio:.0}x less")
    } else if ratio >= 1.0 {
        format!("{ratio:.1}x less")
    } else {
        format!("{:.1}x more", 1.0 / ratio)
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / MB)
}

/// Registration rate and the CPU both processes spent on it.
pub fn registration_summary(r: &HollowResult) -> String {
    let rate = match r.ready_seconds {
        Some(s) if s > 0.0 => format!("{:.0} nodes/s", r.nodes as f64 / s),
        _ => "-".into(),
    };
    let master = r
        .master_registration_cpu_seconds
        .map(|c| format!("{c:.1}"))
        .unwrap_or_else(|| "-".into());
    format!(
        "{rate}; CPU s: fleet {:.1}, master {master}",
        r.registration_cpu_seconds
    )
}

/// The detailed table of one node count (pure).
pub fn report_table(r: &HollowResult) -> String {
    let cs = checks(r);
    let find = |name: &str| cs.iter().find(|c| c.name == name);
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut checked = |name: &'static str, go: String| {
        if let Some(c) = find(name) {
            rows.push([
                c.name.to_string(),
                c.value.clone(),
                c.target.clone(),
                verdict(c.pass).to_string(),
                go,
            ]);
        }
    };
    checked("all Ready", String::new());
    checked(
        "RSS per node",
        format!(
            "{GO_RSS_MB_PER_NODE} MB ({})",
            versus_go(r.rss_mb_per_node(), GO_RSS_MB_PER_NODE)
        ),
    );
    checked(
        "CPU per node",
        format!(
            "{GO_CPU_CORES_PER_NODE} cores ({})",
            versus_go(r.cpu_cores_per_node(), GO_CPU_CORES_PER_NODE)
        ),
    );
    checked("lease lateness p99", String::new());
    let info = |name: &str, value: String| {
        [
            name.to_string(),
            value,
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    rows.push(info(
        "RSS per node (total / N)",
        format!("{:.3} MB", r.total_rss_mb_per_node()),
    ));
    rows.push(info("registration", registration_summary(r)));
    rows.push(info(
        "fleet process RSS",
        format!(
            "{} (before fleet {}, peak {})",
            mb(r.rss_after_bytes),
            mb(r.rss_before_bytes),
            mb(r.rss_peak_bytes)
        ),
    ));
    rows.push(info(
        "fleet process CPU",
        format!(
            "{:.3} cores ({:.2} s in {:.1} s)",
            if r.window_seconds > 0.0 {
                r.cpu_seconds / r.window_seconds
            } else {
                0.0
            },
            r.cpu_seconds,
            r.window_seconds
        ),
    ));
    if r.pods_per_node > 0 {
        rows.push(info(
            "pods running",
            match r.pods_seconds {
                Some(s) => format!("{} ({s:.1} s after all Ready)", r.pods_running),
                None => format!(
                    "{} of {} (timed out)",
                    r.pods_running,
                    r.nodes as u64 * u64::from(r.pods_per_node)
                ),
            },
        ));
    }
    rows.push(info(
        "lease renewals in window",
        format!(
            "{} (expected ~{:.0}; {} failed)",
            r.lease_renewals, r.lease_renewals_expected, r.lease_failures
        ),
    ));
    rows.push(info("lease misses in window", r.lease_misses.to_string()));
    rows.push(info(
        "lease lateness max",
        format!("{} ms", r.lease_lateness_max_ms),
    ));
    rows.push(info(
        "Ready nodes (fewest in window)",
        format!("{}/{}", r.ready_min_in_window, r.nodes),
    ));
    rows.push(info(
        "connections / streams / watches",
        format!(
            "{} / {} / {} ({})",
            r.connections, r.streams, r.watches, r.connection_mode
        ),
    ));
    rows.push(info(
        "master RSS",
        r.master_rss_bytes.map(mb).unwrap_or_else(|| "-".into()),
    ));
    rows.push(info(
        "master CPU",
        r.master_cpu_cores()
            .map(|c| format!("{c:.3} cores"))
            .unwrap_or_else(|| "-".into()),
    ));
    let header = [
        "METRIC".to_string(),
        "VALUE".into(),
        "TARGET".into(),
        "VERDICT".into(),
        "GO KUBEMARK".into(),
    ];
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line = row
            .iter()
            .zip(widths.iter())
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One line per node count (pure).
pub fn summary_table(results: &[HollowResult]) -> String {
    let mut s = format!(
        "{:>6}  {:<10}  {:>8}  {:>9}  {:>11}  {:>10}  {:>9}  {:>6}  {:>9}  {:>9}  {:>6}  {:>9}  {:>9}  {}\n",
        "NODES",
        "CONNS",
        "READY s",
        "MB/NODE",
        "MB/NODE tot",
        "CORES/NODE",
        "RENEWALS",
        "MISSES",
        "p99 ms",
        "max ms",
        "OPEN",
        "MASTER MB",
        "MASTER c",
        "TARGETS"
    );
    for r in results {
        let cs = checks(r);
        let failed: Vec<&str> = cs.iter().filter(|c| !c.pass).map(|c| c.name).collect();
        s.push_str(&format!(
            "{:>6}  {:<10}  {:>8}  {:>9.3}  {:>11.3}  {:>10.6}  {:>9}  {:>6}  {:>9}  {:>9}  {:>6}  {:>9}  {:>9}  {}\n",
            r.nodes,
            r.connection_mode,
            r.ready_seconds
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
            r.rss_mb_per_node(),
            r.total_rss_mb_per_node(),
            r.cpu_cores_per_node(),
            r.lease_renewals,
            r.lease_misses,
            r.lease_lateness_p99_ms,
            r.lease_lateness_max_ms,
            r.connections,
            r.master_rss_bytes
                .map(|b| format!("{:.0}", b as f64 / MB))
                .unwrap_or_else(|| "-".into()),
            r.master_cpu_cores()
                .map(|c| format!("{c:.3}"))
                .unwrap_or_else(|| "-".into()),
            if failed.is_empty() {
                "all PASS".to_string()
            } else {
                format!("FAIL: {}", failed.join(", "))
            }
        ));
    }
    s
}

/// The JSON document written by --output.
pub fn output_json(results: &[HollowResult], seconds: u64, warmup: u64) -> Value {
    json!({
        "benchmark": "hollow",
        "windowSeconds": seconds,
        "warmupSeconds": warmup,
        "targets": {
            "nodes": TARGET_NODES,
            "rssMbPerNode": TARGET_RSS_MB_PER_NODE,
            "cpuCoresPerNode": TARGET_CPU_CORES_PER_NODE,
            "readySeconds": TARGET_READY_SECONDS,
            "leaseLatenessP99Ms": TARGET_LATENESS_P99_MS,
        },
        "goKubemark": {
            "rssMbPerNode": GO_RSS_MB_PER_NODE,
            "cpuCoresPerNode": GO_CPU_CORES_PER_NODE,
        },
        "results": results.iter().map(HollowResult::to_json).collect::<Vec<_>>(),
    })
}

/// Flags for the child process that measures one node count.
pub fn child_args(args: &HollowBenchArgs, nodes: usize, output: &Path) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "bench".into(),
        "hollow".into(),
        "--nodes".into(),
        nodes.to_string(),
        "--seconds".into(),
        args.seconds.to_string(),
        "--warmup".into(),
        args.warmup.to_string(),
        "--pods-per-node".into(),
        args.pods_per_node.to_string(),
        "--ready-timeout".into(),
        args.ready_timeout.to_string(),
        "--pods-timeout".into(),
        args.pods_timeout.to_string(),
        "--output".into(),
        output.display().to_string(),
    ];
    if let Some(k) = args.shared_connections {
        v.push("--shared-connections".into());
        v.push(k.to_string());
    }
    if let Some(d) = &args.log_dir {
        v.push("--log-dir".into());
        v.push(d.display().to_string());
    }
    v
}

/// The fleet configuration for `nodes` nodes: kubelet defaults (status
/// every 10 s, lease 40 s renewed every 10 s), all three morphs.
pub fn fleet_config(nodes: usize, shared_connections: Option<usize>) -> hollow::FleetConfig {
    hollow::FleetConfig {
        nodes,
        shared_connections,
        ..hollow::FleetConfig::default()
    }
}

/// The Deployment that puts `replicas` small pods on the nodes.
pub fn deployment(replicas: u64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": "default", "labels": {"app": DEPLOYMENT}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {"containers": [{
                    "name": "pause", "image": "registry.k8s.io/pause:3.9",
                    "resources": {"requests": {"cpu": "1m", "memory": "10M"}},
                }]},
            },
        },
    })
}

// ---------------------------------------------------------------------
// Sampling processes

/// Samples this process's RSS every 250 ms, keeping the largest.
struct PeakRss {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start() -> PeakRss {
        let peak = Arc::new(AtomicU64::new(0));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(s) = procstat::sample("self") {
                    p.fetch_max(s.rss_bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        PeakRss { peak, task }
    }

    fn finish(self, last: u64) -> u64 {
        self.task.abort();
        self.peak.load(Ordering::Relaxed).max(last)
    }
}

// ---------------------------------------------------------------------
// The benchmark

/// `kubemark bench hollow`.
pub async fn run(args: HollowBenchArgs) -> anyhow::Result<()> {
    if args.nodes.is_empty() {
        bail!("--nodes needs one or more positive node counts, like 1000,5000");
    }
    if let Some(&bad) = args.nodes.iter().find(|&&n| n == 0) {
        bail!("--nodes: node count {bad} must be at least 1");
    }
    // Reject impossible counts (e.g. beyond the pod CIDR) before starting
    // any master.
    for &n in &args.nodes {
        fleet_config(n, args.shared_connections)
            .validate()
            .map_err(|e| anyhow!("{n} nodes: {e}"))?;
    }
    let results = if args.nodes.len() > 1 && !args.same_process {
        run_in_children(&args).await?
    } else {
        let mut results = Vec::new();
        for &n in &args.nodes {
            results.push(run_one(&args, n).await?);
        }
        results
    };
    if results.len() > 1 {
        println!();
        println!(
            "=== summary (targets at {TARGET_NODES} nodes: <= {TARGET_RSS_MB_PER_NODE} MB and <= {TARGET_CPU_CORES_PER_NODE} cores per node; Go kubemark: {GO_RSS_MB_PER_NODE} MB, {GO_CPU_CORES_PER_NODE} cores) ==="
        );
        print!("{}", summary_table(&results));
    }
    if let Some(path) = &args.output {
        let doc = output_json(&results, args.seconds, args.warmup);
        let text = serde_json::to_string_pretty(&doc).context("encoding the results")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(())
}

/// Runs each node count in a fresh child process and collects the results.
async fn run_in_children(args: &HollowBenchArgs) -> anyhow::Result<Vec<HollowResult>> {
    let exe = std::env::current_exe().context("finding the kubemark executable")?;
    let dir = tempfile::tempdir().context("temporary directory for the results")?;
    let mut results = Vec::new();
    for &n in &args.nodes {
        let out = dir.path().join(format!("hollow-{n}.json"));
        let mut child = tokio::process::Command::new(&exe)
            .args(child_args(args, n, &out))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} bench hollow", exe.display()))?;
        // Ctrl-C reaches the child too (same process group): let it clean
        // up its master, then stop.
        let (status, interrupted) = tokio::select! {
            s = child.wait() => (s, false),
            _ = tokio::signal::ctrl_c() => (child.wait().await, true),
        };
        let status = status.with_context(|| format!("waiting for the {n}-node run"))?;
        if interrupted {
            bail!("interrupted");
        }
        if !status.success() {
            bail!("the {n}-node run failed ({status}); see its output above");
        }
        let text = std::fs::read_to_string(&out)
            .with_context(|| format!("reading the {n}-node results {}", out.display()))?;
        let doc: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing the {n}-node results"))?;
        let r = doc
            .get("results")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(HollowResult::from_json)
            .ok_or_else(|| anyhow!("the {n}-node results in {} are malformed", out.display()))?;
        results.push(r);
    }
    Ok(results)
}

/// One node count: master child, fleet here, measure, tear down.
async fn run_one(args: &HollowBenchArgs, n: usize) -> anyhow::Result<HollowResult> {
    let cfg = fleet_config(n, args.shared_connections);
    let mode = ConnMode::from_flag(args.shared_connections);
    let max_streams = cfg.max_streams_per_connection as usize;
    let connections = mode.expected_connections(n, cfg.morph.proxy, max_streams);
    let limits =
        std::fs::read_to_string("/proc/self/limits").context("reading /proc/self/limits")?;
    let (soft, hard) = parse_nofile_limit(&limits)
        .ok_or_else(|| anyhow!("no `Max open files` line in /proc/self/limits"))?;
    let needed =
        check_fd_limit(connections, soft, hard, mode).map_err(|e| anyhow!("{n} nodes: {e}"))?;
    println!(
        "=== {n} hollow nodes (kubelet+proxy+npd; status every {}s, lease {}s renewed every {}s) ===",
        cfg.node_status_update_frequency.as_secs(),
        cfg.node_lease_duration.as_secs(),
        cfg.lease_renew_interval().as_secs()
    );
    println!(
        "connections: {}",
        mode.describe(n, cfg.morph.proxy, max_streams)
    );
    println!("open files: about {needed} needed per process; limit {soft} (hard {hard})");
    let log_dir = args.log_dir.clone().unwrap_or_else(std::env::temp_dir);
    let log = log_dir.join(format!(
        "kubemark-bench-hollow-master-{n}-{}.log",
        std::process::id()
    ));
    let master =
        cluster::launcher::MasterChild::spawn(&cluster::launcher::MasterLaunch::ephemeral(&log))
            .await
            .map_err(|e| anyhow!("{e}"))?;
    println!("master: pid {} (log {})", master.pid, log.display());
    let outcome = tokio::select! {
        r = measure(args, n, cfg, mode, &master) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    master.shutdown(Duration::from_secs(10)).await;
    let r = outcome?;
    println!();
    print!("{}", report_table(&r));
    println!();
    Ok(r)
}

async fn measure(
    args: &HollowBenchArgs,
    n: usize,
    cfg: hollow::FleetConfig,
    mode: ConnMode,
    master: &cluster::launcher::MasterChild,
) -> anyhow::Result<HollowResult> {
    let target = perf::Target::child(master)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    target.version().await.map_err(|e| anyhow!("{e}"))?;
    let master_pid = master.pid.to_string();
    let renew_interval = cfg.lease_renew_interval();

    let before = procstat::sample("self")?;
    let master_start = procstat::sample(&master_pid).ok();
    let peak = PeakRss::start();
    let t0 = Instant::now();
    let fleet = hollow::start_fleet(target.config.clone(), cfg)
        .await
        .map_err(|e| anyhow!("starting {n} hollow nodes: {e}"))?;
    if let Some(a) = fleet.metrics_addr() {
        println!("fleet: {n} nodes starting; metrics at http://{a}/metrics");
    }

    // Registration until every node is Ready.
    let ready_deadline = t0 + Duration::from_secs(args.ready_timeout);
    let mut last_print = Instant::now();
    let ready_seconds = loop {
        let s = fleet.stats();
        if s.ready >= n {
            let secs = t0.elapsed().as_secs_f64();
            println!("all {n} nodes Ready after {secs:.1} s");
            break Some(secs);
        }
        if Instant::now() >= ready_deadline {
            println!(
                "only {}/{n} nodes Ready ({} registered) after {} s; measuring anyway",
                s.ready, s.registered, args.ready_timeout
            );
            break None;
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            println!(
                "  {:>5.1} s: {} registered, {} Ready, {} connections",
                t0.elapsed().as_secs_f64(),
                s.registered,
                s.ready,
                s.connections
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready_nodes = fleet.stats().ready;
    let registration_cpu_seconds =
        (procstat::sample("self")?.cpu_seconds - before.cpu_seconds).max(0.0);
    let master_registration_cpu_seconds = match (&master_start, procstat::sample(&master_pid)) {
        (Some(a), Ok(b)) => Some((b.cpu_seconds - a.cpu_seconds).max(0.0)),
        _ => None,
    };

    // Optional pods.
    let total_pods = n as u64 * u64::from(args.pods_per_node);
    let pods_seconds = if total_pods > 0 {
        let body =
            serde_json::to_vec(&deployment(total_pods)).context("encoding the Deployment")?;
        let req = http::Request::post("/apis/apps/v1/namespaces/default/deployments")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .context("building the Deployment request")?;
        target
            .client
            .request_text(req)
            .await
            .map_err(|e| anyhow!("creating Deployment default/{DEPLOYMENT}: {e}"))?;
        println!("created Deployment default/{DEPLOYMENT} with {total_pods} replicas");
        let p0 = Instant::now();
        let deadline = p0 + Duration::from_secs(args.pods_timeout);
        let mut last_print = Instant::now();
        loop {
            let s = fleet.stats();
            if s.pods_running >= total_pods {
                let secs = p0.elapsed().as_secs_f64();
                println!("all {total_pods} pods running after {secs:.1} s");
                break Some(secs);
            }
            if Instant::now() >= deadline {
                println!(
                    "only {}/{total_pods} pods running after {} s; measuring anyway",
                    s.pods_running, args.pods_timeout
                );
                break None;
            }
            if last_print.elapsed() >= Duration::from_secs(5) {
                println!(
                    "  {:>5.1} s: {} pods on nodes, {} running",
                    p0.elapsed().as_secs_f64(),
                    s.pods,
                    s.pods_running
                );
                last_print = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else {
        None
    };

    if args.warmup > 0 {
        println!("warm-up: {} s", args.warmup);
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    }

    // The steady-state window. Lateness quantiles restart here so that
    // they describe the window, not registration.
    println!("measuring: {} s", args.seconds);
    *fleet.metrics().lateness.lock() = hollow::metrics::LatencyHist::default();
    let s0 = fleet.stats();
    let self0 = procstat::sample("self")?;
    let master0 = procstat::sample(&master_pid).ok();
    let w0 = Instant::now();
    let window = Duration::from_secs(args.seconds);
    let mut ready_min = s0.ready;
    while w0.elapsed() < window {
        let left = window.saturating_sub(w0.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        ready_min = ready_min.min(fleet.stats().ready);
    }
    let s1 = fleet.stats();
    let self1 = procstat::sample("self")?;
    let master1 = procstat::sample(&master_pid).ok();
    let window_seconds = w0.elapsed().as_secs_f64();
    let rss_peak = peak.finish(self1.rss_bytes);

    if tokio::time::timeout(Duration::from_secs(60), fleet.shutdown())
        .await
        .is_err()
    {
        println!("warning: the fleet took over 60 s to shut down");
    }

    Ok(HollowResult {
        nodes: n,
        connection_mode: mode.label(),
        pods_per_node: args.pods_per_node,
        ready_seconds,
        ready_nodes,
        registration_cpu_seconds,
        master_registration_cpu_seconds,
        pods_seconds,
        window_seconds,
        rss_before_bytes: before.rss_bytes,
        rss_after_bytes: self1.rss_bytes,
        rss_peak_bytes: rss_peak,
        cpu_seconds: (self1.cpu_seconds - self0.cpu_seconds).max(0.0),
        lease_renewals: s1.lease_renewals.saturating_sub(s0.lease_renewals),
        lease_renewals_expected: expected_renewals(
            n,
            Duration::from_secs_f64(window_seconds),
            renew_interval,
        ),
        lease_failures: s1.lease_failures.saturating_sub(s0.lease_failures),
        lease_misses: s1.lease_misses.saturating_sub(s0.lease_misses),
        lease_lateness_p99_ms: s1.lease_lateness_p99.as_millis() as u64,
        lease_lateness_max_ms: s1.lease_lateness_max.as_millis() as u64,
        ready_min_in_window: ready_min,
        pods_running: s1.pods_running,
        connections: s1.connections,
        streams: s1.streams,
        watches: s1.watches,
        master_rss_bytes: master1.map(|m| m.rss_bytes),
        master_cpu_seconds: match (master0, master1) {
            (Some(a), Some(b)) => Some((b.cpu_seconds - a.cpu_seconds).max(0.0)),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: HollowBenchArgs,
    }

    fn result() -> HollowResult {
        HollowResult {
            nodes: 5000,
            connection_mode: "dedicated".into(),
            pods_per_node: 0,
            ready_seconds: Some(42.25),
            ready_nodes: 5000,
            registration_cpu_seconds: 30.0,
            master_registration_cpu_seconds: Some(50.0),
            pods_seconds: None,
            window_seconds: 60.0,
            rss_before_bytes: 20 * 1024 * 1024,
            rss_after_bytes: 20 * 1024 * 1024 + 2000 * 1024 * 1024,
            rss_peak_bytes: 2100 * 1024 * 1024,
            cpu_seconds: 24.0,
            lease_renewals: 29_400,
            lease_renewals_expected: 29_411.8,
            lease_failures: 0,
            lease_misses: 0,
            lease_lateness_p99_ms: 20,
            lease_lateness_max_ms: 300,
            ready_min_in_window: 5000,
            pods_running: 0,
            connections: 10_000,
            streams: 40_000,
            watches: 40_000,
            master_rss_bytes: Some(900 * 1024 * 1024),
            master_cpu_seconds: Some(30.0),
        }
    }

    #[test]
    fn parses_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(
            parse_nofile_limit(limits),
            Some((Limit::Finite(1024), Limit::Finite(524_288)))
        );
        assert_eq!(
            parse_nofile_limit("Max open files            unlimited            unlimited  files"),
            Some((Limit::Unlimited, Limit::Unlimited))
        );
        assert_eq!(parse_nofile_limit("Max cpu time  1 2"), None);
        assert_eq!(parse_nofile_limit("Max open files  many  1"), None);
    }

    #[test]
    fn counts_connections_per_mode() {
        let cases = [
            (ConnMode::Dedicated, 5000, true, 10_000),
            (ConnMode::Dedicated, 5000, false, 5000),
            (ConnMode::Shared(100), 5000, true, 494),
            (ConnMode::Shared(1000), 5000, true, 1000),
            (ConnMode::Shared(4), 10, true, 4),
        ];
        for (mode, nodes, proxies, want) in cases {
            assert_eq!(
                mode.expected_connections(nodes, proxies, 90),
                want,
                "{mode:?} {nodes}"
            );
        }
        assert_eq!(ConnMode::from_flag(None).label(), "dedicated");
        assert_eq!(ConnMode::from_flag(Some(8)).label(), "shared:8");
        assert!(ConnMode::Dedicated
            .describe(1000, true, 90)
            .contains("per kubelet and per proxy (2000 connections)"));
        assert!(ConnMode::Shared(100)
            .describe(5000, true, 90)
            .contains("about 494"));
    }

    #[test]
    fn checks_the_open_files_limit() {
        let (f, u) = (Limit::Finite, Limit::Unlimited);
        assert_eq!(
            check_fd_limit(10_000, f(20_000), f(20_000), ConnMode::Dedicated),
            Ok(10_256)
        );
        assert_eq!(
            check_fd_limit(10_000, u, u, ConnMode::Dedicated),
            Ok(10_256)
        );
        let e = check_fd_limit(10_000, f(1024), f(524_288), ConnMode::Dedicated).unwrap_err();
        assert!(e.contains("limit (ulimit -n) is 1024"), "{e}");
        assert!(e.contains("ulimit -n 524288"), "{e}");
        assert!(e.contains("--shared-connections"), "{e}");
        let e = check_fd_limit(10_000, f(1024), f(4096), ConnMode::Shared(20_000)).unwrap_err();
        assert!(e.contains("hard limit is only 4096"), "{e}");
        assert!(e.contains("fewer nodes"), "{e}");
    }

    #[test]
    fn per_node_numbers() {
        let r = result();
        assert!((r.rss_mb_per_node() - 0.4).abs() < 1e-9);
        assert!((r.total_rss_mb_per_node() - 2020.0 / 5000.0).abs() < 1e-9);
        assert!((r.cpu_cores_per_node() - 0.00008).abs() < 1e-12);
        assert_eq!(r.master_cpu_cores(), Some(0.5));
        let shrunk = HollowResult {
            rss_after_bytes: 1,
            window_seconds: 0.0,
            ..result()
        };
        assert_eq!(shrunk.rss_mb_per_node(), 0.0);
        assert_eq!(shrunk.cpu_cores_per_node(), 0.0);
        assert_eq!(shrunk.master_cpu_cores(), None);
        let e = expected_renewals(1000, Duration::from_secs(51), Duration::from_secs(10));
        assert!((e - 5000.0).abs() < 1e-6, "{e}");
    }

    #[test]
    fn judges_the_targets() {
        let verdicts = |r: &HollowResult| -> Vec<(&'static str, bool)> {
            checks(r).iter().map(|c| (c.name, c.pass)).collect()
        };
        assert!(verdicts(&result()).iter().all(|(_, p)| *p));
        let cases: Vec<(HollowResult, &str)> = vec![
            (
                HollowResult {
                    ready_seconds: None,
                    ready_nodes: 4000,
                    ..result()
                },
                "all Ready",
            ),
            (
                HollowResult {
                    ready_seconds: Some(61.0),
                    ..result()
                },
                "all Ready",
            ),
            (
                HollowResult {
                    rss_after_bytes: 20 * 1024 * 1024 + 3000 * 1024 * 1024,
                    ..result()
                },
                "RSS per node",
            ),
            (
                HollowResult {
                    cpu_seconds: 31.0,
                    ..result()
                },
                "CPU per node",
            ),
            (
                HollowResult {
                    lease_lateness_p99_ms: 1000,
                    ..result()
                },
                "lease lateness p99",
            ),
            (
                HollowResult {
                    lease_renewals: 0,
                    ..result()
                },
                "lease lateness p99",
            ),
        ];
        for (r, failing) in cases {
            let v = verdicts(&r);
            let failed: Vec<&str> = v.iter().filter(|(_, p)| !p).map(|(n, _)| *n).collect();
            assert_eq!(failed, [failing]);
        }
        let small = HollowResult {
            nodes: 1000,
            ..result()
        };
        assert!(checks(&small)[1].target.contains("set for 5000 nodes"));
        assert!(!checks(&result())[1].target.contains("set for"));
    }

    #[test]
    fn compares_with_go() {
        assert_eq!(versus_go(0.5, 27.0), "54x less");
        assert_eq!(versus_go(5.0, 27.0), "5.4x less");
        assert_eq!(versus_go(0.01, 0.005), "2.0x more");
        assert_eq!(versus_go(0.0, 27.0), "-");
    }

    #[test]
    fn formats_tables() {
        let t = report_table(&result());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("METRIC"), "{t}");
        let line = |name: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(name))
                .copied()
                .unwrap_or_else(|| panic!("no {name} in\n{t}"))
        };
        assert!(line("all Ready").contains("42.2 s") || line("all Ready").contains("42.3 s"));
        assert!(line("RSS per node  ").contains("0.400 MB"));
        assert!(line("RSS per node  ").contains("PASS"));
        assert!(line("RSS per node  ").contains("27 MB (68x less)"));
        assert!(line("CPU per node").contains("0.000080 cores"));
        assert!(line("CPU per node").contains("62x less"));
        assert!(line("lease renewals").contains("29400 (expected ~29412; 0 failed)"));
        assert!(line("master CPU").contains("0.500 cores"));
        assert!(line("master RSS").contains("900 MB"));
        assert!(
            line("registration").contains("118 nodes/s; CPU s: fleet 30.0, master 50.0"),
            "{t}"
        );
        assert!(!t.contains("pods running"));
        let with_pods = report_table(&HollowResult {
            pods_per_node: 30,
            pods_running: 100,
            ..result()
        });
        assert!(
            with_pods.contains("100 of 150000 (timed out)"),
            "{with_pods}"
        );

        let s = summary_table(&[
            result(),
            HollowResult {
                nodes: 1000,
                cpu_seconds: 60.0,
                master_rss_bytes: None,
                ..result()
            },
        ]);
        let rows: Vec<&str> = s.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].trim_end().ends_with("all PASS"), "{s}");
        assert!(rows[2].contains("FAIL: RSS per node, CPU per node"), "{s}");
        assert!(rows[2].contains(" - "), "{s}");
    }

    #[test]
    fn json_round_trips() {
        for r in [
            result(),
            HollowResult {
                ready_seconds: None,
                master_rss_bytes: None,
                master_cpu_seconds: None,
                master_registration_cpu_seconds: None,
                pods_seconds: Some(3.5),
                ..result()
            },
        ] {
            let v = r.to_json();
            assert_eq!(HollowResult::from_json(&v), Some(r.clone()));
            assert_eq!(v["checks"].as_array().map(Vec::len), Some(4));
        }
        assert_eq!(HollowResult::from_json(&json!({"nodes": 3})), None);
        let doc = output_json(&[result()], 60, 20);
        assert_eq!(doc["targets"]["rssMbPerNode"], 0.5);
        assert_eq!(doc["goKubemark"]["rssMbPerNode"], 27.0);
        assert_eq!(doc["results"][0]["nodes"], 5000);
    }

    #[test]
    fn parses_flags() {
        let a = Cmd::try_parse_from(["x"]).unwrap().args;
        assert_eq!(a.nodes, [1000, 5000]);
        assert_eq!((a.seconds, a.warmup, a.pods_per_node), (60, 20, 0));
        assert_eq!(a.shared_connections, None);
        let a = Cmd::try_parse_from(["x", "--nodes", "10,20", "--shared-connections", "4"])
            .unwrap()
            .args;
        assert_eq!(a.nodes, [10, 20]);
        assert_eq!(a.shared_connections, Some(4));
        for bad in [
            vec!["x", "--nodes", "0"],
            vec!["x", "--nodes", ""],
            vec!["x", "--nodes", "10,,20"],
            vec!["x", "--nodes", "ten"],
            vec!["x", "--seconds", "0"],
            vec!["x", "--shared-connections", "0"],
            vec!["x", "--pods-per-node", "111"],
        ] {
            assert!(Cmd::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        let e = Cmd::try_parse_from(["x", "--nodes", "0"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("must be at least 1"), "{e}");
    }

    #[test]
    fn child_flags_parse_back() {
        let a = Cmd::try_parse_from([
            "x",
            "--nodes",
            "1000,5000",
            "--seconds",
            "30",
            "--pods-per-node",
            "5",
            "--shared-connections",
            "50",
            "--log-dir",
            "/tmp/logs",
        ])
        .unwrap()
        .args;
        let argv = child_args(&a, 5000, Path::new("/tmp/out.json"));
        assert_eq!(&argv[..2], ["bench", "hollow"]);
        let c =
            Cmd::try_parse_from(std::iter::once("x".to_string()).chain(argv.into_iter().skip(2)))
                .unwrap()
                .args;
        assert_eq!(c.nodes, [5000]);
        assert_eq!((c.seconds, c.warmup, c.pods_per_node), (30, 20, 5));
        assert_eq!(c.shared_connections, Some(50));
        assert_eq!(c.output, Some(PathBuf::from("/tmp/out.json")));
        assert_eq!(c.log_dir, Some(PathBuf::from("/tmp/logs")));
        assert!(!c.same_process);
    }

    #[test]
    fn fleet_defaults_follow_the_kubelet() {
        let c = fleet_config(5000, None);
        assert_eq!(c.node_status_update_frequency, Duration::from_secs(10));
        assert_eq!(c.node_lease_duration, Duration::from_secs(40));
        assert_eq!(c.lease_renew_interval(), Duration::from_secs(10));
        assert!(c.morph.kubelet && c.morph.proxy && c.morph.npd);
        assert_eq!(c.shared_connections, None);
        assert!(c.validate().is_ok());
        assert!(fleet_config(9000, None).validate().is_err());
        let d = deployment(300);
        assert_eq!(d["spec"]["replicas"], 300);
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            d["spec"]["template"]["metadata"]["labels"]
        );
    }
}
