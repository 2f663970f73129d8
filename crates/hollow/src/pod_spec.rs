//! What a hollow kubelet reads from a Pod: a small serde view of the
//! fields it needs (everything else is skipped while parsing), the compact
//! facts it keeps per pod, the ConfigMaps/Secrets the pod references, its
//! QoS class, and how its fake containers behave (startup delay, exit,
//! crash loop, readiness), from the fleet settings and the pod's
//! `kubemark.io/*` annotations.

use crate::duration::parse_duration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Annotation: delay from the kubelet seeing the pod to its containers
/// running (e.g. `2s`), instead of the fleet's startup-delay distribution.
pub const ANNOTATION_STARTUP_DELAY: &str = "kubemark.io/startup-delay";
/// Annotation: containers exit after running this long (e.g. `30s`), so a
/// Job pod (`restartPolicy: Never/OnFailure`) completes.
pub const ANNOTATION_RUN_DURATION: &str = "kubemark.io/run-duration";
/// Annotation: the exit code when containers exit (default 0).
pub const ANNOTATION_EXIT_CODE: &str = "kubemark.io/exit-code";
/// Annotation: `"true"` makes the containers crash (exit 1) after
/// `kubemark.io/crash-after` (default: the fleet setting), over and over.
pub const ANNOTATION_CRASH_LOOP: &str = "kubemark.io/crash-loop";
/// Annotation: how long a crash-looping container runs before crashing.
pub const ANNOTATION_CRASH_AFTER: &str = "kubemark.io/crash-after";
/// Annotation: `"true"` keeps the containers running but never ready.
pub const ANNOTATION_NEVER_READY: &str = "kubemark.io/never-ready";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodView {
    pub metadata: PodMeta,
    pub spec: PodSpecView,
    pub status: PodStatusView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub deletion_timestamp: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecView {
    pub node_name: String,
    pub containers: Vec<ContainerView>,
    pub init_containers: Vec<ContainerView>,
    pub restart_policy: String,
    pub host_network: bool,
    pub service_account_name: String,
    pub volumes: Vec<VolumeView>,
    pub image_pull_secrets: Vec<NameRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub resources: ResourcesView,
    pub env: Vec<EnvView>,
    pub env_from: Vec<EnvFromView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourcesView {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvView {
    pub value_from: Option<EnvSourceView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvSourceView {
    pub config_map_key_ref: Option<NameRef>,
    pub secret_key_ref: Option<NameRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvFromView {
    pub config_map_ref: Option<NameRef>,
    pub secret_ref: Option<NameRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NameRef {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VolumeView {
    pub config_map: Option<NameRef>,
    pub secret: Option<SecretVolumeView>,
    pub projected: Option<ProjectedView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretVolumeView {
    pub secret_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectedView {
    pub sources: Vec<ProjectionView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProjectionView {
    pub service_account_token: Option<TokenProjectionView>,
    pub config_map: Option<NameRef>,
    pub secret: Option<NameRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TokenProjectionView {
    pub expiration_seconds: Option<i64>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatusView {
    pub phase: String,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    pub start_time: Option<String>,
}

impl PodView {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
    }
}

/// Kinds of objects a pod's volumes and environment reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefKind {
    ConfigMap,
    Secret,
}

impl RefKind {
    pub fn plural(self) -> &'static str {
        match self {
            RefKind::ConfigMap => "configmaps",
            RefKind::Secret => "secrets",
        }
    }
}

/// Every ConfigMap and Secret a pod references (volumes, projected
/// sources, env, envFrom, imagePullSecrets), sorted and deduplicated, as
/// the kubelet's watch-based managers register them.
pub fn referenced_objects(pod: &PodView) -> Vec<(RefKind, String)> {
    let mut out = Vec::new();
    let mut add = |k: RefKind, n: &str| {
        if !n.is_empty() {
            out.push((k, n.to_string()));
        }
    };
    for v in &pod.spec.volumes {
        if let Some(c) = &v.config_map {
            add(RefKind::ConfigMap, &c.name);
        }
        if let Some(s) = &v.secret {
            add(RefKind::Secret, &s.secret_name);
        }
        if let Some(p) = &v.projected {
            for src in &p.sources {
                if let Some(c) = &src.config_map {
                    add(RefKind::ConfigMap, &c.name);
                }
                if let Some(s) = &src.secret {
                    add(RefKind::Secret, &s.name);
                }
            }
        }
    }
    for c in pod.spec.init_containers.iter().chain(&pod.spec.containers) {
        for e in &c.env {
            if let Some(src) = &e.value_from {
                if let Some(r) = &src.config_map_key_ref {
                    add(RefKind::ConfigMap, &r.name);
                }
                if let Some(r) = &src.secret_key_ref {
                    add(RefKind::Secret, &r.name);
                }
            }
        }
        for e in &c.env_from {
            if let Some(r) = &e.config_map_ref {
                add(RefKind::ConfigMap, &r.name);
            }
            if let Some(r) = &e.secret_ref {
                add(RefKind::Secret, &r.name);
            }
        }
    }
    for s in &pod.spec.image_pull_secrets {
        add(RefKind::Secret, &s.name);
    }
    out.sort();
    out.dedup();
    out
}

/// A projected service-account token the kubelet must request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVolume {
    pub service_account: Box<str>,
    pub expiration_seconds: i64,
    pub audience: Option<Box<str>>,
}

/// The pod's first projected `serviceAccountToken` source, if any.
pub fn token_volume(pod: &PodView) -> Option<TokenVolume> {
    let sa = if pod.spec.service_account_name.is_empty() {
        "default"
    } else {
        pod.spec.service_account_name.as_str()
    };
    pod.spec
        .volumes
        .iter()
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter())
        .find_map(|s| s.service_account_token.as_ref())
        .map(|t| TokenVolume {
            service_account: sa.into(),
            expiration_seconds: t.expiration_seconds.unwrap_or(3600),
            audience: t
                .audience
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(Into::into),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// The pod's QoS class, as `v1/qos.GetPodQOS` computes it from the cpu and
/// memory requests and limits of all (init) containers. Unparseable or
/// zero quantities are ignored, as the real code ignores zero ones.
pub fn qos_class(pod: &PodView) -> QosClass {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let quantity = |s: &str| {
        apimachinery::quantity::Quantity::parse(s)
            .ok()
            .map(|q| q.nanos())
            .filter(|n| *n != 0)
    };
    for c in pod.spec.containers.iter().chain(&pod.spec.init_containers) {
        for res in ["cpu", "memory"] {
            if let Some(n) = c.resources.requests.get(res).and_then(|s| quantity(s)) {
                *requests.entry(res).or_insert(0) += n;
            }
            match c.resources.limits.get(res).and_then(|s| quantity(s)) {
                Some(n) => *limits.entry(res).or_insert(0) += n,
                None => guaranteed = false,
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QosClass::BestEffort;
    }
    if guaranteed && limits.len() == 2 && requests.iter().all(|(k, v)| limits.get(k) == Some(v)) {
        return QosClass::Guaranteed;
    }
    QosClass::Burstable
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> RestartPolicy {
        match s {
            "OnFailure" => RestartPolicy::OnFailure,
            "Never" => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }

    /// Whether a container that exited with `code` is restarted.
    pub fn restarts(self, code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// Startup delay distribution for pods without an annotation.
#[derive(Debug, Clone, PartialEq)]
pub enum DelayDist {
    Fixed(Duration),
    /// Uniform in `[min, max]`.
    Uniform {
        min: Duration,
        max: Duration,
    },
    /// Log-normal with the given median and sigma (of the underlying normal).
    LogNormal {
        median: Duration,
        sigma: f64,
    },
}

impl Default for DelayDist {
    fn default() -> DelayDist {
        DelayDist::Fixed(Duration::ZERO)
    }
}

/// A `--pod-startup-delay` value that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid startup delay {input:?}: {why} (expected \"2s\", \"fixed:2s\", \"uniform:1s-5s\" or \"lognormal:2s,0.5\")")]
pub struct DelayDistError {
    pub input: String,
    pub why: String,
}

impl std::str::FromStr for DelayDist {
    type Err = DelayDistError;

    fn from_str(s: &str) -> Result<DelayDist, DelayDistError> {
        let err = |why: String| DelayDistError {
            input: s.to_string(),
            why,
        };
        let dur = |v: &str| parse_duration(v).map_err(|e| err(e.to_string()));
        let (kind, rest) = s.split_once(':').unwrap_or(("fixed", s));
        match kind.trim() {
            "fixed" => Ok(DelayDist::Fixed(dur(rest)?)),
            "uniform" => {
                let (a, b) = rest
                    .split_once('-')
                    .ok_or_else(|| err("uniform needs MIN-MAX".into()))?;
                let (min, max) = (dur(a)?, dur(b)?);
                if max < min {
                    return Err(err("uniform MAX is below MIN".into()));
                }
                Ok(DelayDist::Uniform { min, max })
            }
            "lognormal" => {
                let (m, sg) = rest
                    .split_once(',')
                    .ok_or_else(|| err("lognormal needs MEDIAN,SIGMA".into()))?;
                let sigma: f64 = sg
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("sigma {sg:?} is not a number")))?;
                if !(0.0..=10.0).contains(&sigma) {
                    return Err(err("sigma must be between 0 and 10".into()));
                }
                Ok(DelayDist::LogNormal {
                    median: dur(m)?,
                    sigma,
                })
            }
            other => Err(err(format!("unknown distribution {other:?}"))),
        }
    }
}

impl DelayDist {
    /// A sample from two independent uniforms in [0, 1).
    pub fn sample(&self, u1: f64, u2: f64) -> Duration {
        match self {
            DelayDist::Fixed(d) => *d,
            DelayDist::Uniform { min, max } => {
                let span = max.saturating_sub(*min).as_secs_f64();
                *min + Duration::from_secs_f64(span * u1.clamp(0.0, 1.0))
            }
            DelayDist::LogNormal { median, sigma } => {
                // Box-Muller; 1-u keeps the logarithm finite.
                let r = (-2.0 * (1.0 - u1.clamp(0.0, 0.999_999_999)).ln()).sqrt();
                let z = r * (2.0 * std::f64::consts::PI * u2).cos();
                let secs = median.as_secs_f64() * (sigma * z).exp();
                // An hour bounds the tail: a simulated pod never takes longer.
                Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
            }
        }
    }
}

/// Fleet-wide pod behaviour (the annotations override it per pod).
#[derive(Debug, Clone, PartialEq)]
pub struct PodBehavior {
    pub startup_delay: DelayDist,
    /// Fraction of pods (chosen by UID) whose containers crash-loop.
    pub crash_loop_fraction: f64,
    /// Fraction of pods (chosen by UID) whose containers never get ready.
    pub never_ready_fraction: f64,
    /// How long a crash-looping container runs before it crashes.
    pub crash_after: Duration,
}

impl Default for PodBehavior {
    fn default() -> PodBehavior {
        PodBehavior {
            startup_delay: DelayDist::default(),
            crash_loop_fraction: 0.0,
            never_ready_fraction: 0.0,
            crash_after: Duration::from_secs(5),
        }
    }
}

/// How one pod's fake containers behave.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub startup: Duration,
    /// Containers exit after this long (with `exit_code`, or 1 when
    /// crash-looping).
    pub run_for: Option<Duration>,
    pub exit_code: i32,
    pub crash_loop: bool,
    pub never_ready: bool,
}

/// Deterministic uniforms in [0, 1) from a pod UID, so a pod behaves the
/// same after a relist or a process restart. `stream` separates draws.
pub fn uid_uniform(uid: &str, stream: u64) -> f64 {
    // FNV-1a, then splitmix64 to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

/// The behaviour of pod `pod` under `cfg`, and a message for every
/// annotation that could not be used (it is then ignored).
pub fn behaviour_for(pod: &PodView, cfg: &PodBehavior) -> (Behaviour, Vec<String>) {
    let uid = pod.metadata.uid.as_str();
    let mut problems = Vec::new();
    let mut dur_annotation = |key: &str| -> Option<Duration> {
        let v = pod.annotation(key)?;
        match parse_duration(v) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(format!("annotation {key}: {e}"));
                None
            }
        }
    };
    let startup = dur_annotation(ANNOTATION_STARTUP_DELAY).unwrap_or_else(|| {
        cfg.startup_delay
            .sample(uid_uniform(uid, 1), uid_uniform(uid, 2))
    });
    let run_for = dur_annotation(ANNOTATION_RUN_DURATION);
    let crash_after = dur_annotation(ANNOTATION_CRASH_AFTER).unwrap_or(cfg.crash_after);
    let mut flag = |key: &str, fraction: f64, stream: u64| -> bool {
        match pod.annotation(key).map(|v| (v, truthy(v))) {
            Some((_, Some(b))) => b,
            Some((v, None)) => {
                problems.push(format!(
                    "annotation {key}: {v:?} is not a boolean (use \"true\" or \"false\")"
                ));
                uid_uniform(uid, stream) < fraction
            }
            None => uid_uniform(uid, stream) < fraction,
        }
    };
    let crash_loop = flag(ANNOTATION_CRASH_LOOP, cfg.crash_loop_fraction, 3);
    let never_ready = flag(ANNOTATION_NEVER_READY, cfg.never_ready_fraction, 4);
    let exit_code = match pod.annotation(ANNOTATION_EXIT_CODE) {
        None => 0,
        Some(v) => match v.trim().parse::<i32>() {
            Ok(c) if (0..=255).contains(&c) => c,
            _ => {
                problems.push(format!(
                    "annotation {ANNOTATION_EXIT_CODE}: {v:?} is not an exit code (0-255)"
                ));
                0
            }
        },
    };
    let behaviour = if crash_loop {
        Behaviour {
            startup,
            run_for: Some(crash_after),
            exit_code: if exit_code == 0 { 1 } else { exit_code },
            crash_loop: true,
            never_ready,
        }
    } else {
        Behaviour {
            startup,
            run_for,
            exit_code,
            crash_loop: false,
            never_ready,
        }
    };
    (behaviour, problems)
}

/// One container's identity, as reported in its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: Box<str>,
    pub image: Box<str>,
}

/// What the kubelet keeps of a pod: compact, immutable once seen.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    pub namespace: Box<str>,
    pub name: Box<str>,
    pub uid: Box<str>,
    pub containers: Box<[ContainerFacts]>,
    pub init_containers: Box<[ContainerFacts]>,
    pub restart_policy: RestartPolicy,
    pub host_network: bool,
    pub token: Option<TokenVolume>,
    pub qos: QosClass,
    pub behaviour: Behaviour,
    pub refs: Box<[(RefKind, Box<str>)]>,
}

/// The facts of `pod` and the problems with its annotations.
pub fn pod_facts(pod: &PodView, cfg: &PodBehavior) -> (PodFacts, Vec<String>) {
    let (behaviour, problems) = behaviour_for(pod, cfg);
    let containers = |cs: &[ContainerView]| -> Box<[ContainerFacts]> {
        cs.iter()
            .map(|c| ContainerFacts {
                name: c.name.as_str().into(),
                image: c.image.as_str().into(),
            })
            .collect()
    };
    let facts = PodFacts {
        namespace: pod.metadata.namespace.as_str().into(),
        name: pod.metadata.name.as_str().into(),
        uid: pod.metadata.uid.as_str().into(),
        containers: containers(&pod.spec.containers),
        init_containers: containers(&pod.spec.init_containers),
        restart_policy: RestartPolicy::parse(&pod.spec.restart_policy),
        host_network: pod.spec.host_network,
        token: token_volume(pod),
        qos: qos_class(pod),
        behaviour,
        refs: referenced_objects(pod)
            .into_iter()
            .map(|(k, n)| (k, n.into_boxed_str()))
            .collect(),
    };
    (facts, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> PodView {
        serde_json::from_value(v).unwrap()
    }

    fn reference_pod() -> PodView {
        let text = include_str!("../tests/reference/pod-run-by-go-kubemark.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn parses_the_reference_pod() {
        let p = reference_pod();
        assert_eq!(p.metadata.name, "one-645594bd86-gbmbm");
        assert_eq!(p.spec.node_name, "hollow-node-1");
        assert_eq!(p.spec.containers[0].image, "registry.k8s.io/pause:3.9");
        assert_eq!(
            referenced_objects(&p),
            vec![(RefKind::ConfigMap, "kube-root-ca.crt".to_string())]
        );
        assert_eq!(
            token_volume(&p),
            Some(TokenVolume {
                service_account: "default".into(),
                expiration_seconds: 3607,
                audience: None
            })
        );
        assert_eq!(qos_class(&p), QosClass::BestEffort);
        assert_eq!(
            RestartPolicy::parse(&p.spec.restart_policy),
            RestartPolicy::Always
        );
    }

    #[test]
    fn collects_every_reference_once() {
        let p = pod(json!({
            "spec": {
                "volumes": [
                    {"configMap": {"name": "a"}},
                    {"secret": {"secretName": "s1"}},
                    {"projected": {"sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "s2"}}]}},
                    {"emptyDir": {}}
                ],
                "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "b"}}]}],
                "containers": [{"name": "c",
                    "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "k"}}},
                            {"name": "Y", "value": "plain"},
                            {"name": "Z", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "envFrom": [{"secretRef": {"name": "s1"}}]}],
                "imagePullSecrets": [{"name": "pull"}]
            }
        }));
        let refs: Vec<String> = referenced_objects(&p)
            .into_iter()
            .map(|(k, n)| format!("{}/{n}", k.plural()))
            .collect();
        assert_eq!(
            refs,
            vec![
                "configmaps/a",
                "configmaps/b",
                "secrets/pull",
                "secrets/s1",
                "secrets/s2",
                "secrets/s3"
            ]
        );
        assert!(token_volume(&p).is_none());
    }

    #[test]
    fn qos_classes() {
        let res = |req: serde_json::Value, lim: serde_json::Value| {
            pod(
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": req, "limits": lim}}]}}),
            )
        };
        let cases = [
            (res(json!({}), json!({})), QosClass::BestEffort),
            (res(json!({"cpu": "0"}), json!({})), QosClass::BestEffort),
            (res(json!({"cpu": "100m"}), json!({})), QosClass::Burstable),
            (
                res(
                    json!({"cpu": "1", "memory": "1Gi"}),
                    json!({"cpu": "1000m", "memory": "1Gi"}),
                ),
                QosClass::Guaranteed,
            ),
            (
                res(json!({}), json!({"cpu": "1", "memory": "1Gi"})),
                QosClass::Guaranteed,
            ),
            (
                res(
                    json!({"cpu": "500m", "memory": "1Gi"}),
                    json!({"cpu": "1", "memory": "1Gi"}),
                ),
                QosClass::Burstable,
            ),
            (res(json!({}), json!({"cpu": "1"})), QosClass::Burstable),
        ];
        for (i, (p, want)) in cases.iter().enumerate() {
            assert_eq!(qos_class(p), *want, "case {i}");
        }
    }

    #[test]
    fn restart_policies() {
        let cases = [
            (RestartPolicy::Always, 0, true),
            (RestartPolicy::Always, 1, true),
            (RestartPolicy::OnFailure, 0, false),
            (RestartPolicy::OnFailure, 2, true),
            (RestartPolicy::Never, 1, false),
        ];
        for (p, code, want) in cases {
            assert_eq!(p.restarts(code), want, "{p:?} {code}");
        }
    }

    #[test]
    fn delay_distributions_parse_and_sample() {
        assert_eq!(
            "2s".parse::<DelayDist>().unwrap(),
            DelayDist::Fixed(Duration::from_secs(2))
        );
        let u: DelayDist = "uniform:1s-5s".parse().unwrap();
        assert_eq!(u.sample(0.0, 0.0), Duration::from_secs(1));
        assert_eq!(u.sample(0.5, 0.0), Duration::from_secs(3));
        let l: DelayDist = "lognormal:2s,0.5".parse().unwrap();
        // u2 = 0.25 makes cos(2πu2) = 0: the median exactly.
        let m = l.sample(0.3, 0.25);
        assert!((m.as_secs_f64() - 2.0).abs() < 1e-6, "{m:?}");
        let mut samples: Vec<f64> = (0..2000)
            .map(|i| {
                l.sample(
                    uid_uniform(&i.to_string(), 1),
                    uid_uniform(&i.to_string(), 2),
                )
                .as_secs_f64()
            })
            .collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        let median = samples[1000];
        assert!((1.8..2.2).contains(&median), "median {median}");
        for bad in [
            "uniform:5s-1s",
            "uniform:3s",
            "lognormal:2s",
            "lognormal:2s,x",
            "gamma:1s",
            "fixed:abc",
        ] {
            assert!(bad.parse::<DelayDist>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uid_uniforms_are_stable_and_spread() {
        assert_eq!(uid_uniform("abc", 1), uid_uniform("abc", 1));
        assert_ne!(uid_uniform("abc", 1), uid_uniform("abc", 2));
        let n = 10_000;
        let below: usize = (0..n)
            .filter(|i| uid_uniform(&format!("uid-{i}"), 3) < 0.2)
            .count();
        assert!((1800..2200).contains(&below), "{below}");
    }

    #[test]
    fn annotations_override_fleet_behaviour() {
        let cfg = PodBehavior {
            startup_delay: DelayDist::Fixed(Duration::from_secs(9)),
            ..PodBehavior::default()
        };
        let with = |ann: serde_json::Value| {
            behaviour_for(
                &pod(json!({"metadata": {"uid": "u1", "annotations": ann}})),
                &cfg,
            )
        };
        let (b, p) = with(json!({}));
        assert_eq!(b.startup, Duration::from_secs(9));
        assert_eq!(b.run_for, None);
        assert!(p.is_empty());

        let (b, p) =
            with(json!({"kubemark.io/run-duration": "30s", "kubemark.io/startup-delay": "1s"}));
        assert_eq!(b.run_for, Some(Duration::from_secs(30)));
        assert_eq!(b.startup, Duration::from_secs(1));
        assert_eq!(b.exit_code, 0);
        assert!(p.is_empty());

        let (b, _) =
            with(json!({"kubemark.io/crash-loop": "true", "kubemark.io/crash-after": "2s"}));
        assert!(b.crash_loop);
        assert_eq!(b.run_for, Some(Duration::from_secs(2)));
        assert_eq!(b.exit_code, 1);

        let (b, _) = with(
            json!({"kubemark.io/never-ready": "true", "kubemark.io/exit-code": "3", "kubemark.io/run-duration": "1m"}),
        );
        assert!(b.never_ready);
        assert_eq!(b.exit_code, 3);

        let (b, p) = with(
            json!({"kubemark.io/run-duration": "soon", "kubemark.io/never-ready": "maybe", "kubemark.io/exit-code": "300"}),
        );
        assert_eq!(b.run_for, None);
        assert!(!b.never_ready);
        assert_eq!(b.exit_code, 0);
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn fractions_pick_pods_by_uid() {
        let cfg = PodBehavior {
            crash_loop_fraction: 0.3,
            never_ready_fraction: 1.0,
            ..PodBehavior::default()
        };
        let crashing = (0..1000)
            .filter(|i| {
                let p = pod(json!({"metadata": {"uid": format!("pod-{i}")}}));
                let (b, _) = behaviour_for(&p, &cfg);
                assert!(b.never_ready);
                b.crash_loop
            })
            .count();
        assert!((250..350).contains(&crashing), "{crashing}");
    }
}
