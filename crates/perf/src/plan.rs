//! What a test creates, computed from the parameters and the node count
//! alone (pure): namespaces, workloads, services, config objects, and the
//! pacing of each phase. `--dry-run` prints this.
//!
//! Density follows ClusterLoader2's `testing/density/config.yaml`; Load
//! follows `testing/load/config.yaml` (with its `reconcile-objects`,
//! `configmaps-secrets`, `services` and `pod-startup-latency` modules).
//!
//! Scaling for small clusters (ClusterLoader2 assumes >= 100 nodes):
//! - namespaces = ceil(nodes / min(nodes, NODES_PER_NAMESPACE)); the last
//!   namespace gets the remaining nodes, so that every node gets
//!   PODS_PER_NODE pods (ClusterLoader2 rounds down and leaves the
//!   remainder idle);
//! - Load's group sizes 250/30/5 are ClusterLoader2's for a namespace of
//!   3,000 pods (100 nodes x 30); a namespace of P pods uses
//!   `clamp(round(size x P / 3000), 1, size)`, and the number of
//!   Deployments of each size follows ClusterLoader2's formulas on the
//!   scaled sizes (1/4 of the pods in big, 1/4 in medium, 1/2 in small
//!   Deployments, minus one StatefulSet and one Job of the medium and
//!   small sizes); big Jobs only run with >= 100 nodes, as in
//!   ClusterLoader2;
//! - latency pods are spread evenly over the namespaces (ClusterLoader2
//!   rounds down per namespace).

use crate::args::{RunArgs, TestKind};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;

/// Load's group sizes at the 3,000-pods-per-namespace reference.
pub const BIG_GROUP_SIZE: usize = 250;
pub const MEDIUM_GROUP_SIZE: usize = 30;
pub const SMALL_GROUP_SIZE: usize = 5;
const REFERENCE_PODS_PER_NAMESPACE: f64 = 3000.0;
/// ClusterLoader2's MIN_LATENCY_PODS / MIN_PODS_IN_SMALL_CLUSTERS.
pub const MIN_LATENCY_PODS: usize = 500;
/// Load's random rescale factor: new sizes in [size/2, 3·size/2].
pub const RANDOM_SCALE_FACTOR: f64 = 0.5;
/// The node ClusterLoader2 sizes its latency pods for ("1-core 4GB"), which
/// is also upstream kubemark's hollow node: 1 CPU, 3840Mi.
pub const REFERENCE_NODE_MILLICPU: u64 = 1000;
pub const REFERENCE_NODE_MEMORY: u64 = 3840 * 1024 * 1024;
/// ClusterLoader2's LATENCY_POD_CPU / LATENCY_POD_MEMORY (100m / 350M).
const LATENCY_POD_MILLICPU: u64 = 100;
const LATENCY_POD_MEMORY: u64 = 350_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Deployment,
    StatefulSet,
    Job,
    DaemonSet,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::Job => "Job",
            Kind::DaemonSet => "DaemonSet",
        }
    }
}

/// Pod groups (the `group` label), as ClusterLoader2 labels them.
pub const SATURATION: &str = "saturation";
pub const LATENCY: &str = "latency";
pub const LOAD: &str = "load";
/// DaemonSet pods are counted apart: their number follows the nodes the
/// DaemonSet controller picks, which this plan cannot know exactly.
pub const LOAD_DAEMONSET: &str = "load-daemonset";

/// One pod-owning object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// The `group` label of its pods.
    pub group: &'static str,
    /// Replicas (Deployment, StatefulSet) or parallelism (Job); unused for
    /// a DaemonSet.
    pub replicas: usize,
    /// The group size it was drawn from (Load), for rescaling.
    pub size: usize,
    pub cpu: &'static str,
    pub memory: &'static str,
    /// The `svc` label value of its pods (Load Deployments).
    pub svc: Option<String>,
    /// Mount a ConfigMap and a Secret named like the workload.
    pub config: bool,
    /// Job completions (never reached by pause pods, as in ClusterLoader2).
    pub completions: Option<usize>,
    /// terminationGracePeriodSeconds of the pods, when set.
    pub grace_seconds: Option<i64>,
}

impl Workload {
    /// Pods this workload should have running (DaemonSets: one per node).
    pub fn pods(&self, nodes: usize) -> usize {
        match self.kind {
            Kind::DaemonSet => nodes,
            _ => self.replicas,
        }
    }
}

