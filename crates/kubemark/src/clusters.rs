//! Named kubemark clusters: `kubemark start`, `status`, `scale`, `stop`,
//! `which`, `logs`, and the hidden `supervise` that keeps a cluster's
//! processes running after `start` returns.

use anyhow::{anyhow, bail, Context as _};
use cluster::provider::{
    hollow_provider, master_provider, HollowContext, HollowProvider, MasterProvider,
};
use cluster::state::{ClusterDir, ClusterState, ProcPhase, ProviderState};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flags every cluster command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct Where {
    /// The cluster's name.
    #[arg(long, default_value = "kubemark")]
    pub name: String,
    /// Directory holding cluster directories [default:
    /// $XDG_DATA_HOME/kubemark/clusters or ~/.local/share/kubemark/clusters].
    #[arg(long, env = "KUBEMARK_DIR", hide_env_values = true)]
    pub dir: Option<PathBuf>,
}

impl Where {
    fn base(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(cluster::state::default_base_dir)
    }
    fn existing(&self) -> anyhow::Result<ClusterDir> {
        Ok(ClusterDir::existing(&self.base(), &self.name)?)
    }
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    hollow::duration::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MasterKind {
    /// kubemark's own master, supervised, with a durable data directory.
    Embedded,
    /// Your Kubernetes binaries (etcd, kube-apiserver,
    /// kube-controller-manager, kube-scheduler), supervised.
    Local,
    /// Any running master, from --master-kubeconfig.
    Existing,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HollowKind {
    /// Supervised `kubemark hollow-node` processes on this machine.
    Local,
    /// A StatefulSet of hollow-node pods on the cluster of
    /// --external-kubeconfig.
    External,
}

/// `kubemark start`.
#[derive(clap::Args, Debug, Clone)]
pub struct StartArgs {
    #[command(flatten)]
    pub at: Where,
    /// Where the master runs.
    #[arg(long, value_enum, default_value = "embedded")]
    pub master: MasterKind,
    /// Where the hollow nodes run.
    #[arg(long, value_enum, default_value = "local")]
    pub hollow: HollowKind,
    /// Hollow nodes.
    #[arg(long, default_value_t = 10)]
    pub nodes: usize,
    /// Node names are <prefix><index>.
    #[arg(long, default_value = "hollow-node-")]
    pub name_prefix: String,
    /// A `kubemark hollow-node` flag for every hollow node, e.g.
    /// --hollow-arg=--morph=kubelet (repeatable).
    #[arg(long = "hollow-arg", allow_hyphen_values = true)]
    pub hollow_args: Vec<String>,
    /// Hollow nodes per local process (--hollow local).
    #[arg(long, default_value_t = 1000)]
    pub nodes_per_process: usize,
    /// The master's HTTPS address (--master embedded|local); port 0 picks a
    /// free port once, kept across restarts.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Extra IP or DNS name for the master's serving certificate
    /// (repeatable).
    #[arg(long = "tls-san")]
    pub tls_sans: Vec<String>,
    /// Control loops of the embedded master (`kubemark master --controllers`).
    #[arg(long, default_value = "*")]
    pub controllers: String,
    /// The master (--master existing).
    #[arg(long)]
    pub master_kubeconfig: Option<PathBuf>,
    /// Directory with kube-apiserver, kube-controller-manager and
    /// kube-scheduler (--master local) [default: PATH].
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// etcd binary (--master local) [default: etcd on PATH].
    #[arg(long)]
    pub etcd_bin: Option<PathBuf>,
    /// Extra kube-apiserver flag (repeatable; --master local).
    #[arg(long = "apiserver-arg", allow_hyphen_values = true)]
    pub apiserver_args: Vec<String>,
    /// Extra kube-controller-manager flag (repeatable; --master local).
    #[arg(long = "controller-manager-arg", allow_hyphen_values = true)]
    pub controller_manager_args: Vec<String>,
    /// Extra kube-scheduler flag (repeatable; --master local).
    #[arg(long = "scheduler-arg", allow_hyphen_values = true)]
    pub scheduler_args: Vec<String>,
    /// Extra etcd flag (repeatable; --master local).
    #[arg(long = "etcd-arg", allow_hyphen_values = true)]
    pub etcd_args: Vec<String>,
    /// The cluster that runs the hollow-node pods (--hollow external).
    #[arg(long)]
    pub external_kubeconfig: Option<PathBuf>,
    /// Namespace of the hollow-node pods (--hollow external).
    #[arg(long, default_value = "kubemark")]
    pub external_namespace: String,
    /// Hollow nodes per pod (--hollow external).
    #[arg(long, default_value_t = 10)]
    pub nodes_per_pod: usize,
    /// The hollow-node image (--hollow external; build one with `kubemark
    /// image build`).
    #[arg(long)]
    pub image: Option<String>,
    /// The master's URL as the hollow-node pods reach it (--hollow
    /// external; 127.0.0.1 is not routable from pods).
    #[arg(long)]
    pub master_url: Option<String>,
    /// Do not restart crashed processes (the guide's behaviour, for
    /// debugging).
    #[arg(long)]
    pub no_restart: bool,
    /// How long to wait for the master and for every node to be Ready.
    #[arg(long, default_value = "10m", value_parser = duration_arg)]
    pub timeout: Duration,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StopArgs {
    #[command(flatten)]
    pub at: Where,
    /// Keep the cluster directory (kubeconfig, PKI, logs, data).
    #[arg(long)]
    pub keep: bool,
    /// Forget the cluster even if something could not be removed.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub at: Where,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub at: Where,
    /// The new number of hollow nodes.
    #[arg(long)]
    pub nodes: usize,
    /// How long to wait for the nodes to be Ready.
    #[arg(long, default_value = "10m", value_parser = duration_arg)]
    pub timeout: Duration,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WhichArgs {
    #[command(flatten)]
    pub at: Where,
    /// The hollow node's name.
    pub node: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(clap::Args, Debug, Clone)]
pub struct LogsArgs {
    #[command(flatten)]
    pub at: Where,
    /// The hollow node's name.
    pub node: String,
    /// Keep printing new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SuperviseArgs {
    /// The cluster directory.
    #[arg(long)]
    pub cluster_dir: PathBuf,
}

/// Extra settings recorded next to the providers'.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Extra {
    name_prefix: String,
    /// The most nodes this cluster ever had (Node objects to delete from an
    /// existing master at stop).
    max_nodes: usize,
}

fn extra_of(state: &ClusterState) -> Extra {
    state
        .hollow
        .config
        .get("kubemark")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| Extra {
            name_prefix: "hollow-node-".into(),
            max_nodes: state.nodes,
        })
}

fn set_extra(state: &mut ClusterState, extra: &Extra) {
    if let serde_json::Value::Object(m) = &mut state.hollow.config {
        m.insert(
            "kubemark".into(),
            serde_json::to_value(extra).unwrap_or_default(),
        );
    }
}

fn providers(
    state: &ClusterState,
) -> anyhow::Result<(Box<dyn MasterProvider>, Box<dyn HollowProvider>)> {
    let m = master_provider(&state.master.provider, &state.master.config)?;
    let h = hollow_provider(&state.hollow.provider, &state.hollow.config)?;
    Ok((m, h))
}

fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("finding the kubemark executable")
}

fn build_master(args: &StartArgs) -> anyhow::Result<Box<dyn MasterProvider>> {
    let only = |flag: &str, set: bool, kind: &str| -> anyhow::Result<()> {
        if set {
            bail!("{flag} applies to --master {kind} only");
        }
        Ok(())
    };
    let local_flags = args.bin_dir.is_some()
        || args.etcd_bin.is_some()
        || !args.apiserver_args.is_empty()
        || !args.controller_manager_args.is_empty()
        || !args.scheduler_args.is_empty()
        || !args.etcd_args.is_empty();
    match args.master {
        MasterKind::Embedded => {
            only(
                "--master-kubeconfig",
                args.master_kubeconfig.is_some(),
                "existing",
            )?;
            only("--bin-dir/--etcd-bin/--*-arg", local_flags, "local")?;
            let listen = cluster::embedded::pick_port(args.listen)?;
            let mut sans = args.tls_sans.clone();
            sans.extend(master_url_host(args));
            Ok(Box::new(cluster::embedded::EmbeddedMaster {
                exe: exe()?,
                listen,
                tls_sans: sans,
                controllers: args.controllers.clone(),
                extra_args: vec![],
            }))
        }
        MasterKind::Existing => {
            only("--bin-dir/--etcd-bin/--*-arg", local_flags, "local")?;
            let kc = args.master_kubeconfig.clone().ok_or_else(|| {
                anyhow!("--master existing needs --master-kubeconfig PATH (the master to use)")
            })?;
            Ok(Box::new(cluster::existing::ExistingMaster {
                kubeconfig: kc,
            }))
        }
        MasterKind::Local => {
            only(
                "--master-kubeconfig",
                args.master_kubeconfig.is_some(),
                "existing",
            )?;
            let mut sans = args.tls_sans.clone();
            sans.extend(master_url_host(args));
            Ok(Box::new(cluster::local_provider::LocalMaster::new(
                cluster::local_provider::LocalMasterFlags {
                    bin_dir: args.bin_dir.clone(),
                    etcd_bin: args.etcd_bin.clone(),
                    listen: Some(args.listen),
                    tls_sans: sans,
                    apiserver_args: args.apiserver_args.clone(),
                    controller_manager_args: args.controller_manager_args.clone(),
                    scheduler_args: args.scheduler_args.clone(),
                    etcd_args: args.etcd_args.clone(),
                },
            )?))
        }
    }
}

/// The host of --master-url, which the serving certificate must name.
fn master_url_host(args: &StartArgs) -> Option<String> {
    let url = args.master_url.as_deref()?;
    let parts = cluster::probe::parse_url(url).ok()?;
    Some(parts.host)
}

fn build_hollow(args: &StartArgs) -> anyhow::Result<Box<dyn HollowProvider>> {
    match args.hollow {
        HollowKind::Local => {
            if args.external_kubeconfig.is_some() || args.image.is_some() {
                bail!("--external-kubeconfig and --image apply to --hollow external only");
            }
            if args.nodes_per_process == 0 {
                bail!("--nodes-per-process must be at least 1");
            }
            Ok(Box::new(cluster::hollow_local::LocalHollow {
                exe: exe()?,
                nodes_per_process: args.nodes_per_process,
                name_prefix: args.name_prefix.clone(),
                hollow_args: args.hollow_args.clone(),
            }))
        }
        HollowKind::External => {
            let kc = args.external_kubeconfig.clone().ok_or_else(|| {
                anyhow!("--hollow external needs --external-kubeconfig PATH (the cluster that runs the hollow-node pods)")
            })?;
            let image = args.image.clone().ok_or_else(|| {
                anyhow!("--hollow external needs --image (build one with `kubemark image build`, push it to a registry the external cluster pulls from)")
            })?;
            if args.nodes_per_pod == 0 {
                bail!("--nodes-per-pod must be at least 1");
            }
            Ok(Box::new(cluster::external_provider::ExternalHollow::new(
                cluster::external_provider::ExternalFlags {
                    kubeconfig: kc,
                    namespace: args.external_namespace.clone(),
                    image,
                    nodes_per_pod: args.nodes_per_pod,
                    master_url: args.master_url.clone(),
                    name_prefix: args.name_prefix.clone(),
                    hollow_args: args.hollow_args.clone(),
                },
            )?))
        }
    }
}

async fn admin_client(state: &ClusterState) -> anyhow::Result<kube::Client> {
    cluster::probe::client_from_kubeconfig(&state.kubeconfig)
        .await
        .map_err(|e| anyhow!(e))
}

/// Starts `kubemark supervise` for `dir`, detached: its own session, so
/// it outlives this shell; its output goes to logs/supervisor.log.
fn spawn_supervisor(dir: &ClusterDir) -> anyhow::Result<()> {
    let log_path = dir.log("supervisor");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("{}", log_path.display()))?;
    let log2 = log.try_clone()?;
    std::process::Command::new(exe()?)
        .arg("supervise")
        .arg("--cluster-dir")
        .arg(&dir.root)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .current_dir(&dir.root)
        .spawn()
        .context("starting the supervisor")?;
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until the supervisor has started and every master process is
/// ready (then the API answers `/readyz`).
async fn wait_master(
    dir: &ClusterDir,
    state: &ClusterState,
    timeout: Duration,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut last = String::new();
    loop {
        let rt = dir.read_runtime().unwrap_or_default();
        if t0.elapsed() > Duration::from_secs(10) && !rt.supervisor.is_some_and(|s| s.alive()) {
            bail!(
                "the supervisor is not running; its log:\n{}",
                tail(&dir.log("supervisor"), 20)
            );
        }
        let mut waiting = Vec::new();
        for p in &state.processes {
            let r = rt.processes.get(&p.name);
            match r.map(|r| r.phase) {
                Some(ProcPhase::Ready) => {}
                Some(ProcPhase::Exited) => bail!(
                    "{} exited ({}) and is not restarted; its log ({}):\n{}",
                    p.name,
                    r.and_then(|r| r.last_exit.clone()).unwrap_or_default(),
                    p.log.display(),
                    tail(&p.log, 20)
                ),
                Some(ProcPhase::Backoff) if r.is_some_and(|r| r.restarts >= 3) => bail!(
                    "{} keeps crashing ({}, {} restarts); its log ({}):\n{}",
                    p.name,
                    r.and_then(|r| r.last_exit.clone()).unwrap_or_default(),
                    r.map(|r| r.restarts).unwrap_or(0),
                    p.log.display(),
                    tail(&p.log, 20)
                ),
                _ => waiting.push(p.name.clone()),
            }
        }
        if waiting.is_empty() && dir.running_supervisor().is_some() {
            break;
        }
        let msg = format!("waiting for {}", waiting.join(", "));
        if msg != last {
            println!("  {msg}");
            last = msg;
        }
        if t0.elapsed() > timeout {
            bail!(
                "the master was not ready within {}s ({last}); see {}",
                timeout.as_secs(),
                dir.logs().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Every master, including one kubemark does not run, must answer.
    let probe = cluster::process::Probe::Kubeconfig {
        kubeconfig: state.kubeconfig.clone(),
        path: "/readyz".into(),
    };
    loop {
        let r = cluster::probe::check(&probe, Duration::from_secs(5)).await;
        if r.ok {
            return Ok(());
        }
        if t0.elapsed() > timeout {
            bail!("the master at {} is not ready: {}", state.url, r.detail);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Names of the cluster's hollow nodes 0..nodes.
fn node_names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// Waits until the nodes `prefix0..prefix{n-1}` are all Ready, printing
/// progress and the provider's explanations when they change.
async fn wait_nodes(
    client: &kube::Client,
    hollow: &dyn HollowProvider,
    ctx: &HollowContext<'_>,
    prefix: &str,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let wanted: std::collections::BTreeSet<String> = node_names(prefix, 0..n).into_iter().collect();
    let t0 = Instant::now();
    let mut last_print = Instant::now();
    let mut last_ready = usize::MAX;
    let mut last_problems: Vec<String> = Vec::new();
    loop {
        let ready = match api.list(&ListParams::default()).await {
            Ok(list) => list
                .items
                .iter()
                .filter(|node| {
                    node.metadata
                        .name
                        .as_ref()
                        .is_some_and(|name| wanted.contains(name))
                        && node_ready(node)
                })
                .count(),
            Err(e) => {
                if t0.elapsed() > timeout {
                    bail!("listing nodes: {e}");
                }
                0
            }
        };
        if ready >= n {
            println!(
                "  {ready}/{n} hollow nodes Ready after {:.1}s",
                t0.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if ready != last_ready || last_print.elapsed() >= Duration::from_secs(10) {
            println!("  {ready}/{n} hollow nodes Ready");
            last_print = Instant::now();
            last_ready = ready;
            let problems = hollow.problems(ctx).await;
            if problems != last_problems {
                for p in &problems {
                    println!("  problem: {p}");
                }
                last_problems = problems;
            }
        }
        if t0.elapsed() > timeout {
            let mut msg = format!(
                "only {ready} of {n} hollow nodes were Ready after {}s",
                timeout.as_secs()
            );
            for p in &last_problems {
                msg.push_str(&format!("\n  {p}"));
            }
            bail!(msg);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `kubemark start`.
pub async fn start(args: StartArgs) -> anyhow::Result<()> {
    let base = args.at.base();
    let dir = ClusterDir::new(&base, &args.at.name)?;
    if dir.state_path().exists() {
        if let Some(pid) = dir.running_supervisor() {
            bail!(
                "cluster {:?} is already running (supervisor pid {pid}, directory {}); stop it with `kubemark stop --name {}`",
                dir.name,
                dir.root.display(),
                dir.name
            );
        }
        bail!(
            "cluster {:?} exists in {} but is not running; remove it with `kubemark stop --name {}` first",
            dir.name,
            dir.root.display(),
            dir.name
        );
    }
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let master = build_master(&args)?;
    let hollow = build_hollow(&args)?;
    dir.create()?;
    match start_in(&args, &dir, master.as_ref(), hollow.as_ref()).await {
        Ok(()) => Ok(()),
        Err(e) if dir.read_state().is_ok() && e.downcast_ref::<NodesNotReady>().is_some() => {
            // The cluster runs; only some nodes are missing: keep it for
            // debugging.
            Err(e)
        }
        Err(e) => {
            eprintln!("start failed; removing what was started...");
            let leftovers = teardown(&dir, true).await;
            for l in leftovers {
                eprintln!("  could not remove: {l}");
            }
            let _ = std::fs::remove_dir_all(&dir.root);
            Err(e)
        }
    }
}

#[derive(Debug)]
struct NodesNotReady(String);
impl std::fmt::Display for NodesNotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NodesNotReady {}

async fn start_in(
    args: &StartArgs,
    dir: &ClusterDir,
    master: &dyn MasterProvider,
    hollow: &dyn HollowProvider,
) -> anyhow::Result<()> {
    println!(
        "Starting cluster {:?} (master: {}, hollow nodes: {} x {}) in {}",
        dir.name,
        master.name(),
        args.nodes,
        hollow.name(),
        dir.root.display()
    );
    let plan = master.prepare(dir)?;
    let mut state = ClusterState {
        name: dir.name.clone(),
        created_unix: cluster::state::now_unix(),
        kubemark_version: env!("CARGO_PKG_VERSION").to_string(),
        master: ProviderState {
            provider: master.name().to_string(),
            config: master.config(),
        },
        hollow: ProviderState {
            provider: hollow.name().to_string(),
            config: hollow.config(),
        },
        nodes: args.nodes,
        restart: !args.no_restart,
        url: plan.url.clone(),
        kubeconfig: plan.kubeconfig.clone(),
        hollow_kubeconfig: plan.hollow_kubeconfig.clone(),
        processes: plan.processes.clone(),
        components: plan.components.clone(),
    };
    set_extra(
        &mut state,
        &Extra {
            name_prefix: args.name_prefix.clone(),
            max_nodes: args.nodes,
        },
    );
    dir.write_state(&state)?;
    spawn_supervisor(dir)?;
    println!("Master at {} (logs in {})", plan.url, dir.logs().display());
    wait_master(dir, &state, args.timeout).await?;
    let client = admin_client(&state).await?;
    master.bootstrap(&client).await?;

    let local = hollow.processes(dir, &state.hollow_kubeconfig, args.nodes)?;
    if !local.is_empty() {
        state.processes.extend(local);
        dir.write_state(&state)?;
        reload_supervisor(dir)?;
    }
    let ctx = HollowContext { dir, state: &state };
    hollow.apply(&ctx, args.nodes).await?;
    println!("Waiting for {} hollow nodes to be Ready...", args.nodes);
    if let Err(e) = wait_nodes(
        &client,
        hollow,
        &ctx,
        &args.name_prefix,
        args.nodes,
        args.timeout,
    )
    .await
    {
        return Err(anyhow!(NodesNotReady(format!(
            "{e}\nThe cluster keeps running: see `kubemark status --name {}`, or `kubemark stop --name {}`",
            dir.name, dir.name
        ))));
    }
    println!();
    println!("Cluster {:?} is ready.", dir.name);
    println!("  export KUBECONFIG={}", state.kubeconfig.display());
    println!("  kubectl get nodes");
    // The commands as this cluster is found again (its --dir, if given).
    let at = match &args.at.dir {
        Some(d) => format!(" --dir {}", d.display()),
        None => String::new(),
    };
    let run_at = match &args.at.dir {
        Some(d) => format!(" --clusters-dir {}", d.display()),
        None => String::new(),
    };
    println!("  kubemark run density --cluster {}{run_at}", dir.name);
    println!("  kubemark status --name {}{at}", dir.name);
    println!("  kubemark stop --name {}{at}", dir.name);
    Ok(())
}

fn reload_supervisor(dir: &ClusterDir) -> anyhow::Result<()> {
    let pid = dir
        .running_supervisor()
        .ok_or_else(|| anyhow!("the supervisor of cluster {:?} is not running", dir.name))?;
    if !cluster::signal::hangup(pid) {
        bail!("cannot signal the supervisor (pid {pid})");
    }
    Ok(())
}

/// Stops the supervisor (and so every process), then kills whatever is
/// left of the processes it recorded, and any process still running from
/// this cluster's directory. Returns what could not be stopped.
async fn stop_processes(dir: &ClusterDir) -> Vec<String> {
    let mut left = Vec::new();
    if let Some(pid) = dir.running_supervisor() {
        cluster::signal::terminate(pid);
        let deadline = Instant::now() + cluster::supervisor::STOP_GRACE * 4;
        while cluster::signal::alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if cluster::signal::alive(pid) {
            cluster::signal::kill9(pid);
        }
    }
    let rt = dir.read_runtime().unwrap_or_default();
    let mut targets: Vec<(String, u32)> = rt
        .processes
        .iter()
        .filter_map(|(n, r)| r.process.filter(|p| p.alive()).map(|p| (n.clone(), p.pid)))
        .collect();
    if let Some(s) = rt.supervisor.filter(|s| s.alive()) {
        targets.push(("supervisor".into(), s.pid));
    }
    // Processes the runtime file does not know (a supervisor killed before
    // writing it) are found by the cluster directory on their command line.
    for pid in processes_using(&dir.root) {
        if !targets.iter().any(|(_, p)| *p == pid) {
            targets.push((format!("pid {pid}"), pid));
        }
    }
    for (_, pid) in &targets {
        cluster::signal::terminate(*pid);
    }
    let deadline = Instant::now() + cluster::supervisor::STOP_GRACE;
    while targets.iter().any(|(_, p)| cluster::signal::alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (name, pid) in &targets {
        if cluster::signal::alive(*pid) {
            cluster::signal::kill9(*pid);
            tokio::time::sleep(Duration::from_millis(200)).await;
            if cluster::signal::alive(*pid) {
                left.push(format!("{name} (pid {pid})"));
            }
        }
    }
    left
}

/// Pids (other than ours) whose command line names `root` or a path in it.
fn processes_using(root: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = root.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0).any(|arg| {
                    let a = String::from_utf8_lossy(arg);
                    a == needle || a.starts_with(&format!("{needle}/"))
                })
            })
        })
        .filter(|pid| cluster::signal::alive(*pid))
        .collect()
}

/// Removes everything a cluster started or created; returns what could
/// not be removed.
async fn teardown(dir: &ClusterDir, quiet: bool) -> Vec<String> {
    let mut left = Vec::new();
    let state = dir.read_state();
    // Pods elsewhere first, while the master still runs (their nodes go
    // away with them).
    if let Ok(state) = &state {
        match hollow_provider(&state.hollow.provider, &state.hollow.config) {
            Ok(h) => {
                let ctx = HollowContext { dir, state };
                left.extend(h.remove(&ctx).await);
            }
            Err(e) => left.push(format!("hollow nodes: {e}")),
        }
    }
    left.extend(stop_processes(dir).await);
    // A master kubemark does not run keeps its Node objects: delete the
    // ones our hollow nodes registered.
    if let Ok(state) = &state {
        if state.master.provider == "existing" {
            let extra = extra_of(state);
            match admin_client(state).await {
                Ok(client) => {
                    let api: Api<Node> = Api::all(client);
                    let names = node_names(&extra.name_prefix, 0..extra.max_nodes.max(state.nodes));
                    if let Err(e) = delete_nodes(&api, &names).await {
                        left.push(format!("Node objects on {}: {e}", state.url));
                    } else if !quiet {
                        println!("  deleted the hollow Node objects from {}", state.url);
                    }
                }
                Err(e) => left.push(format!("Node objects on {}: {e}", state.url)),
            }
        }
    }
    left
}

async fn delete_nodes(api: &Api<Node>, names: &[String]) -> anyhow::Result<()> {
    for name in names {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(anyhow!("deleting node {name}: {e}")),
        }
    }
    Ok(())
}

/// `kubemark stop`.
pub async fn stop(args: StopArgs) -> anyhow::Result<()> {
    let base = args.at.base();
    let dir = ClusterDir::new(&base, &args.at.name)?;
    if !dir.root.exists() {
        println!(
            "cluster {:?} does not exist in {}: nothing to stop",
            dir.name,
            base.display()
        );
        return Ok(());
    }
    println!("Stopping cluster {:?}...", dir.name);
    let left = teardown(&dir, false).await;
    let _ = std::fs::remove_file(dir.supervisor_pid_path());
    if !left.is_empty() && !args.force {
        let mut msg = format!(
            "cluster {:?} is stopped, but some of it could not be removed:",
            dir.name
        );
        for l in &left {
            msg.push_str(&format!("\n  {l}"));
        }
        msg.push_str(&format!(
            "\nIts directory {} is kept: run `kubemark stop --name {}` again once that is reachable, or add --force to forget it",
            dir.root.display(),
            dir.name
        ));
        bail!(msg);
    }
    for l in &left {
        eprintln!("warning: not removed (--force): {l}");
    }
    if args.keep {
        let _ = std::fs::remove_file(dir.runtime_path());
        println!("Stopped; kept {}", dir.root.display());
    } else {
        std::fs::remove_dir_all(&dir.root)
            .with_context(|| format!("removing {}", dir.root.display()))?;
        println!("Stopped and removed {}", dir.root.display());
    }
    Ok(())
}

#[derive(serde::Serialize, Debug)]
struct ComponentStatus {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    phase: String,
    restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_exit: Option<String>,
    health: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<PathBuf>,
}

#[derive(serde::Serialize, Debug)]
struct Status {
    name: String,
    directory: PathBuf,
    kubeconfig: PathBuf,
    url: String,
    master: String,
    hollow: String,
    supervisor: Option<u32>,
    components: Vec<ComponentStatus>,
    processes: Vec<ComponentStatus>,
    nodes_wanted: usize,
    nodes_ready: usize,
    nodes_total: usize,
    hosts: Vec<cluster::provider::HostCount>,
    problems: Vec<String>,
}

fn probe_label(p: &cluster::process::Probe) -> String {
    match p {
        cluster::process::Probe::Kubeconfig { path, .. } => path.clone(),
        cluster::process::Probe::Url { url } => url.clone(),
        cluster::process::Probe::File { path } => path.display().to_string(),
    }
}

fn version_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("gitVersion")
                .and_then(|g| g.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().lines().next().unwrap_or("").to_string())
}

/// `kubemark status`.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let dir = args.at.existing()?;
    let state = dir.read_state()?;
    let rt = dir.read_runtime().unwrap_or_default();
    let supervisor = dir.running_supervisor();
    let proc_status = |name: &str| -> ComponentStatus {
        let r = rt.processes.get(name);
        let pid = r
            .and_then(|r| r.process)
            .filter(|p| p.alive())
            .map(|p| p.pid);
        ComponentStatus {
            name: name.to_string(),
            pid,
            phase: match (r, supervisor) {
                (_, None) => "down".into(),
                (Some(r), _) => format!("{:?}", r.phase).to_lowercase(),
                (None, _) => "unknown".into(),
            },
            restarts: r.map(|r| r.restarts).unwrap_or(0),
            last_exit: r.and_then(|r| r.last_exit.clone()),
            health: vec![],
            version: None,
            log: state
                .processes
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.log.clone()),
        }
    };
    let mut components = Vec::new();
    for c in &state.components {
        let mut s = match &c.process {
            Some(p) => proc_status(p),
            None => ComponentStatus {
                name: c.name.clone(),
                pid: None,
                phase: "not run by kubemark".into(),
                restarts: 0,
                last_exit: None,
                health: vec![],
                version: None,
                log: None,
            },
        };
        s.name = c.name.clone();
        for h in &c.health {
            let r = cluster::probe::check(h, Duration::from_secs(5)).await;
            s.health
                .push((probe_label(h), if r.ok { "ok".into() } else { r.detail }));
        }
        if let Some(v) = &c.version {
            let r = cluster::probe::check(v, Duration::from_secs(5)).await;
            if r.ok {
                s.version = Some(version_of(&r.body));
            }
        }
        components.push(s);
    }
    let component_procs: Vec<&str> = state
        .components
        .iter()
        .filter_map(|c| c.process.as_deref())
        .collect();
    let processes: Vec<ComponentStatus> = state
        .processes
        .iter()
        .filter(|p| !component_procs.contains(&p.name.as_str()))
        .map(|p| proc_status(&p.name))
        .collect();
    let (hollow_p, hosts, ready, total, problems) = {
        let h = hollow_provider(&state.hollow.provider, &state.hollow.config)?;
        let ctx = HollowContext {
            dir: &dir,
            state: &state,
        };
        let problems = h.problems(&ctx).await;
        let (hosts, ready, total) = match admin_client(&state).await {
            Ok(client) => match Api::<Node>::all(client).list(&ListParams::default()).await {
                Ok(list) => count_hosts(&list.items),
                Err(e) => {
                    let mut p = problems.clone();
                    p.push(format!("listing nodes: {e}"));
                    (vec![], 0, 0)
                }
            },
            Err(_) => (vec![], 0, 0),
        };
        (h.name().to_string(), hosts, ready, total, problems)
    };
    let st = Status {
        name: state.name.clone(),
        directory: dir.root.clone(),
        kubeconfig: state.kubeconfig.clone(),
        url: state.url.clone(),
        master: state.master.provider.clone(),
        hollow: hollow_p,
        supervisor,
        components,
        processes,
        nodes_wanted: state.nodes,
        nodes_ready: ready,
        nodes_total: total,
        hosts,
        problems,
    };
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&st)?),
        OutputFormat::Text => print!("{}", render_status(&st)),
    }
    Ok(())
}

/// Ready/total hollow nodes per host (the process or pod that simulates
/// them, from the nodes' `kubemark.io/hollow-host`/`-pid` annotations).
fn count_hosts(nodes: &[Node]) -> (Vec<cluster::provider::HostCount>, usize, usize) {
    let mut by: std::collections::BTreeMap<String, cluster::provider::HostCount> =
        Default::default();
    let (mut ready, mut total) = (0, 0);
    for n in nodes {
        let ann = n.metadata.annotations.clone().unwrap_or_default();
        let Some(host) = ann.get("kubemark.io/hollow-host") else {
            continue;
        };
        let key = match ann.get("kubemark.io/hollow-pid") {
            Some(pid) => format!("{host} pid {pid}"),
            None => host.clone(),
        };
        let e = by
            .entry(key.clone())
            .or_insert_with(|| cluster::provider::HostCount {
                host: key,
                ready: 0,
                total: 0,
            });
        e.total += 1;
        total += 1;
        if node_ready(n) {
            e.ready += 1;
            ready += 1;
        }
    }
    (by.into_values().collect(), ready, total)
}

fn render_status(s: &Status) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "cluster:     {}", s.name);
    let _ = writeln!(o, "directory:   {}", s.directory.display());
    let _ = writeln!(o, "kubeconfig:  {}", s.kubeconfig.display());
    let _ = writeln!(o, "master:      {} at {}", s.master, s.url);
    let _ = writeln!(
        o,
        "supervisor:  {}",
        match s.supervisor {
            Some(p) => format!("pid {p}"),
            None => format!(
                "not running (nothing restarts crashed processes; `kubemark stop --name {}` cleans up)",
                s.name
            ),
        }
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<24} {:>8} {:<9} {:>8} {:<20} HEALTH",
        "COMPONENT", "PID", "STATE", "RESTARTS", "VERSION"
    );
    for c in s.components.iter().chain(s.processes.iter()) {
        let health = if c.health.is_empty() {
            "-".to_string()
        } else {
            c.health
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            o,
            "{:<24} {:>8} {:<9} {:>8} {:<20} {}",
            c.name,
            c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            c.phase,
            c.restarts,
            c.version.clone().unwrap_or_else(|| "-".into()),
            health
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "hollow nodes ({}): {}/{} Ready ({} wanted)",
        s.hollow, s.nodes_ready, s.nodes_total, s.nodes_wanted
    );
    for h in &s.hosts {
        let _ = writeln!(o, "  {:<40} {}/{} Ready", h.host, h.ready, h.total);
    }
    for p in &s.problems {
        let _ = writeln!(o, "problem: {p}");
    }
    o
}

