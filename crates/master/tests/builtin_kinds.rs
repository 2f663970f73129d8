//! Every resource of the v1.24 API through the real kubectl: each kind the
//! master serves beyond the workload core is created, read as a table,
//! watched, and deleted; `kubectl api-resources` lists what the recorded
//! v1.24 server lists; the review APIs answer `kubectl auth can-i` with the
//! authorizer's decisions for an admin and a node identity.

#![allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

/// (kubectl resource, object name, namespaced, manifest, a column header of
/// the real server's table for that kind).
struct Kind {
    resource: &'static str,
    name: &'static str,
    namespaced: bool,
    manifest: String,
    column: &'static str,
}

fn kinds() -> Vec<Kind> {
    let k = |resource, name, namespaced, manifest: &str, column| Kind {
        resource,
        name,
        namespaced,
        manifest: manifest.to_string(),
        column,
    };
    let csr_pem = {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["alice".to_string()]).unwrap();
        params.serialize_request(&key).unwrap().pem().unwrap()
    };
    use base64::Engine as _;
    let csr_b64 = base64::engine::general_purpose::STANDARD.encode(csr_pem);
    vec![
        k(
            "limitranges",
            "lr1",
            true,
            r#"
apiVersion: v1
kind: LimitRange
metadata: {name: lr1}
spec:
  limits:
  - type: Container
    default: {cpu: 100m}
"#,
            "CREATED AT",
        ),
        k(
            "persistentvolumes",
            "pv1",
            false,
            r#"
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/pv1}
"#,
            "RECLAIM POLICY",
        ),
        k(
            "persistentvolumeclaims",
            "pvc1",
            true,
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc1}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"#,
            "ACCESS MODES",
        ),
        k(
            "podtemplates",
            "pt1",
            true,
            r#"
apiVersion: v1
kind: PodTemplate
metadata: {name: pt1}
template:
  metadata: {labels: {app: pt}}
  spec:
    containers: [{name: c, image: registry.k8s.io/pause:3.9}]
"#,
            "POD LABELS",
        ),
        k(
            "resourcequotas",
            "rq1",
            true,
            r#"
apiVersion: v1
kind: ResourceQuota
metadata: {name: rq1}
spec:
  hard: {pods: "10"}
"#,
            "REQUEST",
        ),
        k(
            "cronjobs.batch",
            "cj1",
            true,
            r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj1}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: registry.k8s.io/pause:3.9}]
"#,
            "SCHEDULE",
        ),
        k(
            "csistoragecapacities.storage.k8s.io",
            "csc1",
            true,
            r#"
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: csc1}
storageClassName: sc1
capacity: 1Gi
"#,
            "STORAGECLASSNAME",
        ),
        k(
            "storageclasses.storage.k8s.io",
            "sc1",
            false,
            r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sc1}
provisioner: example.com/fake
"#,
            "PROVISIONER",
        ),
        k(
            "volumeattachments.storage.k8s.io",
            "va1",
            false,
            r#"
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va1}
spec:
  attacher: example.com/fake
  nodeName: n1
  source: {persistentVolumeName: pv1}
"#,
            "ATTACHER",
        ),
        k(
            "mutatingwebhookconfigurations.admissionregistration.k8s.io",
            "mwc1",
            false,
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mwc1}
webhooks:
- name: m.example.com
  clientConfig: {url: "https://example.com/m"}
  admissionReviewVersions: [v1]
  sideEffects: None
"#,
            "WEBHOOKS",
        ),
        k(
            "validatingwebhookconfigurations.admissionregistration.k8s.io",
            "vwc1",
            false,
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc1}
webhooks:
- name: v.example.com
  clientConfig: {url: "https://example.com/v"}
  admissionReviewVersions: [v1]
  sideEffects: None
