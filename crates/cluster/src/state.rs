//! A named cluster's directory and the files in it, so that `status`,
//! `scale` and `stop` work from any shell:
//!
//! ```text
//! <base>/<name>/
//!   state.json       what `start`/`scale` asked for and created (CLI-owned)
//!   runtime.json     what the supervisor runs: pids, restarts (supervisor-owned)
//!   supervisor.pid   the supervisor's pid while it runs
//!   kubeconfig       the admin kubeconfig (the guide's kubeconfig.kubemark)
//!   pki/             certificates and keys (0600 files, 0700 directories)
//!   logs/            one log file per component, like /var/log on a master
//!   data/            the master's storage (embedded store or etcd)
//! ```

use crate::process::ProcessSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const RUNTIME_FILE: &str = "runtime.json";
pub const SUPERVISOR_PID_FILE: &str = "supervisor.pid";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid cluster name {name:?}: {why}")]
    Name { name: String, why: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {why}")]
    Parse { path: PathBuf, why: String },
    #[error("no cluster named {name:?} in {base} (start one with `kubemark start --name {name}`)")]
    NotFound { name: String, base: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `$XDG_DATA_HOME/kubemark/clusters`, else `~/.local/share/kubemark/clusters`.
pub fn default_base_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Path::new(&x).join("kubemark").join("clusters");
    }
    match std::env::var_os("HOME") {
        Some(h) => Path::new(&h).join(".local/share/kubemark/clusters"),
        None => PathBuf::from("kubemark-clusters"),
    }
}

/// Cluster names become directory names, namespace-like: a DNS-1123 label.
pub fn validate_name(name: &str) -> Result<(), StateError> {
    let bad = |why: &str| {
        Err(StateError::Name {
            name: name.to_string(),
            why: why.to_string(),
        })
    };
    if name.is_empty() || name.len() > 63 {
        return bad("must be 1 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may contain only lowercase letters, digits and '-'");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must start and end with a letter or digit");
    }
    Ok(())
}

/// One cluster's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDir {
    pub name: String,
    pub root: PathBuf,
}

impl ClusterDir {
    /// `<base>/<name>` (the directory need not exist yet).
    pub fn new(base: &Path, name: &str) -> Result<ClusterDir, StateError> {
        validate_name(name)?;
        Ok(ClusterDir {
            name: name.to_string(),
            root: base.join(name),
        })
    }

    /// An existing cluster's directory.
    pub fn existing(base: &Path, name: &str) -> Result<ClusterDir, StateError> {
        let dir = ClusterDir::new(base, name)?;
        if !dir.state_path().exists() {
            return Err(StateError::NotFound {
                name: name.to_string(),
                base: base.to_path_buf(),
            });
        }
        Ok(dir)
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }
    pub fn runtime_path(&self) -> PathBuf {
        self.root.join(RUNTIME_FILE)
    }
    pub fn supervisor_pid_path(&self) -> PathBuf {
        self.root.join(SUPERVISOR_PID_FILE)
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }
    pub fn pki(&self) -> PathBuf {
        self.root.join("pki")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    pub fn log(&self, component: &str) -> PathBuf {
        self.logs().join(format!("{component}.log"))
    }

    /// Creates the directory tree, private to the user.
    pub fn create(&self) -> Result<(), StateError> {
        for d in [self.root.clone(), self.pki(), self.logs(), self.data()] {
            create_private_dir(&d)?;
        }
        Ok(())
    }

    pub fn read_state(&self) -> Result<ClusterState, StateError> {
        read_json(&self.state_path())
    }
    pub fn write_state(&self, s: &ClusterState) -> Result<(), StateError> {
        write_json(&self.state_path(), s)
    }
    /// The supervisor's view; empty before it first wrote one.
    pub fn read_runtime(&self) -> Result<Runtime, StateError> {
        let p = self.runtime_path();
        if !p.exists() {
            return Ok(Runtime::default());
        }
        read_json(&p)
    }
    pub fn write_runtime(&self, r: &Runtime) -> Result<(), StateError> {
        write_json(&self.runtime_path(), r)
    }

    /// The running supervisor's pid, if its pid file names a live process
    /// that is the one recorded in the runtime file.
    pub fn running_supervisor(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.supervisor_pid_path())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let rt = self.read_runtime().ok()?;
        let me = rt.supervisor?;
        (me.pid == pid && crate::signal::same_process(pid, me.start_ticks)).then_some(pid)
    }
}

/// Every cluster under `base` (directories holding a state file).
pub fn list(base: &Path) -> Vec<ClusterDir> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut out: Vec<ClusterDir> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            ClusterDir::existing(base, &name).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub fn create_private_dir(d: &Path) -> Result<(), StateError> {
    make_private_dir(d).map_err(io(d))
}

