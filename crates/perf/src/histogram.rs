//! Prometheus histograms out of a scrape: grouping series, differencing two
//! scrapes (what `increase()` does over the test window) and estimating
//! quantiles by linear interpolation inside buckets, exactly as PromQL's
//! `histogram_quantile` does.

use crate::prom::{Sample, Scrape};
use std::collections::BTreeMap;

/// One histogram: cumulative bucket counts by upper bound (ascending, the
/// last normally `+Inf`), the observation count and sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
    pub sum: f64,
}

impl Histogram {
    /// Adds `le`'s cumulative count (summing series that share a bound).
    fn add_bucket(&mut self, le: f64, count: f64) {
        match self
            .buckets
            .iter_mut()
            .find(|(b, _)| b.total_cmp(&le).is_eq())
        {
            Some((_, c)) => *c += count,
            None => self.buckets.push((le, count)),
        }
    }

    fn sort(&mut self) {
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// The number of observations: the `+Inf` bucket, else `_count`.
    pub fn total(&self) -> f64 {
        match self.buckets.last() {
            Some((le, c)) if le.is_infinite() && *le > 0.0 => *c,
            _ => self.count,
        }
    }

    /// Observations ≤ `bound` (the cumulative count of that exact bucket),
    /// `None` when the histogram has no such bucket.
    pub fn count_le(&self, bound: f64) -> Option<f64> {
        self.buckets
            .iter()
            .find(|(le, _)| (*le - bound).abs() < 1e-12)
            .map(|(_, c)| *c)
    }
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// The histograms of family `name` in a scrape, grouped by `key` (series
/// for which `key` returns `None` are skipped; series mapping to the same
/// key are summed, like `sum by (...)`).
pub fn collect<K: Ord + Clone>(
    scrape: &Scrape,
    name: &str,
    key: impl Fn(&Sample) -> Option<K>,
) -> BTreeMap<K, Histogram> {
    let bucket = format!("{name}_bucket");
    let count = format!("{name}_count");
    let sum = format!("{name}_sum");
    let mut out: BTreeMap<K, Histogram> = BTreeMap::new();
    for s in &scrape.samples {
        if s.name != bucket && s.name != count && s.name != sum {
            continue;
        }
        let Some(k) = key(s) else { continue };
        let h = out.entry(k).or_default();
        if s.name == bucket {
            if let Some(le) = parse_le(s.label("le")) {
                h.add_bucket(le, s.value);
            }
        } else if s.name == count {
            h.count += s.value;
        } else {
            h.sum += s.value;
        }
    }
    for h in out.values_mut() {
        h.sort();
    }
    out
}

/// `end - start`: the observations made between two scrapes. A series that
/// went down (the process restarted) counts from zero, as `increase()`
/// treats counter resets; a series absent at `start` is new.
pub fn diff(end: &Histogram, start: Option<&Histogram>) -> Histogram {
    let Some(start) = start else {
        return end.clone();
    };
    let reset = end.count < start.count
        || end.buckets.iter().any(|(le, c)| {
            start
                .buckets
                .iter()
                .any(|(l, s)| l.total_cmp(le).is_eq() && c < s)
        });
    if reset {
        return end.clone();
    }
    Histogram {
        buckets: end
            .buckets
            .iter()
            .map(|(le, c)| {
                let before = start
                    .buckets
                    .iter()
                    .find(|(l, _)| l.total_cmp(le).is_eq())
                    .map(|(_, s)| *s)
                    .unwrap_or(0.0);
                (*le, c - before)
            })
            .collect(),
        count: end.count - start.count,
        sum: end.sum - start.sum,
    }
}

/// Differences every histogram of `end` against the same key in `start`.
pub fn diff_all<K: Ord + Clone>(
    end: &BTreeMap<K, Histogram>,
    start: &BTreeMap<K, Histogram>,
) -> BTreeMap<K, Histogram> {
    end.iter()
        .map(|(k, h)| (k.clone(), diff(h, start.get(k))))
        .collect()
}

/// PromQL `histogram_quantile(q, h)`: `None` where PromQL gives NaN (no
/// observations, fewer than two buckets, no `+Inf` bucket) or q outside
/// 0..=1 (PromQL gives ±Inf there, which no caller wants).
///
/// The rank `q · total` falls into the first bucket whose cumulative count
/// reaches it; the estimate interpolates linearly between that bucket's
/// lower bound (the previous upper bound, or 0 for the first bucket) and
/// its upper bound. If the rank falls into the `+Inf` bucket, the answer is
/// the largest finite upper bound.
pub fn quantile(q: f64, h: &Histogram) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || q.is_nan() {
        return None;
    }
    let b = &h.buckets;
    if b.len() < 2 {
        return None;
    }
    let (last_le, total) = *b.last()?;
    if !(last_le.is_infinite() && last_le > 0.0) {
        return None;
    }
    if total <= 0.0 {
        return None;
    }
    // Like PromQL's ensureMonotonic: a scrape racing with observations can
    // show a lower count in a higher bucket.
    let mut counts: Vec<f64> = Vec::with_capacity(b.len());
    let mut max = 0.0f64;
    for (_, c) in b {
        max = max.max(*c);
        counts.push(max);
    }
    let rank = q * total;
    // Search among the finite buckets only, as PromQL does.
    let finite = b.len() - 1;
    let idx = counts[..finite]
        .iter()
        .position(|c| *c >= rank)
        .unwrap_or(finite);
    if idx == finite {
        return Some(b[finite - 1].0);
    }
    let upper = b[idx].0;
    if idx == 0 && upper <= 0.0 {
        return Some(upper);
    }
    let (lower, below) = if idx == 0 {
        (0.0, 0.0)
    } else {
        (b[idx - 1].0, counts[idx - 1])
    };
    let in_bucket = counts[idx] - below;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * ((rank - below) / in_bucket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::parse;

    fn h(buckets: &[(f64, f64)]) -> Histogram {
        Histogram {
            buckets: buckets.to_vec(),
            count: buckets.last().map(|b| b.1).unwrap_or(0.0),
            sum: 0.0,
        }
    }

    const INF: f64 = f64::INFINITY;

    #[test]
    fn quantile_table() {
        // 10 observations: 4 in (0,1], 4 in (1,2], 2 in (2,4].
        let base = h(&[(1.0, 4.0), (2.0, 8.0), (4.0, 10.0), (INF, 10.0)]);
        let cases: Vec<(&str, f64, &Histogram, Option<f64>)> = vec![
            ("median inside second bucket", 0.5, &base, Some(1.25)),
            ("rank exactly at a bound", 0.4, &base, Some(1.0)),
            ("p90 in third bucket", 0.9, &base, Some(3.0)),
            ("p99", 0.99, &base, Some(3.9)),
            ("p100 is the bucket top", 1.0, &base, Some(4.0)),
            ("p0", 0.0, &base, Some(0.0)),
            ("q out of range", 1.5, &base, None),
            ("negative q", -0.1, &base, None),
        ];
        for (what, q, hist, want) in cases {
            let got = quantile(q, hist);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}: got {g}, want {w}"),
                _ => assert_eq!(got, want, "{what}"),
            }
        }
    }

