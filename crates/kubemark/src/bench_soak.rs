//! `kubemark bench soak`: thousands of hollow nodes against the embedded
//! master for a long time. The master runs as its own child process (as
//! `kubemark run` starts it) and the hollow nodes run in this process, so
//! the two are sampled apart. Every `--interval` it samples both
//! processes' RSS and CPU, the fleet's own lease and watch counters, and
//! what the master shows: every Lease in `kube-node-lease` and every
//! Node's Ready condition, watched by this process. At the end it prints
//! the time to all Ready, a table with one row a minute, the memory trend
//! of both processes (least squares over the samples after the warm-up)
//! and a verdict against the targets.
//!
//! Connections: by default each kubelet has its own HTTP/2 connection (as
//! a real kubelet) and the proxies are multiplexed onto shared ones, so
//! 10,000 nodes need about 10,400 descriptors in each process instead of
//! 20,000 (the machine's hard limit).

use anyhow::{anyhow, bail, Context as _};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bench_hollow::{check_fd_limit, parse_nofile_limit, ConnMode};

/// Every node Ready within this long after the fleet starts.
pub const TARGET_READY_SECONDS: f64 = 60.0;
/// Memory growth of each process after the warm-up, per 30 minutes.
pub const TARGET_GROWTH_PCT_PER_30M: f64 = 2.0;
/// Streams one hollow proxy holds (services, endpointslices, nodes).
const PROXY_STREAMS: usize = 3;
const MB: f64 = 1024.0 * 1024.0;

fn duration_arg(s: &str) -> Result<Duration, String> {
    let d = hollow::duration::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

/// `kubemark bench soak`.
#[derive(clap::Args, Debug, Clone)]
pub struct SoakArgs {
    /// Hollow nodes (kubelet + proxy + NPD each).
    #[arg(long, default_value_t = 10_000, value_parser = crate::bench_hollow::positive_usize)]
    pub nodes: usize,
    /// How long to run, from the fleet's start (Go-style: 30m, 1h).
    #[arg(long, default_value = "30m", value_parser = duration_arg)]
    pub duration: Duration,
    /// Sampling interval.
    #[arg(long, default_value = "10s", value_parser = duration_arg)]
    pub interval: Duration,
    /// Samples before this (from the fleet's start) are left out of the
    /// memory trend [default: a sixth of --duration, at most 5m].
    #[arg(long, value_parser = duration_arg)]
    pub warmup: Option<Duration>,
    /// A lease renewed more than the renew interval (10s) plus this after
    /// the previous renewal counts as late.
    #[arg(long, default_value = "2s", value_parser = duration_arg)]
    pub lease_slack: Duration,
    /// Shared connections for the proxies (more are opened as streams fill
    /// up); every kubelet keeps its own connection.
    #[arg(long, default_value_t = 64, value_parser = crate::bench_hollow::positive_usize)]
    pub proxy_connections: usize,
    /// Multiplex kubelets and proxies alike onto K connections instead.
    #[arg(long, value_parser = crate::bench_hollow::positive_usize, conflicts_with = "no_proxy")]
    pub shared_connections: Option<usize>,
    /// Run kubelets and NPDs only (no proxies).
    #[arg(long)]
    pub no_proxy: bool,
    /// Give up waiting for all nodes Ready after this long (the soak goes
    /// on and the verdict fails).
    #[arg(long, default_value = "5m", value_parser = duration_arg)]
    pub ready_timeout: Duration,
    /// Also write every sample and the verdict as JSON to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Directory for the master's log [default: the system temp directory].
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
}

impl SoakArgs {
    pub fn warmup(&self) -> Duration {
        self.warmup
            .unwrap_or_else(|| (self.duration / 6).min(Duration::from_secs(300)))
    }

    fn conn_plan(&self, max_streams: usize) -> ConnPlan {
        if let Some(k) = self.shared_connections {
            ConnPlan::AllShared(k)
        } else if self.no_proxy {
            ConnPlan::NoProxy
        } else {
            ConnPlan::ProxiesShared(self.proxy_connections.max(hollow::conn::connections_needed(
                self.nodes,
                PROXY_STREAMS,
                max_streams,
            )))
        }
    }
}

/// How the fleet connects to the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnPlan {
    /// One connection per kubelet, the proxies on about this many.
    ProxiesShared(usize),
    /// One connection per kubelet, no proxies.
    NoProxy,
    /// Everything on about this many connections.
    AllShared(usize),
}

impl ConnPlan {
    /// Connections (and so descriptors in each process) about needed.
    pub fn connections(self, nodes: usize, max_streams: usize) -> usize {
        match self {
            ConnPlan::ProxiesShared(k) => nodes + k,
            ConnPlan::NoProxy => nodes,
            ConnPlan::AllShared(k) => {
                ConnMode::Shared(k).expected_connections(nodes, true, max_streams)
            }
        }
    }

    pub fn describe(self, nodes: usize, max_streams: usize) -> String {
        let total = self.connections(nodes, max_streams);
        match self {
            ConnPlan::ProxiesShared(k) => format!(
                "one HTTP/2 connection per kubelet ({nodes}), proxies multiplexed onto about {k}: about {total} connections"
            ),
            ConnPlan::NoProxy => {
                format!("one HTTP/2 connection per kubelet, no proxies: {total} connections")
            }
            ConnPlan::AllShared(_) => {
                format!("kubelets and proxies multiplexed: about {total} connections")
            }
        }
    }
}

// ---------------------------------------------------------------------
// Pure logic: times, leases, nodes, trend, verdict

/// An RFC 3339 UTC time (`2024-01-02T03:04:05Z`, optional fraction up to
/// nanoseconds, as `MicroTime` and `Time` are written) in microseconds
/// since the Unix epoch.
pub fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = &s[19..s.len() - 1];
    let micros = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.')?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut padded = digits.to_string();
        while padded.len() < 6 {
            padded.push('0');
        }
        padded[..6].parse::<i64>().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + micros)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Lease renewals as the master shows them (pure): for each Lease the
