//! The manifests the tests create (pure JSON builders), after
//! ClusterLoader2's templates: pause pods with small requests that
//! tolerate not-ready/unreachable nodes for 900 s.

use crate::plan::{Kind, ServicePlan, Workload};
use serde_json::{json, Value};

/// Label on everything a run creates: its run id.
pub const RUN_LABEL: &str = "kubemark.io/perf-run";
/// The pause image (never pulled by hollow nodes).
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.9";

pub fn namespace(name: &str, run_id: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {RUN_LABEL: run_id}},
    })
}

fn pod_template(w: &Workload, run_id: &str, env: Option<&str>) -> Value {
    let mut labels = json!({"group": w.group, "name": w.name, RUN_LABEL: run_id});
    if let Some(svc) = &w.svc {
        labels["svc"] = json!(svc);
    }
    let mut container = json!({
        "name": w.name,
        "image": PAUSE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": w.cpu, "memory": w.memory}},
    });
    if let Some(e) = env {
        container["env"] = json!([{"name": "ENV", "value": e}]);
    }
    let mut spec = json!({
        "containers": [],
        // Node failures must not evict the test's pods (ClusterLoader2).
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 900},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 900},
        ],
    });
    if w.config {
        container["volumeMounts"] = json!([
            {"name": "configmap", "mountPath": "/var/configmap"},
            {"name": "secret", "mountPath": "/var/secret"},
        ]);
        spec["volumes"] = json!([
            {"name": "configmap", "configMap": {"name": w.name}},
            {"name": "secret", "secret": {"secretName": w.name}},
        ]);
    }
    spec["containers"] = json!([container]);
    if let Some(g) = w.grace_seconds {
        spec["terminationGracePeriodSeconds"] = json!(g);
    }
    if w.kind == Kind::Job {
        spec["restartPolicy"] = json!("OnFailure");
    }
    json!({"metadata": {"labels": labels}, "spec": spec})
}

/// The workload object; `env` sets a container variable (the DaemonSet
/// update of Load's rescale phase).
pub fn workload(w: &Workload, run_id: &str, env: Option<&str>) -> Value {
    let meta = json!({
        "name": w.name,
        "namespace": w.namespace,
        "labels": {"group": w.group, RUN_LABEL: run_id},
    });
    let selector = json!({"matchLabels": {"name": w.name}});
    let template = pod_template(w, run_id, env);
    match w.kind {
        Kind::Deployment => json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": w.replicas, "selector": selector, "template": template},
        }),
        Kind::StatefulSet => json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
            "spec": {"replicas": w.replicas, "selector": selector, "template": template,
                     "serviceName": w.name, "podManagementPolicy": "Parallel"},
        }),
        Kind::Job => json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"manualSelector": true, "parallelism": w.replicas,
                     "completions": w.completions.unwrap_or(w.replicas),
                     "selector": selector, "template": template},
        }),
        Kind::DaemonSet => json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": selector, "template": template,
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}},
        }),
    }
}

/// The merge patch that sets a workload's size.
pub fn scale_patch(kind: Kind, replicas: usize) -> Value {
    match kind {
        Kind::Job => json!({"spec": {"parallelism": replicas}}),
        _ => json!({"spec": {"replicas": replicas}}),
    }
}

pub fn service(s: &ServicePlan, run_id: &str) -> Value {
    let mut spec = json!({
        "selector": {s.selector.0.clone(): s.selector.1},
        "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}],
    });
    if s.headless {
        spec["clusterIP"] = json!("None");
    }
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": s.name, "namespace": s.namespace, "labels": {"group": "load", RUN_LABEL: run_id}},
        "spec": spec,
    })
}

pub fn configmap(namespace: &str, name: &str, run_id: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"group": "load", RUN_LABEL: run_id}},
        "immutable": true,
        "data": {"data.yaml": "a: 1\nb: 2\nc: 3\n"},
    })
}

