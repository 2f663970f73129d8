//! The hollow kubelet (with its node problem detector): one task per node
//! owning the node's state. It registers the Node, its Lease and CSINode,
//! holds the kubelet's watches, keeps the node status and lease fresh, and
//! runs pods through [`pod_state`](crate::pod_state). All API calls run
//! concurrently inside the task; the pure modules decide what to send.

use crate::client::{Api, Verb, JSON, MERGE, STRATEGIC_MERGE};
use crate::error::ApiError;
use crate::ipam::PodIpAllocator;
use crate::lease::{lease_body, micro_time, LeaseMeta, LeaseView, LEASE_NAMESPACE};
use crate::log::{node_event, KUBELET, NPD};
use crate::node_status::{
    adoption_patch, images_json, node_object, status_patch, NodeIdent, NodeView,
};
use crate::npd::{self, NpdState};
use crate::pod_spec::{pod_facts, PodFacts, PodView, RefKind};
use crate::pod_state::{self, Action, Event, Lifecycle, Millis, PodState, SyncOutcome};
use crate::pod_status::{self, ServerPod, StatusCtx};
use crate::shared::{jitter, Shared};
use crate::stats::NodeStats;
use crate::watch::{run_watch, MetaOnly, WatchEvent, WatchTarget};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::json;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages to a node's task: watch events, results of its API calls,
/// and commands from the fleet.
pub enum Msg {
    Pods(Box<WatchEvent<PodView>>),
    Node(Box<WatchEvent<NodeView>>),
    Inject(&'static str),
    Clear(&'static str),
    Registered(Result<Box<Registration>, ApiError>),
    Status(Result<StatusOutcome, ApiError>),
    Lease {
        result: Result<LeaseMeta, ApiError>,
        started: Instant,
    },
    PodSynced {
        seq: u32,
        outcome: SyncOutcome,
    },
    Token {
        seq: u32,
        ok: bool,
    },
    NpdPatched(Result<(), ApiError>),
    /// A call whose outcome needs no handling (NPD events).
    Done,
}

pub struct Registration {
    node: NodeView,
    lease: Option<LeaseMeta>,
}

pub enum StatusOutcome {
    Patched(Box<NodeView>),
    Unchanged(Box<NodeView>),
    Missing,
}

type RefKey = (RefKind, Box<str>, Box<str>);

struct PodEntry {
    facts: Arc<PodFacts>,
    state: PodState,
    ip: Option<Ipv4Addr>,
    scheduled: Option<Millis>,
    running: bool,
    /// "pod started" / "Killing pod" already logged (once per pod).
    start_logged: bool,
    kill_logged: bool,
}

/// What survives a stop/start of the node (the fake runtime keeps its
/// pods, as containers survive a kubelet restart).
pub struct KubeletState {
    pods: HashMap<u32, PodEntry>,
    by_uid: HashMap<Box<str>, u32>,
    next_seq: u32,
    ipam: PodIpAllocator,
    node_uid: Option<String>,
    lease: Option<LeaseMeta>,
    npd: NpdState,
    refs: HashMap<RefKey, u32>,
    last_report: Option<Instant>,
    pods_removed: bool,
    /// Images the fake runtime "pulled" (kept, as no image GC runs), for
    /// the Node's `status.images`.
    images: BTreeSet<Box<str>>,
}

impl KubeletState {
    pub fn new(id: &NodeIdent) -> KubeletState {
        KubeletState {
            pods: HashMap::new(),
            by_uid: HashMap::new(),
            next_seq: 0,
            ipam: PodIpAllocator::new(id.pod_cidr),
            node_uid: None,
            lease: None,
            npd: NpdState::default(),
            refs: HashMap::new(),
            last_report: None,
            pods_removed: false,
            images: BTreeSet::new(),
        }
    }

    /// Pod IPs handed out right now.
    pub fn ips_in_use(&self) -> u32 {
        self.ipam.in_use()
    }
}

/// A running node task.
pub struct KubeletHandle {
    pub tx: mpsc::Sender<Msg>,
    pub cancel: CancellationToken,
    pub task: tokio::task::JoinHandle<KubeletState>,
}

pub fn spawn(
    sh: Arc<Shared>,
    id: Arc<NodeIdent>,
    stats: Arc<NodeStats>,
    state: KubeletState,
    identity: Option<crate::conn::Identity>,
) -> KubeletHandle {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let conns = sh.conns("kubelet", &id.name, identity);
    let api = Arc::new(Api::new(
        conns,
        "kubelet",
        sh.ua_kubelet.clone(),
        sh.cfg.kube_api_qps,
        sh.cfg.kube_api_burst,
        sh.metrics.clone(),
    ));
    let hb = Arc::new(api.sibling("kubelet", sh.ua_kubelet.clone(), 0.0, 1));
    let npd_api = Arc::new(api.sibling("npd", sh.ua_npd.clone(), 0.0, 1));
    let now = Instant::now();
    let npd_logged = state.npd.active();
    let k = Kubelet {
        sh,
        id,
        stats,
        api,
        hb,
        npd_api,
        st: state,
        tx: tx.clone(),
        cancel: cancel.clone(),
        inflight: FuturesUnordered::new(),
        pod_timers: BinaryHeap::new(),
        ref_watches: HashMap::new(),
        registered: false,
        register_at: Some(now),
        register_failures: 0,
        status_at: None,
        status_busy: false,
        lease_at: None,
        lease_due: None,
        lease_busy: false,
        lease_failures: 0,
        last_renew: None,
        npd_at: None,
        npd_busy: false,
        npd_failures: 0,
        last_npd_report: None,
        watches_started: false,
        npd_logged,
    };
    let task = tokio::spawn(k.run(rx));
    KubeletHandle { tx, cancel, task }
}

struct Kubelet {
    sh: Arc<Shared>,
    id: Arc<NodeIdent>,
    stats: Arc<NodeStats>,
    api: Arc<Api>,
    hb: Arc<Api>,
    npd_api: Arc<Api>,
    st: KubeletState,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    inflight: FuturesUnordered<BoxFuture<'static, Msg>>,
    pod_timers: BinaryHeap<Reverse<(Millis, u32)>>,
    ref_watches: HashMap<RefKey, CancellationToken>,
    registered: bool,
    register_at: Option<Instant>,
    register_failures: u32,
    status_at: Option<Instant>,
    status_busy: bool,
    lease_at: Option<Instant>,
    /// When the pending renewal was first due (lateness counts from it).
    lease_due: Option<Instant>,
    lease_busy: bool,
    lease_failures: u32,
    last_renew: Option<Instant>,
    npd_at: Option<Instant>,
    npd_busy: bool,
    npd_failures: u32,
    last_npd_report: Option<Instant>,
    watches_started: bool,
    /// Active problems as last logged.
    npd_logged: BTreeSet<&'static str>,
}

impl Kubelet {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) -> KubeletState {
        // Pods kept across a stop: whatever was in flight is lost.
        let seqs: Vec<u32> = self.st.pods.keys().copied().collect();
        for seq in seqs {
            self.pod_event(seq, Event::Resumed);
        }
        let far = Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(far.into());
        tokio::pin!(sleep);
        // The deadline the sleep is set to; `None` once it fired, because a
        // fired sleep stays ready and must be re-armed even to the same
        // instant (else the loop spins on it).
        let mut armed = Some(far);
        loop {
            let wake = self.next_wakeup().unwrap_or(far);
            if armed != Some(wake) {
                sleep.as_mut().reset(wake.into());
                armed = Some(wake);
            }
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                Some(msg) = self.inflight.next(), if !self.inflight.is_empty() => self.on_msg(msg),
                msg = rx.recv() => match msg {
                    Some(m) => self.on_msg(m),
                    None => break,
                },
                _ = &mut sleep => {
                    armed = None;
                    self.stats.timer_wakeups.fetch_add(1, Ordering::Relaxed);
                    self.on_timers();
                }
            }
        }
        self.cancel.cancel();
        if self.stats.ready.swap(false, Ordering::Relaxed) {
            self.sh.metrics.nodes_ready.dec();
        }
        self.st
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let pod = self
            .pod_timers
            .peek()
            .map(|Reverse((ms, _))| self.sh.instant(*ms));
        [
            self.register_at,
            self.status_at.filter(|_| !self.status_busy),
            self.lease_at.filter(|_| !self.lease_busy),
            self.npd_at.filter(|_| !self.npd_busy),
            pod,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        if self.register_at.is_some_and(|t| t <= now) {
            self.register_at = None;
            self.start_registration();
        }
        if !self.status_busy && self.status_at.is_some_and(|t| t <= now) {
            self.start_status_sync();
        }
        if !self.lease_busy && self.lease_at.is_some_and(|t| t <= now) {
            self.start_lease_renewal();
        }
        if !self.npd_busy && self.npd_at.is_some_and(|t| t <= now) {
            self.start_npd_sync();
        }
        let due = self.sh.now().mono;
        // Take what is due first: a step that schedules another past
        // deadline must not keep this loop going.
        let mut fired = Vec::new();
        while let Some(Reverse((ms, seq))) = self.pod_timers.peek().copied() {
            if ms > due {
                break;
            }
            self.pod_timers.pop();
            fired.push((ms, seq));
        }
        for (ms, seq) in fired {
            let still = self
                .st
                .pods
                .get_mut(&seq)
                .map(|e| {
                    let mine = e.scheduled == Some(ms);
                    if mine {
                        e.scheduled = None;
                    }
                    mine
                })
                .unwrap_or(false);
            if still {
                self.pod_event(seq, Event::Tick);
            }
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Pods(ev) => self.on_pods(*ev),
            Msg::Node(ev) => self.on_node(*ev),
            Msg::Inject(p) => {
                self.st.npd.injected.insert(p);
                self.npd_changed();
            }
            Msg::Clear(p) => {
                self.st.npd.injected.remove(p);
                self.npd_changed();
            }
            Msg::Registered(r) => self.on_registered(r),
            Msg::Status(r) => self.on_status(r),
            Msg::Lease { result, started } => self.on_lease(result, started),
            Msg::PodSynced { seq, outcome } => {
                if self.st.pods.contains_key(&seq) {
                    self.pod_event(seq, Event::Synced(outcome));
                }
            }
            Msg::Token { seq, ok } => {
                if self.st.pods.contains_key(&seq) {
                    self.pod_event(seq, Event::TokenDone { ok });
                }
            }
            Msg::Done => {}
            Msg::NpdPatched(r) => {
                self.npd_busy = false;
                match r {
                    Ok(()) => {
                        self.npd_failures = 0;
                        self.st.npd.mark_reported();
                        self.last_npd_report = Some(Instant::now());
                        self.npd_at = Some(Instant::now() + self.sh.cfg.npd_heartbeat_period);
                        if self.st.npd.needs_update() {
                            self.npd_at = Some(Instant::now());
                        }
                    }
                    Err(e) => {
                        node_event!(debug, self.id.name, NPD, "npd status update failed: {e}");
                        self.npd_failures += 1;
                        self.npd_at =
                            Some(Instant::now() + jitter(npd_retry(self.npd_failures), 0.5));
                    }
                }
            }
        }
    }

    // ---- registration -------------------------------------------------

    fn start_registration(&mut self) {
        let (sh, api, hb, id) = (
            self.sh.clone(),
            self.api.clone(),
            self.hb.clone(),
            self.id.clone(),
        );
        let lease = self.st.lease.clone();
        let fut = async move {
            let r = register(&sh, &api, &hb, &id, lease).await;
            Msg::Registered(r.map(Box::new))
        };
        self.inflight.push(fut.boxed());
    }

    fn on_registered(&mut self, r: Result<Box<Registration>, ApiError>) {
        match r {
            Ok(reg) => {
                node_event!(info, self.id.name, KUBELET, "Successfully registered node");
                self.register_failures = 0;
                self.registered = true;
                self.st.node_uid = Some(reg.node.metadata.uid.clone());
                if reg.lease.is_some() {
                    self.st.lease = reg.lease;
                }
                if !self.stats.registered.swap(true, Ordering::Relaxed) {
                    self.sh.metrics.nodes_registered.inc();
                }
                self.on_node_object(&reg.node);
                let now = Instant::now();
                // The first status update right after registration (as the
                // kubelet's syncNodeStatus does) reports Ready.
                self.status_at = Some(now);
                if self.lease_at.is_none() {
                    let at = now + jitter(self.sh.cfg.lease_renew_interval(), 0.04);
                    self.lease_at = Some(at);
                    self.lease_due = Some(at);
                }
                if self.sh.cfg.morph.npd && self.npd_at.is_none() {
                    self.npd_at = Some(now);
                }
                self.start_watches();
            }
            Err(e) => {
                self.register_failures += 1;
                let delay =
                    Duration::from_millis((200u64 << self.register_failures.min(7)).min(7_000));
                if self.register_failures <= 3 || self.register_failures.is_multiple_of(20) {
                    node_event!(
                        warn,
                        self.id.name,
                        KUBELET,
                        "Unable to register node with API server (attempt {}): {e}; retrying in {delay:?}",
                        self.register_failures
                    );
                }
                self.register_at = Some(Instant::now() + jitter(delay, 1.0));
            }
        }
    }

    fn start_watches(&mut self) {
        if self.watches_started {
            return;
        }
        self.watches_started = true;
        let name = self.id.name.clone();
        let pods = WatchTarget::new("/api/v1/pods", "pods")
            .field_selector(&format!("spec.nodeName={name}"));
        self.spawn_watch::<PodView, _>(pods, true, |e| Some(Msg::Pods(Box::new(e))));
        let node = WatchTarget::new("/api/v1/nodes", "nodes")
            .field_selector(&format!("metadata.name={name}"));
        self.spawn_watch::<NodeView, _>(node, true, |e| Some(Msg::Node(Box::new(e))));
        for (path, res) in [
            ("/api/v1/services", "services"),
            ("/apis/storage.k8s.io/v1/csidrivers", "csidrivers"),
            ("/apis/node.k8s.io/v1/runtimeclasses", "runtimeclasses"),
        ] {
            self.spawn_watch::<MetaOnly, _>(WatchTarget::new(path, res), false, |_| None);
        }
        let refs: Vec<RefKey> = self
            .st
            .refs
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| k.clone())
            .collect();
        for k in refs {
            self.start_ref_watch(k);
        }
    }

