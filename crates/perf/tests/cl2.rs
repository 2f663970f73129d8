//! A ClusterLoader2-shaped load config (modules with params, several
//! tuning sets, create / update / scale / delete phases, measurements
//! started and gathered across steps) run by `kubemark run --config` on
//! an in-process control plane with 4 hollow nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use perf::progress::Mode;
use perf::{RunArgs, RunOptions, Target, TestKind};
use std::path::Path;
use std::time::Duration;

const CONFIG: &str = r#"
{{$NODES_PER_NAMESPACE := MinInt .Nodes (DefaultParam .NODES_PER_NAMESPACE 100)}}
{{$namespaces := DivideInt .Nodes $NODES_PER_NAMESPACE}}
{{$BIG := DefaultParam .CL2_BIG_SIZE 3}}
name: cl2load
namespace:
  number: {{$namespaces}}
tuningSets:
- name: Sequence
  parallelismLimitedLoad:
    parallelismLimit: 1
- name: Uniform20qps
  qpsLoad:
    qps: 20
- name: default
  globalQPSLoad:
    qps: 50
    burst: 5
- name: RandomizedSaturationTimeLimited
  RandomizedTimeLimitedLoad:
    timeLimit: 1s
- name: Stepped
  steppedLoad:
    burstSize: 2
    stepDelay: 200ms
steps:
- module:
    path: /modules/measurements.yaml
    params:
      action: start
- name: Creating PriorityClass
  phases:
  - replicasPerNamespace: 1
    tuningSet: Sequence
    objectBundle:
    - basename: cl2-priority
      objectTemplatePath: priorityclass.yaml
- module:
    path: modules/reconcile.yaml
    params:
      actionName: create
      namespaces: {{$namespaces}}
      tuningSet: RandomizedSaturationTimeLimited
      bigSize: {{$BIG}}
      smallPerNamespace: 2
- module:
    path: modules/reconcile.yaml
    params:
      actionName: scale
      namespaces: {{$namespaces}}
      tuningSet: default
      bigSize: {{AddInt $BIG 1}}
      smallPerNamespace: 1
- module:
    path: modules/reconcile.yaml
    params:
      actionName: delete
      namespaces: {{$namespaces}}
      tuningSet: Stepped
      bigSize: 0
      smallPerNamespace: 0
- name: Deleting PriorityClass
  phases:
  - replicasPerNamespace: 0
    tuningSet: Sequence
    objectBundle:
    - basename: cl2-priority
      objectTemplatePath: priorityclass.yaml
- module:
    path: /modules/measurements.yaml
    params:
      action: gather
"#;

const MEASUREMENTS: &str = r#"
{{$action := .action}}
steps:
- name: {{$action}} measurements
  measurements:
  - Identifier: APIResponsivenessPrometheusSimple
    Method: APIResponsivenessPrometheus
    Params:
      action: {{$action}}
      useSimpleLatencyQuery: true
      allowedSlowCalls: 1
  - Identifier: PodStartupLatency
    Method: PodStartupLatency
    Params:
      action: {{$action}}
      labelSelector: group = load
      threshold: 20s
  - Identifier: SchedulingThroughput
    Method: SchedulingThroughput
    Params:
      action: {{$action}}
      labelSelector: group = load
  - Identifier: SchedulingMetrics
    Method: SchedulingMetrics
    Params:
      action: {{$action}}
  - Identifier: ResourceUsageSummary
    Method: ResourceUsageSummary
    Params:
      action: {{$action}}
  - Identifier: InClusterNetworkLatency
    Method: InClusterNetworkLatency
    Params:
      action: {{$action}}
  - Identifier: TestTimer
    Method: Timer
    Params:
      action: {{IfThenElse (eq $action "start") "start" "stop"}}
      label: whole test
{{if eq $action "gather"}}
- name: Timer gather
  measurements:
  - Identifier: TestTimer
    Method: Timer
    Params:
      action: gather
{{end}}
"#;

const RECONCILE: &str = r#"
{{$actionName := .actionName}}
{{$namespaces := .namespaces}}
steps:
- name: Starting measurements for {{$actionName}}
  measurements:
  - Method: WaitForControlledPodsRunning
    Instances:
    - Identifier: WaitForRunningDeployments
      Params:
        apiVersion: apps/v1
        kind: Deployment
    - Identifier: WaitForRunningStatefulSets
      Params:
        apiVersion: apps/v1
        kind: StatefulSet
    Params:
      action: start
      labelSelector: group = load
      operationTimeout: 45s
