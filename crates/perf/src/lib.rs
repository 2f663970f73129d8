//! Density and Load tests, SLO measurements, artifacts.
//!
//! `kubemark run density|load` runs ClusterLoader2 configs embedded in
//! the binary (`configs/density`, `configs/load`, see [`cl2::builtin`]),
//! and `kubemark run --config` any ClusterLoader2 config, with one engine
//! ([`cl2::run`]) against either an explicit `--kubeconfig` or an ephemeral embedded
//! master started as a child process, with hollow nodes in this process.
//! The config's measurements ([`cl2::measure`]) record pod startup times
//! (pod watches), the master's `/metrics` at start and gather, scheduling
//! progress every second and the master's CPU and memory every
//! `--usage-interval`; the pure [`measure`] modules turn these into
//! ClusterLoader2-style summaries and SLO verdicts, written as perfdash
//! JSON, `junit.xml` and `run.json` (see [`artifacts`]).
//!
//! Library entry points: [`run`] (the command), [`run_with`] (any
//! connected [`Target`], e.g. an in-process `cluster::ControlPlane` in
//! tests) and [`bench_density`].

pub mod args;
pub mod artifacts;
mod bench;
pub mod cl2;
pub mod disruption;
pub mod exec;
pub mod fleet;
pub mod histogram;
pub mod measure;
pub mod objects;
pub mod progress;
pub mod prom;
pub mod report;
pub mod runner;
pub mod slo;
pub mod stats;
pub mod target;
pub mod usage;

pub use args::{BenchArgs, RunArgs, TestKind};
pub use bench::{bench_density, BenchResult};
pub use runner::{run_with, RunOptions, RunOutcome};
pub use target::{MasterKind, Target};

use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error("invalid parameters: {0}")]
    Args(#[from] args::ArgsError),
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig { path: String, reason: String },
    #[error("cannot reach the master at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("embedded master: {0}")]
    Master(String),
    #[error("hollow nodes: {0}")]
    Hollow(String),
    #[error("{what}: {reason}")]
    Api { what: String, reason: String },
    #[error("the cluster has no Ready schedulable nodes; pass --nodes N to start N hollow nodes against it")]
    NoNodes,
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Artifact(#[from] artifacts::ArtifactError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PerfError {
    /// 2 for bad parameters, 130 after Ctrl-C, 4 for anything else
    /// (see [`RunOutcome::exit_code`] for finished runs).
    pub fn exit_code(&self) -> u8 {
        match self {
            PerfError::Args(_) => 2,
            PerfError::Interrupted => 130,
            _ => 4,
        }
    }
}

/// `./artifacts/<test>-<timestamp>`.
pub fn default_artifacts_dir(test: TestKind, unix: f64) -> PathBuf {
    PathBuf::from("artifacts").join(format!("{test}-{}", stats::compact_timestamp(unix)))
}

/// Prints the plan without touching any cluster.
pub fn dry_run(args: &RunArgs) -> Result<RunOutcome, PerfError> {
    args.validate()?;
    runner::dry_run(args)
}

/// `--print-config [DIR]`: the built-in test's config, printed or written
/// to DIR.
pub fn print_config(args: &RunArgs) -> Result<RunOutcome, PerfError> {
    match args.print_config.as_deref() {
        Some(dir) if dir != std::path::Path::new("-") => {
            cl2::builtin::write_dir(args, dir).map_err(|source| PerfError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            println!(
                "Wrote the {} config to {}; run it with\n  kubemark run --config {} --testoverrides {}",
                args.test,
                dir.display(),
                dir.join("config.yaml").display(),
                dir.join(cl2::builtin::OVERRIDES_FILE).display()
            );
        }
        _ => print!("{}", cl2::builtin::listing(args)),
    }
    Ok(RunOutcome {
        test: args.test,
        passed: true,
        dry_run: true,
        artifacts_dir: None,
        checks: Vec::new(),
        phases: Vec::new(),
        timed_out: None,
        nodes: args.nodes.unwrap_or(args::DEFAULT_NODES),
        saturation_pods: 0,
        saturation_seconds: None,
        pod_startup_p99_ms: None,
        watch_startup_p99_ms: None,
        objects: Default::default(),
    })
}

/// Cancels `cancel` on Ctrl-C (or SIGTERM); a second one exits at once,
/// killing the child master (`pid`) first.
fn install_interrupt(
    cancel: tokio_util::sync::CancellationToken,
    pid: Arc<parking_lot::Mutex<Option<u32>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let signal = || async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    },
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        signal().await;
        eprintln!("\ninterrupted: stopping the run, cleaning up and writing what was measured (interrupt again to quit at once)");
        cancel.cancel();
        signal().await;
        if let Some(p) = *pid.lock() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
        std::process::exit(130);
    })
}

