//! `kubemark run --config`: load and check a ClusterLoader2 config (before
//! anything is created: templates, unknown fields, tuning sets,
//! unsupported measurements, object kinds by discovery), then run its
//! steps in order — phases and measurements of one step concurrently, as
//! ClusterLoader2 does — creating, updating and deleting objects of any
//! kind through the dynamic API, paced by the tuning sets; then write
//! PerfData files, `junit.xml` (unsupported measurements as skipped with
//! `--skip-unsupported`) and `run.json`.

use super::config::{self, Config, Loader, StepBody, TuningSet};
use super::measure::{self, Gathered, Manager};
use super::plan::{self, Action, ObjectId, OpKind, State, Templates};
use super::template::Funcs;
use super::tuning::{self, GlobalLimiter};
use crate::args::{ArgsError, RunArgs, DEFAULT_NODES};
use crate::artifacts::{self, PerfData};
use crate::exec::Tally;
use crate::fleet::{self, HollowNodes};
use crate::objects::RUN_LABEL;
use crate::progress::{Mode, Progress};
use crate::report::PhaseRecord;
use crate::runner::{RunOptions, RunOutcome};
use crate::slo::{self, SloCheck};
use crate::stats::{self, now_unix};
use crate::target::Target;
use crate::PerfError;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::GroupVersionKind;
use parking_lot::Mutex;
use rand::SeedableRng;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn bad(msg: String) -> PerfError {
    PerfError::Args(ArgsError(msg))
}

/// The config at `path` rendered for `nodes` nodes.
pub fn load(
    args: &RunArgs,
    path: &Path,
    nodes: usize,
    seed: u64,
) -> Result<(Loader, Config), PerfError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let mapping = config::mapping(&args.testoverrides, &args.param, &env, nodes)
        .map_err(|e| bad(e.to_string()))?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let loader = Loader {
        funcs: Funcs::new(base_dir.clone(), env, seed),
        base_dir,
        mapping,
    };
    let config = loader.load(path).map_err(|e| bad(e.to_string()))?;
    Ok((loader, config))
}

/// (method, identifier, step) of every measurement kubemark does not implement.
pub fn unsupported(config: &Config) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (i, s) in config.steps.iter().enumerate() {
        if let StepBody::Measurements(ms) = &s.body {
            for m in ms.iter().filter(|m| !measure::supported(&m.method)) {
                out.push((
                    m.method.clone(),
                    m.identifier.clone(),
                    plan::step_label(i, s.name.as_deref()),
                ));
            }
        }
    }
    out
}

fn check_unsupported(
    config: &Config,
    skip: bool,
) -> Result<Vec<(String, String, String)>, PerfError> {
    let u = unsupported(config);
    if !u.is_empty() && !skip {
        let list: Vec<String> = u
            .iter()
            .map(|(m, i, s)| format!("  {m} ({i}) in {s}"))
            .collect();
        return Err(bad(format!(
            "the config uses measurements kubemark does not implement:\n{}\nrun with --skip-unsupported to run the rest and mark these skipped (supported: {})",
            list.join("\n"),
            measure::SUPPORTED.join(", ")
        )));
    }
    Ok(u)
}

fn config_path(args: &RunArgs) -> Result<&Path, PerfError> {
    args.config
        .as_deref()
        .ok_or_else(|| bad("--config is required".into()))
}

/// A rendered plan: the config, its steps with their objects and pods,
/// the namespace prefix and the unsupported measurements (pure apart from
/// reading the config's files).
pub struct Rendered {
    pub config: Config,
    pub steps: Vec<plan::StepPlan>,
    pub prefix: String,
    pub skipped: Vec<(String, String, String)>,
}

/// Renders the config of `args` for `--nodes` (or 100) nodes, as
/// `--dry-run` does.
pub fn render(args: &RunArgs) -> Result<Rendered, PerfError> {
    let path = config_path(args)?;
    let nodes = args.nodes.unwrap_or(DEFAULT_NODES);
    let (loader, config) = load(args, path, nodes, args.seed.unwrap_or(0))?;
    let skipped = check_unsupported(&config, args.skip_unsupported)?;
    let prefix = config
        .namespace
        .prefix
        .clone()
        .unwrap_or_else(|| "test-dryrun".into());
    let steps = plan::dry_run(&config, &loader, &prefix, nodes).map_err(|e| bad(e.to_string()))?;
    Ok(Rendered {
        config,
        steps,
        prefix,
        skipped,
    })
}

