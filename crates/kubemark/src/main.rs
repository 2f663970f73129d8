//! The `kubemark` command line.

mod bench;
mod bench_hollow;
mod bench_soak;
mod clusters;
mod h2client;

// glibc malloc spent about a sixth of the master's CPU under Density load
// (searching fragmented bins); with mimalloc 1,000 nodes x 30 pods saturate
// about 20 % faster, for about a third more RSS per hollow node.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kubemark",
    version,
    about = "Simulated Kubernetes clusters for control-plane scalability testing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded Kubernetes master (API server, scheduler and
    /// controllers) in the foreground.
    Master(MasterArgs),
    /// Run N hollow nodes (simulated kubelet, kube-proxy and node problem
    /// detector) in this process against the master of a kubeconfig.
    HollowNode(Box<hollow::HollowNodeArgs>),
    /// Run the Density or Load test and write SLO measurements as artifacts.
    /// Without --kubeconfig it starts an ephemeral embedded master and
    /// --nodes (100) hollow nodes.
    Run(perf::RunArgs),
    /// Benchmarks (print measured numbers).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Container images of kubemark (for hollow-node pods).
    #[command(subcommand)]
    Image(ImageCommand),
    /// Start a named kubemark cluster (master + hollow nodes) that keeps
    /// running in the background.
    Start(Box<clusters::StartArgs>),
    /// Show a cluster's components, their health and its hollow nodes.
    Status(clusters::StatusArgs),
    /// Grow or shrink a cluster's hollow nodes.
    Scale(clusters::ScaleArgs),
    /// Stop a cluster and remove everything it started or created.
    Stop(clusters::StopArgs),
    /// Print the process or pod that simulates a hollow node.
    Which(clusters::WhichArgs),
    /// Print one hollow node's own log lines (kubelet, proxy, NPD).
    Logs(clusters::LogsArgs),
    /// Compare runs metric by metric with a tolerance verdict (exit 1 if
    /// anything got worse).
    Compare(dashboard::cli::CompareArgs),
    /// Serve a web dashboard of the runs in some directories.
    Dashboard(dashboard::cli::DashboardArgs),
    /// Write the dashboard's views as one self-contained HTML file.
    Report(dashboard::cli::ReportArgs),
    /// Keep a cluster's processes running (started by `kubemark start`).
    #[command(hide = true)]
    Supervise(clusters::SuperviseArgs),
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Write an OCI image archive (oci-archive) of this kubemark binary with
    /// its shared libraries and CA certificates, without Docker or any daemon.
    Build(ociimage::ImageBuildArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// GET/LIST/PATCH throughput, memory per stored pod and per open watch
    /// of the embedded master, run as its own process.
    ApiServer(bench::ApiServerBenchArgs),
    /// Scheduling-loop throughput at 100 and 1,000 nodes, and the time from
    /// creating a 30,000-replica Deployment to all of its pods being bound.
    Scheduler(bench::SchedulerBenchArgs),
    /// Density at several node counts (default 100 and 1,000), each on a
    /// fresh embedded master: wall time, saturation pods/s, startup p99.
    Density(perf::BenchArgs),
    /// Footprint of hollow nodes in one process (default 1,000 and 5,000):
    /// time to all Ready, RSS and CPU per node, lease renewal lateness,
    /// against the targets and the Go kubemark.
    Hollow(bench_hollow::HollowBenchArgs),
    /// Soak: N hollow nodes (default 10,000) against an embedded master
    /// child for --duration (30m): RSS/CPU of both processes every 10 s,
    /// lease renewals, misses and NotReady flaps seen by the master, and
    /// the memory trend with a verdict.
    Soak(bench_soak::SoakArgs),
}

