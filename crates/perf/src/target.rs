//! The cluster under test: a client for it (only ever from an explicit
//! kubeconfig), what kind of master it is, and how to sample its
//! components' CPU and memory.

use crate::PerfError;
use std::path::Path;
use std::time::Duration;

/// How long the master may take to answer `/version` before the run gives up.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MasterKind {
    /// kubemark's own master (child process or in-process).
    Embedded,
    /// Any other Kubernetes master, given by --kubeconfig.
    External,
}

/// Where a component's CPU and memory come from.
#[derive(Debug, Clone, PartialEq)]
pub enum UsageSource {
    /// A local process: `/proc/<pid>/stat` and `/proc/<pid>/status`.
    Pid { name: String, pid: u32 },
    /// `process_*` metrics of the master's `/metrics`.
    Metrics { name: String },
}

impl UsageSource {
    pub fn name(&self) -> &str {
        match self {
            UsageSource::Pid { name, .. } | UsageSource::Metrics { name } => name,
        }
    }
}

/// A connected cluster.
#[derive(Clone)]
pub struct Target {
    pub client: kube::Client,
    /// The client configuration, for hollow nodes started by the run.
    pub config: kube::Config,
    pub url: String,
    pub kind: MasterKind,
    /// The master runs inside this process (tests): its usage is the whole
    /// process's.
    pub in_process: bool,
    pub usage: Vec<UsageSource>,
}

/// A client from a parsed kubeconfig (its current context).
async fn connect(
    kc: kube::config::Kubeconfig,
    origin: &str,
) -> Result<(kube::Client, kube::Config, String), PerfError> {
    let err = |reason: String| PerfError::Kubeconfig {
        path: origin.to_string(),
        reason,
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    let url = cfg.cluster_url.to_string();
    let client = kube::Client::try_from(cfg.clone()).map_err(|e| err(e.to_string()))?;
    Ok((client, cfg, url))
}

async fn connect_yaml(
    yaml: &str,
    origin: &str,
) -> Result<(kube::Client, kube::Config, String), PerfError> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml).map_err(|e| PerfError::Kubeconfig {
        path: origin.to_string(),
        reason: e.to_string(),
    })?;
    connect(kc, origin).await
}

impl Target {
    /// An existing cluster from a kubeconfig file.
    pub async fn from_kubeconfig_file(path: &Path) -> Result<Target, PerfError> {
        let origin = path.display().to_string();
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| PerfError::Kubeconfig {
            path: origin.clone(),
            reason: e.to_string(),
        })?;
        let (client, config, url) = connect(kc, &origin).await?;
        Ok(Target {
            client,
            config,
            url,
            kind: MasterKind::External,
            in_process: false,
            usage: vec![UsageSource::Metrics {
                name: "kube-apiserver".into(),
            }],
        })
    }

    /// The embedded master running as a child process of this one.
    pub async fn child(master: &cluster::launcher::MasterChild) -> Result<Target, PerfError> {
        let (client, config, url) = connect_yaml(
            &master.kubeconfig,
            &master.ready.kubeconfig.display().to_string(),
        )
        .await?;
        Ok(Target {
            client,
            config,
            url,
            kind: MasterKind::Embedded,
            in_process: false,
            usage: vec![
                // API server, scheduler and controllers share the process.
                UsageSource::Pid {
                    name: "kubemark-master".into(),
                    pid: master.pid,
                },
                UsageSource::Pid {
                    name: "hollow-nodes+test-driver".into(),
                    pid: std::process::id(),
                },
            ],
        })
    }

    /// An embedded control plane running in this process (`cluster::start`).
    pub async fn in_process(plane: &cluster::ControlPlane) -> Result<Target, PerfError> {
        let m = &plane.master;
        let (client, config, url) =
            connect_yaml(&m.kubeconfig, &m.kubeconfig_path.display().to_string()).await?;
        Ok(Target {
            client,
            config,
            url,
            kind: MasterKind::Embedded,
            in_process: true,
            usage: vec![UsageSource::Pid {
                name: "test-process (master+hollow nodes)".into(),
                pid: std::process::id(),
            }],
        })
    }

    /// A cluster started by `kubemark start`: the master processes its
    /// supervisor runs are sampled by pid (the master's own `/metrics`
    /// stays the source for a master kubemark does not run).
    pub fn use_cluster_processes(&mut self, dir: &cluster::state::ClusterDir) {
        let Ok(rt) = dir.read_runtime() else { return };
        let pids: Vec<UsageSource> = rt
            .processes
            .iter()
            .filter(|(name, _)| !name.starts_with(cluster::hollow_local::PROCESS_PREFIX))
            .filter_map(|(name, r)| {
                let p = r.process.filter(|p| p.alive())?;
                Some(UsageSource::Pid {
                    name: name.clone(),
                    pid: p.pid,
                })
            })
            .collect();
        // The cluster outlives the run, so it stays `External` (cleanup
        // runs as for any cluster); only where usage comes from changes.
        if !pids.is_empty() {
            self.usage = pids;
        }
    }

    /// `/version`, failing fast with a clear message when the master is
    /// unreachable.
    pub async fn version(&self) -> Result<serde_json::Value, PerfError> {
        let unreachable = |reason: String| PerfError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        match tokio::time::timeout(REACH_TIMEOUT, self.client.apiserver_version()).await {
            Err(_) => Err(unreachable(format!(
                "no answer to GET /version within {}s",
                REACH_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(unreachable(e.to_string())),
            Ok(Ok(info)) => Ok(serde_json::to_value(info).unwrap_or_default()),
        }
    }

    /// The master's `/metrics` text.
    pub async fn scrape_text(&self) -> Result<String, PerfError> {
        let req = http::Request::get("/metrics")
            .body(Vec::new())
            .map_err(|e| PerfError::Api {
                what: "GET /metrics".into(),
                reason: e.to_string(),
            })?;
        tokio::time::timeout(Duration::from_secs(30), self.client.request_text(req))
            .await
            .map_err(|_| PerfError::Api {
                what: "GET /metrics".into(),
                reason: "timed out after 30s".into(),
            })?
            .map_err(|e| PerfError::Api {
                what: "GET /metrics".into(),
                reason: e.to_string(),
            })
    }
}
