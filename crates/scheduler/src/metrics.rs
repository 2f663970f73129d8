//! kube-scheduler v1.24 metrics with their real names, labels, help texts
//! and buckets, rendered in the Prometheus text format.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// `result` label values of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttemptResult {
    Scheduled,
    Unschedulable,
    Error,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Scheduled => "scheduled",
            AttemptResult::Unschedulable => "unschedulable",
            AttemptResult::Error => "error",
        }
    }
}

/// `prometheus.ExponentialBuckets(start, factor, count)`.
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(count);
    let mut v = start;
    for _ in 0..count {
        out.push(v);
        v *= factor;
    }
    out
}

#[derive(Debug, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: usize) -> Histogram {
        Histogram {
            counts: vec![0; buckets],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, bounds: &[f64], v: f64) {
        // Buckets are cumulative on output; store per-bucket counts here.
        if let Some(i) = bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Formats a float like Go's `strconv.FormatFloat(v, 'g', -1, 64)` does in
/// the Prometheus text format.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let exp = v.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) {
        return format!("{v}");
    }
    // Go writes e.g. 1e+21 and 1e-05.
    let s = format!("{v:e}");
    let Some((mantissa, e)) = s.split_once('e') else {
        return s;
    };
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[derive(Debug)]
struct Inner {
    attempts: BTreeMap<(String, AttemptResult), u64>,
    e2e: BTreeMap<(String, AttemptResult), Histogram>,
    attempt_duration: BTreeMap<(String, AttemptResult), Histogram>,
    /// Keyed by the `attempts` label.
    pod_duration: BTreeMap<String, Histogram>,
    pending: [i64; 3],
}

/// The scheduler's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
    latency_buckets: Vec<f64>,
    pod_duration_buckets: Vec<f64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

