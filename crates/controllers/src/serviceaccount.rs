//! The ServiceAccount controller: every active namespace has a `default`
//! ServiceAccount (re-created if deleted).

use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use std::sync::Arc;

/// The accounts every namespace gets.
pub const DEFAULT_ACCOUNTS: &[&str] = &["default"];

/// Whether a namespace should get default objects: it exists and is not
/// being deleted.
pub fn namespace_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// The accounts missing from a namespace.
pub fn missing_accounts(ns: &Namespace, exists: impl Fn(&str) -> bool) -> Vec<String> {
    if !namespace_active(ns) {
        return Vec::new();
    }
    DEFAULT_ACCOUNTS
        .iter()
        .filter(|a| !exists(a))
        .map(|a| a.to_string())
        .collect()
}

pub enum Msg {
    Namespace(Change<Namespace>),
    Account(Change<ServiceAccount>),
}

pub struct ServiceAccountController {
    ctx: Ctx,
    namespaces: Arc<Informer<Namespace>>,
    accounts: Arc<Informer<ServiceAccount>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let namespaces = factory.get::<Namespace>();
    let accounts = factory.get::<ServiceAccount>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&namespaces, &wiring.tx, Msg::Namespace);
    runtime::forward(&accounts, &wiring.tx, Msg::Account);
    runtime::starter(
        ServiceAccountController {
            ctx: ctx.clone(),
            namespaces,
            accounts,
        },
        wiring.rx,
        WorkQueue::new(),
    )
}

impl Reconciler for ServiceAccountController {
    type Msg = Msg;
    type Done = bool;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Namespace(c) => {
                if !matches!(c, Change::Deleted(_)) {
                    q.add(c.object().metadata.name.clone().unwrap_or_default());
                }
            }
            Msg::Account(Change::Deleted(sa)) => {
                if DEFAULT_ACCOUNTS.contains(&sa.metadata.name.as_deref().unwrap_or("")) {
                    q.add(sa.metadata.namespace.clone().unwrap_or_default());
                }
            }
            Msg::Account(_) => {}
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let ns = self.namespaces.get("", key)?;
        let missing = missing_accounts(&ns, |a| self.accounts.get(key, a).is_some());
        if missing.is_empty() {
            return None;
        }
        let ctx = self.ctx.clone();
        let namespace = key.to_string();
        Some(Box::pin(async move {
            let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace);
            let mut ok = true;
            for name in missing {
                let sa = ServiceAccount {
                    metadata: ObjectMeta {
                        name: Some(name),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                match ctx.call(api.create(&PostParams::default(), &sa)).await {
                    Ok(_) => {}
                    Err(e)
                        if util::is_already_exists(&e)
                            || util::is_namespace_terminating_error(&e)
                            || util::is_not_found(&e) => {}
                    Err(e) => {
                        tracing::debug!(namespace, error = %e, "creating default service account failed");
                        ok = false;
                    }
                }
            }
            ok
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
    fn active_namespaces_get_default_account() {
        let active: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}),
        )
        .unwrap();
        let terminating: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "b", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Terminating"}}),
        )
        .unwrap();
        assert_eq!(
            missing_accounts(&active, |_| false),
            vec!["default".to_string()]
        );
        assert!(missing_accounts(&active, |a| a == "default").is_empty());
        assert!(missing_accounts(&terminating, |_| false).is_empty());
    }
}
