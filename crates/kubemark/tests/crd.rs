//! CustomResourceDefinitions on the embedded master, driven by the real
//! clients: kubectl from PyPI and Debian's kubectl v1.20 (apply a CRD, wait
//! for Established, create/get/list/-o wide/watch/patch/scale/delete custom
//! resources, printer columns, pruning, 422 on invalid objects,
//! api-resources, explain, deleting the CRD), kube-rs's dynamic API
//! (create, watch, status subresource, versions) and a master restart on
//! the same data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use kube::api::{
    Api, ApiResource, DynamicObject, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
use master::server::{MasterConfig, RunningMaster};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CRONTAB_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: The cron schedule of the job.
              image: {type: string}
              replicas: {type: integer, minimum: 0, maximum: 10, default: 1}
              mode: {type: string, enum: [Allow, Forbid], default: Allow}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Image, type: string, jsonPath: .spec.image, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

const CLUSTER_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterthings.example.org
spec:
  group: example.org
  scope: Cluster
  names: {plural: clusterthings, singular: clusterthing, kind: ClusterThing}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

struct Master {
    master: RunningMaster,
    home: tempfile::TempDir,
}

async fn start(data_dir: &std::path::Path, ephemeral: bool) -> Master {
    let mut cfg = MasterConfig::new(data_dir);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.ephemeral = ephemeral;
    let master = master::server::start(cfg).await.expect("master starts");
    Master {
        master,
        home: tempfile::tempdir().unwrap(),
    }
}

fn kubectl_bin(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} must name the kubectl to test with (scripts/test.sh sets it)")
    })
}

