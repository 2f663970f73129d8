//! ClusterLoader2 measurements by method name, mapped onto what this crate
//! already measures ([`crate::measure`]): each `start` begins recording,
//! each `gather` turns the recording into PerfData summaries and SLO
//! checks. Readiness predicates and parameter parsing are pure; the
//! [`Manager`] does the I/O.

use super::template::Value;
use crate::artifacts::{self, DataItem, PerfData};
use crate::measure::api_responsiveness;
use crate::measure::pod_startup::{self, PodLite, PodTimes};
use crate::measure::{resource_usage, scheduling};
use crate::prom::{self, Scrape};
use crate::slo::SloCheck;
use crate::stats::now_unix;
use crate::target::Target;
use crate::usage::UsageSampler;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use parking_lot::Mutex;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The methods kubemark implements.
pub const SUPPORTED: &[&str] = &[
    "APIResponsivenessPrometheus",
    "APIResponsivenessPrometheusSimple",
    "PodStartupLatency",
    "WaitForControlledPodsRunning",
    "WaitForRunningPods",
    "WaitForGenericK8sObjects",
    "WaitForFinishedJobs",
    "WaitForNodes",
    "SchedulingThroughput",
    "SchedulingMetrics",
    "ResourceUsageSummary",
    "Timer",
    "Sleep",
    "TestMetrics",
];

/// What `TestMetrics` reduces to here (upstream it also gathers etcd,
/// system-pod and OOM metrics and profiles).
const TEST_METRICS_PARTS: [&str; 2] = ["SchedulingMetrics", "ResourceUsageSummary"];

pub fn supported(method: &str) -> bool {
    SUPPORTED.contains(&method)
}

/// Typed access to a measurement's `Params`.
pub struct Params<'a>(pub &'a BTreeMap<String, Value>);