/// A Service; `headless` for a StatefulSet's governing service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlan {
    pub namespace: String,
    pub name: String,
    /// Label selector: `svc=<name>`, or `name=<statefulset>` when headless.
    pub selector: (String, String),
    pub headless: bool,
}

/// Object counts of one Load namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadCounts {
    pub pods_per_namespace: usize,
    pub big_size: usize,
    pub medium_size: usize,
    pub small_size: usize,
    pub big_deployments: usize,
    pub medium_deployments: usize,
    pub small_deployments: usize,
    pub small_statefulsets: usize,
    pub medium_statefulsets: usize,
    pub small_jobs: usize,
    pub medium_jobs: usize,
    pub big_jobs: usize,
}

/// ClusterLoader2's per-namespace Load counts for P pods, on scaled sizes.
pub fn load_counts(pods_per_namespace: usize, nodes: usize) -> LoadCounts {
    let p = pods_per_namespace;
    let scaled = |size: usize| {
        let s = (size as f64 * p as f64 / REFERENCE_PODS_PER_NAMESPACE).round() as usize;
        s.clamp(1, size)
    };
    let (big, medium, small) = (
        scaled(BIG_GROUP_SIZE),
        scaled(MEDIUM_GROUP_SIZE),
        scaled(SMALL_GROUP_SIZE),
    );
    // One StatefulSet of each of the small and medium sizes, and one Job of
    // each size, replace a Deployment of that size.
    let small_statefulsets = 1;
    let medium_statefulsets = 1;
    LoadCounts {
        pods_per_namespace: p,
        big_size: big,
        medium_size: medium,
        small_size: small,
        big_deployments: (p / (4 * big)).saturating_sub(1),
        medium_deployments: (p / (4 * medium)).saturating_sub(medium_statefulsets + 1),
        small_deployments: (p / (2 * small)).saturating_sub(small_statefulsets + 1),
        small_statefulsets,
        medium_statefulsets,
        small_jobs: 1,
        medium_jobs: 1,
        big_jobs: usize::from(nodes >= 100),
    }
}

/// The test plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub test: TestKind,
    pub nodes: usize,
    pub pods_per_node: usize,
    pub nodes_per_namespace: usize,
    pub run_id: String,
    pub namespaces: Vec<String>,
    /// Nodes each namespace's pods are sized for.
    pub namespace_nodes: Vec<usize>,
    /// Density: one saturation Deployment per namespace.
    pub saturation: Vec<Workload>,
    /// Single-replica latency Deployments (both tests).
    pub latency: Vec<Workload>,
    /// Load: services (incl. StatefulSets' headless ones).
    pub services: Vec<ServicePlan>,
    /// Load: (namespace, name) of each ConfigMap + Secret pair.
    pub config_objects: Vec<(String, String)>,
    /// Load: all workloads in creation order (randomised, as
    /// ClusterLoader2's RandomizedTimeLimitedLoad spreads them).
    pub workloads: Vec<Workload>,
    pub load_counts: Vec<LoadCounts>,
    /// Objects per second for objects that are not paced by pods.
    pub object_qps: f64,
    /// Objects per second for density / latency objects.
    pub qps: f64,
    /// Load: pods per second.
    pub pod_throughput: f64,
}

/// Nodes per namespace for each namespace (see the module doc).
pub fn namespace_nodes(nodes: usize, nodes_per_namespace: usize) -> Vec<usize> {
    if nodes == 0 {
        return Vec::new();
    }
    let per = nodes_per_namespace.clamp(1, nodes);
    let count = nodes.div_ceil(per);
    (0..count)
        .map(|i| {
            if i + 1 < count {
                per
            } else {
                nodes - per * (count - 1)
            }
        })
        .collect()
}

/// `total` spread over `n` buckets, the first ones one larger.
pub fn spread(total: usize, n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|i| total / n + usize::from(i < total % n))
        .collect()
}

fn latency_workloads(namespaces: &[String], latency_pods: usize) -> Vec<Workload> {
    let mut out = Vec::new();
    for (ns, count) in namespaces
        .iter()
        .zip(spread(latency_pods, namespaces.len()))
    {
        for j in 0..count {
            out.push(Workload {
                kind: Kind::Deployment,
                namespace: ns.clone(),
                name: format!("latency-deployment-{j}"),
                group: LATENCY,
                replicas: 1,
                size: 1,
                // ClusterLoader2's LATENCY_POD_CPU / LATENCY_POD_MEMORY.
                cpu: "100m",
                memory: "350M",
                svc: None,
                config: false,
                completions: None,
                grace_seconds: None,
            });
        }
    }
    out
}