"#,
            "WEBHOOKS",
        ),
        k(
            "customresourcedefinitions.apiextensions.k8s.io",
            "crontabs.stable.example.com",
            false,
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#,
            "CREATED AT",
        ),
        k(
            "apiservices.apiregistration.k8s.io",
            "v1.example.com",
            false,
            r#"
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.example.com}
spec:
  group: example.com
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {namespace: default, name: api}
"#,
            "SERVICE",
        ),
        k(
            "horizontalpodautoscalers.autoscaling",
            "hpa1",
            true,
            r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hpa1}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"#,
            "REFERENCE",
        ),
        k(
            "certificatesigningrequests.certificates.k8s.io",
            "csr1",
            false,
            &format!(
                r#"
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {{name: csr1}}
spec:
  request: {csr_b64}
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
"#
            ),
            "SIGNERNAME",
        ),
        k(
            "ingressclasses.networking.k8s.io",
            "ic1",
            false,
            r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ic1}
spec: {controller: example.com/ingress}
"#,
            "CONTROLLER",
        ),
        k(
            "ingresses.networking.k8s.io",
            "ing1",
            true,
            r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing1}
spec:
  ingressClassName: ic1
  rules:
  - host: a.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"#,
            "HOSTS",
        ),
        k(
            "networkpolicies.networking.k8s.io",
            "np1",
            true,
            r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np1}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"#,
            "POD-SELECTOR",
        ),
        k(
            "poddisruptionbudgets.policy",
            "pdb1",
            true,
            r#"
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb1}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
"#,
            "ALLOWED DISRUPTIONS",
        ),
        k(
            "clusterroles.rbac.authorization.k8s.io",
            "cr1",
            false,
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr1}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
"#,
            "CREATED AT",
        ),
        k(
            "clusterrolebindings.rbac.authorization.k8s.io",
            "crb1",
            false,
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr1}
subjects:
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
"#,
            "ROLE",
        ),
        k(
            "roles.rbac.authorization.k8s.io",
            "r1",
            true,
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r1}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get]}
"#,
            "CREATED AT",
        ),
        k(
            "rolebindings.rbac.authorization.k8s.io",
            "rb1",
            true,
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r1}
subjects:
- {kind: ServiceAccount, name: default, namespace: default}
"#,
            "ROLE",
        ),
        k(
            "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
            "plc1",
            false,
            r#"
apiVersion: flowcontrol.apiserver.k8s.io/v1beta2
kind: PriorityLevelConfiguration
metadata: {name: plc1}
spec:
  type: Limited
  limited:
    assuredConcurrencyShares: 5
    limitResponse: {type: Reject}
"#,
            "TYPE",
        ),
        k(
            "flowschemas.flowcontrol.apiserver.k8s.io",
            "fs1",
            false,
            r#"
apiVersion: flowcontrol.apiserver.k8s.io/v1beta2
kind: FlowSchema
metadata: {name: fs1}
spec:
  priorityLevelConfiguration: {name: plc1}
  matchingPrecedence: 1000
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: Group, group: {name: system:authenticated}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"]}]
"#,
            "PRIORITYLEVEL",
        ),
        k(
            "podsecuritypolicies.policy",
            "psp1",
            false,
            r#"
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: psp1}
spec:
  seLinux: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ["*"]
