//! Scores of the default profile (v1beta3 weights): NodeResourcesFit
//! LeastAllocated (weight 1), NodeResourcesBalancedAllocation (weight 1),
//! TaintToleration (PreferNoSchedule, weight 3) and NodeAffinity
//! (preferred terms, weight 2). Each plugin scores 0..=100.

use crate::cache::NodeInfo;
use crate::model::{NodeView, PodInfo, TaintEffect, Toleration};

pub const MAX_NODE_SCORE: i64 = 100;
pub const LEAST_ALLOCATED_WEIGHT: i64 = 1;
pub const BALANCED_ALLOCATION_WEIGHT: i64 = 1;
pub const TAINT_TOLERATION_WEIGHT: i64 = 3;
pub const NODE_AFFINITY_WEIGHT: i64 = 2;

/// `leastRequestedScore`: the free share of `capacity` after `requested`.
#[inline]
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// The (requested, allocatable) pairs for cpu and memory the resource
/// scores use: non-zero requests of the pods there plus this pod's.
#[inline]
fn cpu_memory(pod: &PodInfo, node: &NodeInfo, view: &NodeView) -> [(i64, i64); 2] {
    [
        (
            node.non_zero_milli_cpu
                .saturating_add(pod.spec.non_zero_milli_cpu),
            view.allocatable.milli_cpu,
        ),
        (
            node.non_zero_memory
                .saturating_add(pod.spec.non_zero_memory),
            view.allocatable.memory,
        ),
    ]
}

/// NodeResourcesFit with the LeastAllocated strategy (cpu and memory,
/// weight 1 each).
#[inline]
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo, view: &NodeView) -> i64 {
    let [cpu, mem] = cpu_memory(pod, node, view);
    (least_requested_score(cpu.0, cpu.1) + least_requested_score(mem.0, mem.1)) / 2
}

/// NodeResourcesBalancedAllocation: 100 * (1 - std deviation of the
/// requested fractions), fractions capped at 1.
#[inline]
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo, view: &NodeView) -> i64 {
    let mut fractions = [0f64; 2];
    let mut n = 0;
    for (requested, allocatable) in cpu_memory(pod, node, view) {
        if allocatable == 0 {
            continue;
        }
        fractions[n] = (requested as f64 / allocatable as f64).min(1.0);
        n += 1;
    }
    // With two resources the standard deviation is half the difference.
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// Raw TaintToleration score: PreferNoSchedule taints not tolerated by the
/// pod's tolerations that have no effect or PreferNoSchedule.
pub fn intolerable_prefer_no_schedule(tolerations: &[Toleration], view: &NodeView) -> i64 {
    view.taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| {
            !tolerations
                .iter()
                .filter(|tol| {
                    tol.effect
                        .is_none_or(|e| e == TaintEffect::PreferNoSchedule)
                })
                .any(|tol| tol.tolerates(t))
        })
        .count() as i64
}

/// Raw NodeAffinity score: the sum of the weights of matching preferred terms.
pub fn preferred_affinity(pod: &PodInfo, view: &NodeView) -> i64 {
    pod.spec
        .preferred_affinity
        .iter()
        .filter(|(_, term)| term.matches(&view.name, &view.labels))
        .map(|(w, _)| *w)
        .sum()
}