/// last `spec.renewTime`; a renewal more than `late_after` after the
/// previous one is late; a Lease older than `miss_after` (the lease
/// duration) is a miss, counted once per episode whether the sweep or the
/// next renewal notices it first.
#[derive(Debug, Clone)]
pub struct LeaseTracker {
    late_after: i64,
    miss_after: i64,
    last: HashMap<String, i64>,
    expired: HashSet<String>,
    pub renewals: u64,
    pub late: u64,
    pub misses: u64,
    pub max_gap_micros: i64,
    /// Renewal gap beyond the renew interval, ms.
    pub lateness: hollow::metrics::LatencyHist,
    /// From `renewTime` to the event reaching this watcher, ms.
    pub delivery: hollow::metrics::LatencyHist,
    interval: i64,
}

impl LeaseTracker {
    pub fn new(interval: Duration, slack: Duration, lease_duration: Duration) -> LeaseTracker {
        LeaseTracker {
            late_after: (interval + slack).as_micros() as i64,
            miss_after: lease_duration.as_micros() as i64,
            interval: interval.as_micros() as i64,
            last: HashMap::new(),
            expired: HashSet::new(),
            renewals: 0,
            late: 0,
            misses: 0,
            max_gap_micros: 0,
            lateness: Default::default(),
            delivery: Default::default(),
        }
    }

    pub fn leases(&self) -> usize {
        self.last.len()
    }

    /// A Lease seen (added or modified) with `renew` at `seen`.
    pub fn observe(&mut self, name: &str, renew: i64, seen: i64) {
        self.delivery
            .observe_ms((seen - renew).max(0) as u64 / 1000);
        let Some(prev) = self.last.get_mut(name) else {
            self.last.insert(name.to_string(), renew);
            return;
        };
        if renew <= *prev {
            // The same renewal again (a relist) or an older one.
            return;
        }
        let gap = renew - *prev;
        *prev = renew;
        self.renewals += 1;
        self.max_gap_micros = self.max_gap_micros.max(gap);
        self.lateness
            .observe_ms((gap - self.interval).max(0) as u64 / 1000);
        if gap > self.late_after {
            self.late += 1;
        }
        if gap > self.miss_after && !self.expired.contains(name) {
            self.misses += 1;
        }
        self.expired.remove(name);
    }

    pub fn deleted(&mut self, name: &str) {
        self.last.remove(name);
        self.expired.remove(name);
    }

    /// Counts the Leases now older than the lease duration; returns how
    /// many are expired.
    pub fn sweep(&mut self, now: i64) -> usize {
        for (name, renew) in &self.last {
            if now - renew > self.miss_after && self.expired.insert(name.clone()) {
                self.misses += 1;
            }
        }
        self.expired.len()
    }
}

/// Nodes' Ready condition as the master shows it (pure).
#[derive(Debug, Clone, Default)]
pub struct NodeTracker {
    ready: HashMap<String, bool>,
    /// Ready -> not Ready transitions.
    pub flaps: u64,
}

impl NodeTracker {
    pub fn observe(&mut self, name: &str, ready: bool) {
        match self.ready.insert(name.to_string(), ready) {
            Some(true) if !ready => self.flaps += 1,
            _ => {}
        }
    }

    pub fn deleted(&mut self, name: &str) {
        self.ready.remove(name);
    }

    pub fn ready(&self) -> usize {
        self.ready.values().filter(|r| **r).count()
    }

    pub fn total(&self) -> usize {
        self.ready.len()
    }
}

/// Whether a Node object's Ready condition is True.
pub fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Least-squares line through `points` (x, y): (slope, intercept); None
/// with fewer than two distinct x.
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// A process's memory trend after the warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub samples: usize,
    pub mb_per_hour: f64,
    /// RSS on the fitted line at the first sample after the warm-up.
    pub base_mb: f64,
    /// Growth over 30 minutes relative to `base_mb`.
    pub growth_pct_per_30m: f64,
}

/// The trend of `(seconds since start, RSS bytes)` samples taken at or
/// after `warmup_secs`.
pub fn trend(samples: &[(f64, u64)], warmup_secs: f64) -> Option<Trend> {
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(t, _)| *t >= warmup_secs)
        .map(|(t, b)| (t / 3600.0, *b as f64 / MB))
        .collect();
    let (slope, intercept) = least_squares(&pts)?;
    let x0 = pts.first()?.0;
    let base = slope * x0 + intercept;
    if base <= 0.0 {
        return None;
    }
    Some(Trend {
        samples: pts.len(),
        mb_per_hour: slope,
        base_mb: base,
        growth_pct_per_30m: slope * 0.5 / base * 100.0,
    })
}

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the fleet started.
    pub t: f64,
    pub master_rss: Option<u64>,
    pub master_cpu: Option<f64>,
    pub hollow_rss: u64,
    pub hollow_cpu: f64,
    /// Hollow kubelets reporting Ready (their own view).
    pub ready_hollow: usize,
    /// Nodes Ready on the master.
    pub ready_master: usize,
    pub leases: usize,
    pub leases_expired: usize,
    pub master_renewals: u64,
    pub master_late: u64,
    pub master_misses: u64,
    pub hollow_renewals: u64,
    pub hollow_failures: u64,
    pub hollow_misses: u64,
    pub watch_restarts: u64,
    pub flaps: u64,
    pub connections: i64,
    pub watches: i64,
}

impl Sample {
    fn to_json(&self) -> Value {
        json!({
            "t": self.t, "masterRss": self.master_rss, "masterCpu": self.master_cpu,
            "hollowRss": self.hollow_rss, "hollowCpu": self.hollow_cpu,
            "readyHollow": self.ready_hollow, "readyMaster": self.ready_master,
            "leases": self.leases, "leasesExpired": self.leases_expired,
            "masterRenewals": self.master_renewals, "masterLate": self.master_late,
            "masterMisses": self.master_misses, "hollowRenewals": self.hollow_renewals,
            "hollowFailures": self.hollow_failures, "hollowMisses": self.hollow_misses,
            "watchRestarts": self.watch_restarts, "flaps": self.flaps,
            "connections": self.connections, "watches": self.watches,
        })
    }
}

