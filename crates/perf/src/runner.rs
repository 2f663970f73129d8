//! A run against a connected cluster: start hollow nodes (if asked), plan,
//! start the measurements, carry out the Density or Load flow phase by
//! phase, gather, clean up, and write the artifacts. Both entry points
//! (`run` with a child master or `--kubeconfig`, and tests with an
//! in-process control plane) end up here.

use crate::args::{format_duration, RunArgs, TestKind};
use crate::artifacts;
use crate::exec::{Exec, ObjKind, Op, Outcome, Tally};
use crate::fleet::{self, HollowNodes};
use crate::measure::pod_startup::PodTimes;
use crate::objects::{self, RUN_LABEL};
use crate::plan::{self, Kind, Plan, LATENCY, LOAD, LOAD_DAEMONSET, SATURATION};
use crate::progress::Mode;
use crate::prom::{self, Scrape};
use crate::report::{self, PhaseRecord, Report, ReportInputs};
use crate::slo::{self, SloCheck};
use crate::stats::{self, now_unix};
use crate::target::{MasterKind, Target};
use crate::tracker::PodTracker;
use crate::usage::UsageSampler;
use crate::PerfError;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
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

/// How the test flow ended.
enum End {
    Completed,
    TimedOut(String),
    Cancelled,
    Failed(PerfError),
}

/// Runs `fut` as phase `name`, recording it.
async fn timed<F: Future<Output = Result<Outcome, PerfError>>>(
    phases: &mut Vec<PhaseRecord>,
    name: &str,
    timeout: Duration,
    fut: F,
) -> Result<Outcome, PerfError> {
    let start = now_unix();
    let r = fut.await;
    let end = now_unix();
    let (status, detail) = match &r {
        Ok(Outcome::Done) => ("ok", String::new()),
        Ok(Outcome::TimedOut { done, total }) => (
            "timeout",
            format!(
                "after {} ({done} of {total} done)",
                format_duration(timeout)
            ),
        ),
        Ok(Outcome::Cancelled) => ("interrupted", String::new()),
        Err(e) => ("error", e.to_string()),
    };
    phases.push(PhaseRecord {
        name: name.to_string(),
        start: stats::format_rfc3339(start),
        end: stats::format_rfc3339(end),
        seconds: ((end - start) * 1000.0).round() / 1000.0,
        status: status.to_string(),
        detail,
    });
    r
}

macro_rules! step {
    ($flow:expr, $phases:expr, $name:expr, $fut:expr) => {
        match timed($phases, $name, $flow.timeout, $fut).await? {
            Outcome::Done => {}
            Outcome::TimedOut { .. } => return Ok(End::TimedOut($name.to_string())),
            Outcome::Cancelled => return Ok(End::Cancelled),
        }
    };
}

/// Per-second cumulative "pods scheduled" of one group.
struct ThroughputSampler {
    samples: Arc<Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<()>,
    tracker: Arc<PodTracker>,
    group: &'static str,
}

impl ThroughputSampler {
    fn start(tracker: Arc<PodTracker>, group: &'static str) -> ThroughputSampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, t) = (samples.clone(), tracker.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let n = t.counts(group).scheduled_total as u64;
                s.lock().push(n);
            }
        });
        ThroughputSampler {
            samples,
            task,
            tracker,
            group,
        }
    }

    fn stop(self) -> Vec<u64> {
        self.task.abort();
        let mut v = std::mem::take(&mut *self.samples.lock());
        v.push(self.tracker.counts(self.group).scheduled_total as u64);
        v
    }
}

/// DaemonSet rollout state from its status: (ready, desired, done).
pub fn daemonset_state(ds: &Value) -> (usize, usize, bool) {
    let st = &ds["status"];
    let n = |k: &str| st[k].as_u64().unwrap_or(0) as usize;
    let (desired, ready, available) = (
        n("desiredNumberScheduled"),
        n("numberReady"),
        n("numberAvailable"),
    );
    let updated = n("updatedNumberScheduled");
    let generation = ds["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = st["observedGeneration"].as_i64().unwrap_or(-1) >= generation;
    let done =
        observed && desired > 0 && ready == desired && available == desired && updated == desired;
    (ready, desired, done)
}

struct Flow<'a> {
    exec: &'a Exec,
    tracker: Arc<PodTracker>,
    plan: &'a Plan,
    timeout: Duration,
    /// The main scheduling phase's samples.
    throughput: Mutex<Option<Vec<u64>>>,
    /// Load: current size of each workload (by index in plan.workloads).
    sizes: Mutex<Vec<usize>>,
    seed: u64,
    /// Density: (start, end) of the saturation phase.
    saturation_window: Mutex<Option<(f64, f64)>>,
}

