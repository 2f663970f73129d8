//! The Deployment controller: owns ReplicaSets (one per pod template,
//! named `<deployment>-<pod-template-hash>`), rolls out template changes
//! with `maxSurge`/`maxUnavailable` (or Recreate), scales proportionally,
//! keeps revision history (`deployment.kubernetes.io/revision`) and
//! reports status and the Available/Progressing conditions.
//!
//! The math follows `pkg/controller/deployment` (rolling.go, sync.go,
//! util/deployment_util.go): each sync takes one step (create/scale new,
//! scale down old, clean up) and the next sync happens when the
//! ReplicaSets' status changes.

use crate::actions;
use crate::events::{object_ref, EventRecorder};
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::replicaset::api_in;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::{self, Done};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO_ANNOTATION: &str = "deprecated.deployment.rollback.to";

// ---------------------------------------------------------------------------
// Pure math
// ---------------------------------------------------------------------------

/// `intstr.GetScaledValueFromIntOrPercent`.
pub fn scaled_value(
    v: Option<&IntOrString>,
    total: i32,
    round_up: bool,
    default_percent: i32,
) -> i32 {
    let pct = |p: i64| {
        let x = p * i64::from(total);
        let r = if round_up {
            (x + 99).div_euclid(100)
        } else {
            x.div_euclid(100)
        };
        i32::try_from(r).unwrap_or(i32::MAX)
    };
    match v {
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            match s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) {
                Some(p) => pct(p),
                None => s.parse::<i32>().unwrap_or(0),
            }
        }
        None => pct(i64::from(default_percent)),
    }
}

fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

pub fn desired_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for the desired count;
/// both zero becomes unavailable 1 so a rollout can progress.
pub fn resolve_fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let desired = desired_replicas(d);
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()), desired, true, 25);
    let unavailable = scaled_value(
        ru.and_then(|r| r.max_unavailable.as_ref()),
        desired,
        false,
        25,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// `MaxUnavailable`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let desired = desired_replicas(d);
    if !is_rolling(d) || desired == 0 {
        return 0;
    }
    resolve_fenceposts(d).1.min(desired)
}

/// `MaxSurge`.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    resolve_fenceposts(d).0
}

/// The numbers of one ReplicaSet the math needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rs {
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i32,
    pub status_replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub created: Option<Timestamp>,
    pub revision: i64,
    pub max_replicas_annotation: Option<i32>,
    pub desired_annotation: Option<i32>,
    pub generation: i64,
    pub observed_generation: i64,
    pub deleting: bool,
}

impl Rs {
    pub fn from(rs: &ReplicaSet) -> Rs {
        let ann = rs.metadata.annotations.clone().unwrap_or_default();
        let st = rs.status.clone().unwrap_or_default();
        Rs {
            name: rs.metadata.name.clone().unwrap_or_default(),
            replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            status_replicas: st.replicas,
            ready: st.ready_replicas.unwrap_or(0),
            available: st.available_replicas.unwrap_or(0),
            created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
            revision: ann
                .get(REVISION_ANNOTATION)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            max_replicas_annotation: ann
                .get(MAX_REPLICAS_ANNOTATION)
                .and_then(|r| r.parse().ok()),
            desired_annotation: ann
                .get(DESIRED_REPLICAS_ANNOTATION)
                .and_then(|r| r.parse().ok()),
            generation: rs.metadata.generation.unwrap_or(0),
            observed_generation: st.observed_generation.unwrap_or(0),
            deleting: rs.metadata.deletion_timestamp.is_some(),
        }
    }
}

fn total_spec(rss: &[&Rs]) -> i32 {
    rss.iter().map(|r| r.replicas).sum()
}

/// Oldest first (ties by name), `ReplicaSetsByCreationTimestamp`.
fn by_creation(a: &&Rs, b: &&Rs) -> std::cmp::Ordering {
    a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name))
}

/// `NewRSNewReplicas`: how many replicas the new ReplicaSet may have now.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&Rs], new_replicas: i32) -> i32 {
    let desired = desired_replicas(d);
    if !is_rolling(d) {
        return desired;
    }
    let current: i32 = total_spec(all);
    let max_total = desired + max_surge(d);
    if current >= max_total {
        return new_replicas;
    }
    let up = (max_total - current).min(desired - new_replicas).max(0);
    new_replicas + up
}

/// A change of one ReplicaSet's `spec.replicas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleOp {
    pub name: String,
    pub from: i32,
    pub to: i32,
}

/// `reconcileNewReplicaSet`.
pub fn reconcile_new(d: &Deployment, all: &[&Rs], new: &Rs) -> Option<ScaleOp> {
    let desired = desired_replicas(d);
    if new.replicas == desired {
        return None;
    }
    let to = if new.replicas > desired {
        desired
    } else {
        new_rs_new_replicas(d, all, new.replicas)
    };
    (to != new.replicas).then(|| ScaleOp {
        name: new.name.clone(),
        from: new.replicas,
        to,
    })
}

