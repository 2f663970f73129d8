//! An event recorder like client-go's `record.EventRecorder`: events are
//! queued without blocking the caller and written by one background task
//! after passing the `EventCorrelator`: a per-object spam filter (burst 25,
//! refill one per 5 minutes), aggregation of similar events (same reason,
//! different messages, more than 10 within 10 minutes become one
//! "(combined from similar events): ..." event) and de-duplication (the same
//! event again within 10 minutes PATCHes `count`/`lastTimestamp` of the
//! existing Event instead of creating a new one).
//!
//! The recorder only needs a `kube::Client`, so the scheduler and hollow
//! nodes can reuse it with their own component names.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Resource;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Distinct entries each cache keeps (client-go's LRU size).
pub const CACHE_ENTRIES: usize = 4096;
/// Similar events within this window are aggregated / de-duplicated.
pub const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
/// Distinct messages per (object, reason) before aggregation starts.
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// Token bucket per source+object.
pub const SPAM_BURST: f64 = 25.0;
pub const SPAM_QPS: f64 = 1.0 / 300.0;
/// Events queued for writing; more are dropped, as client-go drops them.
pub const QUEUE_LENGTH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// A reference to an object for `involvedObject`.
pub fn object_ref<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn source_of(e: &Event) -> (&str, &str) {
    e.source
        .as_ref()
        .map(|src| (s(&src.component), s(&src.host)))
        .unwrap_or(("", ""))
}

fn object_key(e: &Event) -> String {
    let (component, host) = source_of(e);
    let o = &e.involved_object;
    [
        component,
        host,
        s(&o.kind),
        s(&o.namespace),
        s(&o.name),
        s(&o.uid),
        s(&o.api_version),
    ]
    .join("\u{1f}")
}

/// `getEventKey`: source, object, type, reason and message.
pub fn event_key(e: &Event) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        object_key(e),
        s(&e.involved_object.field_path),
        s(&e.type_),
        s(&e.reason),
        s(&e.message)
    )
}

fn aggregate_key(e: &Event) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        object_key(e),
        s(&e.type_),
        s(&e.reason),
        s(&e.reporting_component),
        s(&e.reporting_instance)
    )
}

/// What to do with an event after correlation.
#[derive(Debug, Clone, PartialEq)]
pub enum Correlation {
    /// Dropped by the spam filter.
    Skip,
    /// POST this new Event.
    Create(Event),
    /// PATCH the existing Event `name` in `namespace` with these fields;
    /// `event` is the full updated event (re-created if the PATCH finds it
    /// gone).
    Patch {
        namespace: String,
        name: String,
        patch: serde_json::Value,
        event: Event,
    },
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

#[derive(Debug, Clone)]
struct AggregateRecord {
    messages: HashSet<String>,
    last: Timestamp,
}

#[derive(Debug, Clone)]
struct Observation {
    count: i32,
    first: Option<Time>,
    name: String,
    last: Timestamp,
}

/// A size-bounded map: past the bound, the least recently touched half is
/// dropped (cheaper than a strict LRU and equivalent for our purposes).
#[derive(Debug)]
struct Bounded<V> {
    map: HashMap<String, (u64, V)>,
    tick: u64,
    cap: usize,
}

impl<V> Bounded<V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            tick: 0,
            cap: cap.max(2),
        }
    }

    fn get(&mut self, key: &str) -> Option<&mut V> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(key).map(|(t, v)| {
            *t = tick;
            v
        })
    }

    fn put(&mut self, key: String, v: V) {
        self.tick += 1;
        self.map.insert(key, (self.tick, v));
        if self.map.len() > self.cap {
            let mut ticks: Vec<u64> = self.map.values().map(|(t, _)| *t).collect();
            ticks.sort_unstable();
            let cutoff = ticks[ticks.len() / 2];
            self.map.retain(|_, (t, _)| *t >= cutoff);
        }
    }
}

