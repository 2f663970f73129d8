//! The async driver: kube-rs watches feed [`State`]; a single loop runs
//! scheduling cycles; bindings, condition patches and events are written
//! concurrently with bounded parallelism.

use crate::algorithm::Rng;
use crate::events::{EventCorrelator, EventRecord, EventWrite, ObjectRef};
use crate::metrics::{self, AttemptResult, Metrics};
use crate::model::PodInfo;
use crate::queue::QueuedPod;
use crate::state::{Decision, State, REASON_SCHEDULER_ERROR, REASON_UNSCHEDULABLE};
use crate::SchedulerConfig;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use parking_lot::Mutex;
use serde_json::json;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

struct Shared {
    cfg: SchedulerConfig,
    client: kube::Client,
    state: Mutex<State>,
    /// Signalled when the active queue may have gained pods.
    wake: Notify,
    metrics: &'static Metrics,
    binds: Arc<Semaphore>,
    reports: Arc<Semaphore>,
    events: Mutex<EventCorrelator>,
    /// Events recorded but not yet written.
    queued_events: AtomicUsize,
}

impl Shared {
    /// Publishes queue sizes and wakes the loop if there is work.
    fn after_change(&self, st: &State) {
        let (a, b, u) = st.queue.len_by_queue();
        self.metrics.set_pending(a, b, u);
        if a > 0 && st.synced() {
            self.wake.notify_one();
        }
    }
}

/// Runs the scheduler until `shutdown` completes. Watch errors are retried
/// with backoff; API write failures are logged and, for bindings, retried
/// through the queue.
pub async fn run(client: kube::Client, cfg: SchedulerConfig, shutdown: impl Future) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(&cfg, Rng::from_time())),
        client,
        wake: Notify::new(),
        metrics: metrics::global(),
        binds: Arc::new(Semaphore::new(cfg.max_binds_in_flight.max(1))),
        reports: Arc::new(Semaphore::new(cfg.max_reports_in_flight.max(1))),
        events: Mutex::new(EventCorrelator::new(
            &cfg.scheduler_name,
            &cfg.reporting_instance,
        )),
        queued_events: AtomicUsize::new(0),
        cfg,
    });
    let tasks = [
        tokio::spawn(watch_nodes(shared.clone())),
        tokio::spawn(watch_pods(shared.clone())),
        tokio::spawn(tick(shared.clone())),
    ];
    tokio::select! {
        _ = shutdown => {}
        _ = schedule_loop(shared.clone()) => {}
    }
    for t in &tasks {
        t.abort();
    }
    // Let bindings already issued finish (bounded), so no pod is left assumed.
    let all = u32::try_from(shared.cfg.max_binds_in_flight.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), shared.binds.acquire_many(all)).await;
}

async fn schedule_loop(shared: Arc<Shared>) {
    loop {
        let Ok(permit) = shared.binds.clone().acquire_owned().await else {
            return;
        };
        let decision = loop {
            let next = {
                let mut st = shared.state.lock();
                let d = if st.synced() {
                    st.schedule_one(Instant::now())
                } else {
                    None
                };
                if d.is_some() {
                    let (a, b, u) = st.queue.len_by_queue();
                    shared.metrics.set_pending(a, b, u);
                }
                d
            };
            match next {
                Some(d) => break d,
                None => shared.wake.notified().await,
            }
        };
        match decision {
            Decision::Skip => {}
            Decision::Bind { pod, node, started } => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    bind(&shared, pod, node, started).await;
                });
            }
            Decision::Unschedulable {
                pod,
                message,
                update_condition,
                started,
            } => {
                shared.metrics.observe_attempt(
                    &shared.cfg.scheduler_name,
                    AttemptResult::Unschedulable,
                    started.elapsed().as_secs_f64(),
                );
                report_failure(
                    &shared,
                    &pod,
                    REASON_UNSCHEDULABLE,
                    message,
                    update_condition,
                );
            }
        }
    }
}

async fn bind(shared: &Arc<Shared>, pod: QueuedPod, node: String, started: Instant) {
    let info = pod.info.clone();
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &info.namespace);
    let result: Result<serde_json::Value, kube::Error> = api
        .create_subresource("binding", &info.name, &PostParams::default(), &binding)
        .await;
    let profile = &shared.cfg.scheduler_name;
    match result {
        Ok(_) => {
            shared
                .state
                .lock()
                .bind_succeeded(&info.key, Instant::now());
            shared.metrics.observe_attempt(
                profile,
                AttemptResult::Scheduled,
                started.elapsed().as_secs_f64(),
            );
            shared
                .metrics
                .observe_pod_scheduled(pod.attempts, pod.initial_attempt.elapsed().as_secs_f64());
            record_event(shared, EventRecord::scheduled(pod_ref(&info), &node));
        }
        Err(e) => {
            tracing::info!(pod = %info.key, node = %node, error = %e, "binding rejected");
            shared.metrics.observe_attempt(
                profile,
                AttemptResult::Error,
                started.elapsed().as_secs_f64(),
            );
            let latest = {
                let mut st = shared.state.lock();
                let latest = st.bind_failed(pod, Instant::now());
                shared.after_change(&st);
                latest
            };
            if let Some(latest) = latest {
                // Go prints an API error as its Status message.
                let detail = match &e {
                    kube::Error::Api(s) => s.message.clone(),
                    other => other.to_string(),
                };
                let message = format!("binding rejected: {detail}");
                let update = crate::state::condition_needs_update(
                    latest.scheduled_condition.as_ref(),
                    REASON_SCHEDULER_ERROR,
                    &message,
                );
                report_failure(shared, &latest, REASON_SCHEDULER_ERROR, message, update);
            }
        }
    }
}

