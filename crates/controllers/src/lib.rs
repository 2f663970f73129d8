//! The embedded kube-controller-manager: workload, lifecycle and service controllers.
//!
//! Every controller talks to the API server only through kube-rs (shared
//! watch-backed caches, then create/update/patch/delete), so its traffic is
//! visible in the server's metrics and any controller can be switched off
//! (`--controllers` syntax) and replaced by the real one.
//!
//! Each controller is a pure decision function over cached objects (unit
//! tested beside it) plus a thin async layer that runs the resulting API
//! calls; see [`runtime`].

pub mod actions;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod expectations;
pub mod garbagecollector;
pub mod informer;
pub mod job;
pub mod namespace;
pub mod nodelifecycle;
pub mod podgc;
pub mod pvbinder;
pub mod queue;
pub mod replicaset;
pub mod resourcequota;
pub mod rootca;
pub mod runtime;
pub mod serviceaccount;
pub mod statefulset;
pub mod sync;
pub mod ttl;
pub mod util;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

/// Controllers this crate implements, by their kube-controller-manager name.
pub const CONTROLLERS: &[&str] = &[
    "replicationcontroller",
    "replicaset",
    "deployment",
    "daemonset",
    "statefulset",
    "job",
    "cronjob",
    "namespace",
    "garbagecollector",
    "nodelifecycle",
    "podgc",
    "persistentvolume-binder",
    "endpoint",
    "endpointslice",
    "serviceaccount",
    "root-ca-cert-publisher",
    "ttl",
    "resourcequota",
];

/// Controllers of the real kube-controller-manager that kubemark does not
/// implement: disabling them is accepted (so real flag values work),
/// enabling them is an error.
pub const NOT_IMPLEMENTED: &[&str] = &[
    "attachdetach",
    "bootstrapsigner",
    "cloud-node-lifecycle",
    "clusterrole-aggregation",
    "csrapproving",
    "csrcleaner",
    "csrsigning",
    "disruption",
    "endpointslicemirroring",
    "ephemeral-volume",
    "horizontalpodautoscaling",
    "nodeipam",
    "persistentvolume-expander",
    "pv-protection",
    "pvc-protection",
    "route",
    "service",
    "serviceaccount-token",
    "storage-version-gc",
    "tokencleaner",
    "ttl-after-finished",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown controller {name:?} in --controllers (known: {known})")]
    UnknownController { name: String, known: String },
    #[error(
        "controller {0:?} exists in kube-controller-manager but is not implemented by kubemark"
    )]
    NotImplemented(String),
    #[error("controller {0:?} is both enabled and disabled in --controllers")]
    Contradictory(String),
    #[error("empty entry in --controllers {0:?}")]
    EmptyEntry(String),
}

/// How to run the controller manager.
#[derive(Debug, Clone)]
pub struct ControllerManagerConfig {
    /// `--controllers`: `*`, `*,-namespace`, `deployment,replicaset`.
    pub controllers: String,
    /// How often node health is checked (`--node-monitor-period`).
    pub node_monitor_period: Duration,
    /// A node whose Lease is not renewed for this long becomes Unknown
    /// (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// Grace for nodes that never reported (`--node-startup-grace-period`).
    pub node_startup_grace_period: Duration,
    /// Published as `ca.crt` in every namespace's `kube-root-ca.crt`.
    pub root_ca_pem: String,
    /// Terminated pods kept before the oldest are deleted
    /// (`--terminated-pod-gc-threshold`).
    pub terminated_pod_gc_threshold: usize,
    /// How often the pod GC runs.
    pub pod_gc_period: Duration,
    /// How long a pod's node must stay missing before the pod is force
    /// deleted (client-go's 40 s quarantine).
    pub pod_gc_orphan_quarantine: Duration,
    /// Most pods created or deleted per sync of one controller object.
    pub burst_replicas: usize,
    /// API calls in flight across all controllers.
    pub max_concurrent_requests: usize,
    /// Endpoints per EndpointSlice (`--max-endpoints-per-slice`).
    pub max_endpoints_per_slice: usize,
    /// How often every ResourceQuota's usage is recalculated besides on
    /// changes (`--resource-quota-sync-period`).
    pub resource_quota_sync_period: Duration,
}

impl Default for ControllerManagerConfig {
    fn default() -> Self {
        ControllerManagerConfig {
            controllers: "*".to_string(),
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            root_ca_pem: String::new(),
            terminated_pod_gc_threshold: 12_500,
            pod_gc_period: Duration::from_secs(20),
            pod_gc_orphan_quarantine: Duration::from_secs(40),
            burst_replicas: 500,
            max_concurrent_requests: 100,
            max_endpoints_per_slice: 100,
            resource_quota_sync_period: resourcequota::DEFAULT_SYNC_PERIOD,
        }
    }
}

