//! core/v1 Events the way client-go's event recorder writes them: a new
//! Event named `<object>.<hex nanoseconds>` the first time, then PATCHes
//! incrementing `count` and `lastTimestamp` for identical repeats (the
//! correlator's de-duplication, keyed like `getEventKey`).

use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// client-go keeps this many event keys.
pub const MAX_CACHED_EVENTS: usize = 4096;
/// Event notes longer than this are truncated (`truncateMessage`).
pub const NOTE_LENGTH_LIMIT: usize = 1024;

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub api_version: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

impl ObjectRef {
    pub fn pod(namespace: &str, name: &str, uid: &str, resource_version: &str) -> ObjectRef {
        ObjectRef {
            kind: "Pod".into(),
            api_version: "v1".into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
            resource_version: resource_version.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "apiVersion": self.api_version,
            "resourceVersion": self.resource_version,
        })
    }
}

/// One event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub regarding: ObjectRef,
    /// `Normal` or `Warning`.
    pub event_type: String,
    pub reason: String,
    /// `Binding` / `Scheduling`.
    pub action: String,
    pub message: String,
}

impl EventRecord {
    /// `Scheduled`: "Successfully assigned ns/pod to node".
    pub fn scheduled(regarding: ObjectRef, node: &str) -> EventRecord {
        let message = format!(
            "Successfully assigned {}/{} to {}",
            regarding.namespace, regarding.name, node
        );
        EventRecord {
            regarding,
            event_type: "Normal".into(),
            reason: "Scheduled".into(),
            action: "Binding".into(),
            message,
        }
    }

    /// `FailedScheduling` with the (truncated) failure message.
    pub fn failed_scheduling(regarding: ObjectRef, message: &str) -> EventRecord {
        EventRecord {
            regarding,
            event_type: "Warning".into(),
            reason: "FailedScheduling".into(),
            action: "Scheduling".into(),
            message: truncate_message(message),
        }
    }
}

