//! The scheduling queue (`PriorityQueue`): an active heap ordered by
//! priority then enqueue time, a backoff heap (1s doubling to 10s per
//! attempt) and a map of unschedulable pods that cluster events move back.
//!
//! Heaps use lazy deletion: each pod has a generation and heap entries
//! whose generation no longer matches are skipped.

use crate::filter::{Plugin, PluginSet};
use crate::model::PodInfo;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DEFAULT_POD_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const DEFAULT_POD_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often (`unschedulableQTimeInterval`).
pub const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Configured backoffs are capped at a day.
const MAX_BACKOFF_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// A pod waiting in (or popped from) the queue.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    /// When it was last added to the queue.
    pub timestamp: Instant,
    /// When it was first added (for `pod_scheduling_duration_seconds`).
    pub initial_attempt: Instant,
    /// Scheduling attempts so far (incremented by `pop`).
    pub attempts: u32,
    /// Plugins that rejected it in its last attempt.
    pub unschedulable_plugins: PluginSet,
}

impl QueuedPod {
    pub fn new(info: Arc<PodInfo>, now: Instant) -> QueuedPod {
        QueuedPod {
            info,
            timestamp: now,
            initial_attempt: now,
            attempts: 0,
            unschedulable_plugins: PluginSet::default(),
        }
    }
}

/// Cluster changes that can make unschedulable pods schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdd,
    /// A scheduling-relevant node change (not a heartbeat).
    NodeUpdate,
    AssignedPodDelete,
    /// Waited in the unschedulable map too long.
    UnschedulableTimeout,
}

/// `EventsToRegister` of each filter plugin.
fn plugin_cares(plugin: Plugin, event: ClusterEvent) -> bool {
    use ClusterEvent::*;
    match plugin {
        Plugin::NodeUnschedulable | Plugin::TaintToleration | Plugin::NodeAffinity => {
            matches!(event, NodeAdd | NodeUpdate)
        }
        Plugin::NodePorts => matches!(event, NodeAdd | AssignedPodDelete),
        Plugin::NodeResourcesFit => matches!(event, NodeAdd | NodeUpdate | AssignedPodDelete),
    }
}

fn pod_matches_event(plugins: PluginSet, event: ClusterEvent) -> bool {
    event == ClusterEvent::UnschedulableTimeout
        || plugins.is_empty()
        || plugins.iter().any(|p| plugin_cares(p, event))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Active,
    Backoff,
    Unschedulable,
}

#[derive(Debug)]
struct Slot {
    pod: QueuedPod,
    loc: Location,
    gen: u64,
}

#[derive(Debug, PartialEq, Eq)]
struct ActiveEntry {
    priority: i32,
    timestamp: Instant,
    gen: u64,
    key: String,
}

impl Ord for ActiveEntry {
    /// Greater pops first: higher priority, then earlier timestamp, then
    /// earlier insertion.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.gen.cmp(&self.gen))
    }
}

impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Pending pods by state.
#[derive(Debug)]
pub struct SchedulingQueue {
    slots: HashMap<String, Slot>,
    active: BinaryHeap<ActiveEntry>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    counts: [usize; 3],
    gen: u64,
    scheduling_cycle: u64,
    move_request_cycle: Option<u64>,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub unschedulable_timeout: Duration,
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        SchedulingQueue::new(DEFAULT_POD_INITIAL_BACKOFF, DEFAULT_POD_MAX_BACKOFF)
    }
}

fn loc_index(l: Location) -> usize {
    match l {
        Location::Active => 0,
        Location::Backoff => 1,
        Location::Unschedulable => 2,
    }
}

impl SchedulingQueue {
    pub fn new(initial_backoff: Duration, max_backoff: Duration) -> SchedulingQueue {
        SchedulingQueue {
            slots: HashMap::new(),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            counts: [0; 3],
            gen: 0,
            scheduling_cycle: 0,
            move_request_cycle: None,
            initial_backoff,
            max_backoff,
            unschedulable_timeout: UNSCHEDULABLE_TIMEOUT,
        }
    }