/// `reconcileOldReplicaSets`: scale down unhealthy old replicas first, then
/// old replicas as far as `maxUnavailable` allows.
pub fn reconcile_old(d: &Deployment, all: &[&Rs], olds: &[&Rs], new: Option<&Rs>) -> Vec<ScaleOp> {
    let old_count = total_spec(olds);
    if old_count == 0 {
        return Vec::new();
    }
    let all_count = total_spec(all);
    let min_available = desired_replicas(d) - max_unavailable(d);
    let new_unavailable = new.map(|n| n.replicas - n.available).unwrap_or(0);
    let max_scaled_down = all_count - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut ops: Vec<ScaleOp> = Vec::new();
    let mut sizes: BTreeMap<String, i32> =
        olds.iter().map(|r| (r.name.clone(), r.replicas)).collect();
    // cleanupUnhealthyReplicas
    let mut sorted: Vec<&Rs> = olds.to_vec();
    sorted.sort_by(by_creation);
    let mut cleaned = 0;
    for rs in &sorted {
        if cleaned >= max_scaled_down {
            break;
        }
        if rs.replicas == 0 || rs.available == rs.replicas {
            continue;
        }
        let n = (max_scaled_down - cleaned).min(rs.replicas - rs.available);
        let to = rs.replicas - n;
        sizes.insert(rs.name.clone(), to);
        ops.push(ScaleOp {
            name: rs.name.clone(),
            from: rs.replicas,
            to,
        });
        cleaned += n;
    }
    // scaleDownOldReplicaSetsForRollingUpdate, on the cleaned-up sizes.
    let available: i32 = all.iter().map(|r| r.available).sum();
    if available > min_available {
        let total_down = available - min_available;
        let mut scaled = 0;
        for rs in &sorted {
            if scaled >= total_down {
                break;
            }
            let cur = sizes.get(&rs.name).copied().unwrap_or(rs.replicas);
            if cur == 0 {
                continue;
            }
            let n = cur.min(total_down - scaled);
            let to = cur - n;
            match ops.iter_mut().find(|o| o.name == rs.name) {
                Some(op) => op.to = to,
                None => ops.push(ScaleOp {
                    name: rs.name.clone(),
                    from: rs.replicas,
                    to,
                }),
            }
            scaled += n;
        }
    }
    ops
}

/// `isScalingEvent`: an active ReplicaSet was sized for a different
/// `spec.replicas` than the deployment's.
pub fn is_scaling_event(d: &Deployment, all: &[&Rs]) -> bool {
    let desired = desired_replicas(d);
    all.iter()
        .filter(|r| r.replicas > 0)
        .any(|r| r.desired_annotation.is_some_and(|a| a != desired))
}

/// `scale`: proportional scaling of the active ReplicaSets after
/// `spec.replicas` changed mid-rollout.
pub fn scale(d: &Deployment, new: Option<&Rs>, olds: &[&Rs]) -> Vec<ScaleOp> {
    let desired = desired_replicas(d);
    let mut all: Vec<&Rs> = new.into_iter().chain(olds.iter().copied()).collect();
    let active: Vec<&Rs> = all.iter().copied().filter(|r| r.replicas > 0).collect();
    // FindActiveOrLatest
    let single = match active.len() {
        0 => {
            all.sort_by(|a, b| by_creation(b, a));
            new.or_else(|| all.first().copied())
        }
        1 => active.first().copied(),
        _ => None,
    };
    if let Some(rs) = single {
        if rs.replicas == desired {
            return Vec::new();
        }
        return vec![ScaleOp {
            name: rs.name.clone(),
            from: rs.replicas,
            to: desired,
        }];
    }
    // IsSaturated: the new RS alone is fully available at full size.
    if let Some(n) = new {
        if n.replicas == desired && n.desired_annotation == Some(desired) && n.available == desired
        {
            return olds
                .iter()
                .filter(|r| r.replicas > 0)
                .map(|r| ScaleOp {
                    name: r.name.clone(),
                    from: r.replicas,
                    to: 0,
                })
                .collect();
        }
    }
    if !is_rolling(d) {
        return Vec::new();
    }
    let mut active = active;
    let current = total_spec(&active);
    let allowed = if desired > 0 {
        desired + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - current;
    if to_add > 0 {
        // Larger (then newer) first.
        active.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| by_creation(b, a)));
    } else {
        // Larger (then older) first.
        active.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| by_creation(a, b)));
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::new();
    for rs in &active {
        let proportion = if to_add == 0 || rs.replicas == 0 || to_add == added {
            0
        } else {
            let fraction = replica_fraction(rs, d);
            let allowed_left = to_add - added;
            if to_add > 0 {
                fraction.min(allowed_left)
            } else {
                fraction.max(allowed_left)
            }
        };
        sizes.push(rs.replicas + proportion);
        added += proportion;
    }
    if let Some(first) = sizes.first_mut() {
        if to_add != added {
            *first = (*first + to_add - added).max(0);
        }
    }
    active
        .iter()
        .zip(sizes)
        .filter(|(rs, to)| rs.replicas != *to)
        .map(|(rs, to)| ScaleOp {
            name: rs.name.clone(),
            from: rs.replicas,
            to,
        })
        .collect()
}

/// `getReplicaSetFraction`.
fn replica_fraction(rs: &Rs, d: &Deployment) -> i32 {
    let desired = desired_replicas(d);
    if desired == 0 {
        return -rs.replicas;
    }
    let deployment_replicas = i64::from(desired + max_surge(d));
    let annotated = match rs.max_replicas_annotation {
        Some(a) if a > 0 => i64::from(a),
        _ => i64::from(
            d.status
                .as_ref()
                .map(|s| s.replicas.unwrap_or(0))
                .unwrap_or(0),
        )
        .max(1),
    };
    let size = (i64::from(rs.replicas) * deployment_replicas + annotated - 1) / annotated;
    i32::try_from(size - i64::from(rs.replicas)).unwrap_or(0)
}

/// `cleanupDeployment`: old, empty ReplicaSets beyond
/// `revisionHistoryLimit`, oldest revision first.
pub fn cleanup(d: &Deployment, olds: &[&Rs]) -> Vec<String> {
    let limit = d
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10)
        .max(0);
    let mut cleanable: Vec<&Rs> = olds.iter().copied().filter(|r| !r.deleting).collect();
    let excess = cleanable
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    cleanable.sort_by(|a, b| a.revision.cmp(&b.revision).then_with(|| by_creation(a, b)));
    cleanable
        .into_iter()
        .take(excess)
        .filter(|r| {
            r.replicas == 0 && r.status_replicas == 0 && r.observed_generation >= r.generation
        })
        .map(|r| r.name.clone())
        .collect()
}

