//! The `external` hollow-node provider: hollow nodes as pods of a
//! StatefulSet on any cluster given by a kubeconfig, the architecture of
//! the Kubemark user guide.
//!
//! In the namespace (default `kubemark`):
//! - Secret `hollow-node-kubeconfig`: the kubeconfig the hollow nodes use
//!   to reach the kubemark master, its server rewritten to the master's URL
//!   as seen from the pods;
//! - ConfigMap `hollow-node-config`: `hollow-node.args`, the hollow-node
//!   flags one per line (`--nodes-per-pod=K`, `--total-nodes=N`, extra
//!   flags), read by `kubemark hollow-node @/etc/kubemark/hollow-node.args`;
//! - StatefulSet `hollow-node` (parallel pod management, ceil(N/K)
//!   replicas): pod `hollow-node-<p>` runs `--index-from-hostname`, i.e.
//!   nodes [p*K, min((p+1)*K, N)), so names, IPs and pod CIDRs never
//!   collide across pods and a restarted pod gets its own nodes back.
//!
//! Manifests, the scale plan and the pod diagnosis are pure functions; the
//! async functions only carry them out against the external cluster.

use futures::stream::BoxStream;
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

pub const DEFAULT_NAMESPACE: &str = "kubemark";
/// Name of the StatefulSet and its container, and value of the `name`
/// label on everything, as in upstream's hollow-node template.
pub const HOLLOW_NODE: &str = "hollow-node";
pub const LABEL_KEY: &str = "name";
pub const SECRET_NAME: &str = "hollow-node-kubeconfig";
/// The key of the Secret holding the kubeconfig (its file name).
pub const SECRET_KEY: &str = "kubeconfig";
pub const CONFIG_MAP_NAME: &str = "hollow-node-config";
/// The key of the ConfigMap holding the flags (its file name).
pub const ARGS_FILE: &str = "hollow-node.args";
/// Mount path of the Secret.
pub const KUBECONFIG_DIR: &str = "/kubeconfig";
/// Mount path of the ConfigMap.
pub const CONFIG_DIR: &str = "/etc/kubemark";
/// Where the image holds the kubemark binary.
pub const BINARY: &str = "/usr/local/bin/kubemark";
/// Pod template annotation: a hash of what the pods read at start but the
/// StatefulSet cannot see (kubeconfig, flags except the total), so that
/// changing it rolls the pods while a scale does not.
pub const CONFIG_HASH_ANNOTATION: &str = "kubemark.io/config-hash";
/// Set by every hollow node to its process's hostname: in a pod, the pod
/// name (same value as `hollow::node_status::ANNOTATION_HOLLOW_HOST`).
pub const HOLLOW_HOST_ANNOTATION: &str = "kubemark.io/hollow-host";
pub const DEFAULT_NODES_PER_POD: usize = 50;
/// The hollow node stops its nodes on SIGTERM within a few seconds.
pub const TERMINATION_GRACE_SECONDS: i64 = 30;
/// Upstream keeps hollow-node pods on an unreachable node for 15 minutes
/// (enough for a VM reboot) instead of recreating the hollow nodes
/// (kubernetes/kubernetes#67120).
pub const UNREACHABLE_TOLERATION_SECONDS: i64 = 900;
/// How long [`remove`] waits for the namespace to be gone.
pub const REMOVE_TIMEOUT: Duration = Duration::from_secs(120);
/// Hollow-node flags that the provider sets itself.
const RESERVED_FLAGS: [&str; 8] = [
    "--kubeconfig",
    "--context",
    "--nodes",
    "--name",
    "--first-index",
    "--index-from-hostname",
    "--nodes-per-pod",
    "--total-nodes",
];

/// Per hollow node, measured by `kubemark bench hollow` with kubelet,
/// proxy and NPD: 0.22 MB idle, 0.27 MB with 30 pods per node.
pub const MEASURED_MEMORY_PER_NODE_BYTES: u64 = 270_000;
/// Per idle hollow node, measured by `kubemark bench hollow`: 0.000052
/// cores, i.e. 52 microcores.
pub const MEASURED_MICROCORES_PER_NODE: u64 = 52;
/// The process itself: runtime, TLS, metrics server, allocator arenas.
pub const BASE_MEMORY_MIB: u64 = 64;
pub const BASE_MILLICORES: u64 = 50;
/// Requests are the measured cost times these (pod churn, status
/// updates, watch events are above the idle numbers).
pub const MEMORY_HEADROOM: u64 = 4;
pub const CPU_HEADROOM: u64 = 10;
/// Registration of all K nodes at once (TLS handshakes, initial LISTs
/// and watches) needs far more CPU than steady state: the limit allows a
/// core on top of the request, so the burst is not throttled.
pub const BURST_MILLICORES: u64 = 1000;

/// What runs where on the external cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSpec {
    pub namespace: String,
    /// An image with the kubemark binary at [`BINARY`] (`kubemark image
    /// build`).
    pub image: String,
    /// K: hollow nodes per pod.
    pub nodes_per_pod: usize,
    /// The kubemark master's URL as seen from the pods (`127.0.0.1` is not
    /// routable from a pod; the master's serving certificate must cover
    /// this host).
    pub master_url: String,
    /// Extra `kubemark hollow-node` flags, one argument each
    /// (`--node-labels=a=b`, `--morph=kubelet`).
    pub hollow_args: Vec<String>,
    pub image_pull_policy: PullPolicy,
}

impl ExternalSpec {
    /// Defaults: namespace `kubemark`, [`DEFAULT_NODES_PER_POD`] nodes per
    /// pod, no extra flags, pull `IfNotPresent`.
    pub fn new(image: impl Into<String>, master_url: impl Into<String>) -> ExternalSpec {
        ExternalSpec {
            namespace: DEFAULT_NAMESPACE.to_string(),
            image: image.into(),
            nodes_per_pod: DEFAULT_NODES_PER_POD,
            master_url: master_url.into(),
            hollow_args: Vec::new(),
            image_pull_policy: PullPolicy::IfNotPresent,
        }
    }