/// `DefaultNormalizeScore`: scales to 0..=100 by the maximum; `reverse`
/// makes the smallest raw value the best.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::json;
    use std::sync::Arc;

    fn ni(cpu: &str, mem: &str, pods: &[(&str, &str)]) -> NodeInfo {
        let mut n = NodeInfo::new("n");
        n.node = Some(node("n", cpu, mem, "110"));
        for (i, (c, m)) in pods.iter().enumerate() {
            n.add_pod(Arc::new(pod(&format!("p{i}"), c, m)));
        }
        n
    }

    #[test]
    fn least_requested_table() {
        let cases = [
            (0, 100, 100),
            (50, 100, 50),
            (100, 100, 0),
            (101, 100, 0),
            (1, 0, 0),
            (1, 3, 66),
        ];
        for (req, cap, want) in cases {
            assert_eq!(least_requested_score(req, cap), want, "{req}/{cap}");
        }
    }

    #[test]
    fn resource_scores_table() {
        // (node cpu, node mem, pods there, incoming cpu, incoming mem) -> (least, balanced)
        type Case = (
            &'static str,
            &'static str,
            Vec<(&'static str, &'static str)>,
            &'static str,
            &'static str,
            (i64, i64),
        );
        let cases: Vec<Case> = vec![
            // Empty 4-core / 8Gi node, pod 1 cpu 2Gi: 75% free each, balanced.
            ("4", "8Gi", vec![], "1", "2Gi", (75, 100)),
            // cpu 50% used, memory 25%: least (50+75)/2, std (0.5-0.25)/2.
            ("4", "8Gi", vec![("1", "0")], "1", "2Gi", (62, 87)),
            // Pods without requests count 100m / 200Mi for scoring.
            ("1", "1000Mi", vec![], "", "", (85, 95)),
            // Over-committed: scores 0 for the resource, fraction capped at 1.
            ("1", "1Gi", vec![("2", "0")], "1", "512Mi", (25, 75)),
            // No allocatable memory: fraction skipped, balanced is 100.
            ("2", "0", vec![], "1", "1Gi", (25, 100)),
        ];
        for (cpu, mem, pods, pcpu, pmem, want) in cases {
            let n = ni(cpu, mem, &pods);
            let p = pod("x", pcpu, pmem);
            let view = n.node.as_ref().expect("view");
            assert_eq!(
                (
                    least_allocated(&p, &n, view),
                    balanced_allocation(&p, &n, view)
                ),
                want,
                "{cpu} {mem} {pods:?} {pcpu} {pmem}"
            );
        }
    }

    #[test]
    fn taint_and_affinity_preferences() {
        let view = node_from(merge(
            node_json("n", "1", "1Gi", "10"),
            json!({"metadata": {"labels": {"zone": "a", "disk": "ssd"}}, "spec": {"taints": [
                {"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "value": "x", "effect": "PreferNoSchedule"}, {"key": "c", "effect": "NoSchedule"}]}}),
        ));
        let cases = [
            (json!([]), 2),
            (json!([{"key": "a", "operator": "Exists"}]), 1),
            (
                json!([{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}, {"key": "b", "value": "x"}]),
                0,
            ),
            (
                json!([{"key": "a", "operator": "Exists", "effect": "NoSchedule"}]),
                2,
            ),
            (json!([{"operator": "Exists"}]), 0),
        ];
        for (tols, want) in cases {
            let p = pod_from(merge(
                pod_json("p", "", ""),
                json!({"spec": {"tolerations": tols}}),
            ));
            assert_eq!(
                intolerable_prefer_no_schedule(&p.spec.tolerations, &view),
                want,
                "{tols}"
            );
        }
        let p = pod_from(merge(
            pod_json("p", "", ""),
            json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 7, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}},
                {"weight": 11, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                {"weight": 0, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                {"weight": 13, "preference": {}}
            ]}}}}),
        ));
        assert_eq!(preferred_affinity(&p, &view), 16);
    }

    #[test]
    fn normalize_table() {
        let cases = [
            (vec![0, 0], false, vec![0, 0]),
            (vec![0, 0], true, vec![100, 100]),
            (vec![1, 2, 4], false, vec![25, 50, 100]),
            (vec![1, 2, 4], true, vec![75, 50, 0]),
            (vec![3, 0], true, vec![0, 100]),
        ];
        for (input, reverse, want) in cases {
            let mut s = input.clone();
            default_normalize(&mut s, reverse);
            assert_eq!(s, want, "{input:?} {reverse}");
        }
    }
}
