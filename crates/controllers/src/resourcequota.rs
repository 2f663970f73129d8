//! The ResourceQuota controller (kube-controller-manager's
//! `resourcequota`): keeps every quota's `status.hard` equal to
//! `spec.hard` and `status.used` to what its namespace uses of each
//! resource listed there, recalculated when objects change and every
//! resync period. Admission does not enforce quotas in kubemark.
//!
//! Tracked as the real evaluators do: `pods` / `count/pods` and
//! `requests.*` / `limits.*` (plain `cpu`, `memory`, `ephemeral-storage`
//! meaning requests) over non-terminal pods, with the quota scopes
//! `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort` and
//! `PriorityClass`; `services`, `services.loadbalancers`,
//! `services.nodeports`; `persistentvolumeclaims`, `requests.storage` and
//! their `<class>.storageclass.storage.k8s.io/` forms; and object counts
//! (`configmaps`, `secrets`, `replicationcontrollers`, `resourcequotas`,
//! `count/<resource>[.<group>]` for the kinds the controller manager
//! watches).

use crate::informer::{Cached, Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::Done;
use crate::util;
use apimachinery::quantity::{Format, Quantity};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, Pod, ResourceQuota, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// A running sum of quantities, formatted like the first non-zero addend
/// (as `Quantity.Add` onto a zero value does).
#[derive(Debug, Clone, Copy)]
struct Sum {
    nanos: i128,
    format: Option<Format>,
}

impl Sum {
    fn new() -> Sum {
        Sum {
            nanos: 0,
            format: None,
        }
    }

    fn add(&mut self, q: Quantity) {
        if self.nanos == 0 && !q.is_zero() {
            self.format = Some(q.format());
        }
        self.nanos += q.nanos();
    }

    fn quantity(self) -> Quantity {
        Quantity::from_nanos(self.nanos, self.format.unwrap_or(Format::DecimalSI))
    }
}

fn count(n: usize) -> Quantity {
    Quantity::from_value(i64::try_from(n).unwrap_or(i64::MAX), Format::DecimalSI)
}

/// `QuotaV1Pod`: terminal pods, and pods stuck past their deletion grace,
/// use no quota.
pub fn pod_counts(pod: &Pod, now: Timestamp) -> bool {
    if util::is_pod_terminal(pod) {
        return false;
    }
    if let (Some(ts), Some(grace)) = (
        pod.metadata.deletion_timestamp.as_ref(),
        pod.metadata.deletion_grace_period_seconds,
    ) {
        if now > util::add_secs(ts.0, grace) {
            return false;
        }
    }
    true
}

fn parse(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> Option<Quantity> {
    Quantity::parse(&q.0).ok()
}

/// One container's request (or limit) of `resource`; a request falls back
/// to the limit as API defaulting makes it.
fn container_amount(c: &Container, resource: &str, limits: bool) -> Option<Quantity> {
    let r = c.resources.as_ref()?;
    let get = |m: &Option<
        BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >| { m.as_ref()?.get(resource).and_then(parse) };
    if limits {
        get(&r.limits)
    } else {
        get(&r.requests).or_else(|| get(&r.limits))
    }
}

/// `PodRequests` / `PodLimits` for one resource: the containers' sum, at
/// least the largest init container, plus the pod overhead.
pub fn pod_amount(pod: &Pod, resource: &str, limits: bool) -> Quantity {
    let mut sum = Sum::new();
    let Some(spec) = pod.spec.as_ref() else {
        return sum.quantity();
    };
    for c in &spec.containers {
        if let Some(q) = container_amount(c, resource, limits) {
            sum.add(q);
        }
    }
    for c in spec.init_containers.iter().flatten() {
        if let Some(q) = container_amount(c, resource, limits) {
            if q.nanos() > sum.nanos {
                sum = Sum::new();
                sum.add(q);
            }
        }
    }
    if let Some(q) = spec
        .overhead
        .as_ref()
        .and_then(|o| o.get(resource))
        .and_then(parse)
    {
        sum.add(q);
    }
    sum.quantity()
}

fn best_effort(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .all(|c| {
            ["cpu", "memory"].iter().all(|r| {
                container_amount(c, r, false).is_none() && container_amount(c, r, true).is_none()
            })
        })
}

/// A scope requirement (`scopes` entries are `Exists` requirements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub name: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// The quota's scopes and scope selector as requirements.
pub fn scopes(quota: &ResourceQuota) -> Vec<Scope> {
    let spec = quota.spec.clone().unwrap_or_default();
    let mut out: Vec<Scope> = spec
        .scopes
        .unwrap_or_default()
        .into_iter()
        .map(|name| Scope {
            name,
            operator: "Exists".into(),
            values: Vec::new(),
        })
        .collect();
    for r in spec
        .scope_selector
        .and_then(|s| s.match_expressions)
        .unwrap_or_default()
    {
        out.push(Scope {
            name: r.scope_name,
            operator: r.operator,
            values: r.values.unwrap_or_default(),
        });
    }
    out
}

/// Whether a pod falls within one scope.
pub fn pod_in_scope(pod: &Pod, scope: &Scope) -> bool {
    let spec = pod.spec.clone().unwrap_or_default();
    match scope.name.as_str() {
        "Terminating" => spec.active_deadline_seconds.is_some_and(|d| d >= 0),
        "NotTerminating" => spec.active_deadline_seconds.is_none_or(|d| d < 0),
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = spec.priority_class_name.unwrap_or_default();
            match scope.operator.as_str() {
                "In" => scope.values.contains(&class),
                "NotIn" => !scope.values.contains(&class),
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                _ => false,
            }
        }
        // CrossNamespacePodAffinity and unknown scopes: not evaluated.
        _ => false,
    }
}

/// What a namespace holds, for [`used`].
pub struct Namespace<'a> {
    pub pods: &'a [Arc<Pod>],
    pub services: &'a [Arc<Service>],
    pub claims: &'a [Arc<PersistentVolumeClaim>],
    /// The default StorageClass, which a claim naming none is charged to
    /// (the real server's admission writes it into the claim).
    pub default_class: Option<&'a str>,
    /// Objects of a counted resource (`configmaps`, `deployments.apps`),
    /// `None` for a resource that is not tracked.
    pub count: &'a dyn Fn(&str) -> Option<usize>,
}

