//! The controllers of issue 12 against the embedded master, driven by the
//! real `kubectl` (KUBEMARK_TEST_KUBECTL, set by scripts/test.sh): CronJobs
//! creating Jobs, PersistentVolumeClaims binding to volumes (static,
//! dynamically provisioned from the default class, WaitForFirstConsumer),
//! ResourceQuota usage, and the garbage collector on an ownership cycle.

mod common;

use common::{eventually, LONG};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{json, Value};
use std::time::Duration;

fn kubectl_bin() -> String {
    std::env::var("KUBEMARK_TEST_KUBECTL").expect(
        "KUBEMARK_TEST_KUBECTL names the kubectl to test with (scripts/test.sh installs and sets it)",
    )
}

/// Runs kubectl against the cluster; returns stdout, panicking on failure.
async fn kubectl(c: &common::Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let kubeconfig = c.master.kubeconfig_path.clone();
    let home = c.dir.path().join("home");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(String::from);
    let bin = kubectl_bin();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(&bin)
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", &home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run kubectl at {bin}: {e}"));
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("write stdin");
        }
        drop(input);
        let out = child.wait_with_output().expect("kubectl output");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("join")
}

async fn kubectl_json(c: &common::Cluster, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(c, &a, None).await).expect("kubectl prints JSON")
}

async fn apply(c: &common::Cluster, manifest: Value) {
    kubectl(c, &["apply", "-f", "-"], Some(&manifest.to_string())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cronjob_creates_jobs_on_schedule() {
    let c = common::start().await;
    let job_tmpl = json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
        "containers": [{"name": "c", "image": "busybox"}]}}}});
    // Every two seconds, Forbid: one Job runs, the next waits for it.
    apply(
        &c,
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "fast", "namespace": "default"},
            "spec": {"schedule": "@every 2s", "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 1,
                "jobTemplate": {"metadata": {"labels": {"run": "fast"}}, "spec": job_tmpl["spec"]}}}),
    )
    .await;
    // The standard five fields: the first Job comes at the next minute.
    apply(
        &c,
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "minutely", "namespace": "default"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": job_tmpl}}),
    )
    .await;
    let cj = kubectl_json(&c, &["get", "cronjob", "fast"]).await;
    let uid = cj["metadata"]["uid"].as_str().expect("uid").to_string();
    let first = eventually("the first Job of the CronJob", LONG, || async {
        let jobs = kubectl_json(&c, &["get", "jobs", "-l", "run=fast"]).await;
        jobs["items"].as_array()?.first().cloned()
    })
    .await;
    let name = first["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let minutes: i64 = name
        .strip_prefix("fast-")
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("job name {name} is <cronjob>-<minutes>"));
    let now_min = k8s_openapi::jiff::Timestamp::now().as_second() / 60;
    assert!((now_min - minutes).abs() <= 1, "{name} vs now {now_min}");
    assert_eq!(
        first["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "fast", "uid": uid,
            "controller": true, "blockOwnerDeletion": true}])
    );
    let cj = eventually("status.active names the Job", LONG, || async {
        let cj = kubectl_json(&c, &["get", "cronjob", "fast"]).await;
        (cj["status"]["active"][0]["name"] == name.as_str()).then_some(cj)
    })
    .await;
    assert!(cj["status"]["lastScheduleTime"].is_string(), "{cj}");
    // Forbid: while the Job runs, no other starts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let jobs = kubectl_json(&c, &["get", "jobs", "-l", "run=fast"]).await;
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(1), "{jobs}");

    // The Job's pod succeeds: the Job completes, the CronJob records it and
    // starts the next run; history keeps one successful Job.
    let pod = eventually("the Job's pod", LONG, || async {
        c.pods("default", &format!("job-name={name}"))
            .await
            .into_iter()
            .next()
    })
    .await;
    c.mark_phase(&pod, "Succeeded").await;
    // Job names carry the scheduled minute (as upstream), so the second
    // Job of a 2 s schedule can only come in the next minute: up to 60 s.
    let cj = eventually(
        "lastSuccessfulTime and a second Job",
        Duration::from_secs(75),
        || async {
            let cj = kubectl_json(&c, &["get", "cronjob", "fast"]).await;
            let active = cj["status"]["active"][0]["name"].as_str()?.to_string();
            (cj["status"]["lastSuccessfulTime"].is_string() && active != name).then_some(cj)
        },
    )
    .await;
    let second = cj["status"]["active"][0]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let pod = eventually("the second Job's pod", LONG, || async {
        c.pods("default", &format!("job-name={second}"))
            .await
            .into_iter()
            .next()
    })
    .await;
    c.mark_phase(&pod, "Succeeded").await;
    eventually("the oldest successful Job is deleted", LONG, || async {
        let jobs = c
            .api::<Job>("default")
            .list(&Default::default())
            .await
            .ok()?;
        jobs.items
            .iter()
            .all(|j| j.metadata.name.as_deref() != Some(name.as_str()))
            .then_some(())
    })
    .await;

    // Suspended: nothing new starts.
    kubectl(
        &c,
        &[
            "patch",
            "cronjob",
            "fast",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
        None,
    )
    .await;
    eventually(
        "the standard schedule fires within a minute",
        Duration::from_secs(75),
        || async {
            let jobs = kubectl_json(&c, &["get", "jobs"]).await;
            jobs["items"]
                .as_array()?
                .iter()
                .any(|j| {
                    j["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("minutely-"))
                })
                .then_some(())
        },
    )
    .await;
    let before = kubectl_json(&c, &["get", "jobs", "-l", "run=fast"]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = kubectl_json(&c, &["get", "jobs", "-l", "run=fast"]).await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        names(&before),
        names(&after),
        "a suspended CronJob starts nothing"
    );
    // Deleting the CronJob collects its Jobs.
    kubectl(&c, &["delete", "cronjob", "fast"], None).await;
    eventually("the CronJob's Jobs are collected", LONG, || async {
        let jobs = kubectl_json(&c, &["get", "jobs", "-l", "run=fast"]).await;
        jobs["items"].as_array()?.is_empty().then_some(())
    })
    .await;
    c.stop().await;
}

fn pv(name: &str, class: &str, size: &str, policy: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
            "storageClassName": class, "persistentVolumeReclaimPolicy": policy,
            "csi": {"driver": "csi.example.com", "volumeHandle": name}}})
}