/// Latency pods that fit on one reference node next to the test's own
/// pods of that node: Density's saturation pods (1m/10M each); Load's
/// pods counted at the larger Job/DaemonSet request (10m/10M) plus the
/// DaemonSet pod. At least 1.
pub fn latency_pods_per_node(test: TestKind, pods_per_node: usize) -> usize {
    let pods = pods_per_node as u64;
    let (cpu, mem) = match test {
        TestKind::Density => (pods, pods * 10_000_000),
        TestKind::Load => ((pods + 1) * 10, (pods + 1) * 10_000_000),
    };
    let by_cpu = REFERENCE_NODE_MILLICPU.saturating_sub(cpu) / LATENCY_POD_MILLICPU;
    let by_mem = REFERENCE_NODE_MEMORY.saturating_sub(mem) / LATENCY_POD_MEMORY;
    (by_cpu.min(by_mem) as usize).max(1)
}

/// ClusterLoader2's default latency pod count, max(500, nodes), capped to
/// what fits on 1-core nodes ([`latency_pods_per_node`]): the same as
/// ClusterLoader2's from about 60 nodes up (it assumes 100+), and still
/// schedulable on a smaller cluster of upstream-sized hollow nodes.
pub fn default_latency_pods(test: TestKind, nodes: usize, pods_per_node: usize) -> usize {
    MIN_LATENCY_PODS
        .max(nodes)
        .min(nodes.saturating_mul(latency_pods_per_node(test, pods_per_node)))
}

/// Builds the plan for `nodes` nodes. `run_id` names the namespaces;
/// `seed` drives Load's random order.
pub fn build(args: &RunArgs, nodes: usize, run_id: &str, seed: u64) -> Plan {
    let ns_nodes = namespace_nodes(nodes, args.nodes_per_namespace);
    let prefix = format!("perf-{}-{run_id}", args.test);
    let namespaces: Vec<String> = (1..=ns_nodes.len())
        .map(|i| format!("{prefix}-{i}"))
        .collect();
    let latency_pods = args
        .latency_pods
        .unwrap_or_else(|| default_latency_pods(args.test, nodes, args.pods_per_node));
    let mut plan = Plan {
        test: args.test,
        nodes,
        pods_per_node: args.pods_per_node,
        nodes_per_namespace: args.nodes_per_namespace.clamp(1, nodes.max(1)),
        run_id: run_id.to_string(),
        namespaces: namespaces.clone(),
        namespace_nodes: ns_nodes.clone(),
        saturation: Vec::new(),
        latency: latency_workloads(&namespaces, latency_pods),
        services: Vec::new(),
        config_objects: Vec::new(),
        workloads: Vec::new(),
        load_counts: Vec::new(),
        // ClusterLoader2's default tuning set: 10 qps up to 500 nodes, else 100.
        object_qps: if nodes <= 500 { 10.0 } else { 100.0 },
        qps: args.qps,
        pod_throughput: args.pod_throughput,
    };
    match args.test {
        TestKind::Density => {
            for (ns, n) in namespaces.iter().zip(&ns_nodes) {
                plan.saturation.push(Workload {
                    kind: Kind::Deployment,
                    namespace: ns.clone(),
                    name: "saturation-deployment-0".to_string(),
                    group: SATURATION,
                    replicas: args.pods_per_node * n,
                    size: args.pods_per_node * n,
                    cpu: "1m",
                    memory: "10M",
                    svc: None,
                    config: false,
                    completions: None,
                    grace_seconds: None,
                });
            }
        }
        TestKind::Load => build_load(&mut plan, args, nodes, seed),
    }
    plan
}