    /// The hollow nodes' name prefix (`--name-prefix`, default
    /// `hollow-node-`): node i is `<prefix><i>`.
    pub fn name_prefix(&self) -> String {
        let mut it = self.hollow_args.iter();
        let mut prefix = "hollow-node-".to_string();
        while let Some(a) = it.next() {
            if let Some(v) = a.strip_prefix("--name-prefix=") {
                prefix = v.to_string();
            } else if a == "--name-prefix" {
                if let Some(v) = it.next() {
                    prefix = v.clone();
                }
            }
        }
        prefix
    }
}

/// The container's `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PullPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<PullPolicy, String> {
        match s {
            "Always" => Ok(PullPolicy::Always),
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "unknown image pull policy {other:?}: use Always, IfNotPresent or Never"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("external hollow nodes: {0}")]
    Spec(String),
    #[error("the hollow nodes' kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot use the external cluster's kubeconfig {path}: {reason}")]
    Connect { path: String, reason: String },
    #[error("{action} {object} on the external cluster {cluster}: {reason}")]
    Api {
        action: &'static str,
        object: String,
        cluster: String,
        /// HTTP status when the server answered.
        code: Option<u16>,
        reason: String,
    },
    #[error("{object} on the external cluster {cluster}: {reason}")]
    State {
        object: String,
        cluster: String,
        reason: String,
    },
}

/// A client for the external cluster plus how to name it in messages.
#[derive(Clone)]
pub struct External {
    pub client: kube::Client,
    /// Named in errors: the server URL, or the kubeconfig path.
    pub cluster: String,
}

impl External {
    pub fn new(client: kube::Client, cluster: impl Into<String>) -> External {
        External {
            client,
            cluster: cluster.into(),
        }
    }

    /// A client from a kubeconfig file (its current context, or
    /// `context`), named by its server URL.
    pub async fn connect(path: &Path, context: Option<&str>) -> Result<External, ExternalError> {
        let err = |reason: String| ExternalError::Connect {
            path: path.display().to_string(),
            reason,
        };
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
        let options = kube::config::KubeConfigOptions {
            context: context.map(String::from),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| err(e.to_string()))?;
        let cluster = cfg.cluster_url.to_string();
        let client = kube::Client::try_from(cfg).map_err(|e| err(e.to_string()))?;
        Ok(External { client, cluster })
    }

    fn api_error(&self, action: &'static str, object: String, e: kube::Error) -> ExternalError {
        let (code, reason) = match &e {
            kube::Error::Api(s) => (
                Some(s.code),
                format!("{} {}: {}", s.code, s.reason, s.message),
            ),
            other => (None, other.to_string()),
        };
        ExternalError::Api {
            action,
            object,
            cluster: self.cluster.clone(),
            code,
            reason,
        }
    }

    fn state_error(&self, object: String, reason: String) -> ExternalError {
        ExternalError::State {
            object,
            cluster: self.cluster.clone(),
            reason,
        }
    }
}

/// Everything [`apply`] creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    pub namespace: Namespace,
    pub secret: Secret,
    pub config_map: ConfigMap,
    pub stateful_set: StatefulSet,
}

/// Requests and limits of one hollow-node pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodResources {
    pub cpu_request_millis: u64,
    pub cpu_limit_millis: u64,
    pub memory_request_mib: u64,
    pub memory_limit_mib: u64,
}

/// Resources for a pod of K hollow nodes, from the measured per-node
/// cost (see the constants):
///
/// - cpu request = 50m + ceil(K × 0.052m × 10)
/// - cpu limit   = cpu request + 1000m (registration burst)
/// - memory request = 64Mi + ceil(K × 0.27 MB × 4) in MiB
/// - memory limit   = 2 × memory request (bursts: initial LISTs, TLS
///   buffers, pod churn)
pub fn pod_resources(nodes_per_pod: usize) -> PodResources {
    let k = nodes_per_pod as u64;
    let cpu_request_millis =
        BASE_MILLICORES + (k * MEASURED_MICROCORES_PER_NODE * CPU_HEADROOM).div_ceil(1000);
    let memory_request_mib = BASE_MEMORY_MIB
        + (k * MEASURED_MEMORY_PER_NODE_BYTES * MEMORY_HEADROOM).div_ceil(1024 * 1024);
    PodResources {
        cpu_request_millis,
        cpu_limit_millis: cpu_request_millis + BURST_MILLICORES,
        memory_request_mib,
        memory_limit_mib: 2 * memory_request_mib,
    }
}

/// Pods for N nodes at K per pod: ceil(N/K).
pub fn replicas(nodes: usize, nodes_per_pod: usize) -> usize {
    nodes.div_ceil(nodes_per_pod.max(1))
}

/// The node indices pod `ordinal` runs: [p*K, min((p+1)*K, N)), the same
/// rule as `kubemark hollow-node --index-from-hostname`.
pub fn pod_node_range(
    ordinal: usize,
    nodes_per_pod: usize,
    nodes: usize,
) -> std::ops::Range<usize> {
    let start = ordinal.saturating_mul(nodes_per_pod).min(nodes);
    let end = ordinal
        .saturating_add(1)
        .saturating_mul(nodes_per_pod)
        .min(nodes);
    start..end
}

/// Pod name of ordinal `p`.
pub fn pod_name(ordinal: usize) -> String {
    format!("{HOLLOW_NODE}-{ordinal}")
}

/// The flags file: `--nodes-per-pod=K`, `--total-nodes=N`, then the extra
/// flags, one argument per line (read by the `argfile` crate's
/// `parse_fromfile`: no quoting, no blank lines).
pub fn args_file(nodes_per_pod: usize, nodes: usize, hollow_args: &[String]) -> String {
    let mut s = format!("--nodes-per-pod={nodes_per_pod}\n--total-nodes={nodes}\n");
    for a in hollow_args {
        s.push_str(a);
        s.push('\n');
    }
    s
}