/// `--dry-run`: renders everything and prints the plan.
pub fn dry_run(args: &RunArgs) -> Result<RunOutcome, PerfError> {
    let nodes = args.nodes.unwrap_or(DEFAULT_NODES);
    let Rendered {
        config,
        steps: plan,
        prefix,
        skipped,
    } = render(args)?;
    println!("Dry run: nothing will be created.");
    match (&args.kubeconfig, args.nodes) {
        (None, _) => println!("Cluster: an ephemeral embedded master with {nodes} hollow nodes"),
        (Some(k), Some(_)) => println!(
            "Cluster: {} with {nodes} hollow nodes started for the run",
            k.display()
        ),
        (Some(k), None) => println!(
            "Cluster: {} (planning for {nodes} nodes; the real run sizes itself by the cluster's Ready nodes, pass --nodes to plan another size)",
            k.display()
        ),
    }
    print!(
        "{}",
        plan::describe(
            &config,
            &plan,
            &plan::automanaged_namespaces(&prefix, config.namespace.number)
        )
    );
    for (m, i, s) in &skipped {
        println!("skipped (unsupported): {m} ({i}) in {s}");
    }
    Ok(outcome(
        args,
        true,
        true,
        None,
        Vec::new(),
        Vec::new(),
        None,
        nodes,
        BTreeMap::new(),
    ))
}

#[allow(clippy::too_many_arguments)]
fn outcome(
    args: &RunArgs,
    passed: bool,
    dry_run: bool,
    dir: Option<PathBuf>,
    checks: Vec<SloCheck>,
    phases: Vec<PhaseRecord>,
    timed_out: Option<String>,
    nodes: usize,
    objects: BTreeMap<String, Tally>,
) -> RunOutcome {
    RunOutcome {
        test: args.test,
        passed,
        dry_run,
        artifacts_dir: dir,
        checks,
        phases,
        timed_out,
        nodes,
        saturation_pods: 0,
        saturation_seconds: None,
        pod_startup_p99_ms: None,
        watch_startup_p99_ms: None,
        objects,
    }
}

// ---------------------------------------------------------------- objects

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const RETRIES: u32 = 5;

/// Object operations of any kind, through discovery and the dynamic API.
struct Objects {
    client: kube::Client,
    resources: HashMap<(String, String), (ApiResource, bool)>,
    tally: Mutex<BTreeMap<String, Tally>>,
}

/// One rendered operation.
struct Op {
    op: OpKind,
    id: ObjectId,
    namespace: String,
    name: String,
    body: Option<Json>,
}

impl Objects {
    /// Resolves every kind the config uses; an unknown one is an error.
    async fn discover(&mut self, ids: &[ObjectId]) -> Result<(), PerfError> {
        for id in ids {
            let key = (id.api_version.clone(), id.kind.clone());
            if self.resources.contains_key(&key) {
                continue;
            }
            let (group, version) = id
                .api_version
                .rsplit_once('/')
                .unwrap_or(("", &id.api_version));
            let gvk = GroupVersionKind::gvk(group, version, &id.kind);
            let (ar, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .map_err(|e| {
                    bad(format!(
                        "object {} is of kind {} {}, which the cluster does not serve ({e})",
                        id.basename, id.api_version, id.kind
                    ))
                })?;
            let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
            self.resources.insert(key, (ar, namespaced));
        }
        Ok(())
    }

    fn api(&self, id: &ObjectId, ns: &str) -> Result<Api<DynamicObject>, String> {
        let (ar, namespaced) = self
            .resources
            .get(&(id.api_version.clone(), id.kind.clone()))
            .ok_or_else(|| format!("kind {} {} was not discovered", id.api_version, id.kind))?;
        Ok(if *namespaced && !ns.is_empty() {
            Api::namespaced_with(self.client.clone(), ns, ar)
        } else {
            Api::all_with(self.client.clone(), ar)
        })
    }

    async fn try_op(&self, o: &Op) -> Result<(), (bool, String)> {
        let api = self.api(&o.id, &o.namespace).map_err(|e| (false, e))?;
        let fut = async {
            let body = || -> Result<DynamicObject, (bool, String)> {
                serde_json::from_value(o.body.clone().unwrap_or_default())
                    .map_err(|e| (false, e.to_string()))
            };
            let r = match o.op {
                OpKind::Create => match api.create(&PostParams::default(), &body()?).await {
                    Err(kube::Error::Api(s)) if s.code == 409 => return Ok(false),
                    r => r.map(|_| true),
                },
                OpKind::Patch => {
                    let patch = o.body.clone().unwrap_or_default();
                    api.patch(&o.name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map(|_| true)
                }
                OpKind::Delete => match api.delete(&o.name, &DeleteParams::background()).await {
                    Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
                    r => r.map(|_| true),
                },
            };
            r.map_err(|e| {
                let retry = match &e {
                    kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
                    kube::Error::HyperError(_) | kube::Error::Service(_) => true,
                    _ => false,
                };
                (retry, e.to_string())
            })
        };
        let counted = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Ok(r) => r?,
            Err(_) => {
                return Err((
                    true,
                    format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
                ))
            }
        };
        if counted {
            let mut t = self.tally.lock();
            let e = t.entry(o.id.kind.clone()).or_default();
            match o.op {
                OpKind::Create => e.created += 1,
                OpKind::Patch => e.updated += 1,
                OpKind::Delete => e.deleted += 1,
            }
        }
        Ok(())
    }

    async fn op(&self, o: &Op) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            match self.try_op(o).await {
                Ok(()) => return Ok(()),
                Err((true, e)) if attempt < RETRIES => {
                    tracing::debug!("{} {} {}: {e}; retrying", o.id.kind, o.namespace, o.name);
                }
                Err((_, e)) => {
                    let verb = match o.op {
                        OpKind::Create => "creating",
                        OpKind::Patch => "updating",
                        OpKind::Delete => "deleting",
                    };
                    return Err(format!(
                        "{verb} {} {}/{}: {e}",
                        o.id.kind, o.namespace, o.name
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            attempt += 1;
        }
    }

    /// Replicas of an object listed by `listUnknownObjectOptions`.
    async fn count(&self, id: &ObjectId, ns: &str, selector: &str) -> usize {
        match self.api(id, ns) {
            Ok(api) => api
                .list(&ListParams::default().labels(selector))
                .await
                .map(|l| l.items.len())
                .unwrap_or(0),
            Err(_) => 0,
        }
    }
}

// ---------------------------------------------------------------- steps

struct Run<'a> {
    loader: &'a Loader,
    config: &'a Config,
    objects: Objects,
    manager: Manager,
    mode: Mode,
    prefix: String,
    deadline_after: Duration,
    limiters: HashMap<String, Arc<Mutex<GlobalLimiter>>>,
    rng: Mutex<rand::rngs::StdRng>,
    gathered: Mutex<Gathered>,
}

impl Run<'_> {
    fn tuning(&self, name: &str) -> Result<&TuningSet, String> {
        self.config
            .tuning_sets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| format!("unknown tuning set {name:?}"))
    }

