//! One scheduling cycle: find feasible nodes (sampling
//! `percentageOfNodesToScore` from a rotating start index), score them and
//! pick the best, ties broken by reservoir sampling; or explain why no node
//! fits, in the real `FitError` format including the preemption part.

use crate::cache::{Cache, NodeInfo};
use crate::filter::{self, Code, FilterFailure, PluginSet};
use crate::model::PodInfo;
use crate::score;
use std::collections::HashMap;
use std::fmt;

/// Below this many nodes every node is evaluated.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// `numFeasibleNodesToFind`: how many feasible nodes to look for before
/// scoring. `percentage` 0 means adaptive (50% - nodes/125, at least 5%).
pub fn num_feasible_nodes_to_find(num_all_nodes: usize, percentage: u32) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return num_all_nodes;
    }
    let mut adaptive = percentage as usize;
    if adaptive == 0 {
        adaptive = 50usize
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (num_all_nodes * adaptive / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// A small xorshift generator for tie breaking (no cryptographic needs).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng::new(nanos ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n.max(1) as u64) as usize
    }
}

/// Why a pod fits nowhere: `0/N nodes are available: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// Reason -> number of nodes, over all nodes.
    pub reasons: HashMap<String, usize>,
    /// The plugins that rejected the pod on some node.
    pub plugins: PluginSet,
    /// The preemption (PostFilter) message; empty when preemption would help.
    pub post_filter_msg: String,
}

/// `"<count> <reason>"` entries sorted as strings, like the real histogram.
fn histogram(reasons: &HashMap<String, usize>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    parts.join(", ")
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "0/{} nodes are available: {}.",
            self.num_all_nodes,
            histogram(&self.reasons)
        )?;
        if !self.post_filter_msg.is_empty() {
            write!(f, " {}", self.post_filter_msg)?;
        }
        Ok(())
    }
}

/// The message when the cluster has no nodes at all.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// The outcome of one scheduling cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleResult {
    Scheduled {
        node: String,
        /// Nodes the filters ran on.
        evaluated_nodes: usize,
        feasible_nodes: usize,
    },
    Unschedulable(FitError),
    NoNodesAvailable,
}

/// The scheduling algorithm's state between cycles.
#[derive(Debug, Clone)]
pub struct Algorithm {
    /// 0 = adaptive.
    pub percentage_of_nodes_to_score: u32,
    next_start_node_index: usize,
    rng: Rng,
    feasible: Vec<usize>,
    failures: Vec<(usize, FilterFailure)>,
    scores: Vec<i64>,
    extra: Vec<i64>,
}