/// (K, N) from a flags file written by [`args_file`].
pub fn parse_args_file(text: &str) -> Option<(usize, usize)> {
    let mut k = None;
    let mut n = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("--nodes-per-pod=") {
            k = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("--total-nodes=") {
            n = v.trim().parse().ok();
        }
    }
    Some((k?, n?))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn validate(spec: &ExternalSpec) -> Result<(), ExternalError> {
    let bad = |m: String| Err(ExternalError::Spec(m));
    if !is_dns_label(&spec.namespace) {
        return bad(format!(
            "namespace {:?} is not a DNS label (lower-case letters, digits and '-', at most 63)",
            spec.namespace
        ));
    }
    if spec.image.trim().is_empty() {
        return bad(
            "no image: give one with the kubemark binary (see `kubemark image build`)".into(),
        );
    }
    if spec.nodes_per_pod == 0 {
        return bad("--nodes-per-pod must be at least 1".into());
    }
    if !(spec.master_url.starts_with("https://") || spec.master_url.starts_with("http://")) {
        return bad(format!(
            "master URL {:?} is not an http(s) URL (e.g. https://10.0.0.5:6443)",
            spec.master_url
        ));
    }
    for a in &spec.hollow_args {
        if a.trim().is_empty() || a.contains('\n') || a.contains('\r') {
            return bad(format!(
                "hollow-node argument {a:?}: arguments go one per line in a file, so they cannot be blank or contain line breaks"
            ));
        }
        let flag = a.split('=').next().unwrap_or(a);
        if RESERVED_FLAGS.contains(&flag) {
            return bad(format!(
                "hollow-node argument {a:?}: {flag} is set by the external provider (each pod's nodes come from its ordinal)"
            ));
        }
    }
    Ok(())
}

fn yaml_str<'a>(v: &'a serde_yaml::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

/// The kubeconfig for the pods: the current context's cluster server
/// replaced by `master_url`. Files on this machine cannot be read in a
/// pod, so credentials and CA must be embedded (`*-data`, `token`).
pub fn pod_kubeconfig(yaml: &str, master_url: &str) -> Result<String, ExternalError> {
    let err = |m: String| ExternalError::Kubeconfig(m);
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(yaml).map_err(|e| err(format!("not YAML: {e}")))?;
    let contexts = doc
        .get("contexts")
        .and_then(|c| c.as_sequence())
        .cloned()
        .unwrap_or_default();
    let current = yaml_str(&doc, "current-context").map(String::from);
    let context = match (&current, contexts.len()) {
        (Some(cur), _) => contexts
            .iter()
            .find(|c| yaml_str(c, "name") == Some(cur.as_str()))
            .ok_or_else(|| err(format!("current-context {cur:?} is not among its contexts")))?,
        (None, 1) => &contexts[0],
        (None, n) => {
            return Err(err(format!(
                "no current-context and {n} contexts: set current-context"
            )))
        }
    };
    let ctx = context
        .get("context")
        .ok_or_else(|| err("its context has no 'context' section".into()))?;
    let cluster_name = yaml_str(ctx, "cluster")
        .ok_or_else(|| err("its context names no cluster".into()))?
        .to_string();
    let user_name = yaml_str(ctx, "user").map(String::from);
    // Credentials that point at files or run programs here.
    if let Some(user_name) = &user_name {
        let user = doc
            .get("users")
            .and_then(|u| u.as_sequence())
            .and_then(|us| us.iter().find(|u| yaml_str(u, "name") == Some(user_name)))
            .and_then(|u| u.get("user"));
        if let Some(user) = user {
            for key in ["client-certificate", "client-key", "tokenFile"] {
                if user.get(key).is_some() {
                    return Err(err(format!(
                        "user {user_name:?} reads {key} from a file, which pods cannot see: embed it (kubectl config view --flatten --minify)"
                    )));
                }
            }
            for key in ["exec", "auth-provider"] {
                if user.get(key).is_some() {
                    return Err(err(format!(
                        "user {user_name:?} gets credentials from {key}, which cannot run in a hollow-node pod: use a client certificate or token"
                    )));
                }
            }
        }
    }
    let clusters = doc
        .get_mut("clusters")
        .and_then(|c| c.as_sequence_mut())
        .ok_or_else(|| err("no clusters".into()))?;
    let cluster = clusters
        .iter_mut()
        .find(|c| yaml_str(c, "name") == Some(cluster_name.as_str()))
        .and_then(|c| c.get_mut("cluster"))
        .and_then(|c| c.as_mapping_mut())
        .ok_or_else(|| {
            err(format!(
                "cluster {cluster_name:?} is not among its clusters"
            ))
        })?;
    if cluster.contains_key("certificate-authority") {
        return Err(err(format!(
            "cluster {cluster_name:?} reads certificate-authority from a file, which pods cannot see: embed it (kubectl config view --flatten --minify)"
        )));
    }
    cluster.insert("server".into(), master_url.into());
    serde_yaml::to_string(&doc).map_err(|e| err(e.to_string()))
}

/// FNV-1a: a stable content hash without a dependency.
fn fnv1a(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn labels() -> serde_json::Value {
    json!({ LABEL_KEY: HOLLOW_NODE, "app.kubernetes.io/managed-by": "kubemark" })
}

fn typed<T: DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T, ExternalError> {
    // Only fails if the manifests above are wrong: a bug, reported.
    serde_json::from_value(v).map_err(|e| ExternalError::Spec(format!("building the {what}: {e}")))
}

/// The objects for N hollow nodes. Pure.
pub fn manifests(
    spec: &ExternalSpec,
    nodes: usize,
    hollow_kubeconfig_yaml: &str,
) -> Result<Manifests, ExternalError> {
    validate(spec)?;
    let kubeconfig = pod_kubeconfig(hollow_kubeconfig_yaml, &spec.master_url)?;
    let ns = spec.namespace.as_str();
    let namespace: Namespace = typed(
        "namespace",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels()}}),
    )?;
    let mut secret: Secret = typed(
        "secret",
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": SECRET_NAME, "namespace": ns, "labels": labels()}}),
    )?;
    secret.data = Some(BTreeMap::from([(
        SECRET_KEY.to_string(),
        ByteString(kubeconfig.clone().into_bytes()),
    )]));
    let config_map: ConfigMap = typed(
        "config map",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": CONFIG_MAP_NAME, "namespace": ns, "labels": labels()},
               "data": {ARGS_FILE: args_file(spec.nodes_per_pod, nodes, &spec.hollow_args)}}),
    )?;
    let k = spec.nodes_per_pod.to_string();
    let joined_args = spec.hollow_args.join("\n");
    let hash = fnv1a(&[&kubeconfig, &k, &joined_args]);
    let r = pod_resources(spec.nodes_per_pod);
    let stateful_set: StatefulSet = typed(
        "stateful set",
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": HOLLOW_NODE, "namespace": ns, "labels": labels()},
            "spec": {
                "replicas": replicas(nodes, spec.nodes_per_pod),
                "serviceName": HOLLOW_NODE,
                // All pods start at once: they do not depend on each other.
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": {LABEL_KEY: HOLLOW_NODE}},
                "template": {
                    "metadata": {
                        "labels": labels(),
                        "annotations": {CONFIG_HASH_ANNOTATION: hash},
                    },
                    "spec": {
                        // The hollow nodes talk to the kubemark master only,
                        // never to the external cluster (upstream mounts an
                        // empty dir over the token for the same reason).
                        "automountServiceAccountToken": false,
                        "enableServiceLinks": false,
                        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                        "tolerations": [{
                            "key": "node.kubernetes.io/unreachable",
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": UNREACHABLE_TOLERATION_SECONDS,
                        }],
                        "containers": [{
                            "name": HOLLOW_NODE,
                            "image": spec.image,
                            "imagePullPolicy": spec.image_pull_policy.as_str(),
                            "command": [BINARY],
                            "args": [
                                "hollow-node",
                                format!("--kubeconfig={KUBECONFIG_DIR}/{SECRET_KEY}"),
                                format!("@{CONFIG_DIR}/{ARGS_FILE}"),
                                "--index-from-hostname",
                            ],
                            // The ordinal comes from HOSTNAME (the pod name,
                            // set by the runtime); POD_NAME is the same from
                            // the downward API, for runtimes that do not.
                            "env": [{
                                "name": "POD_NAME",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            }],
                            "resources": {
                                "requests": {
                                    "cpu": format!("{}m", r.cpu_request_millis),
                                    "memory": format!("{}Mi", r.memory_request_mib),
                                },
                                "limits": {
                                    "cpu": format!("{}m", r.cpu_limit_millis),
                                    "memory": format!("{}Mi", r.memory_limit_mib),
                                },
                            },
                            "volumeMounts": [
                                {"name": "kubeconfig", "mountPath": KUBECONFIG_DIR, "readOnly": true},
                                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": true},
                            ],
                        }],
                        "volumes": [
                            {"name": "kubeconfig", "secret": {"secretName": SECRET_NAME}},
                            {"name": "config", "configMap": {"name": CONFIG_MAP_NAME}},
                        ],
                    },
                },
            },
        }),
    )?;
    Ok(Manifests {
        namespace,
        secret,
        config_map,
        stateful_set,
    })
}