    /// Renders a phase's actions (all objects, before any request).
    fn render(
        &self,
        templates: &mut Templates,
        phase: &config::Phase,
        ids: &[ObjectId],
        actions: Vec<Action>,
    ) -> Result<Vec<Vec<Op>>, String> {
        actions
            .into_iter()
            .map(|a| {
                a.into_iter()
                    .map(|o| {
                        let obj = &phase.object_bundle[o.object];
                        let body = match o.op {
                            OpKind::Delete => None,
                            _ => Some(
                                templates
                                    .render(self.loader, obj, &o.namespace, o.replica)
                                    .map_err(|e| e.to_string())?,
                            ),
                        };
                        Ok(Op {
                            op: o.op,
                            id: ids[o.object].clone(),
                            namespace: o.namespace,
                            name: format!("{}-{}", obj.basename, o.replica),
                            body,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs a phase's actions as its tuning set paces them.
    async fn execute(
        &self,
        label: &str,
        ts: &TuningSet,
        actions: Vec<Vec<Op>>,
    ) -> Result<(), String> {
        let sched = {
            let mut rng = self.rng.lock();
            tuning::schedule(ts, actions.len(), &mut *rng)
        };
        let limiter = self.limiters.get(&ts.name).cloned();
        let total: usize = actions.iter().map(Vec::len).sum();
        let mut progress = Progress::new(self.mode, label, "objects", total);
        let start = Instant::now();
        let deadline = start + self.deadline_after;
        let mut errors: Vec<String> = Vec::new();
        let mut done = 0;
        let mut next = 0;
        let mut in_flight = FuturesUnordered::new();
        loop {
            let now = Instant::now();
            while next < actions.len()
                && in_flight.len() < sched.parallelism
                && start + Duration::from_secs_f64(sched.offsets[next]) <= now
            {
                let wait = match (&limiter, sched.global) {
                    (Some(l), true) => {
                        let at = l.lock().reserve(now_unix());
                        Duration::from_secs_f64((at - now_unix()).max(0.0))
                    }
                    _ => Duration::ZERO,
                };
                let ops = &actions[next];
                in_flight.push(async move {
                    tokio::time::sleep(wait).await;
                    // A bundle's objects one after another; the first error ends it.
                    let mut n = 0;
                    for o in ops {
                        self.objects.op(o).await?;
                        n += 1;
                    }
                    Ok::<usize, String>(n)
                });
                next += 1;
            }
            if next == actions.len() && in_flight.is_empty() {
                break;
            }
            let wake = if next < actions.len() {
                (start + Duration::from_secs_f64(sched.offsets[next]))
                    .min(now + Duration::from_millis(250))
            } else {
                now + Duration::from_millis(250)
            };
            tokio::select! {
                _ = self.manager.cancel.cancelled() => {
                    progress.finish(done, "interrupted");
                    return Err("interrupted".into());
                }
                _ = tokio::time::sleep_until(deadline) => {
                    progress.finish(done, "TIMED OUT");
                    return Err(format!("timed out after {} ({done} of {total} objects done)", crate::args::format_duration(self.deadline_after)));
                }
                Some(r) = in_flight.next(), if !in_flight.is_empty() => {
                    match r {
                        Ok(n) => done += n,
                        Err(e) => errors.push(e),
                    }
                    progress.update(done);
                }
                _ = tokio::time::sleep_until(wake) => progress.update(done),
            }
        }
        if errors.is_empty() {
            progress.finish(done, "done");
            Ok(())
        } else {
            progress.finish(done, "failed");
            Err(format!(
                "{} failed operation(s): {}",
                errors.len(),
                errors[..errors.len().min(3)].join("; ")
            ))
        }
    }

    async fn measurement(&self, m: &config::Measurement, step: &str) -> Result<(), String> {
        if !measure::supported(&m.method) {
            // Reported as skipped; refused before the run unless --skip-unsupported.
            return Ok(());
        }
        let g = self
            .manager
            .execute(&m.method, &m.identifier, &m.params)
            .await
            .map_err(|e| format!("{} ({}) in {step}: {e}", m.method, m.identifier))?;
        self.gathered.lock().extend(g);
        Ok(())
    }
}

/// Deletes namespaces and waits until they are gone.
async fn delete_namespaces(
    client: &kube::Client,
    names: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for n in names {
        match api.delete(n, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(format!("deleting namespace {n}: {e}")),
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let mut left = 0;
        for n in names {
            if api.get_opt(n).await.map_err(|e| e.to_string())?.is_some() {
                left += 1;
            }
        }
        if left == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{left} namespaces still there after {}",
                crate::args::format_duration(timeout)
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// junit with one testcase per check and a skipped one per unsupported measurement.
pub fn junit_xml(
    suite: &str,
    checks: &[SloCheck],
    skipped: &[(String, String, String)],
    seconds: f64,
) -> String {
    let base = artifacts::junit_xml(suite, checks, seconds);
    if skipped.is_empty() {
        return base;
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut cases = String::new();
    for (m, i, step) in skipped {
        cases.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{} ({})\" time=\"0\">\n    <skipped message=\"measurement {} is not supported by kubemark\"/>\n  </testcase>\n",
            esc(m),
            esc(i),
            esc(step),
            esc(m)
        ));
    }
    let tests = format!("tests=\"{}\"", checks.len());
    base.replacen(
        &tests,
        &format!(
            "tests=\"{}\" skipped=\"{}\"",
            checks.len() + skipped.len(),
            skipped.len()
        ),
        1,
    )
    .replace("</testsuite>\n", &format!("{cases}</testsuite>\n"))
}

fn new_run_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Runs the config of `args.config` against `target`.
pub async fn run_with(
    args: &RunArgs,
    target: Target,
    opts: RunOptions,
) -> Result<RunOutcome, PerfError> {
    args.validate()?;
    let path = config_path(args)?.to_path_buf();
    let seed = args.seed.unwrap_or_else(rand::random);
    // Everything that can be checked without the cluster, before anything
    // is started or created.
    let planned = args.hollow_nodes_to_start().unwrap_or(DEFAULT_NODES);
    let (_, pre) = load(args, &path, planned, seed)?;
    check_unsupported(&pre, args.skip_unsupported)?;
    let started = now_unix();
    let version = target.version().await?;
    std::fs::create_dir_all(&opts.artifacts_dir).map_err(|source| PerfError::Io {
        path: opts.artifacts_dir.clone(),
        source,
    })?;
    let run_id = new_run_id();
    let mut records: Vec<PhaseRecord> = Vec::new();
    let mut steps: Vec<PhaseRecord> = Vec::new();
    match args.builtin {
        Some(test) => println!(
            "kubemark run {test}: {} master {} ({}), run id {run_id}",
            match target.kind {
                crate::target::MasterKind::Embedded => "embedded",
                crate::target::MasterKind::External => "external",
            },
            target.url,
            version["gitVersion"].as_str().unwrap_or("unknown version"),
        ),
        None => println!(
            "kubemark run --config {}: master {}, run id {run_id}",
            path.display(),
            target.url
        ),
    }

    // Nodes.
    let mut hollow: Option<HollowNodes> = None;
    let nodes = match args.hollow_nodes_to_start() {
        Some(n) => {
            println!(
                "Starting {n} hollow node{}...",
                if n == 1 { "" } else { "s" }
            );
            let f = HollowNodes::start(
                target.config.clone(),
                n,
                &format!("hollow-{run_id}-"),
                args.shared_connections,
            )
            .await?;
            let start = now_unix();
            let deadline = Instant::now() + args.timeout;
            while f.ready_locally() < n
                || fleet::count_ready(&target.client, Some(&f.prefix))
                    .await
                    .unwrap_or(0)
                    < n
            {
                if Instant::now() >= deadline || opts.cancel.is_cancelled() {
                    f.shutdown().await;
                    return Err(PerfError::Hollow(format!(
                        "{n} hollow nodes not Ready within {}",
                        crate::args::format_duration(args.timeout)
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            records.push(record("hollow nodes Ready", start, now_unix(), "ok", ""));
            hollow = Some(f);
            n
        }
        None => match fleet::count_ready(&target.client, None).await? {
            0 => return Err(PerfError::NoNodes),
            n => {
                println!(
                    "Using the {n} Ready schedulable node{} of the cluster",
                    if n == 1 { "" } else { "s" }
                );
                n
            }
        },
    };

    // Watches the master for the whole test, so that a master crash or an
    // outage is recorded (run.json, a failed check) instead of passing
    // silently.
    let monitor = crate::disruption::Monitor::spawn(target.client.clone(), Duration::from_secs(1));
    let test_start = now_unix();
    let result = run_steps(
        args, &target, &opts, &path, nodes, seed, &run_id, &mut steps,
    )
    .await;
    let test_end = now_unix();
    let disruptions = monitor.stop(&target.client).await;
    let hollow_started = hollow.as_ref().map(|f| f.count).unwrap_or(0);
    if let Some(f) = hollow {
        println!("Stopping {} hollow nodes...", f.count);
        f.shutdown().await;
    }
    let done = result?;
    let (config, skipped, gathered, tally, namespaces, notes) = (
        done.config,
        done.skipped,
        done.gathered,
        done.tally,
        done.namespaces,
        done.notes,
    );
    records.extend(steps.iter().cloned());
    records.extend(done.cleanup);
    let finished = now_unix();

    // Verdicts: the measurements' checks and one for the steps.
    let mut checks = gathered.checks.clone();
    let failed: Vec<&PhaseRecord> = records.iter().filter(|p| !p.ok()).collect();
    let mut step_check = SloCheck::at_most(
        "Phases",
        &format!("all {} steps completed within the timeout", config.name),
        steps.iter().map(|p| p.seconds).reduce(f64::max),
        args.timeout.as_secs_f64(),
        "s",
        true,
        if failed.is_empty() {
            format!("{} steps", steps.len())
        } else {
            failed
                .iter()
                .map(|p| {
                    format!("{}: {} {}", p.name, p.status, p.detail)
                        .trim()
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
    );
    step_check.passed = failed.is_empty() && steps.len() == config.steps.len();
    checks.push(step_check);
    let disrupted_seconds = crate::disruption::total_seconds(&disruptions);
    let mut availability = SloCheck::at_most(
        "MasterAvailability",
        "master available throughout the test",
        Some(disrupted_seconds),
        0.0,
        "s",
        true,
        if disruptions.is_empty() {
            "no disruption seen".to_string()
        } else {
            crate::disruption::describe(&disruptions)
        },
    );
    availability.passed = disruptions.is_empty();
    checks.push(availability);
    let timed_out = failed
        .iter()
        .find(|p| p.status == "timeout")
        .map(|p| p.name.clone());
    let passed = checks.iter().all(|c| c.passed);

    let dir = &opts.artifacts_dir;
    let mut files = Vec::new();
    for (summary, data) in &gathered.summaries {
        let name = artifacts::summary_file_name(summary, &config.name, test_end);
        artifacts::write_file(dir, &name, &artifacts::to_json::<PerfData>(data))?;
        files.push(name);
    }
    artifacts::write_file(
        dir,
        "junit.xml",
        &junit_xml(
            &format!("kubemark-{}", config.name),
            &checks,
            &skipped,
            finished - started,
        ),
    )?;
    files.push("junit.xml".into());
    let interrupted = opts.cancel.is_cancelled();
    let verdict = if interrupted {
        "interrupted"
    } else if passed {
        "pass"
    } else {
        "fail"
    };
    let mut all_notes = notes;
    all_notes.extend(gathered.notes.iter().cloned());
    let plan_json: Vec<Json> = done.plan.iter().map(plan_entry).collect();
    let pods_of_step = |suffix: &str| -> usize {
        done.plan
            .iter()
            .filter(|p| p.name.ends_with(suffix))
            .map(|p| p.pods_created)
            .sum()
    };
    // The parameters as the user gave them (a built-in test's config and
    // flag overrides are internal).
    let mut shown = args.clone();
    let config_name = match args.builtin {
        Some(test) => {
            shown.config = None;
            shown.testoverrides.remove(0);
            format!("builtin:{test}")
        }
        None => path.display().to_string(),
    };
    let mut resolved =
        json!({"nodes": nodes, "namespaces": namespaces, "seed": seed, "runId": run_id});
    if args.builtin.is_some() {
        resolved["nodesPerNamespace"] = json!(args.nodes_per_namespace.clamp(1, nodes.max(1)));
        resolved["latencyPods"] = json!(pods_of_step("latency: create"));
    }
    let slo_startup = gathered.slo_startup();
    let run_json = json!({
        "test": config.name,
        "config": config_name,
        "verdict": verdict,
        "parameters": shown,
        "resolved": resolved,
        "cluster": {
            "master": target.kind,
            "inProcess": target.in_process,
            "url": target.url,
            "version": version,
            "nodes": nodes,
            "hollowNodesStarted": hollow_started,
        },
        "start": stats::format_rfc3339(started),
        "testStart": stats::format_rfc3339(test_start),
        "testEnd": stats::format_rfc3339(test_end),
        "end": stats::format_rfc3339(finished),
        "durationSeconds": ((finished - started) * 1000.0).round() / 1000.0,
        "plan": plan_json,
        "phases": records,
        "steps": steps,
        "objects": tally,
        "slos": checks,
        "podStartup": {
            "latency": slo_startup.map(|s| s.latency.clone()).unwrap_or_default(),
            "watchOnly": slo_startup.and_then(|s| s.watch_only.clone()),
        },
        "schedulingThroughput": gathered.throughput,
        "skipped": skipped.iter().map(|(m, i, s)| json!({"method": m, "identifier": i, "step": s})).collect::<Vec<_>>(),
        "notes": all_notes,
        "namespacesKept": done.namespaces_kept,
        "disruptions": disruptions,
        "disruptedSeconds": disrupted_seconds,
        "error": Json::Null,
        "files": files,
    });
    artifacts::write_file(dir, "run.json", &artifacts::to_json(&run_json))?;
    println!();
    print!("{}", slo::summary_table(&checks));
    for n in &all_notes {
        println!("note: {n}");
    }
    println!("Artifacts: {}", dir.display());
    println!("Result: {}", verdict.to_uppercase());
    println!(
        "View it: kubemark dashboard {}  (then open http://127.0.0.1:8080/#/run/{})",
        dir.display(),
        dir.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    );
    if interrupted {
        return Err(PerfError::Interrupted);
    }
    let mut o = outcome(
        args,
        passed,
        false,
        Some(dir.clone()),
        checks,
        records,
        timed_out,
        nodes,
        tally,
    );
    o.pod_startup_p99_ms = slo_startup.and_then(|s| {
        s.latency
            .iter()
            .find(|l| l.metric == "pod_startup")
            .map(|l| l.p99_ms)
    });
    o.watch_startup_p99_ms = slo_startup.and_then(|s| s.watch_only.as_ref().map(|w| w.p99_ms));
    if args.builtin == Some(crate::args::TestKind::Density) {
        o.saturation_pods = pods_of_step("saturation: create");
        o.saturation_seconds = saturation_seconds(&steps);
    }
    Ok(o)
}

/// Density: from creating the saturation Deployments until all their pods
/// ran (the steps in between, by the built-in config's step names).
pub fn saturation_seconds(steps: &[PhaseRecord]) -> Option<f64> {
    let first = steps
        .iter()
        .position(|p| p.name.ends_with("saturation: create"))?;
    let last = steps.iter().position(|p| {
        p.name
            .ends_with("saturation: wait until saturation pods Running")
    })?;
    let window = steps.get(first..=last)?;
    window
        .iter()
        .all(PhaseRecord::ok)
        .then(|| window.iter().map(|p| p.seconds).sum())
}

fn record(name: &str, start: f64, end: f64, status: &str, detail: &str) -> PhaseRecord {
    PhaseRecord {
        name: name.to_string(),
        start: stats::format_rfc3339(start),
        end: stats::format_rfc3339(end),
        seconds: ((end - start) * 1000.0).round() / 1000.0,
        status: status.to_string(),
        detail: detail.to_string(),
    }
}

/// One step of the plan in run.json: objects by verb and kind, pods created.
pub fn plan_entry(p: &plan::StepPlan) -> Json {
    let objects: BTreeMap<String, usize> = p
        .objects
        .iter()
        .map(|((kind, op), n)| {
            let verb = match op {
                OpKind::Create => "create",
                OpKind::Patch => "update",
                OpKind::Delete => "delete",
            };
            (format!("{verb} {kind}"), *n)
        })
        .collect();
    json!({
        "name": p.name,
        "objects": objects,
        "pods": p.pods_created,
        "measurements": p.measurements.iter().map(|(m, i)| format!("{m} ({i})")).collect::<Vec<_>>(),
    })
}

/// What the steps left for the report.
struct StepsDone {
    config: Config,
    skipped: Vec<(String, String, String)>,
    gathered: Gathered,
    tally: BTreeMap<String, Tally>,
    namespaces: Vec<String>,
    notes: Vec<String>,
    plan: Vec<plan::StepPlan>,
    /// The namespace deletion, as a phase record.
    cleanup: Vec<PhaseRecord>,
    namespaces_kept: bool,
}

#[allow(clippy::too_many_arguments)]
async fn run_steps(
    args: &RunArgs,
    target: &Target,
    opts: &RunOptions,
    path: &Path,
    nodes: usize,
    seed: u64,
    run_id: &str,
    records: &mut Vec<PhaseRecord>,
) -> Result<StepsDone, PerfError> {
    let (loader, config) = load(args, path, nodes, seed)?;
    let skipped = check_unsupported(&config, args.skip_unsupported)?;
    let prefix = config
        .namespace
        .prefix
        .clone()
        .unwrap_or_else(|| format!("test-{run_id}"));
    // Every object template parses and renders, every kind is served.
    let step_plan =
        plan::dry_run(&config, &loader, &prefix, nodes).map_err(|e| bad(e.to_string()))?;
    let mut templates = Templates::default();
    let mut ids = Vec::new();
    for s in &config.steps {
        if let StepBody::Phases(ps) = &s.body {
            for p in ps {
                for o in &p.object_bundle {
                    ids.push(
                        templates
                            .id(&loader, &o.basename, &o.object_template_path)
                            .map_err(|e| bad(e.to_string()))?,
                    );
                }
            }
        }
    }
    let mut objects = Objects {
        client: target.client.clone(),
        resources: HashMap::new(),
        tally: Mutex::new(BTreeMap::new()),
    };
    objects.discover(&ids).await?;
    let limiters = config
        .tuning_sets
        .iter()
        .filter_map(|t| match t.load {
            config::Load::GlobalQps { qps, burst } => Some((
                t.name.clone(),
                Arc::new(Mutex::new(GlobalLimiter::new(qps, burst))),
            )),
            _ => None,
        })
        .collect();
    let run = Run {
        loader: &loader,
        config: &config,
        objects,
        manager: Manager::new(
            target.clone(),
            opts.cancel.clone(),
            args.usage_interval,
            args.timeout,
        ),
        mode: opts.progress,
        prefix: prefix.clone(),
        deadline_after: args.timeout,
        limiters,
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        gathered: Mutex::new(Gathered::default()),
    };
    let mut notes = Vec::new();

    // Namespaces.
    let namespaces = plan::automanaged_namespaces(&prefix, config.namespace.number);
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(target.client.clone());
    if config.namespace.delete_stale_namespaces {
        let stale: Vec<String> = ns_api
            .list(&ListParams::default())
            .await
            .map_err(|e| PerfError::Api {
                what: "listing namespaces".into(),
                reason: e.to_string(),
            })?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .filter(|n| n.starts_with(&format!("{prefix}-")))
            .collect();
        if !stale.is_empty() {
            println!("Deleting {} stale namespaces...", stale.len());
            delete_namespaces(&target.client, &stale, args.timeout)
                .await
                .map_err(|e| PerfError::Api {
                    what: "deleting stale namespaces".into(),
                    reason: e,
                })?;
        }
    }
    for n in &namespaces {
        let ns: k8s_openapi::api::core::v1::Namespace =
            serde_json::from_value(crate::objects::namespace(n, run_id)).unwrap_or_default();
        match ns_api.create(&PostParams::default(), &ns).await {
            Ok(_) => {
                let mut t = run.objects.tally.lock();
                t.entry("Namespace".into()).or_default().created += 1;
            }
            Err(kube::Error::Api(s))
                if s.code == 409 && config.namespace.enable_existing_namespaces => {}
            Err(e) => {
                return Err(PerfError::Api {
                    what: format!("creating namespace {n}"),
                    reason: e.to_string(),
                })
            }
        }
    }

    // Steps.
    let mut state = State::default();
    let mut stopped_at = None;
    for (i, step) in config.steps.iter().enumerate() {
        if opts.cancel.is_cancelled() {
            stopped_at = Some(i);
            break;
        }
        let label = plan::step_label(i, step.name.as_deref());
        println!("{label}");
        let start = now_unix();
        let result: Result<(), String> = match &step.body {
            StepBody::Measurements(ms) => {
                let rs =
                    futures::future::join_all(ms.iter().map(|m| run.measurement(m, &label))).await;
                let errs: Vec<String> = rs.into_iter().filter_map(Result::err).collect();
                if errs.is_empty() {
                    Ok(())
                } else {
                    Err(errs.join("; "))
                }
            }
            StepBody::Phases(phases) => {
                let mut prepared = Vec::new();
                let mut err = None;
                for (pi, p) in phases.iter().enumerate() {
                    let r: Result<_, String> = async {
                        let ids = p
                            .object_bundle
                            .iter()
                            .map(|o| {
                                templates
                                    .id(&loader, &o.basename, &o.object_template_path)
                                    .map_err(|e| e.to_string())
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let nss = plan::phase_namespaces(p, &run.prefix);
                        let mut existing = HashMap::new();
                        for ns in &nss {
                            for (j, o) in p.object_bundle.iter().enumerate() {
                                if let (Some(sel), None) =
                                    (&o.list_unknown_selector, state.count(ns, &ids[j]))
                                {
                                    existing.insert(
                                        (ns.clone(), j),
                                        run.objects.count(&ids[j], ns, sel).await,
                                    );
                                }
                            }
                        }
                        let actions = plan::phase_actions(&mut state, p, &ids, &nss, &|ns, j| {
                            existing.get(&(ns.to_string(), j)).copied().unwrap_or(0)
                        })
                        .map_err(|e| e.to_string())?;
                        let ops = run.render(&mut templates, p, &ids, actions)?;
                        let ts = run.tuning(&p.tuning_set)?;
                        Ok((format!("{label} phase {}", pi + 1), ts, ops))
                    }
                    .await;
                    match r {
                        Ok(x) => prepared.push(x),
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                match err {
                    Some(e) => Err(e),
                    None => {
                        let rs =
                            futures::future::join_all(prepared.into_iter().map(|(l, ts, ops)| {
                                let run = &run;
                                async move { run.execute(&l, ts, ops).await }
                            }))
                            .await;
                        let errs: Vec<String> = rs.into_iter().filter_map(Result::err).collect();
                        if errs.is_empty() {
                            Ok(())
                        } else {
                            Err(errs.join("; "))
                        }
                    }
                }
            }
        };
        let end = now_unix();
        let (status, detail) = match &result {
            Ok(()) => ("ok", String::new()),
            Err(_) if opts.cancel.is_cancelled() => ("interrupted", String::new()),
            Err(e) if e.contains("timed out") => ("timeout", e.clone()),
            Err(e) => ("error", e.clone()),
        };
        if let Err(e) = &result {
            eprintln!("{label}: {e}");
        }
        records.push(record(&label, start, end, status, &detail));
        if status == "timeout" {
            // The rest would wait on what did not happen: stop here.
            stopped_at = Some(i + 1);
            break;
        }
    }
    if let Some(first) = stopped_at {
        // Still write what was measured: the config's later gathers of
        // measurements that were started (not the waits).
        for step in &config.steps[first.min(config.steps.len())..] {
            let StepBody::Measurements(ms) = &step.body else {
                continue;
            };
            for m in ms {
                let gather = measure::Params(&m.params).str("action").as_deref() == Some("gather");
                if gather
                    && !m.method.starts_with("WaitFor")
                    && run.manager.is_running(&m.method, &m.identifier).await
                {
                    if let Err(e) = run.measurement(m, "after the run stopped").await {
                        notes.push(e);
                    }
                }
            }
        }
    }
    notes.extend(run.manager.dispose().await);

    // Cleanup (an interrupted run's ephemeral master goes away with
    // everything in it).
    let mut cleanup = Vec::new();
    let keep = !(config.namespace.delete_automanaged_namespaces && args.delete_namespace);
    if keep {
        println!(
            "Keeping the test namespaces for inspection: {}\n  delete them with: kubectl delete namespace -l {RUN_LABEL}={run_id}{}",
            namespaces.join(", "),
            if target.kind == crate::target::MasterKind::Embedded {
                "\n  note: the embedded master is ephemeral and stops at the end of this run; use --kubeconfig to keep a cluster"
            } else {
                ""
            }
        );
    } else if !(opts.cancel.is_cancelled() && target.kind == crate::target::MasterKind::Embedded) {
        println!("Deleting the test namespaces...");
        let start = now_unix();
        match delete_namespaces(&target.client, &namespaces, args.timeout).await {
            Ok(()) => {
                let mut t = run.objects.tally.lock();
                t.entry("Namespace".into()).or_default().deleted += namespaces.len() as u64;
                drop(t);
                cleanup.push(record("delete namespaces", start, now_unix(), "ok", ""));
            }
            Err(e) => {
                notes.push(format!("cleanup: namespaces not deleted: {e}"));
                cleanup.push(record("delete namespaces", start, now_unix(), "error", &e));
            }
        }
    }
    let tally = run.objects.tally.lock().clone();
    let gathered = std::mem::take(&mut *run.gathered.lock());
    Ok(StepsDone {
        config,
        skipped,
        gathered,
        tally,
        namespaces,
        notes,
        plan: step_plan,
        cleanup,
        namespaces_kept: keep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_marks_skipped_measurements() {
        let checks = vec![SloCheck::at_most(
            "M",
            "c",
            Some(1.0),
            2.0,
            "s",
            true,
            String::new(),
        )];
        let skipped = vec![(
            "InClusterNetworkLatency".to_string(),
            "Net".to_string(),
            "[step: 01] start".to_string(),
        )];
        let x = junit_xml("kubemark-load", &checks, &skipped, 1.0);
        assert!(x.contains("tests=\"2\" skipped=\"1\""), "{x}");
        assert!(x.contains("<skipped message=\"measurement InClusterNetworkLatency is not supported by kubemark\"/>"), "{x}");
        assert!(x.contains("name=\"Net ([step: 01] start)\""), "{x}");
        assert_eq!(
            junit_xml("s", &checks, &[], 1.0),
            artifacts::junit_xml("s", &checks, 1.0)
        );
    }
}