fn pvc(name: &str, class: Option<&str>, size: &str) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
    if let Some(c) = class {
        v["spec"]["storageClassName"] = json!(c);
    }
    v
}

async fn bound_claim(c: &common::Cluster, name: &str) -> Value {
    eventually(&format!("claim {name} Bound"), LONG, || async {
        let v = kubectl_json(c, &["get", "pvc", name]).await;
        (v["status"]["phase"] == "Bound").then_some(v)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_bind_to_volumes_and_provision_from_the_default_class() {
    let c = common::start().await;
    // Static volumes: the claim takes the smallest that fits.
    for (name, size) in [
        ("pv-big", "10Gi"),
        ("pv-small", "1Gi"),
        ("pv-tiny", "100Mi"),
    ] {
        apply(&c, pv(name, "manual", size, "Retain")).await;
    }
    apply(&c, pvc("static", Some("manual"), "500Mi")).await;
    let claim = bound_claim(&c, "static").await;
    assert_eq!(claim["spec"]["volumeName"], "pv-small");
    assert_eq!(claim["status"]["capacity"]["storage"], "1Gi");
    assert_eq!(claim["status"]["accessModes"], json!(["ReadWriteOnce"]));
    let ann = &claim["metadata"]["annotations"];
    assert_eq!(ann["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(ann["pv.kubernetes.io/bound-by-controller"], "yes");
    let vol = eventually("pv-small Bound", LONG, || async {
        let v = kubectl_json(&c, &["get", "pv", "pv-small"]).await;
        (v["status"]["phase"] == "Bound").then_some(v)
    })
    .await;
    assert_eq!(vol["spec"]["claimRef"]["name"], "static");
    assert_eq!(vol["spec"]["claimRef"]["uid"], claim["metadata"]["uid"]);
    assert_eq!(
        vol["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"],
        "yes"
    );
    let other = kubectl_json(&c, &["get", "pv", "pv-big"]).await;
    assert_eq!(other["status"]["phase"], "Available");
    let table = kubectl(&c, &["get", "pvc", "static"], None).await;
    assert!(
        table.contains("Bound") && table.contains("pv-small"),
        "{table}"
    );

    // The default StorageClass provisions for a claim that names no class.
    apply(
        &c,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "csi.kubemark.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
    )
    .await;
    apply(&c, pvc("dynamic", None, "2Gi")).await;
    let claim = bound_claim(&c, "dynamic").await;
    let uid = claim["metadata"]["uid"].as_str().expect("uid").to_string();
    let pv_name = format!("pvc-{uid}");
    assert_eq!(claim["spec"]["volumeName"], pv_name.as_str());
    assert_eq!(
        claim["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"],
        "csi.kubemark.io"
    );
    let vol = kubectl_json(&c, &["get", "pv", &pv_name]).await;
    assert_eq!(vol["spec"]["storageClassName"], "standard");
    assert_eq!(vol["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(vol["spec"]["capacity"]["storage"], "2Gi");
    assert_eq!(vol["spec"]["csi"]["driver"], "csi.kubemark.io");
    assert_eq!(
        vol["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "csi.kubemark.io"
    );

    // Deleting claims: Delete removes the volume, Retain releases it.
    kubectl(&c, &["delete", "pvc", "dynamic", "static"], None).await;
    let pvs = c.cluster_api::<PersistentVolume>();
    eventually("the provisioned volume is deleted", LONG, || async {
        pvs.get_opt(&pv_name).await.ok()?.is_none().then_some(())
    })
    .await;
    eventually("the retained volume is Released", LONG, || async {
        let v = pvs.get("pv-small").await.ok()?;
        (v.status?.phase.as_deref() == Some("Released")).then_some(())
    })
    .await;

    // WaitForFirstConsumer: nothing until a pod using the claim has a node.
    apply(
        &c,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "late"}, "provisioner": "csi.kubemark.io",
            "volumeBindingMode": "WaitForFirstConsumer"}),
    )
    .await;
    apply(&c, pvc("late", Some("late"), "1Gi")).await;
    eventually("a WaitForFirstConsumer event", LONG, || async {
        let ev = kubectl(
            &c,
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=late",
            ],
            None,
        )
        .await;
        ev.contains("WaitForFirstConsumer").then_some(())
    })
    .await;
    let claims = c.api::<PersistentVolumeClaim>("default");
    let pending = claims.get("late").await.expect("claim");
    assert_eq!(
        pending.status.and_then(|s| s.phase).as_deref(),
        Some("Pending")
    );
    c.add_node("node-1", json!({"kubernetes.io/hostname": "node-1"}))
        .await;
    let pod: Pod = c
        .create(
            "default",
            json!({"metadata": {"name": "consumer"}, "spec": {
                "containers": [{"name": "c", "image": "pause"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "late"}}]}}),
        )
        .await;
    c.bind(&pod, "node-1").await;
    let claim = bound_claim(&c, "late").await;
    assert_eq!(
        claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
        "node-1"
    );
    let vol = kubectl_json(
        &c,
        &[
            "get",
            "pv",
            claim["spec"]["volumeName"].as_str().expect("volume"),
        ],
    )
    .await;
    assert_eq!(
        vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
            ["values"],
        json!(["node-1"])
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_quota_status_shows_usage() {
    let c = common::start().await;
    kubectl(&c, &["create", "namespace", "quota-test"], None).await;
    apply(
        &c,
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "quota-test"},
            "spec": {"hard": {"pods": "10", "configmaps": "20", "requests.cpu": "4",
                "limits.memory": "2Gi", "secrets": "5", "count/deployments.apps": "2"}}}),
    )
    .await;
    for i in 0..3 {
        kubectl(
            &c,
            &[
                "-n",
                "quota-test",
                "create",
                "configmap",
                &format!("cm-{i}"),
                "--from-literal=k=v",
            ],
            None,
        )
        .await;
    }
    for i in 0..2 {
        apply(
            &c,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p-{i}"), "namespace": "quota-test"},
                "spec": {"containers": [{"name": "c", "image": "pause",
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "128Mi"}}}]}}),
        )
        .await;
    }
    // Three of ours plus the namespace's kube-root-ca.crt.
    let q = eventually("quota usage", LONG, || async {
        let q = kubectl_json(&c, &["-n", "quota-test", "get", "resourcequota", "q"]).await;
        let used = &q["status"]["used"];
        (used["pods"] == "2" && used["configmaps"] == "4" && used["requests.cpu"] == "500m")
            .then_some(q)
    })
    .await;
    assert_eq!(q["status"]["hard"], q["spec"]["hard"]);
    assert_eq!(q["status"]["used"]["limits.memory"], "256Mi");
    assert_eq!(q["status"]["used"]["count/deployments.apps"], "0");
    assert!(q["status"]["used"]["secrets"].is_string(), "{q}");
    let described = kubectl(&c, &["-n", "quota-test", "describe", "quota", "q"], None).await;
    assert!(
        described.contains("requests.cpu") && described.contains("500m"),
        "{described}"
    );
    // A finished pod no longer counts.
    let pod = c.api::<Pod>("quota-test").get("p-0").await.expect("pod");
    c.mark_phase(&pod, "Succeeded").await;
    eventually("a terminal pod is not charged", LONG, || async {
        let q = kubectl_json(&c, &["-n", "quota-test", "get", "resourcequota", "q"]).await;
        (q["status"]["used"]["pods"] == "1" && q["status"]["used"]["requests.cpu"] == "250m")
            .then_some(())
    })
    .await;
    c.stop().await;
}