/// Creates or updates one object (replace with the live resourceVersion;
/// retried on a conflict).
async fn upsert<K>(ext: &External, api: &Api<K>, obj: &K, what: &str) -> Result<(), ExternalError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let object = format!("{what} {name}");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let live = api
            .get_opt(&name)
            .await
            .map_err(|e| ext.api_error("reading", object.clone(), e))?;
        let result = match live {
            None => api.create(&PostParams::default(), obj).await.map(drop),
            Some(live) => {
                if live.meta().deletion_timestamp.is_some() {
                    return Err(ext.state_error(
                        object,
                        "is being deleted (a previous stop?): wait until it is gone and retry"
                            .into(),
                    ));
                }
                let mut new = obj.clone();
                new.meta_mut().resource_version = live.meta().resource_version.clone();
                api.replace(&name, &PostParams::default(), &new)
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < 5 => continue,
            Err(e) => return Err(ext.api_error("writing", object, e)),
        }
    }
}

/// Creates or updates every object; idempotent.
pub async fn apply(ext: &External, m: &Manifests) -> Result<(), ExternalError> {
    let ns = m.namespace.metadata.name.clone().unwrap_or_default();
    let namespaces: Api<Namespace> = Api::all(ext.client.clone());
    let object = format!("namespace {ns}");
    match namespaces
        .get_opt(&ns)
        .await
        .map_err(|e| ext.api_error("reading", object.clone(), e))?
    {
        // An existing namespace is left as it is (it may carry the
        // cluster admin's labels or quotas).
        Some(live) if live.metadata.deletion_timestamp.is_some() => {
            return Err(ext.state_error(
                object,
                "is being deleted (a previous stop?): wait until it is gone and retry".into(),
            ))
        }
        Some(_) => {}
        None => match namespaces
            .create(&PostParams::default(), &m.namespace)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(ext.api_error("creating", object, e)),
        },
    }
    upsert(
        ext,
        &Api::namespaced(ext.client.clone(), &ns),
        &m.secret,
        "secret",
    )
    .await?;
    upsert(
        ext,
        &Api::namespaced(ext.client.clone(), &ns),
        &m.config_map,
        "config map",
    )
    .await?;
    upsert(
        ext,
        &Api::namespaced(ext.client.clone(), &ns),
        &m.stateful_set,
        "stateful set",
    )
    .await
}

/// What a scale does, computed from the live and the wanted sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePlan {
    pub nodes_before: usize,
    pub nodes_after: usize,
    pub pods_before: usize,
    pub pods_after: usize,
    /// Node indices no pod runs any more: delete their Node objects.
    pub removed: Vec<usize>,
    /// Node indices new to the cluster.
    pub added: Vec<usize>,
    /// Pods that stay but whose node range changed: deleted so that the
    /// StatefulSet recreates them with the new range.
    pub restart: Vec<String>,
}

/// The plan from (K, N) before to (K', M) after. Pure.
pub fn plan_scale(
    k_before: usize,
    nodes_before: usize,
    k_after: usize,
    nodes_after: usize,
) -> ScalePlan {
    let pods_before = replicas(nodes_before, k_before);
    let pods_after = replicas(nodes_after, k_after);
    let restart = (0..pods_before.min(pods_after))
        .filter(|&p| {
            pod_node_range(p, k_before, nodes_before) != pod_node_range(p, k_after, nodes_after)
        })
        .map(pod_name)
        .collect();
    ScalePlan {
        nodes_before,
        nodes_after,
        pods_before,
        pods_after,
        removed: (nodes_after..nodes_before).collect(),
        added: (nodes_before..nodes_after).collect(),
        restart,
    }
}