/// `kubemark scale`.
pub async fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let dir = args.at.existing()?;
    let mut state = dir.read_state()?;
    if args.nodes == 0 {
        bail!("--nodes must be at least 1 (use `kubemark stop` to remove the cluster)");
    }
    if dir.running_supervisor().is_none() {
        bail!(
            "cluster {:?} is not running (its supervisor is gone); `kubemark stop --name {}` cleans it up",
            dir.name,
            dir.name
        );
    }
    let (_, hollow) = providers(&state)?;
    let mut extra = extra_of(&state);
    let old = state.nodes;
    let new = args.nodes;
    println!(
        "Scaling cluster {:?} from {old} to {new} hollow nodes",
        dir.name
    );
    let local = hollow.processes(&dir, &state.hollow_kubeconfig, new)?;
    let hollow_names: Vec<String> = hollow
        .processes(&dir, &state.hollow_kubeconfig, old.max(new))?
        .into_iter()
        .map(|p| p.name)
        .collect();
    state.processes.retain(|p| !hollow_names.contains(&p.name));
    let changed_or_removed: Vec<String> = {
        let before = hollow.processes(&dir, &state.hollow_kubeconfig, old)?;
        before
            .into_iter()
            .filter(|b| !local.contains(b))
            .map(|b| b.name)
            .collect()
    };
    state.processes.extend(local);
    state.nodes = new;
    extra.max_nodes = extra.max_nodes.max(new);
    set_extra(&mut state, &extra);
    dir.write_state(&state)?;
    reload_supervisor(&dir)?;
    let ctx = HollowContext {
        dir: &dir,
        state: &state,
    };
    hollow.apply(&ctx, new).await?;
    let client = admin_client(&state).await?;
    if new < old {
        // The processes that ran the removed nodes must be gone before
        // their Nodes are deleted, or they would register them again.
        let t0 = Instant::now();
        loop {
            let rt = dir.read_runtime().unwrap_or_default();
            let still: Vec<&String> = changed_or_removed
                .iter()
                .filter(|n| {
                    rt.processes.get(*n).is_some_and(|r| {
                        r.process.is_some_and(|p| p.alive())
                            && !state.processes.iter().any(|s| &s.name == *n)
                    })
                })
                .collect();
            if still.is_empty() || t0.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let names = node_names(&extra.name_prefix, new..old);
        let api: Api<Node> = Api::all(client.clone());
        delete_nodes(&api, &names).await?;
        println!(
            "  deleted {} Node objects ({}..{})",
            names.len(),
            names.first().map(String::as_str).unwrap_or(""),
            names.last().map(String::as_str).unwrap_or("")
        );
    }
    wait_nodes(
        &client,
        hollow.as_ref(),
        &ctx,
        &extra.name_prefix,
        new,
        args.timeout,
    )
    .await?;
    Ok(())
}

