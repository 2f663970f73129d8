//! The scheduler's whole in-memory state and its reactions to informer
//! events and scheduling outcomes. Pure: the async driver feeds it watch
//! events and carries out the API calls its decisions ask for.

use crate::algorithm::{Algorithm, Rng, ScheduleResult, NO_NODES_AVAILABLE};
use crate::cache::{Cache, NodeChange};
use crate::filter::pre_check_for_node;
use crate::model::{ConditionView, NodeView, PodInfo};
use crate::queue::{ClusterEvent, QueuedPod, SchedulingQueue};
use crate::SchedulerConfig;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// Condition reason for pods that fit nowhere.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// Condition reason for internal errors (e.g. a rejected binding).
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";

/// What one scheduling cycle decided.
#[derive(Debug)]
pub enum Decision {
    /// Bind `pod` to `node`; the pod is already assumed in the cache.
    Bind {
        pod: QueuedPod,
        node: String,
        started: Instant,
    },
    /// The pod fits nowhere; it is back in the queue. `update_condition`
    /// is false when its PodScheduled condition already says this.
    Unschedulable {
        pod: Arc<PodInfo>,
        message: String,
        update_condition: bool,
        started: Instant,
    },
    /// The popped pod no longer needs scheduling (deleted, bound, assumed).
    Skip,
}

/// Whether setting PodScheduled=False/`reason`/`message` changes anything.
pub fn condition_needs_update(
    current: Option<&ConditionView>,
    reason: &str,
    message: &str,
) -> bool {
    current.is_none_or(|c| c.status != "False" || c.reason != reason || c.message != message)
}

/// Cache, queue and algorithm together.
#[derive(Debug)]
pub struct State {
    pub scheduler_name: String,
    pub cache: Cache,
    pub queue: SchedulingQueue,
    pub algorithm: Algorithm,
    /// Unassigned pods this scheduler is responsible for, latest version.
    pending: HashMap<String, Arc<PodInfo>>,
    nodes_synced: bool,
    pods_synced: bool,
    node_relist: Option<HashSet<String>>,
    pod_relist: Option<HashSet<String>>,
}

impl State {
    pub fn new(cfg: &SchedulerConfig, rng: Rng) -> State {
        State {
            scheduler_name: cfg.scheduler_name.clone(),
            cache: Cache::new(),
            queue: SchedulingQueue::new(cfg.pod_initial_backoff, cfg.pod_max_backoff),
            algorithm: Algorithm::new(cfg.percentage_of_nodes_to_score, rng),
            pending: HashMap::new(),
            nodes_synced: false,
            pods_synced: false,
            node_relist: None,
            pod_relist: None,
        }
    }

    /// Both informers finished their initial list (scheduling may start).
    pub fn synced(&self) -> bool {
        self.nodes_synced && self.pods_synced
    }

    pub fn pending(&self, key: &str) -> Option<&Arc<PodInfo>> {
        self.pending.get(key)
    }

    pub fn num_pending(&self) -> usize {
        self.pending.len()
    }

    // ---- nodes ----

    pub fn node_relist_started(&mut self) {
        self.node_relist = Some(HashSet::new());
    }

    pub fn node_applied(&mut self, node: &Node, now: Instant) {
        let view = NodeView::from_node(node);
        let name = view.name.clone();
        if let Some(seen) = self.node_relist.as_mut() {
            seen.insert(name.clone());
        }
        let event = match self.cache.upsert_node(view) {
            NodeChange::Added => ClusterEvent::NodeAdd,
            NodeChange::Updated { relevant: true } => ClusterEvent::NodeUpdate,
            NodeChange::Updated { relevant: false } => return,
        };
        let ni = self.cache.node(&name);
        self.queue.move_all_to_active_or_backoff(
            event,
            |p| ni.is_some_and(|ni| pre_check_for_node(p, ni)),
            now,
        );
    }

    pub fn node_deleted(&mut self, name: &str) {
        self.cache.remove_node(name);
    }

    /// The relist finished: nodes it did not return are gone.
    pub fn node_relist_done(&mut self) {
        if let Some(seen) = self.node_relist.take() {
            for name in self.cache.node_names() {
                if !seen.contains(&name) {
                    self.cache.remove_node(&name);
                }
            }
        }
        self.nodes_synced = true;
    }

    // ---- pods ----

    pub fn pod_relist_started(&mut self) {
        self.pod_relist = Some(HashSet::new());
    }