"#,
            "PRIV",
        ),
    ]
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Starts `kubectl get RESOURCE --watch-only -o name` and returns the child
/// and a channel of its output lines.
fn watch(
    kubeconfig: &Path,
    home: &Path,
    resource: &str,
    namespaced: bool,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut args = vec![
        "get",
        resource,
        "--watch-only",
        "-o",
        "name",
        "--request-timeout=60s",
    ];
    if namespaced {
        args.push("-n");
        args.push("default");
    }
    let mut child = std::process::Command::new(common::kubectl_path())
        .args(&args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn kubectl get --watch-only");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_reads_watches_and_deletes_every_new_kind() {
    let m = common::start().await;
    let kubeconfig = m.master.kubeconfig_path.clone();
    let home = m.dir.path().join("home");
    for chunk in kinds().chunks(7) {
        // Watches first, so that the creations are their events.
        let mut watches: Vec<_> = chunk
            .iter()
            .map(|k| watch(&kubeconfig, &home, k.resource, k.namespaced))
            .collect();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for k in chunk {
            let out = m.kubectl_apply(&k.manifest).await;
            assert!(out.contains("created"), "{}: {out}", k.resource);
            let table = m.kubectl_ok(&["get", k.resource, k.name]).await;
            let header = table.lines().next().unwrap_or("");
            assert!(header.starts_with("NAME"), "{}: {table}", k.resource);
            assert!(header.contains(k.column), "{}: {table}", k.resource);
            assert!(table.contains(k.name), "{}: {table}", k.resource);
            let list = json(&m.kubectl_ok(&["get", k.resource, "-o", "json"]).await);
            let items = list["items"].as_array().expect("items");
            assert!(
                items.iter().any(|i| i["metadata"]["name"] == k.name),
                "{}: {list}",
                k.resource
            );
            let obj = json(
                &m.kubectl_ok(&["get", k.resource, k.name, "-o", "json"])
                    .await,
            );
            assert_eq!(
                obj["metadata"]["namespace"].is_string(),
                k.namespaced,
                "{obj}"
            );
            if k.resource.starts_with("certificatesigningrequests") {
                // The requester is the admin's client certificate.
                assert_eq!(obj["spec"]["username"], "kubernetes-admin", "{obj}");
            }
            assert!(obj["metadata"]["uid"].is_string(), "{obj}");
            // A label change through a merge patch.
            m.kubectl_ok(&["label", k.resource, k.name, "touched=yes"])
                .await;
            let obj = json(
                &m.kubectl_ok(&["get", k.resource, k.name, "-o", "json"])
                    .await,
            );
            assert_eq!(obj["metadata"]["labels"]["touched"], "yes", "{obj}");
        }
        for (k, (child, rx)) in chunk.iter().zip(watches.iter_mut()) {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            let mut seen = Vec::new();
            while std::time::Instant::now() < deadline {
                if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                    let hit = line.ends_with(&format!("/{}", k.name));
                    seen.push(line);
                    if hit {
                        break;
                    }
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                seen.iter().any(|l| l.ends_with(&format!("/{}", k.name))),
                "{}: watch printed {seen:?}",
                k.resource
            );
        }
        for k in chunk {
            m.kubectl_ok(&["delete", k.resource, k.name]).await;
            let gone = m.kubectl(&["get", k.resource, k.name]).await;
            assert!(!gone.status.success(), "{} still there", k.resource);
            let err = String::from_utf8_lossy(&gone.stderr);
            assert!(
                err.contains("NotFound") || err.contains("not found"),
                "{err}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_scale_and_deletecollection_on_new_kinds() {
    let m = common::start().await;
    let client = m.client().await;
    use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
    use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
    let pvcs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "PersistentVolumeClaim")),
    );
    for name in ["a", "b"] {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": {"set": "x"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }))
        .unwrap();
        pvcs.create(&Default::default(), &obj)
            .await
            .expect("create pvc");
    }
    // Status through the subresource only.
    let patched = pvcs
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"phase": "Bound"}})),
        )
        .await
        .expect("patch status");
    assert_eq!(patched.data["status"]["phase"], "Bound");
    let ignored = pvcs
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"phase": "Lost"}})),
        )
        .await
        .expect("patch main resource");
    assert_eq!(
        ignored.data["status"]["phase"], "Bound",
        "status is the subresource's"
    );
    pvcs.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("set=x"),
    )
    .await
    .expect("deletecollection");
    assert!(pvcs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // A create-only kind has no list (405), and no Table (406).
    let ssar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"nonResourceAttributes":{"path":"/","verb":"get"}}}"#;
    let send = |method: &str, accept: Option<&str>, body: &str| {
        let mut req = http::Request::builder()
            .method(method)
            .uri("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
            .header("content-type", "application/json");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        req.body(kube::client::Body::from(body.as_bytes().to_vec()))
            .unwrap()
    };
    let resp = client.send(send("POST", None, ssar)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let resp = client
        .send(send(
            "POST",
            Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
            ssar,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 406);
    let resp = client.send(send("GET", None, "")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_apis_answer_through_kubectl_create() {
    let m = common::start().await;
    let reviews = [
        (
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"delete","resource":"nodes"}}}"#,
            "allowed",
            Value::Bool(true),
        ),
        (
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:node:n1","groups":["system:nodes"],"resourceAttributes":{"verb":"create","resource":"secrets","namespace":"default"}}}"#,
            "allowed",
            Value::Bool(false),
        ),
        (
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","metadata":{"namespace":"default"},"spec":{"user":"system:node:n1","groups":["system:nodes"],"resourceAttributes":{"verb":"get","resource":"pods"}}}"#,
            "allowed",
            Value::Bool(true),
        ),
        (
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}"#,
            "incomplete",
            Value::Bool(false),
        ),
        (
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"not-a-token"}}"#,
            "authenticated",
            Value::Bool(false),
        ),
    ];
    for (body, field, want) in reviews {
        // kubectl validates create-only kinds (no PATCH operation in the
        // v3 document) against /openapi/v2 in protobuf, which we serve as
        // JSON only: hence --validate=false (see the report).
        let out = m
            .kubectl_stdin(
                &["create", "-f", "-", "-o", "json", "--validate=false"],
                Some(body),
            )
            .await;
        assert!(
            out.status.success(),
            "{body}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(v["status"][field], want, "{body}: {v}");
    }
    let cs = m.kubectl_ok(&["get", "componentstatuses"]).await;
    assert!(cs.contains("Healthy") && cs.contains("STATUS"), "{cs}");
    // The default RBAC objects describe the built-in authorizer.
    let crb = m
        .kubectl_ok(&["get", "clusterrolebinding", "cluster-admin", "-o", "wide"])
        .await;
    assert!(
        crb.contains("ClusterRole/cluster-admin") && crb.contains("system:masters"),
        "{crb}"
    );
    // The local APIServices, one per served group/version.
    let apis = m.kubectl_ok(&["get", "apiservices"]).await;
    let row = apis
        .lines()
        .find(|l| l.starts_with("v1.apps "))
        .unwrap_or_else(|| panic!("{apis}"));
    assert!(row.contains("Local") && row.contains("True"), "{apis}");
    assert!(
        apis.contains("v1beta2.flowcontrol.apiserver.k8s.io"),
        "{apis}"
    );
}