    fn spawn_watch<T, F>(&self, target: WatchTarget, deliver: bool, map: F)
    where
        T: serde::de::DeserializeOwned + crate::watch::Versioned + Send + 'static,
        F: Fn(WatchEvent<T>) -> Option<Msg> + Send + 'static,
    {
        let tx = deliver.then(|| self.tx.clone());
        tokio::spawn(run_watch(
            self.api.clone(),
            target.owner(&self.id.name, KUBELET),
            self.sh.metrics.clone(),
            self.cancel.child_token(),
            tx,
            map,
        ));
    }

    fn start_ref_watch(&mut self, key: RefKey) {
        if self.ref_watches.contains_key(&key) {
            return;
        }
        let (kind, ns, name) = &key;
        let target = WatchTarget::new(
            format!("/api/v1/namespaces/{ns}/{}", kind.plural()),
            kind.plural(),
        )
        .field_selector(&format!("metadata.name={name}"))
        .owner(&self.id.name, KUBELET);
        let cancel = self.cancel.child_token();
        tokio::spawn(run_watch::<MetaOnly, Msg, _>(
            self.api.clone(),
            target,
            self.sh.metrics.clone(),
            cancel.clone(),
            None,
            |_| None,
        ));
        self.ref_watches.insert(key, cancel);
    }

