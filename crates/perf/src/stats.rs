//! Small numeric helpers shared by the measurements: nearest-rank
//! percentiles and Kubernetes timestamp parsing.

use serde::Serialize;

/// Percentiles of a sample set, in the sample's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The nearest-rank percentile `p` (0..=100) of `sorted` (ascending): the
/// smallest value such that at least p % of the samples are ≤ it, i.e.
/// `sorted[ceil(p/100 · n) - 1]`. ClusterLoader2 computes its percentiles
/// this way. `None` for no samples.
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let p = p.clamp(0.0, 100.0);
    // The tiny epsilon keeps 90 % of 10 samples at rank 9 instead of 10
    // when p·n/100 comes out as 9.000000000000002 in floating point.
    let rank = ((p * n as f64) / 100.0 - 1e-9).ceil() as usize;
    let idx = rank.clamp(1, n) - 1;
    sorted.get(idx).copied()
}

/// p50/p90/p99/max of unsorted samples (NaNs are dropped).
pub fn percentiles(samples: &[f64]) -> Option<Percentiles> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Percentiles {
        count: v.len(),
        p50: nearest_rank(&v, 50.0)?,
        p90: nearest_rank(&v, 90.0)?,
        p99: nearest_rank(&v, 99.0)?,
        max: *v.last()?,
    })
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp as Kubernetes
/// writes them (`2024-01-01T00:00:00Z`, optionally with fractional seconds).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// RFC 3339 in UTC with whole seconds, as ClusterLoader2 puts in file names.
pub fn format_rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => {
            let fmt =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            t.format(&fmt).unwrap_or_else(|_| secs.to_string())
        }
        Err(_) => secs.to_string(),
    }
}

/// `20261125-050000`: a timestamp safe in directory names.
pub fn compact_timestamp(unix: f64) -> String {
    format_rfc3339(unix)
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_table() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases: &[(&[f64], f64, Option<f64>)] = &[
            (&[], 50.0, None),
            (&[7.0], 0.0, Some(7.0)),
            (&[7.0], 50.0, Some(7.0)),
            (&[7.0], 100.0, Some(7.0)),
            (&ten, 50.0, Some(5.0)),
            (&ten, 90.0, Some(9.0)),
            (&ten, 99.0, Some(10.0)),
            (&ten, 100.0, Some(10.0)),
            (&ten, 0.0, Some(1.0)),
            (&ten, 51.0, Some(6.0)),
            (&hundred, 50.0, Some(50.0)),
            (&hundred, 90.0, Some(90.0)),
            (&hundred, 99.0, Some(99.0)),
            (&[1.0, 2.0, 3.0], 50.0, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 50.0, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 75.0, Some(3.0)),
            (&[1.0, 2.0, 3.0, 4.0], 76.0, Some(4.0)),
        ];
        for (samples, p, want) in cases {
            assert_eq!(nearest_rank(samples, *p), *want, "p{p} of {samples:?}");
        }
    }

    #[test]
    fn percentiles_sort_and_skip_nan() {
        let p = percentiles(&[5.0, f64::NAN, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(p.count, 5);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (3.0, 5.0, 5.0, 5.0));
        assert!(percentiles(&[f64::NAN]).is_none());
        assert!(percentiles(&[]).is_none());
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10Z"), Some(10.0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10.250Z"), Some(10.25));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:10+01:00"), Some(10.0));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(format_rfc3339(1_795_582_800.7), "2026-11-25T05:00:00Z");
        assert_eq!(compact_timestamp(1_795_582_800.0), "20261125-050000");
    }
}
