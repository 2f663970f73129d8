//! The one way to run `kubemark master` as a child process: it is started
//! with `--ready-file PATH` and writes a JSON [`ReadyInfo`] there once it
//! serves, so callers learn its address and kubeconfig without reading its
//! human-oriented output.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// What a master writes to its ready file once it accepts connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyInfo {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    pub pid: u32,
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("writing the ready file {path}: {source}")]
    WriteReady {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Start(String),
    #[error("the master exited ({status}) before it was ready; see {log}")]
    Exited { status: String, log: String },
    #[error("the master was not ready within {secs}s; see {log}")]
    Timeout { secs: u64, log: String },
}

/// Writes `info` to `path` atomically (a temporary file renamed into
/// place), so that a reader never sees half a file.
pub fn write_ready_file(path: &Path, info: &ReadyInfo) -> Result<(), LaunchError> {
    let err = |source| LaunchError::WriteReady {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(info).map_err(|e| err(std::io::Error::other(e)))?;
    std::fs::write(&tmp, body).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Reads a ready file; `None` while it does not exist or is incomplete.
pub fn read_ready_file(path: &Path) -> Option<ReadyInfo> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Where the child's stdout and stderr go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Appended to this file.
    File(PathBuf),
    /// This process's own stderr (benchmarks show the master's log).
    Inherit,
}

/// How to start `kubemark master`.
#[derive(Debug, Clone)]
pub struct MasterLaunch {
    /// The kubemark executable (default: this one).
    pub exe: Option<PathBuf>,
    /// Data directory (default: a temporary one, removed with the child).
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub ephemeral: bool,
    /// More `kubemark master` flags.
    pub extra_args: Vec<String>,
    pub output: Output,
    /// Start it in its own process group, so that Ctrl-C in a terminal
    /// reaches only the parent, which stops the master after cleaning up.
    pub own_process_group: bool,
    pub ready_timeout: Duration,
}

impl MasterLaunch {
    /// An ephemeral master on a free loopback port with a temporary data
    /// directory, logging to `log`.
    pub fn ephemeral(log: impl Into<PathBuf>) -> MasterLaunch {
        MasterLaunch {
            exe: None,
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ephemeral: true,
            extra_args: Vec::new(),
            output: Output::File(log.into()),
            own_process_group: true,
            ready_timeout: Duration::from_secs(60),
        }
    }

    /// The command-line arguments after the executable.
    pub fn args(&self, data_dir: &Path, ready_file: &Path) -> Vec<String> {
        let mut args = vec![
            "master".to_string(),
            "--listen".to_string(),
            self.listen.to_string(),
            "--data-dir".to_string(),
            data_dir.display().to_string(),
            "--ready-file".to_string(),
            ready_file.display().to_string(),
        ];
        if self.ephemeral {
            args.push("--ephemeral".to_string());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// A running `kubemark master` child. Dropping it kills the child.
pub struct MasterChild {
    child: tokio::process::Child,
    pub pid: u32,
    pub ready: ReadyInfo,
    /// The admin kubeconfig's contents.
    pub kubeconfig: String,
    pub data_dir: PathBuf,
    log: String,
    _tmp: Option<tempfile::TempDir>,
}

impl MasterChild {
    /// Starts the master and waits until it has written its ready file.
    pub async fn spawn(launch: &MasterLaunch) -> Result<MasterChild, LaunchError> {
        let fail = |m: String| LaunchError::Start(m);
        let (tmp, data_dir) = match &launch.data_dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::tempdir()
                    .map_err(|e| fail(format!("temporary data directory: {e}")))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| fail(format!("{}: {e}", data_dir.display())))?;
        let ready_file = data_dir.join("ready.json");
        // A ready file from an earlier run must not pass for this one.
        let _ = std::fs::remove_file(&ready_file);
        let exe = match &launch.exe {
            Some(e) => e.clone(),
            None => std::env::current_exe()
                .map_err(|e| fail(format!("finding the kubemark executable: {e}")))?,
        };
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(launch.args(&data_dir, &ready_file))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let log = match &launch.output {
            Output::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                let file2 = file
                    .try_clone()
                    .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                cmd.stdout(Stdio::from(file)).stderr(Stdio::from(file2));
                path.display().to_string()
            }
            Output::Inherit => {
                cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
                "its output above".to_string()
            }
        };
        #[cfg(unix)]
        if launch.own_process_group {
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("starting {} master: {e}", exe.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| fail("the master exited immediately".into()))?;
        let deadline = tokio::time::Instant::now() + launch.ready_timeout;
        let ready = loop {
            if let Some(info) = read_ready_file(&ready_file) {
                break info;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(LaunchError::Exited {
                    status: status.to_string(),
                    log,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(LaunchError::Timeout {
                    secs: launch.ready_timeout.as_secs(),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let kubeconfig = std::fs::read_to_string(&ready.kubeconfig)
            .map_err(|e| fail(format!("reading {}: {e}", ready.kubeconfig.display())))?;
        Ok(MasterChild {
            child,
            pid,
            ready,
            kubeconfig,
            data_dir,
            log,
            _tmp: tmp,
        })
    }

    /// Where the master's output goes.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// Whether the child has exited (and how).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks the master to stop (SIGTERM), killing it after `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        crate::signal::terminate(self.pid);
        if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
            return;
        }
        let _ = self.child.kill().await;
    }

    /// `kill -9`, then reaps the child.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_file_round_trips_and_is_absent_until_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        assert_eq!(read_ready_file(&path), None);
        std::fs::write(&path, b"{\"url\": \"https://").unwrap();
        assert_eq!(read_ready_file(&path), None, "half a file is not ready");
        let info = ReadyInfo {
            url: "https://127.0.0.1:6443".into(),
            kubeconfig: dir.path().join("kubeconfig"),
            pid: 42,
            data_dir: dir.path().to_path_buf(),
        };
        write_ready_file(&path, &info).unwrap();
        assert_eq!(read_ready_file(&path), Some(info));
    }

    #[test]
    fn args_carry_the_ready_file() {
        let l = MasterLaunch::ephemeral("/tmp/x.log");
        let args = l.args(Path::new("/d"), Path::new("/d/ready.json"));
        assert_eq!(
            args,
            [
                "master",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                "/d",
                "--ready-file",
                "/d/ready.json",
                "--ephemeral"
            ]
        );
    }
}
