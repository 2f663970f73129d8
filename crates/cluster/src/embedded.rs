//! Master provider `embedded`: kubemark's own master (API server, scheduler
//! and controllers in one process) as a supervised child process with a
//! durable data directory in the cluster directory.

use crate::process::{Probe, ProcessSpec};
use crate::provider::{parse_config, BoxFut, MasterPlan, MasterProvider, ProviderError};
use crate::state::{ClusterDir, Component};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The supervised process's name.
pub const PROCESS: &str = "kubemark-master";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedMaster {
    /// The kubemark executable that runs `kubemark master`.
    pub exe: PathBuf,
    /// Where it serves (a port chosen once, so the kubeconfig stays valid
    /// across restarts).
    pub listen: SocketAddr,
    #[serde(default)]
    pub tls_sans: Vec<String>,
    /// `--controllers` of `kubemark master`.
    #[serde(default = "all")]
    pub controllers: String,
    /// More `kubemark master` flags.
    #[serde(default)]
    pub extra_args: Vec<String>,
}

fn all() -> String {
    "*".to_string()
}

impl EmbeddedMaster {
    pub fn from_config(config: &serde_json::Value) -> Result<EmbeddedMaster, ProviderError> {
        parse_config("embedded", config)
    }

    fn data_dir(dir: &ClusterDir) -> PathBuf {
        dir.data().join("master")
    }
}

/// A free port on `ip`, chosen now (the OS picks it) and recorded, since a
/// master restarted on another port would invalidate every kubeconfig.
pub fn pick_port(addr: SocketAddr) -> Result<SocketAddr, ProviderError> {
    if addr.port() != 0 {
        // Fail now, naming the port, rather than in the child's log.
        std::net::TcpListener::bind(addr).map_err(|e| {
            ProviderError::failed(format!(
                "cannot listen on {addr}: {e} (choose another with --listen)"
            ))
        })?;
        return Ok(addr);
    }
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| ProviderError::failed(format!("cannot listen on {addr}: {e}")))?;
    l.local_addr()
        .map_err(|e| ProviderError::failed(format!("cannot listen on {addr}: {e}")))
}

/// `https://HOST:PORT` for a listen address; the wildcard address is
/// reached through loopback from this machine.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => "127.0.0.1".to_string(),
            SocketAddr::V6(_) => "[::1]".to_string(),
        }
    } else {
        match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    format!("https://{ip}:{}", addr.port())
}

impl MasterProvider for EmbeddedMaster {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn prepare(&self, dir: &ClusterDir) -> Result<MasterPlan, ProviderError> {
        let data = Self::data_dir(dir);
        crate::state::create_private_dir(&data)?;
        // The master loads this same PKI when it starts; creating it here
        // lets us write the kubeconfigs before it runs.
        let pki = master::pki::Pki::load_or_create(&data.join("pki"), &self.tls_sans)
            .map_err(|e| ProviderError::failed(format!("PKI: {e}")))?;
        let url = local_url(self.listen);
        let kubeconfig = dir.kubeconfig();
        master::pki::Pki::write_kubeconfig(&kubeconfig, &pki.admin_kubeconfig(&url, &dir.name))
            .map_err(|e| ProviderError::failed(format!("{}: {e}", kubeconfig.display())))?;
        // The embedded master has no RBAC: beyond node identities it grants
        // only system:masters, so the shared hollow credential is in it.
        let (cert, key) = pki
            .issue_client_cert("kubemark-hollow-nodes", &[master::auth::GROUP_MASTERS])
            .map_err(|e| ProviderError::failed(format!("hollow-node credentials: {e}")))?;
        let hollow_kubeconfig = dir.pki().join("hollow-node.kubeconfig");
        master::pki::Pki::write_kubeconfig(
            &hollow_kubeconfig,
            &pki.kubeconfig(&url, &dir.name, "kubemark-hollow-nodes", &cert, &key),
        )
        .map_err(|e| ProviderError::failed(format!("{}: {e}", hollow_kubeconfig.display())))?;

        let mut args = vec![
            "master".to_string(),
            "--listen".to_string(),
            self.listen.to_string(),
            "--data-dir".to_string(),
            data.display().to_string(),
            "--write-kubeconfig".to_string(),
            kubeconfig.display().to_string(),
            "--controllers".to_string(),
            self.controllers.clone(),
        ];
        for san in &self.tls_sans {
            args.push("--tls-san".to_string());
            args.push(san.clone());
        }
        args.extend(self.extra_args.iter().cloned());
        let readyz = Probe::Kubeconfig {
            kubeconfig: kubeconfig.clone(),
            path: "/readyz".into(),
        };
        let process = ProcessSpec {
            name: PROCESS.to_string(),
            program: self.exe.clone(),
            args,
            env: Default::default(),
            cwd: Some(dir.root.clone()),
            log: dir.log(PROCESS),
            ready: Some(readyz.clone()),
        };
        let component = Component {
            name: PROCESS.to_string(),
            process: Some(PROCESS.to_string()),
            health: vec![
                readyz,
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
            kubeconfig,
            hollow_kubeconfig,
            processes: vec![process],
            components: vec![component],
        })
    }

    fn bootstrap<'a>(&'a self, _admin: &'a kube::Client) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            local_url("127.0.0.1:6443".parse().unwrap()),
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            local_url("0.0.0.0:6443".parse().unwrap()),
            "https://127.0.0.1:6443"
        );
        assert_eq!(local_url("[::]:1".parse().unwrap()), "https://[::1]:1");
    }

    #[test]
    fn port_in_use_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let e = pick_port(addr).unwrap_err().to_string();
        assert!(
            e.contains(&addr.to_string()) && e.contains("--listen"),
            "{e}"
        );
        let free = pick_port("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(free.port(), 0);
    }

    #[test]
    fn plan_runs_kubemark_master_on_the_cluster_directory() {
        let base = tempfile::tempdir().unwrap();
        let dir = ClusterDir::new(base.path(), "t").unwrap();
        dir.create().unwrap();
        let m = EmbeddedMaster {
            exe: "/usr/bin/kubemark".into(),
            listen: "127.0.0.1:7443".parse().unwrap(),
            tls_sans: vec!["10.1.2.3".into()],
            controllers: "*".into(),
            extra_args: vec![],
        };
        let plan = m.prepare(&dir).unwrap();
        assert_eq!(plan.url, "https://127.0.0.1:7443");
        let p = &plan.processes[0];
        assert_eq!(
            p.command_line(),
            format!(
                "/usr/bin/kubemark master --listen 127.0.0.1:7443 --data-dir {d}/data/master \
                 --write-kubeconfig {d}/kubeconfig --controllers * --tls-san 10.1.2.3",
                d = dir.root.display()
            )
        );
        assert!(plan.kubeconfig.exists() && plan.hollow_kubeconfig.exists());
        // Round trip through state.json.
        let again = EmbeddedMaster::from_config(&m.config()).unwrap();
        assert_eq!(again, m);
    }
}
