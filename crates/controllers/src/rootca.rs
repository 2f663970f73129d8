//! The root CA publisher: a `kube-root-ca.crt` ConfigMap holding the
//! cluster CA (`ca.crt`) in every active namespace, kept up to date.

use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::serviceaccount::namespace_active;
use crate::sync;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CONFIGMAP_NAME: &str = "kube-root-ca.crt";
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// The annotation text of the real publisher.
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// The ConfigMap a namespace should have.
pub fn root_ca_configmap(namespace: &str, ca_pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(CONFIGMAP_NAME.into()),
            namespace: Some(namespace.into()),
            annotations: Some(BTreeMap::from([(
                DESCRIPTION_ANNOTATION.to_string(),
                DESCRIPTION.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("ca.crt".to_string(), ca_pem.to_string())])),
        ..Default::default()
    }
}

/// What to do for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Create,
    /// Fix the data and annotation of the existing ConfigMap.
    Update,
}

pub fn decide(ns: &Namespace, existing: Option<&ConfigMap>, ca_pem: &str) -> Action {
    if !namespace_active(ns) || ca_pem.is_empty() {
        return Action::None;
    }
    match existing {
        None => Action::Create,
        Some(cm) => {
            let data_ok = cm
                .data
                .as_ref()
                .and_then(|d| d.get("ca.crt"))
                .map(String::as_str)
                == Some(ca_pem);
            let ann_ok = cm
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
                .map(String::as_str)
                == Some(DESCRIPTION);
            if data_ok && ann_ok {
                Action::None
            } else {
                Action::Update
            }
        }
    }
}

pub enum Msg {
    Namespace(Change<Namespace>),
    ConfigMap(Change<ConfigMap>),
}

pub struct RootCaPublisher {
    ctx: Ctx,
    namespaces: Arc<Informer<Namespace>>,
    configmaps: Arc<Informer<ConfigMap>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let namespaces = factory.get::<Namespace>();
    // Only our ConfigMaps, as the real publisher watches them.
    let client = ctx.client.clone();
    let configmaps = factory.get_with::<ConfigMap>(
        "root-ca",
        || Api::all(client),
        watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP_NAME}")),
    );
    let wiring = runtime::Wiring::new();
    runtime::forward(&namespaces, &wiring.tx, Msg::Namespace);
    runtime::forward(&configmaps, &wiring.tx, Msg::ConfigMap);
    runtime::starter(
        RootCaPublisher {
            ctx: ctx.clone(),
            namespaces,
            configmaps,
        },
        wiring.rx,
        WorkQueue::new(),
    )
}

impl Reconciler for RootCaPublisher {
    type Msg = Msg;
    type Done = bool;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Namespace(c) => {
                if !matches!(c, Change::Deleted(_)) {
                    q.add(c.object().metadata.name.clone().unwrap_or_default());
                }
            }
            Msg::ConfigMap(c) => {
                if c.object().metadata.name.as_deref() == Some(CONFIGMAP_NAME) {
                    q.add(c.object().metadata.namespace.clone().unwrap_or_default());
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let ns = self.namespaces.get("", key)?;
        let existing = self.configmaps.get(key, CONFIGMAP_NAME);
        let pem = self.ctx.config.root_ca_pem.clone();
        let action = decide(&ns, existing.as_deref(), &pem);
        if action == Action::None {
            return None;
        }
        let ctx = self.ctx.clone();
        let namespace = key.to_string();
        Some(Box::pin(async move {
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
            let cm = root_ca_configmap(&namespace, &pem);
            let r = match action {
                Action::Create => ctx
                    .call(api.create(&PostParams::default(), &cm))
                    .await
                    .map(|_| ()),
                _ => {
                    let patch = serde_json::json!({"metadata": {"annotations": cm.metadata.annotations}, "data": cm.data});
                    ctx.call(api.patch(
                        CONFIGMAP_NAME,
                        &PatchParams::default(),
                        &Patch::Merge(patch),
                    ))
                    .await
                    .map(|_| ())
                }
            };
            match r {
                Ok(()) => true,
                Err(e) => {
                    util::is_already_exists(&e)
                        || util::is_namespace_terminating_error(&e)
                        || util::is_not_found(&e)
                }
            }
        }))
    }

    fn on_done(&mut self, key: &str, ok: bool, q: &mut WorkQueue) {
        sync::retry_or_forget(q, key, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn publishes_and_repairs_the_configmap() {
        let ns: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}),
        )
        .unwrap();
        let gone: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}),
        )
        .unwrap();
        let good = root_ca_configmap("a", "PEM");
        let mut stale = good.clone();
        stale.data = Some(BTreeMap::from([("ca.crt".to_string(), "OLD".to_string())]));
        let mut bare = good.clone();
        bare.metadata.annotations = None;
        let cases = [
            (&ns, None, "PEM", Action::Create),
            (&ns, Some(&good), "PEM", Action::None),
            (&ns, Some(&stale), "PEM", Action::Update),
            (&ns, Some(&bare), "PEM", Action::Update),
            (&gone, None, "PEM", Action::None),
            (&ns, None, "", Action::None),
        ];
        for (i, (n, cm, pem, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(n, cm, pem), want, "case {i}");
        }
        assert_eq!(
            good.metadata.annotations.unwrap()[DESCRIPTION_ANNOTATION],
            DESCRIPTION
        );
    }
}
