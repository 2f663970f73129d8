//! The API server's Prometheus metrics with kube-apiserver's names, bounded
//! label sets and bucket boundaries, rendered with `prometheus-client` as
//! the text format (0.0.4) the real server serves, so tools scraping a real
//! master read ours the same way.
//!
//! Requests per client (user and user agent) are kept apart from
//! `/metrics`, bounded to [`DEFAULT_CLIENT_LIMIT`] clients plus an "other"
//! bucket, and served as JSON under `/debug/requests` (tests check a
//! client's traffic profile with them). No lock is shared by all requests:
//! the metric families take a read lock, each client its own lock.

use parking_lot::{Mutex, RwLock};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// kube-apiserver v1.24 `apiserver_request_duration_seconds` buckets.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Distinct (user, user agent) pairs counted one by one; later ones go to
/// the "other" bucket.
pub const DEFAULT_CLIENT_LIMIT: usize = 2000;

/// Labels of one request, shared by the counter and the histogram.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestLabels {
    pub verb: &'static str,
    pub dry_run: &'static str,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: &'static str,
    pub component: &'static str,
}

/// `apiserver_request_total` labels, in the (sorted) order Go's client
/// renders them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TotalLabels {
    code: u16,
    component: &'static str,
    dry_run: &'static str,
    group: String,
    resource: String,
    scope: &'static str,
    subresource: String,
    verb: &'static str,
    version: String,
}

/// `apiserver_request_duration_seconds` labels (sorted; `le` follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DurationLabels {
    component: &'static str,
    dry_run: &'static str,
    group: String,
    resource: String,
    scope: &'static str,
    subresource: String,
    verb: &'static str,
    version: String,
}

/// `apiserver_longrunning_requests` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LongrunningLabels {
    component: &'static str,
    group: String,
    resource: String,
    scope: &'static str,
    subresource: &'static str,
    verb: &'static str,
    version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestKindLabels {
    request_kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

/// Requests of one client, for traffic-profile checks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientLabels {
    pub user: String,
    pub user_agent: String,
    pub verb: &'static str,
    pub group: String,
    pub resource: String,
    pub subresource: String,
}

