//! Master provider `local`: the user's own etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler, supervised (the pieces are
//! in [`crate::local`]; this module makes them a [`MasterProvider`]).

use crate::local::{self, LocalLayout, LocalMasterSpec, LocalPorts};
use crate::process::Probe;
use crate::provider::{parse_config, BoxFut, MasterPlan, MasterProvider, ProviderError};
use crate::state::{ClusterDir, Component};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// `kubemark start --master local` flags.
#[derive(Debug, Clone, Default)]
pub struct LocalMasterFlags {
    pub bin_dir: Option<PathBuf>,
    pub etcd_bin: Option<PathBuf>,
    /// kube-apiserver's address; port 0 picks one.
    pub listen: Option<SocketAddr>,
    pub tls_sans: Vec<String>,
    pub apiserver_args: Vec<String>,
    pub controller_manager_args: Vec<String>,
    pub scheduler_args: Vec<String>,
    pub etcd_args: Vec<String>,
}

/// What `state.json` records: the flags plus the ports chosen at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalMaster {
    pub bin_dir: Option<PathBuf>,
    pub etcd_bin: Option<PathBuf>,
    pub listen_host: IpAddr,
    pub apiserver_port: u16,
    pub etcd_client_port: u16,
    pub etcd_peer_port: u16,
    pub controller_manager_port: u16,
    pub scheduler_port: u16,
    #[serde(default)]
    pub tls_sans: Vec<String>,
    #[serde(default)]
    pub apiserver_args: Vec<String>,
    #[serde(default)]
    pub controller_manager_args: Vec<String>,
    #[serde(default)]
    pub scheduler_args: Vec<String>,
    #[serde(default)]
    pub etcd_args: Vec<String>,
}

fn free_port(ip: IpAddr) -> Result<u16, ProviderError> {
    let l = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
        .map_err(|e| ProviderError::failed(format!("no free port on {ip}: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| ProviderError::failed(format!("no free port on {ip}: {e}")))
}

impl LocalMaster {
    /// Chooses free ports for every component (so several clusters can
    /// coexist), keeping an explicit kube-apiserver port.
    pub fn new(flags: LocalMasterFlags) -> Result<LocalMaster, ProviderError> {
        let listen = flags
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let lo = if listen.is_ipv4() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        };
        let apiserver_port = match listen.port() {
            0 => free_port(listen.ip())?,
            p => p,
        };
        Ok(LocalMaster {
            bin_dir: flags.bin_dir,
            etcd_bin: flags.etcd_bin,
            listen_host: listen.ip(),
            apiserver_port,
            etcd_client_port: free_port(lo)?,
            etcd_peer_port: free_port(lo)?,
            controller_manager_port: free_port(lo)?,
            scheduler_port: free_port(lo)?,
            tls_sans: flags.tls_sans,
            apiserver_args: flags.apiserver_args,
            controller_manager_args: flags.controller_manager_args,
            scheduler_args: flags.scheduler_args,
            etcd_args: flags.etcd_args,
        })
    }

    pub fn from_config(config: &serde_json::Value) -> Result<LocalMaster, ProviderError> {
        parse_config("local", config)
    }

    pub fn spec(&self) -> LocalMasterSpec {
        LocalMasterSpec {
            bin_dir: self.bin_dir.clone(),
            etcd_bin: self.etcd_bin.clone(),
            listen_host: self.listen_host,
            ports: LocalPorts {
                apiserver: self.apiserver_port,
                etcd_client: self.etcd_client_port,
                etcd_peer: self.etcd_peer_port,
                controller_manager: self.controller_manager_port,
                scheduler: self.scheduler_port,
            },
            tls_sans: self.tls_sans.clone(),
            apiserver_args: self.apiserver_args.clone(),
            controller_manager_args: self.controller_manager_args.clone(),
            scheduler_args: self.scheduler_args.clone(),
            etcd_args: self.etcd_args.clone(),
            ..LocalMasterSpec::default()
        }
    }
}

fn err(e: local::LocalError) -> ProviderError {
    ProviderError::failed(e.to_string())
}

impl MasterProvider for LocalMaster {
    fn name(&self) -> &'static str {
        "local"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn prepare(&self, dir: &ClusterDir) -> Result<MasterPlan, ProviderError> {
        let spec = self.spec();
        spec.validate().map_err(err)?;
        // Everything that can fail is checked before anything runs.
        let bins = local::resolve_binaries(&spec).map_err(err)?;
        local::check_ports_free(&spec).map_err(err)?;
        let pki = local::generate_pki(&dir.pki(), &spec).map_err(err)?;
        let url = spec.server_url();
        let kcs = local::write_kubeconfigs(&dir.pki(), &pki, &url).map_err(err)?;
        let admin = std::fs::read(&kcs.admin)
            .map_err(|e| ProviderError::failed(format!("{}: {e}", kcs.admin.display())))?;
        crate::state::write_private(&dir.kubeconfig(), &admin)?;
        let layout = LocalLayout {
            data_dir: dir.data(),
            logs_dir: dir.logs(),
        };
        let processes = local::processes(&spec, &bins, &pki, &kcs, &layout);
        let lo = spec.loopback();
        let kubeconfig = dir.kubeconfig();
        let api = |path: &str| Probe::Kubeconfig {
            kubeconfig: kubeconfig.clone(),
            path: path.into(),
        };
        let healthz = |port: u16| Probe::Url {
            url: format!("https://{}/healthz", SocketAddr::new(lo, port)),
        };
        let etcd_url = |path: &str| Probe::Url {
            url: format!(
                "http://{}{path}",
                SocketAddr::new(lo, self.etcd_client_port)
            ),
        };
        let components = vec![
            Component {
                name: local::ETCD.into(),
                process: Some(local::ETCD.into()),
                health: vec![etcd_url("/health")],
                version: Some(etcd_url("/version")),
            },
            Component {
                name: local::KUBE_APISERVER.into(),
                process: Some(local::KUBE_APISERVER.into()),
                health: vec![api("/readyz"), api("/livez")],
                version: Some(api("/version")),
            },
            Component {
                name: local::KUBE_CONTROLLER_MANAGER.into(),
                process: Some(local::KUBE_CONTROLLER_MANAGER.into()),
                health: vec![healthz(self.controller_manager_port)],
                version: None,
            },
            Component {
                name: local::KUBE_SCHEDULER.into(),
                process: Some(local::KUBE_SCHEDULER.into()),
                health: vec![healthz(self.scheduler_port)],
                version: None,
            },
        ];
        Ok(MasterPlan {
            url,
            kubeconfig,
            hollow_kubeconfig: kcs.kubelet,
            processes,
            components,
        })
    }

    fn bootstrap<'a>(&'a self, admin: &'a kube::Client) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            for obj in local::post_start_objects() {
                create_cluster_role_binding(admin, &obj).await?;
            }
            Ok(())
        })
    }
}

