//! The `kubemark compare`, `kubemark dashboard` and `kubemark report`
//! commands (arguments and thin entry points over the pure modules).

use crate::compare::{self, Comparison, Tolerances};
use crate::runs::{self, Run, Scan};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Compare(#[from] compare::CompareError),
    #[error("dashboard server: {0}")]
    Server(String),
}

impl CliError {
    /// 2 for bad arguments or input, 4 when the server cannot run.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Server(_) => 4,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Junit,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The base: a run directory, or a directory of runs (several runs are
    /// reduced to their median).
    pub base: PathBuf,
    /// The runs to compare with the base (run directories or directories of
    /// runs; all of them form the new side).
    #[arg(required = true)]
    pub new: Vec<PathBuf>,
    /// Allowed difference before a metric is better or worse [default: 10%,
    /// or the thresholds file's `tolerance`].
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Per-metric tolerances (YAML: `tolerance:` and `rules:` with `match`,
    /// `tolerance`, `min`, `ignore`, `better`).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: OutputFormat,
}

/// Loads the tolerances of `--tolerance` and `--thresholds`.
pub fn tolerances(
    tolerance: Option<&str>,
    thresholds: Option<&PathBuf>,
) -> Result<Tolerances, CliError> {
    let mut tol = match thresholds {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::Io {
                path: p.clone(),
                source,
            })?;
            Tolerances::parse(&p.display().to_string(), &text)?
        }
        None => Tolerances::default(),
    };
    if let Some(t) = tolerance {
        tol.default_pct = compare::parse_tolerance(t)?;
    }
    Ok(tol)
}

fn warn_problems(scan: &Scan) {
    for p in &scan.problems {
        eprintln!("warning: {p}");
    }
}

/// Runs the comparison; returns the text to print and the comparison.
pub fn compare_scans(base: &Scan, new: &Scan, tol: &Tolerances) -> Result<Comparison, CliError> {
    if base.runs.is_empty() {
        return Err(CliError::Usage(
            "compare: no runs on the base side (see the warnings above)".into(),
        ));
    }
    if new.runs.is_empty() {
        return Err(CliError::Usage(
            "compare: no runs on the new side (see the warnings above)".into(),
        ));
    }
    let b: Vec<&Run> = base.runs.iter().collect();
    let n: Vec<&Run> = new.runs.iter().collect();
    Ok(compare::compare(&b, &n, tol))
}

/// `kubemark compare`: prints the comparison; exit code 1 if anything is
/// worse.
pub fn compare_cli(args: &CompareArgs) -> Result<u8, CliError> {
    let tol = tolerances(args.tolerance.as_deref(), args.thresholds.as_ref())?;
    let base = runs::scan(std::slice::from_ref(&args.base));
    let new = runs::scan(&args.new);
    warn_problems(&base);
    warn_problems(&new);
    let tests: std::collections::BTreeSet<&str> = base
        .runs
        .iter()
        .chain(&new.runs)
        .map(|r| r.test.as_str())
        .collect();
    if tests.len() > 1 {
        eprintln!(
            "warning: comparing runs of different tests ({})",
            tests.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let c = compare_scans(&base, &new, &tol)?;
    match args.output {
        OutputFormat::Table => print!("{}", compare::table(&c)),
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(&c)
                .map_err(|e| CliError::Usage(format!("encoding JSON: {e}")))?;
            println!("{text}");
        }
        OutputFormat::Junit => print!("{}", compare::junit(&c)),
    }
    Ok(c.exit_code())
}

#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// Directories to scan for runs (recursively; rescanned on every page
    /// load, so new runs appear without a restart).
    #[arg(default_value = "artifacts")]
    pub dirs: Vec<PathBuf>,
    /// Address to serve on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Tolerance of the compare view [default: 10%].
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Per-metric tolerances, as for `kubemark compare`.
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
}

/// `kubemark dashboard`: serves until Ctrl-C.
pub async fn dashboard_cli(args: DashboardArgs) -> Result<(), CliError> {
    let tol = tolerances(args.tolerance.as_deref(), args.thresholds.as_ref())?;
    let server = crate::server::start(crate::server::Config {
        dirs: args.dirs.clone(),
        listen: args.listen,
        tolerances: tol,
    })
    .await
    .map_err(|e| CliError::Server(e.to_string()))?;
    let scan = runs::scan(&args.dirs);
    warn_problems(&scan);
    println!(
        "kubemark dashboard: {} runs in {}",
        scan.runs.len(),
        args.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Open http://{}/ (Ctrl-C to stop)", server.addr);
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown();
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Directories to scan for runs.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    pub output: PathBuf,
    /// Tolerance of the compare view [default: 10%].
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Per-metric tolerances, as for `kubemark compare`.
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
}

/// `kubemark report`: writes one self-contained HTML file.
pub fn report_cli(args: &ReportArgs) -> Result<(), CliError> {
    let tol = tolerances(args.tolerance.as_deref(), args.thresholds.as_ref())?;
    let scan = runs::scan(&args.dirs);
    warn_problems(&scan);
    if scan.runs.is_empty() {
        return Err(CliError::Usage(
            "report: no runs found (see the warnings above)".into(),
        ));
    }
    let html = crate::report::render(&scan, &tol);
    std::fs::write(&args.output, html).map_err(|source| CliError::Io {
        path: args.output.clone(),
        source,
    })?;
    println!(
        "Wrote {} ({} runs). Open it in a browser; it needs no network.",
        args.output.display(),
        scan.runs.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_flag_overrides_thresholds_file() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("t.yaml");
        std::fs::write(
            &f,
            "tolerance: 20%\nrules:\n  - match: \"SchedulingThroughput*\"\n    tolerance: 50\n    better: higher\n",
        )
        .unwrap();
        // (--tolerance, --thresholds, resulting default %, rules)
        type Case<'a> = (Option<&'a str>, Option<&'a PathBuf>, Option<f64>, usize);
        let cases: &[Case] = &[
            (None, None, Some(10.0), 0),
            (Some("5%"), None, Some(5.0), 0),
            (None, Some(&f), Some(20.0), 1),
            (Some("7"), Some(&f), Some(7.0), 1),
            (Some("x"), None, None, 0),
        ];
        for (flag, file, want, rules) in cases {
            let got = tolerances(*flag, *file);
            assert_eq!(
                got.as_ref().ok().map(|t| t.default_pct),
                *want,
                "{flag:?} {file:?}"
            );
            if let Ok(t) = got {
                assert_eq!(t.rules.len(), *rules);
            }
        }
        let missing = tmp.path().join("nope.yaml");
        let e = tolerances(None, Some(&missing)).unwrap_err();
        assert!(
            e.to_string().starts_with(&missing.display().to_string()),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
    }
}
