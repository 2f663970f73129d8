//! What a supervisor runs: a process's command line, its log file and how
//! to tell it is serving. Providers describe their processes with these;
//! the supervisor starts, probes, restarts and stops them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One supervised process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Unique within a cluster: `etcd`, `kube-apiserver`, `hollow-nodes-0`.
    pub name: String,
    /// Absolute path of the executable.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment variables (the supervisor's own are inherited).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: the cluster directory).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// stdout and stderr are appended here.
    pub log: PathBuf,
    /// How to tell the process is serving. The supervisor starts the next
    /// process of the plan only once this passes.
    #[serde(default)]
    pub ready: Option<Probe>,
}

/// A readiness or health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    /// GET `path` (e.g. `/readyz`) on the server of a kubeconfig, with its
    /// credentials and CA: a 200 means ready.
    Kubeconfig { kubeconfig: PathBuf, path: String },
    /// GET `url` (http or https) without credentials; an https certificate
    /// is not verified (components' self-signed serving certificates on
    /// loopback): a 200 means ready.
    Url { url: String },
    /// The file exists (the process writes it once it serves).
    File { path: PathBuf },
}

impl ProcessSpec {
    /// The command line as a shell would show it (for logs and errors).
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