    fn add_refs(&mut self, facts: &PodFacts) {
        for (kind, name) in facts.refs.iter() {
            let key: RefKey = (*kind, facts.namespace.clone(), name.clone());
            let n = self.st.refs.entry(key.clone()).or_insert(0);
            *n += 1;
            if *n == 1 && self.watches_started {
                self.start_ref_watch(key);
            }
        }
    }

    fn drop_refs(&mut self, facts: &PodFacts) {
        for (kind, name) in facts.refs.iter() {
            let key: RefKey = (*kind, facts.namespace.clone(), name.clone());
            if let Some(n) = self.st.refs.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.st.refs.remove(&key);
                    if let Some(c) = self.ref_watches.remove(&key) {
                        c.cancel();
                    }
                }
            }
        }
    }

    // ---- node status -------------------------------------------------

    fn start_status_sync(&mut self) {
        if !self.registered {
            self.status_at = None;
            return;
        }
        self.status_busy = true;
        let now = Instant::now();
        let force = self.st.pods_removed
            || self
                .st
                .last_report
                .is_none_or(|t| now.duration_since(t) >= self.sh.cfg.node_status_report_frequency);
        let (sh, hb, id) = (self.sh.clone(), self.hb.clone(), self.id.clone());
        let images = images_json(self.st.images.iter().map(|i| &**i));
        let fut = async move {
            let r = sync_node_status(&sh, &hb, &id, &images, force).await;
            Msg::Status(r)
        };
        self.inflight.push(fut.boxed());
    }

    fn on_status(&mut self, r: Result<StatusOutcome, ApiError>) {
        self.status_busy = false;
        let now = Instant::now();
        self.status_at = Some(now + jitter(self.sh.cfg.node_status_update_frequency, 0.04));
        match r {
            Ok(StatusOutcome::Patched(node)) => {
                self.st.last_report = Some(now);
                self.st.pods_removed = false;
                self.set_ready(node.is_ready());
                self.on_node_object(&node);
            }
            Ok(StatusOutcome::Unchanged(node)) => {
                self.set_ready(node.is_ready());
                self.on_node_object(&node);
            }
            Ok(StatusOutcome::Missing) => {
                node_event!(
                    warn,
                    self.id.name,
                    KUBELET,
                    "the Node is gone; registering it again"
                );
                self.registered = false;
                self.set_ready(false);
                self.status_at = None;
                self.start_registration();
            }
            Err(e) => node_event!(
                debug,
                self.id.name,
                KUBELET,
                "node status update failed: {e}"
            ),
        }
    }

    fn set_ready(&self, ready: bool) {
        let was = self.stats.ready.swap(ready, Ordering::Relaxed);
        match (was, ready) {
            (false, true) => {
                node_event!(info, self.id.name, KUBELET, condition = %"Ready", status = %"True", "Node became ready");
                self.sh.metrics.nodes_ready.inc()
            }
            (true, false) => {
                node_event!(info, self.id.name, KUBELET, condition = %"Ready", status = %"False", "Node became not ready");
                self.sh.metrics.nodes_ready.dec()
            }
            _ => 0,
        };
    }

    fn on_node(&mut self, ev: WatchEvent<NodeView>) {
        match ev {
            WatchEvent::Listed(nodes) => {
                if let Some(n) = nodes.into_iter().find(|n| n.metadata.name == self.id.name) {
                    self.on_node_object(&n);
                }
            }
            WatchEvent::Applied(n) => self.on_node_object(&n),
            WatchEvent::Deleted(_) => {
                // Found missing at the next status update, then registered
                // again.
            }
        }
    }

    fn on_node_object(&mut self, node: &NodeView) {
        if !self.sh.cfg.morph.npd {
            return;
        }
        let value = node
            .annotation(npd::ANNOTATION_INJECT_PROBLEM)
            .unwrap_or("");
        let (set, unknown) = npd::parse_injection(value);
        if !unknown.is_empty() {
            node_event!(
                warn,
                self.id.name,
                NPD,
                "ignoring unknown problems {unknown:?} in {}",
                npd::ANNOTATION_INJECT_PROBLEM
            );
        }
        if set != self.st.npd.annotated {
            self.st.npd.annotated = set;
            self.npd_changed();
        }
    }

    // ---- lease --------------------------------------------------------

    fn start_lease_renewal(&mut self) {
        if !self.registered && self.st.node_uid.is_none() {
            // Scheduled again once registered.
            self.lease_at = None;
            return;
        }
        self.lease_busy = true;
        let (sh, hb, id) = (self.sh.clone(), self.hb.clone(), self.id.clone());
        let uid = self.st.node_uid.clone();
        let meta = self.st.lease.clone();
        let started = Instant::now();
        let fut = async move {
            let result = renew_lease(&sh, &hb, &id.name, uid.as_deref(), meta).await;
            Msg::Lease { result, started }
        };
        self.inflight.push(fut.boxed());
    }

    fn on_lease(&mut self, result: Result<LeaseMeta, ApiError>, started: Instant) {
        self.lease_busy = false;
        let now = Instant::now();
        let due = self.lease_due.unwrap_or(started);
        let m = &self.sh.metrics;
        match result {
            Ok(meta) => {
                self.st.lease = Some(meta);
                self.lease_failures = 0;
                m.lease_renewals.inc();
                self.stats.lease_renewals.fetch_add(1, Ordering::Relaxed);
                m.lease_renew_seconds
                    .observe(now.duration_since(started).as_secs_f64());
                m.observe_lateness_ms(now.saturating_duration_since(due).as_millis() as u64);
                if let Some(prev) = self.last_renew {
                    if now.duration_since(prev) > self.sh.cfg.node_lease_duration {
                        m.lease_misses.inc();
                    }
                }
                self.last_renew = Some(now);
                let at = now + jitter(self.sh.cfg.lease_renew_interval(), 0.04);
                self.lease_at = Some(at);
                self.lease_due = Some(at);
            }
            Err(e) => {
                m.lease_failures.inc();
                self.lease_failures += 1;
                if e.is_conflict() || e.is_not_found() {
                    self.st.lease = None;
                }
                node_event!(debug, self.id.name, KUBELET, "lease renewal failed: {e}");
                self.lease_at = Some(
                    now + jitter(
                        lease_retry(self.lease_failures, self.sh.cfg.lease_renew_interval()),
                        0.5,
                    ),
                );
            }
        }
    }

    // ---- node problem detector ---------------------------------------

    fn npd_changed(&mut self) {
        if !self.sh.cfg.morph.npd {
            return;
        }
        self.st.npd.prune_events();
        let active = self.st.npd.active();
        for p in active.difference(&self.npd_logged) {
            node_event!(info, self.id.name, NPD, problem = %p, "Node problem injected");
        }
        for p in self.npd_logged.difference(&active) {
            node_event!(info, self.id.name, NPD, problem = %p, "Node problem cleared");
        }
        self.npd_logged = active;
        let problems = self.npd_logged.len() as u32;
        let was = self.stats.problems.swap(problems, Ordering::Relaxed);
        self.sh
            .metrics
            .npd_problems
            .inc_by(i64::from(problems) - i64::from(was));
        if self.registered {
            self.npd_at = Some(Instant::now());
        }
    }

    fn start_npd_sync(&mut self) {
        if !self.registered || !self.sh.cfg.morph.npd {
            self.npd_at = None;
            return;
        }
        let now = self.sh.now();
        for problem in self.st.npd.new_events() {
            self.st.npd.evented.insert(problem);
            let suffix = format!("{:x}", rand::random::<u64>());
            let event = npd::problem_event(&self.id.name, problem, now.wall, &suffix);
            let api = self.npd_api.clone();
            let id = self.id.clone();
            let fut = async move {
                let r: Result<serde_json::Value, ApiError> = api
                    .send_json(
                        Verb::Create,
                        "events",
                        "/api/v1/namespaces/default/events",
                        JSON,
                        &event,
                    )
                    .await;
                if let Err(e) = r {
                    node_event!(debug, id.name, NPD, "npd event: {e}");
                }
                Msg::Done
            };
            self.inflight.push(fut.boxed());
        }
        let heartbeat_due = self
            .last_npd_report
            .is_none_or(|t| t.elapsed() >= self.sh.cfg.npd_heartbeat_period);
        if !self.st.npd.needs_update() && !heartbeat_due {
            self.npd_at = self
                .last_npd_report
                .map(|t| t + self.sh.cfg.npd_heartbeat_period);
            return;
        }
        self.npd_busy = true;
        let patch = self.st.npd.conditions_patch(now.wall);
        let api = self.npd_api.clone();
        let path = format!("/api/v1/nodes/{}/status", self.id.name);
        let fut = async move {
            let r: Result<serde_json::Value, ApiError> = api
                .send_json(Verb::Patch, "nodes/status", &path, STRATEGIC_MERGE, &patch)
                .await;
            Msg::NpdPatched(r.map(|_| ()))
        };
        self.inflight.push(fut.boxed());
    }

    // ---- pods ---------------------------------------------------------

    fn on_pods(&mut self, ev: WatchEvent<PodView>) {
        match ev {
            WatchEvent::Listed(items) => {
                let seen: HashSet<String> = items.iter().map(|p| p.metadata.uid.clone()).collect();
                let gone: Vec<u32> = self
                    .st
                    .by_uid
                    .iter()
                    .filter(|(uid, _)| !seen.contains(&***uid))
                    .map(|(_, seq)| *seq)
                    .collect();
                for seq in gone {
                    self.pod_event(seq, Event::Removed);
                }
                for p in items {
                    self.upsert_pod(p);
                }
            }
            WatchEvent::Applied(p) => self.upsert_pod(p),
            WatchEvent::Deleted(p) => {
                if let Some(seq) = self.st.by_uid.get(p.metadata.uid.as_str()).copied() {
                    self.pod_event(seq, Event::Removed);
                }
            }
        }
    }

    fn upsert_pod(&mut self, p: PodView) {
        if p.spec.node_name != self.id.name || p.metadata.uid.is_empty() {
            return;
        }
        if let Some(seq) = self.st.by_uid.get(p.metadata.uid.as_str()).copied() {
            if p.metadata.deletion_timestamp.is_some() {
                self.pod_event(seq, Event::DeletionRequested);
            }
            return;
        }
        let now = self.sh.now();
        let (facts, problems) = pod_facts(&p, &self.sh.cfg.pod_behavior);
        for problem in problems {
            node_event!(
                warn,
                self.id.name,
                KUBELET,
                pod = %format_args!("{}/{}", p.metadata.namespace, p.metadata.name),
                "{problem}; ignored"
            );
        }
        let terminal = p.is_terminal();
        let ip = if facts.host_network || terminal {
            None
        } else {
            // A pod already running here (after a restart of this
            // process) keeps its address.
            let existing = p
                .status
                .pod_ip
                .as_deref()
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
                .filter(|ip| self.st.ipam.claim(*ip));
            existing.or_else(|| self.st.ipam.allocate())
        };
        if ip.is_none() && !facts.host_network && !terminal {
            node_event!(
                warn,
                self.id.name,
                KUBELET,
                pod = %format_args!("{}/{}", facts.namespace, facts.name),
                "no pod IP left in {}",
                self.st.ipam.cidr()
            );
        }
        if !terminal {
            // The fake runtime pulls every container image of the pod.
            for c in facts.init_containers.iter().chain(facts.containers.iter()) {
                if !c.image.is_empty() && !self.st.images.contains(&c.image) {
                    self.st.images.insert(c.image.clone());
                }
            }
        }
        let facts = Arc::new(facts);
        self.add_refs(&facts);
        let (state, actions) = pod_state::new_pod(&facts, now, terminal);
        let seq = self.st.next_seq;
        self.st.next_seq = self.st.next_seq.wrapping_add(1);
        self.st.by_uid.insert(facts.uid.clone(), seq);
        self.st.pods.insert(
            seq,
            PodEntry {
                facts,
                state,
                ip,
                scheduled: None,
                running: false,
                start_logged: false,
                kill_logged: false,
            },
        );
        self.stats.pods.fetch_add(1, Ordering::Relaxed);
        self.sh.metrics.pods.inc();
        self.after_step(seq, actions);
        if p.metadata.deletion_timestamp.is_some() {
            self.pod_event(seq, Event::DeletionRequested);
        }
    }

    fn pod_event(&mut self, seq: u32, event: Event) {
        let now = self.sh.now();
        let Some(entry) = self.st.pods.get_mut(&seq) else {
            return;
        };
        if matches!(event, Event::DeletionRequested) && !entry.kill_logged {
            entry.kill_logged = true;
            node_event!(
                info,
                self.id.name,
                KUBELET,
                pod = %format_args!("{}/{}", entry.facts.namespace, entry.facts.name),
                "Killing pod"
            );
        }
        let state = entry.state.clone();
        let (state, actions) = pod_state::step(state, &entry.facts, event, now);
        entry.state = state;
        self.after_step(seq, actions);
    }

    fn after_step(&mut self, seq: u32, actions: Vec<Action>) {
        let now = self.sh.now();
        for action in actions {
            let Some(entry) = self.st.pods.get(&seq) else {
                return;
            };
            match action {
                Action::RequestToken => {
                    let fut = request_token(self.api.clone(), self.id.clone(), entry.facts.clone());
                    self.inflight
                        .push(fut.map(move |ok| Msg::Token { seq, ok }).boxed());
                }
                Action::Sync { delete } => {
                    let host = self.id.internal_ip.to_string();
                    let desired = pod_status::desired(
                        &entry.facts,
                        &entry.state,
                        StatusCtx {
                            host_ip: &host,
                            pod_ip: entry.ip,
                        },
                    );
                    let fut = sync_pod(
                        self.api.clone(),
                        self.id.clone(),
                        entry.facts.clone(),
                        desired,
                        delete,
                        now.wall,
                    );
                    self.inflight.push(
                        fut.map(move |outcome| Msg::PodSynced { seq, outcome })
                            .boxed(),
                    );
                }
                Action::ReleaseIp => {
                    if let Some(ip) = entry.ip {
                        self.st.ipam.release(ip);
                    }
                }
                Action::Forget => {
                    if let Some(e) = self.st.pods.remove(&seq) {
                        node_event!(
                            info,
                            self.id.name,
                            KUBELET,
                            pod = %format_args!("{}/{}", e.facts.namespace, e.facts.name),
                            "pod deleted"
                        );
                        self.st.by_uid.remove(&e.facts.uid);
                        self.drop_refs(&e.facts);
                        if e.running {
                            self.stats.pods_running.fetch_sub(1, Ordering::Relaxed);
                            self.sh.metrics.pods_running.dec();
                        }
                        self.stats.pods.fetch_sub(1, Ordering::Relaxed);
                        self.sh.metrics.pods.dec();
                        // The kubelet reports its status about once after
                        // pods went away (see the reference traffic).
                        self.st.pods_removed = true;
                    }
                    return;
                }
            }
        }
        let Some(entry) = self.st.pods.get_mut(&seq) else {
            return;
        };
        let running = matches!(entry.state.life, Lifecycle::Running { .. });
        if running != entry.running {
            entry.running = running;
            if running && !entry.start_logged {
                entry.start_logged = true;
                node_event!(
                    info,
                    self.id.name,
                    KUBELET,
                    pod = %format_args!("{}/{}", entry.facts.namespace, entry.facts.name),
                    "pod started"
                );
            }
            if running {
                self.stats.pods_running.fetch_add(1, Ordering::Relaxed);
                self.sh.metrics.pods_running.inc();
            } else {
                self.stats.pods_running.fetch_sub(1, Ordering::Relaxed);
                self.sh.metrics.pods_running.dec();
            }
        }
        if let Some(d) = pod_state::next_deadline(&entry.state) {
            if entry.scheduled != Some(d) {
                entry.scheduled = Some(d);
                self.pod_timers.push(Reverse((d, seq)));
            }
        } else {
            entry.scheduled = None;
        }
    }
}