const QUEUES: [&str; 3] = ["active", "backoff", "unschedulable"];

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            inner: Mutex::new(Inner {
                attempts: BTreeMap::new(),
                e2e: BTreeMap::new(),
                attempt_duration: BTreeMap::new(),
                pod_duration: BTreeMap::new(),
                pending: [0; 3],
            }),
            latency_buckets: exponential_buckets(0.001, 2.0, 15),
            pod_duration_buckets: exponential_buckets(0.01, 2.0, 20),
        }
    }

    /// One scheduling attempt ended (`observeScheduleAttemptAndLatency`).
    pub fn observe_attempt(&self, profile: &str, result: AttemptResult, seconds: f64) {
        let mut g = self.inner.lock();
        let key = (profile.to_string(), result);
        *g.attempts.entry(key.clone()).or_default() += 1;
        let n = self.latency_buckets.len();
        g.e2e
            .entry(key.clone())
            .or_insert_with(|| Histogram::new(n))
            .observe(&self.latency_buckets, seconds);
        g.attempt_duration
            .entry(key)
            .or_insert_with(|| Histogram::new(n))
            .observe(&self.latency_buckets, seconds);
    }

    /// A pod was bound after `attempts` attempts, `seconds` after it was first queued.
    pub fn observe_pod_scheduled(&self, attempts: u32, seconds: f64) {
        let label = if attempts >= 15 {
            "15+".to_string()
        } else {
            attempts.to_string()
        };
        let n = self.pod_duration_buckets.len();
        self.inner
            .lock()
            .pod_duration
            .entry(label)
            .or_insert_with(|| Histogram::new(n))
            .observe(&self.pod_duration_buckets, seconds);
    }

    pub fn set_pending(&self, active: usize, backoff: usize, unschedulable: usize) {
        self.inner.lock().pending = [active as i64, backoff as i64, unschedulable as i64];
    }

    /// `scheduler_schedule_attempts_total{profile,result}`.
    pub fn attempts(&self, profile: &str, result: AttemptResult) -> u64 {
        self.inner
            .lock()
            .attempts
            .get(&(profile.to_string(), result))
            .copied()
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of all scheduler metrics.
    pub fn render(&self) -> String {
        let g = self.inner.lock();
        let mut out = String::new();
        // Families sorted by name, as the Go registry writes them.
        write_histograms(
            &mut out,
            "scheduler_e2e_scheduling_duration_seconds",
            "[ALPHA] (Deprecated since 1.23.0) E2e scheduling latency in seconds (scheduling algorithm + binding). This metric is replaced by scheduling_attempt_duration_seconds.",
            &self.latency_buckets,
            g.e2e.iter().map(|((p, r), h)| (format!("profile=\"{}\",result=\"{}\"", escape(p), r.as_str()), h)),
        );
        out.push_str("# HELP scheduler_pending_pods [ALPHA] Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods.\n");
        out.push_str("# TYPE scheduler_pending_pods gauge\n");
        for (q, v) in QUEUES.iter().zip(g.pending) {
            let _ = writeln!(out, "scheduler_pending_pods{{queue=\"{q}\"}} {v}");
        }
        write_histograms(
            &mut out,
            "scheduler_pod_scheduling_duration_seconds",
            "[ALPHA] E2e latency for a pod being scheduled which may include multiple scheduling attempts.",
            &self.pod_duration_buckets,
            g.pod_duration.iter().map(|(a, h)| (format!("attempts=\"{a}\""), h)),
        );
        if !g.attempts.is_empty() {
            out.push_str("# HELP scheduler_schedule_attempts_total [ALPHA] Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.\n");
            out.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
            for ((p, r), v) in &g.attempts {
                let _ = writeln!(
                    out,
                    "scheduler_schedule_attempts_total{{profile=\"{}\",result=\"{}\"}} {v}",
                    escape(p),
                    r.as_str()
                );
            }
        }
        write_histograms(
            &mut out,
            "scheduler_scheduling_attempt_duration_seconds",
            "[ALPHA] Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            &self.latency_buckets,
            g.attempt_duration.iter().map(|((p, r), h)| {
                (
                    format!("profile=\"{}\",result=\"{}\"", escape(p), r.as_str()),
                    h,
                )
            }),
        );
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_histograms<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[f64],
    series: impl Iterator<Item = (String, &'a Histogram)>,
) {
    let mut series = series.peekable();
    if series.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, h) in series {
        let mut cumulative = 0;
        for (b, c) in bounds.iter().zip(&h.counts) {
            cumulative += c;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                format_float(*b)
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", format_float(h.sum));
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide registry the scheduler loop records into.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_format_matches_go() {
        let cases = [
            (0.001, "0.001"),
            (0.002, "0.002"),
            (16.384, "16.384"),
            (5242.88, "5242.88"),
            (1.0, "1"),
            (0.0, "0"),
            (1e21, "1e+21"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (f64::INFINITY, "+Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v), want, "{v}");
        }
        let b: Vec<String> = exponential_buckets(0.001, 2.0, 15)
            .into_iter()
            .map(format_float)
            .collect();
        assert_eq!(b.first().map(String::as_str), Some("0.001"));
        assert_eq!(b.last().map(String::as_str), Some("16.384"));
        assert_eq!(b[7], "0.128");
        let b = exponential_buckets(0.01, 2.0, 20);
        assert_eq!(format_float(b[19]), "5242.88");
    }

    #[test]
    fn renders_the_real_families() {
        let m = Metrics::new();
        let empty = m.render();
        assert!(empty.contains("scheduler_pending_pods{queue=\"active\"} 0\n"));
        assert!(!empty.contains("scheduler_schedule_attempts_total"));
        m.observe_attempt("default-scheduler", AttemptResult::Scheduled, 0.003);
        m.observe_attempt("default-scheduler", AttemptResult::Scheduled, 0.5);
        m.observe_attempt("default-scheduler", AttemptResult::Unschedulable, 0.0001);
        m.observe_pod_scheduled(1, 0.02);
        m.observe_pod_scheduled(20, 100.0);
        m.set_pending(3, 2, 1);
        let text = m.render();
        let want_lines = [
            "# TYPE scheduler_e2e_scheduling_duration_seconds histogram",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.002\"} 0",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.004\"} 1",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.512\"} 2",
            "scheduler_e2e_scheduling_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"+Inf\"} 2",
            "scheduler_e2e_scheduling_duration_seconds_count{profile=\"default-scheduler\",result=\"scheduled\"} 2",
            "scheduler_pending_pods{queue=\"backoff\"} 2",
            "scheduler_pending_pods{queue=\"unschedulable\"} 1",
            "scheduler_pod_scheduling_duration_seconds_bucket{attempts=\"1\",le=\"0.02\"} 1",
            "scheduler_pod_scheduling_duration_seconds_bucket{attempts=\"15+\",le=\"+Inf\"} 1",
            "# TYPE scheduler_schedule_attempts_total counter",
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 2",
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"unschedulable\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"unschedulable\",le=\"0.001\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_sum{profile=\"default-scheduler\",result=\"unschedulable\"} 0.0001",
        ];
        for line in want_lines {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(m.attempts("default-scheduler", AttemptResult::Scheduled), 2);
        // Families appear in name order.
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        let mut sorted = families.clone();
        sorted.sort();
        assert_eq!(families, sorted);
    }
}