/// client-go's `EventCorrelator`, pure: time is passed in.
#[derive(Debug)]
pub struct EventCorrelator {
    spam: Bounded<Bucket>,
    aggregates: Bounded<AggregateRecord>,
    observed: Bounded<Observation>,
}

impl Default for EventCorrelator {
    fn default() -> Self {
        EventCorrelator::new(CACHE_ENTRIES)
    }
}

impl EventCorrelator {
    pub fn new(cache_entries: usize) -> EventCorrelator {
        EventCorrelator {
            spam: Bounded::new(cache_entries),
            aggregates: Bounded::new(cache_entries),
            observed: Bounded::new(cache_entries),
        }
    }

    fn spam_allows(&mut self, e: &Event, now: Timestamp) -> bool {
        let key = object_key(e);
        let mut bucket = self.spam.get(&key).cloned().unwrap_or(Bucket {
            tokens: SPAM_BURST,
            at: now,
        });
        let elapsed = crate::util::duration_between(bucket.at, now).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * SPAM_QPS).min(SPAM_BURST);
        bucket.at = now;
        let ok = bucket.tokens >= 1.0;
        if ok {
            bucket.tokens -= 1.0;
        }
        self.spam.put(key, bucket);
        ok
    }

    /// Filters, aggregates and de-duplicates one new event (count 1,
    /// first/lastTimestamp = now).
    pub fn correlate(&mut self, mut e: Event, now: Timestamp) -> Correlation {
        if !self.spam_allows(&e, now) {
            return Correlation::Skip;
        }
        let window = AGGREGATE_WINDOW.as_secs_f64();
        // Aggregation of similar events (same reason, different message).
        let agg_key = aggregate_key(&e);
        let mut record = self
            .aggregates
            .get(&agg_key)
            .cloned()
            .filter(|r| crate::util::duration_between(r.last, now).as_secs_f64() <= window)
            .unwrap_or(AggregateRecord {
                messages: HashSet::new(),
                last: now,
            });
        record.messages.insert(s(&e.message).to_string());
        record.last = now;
        let aggregate = record.messages.len() >= AGGREGATE_MAX_EVENTS;
        if aggregate {
            // Keep the set bounded, as client-go pops one.
            if let Some(any) = record.messages.iter().next().cloned() {
                record.messages.remove(&any);
            }
        }
        self.aggregates.put(agg_key.clone(), record);
        let cache_key = if aggregate {
            e.message = Some(format!("(combined from similar events): {}", s(&e.message)));
            agg_key
        } else {
            event_key(&e)
        };
        // De-duplication.
        let previous = self
            .observed
            .get(&cache_key)
            .cloned()
            .filter(|o| crate::util::duration_between(o.last, now).as_secs_f64() <= window);
        match previous {
            Some(prev) => {
                e.metadata.name = Some(prev.name.clone());
                e.count = Some(prev.count + 1);
                e.first_timestamp = prev.first.clone();
                e.last_timestamp = Some(Time(now));
                self.observed.put(
                    cache_key,
                    Observation {
                        count: prev.count + 1,
                        first: prev.first,
                        name: prev.name.clone(),
                        last: now,
                    },
                );
                let patch = serde_json::json!({
                    "count": prev.count + 1,
                    "lastTimestamp": Time(now),
                    "message": e.message,
                });
                Correlation::Patch {
                    namespace: e.metadata.namespace.clone().unwrap_or_default(),
                    name: prev.name,
                    patch,
                    event: e,
                }
            }
            None => {
                let name = e.metadata.name.clone().unwrap_or_default();
                self.observed.put(
                    cache_key,
                    Observation {
                        count: 1,
                        first: e.first_timestamp.clone(),
                        name,
                        last: now,
                    },
                );
                Correlation::Create(e)
            }
        }
    }
}

/// Builds a new event as `recorder.makeEvent` does.
pub fn make_event(
    component: &str,
    host: Option<&str>,
    obj: &ObjectReference,
    type_: EventType,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Event {
    let namespace = obj
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let nanos = now.as_nanosecond();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{:x}", s(&obj.name), nanos)),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: obj.clone(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        type_: Some(type_.as_str().to_string()),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: host.map(String::from),
        }),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(host.unwrap_or("").to_string()),
        ..Default::default()
    }
}

