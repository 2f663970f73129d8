//! The cluster under test: a client for it (only ever from an explicit
//! kubeconfig), what kind of master it is, and how to sample its
//! components' CPU and memory. Also the embedded master run as a child
//! process, so that its usage is measured apart from the hollow nodes.

use crate::PerfError;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

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
    pub async fn child(master: &MasterProcess) -> Result<Target, PerfError> {
        let (client, config, url) = connect_yaml(
            &master.kubeconfig,
            &master.kubeconfig_path.display().to_string(),
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

/// `kubemark master --ephemeral` as a child process.
pub struct MasterProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub kubeconfig_path: PathBuf,
    pub kubeconfig: String,
    _dir: tempfile::TempDir,
}

impl MasterProcess {
    /// Starts `<this executable> master --listen 127.0.0.1:0 --data-dir <tmp>
    /// --ephemeral` and waits for its kubeconfig; its log goes to `log`.
    pub async fn spawn(log: &Path) -> Result<MasterProcess, PerfError> {
        let fail = |m: String| PerfError::Master(m);
        let dir =
            tempfile::tempdir().map_err(|e| fail(format!("temporary data directory: {e}")))?;
        let exe = std::env::current_exe()
            .map_err(|e| fail(format!("finding the kubemark executable: {e}")))?;
        let log_file =
            std::fs::File::create(log).map_err(|e| fail(format!("{}: {e}", log.display())))?;
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args([
            "master",
            "--listen",
            "127.0.0.1:0",
            "--ephemeral",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
        // Its own process group: Ctrl-C in the terminal reaches only us, and
        // we stop the master after cleaning up.
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("starting {} master: {e}", exe.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| fail("the master exited immediately".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout from the master".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let wait = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.trim().strip_prefix("export KUBECONFIG=") {
                    return Some(PathBuf::from(p));
                }
            }
            None
        };
        let path = match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(fail(format!(
                    "the master exited before printing its kubeconfig; see {}",
                    log.display()
                )))
            }
            Err(_) => {
                return Err(fail(format!(
                    "the master printed no kubeconfig within 60s; see {}",
                    log.display()
                )))
            }
        };
        // Keep draining stdout so the child never blocks writing to it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let kubeconfig = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("reading {}: {e}", path.display())))?;
        Ok(MasterProcess {
            child,
            pid,
            kubeconfig_path: path,
            kubeconfig,
            _dir: dir,
        })
    }

    /// Asks the master to stop (SIGTERM), killing it after 10 s.
    pub async fn shutdown(mut self) {
        #[cfg(unix)]
        {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}
