//! Hollow-node provider `external`: a StatefulSet of hollow-node pods on
//! any cluster given by a kubeconfig (the pieces are in
//! [`crate::external`]; this module makes them a [`HollowProvider`]).

use crate::external::{self, External, ExternalSpec, PullPolicy};
use crate::process::ProcessSpec;
use crate::provider::{
    parse_config, BoxFut, HollowContext, HollowProvider, LineSink, Location, ProviderError,
};
use crate::state::ClusterDir;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `kubemark start --hollow external` flags.
#[derive(Debug, Clone)]
pub struct ExternalFlags {
    pub kubeconfig: PathBuf,
    pub namespace: String,
    pub image: String,
    pub nodes_per_pod: usize,
    /// The master as the pods reach it (default: the master's URL).
    pub master_url: Option<String>,
    pub name_prefix: String,
    pub hollow_args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalHollow {
    /// The external cluster's kubeconfig.
    pub kubeconfig: PathBuf,
    pub namespace: String,
    pub image: String,
    pub nodes_per_pod: usize,
    #[serde(default)]
    pub master_url: Option<String>,
    pub name_prefix: String,
    #[serde(default)]
    pub hollow_args: Vec<String>,
}

fn failed(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::failed(e.to_string())
}

impl ExternalHollow {
    pub fn new(f: ExternalFlags) -> Result<ExternalHollow, ProviderError> {
        if !f.kubeconfig.is_file() {
            return Err(ProviderError::failed(format!(
                "--external-kubeconfig {}: no such file",
                f.kubeconfig.display()
            )));
        }
        // A relative path would break from another working directory.
        let kubeconfig = std::fs::canonicalize(&f.kubeconfig)
            .map_err(|e| ProviderError::failed(format!("{}: {e}", f.kubeconfig.display())))?;
        Ok(ExternalHollow {
            kubeconfig,
            namespace: f.namespace,
            image: f.image,
            nodes_per_pod: f.nodes_per_pod,
            master_url: f.master_url,
            name_prefix: f.name_prefix,
            hollow_args: f.hollow_args,
        })
    }

    pub fn from_config(config: &serde_json::Value) -> Result<ExternalHollow, ProviderError> {
        parse_config("external", config)
    }

    async fn connect(&self) -> Result<External, ProviderError> {
        External::connect(&self.kubeconfig, None)
            .await
            .map_err(failed)
    }

    fn spec(&self, master_url: &str) -> ExternalSpec {
        let mut hollow_args = self.hollow_args.clone();
        hollow_args.push(format!("--name-prefix={}", self.name_prefix));
        ExternalSpec {
            namespace: self.namespace.clone(),
            image: self.image.clone(),
            nodes_per_pod: self.nodes_per_pod,
            master_url: self
                .master_url
                .clone()
                .unwrap_or_else(|| master_url.to_string()),
            hollow_args,
            image_pull_policy: PullPolicy::IfNotPresent,
        }
    }

    async fn pod_uids(&self, ext: &External) -> Result<BTreeMap<String, String>, ProviderError> {
        let pods: kube::Api<Pod> = kube::Api::namespaced(ext.client.clone(), &self.namespace);
        let list = pods
            .list(&kube::api::ListParams::default())
            .await
            .map_err(|e| {
                failed(format!(
                    "listing pods in {} on {}: {e}",
                    self.namespace, ext.cluster
                ))
            })?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|p| Some((p.metadata.name?, p.metadata.uid?)))
            .collect())
    }
}

