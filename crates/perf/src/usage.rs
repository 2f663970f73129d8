//! Periodic CPU / memory samples of the master's components (the
//! ResourceUsageSummary inputs), taken in the background during a run.

use crate::measure::resource_usage::{sample_from_metrics, UsageSample};
use crate::prom;
use crate::stats::now_unix;
use crate::target::{Target, UsageSource};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

type Samples = Arc<Mutex<BTreeMap<String, Vec<UsageSample>>>>;

pub struct UsageSampler {
    target: Target,
    samples: Samples,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// One sample of a local process.
pub fn sample_pid(pid: u32) -> Option<UsageSample> {
    let s = procstat::sample(&pid.to_string()).ok()?;
    Some(UsageSample {
        at: now_unix(),
        cpu_seconds: s.cpu_seconds,
        rss_bytes: s.rss_bytes as f64,
    })
}

async fn sample_all(target: &Target, samples: &Samples, errors: &Arc<Mutex<Vec<String>>>) {
    for source in &target.usage {
        let s = match source {
            UsageSource::Pid { pid, .. } => {
                sample_pid(*pid).ok_or_else(|| format!("/proc/{pid} unreadable"))
            }
            UsageSource::Metrics { .. } => match target.scrape_text().await {
                Ok(text) => prom::parse(&text).map_err(|e| e.to_string()).and_then(|p| {
                    sample_from_metrics(&p, now_unix())
                        .ok_or_else(|| "no process_* metrics on /metrics".to_string())
                }),
                Err(e) => Err(e.to_string()),
            },
        };
        match s {
            Ok(s) => samples
                .lock()
                .entry(source.name().to_string())
                .or_default()
                .push(s),
            Err(e) => {
                let mut errs = errors.lock();
                let msg = format!("resource usage of {}: {e}", source.name());
                if !errs.contains(&msg) {
                    errs.push(msg);
                }
            }
        }
    }
}

impl UsageSampler {
    /// Samples every `interval` (and once right away).
    pub fn start(target: Target, interval: Duration) -> UsageSampler {
        let samples: Samples = Arc::default();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (t, s, e, st) = (
            target.clone(),
            samples.clone(),
            errors.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                sample_all(&t, &s, &e).await;
                tokio::select! {
                    _ = st.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        });
        UsageSampler {
            target,
            samples,
            stop,
            task,
            errors,
        }
    }

    /// Takes a last sample and returns all, per component, with any errors.
    pub async fn finish(self) -> (BTreeMap<String, Vec<UsageSample>>, Vec<String>) {
        self.stop.cancel();
        let _ = self.task.await;
        sample_all(&self.target, &self.samples, &self.errors).await;
        let samples = std::mem::take(&mut *self.samples.lock());
        let errors = std::mem::take(&mut *self.errors.lock());
        (samples, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample_pid(std::process::id()).unwrap();
        assert!(s.rss_bytes > 0.0 && s.cpu_seconds >= 0.0);
        assert!(sample_pid(u32::MAX).is_none());
    }
}
