//! The API server's Prometheus metrics, with the real kube-apiserver names,
//! labels and bucket boundaries, exposed in the text format (0.0.4) that the
//! real server serves, so that tools scraping a real master read ours the
//! same way. Also counts requests per client (user and user agent) so tests
//! can check a client's traffic profile.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};

/// kube-apiserver v1.24 `apiserver_request_duration_seconds` buckets.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

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

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; REQUEST_DURATION_BUCKETS.len()];
        }
        for (i, b) in REQUEST_DURATION_BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
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

/// (group, resource, subresource, scope) of open watches.
type WatchKey = (String, String, String, &'static str);

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(RequestLabels, u16), u64>,
    durations: BTreeMap<RequestLabels, Histogram>,
    clients: BTreeMap<ClientLabels, u64>,
}

/// All metrics of one API server. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    inflight_readonly: AtomicI64,
    inflight_mutating: AtomicI64,
    longrunning: Mutex<BTreeMap<WatchKey, i64>>,
}

/// Decrements an in-flight gauge when dropped.
pub struct InflightGuard<'a> {
    gauge: &'a AtomicI64,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.gauge.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts a request in flight until the guard drops.
    pub fn inflight(&self, mutating: bool) -> InflightGuard<'_> {
        let gauge = if mutating {
            &self.inflight_mutating
        } else {
            &self.inflight_readonly
        };
        gauge.fetch_add(1, Ordering::Relaxed);
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
        let mut inner = self.inner.lock();
        *inner.requests.entry((labels.clone(), code)).or_insert(0) += 1;
        // Watches are long-running: their duration is not a latency.
        if labels.verb != "WATCH" {
            inner.durations.entry(labels).or_default().observe(seconds);
        }
        if let Some(c) = client {
            *inner.clients.entry(c).or_insert(0) += 1;
        }
    }

    /// Tracks an open watch (`apiserver_longrunning_requests`).
    pub fn watch_started(&self, group: &str, resource: &str, scope: &'static str) {
        let key = (
            group.to_string(),
            resource.to_string(),
            String::new(),
            scope,
        );
        *self.longrunning.lock().entry(key).or_insert(0) += 1;
    }

    pub fn watch_ended(&self, group: &str, resource: &str, scope: &'static str) {
        let key = (
            group.to_string(),
            resource.to_string(),
            String::new(),
            scope,
        );
        if let Some(n) = self.longrunning.lock().get_mut(&key) {
            *n -= 1;
        }
    }

    /// Number of open watches right now.
    pub fn open_watches(&self) -> i64 {
        self.longrunning.lock().values().sum()
    }

    /// Requests counted for clients whose user agent starts with `prefix`.
    pub fn client_requests(&self, user_agent_prefix: &str) -> Vec<(ClientLabels, u64)> {
        self.inner
            .lock()
            .clients
            .iter()
            .filter(|(k, _)| k.user_agent.starts_with(user_agent_prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The text exposition. `storage_objects` is (resource, count);
    /// `process` is the process's CPU seconds and resident bytes.
    pub fn render(
        &self,
        storage_objects: &[(String, usize)],
        process: Option<ProcessStats>,
    ) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let inner = self.inner.lock();
        out.push_str("# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((l, code), n) in &inner.requests {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",component=\"{}\",dry_run=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"}} {n}",
                l.component, l.dry_run, esc(&l.group), esc(&l.resource), l.scope, esc(&l.subresource), l.verb, esc(&l.version)
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (l, h) in &inner.durations {
            let labels = format!(
                "component=\"{}\",dry_run=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
                l.component, l.dry_run, esc(&l.group), esc(&l.resource), l.scope, esc(&l.subresource), l.verb, esc(&l.version)
            );
            for (i, b) in REQUEST_DURATION_BUCKETS.iter().enumerate() {
                let c = h.counts.get(i).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {c}",
                    fmt_le(*b)
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP kubemark_apiserver_client_requests_total Requests per client (user, user agent), verb and resource.\n");
        out.push_str("# TYPE kubemark_apiserver_client_requests_total counter\n");
        for (c, n) in &inner.clients {
            let _ = writeln!(
                out,
                "kubemark_apiserver_client_requests_total{{group=\"{}\",resource=\"{}\",subresource=\"{}\",user=\"{}\",user_agent=\"{}\",verb=\"{}\"}} {n}",
                esc(&c.group), esc(&c.resource), esc(&c.subresource), esc(&c.user), esc(&c.user_agent), c.verb
            );
        }
        drop(inner);
        out.push_str("# HELP apiserver_current_inflight_requests [STABLE] Maximal number of currently used inflight request limit of this apiserver per request kind in last second.\n");
        out.push_str("# TYPE apiserver_current_inflight_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"mutating\"}} {}",
            self.inflight_mutating.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"readOnly\"}} {}",
            self.inflight_readonly.load(Ordering::Relaxed)
        );
        out.push_str("# HELP apiserver_longrunning_requests [STABLE] Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.\n");
        out.push_str("# TYPE apiserver_longrunning_requests gauge\n");
        for ((group, resource, sub, scope), n) in self.longrunning.lock().iter() {
            let version = apimachinery::registry::RESOURCES
                .iter()
                .find(|r| r.group == group && r.plural == resource)
                .map(|r| r.version)
                .unwrap_or("v1");
            let _ = writeln!(
                out,
                "apiserver_longrunning_requests{{component=\"apiserver\",group=\"{}\",resource=\"{}\",scope=\"{scope}\",subresource=\"{}\",verb=\"WATCH\",version=\"{version}\"}} {n}",
                esc(group), esc(resource), esc(sub)
            );
        }
        out.push_str("# HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of last check split by kind.\n");
        out.push_str("# TYPE apiserver_storage_objects gauge\n");
        for (resource, n) in storage_objects {
            let _ = writeln!(
                out,
                "apiserver_storage_objects{{resource=\"{}\"}} {n}",
                esc(resource)
            );
        }
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

fn fmt_le(b: f64) -> String {
    // Go's strconv.FormatFloat(b, 'f', -1, 64): "1", "0.005", "1.25".
    let s = format!("{b}");
    s
}

/// Escapes a label value for the text format.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
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

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe(labels("LIST"), 200, 0.03, None);
        m.observe(labels("LIST"), 200, 0.5, None);
        let text = m.render(&[], None);
        assert!(text.contains("apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\",le=\"0.025\"} 0"));
        assert!(text.contains("le=\"0.05\"} 1"));
        assert!(text.contains("le=\"0.6\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 2"));
    }

    #[test]
    fn watches_are_counted_but_not_timed() {
        let m = Metrics::new();
        m.observe(labels("WATCH"), 200, 100.0, None);
        let text = m.render(&[], None);
        assert!(text.contains("verb=\"WATCH\",version=\"v1\"} 1"));
        assert!(!text.contains("apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"WATCH\""));
    }

    #[test]
    fn client_labels_escape_quotes() {
        let m = Metrics::new();
        let c = ClientLabels {
            user: "a\"b".into(),
            user_agent: "kubectl/v1.37 (linux, amd64)".into(),
            verb: "GET",
            group: String::new(),
            resource: "pods".into(),
            subresource: String::new(),
        };
        m.observe(labels("GET"), 200, 0.001, Some(c));
        let text = m.render(&[], None);
        assert!(text.contains("user=\"a\\\"b\",user_agent=\"kubectl/v1.37 (linux, amd64)\""));
        assert_eq!(m.client_requests("kubectl").len(), 1);
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