impl HollowProvider for ExternalHollow {
    fn name(&self) -> &'static str {
        "external"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn processes(
        &self,
        _dir: &ClusterDir,
        _hollow_kubeconfig: &Path,
        _nodes: usize,
    ) -> Result<Vec<ProcessSpec>, ProviderError> {
        Ok(Vec::new())
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        nodes: usize,
    ) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let ext = self.connect().await?;
            let spec = self.spec(&ctx.state.url);
            let yaml = std::fs::read_to_string(&ctx.state.hollow_kubeconfig)
                .map_err(|e| failed(format!("{}: {e}", ctx.state.hollow_kubeconfig.display())))?;
            let cms: kube::Api<ConfigMap> =
                kube::Api::namespaced(ext.client.clone(), &self.namespace);
            let exists = cms
                .get_opt(external::CONFIG_MAP_NAME)
                .await
                .map_err(|e| failed(format!("{}: {e}", ext.cluster)))?
                .is_some();
            if !exists {
                let m = external::manifests(&spec, nodes, &yaml).map_err(failed)?;
                return external::apply(&ext, &m).await.map_err(failed);
            }
            let before = self.pod_uids(&ext).await?;
            let change = external::scale(&ext, &spec, nodes, &yaml)
                .await
                .map_err(failed)?;
            // The pods that ran removed nodes, or ran them under the old
            // range, must be gone before those Nodes are deleted, or they
            // would register them again.
            let replaced: Vec<String> = (change.plan.pods_after..change.plan.pods_before)
                .map(external::pod_name)
                .chain(change.plan.restart.iter().cloned())
                .collect();
            let deadline = tokio::time::Instant::now()
                + Duration::from_secs(external::TERMINATION_GRACE_SECONDS as u64 + 60);
            loop {
                let now = self.pod_uids(&ext).await?;
                let old_left: Vec<&String> = replaced
                    .iter()
                    .filter(|p| before.get(*p).is_some_and(|uid| now.get(*p) == Some(uid)))
                    .collect();
                if old_left.is_empty() {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(failed(format!(
                        "pods still running with their old node range on {}: {old_left:?}",
                        ext.cluster
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    fn problems<'a>(&'a self, _ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let ext = match self.connect().await {
                Ok(e) => e,
                Err(e) => return vec![e.to_string()],
            };
            match external::failing_pods(&ext, &self.namespace).await {
                Ok(ps) => ps.iter().map(|p| p.to_string()).collect(),
                Err(e) => vec![e.to_string()],
            }
        })
    }

    fn locate<'a>(
        &'a self,
        _ctx: &'a HollowContext<'a>,
        node: &'a Node,
    ) -> BoxFut<'a, Result<Location, ProviderError>> {
        Box::pin(async move {
            let name = node.metadata.name.clone().unwrap_or_default();
            let pod = external::pod_for_node(node).ok_or_else(|| {
                failed(format!(
                    "node {name} has no kubemark.io/hollow-host annotation: it is not a hollow node of this cluster"
                ))
            })?;
            let ext = self.connect().await?;
            let loc = external::locate(&ext, &self.namespace, &pod)
                .await
                .map_err(failed)?;
            Ok(Location {
                node: name,
                host: loc
                    .node
                    .unwrap_or_else(|| format!("(not scheduled, {})", loc.phase)),
                pid: None,
                process: None,
                pod: Some(format!("{}/{}", loc.namespace, loc.pod)),
                log: None,
            })
        })
    }

    fn logs<'a>(
        &'a self,
        _ctx: &'a HollowContext<'a>,
        node: &'a Node,
        follow: bool,
        out: LineSink<'a>,
    ) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let name = node.metadata.name.clone().unwrap_or_default();
            let pod = external::pod_for_node(node)
                .ok_or_else(|| failed(format!("node {name} is not a hollow node")))?;
            let ext = self.connect().await?;
            let mut lines = external::logs(&ext, &self.namespace, &pod, follow)
                .await
                .map_err(failed)?;
            while let Some(line) = lines.next().await {
                let line = line.map_err(failed)?;
                if hollow::log::line_is_for_node(&line, &name) {
                    out(&line);
                }
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, _ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let ext = match self.connect().await {
                Ok(e) => e,
                Err(e) => return vec![format!("namespace {}: {e}", self.namespace)],
            };
            match external::remove(&ext, &self.namespace).await {
                Ok(left) => left,
                Err(e) => vec![e.to_string()],
            }
        })
    }
}
