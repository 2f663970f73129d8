//! The fleet's self-metrics (Prometheus text on `/metrics`): nodes
//! registered and ready, pods, requests by component/verb/resource/code,
//! lease renewal latency, lateness and misses, connections and streams,
//! what the hollow proxies programmed, and the process's RSS and CPU.

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of one API request made by a hollow component.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub component: &'static str,
    pub verb: &'static str,
    pub resource: &'static str,
    pub code: u16,
}

/// Lease renewal lateness buckets (seconds) for quantiles in stats.
const LATENESS_BUCKETS_MS: &[u64] = &[
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000,
];

/// A small fixed-bucket histogram for quantiles (pure).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHist {
    counts: Vec<u64>,
    total: u64,
    max_ms: u64,
}

impl LatencyHist {
    pub fn observe_ms(&mut self, ms: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; LATENESS_BUCKETS_MS.len() + 1];
        }
        let i = LATENESS_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENESS_BUCKETS_MS.len());
        self.counts[i] += 1;
        self.total += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max_ms(&self) -> u64 {
        self.max_ms
    }

    /// Upper bound of the bucket holding quantile `q` (0..1), in ms; the
    /// maximum seen for the overflow bucket.
    pub fn quantile_ms(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return LATENESS_BUCKETS_MS
                    .get(i)
                    .copied()
                    .unwrap_or(self.max_ms)
                    .min(self.max_ms.max(1));
            }
        }
        self.max_ms
    }
}

pub struct Metrics {
    registry: Registry,
    pub nodes: Gauge,
    pub nodes_registered: Gauge,
    pub nodes_ready: Gauge,
    pub pods: Gauge,
    pub pods_running: Gauge,
    pub requests: Family<RequestLabels, Counter>,
    pub lease_renew_seconds: Histogram,
    pub lease_lateness_seconds: Histogram,
    pub lease_renewals: Counter,
    pub lease_failures: Counter,
    pub lease_misses: Counter,
    pub watches: Gauge,
    pub watch_restarts: Counter,
    pub connections: Gauge,
    pub streams: Gauge,
    pub proxy_services: Gauge,
    pub proxy_endpoints: Gauge,
    pub proxy_rules: Gauge,
    pub npd_problems: Gauge,
    rss_bytes: Gauge,
    cpu_seconds: Gauge<f64, AtomicU64>,
    pub lateness: Mutex<LatencyHist>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kubemark_hollow");
        let m = Metrics {
            registry: Registry::default(),
            nodes: Gauge::default(),
            nodes_registered: Gauge::default(),
            nodes_ready: Gauge::default(),
            pods: Gauge::default(),
            pods_running: Gauge::default(),
            requests: Family::default(),
            lease_renew_seconds: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            lease_lateness_seconds: Histogram::new([
                0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 40.0,
            ]),
            lease_renewals: Counter::default(),
            lease_failures: Counter::default(),
            lease_misses: Counter::default(),
            watches: Gauge::default(),
            watch_restarts: Counter::default(),
            connections: Gauge::default(),
            streams: Gauge::default(),
            proxy_services: Gauge::default(),
            proxy_endpoints: Gauge::default(),
            proxy_rules: Gauge::default(),
            npd_problems: Gauge::default(),
            rss_bytes: Gauge::default(),
            cpu_seconds: Gauge::default(),
            lateness: Mutex::new(LatencyHist::default()),
        };
        registry.register("nodes", "Hollow nodes in this process", m.nodes.clone());
        registry.register(
            "nodes_registered",
            "Hollow nodes whose Node object is registered",
            m.nodes_registered.clone(),
        );
        registry.register(
            "nodes_ready",
            "Hollow nodes that reported Ready",
            m.nodes_ready.clone(),
        );
        registry.register("pods", "Pods bound to hollow nodes", m.pods.clone());
        registry.register(
            "pods_running",
            "Pods whose containers run on hollow nodes",
            m.pods_running.clone(),
        );
        registry.register(
            "requests",
            "API requests by component, verb, resource and HTTP code (0: no response)",
            m.requests.clone(),
        );
        registry.register(
            "lease_renew_duration_seconds",
            "Time a lease renewal request took",
            m.lease_renew_seconds.clone(),
        );
        registry.register(
            "lease_renew_lateness_seconds",
            "How long after its due time a lease renewal completed",
            m.lease_lateness_seconds.clone(),
        );
        registry.register(
            "lease_renewals",
            "Successful lease renewals",
            m.lease_renewals.clone(),
        );
        registry.register(
            "lease_renew_failures",
            "Failed lease renewal attempts",
            m.lease_failures.clone(),
        );
        registry.register(
            "lease_renew_misses",
            "Renewals that came after the previous renewal had expired",
            m.lease_misses.clone(),
        );
        registry.register("watches", "Open watch streams", m.watches.clone());
        registry.register(
            "watch_restarts",
            "Watches re-established after an error or a relist",
            m.watch_restarts.clone(),
        );
        registry.register(
            "connections",
            "HTTP/2 connections to the master",
            m.connections.clone(),
        );
        registry.register(
            "streams",
            "HTTP/2 streams in use (watches and requests)",
            m.streams.clone(),
        );
        registry.register(
            "proxy_services",
            "Service ports programmed by hollow proxies (sum over proxies)",
            m.proxy_services.clone(),
        );
        registry.register(
            "proxy_endpoints",
            "Endpoints programmed by hollow proxies (sum over proxies)",
            m.proxy_endpoints.clone(),
        );
        registry.register(
            "proxy_rules",
            "Rules hollow proxies would program (sum over proxies)",
            m.proxy_rules.clone(),
        );
        registry.register(
            "npd_problems",
            "Problems injected into hollow node problem detectors",
            m.npd_problems.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            m.rss_bytes.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "CPU time used by this process",
            m.cpu_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn request(
        &self,
        component: &'static str,
        verb: &'static str,
        resource: &'static str,
        code: u16,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                component,
                verb,
                resource,
                code,
            })
            .inc();
    }

    pub fn observe_lateness_ms(&self, ms: u64) {
        self.lease_lateness_seconds.observe(ms as f64 / 1000.0);
        self.lateness.lock().observe_ms(ms);
    }

    /// The text exposition, with the process gauges refreshed.
    pub fn render(&self) -> String {
        if let Ok(p) = procstat::sample("self") {
            self.rss_bytes.set(p.rss_bytes as i64);
            self.cpu_seconds.set(p.cpu_seconds);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.push_str("# encoding failed\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = LatencyHist::default();
        assert_eq!(h.quantile_ms(0.99), 0);
        for _ in 0..98 {
            h.observe_ms(3);
        }
        h.observe_ms(700);
        h.observe_ms(90_000);
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_ms(0.5), 5);
        assert_eq!(h.quantile_ms(0.99), 1000);
        assert_eq!(h.quantile_ms(1.0), 90_000);
        assert_eq!(h.max_ms(), 90_000);
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.nodes.set(3);
        m.request("kubelet", "GET", "nodes", 200);
        m.request("kubelet", "GET", "nodes", 200);
        let text = m.render();
        assert!(text.contains("kubemark_hollow_nodes 3"), "{text}");
        assert!(
            text.contains(
                "kubemark_hollow_requests_total{component=\"kubelet\",verb=\"GET\",resource=\"nodes\",code=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("kubemark_hollow_process_resident_memory_bytes"));
    }
}
