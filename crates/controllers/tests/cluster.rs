//! Lifecycle and service controllers against the embedded master:
//! namespace deletion, garbage collection, node lifecycle, endpoints,
//! EndpointSlices, default ServiceAccounts and kube-root-ca.crt.

mod common;

use common::{eventually, LONG};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

fn rs(name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_get_default_serviceaccount_and_root_ca() {
    let c = common::start().await;
    c.create_namespace("team-a").await;
    for ns in ["default", "kube-system", "team-a"] {
        eventually(&format!("default SA in {ns}"), LONG, || async {
            c.api::<ServiceAccount>(ns)
                .get_opt("default")
                .await
                .ok()?
                .map(|_| ())
        })
        .await;
        let cm = eventually(&format!("root CA in {ns}"), LONG, || async {
            c.api::<ConfigMap>(ns)
                .get_opt("kube-root-ca.crt")
                .await
                .ok()?
        })
        .await;
        assert_eq!(cm.data.as_ref().unwrap()["ca.crt"], c.master.pki.ca_pem());
        assert!(
            cm.metadata.annotations.as_ref().unwrap()["kubernetes.io/description"]
                .starts_with("Contains a CA bundle")
        );
    }
    // Deleted objects come back.
    c.api::<ServiceAccount>("team-a")
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    c.api::<ConfigMap>("team-a")
        .patch(
            "kube-root-ca.crt",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"ca.crt": "tampered"}})),
        )
        .await
        .unwrap();
    eventually("SA re-created", LONG, || async {
        let sa = c
            .api::<ServiceAccount>("team-a")
            .get_opt("default")
            .await
            .ok()??;
        sa.metadata.deletion_timestamp.is_none().then_some(())
    })
    .await;
    eventually("CA repaired", LONG, || async {
        let cm = c
            .api::<ConfigMap>("team-a")
            .get("kube-root-ca.crt")
            .await
            .ok()?;
        (cm.data?.get("ca.crt")? == c.master.pki.ca_pem()).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let c = common::start().await;
    c.create_namespace("doomed").await;
    c.create::<Deployment>("doomed", json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    })).await;
    c.create::<ConfigMap>(
        "doomed",
        json!({"metadata": {"name": "settings"}, "data": {"a": "1"}}),
    )
    .await;
    c.create::<Service>("doomed", json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    eventually("pods", LONG, || async {
        (c.pods("doomed", "app=web").await.len() == 2).then_some(())
    })
    .await;
    c.cluster_api::<Namespace>()
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    eventually("namespace gone", LONG, || async {
        c.cluster_api::<Namespace>()
            .get_opt("doomed")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    // Nothing is left behind under the old name.
    let all_pods = c
        .api::<Pod>("doomed")
        .list(&ListParams::default())
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    assert_eq!(all_pods, 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_replicasets_and_pods_of_a_deleted_deployment() {
    let c = common::start().await;
    c.create::<Deployment>("default", json!({
        "metadata": {"name": "gone"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "gone"}},
            "template": {"metadata": {"labels": {"app": "gone"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    })).await;
    eventually("pods", LONG, || async {
        (c.pods("default", "app=gone").await.len() == 2).then_some(())
    })
    .await;
    c.api::<Deployment>("default")
        .delete("gone", &DeleteParams::background())
        .await
        .unwrap();
    eventually("replica sets and pods collected", LONG, || async {
        let rss = c
            .api::<ReplicaSet>("default")
            .list(&ListParams::default().labels("app=gone"))
            .await
            .ok()?
            .items;
        (rss.is_empty() && c.pods("default", "app=gone").await.is_empty()).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_foreground_and_orphan_deletion() {
    let c = common::start().await;
    let rss = c.api::<ReplicaSet>("default");
    c.create::<ReplicaSet>("default", rs("fg", 2)).await;
    c.create::<ReplicaSet>("default", rs("orph", 2)).await;
    eventually("pods", LONG, || async {
        (c.pods("default", "app=fg").await.len() == 2
            && c.pods("default", "app=orph").await.len() == 2)
            .then_some(())
    })
    .await;

    // Foreground: the owner waits with foregroundDeletion until its pods are gone.
    rss.delete("fg", &DeleteParams::foreground()).await.unwrap();
    eventually("foreground owner and dependents gone", LONG, || async {
        (rss.get_opt("fg").await.ok()?.is_none() && c.pods("default", "app=fg").await.is_empty())
            .then_some(())
    })
    .await;

    // Orphan: the owner goes, its pods stay without the owner reference.
    rss.delete("orph", &DeleteParams::orphan()).await.unwrap();
    eventually("orphan owner gone", LONG, || async {
        rss.get_opt("orph").await.ok()?.is_none().then_some(())
    })
    .await;
    let pods = c.pods("default", "app=orph").await;
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert!(
            p.metadata
                .owner_references
                .as_ref()
                .is_none_or(|r| r.is_empty()),
            "{:?}",
            p.metadata.owner_references
        );
        assert!(p.metadata.deletion_timestamp.is_none());
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_without_lease_renewal_becomes_unknown_and_recovers() {
    let c = common::start_with(|cfg| {
        cfg.node_monitor_grace_period = Duration::from_secs(2);
        cfg.node_monitor_period = Duration::from_millis(200);
    })
    .await;
    c.add_node("hollow-1", json!({})).await;
    // A pod that tolerates unreachable for 1 s, and one for the default 300 s.
    for (name, secs) in [("short", 1), ("long", 300)] {
        let pod: Pod = c.create("default", json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "pause"}],
                "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": secs}]}
        })).await;
        c.bind(&pod, "hollow-1").await;
        c.mark_running(&pod, true).await;
    }
    let nodes = c.cluster_api::<Node>();
    let node = eventually("node unknown and tainted", LONG, || async {
        let n = nodes.get("hollow-1").await.ok()?;
        let ready = n
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|x| x.type_ == "Ready")?
            .clone();
        let taints = n.spec.as_ref()?.taints.clone().unwrap_or_default();
        let has = |e: &str| {
            taints
                .iter()
                .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == e)
        };
        (ready.status == "Unknown" && has("NoExecute") && has("NoSchedule")).then_some((n, ready))
    })
    .await;
    let (_, ready) = node;
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    // The short-toleration pod is evicted; the other stays.
    eventually("short pod evicted", LONG, || async {
        let p = c.api::<Pod>("default").get_opt("short").await.ok()?;
        p.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
            .then_some(())
    })
    .await;
    let long = c.api::<Pod>("default").get("long").await.unwrap();
    assert!(long.metadata.deletion_timestamp.is_none());
    let ready_cond = long
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|x| x.type_ == "Ready")
        .unwrap();
    assert_eq!(
        ready_cond.status, "False",
        "pods on the node are marked not ready"
    );
    eventually("NodeNotReady event", LONG, || async {
        let events = c
            .api::<Event>("default")
            .list(&ListParams::default())
            .await
            .ok()?
            .items;
        events
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("NodeNotReady")
                    && e.message.as_deref() == Some("Node hollow-1 status is now: NodeNotReady")
            })
            .then_some(())
    })
    .await;

    // The kubelet comes back: lease renewed and Ready posted again.
    c.renew_lease("hollow-1").await;
    c.post_node_ready("hollow-1").await;
    eventually("taints removed", LONG, || async {
        c.renew_lease("hollow-1").await;
        let n = nodes.get("hollow-1").await.ok()?;
        let taints = n
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let ready = n
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .any(|x| x.type_ == "Ready" && x.status == "True");
        (ready
            && !taints
                .iter()
                .any(|t| t.key.starts_with("node.kubernetes.io/")))
        .then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_endpoints_and_endpointslices() {
    let c = common::start().await;
    c.add_node("node-1", json!({})).await;
    c.create::<Service>("default", json!({
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    })).await;
    for (name, ready) in [("web-a", true), ("web-b", false)] {
        let pod: Pod = c.create("default", json!({
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "pause", "ports": [{"containerPort": 8080}]}]}
        })).await;
        c.bind(&pod, "node-1").await;
        c.mark_running(&pod, ready).await;
    }
    let ep = eventually("endpoints", LONG, || async {
        let ep = c.api::<Endpoints>("default").get_opt("web").await.ok()??;
        let s = ep.subsets.as_ref()?.first()?.clone();
        (s.addresses.as_ref().map(Vec::len) == Some(1)
            && s.not_ready_addresses.as_ref().map(Vec::len) == Some(1))
        .then_some(s)
    })
    .await;
    let addr = &ep.addresses.unwrap()[0];
    assert_eq!(
        addr.target_ref.as_ref().unwrap().name.as_deref(),
        Some("web-a")
    );
    assert_eq!(addr.node_name.as_deref(), Some("node-1"));
    assert_eq!(ep.ports.unwrap()[0].port, 8080);

    let slice = eventually("endpointslice", LONG, || async {
        let l = c
            .api::<EndpointSlice>("default")
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?;
        let s = l.items.into_iter().next()?;
        (s.endpoints.len() == 2).then_some(s)
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(
        slice.metadata.owner_references.as_ref().unwrap()[0].kind,
        "Service"
    );
    let mut states: Vec<(String, bool)> = slice
        .endpoints
        .iter()
        .map(|e| {
            (
                e.target_ref.as_ref().unwrap().name.clone().unwrap(),
                e.conditions.as_ref().unwrap().ready.unwrap(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [("web-a".to_string(), true), ("web-b".to_string(), false)]
    );
    assert_eq!(slice.ports.as_ref().unwrap()[0].port, Some(8080));

    // web-b becomes ready: both are addresses now.
    let b = c.api::<Pod>("default").get("web-b").await.unwrap();
    c.mark_running(&b, true).await;
    eventually("both ready", LONG, || async {
        let ep = c.api::<Endpoints>("default").get("web").await.ok()?;
        let s = ep.subsets.as_ref()?.first()?.clone();
        (s.addresses.as_ref().map(Vec::len) == Some(2) && s.not_ready_addresses.is_none())
            .then_some(())
    })
    .await;
    // Deleting the service removes its endpoints (and GC its slices).
    c.api::<Service>("default")
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually("endpoints and slices removed", LONG, || async {
        let ep = c.api::<Endpoints>("default").get_opt("web").await.ok()?;
        let slices = c
            .api::<EndpointSlice>("default")
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?
            .items;
        (ep.is_none() && slices.is_empty()).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_can_be_switched_off() {
    let c = common::start_with(|cfg| cfg.controllers = "*,-replicaset".into()).await;
    c.create::<ReplicaSet>("default", rs("idle", 2)).await;
    // Another controller (serviceaccount) proves the manager is running.
    c.create_namespace("probe").await;
    eventually("SA in probe", LONG, || async {
        c.api::<ServiceAccount>("probe")
            .get_opt("default")
            .await
            .ok()?
            .map(|_| ())
    })
    .await;
    assert!(
        c.pods("default", "app=idle").await.is_empty(),
        "the replicaset controller is off"
    );
    let client = c.client.clone();
    c.stop().await;
    let bad = controllers::run(
        client,
        controllers::ControllerManagerConfig {
            controllers: "bogus".into(),
            ..Default::default()
        },
        async {},
    )
    .await;
    assert!(matches!(
        bad,
        Err(controllers::Error::UnknownController { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_the_ttl_annotation() {
    let c = common::start().await;
    c.add_node("hollow-ttl", json!({})).await;
    let nodes = c.cluster_api::<Node>();
    let ttl = eventually("the ttl annotation", LONG, || async {
        let n = nodes.get("hollow-ttl").await.ok()?;
        n.metadata
            .annotations?
            .get(controllers::ttl::TTL_ANNOTATION)
            .cloned()
    })
    .await;
    // A cluster of under 100 nodes: 0 s, as the reference Node records.
    assert_eq!(ttl, "0");
    // Removed by someone else, it comes back.
    nodes
        .patch(
            "hollow-ttl",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {controllers::ttl::TTL_ANNOTATION: null}}}),
            ),
        )
        .await
        .unwrap();
    eventually("the ttl annotation again", LONG, || async {
        let n = nodes.get("hollow-ttl").await.ok()?;
        n.metadata
            .annotations?
            .get(controllers::ttl::TTL_ANNOTATION)
            .filter(|v| *v == "0")
            .map(|_| ())
    })
    .await;
}
