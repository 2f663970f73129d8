//! Test helpers: an embedded master on loopback in a temporary directory,
//! a hollow fleet against it (each kubelet as `system:node:<name>`), and
//! an admin client to create, bind and delete pods.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hollow::{FleetConfig, NodeCredentials};
use master::server::{MasterConfig, RunningMaster};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Env {
    pub master: RunningMaster,
    pub dir: tempfile::TempDir,
    pub admin: kube::Client,
    pub config: kube::Config,
}

pub async fn master_at(data: &Path, listen: SocketAddr, ephemeral: bool) -> RunningMaster {
    let mut cfg = MasterConfig::new(data);
    cfg.listen = listen;
    cfg.ephemeral = ephemeral;
    master::server::start(cfg).await.expect("master starts")
}

pub async fn kube_config(master: &RunningMaster) -> kube::Config {
    hollow::config_from_yaml(&master.kubeconfig, None)
        .await
        .expect("kubeconfig")
}

/// An ephemeral master on a free port, with the default service account
/// and the root CA ConfigMap in `default` (the controllers' job).
pub async fn start() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = master_at(
        &dir.path().join("data"),
        "127.0.0.1:0".parse().unwrap(),
        true,
    )
    .await;
    env_for(master, dir).await
}

pub async fn env_for(master: RunningMaster, dir: tempfile::TempDir) -> Env {
    let config = kube_config(&master).await;
    let admin = kube::Client::try_from(config.clone()).expect("admin client");
    let env = Env {
        master,
        dir,
        admin,
        config,
    };
    env.ensure_namespace_basics("default").await;
    env
}

/// Node client certificates from the master's CA, as the lead wires them.
pub fn node_credentials(master: &RunningMaster) -> NodeCredentials {
    let pki = master.pki.clone();
    Arc::new(move |name: &str| {
        pki.issue_client_cert(&format!("system:node:{name}"), &["system:nodes"])
            .map_err(|e| e.to_string())
    })
}

/// Fast frequencies for tests: status every 500 ms, report every 5 s,
/// lease 4 s (renewed every second).
pub fn fast_config(env: &Env, nodes: usize) -> FleetConfig {
    FleetConfig {
        nodes,
        node_status_update_frequency: Duration::from_millis(500),
        node_status_report_frequency: Duration::from_secs(5),
        node_lease_duration: Duration::from_secs(4),
        npd_heartbeat_period: Duration::from_secs(5),
        proxy_min_sync_period: Duration::from_millis(100),
        node_credentials: Some(node_credentials(&env.master)),
        ..FleetConfig::default()
    }
}

impl Env {
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(
                "content-type",
                if method == "PATCH" {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                },
            )
            .body(
                body.map(|b| serde_json::to_vec(&b).unwrap())
                    .unwrap_or_default(),
            )
            .unwrap();
        self.admin
            .request_text(req)
            .await
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.request("GET", path, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn ensure_namespace_basics(&self, ns: &str) {
        if ns != "default" {
            let _ = self
                .request(
                    "POST",
                    "/api/v1/namespaces",
                    Some(
                        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                    ),
                )
                .await;
        }
        let _ = self
            .request(
                "POST",
                &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
                Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})),
            )
            .await;
        let _ = self
            .request(
                "POST",
                &format!("/api/v1/namespaces/{ns}/configmaps"),
                Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"},
                            "data": {"ca.crt": "test"}})),
            )
            .await;
    }

    /// Creates a pause pod (not yet bound).
    pub async fn create_pod(&self, ns: &str, name: &str, extra: Value) -> Value {
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "hollow-test"}},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9"}]},
        });
        merge(&mut pod, extra);
        self.request("POST", &format!("/api/v1/namespaces/{ns}/pods"), Some(pod))
            .await
            .unwrap_or_else(|e| panic!("create pod {name}: {e}"))
    }

    /// Binds a pod to a node, as the scheduler would.
    pub async fn bind(&self, ns: &str, name: &str, node: &str) {
        self.request(
            "POST",
            &format!("/api/v1/namespaces/{ns}/pods/{name}/binding"),
            Some(
                json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": node}}),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("bind {name} to {node}: {e}"));
    }

    /// kubectl-style delete (graceful, default grace period).
    pub async fn delete_pod(&self, ns: &str, name: &str) {
        self.request(
            "DELETE",
            &format!("/api/v1/namespaces/{ns}/pods/{name}"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("delete {name}: {e}"));
    }

    pub async fn pods(&self, ns: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/namespaces/{ns}/pods")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn nodes(&self) -> Vec<Value> {
        self.get("/api/v1/nodes").await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Requests counted by the master for clients whose user agent starts
    /// with `prefix`, as (verb, resource[/subresource]) -> count.
    pub fn requests(&self, prefix: &str) -> std::collections::BTreeMap<(String, String), u64> {
        let mut out = std::collections::BTreeMap::new();
        for (l, n) in self.master.metrics.client_requests(prefix) {
            let res = if l.subresource.is_empty() {
                l.resource.clone()
            } else {
                format!("{}/{}", l.resource, l.subresource)
            };
            *out.entry((l.verb.to_string(), res)).or_insert(0) += n;
        }
        out
    }
}

pub fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, e) => *b = e,
    }
}

pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

pub fn is_ready(obj: &Value) -> bool {
    condition(obj, "Ready").is_some_and(|c| c["status"] == "True")
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn reference(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}