struct Queued {
    event: Event,
}

/// Owns the background writer. Create recorders from it.
pub struct EventBroadcaster {
    tx: mpsc::Sender<Queued>,
}

/// Records events for one component (e.g. `replicaset-controller`).
#[derive(Clone)]
pub struct EventRecorder {
    component: Arc<str>,
    host: Option<Arc<str>>,
    tx: mpsc::Sender<Queued>,
}

impl EventBroadcaster {
    /// Starts the writer task on the current runtime. It ends when every
    /// recorder and the broadcaster are dropped.
    pub fn start(client: kube::Client) -> EventBroadcaster {
        let (tx, rx) = mpsc::channel(QUEUE_LENGTH);
        tokio::spawn(write_events(client, rx));
        EventBroadcaster { tx }
    }

    pub fn recorder(&self, component: &str) -> EventRecorder {
        EventRecorder {
            component: component.into(),
            host: None,
            tx: self.tx.clone(),
        }
    }

    pub fn recorder_on_host(&self, component: &str, host: &str) -> EventRecorder {
        EventRecorder {
            component: component.into(),
            host: Some(host.into()),
            tx: self.tx.clone(),
        }
    }
}

impl EventRecorder {
    /// Queues an event; never blocks (drops it when the queue is full).
    pub fn event(&self, obj: &ObjectReference, type_: EventType, reason: &str, message: &str) {
        let event = make_event(
            &self.component,
            self.host.as_deref(),
            obj,
            type_,
            reason,
            message,
            Timestamp::now(),
        );
        if self.tx.try_send(Queued { event }).is_err() {
            tracing::debug!(reason, "event queue full; dropping event");
        }
    }

    pub fn normal(&self, obj: &ObjectReference, reason: &str, message: &str) {
        self.event(obj, EventType::Normal, reason, message);
    }

    pub fn warning(&self, obj: &ObjectReference, reason: &str, message: &str) {
        self.event(obj, EventType::Warning, reason, message);
    }

    pub fn component(&self) -> &str {
        &self.component
    }
}