/// (verb, group, resource, subresource) → requests.
type ClientRequests = HashMap<(&'static str, String, String, String), u64>;

/// One client's counts, locked on their own.
type ClientSlot = Arc<Mutex<ClientRequests>>;

/// A request kind and its count, for the JSON rendering.
type Row = (&'static str, String, String, String, u64);

/// Per-client request counts, bounded to `limit` distinct clients.
struct ClientCounts {
    limit: usize,
    /// user → user agent → counts.
    clients: RwLock<HashMap<String, HashMap<String, ClientSlot>>>,
    known: AtomicU64,
    other: Mutex<ClientRequests>,
}

impl ClientCounts {
    fn new(limit: usize) -> ClientCounts {
        ClientCounts {
            limit,
            clients: RwLock::new(HashMap::new()),
            known: AtomicU64::new(0),
            other: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, user: &str, user_agent: &str) -> Option<ClientSlot> {
        if let Some(c) = self
            .clients
            .read()
            .get(user)
            .and_then(|m| m.get(user_agent))
        {
            return Some(c.clone());
        }
        let mut clients = self.clients.write();
        if let Some(c) = clients.get(user).and_then(|m| m.get(user_agent)) {
            return Some(c.clone());
        }
        if self.known.load(Ordering::Relaxed) >= self.limit as u64 {
            return None;
        }
        self.known.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Mutex::new(HashMap::new()));
        clients
            .entry(user.to_string())
            .or_default()
            .insert(user_agent.to_string(), slot.clone());
        Some(slot)
    }

    fn count(&self, c: ClientLabels) {
        let key = (c.verb, c.group, c.resource, c.subresource);
        match self.slot(&c.user, &c.user_agent) {
            Some(slot) => *slot.lock().entry(key).or_insert(0) += 1,
            None => *self.other.lock().entry(key).or_insert(0) += 1,
        }
    }

    /// Every counted (client, request kind), sorted.
    fn snapshot(&self) -> Vec<(ClientLabels, u64)> {
        let mut out = Vec::new();
        for (user, agents) in self.clients.read().iter() {
            for (ua, slot) in agents {
                for ((verb, group, resource, sub), n) in slot.lock().iter() {
                    out.push((
                        ClientLabels {
                            user: user.clone(),
                            user_agent: ua.clone(),
                            verb,
                            group: group.clone(),
                            resource: resource.clone(),
                            subresource: sub.clone(),
                        },
                        *n,
                    ));
                }
            }
        }
        out.sort();
        out
    }
}

fn requests_json(mut rows: Vec<Row>) -> (Value, u64) {
    rows.sort();
    let total = rows.iter().map(|r| r.4).sum();
    let list = rows
        .into_iter()
        .map(|(verb, group, resource, subresource, count)| {
            json!({"verb": verb, "group": group, "resource": resource, "subresource": subresource, "count": count})
        })
        .collect();
    (Value::Array(list), total)
}

/// All metrics of one API server. Cheap to share behind an `Arc`.
pub struct Metrics {
    registry: Registry,
    requests: Family<TotalLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    longrunning: Family<LongrunningLabels, Gauge>,
    storage_objects: Family<ResourceLabels, Gauge>,
    inflight_readonly: Gauge,
    inflight_mutating: Gauge,
    open_watches: AtomicI64,
    clients: ClientCounts,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Decrements an in-flight gauge when dropped.
pub struct InflightGuard<'a> {
    gauge: &'a Gauge,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(REQUEST_DURATION_BUCKETS.iter().copied())
}

/// Counter families whose text-format name carries `_total` (OpenMetrics
/// names the family without it).
const COUNTERS: &[&str] = &["apiserver_request"];

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::with_client_limit(DEFAULT_CLIENT_LIMIT)
    }

    /// Metrics counting at most `limit` distinct clients one by one.
    pub fn with_client_limit(limit: usize) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<TotalLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code",
            requests.clone(),
        );
        let durations =
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "apiserver_request_duration_seconds",
            "[STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component",
            durations.clone(),
        );
        let inflight = Family::<RequestKindLabels, Gauge>::default();
        registry.register(
            "apiserver_current_inflight_requests",
            "[STABLE] Maximal number of currently used inflight request limit of this apiserver per request kind in last second",
            inflight.clone(),
        );
        let inflight_mutating = inflight.get_or_create_owned(&RequestKindLabels {
            request_kind: "mutating",
        });
        let inflight_readonly = inflight.get_or_create_owned(&RequestKindLabels {
            request_kind: "readOnly",
        });
        let longrunning = Family::<LongrunningLabels, Gauge>::default();
        registry.register(
            "apiserver_longrunning_requests",
            "[STABLE] Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way",
            longrunning.clone(),
        );
        let storage_objects = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "apiserver_storage_objects",
            "[STABLE] Number of stored objects at the time of last check split by kind",
            storage_objects.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            longrunning,
            storage_objects,
            inflight_readonly,
            inflight_mutating,
            open_watches: AtomicI64::new(0),
            clients: ClientCounts::new(limit),
        }
    }

    /// Counts a request in flight until the guard drops.
    pub fn inflight(&self, mutating: bool) -> InflightGuard<'_> {
        let gauge = if mutating {
            &self.inflight_mutating
        } else {
            &self.inflight_readonly
        };
        gauge.inc();
        InflightGuard { gauge }
    }

    /// Records a finished request.
    pub fn observe(
        &self,
        labels: RequestLabels,
        code: u16,
        seconds: f64,
        client: Option<ClientLabels>,
    ) {
        // Watches are long-running: their duration is not a latency.
        if labels.verb != "WATCH" {
            self.durations
                .get_or_create(&DurationLabels {
                    component: labels.component,
                    dry_run: labels.dry_run,
                    group: labels.group.clone(),
                    resource: labels.resource.clone(),
                    scope: labels.scope,
                    subresource: labels.subresource.clone(),
                    verb: labels.verb,
                    version: labels.version.clone(),
                })
                .observe(seconds);
        }
        self.requests
            .get_or_create(&TotalLabels {
                code,
                component: labels.component,
                dry_run: labels.dry_run,
                group: labels.group,
                resource: labels.resource,
                scope: labels.scope,
                subresource: labels.subresource,
                verb: labels.verb,
                version: labels.version,
            })
            .inc();
        if let Some(c) = client {
            self.clients.count(c);
        }
    }

    fn longrunning_labels(group: &str, resource: &str, scope: &'static str) -> LongrunningLabels {
        let version = apimachinery::registry::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == resource)
            .map(|r| r.version)
            .unwrap_or("v1");
        LongrunningLabels {
            component: "apiserver",
            group: group.to_string(),
            resource: resource.to_string(),
            scope,
            subresource: "",
            verb: "WATCH",
            version,
        }
    }

    /// Tracks an open watch (`apiserver_longrunning_requests`).
    pub fn watch_started(&self, group: &str, resource: &str, scope: &'static str) {
        self.longrunning
            .get_or_create(&Self::longrunning_labels(group, resource, scope))
            .inc();
        self.open_watches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn watch_ended(&self, group: &str, resource: &str, scope: &'static str) {
        self.longrunning
            .get_or_create(&Self::longrunning_labels(group, resource, scope))
            .dec();
        self.open_watches.fetch_sub(1, Ordering::Relaxed);
    }

    /// Number of open watches right now.
    pub fn open_watches(&self) -> i64 {
        self.open_watches.load(Ordering::Relaxed)
    }

    /// Requests counted for clients whose user agent starts with `prefix`
    /// (clients beyond the limit are only in the "other" bucket).
    pub fn client_requests(&self, user_agent_prefix: &str) -> Vec<(ClientLabels, u64)> {
        self.clients
            .snapshot()
            .into_iter()
            .filter(|(k, _)| k.user_agent.starts_with(user_agent_prefix))
            .collect()
    }

    /// `/debug/requests`: per-client request counts, bounded.
    pub fn clients_json(&self) -> Value {
        let mut by_client: Vec<((String, String), Vec<Row>)> = Vec::new();
        for (c, n) in self.clients.snapshot() {
            let key = (c.user, c.user_agent);
            let row = (c.verb, c.group, c.resource, c.subresource, n);
            match by_client.last_mut() {
                Some((k, rows)) if *k == key => rows.push(row),
                _ => by_client.push((key, vec![row])),
            }
        }
        let clients: Vec<Value> = by_client
            .into_iter()
            .map(|((user, ua), rows)| {
                let (requests, total) = requests_json(rows);
                json!({"user": user, "userAgent": ua, "total": total, "requests": requests})
            })
            .collect();
        let other_rows: Vec<_> = self
            .clients
            .other
            .lock()
            .iter()
            .map(|((v, g, r, s), n)| (*v, g.clone(), r.clone(), s.clone(), *n))
            .collect();
        let (other, other_total) = requests_json(other_rows);
        json!({
            "kind": "ClientRequestCounts",
            "limit": self.clients.limit,
            "clients": clients,
            "other": {"total": other_total, "requests": other},
        })
    }

    /// The text exposition. `storage_objects` is (resource, count);
    /// `process` is the process's CPU seconds and resident bytes.
    pub fn render(
        &self,
        storage_objects: &[(String, usize)],
        process: Option<ProcessStats>,
    ) -> String {
        for (resource, n) in storage_objects {
            self.storage_objects
                .get_or_create(&ResourceLabels {
                    resource: resource.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        let mut open = String::with_capacity(64 * 1024);
        if prometheus_client::encoding::text::encode_registry(&mut open, &self.registry).is_err() {
            open.push_str("# encoding the apiserver metrics failed\n");
        }
        let mut out = to_text_format(&open, COUNTERS);
        if let Some(p) = process {
            out.push_str("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n");
            out.push_str("# TYPE process_cpu_seconds_total counter\n");
            let _ = writeln!(out, "process_cpu_seconds_total {}", p.cpu_seconds);
            out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
            let _ = writeln!(out, "process_resident_memory_bytes {}", p.resident_bytes);
            out.push_str("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n");
            out.push_str("# TYPE process_start_time_seconds gauge\n");
            let _ = writeln!(out, "process_start_time_seconds {}", p.start_time_seconds);
        }
        out
    }
}

/// OpenMetrics text (as `prometheus-client` writes it, without `# EOF`) to
/// the 0.0.4 text format kube-apiserver serves: a counter family's `HELP`
/// and `TYPE` lines name it with its `_total` suffix, like its samples.
pub fn to_text_format(openmetrics: &str, counters: &[&str]) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        let mut fixed = None;
        for kind in ["# HELP ", "# TYPE "] {
            if let Some(rest) = line.strip_prefix(kind) {
                if let Some((name, tail)) = rest.split_once(' ') {
                    if counters.contains(&name) {
                        fixed = Some(format!("{kind}{name}_total {tail}"));
                    }
                }
            }
        }
        match fixed {
            Some(f) => out.push_str(&f),
            None => match go_bucket_line(line) {
                Some(b) => out.push_str(&b),
                None => out.push_str(line),
            },
        }
        out.push('\n');
    }
    out
}

/// A bucket sample as Go's client writes it: `le` last, formatted like
/// `strconv.FormatFloat(v, 'g', -1, 64)` ("1", not "1.0").
/// `prometheus-client` writes `name_bucket{le="1.0",a="b"} n`.
fn go_bucket_line(line: &str) -> Option<String> {
    let (name, rest) = line.split_once("_bucket{le=\"")?;
    let (le, rest) = rest.split_once('"')?;
    let le = le.strip_suffix(".0").unwrap_or(le);
    Some(match rest.strip_prefix(',') {
        Some(labels) => {
            let (labels, value) = labels.rsplit_once('}')?;
            format!("{name}_bucket{{{labels},le=\"{le}\"}}{value}")
        }
        None => format!("{name}_bucket{{le=\"{le}\"{rest}"),
    })
}

/// CPU and memory of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads `/proc/self/stat`; `None` where /proc is not available.
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let boot_uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        parse_proc_stat(&stat, boot_uptime, now_unix())
    }
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses `/proc/<pid>/stat` (clock ticks assumed 100 Hz, page size 4 KiB,
/// as on Linux x86_64).
pub fn parse_proc_stat(stat: &str, uptime_seconds: f64, now_unix: f64) -> Option<ProcessStats> {
    let fields = procstat::StatFields::parse(stat)?;
    let starttime: u64 = fields.get(22)?;
    let rss_pages: u64 = fields.get(24)?;
    let boot_time = now_unix - uptime_seconds;
    Some(ProcessStats {
        cpu_seconds: fields.cpu_seconds()?,
        resident_bytes: rss_pages.saturating_mul(procstat::PAGE_SIZE),
        start_time_seconds: boot_time + starttime as f64 / procstat::CLOCK_TICKS_PER_SECOND,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn labels(verb: &'static str) -> RequestLabels {
        RequestLabels {
            verb,
            dry_run: "",
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            subresource: String::new(),
            scope: "namespace",
            component: "apiserver",
        }
    }

    fn client(user: &str, ua: &str) -> ClientLabels {
        ClientLabels {
            user: user.into(),
            user_agent: ua.into(),
            verb: "GET",
            group: String::new(),
            resource: "pods".into(),
            subresource: String::new(),
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe(labels("LIST"), 200, 0.03, None);
        m.observe(labels("LIST"), 200, 0.5, None);
        let text = m.render(&[], None);
        assert!(text.contains("apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\",le=\"0.025\"} 0"), "{text}");
        assert!(text.contains("le=\"0.05\"} 1"));
        assert!(text.contains("le=\"0.6\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 2"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn counters_are_typed_under_their_sample_names() {
        let m = Metrics::new();
        m.observe(labels("GET"), 200, 0.001, None);
        let text = m.render(&[("pods".into(), 3)], None);
        assert!(
            text.contains("# TYPE apiserver_request_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP apiserver_request_total [STABLE]"),
            "{text}"
        );
        assert!(text.contains("# TYPE apiserver_request_duration_seconds histogram\n"));
        assert!(text.contains("apiserver_storage_objects{resource=\"pods\"} 3"));
        // Per-client series are not in /metrics.
        assert!(!text.contains("user_agent"));
    }

    #[test]
    fn text_format_conversion() {
        let cases: &[(&str, &str)] = &[
            (
                "# HELP x help text\n# TYPE x counter\nx_total 1\n",
                "# HELP x_total help text\n# TYPE x_total counter\nx_total 1\n",
            ),
            ("# TYPE y gauge\ny 2\n", "# TYPE y gauge\ny 2\n"),
            ("# TYPE xy counter\n", "# TYPE xy counter\n"),
            (
                "h_bucket{le=\"0.005\",a=\"x}y\"} 3\n",
                "h_bucket{a=\"x}y\",le=\"0.005\"} 3\n",
            ),
            (
                "h_bucket{le=\"1.0\",a=\"b\"} 3\n",
                "h_bucket{a=\"b\",le=\"1\"} 3\n",
            ),
            ("h_bucket{le=\"+Inf\"} 3\n", "h_bucket{le=\"+Inf\"} 3\n"),
            ("h_bucket{le=\"10.0\"} 1\n", "h_bucket{le=\"10\"} 1\n"),
        ];
        for (input, want) in cases {
            assert_eq!(to_text_format(input, &["x"]), *want);
        }
    }

    #[test]
    fn watches_are_counted_but_not_timed() {
        let m = Metrics::new();
        m.observe(labels("WATCH"), 200, 100.0, None);
        let text = m.render(&[], None);
        assert!(text.contains("verb=\"WATCH\",version=\"v1\"} 1"));
        assert!(!text.contains("apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"WATCH\""));
        m.watch_started("", "pods", "namespace");
        m.watch_started("", "pods", "namespace");
        m.watch_ended("", "pods", "namespace");
        assert_eq!(m.open_watches(), 1);
        assert!(m.render(&[], None).contains("apiserver_longrunning_requests{component=\"apiserver\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"WATCH\",version=\"v1\"} 1"));
    }

    #[test]
    fn clients_are_counted_apart_and_bounded() {
        let m = Metrics::with_client_limit(2);
        for (user, ua, times) in [
            ("a\"b", "kubectl/v1.37 (linux, amd64)", 2),
            ("system:node:n1", "kubelet/v1.24", 1),
            ("system:node:n2", "kubelet/v1.24", 3),
            ("system:node:n3", "kubelet/v1.24", 1),
        ] {
            for _ in 0..times {
                m.observe(labels("GET"), 200, 0.001, Some(client(user, ua)));
            }
        }
        let kubectl = m.client_requests("kubectl");
        assert_eq!(kubectl.len(), 1);
        assert_eq!(kubectl[0].1, 2);
        assert_eq!(kubectl[0].0.user, "a\"b");
        // Only the first two clients are counted one by one.
        assert_eq!(m.client_requests("kubelet").len(), 1);
        let j = m.clients_json();
        assert_eq!(j["limit"], 2);
        assert_eq!(j["clients"].as_array().unwrap().len(), 2);
        assert_eq!(j["clients"][0]["user"], "a\"b");
        assert_eq!(j["clients"][0]["total"], 2);
        assert_eq!(j["clients"][0]["requests"][0]["resource"], "pods");
        assert_eq!(j["other"]["total"], 4);
    }

    #[test]
    fn parses_proc_stat() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 4 0 1000 123456789 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let p = parse_proc_stat(stat, 100.0, 1000.0).expect("parse");
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.resident_bytes, 2560 * 4096);
        assert_eq!(p.start_time_seconds, 910.0);
        assert!(parse_proc_stat("garbage", 1.0, 1.0).is_none());
    }

    #[test]
    fn inflight_guard_decrements() {
        let m = Metrics::new();
        {
            let _g = m.inflight(true);
            assert!(m.render(&[], None).contains("request_kind=\"mutating\"} 1"));
        }
        assert!(m.render(&[], None).contains("request_kind=\"mutating\"} 0"));
    }
}