- name: {{$actionName}} objects
  phases:
  - namespaceRange:
      min: 1
      max: {{$namespaces}}
    replicasPerNamespace: {{IfThenElse (eq .bigSize 0) 0 1}}
    tuningSet: {{.tuningSet}}
    objectBundle:
    - basename: big-deployment
      objectTemplatePath: deployment.yaml
      templateFillMap:
        Replicas: {{.bigSize}}
    - basename: big-statefulset
      objectTemplatePath: statefulset.yaml
      templateFillMap:
        Replicas: {{.bigSize}}
  - namespaceRange:
      min: 1
      max: {{$namespaces}}
    replicasPerNamespace: {{.smallPerNamespace}}
    tuningSet: Uniform20qps
    objectBundle:
    - basename: small-config
      objectTemplatePath: configmap.yaml
    - basename: small-deployment
      objectTemplatePath: deployment.yaml
      templateFillMap:
        Replicas: 1
- name: Waiting for {{$actionName}} to finish
  measurements:
  - Method: WaitForControlledPodsRunning
    Instances:
    - Identifier: WaitForRunningDeployments
    - Identifier: WaitForRunningStatefulSets
    Params:
      action: gather
      labelSelector: group = load
      operationTimeout: 45s
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{.Name}}
  labels:
    group: load
spec:
  replicas: {{.Replicas}}
  selector:
    matchLabels:
      name: {{.Name}}
  template:
    metadata:
      labels:
        group: load
        name: {{.Name}}
    spec:
      priorityClassName: cl2-priority-0
      containers:
      - name: pause
        image: registry.k8s.io/pause:3.9
        resources:
          requests:
            cpu: 1m
            memory: 10M
"#;

const STATEFULSET: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{.Name}}
  labels:
    group: load
spec:
  podManagementPolicy: Parallel
  serviceName: {{.Name}}
  replicas: {{.Replicas}}
  selector:
    matchLabels:
      name: {{.Name}}
  template:
    metadata:
      labels:
        group: load
        name: {{.Name}}
    spec:
      containers:
      - name: pause
        image: registry.k8s.io/pause:3.9
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{.Name}}
data:
  index: "{{.Index}}"
  namespace: {{.Namespace}}
"#;