async fn write_events(client: kube::Client, mut rx: mpsc::Receiver<Queued>) {
    let mut correlator = EventCorrelator::default();
    while let Some(Queued { event }) = rx.recv().await {
        let corr = correlator.correlate(event, Timestamp::now());
        let result = match corr {
            Correlation::Skip => Ok(()),
            Correlation::Create(e) => create(&client, &e).await,
            Correlation::Patch {
                namespace,
                name,
                patch,
                event,
            } => {
                let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => Ok(()),
                    // The event expired on the server: record it anew.
                    Err(e) if crate::util::is_not_found(&e) => {
                        let mut fresh = event;
                        fresh.metadata.resource_version = None;
                        create(&client, &fresh).await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "writing event failed");
        }
    }
}

async fn create(client: &kube::Client, e: &Event) -> Result<(), kube::Error> {
    let ns = e
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    match api.create(&PostParams::default(), e).await {
        Ok(_) => Ok(()),
        // The namespace is going away: nothing to record into.
        Err(err) if crate::util::is_namespace_terminating_error(&err) => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("ReplicaSet".into()),
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        }
    }

    fn ev(name: &str, reason: &str, msg: &str, now: Timestamp) -> Event {
        make_event(
            "replicaset-controller",
            None,
            &obj(name),
            EventType::Normal,
            reason,
            msg,
            now,
        )
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn make_event_fills_fields_like_client_go() {
        let e = ev("web", "SuccessfulCreate", "Created pod: web-x", at(0));
        assert!(e.metadata.name.as_deref().unwrap().starts_with("web."));
        assert_eq!(e.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(e.count, Some(1));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(
            e.source.as_ref().and_then(|s| s.component.as_deref()),
            Some("replicaset-controller")
        );
        let node = ObjectReference {
            kind: Some("Node".into()),
            name: Some("n1".into()),
            ..Default::default()
        };
        let e = make_event(
            "node-controller",
            None,
            &node,
            EventType::Normal,
            "NodeNotReady",
            "m",
            at(0),
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn identical_events_are_counted_via_patch() {
        let mut c = EventCorrelator::default();
        let first = c.correlate(ev("web", "ScalingReplicaSet", "m", at(0)), at(0));
        let Correlation::Create(created) = first else {
            panic!("expected create: {first:?}")
        };
        let second = c.correlate(ev("web", "ScalingReplicaSet", "m", at(5)), at(5));
        match second {
            Correlation::Patch {
                name,
                namespace,
                patch,
                event,
            } => {
                assert_eq!(Some(name), created.metadata.name);
                assert_eq!(namespace, "ns");
                assert_eq!(patch["count"], 2);
                assert_eq!(event.count, Some(2));
                assert_eq!(event.first_timestamp, created.first_timestamp);
            }
            other => panic!("expected patch: {other:?}"),
        }
        // After the window a new Event is created.
        let later = c.correlate(ev("web", "ScalingReplicaSet", "m", at(700)), at(700));
        assert!(matches!(later, Correlation::Create(_)), "{later:?}");
    }

    #[test]
    fn different_objects_or_reasons_are_separate() {
        let mut c = EventCorrelator::default();
        assert!(matches!(
            c.correlate(ev("a", "R", "m", at(0)), at(0)),
            Correlation::Create(_)
        ));
        assert!(matches!(
            c.correlate(ev("b", "R", "m", at(0)), at(0)),
            Correlation::Create(_)
        ));
        assert!(matches!(
            c.correlate(ev("a", "S", "m", at(0)), at(0)),
            Correlation::Create(_)
        ));
    }

    #[test]
    fn similar_events_aggregate_after_ten_messages() {
        let mut c = EventCorrelator::default();
        let mut outcomes = Vec::new();
        for i in 0..12 {
            outcomes.push(c.correlate(
                ev(
                    "web",
                    "SuccessfulCreate",
                    &format!("Created pod: web-{i}"),
                    at(i),
                ),
                at(i),
            ));
        }
        for o in &outcomes[..9] {
            assert!(
                matches!(o, Correlation::Create(e) if !e.message.as_deref().unwrap().starts_with("(combined"))
            );
        }
        match &outcomes[9] {
            Correlation::Create(e) => {
                assert_eq!(
                    e.message.as_deref(),
                    Some("(combined from similar events): Created pod: web-9")
                )
            }
            other => panic!("{other:?}"),
        }
        match &outcomes[10] {
            Correlation::Patch { patch, .. } => {
                assert_eq!(patch["count"], 2);
                assert_eq!(
                    patch["message"],
                    "(combined from similar events): Created pod: web-10"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spam_filter_allows_a_burst_of_25_then_refills_slowly() {
        let mut c = EventCorrelator::default();
        let mut allowed = 0;
        for i in 0..40 {
            if !matches!(
                c.correlate(ev("web", &format!("R{i}"), "m", at(0)), at(0)),
                Correlation::Skip
            ) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 25);
        assert!(matches!(
            c.correlate(ev("web", "X", "m", at(1)), at(1)),
            Correlation::Skip
        ));
        assert!(!matches!(
            c.correlate(ev("web", "X", "m", at(301)), at(301)),
            Correlation::Skip
        ));
        // Other objects have their own budget.
        assert!(!matches!(
            c.correlate(ev("other", "X", "m", at(1)), at(1)),
            Correlation::Skip
        ));
    }

    #[test]
    fn bounded_cache_evicts_least_recent() {
        let mut b: Bounded<u32> = Bounded::new(4);
        for i in 0..4 {
            b.put(format!("k{i}"), i);
        }
        assert!(b.get("k0").is_some());
        b.put("k4".into(), 4);
        assert!(b.map.len() <= 4);
        assert!(b.get("k0").is_some(), "recently used entry kept");
        assert!(b.get("k4").is_some());
    }
}