/// A built-in test, or the ClusterLoader2 config of `--config` (the same
/// as [`run_with`]).
pub async fn run_any(
    args: &RunArgs,
    target: Target,
    opts: RunOptions,
) -> Result<RunOutcome, PerfError> {
    run_with(args, target, opts).await
}

/// `kubemark run density|load`, or `kubemark run --config PATH`.
pub async fn run(mut args: RunArgs) -> Result<RunOutcome, PerfError> {
    if let Some(t) = args.test_name {
        args.test = t;
    }
    let cluster_dir = match &args.cluster {
        Some(name) => {
            let base = args
                .clusters_dir
                .clone()
                .unwrap_or_else(cluster::state::default_base_dir);
            let dir = cluster::state::ClusterDir::existing(&base, name)
                .map_err(|e| PerfError::Args(crate::args::ArgsError(format!("--cluster: {e}"))))?;
            args.kubeconfig = Some(dir.kubeconfig());
            Some(dir)
        }
        None => None,
    };
    if args.print_config.is_some() {
        return print_config(&args);
    }
    args.validate()?;
    if args.dry_run {
        return dry_run(&args);
    }
    let dir = args
        .artifacts
        .clone()
        .unwrap_or_else(|| match &args.config {
            Some(c) => PathBuf::from("artifacts").join(format!(
                "{}-{}",
                c.file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "config".into()),
                stats::compact_timestamp(stats::now_unix())
            )),
            None => default_artifacts_dir(args.test, stats::now_unix()),
        });
    std::fs::create_dir_all(&dir).map_err(|source| PerfError::Io {
        path: dir.clone(),
        source,
    })?;
    let opts = RunOptions::new(dir.clone());
    let pid = Arc::new(parking_lot::Mutex::new(None));
    let interrupt = install_interrupt(opts.cancel.clone(), pid.clone());
    let result = match &args.kubeconfig {
        Some(path) => match Target::from_kubeconfig_file(path).await {
            Ok(mut target) => {
                if let Some(dir) = &cluster_dir {
                    target.use_cluster_processes(dir);
                }
                run_any(&args, target, opts).await
            }
            Err(e) => Err(e),
        },
        None => {
            println!(
                "Starting an ephemeral embedded master (log: {})...",
                dir.join("master.log").display()
            );
            let launch = cluster::launcher::MasterLaunch::ephemeral(dir.join("master.log"));
            let master = cluster::launcher::MasterChild::spawn(&launch).await;
            match master {
                Err(e) => Err(PerfError::Master(e.to_string())),
                Ok(master) => {
                    *pid.lock() = Some(master.pid);
                    let r = match Target::child(&master).await {
                        Ok(target) => run_any(&args, target, opts).await,
                        Err(e) => Err(e),
                    };
                    println!("Stopping the embedded master...");
                    master.shutdown(std::time::Duration::from_secs(10)).await;
                    *pid.lock() = None;
                    r
                }
            }
        }
    };
    interrupt.abort();
    result
}