fn pod_ref(info: &PodInfo) -> ObjectRef {
    ObjectRef::pod(
        &info.namespace,
        &info.name,
        &info.uid,
        &info.resource_version,
    )
}

/// FailedScheduling event plus (if it changes) the PodScheduled=False condition.
fn report_failure(
    shared: &Arc<Shared>,
    pod: &Arc<PodInfo>,
    reason: &'static str,
    message: String,
    update_condition: bool,
) {
    record_event(
        shared,
        EventRecord::failed_scheduling(pod_ref(pod), &message),
    );
    if !update_condition {
        return;
    }
    let shared = shared.clone();
    let pod = pod.clone();
    tokio::spawn(async move {
        let Ok(_permit) = shared.reports.clone().acquire_owned().await else {
            return;
        };
        let mut condition = json!({
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": null,
            "reason": reason,
            "message": message,
        });
        // The transition time only moves when the status changes.
        if pod
            .scheduled_condition
            .as_ref()
            .is_none_or(|c| c.status != "False")
        {
            condition["lastTransitionTime"] =
                json!(crate::events::format_time(time::OffsetDateTime::now_utc()));
        }
        let patch = json!({"status": {"conditions": [condition]}});
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.namespace);
        if let Err(e) = api
            .patch_status(
                &pod.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            tracing::info!(pod = %pod.key, error = %e, "updating PodScheduled condition failed");
        }
    });
}

/// Events waiting to be written beyond this are dropped, like client-go's
/// broadcaster does when its queue is full.
const MAX_QUEUED_EVENTS: usize = 10_000;

fn record_event(shared: &Arc<Shared>, record: EventRecord) {
    if shared.queued_events.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED_EVENTS {
        shared.queued_events.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(reason = %record.reason, pod = %record.regarding.name, "event queue full; dropping event");
        return;
    }
    let write = shared
        .events
        .lock()
        .record(&record, time::OffsetDateTime::now_utc());
    let shared = shared.clone();
    tokio::spawn(async move {
        if let Ok(_permit) = shared.reports.clone().acquire_owned().await {
            if let Err(e) = write_event(&shared.client, write).await {
                tracing::info!(reason = %record.reason, pod = %record.regarding.name, error = %e, "writing event failed");
            }
        }
        shared.queued_events.fetch_sub(1, Ordering::Relaxed);
    });
}

async fn write_event(client: &kube::Client, write: EventWrite) -> Result<(), kube::Error> {
    let create = |namespace: String, body: serde_json::Value| {
        let client = client.clone();
        async move {
            let event: Event = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
            let api: Api<Event> = Api::namespaced(client, &namespace);
            api.create(&PostParams::default(), &event).await.map(|_| ())
        }
    };
    match write {
        EventWrite::Create { namespace, body } => create(namespace, body).await,
        EventWrite::Patch {
            namespace,
            name,
            body,
            fallback,
        } => {
            let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
            match api
                .patch(&name, &PatchParams::default(), &Patch::Strategic(&body))
                .await
            {
                Ok(_) => Ok(()),
                // The first event expired or was deleted: write it anew.
                Err(kube::Error::Api(s)) if s.code == 404 => create(namespace, fallback).await,
                Err(e) => Err(e),
            }
        }
    }
}

/// Applies a watch stream's events to the state; `apply` / `delete` /
/// `relist` map the typed events to state calls.
async fn pump<K, S>(
    shared: Arc<Shared>,
    what: &'static str,
    stream: S,
    mut handle: impl FnMut(&mut State, watcher::Event<K>, Instant),
) where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(ev) => {
                let mut st = shared.state.lock();
                handle(&mut st, ev, Instant::now());
                shared.after_change(&st);
            }
            Err(e) => tracing::warn!(resource = what, error = %e, "watch failed; retrying"),
        }
    }
}

async fn watch_nodes(shared: Arc<Shared>) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    pump(shared, "nodes", stream, |st, ev, now| match ev {
        watcher::Event::Init => st.node_relist_started(),
        watcher::Event::InitApply(n) | watcher::Event::Apply(n) => st.node_applied(&n, now),
        watcher::Event::Delete(n) => st.node_deleted(n.metadata.name.as_deref().unwrap_or("")),
        watcher::Event::InitDone => st.node_relist_done(),
    })
    .await;
}

async fn watch_pods(shared: Arc<Shared>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    // Like the real scheduler's informer: terminal pods hold no resources.
    let cfg = watcher::Config::default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let stream = watcher(api, cfg).default_backoff();
    pump(shared, "pods", stream, |st, ev, now| match ev {
        watcher::Event::Init => st.pod_relist_started(),
        watcher::Event::InitApply(p) | watcher::Event::Apply(p) => st.pod_applied(&p, now),
        watcher::Event::Delete(p) => st.pod_deleted(&p, now),
        watcher::Event::InitDone => st.pod_relist_done(now),
    })
    .await;
}

/// Backoff completion and leftover flushes, once a second like the real queue.
async fn tick(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let mut st = shared.state.lock();
        st.tick(Instant::now());
        shared.after_change(&st);
    }
}