fn build_load(plan: &mut Plan, args: &RunArgs, nodes: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut workloads = Vec::new();
    let base = |kind, ns: &str, name: String, size: usize| Workload {
        kind,
        namespace: ns.to_string(),
        name,
        group: LOAD,
        replicas: size,
        size,
        // ClusterLoader2's load deployment.yaml (Jobs ask 10m/10M).
        cpu: "1m",
        memory: "4M",
        svc: None,
        config: false,
        completions: None,
        grace_seconds: Some(1),
    };
    for (ns, n) in plan
        .namespaces
        .clone()
        .iter()
        .zip(plan.namespace_nodes.clone())
    {
        let c = load_counts(args.pods_per_node * n, nodes);
        plan.load_counts.push(c);
        for (class, size, count) in [
            ("big", c.big_size, c.big_deployments),
            ("medium", c.medium_size, c.medium_deployments),
            ("small", c.small_size, c.small_deployments),
        ] {
            // About half the Deployments get a Service: services.yaml makes
            // (count+1)/2 per size; Deployment i selects svc <class>-service-i.
            let services = count.div_ceil(2);
            for i in 0..services {
                let name = format!("{class}-service-{i}");
                plan.services.push(ServicePlan {
                    namespace: ns.clone(),
                    name: name.clone(),
                    selector: ("svc".into(), name),
                    headless: false,
                });
            }
            for i in 0..count {
                let name = format!("{class}-deployment-{i}");
                plan.config_objects.push((ns.clone(), name.clone()));
                let mut w = base(Kind::Deployment, ns, name, size);
                w.svc = Some(format!("{class}-service-{i}"));
                w.config = true;
                workloads.push(w);
            }
        }
        for (class, size, count) in [
            ("small", c.small_size, c.small_statefulsets),
            ("medium", c.medium_size, c.medium_statefulsets),
        ] {
            for i in 0..count {
                let name = format!("{class}-statefulset-{i}");
                plan.services.push(ServicePlan {
                    namespace: ns.clone(),
                    name: name.clone(),
                    selector: ("name".into(), name.clone()),
                    headless: true,
                });
                workloads.push(base(Kind::StatefulSet, ns, name, size));
            }
        }
        for (class, size, count) in [
            ("small", c.small_size, c.small_jobs),
            ("medium", c.medium_size, c.medium_jobs),
            ("big", c.big_size, c.big_jobs),
        ] {
            for i in 0..count {
                let mut w = base(Kind::Job, ns, format!("{class}-job-{i}"), size);
                w.cpu = "10m";
                w.memory = "10M";
                // Pause pods never complete; completions just bound the Job.
                w.completions =
                    Some(((size as f64) * 2.0 * (1.0 + RANDOM_SCALE_FACTOR)).round() as usize);
                workloads.push(w);
            }
        }
    }
    if let Some(ns) = plan.namespaces.first() {
        let mut ds = base(Kind::DaemonSet, ns, "daemonset-0".to_string(), 0);
        ds.group = LOAD_DAEMONSET;
        ds.cpu = "10m";
        ds.memory = "10M";
        workloads.push(ds);
    }
    workloads.shuffle(&mut rng);
    plan.workloads = workloads;
}

impl Plan {
    pub fn saturation_pods(&self) -> usize {
        self.saturation.iter().map(|w| w.replicas).sum()
    }

    pub fn latency_pods(&self) -> usize {
        self.latency.iter().map(|w| w.replicas).sum()
    }

    /// Load pods other than the DaemonSet's.
    pub fn load_pods(&self) -> usize {
        self.workloads
            .iter()
            .filter(|w| w.kind != Kind::DaemonSet)
            .map(|w| w.replicas)
            .sum()
    }

    pub fn count_kind(&self, kind: Kind) -> usize {
        self.workloads.iter().filter(|w| w.kind == kind).count()
    }
}

/// Load's random rescale: each Deployment / StatefulSet / Job gets a size
/// drawn uniformly from [size·(1-f), size·(1+f)] (ClusterLoader2's
/// RandIntRange on the reconcile-objects bounds). Returns (index into
/// `workloads`, new replicas); DaemonSets are updated, not scaled.
pub fn rescale(workloads: &[Workload], seed: u64) -> Vec<(usize, usize)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5ca1_ab1e);
    workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| w.kind != Kind::DaemonSet)
        .map(|(i, w)| {
            let lo = ((w.size as f64) * (1.0 - RANDOM_SCALE_FACTOR)).floor() as usize;
            let hi = ((w.size as f64) * (1.0 + RANDOM_SCALE_FACTOR)).floor() as usize;
            (i, rng.gen_range(lo..=hi.max(lo)))
        })
        .collect()
}

/// Start offsets (seconds from the phase start) for operations each
/// moving `weights[i]` pods, so that pods flow at `per_second`: operation
/// i starts when the pods of the operations before it are due.
pub fn pod_paced_offsets(weights: &[usize], per_second: f64) -> Vec<f64> {
    let mut t = 0.0;
    weights
        .iter()
        .map(|w| {
            let start = t;
            if per_second > 0.0 {
                t += *w as f64 / per_second;
            }
            start
        })
        .collect()
}

/// Start offsets for `n` operations at `qps` per second.
pub fn qps_offsets(n: usize, qps: f64) -> Vec<f64> {
    (0..n)
        .map(|i| if qps > 0.0 { i as f64 / qps } else { 0.0 })
        .collect()
}