#[derive(clap::Args)]
struct MasterArgs {
    /// Address to serve HTTPS on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Directory for the PKI, the admin kubeconfig and stored objects
    /// [default: $XDG_DATA_HOME/kubemark/master or ~/.local/share/kubemark/master].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to write the admin kubeconfig [default: DATA_DIR/kubeconfig].
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Keep objects in memory only (nothing survives a restart).
    #[arg(long)]
    ephemeral: bool,
    /// Extra IP address or DNS name for the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    tls_sans: Vec<String>,
    /// Static bearer tokens, kube-apiserver `--token-auth-file` CSV format.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Watch events kept per resource so that clients can resume watches.
    #[arg(long, default_value_t = 10_000)]
    watch_history: usize,
    /// Control loops to run, kube-controller-manager style, plus `scheduler`:
    /// `*` (all), `*,-scheduler` (bring your own scheduler),
    /// `deployment,replicaset`, or `` (API server only).
    #[arg(long, default_value = "*")]
    controllers: String,
    /// A node whose Lease is not renewed for this many seconds turns
    /// Ready=Unknown and gets the unreachable taint.
    #[arg(long, default_value_t = 40)]
    node_monitor_grace_period: u64,
    /// Once serving, write {"url", "kubeconfig", "pid", "data_dir"} as JSON
    /// to this file (for programs that start the master).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Read-only requests in flight at once (watches excluded); more get
    /// 429 with Retry-After. 0: unlimited.
    #[arg(long, default_value_t = master::limits::DEFAULT_MAX_REQUESTS_INFLIGHT)]
    max_requests_inflight: usize,
    /// Mutating requests in flight at once; more get 429. 0: unlimited.
    #[arg(long, default_value_t = master::limits::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT)]
    max_mutating_requests_inflight: usize,
    /// Concurrent watches one user may hold; more get 429. 0: unlimited.
    #[arg(long, default_value_t = master::limits::DEFAULT_MAX_WATCHES_PER_USER)]
    max_watches_per_user: usize,
}

