//! APIResponsiveness: API call latency percentiles per (verb, resource,
//! subresource, scope) over the test window, from the difference of two
//! scrapes of `apiserver_request_duration_seconds` — ClusterLoader2's
//! "simple" query `histogram_quantile(q, sum(increase(..._bucket[window]))
//! by (resource, subresource, verb, scope, le))` with the same filter
//! (no WATCH, no log/exec/portforward/attach/proxy).
//!
//! SLOs (the Kubernetes API call latency SLO): mutating calls and
//! single-object (resource scope) calls p99 <= 1 s, namespace-scoped LIST
//! p99 <= 5 s, cluster-scoped LIST p99 <= 30 s.

use crate::histogram::{self, Histogram};
use crate::prom::{Sample, Scrape};
use crate::slo::SloCheck;
use serde::Serialize;
use std::collections::BTreeMap;

pub const METRIC: &str = "apiserver_request_duration_seconds";
pub const MEASUREMENT: &str = "APIResponsiveness";

/// Subresources whose calls are long-running streams, not latencies.
const EXCLUDED_SUBRESOURCES: [&str; 5] = ["log", "exec", "portforward", "attach", "proxy"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CallKey {
    pub verb: String,
    pub resource: String,
    pub subresource: String,
    pub scope: String,
}

fn key_of(s: &Sample) -> Option<CallKey> {
    let verb = s.label("verb");
    if verb == "WATCH" || verb == "WATCHLIST" || verb == "CONNECT" {
        return None;
    }
    if EXCLUDED_SUBRESOURCES.contains(&s.label("subresource")) {
        return None;
    }
    Some(CallKey {
        verb: verb.to_string(),
        resource: s.label("resource").to_string(),
        subresource: s.label("subresource").to_string(),
        scope: s.label("scope").to_string(),
    })
}

/// Which SLO threshold applies to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SloClass {
    /// Mutating or single-object calls: 1 s.
    Single,
    /// LIST in one namespace: 5 s.
    NamespaceList,
    /// LIST across the cluster: 30 s.
    ClusterList,
}

impl SloClass {
    pub fn of(verb: &str, scope: &str) -> SloClass {
        match (verb, scope) {
            ("LIST", "cluster") => SloClass::ClusterList,
            ("LIST", _) => SloClass::NamespaceList,
            _ => SloClass::Single,
        }
    }

    pub fn threshold_seconds(self) -> f64 {
        match self {
            SloClass::Single => 1.0,
            SloClass::NamespaceList => 5.0,
            SloClass::ClusterList => 30.0,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            SloClass::Single => "mutating and single-object API calls: p99 <= 1s",
            SloClass::NamespaceList => "namespace-scoped LIST calls: p99 <= 5s",
            SloClass::ClusterList => "cluster-scoped LIST calls: p99 <= 30s",
        }
    }
}

/// One API call kind's latency over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiCall {
    #[serde(flatten)]
    pub key: CallKey,
    pub count: u64,
    /// Calls slower than the SLO threshold (count above its bucket).
    pub slow_count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

impl ApiCall {
    pub fn class(&self) -> SloClass {
        SloClass::of(&self.key.verb, &self.key.scope)
    }

    pub fn describe(&self) -> String {
        let res = if self.key.subresource.is_empty() {
            self.key.resource.clone()
        } else {
            format!("{}/{}", self.key.resource, self.key.subresource)
        };
        format!("{} {} ({} scope)", self.key.verb, res, self.key.scope)
    }
}