/// One phase of the plan, for the dry-run table and run.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSummary {
    pub name: String,
    /// Verb and kind → count, e.g. "create Deployment" → 3.
    pub objects: BTreeMap<String, usize>,
    /// Pods expected to start (or stop) in the phase.
    pub pods: usize,
    pub pace: String,
    pub estimated_seconds: f64,
}

fn phase(
    name: &str,
    objects: &[(&str, &str, usize)],
    pods: usize,
    pace: String,
    seconds: f64,
) -> PhaseSummary {
    PhaseSummary {
        name: name.to_string(),
        objects: objects
            .iter()
            .filter(|(_, _, n)| *n > 0)
            .map(|(verb, kind, n)| (format!("{verb} {kind}"), *n))
            .collect(),
        pods,
        pace,
        estimated_seconds: seconds,
    }
}

impl Plan {
    /// The phases in execution order.
    pub fn phases(&self) -> Vec<PhaseSummary> {
        let ns = self.namespaces.len();
        let lat = self.latency.len();
        let lat_pods = self.latency_pods();
        let qps_text = format!("{} objects/s", crate::slo::fmt_num(self.qps));
        let latency_phases = |out: &mut Vec<PhaseSummary>| {
            out.push(phase(
                "latency: create",
                &[("create", "Deployment", lat)],
                lat_pods,
                qps_text.clone(),
                lat as f64 / self.qps,
            ));
            out.push(phase(
                "latency: delete",
                &[("delete", "Deployment", lat)],
                lat_pods,
                qps_text.clone(),
                lat as f64 / self.qps,
            ));
        };
        let mut out = vec![phase(
            "create namespaces",
            &[("create", "Namespace", ns)],
            0,
            "unpaced".into(),
            0.0,
        )];
        match self.test {
            TestKind::Density => {
                let sat = self.saturation.len();
                let pods = self.saturation_pods();
                out.push(phase(
                    "saturation: create",
                    &[("create", "Deployment", sat)],
                    pods,
                    qps_text.clone(),
                    sat as f64 / self.qps,
                ));
                latency_phases(&mut out);
                out.push(phase(
                    "saturation: delete",
                    &[("delete", "Deployment", sat)],
                    pods,
                    qps_text.clone(),
                    sat as f64 / self.qps,
                ));
            }
            TestKind::Load => {
                let svc = self.services.iter().filter(|s| !s.headless).count();
                let headless = self.services.len() - svc;
                let cfg = self.config_objects.len();
                let obj_text = format!("{} objects/s", crate::slo::fmt_num(self.object_qps));
                let pod_text = format!("{} pods/s", crate::slo::fmt_num(self.pod_throughput));
                let all_pods = self.load_pods() + self.nodes;
                let pod_secs = self.load_pods() as f64 / self.pod_throughput;
                out.push(phase(
                    "load: create services",
                    &[("create", "Service", self.services.len())],
                    0,
                    "unpaced".into(),
                    0.0,
                ));
                out.push(phase(
                    "load: create configmaps and secrets",
                    &[("create", "ConfigMap", cfg), ("create", "Secret", cfg)],
                    0,
                    obj_text.clone(),
                    2.0 * cfg as f64 / self.object_qps,
                ));
                let kinds = [
                    Kind::Deployment,
                    Kind::StatefulSet,
                    Kind::Job,
                    Kind::DaemonSet,
                ];
                let creates: Vec<(&str, &str, usize)> = kinds
                    .iter()
                    .map(|k| ("create", k.as_str(), self.count_kind(*k)))
                    .collect();
                out.push(phase(
                    "load: create workloads",
                    &creates,
                    all_pods,
                    pod_text.clone(),
                    pod_secs,
                ));
                latency_phases(&mut out);
                let scales: Vec<(&str, &str, usize)> = kinds[..3]
                    .iter()
                    .map(|k| ("scale", k.as_str(), self.count_kind(*k)))
                    .collect();
                let mut scale = phase(
                    "load: rescale",
                    &scales,
                    self.load_pods() / 4,
                    pod_text.clone(),
                    pod_secs / 4.0,
                );
                scale
                    .objects
                    .insert("update DaemonSet".into(), self.count_kind(Kind::DaemonSet));
                out.push(scale);
                let deletes: Vec<(&str, &str, usize)> = kinds
                    .iter()
                    .map(|k| ("delete", k.as_str(), self.count_kind(*k)))
                    .collect();
                out.push(phase(
                    "load: delete workloads",
                    &deletes,
                    all_pods,
                    pod_text,
                    pod_secs,
                ));
                out.push(phase(
                    "load: delete configmaps, secrets and services",
                    &[
                        ("delete", "ConfigMap", cfg),
                        ("delete", "Secret", cfg),
                        ("delete", "Service", svc + headless),
                    ],
                    0,
                    obj_text,
                    2.0 * cfg as f64 / self.object_qps,
                ));
            }
        }
        out
    }