impl Params<'_> {
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key) {
            None | Some(Value::Nil) => None,
            Some(v) => Some(v.to_string()),
        }
    }

    pub fn action(&self) -> Result<String, String> {
        self.str("action")
            .ok_or_else(|| "missing param \"action\" (start or gather)".to_string())
    }

    pub fn duration(&self, key: &str, default: Duration) -> Result<Duration, String> {
        match self.0.get(key) {
            None | Some(Value::Nil) => Ok(default),
            Some(Value::Int(i)) if *i >= 0 => Ok(Duration::from_nanos(*i as u64)),
            Some(v) => {
                crate::args::parse_duration(&v.to_string()).map_err(|e| format!("param {key}: {e}"))
            }
        }
    }

    pub fn num(&self, key: &str) -> Result<Option<f64>, String> {
        match self.0.get(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i as f64)),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(Value::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("param {key}: {s:?} is not a number")),
            Some(v) => Err(format!("param {key}: {v} is not a number")),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.0.get(key) {
            None | Some(Value::Nil) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Str(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(v) => Err(format!("param {key}: {v} is not true or false")),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::List(l)) => l.iter().map(Value::to_string).collect(),
            Some(Value::Str(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// The PerfData file name stem ClusterLoader2 would use.
pub fn summary_name(method: &str, identifier: &str, params: &Params) -> String {
    if let Some(n) = params.str("summaryName") {
        return n;
    }
    if method == "APIResponsivenessPrometheusSimple"
        || (method == "APIResponsivenessPrometheus"
            && params.bool("useSimpleLatencyQuery", false).unwrap_or(false))
    {
        return "APIResponsivenessPrometheus_simple".into();
    }
    // PodStartupLatency summaries always carry the identifier, as upstream
    // names them (PodStartupLatency_PodStartupLatency_density_...).
    if identifier == method && method != "PodStartupLatency" {
        method.to_string()
    } else {
        format!("{method}_{identifier}")
    }
}

/// What a gather produced.
#[derive(Debug, Default)]
pub struct Gathered {
    pub summaries: Vec<(String, PerfData)>,
    pub checks: Vec<SloCheck>,
    pub notes: Vec<String>,
    /// PodStartupLatency results for run.json: (identifier, whether it has
    /// an SLO, its transition latencies, startup as seen by the watch).
    pub startup: Vec<Startup>,
    /// SchedulingThroughput percentiles (the last gathered).
    pub throughput: Option<crate::stats::Percentiles>,
}

/// One gathered PodStartupLatency.
#[derive(Debug, Clone)]
pub struct Startup {
    pub identifier: String,
    pub slo: bool,
    pub latency: Vec<pod_startup::TransitionLatency>,
    pub watch_only: Option<pod_startup::TransitionLatency>,
}

impl Gathered {
    /// Adds another gather's results.
    pub fn extend(&mut self, g: Gathered) {
        self.summaries.extend(g.summaries);
        self.checks.extend(g.checks);
        self.notes.extend(g.notes);
        self.startup.extend(g.startup);
        if g.throughput.is_some() {
            self.throughput = g.throughput;
        }
    }

    /// The pod startup SLO's results: the first PodStartupLatency with a
    /// threshold.
    pub fn slo_startup(&self) -> Option<&Startup> {
        self.startup.iter().find(|s| s.slo)
    }
}

// ---------------------------------------------------------------- pure predicates

/// Pods a controller should be running now: spec.replicas (default 1)
/// for Deployments, ReplicaSets, ReplicationControllers and StatefulSets,
/// a Job's parallelism, a DaemonSet's status.desiredNumberScheduled
/// (`None` until its controller has observed it).
pub fn desired_pods(obj: &Json) -> Option<usize> {
    let n = |v: &Json| v.as_u64().map(|x| x as usize);
    match obj["kind"].as_str().unwrap_or("") {
        "DaemonSet" => {
            let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0);
            let observed = obj["status"]["observedGeneration"].as_i64().unwrap_or(-1);
            if observed < generation {
                return None;
            }
            n(&obj["status"]["desiredNumberScheduled"])
        }
        "Job" => Some(n(&obj["spec"]["parallelism"]).unwrap_or(1)),
        _ => Some(n(&obj["spec"]["replicas"]).unwrap_or(1)),
    }
}

/// `spec.selector.matchLabels` (or a ReplicationController's plain
/// `spec.selector`).
pub fn match_labels(obj: &Json) -> BTreeMap<String, String> {
    let sel = &obj["spec"]["selector"];
    let m = if sel["matchLabels"].is_object() {
        &sel["matchLabels"]
    } else {
        sel
    };
    m.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn labels_match(sel: &BTreeMap<String, String>, pod: &PodLite) -> bool {
    !sel.is_empty() && sel.iter().all(|(k, v)| pod.label(k) == Some(v.as_str()))
}

/// Pods of an object: (running and not terminating, present).
pub fn pod_counts(sel: &BTreeMap<String, String>, ns: &str, pods: &[PodLite]) -> (usize, usize) {
    let mut running = 0;
    let mut present = 0;
    for p in pods {
        if p.metadata.namespace.as_deref() == Some(ns) && labels_match(sel, p) {
            present += 1;
            if p.is_running() && !p.is_terminating() {
                running += 1;
            }
        }
    }
    (running, present)
}

/// Whether a condition `Type=Status` (e.g. `Complete=True`) holds.
pub fn has_condition(obj: &Json, cond: &str) -> bool {
    let (t, s) = cond.split_once('=').unwrap_or((cond, "True"));
    obj["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == s))
}

/// Timer PerfData: one item per label, its duration in seconds.
pub fn timer_perfdata(durations: &[(String, f64)]) -> PerfData {
    PerfData::new(
        durations
            .iter()
            .map(|(label, secs)| DataItem {
                data: [("time".to_string(), *secs)].into_iter().collect(),
                unit: "s".into(),
                labels: [("Label".to_string(), label.clone())].into_iter().collect(),
            })
            .collect(),
    )
}

/// API responsiveness checks with ClusterLoader2's knobs: `allowedSlowCalls`
/// call kinds may exceed their threshold; with `enableViolations: false`
/// the checks are reported but never fail.
pub fn api_checks(
    calls: &[api_responsiveness::ApiCall],
    allowed_slow: usize,
    enforce: bool,
) -> Vec<SloCheck> {
    let slow = calls
        .iter()
        .filter(|c| c.p99_ms > c.class().threshold_seconds() * 1000.0)
        .count();
    let mut checks = api_responsiveness::checks(calls);
    for c in &mut checks {
        if !c.passed && slow <= allowed_slow {
            c.passed = true;
            c.detail = format!("{} (within allowedSlowCalls {allowed_slow})", c.detail);
        }
        if !c.passed && !enforce {
            c.passed = true;
            c.detail = format!("{} (not enforced: enableViolations is false)", c.detail);
        }
    }
    checks
}

// ---------------------------------------------------------------- I/O

/// Pods matching a selector, with their startup times (a watch).
struct PodWatch {
    pods: Arc<Mutex<HashMap<String, (PodLite, PodTimes)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodWatch {
    fn start(client: kube::Client, selector: &str) -> PodWatch {
        use kube::runtime::watcher::{self, Event};
        let pods: Arc<Mutex<HashMap<String, (PodLite, PodTimes)>>> = Arc::default();
        let api: Api<PodLite> = Api::all(client);
        let cfg = watcher::Config::default().labels(selector);
        let p = pods.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher::watcher(api, cfg).boxed();
            while let Some(ev) = stream.next().await {
                let now = now_unix();
                match ev {
                    Ok(Event::InitApply(pod)) | Ok(Event::Apply(pod)) => {
                        let key = pod.metadata.uid.clone().unwrap_or_else(|| pod.key());
                        let mut g = p.lock();
                        let e = g
                            .entry(key)
                            .or_insert_with(|| (pod.clone(), PodTimes::default()));
                        e.1.observe(&pod, Some(now), now);
                        e.0 = pod;
                    }
                    _ => {}
                }
            }
        });
        PodWatch { pods, task }
    }

    fn times(&self) -> Vec<PodTimes> {
        self.pods.lock().values().map(|(_, t)| t.clone()).collect()
    }

    fn scheduled(&self) -> u64 {
        self.pods
            .lock()
            .values()
            .filter(|(p, _)| p.is_scheduled())
            .count() as u64
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Running {
    Scrape(Box<Result<Scrape, String>>),
    /// The watch and the `threshold` given at start (upstream passes it there).
    PodStartup(PodWatch, Duration),
    Throughput(
        PodWatch,
        Arc<Mutex<Vec<scheduling::ScheduledCount>>>,
        tokio::task::JoinHandle<()>,
    ),
    Usage(Box<UsageSampler>),
    Timer(HashMap<String, f64>, Vec<(String, f64)>),
    Controlled(Box<Controlled>),
    Jobs,
}

/// What a WaitForControlledPodsRunning `start` set up (its gather calls
/// carry only the action, as upstream's modules write them).
struct Controlled {
    ar: ApiResource,
    selector: String,
    kind: String,
    timeout: Duration,
    known: BTreeMap<(String, String), BTreeMap<String, String>>,
}

/// Carries out measurement calls and keeps what started ones recorded.
pub struct Manager {
    pub client: kube::Client,
    pub target: Target,
    pub cancel: CancellationToken,
    pub usage_interval: Duration,
    pub default_timeout: Duration,
    running: tokio::sync::Mutex<HashMap<(String, String), Running>>,
    /// All pods, kept by one watch for the WaitForControlledPodsRunning
    /// checks (as upstream's informers do), instead of a LIST per check.
    pod_cache: tokio::sync::OnceCell<PodCache>,
}

/// A reflector of every pod; the watch stops when dropped.
struct PodCache {
    store: kube::runtime::reflector::Store<PodLite>,
    task: tokio::task::JoinHandle<()>,
}

impl PodCache {
    fn start(client: kube::Client) -> PodCache {
        use kube::runtime::{reflector, watcher, WatchStreamExt};
        let (store, writer) = reflector::store();
        let api: Api<PodLite> = Api::all(client);
        let stream =
            reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
                .default_backoff()
                .applied_objects();
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while stream.next().await.is_some() {}
        });
        PodCache { store, task }
    }
}

impl Drop for PodCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn scrape(target: &Target) -> Result<Scrape, String> {
    let text = target.scrape_text().await.map_err(|e| e.to_string())?;
    prom::parse(&text).map_err(|e| format!("/metrics: {e}"))
}

async fn list(
    client: &kube::Client,
    ar: &ApiResource,
    ns: Option<&str>,
    selector: &str,
) -> Result<Vec<Json>, String> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let lp = if selector.is_empty() {
        ListParams::default()
    } else {
        ListParams::default().labels(selector)
    };
    let l = api
        .list(&lp)
        .await
        .map_err(|e| format!("listing {}: {e}", ar.plural))?;
    Ok(l.items
        .into_iter()
        .map(|o| {
            let mut j = serde_json::to_value(o).unwrap_or_default();
            j["kind"] = Json::String(ar.kind.clone());
            j
        })
        .collect())
}

fn resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

/// The plural of the kinds ClusterLoader2 waits for.
fn plural(kind: &str) -> String {
    let l = kind.to_lowercase();
    if l.ends_with('s') {
        format!("{l}es")
    } else {
        format!("{l}s")
    }
}

impl Manager {
    pub fn new(
        target: Target,
        cancel: CancellationToken,
        usage_interval: Duration,
        default_timeout: Duration,
    ) -> Manager {
        Manager {
            client: target.client.clone(),
            target,
            cancel,
            usage_interval,
            default_timeout,
            running: tokio::sync::Mutex::new(HashMap::new()),
            pod_cache: tokio::sync::OnceCell::new(),
        }
    }

    /// Polls `check` (progress, done, detail) every second until done, the
    /// timeout, or Ctrl-C.
    async fn poll<F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(bool, String), String>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (done, detail) = check().await?;
            if done {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "{what}: timed out after {}: {detail}",
                    crate::args::format_duration(timeout)
                ));
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(format!("{what}: interrupted")),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Executes one measurement call. `TestMetrics` is carried out as the
    /// parts of it kubemark has: SchedulingMetrics and ResourceUsageSummary.
    pub async fn execute(
        &self,
        method: &str,
        identifier: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<Gathered, String> {
        if method != "TestMetrics" {
            return self.execute_one(method, identifier, params).await;
        }
        let mut all = Gathered::default();
        for sub in TEST_METRICS_PARTS {
            let mut p = params.clone();
            p.insert("summaryName".into(), Value::Str(sub.to_string()));
            let g = self.execute_one(sub, identifier, &p).await?;
            all.extend(g);
        }
        Ok(all)
    }

    async fn execute_one(
        &self,
        method: &str,
        identifier: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<Gathered, String> {
        let p = Params(params);
        let key = (method.to_string(), identifier.to_string());
        let name = summary_name(method, identifier, &p);
        let mut out = Gathered::default();
        match method {
            "Sleep" => {
                let d = p.duration("duration", Duration::ZERO)?;
                tokio::select! {
                    _ = self.cancel.cancelled() => return Err("Sleep: interrupted".into()),
                    _ = tokio::time::sleep(d) => {}
                }
            }
            "Timer" => {
                let label = p.str("label").unwrap_or_else(|| identifier.to_string());
                let mut r = self.running.lock().await;
                let entry = r
                    .entry(key.clone())
                    .or_insert_with(|| Running::Timer(HashMap::new(), Vec::new()));
                let Running::Timer(starts, done) = entry else {
                    return Err("Timer state mismatch".into());
                };
                match p.action()?.as_str() {
                    "start" => {
                        starts.insert(label, now_unix());
                    }
                    "stop" => {
                        let s = starts
                            .remove(&label)
                            .ok_or_else(|| format!("Timer: label {label:?} was not started"))?;
                        done.push((label, now_unix() - s));
                    }
                    "gather" => {
                        out.summaries.push((name, timer_perfdata(done)));
                        r.remove(&key);
                    }
                    a => return Err(format!("Timer: unknown action {a:?}")),
                }
            }
            "WaitForRunningPods" => {
                let sel = p.str("labelSelector").unwrap_or_default();
                let want = p
                    .num("desiredPodCount")?
                    .ok_or("WaitForRunningPods: missing param desiredPodCount")?
                    as usize;
                let timeout = p.duration("timeout", self.default_timeout)?;
                let api: Api<PodLite> = Api::all(self.client.clone());
                let lp = ListParams::default().labels(&sel);
                self.poll("WaitForRunningPods", timeout, || async {
                    let pods = api
                        .list(&lp)
                        .await
                        .map_err(|e| format!("listing pods: {e}"))?;
                    let running = pods
                        .items
                        .iter()
                        .filter(|p| p.is_running() && !p.is_terminating())
                        .count();
                    Ok((running == want, format!("{running} of {want} pods running")))
                })
                .await?;
            }
            "WaitForNodes" => {
                let sel = p.str("labelSelector").unwrap_or_default();
                let min = p.num("minNodeCount")?.unwrap_or(0.0) as usize;
                let max = p
                    .num("maxNodeCount")?
                    .map(|m| m as usize)
                    .unwrap_or(usize::MAX);
                let timeout = p.duration("timeout", self.default_timeout)?;
                let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
                let lp = ListParams::default().labels(&sel);
                self.poll("WaitForNodes", timeout, || async {
                    let nodes = api
                        .list(&lp)
                        .await
                        .map_err(|e| format!("listing nodes: {e}"))?;
                    let ready = nodes
                        .items
                        .iter()
                        .filter(|n| crate::fleet::schedulable_and_ready(n))
                        .count();
                    Ok((
                        (min..=max).contains(&ready),
                        format!("{ready} Ready nodes, want {min}..={max}"),
                    ))
                })
                .await?;
            }
            "WaitForGenericK8sObjects" => {
                let group = p.str("objectGroup").unwrap_or_default();
                let version = p
                    .str("objectVersion")
                    .ok_or("WaitForGenericK8sObjects: missing param objectVersion")?;
                let res = p
                    .str("objectResource")
                    .ok_or("WaitForGenericK8sObjects: missing param objectResource")?;
                let timeout = p.duration("timeout", self.default_timeout)?;
                let ok_conds = p.list("successfulConditions");
                let bad_conds = p.list("failedConditions");
                let min = p.num("minDesiredObjectCount")?.unwrap_or(0.0) as usize;
                let max_failed = p.num("maxFailedObjectCount")?.unwrap_or(0.0) as usize;
                let av = if group.is_empty() {
                    version.clone()
                } else {
                    format!("{group}/{version}")
                };
                let ar = resource(&av, "", &res);
                self.poll("WaitForGenericK8sObjects", timeout, || async {
                    let objs = list(&self.client, &ar, None, "").await?;
                    let ok = objs
                        .iter()
                        .filter(|o| ok_conds.iter().any(|c| has_condition(o, c)))
                        .count();
                    let failed = objs
                        .iter()
                        .filter(|o| bad_conds.iter().any(|c| has_condition(o, c)))
                        .count();
                    if failed > max_failed {
                        return Err(format!(
                            "WaitForGenericK8sObjects: {failed} {res} failed (max {max_failed})"
                        ));
                    }
                    Ok((ok >= min, format!("{ok} of {min} {res} successful")))
                })
                .await?;
            }
            "APIResponsivenessPrometheus"
            | "APIResponsivenessPrometheusSimple"
            | "SchedulingMetrics" => match p.action()?.as_str() {
                "start" => {
                    self.running
                        .lock()
                        .await
                        .insert(key, Running::Scrape(Box::new(scrape(&self.target).await)));
                }
                "gather" => {
                    let Some(Running::Scrape(start)) = self.running.lock().await.remove(&key)
                    else {
                        return Err(format!("{method} {identifier}: gather without start"));
                    };
                    let end = scrape(&self.target).await;
                    let (a, b) = match (*start, end) {
                        (Ok(a), Ok(b)) => (a, b),
                        (Err(e), _) | (_, Err(e)) => {
                            return Err(format!("{method}: could not be measured: {e}"))
                        }
                    };
                    if method == "SchedulingMetrics" {
                        match scheduling::scheduler_latencies(&a, &b) {
                                Some(l) => out.summaries.push((name, artifacts::scheduler_latency_perfdata(&l))),
                                None => out.notes.push("SchedulingMetrics: the master's /metrics has no scheduler histograms".into()),
                            }
                    } else {
                        let calls = api_responsiveness::api_calls(&a, &b);
                        let allowed = p.num("allowedSlowCalls")?.unwrap_or(0.0) as usize;
                        let enforce = p.bool("enableViolations", true)?;
                        out.checks.extend(api_checks(&calls, allowed, enforce));
                        // The simple summary also counts the requests (from
                        // the same two scrapes), as kubemark's RequestCounts.
                        let counts = (name == "APIResponsivenessPrometheus_simple").then(|| {
                            artifacts::request_counts_perfdata(
                                &crate::measure::request_counts::request_counts(&a, &b),
                            )
                        });
                        out.summaries
                            .push((name, artifacts::api_responsiveness_perfdata(&calls)));
                        if let Some(c) = counts {
                            out.summaries.push(("RequestCounts".into(), c));
                        }
                    }
                }
                a => return Err(format!("{method}: unknown action {a:?}")),
            },
            "PodStartupLatency" => match p.action()?.as_str() {
                "start" => {
                    let sel = p.str("labelSelector").unwrap_or_default();
                    let threshold = p.duration("threshold", Duration::from_secs(5))?;
                    self.running.lock().await.insert(
                        key,
                        Running::PodStartup(PodWatch::start(self.client.clone(), &sel), threshold),
                    );
                }
                "gather" => {
                    let Some(Running::PodStartup(w, started_threshold)) =
                        self.running.lock().await.remove(&key)
                    else {
                        return Err(format!(
                            "PodStartupLatency {identifier}: gather without start"
                        ));
                    };
                    let threshold = p.duration("threshold", started_threshold)?;
                    let times = w.times();
                    let l = pod_startup::transition_latencies(&times);
                    let p99 = l
                        .iter()
                        .find(|x| x.metric == "pod_startup")
                        .map(|x| (x.p99_ms, x.count));
                    // threshold 0: reported without an SLO (kubemark's own
                    // configs use it for pods that only load the cluster).
                    let slo = !threshold.is_zero();
                    out.startup.push(Startup {
                        identifier: identifier.to_string(),
                        slo,
                        latency: l.clone(),
                        watch_only: pod_startup::watch_only_startup(&times),
                    });
                    if slo {
                        out.checks.push(SloCheck::at_most(
                            "PodStartupLatency",
                            &format!(
                                "{identifier}: pod_startup p99 <= {}",
                                crate::args::format_duration(threshold)
                            ),
                            p99.map(|x| x.0),
                            threshold.as_secs_f64() * 1000.0,
                            "ms",
                            false,
                            format!("{} pods measured", p99.map(|x| x.1).unwrap_or(0)),
                        ));
                    }
                    out.summaries
                        .push((name, artifacts::pod_startup_perfdata(&l)));
                }
                a => return Err(format!("PodStartupLatency: unknown action {a:?}")),
            },
            "SchedulingThroughput" => match p.action()?.as_str() {
                "start" => {
                    let sel = p.str("labelSelector").unwrap_or_default();
                    let w = PodWatch::start(self.client.clone(), &sel);
                    let samples: Arc<Mutex<Vec<scheduling::ScheduledCount>>> = Arc::default();
                    let (s, pods) = (samples.clone(), w.pods.clone());
                    let task = tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_secs(1));
                        loop {
                            tick.tick().await;
                            let n = pods
                                .lock()
                                .values()
                                .filter(|(p, _)| p.is_scheduled())
                                .count() as u64;
                            s.lock().push(scheduling::ScheduledCount::now(n));
                        }
                    });
                    self.running
                        .lock()
                        .await
                        .insert(key, Running::Throughput(w, samples, task));
                }
                "gather" => {
                    let Some(Running::Throughput(w, samples, task)) =
                        self.running.lock().await.remove(&key)
                    else {
                        return Err(format!(
                            "SchedulingThroughput {identifier}: gather without start"
                        ));
                    };
                    task.abort();
                    let mut v = std::mem::take(&mut *samples.lock());
                    v.push(scheduling::ScheduledCount::now(w.scheduled()));
                    match scheduling::throughput_of(&v) {
                        Some(t) => {
                            if let Some(th) = p.num("threshold")?.filter(|t| *t > 0.0) {
                                let mut c = SloCheck::at_most(
                                    "SchedulingThroughput",
                                    &format!("{identifier}: max throughput >= {th} pods/s"),
                                    Some(t.max),
                                    th,
                                    "pods/s",
                                    true,
                                    format!("max {} pods/s", t.max),
                                );
                                c.passed = t.max >= th;
                                out.checks.push(c);
                            }
                            // The readings also go out as a time series (dashboard charts).
                            let data = artifacts::scheduling_throughput_perfdata(&t)
                                .with_time_series(vec![artifacts::scheduling_throughput_series(&v)]);
                            out.summaries.push((name, data));
                            out.throughput = Some(t);
                        }
                        None => out.notes.push(format!("SchedulingThroughput {identifier}: no pod was scheduled while sampling")),
                    }
                }
                a => return Err(format!("SchedulingThroughput: unknown action {a:?}")),
            },
            "ResourceUsageSummary" => match p.action()?.as_str() {
                "start" => {
                    let s = UsageSampler::start(self.target.clone(), self.usage_interval);
                    self.running
                        .lock()
                        .await
                        .insert(key, Running::Usage(Box::new(s)));
                }
                "gather" => {
                    let Some(Running::Usage(s)) = self.running.lock().await.remove(&key) else {
                        return Err(format!(
                            "ResourceUsageSummary {identifier}: gather without start"
                        ));
                    };
                    let (usage, errors) = s.finish().await;
                    out.notes.extend(errors);
                    let mut sums = Vec::new();
                    for (component, samples) in &usage {
                        match resource_usage::summarize(component, samples) {
                            Some(u) => sums.push(u),
                            None => out.notes.push(format!(
                                "ResourceUsageSummary: fewer than two samples of {component}"
                            )),
                        }
                    }
                    out.summaries
                        .push((name, artifacts::resource_usage_perfdata(&sums)));
                }
                a => return Err(format!("ResourceUsageSummary: unknown action {a:?}")),
            },
            "WaitForControlledPodsRunning" => match p.action()?.as_str() {
                "start" => {
                    let kind = p
                        .str("kind")
                        .ok_or("WaitForControlledPodsRunning: missing param kind")?;
                    let av = p.str("apiVersion").unwrap_or_else(|| {
                        if kind == "Job" {
                            "batch/v1".into()
                        } else {
                            "apps/v1".into()
                        }
                    });
                    let selector = p.str("labelSelector").unwrap_or_default();
                    let ar = resource(&av, &kind, &plural(&kind));
                    let objs = list(&self.client, &ar, None, &selector).await?;
                    let c = Controlled {
                        known: objs.iter().map(|o| (obj_key(o), match_labels(o))).collect(),
                        timeout: p.duration("operationTimeout", self.default_timeout)?,
                        ar,
                        selector,
                        kind,
                    };
                    self.running
                        .lock()
                        .await
                        .insert(key, Running::Controlled(Box::new(c)));
                }
                "gather" => {
                    let Some(Running::Controlled(mut c)) = self.running.lock().await.remove(&key)
                    else {
                        return Err(format!(
                            "WaitForControlledPodsRunning {identifier}: gather without start"
                        ));
                    };
                    let timeout = p.duration("operationTimeout", c.timeout)?;
                    let what = format!("WaitForControlledPodsRunning {identifier}");
                    let deadline = tokio::time::Instant::now() + timeout;
                    loop {
                        let (done, detail) = self.controlled_state(&mut c).await?;
                        if done {
                            break;
                        }
                        if tokio::time::Instant::now() >= deadline {
                            return Err(format!(
                                "{what}: timed out after {}: {detail}",
                                crate::args::format_duration(timeout)
                            ));
                        }
                        tokio::select! {
                            _ = self.cancel.cancelled() => return Err(format!("{what}: interrupted")),
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    // Keep following the objects for the next gather.
                    self.running
                        .lock()
                        .await
                        .insert(key, Running::Controlled(c));
                }
                a => {
                    return Err(format!(
                        "WaitForControlledPodsRunning: unknown action {a:?}"
                    ))
                }
            },
            "WaitForFinishedJobs" => {
                let sel = p.str("labelSelector").unwrap_or_default();
                match p.action()?.as_str() {
                    "start" => {
                        self.running.lock().await.insert(key, Running::Jobs);
                    }
                    "gather" => {
                        let timeout = p.duration("timeout", self.default_timeout)?;
                        let ar = resource("batch/v1", "Job", "jobs");
                        self.poll("WaitForFinishedJobs", timeout, || async {
                            let jobs = list(&self.client, &ar, None, &sel).await?;
                            let done = jobs
                                .iter()
                                .filter(|j| {
                                    has_condition(j, "Complete=True")
                                        || has_condition(j, "Failed=True")
                                })
                                .count();
                            Ok((
                                done == jobs.len(),
                                format!("{done} of {} jobs finished", jobs.len()),
                            ))
                        })
                        .await?;
                        self.running.lock().await.remove(&key);
                    }
                    a => return Err(format!("WaitForFinishedJobs: unknown action {a:?}")),
                }
            }
            other => {
                return Err(format!(
                    "measurement method {other:?} is not supported by kubemark"
                ))
            }
        }
        Ok(out)
    }

    /// Whether every object of the kind runs its pods and the pods of
    /// deleted ones are gone.
    async fn controlled_state(&self, c: &mut Controlled) -> Result<(bool, String), String> {
        let (known, kind) = (&mut c.known, &c.kind);
        let objs = list(&self.client, &c.ar, None, &c.selector).await?;
        let pods = self.pods().await?;
        let mut present = std::collections::BTreeSet::new();
        let mut waiting = Vec::new();
        for o in &objs {
            let k = obj_key(o);
            let labels = match_labels(o);
            known.insert(k.clone(), labels.clone());
            present.insert(k.clone());
            let (running, all) = pod_counts(&labels, &k.0, &pods);
            match desired_pods(o) {
                Some(d) if running == d && all == d => {}
                d => waiting.push(format!(
                    "{}/{}: {running} of {} running",
                    k.0,
                    k.1,
                    d.map(|d| d.to_string()).unwrap_or_else(|| "?".into())
                )),
            }
        }
        for (k, labels) in known.iter().filter(|(k, _)| !present.contains(*k)) {
            let (_, all) = pod_counts(labels, &k.0, &pods);
            if all > 0 {
                waiting.push(format!("{}/{} (deleted): {all} pods left", k.0, k.1));
            }
        }
        let detail = format!(
            "{} {kind}s not ready, e.g. {}",
            waiting.len(),
            waiting.first().cloned().unwrap_or_default()
        );
        Ok((waiting.is_empty(), detail))
    }

    /// Every pod: from the shared watch once it has synced, else a LIST.
    async fn pods(&self) -> Result<Vec<PodLite>, String> {
        let cache = self
            .pod_cache
            .get_or_init(|| async { PodCache::start(self.client.clone()) })
            .await;
        if tokio::time::timeout(Duration::from_secs(10), cache.store.wait_until_ready())
            .await
            .is_ok_and(|r| r.is_ok())
        {
            return Ok(cache.store.state().iter().map(|p| (**p).clone()).collect());
        }
        let api: Api<PodLite> = Api::all(self.client.clone());
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing pods: {e}"))?
            .items)
    }

    /// Whether a `start` of this measurement is recording (for TestMetrics:
    /// one of its parts).
    pub async fn is_running(&self, method: &str, identifier: &str) -> bool {
        let r = self.running.lock().await;
        let key = |m: &str| (m.to_string(), identifier.to_string());
        if method == "TestMetrics" {
            TEST_METRICS_PARTS.iter().any(|m| r.contains_key(&key(m)))
        } else {
            r.contains_key(&key(method))
        }
    }

    /// Stops whatever is still recording (measurements started, never gathered).
    pub async fn dispose(&self) -> Vec<String> {
        let mut r = self.running.lock().await;
        let mut left = Vec::new();
        for ((m, i), run) in r.drain() {
            if let Running::Usage(s) = run {
                let _ = s.finish().await;
            }
            if !matches!(
                m.as_str(),
                "WaitForControlledPodsRunning" | "WaitForFinishedJobs"
            ) {
                left.push(format!("{m} {i}: started but never gathered"));
            }
        }
        left.sort();
        left
    }
}

fn obj_key(o: &Json) -> (String, String) {
    (
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_and_names() {
        let mut m = BTreeMap::new();
        m.insert("action".to_string(), Value::Str("start".into()));
        m.insert("timeout".to_string(), Value::Str("90s".into()));
        m.insert("n".to_string(), Value::Str("2.5".into()));
        m.insert("b".to_string(), Value::Bool(false));
        m.insert("useSimpleLatencyQuery".to_string(), Value::Bool(true));
        let p = Params(&m);
        assert_eq!(p.action().unwrap(), "start");
        assert_eq!(
            p.duration("timeout", Duration::ZERO).unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            p.duration("none", Duration::from_secs(3)).unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(p.num("n").unwrap(), Some(2.5));
        assert!(!p.bool("b", true).unwrap());
        assert!(p.num("action").is_err());
        assert_eq!(
            summary_name("APIResponsivenessPrometheus", "X", &p),
            "APIResponsivenessPrometheus_simple"
        );
        let empty = BTreeMap::new();
        let e = Params(&empty);
        assert_eq!(
            summary_name("PodStartupLatency", "PodStartupLatency", &e),
            "PodStartupLatency_PodStartupLatency",
            "upstream always names the identifier"
        );
        assert_eq!(
            summary_name("SchedulingThroughput", "SchedulingThroughput", &e),
            "SchedulingThroughput"
        );
        assert_eq!(
            summary_name("Timer", "SchedulingTime", &e),
            "Timer_SchedulingTime"
        );
        assert!(e.action().unwrap_err().contains("missing param"));
        assert!(supported("WaitForControlledPodsRunning"));
        assert!(!supported("InClusterNetworkLatency"));
    }

    #[test]
    fn controlled_pods_predicates() {
        let dep = json!({"kind": "Deployment", "spec": {"replicas": 3, "selector": {"matchLabels": {"name": "d"}}}});
        assert_eq!(desired_pods(&dep), Some(3));
        assert_eq!(
            desired_pods(&json!({"kind": "StatefulSet", "spec": {}})),
            Some(1)
        );
        assert_eq!(
            desired_pods(&json!({"kind": "Job", "spec": {"parallelism": 2}})),
            Some(2)
        );
        let ds = |obs: i64| {
            json!({"kind": "DaemonSet", "metadata": {"generation": 2},
            "status": {"observedGeneration": obs, "desiredNumberScheduled": 5}})
        };
        assert_eq!(desired_pods(&ds(1)), None, "not observed yet");
        assert_eq!(desired_pods(&ds(2)), Some(5));
        let sel = match_labels(&dep);
        let pod = |ns: &str, name: &str, phase: &str, deleting: bool| -> PodLite {
            let mut v = json!({"metadata": {"namespace": ns, "name": "p", "labels": {"name": name}}, "status": {"phase": phase}});
            if deleting {
                v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            serde_json::from_value(v).unwrap()
        };
        let pods = vec![
            pod("a", "d", "Running", false),
            pod("a", "d", "Running", true),
            pod("a", "d", "Pending", false),
            pod("b", "d", "Running", false),
            pod("a", "other", "Running", false),
        ];
        assert_eq!(pod_counts(&sel, "a", &pods), (1, 3));
        assert_eq!(
            pod_counts(&BTreeMap::new(), "a", &pods),
            (0, 0),
            "an empty selector matches nothing"
        );
        let rc = json!({"kind": "ReplicationController", "spec": {"selector": {"name": "d"}}});
        assert_eq!(match_labels(&rc), sel);
        let job = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert!(has_condition(&job, "Complete=True"));
        assert!(has_condition(&job, "Complete"));
        assert!(!has_condition(&job, "Failed=True"));
    }

    #[test]
    fn api_check_knobs() {
        use api_responsiveness::{ApiCall, CallKey};
        let call = |verb: &str, p99: f64| ApiCall {
            key: CallKey {
                verb: verb.into(),
                resource: "pods".into(),
                subresource: String::new(),
                scope: "resource".into(),
            },
            count: 1,
            slow_count: 0,
            p50_ms: p99,
            p90_ms: p99,
            p99_ms: p99,
        };
        let calls = [call("GET", 1500.0), call("POST", 10.0)];
        assert!(!api_checks(&calls, 0, true)[0].passed);
        assert!(
            api_checks(&calls, 1, true)[0].passed,
            "one slow call kind allowed"
        );
        let c = api_checks(&calls, 0, false);
        assert!(c[0].passed && c[0].detail.contains("not enforced"));
        let t = timer_perfdata(&[("x".into(), 1.5)]);
        assert_eq!(t.data_items[0].data["time"], 1.5);
    }
}