// ---- API conversations (pure decisions, I/O here) ------------------------

/// The kubelet's lease retry after `failures` failed renewals: 200 ms
/// doubling (the lease controller's `backoffEnsureLease`), never longer
/// than the renew interval, so a node whose master comes back renews
/// within one interval. Jittered by the caller.
fn lease_retry(failures: u32, renew_interval: Duration) -> Duration {
    Duration::from_millis(200u64 << failures.min(6)).min(renew_interval)
}

/// The node problem detector's status retry after `failures` failed
/// patches: 1 s doubling to 30 s (was a fixed 1 s: a failing master got
/// one patch per node per second for as long as it failed). Jittered by
/// the caller.
fn npd_retry(failures: u32) -> Duration {
    Duration::from_millis(1000u64 << failures.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

async fn register(
    sh: &Shared,
    api: &Api,
    hb: &Api,
    id: &NodeIdent,
    lease: Option<LeaseMeta>,
) -> Result<Registration, ApiError> {
    let _gate = sh.registration.acquire().await;
    node_event!(info, id.name, KUBELET, "Attempting to register node");
    let path = format!("/api/v1/nodes/{}", id.name);
    let body = node_object(&sh.tpl, id, sh.now().wall);
    let node: NodeView = match api
        .send_json(Verb::Create, "nodes", "/api/v1/nodes", JSON, &body)
        .await
    {
        Ok(n) => n,
        Err(e) if e.is_conflict() => {
            // Adopt the existing Node (a restart, or a node that came back).
            node_event!(info, id.name, KUBELET, "Node was previously registered");
            let existing: NodeView = api.get(Verb::Get, "nodes", &path).await?;
            match adoption_patch(&sh.tpl, id, &existing) {
                Some(p) => {
                    api.send_json(Verb::Patch, "nodes", &path, MERGE, &p)
                        .await?
                }
                None => existing,
            }
        }
        Err(e) => return Err(e),
    };
    let uid = node.metadata.uid.clone();
    let lease = match lease {
        Some(l) => Some(l),
        None => match ensure_lease(sh, hb, &id.name, &uid).await {
            Ok(l) => Some(l),
            Err(e) => {
                node_event!(debug, id.name, KUBELET, "lease not created yet: {e}");
                None
            }
        },
    };
    if let Err(e) = ensure_csinode(api, &id.name, &uid).await {
        node_event!(debug, id.name, KUBELET, "CSINode: {e}");
    }
    Ok(Registration { node, lease })
}

fn lease_path(name: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{name}")
}

fn renew_time() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    micro_time(nanos)
}

async fn ensure_lease(sh: &Shared, hb: &Api, name: &str, uid: &str) -> Result<LeaseMeta, ApiError> {
    let secs = sh.cfg.node_lease_duration.as_secs().max(1) as i64;
    let body = lease_body(name, Some(uid), secs, &renew_time(), None);
    let create_path = format!("/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases");
    match hb
        .send_json::<LeaseView>(Verb::Create, "leases", &create_path, JSON, &body)
        .await
    {
        Ok(l) => {
            node_event!(
                info,
                name,
                KUBELET,
                lease = %format_args!("{LEASE_NAMESPACE}/{name}"),
                "Created node lease"
            );
            Ok(l.metadata)
        }
        Err(e) if e.is_conflict() => {
            let l: LeaseView = hb.get(Verb::Get, "leases", &lease_path(name)).await?;
            Ok(l.metadata)
        }
        Err(e) => Err(e),
    }
}

async fn renew_lease(
    sh: &Shared,
    hb: &Api,
    name: &str,
    uid: Option<&str>,
    meta: Option<LeaseMeta>,
) -> Result<LeaseMeta, ApiError> {
    let secs = sh.cfg.node_lease_duration.as_secs().max(1) as i64;
    let path = lease_path(name);
    let meta = match meta {
        Some(m) => m,
        None => match uid {
            Some(u) => ensure_lease(sh, hb, name, u).await?,
            None => return Err(ApiError::Transport("node not registered yet".into())),
        },
    };
    let body = lease_body(name, uid, secs, &renew_time(), Some(&meta));
    match hb
        .send_json::<LeaseView>(Verb::Update, "leases", &path, JSON, &body)
        .await
    {
        Ok(l) => Ok(l.metadata),
        Err(e) if e.is_conflict() => {
            // Someone else wrote it: read it back and renew once more.
            let fresh: LeaseView = hb.get(Verb::Get, "leases", &path).await?;
            let body = lease_body(name, uid, secs, &renew_time(), Some(&fresh.metadata));
            let l: LeaseView = hb
                .send_json(Verb::Update, "leases", &path, JSON, &body)
                .await?;
            Ok(l.metadata)
        }
        Err(e) if e.is_not_found() => match uid {
            Some(u) => ensure_lease(sh, hb, name, u).await,
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

async fn ensure_csinode(api: &Api, name: &str, uid: &str) -> Result<(), ApiError> {
    let path = format!("/apis/storage.k8s.io/v1/csinodes/{name}");
    match api.call(Verb::Get, "csinodes", &path, None).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => {
            let body = json!({
                "apiVersion": "storage.k8s.io/v1",
                "kind": "CSINode",
                "metadata": {
                    "name": name,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}],
                },
                "spec": {"drivers": []},
            });
            let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Decode(e.to_string()))?;
            match api
                .call(
                    Verb::Create,
                    "csinodes",
                    "/apis/storage.k8s.io/v1/csinodes",
                    Some((JSON, bytes)),
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.is_conflict() => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

async fn sync_node_status(
    sh: &Shared,
    hb: &Api,
    id: &NodeIdent,
    images: &serde_json::Value,
    force: bool,
) -> Result<StatusOutcome, ApiError> {
    // Like the kubelet's first try: read from the API server's cache.
    let path = format!("/api/v1/nodes/{}?resourceVersion=0", id.name);
    let node: NodeView = match hb.get(Verb::Get, "nodes", &path).await {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return Ok(StatusOutcome::Missing),
        Err(e) => return Err(e),
    };
    match status_patch(&sh.tpl, id, &node, images, true, force, sh.now().wall) {
        None => Ok(StatusOutcome::Unchanged(Box::new(node))),
        Some((patch, _why)) => {
            let path = format!("/api/v1/nodes/{}/status", id.name);
            let n: NodeView = hb
                .send_json(Verb::Patch, "nodes/status", &path, STRATEGIC_MERGE, &patch)
                .await?;
            Ok(StatusOutcome::Patched(Box::new(n)))
        }
    }
}

async fn request_token(api: Arc<Api>, id: Arc<NodeIdent>, facts: Arc<PodFacts>) -> bool {
    let Some(t) = &facts.token else {
        return true;
    };
    let mut spec = serde_json::Map::new();
    if let Some(a) = &t.audience {
        spec.insert("audiences".into(), json!([&**a]));
    }
    spec.insert(
        "boundObjectRef".into(),
        json!({"apiVersion": "v1", "kind": "Pod", "name": &*facts.name, "uid": &*facts.uid}),
    );
    spec.insert("expirationSeconds".into(), json!(t.expiration_seconds));
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": spec,
    });
    let path = format!(
        "/api/v1/namespaces/{}/serviceaccounts/{}/token",
        facts.namespace, t.service_account
    );
    let bytes = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(_) => return false,
    };
    match api
        .call(
            Verb::Create,
            "serviceaccounts/token",
            &path,
            Some((JSON, bytes)),
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            node_event!(
                debug,
                id.name,
                KUBELET,
                pod = %format_args!("{}/{}", facts.namespace, facts.name),
                "token request failed: {e}"
            );
            false
        }
    }
}

