//! The PersistentVolume binder (kube-controller-manager's
//! `persistentvolume-binder`, simplified), acting also as the external
//! provisioner a real cluster would run:
//!
//! - A pending claim binds to the smallest Available volume that fits:
//!   same StorageClass, access modes a superset of the claim's, capacity at
//!   least the request, the claim's selector, the same volume mode; a
//!   volume pre-bound to the claim (`spec.claimRef`) or a claim pre-bound to
//!   a volume (`spec.volumeName`) wins. Binding writes both sides as the
//!   real controller does (`claimRef`, `volumeName`, phases, the claim's
//!   capacity and access modes, `pv.kubernetes.io/bind-completed` and
//!   `pv.kubernetes.io/bound-by-controller`).
//! - A claim with no match whose StorageClass (the default one, annotation
//!   `storageclass.kubernetes.io/is-default-class`, when the claim names
//!   none) has a provisioner gets a new volume `pvc-<claim uid>` (a CSI
//!   volume of that driver, reclaim policy from the class). With
//!   `volumeBindingMode: WaitForFirstConsumer` that waits until the claim
//!   has `volume.kubernetes.io/selected-node` or a pod using it is assigned
//!   a node (then the annotation is set, as the scheduler would).
//! - A volume whose bound claim is deleted is `Released`; with reclaim
//!   policy `Delete` it is deleted, `Recycle` makes it Available again.

use crate::events::{object_ref, EventRecorder, EventType};
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::Done;
use crate::util;
use apimachinery::quantity::Quantity;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
pub const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
pub const ANN_BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// The in-tree "provisioner" of statically provisioned local volumes.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
/// Pending claims are looked at again this often (the real controller's
/// `--pvclaimbinder-sync-period`).
pub const RESYNC: Duration = Duration::from_secs(15);

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The default StorageClass: annotated `is-default-class: "true"`; the
/// newest wins when several are.
pub fn default_class(classes: &[Arc<StorageClass>]) -> Option<&Arc<StorageClass>> {
    classes
        .iter()
        .filter(|c| {
            [ANN_DEFAULT_CLASS, ANN_BETA_DEFAULT_CLASS]
                .iter()
                .any(|a| annotation(&c.metadata, a) == Some("true"))
        })
        .max_by(|a, b| {
            let t = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
                .then_with(|| b.metadata.name.cmp(&a.metadata.name))
        })
}

/// The class a claim asks for: `spec.storageClassName` (or the beta
/// annotation); a claim that names none gets the default class, as the
/// `DefaultStorageClass` admission plugin gives it on a real server.
pub fn claim_class(claim: &PersistentVolumeClaim, classes: &[Arc<StorageClass>]) -> String {
    if let Some(c) = annotation(&claim.metadata, ANN_BETA_CLASS) {
        return c.to_string();
    }
    match claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
    {
        Some(c) => c,
        None => default_class(classes)
            .and_then(|c| c.metadata.name.clone())
            .unwrap_or_default(),
    }
}