/// Parses `--controllers`. `*` enables every implemented controller,
/// `name` enables one, `-name` disables one; an explicit entry wins over
/// `*`. Unknown names are errors.
pub fn parse_controllers(spec: &str) -> Result<BTreeSet<String>, Error> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut star = false;
    let mut on = BTreeSet::new();
    let mut off = BTreeSet::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(Error::EmptyEntry(spec.to_string()));
        }
        if item == "*" {
            star = true;
            continue;
        }
        let (disable, name) = match item.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, item),
        };
        if CONTROLLERS.contains(&name) {
            if disable { &mut off } else { &mut on }.insert(name.to_string());
        } else if NOT_IMPLEMENTED.contains(&name) {
            if !disable {
                return Err(Error::NotImplemented(name.to_string()));
            }
        } else {
            return Err(Error::UnknownController {
                name: name.to_string(),
                known: CONTROLLERS.join(", "),
            });
        }
    }
    if let Some(both) = on.intersection(&off).next() {
        return Err(Error::Contradictory(both.clone()));
    }
    if star {
        Ok(CONTROLLERS
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !off.contains(c))
            .collect())
    } else {
        Ok(on)
    }
}

/// Runs the enabled controllers against the API server until `shutdown`
/// completes. Returns an error only for an invalid `--controllers` value.
pub async fn run(
    client: kube::Client,
    cfg: ControllerManagerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let enabled = parse_controllers(&cfg.controllers)?;
    let ctx = runtime::Ctx::new(client.clone(), cfg);
    let factory = informer::InformerFactory::new(client);
    let mut starters: Vec<(&str, runtime::Starter)> = Vec::new();
    for name in &enabled {
        let s = match name.as_str() {
            "replicationcontroller" => replicaset::setup_rc(&ctx, &factory),
            "replicaset" => replicaset::setup_rs(&ctx, &factory),
            "deployment" => deployment::setup(&ctx, &factory),
            "daemonset" => daemonset::setup(&ctx, &factory),
            "statefulset" => statefulset::setup(&ctx, &factory),
            "job" => job::setup(&ctx, &factory),
            "cronjob" => cronjob::setup(&ctx, &factory),
            "namespace" => namespace::setup(&ctx, &factory),
            "garbagecollector" => garbagecollector::setup(&ctx, &factory),
            "nodelifecycle" => nodelifecycle::setup(&ctx, &factory),
            "podgc" => podgc::setup(&ctx, &factory),
            "persistentvolume-binder" => pvbinder::setup(&ctx, &factory),
            "endpoint" => endpoints::setup(&ctx, &factory),
            "endpointslice" => endpointslice::setup(&ctx, &factory),
            "serviceaccount" => serviceaccount::setup(&ctx, &factory),
            "root-ca-cert-publisher" => rootca::setup(&ctx, &factory),
            "ttl" => ttl::setup(&ctx, &factory),
            "resourcequota" => resourcequota::setup(&ctx, &factory),
            _ => continue,
        };
        starters.push((
            CONTROLLERS
                .iter()
                .find(|c| **c == name)
                .copied()
                .unwrap_or("?"),
            s,
        ));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut informer_tasks = factory.start();
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    // Controllers act only on complete caches (WaitForCacheSync).
    let synced = tokio::select! {
        _ = factory.wait_synced() => true,
        _ = &mut shutdown => false,
    };
    if synced {
        tracing::info!(controllers = ?enabled, "caches synced; starting controllers");
        for (name, s) in starters {
            tracing::debug!(controller = name, "starting");
            tasks.spawn(s(stop_rx.clone()));
        }
        shutdown.await;
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    for t in informer_tasks.drain(..) {
        t.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn controllers_flag_parses_like_kube_controller_manager() {
        let all: BTreeSet<String> = set(CONTROLLERS);
        let mut without_ns = all.clone();
        without_ns.remove("namespace");
        let cases: Vec<(&str, Result<BTreeSet<String>, Error>)> = vec![
            ("*", Ok(all.clone())),
            (" * ", Ok(all.clone())),
            ("*,-namespace", Ok(without_ns)),
            (
                "-namespace,*",
                Ok({
                    let mut s = all.clone();
                    s.remove("namespace");
                    s
                }),
            ),
            (
                "deployment,replicaset",
                Ok(set(&["deployment", "replicaset"])),
            ),
            ("*,deployment", Ok(all.clone())),
            (
                "*,-disruption,-ttl",
                Ok({
                    let mut s = all.clone();
                    s.remove("ttl");
                    s
                }),
            ),
            ("", Ok(BTreeSet::new())),
            ("-deployment", Ok(BTreeSet::new())),
            (
                "deploy",
                Err(Error::UnknownController {
                    name: "deploy".into(),
                    known: CONTROLLERS.join(", "),
                }),
            ),
            (
                "*,-bogus",
                Err(Error::UnknownController {
                    name: "bogus".into(),
                    known: CONTROLLERS.join(", "),
                }),
            ),
            (
                "disruption",
                Err(Error::NotImplemented("disruption".into())),
            ),
            ("job,-job", Err(Error::Contradictory("job".into()))),
            ("job,,podgc", Err(Error::EmptyEntry("job,,podgc".into()))),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_controllers(spec), want, "spec {spec:?}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = parse_controllers("deploymnet").unwrap_err().to_string();
        assert!(
            e.contains("\"deploymnet\"") && e.contains("deployment"),
            "{e}"
        );
    }
}