/// Column values of `kubectl api-resources` output, split at the header's
/// column starts (cells may be empty).
fn parse_columns(out: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = out.lines();
    let header = lines.next().expect("header");
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut prev_space = true;
    for (i, c) in header.char_indices() {
        if c != ' ' && prev_space {
            let name: String = header[i..].split(' ').next().unwrap_or("").to_string();
            starts.push((i, name));
        }
        prev_space = c == ' ';
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut row = std::collections::BTreeMap::new();
            for (n, (start, name)) in starts.iter().enumerate() {
                let end = starts.get(n + 1).map(|s| s.0).unwrap_or(line.len());
                let cell = line.get(*start..end.min(line.len())).unwrap_or("").trim();
                row.insert(name.clone(), cell.to_string());
            }
            row
        })
        .collect()
}

fn reference(file: &str) -> Value {
    let path = format!(
        "{}/../../../shared/reference/kube-apiserver-1.24/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference {path} is needed: {e}"));
    json(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_api_resources_lists_what_the_real_server_lists() {
    let m = common::start().await;
    let out = m.kubectl_ok(&["api-resources"]).await;
    let rows = parse_columns(&out);
    assert_eq!(rows.len(), 56, "{out}");
    // Every group's preferred version is what the real server prefers.
    let groups = reference("discovery_apis.json");
    for g in groups["groups"].as_array().unwrap() {
        let preferred = g["preferredVersion"]["groupVersion"].as_str().unwrap();
        let name = g["name"].as_str().unwrap();
        let ours: Vec<&str> = rows
            .iter()
            .filter(|r| r["APIVERSION"].split('/').next() == Some(name))
            .map(|r| r["APIVERSION"].as_str())
            .collect();
        assert!(!ours.is_empty(), "group {name} missing:\n{out}");
        // Only policy serves a kind (PodSecurityPolicy) outside its
        // preferred version in v1.24.
        if name != "policy" {
            assert!(ours.iter().all(|v| *v == preferred), "{name}: {ours:?}");
        }
    }
    // Each recorded resource list: names, short names, scope, kind.
    for (file, gv) in [
        ("discovery_api_v1.json", "v1"),
        ("discovery_apis_apps_v1.json", "apps/v1"),
        (
            "discovery_apis_coordination.k8s.io_v1.json",
            "coordination.k8s.io/v1",
        ),
        (
            "discovery_apis_discovery.k8s.io_v1.json",
            "discovery.k8s.io/v1",
        ),
        ("discovery_apis_events.k8s.io_v1.json", "events.k8s.io/v1"),
    ] {
        let doc = reference(file);
        for rec in doc["resources"].as_array().unwrap() {
            let name = rec["name"].as_str().unwrap();
            if name.contains('/') {
                continue;
            }
            let row = rows
                .iter()
                .find(|r| r["NAME"] == name && r["APIVERSION"] == gv)
                .unwrap_or_else(|| panic!("{gv} {name} missing:\n{out}"));
            let short: Vec<&str> = rec["shortNames"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(row["SHORTNAMES"], short.join(","), "{gv} {name}");
            assert_eq!(
                row["NAMESPACED"],
                rec["namespaced"].as_bool().unwrap().to_string(),
                "{gv} {name}"
            );
            assert_eq!(row["KIND"], rec["kind"].as_str().unwrap(), "{gv} {name}");
        }
    }
    // Kinds of the unrecorded groups that the issue names.
    for (name, short, gv, namespaced, kind) in [
        (
            "persistentvolumeclaims",
            "pvc",
            "v1",
            "true",
            "PersistentVolumeClaim",
        ),
        ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
        (
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "true",
            "HorizontalPodAutoscaler",
        ),
        (
            "poddisruptionbudgets",
            "pdb",
            "policy/v1",
            "true",
            "PodDisruptionBudget",
        ),
        (
            "podsecuritypolicies",
            "psp",
            "policy/v1beta1",
            "false",
            "PodSecurityPolicy",
        ),
        (
            "networkpolicies",
            "netpol",
            "networking.k8s.io/v1",
            "true",
            "NetworkPolicy",
        ),
        (
            "storageclasses",
            "sc",
            "storage.k8s.io/v1",
            "false",
            "StorageClass",
        ),
        (
            "flowschemas",
            "",
            "flowcontrol.apiserver.k8s.io/v1beta2",
            "false",
            "FlowSchema",
        ),
        (
            "selfsubjectaccessreviews",
            "",
            "authorization.k8s.io/v1",
            "false",
            "SelfSubjectAccessReview",
        ),
        (
            "localsubjectaccessreviews",
            "",
            "authorization.k8s.io/v1",
            "true",
            "LocalSubjectAccessReview",
        ),
        (
            "tokenreviews",
            "",
            "authentication.k8s.io/v1",
            "false",
            "TokenReview",
        ),
        (
            "customresourcedefinitions",
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "false",
            "CustomResourceDefinition",
        ),
        (
            "rolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "true",
            "RoleBinding",
        ),
    ] {
        let row = rows
            .iter()
            .find(|r| r["NAME"] == name)
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert_eq!(
            (
                row["SHORTNAMES"].as_str(),
                row["APIVERSION"].as_str(),
                row["NAMESPACED"].as_str(),
                row["KIND"].as_str()
            ),
            (short, gv, namespaced, kind),
            "{name}"
        );
    }
}

/// Runs kubectl with another kubeconfig; returns (success, stdout).
async fn kubectl_as(kubeconfig: &Path, home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(common::kubectl_path())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .output()
        .await
        .expect("run kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_gives_the_authorizers_answers() {
    let m = common::start().await;
    let home = m.dir.path().join("home");
    let (cert, key) = m
        .master
        .pki
        .issue_client_cert("system:node:n1", &["system:nodes"])
        .expect("node cert");
    let node_kc = m.dir.path().join("node.kubeconfig");
    std::fs::write(
        &node_kc,
        m.master
            .pki
            .kubeconfig(&m.master.url, "kubemark", "system:node:n1", &cert, &key),
    )
    .unwrap();
    let admin_kc = m.master.kubeconfig_path.clone();
    // A pod on n1 and one elsewhere, for the node authorizer's pod rules.
    for (name, node) in [("on-n1", "n1"), ("on-n2", "n2")] {
        m.kubectl_apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  nodeName: {node}\n  containers: [{{name: c, image: registry.k8s.io/pause:3.9}}]\n"
        ))
        .await;
    }
    // (kubeconfig, can-i arguments, expected answer)
    let cases: Vec<(&Path, Vec<&str>, bool)> = vec![
        (&admin_kc, vec!["create", "deployments"], true),
        (&admin_kc, vec!["*", "*"], true),
        (&admin_kc, vec!["delete", "nodes", "--all-namespaces"], true),
        (&node_kc, vec!["get", "pods"], true),
        (&node_kc, vec!["list", "secrets"], true),
        (&node_kc, vec!["create", "secrets"], false),
        (&node_kc, vec!["delete", "deployments.apps"], false),
        (
            &node_kc,
            vec!["patch", "nodes/n1", "--subresource=status"],
            true,
        ),
        (
            &node_kc,
            vec!["patch", "nodes/n2", "--subresource=status"],
            false,
        ),
        (
            &node_kc,
            vec!["update", "pods/on-n1", "--subresource=status"],
            true,
        ),
        (
            &node_kc,
            vec!["update", "pods/on-n2", "--subresource=status"],
            false,
        ),
        (
            &node_kc,
            vec![
                "update",
                "leases.coordination.k8s.io/n1",
                "-n",
                "kube-node-lease",
            ],
            true,
        ),
        (
            &node_kc,
            vec![
                "update",
                "leases.coordination.k8s.io/n2",
                "-n",
                "kube-node-lease",
            ],
            false,
        ),
        (&node_kc, vec!["get", "/healthz"], true),
        (&node_kc, vec!["get", "/metrics"], false),
    ];
    for (kc, args, want) in cases {
        let mut full = vec!["auth", "can-i"];
        full.extend(args.iter().copied());
        let (ok, stdout, stderr) = kubectl_as(kc, &home, &full).await;
        let answer = if want { "yes" } else { "no" };
        assert!(
            stdout.starts_with(answer) && ok == want,
            "{full:?} as {}: {stdout} / {stderr}",
            kc.display()
        );
    }
    // The answers match what the server then does.
    let (ok, _, err) = kubectl_as(
        &node_kc,
        &home,
        &["create", "secret", "generic", "s", "--from-literal=a=b"],
    )
    .await;
    assert!(!ok && err.contains("forbidden"), "{err}");
    let (ok, out, err) = kubectl_as(&node_kc, &home, &["get", "pods", "-o", "name"]).await;
    assert!(ok && out.contains("pod/on-n1"), "{out} {err}");
    // --list goes through SelfSubjectRulesReview.
    let (ok, out, err) = kubectl_as(&admin_kc, &home, &["auth", "can-i", "--list"]).await;
    assert!(ok && out.contains("*.*"), "{out} {err}");
    let (_, out, err) = kubectl_as(&node_kc, &home, &["auth", "can-i", "--list"]).await;
    assert!(
        out.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{out} {err}"
    );
}