/// CPU cores used between two cumulative CPU readings.
fn cores(a: Option<f64>, b: Option<f64>, secs: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if secs > 0.0 => Some((b - a).max(0.0) / secs),
        _ => None,
    }
}

/// The table: the first sample, then the last sample of every minute (or
/// of every `every` seconds), with deltas since the previous row (pure).
pub fn sample_table(samples: &[Sample], every: f64) -> String {
    let mut rows: Vec<&Sample> = Vec::new();
    let mut next = 0.0;
    for (i, s) in samples.iter().enumerate() {
        if s.t >= next || i + 1 == samples.len() {
            rows.push(s);
            next = (s.t / every).floor() * every + every;
        }
    }
    let mut out = format!(
        "{:>6}  {:>11}  {:>9}  {:>7}  {:>10}  {:>7}  {:>9}  {:>6}  {:>6}  {:>6}  {:>6}  {:>5}  {:>6}  {:>6}\n",
        "t", "READY h/m", "MASTER MB", "M cores", "HOLLOW MB", "H cores", "RENEWALS", "LATE", "MISS", "H MISS", "EXPIRD", "FLAPS", "RECONN", "CONNS"
    );
    let mut prev: Option<&Sample> = None;
    for s in rows {
        let dt = prev.map_or(s.t, |p| s.t - p.t);
        let d = |f: fn(&Sample) -> u64| f(s) - prev.map_or(0, f).min(f(s));
        let mc = cores(prev.and_then(|p| p.master_cpu), s.master_cpu, dt)
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into());
        let hc = cores(prev.map(|p| p.hollow_cpu), Some(s.hollow_cpu), dt)
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:>6}  {:>11}  {:>9}  {:>7}  {:>10.0}  {:>7}  {:>9}  {:>6}  {:>6}  {:>6}  {:>6}  {:>5}  {:>6}  {:>6}\n",
            format_clock(s.t),
            format!("{}/{}", s.ready_hollow, s.ready_master),
            s.master_rss
                .map(|b| format!("{:.0}", b as f64 / MB))
                .unwrap_or_else(|| "-".into()),
            if prev.is_some() { mc } else { "-".into() },
            s.hollow_rss as f64 / MB,
            if prev.is_some() { hc } else { "-".into() },
            d(|s| s.master_renewals),
            d(|s| s.master_late),
            d(|s| s.master_misses),
            d(|s| s.hollow_misses),
            s.leases_expired,
            d(|s| s.flaps),
            d(|s| s.watch_restarts),
            s.connections,
        ));
        prev = Some(s);
    }
    out
}

/// `m:ss` / `h:mm:ss`.
pub fn format_clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One target and whether it was met.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub value: String,
    pub target: String,
    pub pass: bool,
}

/// What the verdict is judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub nodes: usize,
    pub ready_seconds: Option<f64>,
    pub ready_nodes: usize,
    pub master_misses: u64,
    pub hollow_misses: u64,
    pub master_trend: Option<Trend>,
    pub hollow_trend: Option<Trend>,
}

/// Every target of the soak (pure).
pub fn checks(o: &Outcome) -> Vec<Check> {
    let growth = |name: &str, t: &Option<Trend>| Check {
        name: format!("{name} memory growth"),
        value: match t {
            Some(t) => format!(
                "{:+.2} % per 30 min ({:+.1} MB/h from {:.0} MB, {} samples)",
                t.growth_pct_per_30m, t.mb_per_hour, t.base_mb, t.samples
            ),
            None => "too few samples after the warm-up".into(),
        },
        target: format!("< {TARGET_GROWTH_PCT_PER_30M} % per 30 min"),
        pass: t
            .as_ref()
            .is_some_and(|t| t.growth_pct_per_30m < TARGET_GROWTH_PCT_PER_30M),
    };
    vec![
        Check {
            name: "all Ready".into(),
            value: match o.ready_seconds {
                Some(s) => format!("{s:.1} s"),
                None => format!("{}/{} Ready", o.ready_nodes, o.nodes),
            },
            target: format!("<= {TARGET_READY_SECONDS:.0} s"),
            pass: o.ready_seconds.is_some_and(|s| s <= TARGET_READY_SECONDS),
        },
        Check {
            name: "lease misses".into(),
            value: format!(
                "{} seen by the master, {} by the hollow kubelets",
                o.master_misses, o.hollow_misses
            ),
            target: "0".into(),
            pass: o.master_misses == 0 && o.hollow_misses == 0,
        },
        growth("master", &o.master_trend),
        growth("hollow process", &o.hollow_trend),
    ]
}

/// The verdict table (pure).
pub fn checks_table(cs: &[Check]) -> String {
    let w0 = cs.iter().map(|c| c.name.len()).max().unwrap_or(0).max(6);
    let w1 = cs.iter().map(|c| c.value.len()).max().unwrap_or(0).max(5);
    let w2 = cs.iter().map(|c| c.target.len()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  VERDICT\n",
        "TARGET", "VALUE", "WANTED"
    );
    for c in cs {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            c.name,
            c.value,
            c.target,
            if c.pass { "PASS" } else { "FAIL" }
        ));
    }
    out
}

// ---------------------------------------------------------------------
// Watching the master

/// What the watchers saw.
#[derive(Default)]
struct Seen {
    leases: Option<LeaseTracker>,
    nodes: NodeTracker,
    /// Watch streams this process had to restart (relists included).
    restarts: u64,
    errors: Vec<String>,
}

type Shared = Arc<std::sync::Mutex<Seen>>;