    pub fn pod_applied(&mut self, pod: &Pod, now: Instant) {
        let info = Arc::new(PodInfo::from_pod(pod));
        if let Some(seen) = self.pod_relist.as_mut() {
            seen.insert(info.key.clone());
        }
        if info.terminal {
            self.pod_gone(&info.key, now);
            return;
        }
        let key = info.key.clone();
        if info.is_assigned() {
            self.pending.remove(&key);
            self.queue.delete(&key);
            self.cache.add_pod(info);
        } else if info.scheduler_name == self.scheduler_name && !info.deleting {
            self.pending.insert(key.clone(), info.clone());
            // A pod being bound shows up unassigned until the binding lands.
            if !self.cache.is_assumed(&key) {
                self.queue.add_or_update(info, now);
            }
        } else {
            self.pending.remove(&key);
            self.queue.delete(&key);
        }
    }

    pub fn pod_deleted(&mut self, pod: &Pod, now: Instant) {
        let info = PodInfo::from_pod(pod);
        self.pod_gone(&info.key, now);
    }

    fn pod_gone(&mut self, key: &str, now: Instant) {
        self.pending.remove(key);
        self.queue.delete(key);
        if self.cache.remove_pod(key) {
            self.queue.move_all_to_active_or_backoff(
                ClusterEvent::AssignedPodDelete,
                |_| true,
                now,
            );
        }
    }

    /// The relist finished: pods it did not return are gone (assumed pods
    /// stay until their binding resolves).
    pub fn pod_relist_done(&mut self, now: Instant) {
        if let Some(seen) = self.pod_relist.take() {
            let mut gone: Vec<String> = self
                .pending
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect();
            gone.extend(
                self.cache
                    .pod_keys()
                    .into_iter()
                    .filter(|k| !seen.contains(k) && !self.cache.is_assumed(k)),
            );
            for key in gone {
                self.pod_gone(&key, now);
            }
        }
        self.pods_synced = true;
    }

    // ---- scheduling ----

    /// Pops the next pod and runs one scheduling cycle; `None` when the
    /// active queue is empty.
    pub fn schedule_one(&mut self, now: Instant) -> Option<Decision> {
        let (mut qp, cycle) = self.queue.pop()?;
        let started = Instant::now();
        let key = qp.info.key.clone();
        let Some(latest) = self.pending.get(&key).cloned() else {
            return Some(Decision::Skip);
        };
        if latest.deleting || self.cache.is_assumed(&key) {
            return Some(Decision::Skip);
        }
        qp.info = latest.clone();
        let message = match self.algorithm.schedule(&self.cache, &latest) {
            ScheduleResult::Scheduled { node, .. } => {
                if self.cache.assume_pod(latest, &node).is_err() {
                    return Some(Decision::Skip);
                }
                return Some(Decision::Bind {
                    pod: qp,
                    node,
                    started,
                });
            }
            ScheduleResult::Unschedulable(fit) => {
                qp.unschedulable_plugins = fit.plugins;
                fit.to_string()
            }
            ScheduleResult::NoNodesAvailable => NO_NODES_AVAILABLE.to_string(),
        };
        let update_condition = condition_needs_update(
            latest.scheduled_condition.as_ref(),
            REASON_UNSCHEDULABLE,
            &message,
        );
        self.queue.add_unschedulable_if_not_present(qp, cycle, now);
        Some(Decision::Unschedulable {
            pod: latest,
            message,
            update_condition,
            started,
        })
    }

    /// The binding call succeeded.
    pub fn bind_succeeded(&mut self, key: &str, now: Instant) {
        self.cache.finish_binding(key, now);
    }

    /// The binding call failed: forget the assumption and requeue the pod
    /// if it still waits for a node. Returns the pod to report on.
    pub fn bind_failed(&mut self, mut pod: QueuedPod, now: Instant) -> Option<Arc<PodInfo>> {
        self.cache.forget_pod(&pod.info.key);
        let latest = self.pending.get(&pod.info.key).cloned()?;
        pod.info = latest.clone();
        let cycle = self.queue.scheduling_cycle();
        self.queue.add_unschedulable_if_not_present(pod, cycle, now);
        Some(latest)
    }