/// The e2e conformance spec "Garbage collector should not be blocked by
/// dependency circle": pod1 is owned by pod3, pod2 by pod1, pod3 by pod2,
/// all blocking; deleting pod1 in foreground deletes all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_is_not_blocked_by_a_dependency_circle() {
    let c = common::start().await;
    let pods = c.api::<Pod>("default");
    let mut created = Vec::new();
    for name in ["pod1", "pod2", "pod3"] {
        let p: Pod = c
            .create(
                "default",
                json!({"metadata": {"name": name, "labels": {"gc": "circle"}},
                    "spec": {"containers": [{"name": "c", "image": "pause"}]}}),
            )
            .await;
        created.push(p);
    }
    let uid = |i: usize| created[i].metadata.uid.clone().expect("uid");
    let owner = |name: &str, uid: String| {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name,
            "uid": uid, "controller": true, "blockOwnerDeletion": true}]}})
    };
    for (dependent, owner_name, owner_uid) in [
        ("pod1", "pod3", uid(2)),
        ("pod2", "pod1", uid(0)),
        ("pod3", "pod2", uid(1)),
    ] {
        pods.patch(
            dependent,
            &PatchParams::default(),
            &Patch::Strategic(owner(owner_name, owner_uid)),
        )
        .await
        .expect("add owner reference");
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid(0)),
            resource_version: None,
        }),
        ..DeleteParams::foreground()
    };
    pods.delete("pod1", &dp).await.expect("delete pod1");
    eventually("all three pods are collected", LONG, || async {
        c.pods("default", "gc=circle")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    c.stop().await;
}
