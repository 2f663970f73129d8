//! Test harness: an ephemeral embedded master on 127.0.0.1:0, the
//! controller manager running against it through kube-rs, and a tiny
//! "kubelet" that registers nodes, binds pods and marks them running.
#![allow(dead_code)]

use controllers::ControllerManagerConfig;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use std::future::Future;
use std::time::{Duration, Instant};

pub struct Cluster {
    pub master: master::server::RunningMaster,
    pub client: Client,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    cm: Option<tokio::task::JoinHandle<()>>,
}

pub async fn start() -> Cluster {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut ControllerManagerConfig)) -> Cluster {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = master::server::MasterConfig::new(dir.path().join("data"));
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.ephemeral = true;
    let master = master::server::start(cfg).await.expect("master starts");
    let kc = kube::config::Kubeconfig::from_yaml(&master.kubeconfig).expect("kubeconfig parses");
    let kcfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kube config");
    let client = Client::try_from(kcfg).expect("client");
    let mut cm_cfg = ControllerManagerConfig {
        root_ca_pem: master.pki.ca_pem().to_string(),
        node_monitor_period: Duration::from_millis(500),
        pod_gc_period: Duration::from_millis(500),
        pod_gc_orphan_quarantine: Duration::from_millis(500),
        ..Default::default()
    };
    tweak(&mut cm_cfg);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let c = client.clone();
    let cm = tokio::spawn(async move {
        controllers::run(c, cm_cfg, async move {
            let _ = rx.await;
        })
        .await
        .expect("controllers run");
    });
    Cluster {
        master,
        client,
        dir,
        stop: Some(tx),
        cm: Some(cm),
    }
}