impl Algorithm {
    pub fn new(percentage_of_nodes_to_score: u32, rng: Rng) -> Algorithm {
        Algorithm {
            percentage_of_nodes_to_score,
            next_start_node_index: 0,
            rng,
            feasible: Vec::new(),
            failures: Vec::new(),
            scores: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Filters, scores and selects a node for `pod` (does not assume it).
    pub fn schedule(&mut self, cache: &Cache, pod: &PodInfo) -> ScheduleResult {
        let nodes = cache.nodes();
        let num_all = cache.num_nodes();
        if num_all == 0 || nodes.is_empty() {
            return ScheduleResult::NoNodesAvailable;
        }
        let to_find = num_feasible_nodes_to_find(num_all, self.percentage_of_nodes_to_score);
        let len = nodes.len();
        let start = self.next_start_node_index % len;
        self.feasible.clear();
        self.failures.clear();
        let mut processed = 0;
        for i in 0..len {
            let mut idx = start + i;
            if idx >= len {
                idx -= len;
            }
            processed += 1;
            let ni = &nodes[idx];
            let Some(view) = &ni.node else { continue };
            match filter::run_filters(pod, ni, view) {
                Ok(()) => {
                    self.feasible.push(idx);
                    if self.feasible.len() >= to_find {
                        break;
                    }
                }
                Err(f) => self.failures.push((idx, f)),
            }
        }
        self.next_start_node_index = (start + processed) % len;

        match self.feasible.len() {
            0 => ScheduleResult::Unschedulable(self.fit_error(cache, pod, num_all)),
            1 => ScheduleResult::Scheduled {
                node: nodes[self.feasible[0]].name.clone(),
                evaluated_nodes: processed,
                feasible_nodes: 1,
            },
            n => {
                let best = self.select(nodes, pod);
                ScheduleResult::Scheduled {
                    node: nodes[best].name.clone(),
                    evaluated_nodes: processed,
                    feasible_nodes: n,
                }
            }
        }
    }

    /// Scores the feasible nodes and picks the highest (reservoir sampling
    /// among ties, as `selectHost`). Returns the node index.
    fn select(&mut self, nodes: &[NodeInfo], pod: &PodInfo) -> usize {
        self.scores.clear();
        let mut any_prefer_no_schedule = false;
        for &idx in &self.feasible {
            let ni = &nodes[idx];
            let Some(view) = &ni.node else {
                self.scores.push(0);
                continue;
            };
            any_prefer_no_schedule |= view.has_prefer_no_schedule;
            let s = score::LEAST_ALLOCATED_WEIGHT * score::least_allocated(pod, ni, view)
                + score::BALANCED_ALLOCATION_WEIGHT * score::balanced_allocation(pod, ni, view);
            self.scores.push(s);
        }
        // Normalized plugins are constant (and skipped) unless some node has a
        // PreferNoSchedule taint or the pod has preferred terms.
        if any_prefer_no_schedule {
            self.extra.clear();
            for &idx in &self.feasible {
                let v = nodes[idx]
                    .node
                    .as_ref()
                    .map(|v| score::intolerable_prefer_no_schedule(&pod.spec.tolerations, v))
                    .unwrap_or(0);
                self.extra.push(v);
            }
            score::default_normalize(&mut self.extra, true);
            for (s, e) in self.scores.iter_mut().zip(&self.extra) {
                *s += score::TAINT_TOLERATION_WEIGHT * e;
            }
        }
        if !pod.spec.preferred_affinity.is_empty() {
            self.extra.clear();
            for &idx in &self.feasible {
                let v = nodes[idx]
                    .node
                    .as_ref()
                    .map(|v| score::preferred_affinity(pod, v))
                    .unwrap_or(0);
                self.extra.push(v);
            }
            score::default_normalize(&mut self.extra, false);
            for (s, e) in self.scores.iter_mut().zip(&self.extra) {
                *s += score::NODE_AFFINITY_WEIGHT * e;
            }
        }
        let mut best = 0;
        let mut max = i64::MIN;
        let mut ties = 0;
        for (i, &s) in self.scores.iter().enumerate() {
            if s > max {
                max = s;
                best = i;
                ties = 1;
            } else if s == max {
                ties += 1;
                if self.rng.below(ties) == 0 {
                    best = i;
                }
            }
        }
        self.feasible[best]
    }

    fn fit_error(&self, cache: &Cache, pod: &PodInfo, num_all: usize) -> FitError {
        let nodes = cache.nodes();
        let mut reasons: HashMap<String, usize> = HashMap::new();
        let mut plugins = PluginSet::default();
        for (idx, f) in &self.failures {
            plugins.insert(f.plugin());
            for r in f.reasons(pod, &nodes[*idx]) {
                *reasons.entry(r).or_default() += 1;
            }
        }
        let post_filter_msg = preemption_message(pod, nodes, &self.failures, num_all);
        FitError {
            num_all_nodes: num_all,
            reasons,
            plugins,
            post_filter_msg,
        }
    }
}

/// What DefaultPreemption's PostFilter would report. We never evict: when
/// removing lower-priority pods would make room somewhere, the real plugin
/// preempts and reports nothing, so the message is empty.
pub fn preemption_message(
    pod: &PodInfo,
    nodes: &[NodeInfo],
    failures: &[(usize, FilterFailure)],
    num_all: usize,
) -> String {
    if pod.spec.preempt_never {
        return "preemption: not eligible due to preemptionPolicy=Never.".to_string();
    }
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for (idx, f) in failures {
        let ni = &nodes[*idx];
        if f.code() == Code::UnschedulableAndUnresolvable {
            *reasons
                .entry("Preemption is not helpful for scheduling".to_string())
                .or_default() += 1;
            continue;
        }
        let victims: Vec<&str> = ni
            .pods
            .iter()
            .filter(|p| p.spec.priority < pod.spec.priority)
            .map(|p| p.key.as_str())
            .collect();
        if victims.is_empty() {
            let msg = format!(
                "No victims found on node {} for preemptor pod {}",
                ni.name, pod.name
            );
            *reasons.entry(msg).or_default() += 1;
            continue;
        }
        let mut without = ni.clone();
        for key in victims {
            without.remove_pod(key);
        }
        let Some(view) = &without.node else { continue };
        match filter::run_filters(pod, &without, view) {
            Ok(()) => return String::new(),
            Err(f) => {
                for r in f.reasons(pod, &without) {
                    *reasons.entry(r).or_default() += 1;
                }
            }
        }
    }
    format!(
        "preemption: 0/{num_all} nodes are available: {}.",
        histogram(&reasons)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::{json, Value};
    use std::sync::Arc;

    #[test]
    fn feasible_nodes_to_find_table() {
        // (nodes, percentage, want)
        let cases = [
            (0, 0, 0),
            (50, 0, 50),
            (99, 0, 99),
            (100, 0, 100),
            (500, 0, 230),
            (1000, 0, 420),
            (5000, 0, 500),
            (6000, 0, 300),
            (10000, 0, 500),
            (1000, 10, 100),
            (1000, 30, 300),
            (1000, 100, 1000),
            (150, 0, 100),
        ];
        for (n, pct, want) in cases {
            assert_eq!(
                num_feasible_nodes_to_find(n, pct),
                want,
                "{n} nodes at {pct}%"
            );
        }
    }

    fn cache_with(nodes: &[Value]) -> Cache {
        let mut c = Cache::new();
        for n in nodes {
            c.upsert_node(node_from(n.clone()));
        }
        c
    }

    fn bind(c: &mut Cache, pod: Value, node: &str) {
        c.add_pod(Arc::new(pod_from(merge(
            pod,
            json!({"spec": {"nodeName": node}}),
        ))));
    }

    #[test]
    fn picks_the_least_allocated_node() {
        let mut c = cache_with(&[
            node_json("a", "4", "8Gi", "110"),
            node_json("b", "4", "8Gi", "110"),
            node_json("c", "8", "16Gi", "110"),
        ]);
        bind(&mut c, pod_json("x", "2", "4Gi"), "a");
        let mut alg = Algorithm::new(0, Rng::new(7));
        let p = pod_from(pod_json("p", "1", "2Gi"));
        assert_eq!(
            alg.schedule(&c, &p),
            ScheduleResult::Scheduled {
                node: "c".into(),
                evaluated_nodes: 3,
                feasible_nodes: 3
            }
        );
    }

    #[test]
    fn ties_are_broken_randomly_across_all_best_nodes() {
        let c = cache_with(&[
            node_json("a", "4", "8Gi", "110"),
            node_json("b", "4", "8Gi", "110"),
            node_json("c", "4", "8Gi", "110"),
        ]);
        let mut alg = Algorithm::new(0, Rng::new(42));
        let p = pod_from(pod_json("p", "1", "1Gi"));
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..300 {
            if let ScheduleResult::Scheduled { node, .. } = alg.schedule(&c, &p) {
                *seen.entry(node).or_insert(0) += 1;
            }
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.values().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn preferences_change_the_choice() {
        let c = cache_with(&[
            merge(
                node_json("a", "4", "8Gi", "110"),
                json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
            ),
            merge(
                node_json("b", "2", "4Gi", "110"),
                json!({"metadata": {"labels": {"zone": "z"}}}),
            ),
        ]);
        let mut alg = Algorithm::new(0, Rng::new(1));
        // Without tolerations the untainted (smaller) node wins on the taint score.
        let p = pod_from(pod_json("p", "1", "1Gi"));
        assert!(
            matches!(alg.schedule(&c, &p), ScheduleResult::Scheduled { ref node, .. } if node == "b")
        );
        // Tolerating it, the emptier node wins.
        let p = pod_from(merge(
            pod_json("p", "1", "1Gi"),
            json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}),
        ));
        assert!(
            matches!(alg.schedule(&c, &p), ScheduleResult::Scheduled { ref node, .. } if node == "a")
        );
        // A preferred term for the small node's zone outweighs resources.
        let p = pod_from(merge(
            pod_json("p", "1", "1Gi"),
            json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists"}], "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z"]}]}}]}}}}),
        ));
        assert!(
            matches!(alg.schedule(&c, &p), ScheduleResult::Scheduled { ref node, .. } if node == "b")
        );
    }

    #[test]
    fn fit_error_messages() {
        let nodes = [
            node_json("n1", "1", "1Gi", "110"),
            merge(
                node_json("n2", "1", "1Gi", "110"),
                json!({"metadata": {"labels": {"zone": "b"}}}),
            ),
            merge(
                node_json("n3", "4", "8Gi", "110"),
                json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
            ),
            merge(
                node_json("n4", "4", "8Gi", "110"),
                json!({"spec": {"unschedulable": true}}),
            ),
        ];
        let mut c = cache_with(&nodes);
        bind(
            &mut c,
            merge(
                pod_json("low", "500m", "100Mi"),
                json!({"spec": {"priority": -5}}),
            ),
            "n1",
        );
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "resources everywhere it could go",
                pod_json("big", "2", "100Mi"),
                "0/4 nodes are available: 1 node(s) had taint {dedicated: db}, that the pod didn't tolerate, 1 node(s) were unschedulable, 2 Insufficient cpu. \
                 preemption: 0/4 nodes are available: 1 Insufficient cpu, 1 No victims found on node n2 for preemptor pod big, 2 Preemption is not helpful for scheduling.",
            ),
            (
                "selector",
                merge(pod_json("sel", "2", ""), json!({"spec": {"nodeSelector": {"zone": "b"}, "tolerations": [{"operator": "Exists"}]}})),
                "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. \
                 preemption: 0/4 nodes are available: 1 No victims found on node n2 for preemptor pod sel, 3 Preemption is not helpful for scheduling.",
            ),
            (
                "never preempts",
                merge(pod_json("np", "8", ""), json!({"spec": {"preemptionPolicy": "Never", "tolerations": [{"operator": "Exists"}]}})),
                "0/4 nodes are available: 4 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
            ),
            (
                // Evicting the low-priority pod on n1 would make room: the real
                // scheduler preempts and adds no preemption message.
                "preemption would help",
                merge(pod_json("mid", "800m", "100Mi"), json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "n1"}, "tolerations": [{"operator": "Exists"}]}})),
                "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector.",
            ),
        ];
        for (name, pod, want) in cases {
            let mut alg = Algorithm::new(0, Rng::new(3));
            let p = pod_from(pod);
            match alg.schedule(&c, &p) {
                ScheduleResult::Unschedulable(e) => assert_eq!(e.to_string(), want, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let mut alg = Algorithm::new(0, Rng::new(3));
        assert_eq!(
            alg.schedule(&Cache::new(), &pod("p", "", "")),
            ScheduleResult::NoNodesAvailable
        );
    }

    #[test]
    fn fit_error_plugins() {
        let c = cache_with(&[
            node_json("n1", "1", "1Gi", "110"),
            merge(
                node_json("n2", "4", "8Gi", "110"),
                json!({"spec": {"unschedulable": true}}),
            ),
        ]);
        let mut alg = Algorithm::new(0, Rng::new(3));
        match alg.schedule(&c, &pod("p", "2", "")) {
            ScheduleResult::Unschedulable(e) => {
                let names: Vec<&str> = e.plugins.iter().map(|p| p.name()).collect();
                assert_eq!(names, vec!["NodeUnschedulable", "NodeResourcesFit"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn samples_nodes_from_a_rotating_start() {
        let nodes: Vec<Value> = (0..1000)
            .map(|i| node_json(&format!("n{i:04}"), "4", "8Gi", "110"))
            .collect();
        let c = cache_with(&nodes);
        let mut alg = Algorithm::new(0, Rng::new(9));
        let p = pod("p", "100m", "100Mi");
        for round in 0..3 {
            match alg.schedule(&c, &p) {
                ScheduleResult::Scheduled {
                    evaluated_nodes,
                    feasible_nodes,
                    ..
                } => {
                    assert_eq!(
                        (evaluated_nodes, feasible_nodes),
                        (420, 420),
                        "round {round}"
                    );
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(alg.next_start_node_index, (round + 1) * 420 % 1000);
        }
        // A node that fits only one pod is found wherever it is.
        let mut c = cache_with(&nodes);
        c.upsert_node(node("big", "64", "8Gi", "110"));
        let mut alg = Algorithm::new(0, Rng::new(9));
        assert_eq!(
            alg.schedule(&c, &pod("p", "32", "")),
            ScheduleResult::Scheduled {
                node: "big".into(),
                evaluated_nodes: 1001,
                feasible_nodes: 1
            }
        );
    }
}
