//! A run against a connected cluster. The built-in Density and Load tests
//! are ClusterLoader2 configs embedded in the binary ([`crate::cl2::builtin`])
//! and, like `--config`, run by the ClusterLoader2 engine
//! ([`crate::cl2::run`]). Both entry points (`run` with a child master or
//! `--kubeconfig`, and tests with an in-process control plane) end up here.

use crate::args::RunArgs;
use crate::args::TestKind;
use crate::cl2;
use crate::exec::Tally;
use crate::progress::Mode;
use crate::report::PhaseRecord;
use crate::slo::SloCheck;
use crate::target::Target;
use crate::PerfError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// How a run is carried out, besides its parameters.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run directory (created if missing).
    pub artifacts_dir: PathBuf,
    /// Cancelled on Ctrl-C: the run stops, cleans up and reports.
    pub cancel: CancellationToken,
    pub progress: Mode,
}

impl RunOptions {
    pub fn new(artifacts_dir: PathBuf) -> RunOptions {
        RunOptions {
            artifacts_dir,
            cancel: CancellationToken::new(),
            progress: Mode::detect(),
        }
    }
}

/// What a run found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    pub test: TestKind,
    /// Every SLO and phase check passed.
    pub passed: bool,
    pub dry_run: bool,
    pub artifacts_dir: Option<PathBuf>,
    pub checks: Vec<SloCheck>,
    pub phases: Vec<PhaseRecord>,
    /// The phase that hit --timeout, if one did.
    pub timed_out: Option<String>,
    pub nodes: usize,
    /// Density: saturation pods and how long creating them until all ran took.
    pub saturation_pods: usize,
    pub saturation_seconds: Option<f64>,
    /// p99 pod_startup of the latency pods (server timestamps, 1 s resolution).
    pub pod_startup_p99_ms: Option<f64>,
    /// p99 startup of the latency pods as seen by the watch alone.
    pub watch_startup_p99_ms: Option<f64>,
    /// Objects created / updated / deleted, per kind.
    pub objects: BTreeMap<String, Tally>,
}

impl RunOutcome {
    /// 0 pass, 1 SLO violated, 3 a phase timed out.
    pub fn exit_code(&self) -> u8 {
        if self.passed {
            0
        } else if self.timed_out.is_some() {
            3
        } else {
            1
        }
    }
}

/// Runs the test described by `args` against `target`: the config of
/// `--config`, or the built-in test's embedded config.
pub async fn run_with(
    args: &RunArgs,
    target: Target,
    opts: RunOptions,
) -> Result<RunOutcome, PerfError> {
    if args.config.is_some() {
        return cl2::run::run_with(args, target, opts).await;
    }
    args.validate()?;
    let m = materialize(args)?;
    cl2::run::run_with(&m.config_args(args), target, opts)
        .await
        .map_err(|e| m.rename(e))
}

/// `--dry-run` of a built-in test or a config.
pub fn dry_run(args: &RunArgs) -> Result<RunOutcome, PerfError> {
    if args.config.is_some() {
        return cl2::run::dry_run(args);
    }
    let m = materialize(args)?;
    cl2::run::dry_run(&m.config_args(args)).map_err(|e| m.rename(e))
}

/// The rendered plan of a built-in test or a config (what `--dry-run`
/// prints).
pub fn render(args: &RunArgs) -> Result<cl2::run::Rendered, PerfError> {
    if args.config.is_some() {
        return cl2::run::render(args);
    }
    let m = materialize(args)?;
    cl2::run::render(&m.config_args(args)).map_err(|e| m.rename(e))
}

fn materialize(args: &RunArgs) -> Result<cl2::builtin::Materialized, PerfError> {
    cl2::builtin::Materialized::new(args).map_err(|source| PerfError::Io {
        path: std::env::temp_dir(),
        source,
    })
}