async fn sync_pod(
    api: Arc<Api>,
    id: Arc<NodeIdent>,
    facts: Arc<PodFacts>,
    desired: pod_status::DesiredStatus,
    delete: bool,
    now_wall: i64,
) -> SyncOutcome {
    let path = format!("/api/v1/namespaces/{}/pods/{}", facts.namespace, facts.name);
    // The status manager reads the pod before every update.
    let server: ServerPod = match api.get(Verb::Get, "pods", &path).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return SyncOutcome::Gone,
        Err(e) => {
            node_event!(debug, id.name, KUBELET, "get pod {path}: {e}");
            return SyncOutcome::Failed;
        }
    };
    if server.metadata.uid != *facts.uid {
        return SyncOutcome::Gone;
    }
    if let Some(patch) = pod_status::patch(&facts, &desired, &server.status, now_wall) {
        let status_path = format!("{path}/status");
        let r: Result<serde_json::Value, ApiError> = api
            .send_json(
                Verb::Patch,
                "pods/status",
                &status_path,
                STRATEGIC_MERGE,
                &patch,
            )
            .await;
        match r {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return SyncOutcome::Gone,
            Err(e) => {
                node_event!(debug, id.name, KUBELET, "patch pod status {path}: {e}");
                return SyncOutcome::Failed;
            }
        }
    }
    if delete {
        let body = json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": &*facts.uid},
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        match api
            .call(Verb::Delete, "pods", &path, Some((JSON, bytes)))
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.is_conflict() => return SyncOutcome::Gone,
            Err(e) => {
                node_event!(debug, id.name, KUBELET, "delete pod {path}: {e}");
                return SyncOutcome::Failed;
            }
        }
    }
    SyncOutcome::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stay_bounded() {
        let interval = Duration::from_secs(10);
        let lease: Vec<u128> = (1..=8)
            .map(|f| lease_retry(f, interval).as_millis())
            .collect();
        assert_eq!(lease, [400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
        let npd: Vec<u64> = (1..=8).map(|f| npd_retry(f).as_secs()).collect();
        assert_eq!(npd, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(npd_retry(u32::MAX), Duration::from_secs(30));
    }
}