/// Writes a file atomically (temporary file renamed into place), mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_atomic(path, bytes, 0o600).map_err(io(path))
}

/// Creates `dir` (and parents) with mode 0700, and tightens an existing one.
/// The one implementation behind every private directory of a cluster.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes `bytes` to `path` with `mode` atomically: a temporary file next to
/// it, synced, then renamed into place, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), StateError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| StateError::Parse {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    write_private(path, &bytes)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StateError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StateError::Parse {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// What `start` and `scale` asked for and created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    pub name: String,
    pub created_unix: u64,
    pub kubemark_version: String,
    pub master: ProviderState,
    pub hollow: ProviderState,
    /// Hollow nodes asked for.
    pub nodes: usize,
    /// Restart crashed processes (false: `--no-restart`).
    pub restart: bool,
    /// The master's URL as this machine reaches it.
    pub url: String,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The credentials the hollow nodes use.
    pub hollow_kubeconfig: PathBuf,
    /// The supervisor's plan, in start order (master first).
    pub processes: Vec<ProcessSpec>,
    /// Health endpoints of the master's components, for `status`.
    #[serde(default)]
    pub components: Vec<Component>,
}

/// A provider's name and its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderState {
    pub provider: String,
    #[serde(default)]
    pub config: serde_json::Value,
}

/// A master component as `status` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    /// The supervised process running it, if kubemark runs it.
    #[serde(default)]
    pub process: Option<String>,
    /// `/readyz`-style checks: path or URL → probe.
    #[serde(default)]
    pub health: Vec<crate::process::Probe>,
    /// Where its version can be read (a probe whose body is the version
    /// JSON or text), if anywhere.
    #[serde(default)]
    pub version: Option<crate::process::Probe>,
}

/// What the supervisor runs, written only by it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub supervisor: Option<ProcIdentity>,
    #[serde(default)]
    pub processes: BTreeMap<String, ProcRuntime>,
    /// Set when the supervisor gave up (e.g. a process never became ready
    /// with `--no-restart`).
    #[serde(default)]
    pub failed: Option<String>,
}

/// A process, identified beyond pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcIdentity {
    pub pid: u32,
    pub start_ticks: u64,
}

impl ProcIdentity {
    pub fn of(pid: u32) -> Option<ProcIdentity> {
        Some(ProcIdentity {
            pid,
            start_ticks: crate::signal::start_ticks(pid)?,
        })
    }
    pub fn alive(&self) -> bool {
        crate::signal::same_process(self.pid, self.start_ticks)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcPhase {
    /// Started, not yet ready.
    Starting,
    Ready,
    /// Exited; waiting to be restarted.
    Backoff,
    /// Exited and not restarted (`--no-restart`, or stopping).
    Exited,
    /// Not started yet (waiting for an earlier process to be ready).
    Waiting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRuntime {
    pub phase: ProcPhase,
    pub process: Option<ProcIdentity>,
    pub restarts: u32,
    /// How it last ended, e.g. `signal: 9 (SIGKILL)`.
    #[serde(default)]
    pub last_exit: Option<String>,
    /// When it entered this phase (unix seconds).
    pub since_unix: u64,
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["kubemark", "a", "perf-1", "x9"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a/b", "..", "a_b", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directory_layout_and_listing() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let d = ClusterDir::new(base.path(), "one").unwrap();
        assert!(ClusterDir::existing(base.path(), "one").is_err());
        d.create().unwrap();
        let mode = std::fs::metadata(&d.root).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let state = ClusterState {
            name: "one".into(),
            created_unix: 1,
            kubemark_version: "0.1.0".into(),
            master: ProviderState {
                provider: "embedded".into(),
                config: serde_json::json!({}),
            },
            hollow: ProviderState {
                provider: "local".into(),
                config: serde_json::json!({"nodesPerProcess": 5}),
            },
            nodes: 3,
            restart: true,
            url: "https://127.0.0.1:1".into(),
            kubeconfig: d.kubeconfig(),
            hollow_kubeconfig: d.pki().join("hollow.kubeconfig"),
            processes: vec![],
            components: vec![],
        };
        d.write_state(&state).unwrap();
        let mode = std::fs::metadata(d.state_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(d.read_state().unwrap(), state);
        assert_eq!(d.read_runtime().unwrap(), Runtime::default());
        assert_eq!(list(base.path()), vec![d.clone()]);
        assert_eq!(d.running_supervisor(), None);
        std::fs::write(d.state_path(), b"{").unwrap();
        let e = d.read_state().unwrap_err().to_string();
        assert!(e.contains("state.json is damaged"), "{e}");
    }
}
