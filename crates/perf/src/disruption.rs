//! Disruptions of the master during a run, so that a run across a master
//! crash, restart or overload records it instead of silently passing.
//!
//! A [`Tracker`] (pure) turns probes of the master's `/readyz` and the
//! failures the run's own API calls and watches report into disruption
//! windows: a window opens at the first failure and closes at the first
//! successful probe after it. [`Monitor`] is the thin async layer: it
//! probes `/readyz` every interval and takes reports through a cloneable
//! [`Reporter`]; [`Monitor::stop`] returns the windows for `run.json`.

use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why the master counted as disrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// No answer: connection refused or reset, TLS failure, timeout.
    Unreachable,
    /// `/readyz` answered, but not 200 (e.g. 500 while starting).
    NotReady,
    /// The run's API calls got 5xx or 429 answers.
    ApiErrors,
    /// The run's watches broke.
    WatchErrors,
}

impl Cause {
    /// Worse causes name a window that has several: no answer at all is
    /// worse than answers with errors.
    fn severity(self) -> u8 {
        match self {
            Cause::Unreachable => 3,
            Cause::NotReady => 2,
            Cause::ApiErrors => 1,
            Cause::WatchErrors => 0,
        }
    }
}

/// One failure observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: Cause,
    /// What failed, e.g. `GET /readyz: connection refused`.
    pub detail: String,
}

/// A period during which the master was disrupted. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC; `None` while still open at the end of the run.
    pub end: Option<String>,
    pub seconds: f64,
    /// The worst cause seen in the window.
    pub cause: Cause,
    /// The first failure's detail.
    pub detail: String,
    /// Failures seen in the window, by cause.
    pub failures: Vec<(Cause, u64)>,
    #[serde(skip)]
    pub start_unix: f64,
    #[serde(skip)]
    pub end_unix: Option<f64>,
}

/// Failures reported by the run itself (not probes) open a window only
/// when this many arrive without a successful probe in between: one
/// failed API call is not a disruption, a series is.
pub const REPORTED_FAILURES_TO_OPEN: u64 = 3;

#[derive(Debug, Default)]
struct Open {
    start: f64,
    cause: Option<Cause>,
    detail: String,
    counts: std::collections::BTreeMap<Cause, u64>,
}

/// The pure state machine.
#[derive(Debug, Default)]
pub struct Tracker {
    open: Option<Open>,
    /// Reported failures since the last successful probe while no window
    /// is open: (first time, first failure, count).
    pending: Option<(f64, Failure, u64)>,
    closed: Vec<Window>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A probe of the master at `unix` that succeeded: closes any window
    /// and forgets isolated reported failures.
    pub fn probe_ok(&mut self, unix: f64) {
        self.pending = None;
        if let Some(open) = self.open.take() {
            self.closed.push(close(open, Some(unix)));
        }
    }

    /// A probe that failed: opens a window (or extends the open one).
    pub fn probe_failed(&mut self, unix: f64, failure: Failure) {
        // Reported failures just before the probe failed belong to the window.
        let (start, first, before) = match self.pending.take() {
            Some((t, f, n)) if t <= unix => (t, f, n),
            _ => (unix, failure.clone(), 0),
        };
        let open = self.open.get_or_insert_with(|| Open {
            start,
            ..Open::default()
        });
        if before > 0 {
            add(open, &first, before);
        }
        add(open, &failure, 1);
    }

    /// A failure the run's own API calls or watches saw at `unix`.
    pub fn reported(&mut self, unix: f64, failure: Failure) {
        if let Some(open) = self.open.as_mut() {
            add(open, &failure, 1);
            return;
        }
        let (start, first, n) = match self.pending.take() {
            Some((t, f, n)) => (t, f, n + 1),
            None => (unix, failure.clone(), 1),
        };
        if n >= REPORTED_FAILURES_TO_OPEN {
            let mut open = Open {
                start,
                ..Open::default()
            };
            // The first failure names the window; the count covers all.
            add(&mut open, &first, n - 1);
            add(&mut open, &failure, 1);
            self.open = Some(open);
        } else {
            self.pending = Some((start, first, n));
        }
    }

    /// Whether a window is open now.
    pub fn disrupted(&self) -> bool {
        self.open.is_some()
    }

    /// Every window; one still open is reported with `end: None`, its
    /// length up to `unix`.
    pub fn finish(mut self, unix: f64) -> Vec<Window> {
        if let Some(open) = self.open.take() {
            let mut w = close(open, None);
            w.seconds = (unix - w.start_unix).max(0.0);
            self.closed.push(w);
        }
        self.closed
    }
}

