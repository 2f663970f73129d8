//! The scheduler against the embedded master over HTTPS: bindings respect
//! capacity, selectors, taints, cordons and readiness; an unschedulable pod
//! gets PodScheduled=False and a FailedScheduling event, and is scheduled
//! once a fitting node appears; bound pods get a Scheduled event.

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use master::server::{MasterConfig, RunningMaster};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

async fn start_master() -> (RunningMaster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = MasterConfig::new(dir.path().join("data"));
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.ephemeral = true;
    let m = master::server::start(cfg).await.expect("master starts");
    (m, dir)
}

async fn client_from(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kube config");
    kube::Client::try_from(cfg).expect("kube client")
}

fn node(name: &str, cpu: &str, memory: &str, extra: Value) -> Node {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]
        }
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("node")
}

fn pod(name: &str, cpu: &str, extra: Value) -> Pod {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.7", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("pod")
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// Polls `f` until it returns Some, for up to 30 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn node_of(pods: &Api<Pod>, name: &str) -> Option<String> {
    pods.get(name)
        .await
        .ok()?
        .spec?
        .node_name
        .filter(|n| !n.is_empty())
}

async fn events_for(events: &Api<Event>, pod: &str) -> Vec<Event> {
    events
        .list(&ListParams::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(pod))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_pods_against_the_embedded_master() {
    let (m, _dir) = start_master().await;
    let admin = client_from(&m.kubeconfig).await;
    // The scheduler authenticates as itself, like a real kube-scheduler.
    let (cert, key) = m
        .pki
        .issue_client_cert("system:kube-scheduler", &["system:masters"])
        .expect("client cert");
    let sched_kubeconfig =
        m.pki
            .kubeconfig(&m.url, "kubemark", "system:kube-scheduler", &cert, &key);
    let sched_client = scheduler::client_from_kubeconfig(&sched_kubeconfig)
        .await
        .expect("scheduler client");

    let nodes: Api<Node> = Api::all(admin.clone());
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    let pp = PostParams::default();
    let five = [
        node(
            "n-small",
            "2",
            "4Gi",
            json!({"metadata": {"labels": {"size": "small"}}}),
        ),
        node(
            "n-big",
            "8",
            "16Gi",
            json!({"metadata": {"labels": {"size": "big", "disk": "ssd"}}}),
        ),
        node(
            "n-tainted",
            "8",
            "16Gi",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
        ),
        node(
            "n-cordoned",
            "8",
            "16Gi",
            json!({"spec": {"unschedulable": true}}),
        ),
        node(
            "n-notready",
            "8",
            "16Gi",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "not ready"}]}}),
        ),
    ];
    for n in &five {
        nodes.create(&pp, n).await.expect("create node");
    }
    let stored = nodes.get("n-big").await.expect("get node");
    assert!(
        stored
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .is_some(),
        "the master must keep a node's status on create"
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(scheduler::run(
        sched_client,
        scheduler::SchedulerConfig::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    // nodeSelector picks the only ssd node.
    pods.create(
        &pp,
        &pod(
            "sel-ssd",
            "1",
            json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
        ),
    )
    .await
    .expect("create");
    // A toleration lets a pod onto the tainted node (pinned there by hostname).
    pods.create(
        &pp,
        &pod(
            "gpu",
            "1",
            json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "n-tainted"},
                            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
        ),
    )
    .await
    .expect("create");
    assert_eq!(
        eventually("sel-ssd bound", || node_of(&pods, "sel-ssd")).await,
        "n-big"
    );
    assert_eq!(
        eventually("gpu bound", || node_of(&pods, "gpu")).await,
        "n-tainted"
    );

    // Ten 1-cpu pods: only n-small (2) and n-big (7 left) may take them.
    for i in 0..10 {
        pods.create(&pp, &pod(&format!("fill-{i}"), "1", json!({})))
            .await
            .expect("create");
    }
    let placement = eventually("nine fill pods bound, one FailedScheduling", || async {
        let mut placed = BTreeMap::new();
        let mut pending = Vec::new();
        for i in 0..10 {
            let name = format!("fill-{i}");
            match node_of(&pods, &name).await {
                Some(n) => *placed.entry(n).or_insert(0) += 1,
                None => pending.push(name),
            }
        }
        let failed = match pending.as_slice() {
            [p] => events_for(&events, p)
                .await
                .iter()
                .any(|e| e.reason.as_deref() == Some("FailedScheduling")),
            _ => false,
        };
        (placed.values().sum::<i32>() == 9 && failed).then_some((placed, pending))
    })
    .await;
    let (placed, pending) = placement;
    assert_eq!(
        placed,
        BTreeMap::from([("n-big".to_string(), 7), ("n-small".to_string(), 2)])
    );
    let waiting = pending[0].clone();

    // The unschedulable one carries the condition and the real message.
    let p = pods.get(&waiting).await.expect("get");
    let cond = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .cloned()
        .expect("PodScheduled condition");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    let want = format!(
        "0/5 nodes are available: 1 node(s) had taint {{dedicated: gpu}}, that the pod didn't tolerate, \
         1 node(s) had taint {{node.kubernetes.io/not-ready: }}, that the pod didn't tolerate, 1 node(s) were unschedulable, \
         2 Insufficient cpu. preemption: 0/5 nodes are available: 1 No victims found on node n-big for preemptor pod {waiting}, \
         1 No victims found on node n-small for preemptor pod {waiting}, 3 Preemption is not helpful for scheduling."
    );
    assert_eq!(cond.message.as_deref(), Some(want.as_str()));
    let failed = events_for(&events, &waiting).await;
    let failed = failed
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .expect("FailedScheduling event");
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(failed.message.as_deref(), Some(want.as_str()));
    assert_eq!(
        failed.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("default-scheduler")
    );

    // Deleting a bound pod frees a slot: the waiting pod is retried.
    let victim = (0..10)
        .map(|i| format!("fill-{i}"))
        .find(|n| *n != waiting)
        .expect("a bound fill pod");
    let victim_node = node_of(&pods, &victim).await.expect("bound");
    pods.delete(&victim, &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    assert_eq!(
        eventually("waiting pod retried after a delete", || node_of(
            &pods, &waiting
        ))
        .await,
        victim_node
    );

    // A pod bigger than any node stays pending until a node that fits joins.
    pods.create(&pp, &pod("huge", "20", json!({})))
        .await
        .expect("create");
    eventually("huge marked unschedulable", || async {
        let p = pods.get("huge").await.ok()?;
        let c = p
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (c.status == "False" && c.reason.as_deref() == Some("Unschedulable")).then_some(())
    })
    .await;
    assert!(node_of(&pods, "huge").await.is_none());
    nodes
        .create(&pp, &node("n-huge", "32", "64Gi", json!({})))
        .await
        .expect("create node");
    assert_eq!(
        eventually("huge bound to the new node", || node_of(&pods, "huge")).await,
        "n-huge"
    );

    // No pod ever landed on the tainted (without toleration), cordoned or not-ready nodes.
    let all = pods.list(&ListParams::default()).await.expect("list");
    for p in &all.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        let on = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(on != "n-cordoned" && on != "n-notready", "{name} on {on}");
        assert!(on != "n-tainted" || name == "gpu", "{name} on {on}");
    }

    // Scheduled events, one per bound pod, in the real format.
    let scheduled = eventually("Scheduled event for huge", || async {
        let evs = events_for(&events, "huge").await;
        evs.into_iter()
            .find(|e| e.reason.as_deref() == Some("Scheduled"))
    })
    .await;
    assert_eq!(
        scheduled.message.as_deref(),
        Some("Successfully assigned default/huge to n-huge")
    );
    assert_eq!(scheduled.type_.as_deref(), Some("Normal"));
    assert_eq!(
        scheduled
            .source
            .as_ref()
            .and_then(|s| s.component.as_deref()),
        Some("default-scheduler")
    );
    assert_eq!(
        scheduled.reporting_component.as_deref(),
        Some("default-scheduler")
    );
    let sel = events_for(&events, "sel-ssd").await;
    assert_eq!(
        sel.iter()
            .filter(|e| e.reason.as_deref() == Some("Scheduled"))
            .count(),
        1
    );

    let text = scheduler::render_metrics();
    assert!(
        text.contains(
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"}"
        ),
        "{text}"
    );
    assert!(text.contains("scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"unschedulable\"}"), "{text}");
    assert!(
        text.contains("scheduler_pod_scheduling_duration_seconds_bucket{attempts=\"1\""),
        "{text}"
    );

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), scheduler)
        .await
        .expect("scheduler stops")
        .expect("join");
    m.shutdown().await;
}