/// The result of [`scale`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleChange {
    pub plan: ScalePlan,
    /// Names of the removed nodes (`<name-prefix><index>`): the caller
    /// deletes these Node objects from the kubemark master.
    pub removed_nodes: Vec<String>,
}

/// Grows or shrinks to `nodes_new` hollow nodes: updates the ConfigMap's
/// total and the StatefulSet's replicas (shrinking: replicas first, so no
/// pod starts with an empty range; growing: the ConfigMap first, so new
/// pods read the new total), then deletes the pods whose range changed.
pub async fn scale(
    ext: &External,
    spec: &ExternalSpec,
    nodes_new: usize,
    hollow_kubeconfig_yaml: &str,
) -> Result<ScaleChange, ExternalError> {
    let m = manifests(spec, nodes_new, hollow_kubeconfig_yaml)?;
    let ns = spec.namespace.as_str();
    let cms: Api<ConfigMap> = Api::namespaced(ext.client.clone(), ns);
    let object = format!("config map {ns}/{CONFIG_MAP_NAME}");
    let live = cms
        .get_opt(CONFIG_MAP_NAME)
        .await
        .map_err(|e| ext.api_error("reading", object.clone(), e))?
        .ok_or_else(|| {
            ext.state_error(
                object.clone(),
                "not found: start the hollow nodes first".into(),
            )
        })?;
    let (k_before, n_before) = live
        .data
        .as_ref()
        .and_then(|d| d.get(ARGS_FILE))
        .and_then(|t| parse_args_file(t))
        .ok_or_else(|| {
            ext.state_error(
                object.clone(),
                format!("{ARGS_FILE} has no --nodes-per-pod=/--total-nodes= lines: recreate it with start"),
            )
        })?;
    let plan = plan_scale(k_before, n_before, spec.nodes_per_pod, nodes_new);
    upsert(
        ext,
        &Api::namespaced(ext.client.clone(), ns),
        &m.secret,
        "secret",
    )
    .await?;
    let sts: Api<StatefulSet> = Api::namespaced(ext.client.clone(), ns);
    if plan.pods_after < plan.pods_before {
        upsert(ext, &sts, &m.stateful_set, "stateful set").await?;
        upsert(ext, &cms, &m.config_map, "config map").await?;
    } else {
        upsert(ext, &cms, &m.config_map, "config map").await?;
        upsert(ext, &sts, &m.stateful_set, "stateful set").await?;
    }
    let pods: Api<Pod> = Api::namespaced(ext.client.clone(), ns);
    for p in &plan.restart {
        match pods.delete(p, &DeleteParams::default()).await {
            Ok(_) => {}
            // Not created yet (e.g. Pending before the controller ran):
            // it will start with the new range anyway.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ext.api_error("deleting", format!("pod {ns}/{p}"), e)),
        }
    }
    let prefix = spec.name_prefix();
    let removed_nodes = plan
        .removed
        .iter()
        .map(|i| format!("{prefix}{i}"))
        .collect();
    Ok(ScaleChange {
        plan,
        removed_nodes,
    })
}

/// A hollow-node pod that is not running, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    pub pod: String,
    /// `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`,
    /// `Unschedulable`, `Failed`, ...
    pub reason: String,
    pub message: String,
}

impl fmt::Display for PodProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "pod {}: {}", self.pod, self.reason)
        } else {
            write!(f, "pod {}: {}: {}", self.pod, self.reason, self.message)
        }
    }
}

/// Container waiting reasons that will not resolve by waiting.
const BAD_WAITING: [&str; 8] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Why a hollow-node pod is not running, or `None` if it runs or is on
/// its way (being scheduled, pulling, starting). Pure.
pub fn pod_problem(pod: &Pod) -> Option<PodProblem> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let problem = |reason: &str, message: String| {
        Some(PodProblem {
            pod: name.clone(),
            reason: reason.to_string(),
            message,
        })
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = w.reason.as_deref().unwrap_or_default();
        if !BAD_WAITING.contains(&reason) {
            continue;
        }
        let mut message = w.message.clone().unwrap_or_default();
        if reason == "CrashLoopBackOff" {
            // The last exit says more than "back-off restarting".
            if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
                let mut last = format!("last exit code {}", t.exit_code);
                if let Some(r) = &t.reason {
                    last.push_str(&format!(" ({r})"));
                }
                if let Some(m) = t.message.as_deref().filter(|m| !m.trim().is_empty()) {
                    last.push_str(&format!(": {}", m.trim()));
                }
                message = if message.is_empty() {
                    last
                } else {
                    format!("{message}; {last}")
                };
            }
            message = format!("{message} ({} restarts)", c.restart_count)
                .trim_start()
                .to_string();
        }
        return problem(reason, message);
    }
    match status.phase.as_deref() {
        Some("Pending") => {
            let unschedulable = status.conditions.iter().flatten().find(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })?;
            problem(
                "Unschedulable",
                unschedulable.message.clone().unwrap_or_default(),
            )
        }
        Some("Failed") => problem(
            status.reason.as_deref().unwrap_or("Failed"),
            status.message.clone().unwrap_or_default(),
        ),
        Some("Succeeded") => problem(
            "Completed",
            "the hollow-node process exited with code 0".into(),
        ),
        _ => None,
    }
}

/// The hollow-node pods that are not running, by name and reason.
pub async fn failing_pods(
    ext: &External,
    namespace: &str,
) -> Result<Vec<PodProblem>, ExternalError> {
    let pods: Api<Pod> = Api::namespaced(ext.client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&format!("{LABEL_KEY}={HOLLOW_NODE}")))
        .await
        .map_err(|e| ext.api_error("listing", format!("pods in {namespace}"), e))?;
    let mut out: Vec<PodProblem> = list.items.iter().filter_map(pod_problem).collect();
    out.sort_by(|a, b| a.pod.cmp(&b.pod));
    Ok(out)
}

/// Where a hollow-node pod runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLocation {
    pub namespace: String,
    pub pod: String,
    /// The external cluster's node, once scheduled.
    pub node: Option<String>,
    pub phase: String,
}