/// A status condition as the controller writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// The status fields (conditions separately).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusCounts {
    pub observed_generation: i64,
    pub replicas: i32,
    pub updated_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub unavailable_replicas: i32,
}

/// `calculateStatus` counts.
pub fn status_counts(d: &Deployment, all: &[&Rs], new: Option<&Rs>) -> StatusCounts {
    let available: i32 = all.iter().map(|r| r.available).sum();
    StatusCounts {
        observed_generation: d.metadata.generation.unwrap_or(0),
        replicas: all.iter().map(|r| r.status_replicas).sum(),
        updated_replicas: new.map(|n| n.status_replicas).unwrap_or(0),
        ready_replicas: all.iter().map(|r| r.ready).sum(),
        available_replicas: available,
        unavailable_replicas: (total_spec(all) - available).max(0),
    }
}

/// `DeploymentComplete`.
pub fn is_complete(d: &Deployment, st: &StatusCounts) -> bool {
    let desired = desired_replicas(d);
    st.updated_replicas == desired
        && st.replicas == desired
        && st.available_replicas == desired
        && st.observed_generation >= d.metadata.generation.unwrap_or(0)
}

/// The Available condition for the counts.
pub fn available_condition(d: &Deployment, st: &StatusCounts) -> Condition {
    if st.available_replicas >= desired_replicas(d) - max_unavailable(d) {
        Condition {
            type_: "Available".into(),
            status: "True".into(),
            reason: "MinimumReplicasAvailable".into(),
            message: "Deployment has minimum availability.".into(),
        }
    } else {
        Condition {
            type_: "Available".into(),
            status: "False".into(),
            reason: "MinimumReplicasUnavailable".into(),
            message: "Deployment does not have minimum availability.".into(),
        }
    }
}

/// The Progressing condition, given what happened in this sync.
pub fn progressing_condition(
    d: &Deployment,
    st: &StatusCounts,
    new_name: Option<&str>,
    created_new: bool,
    now: Timestamp,
) -> Option<Condition> {
    let new_name = new_name?;
    let old = d.status.clone().unwrap_or_default();
    let existing = old
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        .cloned();
    let cond = |reason: &str, message: String| Condition {
        type_: "Progressing".into(),
        status: "True".into(),
        reason: reason.into(),
        message,
    };
    if created_new {
        return Some(cond(
            "NewReplicaSetCreated",
            format!("Created new replica set \"{new_name}\""),
        ));
    }
    if is_complete(d, st) {
        return Some(cond(
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        ));
    }
    let progressed = st.updated_replicas > old.updated_replicas.unwrap_or(0)
        || st.ready_replicas > old.ready_replicas.unwrap_or(0)
        || st.available_replicas > old.available_replicas.unwrap_or(0)
        || (st.replicas - st.updated_replicas)
            < (old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0));
    if progressed {
        return Some(cond(
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{new_name}\" is progressing."),
        ));
    }
    // No progress for progressDeadlineSeconds: the rollout timed out.
    let deadline = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds);
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if let (Some(secs), Some(c), false) = (deadline, existing.as_ref(), paused) {
        let since = c.last_update_time.as_ref().map(|t| t.0);
        if c.status == "True" && since.is_some_and(|t| util::add_secs(t, i64::from(secs)) < now) {
            return Some(Condition {
                type_: "Progressing".into(),
                status: "False".into(),
                reason: "ProgressDeadlineExceeded".into(),
                message: format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            });
        }
    }
    match existing {
        Some(c) => Some(Condition {
            type_: c.type_,
            status: c.status,
            reason: c.reason.unwrap_or_default(),
            message: c.message.unwrap_or_default(),
        }),
        None => Some(cond(
            "FoundNewReplicaSet",
            format!("Found new replica set \"{new_name}\""),
        )),
    }
}

/// The status JSON: counts plus conditions, keeping transition times of
/// conditions whose status did not change (`SetDeploymentCondition`).
pub fn status_json(
    d: &Deployment,
    st: &StatusCounts,
    conds: &[Condition],
    now: Timestamp,
) -> Value {
    let old = d.status.clone().unwrap_or_default();
    let existing = old.conditions.unwrap_or_default();
    let mut out: Vec<Value> = Vec::new();
    for c in conds {
        let prev = existing.iter().find(|e| e.type_ == c.type_);
        let same = prev.is_some_and(|p| {
            p.status == c.status
                && p.reason.as_deref() == Some(&c.reason)
                && p.message.as_deref() == Some(&c.message)
        });
        let (update, transition) = match prev {
            Some(p) if same => (p.last_update_time.clone(), p.last_transition_time.clone()),
            Some(p) if p.status == c.status => (Some(Time(now)), p.last_transition_time.clone()),
            _ => (Some(Time(now)), Some(Time(now))),
        };
        out.push(json!({"type": c.type_, "status": c.status, "lastUpdateTime": update, "lastTransitionTime": transition,
            "reason": c.reason, "message": c.message}));
    }
    // Keep conditions we don't manage (e.g. ReplicaFailure) in place.
    for e in &existing {
        if !conds.iter().any(|c| c.type_ == e.type_) {
            out.push(serde_json::to_value(e).unwrap_or(Value::Null));
        }
    }
    // The real controller lists Available before Progressing.
    json!({
        "observedGeneration": st.observed_generation,
        "replicas": st.replicas,
        "updatedReplicas": st.updated_replicas,
        "readyReplicas": st.ready_replicas,
        "availableReplicas": st.available_replicas,
        "unavailableReplicas": st.unavailable_replicas,
        "conditions": out,
        "collisionCount": old.collision_count,
    })
}

