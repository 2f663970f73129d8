//! In-process throughput measurement of the pure scheduling loop (queue
//! pop, filters, scores, selection, assume), without an API server.

use crate::algorithm::Rng;
use crate::state::{Decision, State};
use crate::SchedulerConfig;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;
use std::time::Instant;

/// The outcome of a benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub nodes: usize,
    pub pods: usize,
    pub scheduled: usize,
    pub unschedulable: usize,
    /// Wall time of the scheduling loop only (objects are ingested before).
    pub seconds: f64,
    pub pods_per_second: f64,
}

/// A Ready hollow-node-like Node: 32 cores, 128Gi, 110 pods, with a zone label.
pub fn bench_node(i: usize) -> Node {
    let name = format!("hollow-node-{i}");
    let value = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    serde_json::from_value(value).unwrap_or_default()
}

/// A pending pod: 100m / 128Mi, every tenth one with a zone selector and a
/// toleration, every seventh without requests.
pub fn bench_pod(i: usize) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.7",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]});
    if i.is_multiple_of(7) {
        spec["containers"][0]["resources"] = json!({});
    }
    if i.is_multiple_of(10) {
        spec["nodeSelector"] = json!({"topology.kubernetes.io/zone": format!("zone-{}", i % 3)});
        spec["tolerations"] = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]);
    }
    let value = json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": "bench", "uid": format!("uid-{i}")},
        "spec": spec,
    });
    serde_json::from_value(value).unwrap_or_default()
}

/// Schedules `pods` pending pods onto `nodes` nodes in process and returns
/// the detailed report.
pub fn bench_schedule_report(nodes: usize, pods: usize) -> BenchReport {
    let mut state = State::new(&SchedulerConfig::default(), Rng::new(0x5EED));
    let now = Instant::now();
    state.node_relist_started();
    for i in 0..nodes {
        state.node_applied(&bench_node(i), now);
    }
    state.node_relist_done();
    state.pod_relist_started();
    for i in 0..pods {
        state.pod_applied(&bench_pod(i), now);
    }
    state.pod_relist_done(now);

    let (mut scheduled, mut unschedulable) = (0, 0);
    let start = Instant::now();
    while let Some(decision) = state.schedule_one(now) {
        match decision {
            Decision::Bind { pod, .. } => {
                state.bind_succeeded(&pod.info.key, now);
                scheduled += 1;
            }
            Decision::Unschedulable { .. } => unschedulable += 1,
            Decision::Skip => {}
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let pods_per_second = if seconds > 0.0 {
        (scheduled + unschedulable) as f64 / seconds
    } else {
        f64::INFINITY
    };
    BenchReport {
        nodes,
        pods,
        scheduled,
        unschedulable,
        seconds,
        pods_per_second,
    }
}

/// Pods scheduled per second by the pure loop (`nodes` nodes, `pods` pods).
pub fn bench_schedule(nodes: usize, pods: usize) -> f64 {
    bench_schedule_report(nodes, pods).pods_per_second
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_schedules_everything_that_fits() {
        let r = bench_schedule_report(20, 300);
        assert_eq!((r.scheduled, r.unschedulable), (300, 0));
        assert!(r.pods_per_second > 0.0);
        // 2 nodes hold 220 pods; the rest cannot fit.
        let r = bench_schedule_report(2, 250);
        assert_eq!(r.scheduled, 220);
        assert_eq!(r.unschedulable, 30);
    }

    /// Prints pure-loop throughput (meaningful with `--release`).
    #[test]
    fn bench_prints_throughput() {
        for (nodes, pods) in [(100, 2000), (1000, 5000)] {
            let r = bench_schedule_report(nodes, pods);
            println!(
                "bench_schedule: {nodes} nodes, {pods} pods: {:.0} pods/s ({} scheduled)",
                r.pods_per_second, r.scheduled
            );
            assert_eq!(r.scheduled, pods);
        }
    }
}