    /// Periodic work: backoff and leftover flushes, assumed-pod expiry.
    pub fn tick(&mut self, now: Instant) {
        self.queue.flush_backoff_completed(now);
        self.queue.flush_unschedulable_leftover(now);
        for key in self.cache.cleanup_expired(now) {
            tracing::warn!(pod = %key, "assumed pod expired before the informer saw its binding");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn new_state() -> State {
        let mut s = State::new(&SchedulerConfig::default(), Rng::new(5));
        s.node_relist_started();
        s.node_relist_done();
        s.pod_relist_started();
        s.pod_relist_done(Instant::now());
        s
    }

    fn k8s_node(v: Value) -> Node {
        serde_json::from_value(v).expect("node")
    }

    fn k8s_pod(v: Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    /// Runs cycles until the queue is empty; binds succeed.
    fn drain(s: &mut State, now: Instant) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        while let Some(d) = s.schedule_one(now) {
            match d {
                Decision::Bind { pod, node, .. } => {
                    s.bind_succeeded(&pod.info.key, now);
                    out.push((pod.info.name.clone(), Ok(node)));
                }
                Decision::Unschedulable { pod, message, .. } => {
                    out.push((pod.name.clone(), Err(message)))
                }
                Decision::Skip => {}
            }
        }
        out
    }

    #[test]
    fn waits_for_both_informers() {
        let mut s = State::new(&SchedulerConfig::default(), Rng::new(1));
        assert!(!s.synced());
        s.node_relist_started();
        s.node_relist_done();
        assert!(!s.synced());
        s.pod_relist_started();
        s.pod_relist_done(Instant::now());
        assert!(s.synced());
    }

    #[test]
    fn schedules_respecting_capacity_and_retries_when_a_node_arrives() {
        let mut s = new_state();
        let now = Instant::now();
        s.node_applied(&k8s_node(node_json("n1", "2", "4Gi", "110")), now);
        for i in 0..3 {
            s.pod_applied(&k8s_pod(pod_json(&format!("p{i}"), "1", "1Gi")), now);
        }
        let got = drain(&mut s, now);
        let bound: Vec<&str> = got
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(bound, vec!["p0", "p1"]);
        assert_eq!(
            got[2],
            (
                "p2".to_string(),
                Err("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No victims found on node n1 for preemptor pod p2.".to_string())
            )
        );
        assert_eq!(s.queue.len_by_queue(), (0, 0, 1));
        // A node too small does not move it; a fitting one does.
        s.node_applied(&k8s_node(node_json("tiny", "500m", "4Gi", "110")), now);
        assert_eq!(s.queue.len_by_queue(), (0, 0, 1));
        s.node_applied(&k8s_node(node_json("n2", "2", "4Gi", "110")), now);
        assert_eq!(
            s.queue.len_by_queue(),
            (0, 1, 0),
            "still within its 1s backoff"
        );
        s.tick(now + Duration::from_secs(1));
        assert_eq!(
            drain(&mut s, now + Duration::from_secs(1)),
            vec![("p2".to_string(), Ok("n2".to_string()))]
        );
    }

    #[test]
    fn informer_confirms_assumed_pods_and_deletes_free_capacity() {
        let mut s = new_state();
        let now = Instant::now();
        s.node_applied(&k8s_node(node_json("n1", "1", "4Gi", "110")), now);
        s.pod_applied(&k8s_pod(pod_json("a", "1", "")), now);
        let Some(Decision::Bind { pod, node, .. }) = s.schedule_one(now) else {
            panic!("bind expected")
        };
        assert_eq!(node, "n1");
        // The stale unassigned version seen meanwhile does not requeue it.
        s.pod_applied(&k8s_pod(pod_json("a", "1", "")), now);
        assert!(!s.queue.contains("default/a"));
        s.bind_succeeded(&pod.info.key, now);
        let bound = k8s_pod(merge(
            pod_json("a", "1", ""),
            json!({"spec": {"nodeName": "n1"}}),
        ));
        s.pod_applied(&bound, now);
        assert!(!s.cache.is_assumed("default/a"));
        assert!(s.pending("default/a").is_none());
        // b does not fit until a is deleted.
        s.pod_applied(&k8s_pod(pod_json("b", "1", "")), now);
        assert!(matches!(
            s.schedule_one(now),
            Some(Decision::Unschedulable {
                update_condition: true,
                ..
            })
        ));
        s.pod_deleted(&bound, now);
        assert_eq!(s.queue.len_by_queue(), (0, 1, 0));
        let later = now + Duration::from_secs(2);
        s.tick(later);
        assert!(matches!(s.schedule_one(later), Some(Decision::Bind { .. })));
    }

    #[test]
    fn failed_binds_are_forgotten_and_requeued() {
        let mut s = new_state();
        let now = Instant::now();
        s.node_applied(&k8s_node(node_json("n1", "1", "4Gi", "110")), now);
        s.pod_applied(&k8s_pod(pod_json("a", "1", "")), now);
        let Some(Decision::Bind { pod, .. }) = s.schedule_one(now) else {
            panic!("bind expected")
        };
        assert_eq!(
            s.cache.node("n1").map(|n| n.requested.milli_cpu),
            Some(1000)
        );
        assert!(s.bind_failed(pod, now).is_some());
        assert_eq!(s.cache.node("n1").map(|n| n.requested.milli_cpu), Some(0));
        assert_eq!(s.queue.len(), 1);
        // A pod deleted while its bind was in flight is not requeued.
        let later = now + Duration::from_secs(60 * 2);
        s.tick(later);
        let Some(Decision::Bind { pod, .. }) = s.schedule_one(later) else {
            panic!("bind expected")
        };
        s.pod_deleted(&k8s_pod(pod_json("a", "1", "")), later);
        assert!(s.bind_failed(pod, later).is_none());
        assert!(s.queue.is_empty());
    }

    #[test]
    fn unchanged_condition_is_not_rewritten() {
        let mut s = new_state();
        let now = Instant::now();
        s.node_applied(&k8s_node(node_json("n1", "1", "4Gi", "110")), now);
        let msg = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No victims found on node n1 for preemptor pod a.";
        let pod = merge(
            pod_json("a", "2", ""),
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}]}}),
        );
        s.pod_applied(&k8s_pod(pod), now);
        match s.schedule_one(now) {
            Some(Decision::Unschedulable {
                message,
                update_condition,
                ..
            }) => {
                assert_eq!(message, msg);
                assert!(!update_condition);
            }
            other => panic!("{other:?}"),
        }
        let cases = [
            (None, true),
            (Some(("False", "Unschedulable", msg)), false),
            (Some(("False", "Unschedulable", "other")), true),
            (Some(("True", "", "")), true),
            (Some(("False", "SchedulerError", msg)), true),
        ];
        for (cur, want) in cases {
            let cv = cur.map(|(s, r, m)| ConditionView {
                status: s.into(),
                reason: r.into(),
                message: m.into(),
            });
            assert_eq!(
                condition_needs_update(cv.as_ref(), REASON_UNSCHEDULABLE, msg),
                want,
                "{cur:?}"
            );
        }
    }

    #[test]
    fn no_nodes_and_foreign_pods() {
        let mut s = new_state();
        let now = Instant::now();
        s.pod_applied(
            &k8s_pod(merge(
                pod_json("other", "", ""),
                json!({"spec": {"schedulerName": "my-scheduler"}}),
            )),
            now,
        );
        s.pod_applied(&k8s_pod(pod_json("mine", "", "")), now);
        assert_eq!(s.queue.len(), 1);
        match s.schedule_one(now) {
            Some(Decision::Unschedulable { message, .. }) => {
                assert_eq!(message, NO_NODES_AVAILABLE)
            }
            other => panic!("{other:?}"),
        }
        // Deleting pods are skipped; terminal pods are dropped.
        s.pod_applied(
            &k8s_pod(merge(
                pod_json("mine", "", ""),
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            )),
            now,
        );
        assert!(s.queue.is_empty());
        s.pod_applied(
            &k8s_pod(merge(
                pod_json("done", "", ""),
                json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}}),
            )),
            now,
        );
        assert_eq!(s.cache.num_pods(), 0);
    }

    #[test]
    fn relists_remove_what_disappeared() {
        let mut s = new_state();
        let now = Instant::now();
        s.node_applied(&k8s_node(node_json("n1", "4", "4Gi", "110")), now);
        s.node_applied(&k8s_node(node_json("n2", "4", "4Gi", "110")), now);
        s.pod_applied(
            &k8s_pod(merge(
                pod_json("bound", "1", ""),
                json!({"spec": {"nodeName": "n1"}}),
            )),
            now,
        );
        s.pod_applied(&k8s_pod(pod_json("pending", "1", "")), now);
        s.pod_applied(&k8s_pod(pod_json("kept", "1", "")), now);
        s.node_relist_started();
        s.node_applied(&k8s_node(node_json("n1", "4", "4Gi", "110")), now);
        s.node_relist_done();
        assert_eq!(s.cache.node_names(), vec!["n1".to_string()]);
        s.pod_relist_started();
        s.pod_applied(&k8s_pod(pod_json("kept", "1", "")), now);
        s.pod_relist_done(now);
        assert_eq!(s.cache.num_pods(), 0);
        assert!(s.pending("default/pending").is_none());
        assert_eq!(s.queue.len(), 1);
    }
}
