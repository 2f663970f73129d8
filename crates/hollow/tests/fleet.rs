//! A hollow fleet against the embedded master: nodes register and stay
//! Ready, pods run and are deleted, leases renew, problems are injected,
//! proxies program services, nodes go away and come back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_ready_with_the_reference_shape() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 5))
        .await
        .unwrap();
    fleet
        .wait_for(T, |s| s.ready == 5)
        .await
        .unwrap_or_else(|s| panic!("not all ready: {s:?}"));
    let nodes = env.nodes().await;
    assert_eq!(nodes.len(), 5);
    let reference_node = reference("hollow-node-object-go-kubemark.json");
    let reference_lease = reference("node-lease-go-kubemark.json");
    let mut cidrs = HashSet::new();
    let mut ips = HashSet::new();
    for n in &nodes {
        let name = n["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("hollow-node-"), "{name}");
        assert!(
            is_ready(n),
            "{name} not Ready: {}",
            n["status"]["conditions"]
        );
        assert_eq!(n["spec"]["providerID"], format!("kubemark://{name}"));
        // The kubelet sets no podCIDR (the controller-manager's job).
        assert!(n["spec"].get("podCIDR").is_none(), "{name}: {}", n["spec"]);
        assert!(cidrs.insert(fleet.node(name).unwrap().pod_cidr));
        assert!(ips.insert(
            n["status"]["addresses"][0]["address"]
                .as_str()
                .unwrap()
                .to_string()
        ));
        // Status shape: same keys (but images: the reference node had run
        // a pod, these have not), same conditions, same values.
        for k in keys(&reference_node["status"])
            .into_iter()
            .filter(|k| k != "images")
        {
            assert!(n["status"].get(&k).is_some(), "{name} lacks status.{k}");
        }
        for k in ["allocatable", "capacity", "daemonEndpoints", "nodeInfo"] {
            assert_eq!(
                n["status"][k], reference_node["status"][k],
                "{name} status.{k}"
            );
        }
        for rc in reference_node["status"]["conditions"].as_array().unwrap() {
            let t = rc["type"].as_str().unwrap();
            let c = condition(n, t).unwrap_or_else(|| panic!("{name} lacks {t}"));
            for f in ["status", "reason", "message"] {
                assert_eq!(c[f], rc[f], "{name} {t}.{f}");
            }
        }
        // NPD conditions next to the kubelet's.
        let kd = condition(n, "KernelDeadlock").expect("NPD condition");
        assert_eq!(kd["status"], "False");
        assert_eq!(kd["reason"], "KernelHasNoDeadlock");
        assert_eq!(
            condition(n, "ReadonlyFilesystem").unwrap()["reason"],
            "FilesystemIsNotReadOnly"
        );
        let labels = &n["metadata"]["labels"];
        for (k, v) in reference_node["metadata"]["labels"].as_object().unwrap() {
            if k != "kubernetes.io/hostname" {
                assert_eq!(&labels[k], v, "label {k}");
            }
        }
        assert_eq!(labels["kubernetes.io/hostname"], name);
        let ann = &n["metadata"]["annotations"];
        assert_eq!(
            ann["kubemark.io/hollow-pid"],
            std::process::id().to_string()
        );
        assert!(ann["kubemark.io/hollow-host"]
            .as_str()
            .is_some_and(|h| !h.is_empty()));
        // Lease and CSINode.
        let lease = env
            .get(&format!(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
            ))
            .await;
        assert_eq!(keys(&lease["spec"]), keys(&reference_lease["spec"]));
        assert_eq!(lease["spec"]["holderIdentity"], name);
        assert_eq!(lease["spec"]["leaseDurationSeconds"], 4);
        let owner = &lease["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Node");
        assert_eq!(owner["name"], name);
        assert_eq!(owner["uid"], n["metadata"]["uid"]);
        let csinode = env
            .get(&format!("/apis/storage.k8s.io/v1/csinodes/{name}"))
            .await;
        assert_eq!(
            csinode["metadata"]["ownerReferences"][0]["uid"],
            n["metadata"]["uid"]
        );
    }
    // Each kubelet authenticated as its node.
    let users: BTreeSet<String> = env
        .master
        .metrics
        .client_requests(hollow::USER_AGENT_KUBELET)
        .into_iter()
        .map(|(l, _)| l.user)
        .collect();
    assert_eq!(users.len(), 5, "{users:?}");
    assert!(users
        .iter()
        .all(|u| u.starts_with("system:node:hollow-node-")));
    // The metrics endpoint answers.
    let addr = fleet.metrics_addr().unwrap();
    let text = http_get(addr, "/metrics").await;
    assert!(text.contains("kubemark_hollow_nodes_ready 5"), "{text}");
    let nodes_json = http_get(addr, "/debug/nodes").await;
    assert!(nodes_json.contains("hollow-node-4"));
    fleet.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn pod_ip(p: &Value) -> Option<String> {
    p["status"]["podIP"].as_str().map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_with_unique_ips_and_are_deleted() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 3))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 3).await.unwrap();
    let names = fleet.node_names();
    for i in 0..9 {
        let name = format!("p{i}");
        env.create_pod("default", &name, json!({})).await;
        env.bind("default", &name, &names[i % 3]).await;
    }
    let pods = eventually(T, "9 running pods", || async {
        let pods = env.pods("default").await;
        (pods.len() == 9
            && pods
                .iter()
                .all(|p| p["status"]["phase"] == "Running" && is_ready(p)))
        .then_some(pods)
    })
    .await;
    let reference = reference("pod-run-by-go-kubemark.json");
    let mut ips = HashSet::new();
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        let st = &p["status"];
        for k in keys(&reference["status"]) {
            assert!(st.get(&k).is_some(), "{name} lacks status.{k}: {st}");
        }
        let ip = pod_ip(p).unwrap();
        assert!(ip.starts_with("10.64."), "{ip}");
        assert!(ips.insert(ip.clone()), "duplicate pod IP {ip}");
        assert_eq!(st["podIPs"], json!([{"ip": ip}]));
        let node = p["spec"]["nodeName"].as_str().unwrap();
        let host = fleet.node(node).unwrap().internal_ip;
        assert_eq!(st["hostIP"], host);
        let c = &st["containerStatuses"][0];
        for k in keys(&reference["status"]["containerStatuses"][0]) {
            assert!(c.get(&k).is_some(), "{name} container lacks {k}");
        }
        assert_eq!(c["ready"], true);
        assert_eq!(c["started"], true);
        assert!(c["containerID"]
            .as_str()
            .unwrap()
            .starts_with("fakeRuntime://"));
        assert!(c["state"]["running"]["startedAt"].is_string());
        assert_eq!(st["qosClass"], "BestEffort");
        let types: BTreeSet<&str> = st["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            BTreeSet::from(["Initialized", "Ready", "ContainersReady", "PodScheduled"])
        );
    }
    // Each pod's IP lies in its node's subnet.
    for p in &pods {
        let node = fleet.node(p["spec"]["nodeName"].as_str().unwrap()).unwrap();
        let prefix = node.pod_cidr.trim_end_matches(".0/24");
        assert!(
            pod_ip(p).unwrap().starts_with(prefix),
            "{} not in {}",
            pod_ip(p).unwrap(),
            node.pod_cidr
        );
    }
    assert_eq!(fleet.stats().pods_running, 9);

    // kubectl-style delete: graceful, then the kubelet deletes for good.
    for i in 0..9 {
        env.delete_pod("default", &format!("p{i}")).await;
    }
    eventually(T, "pods deleted", || async {
        env.pods("default").await.is_empty().then_some(())
    })
    .await;
    fleet.wait_for(T, |s| s.pods == 0).await.unwrap();
    let d = env.requests(hollow::USER_AGENT_KUBELET);
    assert_eq!(d.get(&("DELETE".into(), "pods".into())), Some(&9), "{d:?}");
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_pods_complete_crash_loops_restart_and_init_containers_run_first() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 1))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 1).await.unwrap();
    let node = fleet.node_names()[0].clone();
    let ann = |a: Value| json!({"metadata": {"annotations": a}});
    env.create_pod(
        "default",
        "job",
        json!({"metadata": {"annotations": {"kubemark.io/run-duration": "1s"}},
               "spec": {"restartPolicy": "Never"}}),
    )
    .await;
    env.create_pod(
        "default",
        "failing",
        json!({"metadata": {"annotations": {"kubemark.io/run-duration": "500ms", "kubemark.io/exit-code": "3"}},
               "spec": {"restartPolicy": "Never"}}),
    )
    .await;
    env.create_pod(
        "default",
        "crasher",
        ann(json!({"kubemark.io/crash-loop": "true", "kubemark.io/crash-after": "300ms"})),
    )
    .await;
    env.create_pod(
        "default",
        "lazy",
        ann(json!({"kubemark.io/never-ready": "true"})),
    )
    .await;
    env.create_pod(
        "default",
        "init",
        json!({"spec": {"initContainers": [{"name": "setup", "image": "busybox"}]}}),
    )
    .await;
    for p in ["job", "failing", "crasher", "lazy", "init"] {
        env.bind("default", p, &node).await;
    }
    let pod = |name: &'static str| {
        let env = &env;
        async move {
            env.get(&format!("/api/v1/namespaces/default/pods/{name}"))
                .await
        }
    };
    eventually(T, "job succeeded", || async {
        (pod("job").await["status"]["phase"] == "Succeeded").then_some(())
    })
    .await;
    let job = pod("job").await;
    let term = &job["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    assert_eq!(term["reason"], "Completed");
    eventually(T, "failing pod failed", || async {
        (pod("failing").await["status"]["phase"] == "Failed").then_some(())
    })
    .await;
    assert_eq!(
        pod("failing").await["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );
    // The crash loop: the first restart is immediate, the next after 10 s.
    let crasher = eventually(T, "crasher restarted", || async {
        let p = pod("crasher").await;
        (p["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1)).then_some(p)
    })
    .await;
    assert_eq!(crasher["status"]["phase"], "Running");
    assert_eq!(
        crasher["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
        1
    );
    eventually(T, "crasher in back-off", || async {
        let p = pod("crasher").await;
        (p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff")
            .then_some(())
    })
    .await;
    let lazy = eventually(T, "lazy running", || async {
        let p = pod("lazy").await;
        (p["status"]["phase"] == "Running").then_some(p)
    })
    .await;
    assert!(!is_ready(&lazy));
    assert_eq!(
        condition(&lazy, "Ready").unwrap()["reason"],
        "ContainersNotReady"
    );
    let init = eventually(T, "init pod running", || async {
        let p = pod("init").await;
        (p["status"]["phase"] == "Running").then_some(p)
    })
    .await;
    assert_eq!(
        init["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert!(is_ready(&init));
    // Completed pods gave their IPs back; the others hold theirs.
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_renew_on_schedule() {
    let env = start().await;
    // One registration at a time: the others wait with nothing scheduled.
    let mut cfg = fast_config(&env, 2);
    cfg.registration_concurrency = 1;
    let fleet = hollow::start_fleet(env.config.clone(), cfg).await.unwrap();
    fleet.wait_for(T, |s| s.ready == 2).await.unwrap();
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/hollow-node-0";
    let first = env.get(path).await["spec"]["renewTime"]
        .as_str()
        .unwrap()
        .to_string();
    let before = fleet.stats().lease_renewals;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = env.get(path).await["spec"]["renewTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(later > first, "{later} vs {first}");
    let s = fleet.stats();
    // Two nodes renewing every ~1.02 s for 4 s.
    let renewed = s.lease_renewals - before;
    assert!((5..=10).contains(&renewed), "renewals in 4 s: {renewed}");
    assert_eq!(s.lease_misses, 0);
    assert!(s.lease_lateness_p99 < Duration::from_secs(1), "{s:?}");
    // Timers wake a kubelet a few times per second here (status every
    // 0.5 s, lease every 1 s, NPD every 5 s), never in a loop.
    assert!(s.timer_wakeups < 200, "timer wake-ups: {}", s.timer_wakeups);
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_injected_by_annotation_and_by_call() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 2))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 2).await.unwrap();
    env.request(
        "PATCH",
        "/api/v1/nodes/hollow-node-0",
        Some(
            json!({"metadata": {"annotations": {"kubemark.io/inject-problem": "KernelDeadlock"}}}),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    eventually(T, "KernelDeadlock true", || async {
        let n = env.get("/api/v1/nodes/hollow-node-0").await;
        (condition(&n, "KernelDeadlock").unwrap()["status"] == "True").then_some(())
    })
    .await;
    let n = env.get("/api/v1/nodes/hollow-node-0").await;
    assert_eq!(
        condition(&n, "KernelDeadlock").unwrap()["reason"],
        "DockerHung"
    );
    assert!(is_ready(&n), "the kubelet keeps the node Ready");
    fleet
        .inject_problem("hollow-node-1", "ReadonlyFilesystem")
        .await
        .unwrap();
    eventually(T, "ReadonlyFilesystem true", || async {
        let n = env.get("/api/v1/nodes/hollow-node-1").await;
        (condition(&n, "ReadonlyFilesystem").unwrap()["status"] == "True").then_some(())
    })
    .await;
    let events = eventually(T, "two events", || async {
        let ev = env.get("/api/v1/namespaces/default/events").await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (ev.len() >= 2).then_some(ev)
    })
    .await;
    let reasons: BTreeSet<&str> = events
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains("DockerHung") && reasons.contains("FilesystemIsReadOnly"),
        "{reasons:?}"
    );
    assert_eq!(fleet.stats().problems, 2);
    fleet
        .clear_problem("hollow-node-1", "ReadonlyFilesystem")
        .await
        .unwrap();
    eventually(T, "ReadonlyFilesystem healthy", || async {
        let n = env.get("/api/v1/nodes/hollow-node-1").await;
        (condition(&n, "ReadonlyFilesystem").unwrap()["status"] == "False").then_some(())
    })
    .await;
    assert!(fleet
        .inject_problem("hollow-node-1", "Gremlins")
        .await
        .is_err());
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_program_services_and_endpoints() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 2))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 2).await.unwrap();
    // The `kubernetes` service exists from the start.
    let base = fleet
        .wait_for(T, |s| s.proxy_services >= 2)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .proxy_services;
    env.request(
        "POST",
        "/api/v1/namespaces/default/services",
        Some(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                    "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"app": "web"}}}),
        ),
    )
    .await
    .unwrap();
    env.request(
        "POST",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        Some(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": ["10.64.0.2"], "conditions": {"ready": true}},
                                  {"addresses": ["10.64.1.2"], "conditions": {"ready": true}}]})),
    )
    .await
    .unwrap();
    let s = fleet
        .wait_for(T, |s| {
            s.proxy_services == base + 2 && s.proxy_endpoints >= 4
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    assert!(s.proxy_rules >= s.proxy_services + s.proxy_endpoints);
    let per_node: Vec<u32> = fleet.nodes().iter().map(|n| n.proxy_endpoints).collect();
    assert_eq!(per_node[0], per_node[1]);
    // Proxies have their own user agent, and hold their watches.
    let p = env.requests(hollow::USER_AGENT_PROXY);
    for res in ["services", "endpointslices", "nodes"] {
        assert!(
            p.get(&("WATCH".into(), res.into()))
                .is_some_and(|n| *n >= 2),
            "{res}: {p:?}"
        );
    }
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_goes_away_and_comes_back() {
    let env = start().await;
    let fleet = hollow::start_fleet(env.config.clone(), fast_config(&env, 2))
        .await
        .unwrap();
    fleet.wait_for(T, |s| s.ready == 2).await.unwrap();
    env.create_pod("default", "stay", json!({})).await;
    env.bind("default", "stay", "hollow-node-1").await;
    let ip = eventually(T, "pod running", || async {
        let p = env.get("/api/v1/namespaces/default/pods/stay").await;
        (p["status"]["phase"] == "Running")
            .then(|| pod_ip(&p))
            .flatten()
    })
    .await;
    let uid = env.nodes().await[1]["metadata"]["uid"].clone();
    fleet.stop_node("hollow-node-1").await.unwrap();
    assert!(fleet.stop_node("hollow-node-1").await.is_err());
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/hollow-node-1";
    let frozen = env.get(path).await["spec"]["renewTime"].clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.get(path).await["spec"]["renewTime"],
        frozen,
        "no heartbeats while stopped"
    );
    assert!(!fleet.node("hollow-node-1").unwrap().ready);
    // A pod deleted while the node is away waits for its kubelet.
    env.delete_pod("default", "stay").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.pods("default").await.len(), 1);
    fleet.start_node("hollow-node-1").await.unwrap();
    assert!(fleet.start_node("hollow-node-1").await.is_err());
    fleet.wait_for(T, |s| s.ready == 2).await.unwrap();
    eventually(T, "lease renewed again", || async {
        (env.get(path).await["spec"]["renewTime"] != frozen).then_some(())
    })
    .await;
    // Same Node object (adopted, not re-created), pod deletion completed.
    let node = env.get("/api/v1/nodes/hollow-node-1").await;
    assert_eq!(node["metadata"]["uid"], uid);
    eventually(T, "pod gone", || async {
        env.pods("default").await.is_empty().then_some(())
    })
    .await;
    assert!(!ip.is_empty());
    assert!(fleet.stop_node("nope").await.is_err());
    fleet.shutdown().await;
}