    /// (active, backoff, unschedulable) sizes.
    pub fn len_by_queue(&self) -> (usize, usize, usize) {
        (self.counts[0], self.counts[1], self.counts[2])
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn has_active(&self) -> bool {
        self.counts[0] > 0
    }

    pub fn contains(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// Incremented by each pop.
    pub fn scheduling_cycle(&self) -> u64 {
        self.scheduling_cycle
    }

    pub fn get(&self, key: &str) -> Option<&QueuedPod> {
        self.slots.get(key).map(|s| &s.pod)
    }

    /// `calculateBackoffDuration`: initial doubled per attempt after the first, capped.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        // Bounded so that adding it to an Instant cannot overflow.
        let max = self.max_backoff.min(MAX_BACKOFF_LIMIT);
        let mut d = self.initial_backoff.min(max);
        for _ in 1..attempts {
            if d > max.saturating_sub(d) {
                return max;
            }
            d += d;
        }
        d
    }

    fn backoff_expiry(&self, pod: &QueuedPod) -> Instant {
        pod.timestamp + self.backoff_duration(pod.attempts)
    }

    fn place(&mut self, key: String, pod: QueuedPod, loc: Location) {
        self.gen += 1;
        let gen = self.gen;
        match loc {
            Location::Active => self.active.push(ActiveEntry {
                priority: pod.info.spec.priority,
                timestamp: pod.timestamp,
                gen,
                key: key.clone(),
            }),
            Location::Backoff => {
                self.backoff
                    .push(Reverse((self.backoff_expiry(&pod), gen, key.clone())))
            }
            Location::Unschedulable => {}
        }
        self.counts[loc_index(loc)] += 1;
        if let Some(old) = self.slots.insert(key, Slot { pod, loc, gen }) {
            self.counts[loc_index(old.loc)] -= 1;
        }
    }

    /// A new or updated pending pod from the informer (`Add` / `Update`).
    /// Updated pods keep their place; an unschedulable pod whose scheduling
    /// spec changed is moved to the active (or backoff) queue.
    pub fn add_or_update(&mut self, info: Arc<PodInfo>, now: Instant) {
        let key = info.key.clone();
        let Some(slot) = self.slots.get_mut(&key) else {
            self.place(key, QueuedPod::new(info, now), Location::Active);
            return;
        };
        match slot.loc {
            Location::Active if slot.pod.info.spec.priority != info.spec.priority => {
                let mut pod = slot.pod.clone();
                pod.info = info;
                self.place(key, pod, Location::Active);
            }
            Location::Active | Location::Backoff => slot.pod.info = info,
            Location::Unschedulable => {
                let changed = slot.pod.info.spec != info.spec;
                slot.pod.info = info;
                if changed {
                    let pod = slot.pod.clone();
                    let loc = if self.backoff_expiry(&pod) > now {
                        Location::Backoff
                    } else {
                        Location::Active
                    };
                    self.place(key, pod, loc);
                }
            }
        }
    }

    /// The pod was deleted, bound elsewhere or is no longer ours.
    pub fn delete(&mut self, key: &str) -> bool {
        match self.slots.remove(key) {
            Some(slot) => {
                self.counts[loc_index(slot.loc)] -= 1;
                true
            }
            None => false,
        }
    }

    /// The next pod to schedule and the scheduling cycle it starts.
    pub fn pop(&mut self) -> Option<(QueuedPod, u64)> {
        while let Some(entry) = self.active.pop() {
            let valid = self
                .slots
                .get(&entry.key)
                .is_some_and(|s| s.gen == entry.gen && s.loc == Location::Active);
            if !valid {
                continue;
            }
            let slot = self.slots.remove(&entry.key)?;
            self.counts[0] -= 1;
            let mut pod = slot.pod;
            pod.attempts += 1;
            self.scheduling_cycle += 1;
            return Some((pod, self.scheduling_cycle));
        }
        None
    }

    /// `AddUnschedulableIfNotPresent`: a pod that failed in cycle
    /// `pod_cycle` goes to backoff if a move request came in since that cycle
    /// began, else to the unschedulable map. False if already queued again.
    pub fn add_unschedulable_if_not_present(
        &mut self,
        mut pod: QueuedPod,
        pod_cycle: u64,
        now: Instant,
    ) -> bool {
        if self.slots.contains_key(&pod.info.key) {
            return false;
        }
        pod.timestamp = now;
        let loc = match self.move_request_cycle {
            Some(m) if m >= pod_cycle => Location::Backoff,
            _ => Location::Unschedulable,
        };
        self.place(pod.info.key.clone(), pod, loc);
        true
    }

    /// `MoveAllToActiveOrBackoffQueue`: unschedulable pods the event may
    /// help (and that pass `pre_check`) go to backoff while backing off,
    /// else to active. Returns how many moved.
    pub fn move_all_to_active_or_backoff(
        &mut self,
        event: ClusterEvent,
        pre_check: impl Fn(&PodInfo) -> bool,
        now: Instant,
    ) -> usize {
        let keys: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.loc == Location::Unschedulable)
            .filter(|(_, s)| {
                pod_matches_event(s.pod.unschedulable_plugins, event) && pre_check(&s.pod.info)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let moved = self.move_to_active_or_backoff(keys, now);
        self.move_request_cycle = Some(self.scheduling_cycle);
        moved
    }

    fn move_to_active_or_backoff(&mut self, keys: Vec<String>, now: Instant) -> usize {
        let mut moved = 0;
        for key in keys {
            let Some(slot) = self.slots.get(&key) else {
                continue;
            };
            let pod = slot.pod.clone();
            let loc = if self.backoff_expiry(&pod) > now {
                Location::Backoff
            } else {
                Location::Active
            };
            self.place(key, pod, loc);
            moved += 1;
        }
        moved
    }

    /// Moves pods whose backoff expired to the active queue.
    pub fn flush_backoff_completed(&mut self, now: Instant) -> usize {
        let mut moved = 0;
        while let Some(Reverse((expiry, gen, key))) = self.backoff.peek() {
            let valid = self
                .slots
                .get(key)
                .is_some_and(|s| s.gen == *gen && s.loc == Location::Backoff);
            if valid && *expiry > now {
                break;
            }
            let key = key.clone();
            self.backoff.pop();
            if valid {
                if let Some(slot) = self.slots.get(&key) {
                    let pod = slot.pod.clone();
                    self.place(key, pod, Location::Active);
                    moved += 1;
                }
            }
        }
        moved
    }

    /// Moves pods that sat in the unschedulable map longer than the timeout.
    pub fn flush_unschedulable_leftover(&mut self, now: Instant) -> usize {
        let timeout = self.unschedulable_timeout;
        let keys: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| {
                s.loc == Location::Unschedulable
                    && now.saturating_duration_since(s.pod.timestamp) > timeout
            })
            .map(|(k, _)| k.clone())
            .collect();
        self.move_to_active_or_backoff(keys, now)
    }

    /// The earliest backoff expiry still pending.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.iter().map(|Reverse((t, _, _))| *t).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::json;

    fn info(name: &str, priority: i32) -> Arc<PodInfo> {
        Arc::new(pod_from(merge(
            pod_json(name, "1", ""),
            json!({"spec": {"priority": priority}}),
        )))
    }

    fn pop_names(q: &mut SchedulingQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop().map(|(p, _)| p.info.name.clone())).collect()
    }