impl Flow<'_> {
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    fn run_id(&self) -> &str {
        &self.plan.run_id
    }

    fn creates(&self, ws: &[plan::Workload]) -> Vec<Op> {
        ws.iter()
            .map(|w| Op::Create(objects::workload(w, self.run_id(), None)))
            .collect()
    }

    /// Waits until `expected` pods of `group` run and no others exist.
    async fn wait_pods(
        &self,
        label: &str,
        group: &str,
        expected: usize,
        deadline: Instant,
    ) -> Outcome {
        self.exec
            .wait(label, "pods", expected, deadline, || async {
                let c = self.tracker.counts(group);
                (c.running, c.running == expected && c.present == expected)
            })
            .await
    }

    /// Waits until no pod of `groups` exists.
    async fn wait_gone(
        &self,
        label: &str,
        groups: &[&str],
        total: usize,
        deadline: Instant,
    ) -> Outcome {
        self.exec
            .wait(label, "pods", total, deadline, || async {
                let present: usize = groups.iter().map(|g| self.tracker.counts(g).present).sum();
                (total.saturating_sub(present), present == 0)
            })
            .await
    }

    async fn create_namespaces(&self) -> Result<Outcome, PerfError> {
        let ops: Vec<Op> = self
            .plan
            .namespaces
            .iter()
            .map(|n| Op::Create(objects::namespace(n, self.run_id())))
            .collect();
        self.exec
            .paced("creating namespaces", &ops, &[], self.deadline())
            .await
    }

    async fn saturation(&self) -> Result<Outcome, PerfError> {
        let deadline = self.deadline();
        let start = now_unix();
        let sampler = ThroughputSampler::start(self.tracker.clone(), SATURATION);
        let ops = self.creates(&self.plan.saturation);
        let offsets = plan::qps_offsets(ops.len(), self.plan.qps);
        let mut o = self
            .exec
            .paced("creating saturation Deployments", &ops, &offsets, deadline)
            .await;
        if matches!(o, Ok(Outcome::Done)) {
            o = Ok(self
                .wait_pods(
                    "saturation pods Running",
                    SATURATION,
                    self.plan.saturation_pods(),
                    deadline,
                )
                .await);
        }
        *self.throughput.lock() = Some(sampler.stop());
        if matches!(o, Ok(Outcome::Done)) {
            *self.saturation_window.lock() = Some((start, now_unix()));
        }
        o
    }

    async fn latency_create(&self) -> Result<Outcome, PerfError> {
        let deadline = self.deadline();
        let ops = self.creates(&self.plan.latency);
        let offsets = plan::qps_offsets(ops.len(), self.plan.qps);
        match self
            .exec
            .paced("creating latency Deployments", &ops, &offsets, deadline)
            .await?
        {
            Outcome::Done => Ok(self
                .wait_pods(
                    "latency pods Running",
                    LATENCY,
                    self.plan.latency_pods(),
                    deadline,
                )
                .await),
            other => Ok(other),
        }
    }

    async fn delete_workloads(
        &self,
        label: &str,
        ws: &[plan::Workload],
        groups: &[&str],
        offsets: &[f64],
    ) -> Result<Outcome, PerfError> {
        let deadline = self.deadline();
        let ops: Vec<Op> = ws
            .iter()
            .map(|w| Op::delete(w.kind, &w.namespace, &w.name))
            .collect();
        let total: usize = groups.iter().map(|g| self.tracker.counts(g).present).sum();
        match self
            .exec
            .paced(&format!("deleting {label}"), &ops, offsets, deadline)
            .await?
        {
            Outcome::Done => Ok(self
                .wait_gone(&format!("{label} pods gone"), groups, total, deadline)
                .await),
            other => Ok(other),
        }
    }

    async fn latency_delete(&self) -> Result<Outcome, PerfError> {
        let offsets = plan::qps_offsets(self.plan.latency.len(), self.plan.qps);
        self.delete_workloads(
            "latency Deployments",
            &self.plan.latency,
            &[LATENCY],
            &offsets,
        )
        .await
    }

    async fn saturation_delete(&self) -> Result<Outcome, PerfError> {
        let offsets = plan::qps_offsets(self.plan.saturation.len(), self.plan.qps);
        self.delete_workloads(
            "saturation Deployments",
            &self.plan.saturation,
            &[SATURATION],
            &offsets,
        )
        .await
    }

    async fn density(&self, phases: &mut Vec<PhaseRecord>) -> Result<End, PerfError> {
        step!(self, phases, "create namespaces", self.create_namespaces());
        step!(
            self,
            phases,
            "saturation: create and wait Running",
            self.saturation()
        );
        step!(
            self,
            phases,
            "latency: create and wait Running",
            self.latency_create()
        );
        step!(self, phases, "latency: delete", self.latency_delete());
        step!(self, phases, "saturation: delete", self.saturation_delete());
        Ok(End::Completed)
    }

    // ---- Load ----

    fn daemonset(&self) -> Option<&plan::Workload> {
        self.plan
            .workloads
            .iter()
            .find(|w| w.kind == Kind::DaemonSet)
    }

    /// (ready, desired, rolled out) of the DaemonSet; no DaemonSet counts
    /// as rolled out.
    async fn daemonset_state(&self) -> (usize, usize, bool) {
        let Some(ds) = self.daemonset() else {
            return (0, 0, true);
        };
        match self
            .exec
            .get(ObjKind::DaemonSet, Some(&ds.namespace), &ds.name)
            .await
        {
            Ok(Some(v)) => daemonset_state(&v),
            _ => (0, self.plan.nodes, false),
        }
    }

    /// Waits for `expected` load pods Running and the DaemonSet rolled out.
    async fn wait_load(&self, label: &str, expected: usize, deadline: Instant) -> Outcome {
        let total = expected
            + if self.daemonset().is_some() {
                self.plan.nodes
            } else {
                0
            };
        self.exec
            .wait(label, "pods", total, deadline, || async {
                let c = self.tracker.counts(LOAD);
                let (ds_ready, _, ds_done) = self.daemonset_state().await;
                (
                    c.running + ds_ready,
                    c.running == expected && c.present == expected && ds_done,
                )
            })
            .await
    }

    async fn create_services(&self) -> Result<Outcome, PerfError> {
        let ops: Vec<Op> = self
            .plan
            .services
            .iter()
            .map(|s| Op::Create(objects::service(s, self.run_id())))
            .collect();
        self.exec
            .paced("creating services", &ops, &[], self.deadline())
            .await
    }

    async fn create_config(&self) -> Result<Outcome, PerfError> {
        let mut ops = Vec::new();
        for (ns, name) in &self.plan.config_objects {
            ops.push(Op::Create(objects::configmap(ns, name, self.run_id())));
            ops.push(Op::Create(objects::secret(ns, name, self.run_id())));
        }
        let offsets = plan::qps_offsets(ops.len(), self.plan.object_qps);
        self.exec
            .paced(
                "creating configmaps and secrets",
                &ops,
                &offsets,
                self.deadline(),
            )
            .await
    }

    async fn load_create(&self) -> Result<Outcome, PerfError> {
        let deadline = self.deadline();
        let sampler = ThroughputSampler::start(self.tracker.clone(), LOAD);
        let ws = &self.plan.workloads;
        let ops = self.creates(ws);
        let weights: Vec<usize> = ws.iter().map(|w| w.pods(self.plan.nodes)).collect();
        let offsets = plan::pod_paced_offsets(&weights, self.plan.pod_throughput);
        let mut o = self
            .exec
            .paced("creating workloads", &ops, &offsets, deadline)
            .await;
        if matches!(o, Ok(Outcome::Done)) {
            o = Ok(self
                .wait_load("load pods Running", self.plan.load_pods(), deadline)
                .await);
        }
        *self.throughput.lock() = Some(sampler.stop());
        o
    }

    async fn load_rescale(&self) -> Result<Outcome, PerfError> {
        let deadline = self.deadline();
        let ws = &self.plan.workloads;
        let changes = plan::rescale(ws, self.seed);
        let current = self.sizes.lock().clone();
        let mut ops = Vec::new();
        let mut weights = Vec::new();
        let mut next = current.clone();
        for (i, n) in &changes {
            let w = &ws[*i];
            ops.push(Op::Patch {
                kind: w.kind.into(),
                namespace: w.namespace.clone(),
                name: w.name.clone(),
                patch: objects::scale_patch(w.kind, *n),
            });
            weights.push(current[*i].abs_diff(*n));
            next[*i] = *n;
        }
        if let Some(ds) = self.daemonset() {
            // Update the DaemonSet's pods (ClusterLoader2 changes its env).
            let template = objects::workload(ds, self.run_id(), Some("after update"))["spec"]
                ["template"]
                .clone();
            ops.push(Op::Patch {
                kind: ObjKind::DaemonSet,
                namespace: ds.namespace.clone(),
                name: ds.name.clone(),
                patch: json!({"spec": {"template": template}}),
            });
            weights.push(self.plan.nodes);
        }
        let offsets = plan::pod_paced_offsets(&weights, self.plan.pod_throughput);
        let o = self
            .exec
            .paced("rescaling workloads", &ops, &offsets, deadline)
            .await?;
        if o != Outcome::Done {
            return Ok(o);
        }
        *self.sizes.lock() = next.clone();
        let expected: usize = ws
            .iter()
            .zip(&next)
            .filter(|(w, _)| w.kind != Kind::DaemonSet)
            .map(|(_, n)| n)
            .sum();
        Ok(self
            .wait_load("rescaled load pods Running", expected, deadline)
            .await)
    }

    async fn load_delete(&self) -> Result<Outcome, PerfError> {
        let ws = &self.plan.workloads;
        let sizes = self.sizes.lock().clone();
        let weights: Vec<usize> = ws
            .iter()
            .zip(&sizes)
            .map(|(w, n)| {
                if w.kind == Kind::DaemonSet {
                    self.plan.nodes
                } else {
                    *n
                }
            })
            .collect();
        let offsets = plan::pod_paced_offsets(&weights, self.plan.pod_throughput);
        self.delete_workloads("workloads", ws, &[LOAD, LOAD_DAEMONSET], &offsets)
            .await
    }

    async fn delete_config_and_services(&self) -> Result<Outcome, PerfError> {
        let mut ops = Vec::new();
        for (ns, name) in &self.plan.config_objects {
            ops.push(Op::delete(ObjKind::ConfigMap, ns, name));
            ops.push(Op::delete(ObjKind::Secret, ns, name));
        }
        for s in &self.plan.services {
            ops.push(Op::delete(ObjKind::Service, &s.namespace, &s.name));
        }
        let offsets = plan::qps_offsets(ops.len(), self.plan.object_qps);
        self.exec
            .paced(
                "deleting configmaps, secrets and services",
                &ops,
                &offsets,
                self.deadline(),
            )
            .await
    }

    async fn load(&self, phases: &mut Vec<PhaseRecord>) -> Result<End, PerfError> {
        step!(self, phases, "create namespaces", self.create_namespaces());
        step!(
            self,
            phases,
            "load: create services",
            self.create_services()
        );
        step!(
            self,
            phases,
            "load: create configmaps and secrets",
            self.create_config()
        );
        step!(
            self,
            phases,
            "load: create workloads and wait Running",
            self.load_create()
        );
        step!(
            self,
            phases,
            "latency: create and wait Running",
            self.latency_create()
        );
        step!(self, phases, "latency: delete", self.latency_delete());
        step!(
            self,
            phases,
            "load: rescale and wait Running",
            self.load_rescale()
        );
        step!(self, phases, "load: delete workloads", self.load_delete());
        step!(
            self,
            phases,
            "load: delete configmaps, secrets and services",
            self.delete_config_and_services()
        );
        Ok(End::Completed)
    }
}