impl Master {
    fn kubectl_cmd(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.master.kubeconfig_path)
            .env("HOME", self.home.path());
        cmd
    }

    async fn kubectl(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.kubectl_cmd(bin, args);
        let stdin = stdin.map(String::from);
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            cmd.stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn kubectl");
            if let Some(s) = stdin {
                child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    async fn ok(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(bin, args, stdin).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn fails(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(bin, args, stdin).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::from_yaml(&self.master.kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(cfg).unwrap()
    }
}

fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"))
        .split_whitespace()
        .collect()
}

/// `old`: kubectl v1.20 fetches `/openapi/v2` only as gnostic protobuf,
/// which the embedded master does not serve (406, as for built-in kinds),
/// so it validates nothing client-side (`--validate=false`) and cannot
/// `explain`.
async fn crd_lifecycle(bin: &str, old: bool) {
    let validate = if old {
        "--validate=false"
    } else {
        "--validate=true"
    };
    let dir = tempfile::tempdir().unwrap();
    let m = start(&dir.path().join("data"), true).await;
    m.ok(bin, &["apply", validate, "-f", "-"], Some(CRONTAB_CRD))
        .await;
    m.ok(bin, &["apply", validate, "-f", "-"], Some(CLUSTER_CRD))
        .await;
    m.ok(
        bin,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=30s",
            "crd/crontabs.stable.example.com",
            "crd/clusterthings.example.org",
        ],
        None,
    )
    .await;
    let crd: Value = serde_json::from_str(
        &m.ok(
            bin,
            &["get", "crd", "crontabs.stable.example.com", "-o", "json"],
            None,
        )
        .await,
    )
    .unwrap();
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "CronTab");
    assert_eq!(crd["status"]["acceptedNames"]["shortNames"], json!(["ct"]));

    // Discovery: api-resources lists it with its short name.
    let resources = m.ok(bin, &["api-resources"], None).await;
    let ct = row(&resources, "crontabs");
    assert_eq!(
        ct[1..],
        ["ct", "stable.example.com/v1", "true", "CronTab"],
        "{resources}"
    );
    let things = row(&resources, "clusterthings");
    assert_eq!(
        things[1..],
        ["example.org/v1alpha1", "false", "ClusterThing"]
    );

    // Create: unknown fields pruned, defaults applied.
    m.ok(
        bin,
        &["apply", validate, "-f", "-"],
        Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: cron-a, namespace: default}\nspec: {cronSpec: '* * * * */5', image: img-a, bogus: 1}\nextra: dropped\n"),
    )
    .await;
    let a: Value = serde_json::from_str(
        &m.ok(bin, &["get", "ct", "cron-a", "-o", "json"], None)
            .await,
    )
    .unwrap();
    assert_eq!(
        a["spec"],
        json!({"cronSpec": "* * * * */5", "image": "img-a", "replicas": 1, "mode": "Allow"})
    );
    assert!(a.get("extra").is_none());
    assert_eq!(a["metadata"]["generation"], 1);

    // Applying again updates through a merge patch.
    m.ok(
        bin,
        &["apply", validate, "-f", "-"],
        Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: cron-a, namespace: default}\nspec: {cronSpec: '* * * * */5', image: img-a, replicas: 2}\n"),
    )
    .await;
    let a: Value = serde_json::from_str(
        &m.ok(bin, &["get", "ct", "cron-a", "-o", "json"], None)
            .await,
    )
    .unwrap();
    assert_eq!(
        (
            a["spec"]["replicas"].as_i64(),
            a["metadata"]["generation"].as_i64()
        ),
        (Some(2), Some(2))
    );

    // Printer columns; IMAGE only with -o wide.
    let table = m.ok(bin, &["get", "ct"], None).await;
    assert!(table.starts_with("NAME"), "{table}");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"]);
    assert_eq!(
        row(&table, "cron-a")[..6],
        ["cron-a", "*", "*", "*", "*", "*/5"]
    );
    let wide = m
        .ok(
            bin,
            &["get", "crontabs.stable.example.com", "-o", "wide"],
            None,
        )
        .await;
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]);
    assert!(row(&wide, "cron-a").contains(&"img-a"), "{wide}");

    // Invalid objects are refused with the schema's message.
    let err = m
        .fails(
            bin,
            &["create", validate, "-f", "-"],
            Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: bad, namespace: default}\nspec: {cronSpec: x, replicas: 20}\n"),
        )
        .await;
    assert!(err.contains("The CronTab \"bad\" is invalid"), "{err}");
    assert!(
        err.contains("spec.replicas in body should be less than or equal to 10"),
        "{err}"
    );

    // Watch (kubectl get -w) sees a new object.
    let mut watcher = m
        .kubectl_cmd(bin, &["get", "ct", "-w", "--no-headers"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    m.ok(
        bin,
        &["create", validate, "-f", "-"],
        Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: cron-b, namespace: default}\nspec: {cronSpec: '0 0 * * *'}\n"),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = line.starts_with("cron-b");
        }
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(seen, "kubectl get -w did not show cron-b");

    // Patches: merge and JSON patch; strategic merge is refused (415).
    m.ok(
        bin,
        &[
            "patch",
            "ct",
            "cron-a",
            "--type=merge",
            "-p",
            r#"{"spec":{"image":"img-b"}}"#,
        ],
        None,
    )
    .await;
    m.ok(
        bin,
        &[
            "patch",
            "ct",
            "cron-a",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/mode","value":"Forbid"}]"#,
        ],
        None,
    )
    .await;
    let err = m
        .fails(
            bin,
            &[
                "patch",
                "ct",
                "cron-a",
                "--type=strategic",
                "-p",
                r#"{"spec":{"image":"x"}}"#,
            ],
            None,
        )
        .await;
    assert!(
        err.contains("unknown format")
            || err.contains("UnsupportedMediaType")
            || err.contains("415"),
        "{err}"
    );
    let a: Value = serde_json::from_str(
        &m.ok(bin, &["get", "ct", "cron-a", "-o", "json"], None)
            .await,
    )
    .unwrap();
    assert_eq!(
        (a["spec"]["image"].as_str(), a["spec"]["mode"].as_str()),
        (Some("img-b"), Some("Forbid"))
    );
    assert_eq!(a["metadata"]["generation"], 4);

    // Scale subresource.
    m.ok(bin, &["scale", "ct", "cron-a", "--replicas=5"], None)
        .await;
    let replicas = m
        .ok(
            bin,
            &["get", "ct", "cron-a", "-o", "jsonpath={.spec.replicas}"],
            None,
        )
        .await;
    assert_eq!(replicas, "5");
    let scale: Value = serde_json::from_str(
        &m.ok(
            bin,
            &[
                "get",
                "--raw",
                "/apis/stable.example.com/v1/namespaces/default/crontabs/cron-a/scale",
            ],
            None,
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        (scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(5))
    );

    // explain reads the schema from the OpenAPI documents.
    if !old {
        let explain = m.ok(bin, &["explain", "crontab.spec"], None).await;
        assert!(
            explain.contains("cronSpec") && explain.contains("The cron schedule of the job."),
            "{explain}"
        );
    }

    // Cluster-scoped custom resources.
    m.ok(
        bin,
        &["apply", validate, "-f", "-"],
        Some("apiVersion: example.org/v1alpha1\nkind: ClusterThing\nmetadata: {name: thing-1}\nspec: {anything: {goes: [1, 2]}}\n"),
    )
    .await;
    let thing: Value = serde_json::from_str(
        &m.ok(bin, &["get", "clusterthing", "thing-1", "-o", "json"], None)
            .await,
    )
    .unwrap();
    assert_eq!(thing["spec"], json!({"anything": {"goes": [1, 2]}}));
    assert!(thing["metadata"].get("namespace").is_none());

    // Delete one, then the CRD: its resources and discovery go.
    m.ok(bin, &["delete", "ct", "cron-b"], None).await;
    let names = m.ok(bin, &["get", "ct", "-o", "name"], None).await;
    assert_eq!(names.trim(), "crontab.stable.example.com/cron-a");
    m.ok(bin, &["delete", "crd", "crontabs.stable.example.com"], None)
        .await;
    let err = m
        .fails(
            bin,
            &[
                "get",
                "--raw",
                "/apis/stable.example.com/v1/namespaces/default/crontabs",
            ],
            None,
        )
        .await;
    assert!(
        err.contains("NotFound") || err.contains("not found") || err.contains("could not find"),
        "{err}"
    );
    let resources = m.ok(bin, &["api-resources"], None).await;
    assert!(!resources.contains("crontabs"), "{resources}");
    assert!(m.master.api.store.count("crontabs.stable.example.com") == 0);
    let groups = m.ok(bin, &["get", "--raw", "/apis"], None).await;
    assert!(
        !groups.contains("stable.example.com") && groups.contains("example.org"),
        "{groups}"
    );
    m.master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_with_kubectl_from_pypi() {
    crd_lifecycle(&kubectl_bin("KUBEMARK_TEST_KUBECTL"), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_with_kubectl_1_20() {
    crd_lifecycle(&kubectl_bin("KUBEMARK_TEST_KUBECTL_1_20"), true).await;
}

fn crontabs(client: &kube::Client, version: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("stable.example.com", version, "CronTab"),
        "crontabs",
    );
    Api::namespaced_with(client.clone(), "default", &ar)
}

async fn apply_crontab_crd(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRONTAB_CRD).unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = crds.get("crontabs.stable.example.com").await.unwrap();
        let established = got
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            break;
        }
        assert!(Instant::now() < deadline, "CRD never Established");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn crontab(name: &str, replicas: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": name},
        "spec": {"cronSpec": "* * * * *", "replicas": replicas},
        "status": {"replicas": 9},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_dynamic_objects_create_watch_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(&dir.path().join("data"), true).await;
    let client = m.client().await;
    apply_crontab_crd(&client).await;
    let api = crontabs(&client, "v1");

    let mut stream = api
        .watch(&WatchParams::default().timeout(20), "0")
        .await
        .unwrap()
        .boxed();
    let created = api
        .create(&PostParams::default(), &crontab("w1", 2))
        .await
        .unwrap();
    // Status is not taken on create when the status subresource is on.
    assert!(created.data.get("status").is_none(), "{:?}", created.data);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut added = false;
    while !added {
        let ev = tokio::time::timeout_at(deadline.into(), stream.next())
            .await
            .expect("watch event in time")
            .expect("stream open")
            .unwrap();
        if let WatchEvent::Added(o) = ev {
            added = o.metadata.name.as_deref() == Some("w1");
        }
    }

    // The status subresource changes only status; generation stays.
    let patched = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"replicas": 2}, "spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["replicas"], 2);
    assert_eq!(patched.data["spec"]["replicas"], 2);
    assert_eq!(patched.metadata.generation, Some(1));
    // A spec change bumps generation; a status change through the main
    // resource is ignored.
    let patched = api
        .patch(
            "w1",
            &PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"replicas": 0}, "spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            patched.data["status"]["replicas"].as_i64(),
            patched.metadata.generation
        ),
        (Some(2), Some(2))
    );

    // Invalid: 422 with causes.
    let err = api
        .create(&PostParams::default(), &crontab("bad", 11))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(
                s.message
                    .contains("spec.replicas in body should be less than or equal to 10"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422, got {other}"),
    }

    // Other served versions read the same objects with their apiVersion.
    let beta = crontabs(&client, "v1beta1");
    let got = beta.get("w1").await.unwrap();
    assert_eq!(got.types.unwrap().api_version, "stable.example.com/v1beta1");
    let listed = api.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);

    // JSON only: protobuf falls back to JSON when JSON is accepted too,
    // and protobuf alone is not acceptable (406), as upstream.
    let raw = |accept: &str| {
        http::Request::builder()
            .uri("/apis/stable.example.com/v1/namespaces/default/crontabs/w1")
            .header("accept", accept)
            .body(Vec::new())
            .unwrap()
    };
    let resp = client
        .send(raw("application/vnd.kubernetes.protobuf, application/json").map(Into::into))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let resp = client
        .send(raw("application/vnd.kubernetes.protobuf").map(Into::into))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 406);

    // Label and field selectors.
    api.patch(
        "w1",
        &PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"labels": {"tier": "a"}}})),
    )
    .await
    .unwrap();
    api.create(&PostParams::default(), &crontab("w2", 1))
        .await
        .unwrap();
    let by_label = api
        .list(&kube::api::ListParams::default().labels("tier=a"))
        .await
        .unwrap();
    assert_eq!(by_label.items.len(), 1);
    let by_name = api
        .list(&kube::api::ListParams::default().fields("metadata.name=w2"))
        .await
        .unwrap();
    assert_eq!(by_name.items[0].metadata.name.as_deref(), Some("w2"));
    m.master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let m = start(&data, false).await;
    let client = m.client().await;
    apply_crontab_crd(&client).await;
    crontabs(&client, "v1")
        .create(&PostParams::default(), &crontab("kept", 4))
        .await
        .unwrap();
    m.master.shutdown().await;

    let m = start(&data, false).await;
    let client = m.client().await;
    let got = crontabs(&client, "v1").get("kept").await.unwrap();
    assert_eq!(got.data["spec"]["replicas"], 4);
    let groups = client.list_api_groups().await.unwrap();
    assert!(groups.groups.iter().any(|g| g.name == "stable.example.com"));
    m.master.shutdown().await;
}
