//! Workload controllers against the embedded master: ReplicaSet,
//! Deployment (scale, rolling update), DaemonSet, Job, StatefulSet.

mod common;

use common::{eventually, LONG};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

fn live(pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_creates_and_deletes_pods() {
    let c = common::start().await;
    c.create::<ReplicaSet>("default", json!({
        "metadata": {"name": "rs1"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs1"}},
            "template": {"metadata": {"labels": {"app": "rs1"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    })).await;
    eventually("3 pods", LONG, || async {
        (c.pods("default", "app=rs1").await.len() == 3).then_some(())
    })
    .await;
    for p in c.pods("default", "app=rs1").await {
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "rs1")
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
        assert!(p.metadata.name.as_ref().unwrap().starts_with("rs1-"));
    }
    c.api::<ReplicaSet>("default")
        .patch(
            "rs1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually("1 live pod", LONG, || async {
        (live(&c.pods("default", "app=rs1").await) == 1).then_some(())
    })
    .await;
    eventually("status replicas 1", LONG, || async {
        let rs = c.api::<ReplicaSet>("default").get("rs1").await.unwrap();
        let st = rs.status.unwrap_or_default();
        (st.replicas == 1 && st.observed_generation == rs.metadata.generation).then_some(())
    })
    .await;
    let events = c
        .api::<Event>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SuccessfulCreate")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Created pod: rs1-"))
                && e.source.as_ref().and_then(|s| s.component.as_deref())
                    == Some("replicaset-controller")),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| e.reason.as_deref() == Some("SuccessfulDelete")));
    c.stop().await;
}

fn web(replicas: i32, image: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}
    })
}