fn add(open: &mut Open, f: &Failure, n: u64) {
    let worse = open.cause.is_none_or(|c| f.cause.severity() > c.severity());
    if worse {
        open.cause = Some(f.cause);
    }
    if open.detail.is_empty() {
        open.detail = f.detail.clone();
    }
    *open.counts.entry(f.cause).or_insert(0) += n;
}

fn close(open: Open, end: Option<f64>) -> Window {
    Window {
        start: crate::stats::format_rfc3339(open.start),
        end: end.map(crate::stats::format_rfc3339),
        seconds: end.map_or(0.0, |e| (e - open.start).max(0.0)),
        cause: open.cause.unwrap_or(Cause::Unreachable),
        detail: open.detail,
        failures: open.counts.into_iter().collect(),
        start_unix: open.start,
        end_unix: end,
    }
}

/// Total disrupted seconds.
pub fn total_seconds(windows: &[Window]) -> f64 {
    windows.iter().map(|w| w.seconds).sum()
}

/// One line per window, for the end-of-run summary and `junit.xml`.
pub fn describe(windows: &[Window]) -> String {
    windows
        .iter()
        .map(|w| {
            format!(
                "{} .. {} ({:.1}s): {:?}: {}",
                w.start,
                w.end.as_deref().unwrap_or("end of run"),
                w.seconds,
                w.cause,
                w.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The answer of one `/readyz` probe.
pub fn classify_probe(result: Result<u16, String>) -> Result<(), Failure> {
    match result {
        Ok(200) => Ok(()),
        Ok(code) => Err(Failure {
            cause: Cause::NotReady,
            detail: format!("GET /readyz: {code}"),
        }),
        Err(e) => Err(Failure {
            cause: Cause::Unreachable,
            detail: format!("GET /readyz: {e}"),
        }),
    }
}

/// How a failed API call of the run counts: 5xx and 429 answers and no
/// answer at all are the master's disruption; other errors (404, 409, ...)
/// are the run's business.
pub fn classify_api_error(e: &kube::Error) -> Option<Failure> {
    match e {
        kube::Error::Api(s) if s.code == 429 || s.code >= 500 => Some(Failure {
            cause: Cause::ApiErrors,
            detail: format!("{} {}: {}", s.code, s.reason, s.message),
        }),
        kube::Error::Api(_) => None,
        kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) => None,
        other => Some(Failure {
            cause: Cause::Unreachable,
            detail: other.to_string(),
        }),
    }
}

/// Reports the run's own failures to a running [`Monitor`].
#[derive(Clone)]
pub struct Reporter {
    tracker: Arc<parking_lot::Mutex<Tracker>>,
}

impl Reporter {
    /// A failed API call; errors that are not the master's are ignored.
    pub fn api_error(&self, e: &kube::Error) {
        if let Some(f) = classify_api_error(e) {
            self.tracker.lock().reported(crate::stats::now_unix(), f);
        }
    }

    /// A watch that broke (`detail`: what and why).
    pub fn watch_error(&self, detail: impl Into<String>) {
        self.tracker.lock().reported(
            crate::stats::now_unix(),
            Failure {
                cause: Cause::WatchErrors,
                detail: detail.into(),
            },
        );
    }

    pub fn disrupted(&self) -> bool {
        self.tracker.lock().disrupted()
    }
}

/// Probes `/readyz` every `interval` until stopped.
pub struct Monitor {
    tracker: Arc<parking_lot::Mutex<Tracker>>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A monitor dropped on an error path stops probing.
impl Drop for Monitor {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A probe gives up after this long (an answer later than that is a
/// disruption too).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl Monitor {
    pub fn spawn(client: kube::Client, interval: Duration) -> Monitor {
        let tracker = Arc::new(parking_lot::Mutex::new(Tracker::new()));
        let cancel = CancellationToken::new();
        let (t, c) = (tracker.clone(), cancel.clone());
        let task = tokio::spawn(async move {
            loop {
                let result = probe(&client).await;
                let now = crate::stats::now_unix();
                match classify_probe(result) {
                    Ok(()) => t.lock().probe_ok(now),
                    Err(f) => {
                        tracing::warn!("master disrupted: {}", f.detail);
                        t.lock().probe_failed(now, f);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = c.cancelled() => return,
                }
            }
        });
        Monitor {
            tracker,
            cancel,
            task: Some(task),
        }
    }

    pub fn reporter(&self) -> Reporter {
        Reporter {
            tracker: self.tracker.clone(),
        }
    }

    /// Stops probing; the windows of the run (a last probe first, so a
    /// master that came back just before the end closes its window).
    pub async fn stop(mut self, client: &kube::Client) -> Vec<Window> {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let result = probe(client).await;
        let now = crate::stats::now_unix();
        let mut t = self.tracker.lock();
        match classify_probe(result) {
            Ok(()) => t.probe_ok(now),
            Err(f) => t.probe_failed(now, f),
        }
        std::mem::take(&mut *t).finish(now)
    }
}

async fn probe(client: &kube::Client) -> Result<u16, String> {
    let req = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.request_text(req)).await {
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
        Ok(Ok(_)) => Ok(200),
        Ok(Err(kube::Error::Api(s))) => Ok(s.code),
        Ok(Err(e)) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> Failure {
        Failure {
            cause: Cause::Unreachable,
            detail: "GET /readyz: connection refused".into(),
        }
    }

    fn api() -> Failure {
        Failure {
            cause: Cause::ApiErrors,
            detail: "503 ServiceUnavailable: x".into(),
        }
    }

    #[test]
    fn a_window_spans_first_failure_to_first_success() {
        let mut t = Tracker::new();
        t.probe_ok(100.0);
        t.probe_failed(101.0, unreachable());
        t.probe_failed(102.0, unreachable());
        assert!(t.disrupted());
        t.probe_ok(105.5);
        t.probe_ok(106.0);
        let w = t.finish(110.0);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].cause, Cause::Unreachable);
        assert_eq!(w[0].seconds, 4.5);
        assert_eq!(w[0].start, "1970-01-01T00:01:41Z");
        assert_eq!(w[0].end.as_deref(), Some("1970-01-01T00:01:45Z"));
        assert_eq!(w[0].failures, vec![(Cause::Unreachable, 2)]);
        assert_eq!(w[0].detail, "GET /readyz: connection refused");
    }

    #[test]
    fn reported_failures_open_a_window_only_in_series() {
        // (events, windows expected): 'o' probe ok, 'x' probe failed,
        // 'a' reported API failure; one event per second.
        let cases: &[(&str, usize)] = &[
            ("oaaoo", 0),
            ("oaaao", 1),
            ("oaoaoao", 0),
            ("oxoxo", 2),
            ("oaaxo", 1),
            ("oxaaao", 1),
            ("", 0),
        ];
        for (events, want) in cases {
            let mut t = Tracker::new();
            for (i, e) in events.chars().enumerate() {
                let at = i as f64;
                match e {
                    'o' => t.probe_ok(at),
                    'x' => t.probe_failed(at, unreachable()),
                    'a' => t.reported(at, api()),
                    _ => unreachable!(),
                }
            }
            assert_eq!(t.finish(99.0).len(), *want, "{events}");
        }
    }

    #[test]
    fn reported_failures_before_a_failed_probe_start_the_window() {
        let mut t = Tracker::new();
        t.reported(10.0, api());
        t.probe_failed(12.0, unreachable());
        t.reported(13.0, api());
        t.probe_ok(20.0);
        let w = t.finish(30.0);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].start_unix, 10.0);
        assert_eq!(w[0].seconds, 10.0);
        // The worst cause names the window; the first failure its detail.
        assert_eq!(w[0].cause, Cause::Unreachable);
        assert_eq!(w[0].detail, "503 ServiceUnavailable: x");
        assert_eq!(
            w[0].failures,
            vec![(Cause::Unreachable, 1), (Cause::ApiErrors, 2)]
        );
    }

    #[test]
    fn a_window_open_at_the_end_has_no_end() {
        let mut t = Tracker::new();
        t.probe_failed(5.0, unreachable());
        let w = t.finish(8.0);
        assert_eq!(w[0].end, None);
        assert_eq!(w[0].seconds, 3.0);
        assert_eq!(total_seconds(&w), 3.0);
        assert!(describe(&w).contains("end of run"), "{}", describe(&w));
        let json = serde_json::to_value(&w[0]).unwrap();
        assert_eq!(json["cause"], "unreachable");
        assert!(json["end"].is_null());
        assert!(json.get("start_unix").is_none());
    }

    #[test]
    fn probes_and_api_errors_are_classified() {
        assert_eq!(classify_probe(Ok(200)), Ok(()));
        assert_eq!(classify_probe(Ok(500)).unwrap_err().cause, Cause::NotReady);
        assert_eq!(
            classify_probe(Err("connection refused".into()))
                .unwrap_err()
                .cause,
            Cause::Unreachable
        );
        let status = |code: u16| {
            kube::Error::Api(
                kube::core::Status::failure("m", "R")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert_eq!(
            classify_api_error(&status(503)).map(|f| f.cause),
            Some(Cause::ApiErrors)
        );
        assert_eq!(
            classify_api_error(&status(429)).map(|f| f.cause),
            Some(Cause::ApiErrors)
        );
        assert_eq!(classify_api_error(&status(404)), None);
        assert_eq!(classify_api_error(&status(409)), None);
    }
}