    /// The `--dry-run` text.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "Plan: {} test on {} node{}, {} pods per node, {} namespace{} ({} nodes per namespace)\n",
            self.test,
            self.nodes,
            if self.nodes == 1 { "" } else { "s" },
            self.pods_per_node,
            self.namespaces.len(),
            if self.namespaces.len() == 1 { "" } else { "s" },
            self.nodes_per_namespace,
        ));
        if self.test == TestKind::Load {
            if let Some(c) = self.load_counts.first() {
                s.push_str(&format!(
                    "Per namespace ({} pods): {} big ({} replicas), {} medium ({}), {} small ({}) Deployments; \
                     {} small + {} medium StatefulSets; {} small + {} medium + {} big Jobs\n",
                    c.pods_per_namespace,
                    c.big_deployments,
                    c.big_size,
                    c.medium_deployments,
                    c.medium_size,
                    c.small_deployments,
                    c.small_size,
                    c.small_statefulsets,
                    c.medium_statefulsets,
                    c.small_jobs,
                    c.medium_jobs,
                    c.big_jobs,
                ));
            }
        }
        let phases = self.phases();
        let rows: Vec<[String; 4]> = phases
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let objects = p
                    .objects
                    .iter()
                    .map(|(k, n)| format!("{n} x {k}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                [
                    format!("{}. {}", i + 1, p.name),
                    objects,
                    if p.pods > 0 {
                        p.pods.to_string()
                    } else {
                        "-".into()
                    },
                    p.pace.clone(),
                ]
            })
            .collect();
        let header = [
            "PHASE".to_string(),
            "OBJECTS".to_string(),
            "PODS".to_string(),
            "PACE".to_string(),
        ];
        let mut widths = header.clone().map(|h| h.len());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(&header).chain(rows.iter()) {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(c);
                if i < 3 {
                    line.push_str(&" ".repeat(w - c.chars().count()));
                }
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        let total: usize = match self.test {
            TestKind::Density => self.saturation_pods() + self.latency_pods(),
            TestKind::Load => self.load_pods() + self.nodes + self.latency_pods(),
        };
        s.push_str(&format!("Pods created in total: {total}\n"));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_split() {
        let cases: &[(usize, usize, &[usize])] = &[
            (100, 100, &[100]),
            (10, 100, &[10]),
            (250, 100, &[100, 100, 50]),
            (1000, 100, &[100; 10]),
            (3, 1, &[1, 1, 1]),
            (0, 100, &[]),
        ];
        for (nodes, per, want) in cases {
            assert_eq!(
                namespace_nodes(*nodes, *per),
                want.to_vec(),
                "{nodes}/{per}"
            );
        }
        assert_eq!(spread(10, 3), vec![4, 3, 3]);
        assert_eq!(spread(2, 3), vec![1, 1, 0]);
        assert!(spread(5, 0).is_empty());
    }

    #[test]
    fn load_counts_match_clusterloader2_at_reference_size() {
        // 100 nodes x 30 pods: ClusterLoader2's numbers.
        let c = load_counts(3000, 100);
        assert_eq!((c.big_size, c.medium_size, c.small_size), (250, 30, 5));
        assert_eq!(
            (c.big_deployments, c.medium_deployments, c.small_deployments),
            (2, 23, 298)
        );
        assert_eq!((c.small_jobs, c.medium_jobs, c.big_jobs), (1, 1, 1));
        // Scaled down: 10 nodes x 30 pods.
        let c = load_counts(300, 10);
        assert_eq!((c.big_size, c.medium_size, c.small_size), (25, 3, 1));
        assert_eq!(
            (c.big_deployments, c.medium_deployments, c.small_deployments),
            (2, 23, 148)
        );
        assert_eq!(c.big_jobs, 0, "no big jobs in small clusters");
        // Tiny: 10 nodes x 3 pods.
        let c = load_counts(30, 10);
        assert_eq!((c.big_size, c.medium_size, c.small_size), (3, 1, 1));
        assert_eq!(
            (c.big_deployments, c.medium_deployments, c.small_deployments),
            (1, 5, 13)
        );
        // One pod per namespace: nothing goes negative.
        let c = load_counts(1, 1);
        assert_eq!(
            (c.big_deployments, c.medium_deployments, c.small_deployments),
            (0, 0, 0)
        );
    }

    #[test]
    fn density_plan() {
        let mut a = RunArgs::new(TestKind::Density);
        a.pods_per_node = 3;
        a.latency_pods = Some(7);
        let p = build(&a, 250, "abc", 1);
        assert_eq!(
            p.namespaces,
            vec![
                "perf-density-abc-1",
                "perf-density-abc-2",
                "perf-density-abc-3"
            ]
        );
        assert_eq!(
            p.saturation.iter().map(|w| w.replicas).collect::<Vec<_>>(),
            vec![300, 300, 150]
        );
        assert_eq!(p.saturation_pods(), 750, "every node gets its pods");
        assert_eq!(p.latency.len(), 7);
        assert_eq!(
            p.latency
                .iter()
                .filter(|w| w.namespace.ends_with("-1"))
                .count(),
            3
        );
        assert!(p
            .latency
            .iter()
            .all(|w| w.cpu == "100m" && w.memory == "350M" && w.replicas == 1));
        assert!(p.workloads.is_empty() && p.services.is_empty());
        // Default latency pods: max(500, nodes), as many as fit on 1-core
        // nodes (9 each next to 3 saturation pods).
        a.latency_pods = None;
        assert_eq!(build(&a, 10, "x", 1).latency_pods(), 90);
        assert_eq!(build(&a, 100, "x", 1).latency_pods(), 500);
        assert_eq!(build(&a, 1000, "x", 1).latency_pods(), 1000);
        let phases = p.phases();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "create namespaces",
                "saturation: create",
                "latency: create",
                "latency: delete",
                "saturation: delete"
            ]
        );
        assert_eq!(phases[1].pods, 750);
        assert_eq!(phases[1].objects["create Deployment"], 3);
        let text = p.describe();
        assert!(
            text.contains("density test on 250 nodes, 3 pods per node, 3 namespaces"),
            "{text}"
        );
        assert!(text.contains("Pods created in total: 757"), "{text}");
    }

    #[test]
    fn load_plan() {
        let mut a = RunArgs::new(TestKind::Load);
        a.pods_per_node = 3;
        let p = build(&a, 10, "r", 42);
        assert_eq!(p.namespaces.len(), 1);
        // 1 big (3), 5 medium (1), 13 small (1) Deployments.
        assert_eq!(p.count_kind(Kind::Deployment), 19);
        assert_eq!(p.count_kind(Kind::StatefulSet), 2);
        assert_eq!(p.count_kind(Kind::Job), 2);
        assert_eq!(p.count_kind(Kind::DaemonSet), 1);
        assert_eq!(p.load_pods(), 3 + 5 + 13 + 1 + 1 + 1 + 1);
        assert_eq!(p.config_objects.len(), 19);
        // Services: ceil(1/2) + ceil(5/2) + ceil(13/2) = 1 + 3 + 7, plus 2 headless.
        assert_eq!(p.services.iter().filter(|s| !s.headless).count(), 11);
        assert_eq!(p.services.iter().filter(|s| s.headless).count(), 2);
        // Every selector of a non-headless service matches exactly one Deployment.
        for s in p.services.iter().filter(|s| !s.headless) {
            let n = p
                .workloads
                .iter()
                .filter(|w| w.svc.as_deref() == Some(s.selector.1.as_str()))
                .count();
            assert_eq!(n, 1, "{}", s.name);
        }
        // Same seed, same plan; another seed, another order.
        assert_eq!(build(&a, 10, "r", 42), p);
        let other = build(&a, 10, "r", 43);
        assert_ne!(other.workloads, p.workloads);
        assert_eq!(other.load_pods(), p.load_pods());
        let ds = p
            .workloads
            .iter()
            .find(|w| w.kind == Kind::DaemonSet)
            .unwrap();
        assert_eq!(ds.group, LOAD_DAEMONSET);
        assert_eq!(ds.pods(10), 10);
        let phases = p.phases();
        assert_eq!(phases.len(), 9);
        assert_eq!(phases[3].name, "load: create workloads");
        assert_eq!(phases[3].pods, p.load_pods() + 10);
        assert!(p
            .describe()
            .contains("1 big (3 replicas), 5 medium (1), 13 small (1) Deployments"));
    }

    #[test]
    fn rescale_stays_in_bounds() {
        let mut a = RunArgs::new(TestKind::Load);
        a.pods_per_node = 30;
        let p = build(&a, 100, "r", 7);
        let r = rescale(&p.workloads, 7);
        assert_eq!(r.len(), p.workloads.len() - 1, "all but the DaemonSet");
        let mut changed = 0;
        for (i, n) in &r {
            let w = &p.workloads[*i];
            assert!(
                *n >= w.size / 2 && *n <= w.size * 3 / 2,
                "{} {} -> {n}",
                w.name,
                w.size
            );
            changed += usize::from(*n != w.replicas);
        }
        assert!(changed > 0);
        assert_eq!(rescale(&p.workloads, 7), r, "deterministic per seed");
    }

    #[test]
    fn pacing() {
        assert_eq!(
            pod_paced_offsets(&[10, 0, 5, 20], 10.0),
            vec![0.0, 1.0, 1.0, 1.5]
        );
        assert_eq!(qps_offsets(3, 5.0), vec![0.0, 0.2, 0.4]);
        assert!(pod_paced_offsets(&[], 10.0).is_empty());
    }

    /// A request quantity as plan.rs spells them: `<n>m` CPU, `<n>M` bytes.
    fn quantity(q: &str) -> u64 {
        let (n, unit) = q.split_at(q.len() - 1);
        let n: u64 = n.parse().unwrap();
        match unit {
            "m" => n,
            "M" => n * 1_000_000,
            other => panic!("unexpected unit {other} in {q}"),
        }
    }

    #[test]
    fn requests_are_clusterloader2s() {
        let a = RunArgs::new(TestKind::Density);
        let p = build(&a, 100, "x", 1);
        // testing/density/config.yaml: saturation 1m/10M, latency
        // LATENCY_POD_CPU 100 (m) / LATENCY_POD_MEMORY 350 (M).
        assert!(p
            .saturation
            .iter()
            .all(|w| (w.cpu, w.memory) == ("1m", "10M")));
        assert!(p
            .latency
            .iter()
            .all(|w| (w.cpu, w.memory) == ("100m", "350M")));
        assert_eq!(quantity(p.latency[0].cpu), LATENCY_POD_MILLICPU);
        assert_eq!(quantity(p.latency[0].memory), LATENCY_POD_MEMORY);
        assert_eq!(REFERENCE_NODE_MEMORY, 4_026_531_840);
        let cases = [
            (TestKind::Density, 30, 9),
            (TestKind::Density, 3, 9),
            (TestKind::Density, 110, 8),
            (TestKind::Load, 30, 6),
            (TestKind::Load, 110, 1),
        ];
        for (test, pods, want) in cases {
            assert_eq!(latency_pods_per_node(test, pods), want, "{test:?} {pods}");
        }
    }

    /// The default plans fit on upstream kubemark's 1-core / 3840Mi nodes:
    /// per node, the test's own pods (spread evenly, as the scheduler's
    /// balanced allocation does) plus its share of the latency pods.
    #[test]
    fn default_plans_fit_on_one_core_nodes() {
        for test in [TestKind::Density, TestKind::Load] {
            for nodes in [1, 3, 10, 50, 56, 100, 500, 5000] {
                let a = RunArgs::new(test);
                let p = build(&a, nodes, "x", 7);
                let n = nodes as u64;
                let own: Vec<&Workload> = p.saturation.iter().chain(&p.workloads).collect();
                let pods_cpu: u64 = own
                    .iter()
                    .map(|w| w.pods(nodes) as u64 * quantity(w.cpu))
                    .sum();
                let pods_mem: u64 = own
                    .iter()
                    .map(|w| w.pods(nodes) as u64 * quantity(w.memory))
                    .sum();
                let latency = (p.latency_pods() as u64).div_ceil(n);
                let cpu = pods_cpu.div_ceil(n) + latency * LATENCY_POD_MILLICPU;
                let mem = pods_mem.div_ceil(n) + latency * LATENCY_POD_MEMORY;
                assert!(
                    cpu <= REFERENCE_NODE_MILLICPU && mem <= REFERENCE_NODE_MEMORY,
                    "{test:?} on {nodes} nodes: {cpu}m CPU, {mem} bytes per node"
                );
                assert!(p.latency_pods() >= nodes.min(MIN_LATENCY_PODS));
                if nodes >= 100 {
                    assert_eq!(p.latency_pods(), MIN_LATENCY_PODS.max(nodes));
                }
            }
        }
    }
}