    #[test]
    fn active_order_is_priority_then_time() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        let cases = [
            ("a", 0, 0),
            ("b", 10, 1),
            ("c", 0, 2),
            ("d", 10, 3),
            ("e", -1, 4),
            ("f", 0, 2),
        ];
        for (name, prio, offset) in cases {
            q.add_or_update(info(name, prio), t0 + Duration::from_millis(offset));
        }
        assert_eq!(q.len_by_queue(), (6, 0, 0));
        assert_eq!(pop_names(&mut q), vec!["b", "d", "a", "c", "f", "e"]);
        assert_eq!(q.scheduling_cycle(), 6);
        assert!(q.is_empty());
    }

    #[test]
    fn updates_keep_place_and_priority_changes_reorder() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.add_or_update(info("a", 0), t0);
        q.add_or_update(info("b", 0), t0 + Duration::from_millis(1));
        q.add_or_update(info("b", 5), t0 + Duration::from_millis(2));
        q.add_or_update(info("a", 0), t0 + Duration::from_millis(3));
        assert_eq!(q.len(), 2);
        assert_eq!(pop_names(&mut q), vec!["b", "a"]);
        q.add_or_update(info("c", 0), t0);
        assert!(q.delete("default/c"));
        assert!(!q.delete("default/c"));
        assert_eq!(q.pop().map(|(p, _)| p.info.name.clone()), None);
    }

    #[test]
    fn backoff_durations() {
        let q = SchedulingQueue::default();
        let cases = [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (30, 10)];
        for (attempts, secs) in cases {
            assert_eq!(
                q.backoff_duration(attempts),
                Duration::from_secs(secs),
                "{attempts}"
            );
        }
    }

    #[test]
    fn unschedulable_pods_move_on_matching_events() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        for name in ["fit", "taint", "ports", "unknown"] {
            q.add_or_update(info(name, 0), t0);
        }
        let mut popped = Vec::new();
        while let Some((mut p, cycle)) = q.pop() {
            let plugin = match p.info.name.as_str() {
                "fit" => Some(Plugin::NodeResourcesFit),
                "taint" => Some(Plugin::TaintToleration),
                "ports" => Some(Plugin::NodePorts),
                _ => None,
            };
            if let Some(pl) = plugin {
                p.unschedulable_plugins.insert(pl);
            }
            popped.push((p, cycle));
        }
        for (p, cycle) in popped {
            assert!(q.add_unschedulable_if_not_present(p, cycle, t0));
        }
        assert_eq!(q.len_by_queue(), (0, 0, 4));
        // (event, pods moved)
        let t = t0 + Duration::from_secs(5);
        assert_eq!(
            q.move_all_to_active_or_backoff(ClusterEvent::AssignedPodDelete, |_| true, t),
            3
        ); // fit, ports, unknown
        assert_eq!(q.len_by_queue(), (3, 0, 1));
        assert_eq!(
            q.move_all_to_active_or_backoff(ClusterEvent::NodeUpdate, |p| p.name != "taint", t),
            0
        );
        assert_eq!(
            q.move_all_to_active_or_backoff(ClusterEvent::NodeUpdate, |_| true, t),
            1
        );
        assert_eq!(q.len_by_queue(), (4, 0, 0));
    }

    #[test]
    fn recently_failed_pods_back_off_and_move_requests_skip_the_map() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.add_or_update(info("a", 0), t0);
        q.add_or_update(info("b", 0), t0);
        let (a, cycle_a) = q.pop().expect("a");
        let (b, cycle_b) = q.pop().expect("b");
        // A move request during b's cycle sends b straight to backoff.
        assert_eq!(
            q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd, |_| true, t0),
            0
        );
        assert!(q.add_unschedulable_if_not_present(a, cycle_a, t0));
        assert!(q.add_unschedulable_if_not_present(b, cycle_b, t0));
        assert_eq!(
            q.len_by_queue(),
            (0, 2, 0),
            "both cycles began before the move request"
        );
        assert_eq!(
            q.flush_backoff_completed(t0 + Duration::from_millis(999)),
            0
        );
        assert_eq!(q.next_backoff_expiry(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.flush_backoff_completed(t0 + Duration::from_secs(1)), 2);
        assert_eq!(q.len_by_queue(), (2, 0, 0));
        // A failure with no move request since goes to the map; an event
        // while still backing off moves it to backoff.
        let (a, cycle) = q.pop().expect("a again");
        assert_eq!(a.attempts, 2);
        let t1 = t0 + Duration::from_secs(2);
        assert!(q.add_unschedulable_if_not_present(a, cycle, t1));
        assert_eq!(q.len_by_queue(), (1, 0, 1));
        assert_eq!(
            q.move_all_to_active_or_backoff(
                ClusterEvent::NodeAdd,
                |_| true,
                t1 + Duration::from_secs(1)
            ),
            1
        );
        assert_eq!(q.len_by_queue(), (1, 1, 0));
        assert_eq!(q.flush_backoff_completed(t1 + Duration::from_secs(2)), 1);
        assert_eq!(q.len_by_queue(), (2, 0, 0));
        // Already queued pods are not added twice.
        let (x, c) = q.pop().expect("pop");
        q.add_or_update(x.info.clone(), t1);
        assert!(!q.add_unschedulable_if_not_present(x, c, t1));
    }

    #[test]
    fn leftover_unschedulable_pods_are_flushed_after_a_minute() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.add_or_update(info("a", 0), t0);
        let (a, c) = q.pop().expect("a");
        q.add_unschedulable_if_not_present(a, c, t0);
        assert_eq!(
            q.flush_unschedulable_leftover(t0 + Duration::from_secs(60)),
            0
        );
        assert_eq!(
            q.flush_unschedulable_leftover(t0 + Duration::from_secs(61)),
            1
        );
        assert_eq!(q.len_by_queue(), (1, 0, 0));
    }

    #[test]
    fn spec_updates_requeue_unschedulable_pods() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.add_or_update(info("a", 0), t0);
        let (a, c) = q.pop().expect("a");
        q.add_unschedulable_if_not_present(a, c, t0);
        // A status-only change (same spec) stays put.
        let mut same = (*info("a", 0)).clone();
        same.resource_version = "2".into();
        q.add_or_update(Arc::new(same), t0 + Duration::from_secs(5));
        assert_eq!(q.len_by_queue(), (0, 0, 1));
        // A spec change moves it (past its 1s backoff: to active).
        q.add_or_update(info("a", 3), t0 + Duration::from_secs(5));
        assert_eq!(q.len_by_queue(), (1, 0, 0));
        assert_eq!(q.get("default/a").map(|p| p.info.spec.priority), Some(3));
    }
}
