//! The real kubectl drives the embedded master: create/apply, get in every
//! output form, describe, label, annotate, patch of each type, scale,
//! delete, explain and get -w.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::Duration;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: registry.k8s.io/pause:3.9
        env:
        - {name: A, value: "1"}
"#;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_get_describe_and_delete() {
    let m = common::start().await;
    let ns = m.kubectl_ok(&["get", "namespaces"]).await;
    for want in [
        "NAME",
        "STATUS",
        "AGE",
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "Active",
    ] {
        assert!(ns.contains(want), "missing {want} in:\n{ns}");
    }
    m.kubectl_ok(&["create", "configmap", "cm1", "--from-literal=a=1"])
        .await;
    let cm = json(
        &m.kubectl_ok(&["get", "configmap", "cm1", "-o", "json"])
            .await,
    );
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(cm["metadata"]["namespace"], "default");
    assert!(cm["metadata"]["uid"]
        .as_str()
        .is_some_and(|u| u.len() == 36));
    let yaml = m
        .kubectl_ok(&["get", "configmap", "cm1", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("name: cm1") && yaml.contains("a: \"1\""),
        "{yaml}"
    );
    let table = m.kubectl_ok(&["get", "configmaps"]).await;
    assert!(table.contains("DATA") && table.contains("cm1"), "{table}");
    let describe = m.kubectl_ok(&["describe", "configmap", "cm1"]).await;
    assert!(
        describe.contains("Name:") && describe.contains("cm1"),
        "{describe}"
    );
    m.kubectl_ok(&["delete", "configmap", "cm1"]).await;
    let gone = m.kubectl(&["get", "configmap", "cm1"]).await;
    assert!(!gone.status.success());
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("configmaps \"cm1\" not found"), "{err}");
    let protected = m.kubectl(&["delete", "namespace", "default"]).await;
    assert!(!protected.status.success());
    let err = String::from_utf8_lossy(&protected.stderr);
    assert!(err.contains("this namespace may not be deleted"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_label_annotate_patch_scale() {
    let m = common::start().await;
    let out = m.kubectl_apply(DEPLOYMENT).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let d = json(
        &m.kubectl_ok(&["get", "deployment", "web", "-o", "json"])
            .await,
    );
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );

    // Re-apply with a change: client-side apply sends a strategic merge patch.
    let changed = DEPLOYMENT
        .replace("value: \"1\"", "value: \"2\"")
        .replace("replicas: 2", "replicas: 4");
    let out = m.kubectl_apply(&changed).await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = json(
        &m.kubectl_ok(&["get", "deployment", "web", "-o", "json"])
            .await,
    );
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "2"
    );
    assert_eq!(d["metadata"]["generation"], 2);
    let out = m.kubectl_apply(&changed).await;
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");

    m.kubectl_ok(&["label", "deployment", "web", "tier=frontend"])
        .await;
    m.kubectl_ok(&["annotate", "deployment", "web", "note=hello"])
        .await;
    let d = json(
        &m.kubectl_ok(&["get", "deployment", "web", "-o", "json"])
            .await,
    );
    assert_eq!(d["metadata"]["labels"]["tier"], "frontend");
    assert_eq!(d["metadata"]["annotations"]["note"], "hello");
    // Labels select.
    let sel = m
        .kubectl_ok(&[
            "get",
            "deployments",
            "-l",
            "tier in (frontend,backend)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(sel.trim(), "deployment.apps/web");
    let none = m
        .kubectl_ok(&["get", "deployments", "-l", "tier!=frontend", "-o", "name"])
        .await;
    assert_eq!(none.trim(), "");

    // Each patch type.
    m.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"m":"1"}}}"#,
    ])
    .await;
    m.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/j","value":"2"}]"#,
    ])
    .await;
    m.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"registry.k8s.io/pause:3.10"}]}}}}"#,
    ])
    .await;
    let d = json(
        &m.kubectl_ok(&["get", "deployment", "web", "-o", "json"])
            .await,
    );
    assert_eq!(d["metadata"]["labels"]["m"], "1");
    assert_eq!(d["metadata"]["labels"]["j"], "2");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.k8s.io/pause:3.10");
    assert_eq!(
        c["env"][0]["name"], "A",
        "strategic merge kept the other fields: {c}"
    );
    // A failing JSON-patch test is 422.
    let bad = m
        .kubectl(&[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":99}]"#,
        ])
        .await;
    assert!(!bad.status.success());

    m.kubectl_ok(&["scale", "deployment", "web", "--replicas=7"])
        .await;
    let d = json(
        &m.kubectl_ok(&["get", "deployment", "web", "-o", "json"])
            .await,
    );
    assert_eq!(d["spec"]["replicas"], 7);

    let wide = m.kubectl_ok(&["get", "deployments", "-o", "wide"]).await;
    for col in [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
        "web",
    ] {
        assert!(wide.contains(col), "missing {col}:\n{wide}");
    }
    let describe = m.kubectl_ok(&["describe", "deployment", "web"]).await;
    assert!(
        describe.contains("Replicas:") && describe.contains("web"),
        "{describe}"
    );

    let out = m
        .kubectl_stdin(&["delete", "-f", "-"], Some(DEPLOYMENT))
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = m.kubectl_ok(&["get", "deployments", "-o", "name"]).await;
    assert_eq!(list.trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_pods_services_and_nodes() {
    let m = common::start().await;
    m.kubectl_ok(&[
        "run",
        "p1",
        "--image=registry.k8s.io/pause:3.9",
        "--restart=Never",
    ])
    .await;
    let p = json(&m.kubectl_ok(&["get", "pod", "p1", "-o", "json"]).await);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    assert_eq!(p["spec"]["restartPolicy"], "Never");
    let pods = m.kubectl_ok(&["get", "pods", "-o", "wide"]).await;
    for col in [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
        "p1",
        "Pending",
    ] {
        assert!(pods.contains(col), "missing {col}:\n{pods}");
    }
    let by_phase = m
        .kubectl_ok(&[
            "get",
            "pods",
            "--field-selector",
            "status.phase=Pending",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(by_phase.trim(), "pod/p1");
    let bad = m
        .kubectl(&["get", "pods", "--field-selector", "spec.bogus=x"])
        .await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("field label not supported: spec.bogus"));

    m.kubectl_ok(&["create", "service", "clusterip", "svc1", "--tcp=80:8080"])
        .await;
    let s = json(
        &m.kubectl_ok(&["get", "service", "svc1", "-o", "json"])
            .await,
    );
    let ip = s["spec"]["clusterIP"].as_str().expect("cluster IP");
    assert!(
        ip.starts_with("10.9") || ip.starts_with("10.10") || ip.starts_with("10.11"),
        "{ip}"
    );
    let svcs = m.kubectl_ok(&["get", "services"]).await;
    for col in [
        "TYPE",
        "CLUSTER-IP",
        "PORT(S)",
        "kubernetes",
        "svc1",
        "80/TCP",
    ] {
        assert!(svcs.contains(col), "missing {col}:\n{svcs}");
    }

    let node = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"node-role.kubernetes.io/worker":""}},
      "status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}],
      "nodeInfo":{"kubeletVersion":"v1.24.10","osImage":"Debian","kernelVersion":"5.10","containerRuntimeVersion":"fake://1"},
      "addresses":[{"type":"InternalIP","address":"192.0.2.9"}]}}"#;
    let out = m.kubectl_stdin(&["create", "-f", "-"], Some(node)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nodes = m.kubectl_ok(&["get", "nodes", "-o", "wide"]).await;
    for col in [
        "STATUS",
        "ROLES",
        "VERSION",
        "INTERNAL-IP",
        "n1",
        "Ready",
        "worker",
        "v1.24.10",
        "192.0.2.9",
    ] {
        assert!(nodes.contains(col), "missing {col}:\n{nodes}");
    }
    m.kubectl_ok(&["cordon", "n1"]).await;
    let nodes = m.kubectl_ok(&["get", "nodes"]).await;
    assert!(nodes.contains("Ready,SchedulingDisabled"), "{nodes}");

    // Graceful deletion of an unbound pod is immediate.
    m.kubectl_ok(&["delete", "pod", "p1", "--wait=true"]).await;
    assert_eq!(
        m.kubectl_ok(&["get", "pods", "-o", "name"]).await.trim(),
        ""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_uses_openapi() {
    let m = common::start().await;
    let out = m.kubectl_ok(&["explain", "pods.spec.containers"]).await;
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.contains("image"), "{out}");
    let out = m.kubectl_ok(&["explain", "deployment.spec"]).await;
    assert!(out.contains("replicas"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_streams_changes() {
    let m = common::start().await;
    let kubeconfig = m.master.kubeconfig_path.clone();
    let home = m.dir.path().join("home");
    let mut child = std::process::Command::new(common::kubectl_path())
        .args(["get", "configmaps", "-w", "--request-timeout=60s"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", &home)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give the watch a moment to start, then change things.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    m.kubectl_ok(&["create", "configmap", "watched", "--from-literal=x=1"])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let hit = line.contains("watched");
                seen.push(line);
                if hit {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.contains("watched")),
        "kubectl get -w printed: {seen:?}"
    );
}