/// A volume's class (`spec.storageClassName`, or the beta annotation).
pub fn volume_class(v: &PersistentVolume) -> String {
    if let Some(c) = annotation(&v.metadata, ANN_BETA_CLASS) {
        return c.to_string();
    }
    v.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

fn phase_of_volume(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn claim_ref(v: &PersistentVolume) -> Option<&ObjectReference> {
    v.spec.as_ref()?.claim_ref.as_ref()
}

fn volume_name_of(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
}

/// `IsVolumeBoundToClaim`: the volume's claimRef names this claim (any uid
/// when the reference has none yet).
pub fn is_bound_to(v: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    claim_ref(v).is_some_and(|r| {
        r.name == claim.metadata.name
            && r.namespace == claim.metadata.namespace
            && r.uid
                .as_deref()
                .is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
    })
}

fn storage(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> Option<i128> {
    let q = map?.get("storage")?;
    Quantity::parse(&q.0).ok().map(|q| q.nanos())
}

fn requested(claim: &PersistentVolumeClaim) -> Option<i128> {
    storage(claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref())
}

fn capacity(v: &PersistentVolume) -> Option<i128> {
    storage(v.spec.as_ref()?.capacity.as_ref())
}

fn modes(v: Option<&Vec<String>>) -> Vec<String> {
    v.cloned().unwrap_or_default()
}

fn volume_mode(m: Option<&String>) -> &str {
    m.map(String::as_str).unwrap_or("Filesystem")
}

/// Why a volume cannot serve a claim (`checkVolumeSatisfyClaim`), if so.
pub fn mismatch(
    v: &PersistentVolume,
    claim: &PersistentVolumeClaim,
    class: &str,
) -> Option<String> {
    let vspec = v.spec.clone().unwrap_or_default();
    let cspec = claim.spec.clone().unwrap_or_default();
    let (Some(want), Some(have)) = (requested(claim), capacity(v)) else {
        return Some("requested or offered storage is missing or invalid".into());
    };
    if have < want {
        return Some("requested PV is too small".into());
    }
    if volume_class(v) != class {
        return Some("storageClassName does not match".into());
    }
    if volume_mode(vspec.volume_mode.as_ref()) != volume_mode(cspec.volume_mode.as_ref()) {
        return Some("incompatible volumeMode".into());
    }
    let have_modes = modes(vspec.access_modes.as_ref());
    if !modes(cspec.access_modes.as_ref())
        .iter()
        .all(|m| have_modes.contains(m))
    {
        return Some("incompatible accessMode".into());
    }
    None
}

/// `findMatchingVolume`: a volume bound to the claim already, else (unless
/// binding is delayed) the smallest fitting Available one, fewest access
/// modes first.
pub fn find_match<'a>(
    claim: &PersistentVolumeClaim,
    class: &str,
    volumes: &'a [Arc<PersistentVolume>],
    delay: bool,
) -> Option<&'a Arc<PersistentVolume>> {
    let cspec = claim.spec.clone().unwrap_or_default();
    let mut best: Option<(usize, i128, &'a Arc<PersistentVolume>)> = None;
    for v in volumes {
        let vspec = v.spec.clone().unwrap_or_default();
        if volume_mode(vspec.volume_mode.as_ref()) != volume_mode(cspec.volume_mode.as_ref())
            || util::is_deleting(&v.metadata)
        {
            continue;
        }
        if is_bound_to(v, claim) {
            return Some(v);
        }
        if delay || phase_of_volume(v) != "Available" || vspec.claim_ref.is_some() {
            continue;
        }
        if let Some(sel) = &cspec.selector {
            if !util::selector_matches(sel, &util::labels_of(&v.metadata)) {
                continue;
            }
        }
        if mismatch(v, claim, class).is_some() {
            continue;
        }
        let key = (
            modes(vspec.access_modes.as_ref()).len(),
            capacity(v).unwrap_or(i128::MAX),
        );
        let better = best
            .as_ref()
            .is_none_or(|(m, c, b)| (key.0, key.1, &v.metadata.name) < (*m, *c, &b.metadata.name));
        if better {
            best = Some((key.0, key.1, v));
        }
    }
    best.map(|(_, _, v)| v)
}

/// What a claim's sync does.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimAction {
    Nothing,
    /// Stay Pending, with an event.
    Pending(Option<(EventType, &'static str, String)>),
    /// Bind (or finish binding) to this volume; set the selected-node
    /// annotation first when the claim's consumer was found on a node.
    Bind {
        volume: String,
        select_node: Option<String>,
    },
    /// Create this volume (then bind to it).
    Provision {
        volume: Value,
        provisioner: String,
        select_node: Option<String>,
    },
    /// The bound volume is gone or bound elsewhere.
    Lost(&'static str, &'static str),
}

/// `syncClaim`. `node_of_consumer`: the node of a scheduled pod that uses
/// the claim, if any.
pub fn claim_action(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    classes: &[Arc<StorageClass>],
    node_of_consumer: Option<&str>,
) -> ClaimAction {
    if util::is_deleting(&claim.metadata) {
        return ClaimAction::Nothing;
    }
    let volume_name = volume_name_of(claim);
    let find = |name: &str| {
        volumes
            .iter()
            .find(|v| v.metadata.name.as_deref() == Some(name))
    };
    if annotation(&claim.metadata, ANN_BIND_COMPLETED).is_some() {
        // syncBoundClaim
        if volume_name.is_empty() {
            return ClaimAction::Lost(
                "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            );
        }
        return match find(volume_name) {
            None => ClaimAction::Lost(
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            ),
            Some(v) if claim_ref(v).is_none() || is_bound_to(v, claim) => ClaimAction::Bind {
                volume: volume_name.to_string(),
                select_node: None,
            },
            Some(_) => ClaimAction::Lost(
                "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly",
            ),
        };
    }
    let class = claim_class(claim, classes);
    if !volume_name.is_empty() {
        // Pre-bound by the user to a volume.
        return match find(volume_name) {
            None => ClaimAction::Pending(None),
            Some(v) if claim_ref(v).is_some() && !is_bound_to(v, claim) => {
                ClaimAction::Pending(Some((
                    EventType::Warning,
                    "FailedBinding",
                    format!("volume {volume_name:?} already bound to a different claim."),
                )))
            }
            Some(v) => match mismatch(v, claim, &class) {
                Some(why) if !is_bound_to(v, claim) => ClaimAction::Pending(Some((
                    EventType::Warning,
                    "VolumeMismatch",
                    format!("Cannot bind to requested volume {volume_name:?}: {why}"),
                ))),
                _ => ClaimAction::Bind {
                    volume: volume_name.to_string(),
                    select_node: None,
                },
            },
        };
    }
    let sc = classes
        .iter()
        .find(|c| !class.is_empty() && c.metadata.name.as_deref() == Some(class.as_str()));
    let wffc = sc.is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
    let annotated = annotation(&claim.metadata, ANN_SELECTED_NODE);
    let (node, select_node) = match (annotated, node_of_consumer) {
        (Some(n), _) => (Some(n.to_string()), None),
        (None, Some(n)) if wffc => (Some(n.to_string()), Some(n.to_string())),
        _ => (None, None),
    };
    let delay = wffc && node.is_none();
    if let Some(v) = find_match(claim, &class, volumes, delay) {
        return ClaimAction::Bind {
            volume: v.metadata.name.clone().unwrap_or_default(),
            select_node,
        };
    }
    if delay {
        return ClaimAction::Pending(Some((
            EventType::Normal,
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding".into(),
        )));
    }
    match sc {
        Some(sc) if sc.provisioner != NO_PROVISIONER => ClaimAction::Provision {
            volume: provisioned_volume(claim, sc, node.as_deref()),
            provisioner: sc.provisioner.clone(),
            select_node,
        },
        Some(_) => ClaimAction::Pending(Some((
            EventType::Normal,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set".into(),
        ))),
        None if class.is_empty() => ClaimAction::Pending(Some((
            EventType::Normal,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set".into(),
        ))),
        None => ClaimAction::Pending(Some((
            EventType::Warning,
            "ProvisioningFailed",
            format!("storageclass.storage.k8s.io {class:?} not found"),
        ))),
    }
}

/// The volume a provisioner creates for a claim: `pvc-<claim uid>`, a CSI
/// volume of the class's driver, pre-bound to the claim.
pub fn provisioned_volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: Option<&str>,
) -> Value {
    let cspec = claim.spec.clone().unwrap_or_default();
    let name = format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or(""));
    let request = cspec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: class.provisioner}},
        "spec": {
            "capacity": {"storage": request},
            "accessModes": cspec.access_modes,
            "persistentVolumeReclaimPolicy": class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
            "storageClassName": class.metadata.name,
            "volumeMode": cspec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()),
            "csi": {"driver": class.provisioner, "volumeHandle": name,
                "volumeAttributes": class.parameters.clone().unwrap_or_default()},
            "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                "namespace": claim.metadata.namespace, "name": claim.metadata.name,
                "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version},
        }
    });
    if let Some(m) = &class.mount_options {
        v["spec"]["mountOptions"] = json!(m);
    }
    if let Some(n) = node {
        v["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [n]}]}]}});
    }
    v
}

