//! Running clusters. The embedded control plane ([`start`]): the API
//! server plus the scheduler and controllers in one process, each talking
//! to the API server over loopback HTTPS under its own identity, like the
//! real components. Named clusters: the provider API ([`provider`]) with its
//! master providers ([`embedded`], [`local_provider`] over [`local`],
//! [`existing`]) and hollow-node providers ([`hollow_local`],
//! [`external_provider`] over [`external`]), the [`supervisor`] that keeps
//! their processes running, and the cluster directory ([`state`]). The one
//! way to run `kubemark master` as a child process is [`launcher`].

pub mod embedded;
pub mod existing;
pub mod external;
pub mod external_provider;
pub mod hollow_local;
pub mod launcher;
pub mod local;
pub mod local_provider;
pub mod probe;
pub mod process;
pub mod provider;
pub mod signal;
pub mod state;
pub mod supervisor;

use master::server::{MasterConfig, RunningMaster};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every component name `--controllers` accepts besides the controller
/// manager's own: the scheduler.
pub const SCHEDULER: &str = "scheduler";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Master(#[from] master::server::MasterError),
    #[error("--controllers: {0}")]
    Controllers(String),
    #[error("credentials for {user}: {reason}")]
    Credentials { user: String, reason: String },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    pub master: MasterConfig,
    /// kube-controller-manager style list, plus `scheduler`: `*`,
    /// `*,-scheduler`, `deployment,replicaset,scheduler`.
    pub controllers: String,
    /// A node whose Lease is not renewed for this long turns Unknown.
    pub node_monitor_grace_period: Duration,
}

impl ControlPlaneConfig {
    pub fn new(master: MasterConfig) -> ControlPlaneConfig {
        ControlPlaneConfig {
            master,
            controllers: "*".to_string(),
            node_monitor_grace_period: Duration::from_secs(40),
        }
    }
}

/// Splits the component list into "run the scheduler?" and the controller
/// manager's own `--controllers` value.
pub fn split_components(spec: &str) -> Result<(bool, String), ClusterError> {
    // `--controllers ""`: the API server alone.
    if spec.trim().is_empty() {
        return Ok((false, String::new()));
    }
    let mut star = false;
    let mut scheduler: Option<bool> = None;
    let mut rest = Vec::new();
    for item in spec.split(',').map(str::trim) {
        match item {
            "scheduler" => scheduler = Some(true),
            "-scheduler" => scheduler = Some(false),
            "*" => {
                star = true;
                rest.push(item);
            }
            "" => {
                return Err(ClusterError::Controllers(format!(
                    "empty entry in {spec:?}"
                )))
            }
            other => rest.push(other),
        }
    }
    let run_scheduler = scheduler.unwrap_or(star);
    let rest = rest.join(",");
    // Validate the controller part now, with a clear error.
    let enabled: BTreeSet<String> = controllers::parse_controllers(&rest)
        .map_err(|e| ClusterError::Controllers(e.to_string()))?;
    let _ = enabled;
    Ok((run_scheduler, rest))
}

/// A running embedded control plane. Dropping it stops everything.
pub struct ControlPlane {
    pub master: RunningMaster,
    pub scheduler_running: bool,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ControlPlane {
    /// A kube-rs client for a component identity (user `name`, groups).
    pub async fn client_for(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<kube::Client, ClusterError> {
        client_for(&self.master, user, groups).await
    }

    /// Stops the scheduler and controllers, then the API server. (Dropping
    /// the control plane also stops everything: the components see their
    /// stop channel close, and the master stops when dropped.)
    pub async fn shutdown(self) {
        let ControlPlane {
            master,
            stop,
            tasks,
            ..
        } = self;
        let _ = stop.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        master.shutdown().await;
    }
}

async fn client_for(
    master: &RunningMaster,
    user: &str,
    groups: &[&str],
) -> Result<kube::Client, ClusterError> {
    let err = |reason: String| ClusterError::Credentials {
        user: user.to_string(),
        reason,
    };
    let (cert, key) = master
        .pki
        .issue_client_cert(user, groups)
        .map_err(|e| err(e.to_string()))?;
    let yaml = master
        .pki
        .kubeconfig(&master.url, "kubemark", user, &cert, &key);
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).map_err(|e| err(e.to_string()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    kube::Client::try_from(cfg).map_err(|e| err(e.to_string()))
}

/// Resolves when the control plane is asked to stop (or dropped).
async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Starts the API server, then the scheduler and controllers against it.
pub async fn start(cfg: ControlPlaneConfig) -> Result<ControlPlane, ClusterError> {
    let (run_scheduler, controller_list) = split_components(&cfg.controllers)?;
    let master = master::server::start(cfg.master.clone()).await?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if run_scheduler {
        // The real components authenticate as themselves; they are granted
        // everything (system:masters) since the embedded master has no RBAC.
        let client = client_for(&master, "system:kube-scheduler", &["system:masters"]).await?;
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            scheduler::run(client, scheduler::SchedulerConfig::default(), shutdown).await;
        }));
        master.add_metrics_source(Arc::new(scheduler::render_metrics));
    }
    if !controller_list.is_empty() {
        let client = client_for(
            &master,
            "system:kube-controller-manager",
            &["system:masters"],
        )
        .await?;
        let cm = controllers::ControllerManagerConfig {
            controllers: controller_list,
            node_monitor_grace_period: cfg.node_monitor_grace_period,
            root_ca_pem: master.pki.ca_pem().to_string(),
            ..controllers::ControllerManagerConfig::default()
        };
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = controllers::run(client, cm, shutdown).await {
                tracing::error!("controller manager stopped: {e}");
            }
        }));
    }
    Ok(ControlPlane {
        master,
        scheduler_running: run_scheduler,
        stop,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_lists() {
        assert_eq!(split_components("*").ok(), Some((true, "*".to_string())));
        assert_eq!(
            split_components("*,-scheduler").ok(),
            Some((false, "*".to_string()))
        );
        assert_eq!(
            split_components("scheduler").ok(),
            Some((true, String::new()))
        );
        assert_eq!(
            split_components("deployment,replicaset").ok(),
            Some((false, "deployment,replicaset".to_string()))
        );
        assert!(split_components("frobnicator").is_err());
        assert_eq!(split_components("").ok(), Some((false, String::new())));
        assert!(split_components("*,,").is_err());
    }
}