fn new_run_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

async fn scrape(target: &Target) -> Result<Scrape, String> {
    let text = target.scrape_text().await.map_err(|e| e.to_string())?;
    prom::parse(&text).map_err(|e| format!("/metrics: {e}"))
}

/// Waits for `n` of the fleet's nodes to be Ready in the API.
async fn wait_nodes(
    exec: &Exec,
    client: &kube::Client,
    fleet: &HollowNodes,
    n: usize,
    deadline: Instant,
) -> Result<Outcome, PerfError> {
    let last_api = Mutex::new(0usize);
    let o = exec
        .wait("hollow nodes Ready", "nodes", n, deadline, || async {
            let local = fleet.ready_locally();
            if local < n {
                return (local, false);
            }
            // The kubelets say Ready: confirm with the master.
            let api = fleet::count_ready(client, Some(&fleet.prefix))
                .await
                .unwrap_or(0);
            *last_api.lock() = api;
            (api, api >= n)
        })
        .await;
    Ok(o)
}

/// Deletes the run's namespaces and waits for them to go.
async fn delete_namespaces(
    exec: &Exec,
    namespaces: &[String],
    timeout: Duration,
) -> Result<Outcome, PerfError> {
    let deadline = Instant::now() + timeout;
    let ops: Vec<Op> = namespaces
        .iter()
        .map(|n| Op::Delete {
            kind: ObjKind::Namespace,
            namespace: None,
            name: n.clone(),
        })
        .collect();
    match exec
        .paced("deleting namespaces", &ops, &[], deadline)
        .await?
    {
        Outcome::Done => {}
        other => return Ok(other),
    }
    Ok(exec
        .wait(
            "namespaces gone",
            "namespaces",
            namespaces.len(),
            deadline,
            || async {
                let mut gone = 0;
                for n in namespaces {
                    if matches!(exec.get(ObjKind::Namespace, None, n).await, Ok(None)) {
                        gone += 1;
                    }
                }
                (gone, gone == namespaces.len())
            },
        )
        .await)
}