/// Cuts a message to the note limit, ending in `...` (on a char boundary).
pub fn truncate_message(message: &str) -> String {
    if message.len() <= NOTE_LENGTH_LIMIT {
        return message.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// An API write the recorder wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum EventWrite {
    /// POST /api/v1/namespaces/{namespace}/events.
    Create { namespace: String, body: Value },
    /// PATCH (strategic merge) /api/v1/namespaces/{namespace}/events/{name};
    /// on 404 create `fallback` instead.
    Patch {
        namespace: String,
        name: String,
        body: Value,
        fallback: Value,
    },
}

#[derive(Debug, Clone)]
struct Seen {
    name: String,
    count: i64,
    first_timestamp: String,
}

/// Kubernetes `Time`: RFC 3339 in UTC with whole seconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The de-duplicating event recorder (pure: it decides the writes).
#[derive(Debug)]
pub struct EventCorrelator {
    component: String,
    instance: String,
    seen: HashMap<String, Seen>,
    order: VecDeque<String>,
    capacity: usize,
}

impl EventCorrelator {
    pub fn new(component: &str, instance: &str) -> EventCorrelator {
        EventCorrelator {
            component: component.to_string(),
            instance: instance.to_string(),
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: MAX_CACHED_EVENTS,
        }
    }

    fn key(&self, r: &EventRecord) -> String {
        let o = &r.regarding;
        [
            self.component.as_str(),
            o.kind.as_str(),
            o.namespace.as_str(),
            o.name.as_str(),
            o.uid.as_str(),
            o.api_version.as_str(),
            r.event_type.as_str(),
            r.reason.as_str(),
            r.message.as_str(),
        ]
        .join("\u{0}")
    }

    fn body(&self, r: &EventRecord, name: &str, count: i64, first: &str, last: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": r.regarding.namespace},
            "involvedObject": r.regarding.to_json(),
            "reason": r.reason,
            "message": r.message,
            "source": {"component": self.component},
            "firstTimestamp": first,
            "lastTimestamp": last,
            "count": count,
            "type": r.event_type,
            "eventTime": null,
            "action": r.action,
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        })
    }

    /// Records an event at `now`: a create the first time, a count patch
    /// for identical repeats.
    pub fn record(&mut self, r: &EventRecord, now: OffsetDateTime) -> EventWrite {
        let key = self.key(r);
        let ts = format_time(now);
        let namespace = r.regarding.namespace.clone();
        if let Some(seen) = self.seen.get_mut(&key) {
            seen.count += 1;
            let (name, count, first) =
                (seen.name.clone(), seen.count, seen.first_timestamp.clone());
            let body = json!({"count": count, "lastTimestamp": ts, "message": r.message});
            let fallback = self.body(r, &name, count, &first, &ts);
            return EventWrite::Patch {
                namespace,
                name,
                body,
                fallback,
            };
        }
        let nanos = now.unix_timestamp_nanos();
        let name = format!("{}.{:x}", r.regarding.name, nanos);
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.seen.insert(
            key,
            Seen {
                name: name.clone(),
                count: 1,
                first_timestamp: ts.clone(),
            },
        );
        EventWrite::Create {
            namespace,
            body: self.body(r, &name, 1, &ts, &ts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_ref(name: &str) -> ObjectRef {
        ObjectRef::pod("ns", name, &format!("uid-{name}"), "5")
    }

    #[test]
    fn first_event_is_created_then_repeats_are_patched() {
        let mut c = EventCorrelator::new("default-scheduler", "default-scheduler-host");
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let t1 = t0 + time::Duration::seconds(30);
        let failed = EventRecord::failed_scheduling(
            pod_ref("p"),
            "0/1 nodes are available: 1 Insufficient cpu.",
        );
        let EventWrite::Create { namespace, body } = c.record(&failed, t0) else {
            panic!("create expected")
        };
        assert_eq!(namespace, "ns");
        assert_eq!(
            body["metadata"]["name"],
            format!("p.{:x}", t0.unix_timestamp_nanos())
        );
        assert_eq!(body["type"], "Warning");
        assert_eq!(body["reason"], "FailedScheduling");
        assert_eq!(body["source"]["component"], "default-scheduler");
        assert_eq!(body["reportingComponent"], "default-scheduler");
        assert_eq!(body["involvedObject"]["uid"], "uid-p");
        assert_eq!(body["count"], 1);
        assert_eq!(body["firstTimestamp"], "2023-11-14T22:13:20Z");
        let name = body["metadata"]["name"].clone();

        match c.record(&failed, t1) {
            EventWrite::Patch {
                name: n,
                body,
                fallback,
                ..
            } => {
                assert_eq!(json!(n), name);
                assert_eq!(
                    body,
                    json!({"count": 2, "lastTimestamp": "2023-11-14T22:13:50Z", "message": failed.message})
                );
                assert_eq!(fallback["firstTimestamp"], "2023-11-14T22:13:20Z");
                assert_eq!(fallback["count"], 2);
            }
            other => panic!("patch expected, got {other:?}"),
        }
        // A different message or object is a new event.
        let other = EventRecord::failed_scheduling(
            pod_ref("p"),
            "0/2 nodes are available: 2 Insufficient cpu.",
        );
        assert!(matches!(c.record(&other, t1), EventWrite::Create { .. }));
        let scheduled = EventRecord::scheduled(pod_ref("q"), "node-1");
        match c.record(&scheduled, t1) {
            EventWrite::Create { body, .. } => {
                assert_eq!(body["message"], "Successfully assigned ns/q to node-1");
                assert_eq!(body["type"], "Normal");
                assert_eq!(body["action"], "Binding");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cache_is_bounded() {
        let mut c = EventCorrelator::new("s", "i");
        c.capacity = 2;
        let t = OffsetDateTime::from_unix_timestamp(0).expect("time");
        let ev = |n: &str| EventRecord::scheduled(pod_ref(n), "x");
        for n in ["a", "b", "c"] {
            assert!(matches!(c.record(&ev(n), t), EventWrite::Create { .. }));
        }
        assert!(
            matches!(c.record(&ev("a"), t), EventWrite::Create { .. }),
            "evicted"
        );
        assert!(matches!(c.record(&ev("c"), t), EventWrite::Patch { .. }));
    }

    #[test]
    fn messages_are_truncated() {
        let cases = [(10, 10), (1024, 1024), (1025, 1024), (5000, 1024)];
        for (len, want) in cases {
            let m = "x".repeat(len);
            let t = truncate_message(&m);
            assert_eq!(t.len(), want, "{len}");
            if len > 1024 {
                assert!(t.ends_with("..."));
            }
        }
        let multibyte = "é".repeat(600);
        assert!(truncate_message(&multibyte).len() <= 1024);
    }
}