    #[test]
    fn quantile_inf_bucket_and_degenerate_cases() {
        // Half the observations above the last finite bound: the answer is
        // that bound.
        let tail = h(&[(0.5, 1.0), (1.0, 2.0), (INF, 4.0)]);
        assert_eq!(quantile(0.99, &tail), Some(1.0));
        assert_eq!(quantile(0.5, &tail), Some(1.0));
        assert_eq!(quantile(0.25, &tail), Some(0.5));
        // Everything in +Inf.
        assert_eq!(quantile(0.5, &h(&[(1.0, 0.0), (INF, 3.0)])), Some(1.0));
        // No observations, missing +Inf, too few buckets.
        assert_eq!(quantile(0.5, &h(&[(1.0, 0.0), (INF, 0.0)])), None);
        assert_eq!(quantile(0.5, &h(&[(1.0, 1.0), (2.0, 2.0)])), None);
        assert_eq!(quantile(0.5, &h(&[(INF, 2.0)])), None);
        assert_eq!(quantile(0.5, &Histogram::default()), None);
        // Non-monotonic counts are repaired.
        let bumpy = h(&[(1.0, 5.0), (2.0, 4.0), (4.0, 10.0), (INF, 10.0)]);
        assert_eq!(quantile(0.5, &bumpy), Some(1.0));
        // A first bucket with a non-positive bound answers with that bound.
        assert_eq!(
            quantile(0.1, &h(&[(-1.0, 1.0), (1.0, 2.0), (INF, 2.0)])),
            Some(-1.0)
        );
    }