/// Runs the test described by `args` against `target`.
pub async fn run_with(
    args: &RunArgs,
    target: Target,
    opts: RunOptions,
) -> Result<RunOutcome, PerfError> {
    args.validate()?;
    let started = now_unix();
    let version = target.version().await?;
    std::fs::create_dir_all(&opts.artifacts_dir).map_err(|source| PerfError::Io {
        path: opts.artifacts_dir.clone(),
        source,
    })?;
    let run_id = new_run_id();
    let seed = args.seed.unwrap_or_else(rand::random);
    let exec = Exec::new(target.client.clone(), opts.cancel.clone(), opts.progress);
    let mut phases: Vec<PhaseRecord> = Vec::new();
    println!(
        "kubemark run {}: {} master {} ({}), run id {run_id}",
        args.test,
        match target.kind {
            MasterKind::Embedded => "embedded",
            MasterKind::External => "external",
        },
        target.url,
        version["gitVersion"].as_str().unwrap_or("unknown version"),
    );

    // Nodes.
    let mut fleet: Option<HollowNodes> = None;
    let mut end = End::Completed;
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
            let deadline = Instant::now() + args.timeout;
            match timed(
                &mut phases,
                "hollow nodes Ready",
                args.timeout,
                wait_nodes(&exec, &target.client, &f, n, deadline),
            )
            .await
            {
                Ok(Outcome::Done) => {}
                Ok(Outcome::TimedOut { .. }) => end = End::TimedOut("hollow nodes Ready".into()),
                Ok(Outcome::Cancelled) => end = End::Cancelled,
                Err(e) => end = End::Failed(e),
            }
            fleet = Some(f);
            n
        }
        None => {
            let n = fleet::count_ready(&target.client, None).await?;
            if n == 0 {
                return Err(PerfError::NoNodes);
            }
            println!(
                "Using the {n} Ready schedulable node{} of the cluster",
                if n == 1 { "" } else { "s" }
            );
            n
        }
    };

    let plan = plan::build(args, nodes, &run_id, seed);
    print!("{}", plan.describe());

    // Measurements start.
    let tracker = Arc::new(PodTracker::start(target.client.clone(), &run_id));
    let sync_deadline = Instant::now() + Duration::from_secs(30);
    while !tracker.synced() && Instant::now() < sync_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut notes: Vec<String> = Vec::new();
    if !tracker.synced() {
        notes.push(format!(
            "pod watch not synced after 30s: {}",
            tracker.last_error().unwrap_or_default()
        ));
    }
    let scrape_start = scrape(&target).await;
    let sampler = UsageSampler::start(target.clone(), args.usage_interval);
    let test_start = now_unix();

    let flow = Flow {
        exec: &exec,
        tracker: tracker.clone(),
        plan: &plan,
        timeout: args.timeout,
        throughput: Mutex::new(None),
        sizes: Mutex::new(plan.workloads.iter().map(|w| w.replicas).collect()),
        seed,
        saturation_window: Mutex::new(None),
    };
    if matches!(end, End::Completed) {
        let r = match args.test {
            TestKind::Density => flow.density(&mut phases).await,
            TestKind::Load => flow.load(&mut phases).await,
        };
        end = r.unwrap_or_else(End::Failed);
    }

    // Measurements end.
    let test_end = now_unix();
    let scrape_end = scrape(&target).await;
    let (usage, usage_errors) = sampler.finish().await;
    notes.extend(usage_errors);
    let latency_times = tracker.times(LATENCY);
    let other: Vec<(&str, Vec<PodTimes>)> = match args.test {
        TestKind::Density => vec![("SaturationPodStartupLatency", tracker.times(SATURATION))],
        TestKind::Load => vec![("LoadPodStartupLatency", tracker.times(LOAD))],
    };
    let throughput = flow.throughput.lock().clone();
    let saturation_window = *flow.saturation_window.lock();
    let latency_ran = phases
        .iter()
        .any(|p| p.name.starts_with("latency: create") && p.ok());
    let report: Report = report::build(&ReportInputs {
        test: args.test,
        latency: &latency_times,
        latency_expected: latency_ran && plan.latency_pods() > 0,
        other_startup: other,
        throughput: throughput.as_deref(),
        scrape_start: &scrape_start,
        scrape_end: &scrape_end,
        usage: &usage,
        pod_startup_threshold_ms: args.pod_startup_threshold.as_secs_f64() * 1000.0,
        phases: &phases,
        timeout_seconds: args.timeout.as_secs_f64(),
    });
    notes.extend(report.notes.iter().cloned());

    // Cleanup: namespaces (before the nodes go, so their pods can finish).
    let cancelled = matches!(end, End::Cancelled);
    let mut namespaces_kept = false;
    if !args.delete_namespace {
        namespaces_kept = true;
        println!(
            "Keeping the test namespaces for inspection (--delete-namespace=false): {}\n  delete them with: kubectl delete namespace -l {RUN_LABEL}={run_id}{}",
            plan.namespaces.join(", "),
            if target.kind == MasterKind::Embedded {
                "\n  note: the embedded master is ephemeral and stops at the end of this run; use --kubeconfig to keep a cluster"
            } else {
                ""
            }
        );
    } else if cancelled && target.kind == MasterKind::Embedded {
        // The ephemeral master goes away with everything in it.
    } else {
        // After Ctrl-C the run's token is cancelled: clean up with a fresh one.
        let cleanup = exec.with_cancel(CancellationToken::new());
        let mut cleanup_phases = Vec::new();
        let r = timed(
            &mut cleanup_phases,
            "delete namespaces",
            args.timeout,
            delete_namespaces(&cleanup, &plan.namespaces, args.timeout),
        )
        .await;
        if !matches!(r, Ok(Outcome::Done)) {
            notes.push(format!(
                "cleanup: namespaces not deleted: {}",
                cleanup_phases
                    .last()
                    .map(|p| format!("{} {}", p.status, p.detail))
                    .unwrap_or_default()
            ));
        }
        phases.extend(cleanup_phases);
    }
    tracker.stop();
    let hollow_stats = fleet.as_ref().map(|f| f.stats());
    if let Some(f) = fleet {
        println!("Stopping {} hollow nodes...", f.count);
        f.shutdown().await;
    }
    let finished = now_unix();

    // Artifacts.
    let dir = &opts.artifacts_dir;
    let mut files = Vec::new();
    for (summary, data) in &report.summaries {
        let name = artifacts::summary_file_name(summary, args.test.as_str(), test_end);
        artifacts::write_file(dir, &name, &artifacts::to_json(data))?;
        files.push(name);
    }
    let suite = format!("kubemark-{}", args.test);
    artifacts::write_file(
        dir,
        "junit.xml",
        &artifacts::junit_xml(&suite, &report.checks, finished - started),
    )?;
    files.push("junit.xml".into());
    let timed_out = match &end {
        End::TimedOut(p) => Some(p.clone()),
        _ => None,
    };
    let passed = report.passed() && matches!(end, End::Completed);
    let tally: BTreeMap<String, Tally> = exec
        .tally()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let verdict = match &end {
        End::Cancelled => "interrupted",
        End::Failed(_) => "error",
        _ if passed => "pass",
        _ => "fail",
    };
    let run_json = json!({
        "test": args.test,
        "verdict": verdict,
        "parameters": args,
        "resolved": {
            "nodes": nodes,
            "namespaces": plan.namespaces,
            "nodesPerNamespace": plan.nodes_per_namespace,
            "latencyPods": plan.latency_pods(),
            "seed": seed,
            "runId": run_id,
        },
        "cluster": {
            "master": target.kind,
            "inProcess": target.in_process,
            "url": target.url,
            "version": version,
            "nodes": nodes,
            "hollowNodesStarted": hollow_stats.as_ref().map(|s| s.nodes).unwrap_or(0),
        },
        "start": stats::format_rfc3339(started),
        "testStart": stats::format_rfc3339(test_start),
        "testEnd": stats::format_rfc3339(test_end),
        "end": stats::format_rfc3339(finished),
        "durationSeconds": ((finished - started) * 1000.0).round() / 1000.0,
        "plan": plan.phases(),
        "phases": phases,
        "objects": tally,
        "slos": report.checks,
        "podStartup": {"latency": report.latency, "watchOnly": report.watch_startup},
        "schedulingThroughput": report.throughput,
        "notes": notes,
        "namespacesKept": namespaces_kept,
        "error": match &end { End::Failed(e) => Value::String(e.to_string()), _ => Value::Null },
        "files": files,
    });
    artifacts::write_file(dir, "run.json", &artifacts::to_json(&run_json))?;

    println!();
    print!("{}", slo::summary_table(&report.checks));
    for n in &notes {
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

    match end {
        End::Cancelled => return Err(PerfError::Interrupted),
        End::Failed(e) => return Err(e),
        _ => {}
    }
    Ok(RunOutcome {
        test: args.test,
        passed,
        dry_run: false,
        artifacts_dir: Some(dir.clone()),
        checks: report.checks.clone(),
        phases,
        timed_out,
        nodes,
        saturation_pods: plan.saturation_pods(),
        saturation_seconds: saturation_window.map(|(a, b)| b - a),
        pod_startup_p99_ms: report.pod_startup_p99_ms(),
        watch_startup_p99_ms: report.watch_startup.as_ref().map(|w| w.p99_ms),
        objects: tally,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemonset_rollout_state() {
        let ds = |gen: i64, observed: i64, desired: u64, ready: u64, updated: u64| {
            json!({"metadata": {"generation": gen}, "status": {
                "observedGeneration": observed, "desiredNumberScheduled": desired,
                "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": updated}})
        };
        assert_eq!(daemonset_state(&ds(1, 1, 10, 10, 10)), (10, 10, true));
        assert_eq!(
            daemonset_state(&ds(2, 1, 10, 10, 10)),
            (10, 10, false),
            "update not observed yet"
        );
        assert_eq!(
            daemonset_state(&ds(2, 2, 10, 10, 4)),
            (10, 10, false),
            "rollout in progress"
        );
        assert_eq!(daemonset_state(&ds(1, 1, 10, 9, 10)), (9, 10, false));
        assert_eq!(
            daemonset_state(&ds(1, 1, 0, 0, 0)),
            (0, 0, false),
            "no nodes picked yet"
        );
        assert_eq!(daemonset_state(&json!({})), (0, 0, false));
    }
}