fn status_differs(d: &Deployment, v: &Value) -> bool {
    let cur = d
        .status
        .clone()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .unwrap_or(json!({}));
    let pick = |v: &Value, k: &str| {
        v.get(k)
            .cloned()
            .filter(|x| !x.is_null())
            .unwrap_or(json!(0))
    };
    for k in [
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ] {
        if pick(&cur, k) != pick(v, k) {
            return true;
        }
    }
    let strip = |v: &Value| -> Vec<Value> {
        v.get("conditions")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!([
                            c["type"],
                            c["status"],
                            c["reason"],
                            c["message"],
                            c["lastUpdateTime"]
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(&cur) != strip(v)
}

/// The ReplicaSet to create for the deployment's current template.
pub fn new_replicaset(d: &Deployment, replicas: i32, revision: i64) -> ReplicaSet {
    let spec = d.spec.clone().unwrap_or_default();
    let collision = d.status.as_ref().and_then(|s| s.collision_count);
    let template = util::defaulted_template(&spec.template);
    let hash = util::template_hash(&template, collision);
    let mut template = template;
    let tm = template.metadata.get_or_insert_with(Default::default);
    tm.labels
        .get_or_insert_with(Default::default)
        .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
    let labels = tm.labels.clone();
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
    let name = d.metadata.name.clone().unwrap_or_default();
    let mut annotations: BTreeMap<String, String> = d
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| {
            ![
                LAST_APPLIED_ANNOTATION,
                REVISION_ANNOTATION,
                REVISION_HISTORY_ANNOTATION,
                DESIRED_REPLICAS_ANNOTATION,
                MAX_REPLICAS_ANNOTATION,
                ROLLBACK_TO_ANNOTATION,
            ]
            .contains(&k.as_str())
        })
        .collect();
    annotations.insert(REVISION_ANNOTATION.into(), revision.to_string());
    annotations.insert(
        DESIRED_REPLICAS_ANNOTATION.into(),
        desired_replicas(d).to_string(),
    );
    annotations.insert(
        MAX_REPLICAS_ANNOTATION.into(),
        (desired_replicas(d) + max_surge(d)).to_string(),
    );
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![util::controller_owner_ref(
                "apps/v1",
                "Deployment",
                &name,
                d.metadata.uid.as_deref().unwrap_or(""),
            )]),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

/// What one sync of a deployment does, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub create: Option<ReplicaSet>,
    /// Annotation updates on an existing new RS: (name, revision).
    pub bump_revision: Option<(String, i64)>,
    /// The deployment's own revision annotation.
    pub deployment_revision: Option<String>,
    pub scale: Vec<ScaleOp>,
    pub delete: Vec<String>,
    pub status: Option<Value>,
    /// Re-check then (the progress deadline of an unfinished rollout).
    pub requeue_after: Option<std::time::Duration>,
}

/// The whole decision for one deployment given the ReplicaSets it owns.
pub fn plan(d: &Deployment, rss: &[Arc<ReplicaSet>], now: Timestamp) -> Plan {
    let mut plan = Plan::default();
    let spec = d.spec.clone().unwrap_or_default();
    let infos: Vec<Rs> = rss.iter().map(|r| Rs::from(r)).collect();
    // FindNewReplicaSet: the oldest RS whose template matches.
    let mut order: Vec<usize> = (0..rss.len()).collect();
    order.sort_by(|a, b| by_creation(&&infos[*a], &&infos[*b]));
    let new_idx = order.iter().copied().find(|i| {
        rss[*i]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| util::templates_equal_ignoring_hash(t, &spec.template))
    });
    let olds: Vec<&Rs> = (0..infos.len())
        .filter(|i| Some(*i) != new_idx)
        .map(|i| &infos[i])
        .collect();
    let mut new: Option<Rs> = new_idx.map(|i| infos[i].clone());
    let max_old_rev = olds.iter().map(|r| r.revision).max().unwrap_or(0);
    let new_revision = max_old_rev + 1;
    let deleting = d.metadata.deletion_timestamp.is_some();
    let paused = spec.paused.unwrap_or(false);
    let all_now = |new: &Option<Rs>| -> Vec<Rs> {
        new.iter()
            .cloned()
            .chain(olds.iter().map(|r| (*r).clone()))
            .collect()
    };
    let all_owned = all_now(&new);
    let all: Vec<&Rs> = all_owned.iter().collect();
    let mut created_new = false;

    if !deleting {
        if paused || is_scaling_event(d, &all) {
            plan.scale = scale(d, new.as_ref(), &olds);
            if paused && plan.scale.is_empty() {
                plan.delete = cleanup(d, &olds);
            }
        } else {
            // getNewReplicaSet: create it, or bring its revision up to date.
            if let Some(n) = &new {
                if n.revision < new_revision {
                    plan.bump_revision = Some((n.name.clone(), new_revision));
                }
            }
            let rolling = is_rolling(d);
            let active_olds: Vec<&Rs> = olds.iter().copied().filter(|r| r.replicas > 0).collect();
            if rolling {
                match &new {
                    None => {
                        let replicas = new_rs_new_replicas(d, &all, 0);
                        let rs = new_replicaset(d, replicas, new_revision);
                        let mut info = Rs::from(&rs);
                        info.created = Some(now);
                        plan.create = Some(rs);
                        new = Some(info);
                        created_new = true;
                    }
                    Some(n) => {
                        if let Some(op) = reconcile_new(d, &all, n) {
                            plan.scale.push(op);
                        } else {
                            plan.scale = reconcile_old(d, &all, &olds, Some(n));
                        }
                    }
                }
            } else if !active_olds.is_empty() {
                // Recreate: scale every old RS to zero first.
                plan.scale = active_olds
                    .iter()
                    .map(|r| ScaleOp {
                        name: r.name.clone(),
                        from: r.replicas,
                        to: 0,
                    })
                    .collect();
            } else if olds.iter().all(|r| r.status_replicas == 0) {
                match &new {
                    None => {
                        let rs = new_replicaset(d, desired_replicas(d), new_revision);
                        let mut info = Rs::from(&rs);
                        info.created = Some(now);
                        plan.create = Some(rs);
                        new = Some(info);
                        created_new = true;
                    }
                    Some(n) if n.replicas != desired_replicas(d) => plan.scale.push(ScaleOp {
                        name: n.name.clone(),
                        from: n.replicas,
                        to: desired_replicas(d),
                    }),
                    Some(_) => {}
                }
            }
        }
    }
    let rev = if created_new {
        Some(new_revision)
    } else {
        plan.bump_revision
            .as_ref()
            .map(|(_, r)| *r)
            .or_else(|| new.as_ref().map(|n| n.revision))
    };
    if let Some(rev) = rev.filter(|r| *r > 0) {
        let cur = d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION_ANNOTATION));
        if cur.map(String::as_str) != Some(rev.to_string().as_str()) {
            plan.deployment_revision = Some(rev.to_string());
        }
    }
    // Status from the current ReplicaSet status (scaling shows up later).
    let status_all = all_now(&new);
    let status_refs: Vec<&Rs> = status_all.iter().collect();
    let counts = status_counts(d, &status_refs, new.as_ref());
    if !deleting
        && plan.scale.is_empty()
        && plan.create.is_none()
        && !paused
        && is_complete(d, &counts)
    {
        plan.delete = cleanup(d, &olds);
    }
    let mut conds = vec![available_condition(d, &counts)];
    if let Some(p) = progressing_condition(
        d,
        &counts,
        new.as_ref().map(|n| n.name.as_str()),
        created_new,
        now,
    ) {
        conds.push(p);
    }
    let status = status_json(d, &counts, &conds, now);
    plan.requeue_after = deadline_recheck(d, &counts, &status, now);
    if status_differs(d, &status) {
        plan.status = Some(status);
    }
    plan
}