pub async fn locate(
    ext: &External,
    namespace: &str,
    pod: &str,
) -> Result<PodLocation, ExternalError> {
    let pods: Api<Pod> = Api::namespaced(ext.client.clone(), namespace);
    let p = pods
        .get(pod)
        .await
        .map_err(|e| ext.api_error("reading", format!("pod {namespace}/{pod}"), e))?;
    Ok(PodLocation {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        node: p.spec.and_then(|s| s.node_name),
        phase: p
            .status
            .and_then(|s| s.phase)
            .unwrap_or_else(|| "Unknown".to_string()),
    })
}

/// The hollow-node pod simulating `node` (its `kubemark.io/hollow-host`
/// annotation: the hostname of the process, the pod name in a pod).
pub fn pod_for_node(node: &Node) -> Option<String> {
    node.metadata
        .annotations
        .as_ref()?
        .get(HOLLOW_HOST_ANNOTATION)
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The pod's log lines (the hollow-node container; `follow` keeps the
/// stream open). The caller filters lines per node.
pub async fn logs(
    ext: &External,
    namespace: &str,
    pod: &str,
    follow: bool,
) -> Result<BoxStream<'static, Result<String, ExternalError>>, ExternalError> {
    let pods: Api<Pod> = Api::namespaced(ext.client.clone(), namespace);
    let object = format!("log of pod {namespace}/{pod}");
    let params = LogParams {
        container: Some(HOLLOW_NODE.to_string()),
        follow,
        ..LogParams::default()
    };
    let reader = pods
        .log_stream(pod, &params)
        .await
        .map_err(|e| ext.api_error("reading", object.clone(), e))?;
    let cluster = ext.cluster.clone();
    Ok(reader
        .lines()
        .map_err(move |e| ExternalError::Api {
            action: "reading",
            object: object.clone(),
            cluster: cluster.clone(),
            code: None,
            reason: e.to_string(),
        })
        .boxed())
}

/// Deletes the namespace and waits (up to [`REMOVE_TIMEOUT`]) until it
/// is gone. Returns what could not be removed (empty: all gone); an
/// unreachable cluster is one of those, not an error.
pub async fn remove(ext: &External, namespace: &str) -> Result<Vec<String>, ExternalError> {
    remove_within(ext, namespace, REMOVE_TIMEOUT).await
}

