//! Master provider `existing`: any master given by a kubeconfig. kubemark
//! runs nothing for it; hollow nodes use the kubeconfig's credentials, and
//! `stop` deletes the Node objects they registered.

use crate::process::Probe;
use crate::provider::{parse_config, BoxFut, MasterPlan, MasterProvider, ProviderError};
use crate::state::{ClusterDir, Component};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingMaster {
    /// The user's kubeconfig, as given.
    pub kubeconfig: PathBuf,
}

impl ExistingMaster {
    pub fn from_config(config: &serde_json::Value) -> Result<ExistingMaster, ProviderError> {
        parse_config("existing", config)
    }
}

/// The server URL of a kubeconfig's current context.
pub fn server_of(kc: &kube::config::Kubeconfig) -> Option<String> {
    let ctx_name = kc.current_context.as_deref()?;
    let ctx = kc.contexts.iter().find(|c| c.name == ctx_name)?;
    let cluster_name = &ctx.context.as_ref()?.cluster;
    let cluster = kc.clusters.iter().find(|c| &c.name == cluster_name)?;
    cluster.cluster.as_ref()?.server.clone()
}

impl MasterProvider for ExistingMaster {
    fn name(&self) -> &'static str {
        "existing"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn prepare(&self, dir: &ClusterDir) -> Result<MasterPlan, ProviderError> {
        let src = &self.kubeconfig;
        let bad = |why: String| {
            ProviderError::failed(format!("--master-kubeconfig {}: {why}", src.display()))
        };
        let kc = kube::config::Kubeconfig::read_from(src).map_err(|e| bad(e.to_string()))?;
        let url = server_of(&kc).ok_or_else(|| {
            bad("its current context names no cluster with a server URL".to_string())
        })?;
        // A self-contained copy in the cluster directory: relative paths
        // and later edits of the user's file cannot break the cluster.
        let flat = serde_yaml::to_string(&flatten(kc, src)?).map_err(|e| bad(e.to_string()))?;
        let kubeconfig = dir.kubeconfig();
        crate::state::write_private(&kubeconfig, flat.as_bytes())?;
        let component = Component {
            name: "kube-apiserver".into(),
            process: None,
            health: vec![
                Probe::Kubeconfig {
                    kubeconfig: kubeconfig.clone(),
                    path: "/readyz".into(),
                },
                Probe::Kubeconfig {
                    kubeconfig: kubeconfig.clone(),
                    path: "/healthz".into(),
                },
            ],
            version: Some(Probe::Kubeconfig {
                kubeconfig: kubeconfig.clone(),
                path: "/version".into(),
            }),
        };
        Ok(MasterPlan {
            url,
            hollow_kubeconfig: kubeconfig.clone(),
            kubeconfig,
            processes: vec![],
            components: vec![component],
        })
    }

    fn bootstrap<'a>(&'a self, _admin: &'a kube::Client) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Inlines certificate and key files (resolved relative to the kubeconfig)
/// as `*-data`, so the copy works from anywhere.
fn flatten(
    mut kc: kube::config::Kubeconfig,
    src: &std::path::Path,
) -> Result<kube::config::Kubeconfig, ProviderError> {
    use base64::Engine as _;
    let base = src.parent().unwrap_or(std::path::Path::new("."));
    let read = |p: &str| -> Result<String, ProviderError> {
        let path = base.join(p);
        let bytes = std::fs::read(&path).map_err(|e| {
            ProviderError::failed(format!(
                "{} refers to {}: {e}",
                src.display(),
                path.display()
            ))
        })?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    };
    for c in kc.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        if let Some(f) = c.certificate_authority.take() {
            c.certificate_authority_data = Some(read(&f)?);
        }
    }
    for u in kc
        .auth_infos
        .iter_mut()
        .filter_map(|a| a.auth_info.as_mut())
    {
        if let Some(f) = u.client_certificate.take() {
            u.client_certificate_data = Some(read(&f)?);
        }
        if let Some(f) = u.client_key.take() {
            u.client_key_data = Some(read(&f)?.into());
        }
    }
    Ok(kc)
}
