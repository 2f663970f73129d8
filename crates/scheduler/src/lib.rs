//! The embedded kube-scheduler: filters, scores and binds pending pods.
//!
//! It is an ordinary API client: it watches nodes and pods through the API
//! server, binds pods with `pods/binding`, reports failures in the pods'
//! `PodScheduled` condition and in Events, and can be swapped for a real
//! kube-scheduler. The decision logic (model, cache, filters, scores, queue,
//! state) is pure and synchronous; [`run`] is the async driver.

pub mod algorithm;
pub mod bench;
pub mod cache;
mod driver;
pub mod events;
pub mod filter;
pub mod metrics;
pub mod model;
pub mod queue;
pub mod score;
pub mod state;

use std::time::Duration;

pub use bench::{bench_schedule, bench_schedule_report, BenchReport};
pub use driver::run;

/// The `spec.schedulerName` (and profile) of the default scheduler.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Pods with this `spec.schedulerName` are ours; also the profile label
    /// and the event source. Default `default-scheduler`.
    pub scheduler_name: String,
    /// `percentageOfNodesToScore`; 0 means adaptive (50% - nodes/125, min 5%).
    pub percentage_of_nodes_to_score: u32,
    /// Bindings issued concurrently (the real scheduler binds asynchronously).
    pub max_binds_in_flight: usize,
    /// Concurrent status patches and event writes.
    pub max_reports_in_flight: usize,
    pub pod_initial_backoff: Duration,
    pub pod_max_backoff: Duration,
    /// Events' `reportingInstance`; default `default-scheduler-<hostname>`.
    pub reporting_instance: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            max_binds_in_flight: 64,
            max_reports_in_flight: 16,
            pod_initial_backoff: queue::DEFAULT_POD_INITIAL_BACKOFF,
            pod_max_backoff: queue::DEFAULT_POD_MAX_BACKOFF,
            reporting_instance: format!("{DEFAULT_SCHEDULER_NAME}-{}", hostname()),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The User-Agent of a v1.24.10 kube-scheduler (`rest.DefaultKubernetesUserAgent`
/// plus the `scheduler` suffix it adds), so API request metrics attribute
/// our requests like the real component's.
pub const USER_AGENT: &str = "kube-scheduler/v1.24.10 (linux/amd64) kubernetes/5c1d2d4/scheduler";

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot build the API client: {0}")]
    Client(String),
}

/// A kube-rs client for `kubeconfig_yaml` (its current context) that
/// identifies itself with [`USER_AGENT`].
pub async fn client_from_kubeconfig(kubeconfig_yaml: &str) -> Result<kube::Client, ClientError> {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
        .map_err(|e| ClientError::Kubeconfig(e.to_string()))?;
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| ClientError::Kubeconfig(e.to_string()))?;
    cfg.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    kube::Client::try_from(cfg).map_err(|e| ClientError::Client(e.to_string()))
}

/// The scheduler metrics (kube-scheduler v1.24 names) in the Prometheus
/// text format, for the master to serve.
pub fn render_metrics() -> String {
    metrics::global().render()
}