const PRIORITYCLASS: &str = r#"apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: {{.Name}}
value: 1000
"#;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn config_dir(dir: &Path) -> std::path::PathBuf {
    let c = dir.join("cl2");
    write(&c, "config.yaml", CONFIG);
    write(&c, "modules/measurements.yaml", MEASUREMENTS);
    write(&c, "modules/reconcile.yaml", RECONCILE);
    write(&c, "deployment.yaml", DEPLOYMENT);
    write(&c, "statefulset.yaml", STATEFULSET);
    write(&c, "configmap.yaml", CONFIGMAP);
    write(&c, "priorityclass.yaml", PRIORITYCLASS);
    write(&c, "overrides.yaml", "NODES_PER_NAMESPACE: 2\n");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cl2_load_config_on_four_hollow_nodes() {
    let env = control_plane().await;
    let c = config_dir(env.dir.path());
    let mut args = RunArgs::new(TestKind::Density);
    args.config = Some(c.join("config.yaml"));
    args.testoverrides = vec![c.join("overrides.yaml")];
    args.param = vec!["CL2_BIG_SIZE=2".into()];
    args.nodes = Some(4);
    args.timeout = Duration::from_secs(60);
    args.usage_interval = Duration::from_secs(1);
    args.seed = Some(3);
    let target = Target::in_process(&env.plane).await.unwrap();

    // Unsupported measurements are refused before anything is created.
    let e = perf::run_any(
        &args,
        target.clone(),
        RunOptions::new(env.dir.path().join("refused")),
    )
    .await
    .expect_err("refused");
    let msg = e.to_string();
    assert!(
        msg.contains(
            "InClusterNetworkLatency (InClusterNetworkLatency) in [step: 01] start measurements"
        ),
        "{msg}"
    );
    assert!(msg.contains("--skip-unsupported"), "{msg}");
    assert_eq!(e.exit_code(), 2);

    args.skip_unsupported = true;
    let artifacts = env.dir.path().join("artifacts");
    let mut opts = RunOptions::new(artifacts.clone());
    opts.progress = Mode::Lines;
    let outcome = perf::run_any(&args, target, opts).await.unwrap();
    assert!(
        outcome.phases.iter().all(|p| p.status == "ok"),
        "{:#?}",
        outcome.phases
    );
    assert!(outcome.passed, "{:#?}", outcome.checks);

    // 2 namespaces (4 nodes / NODES_PER_NAMESPACE 2 from the overrides).
    // create: per namespace 1 big Deployment + 1 StatefulSet of 2, 2 small
    // (ConfigMap + Deployment); scale: the big ones updated to 3, one small
    // pair deleted; delete: everything; and one PriorityClass.
    let o = &outcome.objects;
    assert_eq!(o["Deployment"].created, 2 * (1 + 2), "{o:?}");
    assert_eq!(o["Deployment"].updated, 2, "{o:?}");
    assert_eq!(o["Deployment"].deleted, 2 * (1 + 2), "{o:?}");
    assert_eq!(o["StatefulSet"].created, 2);
    assert_eq!(o["StatefulSet"].updated, 2);
    assert_eq!(o["StatefulSet"].deleted, 2);
    assert_eq!((o["ConfigMap"].created, o["ConfigMap"].deleted), (4, 4));
    assert_eq!(
        (o["PriorityClass"].created, o["PriorityClass"].deleted),
        (1, 1)
    );

    // Steps: start (1), priority (1), 3 modules x 3 steps, priority (1),
    // gather (2).
    let run = read_json(&artifacts.join("run.json"));
    assert_eq!(run["test"], "cl2load");
    assert_eq!(run["steps"].as_array().unwrap().len(), 1 + 1 + 9 + 1 + 2);
    assert_eq!(
        run["steps"][2]["name"],
        "[step: 03] Starting measurements for create"
    );
    assert_eq!(run["resolved"]["namespaces"].as_array().unwrap().len(), 2);
    assert_eq!(run["skipped"][0]["method"], "InClusterNetworkLatency");
    let junit = std::fs::read_to_string(artifacts.join("junit.xml")).unwrap();
    assert!(junit.contains("skipped=\"2\""), "start and gather: {junit}");
    assert!(junit.contains("<skipped message="), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");

    let lat = summary(&artifacts, "PodStartupLatency_PodStartupLatency_cl2load_");
    check_perfdata(&lat);
    let startup = item(&lat, "Metric", "pod_startup");
    assert!(
        startup["data"]["Perc99"].as_f64().unwrap() > 0.0,
        "{startup}"
    );
    check_perfdata(&summary(
        &artifacts,
        "APIResponsivenessPrometheus_simple_cl2load_",
    ));
    check_perfdata(&summary(&artifacts, "SchedulingThroughput_cl2load_"));
    check_perfdata(&summary(&artifacts, "ResourceUsageSummary_cl2load_"));
    let timer = summary(&artifacts, "Timer_TestTimer_cl2load_");
    assert!(
        item(&timer, "Label", "whole test")["data"]["time"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    assert!(run["slos"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["measurement"] == "PodStartupLatency"));

    // Namespaces deleted at the end; the cluster-scoped PriorityClass by its phase.
    let client = Target::in_process(&env.plane).await.unwrap().client;
    let nss: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    for n in run["resolved"]["namespaces"].as_array().unwrap() {
        assert!(
            nss.get_opt(n.as_str().unwrap()).await.unwrap().is_none(),
            "{n}"
        );
    }
    env.plane.shutdown().await;
}

#[test]
fn dry_run_prints_the_plan_without_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let c = config_dir(dir.path());
    let mut args = RunArgs::new(TestKind::Density);
    args.config = Some(c.join("config.yaml"));
    args.testoverrides = vec![c.join("overrides.yaml")];
    args.nodes = Some(6);
    args.skip_unsupported = true;
    args.dry_run = true;
    let o = perf::cl2::run::dry_run(&args).unwrap();
    assert!(o.dry_run && o.passed);
    // A template error names the file, line and expression.
    write(
        &c,
        "modules/reconcile.yaml",
        &RECONCILE.replace("{{.tuningSet}}", "{{DivideInt .bigSize 0}}"),
    );
    let e = perf::cl2::run::dry_run(&args)
        .expect_err("error")
        .to_string();
    assert!(e.contains("modules/reconcile.yaml:27: error calling DivideInt: division by zero (in {{DivideInt .bigSize 0}})"), "{e}");
}