/// [`remove`] with its own bound.
pub async fn remove_within(
    ext: &External,
    namespace: &str,
    timeout: Duration,
) -> Result<Vec<String>, ExternalError> {
    let namespaces: Api<Namespace> = Api::all(ext.client.clone());
    let object = format!("namespace {namespace}");
    match namespaces
        .delete(namespace, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(e) => return Ok(vec![ext.api_error("deleting", object, e).to_string()]),
    }
    let deadline = Instant::now() + timeout;
    loop {
        match namespaces.get_opt(namespace).await {
            Ok(None) => return Ok(Vec::new()),
            Ok(Some(_)) if Instant::now() < deadline => {}
            Ok(Some(_)) => break,
            Err(e) if Instant::now() >= deadline => {
                return Ok(vec![ext
                    .api_error("waiting for the deletion of", object, e)
                    .to_string()])
            }
            // Transient: try again until the deadline.
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Still terminating: say what holds it up.
    let mut left = vec![ext
        .state_error(
            object,
            format!("still terminating after {}s", timeout.as_secs()),
        )
        .to_string()];
    let pods: Api<Pod> = Api::namespaced(ext.client.clone(), namespace);
    if let Ok(list) = pods.list(&ListParams::default()).await {
        left.extend(
            list.items
                .iter()
                .filter_map(|p| p.metadata.name.as_deref())
                .map(|n| format!("pod {namespace}/{n} on {}", ext.cluster)),
        );
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: kubemark
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0E=
- name: other
  cluster:
    server: https://other:6443
contexts:
- name: admin
  context:
    cluster: kubemark
    user: admin
current-context: admin
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
";

    fn spec() -> ExternalSpec {
        ExternalSpec {
            nodes_per_pod: 2,
            hollow_args: vec!["--node-labels=a=b".into(), "--morph=kubelet,proxy".into()],
            ..ExternalSpec::new("registry.example/kubemark:v1", "https://10.1.2.3:6443")
        }
    }

    fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn resources_follow_the_formula() {
        // K -> (cpu request m, cpu limit m, memory request Mi, limit Mi)
        let cases = [
            (1, (51, 1051, 66, 132)),
            (2, (52, 1052, 67, 134)),
            (50, (76, 1076, 116, 232)),
            (100, (102, 1102, 167, 334)),
            (1000, (570, 1570, 1094, 2188)),
        ];
        for (k, (cr, cl, mr, ml)) in cases {
            let r = pod_resources(k);
            assert_eq!(
                (
                    r.cpu_request_millis,
                    r.cpu_limit_millis,
                    r.memory_request_mib,
                    r.memory_limit_mib
                ),
                (cr, cl, mr, ml),
                "K={k}"
            );
        }
    }

    #[test]
    fn node_ranges_and_replicas() {
        // (ordinal, K, N) -> range
        let cases = [
            (0, 2, 5, 0..2),
            (1, 2, 5, 2..4),
            (2, 2, 5, 4..5),
            (3, 2, 5, 5..5),
            (0, 100, 0, 0..0),
            (9, 100, 1000, 900..1000),
        ];
        for (p, k, n, want) in cases {
            assert_eq!(pod_node_range(p, k, n), want, "{p} {k} {n}");
        }
        for (n, k, want) in [
            (5, 2, 3),
            (4, 2, 2),
            (0, 2, 0),
            (1, 100, 1),
            (1000, 100, 10),
        ] {
            assert_eq!(replicas(n, k), want, "{n} {k}");
        }
    }

    #[test]
    fn args_file_round_trips() {
        let text = args_file(2, 5, &spec().hollow_args);
        assert_eq!(
            text,
            "--nodes-per-pod=2\n--total-nodes=5\n--node-labels=a=b\n--morph=kubelet,proxy\n"
        );
        assert_eq!(parse_args_file(&text), Some((2, 5)));
        assert_eq!(parse_args_file("--total-nodes=5\n"), None);
        assert_eq!(
            parse_args_file("--nodes-per-pod=x\n--total-nodes=5\n"),
            None
        );
    }

    #[test]
    fn kubeconfig_server_is_rewritten() {
        let out = pod_kubeconfig(KUBECONFIG, "https://10.1.2.3:6443").unwrap();
        let v: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        let clusters = v["clusters"].as_sequence().unwrap();
        assert_eq!(
            clusters[0]["cluster"]["server"].as_str(),
            Some("https://10.1.2.3:6443")
        );
        assert_eq!(
            clusters[0]["cluster"]["certificate-authority-data"].as_str(),
            Some("Q0E=")
        );
        // Only the current context's cluster.
        assert_eq!(
            clusters[1]["cluster"]["server"].as_str(),
            Some("https://other:6443")
        );
        assert_eq!(
            v["users"][0]["user"]["client-key-data"].as_str(),
            Some("S0VZ")
        );
    }

    #[test]
    fn kubeconfigs_pods_cannot_use_are_rejected() {
        let cases = [
            ("not: [yaml", "not YAML"),
            (
                &*KUBECONFIG.replace("current-context: admin", "current-context: nope"),
                "\"nope\"",
            ),
            (
                &*KUBECONFIG.replace("client-key-data: S0VZ", "client-key: /home/me/key.pem"),
                "client-key",
            ),
            (
                &*KUBECONFIG.replace(
                    "certificate-authority-data: Q0E=",
                    "certificate-authority: /ca.crt",
                ),
                "certificate-authority",
            ),
            (
                &*KUBECONFIG.replace("client-key-data: S0VZ", "exec:\n      command: aws"),
                "exec",
            ),
            (
                &*KUBECONFIG.replace("cluster: kubemark\n", "cluster: gone\n"),
                "\"gone\"",
            ),
        ];
        for (yaml, want) in cases {
            let e = pod_kubeconfig(yaml, "https://x:1").unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn bad_specs_are_rejected() {
        type Edit = fn(&mut ExternalSpec);
        let cases: [(Edit, &str); 8] = [
            (|s| s.nodes_per_pod = 0, "--nodes-per-pod"),
            (|s| s.namespace = "Kube_mark".into(), "DNS label"),
            (|s| s.image = " ".into(), "image"),
            (|s| s.master_url = "10.0.0.1:6443".into(), "http(s) URL"),
            (
                |s| s.hollow_args.push("--nodes=3".into()),
                "--nodes is set by",
            ),
            (|s| s.hollow_args.push("--name".into()), "--name is set by"),
            (|s| s.hollow_args.push("".into()), "blank"),
            (|s| s.hollow_args.push("--a\n--b".into()), "line breaks"),
        ];
        for (edit, want) in cases {
            let mut s = spec();
            edit(&mut s);
            let e = manifests(&s, 5, KUBECONFIG).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        // --name-prefix is not --name.
        let mut s = spec();
        s.hollow_args.push("--name-prefix=hn-".into());
        assert!(manifests(&s, 5, KUBECONFIG).is_ok());
        assert_eq!(s.name_prefix(), "hn-");
        assert_eq!(spec().name_prefix(), "hollow-node-");
    }

    #[test]
    fn manifests_as_specified() {
        let m = manifests(&spec(), 5, KUBECONFIG).unwrap();
        let ns = to_json(&m.namespace);
        assert_eq!(ns["metadata"]["name"], "kubemark");

        let secret = &m.secret;
        assert_eq!(secret.metadata.name.as_deref(), Some(SECRET_NAME));
        assert_eq!(secret.metadata.namespace.as_deref(), Some("kubemark"));
        let kc = String::from_utf8(secret.data.as_ref().unwrap()[SECRET_KEY].0.clone()).unwrap();
        assert!(kc.contains("server: https://10.1.2.3:6443"), "{kc}");

        let cm = to_json(&m.config_map);
        assert_eq!(cm["metadata"]["name"], CONFIG_MAP_NAME);
        assert_eq!(
            cm["data"][ARGS_FILE],
            "--nodes-per-pod=2\n--total-nodes=5\n--node-labels=a=b\n--morph=kubelet,proxy\n"
        );

        let sts = to_json(&m.stateful_set);
        let s = &sts["spec"];
        let table = [
            (&sts["metadata"]["name"], json!("hollow-node")),
            (&sts["metadata"]["namespace"], json!("kubemark")),
            (&sts["metadata"]["labels"]["name"], json!("hollow-node")),
            (&s["replicas"], json!(3)),
            (&s["podManagementPolicy"], json!("Parallel")),
            (&s["serviceName"], json!("hollow-node")),
            (
                &s["selector"]["matchLabels"],
                json!({"name": "hollow-node"}),
            ),
            (
                &s["template"]["metadata"]["labels"]["name"],
                json!("hollow-node"),
            ),
            (
                &s["template"]["spec"]["terminationGracePeriodSeconds"],
                json!(30),
            ),
            (
                &s["template"]["spec"]["automountServiceAccountToken"],
                json!(false),
            ),
            (
                &s["template"]["spec"]["tolerations"],
                json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                        "effect": "NoExecute", "tolerationSeconds": 900}]),
            ),
            (
                &s["template"]["spec"]["volumes"],
                json!([{"name": "kubeconfig", "secret": {"secretName": SECRET_NAME}},
                       {"name": "config", "configMap": {"name": CONFIG_MAP_NAME}}]),
            ),
        ];
        for (got, want) in table {
            assert_eq!(*got, want);
        }
        let c = &s["template"]["spec"]["containers"][0];
        let container_table = [
            (&c["name"], json!("hollow-node")),
            (&c["image"], json!("registry.example/kubemark:v1")),
            (&c["imagePullPolicy"], json!("IfNotPresent")),
            (&c["command"], json!(["/usr/local/bin/kubemark"])),
            (
                &c["args"],
                json!([
                    "hollow-node",
                    "--kubeconfig=/kubeconfig/kubeconfig",
                    "@/etc/kubemark/hollow-node.args",
                    "--index-from-hostname"
                ]),
            ),
            (
                &c["env"],
                json!([{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]),
            ),
            (
                &c["resources"],
                json!({"requests": {"cpu": "52m", "memory": "67Mi"},
                       "limits": {"cpu": "1052m", "memory": "134Mi"}}),
            ),
            (
                &c["volumeMounts"],
                json!([{"name": "kubeconfig", "mountPath": "/kubeconfig", "readOnly": true},
                       {"name": "config", "mountPath": "/etc/kubemark", "readOnly": true}]),
            ),
        ];
        for (got, want) in container_table {
            assert_eq!(*got, want);
        }
    }

    #[test]
    fn config_hash_ignores_the_total() {
        let hash = |s: &ExternalSpec, n: usize| {
            to_json(&manifests(s, n, KUBECONFIG).unwrap().stateful_set)["spec"]["template"]
                ["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
                .clone()
        };
        let base = hash(&spec(), 5);
        assert_eq!(hash(&spec(), 9), base, "a scale must not roll the pods");
        let mut s = spec();
        s.hollow_args.pop();
        assert_ne!(hash(&s, 5), base);
        let mut s = spec();
        s.nodes_per_pod = 3;
        assert_ne!(hash(&s, 5), base);
        let mut s = spec();
        s.master_url = "https://10.9.9.9:6443".into();
        assert_ne!(hash(&s, 5), base);
    }

    #[test]
    fn scale_plans() {
        // (K, N) -> (K', M): removed, added, pods before/after, restarted.
        type Case = (
            (usize, usize),
            (usize, usize),
            Vec<usize>,
            Vec<usize>,
            (usize, usize),
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                (2, 5),
                (2, 3),
                vec![3, 4],
                vec![],
                (3, 2),
                vec!["hollow-node-1"],
            ),
            ((2, 5), (2, 4), vec![4], vec![], (3, 2), vec![]),
            (
                (2, 5),
                (2, 8),
                vec![],
                vec![5, 6, 7],
                (3, 4),
                vec!["hollow-node-2"],
            ),
            ((2, 4), (2, 6), vec![], vec![4, 5], (2, 3), vec![]),
            ((2, 5), (2, 5), vec![], vec![], (3, 3), vec![]),
            ((2, 5), (2, 0), vec![0, 1, 2, 3, 4], vec![], (3, 0), vec![]),
            (
                (2, 4),
                (4, 4),
                vec![],
                vec![],
                (2, 1),
                vec!["hollow-node-0"],
            ),
        ];
        for ((k0, n0), (k1, n1), removed, added, pods, restart) in cases {
            let p = plan_scale(k0, n0, k1, n1);
            assert_eq!(p.removed, removed, "{k0},{n0} -> {k1},{n1}");
            assert_eq!(p.added, added, "{k0},{n0} -> {k1},{n1}");
            assert_eq!(
                (p.pods_before, p.pods_after),
                pods,
                "{k0},{n0} -> {k1},{n1}"
            );
            assert_eq!(p.restart, restart, "{k0},{n0} -> {k1},{n1}");
        }
    }

    fn pod(v: serde_json::Value) -> Pod {
        let mut base = json!({"metadata": {"name": "hollow-node-0"}});
        if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
            for (k, x) in o {
                b.insert(k.clone(), x.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn waiting(reason: &str, message: &str) -> serde_json::Value {
        json!({"status": {"phase": "Pending", "containerStatuses": [{
            "name": "hollow-node", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}}}]}})
    }

    #[test]
    fn pod_problems() {
        let cases: Vec<(serde_json::Value, Option<(&str, &str)>)> = vec![
            (
                waiting("ImagePullBackOff", "Back-off pulling image \"nope:1\""),
                Some(("ImagePullBackOff", "Back-off pulling image \"nope:1\"")),
            ),
            (
                waiting("ErrImagePull", "rpc error: not found"),
                Some(("ErrImagePull", "rpc error: not found")),
            ),
            (waiting("ContainerCreating", ""), None),
            (
                json!({"status": {"phase": "Running", "containerStatuses": [{
                    "name": "hollow-node", "image": "x", "imageID": "", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
                    "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
                        "message": "error: invalid hollow-node configuration: no nodes to run"}}}]}}),
                Some((
                    "CrashLoopBackOff",
                    "back-off 40s restarting failed container; last exit code 2 (Error): error: invalid hollow-node configuration: no nodes to run (4 restarts)",
                )),
            ),
            (
                json!({"status": {"phase": "Pending", "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu."}]}}),
                Some(("Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.")),
            ),
            // Pending, not yet looked at by the scheduler: in progress.
            (json!({"status": {"phase": "Pending"}}), None),
            (
                json!({"status": {"phase": "Failed", "reason": "Evicted",
                                  "message": "The node was low on resource: memory."}}),
                Some(("Evicted", "The node was low on resource: memory.")),
            ),
            (
                json!({"status": {"phase": "Running", "containerStatuses": [{
                    "name": "hollow-node", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
                    "state": {"running": {}}}]}}),
                None,
            ),
            (
                json!({"metadata": {"name": "hollow-node-0", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                       "status": {"phase": "Failed"}}),
                None,
            ),
            (json!({}), None),
        ];
        for (i, (p, want)) in cases.into_iter().enumerate() {
            let got = pod_problem(&pod(p));
            let got = got
                .as_ref()
                .map(|g| (g.reason.as_str(), g.message.as_str()));
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn node_to_pod() {
        let node = |ann: serde_json::Value| -> Node {
            serde_json::from_value(
                json!({"metadata": {"name": "hollow-node-3", "annotations": ann}}),
            )
            .unwrap()
        };
        assert_eq!(
            pod_for_node(&node(json!({HOLLOW_HOST_ANNOTATION: "hollow-node-1"}))),
            Some("hollow-node-1".into())
        );
        assert_eq!(
            pod_for_node(&node(json!({HOLLOW_HOST_ANNOTATION: ""}))),
            None
        );
        assert_eq!(pod_for_node(&node(json!({"other": "x"}))), None);
        let bare: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
        assert_eq!(pod_for_node(&bare), None);
    }

    #[test]
    fn pull_policies_parse() {
        for p in [
            PullPolicy::Always,
            PullPolicy::IfNotPresent,
            PullPolicy::Never,
        ] {
            assert_eq!(p.to_string().parse::<PullPolicy>(), Ok(p));
        }
        assert!("always".parse::<PullPolicy>().is_err());
    }
}