async fn get_node(state: &ClusterState, name: &str) -> anyhow::Result<Node> {
    let client = admin_client(state).await?;
    let api: Api<Node> = Api::all(client);
    match api.get_opt(name).await? {
        Some(n) => Ok(n),
        None => bail!("node {name:?} not found on the master {}", state.url),
    }
}

/// `kubemark which NODE`.
pub async fn which(args: WhichArgs) -> anyhow::Result<()> {
    let dir = args.at.existing()?;
    let state = dir.read_state()?;
    let (_, hollow) = providers(&state)?;
    let node = get_node(&state, &args.node).await?;
    let ctx = HollowContext {
        dir: &dir,
        state: &state,
    };
    let loc = hollow.locate(&ctx, &node).await?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&loc)?),
        OutputFormat::Text => println!("{loc}"),
    }
    Ok(())
}

/// `kubemark logs NODE`.
pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let dir = args.at.existing()?;
    let state = dir.read_state()?;
    let (_, hollow) = providers(&state)?;
    let node = get_node(&state, &args.node).await?;
    let ctx = HollowContext {
        dir: &dir,
        state: &state,
    };
    let mut out = |line: &str| println!("{line}");
    hollow.logs(&ctx, &node, args.follow, &mut out).await?;
    Ok(())
}

/// `kubemark supervise` (started by `start`, not by users).
pub async fn supervise(args: SuperviseArgs) -> anyhow::Result<()> {
    // Its own session: no terminal, so closing the shell that ran `start`
    // does not stop the cluster.
    let _ = nix::unistd::setsid();
    let root = args.cluster_dir;
    let name = root
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: not a cluster directory", root.display()))?
        .to_string();
    let base = root.parent().unwrap_or(Path::new("/"));
    let dir = ClusterDir::existing(base, &name)?;
    cluster::supervisor::run(dir).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            version_of(r#"{"major":"1","gitVersion":"v1.24.10"}"#),
            "v1.24.10"
        );
        assert_eq!(version_of("3.5.9\n"), "3.5.9");
    }
}