/// The watchers' state (a panicking holder cannot leave it half-updated
/// in a way that matters for counters, so poisoning is ignored).
fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy)]
enum Kind {
    Leases,
    Nodes,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Leases => "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
            Kind::Nodes => "/api/v1/nodes",
        }
    }

    fn apply(self, seen: &mut Seen, kind: &str, obj: &Value, at: i64) {
        let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
            return;
        };
        match (self, kind) {
            (Kind::Leases, "DELETED") => {
                if let Some(l) = seen.leases.as_mut() {
                    l.deleted(name)
                }
            }
            (Kind::Leases, _) => {
                let renew = obj
                    .pointer("/spec/renewTime")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339_micros);
                if let (Some(l), Some(r)) = (seen.leases.as_mut(), renew) {
                    l.observe(name, r, at);
                }
            }
            (Kind::Nodes, "DELETED") => seen.nodes.deleted(name),
            (Kind::Nodes, _) => seen.nodes.observe(name, node_ready(obj)),
        }
    }
}

fn note_error(seen: &Shared, msg: String) {
    let mut s = lock(seen);
    if s.errors.len() < 20 && !s.errors.contains(&msg) {
        s.errors.push(msg);
    }
}

/// List, then watch from the list's resourceVersion; a closed stream is
/// resumed from the last version, an expired one relisted.
async fn watch_loop(client: kube::Client, kind: Kind, seen: Shared) {
    let mut rv: Option<String> = None;
    loop {
        let Some(from) = rv.clone() else {
            match list(&client, kind, &seen).await {
                Ok(v) => rv = Some(v),
                Err(e) => {
                    note_error(&seen, format!("listing {}: {e}", kind.path()));
                    lock(&seen).restarts += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            continue;
        };
        // A stream the server closed at its timeout is resumed; anything
        // else counts as a restart.
        match watch(&client, kind, &from, &seen).await {
            Ok(Some(last)) => rv = Some(last),
            Ok(None) => {
                rv = None;
                lock(&seen).restarts += 1;
            }
            Err(e) => {
                note_error(&seen, format!("watching {}: {e}", kind.path()));
                lock(&seen).restarts += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn list(client: &kube::Client, kind: Kind, seen: &Shared) -> anyhow::Result<String> {
    let req = http::Request::get(kind.path())
        .body(Vec::new())
        .context("building the list request")?;
    let text = client.request_text(req).await?;
    let v: Value = serde_json::from_str(&text).context("decoding the list")?;
    let at = now_micros();
    let mut s = lock(seen);
    for item in v
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        kind.apply(&mut s, "ADDED", item, at);
    }
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the list has no resourceVersion"))
}

/// One watch stream: Ok(Some(rv)) when it closed normally, Ok(None) when
/// the version expired (relist).
async fn watch(
    client: &kube::Client,
    kind: Kind,
    from: &str,
    seen: &Shared,
) -> anyhow::Result<Option<String>> {
    let uri = format!(
        "{}?watch=true&allowWatchBookmarks=true&timeoutSeconds=240&resourceVersion={from}",
        kind.path()
    );
    let req = http::Request::get(uri)
        .body(kube::client::Body::from(Vec::new()))
        .context("building the watch request")?;
    let resp = client.send(req).await?;
    if !resp.status().is_success() {
        bail!("HTTP {}", resp.status());
    }
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut rv = from.to_string();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| anyhow!("reading the stream: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let ev: Value = serde_json::from_slice(&line).context("decoding a watch event")?;
            let ty = ev.get("type").and_then(Value::as_str).unwrap_or("");
            let Some(obj) = ev.get("object") else {
                continue;
            };
            if ty == "ERROR" {
                // 410 Gone: the version is too old; relist.
                return Ok(None);
            }
            if let Some(v) = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
            {
                rv = v.to_string();
            }
            if ty != "BOOKMARK" {
                kind.apply(&mut lock(seen), ty, obj, now_micros());
            }
        }
    }
    Ok(Some(rv))
}

// ---------------------------------------------------------------------
// The benchmark

fn fleet_config(args: &SoakArgs, plan: ConnPlan) -> hollow::FleetConfig {
    let mut cfg = hollow::FleetConfig {
        nodes: args.nodes,
        ..hollow::FleetConfig::default()
    };
    match plan {
        ConnPlan::ProxiesShared(k) => cfg.shared_proxy_connections = Some(k),
        ConnPlan::NoProxy => {
            cfg.morph.proxy = false;
        }
        ConnPlan::AllShared(k) => cfg.shared_connections = Some(k),
    }
    // The default /11 holds 8,192 node subnets; beyond that, a /10 clear
    // of the service range (10.96.0.0/12).
    if args.nodes > 8192 {
        cfg.pod_cidr = hollow::ipam::Ipv4Cidr::clamped(std::net::Ipv4Addr::new(10, 128, 0, 0), 10);
    }
    cfg
}

/// `kubemark bench soak`.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let probe = fleet_config(&args, ConnPlan::NoProxy);
    let max_streams = probe.max_streams_per_connection as usize;
    let plan = args.conn_plan(max_streams);
    let cfg = fleet_config(&args, plan);
    cfg.validate()
        .map_err(|e| anyhow!("{} nodes: {e}", args.nodes))?;
    let conns = plan.connections(args.nodes, max_streams);
    let limits =
        std::fs::read_to_string("/proc/self/limits").context("reading /proc/self/limits")?;
    let (soft, hard) = parse_nofile_limit(&limits)
        .ok_or_else(|| anyhow!("no `Max open files` line in /proc/self/limits"))?;
    let mode = match plan {
        ConnPlan::AllShared(k) => ConnMode::Shared(k),
        _ => ConnMode::Dedicated,
    };
    let needed = check_fd_limit(conns, soft, hard, mode).map_err(|e| anyhow!("{e}"))?;
    let renew = cfg.lease_renew_interval();
    let warmup = args.warmup();
    println!(
        "=== soak: {} hollow nodes for {} (sample every {}, trend after a {} warm-up) ===",
        args.nodes,
        format_clock(args.duration.as_secs_f64()),
        format_clock(args.interval.as_secs_f64()),
        format_clock(warmup.as_secs_f64())
    );
    println!("connections: {}", plan.describe(args.nodes, max_streams));
    println!("open files: about {needed} needed per process; limit {soft} (hard {hard})");
    println!(
        "leases: {}s, renewed every {}s; late = renewed over {:.1}s after the previous renewal, miss = older than {}s",
        cfg.node_lease_duration.as_secs(),
        renew.as_secs(),
        (renew + args.lease_slack).as_secs_f64(),
        cfg.node_lease_duration.as_secs()
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }
    let log_dir = args.log_dir.clone().unwrap_or_else(std::env::temp_dir);
    let log = log_dir.join(format!(
        "kubemark-bench-soak-master-{}.log",
        std::process::id()
    ));
    let master =
        cluster::launcher::MasterChild::spawn(&cluster::launcher::MasterLaunch::ephemeral(&log))
            .await
            .map_err(|e| anyhow!("{e}"))?;
    println!("master: pid {} (log {})", master.pid, log.display());
    println!("hollow nodes: in this process, pid {}", std::process::id());
    let outcome = tokio::select! {
        r = soak(&args, cfg, renew, &master) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    master.shutdown(Duration::from_secs(10)).await;
    let (o, samples) = outcome?;
    let cs = checks(&o);
    println!();
    println!("=== verdict ===");
    print!("{}", checks_table(&cs));
    if let Some(path) = &args.output {
        let doc = json!({
            "benchmark": "soak",
            "nodes": args.nodes,
            "durationSeconds": args.duration.as_secs_f64(),
            "warmupSeconds": warmup.as_secs_f64(),
            "readySeconds": o.ready_seconds,
            "samples": samples.iter().map(Sample::to_json).collect::<Vec<_>>(),
            "checks": cs.iter().map(|c| json!({"name": c.name, "value": c.value, "target": c.target, "pass": c.pass})).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&doc).context("encoding the results")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    if cs.iter().all(|c| c.pass) {
        println!("soak: all targets met");
        Ok(())
    } else {
        bail!("soak: targets missed (see the verdict above)")
    }
}

async fn soak(
    args: &SoakArgs,
    cfg: hollow::FleetConfig,
    renew: Duration,
    master: &cluster::launcher::MasterChild,
) -> anyhow::Result<(Outcome, Vec<Sample>)> {
    let target = perf::Target::child(master)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    target.version().await.map_err(|e| anyhow!("{e}"))?;
    let master_pid = master.pid.to_string();
    let n = args.nodes;
    let seen: Shared = Arc::new(std::sync::Mutex::new(Seen {
        leases: Some(LeaseTracker::new(
            renew,
            args.lease_slack,
            cfg.node_lease_duration,
        )),
        ..Seen::default()
    }));
    let watchers = [Kind::Leases, Kind::Nodes]
        .map(|k| tokio::spawn(watch_loop(target.client.clone(), k, seen.clone())));

    let t0 = Instant::now();
    let fleet = hollow::start_fleet(target.config.clone(), cfg)
        .await
        .map_err(|e| anyhow!("starting {n} hollow nodes: {e}"))?;
    if let Some(a) = fleet.metrics_addr() {
        println!("fleet: {n} nodes starting; metrics at http://{a}/metrics");
    }
    let metrics = fleet.metrics();
    let sample = |seen: &Shared| -> Sample {
        let st = fleet.stats();
        let m = procstat::sample(&master_pid).ok();
        let h = procstat::sample("self").ok();
        let mut s = lock(seen);
        let expired = s.leases.as_mut().map_or(0, |l| l.sweep(now_micros()));
        let l = s.leases.as_ref();
        Sample {
            t: t0.elapsed().as_secs_f64(),
            master_rss: m.map(|m| m.rss_bytes),
            master_cpu: m.map(|m| m.cpu_seconds),
            hollow_rss: h.map_or(0, |h| h.rss_bytes),
            hollow_cpu: h.map_or(0.0, |h| h.cpu_seconds),
            ready_hollow: st.ready,
            ready_master: s.nodes.ready(),
            leases: l.map_or(0, LeaseTracker::leases),
            leases_expired: expired,
            master_renewals: l.map_or(0, |l| l.renewals),
            master_late: l.map_or(0, |l| l.late),
            master_misses: l.map_or(0, |l| l.misses),
            hollow_renewals: st.lease_renewals,
            hollow_failures: st.lease_failures,
            hollow_misses: st.lease_misses,
            watch_restarts: metrics.watch_restarts.get() + s.restarts,
            flaps: s.nodes.flaps,
            connections: st.connections,
            watches: st.watches,
        }
    };

    // Registration: until the master shows every node Ready.
    let ready_deadline = t0 + args.ready_timeout;
    let mut last_print = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = t0;
    let ready_seconds = loop {
        let (ready_m, total_m) = {
            let s = lock(&seen);
            (s.nodes.ready(), s.nodes.total())
        };
        if ready_m >= n {
            let secs = t0.elapsed().as_secs_f64();
            println!("all {n} nodes Ready on the master after {secs:.1} s");
            break Some(secs);
        }
        if Instant::now() >= ready_deadline {
            println!(
                "only {ready_m}/{n} nodes Ready on the master after {}; soaking anyway",
                format_clock(args.ready_timeout.as_secs_f64())
            );
            break None;
        }
        if Instant::now() >= next_sample {
            samples.push(sample(&seen));
            next_sample += args.interval;
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            let st = fleet.stats();
            println!(
                "  {:>5.1} s: {} registered, {} Ready (hollow view); {total_m} Nodes, {ready_m} Ready (master); {} connections",
                t0.elapsed().as_secs_f64(),
                st.registered,
                st.ready,
                st.connections
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready_nodes = lock(&seen).nodes.ready();

    // The soak itself: sample every interval until the duration is up.
    let end = t0 + args.duration;
    let mut last_minute = 0u64;
    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_sample {
            let s = sample(&seen);
            let minute = (s.t / 60.0) as u64;
            if minute > last_minute {
                last_minute = minute;
                println!(
                    "  {}: Ready {}/{} (hollow/master), master {:.0} MB, hollow {:.0} MB, lease renewals {} (late {}, missed {}), expired now {}, flaps {}, reconnects {}",
                    format_clock(s.t),
                    s.ready_hollow,
                    s.ready_master,
                    s.master_rss.unwrap_or(0) as f64 / MB,
                    s.hollow_rss as f64 / MB,
                    s.master_renewals,
                    s.master_late,
                    s.master_misses,
                    s.leases_expired,
                    s.flaps,
                    s.watch_restarts
                );
            }
            samples.push(s);
            next_sample += args.interval;
            continue;
        }
        tokio::time::sleep((next_sample.min(end) - now).min(Duration::from_secs(1))).await;
    }
    samples.push(sample(&seen));
    for w in &watchers {
        w.abort();
    }
    let errors = lock(&seen).errors.clone();
    if tokio::time::timeout(Duration::from_secs(60), fleet.shutdown())
        .await
        .is_err()
    {
        println!("warning: the fleet took over 60 s to shut down");
    }

    let warm = args.warmup().as_secs_f64();
    let master_pts: Vec<(f64, u64)> = samples
        .iter()
        .filter_map(|s| s.master_rss.map(|r| (s.t, r)))
        .collect();
    let hollow_pts: Vec<(f64, u64)> = samples.iter().map(|s| (s.t, s.hollow_rss)).collect();
    let last = samples.last().cloned();
    let o = Outcome {
        nodes: n,
        ready_seconds,
        ready_nodes,
        master_misses: last.as_ref().map_or(0, |s| s.master_misses),
        hollow_misses: last.as_ref().map_or(0, |s| s.hollow_misses),
        master_trend: trend(&master_pts, warm),
        hollow_trend: trend(&hollow_pts, warm),
    };

    println!();
    println!("=== samples (one row a minute; counts are since the previous row; READY h/m = hollow view / master) ===");
    print!("{}", sample_table(&samples, 60.0));
    if let Some(s) = &last {
        let l = lock(&seen);
        let lt = l.leases.as_ref();
        println!();
        println!("=== totals ===");
        println!(
            "lease renewals seen by the master: {} (hollow kubelets counted {}, {} failed attempts)",
            s.master_renewals, s.hollow_renewals, s.hollow_failures
        );
        if let Some(lt) = lt {
            println!(
                "renewal gap beyond {}s: p50 {} ms, p99 {} ms, max {} ms; late (> {:.1}s): {}; misses: {}",
                renew.as_secs(),
                lt.lateness.quantile_ms(0.5),
                lt.lateness.quantile_ms(0.99),
                lt.lateness.max_ms(),
                (renew + args.lease_slack).as_secs_f64(),
                lt.late,
                lt.misses
            );
            println!(
                "renewTime to watch event at this process: p50 {} ms, p99 {} ms, max {} ms",
                lt.delivery.quantile_ms(0.5),
                lt.delivery.quantile_ms(0.99),
                lt.delivery.max_ms()
            );
        }
        // One lock at a time: format arguments live to the statement's end.
        let (p99, max) = {
            let h = metrics.lateness.lock();
            (h.quantile_ms(0.99), h.max_ms())
        };
        println!(
            "hollow-side lease lateness: p99 {p99} ms, max {max} ms; misses {}",
            s.hollow_misses
        );
        println!(
            "NotReady flaps on the master: {}; watch restarts (hollow + this watcher): {}",
            s.flaps, s.watch_restarts
        );
        let dur = s.t.max(1.0);
        let m0 = samples.first();
        println!(
            "CPU over the whole run: master {}, hollow process {}",
            cores(
                m0.and_then(|f| f.master_cpu),
                s.master_cpu,
                dur - m0.map_or(0.0, |f| f.t)
            )
            .map(|c| format!("{c:.2} cores"))
            .unwrap_or_else(|| "-".into()),
            cores(
                m0.map(|f| f.hollow_cpu),
                Some(s.hollow_cpu),
                dur - m0.map_or(0.0, |f| f.t)
            )
            .map(|c| format!("{c:.2} cores"))
            .unwrap_or_else(|| "-".into()),
        );
    }
    println!();
    println!(
        "=== memory trend (least squares over samples after {}) ===",
        format_clock(warm)
    );
    for (name, t) in [
        ("master", &o.master_trend),
        ("hollow process", &o.hollow_trend),
    ] {
        match t {
            Some(t) => println!(
                "{name:<15} {:+8.1} MB per hour  {:+6.2} % per 30 min  (from {:.0} MB, {} samples)",
                t.mb_per_hour, t.growth_pct_per_30m, t.base_mb, t.samples
            ),
            None => println!("{name:<15} too few samples after the warm-up"),
        }
    }
    if !errors.is_empty() {
        println!();
        println!("watch errors (this process's watchers):");
        for e in errors {
            println!("  {e}");
        }
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at end: {}", load.trim());
    }
    Ok((o, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SoakArgs,
    }

    #[test]
    fn parses_rfc3339() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1970-01-01T00:00:01.5Z", Some(1_500_000)),
            ("2024-02-29T12:00:00.000001Z", Some(1_709_208_000_000_001)),
            (
                "2026-12-03T19:10:00.123456789Z",
                Some(1_796_325_000_123_456),
            ),
            ("2000-03-01T00:00:00Z", Some(951_868_800_000_000)),
            ("2024-02-29T12:00:00+01:00", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-02-29 12:00:00Z", None),
            ("2024-02-29T12:00:00.Z", None),
            ("2024-02-29T1a:00:00Z", None),
            ("", None),
            ("é024-02-29T12:00:00Z", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339_micros(s), want, "{s}");
        }
    }

    const S: i64 = 1_000_000;

    #[test]
    fn tracks_lease_lateness_and_misses() {
        let mut t = LeaseTracker::new(
            Duration::from_secs(10),
            Duration::from_secs(2),
            Duration::from_secs(40),
        );
        // (event, at seconds) -> (renewals, late, misses) after it.
        let steps: Vec<(&str, i64, (u64, u64, u64))> = vec![
            ("a", 0, (0, 0, 0)),
            ("a", 10, (1, 0, 0)),
            ("a", 10, (1, 0, 0)), // the same renewal again (relist)
            ("a", 22, (2, 0, 0)), // exactly interval + slack: on time
            ("a", 35, (3, 1, 0)), // 13 s: late
            ("b", 0, (3, 1, 0)),
            ("b", 41, (4, 2, 1)), // 41 s: late and a miss
        ];
        for (name, at, want) in steps {
            t.observe(name, at * S, at * S + 1000);
            assert_eq!((t.renewals, t.late, t.misses), want, "{name}@{at}");
        }
        assert_eq!(t.max_gap_micros, 41 * S);
        assert_eq!(t.lateness.max_ms(), 31_000);
        assert_eq!(t.delivery.max_ms(), 1);
        // A lease that stops: the sweep counts it once, the late renewal
        // after it does not count it again.
        assert_eq!(t.sweep(70 * S), 0);
        assert_eq!(t.sweep(76 * S), 1);
        assert_eq!(t.sweep(80 * S), 1);
        assert_eq!(t.misses, 2);
        t.observe("a", 90 * S, 90 * S);
        assert_eq!((t.renewals, t.late, t.misses), (5, 3, 2));
        // b, last renewed at 41 s, has now expired too.
        assert_eq!(t.sweep(90 * S), 1);
        assert_eq!(t.misses, 3);
        t.deleted("b");
        assert_eq!(t.leases(), 1);
        assert_eq!(t.sweep(90 * S), 0);
        assert_eq!(t.sweep(200 * S), 1);
        assert_eq!(t.misses, 4);
    }

    #[test]
    fn counts_not_ready_flaps() {
        let mut t = NodeTracker::default();
        for (name, ready) in [
            ("a", false),
            ("a", true),
            ("b", true),
            ("a", true),
            ("a", false),
            ("a", false),
            ("a", true),
            ("b", false),
        ] {
            t.observe(name, ready);
        }
        assert_eq!(t.flaps, 2);
        assert_eq!((t.ready(), t.total()), (1, 2));
        t.deleted("a");
        assert_eq!((t.ready(), t.total()), (0, 1));
        let node = |status: &str| {
            json!({"status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": status}]}})
        };
        assert!(node_ready(&node("True")));
        assert!(!node_ready(&node("Unknown")));
        assert!(!node_ready(&node("False")));
        assert!(!node_ready(&json!({"status": {}})));
    }

    #[test]
    fn fits_lines() {
        type Line = Option<(f64, f64)>;
        let cases: Vec<(Vec<(f64, f64)>, Line)> = vec![
            (vec![(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)], Some((2.0, 1.0))),
            (vec![(0.0, 4.0), (1.0, 4.0)], Some((0.0, 4.0))),
            (
                vec![(0.0, 0.0), (1.0, 2.0), (2.0, 0.0), (3.0, 2.0)],
                Some((0.4, 0.4)),
            ),
            (vec![(1.0, 1.0)], None),
            (vec![(1.0, 1.0), (1.0, 2.0)], None),
            (vec![], None),
        ];
        for (pts, want) in cases {
            let got = least_squares(&pts);
            match (got, want) {
                (Some((a, b)), Some((c, d))) => {
                    assert!(
                        (a - c).abs() < 1e-9 && (b - d).abs() < 1e-9,
                        "{pts:?}: {a} {b}"
                    )
                }
                (g, w) => assert_eq!(g, w, "{pts:?}"),
            }
        }
    }

    #[test]
    fn computes_memory_trends() {
        let mb = |m: f64| (m * MB) as u64;
        // 1000 MB growing 10 MB per hour after a noisy warm-up: 0.5 % per
        // 30 min.
        let growing: Vec<(f64, u64)> = (0..=180)
            .map(|i| {
                let t = i as f64 * 10.0;
                let v = if t < 300.0 {
                    500.0
                } else {
                    1000.0 + 10.0 * (t - 300.0) / 3600.0
                };
                (t, mb(v))
            })
            .collect();
        let t = trend(&growing, 300.0).unwrap();
        assert_eq!(t.samples, 151);
        assert!((t.mb_per_hour - 10.0).abs() < 0.01, "{t:?}");
        assert!((t.base_mb - 1000.0).abs() < 0.01, "{t:?}");
        assert!((t.growth_pct_per_30m - 0.5).abs() < 0.001, "{t:?}");
        // The warm-up counted in: a steep slope.
        assert!(trend(&growing, 0.0).unwrap().growth_pct_per_30m > 10.0);
        // Shrinking memory is negative growth.
        let shrinking: Vec<(f64, u64)> = (0..10)
            .map(|i| (i as f64 * 360.0, mb(100.0 - i as f64)))
            .collect();
        let t = trend(&shrinking, 0.0).unwrap();
        assert!((t.mb_per_hour + 10.0).abs() < 1e-6, "{t:?}");
        assert!(t.growth_pct_per_30m < 0.0);
        // Too few samples after the warm-up.
        assert_eq!(trend(&growing, 1800.0), None);
        assert_eq!(trend(&[], 0.0), None);
    }

    fn outcome() -> Outcome {
        let t = |g: f64| Trend {
            samples: 150,
            mb_per_hour: g * 20.0,
            base_mb: 1000.0,
            growth_pct_per_30m: g,
        };
        Outcome {
            nodes: 10_000,
            ready_seconds: Some(42.0),
            ready_nodes: 10_000,
            master_misses: 0,
            hollow_misses: 0,
            master_trend: Some(t(0.5)),
            hollow_trend: Some(t(-0.1)),
        }
    }

    #[test]
    fn judges_the_targets() {
        let failing = |o: &Outcome| -> Vec<String> {
            checks(o)
                .into_iter()
                .filter(|c| !c.pass)
                .map(|c| c.name)
                .collect()
        };
        assert!(failing(&outcome()).is_empty());
        let t = |g: f64| Trend {
            samples: 3,
            mb_per_hour: 1.0,
            base_mb: 1.0,
            growth_pct_per_30m: g,
        };
        let cases: Vec<(Outcome, &[&str])> = vec![
            (
                Outcome {
                    ready_seconds: Some(60.5),
                    ..outcome()
                },
                &["all Ready"],
            ),
            (
                Outcome {
                    ready_seconds: None,
                    ready_nodes: 9000,
                    ..outcome()
                },
                &["all Ready"],
            ),
            (
                Outcome {
                    ready_seconds: Some(60.0),
                    ..outcome()
                },
                &[],
            ),
            (
                Outcome {
                    master_misses: 1,
                    ..outcome()
                },
                &["lease misses"],
            ),
            (
                Outcome {
                    hollow_misses: 3,
                    ..outcome()
                },
                &["lease misses"],
            ),
            (
                Outcome {
                    master_trend: Some(t(2.0)),
                    ..outcome()
                },
                &["master memory growth"],
            ),
            (
                Outcome {
                    master_trend: Some(t(1.99)),
                    ..outcome()
                },
                &[],
            ),
            (
                Outcome {
                    hollow_trend: None,
                    ..outcome()
                },
                &["hollow process memory growth"],
            ),
            (
                Outcome {
                    hollow_trend: Some(t(5.0)),
                    master_trend: Some(t(3.0)),
                    ..outcome()
                },
                &["master memory growth", "hollow process memory growth"],
            ),
        ];
        for (o, want) in cases {
            assert_eq!(failing(&o), want, "{o:?}");
        }
        let table = checks_table(&checks(&Outcome {
            ready_seconds: None,
            ready_nodes: 9000,
            ..outcome()
        }));
        assert!(table.contains("9000/10000 Ready"), "{table}");
        assert!(
            table.contains("+0.50 % per 30 min (+10.0 MB/h from 1000 MB, 150 samples)"),
            "{table}"
        );
        assert!(
            table.lines().nth(1).is_some_and(|l| l.ends_with("FAIL")),
            "{table}"
        );
    }

    fn sample(t: f64, renewals: u64) -> Sample {
        Sample {
            t,
            master_rss: Some((1000.0 * MB) as u64),
            master_cpu: Some(t * 0.5),
            hollow_rss: (2000.0 * MB) as u64,
            hollow_cpu: t * 0.25,
            ready_hollow: 10,
            ready_master: 9,
            leases: 10,
            leases_expired: 0,
            master_renewals: renewals,
            master_late: 0,
            master_misses: 0,
            hollow_renewals: renewals,
            hollow_failures: 0,
            hollow_misses: 0,
            watch_restarts: 0,
            flaps: 0,
            connections: 20,
            watches: 50,
        }
    }

    #[test]
    fn tables_one_row_a_minute() {
        let samples: Vec<Sample> = (0..=19).map(|i| sample(i as f64 * 10.0, i * 10)).collect();
        let t = sample_table(&samples, 60.0);
        let rows: Vec<&str> = t.lines().collect();
        // header, 0:00, 1:00, 2:00, 3:00, and the last sample 3:10.
        assert_eq!(rows.len(), 6, "{t}");
        assert!(rows[0].contains("RENEWALS"));
        assert!(rows[1].trim_start().starts_with("0:00"), "{t}");
        assert!(rows[2].trim_start().starts_with("1:00"), "{t}");
        assert!(rows[2].contains("  60  "), "{t}");
        assert!(rows[2].contains("0.50") && rows[2].contains("0.25"), "{t}");
        assert!(rows[5].trim_start().starts_with("3:10"), "{t}");
        assert!(rows[5].contains("  10  "), "{t}");
        assert!(rows[1].contains("10/9"), "{t}");
        assert_eq!(format_clock(3725.0), "1:02:05");
        assert_eq!(format_clock(59.6), "1:00");
    }

    #[test]
    fn parses_flags_and_plans_connections() {
        let a = Cmd::try_parse_from(["x"]).unwrap().args;
        assert_eq!(a.nodes, 10_000);
        assert_eq!(a.duration, Duration::from_secs(1800));
        assert_eq!(a.interval, Duration::from_secs(10));
        assert_eq!(a.warmup(), Duration::from_secs(300));
        // 10,000 proxies x 3 streams on 81 usable streams each: 371.
        assert_eq!(a.conn_plan(90), ConnPlan::ProxiesShared(371));
        assert_eq!(a.conn_plan(90).connections(10_000, 90), 10_371);
        let cfg = fleet_config(&a, a.conn_plan(90));
        assert!(cfg.validate().is_ok(), "{:?}", cfg.validate());
        assert_eq!(cfg.shared_proxy_connections, Some(371));
        assert_eq!(cfg.shared_connections, None);
        let a = Cmd::try_parse_from(["x", "--nodes", "1000", "--duration", "3m"])
            .unwrap()
            .args;
        assert_eq!(a.warmup(), Duration::from_secs(30));
        assert_eq!(a.conn_plan(90), ConnPlan::ProxiesShared(64));
        assert_eq!(
            fleet_config(&a, a.conn_plan(90)).pod_cidr.to_string(),
            "10.64.0.0/11"
        );
        let a = Cmd::try_parse_from(["x", "--no-proxy"]).unwrap().args;
        assert_eq!(a.conn_plan(90), ConnPlan::NoProxy);
        assert!(!fleet_config(&a, ConnPlan::NoProxy).morph.proxy);
        let a = Cmd::try_parse_from(["x", "--shared-connections", "200", "--warmup", "1m"])
            .unwrap()
            .args;
        assert_eq!(a.conn_plan(90), ConnPlan::AllShared(200));
        assert_eq!(a.warmup(), Duration::from_secs(60));
        for bad in [
            vec!["x", "--nodes", "0"],
            vec!["x", "--duration", "0s"],
            vec!["x", "--duration", "soon"],
            vec!["x", "--shared-connections", "4", "--no-proxy"],
            vec!["x", "--proxy-connections", "0"],
        ] {
            assert!(Cmd::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }
}