async fn deployment_settled(c: &common::Cluster, replicas: i32) -> Option<Deployment> {
    c.kubelet_pass("default", "app=web", "node-1").await;
    let d = c.api::<Deployment>("default").get("web").await.ok()?;
    let st = d.status.clone()?;
    let pods = live(&c.pods("default", "app=web").await);
    (st.observed_generation == d.metadata.generation
        && st.replicas == Some(replicas)
        && st.updated_replicas == Some(replicas)
        && st.available_replicas == Some(replicas)
        && pods == replicas as usize)
        .then_some(d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_scales_up_and_down() {
    let c = common::start().await;
    c.add_node("node-1", json!({})).await;
    c.create::<Deployment>("default", web(3, "v1")).await;
    let d = eventually("3 available", LONG, || deployment_settled(&c, 3)).await;
    let conds = d.status.unwrap().conditions.unwrap();
    let available = conds.iter().find(|x| x.type_ == "Available").unwrap();
    assert_eq!(
        (available.status.as_str(), available.reason.as_deref()),
        ("True", Some("MinimumReplicasAvailable"))
    );
    let progressing = conds.iter().find(|x| x.type_ == "Progressing").unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    assert_eq!(
        d.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );
    let rss = c
        .api::<ReplicaSet>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(rss.len(), 1);
    let rs_name = rss[0].metadata.name.clone().unwrap();
    let hash = rss[0].metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(rs_name, format!("web-{hash}"));
    for p in c.pods("default", "app=web").await {
        assert_eq!(
            p.metadata.labels.as_ref().unwrap()["pod-template-hash"],
            hash
        );
    }

    c.api::<Deployment>("default")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 6}})),
        )
        .await
        .unwrap();
    eventually("6 available", LONG, || deployment_settled(&c, 6)).await;
    c.api::<Deployment>("default")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    eventually("2 available", LONG, || deployment_settled(&c, 2)).await;

    let events = c
        .api::<Event>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let scaling: Vec<&str> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|e| e.message.as_deref())
        .collect();
    assert!(
        scaling.contains(&format!("Scaled up replica set {rs_name} to 3").as_str()),
        "{scaling:?}"
    );
    assert!(
        scaling.contains(&format!("Scaled down replica set {rs_name} to 2").as_str()),
        "{scaling:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_rolling_update_completes() {
    let c = common::start().await;
    c.add_node("node-1", json!({})).await;
    c.create::<Deployment>("default", web(3, "v1")).await;
    eventually("v1 available", LONG, || deployment_settled(&c, 3)).await;
    let old_rs = c
        .api::<ReplicaSet>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();

    c.api::<Deployment>("default")
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}})))
        .await
        .unwrap();
    let d = eventually("rollout to v2", LONG, || async {
        let d = deployment_settled(&c, 3).await?;
        let rss = c
            .api::<ReplicaSet>("default")
            .list(&ListParams::default())
            .await
            .ok()?
            .items;
        let old = rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(old_rs.as_str()))?;
        (old.spec.as_ref()?.replicas == Some(0) && rss.len() == 2).then_some(d)
    })
    .await;
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    let rss = c
        .api::<ReplicaSet>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let new = rss
        .iter()
        .find(|r| r.metadata.name.as_deref() != Some(old_rs.as_str()))
        .unwrap();
    assert_eq!(
        new.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(new.spec.as_ref().unwrap().replicas, Some(3));
    for p in c
        .pods("default", "app=web")
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        assert_eq!(
            p.spec.as_ref().unwrap().containers[0].image.as_deref(),
            Some("v2")
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_follows_nodes() {
    let c = common::start().await;
    c.add_node("n1", json!({"role": "worker"})).await;
    c.add_node("n2", json!({"role": "worker"})).await;
    c.add_node("other", json!({"role": "infra"})).await;
    c.create::<DaemonSet>("default", json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"nodeSelector": {"role": "worker"}, "containers": [{"name": "c", "image": "agent"}]}}}
    })).await;
    let targets = |pods: &[Pod]| {
        let mut t: Vec<String> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(common::daemon_target)
            .collect();
        t.sort();
        t
    };
    eventually("pods on n1 and n2", LONG, || async {
        let pods = c.kubelet_pass("default", "app=agent", "unused").await;
        (targets(&pods) == ["n1", "n2"]).then_some(())
    })
    .await;
    let pods = c.pods("default", "app=agent").await;
    let tolerations = pods[0].spec.as_ref().unwrap().tolerations.clone().unwrap();
    assert!(tolerations
        .iter()
        .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable")));

    c.add_node("n3", json!({"role": "worker"})).await;
    eventually("pod on n3", LONG, || async {
        let pods = c.kubelet_pass("default", "app=agent", "unused").await;
        (targets(&pods) == ["n1", "n2", "n3"]).then_some(())
    })
    .await;
    c.delete_node("n2").await;
    eventually("pod of n2 gone", LONG, || async {
        let pods = c.kubelet_pass("default", "app=agent", "unused").await;
        (targets(&c.pods("default", "app=agent").await) == ["n1", "n3"] && pods.len() >= 2)
            .then_some(())
    })
    .await;
    eventually("status", LONG, || async {
        let ds = c.api::<DaemonSet>("default").get("agent").await.ok()?;
        let st = ds.status?;
        (st.desired_number_scheduled == 2
            && st.current_number_scheduled == 2
            && st.number_ready == 2)
            .then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes_when_pods_succeed() {
    let c = common::start().await;
    c.add_node("node-1", json!({})).await;
    c.create::<Job>("default", json!({
        "metadata": {"name": "batch"},
        "spec": {"completions": 3, "parallelism": 2,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "work"}]}}}
    })).await;
    let finished = eventually("job complete", LONG, || async {
        let pods = c.pods("default", "job-name=batch").await;
        for p in &pods {
            if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
                c.bind(p, "node-1").await;
            }
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Succeeded") {
                c.mark_phase(p, "Succeeded").await;
            }
        }
        let job = c.api::<Job>("default").get("batch").await.ok()?;
        let st = job.status?;
        let complete = st
            .conditions
            .as_ref()?
            .iter()
            .any(|x| x.type_ == "Complete" && x.status == "True");
        complete.then_some((st, pods.len()))
    })
    .await;
    let (st, pods) = finished;
    assert_eq!(st.succeeded, Some(3));
    assert!(st.completion_time.is_some() && st.start_time.is_some());
    assert_eq!(st.active.unwrap_or(0), 0);
    assert_eq!(pods, 3, "no extra pods were created");
    eventually("Completed event", LONG, || async {
        let events = c
            .api::<Event>("default")
            .list(&ListParams::default())
            .await
            .ok()?
            .items;
        events
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Completed")
                    && e.message.as_deref() == Some("Job completed")
            })
            .then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_creates_in_order() {
    let c = common::start().await;
    c.add_node("node-1", json!({})).await;
    c.create::<StatefulSet>("default", json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "serviceName": "web", "selector": {"matchLabels": {"app": "sts"}},
            "template": {"metadata": {"labels": {"app": "sts"}}, "spec": {"containers": [{"name": "c", "image": "db"}]}}}
    })).await;
    let sts_api = c.api::<StatefulSet>("default");
    // The controller has seen web-0 (status counts it) and did not go on.
    eventually("web-0 counted", LONG, || async {
        let st = sts_api.get("web").await.ok()?.status?;
        (st.replicas == 1).then_some(())
    })
    .await;
    let names: Vec<String> = c
        .pods("default", "app=sts")
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(names, ["web-0"], "web-1 waits for web-0");
    let web0 = c.api::<Pod>("default").get("web-0").await.unwrap();
    assert_eq!(
        web0.spec.as_ref().unwrap().hostname.as_deref(),
        Some("web-0")
    );
    assert_eq!(
        web0.spec.as_ref().unwrap().subdomain.as_deref(),
        Some("web")
    );
    c.bind(&web0, "node-1").await;
    c.mark_running(&web0, false).await;
    eventually("status sees web-0 running", LONG, || async {
        let st = sts_api.get("web").await.ok()?.status?;
        (st.replicas == 1 && st.observed_generation.is_some()).then_some(())
    })
    .await;
    assert!(
        c.api::<Pod>("default")
            .get_opt("web-1")
            .await
            .unwrap()
            .is_none(),
        "web-0 running but not ready"
    );
    c.mark_running(&web0, true).await;
    eventually("web-1 created", LONG, || async {
        c.api::<Pod>("default")
            .get_opt("web-1")
            .await
            .ok()?
            .map(|_| ())
    })
    .await;
    eventually("both ready", LONG, || async {
        c.kubelet_pass("default", "app=sts", "node-1").await;
        let st = sts_api.get("web").await.ok()?.status?;
        (st.ready_replicas == Some(2)).then_some(())
    })
    .await;
    // Scale down removes the highest ordinal.
    sts_api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually("web-1 removed", LONG, || async {
        c.kubelet_pass("default", "app=sts", "node-1").await;
        let names: Vec<String> = c
            .pods("default", "app=sts")
            .await
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        (names == ["web-0"]).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_deployment_gets_all_pods_without_overshoot() {
    let c = common::start().await;
    let n = 3000;
    let t0 = std::time::Instant::now();
    c.create::<Deployment>("default", json!({
        "metadata": {"name": "big"},
        "spec": {"replicas": n, "selector": {"matchLabels": {"app": "big"}},
            "template": {"metadata": {"labels": {"app": "big"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    }))
    .await;
    eventually(
        "all pods counted",
        std::time::Duration::from_secs(120),
        || async {
            let rss = c
                .api::<ReplicaSet>("default")
                .list(&ListParams::default())
                .await
                .ok()?
                .items;
            (rss.first()?.status.as_ref()?.replicas == n).then_some(())
        },
    )
    .await;
    eprintln!("{n} pods in {:?}", t0.elapsed());
    // Expectations keep the controller from creating more than asked.
    let pods = c
        .api::<Pod>("default")
        .list_metadata(&ListParams::default().labels("app=big"))
        .await
        .unwrap()
        .items;
    assert_eq!(pods.len(), n as usize);
    let events = c
        .api::<Event>("default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let creates = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .count();
    assert!(
        creates <= 25,
        "the spam filter bounds events per object: {creates}"
    );
    c.stop().await;
}