/// Creates a ClusterRoleBinding; one that already exists is fine.
async fn create_cluster_role_binding(
    client: &kube::Client,
    obj: &serde_json::Value,
) -> Result<(), ProviderError> {
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    let crb: ClusterRoleBinding = serde_json::from_value(obj.clone())
        .map_err(|e| ProviderError::failed(format!("RBAC object: {e}")))?;
    let api: kube::Api<ClusterRoleBinding> = kube::Api::all(client.clone());
    match api.create(&Default::default(), &crb).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(ProviderError::failed(format!(
            "creating ClusterRoleBinding {}: {e}",
            crb.metadata.name.unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_chosen_once_and_recorded() {
        let m = LocalMaster::new(LocalMasterFlags::default()).unwrap();
        let ports = [
            m.apiserver_port,
            m.etcd_client_port,
            m.etcd_peer_port,
            m.controller_manager_port,
            m.scheduler_port,
        ];
        assert!(ports.iter().all(|p| *p != 0));
        let again = LocalMaster::from_config(&m.config()).unwrap();
        assert_eq!(again, m);
        assert_eq!(again.spec().ports.apiserver, m.apiserver_port);
        let fixed = LocalMaster::new(LocalMasterFlags {
            listen: Some("127.0.0.1:16443".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(fixed.apiserver_port, 16443);
    }

    #[test]
    fn a_missing_binary_fails_before_anything_runs() {
        let base = tempfile::tempdir().unwrap();
        let dir = ClusterDir::new(base.path(), "t").unwrap();
        dir.create().unwrap();
        let bins = tempfile::tempdir().unwrap();
        let m = LocalMaster::new(LocalMasterFlags {
            bin_dir: Some(bins.path().to_path_buf()),
            etcd_bin: Some(bins.path().join("etcd")),
            ..Default::default()
        })
        .unwrap();
        let e = m.prepare(&dir).unwrap_err().to_string();
        assert!(e.contains("etcd") || e.contains("kube-apiserver"), "{e}");
        assert!(
            !dir.kubeconfig().exists(),
            "nothing written before the check"
        );
    }
}