/// The writes that finish binding `claim` to `v` (none when done):
/// `(volume spec patch, volume phase, claim patch, claim status)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BindWrites {
    pub volume: Option<Value>,
    pub volume_phase: bool,
    pub claim: Option<Value>,
    pub claim_status: Option<Value>,
}

pub fn bind_writes(v: &PersistentVolume, claim: &PersistentVolumeClaim) -> BindWrites {
    let mut w = BindWrites::default();
    let want_ref = claim_ref(v).is_some_and(|r| {
        r.uid.as_deref() == claim.metadata.uid.as_deref()
            && r.name == claim.metadata.name
            && r.namespace == claim.metadata.namespace
    });
    if !want_ref {
        // The resourceVersion makes the write fail if another claim took
        // the volume meanwhile.
        w.volume = Some(json!({
            "metadata": {"resourceVersion": v.metadata.resource_version,
                "annotations": {ANN_BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                "namespace": claim.metadata.namespace, "name": claim.metadata.name,
                "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version}}
        }));
    }
    w.volume_phase = phase_of_volume(v) != "Bound";
    let vname = v.metadata.name.clone().unwrap_or_default();
    let by_us = volume_name_of(claim).is_empty();
    if volume_name_of(claim) != vname || annotation(&claim.metadata, ANN_BIND_COMPLETED).is_none() {
        let mut ann = json!({ANN_BIND_COMPLETED: "yes"});
        if by_us {
            ann[ANN_BOUND_BY_CONTROLLER] = json!("yes");
        }
        w.claim = Some(json!({"metadata": {"annotations": ann}, "spec": {"volumeName": vname}}));
    }
    let vspec = v.spec.clone().unwrap_or_default();
    let status = claim.status.clone().unwrap_or_default();
    let cap = vspec.capacity.clone().unwrap_or_default();
    if phase_of_claim(claim) != "Bound"
        || status.capacity.clone().unwrap_or_default() != cap
        || status.access_modes != vspec.access_modes
    {
        w.claim_status =
            Some(json!({"phase": "Bound", "accessModes": vspec.access_modes, "capacity": cap}));
    }
    w
}

/// What a volume's sync does.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeAction {
    Nothing,
    SetPhase(&'static str),
    /// The bound claim may be gone: confirm with the API server, then
    /// release (and delete or recycle) by reclaim policy.
    CheckClaim,
    /// Bound by the controller to a claim that went elsewhere: free it.
    Unbind,
}

/// `syncVolume`. `claim`: the cached claim of the volume's claimRef.
pub fn volume_action(v: &PersistentVolume, claim: Option<&PersistentVolumeClaim>) -> VolumeAction {
    if util::is_deleting(&v.metadata) {
        return VolumeAction::Nothing;
    }
    let phase = phase_of_volume(v);
    let Some(r) = claim_ref(v) else {
        return if phase == "Available" {
            VolumeAction::Nothing
        } else {
            VolumeAction::SetPhase("Available")
        };
    };
    if r.uid.as_deref().is_none_or(str::is_empty) {
        return if phase == "Available" {
            VolumeAction::Nothing
        } else {
            VolumeAction::SetPhase("Available")
        };
    }
    let claim = claim.filter(|c| c.metadata.uid == r.uid);
    let Some(claim) = claim else {
        return if phase == "Released" || phase == "Failed" {
            // Reclaiming (delete) may still be due.
            match policy(v) {
                "Delete" if phase == "Released" => VolumeAction::CheckClaim,
                _ => VolumeAction::Nothing,
            }
        } else {
            VolumeAction::CheckClaim
        };
    };
    let vname = v.metadata.name.as_deref().unwrap_or("");
    match volume_name_of(claim) {
        "" => VolumeAction::Nothing,
        n if n == vname => {
            if phase == "Bound" {
                VolumeAction::Nothing
            } else {
                VolumeAction::SetPhase("Bound")
            }
        }
        _ if annotation(&v.metadata, ANN_BOUND_BY_CONTROLLER).is_some()
            && annotation(&v.metadata, ANN_PROVISIONED_BY).is_none() =>
        {
            VolumeAction::Unbind
        }
        _ => VolumeAction::Nothing,
    }
}

fn policy(v: &PersistentVolume) -> &str {
    v.spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain")
}

/// The claims a pod uses.
pub fn pod_claims(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the selected-node annotation on a claim, as the scheduler does
/// for a WaitForFirstConsumer claim of a pod it placed.
async fn select_node_patch(
    ctx: &Ctx,
    claims: &Api<PersistentVolumeClaim>,
    name: &str,
    node: Option<String>,
) -> Result<(), kube::Error> {
    let Some(n) = node else { return Ok(()) };
    let patch = json!({"metadata": {"annotations": {ANN_SELECTED_NODE: n}}});
    ctx.call(claims.patch(name, &PatchParams::default(), &Patch::Merge(patch)))
        .await
        .map(|_| ())
}

pub enum Msg {
    Volume(Change<PersistentVolume>),
    Claim(Change<PersistentVolumeClaim>),
    Class(Change<StorageClass>),
    Pod(Change<Pod>),
}

pub struct PvBinder {
    ctx: Ctx,
    volumes: Arc<Informer<PersistentVolume>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    classes: Arc<Informer<StorageClass>>,
    pods: Arc<Informer<Pod>>,
    recorder: EventRecorder,
    /// When each pending claim's periodic re-sync is due (one per claim).
    resync: HashMap<String, Instant>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let volumes = factory.get::<PersistentVolume>();
    let claims = factory.get::<PersistentVolumeClaim>();
    let classes = factory.get::<StorageClass>();
    let pods = factory.get::<Pod>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&volumes, &wiring.tx, Msg::Volume);
    runtime::forward(&claims, &wiring.tx, Msg::Claim);
    runtime::forward(&classes, &wiring.tx, Msg::Class);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    let r = PvBinder {
        ctx: ctx.clone(),
        volumes,
        claims,
        classes,
        pods,
        recorder: ctx.recorder("persistentvolume-controller"),
        resync: HashMap::new(),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

fn claim_key(c: &PersistentVolumeClaim) -> String {
    format!("c:{}", util::meta_key(&c.metadata))
}

impl PvBinder {
    fn queue_pending_claims(&self, q: &mut WorkQueue) {
        for c in self.claims.list() {
            if annotation(&c.metadata, ANN_BIND_COMPLETED).is_none() {
                q.add(claim_key(&c));
            }
        }
    }

    fn sync_claim(&self, key: &str) -> Option<BoxFuture<'static, Done>> {
        let claim = self.claims.get_key(key)?;
        let ns = claim.metadata.namespace.clone().unwrap_or_default();
        let name = claim.metadata.name.clone().unwrap_or_default();
        let volumes = self.volumes.list();
        let classes = self.classes.list();
        let consumer_node = self
            .pods
            .list_namespace(&ns)
            .into_iter()
            .filter(|p| !util::is_pod_terminal(p) && pod_claims(p).contains(&name))
            .find_map(|p| util::pod_node_name(&p).map(str::to_string));
        let action = claim_action(&claim, &volumes, &classes, consumer_node.as_deref());
        let pending = matches!(action, ClaimAction::Pending(_));
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(claim.as_ref());
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
        let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
        match action {
            ClaimAction::Nothing => None,
            ClaimAction::Pending(event) => {
                let needs_status = phase_of_claim(&claim) != "Pending";
                Some(Box::pin(async move {
                    let mut done = Done::new(pending.then_some(RESYNC));
                    if let Some((t, reason, msg)) = event {
                        recorder.event(&involved, t, reason, &msg);
                    }
                    if needs_status {
                        let r = crate::actions::patch_status(
                            &ctx,
                            &claims,
                            &name,
                            json!({"phase": "Pending"}),
                        )
                        .await;
                        done.status_patched(&r);
                    }
                    done
                }))
            }
            ClaimAction::Lost(reason, msg) => {
                if phase_of_claim(&claim) == "Lost" {
                    return None;
                }
                Some(Box::pin(async move {
                    let mut done = Done::new(None);
                    recorder.warning(&involved, reason, msg);
                    let r = crate::actions::patch_status(
                        &ctx,
                        &claims,
                        &name,
                        json!({"phase": "Lost"}),
                    )
                    .await;
                    done.status_patched(&r);
                    done
                }))
            }
            ClaimAction::Bind {
                volume,
                select_node,
            } => {
                let v = volumes
                    .iter()
                    .find(|v| v.metadata.name.as_deref() == Some(volume.as_str()))?
                    .clone();
                let w = bind_writes(&v, &claim);
                if w == BindWrites::default() && select_node.is_none() {
                    return None;
                }
                Some(Box::pin(async move {
                    let mut done = Done::new(None);
                    let result: Result<(), kube::Error> = async {
                        select_node_patch(&ctx, &claims, &name, select_node).await?;
                        if let Some(p) = w.volume {
                            ctx.call(pvs.patch(&volume, &PatchParams::default(), &Patch::Merge(p)))
                                .await?;
                        }
                        if w.volume_phase {
                            crate::actions::patch_status(
                                &ctx,
                                &pvs,
                                &volume,
                                json!({"phase": "Bound"}),
                            )
                            .await?;
                        }
                        if let Some(p) = w.claim {
                            ctx.call(claims.patch(
                                &name,
                                &PatchParams::default(),
                                &Patch::Merge(p),
                            ))
                            .await?;
                        }
                        if let Some(st) = w.claim_status {
                            crate::actions::patch_status(&ctx, &claims, &name, st).await?;
                        }
                        Ok(())
                    }
                    .await;
                    if let Err(e) = result {
                        if !util::is_not_found(&e) {
                            done.fail(e.to_string());
                        }
                    }
                    done
                }))
            }
            ClaimAction::Provision {
                volume,
                provisioner,
                select_node,
            } => Some(Box::pin(async move {
                let mut done = Done::new(None);
                let result: Result<Option<String>, kube::Error> = async {
                    select_node_patch(&ctx, &claims, &name, select_node).await?;
                    let ann = json!({"metadata": {"annotations": {
                        ANN_STORAGE_PROVISIONER: provisioner, ANN_BETA_STORAGE_PROVISIONER: provisioner}}});
                    ctx.call(claims.patch(&name, &PatchParams::default(), &Patch::Merge(ann)))
                        .await?;
                    let pv: PersistentVolume =
                        serde_json::from_value(volume).map_err(kube::Error::SerdeError)?;
                    match ctx.call(pvs.create(&PostParams::default(), &pv)).await {
                        Ok(pv) => Ok(pv.metadata.name),
                        Err(e) if util::is_already_exists(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
                .await;
                match result {
                    Ok(Some(pv)) => recorder.normal(
                        &involved,
                        "ProvisioningSucceeded",
                        &format!("Successfully provisioned volume {pv}"),
                    ),
                    Ok(None) => {}
                    Err(e) if util::is_not_found(&e) => {}
                    Err(e) => {
                        recorder.warning(
                            &involved,
                            "ProvisioningFailed",
                            &crate::actions::api_message(&e),
                        );
                        done.fail(e.to_string());
                    }
                }
                done
            })),
        }
    }

    fn sync_volume(&self, name: &str) -> Option<BoxFuture<'static, Done>> {
        let v = self.volumes.get("", name)?;
        let claim = claim_ref(&v).and_then(|r| {
            self.claims.get(
                r.namespace.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or(""),
            )
        });
        let action = volume_action(&v, claim.as_deref());
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(v.as_ref());
        let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
        let name = name.to_string();
        match action {
            VolumeAction::Nothing => None,
            VolumeAction::SetPhase(phase) => Some(Box::pin(async move {
                let mut done = Done::new(None);
                let r =
                    crate::actions::patch_status(&ctx, &pvs, &name, json!({"phase": phase})).await;
                done.status_patched(&r);
                done
            })),
            VolumeAction::Unbind => {
                let rv = v.metadata.resource_version.clone();
                Some(Box::pin(async move {
                    let mut done = Done::new(None);
                    let p = json!({"metadata": {"resourceVersion": rv,
                        "annotations": {ANN_BOUND_BY_CONTROLLER: null}}, "spec": {"claimRef": null}});
                    let r = ctx
                        .call(pvs.patch(&name, &PatchParams::default(), &Patch::Merge(p)))
                        .await
                        .map(|_| ());
                    done.status_patched(&r);
                    done
                }))
            }
            VolumeAction::CheckClaim => {
                let r = claim_ref(&v)?.clone();
                let phase = phase_of_volume(&v).to_string();
                let reclaim = policy(&v).to_string();
                let uid = v.metadata.uid.clone();
                Some(Box::pin(async move {
                    let mut done = Done::new(None);
                    let claims: Api<PersistentVolumeClaim> =
                        Api::namespaced(ctx.client.clone(), r.namespace.as_deref().unwrap_or(""));
                    match ctx
                        .call(claims.get_opt(r.name.as_deref().unwrap_or("")))
                        .await
                    {
                        Ok(Some(c)) if c.metadata.uid == r.uid => return done,
                        Ok(_) => {}
                        Err(e) => {
                            done.fail(e.to_string());
                            return done;
                        }
                    }
                    if phase != "Released" {
                        let res = crate::actions::patch_status(
                            &ctx,
                            &pvs,
                            &name,
                            json!({"phase": "Released"}),
                        )
                        .await;
                        done.status_patched(&res);
                        if done.failed() {
                            return done;
                        }
                    }
                    match reclaim.as_str() {
                        "Delete" => {
                            let dp = DeleteParams {
                                preconditions: Some(kube::api::Preconditions {
                                    uid,
                                    resource_version: None,
                                }),
                                ..DeleteParams::default()
                            };
                            match ctx.call(pvs.delete(&name, &dp)).await {
                                Ok(_) => {}
                                Err(e) if util::is_not_found(&e) => {}
                                Err(e) => {
                                    recorder.warning(
                                        &involved,
                                        "VolumeFailedDelete",
                                        &crate::actions::api_message(&e),
                                    );
                                    done.fail(e.to_string());
                                }
                            }
                        }
                        "Recycle" => {
                            let p = json!({"spec": {"claimRef": null}});
                            let res = ctx
                                .call(pvs.patch(&name, &PatchParams::default(), &Patch::Merge(p)))
                                .await
                                .map(|_| ());
                            done.status_patched(&res);
                            if !done.failed() {
                                recorder.normal(&involved, "VolumeRecycled", "Volume recycled");
                            }
                        }
                        _ => {}
                    }
                    done
                }))
            }
        }
    }
}

impl Reconciler for PvBinder {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Volume(c) => {
                let v = c.object();
                if !matches!(c, Change::Deleted(_)) {
                    q.add(format!("v:{}", v.metadata.name.as_deref().unwrap_or("")));
                }
                if let Some(r) = claim_ref(v) {
                    q.add(format!(
                        "c:{}",
                        util::key(r.namespace.as_deref(), r.name.as_deref().unwrap_or(""))
                    ));
                } else if phase_of_volume(v) == "Available" {
                    self.queue_pending_claims(q);
                }
            }
            Msg::Claim(c) => {
                let claim = c.object();
                if matches!(c, Change::Deleted(_)) {
                    // Its volume is released.
                    for v in self.volumes.list() {
                        if claim_ref(&v).is_some_and(|r| r.uid == claim.metadata.uid) {
                            q.add(format!("v:{}", v.metadata.name.as_deref().unwrap_or("")));
                        }
                    }
                } else {
                    q.add(claim_key(claim));
                    let vn = volume_name_of(claim);
                    if !vn.is_empty() {
                        q.add(format!("v:{vn}"));
                    }
                }
            }
            Msg::Class(_) => self.queue_pending_claims(q),
            Msg::Pod(c) => {
                let pod = c.object();
                let newly_scheduled = util::pod_node_name(pod).is_some()
                    && c.old().is_none_or(|o| util::pod_node_name(o).is_none());
                if newly_scheduled && !matches!(c, Change::Deleted(_)) {
                    for claim in pod_claims(pod) {
                        q.add(format!(
                            "c:{}",
                            util::key(pod.metadata.namespace.as_deref(), &claim)
                        ));
                    }
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        match key.split_once(':')? {
            ("c", k) => self.sync_claim(k),
            ("v", name) => self.sync_volume(name),
            _ => None,
        }
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        crate::sync::retry_or_forget(q, key, !done.failed());
        let now = Instant::now();
        self.resync.retain(|_, due| *due > now);
        if let Some(after) = done.requeue_after {
            if !self.resync.contains_key(key) {
                self.resync.insert(key.to_string(), now + after);
                q.add_after(key, after);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(
        name: &str,
        class: &str,
        size: &str,
        modes: &[&str],
        extra: Value,
    ) -> Arc<PersistentVolume> {
        let mut v = json!({
            "metadata": {"name": name, "uid": format!("{name}-uid"), "resourceVersion": "7",
                "labels": {"tier": if name.contains("fast") { "fast" } else { "slow" }}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class,
                "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
                "csi": {"driver": "d", "volumeHandle": name}},
            "status": {"phase": "Available"}
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn pvc(
        name: &str,
        class: Option<&str>,
        size: &str,
        modes: &[&str],
        extra: Value,
    ) -> PersistentVolumeClaim {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("{name}-uid"), "resourceVersion": "3"},
            "spec": {"accessModes": modes, "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}
        });
        if let Some(c) = class {
            v["spec"]["storageClassName"] = json!(c);
        }
        merge(&mut v, extra);
        serde_json::from_value(v).unwrap()
    }

    fn sc(name: &str, provisioner: &str, mode: &str, default: bool) -> Arc<StorageClass> {
        let mut v = json!({"metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": mode});
        if default {
            v["metadata"]["annotations"] = json!({ANN_DEFAULT_CLASS: "true"});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn the_smallest_fitting_available_volume_matches() {
        let rwo = &["ReadWriteOnce"][..];
        let volumes = vec![
            pv("big", "", "10Gi", rwo, json!({})),
            pv("small", "", "1Gi", rwo, json!({})),
            pv("tiny", "", "500Mi", rwo, json!({})),
            pv("mid", "", "2Gi", rwo, json!({})),
            pv("other-class", "gold", "1Gi", rwo, json!({})),
            pv(
                "rwx",
                "",
                "1Gi",
                &["ReadWriteOnce", "ReadWriteMany"],
                json!({}),
            ),
            pv(
                "taken",
                "",
                "1Gi",
                rwo,
                json!({"spec": {"claimRef": {"namespace": "ns", "name": "x", "uid": "x"}}}),
            ),
            pv(
                "pending",
                "",
                "1Gi",
                rwo,
                json!({"status": {"phase": "Pending"}}),
            ),
            pv(
                "block",
                "",
                "1Gi",
                rwo,
                json!({"spec": {"volumeMode": "Block"}}),
            ),
            pv("fast-1", "", "3Gi", rwo, json!({})),
        ];
        // (claim, delay, expected volume)
        let cases: Vec<(&str, PersistentVolumeClaim, bool, Option<&str>)> = vec![
            (
                "smallest fit",
                pvc("c", None, "1Gi", rwo, json!({})),
                false,
                Some("small"),
            ),
            (
                "1G fits in 1Gi",
                pvc("c", None, "1G", rwo, json!({})),
                false,
                Some("small"),
            ),
            (
                "bigger request",
                pvc("c", None, "1500Mi", rwo, json!({})),
                false,
                Some("mid"),
            ),
            (
                "class",
                pvc("c", Some("gold"), "1Gi", rwo, json!({})),
                false,
                Some("other-class"),
            ),
            (
                "access modes superset",
                pvc("c", None, "1Gi", &["ReadWriteMany"], json!({})),
                false,
                Some("rwx"),
            ),
            (
                "too big",
                pvc("c", None, "20Gi", rwo, json!({})),
                false,
                None,
            ),
            (
                "selector",
                pvc(
                    "c",
                    None,
                    "1Gi",
                    rwo,
                    json!({"spec": {"selector": {"matchLabels": {"tier": "fast"}}}}),
                ),
                false,
                Some("fast-1"),
            ),
            (
                "block mode",
                pvc(
                    "c",
                    None,
                    "1Gi",
                    rwo,
                    json!({"spec": {"volumeMode": "Block"}}),
                ),
                false,
                Some("block"),
            ),
            (
                "pre-bound volume wins",
                pvc("x", None, "1Gi", rwo, json!({"metadata": {"uid": "x"}})),
                false,
                Some("taken"),
            ),
            (
                "delayed binding matches only pre-bound",
                pvc("c", None, "1Gi", rwo, json!({})),
                true,
                None,
            ),
        ];
        for (name, claim, delay, want) in cases {
            let class = claim_class(&claim, &[]);
            let got = find_match(&claim, &class, &volumes, delay)
                .and_then(|v| v.metadata.name.as_deref());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn claims_bind_provision_or_wait() {
        let rwo = &["ReadWriteOnce"][..];
        let classes = vec![
            sc("standard", "csi.kubemark.io", "Immediate", true),
            sc("late", "csi.kubemark.io", "WaitForFirstConsumer", false),
            sc("local", NO_PROVISIONER, "Immediate", false),
        ];
        let volumes = vec![
            pv("pv-std", "standard", "1Gi", rwo, json!({})),
            pv("pv-late", "late", "1Gi", rwo, json!({})),
            pv(
                "pv-other",
                "",
                "1Gi",
                rwo,
                json!({"spec": {"claimRef": {"namespace": "ns", "name": "o", "uid": "o"}}}),
            ),
        ];
        let kind = |a: &ClaimAction| -> String {
            match a {
                ClaimAction::Nothing => "nothing".into(),
                ClaimAction::Pending(e) => {
                    format!("pending {}", e.as_ref().map(|e| e.1).unwrap_or(""))
                }
                ClaimAction::Bind {
                    volume,
                    select_node,
                } => format!("bind {volume} {}", select_node.as_deref().unwrap_or("-")),
                ClaimAction::Provision {
                    volume,
                    select_node,
                    ..
                } => format!(
                    "provision {} {}",
                    volume["metadata"]["name"].as_str().unwrap_or(""),
                    select_node.as_deref().unwrap_or("-")
                ),
                ClaimAction::Lost(r, _) => format!("lost {r}"),
            }
        };
        let cases: Vec<(&str, PersistentVolumeClaim, Option<&str>, &str)> = vec![
            (
                "default class binds",
                pvc("a", None, "1Gi", rwo, json!({})),
                None,
                "bind pv-std -",
            ),
            (
                "no fit: default class provisions",
                pvc("a", None, "5Gi", rwo, json!({})),
                None,
                "provision pvc-a-uid -",
            ),
            (
                "empty class: no provisioning",
                pvc("a", Some(""), "5Gi", rwo, json!({})),
                None,
                "pending FailedBinding",
            ),
            (
                "unknown class",
                pvc("a", Some("nope"), "5Gi", rwo, json!({})),
                None,
                "pending ProvisioningFailed",
            ),
            (
                "no-provisioner class",
                pvc("a", Some("local"), "5Gi", rwo, json!({})),
                None,
                "pending FailedBinding",
            ),
            (
                "wffc without consumer waits",
                pvc("a", Some("late"), "1Gi", rwo, json!({})),
                None,
                "pending WaitForFirstConsumer",
            ),
            (
                "wffc with scheduled consumer binds",
                pvc("a", Some("late"), "1Gi", rwo, json!({})),
                Some("n1"),
                "bind pv-late n1",
            ),
            (
                "wffc provisions on the node",
                pvc("a", Some("late"), "5Gi", rwo, json!({})),
                Some("n1"),
                "provision pvc-a-uid n1",
            ),
            (
                "wffc selected by the scheduler",
                pvc(
                    "a",
                    Some("late"),
                    "5Gi",
                    rwo,
                    json!({"metadata": {"annotations": {ANN_SELECTED_NODE: "n2"}}}),
                ),
                None,
                "provision pvc-a-uid -",
            ),
            (
                "pre-bound to a free volume",
                pvc(
                    "a",
                    Some("standard"),
                    "1Gi",
                    rwo,
                    json!({"spec": {"volumeName": "pv-std"}}),
                ),
                None,
                "bind pv-std -",
            ),
            (
                "pre-bound to a taken volume",
                pvc(
                    "a",
                    None,
                    "1Gi",
                    rwo,
                    json!({"spec": {"volumeName": "pv-other"}}),
                ),
                None,
                "pending FailedBinding",
            ),
            (
                "pre-bound to a too small volume",
                pvc(
                    "a",
                    Some("standard"),
                    "9Gi",
                    rwo,
                    json!({"spec": {"volumeName": "pv-std"}}),
                ),
                None,
                "pending VolumeMismatch",
            ),
            (
                "bound claim whose volume vanished",
                pvc(
                    "a",
                    None,
                    "1Gi",
                    rwo,
                    json!({"metadata": {"annotations": {ANN_BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "gone"}}),
                ),
                None,
                "lost ClaimLost",
            ),
            (
                "bound claim, volume bound elsewhere",
                pvc(
                    "a",
                    None,
                    "1Gi",
                    rwo,
                    json!({"metadata": {"annotations": {ANN_BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "pv-other"}}),
                ),
                None,
                "lost ClaimMisbound",
            ),
            (
                "deleting",
                pvc(
                    "a",
                    None,
                    "1Gi",
                    rwo,
                    json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
                ),
                None,
                "nothing",
            ),
        ];
        for (name, claim, node, want) in cases {
            assert_eq!(
                kind(&claim_action(&claim, &volumes, &classes, node)),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn provisioned_volumes_follow_the_class_and_claim() {
        let claim = pvc("data", None, "3Gi", &["ReadWriteOnce"], json!({}));
        let class = sc("standard", "csi.kubemark.io", "WaitForFirstConsumer", true);
        let v = provisioned_volume(&claim, &class, Some("node-1"));
        assert_eq!(v["metadata"]["name"], "pvc-data-uid");
        assert_eq!(
            v["metadata"]["annotations"][ANN_PROVISIONED_BY],
            "csi.kubemark.io"
        );
        assert_eq!(v["spec"]["capacity"]["storage"], "3Gi");
        assert_eq!(v["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(v["spec"]["storageClassName"], "standard");
        assert_eq!(v["spec"]["csi"]["driver"], "csi.kubemark.io");
        assert_eq!(v["spec"]["claimRef"]["uid"], "data-uid");
        assert_eq!(
            v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
                ["values"],
            json!(["node-1"])
        );
        let pv: PersistentVolume = serde_json::from_value(v).unwrap();
        // The new volume is pre-bound to its claim, so binding finds it.
        assert!(is_bound_to(&pv, &claim));
    }

    #[test]
    fn binding_writes_only_what_is_missing() {
        let rwo = &["ReadWriteOnce"][..];
        let claim = pvc("a", None, "1Gi", rwo, json!({}));
        let free = pv("v", "", "2Gi", rwo, json!({}));
        let w = bind_writes(&free, &claim);
        let vol = w.volume.clone().unwrap();
        assert_eq!(vol["spec"]["claimRef"]["uid"], "a-uid");
        assert_eq!(vol["metadata"]["resourceVersion"], "7");
        assert_eq!(
            vol["metadata"]["annotations"][ANN_BOUND_BY_CONTROLLER],
            "yes"
        );
        assert!(w.volume_phase);
        let c = w.claim.clone().unwrap();
        assert_eq!(c["spec"]["volumeName"], "v");
        assert_eq!(
            c["metadata"]["annotations"],
            json!({ANN_BIND_COMPLETED: "yes", ANN_BOUND_BY_CONTROLLER: "yes"})
        );
        assert_eq!(
            w.claim_status,
            Some(
                json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}})
            )
        );
        // Everything written: nothing more to do.
        let bound_pv = pv(
            "v",
            "",
            "2Gi",
            rwo,
            json!({"spec": {"claimRef": {"namespace": "ns", "name": "a", "uid": "a-uid"}},
            "status": {"phase": "Bound"}}),
        );
        let bound_claim = pvc(
            "a",
            None,
            "1Gi",
            rwo,
            json!({"metadata": {"annotations": {ANN_BIND_COMPLETED: "yes"}},
            "spec": {"volumeName": "v"}, "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}}),
        );
        assert_eq!(bind_writes(&bound_pv, &bound_claim), BindWrites::default());
        // A user's pre-binding (volumeName) is not marked bound-by-controller.
        let pre = pvc("a", None, "1Gi", rwo, json!({"spec": {"volumeName": "v"}}));
        let w = bind_writes(&free, &pre);
        assert_eq!(
            w.claim.unwrap()["metadata"]["annotations"],
            json!({ANN_BIND_COMPLETED: "yes"})
        );
    }

    #[test]
    fn volumes_follow_their_claims() {
        let rwo = &["ReadWriteOnce"][..];
        let bound = |policy: &str, phase: &str| {
            pv(
                "v",
                "",
                "1Gi",
                rwo,
                json!({"spec": {"persistentVolumeReclaimPolicy": policy,
                "claimRef": {"namespace": "ns", "name": "a", "uid": "a-uid"}}, "status": {"phase": phase}}),
            )
        };
        let claim_on = |vol: &str| pvc("a", None, "1Gi", rwo, json!({"spec": {"volumeName": vol}}));
        let new_pv = pv("v", "", "1Gi", rwo, json!({"status": {"phase": "Pending"}}));
        let cases: Vec<(
            &str,
            Arc<PersistentVolume>,
            Option<PersistentVolumeClaim>,
            VolumeAction,
        )> = vec![
            (
                "new volume becomes Available",
                new_pv,
                None,
                VolumeAction::SetPhase("Available"),
            ),
            (
                "available stays",
                pv("v", "", "1Gi", rwo, json!({})),
                None,
                VolumeAction::Nothing,
            ),
            (
                "bound claim: Bound",
                bound("Retain", "Available"),
                Some(claim_on("v")),
                VolumeAction::SetPhase("Bound"),
            ),
            (
                "claim not yet bound: wait",
                bound("Retain", "Pending"),
                Some(claim_on("")),
                VolumeAction::Nothing,
            ),
            (
                "claim gone: check and release",
                bound("Retain", "Bound"),
                None,
                VolumeAction::CheckClaim,
            ),
            (
                "released and retained: done",
                bound("Retain", "Released"),
                None,
                VolumeAction::Nothing,
            ),
            (
                "released with Delete: delete",
                bound("Delete", "Released"),
                None,
                VolumeAction::CheckClaim,
            ),
            (
                "recreated claim (other uid) counts as gone",
                bound("Retain", "Bound"),
                Some(pvc(
                    "a",
                    None,
                    "1Gi",
                    rwo,
                    json!({"metadata": {"uid": "new"}}),
                )),
                VolumeAction::CheckClaim,
            ),
        ];
        for (name, v, claim, want) in cases {
            assert_eq!(volume_action(&v, claim.as_ref()), want, "{name}");
        }
        let by_us = pv(
            "v",
            "",
            "1Gi",
            rwo,
            json!({"metadata": {"annotations": {ANN_BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"claimRef": {"namespace": "ns", "name": "a", "uid": "a-uid"}}, "status": {"phase": "Bound"}}),
        );
        assert_eq!(
            volume_action(&by_us, Some(&claim_on("elsewhere"))),
            VolumeAction::Unbind
        );
    }

    #[test]
    fn the_newest_default_class_wins() {
        let mut old = (*sc("old", "p", "Immediate", true)).clone();
        old.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2020-01-01T00:00:00Z".parse().unwrap(),
            ));
        let classes = vec![
            Arc::new(old),
            sc("new", "p", "Immediate", true),
            sc("plain", "p", "Immediate", false),
        ];
        assert_eq!(
            default_class(&classes).and_then(|c| c.metadata.name.as_deref()),
            Some("new")
        );
        assert!(default_class(&classes[2..]).is_none());
    }
}
