//! The `external` hollow-node provider end to end: two embedded masters in
//! this process, one the kubemark master and one standing in for the
//! external cluster (it has no nodes, so its hollow-node pods stay
//! Pending). The test creates the provider's objects on the external one,
//! then runs one pod's container as a local process exactly as the
//! StatefulSet says, and checks that its nodes join the kubemark master.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/pod.rs"]
mod pod;
use pod::{run_pod, PodProcess};

use cluster::external::{self, External, ExternalSpec, PullPolicy};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret};
use kube::api::{Api, DeleteParams};
use master::server::MasterConfig;
use std::path::Path;
use std::time::{Duration, Instant};

async fn start_master(dir: &Path) -> cluster::ControlPlane {
    let mut m = MasterConfig::new(dir.to_path_buf());
    m.listen = "127.0.0.1:0".parse().unwrap();
    m.ephemeral = true;
    cluster::start(cluster::ControlPlaneConfig::new(m))
        .await
        .expect("control plane starts")
}

fn ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until the master's nodes are exactly `names`, all Ready.
async fn wait_for_nodes(client: &kube::Client, names: &[&str], proc_: &PodProcess) -> Vec<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let list = nodes.list(&Default::default()).await.unwrap().items;
        let mut got: Vec<&str> = list
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        got.sort();
        if got == names && list.iter().all(ready) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "nodes {got:?} (want {names:?} Ready); hollow-node output:\n{}",
            proc_.output()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn internal_ip(n: &Node) -> String {
    n.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map(|a| a.address.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_hollow_node_pod_runs_as_specified() {
    let tmp = tempfile::tempdir().unwrap();
    let kubemark_master = start_master(&tmp.path().join("kubemark")).await;
    let external_cluster = start_master(&tmp.path().join("external")).await;
    let kubemark = kubemark_master
        .client_for("test-admin", &["system:masters"])
        .await
        .unwrap();
    let ext = External::new(
        external_cluster
            .client_for("test-admin", &["system:masters"])
            .await
            .unwrap(),
        external_cluster.master.url.clone(),
    );
    // Loopback: the local process plays a pod that can reach the master.
    let spec = ExternalSpec {
        nodes_per_pod: 2,
        hollow_args: vec!["--node-labels=kubemark-test=external".into()],
        image_pull_policy: PullPolicy::Never,
        ..ExternalSpec::new("kubemark:test", kubemark_master.master.url.clone())
    };
    let hollow_kubeconfig = kubemark_master.master.kubeconfig.clone();
    let ns = spec.namespace.clone();

    // N=5, K=2: three pods.
    let m = external::manifests(&spec, 5, &hollow_kubeconfig).unwrap();
    external::apply(&ext, &m).await.unwrap();
    external::apply(&ext, &m)
        .await
        .expect("apply is idempotent");

    let c = ext.client.clone();
    let namespace = Api::<Namespace>::all(c.clone()).get(&ns).await.unwrap();
    assert!(namespace.metadata.deletion_timestamp.is_none());
    let secret = Api::<Secret>::namespaced(c.clone(), &ns)
        .get(external::SECRET_NAME)
        .await
        .unwrap();
    let kc = String::from_utf8(secret.data.unwrap()[external::SECRET_KEY].0.clone()).unwrap();
    let kc: serde_yaml::Value = serde_yaml::from_str(&kc).unwrap();
    assert_eq!(
        kc["clusters"][0]["cluster"]["server"].as_str(),
        Some(spec.master_url.as_str())
    );
    let cm = Api::<ConfigMap>::namespaced(c.clone(), &ns)
        .get(external::CONFIG_MAP_NAME)
        .await
        .unwrap();
    assert_eq!(
        cm.data.unwrap()[external::ARGS_FILE],
        "--nodes-per-pod=2\n--total-nodes=5\n--node-labels=kubemark-test=external\n"
    );
    let sts = Api::<StatefulSet>::namespaced(c.clone(), &ns)
        .get(external::HOLLOW_NODE)
        .await
        .unwrap();
    let sts_json = serde_json::to_value(&sts).unwrap();
    let s = &sts_json["spec"];
    assert_eq!(s["replicas"], 3);
    assert_eq!(s["podManagementPolicy"], "Parallel");
    assert_eq!(s["selector"]["matchLabels"]["name"], "hollow-node");
    let container = &s["template"]["spec"]["containers"][0];
    assert_eq!(container["command"][0], "/usr/local/bin/kubemark");
    assert_eq!(container["image"], "kubemark:test");
    assert_eq!(container["imagePullPolicy"], "Never");
    assert_eq!(
        s["template"]["spec"]["tolerations"][0]["key"],
        "node.kubernetes.io/unreachable"
    );

    // The external cluster's StatefulSet controller creates the pods; with
    // no nodes there the scheduler reports them unschedulable, which the
    // provider reports by name and reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let problems = loop {
        let p = external::failing_pods(&ext, &ns).await.unwrap();
        if p.len() == 3 {
            break p;
        }
        assert!(Instant::now() < deadline, "failing pods: {p:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let names: Vec<&str> = problems.iter().map(|p| p.pod.as_str()).collect();
    assert_eq!(names, ["hollow-node-0", "hollow-node-1", "hollow-node-2"]);
    assert!(
        problems.iter().all(|p| p.reason == "Unschedulable"),
        "{problems:?}"
    );
    let loc = external::locate(&ext, &ns, "hollow-node-1").await.unwrap();
    assert_eq!(
        (loc.namespace.as_str(), loc.pod.as_str(), loc.phase.as_str()),
        (ns.as_str(), "hollow-node-1", "Pending")
    );
    assert_eq!(loc.node, None);
    let e = external::locate(&ext, &ns, "hollow-node-9")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hollow-node-9") && e.contains(&external_cluster.master.url),
        "{e}"
    );

    // No kubelet runs the pod on the external cluster here, so its log
    // cannot be read; the error names the pod and the cluster.
    let e = match external::logs(&ext, &ns, "hollow-node-1", false).await {
        Ok(_) => panic!("a Pending pod has no log"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("log of pod kubemark/hollow-node-1") && e.contains(&external_cluster.master.url),
        "{e}"
    );

    // Pod hollow-node-1 runs nodes 2 and 3.
    let root1 = tmp.path().join("pod-1");
    let proc1 = run_pod(&ext, &ns, "hollow-node-1", &root1).await;
    let nodes = wait_for_nodes(&kubemark, &["hollow-node-2", "hollow-node-3"], &proc1).await;
    for n in &nodes {
        let name = n.metadata.name.as_deref().unwrap();
        let i: u32 = name.rsplit('-').next().unwrap().parse().unwrap();
        assert_eq!(internal_ip(n), format!("10.0.0.{}", 2 + i), "{name}");
        assert_eq!(
            n.metadata.labels.as_ref().unwrap()["kubemark-test"],
            "external"
        );
        assert_eq!(
            external::pod_for_node(n).as_deref(),
            Some("hollow-node-1"),
            "{name}"
        );
    }

    // Pod IPs come from the node's pod CIDR, the i-th /24 of 10.64.0.0/11.
    let test_pods: Api<Pod> = Api::namespaced(kubemark.clone(), "default");
    for i in [2, 3] {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("on-{i}")},
            "spec": {"nodeName": format!("hollow-node-{i}"),
                     "containers": [{"name": "c", "image": "pause"}]}
        }))
        .unwrap();
        test_pods.create(&Default::default(), &pod).await.unwrap();
    }
    for i in [2, 3] {
        let deadline = Instant::now() + Duration::from_secs(30);
        let ip = loop {
            let p = test_pods.get(&format!("on-{i}")).await.unwrap();
            if let Some(ip) = p.status.and_then(|s| s.pod_ip) {
                break ip;
            }
            assert!(Instant::now() < deadline, "pod on-{i} got no IP");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert!(
            ip.starts_with(&format!("10.64.{i}.")),
            "pod on hollow-node-{i}: {ip}"
        );
    }
    for i in [2, 3] {
        test_pods
            .delete(&format!("on-{i}"), &DeleteParams::default().grace_period(0))
            .await
            .unwrap();
    }

    // Scale to 3 nodes: pod 2 goes, pod 1 keeps node 2 only, nodes 3 and 4
    // go away.
    let pods: Api<Pod> = Api::namespaced(c.clone(), &ns);
    let uid_before = pods.get("hollow-node-1").await.unwrap().metadata.uid;
    let change = external::scale(&ext, &spec, 3, &hollow_kubeconfig)
        .await
        .unwrap();
    assert_eq!(change.plan.removed, [3, 4]);
    assert_eq!(change.removed_nodes, ["hollow-node-3", "hollow-node-4"]);
    assert_eq!(change.plan.restart, ["hollow-node-1"]);
    assert_eq!((change.plan.pods_before, change.plan.pods_after), (3, 2));
    let sts = Api::<StatefulSet>::namespaced(c.clone(), &ns)
        .get(external::HOLLOW_NODE)
        .await
        .unwrap();
    assert_eq!(sts.spec.unwrap().replicas, Some(2));
    let cm = Api::<ConfigMap>::namespaced(c.clone(), &ns)
        .get(external::CONFIG_MAP_NAME)
        .await
        .unwrap();
    assert!(cm.data.unwrap()[external::ARGS_FILE].contains("--total-nodes=3\n"));
    // The StatefulSet controller recreates the deleted pod (new UID) and
    // removes the pod past the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = pods.list(&Default::default()).await.unwrap().items;
        let mut names: Vec<&str> = list
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        names.sort();
        let recreated = list.iter().any(|p| {
            p.metadata.name.as_deref() == Some("hollow-node-1") && p.metadata.uid != uid_before
        });
        if names == ["hollow-node-0", "hollow-node-1"] && recreated {
            break;
        }
        assert!(Instant::now() < deadline, "pods after scale: {names:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What the kubelet does for the deleted pod: stop its container; what
    // `kubemark scale` does: delete the removed Node objects; then the new
    // pod starts from the updated spec and runs node 2 alone.
    drop(proc1);
    let node_api: Api<Node> = Api::all(kubemark.clone());
    for n in &change.removed_nodes {
        // hollow-node-4's pod never ran here: not found is fine.
        match node_api.delete(n, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => panic!("deleting node {n}: {e}"),
        }
    }
    let proc1 = run_pod(&ext, &ns, "hollow-node-1", &tmp.path().join("pod-1b")).await;
    let pid = proc1.child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = node_api.get("hollow-node-2").await.unwrap();
        let ann = n.metadata.annotations.clone().unwrap_or_default();
        if ann.get("kubemark.io/hollow-pid") == Some(&pid) && ready(&n) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hollow-node-2 not taken over by the restarted pod; output:\n{}",
            proc1.output()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Node 3 is not registered again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_for_nodes(&kubemark, &["hollow-node-2"], &proc1).await;
    drop(proc1);

    // Stop: the namespace and everything in it go.
    let left = external::remove(&ext, &ns).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(Api::<Namespace>::all(c.clone())
        .get_opt(&ns)
        .await
        .unwrap()
        .is_none());
    assert!(external::remove(&ext, &ns).await.unwrap().is_empty());

    external_cluster.shutdown().await;
    kubemark_master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_external_cluster_is_reported() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    let ext = External::connect(&path, None).await.unwrap();
    let left = external::remove(&ext, "kubemark").await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].contains("namespace kubemark") && left[0].contains(&port.to_string()),
        "{left:?}"
    );
    let e = external::failing_pods(&ext, "kubemark")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("pods in kubemark"), "{e}");
    let missing = External::connect(&tmp.path().join("nope"), None).await;
    assert!(missing.is_err());
}