impl Cluster {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(cm) = self.cm.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), cm).await;
        }
    }

    pub fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    pub fn cluster_api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope, DynamicType = ()>,
    {
        Api::all(self.client.clone())
    }

    pub async fn create<K>(&self, ns: &str, v: serde_json::Value) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let obj: K = serde_json::from_value(v).expect("valid object");
        self.api::<K>(ns)
            .create(&PostParams::default(), &obj)
            .await
            .expect("create")
    }

    pub async fn create_namespace(&self, name: &str) {
        let ns: k8s_openapi::api::core::v1::Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
        self.cluster_api::<k8s_openapi::api::core::v1::Namespace>()
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
    }

    /// Registers a Ready node with a fresh Lease, as a kubelet would.
    pub async fn add_node(&self, name: &str, labels: serde_json::Value) {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                     "lastHeartbeatTime": now, "lastTransitionTime": now},
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "ok",
                     "lastHeartbeatTime": now, "lastTransitionTime": now}
                ],
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}
            }
        }))
        .expect("node");
        let nodes = self.cluster_api::<Node>();
        let created = nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
        // Status may be dropped on create (status subresource): set it.
        nodes
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": node.status})),
            )
            .await
            .expect("node status");
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-node-lease",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": created.metadata.uid}]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()}
        }))
        .expect("lease");
        self.api::<Lease>("kube-node-lease")
            .create(&PostParams::default(), &lease)
            .await
            .expect("create lease");
    }

    pub async fn renew_lease(&self, node: &str) {
        self.api::<Lease>("kube-node-lease")
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"renewTime": micro_now()}})),
            )
            .await
            .expect("renew lease");
    }

    /// Posts Ready=True as a kubelet does when it comes back.
    pub async fn post_node_ready(&self, node: &str) {
        let nodes = self.cluster_api::<Node>();
        let mut n = nodes.get_status(node).await.expect("get node");
        let now = k8s_openapi::jiff::Timestamp::now();
        if let Some(conds) = n.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            for c in conds.iter_mut() {
                c.status = if c.type_ == "Ready" {
                    "True".into()
                } else {
                    "False".into()
                };
                c.reason = Some(if c.type_ == "Ready" {
                    "KubeletReady".into()
                } else {
                    "KubeletHasSufficientMemory".into()
                });
                c.last_heartbeat_time =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
            }
        }
        nodes
            .replace_status(node, &PostParams::default(), &n)
            .await
            .expect("node status");
    }

    pub async fn delete_node(&self, name: &str) {
        self.cluster_api::<Node>()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete node");
    }

    pub async fn pods(&self, ns: &str, selector: &str) -> Vec<Pod> {
        self.api::<Pod>(ns)
            .list(&ListParams::default().labels(selector))
            .await
            .expect("list pods")
            .items
    }

    /// Binds a pod to a node (what the scheduler does).
    pub async fn bind(&self, pod: &Pod, node: &str) {
        let ns = pod.metadata.namespace.clone().expect("ns");
        let name = pod.metadata.name.clone().expect("name");
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        let api: Api<Pod> = self.api(&ns);
        let r: Result<serde_json::Value, _> = api
            .create_subresource("binding", &name, &PostParams::default(), &binding)
            .await;
        if let Err(e) = r {
            // Already bound (e.g. by a concurrent helper) is fine.
            assert!(
                matches!(&e, kube::Error::Api(s) if s.code == 409),
                "bind {name}: {e}"
            );
        }
    }

    /// Marks a pod Running and Ready (what a kubelet reports).
    pub async fn mark_running(&self, pod: &Pod, ready: bool) {
        let ns = pod.metadata.namespace.clone().expect("ns");
        let name = pod.metadata.name.clone().expect("name");
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let ip = format!(
            "10.64.{}.{}",
            fastrand_octet(&name, 0),
            fastrand_octet(&name, 1)
        );
        let status = if ready { "True" } else { "False" };
        self.api::<Pod>(&ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.0.0.1", "startTime": now,
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": status, "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": status, "lastTransitionTime": now},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
                ]}})))
            .await
            .expect("pod status");
    }

    pub async fn mark_phase(&self, pod: &Pod, phase: &str) {
        let ns = pod.metadata.namespace.clone().expect("ns");
        let name = pod.metadata.name.clone().expect("name");
        self.api::<Pod>(&ns)
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": phase}})),
            )
            .await
            .expect("pod phase");
    }

    /// Acts as scheduler + kubelet for matching pods: binds unbound pods to
    /// `node`, marks them running and ready, and finishes graceful
    /// deletions. Returns the live pods.
    pub async fn kubelet_pass(&self, ns: &str, selector: &str, node: &str) -> Vec<Pod> {
        let mut live = Vec::new();
        for p in self.pods(ns, selector).await {
            if p.metadata.deletion_timestamp.is_some() {
                let name = p.metadata.name.clone().expect("name");
                let _ = self
                    .api::<Pod>(ns)
                    .delete(
                        &name,
                        &DeleteParams {
                            grace_period_seconds: Some(0),
                            ..Default::default()
                        },
                    )
                    .await;
                continue;
            }
            let bound = p.spec.as_ref().and_then(|s| s.node_name.clone());
            if bound.is_none() {
                let target = daemon_target(&p).unwrap_or_else(|| node.to_string());
                self.bind(&p, &target).await;
            }
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let phase = p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if !ready && phase != "Succeeded" && phase != "Failed" {
                self.mark_running(&p, true).await;
            }
            live.push(p);
        }
        live
    }
}

/// The node a DaemonSet pod is pinned to by its matchFields affinity.
pub fn daemon_target(p: &Pod) -> Option<String> {
    let terms = &p
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields
            .as_ref()?
            .iter()
            .find(|f| f.key == "metadata.name")
            .and_then(|f| f.values.as_ref()?.first().cloned())
    })
}

fn fastrand_octet(name: &str, salt: u32) -> u32 {
    let mut h: u32 = 2166136261 ^ salt;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    1 + h % 250
}

fn micro_now() -> String {
    let t = k8s_openapi::jiff::Timestamp::now();
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub const LONG: Duration = Duration::from_secs(30);