/// The calls made between two scrapes, slowest p99 first.
pub fn api_calls(start: &Scrape, end: &Scrape) -> Vec<ApiCall> {
    let before = histogram::collect(start, METRIC, key_of);
    let after = histogram::collect(end, METRIC, key_of);
    let mut out: Vec<ApiCall> = histogram::diff_all(&after, &before)
        .into_iter()
        .filter_map(|(key, h)| call_from(key, &h))
        .collect();
    out.sort_by(|a, b| {
        b.p99_ms
            .total_cmp(&a.p99_ms)
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

fn call_from(key: CallKey, h: &Histogram) -> Option<ApiCall> {
    let total = h.total();
    if total < 0.5 {
        return None;
    }
    let threshold = SloClass::of(&key.verb, &key.scope).threshold_seconds();
    let slow = h
        .count_le(threshold)
        .map(|fast| (total - fast).max(0.0))
        .unwrap_or(0.0);
    let q = |p: f64| histogram::quantile(p, h).map(|s| s * 1000.0).unwrap_or(0.0);
    Some(ApiCall {
        count: total.round() as u64,
        slow_count: slow.round() as u64,
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
        key,
    })
}

/// One check per SLO class: the worst p99 of that class against its
/// threshold. A class with no calls passes.
pub fn checks(calls: &[ApiCall]) -> Vec<SloCheck> {
    let mut by_class: BTreeMap<SloClass, Vec<&ApiCall>> = BTreeMap::new();
    for c in calls {
        by_class.entry(c.class()).or_default().push(c);
    }
    [
        SloClass::Single,
        SloClass::NamespaceList,
        SloClass::ClusterList,
    ]
    .into_iter()
    .map(|class| {
        let threshold_ms = class.threshold_seconds() * 1000.0;
        let members = by_class.get(&class).map(Vec::as_slice).unwrap_or(&[]);
        let worst = members.iter().max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
        let violators: Vec<String> = members
            .iter()
            .filter(|c| c.p99_ms > threshold_ms)
            .map(|c| {
                format!(
                    "{} p99 {:.0} ms over {} calls",
                    c.describe(),
                    c.p99_ms,
                    c.count
                )
            })
            .collect();
        let detail = if !violators.is_empty() {
            violators.join("; ")
        } else if let Some(w) = worst {
            format!(
                "slowest: {} p99 {:.0} ms over {} calls",
                w.describe(),
                w.p99_ms,
                w.count
            )
        } else {
            "no such calls".to_string()
        };
        SloCheck::at_most(
            MEASUREMENT,
            class.description(),
            worst.map(|w| w.p99_ms),
            threshold_ms,
            "ms",
            false,
            detail,
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    /// One series in the kube-apiserver 1.24 layout with the given
    /// per-bucket (non-cumulative) counts on bounds 0.1, 1, 5, 30, +Inf.
    fn series(
        verb: &str,
        resource: &str,
        sub: &str,
        scope: &str,
        code: &str,
        counts: [u64; 5],
    ) -> String {
        let bounds = ["0.1", "1", "5", "30", "+Inf"];
        let labels = format!(
            "component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"{resource}\",scope=\"{scope}\",subresource=\"{sub}\",verb=\"{verb}\",version=\"v1\""
        );
        let mut out = String::new();
        let mut cum = 0;
        for (b, c) in bounds.iter().zip(counts) {
            cum += c;
            out.push_str(&format!("{METRIC}_bucket{{{labels},le=\"{b}\"}} {cum}\n"));
        }
        out.push_str(&format!(
            "{METRIC}_sum{{{labels}}} 1\n{METRIC}_count{{{labels}}} {cum}\n"
        ));
        let _ = code;
        out
    }

    #[test]
    fn differences_and_percentiles_per_call() {
        let start = parse(
            &[
                series("POST", "pods", "", "resource", "201", [10, 0, 0, 0, 0]),
                series("LIST", "pods", "", "namespace", "200", [5, 0, 0, 0, 0]),
            ]
            .concat(),
        )
        .unwrap();
        let end = parse(
            &[
                // 100 more POSTs: 90 fast, 9 in (0.1,1], 1 in (1,5].
                series("POST", "pods", "", "resource", "201", [100, 9, 1, 0, 0]),
                series("LIST", "pods", "", "namespace", "200", [5, 0, 0, 0, 0]),
                series("LIST", "pods", "", "cluster", "200", [0, 0, 0, 2, 0]),
                series("WATCH", "pods", "", "cluster", "200", [0, 0, 0, 0, 50]),
                series("GET", "pods", "log", "resource", "200", [0, 0, 0, 0, 3]),
                series(
                    "PATCH",
                    "nodes",
                    "status",
                    "resource",
                    "200",
                    [0, 0, 0, 0, 1],
                ),
            ]
            .concat(),
        )
        .unwrap();
        let calls = api_calls(&start, &end);
        let names: Vec<String> = calls.iter().map(ApiCall::describe).collect();
        // Sorted by p99, slowest first; no WATCH, no log, no idle LIST.
        assert_eq!(
            names,
            [
                "PATCH nodes/status (resource scope)",
                "LIST pods (cluster scope)",
                "POST pods (resource scope)"
            ]
        );
        let post = calls.iter().find(|c| c.key.verb == "POST").unwrap();
        assert_eq!(post.count, 100);
        // p50: rank 50 of 90 in (0, 0.1] → 0.1·50/90 s.
        assert!((post.p50_ms - 100.0 * 50.0 / 90.0).abs() < 1e-6);
        // p90: rank 90 → exactly the 0.1 bound.
        assert!((post.p90_ms - 100.0).abs() < 1e-6);
        // p99: rank 99 → 0.1 + 0.9·9/9 = 1 s.
        assert!((post.p99_ms - 1000.0).abs() < 1e-6);
        assert_eq!(post.slow_count, 1);
        let cluster_list = calls.iter().find(|c| c.key.scope == "cluster").unwrap();
        assert_eq!(cluster_list.count, 2);
        assert!((cluster_list.p99_ms - (5000.0 + 25000.0 * 0.99)).abs() < 1e-6);
        assert_eq!(cluster_list.slow_count, 0);
        // PATCH nodes/status: one call in +Inf → the largest finite bound.
        let patch = calls.iter().find(|c| c.key.verb == "PATCH").unwrap();
        assert_eq!(patch.p99_ms, 30000.0);
        assert_eq!(patch.slow_count, 1);
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn slo_classes_and_checks() {
        let cases = [
            ("GET", "resource", SloClass::Single),
            ("POST", "namespace", SloClass::Single),
            ("DELETECOLLECTION", "namespace", SloClass::Single),
            ("LIST", "namespace", SloClass::NamespaceList),
            ("LIST", "cluster", SloClass::ClusterList),
        ];
        for (verb, scope, want) in cases {
            assert_eq!(SloClass::of(verb, scope), want, "{verb} {scope}");
        }
        let call = |verb: &str, scope: &str, p99: f64| ApiCall {
            key: CallKey {
                verb: verb.into(),
                resource: "pods".into(),
                subresource: String::new(),
                scope: scope.into(),
            },
            count: 10,
            slow_count: 0,
            p50_ms: p99 / 2.0,
            p90_ms: p99,
            p99_ms: p99,
        };
        let calls = vec![
            call("GET", "resource", 999.0),
            call("POST", "resource", 1001.0),
            call("LIST", "namespace", 4000.0),
        ];
        let c = checks(&calls);
        assert_eq!(c.len(), 3);
        assert!(!c[0].passed, "the POST breaks the 1 s SLO");
        assert_eq!(c[0].value, Some(1001.0));
        assert!(c[0].detail.contains("POST pods"));
        assert!(!c[0].detail.contains("GET"));
        assert!(c[1].passed);
        assert_eq!(c[1].value, Some(4000.0));
        assert!(c[2].passed, "no cluster LIST calls");
        assert_eq!(c[2].value, None);
        assert_eq!(c[2].threshold, 30000.0);
    }
}
