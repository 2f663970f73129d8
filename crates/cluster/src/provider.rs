//! The provider API: one trait for where the master runs, one for where
//! hollow nodes run. Each provider is one module; [`master_provider`] and
//! [`hollow_provider`] are the only places that name them all.
//!
//! `start` asks the master provider to prepare the cluster directory and
//! describe its processes, has the supervisor run them, calls `bootstrap`
//! once the master is ready, then asks the hollow provider for its local
//! processes (supervised too) and to `apply` whatever runs elsewhere.
//! `status`, `scale`, `which`, `logs` and `stop` rebuild the providers
//! from the settings they recorded in `state.json`.

use crate::process::ProcessSpec;
use crate::state::{ClusterDir, ClusterState, Component};
use k8s_openapi::api::core::v1::Node;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("unknown {what} provider {name:?} (known: {known})")]
    Unknown {
        what: &'static str,
        name: String,
        known: String,
    },
    #[error("{provider} settings in state.json: {why}")]
    Config { provider: String, why: String },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Failed(String),
}

impl ProviderError {
    pub fn failed(msg: impl Into<String>) -> ProviderError {
        ProviderError::Failed(msg.into())
    }
}

/// What a master provider prepared.
#[derive(Debug, Clone)]
pub struct MasterPlan {
    /// The master's URL as this machine reaches it.
    pub url: String,
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The credentials hollow nodes use.
    pub hollow_kubeconfig: PathBuf,
    /// Processes to supervise, in start order (none for a master that
    /// kubemark does not run).
    pub processes: Vec<ProcessSpec>,
    /// The components `status` reports.
    pub components: Vec<Component>,
}

/// Where the master runs.
pub trait MasterProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Settings to record in `state.json` (rebuilt by [`master_provider`]).
    fn config(&self) -> serde_json::Value;
    /// Writes PKI, kubeconfigs and data directories into `dir` and describes
    /// the processes. Fails with a clear error (missing binary, port in use)
    /// before anything runs.
    fn prepare(&self, dir: &ClusterDir) -> Result<MasterPlan, ProviderError>;
    /// Runs once the master answers `/readyz` (e.g. RBAC for the hollow
    /// credentials).
    fn bootstrap<'a>(&'a self, admin: &'a kube::Client) -> BoxFut<'a, Result<(), ProviderError>>;
}

/// Where a hollow node is simulated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub node: String,
    /// Machine (local hostname, or the external cluster's node).
    pub host: String,
    /// Local process id, if it runs on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The supervised process (`hollow-nodes-0`), if local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// `namespace/pod` on the external cluster, if external.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Its log file, if local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.pod, self.pid) {
            (Some(pod), _) => write!(f, "{}: pod {pod} on node {}", self.node, self.host),
            (None, Some(pid)) => {
                write!(f, "{}: host {} pid {pid}", self.node, self.host)?;
                if let Some(p) = &self.process {
                    write!(f, " ({p}")?;
                    if let Some(l) = &self.log {
                        write!(f, ", log {}", l.display())?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
            (None, None) => write!(f, "{}: host {}", self.node, self.host),
        }
    }
}

/// Hollow nodes of one host (process or pod), for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostCount {
    pub host: String,
    pub ready: usize,
    pub total: usize,
}

/// Everything a hollow provider may need about the running cluster.
pub struct HollowContext<'a> {
    pub dir: &'a ClusterDir,
    pub state: &'a ClusterState,
}

/// A sink for log lines (`kubemark logs`).
pub type LineSink<'a> = &'a mut (dyn FnMut(&str) + Send);

/// Where hollow nodes run.
pub trait HollowProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Settings to record in `state.json` (rebuilt by [`hollow_provider`]).
    fn config(&self) -> serde_json::Value;
    /// Local processes running `nodes` hollow nodes, to be supervised
    /// (none when they run elsewhere).
    fn processes(
        &self,
        dir: &ClusterDir,
        hollow_kubeconfig: &std::path::Path,
        nodes: usize,
    ) -> Result<Vec<ProcessSpec>, ProviderError>;
    /// Creates or updates whatever runs `nodes` hollow nodes elsewhere.
    fn apply<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        nodes: usize,
    ) -> BoxFut<'a, Result<(), ProviderError>>;
    /// Why nodes are not Ready, if the provider can tell (failing pods).
    fn problems<'a>(&'a self, ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>>;
    /// Where `node` is simulated.
    fn locate<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        node: &'a Node,
    ) -> BoxFut<'a, Result<Location, ProviderError>>;
    /// `node`'s own log lines (kubelet, proxy, NPD), following if asked.
    fn logs<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        node: &'a Node,
        follow: bool,
        out: LineSink<'a>,
    ) -> BoxFut<'a, Result<(), ProviderError>>;
    /// Removes what `apply` created; returns what could not be removed.
    fn remove<'a>(&'a self, ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>>;
}

pub const MASTER_PROVIDERS: &[&str] = &["embedded", "local", "existing"];
pub const HOLLOW_PROVIDERS: &[&str] = &["local", "external"];

/// A master provider from its recorded settings.
pub fn master_provider(
    name: &str,
    config: &serde_json::Value,
) -> Result<Box<dyn MasterProvider>, ProviderError> {
    match name {
        "embedded" => Ok(Box::new(crate::embedded::EmbeddedMaster::from_config(
            config,
        )?)),
        "existing" => Ok(Box::new(crate::existing::ExistingMaster::from_config(
            config,
        )?)),
        "local" => Ok(Box::new(crate::local_provider::LocalMaster::from_config(
            config,
        )?)),
        other => Err(ProviderError::Unknown {
            what: "master",
            name: other.to_string(),
            known: MASTER_PROVIDERS.join(", "),
        }),
    }
}

/// A hollow-node provider from its recorded settings.
pub fn hollow_provider(
    name: &str,
    config: &serde_json::Value,
) -> Result<Box<dyn HollowProvider>, ProviderError> {
    match name {
        "local" => Ok(Box::new(crate::hollow_local::LocalHollow::from_config(
            config,
        )?)),
        "external" => Ok(Box::new(
            crate::external_provider::ExternalHollow::from_config(config)?,
        )),
        other => Err(ProviderError::Unknown {
            what: "hollow-node",
            name: other.to_string(),
            known: HOLLOW_PROVIDERS.join(", "),
        }),
    }
}

/// Settings as a provider type, with an error naming the provider.
pub fn parse_config<T: serde::de::DeserializeOwned>(
    provider: &str,
    config: &serde_json::Value,
) -> Result<T, ProviderError> {
    serde_json::from_value(config.clone()).map_err(|e| ProviderError::Config {
        provider: provider.to_string(),
        why: e.to_string(),
    })
}