fn main() -> std::process::ExitCode {
    // `@FILE` arguments expand to the file's lines, one argument per line
    // (the external hollow-node provider passes flags in a ConfigMap file).
    let cli = match argfile::expand_args_from(
        std::env::args_os(),
        argfile::parse_fromfile,
        argfile::PREFIX,
    ) {
        Ok(args) => Cli::parse_from(args),
        Err(e) => {
            eprintln!("error: cannot read an @argument file: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Readiness and health probes fail while a component is down, which
    // the cluster commands report themselves; kube-rs would log each as an
    // error.
    let default_filter = match cli.command {
        Command::Supervise(_)
        | Command::Start(_)
        | Command::Status(_)
        | Command::Scale(_)
        | Command::Stop(_)
        | Command::Which(_)
        | Command::Logs(_) => "info,kube_client=off",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KUBEMARK_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs in files stay greppable.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let open_files = raise_open_files_limit();
    if let (Command::HollowNode(args), Some(limit)) = (&cli.command, open_files) {
        // One connection per kubelet and per proxy, unless multiplexed.
        let planned = match (args.shared_connections, args.shared_proxy_connections) {
            (Some(k), _) => k as u64,
            (None, Some(k)) => args.nodes as u64 + k as u64,
            (None, None) => args.nodes as u64 * 2,
        };
        if planned + 64 > limit {
            eprintln!(
                "warning: {} hollow nodes plan about {planned} connections, but this process may open only {limit} files (ulimit -n; the hard limit caps it): use --shared-connections K or raise the hard limit",
                args.nodes
            );
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Ok(exit code) for commands that finish with a verdict; errors print
    // and exit with their own code (2: bad flags, 130: interrupted).
    let result: Result<u8, (anyhow::Error, u8)> = runtime.block_on(async {
        let plain = |r: anyhow::Result<()>| r.map(|()| 0).map_err(|e| (e, 1));
        match cli.command {
            Command::Master(args) => plain(run_master(args).await),
            Command::HollowNode(args) => hollow::run_cli(*args)
                .await
                .map(|()| 0)
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
            Command::Run(args) => perf::run(args)
                .await
                .map(|outcome| outcome.exit_code())
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
            Command::Bench(BenchCommand::Density(args)) => perf::bench_density(args)
                .await
                .map(|_| 0)
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
            Command::Bench(BenchCommand::ApiServer(args)) => plain(bench::run(args).await),
            Command::Bench(BenchCommand::Scheduler(args)) => plain(bench::scheduler(args).await),
            Command::Bench(BenchCommand::Hollow(args)) => plain(bench_hollow::run(args).await),
            Command::Bench(BenchCommand::Soak(args)) => plain(bench_soak::run(args).await),
            Command::Image(ImageCommand::Build(args)) => plain(
                ociimage::build(&args)
                    .map(|summary| println!("{summary}"))
                    .map_err(anyhow::Error::from),
            ),
            Command::Start(args) => plain(clusters::start(*args).await),
            Command::Status(args) => plain(clusters::status(args).await),
            Command::Scale(args) => plain(clusters::scale(args).await),
            Command::Stop(args) => plain(clusters::stop(args).await),
            Command::Which(args) => plain(clusters::which(args).await),
            Command::Logs(args) => plain(clusters::logs(args).await),
            Command::Supervise(args) => plain(clusters::supervise(args).await),
            Command::Compare(args) => dashboard::cli::compare_cli(&args)
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
            Command::Dashboard(args) => dashboard::cli::dashboard_cli(args)
                .await
                .map(|()| 0)
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
            Command::Report(args) => dashboard::cli::report_cli(&args)
                .map(|()| 0)
                .map_err(|e| (anyhow::anyhow!(e.to_string()), e.exit_code())),
        }
    });
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err((e, code)) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(code)
        }
    }
}

async fn run_master(args: MasterArgs) -> anyhow::Result<()> {
    if args.watch_history == 0 {
        anyhow::bail!("--watch-history must be at least 1");
    }
    // Past a file-size limit (RLIMIT_FSIZE) a write must fail with EFBIG,
    // which the store refuses and rolls back, instead of SIGXFSZ killing
    // the master: a handled signal (tokio keeps its handler for the life
    // of the process) is as good as an ignored one.
    if let Err(e) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
        nix::sys::signal::Signal::SIGXFSZ as i32,
    )) {
        eprintln!("warning: cannot handle SIGXFSZ: {e}");
    }
    let data_dir = args
        .data_dir
        .unwrap_or_else(master::server::default_data_dir);
    let mut config = master::server::MasterConfig::new(data_dir);
    config.listen = args.listen;
    config.ephemeral = args.ephemeral;
    config.kubeconfig_path = args.write_kubeconfig;
    config.extra_sans = args.tls_sans;
    config.token_auth_file = args.token_auth_file;
    config.history_capacity = args.watch_history;
    config.limits = master::limits::LimitsConfig {
        max_requests_inflight: args.max_requests_inflight,
        max_mutating_requests_inflight: args.max_mutating_requests_inflight,
        max_watches_per_user: args.max_watches_per_user,
    };
    let mut plane = cluster::ControlPlaneConfig::new(config);
    plane.controllers = args.controllers.clone();
    plane.node_monitor_grace_period =
        std::time::Duration::from_secs(args.node_monitor_grace_period.max(1));
    let control_plane = cluster::start(plane).await.context("starting the master")?;
    let running = &control_plane.master;
    for w in &running.recovery_warnings {
        eprintln!("warning: {w}");
    }
    println!("kubemark master is serving on {}", running.url);
    println!(
        "data directory: {}{}",
        running.data_dir.display(),
        if args.ephemeral {
            " (ephemeral: objects are kept in memory only)"
        } else {
            ""
        }
    );
    println!(
        "control loops: {}",
        if args.controllers.trim().is_empty() {
            "none (API server only)".to_string()
        } else {
            args.controllers.clone()
        }
    );
    println!("To use it:");
    println!("  export KUBECONFIG={}", running.kubeconfig_path.display());
    println!("  kubectl get nodes");
    if let Some(path) = &args.ready_file {
        let info = cluster::launcher::ReadyInfo {
            url: running.url.clone(),
            kubeconfig: running.kubeconfig_path.clone(),
            pid: std::process::id(),
            data_dir: running.data_dir.clone(),
        };
        cluster::launcher::write_ready_file(path, &info)?;
    }
    wait_for_signal().await;
    eprintln!("shutting down");
    control_plane.shutdown().await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Raises this process's soft open-files limit to its hard limit (a master
/// or a hollow-node process holds a descriptor per connection), returning
/// the limit now in force.
fn raise_open_files_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}