/// When an unfinished rollout's progress deadline passes.
fn deadline_recheck(
    d: &Deployment,
    counts: &StatusCounts,
    status: &Value,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let secs = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds)?;
    if is_complete(d, counts) || d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return None;
    }
    let cond = status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Progressing" && c["status"] == "True")?;
    let since: Timestamp = cond["lastUpdateTime"].as_str()?.parse().ok()?;
    let at = util::add_secs(since, i64::from(secs) + 1);
    Some(util::duration_between(now, at).max(std::time::Duration::from_secs(1)))
}

// ---------------------------------------------------------------------------
// Controller
// ---------------------------------------------------------------------------

pub enum Msg {
    Deployment(Change<Deployment>),
    ReplicaSet(Change<ReplicaSet>),
}

pub struct DeploymentController {
    ctx: Ctx,
    deployments: Arc<Informer<Deployment>>,
    replicasets: Arc<Informer<ReplicaSet>>,
    recorder: EventRecorder,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let deployments = factory.get::<Deployment>();
    let replicasets = factory.get::<ReplicaSet>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&deployments, &wiring.tx, Msg::Deployment);
    runtime::forward(&replicasets, &wiring.tx, Msg::ReplicaSet);
    let r = DeploymentController {
        ctx: ctx.clone(),
        deployments,
        replicasets,
        recorder: ctx.recorder("deployment-controller"),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

fn deployment_selector_matches(d: &Deployment, labels: &BTreeMap<String, String>) -> bool {
    d.spec.as_ref().is_some_and(|s| {
        !util::selector_is_empty(&s.selector) && util::selector_matches(&s.selector, labels)
    })
}

impl DeploymentController {
    fn on_rs(&self, c: Change<ReplicaSet>, q: &mut WorkQueue) {
        let rs = c.object();
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let owner = |rs: &ReplicaSet| {
            util::controller_of(&rs.metadata)
                .filter(|r| r.kind == "Deployment" && r.api_version == "apps/v1")
                .map(|r| util::key(Some(&ns), &r.name))
        };
        if let Some(old) = c.old() {
            if let Some(k) = owner(old) {
                q.add(k);
            }
        }
        match owner(rs) {
            Some(k) => q.add(k),
            None => {
                let labels = util::labels_of(&rs.metadata);
                for d in self.deployments.list_namespace(&ns) {
                    if deployment_selector_matches(&d, &labels) {
                        q.add(util::meta_key(&d.metadata));
                    }
                }
            }
        }
    }
}

impl Reconciler for DeploymentController {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Deployment(c) => {
                if !matches!(c, Change::Deleted(_)) {
                    q.add(util::meta_key(&c.object().metadata));
                }
            }
            Msg::ReplicaSet(c) => self.on_rs(c, q),
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let d = self.deployments.get_key(key)?;
        let spec = d.spec.clone().unwrap_or_default();
        if util::selector_is_empty(&spec.selector) {
            self.recorder.warning(
                &object_ref(d.as_ref()),
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            );
            return None;
        }
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let claim = util::claim(self.replicasets.list_namespace(&ns), &uid, deleting, |l| {
            util::selector_matches(&spec.selector, l)
        });
        let owned: Vec<Arc<ReplicaSet>> = claim
            .owned
            .iter()
            .chain(claim.adopt.iter())
            .cloned()
            .collect();
        let plan = plan(&d, &owned, util::now());
        let nothing = plan.create.is_none()
            && plan.bump_revision.is_none()
            && plan.deployment_revision.is_none()
            && plan.scale.is_empty()
            && plan.delete.is_empty()
            && plan.status.is_none()
            && claim.adopt.is_empty()
            && claim.release.is_empty();
        let requeue_after = plan.requeue_after;
        if nothing {
            return sync::later(requeue_after);
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(d.as_ref());
        let owner_ref = util::controller_owner_ref(
            "apps/v1",
            "Deployment",
            d.metadata.name.as_deref().unwrap_or(""),
            &uid,
        );
        let name = d.metadata.name.clone().unwrap_or_default();
        let desired = desired_replicas(&d);
        let max = desired + max_surge(&d);
        let (adopt, release) = (claim.adopt, claim.release);
        Some(Box::pin(async move {
            let mut error = actions::set_owner(&ctx, adopt, &owner_ref, true).await > 0;
            error |= actions::set_owner(&ctx, release, &owner_ref, false).await > 0;
            let rs_api: Api<ReplicaSet> = api_in(&ctx, &ns);
            let d_api: Api<Deployment> = api_in(&ctx, &ns);
            let mut status = plan.status;
            if let Some(rs) = plan.create {
                let rs_name = rs.metadata.name.clone().unwrap_or_default();
                let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                match ctx.call(rs_api.create(&PostParams::default(), &rs)).await {
                    Ok(_) => {
                        if replicas > 0 {
                            recorder.normal(
                                &involved,
                                "ScalingReplicaSet",
                                &format!("Scaled up replica set {rs_name} to {replicas}"),
                            );
                        }
                    }
                    Err(e) if util::is_already_exists(&e) => {
                        // A hash collision with an RS of another template:
                        // bump collisionCount so the next hash differs.
                        let existing = ctx.call(rs_api.get(&rs_name)).await.ok();
                        let same = existing.as_ref().is_some_and(|x| {
                            util::is_controlled_by(&x.metadata, &uid)
                                && x.spec
                                    .as_ref()
                                    .and_then(|s| s.template.as_ref())
                                    .zip(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
                                    .is_some_and(|(a, b)| util::templates_equal_ignoring_hash(a, b))
                        });
                        if !same {
                            let cc = status
                                .as_ref()
                                .and_then(|s| s["collisionCount"].as_i64())
                                .unwrap_or(0)
                                + 1;
                            let _ = actions::patch_status(
                                &ctx,
                                &d_api,
                                &name,
                                json!({"collisionCount": cc}),
                            )
                            .await;
                            status = None;
                        }
                        error = true;
                    }
                    Err(e) => {
                        if !util::is_namespace_terminating_error(&e) {
                            recorder.warning(
                                &involved,
                                "ReplicaSetCreateError",
                                &format!(
                                    "Failed to create new replica set \"{rs_name}\": {}",
                                    actions::api_message(&e)
                                ),
                            );
                        }
                        error = true;
                        status = None;
                    }
                }
            }
            if let Some((rs_name, rev)) = plan.bump_revision {
                let patch = json!({"metadata": {"annotations": {REVISION_ANNOTATION: rev.to_string(),
                    DESIRED_REPLICAS_ANNOTATION: desired.to_string(), MAX_REPLICAS_ANNOTATION: max.to_string()}}});
                error |= ctx
                    .call(rs_api.patch(&rs_name, &PatchParams::default(), &Patch::Merge(patch)))
                    .await
                    .is_err();
            }
            if let Some(rev) = plan.deployment_revision {
                let patch = json!({"metadata": {"annotations": {REVISION_ANNOTATION: rev}}});
                error |= ctx
                    .call(d_api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)))
                    .await
                    .is_err();
            }
            for op in plan.scale {
                let patch = json!({"metadata": {"annotations": {DESIRED_REPLICAS_ANNOTATION: desired.to_string(), MAX_REPLICAS_ANNOTATION: max.to_string()}},
                    "spec": {"replicas": op.to}});
                match ctx
                    .call(rs_api.patch(&op.name, &PatchParams::default(), &Patch::Merge(patch)))
                    .await
                {
                    Ok(_) => {
                        let dir = if op.to > op.from { "up" } else { "down" };
                        recorder.normal(
                            &involved,
                            "ScalingReplicaSet",
                            &format!("Scaled {dir} replica set {} to {}", op.name, op.to),
                        );
                    }
                    Err(_) => error = true,
                }
            }
            for rs_name in plan.delete {
                if let Err(e) = ctx
                    .call(rs_api.delete(&rs_name, &DeleteParams::default()))
                    .await
                {
                    error |= !util::is_not_found(&e);
                }
            }
            if let Some(st) = status {
                if let Err(e) = actions::patch_status(&ctx, &d_api, &name, st).await {
                    error |= !util::is_not_found(&e);
                }
            }
            let mut done = Done::new(requeue_after);
            done.fail_if(error, "failed to sync the deployment's replica sets");
            done
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        // No expectations: the Deployment controller waits on ReplicaSet
        // status, not on watch events of its own writes.
        done.requeue(key, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i32, surge: Value, unavailable: Value) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "d1", "generation": 2},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}}}}))
        .unwrap()
    }

    fn rs(name: &str, replicas: i32, available: i32, created_sec: i64) -> Rs {
        Rs {
            name: name.into(),
            replicas,
            status_replicas: replicas,
            ready: available,
            available,
            created: Some(Timestamp::from_second(1_700_000_000 + created_sec).unwrap()),
            revision: created_sec,
            ..Default::default()
        }
    }

    #[test]
    fn scaled_values_round_like_intstr() {
        let cases = [
            (Some(IntOrString::String("25%".into())), 10, true, 3),
            (Some(IntOrString::String("25%".into())), 10, false, 2),
            (Some(IntOrString::Int(5)), 10, false, 5),
            (None, 4, true, 1),
            (Some(IntOrString::String("0%".into())), 10, true, 0),
            (Some(IntOrString::String("100%".into())), 3, false, 3),
        ];
        for (v, total, up, want) in cases {
            assert_eq!(
                scaled_value(v.as_ref(), total, up, 25),
                want,
                "{v:?} of {total} up={up}"
            );
        }
        assert_eq!(resolve_fenceposts(&deploy(10, json!(0), json!(0))), (0, 1));
        assert_eq!(
            resolve_fenceposts(&deploy(10, json!("25%"), json!("25%"))),
            (3, 2)
        );
        assert_eq!(max_unavailable(&deploy(2, json!(0), json!(5))), 2);
        assert_eq!(max_unavailable(&deploy(0, json!(0), json!(5))), 0);
    }

    #[test]
    fn new_replicas_respect_max_surge() {
        // (desired, surge, new spec, olds spec) -> new replicas
        let cases = [
            (10, 3, 0, vec![10], 3),
            (10, 3, 3, vec![10], 3),
            (10, 3, 3, vec![8], 5),
            (10, 3, 8, vec![0], 10),
            (10, 0, 0, vec![10], 0),
        ];
        for (desired, surge, new_spec, olds, want) in cases {
            let d = deploy(desired, json!(surge), json!(1));
            let new = rs("new", new_spec, 0, 10);
            let olds: Vec<Rs> = olds
                .iter()
                .enumerate()
                .map(|(i, r)| rs(&format!("old{i}"), *r, *r, i as i64))
                .collect();
            let all: Vec<&Rs> = std::iter::once(&new).chain(olds.iter()).collect();
            assert_eq!(
                new_rs_new_replicas(&d, &all, new_spec),
                want,
                "desired {desired} surge {surge} new {new_spec} olds {olds:?}"
            );
        }
    }

    #[test]
    fn old_replicas_scale_down_within_max_unavailable() {
        // 10 replicas, surge 3, unavailable 2: new has 3 (0 available), old has 10 available.
        let d = deploy(10, json!(3), json!(2));
        let new = rs("new", 3, 0, 10);
        let old = rs("old", 10, 10, 1);
        let all = vec![&new, &old];
        // allPods 13, minAvailable 8, newUnavailable 3 -> maxScaledDown 2; available 10 -> scale old down 2.
        assert_eq!(
            reconcile_old(&d, &all, &[&old], Some(&new)),
            vec![ScaleOp {
                name: "old".into(),
                from: 10,
                to: 8
            }]
        );
        // Unhealthy old replicas are removed first.
        let old_unhealthy = rs("old", 10, 6, 1);
        let all = vec![&new, &old_unhealthy];
        // maxScaledDown = 13-8-3 = 2: cleanup 2 unhealthy -> 8; available 6 < minAvailable 8: no more.
        assert_eq!(
            reconcile_old(&d, &all, &[&old_unhealthy], Some(&new)),
            vec![ScaleOp {
                name: "old".into(),
                from: 10,
                to: 8
            }]
        );
        // Nothing to do when old is empty.
        let empty = rs("old", 0, 0, 1);
        assert!(reconcile_old(&d, &[&new, &empty], &[&empty], Some(&new)).is_empty());
        // New fully available: old scales to zero.
        let new_done = rs("new", 10, 10, 10);
        let old2 = rs("old", 2, 2, 1);
        assert_eq!(
            reconcile_old(&d, &[&new_done, &old2], &[&old2], Some(&new_done)),
            vec![ScaleOp {
                name: "old".into(),
                from: 2,
                to: 0
            }]
        );
    }

    #[test]
    fn reconcile_new_scales_up_or_down_to_desired() {
        let d = deploy(10, json!(3), json!(2));
        let old = rs("old", 10, 10, 1);
        let new = rs("new", 0, 0, 10);
        assert_eq!(
            reconcile_new(&d, &[&new, &old], &new),
            Some(ScaleOp {
                name: "new".into(),
                from: 0,
                to: 3
            })
        );
        let big = rs("new", 12, 12, 10);
        assert_eq!(
            reconcile_new(&d, &[&big], &big),
            Some(ScaleOp {
                name: "new".into(),
                from: 12,
                to: 10
            })
        );
        let exact = rs("new", 10, 10, 10);
        assert_eq!(reconcile_new(&d, &[&exact], &exact), None);
    }

    #[test]
    fn a_full_rollout_converges() {
        // Simulate syncs where every scaled pod becomes available at once.
        let d = deploy(10, json!("25%"), json!("25%"));
        let mut new = rs("new", 0, 0, 10);
        let mut old = rs("old", 10, 10, 1);
        for _ in 0..50 {
            let all = vec![&new, &old];
            let ops = match reconcile_new(&d, &all, &new) {
                Some(op) => vec![op],
                None => reconcile_old(&d, &all, &[&old], Some(&new)),
            };
            for op in ops {
                let target = if op.name == "new" { &mut new } else { &mut old };
                target.replicas = op.to;
            }
            // Invariants: never above desired + surge, never below desired - unavailable available.
            assert!(new.replicas + old.replicas <= 13, "{new:?} {old:?}");
            new.available = new.replicas;
            new.status_replicas = new.replicas;
            old.available = old.replicas;
            old.status_replicas = old.replicas;
            assert!(new.available + old.available >= 8);
        }
        assert_eq!((new.replicas, old.replicas), (10, 0));
    }

    #[test]
    fn proportional_scaling_splits_by_size() {
        // Mid-rollout (5 new, 8 old; max 13 at 10 replicas + 3 surge), scaled to 20 (max 25).
        let d = deploy(20, json!(3), json!(2));
        let mut new = rs("new", 5, 5, 10);
        new.max_replicas_annotation = Some(13);
        new.desired_annotation = Some(10);
        let mut old = rs("old", 8, 8, 1);
        old.max_replicas_annotation = Some(13);
        old.desired_annotation = Some(10);
        assert!(is_scaling_event(&d, &[&new, &old]));
        let ops = scale(&d, Some(&new), &[&old]);
        let total: i32 = ops.iter().map(|o| o.to).sum();
        assert_eq!(total, 23, "{ops:?}");
        assert!(ops.iter().all(|o| o.to > o.from));
        // Only one active RS: it takes the full size.
        let d2 = deploy(4, json!(1), json!(0));
        let single = rs("only", 2, 2, 1);
        assert_eq!(
            scale(&d2, Some(&single), &[]),
            vec![ScaleOp {
                name: "only".into(),
                from: 2,
                to: 4
            }]
        );
    }

    #[test]
    fn cleanup_keeps_revision_history_limit() {
        let mut d = deploy(1, json!(1), json!(0));
        d.spec.as_mut().unwrap().revision_history_limit = Some(1);
        let olds = [rs("r1", 0, 0, 1), rs("r2", 0, 0, 2), rs("r3", 0, 0, 3)];
        let refs: Vec<&Rs> = olds.iter().collect();
        assert_eq!(cleanup(&d, &refs), vec!["r1".to_string(), "r2".to_string()]);
        let busy = [rs("r1", 1, 1, 1), rs("r2", 0, 0, 2)];
        let refs: Vec<&Rs> = busy.iter().collect();
        assert!(
            cleanup(&d, &refs).is_empty(),
            "non-empty RS is never deleted"
        );
    }

    #[test]
    fn plan_creates_the_new_replicaset_with_revision_and_hash() {
        let d = deploy(3, json!(1), json!(0));
        let p = plan(&d, &[], Timestamp::from_second(1_700_000_000).unwrap());
        let rs = p.create.expect("creates new RS");
        let name = rs.metadata.name.clone().unwrap();
        let hash = name.strip_prefix("web-").unwrap();
        let ann = rs.metadata.annotations.clone().unwrap();
        assert_eq!(ann[REVISION_ANNOTATION], "1");
        assert_eq!(ann[DESIRED_REPLICAS_ANNOTATION], "3");
        assert_eq!(ann[MAX_REPLICAS_ANNOTATION], "4");
        assert_eq!(rs.spec.as_ref().unwrap().replicas, Some(3));
        assert_eq!(
            rs.spec
                .as_ref()
                .unwrap()
                .selector
                .match_labels
                .as_ref()
                .unwrap()[util::POD_TEMPLATE_HASH_LABEL],
            hash
        );
        assert_eq!(
            rs.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Deployment"
        );
        assert_eq!(p.deployment_revision.as_deref(), Some("1"));
        let st = p.status.unwrap();
        assert_eq!(st["conditions"][1]["reason"], "NewReplicaSetCreated");
        assert_eq!(st["observedGeneration"], 2);
    }

    #[test]
    fn plan_for_a_template_change_creates_revision_two() {
        let d = deploy(3, json!(1), json!(0));
        let mut old_template = d.spec.as_ref().unwrap().template.clone();
        old_template.spec.as_mut().unwrap().containers[0].image = Some("v1".into());
        let old: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "web-old", "namespace": "ns",
            "annotations": {REVISION_ANNOTATION: "1"}, "creationTimestamp": "2023-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": old_template},
            "status": {"replicas": 3, "availableReplicas": 3, "readyReplicas": 3}})).unwrap();
        let p = plan(
            &d,
            &[Arc::new(old)],
            Timestamp::from_second(1_700_000_000).unwrap(),
        );
        let rs = p.create.expect("new RS");
        assert_eq!(
            rs.metadata.annotations.as_ref().unwrap()[REVISION_ANNOTATION],
            "2"
        );
        // maxSurge 1: the new RS starts at 1.
        assert_eq!(rs.spec.as_ref().unwrap().replicas, Some(1));
        assert_eq!(p.deployment_revision.as_deref(), Some("2"));
    }

    #[test]
    fn stalled_rollouts_exceed_the_progress_deadline() {
        let mut d = deploy(4, json!(1), json!(1));
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(600);
        d.status = serde_json::from_value(json!({"replicas": 4, "updatedReplicas": 1, "availableReplicas": 3, "readyReplicas": 3,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}))
        .unwrap();
        let st = StatusCounts {
            observed_generation: 2,
            replicas: 4,
            updated_replicas: 1,
            ready_replicas: 3,
            available_replicas: 3,
            unavailable_replicas: 1,
        };
        let early = progressing_condition(
            &d,
            &st,
            Some("web-x"),
            false,
            "2024-01-01T00:05:00Z".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(early.reason, "ReplicaSetUpdated");
        let late = progressing_condition(
            &d,
            &st,
            Some("web-x"),
            false,
            "2024-01-01T00:10:01Z".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            (late.status.as_str(), late.reason.as_str()),
            ("False", "ProgressDeadlineExceeded")
        );
        assert_eq!(
            late.message,
            "ReplicaSet \"web-x\" has timed out progressing."
        );
    }

    #[test]
    fn status_conditions_follow_availability() {
        let d = deploy(4, json!(1), json!(1));
        let done = StatusCounts {
            observed_generation: 2,
            replicas: 4,
            updated_replicas: 4,
            ready_replicas: 4,
            available_replicas: 4,
            unavailable_replicas: 0,
        };
        assert!(is_complete(&d, &done));
        assert_eq!(available_condition(&d, &done).status, "True");
        assert_eq!(
            progressing_condition(
                &d,
                &done,
                Some("web-x"),
                false,
                Timestamp::from_second(1_700_000_000).unwrap()
            )
            .unwrap()
            .reason,
            "NewReplicaSetAvailable"
        );
        let low = StatusCounts {
            available_replicas: 2,
            ..done.clone()
        };
        assert_eq!(
            available_condition(&d, &low).reason,
            "MinimumReplicasUnavailable"
        );
        let v = status_json(
            &d,
            &done,
            &[available_condition(&d, &done)],
            Timestamp::from_second(1_700_000_000).unwrap(),
        );
        assert_eq!(v["availableReplicas"], 4);
        assert_eq!(
            v["conditions"][0]["message"],
            "Deployment has minimum availability."
        );
    }
}
