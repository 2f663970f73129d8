//! PodStartupLatency: per pod the create, schedule, run and watch times,
//! and the latency of each transition between them.
//!
//! - create: `metadata.creationTimestamp`;
//! - schedule: the `PodScheduled=True` condition's `lastTransitionTime`
//!   (or, when the condition is missing, the time of the scheduler's
//!   `Scheduled` event, supplied by the caller);
//! - run: the latest `state.running.startedAt` of the pod's containers;
//! - watch: when our own pod watch first saw the pod `Running`.
//!
//! Server timestamps have one-second resolution (as in real Kubernetes);
//! the watch time is taken locally with sub-millisecond resolution.

use crate::stats::{self, Percentiles};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Just the fields of a Pod this crate looks at, so that watching tens of
/// thousands of pods decodes little.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PodLite {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpecLite,
    #[serde(default)]
    pub status: PodStatusLite,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecLite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatusLite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default)]
    pub conditions: Vec<ConditionLite>,
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatusLite>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionLite {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContainerStatusLite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerStateLite>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContainerStateLite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<RunningLite>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningLite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

impl kube::Resource for PodLite {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl PodLite {
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace.as_deref().unwrap_or(""),
            self.metadata.name.as_deref().unwrap_or("")
        )
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(name).map(String::as_str)
    }

    pub fn is_running(&self) -> bool {
        self.status.phase.as_deref() == Some("Running")
    }

    pub fn is_terminating(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }

    pub fn is_scheduled(&self) -> bool {
        self.spec
            .node_name
            .as_deref()
            .is_some_and(|n| !n.is_empty())
    }
}

/// What the server says about one pod's startup, in Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTimes {
    pub created: Option<f64>,
    pub scheduled: Option<f64>,
    pub run: Option<f64>,
}

/// Extracts the server-side timestamps of a pod.
pub fn server_times(pod: &PodLite) -> ServerTimes {
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_nanosecond() as f64 / 1e9);
    let scheduled = pod
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "True")
        .and_then(|c| c.last_transition_time.as_deref())
        .and_then(stats::parse_rfc3339);
    // The pod runs once its last container does.
    let run = pod
        .status
        .container_statuses
        .iter()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_deref())
        .filter_map(stats::parse_rfc3339)
        .fold(None, |acc: Option<f64>, t| {
            Some(acc.map_or(t, |a| a.max(t)))
        });
    ServerTimes {
        created,
        scheduled,
        run,
    }
}

/// All four times of one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodTimes {
    pub key: String,
    pub created: Option<f64>,
    pub scheduled: Option<f64>,
    pub run: Option<f64>,
    pub watch: Option<f64>,
    /// When our watch first saw the pod at all (for a watch-only,
    /// sub-second view of startup; not part of the CL2 transitions).
    pub first_seen: Option<f64>,
}

impl PodTimes {
    /// Merges a newer observation of the pod: each time is kept from the
    /// first observation that had it (a pod never un-runs), except `run`,
    /// which follows the latest container start while the pod is not yet
    /// seen Running. `scheduled_event` is the `Scheduled` event's time if
    /// known; `now` is the local receive time of this observation.
    pub fn observe(&mut self, pod: &PodLite, scheduled_event: Option<f64>, now: f64) {
        let t = server_times(pod);
        if self.key.is_empty() {
            self.key = pod.key();
        }
        self.first_seen.get_or_insert(now);
        if self.created.is_none() {
            self.created = t.created;
        }
        if self.scheduled.is_none() {
            self.scheduled = t.scheduled.or(if pod.is_scheduled() {
                scheduled_event
            } else {
                None
            });
        }
        if self.watch.is_none() {
            if t.run.is_some() {
                self.run = t.run;
            }
            if pod.is_running() {
                self.watch = Some(now);
            }
        }
    }