pub fn secret(namespace: &str, name: &str, run_id: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"group": "load", RUN_LABEL: run_id}},
        "immutable": true,
        "type": "Opaque",
        // "password" in base64.
        "data": {"password": "cGFzc3dvcmQ="},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LATENCY, LOAD};

    fn w(kind: Kind) -> Workload {
        Workload {
            kind,
            namespace: "ns".into(),
            name: "small-deployment-0".into(),
            group: LOAD,
            replicas: 5,
            size: 5,
            cpu: "1m",
            memory: "4M",
            svc: Some("small-service-0".into()),
            config: true,
            completions: Some(15),
            grace_seconds: Some(1),
        }
    }

    #[test]
    fn deployment_manifest() {
        let d = workload(&w(Kind::Deployment), "run1", None);
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["spec"]["replicas"], 5);
        assert_eq!(
            d["spec"]["selector"]["matchLabels"]["name"],
            "small-deployment-0"
        );
        let t = &d["spec"]["template"];
        assert_eq!(t["metadata"]["labels"]["group"], "load");
        assert_eq!(t["metadata"]["labels"]["svc"], "small-service-0");
        assert_eq!(t["metadata"]["labels"][RUN_LABEL], "run1");
        let spec = &t["spec"];
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"cpu": "1m", "memory": "4M"})
        );
        assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 900);
        assert_eq!(
            spec["tolerations"][1]["key"],
            "node.kubernetes.io/unreachable"
        );
        assert_eq!(
            spec["volumes"][0]["configMap"]["name"],
            "small-deployment-0"
        );
        assert_eq!(
            spec["volumes"][1]["secret"]["secretName"],
            "small-deployment-0"
        );
        assert_eq!(spec["terminationGracePeriodSeconds"], 1);
        assert!(spec.get("restartPolicy").is_none());
    }

    #[test]
    fn other_kinds() {
        let j = workload(&w(Kind::Job), "r", None);
        assert_eq!(
            (
                j["spec"]["parallelism"].clone(),
                j["spec"]["completions"].clone()
            ),
            (json!(5), json!(15))
        );
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
        assert_eq!(j["spec"]["manualSelector"], true);
        let s = workload(&w(Kind::StatefulSet), "r", None);
        assert_eq!(s["spec"]["podManagementPolicy"], "Parallel");
        assert_eq!(s["spec"]["serviceName"], "small-deployment-0");
        let d = workload(&w(Kind::DaemonSet), "r", Some("after update"));
        assert!(d["spec"].get("replicas").is_none());
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
            "after update"
        );
        assert_eq!(
            scale_patch(Kind::Job, 3),
            json!({"spec": {"parallelism": 3}})
        );
        assert_eq!(
            scale_patch(Kind::StatefulSet, 3),
            json!({"spec": {"replicas": 3}})
        );
        let mut lat = w(Kind::Deployment);
        lat.group = LATENCY;
        lat.svc = None;
        lat.config = false;
        lat.grace_seconds = None;
        let l = workload(&lat, "r", None);
        assert!(l["spec"]["template"]["spec"].get("volumes").is_none());
        assert!(l["spec"]["template"]["metadata"]["labels"]
            .get("svc")
            .is_none());
        assert!(l["spec"]["template"]["spec"]
            .get("terminationGracePeriodSeconds")
            .is_none());
    }

    #[test]
    fn services_and_config() {
        let s = ServicePlan {
            namespace: "ns".into(),
            name: "a".into(),
            selector: ("svc".into(), "a".into()),
            headless: false,
        };
        let v = service(&s, "r");
        assert_eq!(v["spec"]["selector"], json!({"svc": "a"}));
        assert!(v["spec"].get("clusterIP").is_none());
        let h = ServicePlan {
            headless: true,
            ..s
        };
        assert_eq!(service(&h, "r")["spec"]["clusterIP"], "None");
        assert_eq!(configmap("ns", "x", "r")["metadata"]["namespace"], "ns");
        assert_eq!(secret("ns", "x", "r")["type"], "Opaque");
        assert_eq!(namespace("n", "r")["metadata"]["labels"][RUN_LABEL], "r");
    }
}