fn claim_class(c: &PersistentVolumeClaim, default: Option<&str>) -> String {
    c.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .or_else(|| default.map(str::to_string))
        .unwrap_or_default()
}

fn claim_request(c: &PersistentVolumeClaim) -> Option<Quantity> {
    c.spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .and_then(parse)
}

/// `status.used` for every resource of `spec.hard` the controller tracks.
pub fn used(quota: &ResourceQuota, ns: &Namespace, now: Timestamp) -> BTreeMap<String, Quantity> {
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let scopes = scopes(quota);
    let pods: Vec<&Arc<Pod>> = ns
        .pods
        .iter()
        .filter(|p| pod_counts(p, now) && scopes.iter().all(|s| pod_in_scope(p, s)))
        .collect();
    let sum_pods = |resource: &str, limits: bool| {
        let mut s = Sum::new();
        for p in &pods {
            let a = pod_amount(p, resource, limits);
            if !a.is_zero() {
                s.add(a);
            }
        }
        s.quantity()
    };
    let mut out = BTreeMap::new();
    for name in hard.keys() {
        let pod_value = match name.as_str() {
            "pods" | "count/pods" => Some(count(pods.len())),
            "cpu" | "memory" | "ephemeral-storage" => Some(sum_pods(name, false)),
            n => n
                .strip_prefix("requests.")
                .filter(|r| *r != "storage")
                .map(|r| sum_pods(r, false))
                .or_else(|| n.strip_prefix("limits.").map(|r| sum_pods(r, true))),
        };
        if let Some(v) = pod_value {
            out.insert(name.clone(), v);
            continue;
        }
        // Other evaluators do not support scopes.
        if !scopes.is_empty() {
            continue;
        }
        let value = match name.as_str() {
            "services" | "count/services" => Some(count(ns.services.len())),
            "services.loadbalancers" => Some(count(
                ns.services
                    .iter()
                    .filter(|s| service_type(s) == "LoadBalancer")
                    .count(),
            )),
            "services.nodeports" => Some(count(
                ns.services
                    .iter()
                    .filter(|s| matches!(service_type(s), "NodePort" | "LoadBalancer"))
                    .map(|s| {
                        s.spec
                            .as_ref()
                            .and_then(|sp| sp.ports.as_ref())
                            .map_or(0, Vec::len)
                    })
                    .sum(),
            )),
            "persistentvolumeclaims" | "count/persistentvolumeclaims" => {
                Some(count(ns.claims.len()))
            }
            "requests.storage" => Some(storage_sum(ns.claims.iter())),
            n => match n.split_once(STORAGE_CLASS_SUFFIX) {
                Some((class, what)) => {
                    let of_class = ns
                        .claims
                        .iter()
                        .filter(|c| claim_class(c, ns.default_class) == class);
                    match what {
                        "requests.storage" => Some(storage_sum(of_class)),
                        "persistentvolumeclaims" => Some(count(of_class.count())),
                        _ => None,
                    }
                }
                None => {
                    let resource = n.strip_prefix("count/").unwrap_or(n);
                    (ns.count)(resource).map(count)
                }
            },
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    out
}

fn service_type(s: &Service) -> &str {
    s.spec
        .as_ref()
        .and_then(|sp| sp.type_.as_deref())
        .unwrap_or("ClusterIP")
}

fn storage_sum<'a>(claims: impl Iterator<Item = &'a Arc<PersistentVolumeClaim>>) -> Quantity {
    let mut s = Sum::new();
    for c in claims {
        if let Some(q) = claim_request(c) {
            s.add(q);
        }
    }
    s.quantity()
}

/// The status merge patch that makes `status` {hard, used} current, or
/// `None` when it already is. Keys that went away are removed.
pub fn status_patch(quota: &ResourceQuota, used: &BTreeMap<String, Quantity>) -> Option<Value> {
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let status = quota.status.clone().unwrap_or_default();
    let old_hard = status.hard.unwrap_or_default();
    let old_used = status.used.unwrap_or_default();
    let same = |a: &k8s_openapi::apimachinery::pkg::api::resource::Quantity, b: &Quantity| {
        parse(a).is_some_and(|a| a.nanos() == b.nanos())
    };
    let hard_same = old_hard.len() == hard.len()
        && hard
            .iter()
            .all(|(k, v)| old_hard.get(k).is_some_and(|o| o.0 == v.0));
    let used_same = old_used.len() == used.len()
        && used
            .iter()
            .all(|(k, v)| old_used.get(k).is_some_and(|o| same(o, v)));
    if hard_same && used_same {
        return None;
    }
    let mut h = Map::new();
    for k in old_hard.keys() {
        h.insert(k.clone(), Value::Null);
    }
    for (k, v) in &hard {
        h.insert(k.clone(), json!(v.0));
    }
    let mut u = Map::new();
    for k in old_used.keys() {
        u.insert(k.clone(), Value::Null);
    }
    for (k, v) in used {
        u.insert(k.clone(), json!(v.canonical()));
    }
    Some(json!({"hard": h, "used": u}))
}

/// Counts objects of one kind per namespace from its informer.
type Counter = Box<dyn Fn(&str) -> usize + Send + Sync>;

pub struct ResourceQuotaController {
    ctx: Ctx,
    quotas: Arc<Informer<ResourceQuota>>,
    pods: Arc<Informer<Pod>>,
    services: Arc<Informer<Service>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    classes: Arc<Informer<StorageClass>>,
    /// resource name (`configmaps`, `deployments.apps`) -> counter.
    counters: Arc<HashMap<String, Counter>>,
    /// When each quota's periodic recalculation is due.
    resync: HashMap<String, Instant>,
}

/// A namespace whose objects changed: its quotas are recalculated.
pub struct Msg {
    namespace: String,
    /// The quota itself changed (its key), or None for other objects.
    quota: Option<String>,
}

fn watch<K: Cached>(
    factory: &InformerFactory,
    tx: &tokio::sync::mpsc::UnboundedSender<Msg>,
    names: &[&str],
    counters: &mut HashMap<String, Counter>,
) -> Arc<Informer<K>> {
    let inf = factory.get::<K>();
    let tx = tx.clone();
    inf.subscribe(move |c: &Change<K>| {
        let meta = c.object().meta();
        let _ = tx.send(Msg {
            namespace: meta.namespace.clone().unwrap_or_default(),
            quota: None,
        });
    });
    for n in names {
        let i = inf.clone();
        counters.insert(
            n.to_string(),
            Box::new(move |ns: &str| i.list_namespace(ns).len()),
        );
    }
    inf
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    let wiring = runtime::Wiring::new();
    let quotas = factory.get::<ResourceQuota>();
    runtime::forward(&quotas, &wiring.tx, |c: Change<ResourceQuota>| {
        let m = &c.object().metadata;
        Msg {
            namespace: m.namespace.clone().unwrap_or_default(),
            quota: Some(util::meta_key(m)),
        }
    });
    let mut counters: HashMap<String, Counter> = HashMap::new();
    let tx = &wiring.tx;
    let pods = watch::<Pod>(factory, tx, &[], &mut counters);
    let services = watch::<Service>(factory, tx, &[], &mut counters);
    let claims = watch::<PersistentVolumeClaim>(factory, tx, &[], &mut counters);
    watch::<core::ConfigMap>(factory, tx, &["configmaps"], &mut counters);
    watch::<core::Secret>(factory, tx, &["secrets"], &mut counters);
    watch::<core::ReplicationController>(factory, tx, &["replicationcontrollers"], &mut counters);
    watch::<core::Endpoints>(factory, tx, &["endpoints"], &mut counters);
    watch::<core::ServiceAccount>(factory, tx, &["serviceaccounts"], &mut counters);
    watch::<apps::Deployment>(factory, tx, &["deployments.apps"], &mut counters);
    watch::<apps::ReplicaSet>(factory, tx, &["replicasets.apps"], &mut counters);
    watch::<apps::StatefulSet>(factory, tx, &["statefulsets.apps"], &mut counters);
    watch::<apps::DaemonSet>(factory, tx, &["daemonsets.apps"], &mut counters);
    watch::<apps::ControllerRevision>(factory, tx, &["controllerrevisions.apps"], &mut counters);
    watch::<batch::Job>(factory, tx, &["jobs.batch"], &mut counters);
    watch::<batch::CronJob>(factory, tx, &["cronjobs.batch"], &mut counters);
    let classes = factory.get::<StorageClass>();
    let q = quotas.clone();
    counters.insert(
        "resourcequotas".into(),
        Box::new(move |ns: &str| q.list_namespace(ns).len()),
    );
    let r = ResourceQuotaController {
        ctx: ctx.clone(),
        quotas,
        pods,
        services,
        claims,
        classes,
        counters: Arc::new(counters),
        resync: HashMap::new(),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

impl Reconciler for ResourceQuotaController {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg.quota {
            Some(key) => q.add(key),
            None => {
                for quota in self.quotas.list_namespace(&msg.namespace) {
                    q.add(util::meta_key(&quota.metadata));
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let quota = self.quotas.get_key(key)?;
        let ns_name = quota.metadata.namespace.clone().unwrap_or_default();
        let pods = self.pods.list_namespace(&ns_name);
        let services = self.services.list_namespace(&ns_name);
        let claims = self.claims.list_namespace(&ns_name);
        let counters = self.counters.clone();
        let count_ns = ns_name.clone();
        let count = move |resource: &str| {
            let f = counters.get(resource)?;
            Some(f(&count_ns))
        };
        let classes = self.classes.list();
        let default_class =
            crate::pvbinder::default_class(&classes).and_then(|c| c.metadata.name.as_deref());
        let ns = Namespace {
            pods: &pods,
            services: &services,
            claims: &claims,
            default_class,
            count: &count,
        };
        let used = used(&quota, &ns, util::now());
        let resync = self.ctx.config.resource_quota_sync_period;
        let patch = status_patch(&quota, &used);
        let ctx = self.ctx.clone();
        let name = quota.metadata.name.clone().unwrap_or_default();
        Some(Box::pin(async move {
            let mut done = Done::new(Some(resync));
            if let Some(st) = patch {
                let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &ns_name);
                let r = ctx
                    .call(api.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": st })),
                    ))
                    .await
                    .map(|_| ());
                done.status_patched(&r);
            }
            done
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        crate::sync::retry_or_forget(q, key, !done.failed());
        let now = Instant::now();
        self.resync.retain(|_, due| *due > now);
        if let Some(after) = done.requeue_after {
            if self.quotas.get_key(key).is_some() && !self.resync.contains_key(key) {
                self.resync.insert(key.to_string(), now + after);
                q.add_after(key, after);
            }
        }
    }
}

/// The default `--resource-quota-sync-period`.
pub const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, extra: Value) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "pause",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}}]},
            "status": {"phase": "Running"}
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn quota(hard: Value, extra: Value) -> ResourceQuota {
        let mut v = json!({"metadata": {"name": "q", "namespace": "ns"}, "spec": {"hard": hard}});
        merge(&mut v, extra);
        serde_json::from_value(v).unwrap()
    }

    fn strings(m: &BTreeMap<String, Quantity>) -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (k.clone(), v.canonical())).collect()
    }

    #[test]
    fn usage_of_a_namespace() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let pods = vec![
            pod("a", json!({})),
            pod("b", json!({})),
            pod("done", json!({"status": {"phase": "Succeeded"}})),
            pod("failed", json!({"status": {"phase": "Failed"}})),
            // Stuck terminating past its grace: not charged.
            pod(
                "stuck",
                json!({"metadata": {"deletionTimestamp": "2024-05-01T09:00:00Z", "deletionGracePeriodSeconds": 30}}),
            ),
            // Still within its grace: charged.
            pod(
                "leaving",
                json!({"metadata": {"deletionTimestamp": "2024-05-01T10:00:10Z", "deletionGracePeriodSeconds": 30}}),
            ),
            // Requests default to limits; init containers raise the floor.
            pod(
                "init",
                json!({"spec": {
                "containers": [{"name": "c", "image": "pause", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
                "initContainers": [{"name": "i", "image": "pause", "resources": {"requests": {"cpu": "2"}}}]}}),
            ),
        ];
        let services: Vec<Arc<Service>> = vec![
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "s1"}, "spec": {"ports": [{"port": 80}]}})).unwrap()),
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "s2"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}})).unwrap()),
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "s3"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})).unwrap()),
        ];
        let claims: Vec<Arc<PersistentVolumeClaim>> = vec![
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "c1"}, "spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1Gi"}}}})).unwrap()),
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "c2"}, "spec": {"resources": {"requests": {"storage": "500Mi"}}}})).unwrap()),
        ];
        let count = |r: &str| match r {
            "configmaps" => Some(4),
            "secrets" => Some(2),
            "deployments.apps" => Some(1),
            _ => None,
        };
        let ns = Namespace {
            pods: &pods,
            services: &services,
            claims: &claims,
            default_class: Some("gold"),
            count: &count,
        };
        let q = quota(
            json!({"pods": "10", "count/pods": "10", "requests.cpu": "4", "cpu": "4", "requests.memory": "4Gi",
                "limits.cpu": "8", "limits.memory": "8Gi", "services": "5", "services.nodeports": "5",
                "services.loadbalancers": "1", "configmaps": "10", "count/configmaps": "10", "secrets": "10",
                "count/deployments.apps": "3", "persistentvolumeclaims": "5", "requests.storage": "10Gi",
                "gold.storageclass.storage.k8s.io/requests.storage": "5Gi",
                "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "2",
                "count/widgets.example.com": "1"}),
            json!({}),
        );
        let got = strings(&used(&q, &ns, now));
        let want: BTreeMap<String, String> = [
            ("pods", "4"),
            ("count/pods", "4"),
            // a, b, leaving: 100m each; init: max(1 from limit, init 2) = 2.
            ("requests.cpu", "2300m"),
            ("cpu", "2300m"),
            ("requests.memory", "1216Mi"),
            ("limits.cpu", "1600m"),
            ("limits.memory", "1408Mi"),
            ("services", "3"),
            ("services.nodeports", "3"),
            ("services.loadbalancers", "1"),
            ("configmaps", "4"),
            ("count/configmaps", "4"),
            ("secrets", "2"),
            ("count/deployments.apps", "1"),
            ("persistentvolumeclaims", "2"),
            ("requests.storage", "1524Mi"),
            // The claim naming no class is charged to the default (gold).
            (
                "gold.storageclass.storage.k8s.io/requests.storage",
                "1524Mi",
            ),
            (
                "gold.storageclass.storage.k8s.io/persistentvolumeclaims",
                "2",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn scopes_select_pods() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let pods = vec![
            pod("plain", json!({})),
            pod("deadline", json!({"spec": {"activeDeadlineSeconds": 60}})),
            pod(
                "besteffort",
                json!({"spec": {"containers": [{"name": "c", "image": "pause"}]}}),
            ),
            pod("high", json!({"spec": {"priorityClassName": "high"}})),
        ];
        let none = |_: &str| Some(7);
        let ns = Namespace {
            pods: &pods,
            services: &[],
            claims: &[],
            default_class: None,
            count: &none,
        };
        let cases = [
            (json!({"spec": {"scopes": ["Terminating"]}}), "1"),
            (json!({"spec": {"scopes": ["NotTerminating"]}}), "3"),
            (json!({"spec": {"scopes": ["BestEffort"]}}), "1"),
            (
                json!({"spec": {"scopes": ["NotBestEffort", "NotTerminating"]}}),
                "2",
            ),
            (
                json!({"spec": {"scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}),
                "1",
            ),
            (
                json!({"spec": {"scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "DoesNotExist"}]}}}),
                "3",
            ),
        ];
        for (extra, want) in cases {
            let q = quota(json!({"pods": "10", "configmaps": "5"}), extra.clone());
            let got = strings(&used(&q, &ns, now));
            assert_eq!(got.get("pods").map(String::as_str), Some(want), "{extra}");
            assert!(
                !got.contains_key("configmaps"),
                "scoped quotas track pods only: {extra}"
            );
        }
    }

    #[test]
    fn status_is_patched_only_when_stale() {
        let q = quota(json!({"pods": "10", "secrets": "3"}), json!({}));
        let used: BTreeMap<String, Quantity> = [
            ("pods".to_string(), Quantity::parse("2").unwrap()),
            ("secrets".to_string(), Quantity::parse("0").unwrap()),
        ]
        .into();
        let p = status_patch(&q, &used).unwrap();
        assert_eq!(
            p,
            json!({"hard": {"pods": "10", "secrets": "3"}, "used": {"pods": "2", "secrets": "0"}})
        );
        let current = quota(
            json!({"pods": "10", "secrets": "3"}),
            json!({"status": {"hard": {"pods": "10", "secrets": "3"}, "used": {"pods": "2", "secrets": "0"}}}),
        );
        assert_eq!(status_patch(&current, &used), None);
        // A resource dropped from spec.hard leaves status too.
        let shrunk = quota(
            json!({"pods": "10"}),
            json!({"status": {"hard": {"pods": "10", "secrets": "3"}, "used": {"pods": "2", "secrets": "0"}}}),
        );
        let only_pods: BTreeMap<String, Quantity> =
            [("pods".to_string(), Quantity::parse("2").unwrap())].into();
        assert_eq!(
            status_patch(&shrunk, &only_pods),
            Some(
                json!({"hard": {"pods": "10", "secrets": null}, "used": {"pods": "2", "secrets": null}})
            )
        );
    }
}