    fn phase(&self, p: Phase) -> Option<f64> {
        match p {
            Phase::Create => self.created,
            Phase::Schedule => self.scheduled,
            Phase::Run => self.run,
            Phase::Watch => self.watch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Create,
    Schedule,
    Run,
    Watch,
}

/// ClusterLoader2's transitions, in its order; `pod_startup` is the SLI.
pub const TRANSITIONS: [(&str, Phase, Phase); 5] = [
    ("create_to_schedule", Phase::Create, Phase::Schedule),
    ("schedule_to_run", Phase::Schedule, Phase::Run),
    ("run_to_watch", Phase::Run, Phase::Watch),
    ("schedule_to_watch", Phase::Schedule, Phase::Watch),
    ("pod_startup", Phase::Create, Phase::Watch),
];

/// The latency distribution of one transition, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionLatency {
    pub metric: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl TransitionLatency {
    fn from_percentiles(metric: &str, p: Percentiles) -> TransitionLatency {
        TransitionLatency {
            metric: metric.to_string(),
            count: p.count,
            p50_ms: p.p50,
            p90_ms: p.p90,
            p99_ms: p.p99,
            max_ms: p.max,
        }
    }
}

/// Per-transition percentiles over the pods that have both ends of it.
/// Negative differences (clock skew between the server and us, or
/// one-second truncation of server times) count as 0.
pub fn transition_latencies(pods: &[PodTimes]) -> Vec<TransitionLatency> {
    TRANSITIONS
        .iter()
        .filter_map(|(name, from, to)| {
            let samples: Vec<f64> = pods
                .iter()
                .filter_map(|p| Some(((p.phase(*to)? - p.phase(*from)?) * 1000.0).max(0.0)))
                .collect();
            stats::percentiles(&samples).map(|pc| TransitionLatency::from_percentiles(name, pc))
        })
        .collect()
}

/// first_seen → watch: startup as seen by the watch alone (sub-second).
pub fn watch_only_startup(pods: &[PodTimes]) -> Option<TransitionLatency> {
    let samples: Vec<f64> = pods
        .iter()
        .filter_map(|p| Some(((p.watch? - p.first_seen?) * 1000.0).max(0.0)))
        .collect();
    stats::percentiles(&samples)
        .map(|pc| TransitionLatency::from_percentiles("watch_create_to_watch_run", pc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> PodLite {
        serde_json::from_value(v).unwrap()
    }

    fn full_pod() -> PodLite {
        pod(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z",
                          "labels": {"group": "latency"}},
            "spec": {"nodeName": "hollow-1", "containers": [{"name": "a", "image": "pause"}]},
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-01-01T00:00:01Z"},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:02Z"},
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:06Z"}
                ],
                "containerStatuses": [
                    {"name": "a", "state": {"running": {"startedAt": "2026-01-01T00:00:04Z"}}},
                    {"name": "b", "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}},
                    {"name": "c", "state": {"waiting": {"reason": "x"}}}
                ]
            }
        }))
    }

    const T0: f64 = 1_767_225_600.0; // 2026-01-01T00:00:00Z

    #[test]
    fn extracts_server_times_from_pod_json() {
        let p = full_pod();
        assert_eq!(p.key(), "ns/p");
        assert_eq!(p.label("group"), Some("latency"));
        assert!(p.is_running() && p.is_scheduled() && !p.is_terminating());
        let t = server_times(&p);
        assert_eq!(t.created, Some(T0));
        assert_eq!(t.scheduled, Some(T0 + 2.0));
        assert_eq!(t.run, Some(T0 + 5.0), "the latest container start");
        let pending = pod(
            json!({"metadata": {"name": "q", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "lastTransitionTime": "2026-01-01T00:00:03Z"}]}}),
        );
        let t = server_times(&pending);
        assert_eq!((t.created, t.scheduled, t.run), (Some(T0), None, None));
        assert_eq!(server_times(&pod(json!({}))), ServerTimes::default());
    }

    #[test]
    fn observe_keeps_first_times_and_uses_the_event_fallback() {
        let mut times = PodTimes::default();
        let pending = pod(
            json!({"metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}}),
        );
        times.observe(&pending, Some(T0 + 1.0), T0 + 0.5);
        assert_eq!(times.first_seen, Some(T0 + 0.5));
        assert_eq!(
            times.scheduled,
            Some(T0 + 1.0),
            "no condition: the Scheduled event"
        );
        assert_eq!(times.watch, None);
        times.observe(&full_pod(), None, T0 + 6.5);
        assert_eq!(times.scheduled, Some(T0 + 1.0), "first observation wins");
        assert_eq!(times.run, Some(T0 + 5.0));
        assert_eq!(times.watch, Some(T0 + 6.5));
        // A later update after Running changes nothing.
        times.observe(&full_pod(), None, T0 + 9.0);
        assert_eq!(times.watch, Some(T0 + 6.5));
        assert_eq!(times.first_seen, Some(T0 + 0.5));
        // An unscheduled pod ignores the event time.
        let mut t2 = PodTimes::default();
        t2.observe(&pod(json!({"metadata": {"name": "x"}})), Some(T0), T0);
        assert_eq!(t2.scheduled, None);
    }

    #[test]
    fn transitions_per_pod() {
        let pods: Vec<PodTimes> = (0..10)
            .map(|i| {
                let i = i as f64;
                PodTimes {
                    key: format!("ns/p{i}"),
                    created: Some(T0),
                    scheduled: Some(T0 + 1.0),
                    run: Some(T0 + 2.0 + i),
                    watch: Some(T0 + 2.5 + i),
                    first_seen: Some(T0 + 0.2),
                }
            })
            .collect();
        let mut with_missing = pods.clone();
        with_missing.push(PodTimes {
            key: "ns/never".into(),
            created: Some(T0),
            ..Default::default()
        });
        let l = transition_latencies(&with_missing);
        let names: Vec<&str> = l.iter().map(|t| t.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "create_to_schedule",
                "schedule_to_run",
                "run_to_watch",
                "schedule_to_watch",
                "pod_startup"
            ]
        );
        let by = |n: &str| l.iter().find(|t| t.metric == n).unwrap().clone();
        assert_eq!(
            by("create_to_schedule").count,
            10,
            "the unscheduled pod has no schedule time"
        );
        assert_eq!(by("create_to_schedule").p99_ms, 1000.0);
        let sr = by("schedule_to_run");
        assert_eq!(
            (sr.p50_ms, sr.p90_ms, sr.p99_ms, sr.max_ms),
            (5000.0, 9000.0, 10000.0, 10000.0)
        );
        assert_eq!(by("run_to_watch").p99_ms, 500.0);
        let ps = by("pod_startup");
        assert_eq!(
            (ps.p50_ms, ps.p90_ms, ps.p99_ms),
            (6500.0, 10500.0, 11500.0)
        );
        let w = watch_only_startup(&pods).unwrap();
        assert!((w.p50_ms - 6300.0).abs() < 1e-3);
        // Skew: watch before the truncated run time counts as zero.
        let skew = [PodTimes {
            run: Some(T0 + 3.0),
            watch: Some(T0 + 2.9),
            ..Default::default()
        }];
        assert_eq!(transition_latencies(&skew)[0].p99_ms, 0.0);
        assert!(transition_latencies(&[]).is_empty());
    }
}
