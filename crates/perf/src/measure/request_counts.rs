//! Requests served during the test per (verb, resource, subresource), from
//! the difference of two scrapes of `apiserver_request_total` (summed over
//! codes, groups, versions, scopes and components).

use crate::prom::Scrape;
use serde::Serialize;
use std::collections::BTreeMap;

pub const METRIC: &str = "apiserver_request_total";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    pub verb: String,
    pub resource: String,
    pub subresource: String,
    pub count: u64,
}

type Key = (String, String, String);

fn totals(scrape: &Scrape) -> BTreeMap<(Key, String), f64> {
    // Kept per full label set so that a reset of one series is detected on
    // its own before summing.
    let mut out = BTreeMap::new();
    for s in scrape.series(METRIC) {
        let key = (
            s.label("verb").to_string(),
            s.label("resource").to_string(),
            s.label("subresource").to_string(),
        );
        let rest: Vec<String> = s
            .labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "verb" | "resource" | "subresource"))
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        *out.entry((key, rest.join(","))).or_insert(0.0) += s.value;
    }
    out
}

/// Requests per call kind between the scrapes, most frequent first.
pub fn request_counts(start: &Scrape, end: &Scrape) -> Vec<RequestCount> {
    let before = totals(start);
    let mut sums: BTreeMap<Key, f64> = BTreeMap::new();
    for ((key, rest), v) in totals(end) {
        let b = before.get(&(key.clone(), rest)).copied().unwrap_or(0.0);
        // A counter that went down restarted: count from zero.
        let d = if v >= b { v - b } else { v };
        *sums.entry(key).or_insert(0.0) += d;
    }
    let mut out: Vec<RequestCount> = sums
        .into_iter()
        .filter(|(_, v)| *v >= 0.5)
        .map(|((verb, resource, subresource), v)| RequestCount {
            verb,
            resource,
            subresource,
            count: v.round() as u64,
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.verb, &a.resource).cmp(&(&b.verb, &b.resource)))
    });
    out
}

/// The count for one verb and resource (any subresource when `sub` is None).
pub fn count_of(counts: &[RequestCount], verb: &str, resource: &str, sub: Option<&str>) -> u64 {
    counts
        .iter()
        .filter(|c| {
            c.verb == verb && c.resource == resource && sub.is_none_or(|s| c.subresource == s)
        })
        .map(|c| c.count)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    #[test]
    fn differences_summed_over_codes() {
        let start = parse(concat!(
            "apiserver_request_total{code=\"201\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\"} 10\n",
            "apiserver_request_total{code=\"409\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\"} 1\n",
            "apiserver_request_total{code=\"200\",resource=\"nodes\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\"} 50\n",
        ))
        .unwrap();
        let end = parse(concat!(
            "apiserver_request_total{code=\"201\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\"} 40\n",
            "apiserver_request_total{code=\"409\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\"} 3\n",
            "apiserver_request_total{code=\"200\",resource=\"nodes\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\"} 50\n",
            "apiserver_request_total{code=\"200\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\"} 2\n",
            "apiserver_request_total{code=\"200\",resource=\"pods\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\"} 7\n",
            "other_total{verb=\"POST\"} 100\n",
        ))
        .unwrap();
        let c = request_counts(&start, &end);
        let rows: Vec<(&str, &str, &str, u64)> = c
            .iter()
            .map(|r| {
                (
                    r.verb.as_str(),
                    r.resource.as_str(),
                    r.subresource.as_str(),
                    r.count,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("POST", "pods", "", 32),
                ("PATCH", "pods", "status", 7),
                ("LIST", "pods", "", 2)
            ]
        );
        assert_eq!(count_of(&c, "PATCH", "pods", None), 7);
        assert_eq!(count_of(&c, "PATCH", "pods", Some("")), 0);
        assert_eq!(count_of(&c, "POST", "pods", Some("")), 32);
        // A restarted server: the end value counts from zero.
        let restarted = parse(
            "apiserver_request_total{code=\"201\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\"} 4\n",
        )
        .unwrap();
        assert_eq!(request_counts(&start, &restarted)[0].count, 4);
    }
}