    #[test]
    fn collect_sums_series_and_diff_subtracts() {
        let start = parse(concat!(
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"0.1\"} 1\n",
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"1\"} 2\n",
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"+Inf\"} 2\n",
            "lat_count{verb=\"GET\",code=\"200\"} 2\n",
            "lat_sum{verb=\"GET\",code=\"200\"} 0.6\n",
        ))
        .unwrap();
        let end = parse(concat!(
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"0.1\"} 3\n",
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"1\"} 6\n",
            "lat_bucket{verb=\"GET\",code=\"200\",le=\"+Inf\"} 7\n",
            "lat_count{verb=\"GET\",code=\"200\"} 7\n",
            "lat_sum{verb=\"GET\",code=\"200\"} 6.6\n",
            "lat_bucket{verb=\"GET\",code=\"404\",le=\"0.1\"} 1\n",
            "lat_bucket{verb=\"GET\",code=\"404\",le=\"1\"} 1\n",
            "lat_bucket{verb=\"GET\",code=\"404\",le=\"+Inf\"} 1\n",
            "lat_count{verb=\"GET\",code=\"404\"} 1\n",
            "lat_sum{verb=\"GET\",code=\"404\"} 0.05\n",
            "lat_bucket{verb=\"WATCH\",le=\"+Inf\"} 9\n",
            "other_bucket{verb=\"GET\",le=\"1\"} 100\n",
        ))
        .unwrap();
        let key = |s: &Sample| (s.label("verb") != "WATCH").then(|| s.label("verb").to_string());
        let a = collect(&start, "lat", key);
        let b = collect(&end, "lat", key);
        assert_eq!(b.len(), 1);
        let get = &b["GET"];
        assert_eq!(get.buckets, vec![(0.1, 4.0), (1.0, 7.0), (INF, 8.0)]);
        assert_eq!(get.count, 8.0);
        let d = diff_all(&b, &a);
        let g = &d["GET"];
        assert_eq!(g.buckets, vec![(0.1, 3.0), (1.0, 5.0), (INF, 6.0)]);
        assert_eq!(g.count, 6.0);
        assert!((g.sum - 6.05).abs() < 1e-9);
        assert_eq!(g.total(), 6.0);
        assert_eq!(g.count_le(1.0), Some(5.0));
        assert_eq!(g.count_le(2.0), None);
        // Median: rank 3 reaches the first bucket exactly.
        assert_eq!(quantile(0.5, g), Some(0.1));
    }

    #[test]
    fn diff_handles_resets_and_new_series() {
        let before = h(&[(1.0, 10.0), (INF, 12.0)]);
        let after_restart = h(&[(1.0, 2.0), (INF, 3.0)]);
        assert_eq!(diff(&after_restart, Some(&before)), after_restart);
        assert_eq!(diff(&after_restart, None), after_restart);
        let later = h(&[(1.0, 11.0), (INF, 15.0)]);
        let d = diff(&later, Some(&before));
        assert_eq!(d.buckets, vec![(1.0, 1.0), (INF, 3.0)]);
        assert_eq!(d.count, 3.0);
    }
}
