//! The `local` master provider: the user's own Kubernetes binaries (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler v1.24+) run as
//! processes on this machine.
//!
//! This module prepares everything those processes need and describes them;
//! it starts nothing itself. In order, a provider calls
//! [`resolve_binaries`], [`check_ports_free`], [`generate_pki`],
//! [`write_kubeconfigs`] and [`processes`], hands the process list to the
//! supervisor, and once kube-apiserver answers `/readyz` applies
//! [`post_start_objects`].

mod binaries;
mod flags;
mod pki;

pub use binaries::{
    parse_etcd_version, parse_kube_version, resolve_binaries, resolve_binaries_with_path, Binaries,
    Binary, Version, MIN_ETCD, MIN_KUBE,
};
pub use flags::{processes, ADMISSION_PLUGINS, SERVICE_ACCOUNT_ISSUER};
pub use pki::{
    generate_pki, write_kubeconfigs, CertKey, Kubeconfigs, LocalPki, ADMIN_USER, CLUSTER_NAME,
    KUBELET_USER, KUBE_PROXY_USER,
};

use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::PathBuf;

/// Component (and executable) names; also the process names.
pub const ETCD: &str = "etcd";
pub const KUBE_APISERVER: &str = "kube-apiserver";
pub const KUBE_CONTROLLER_MANAGER: &str = "kube-controller-manager";
pub const KUBE_SCHEDULER: &str = "kube-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{binary} not found in {looked_in}; {hint}")]
    BinaryNotFound {
        binary: String,
        looked_in: String,
        hint: String,
    },
    #[error("{binary} at {} is not an executable file; make it executable (chmod +x) or {hint}", path.display())]
    NotExecutable {
        binary: String,
        path: PathBuf,
        hint: String,
    },
    #[error("cannot tell the version of {binary} at {}: `{} --version` {reason}", path.display(), path.display())]
    VersionFailed {
        binary: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{binary} at {} is version {found}; kubemark drives {need} or newer: {hint}", path.display())]
    UnsupportedVersion {
        binary: String,
        path: PathBuf,
        found: String,
        need: String,
        hint: String,
    },
    #[error("port {port} on {host} (wanted by {component}) is in use ({reason}); stop whatever listens there or give {component} another port")]
    PortInUse {
        port: u16,
        host: IpAddr,
        component: String,
        reason: String,
    },
    #[error("port {port} is wanted by both {first} and {second}; give each its own port")]
    PortConflict {
        port: u16,
        first: String,
        second: String,
    },
    #[error("invalid local master settings: {0}")]
    InvalidSpec(String),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is invalid: {reason}; remove the cluster's PKI directory to create a new one", path.display())]
    CorruptPki { path: PathBuf, reason: String },
    #[error("cannot generate {what}: {reason}")]
    Generate { what: String, reason: String },
}

/// Ports of the processes a local master runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalPorts {
    /// kube-apiserver's secure (HTTPS) port, on `listen_host`.
    pub apiserver: u16,
    /// etcd's client URL, on loopback.
    pub etcd_client: u16,
    /// etcd's peer URL, on loopback (a one-member cluster, but etcd always
    /// listens for peers).
    pub etcd_peer: u16,
    /// kube-controller-manager's secure port (`/healthz`), on loopback.
    pub controller_manager: u16,
    /// kube-scheduler's secure port (`/healthz`), on loopback.
    pub scheduler: u16,
}

impl Default for LocalPorts {
    /// The components' usual ports.
    fn default() -> LocalPorts {
        LocalPorts {
            apiserver: 6443,
            etcd_client: 2379,
            etcd_peer: 2380,
            controller_manager: 10257,
            scheduler: 10259,
        }
    }
}

/// What the user asked for (`kubemark start --master local ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMasterSpec {
    /// Directory holding kube-apiserver, kube-controller-manager and
    /// kube-scheduler (`--bin-dir`); PATH when unset.
    pub bin_dir: Option<PathBuf>,
    /// The etcd executable (`--etcd-bin`); `etcd` on PATH when unset.
    pub etcd_bin: Option<PathBuf>,
    /// Where kube-apiserver listens (its serving certificate names it).
    /// etcd, the controller manager and the scheduler listen on the loopback
    /// address of the same family, as on a kubeadm control plane.
    pub listen_host: IpAddr,
    pub ports: LocalPorts,
    /// Extra IP addresses or DNS names for the serving certificate
    /// (`--tls-san`).
    pub tls_sans: Vec<String>,
    /// Pass-through flags, appended after kubemark's own so they win.
    pub apiserver_args: Vec<String>,
    pub controller_manager_args: Vec<String>,
    pub scheduler_args: Vec<String>,
    pub etcd_args: Vec<String>,
    /// Service ClusterIP range; its first address is the `kubernetes`
    /// Service's ClusterIP and a SAN of the serving certificate.
    pub service_cidr: String,
    /// Pod range the controller manager allocates node CIDRs from (the same
    /// range our hollow nodes draw their pod CIDRs from).
    pub cluster_cidr: String,
    pub node_cidr_mask: u8,
}

impl Default for LocalMasterSpec {
    fn default() -> LocalMasterSpec {
        LocalMasterSpec {
            bin_dir: None,
            etcd_bin: None,
            listen_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: LocalPorts::default(),
            tls_sans: Vec::new(),
            apiserver_args: Vec::new(),
            controller_manager_args: Vec::new(),
            scheduler_args: Vec::new(),
            etcd_args: Vec::new(),
            service_cidr: "10.96.0.0/12".to_string(),
            cluster_cidr: "10.64.0.0/11".to_string(),
            node_cidr_mask: 24,
        }
    }
}

/// Where processes keep their state and logs (both inside the cluster
/// directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLayout {
    /// etcd's data lives in `<data_dir>/etcd`.
    pub data_dir: PathBuf,
    /// Each process appends to `<logs_dir>/<name>.log`.
    pub logs_dir: PathBuf,
}

impl LocalMasterSpec {
    /// The loopback address of `listen_host`'s family: where etcd, the
    /// controller manager and the scheduler listen, and how local clients
    /// reach a kube-apiserver listening on all addresses.
    pub fn loopback(&self) -> IpAddr {
        match self.listen_host {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        }
    }

    /// The API server's URL for clients on this machine:
    /// `https://<listen_host>:<port>`, or the loopback address when
    /// kube-apiserver listens on all addresses.
    pub fn server_url(&self) -> String {
        let host = if self.listen_host.is_unspecified() {
            self.loopback()
        } else {
            self.listen_host
        };
        format!("https://{}", SocketAddr::new(host, self.ports.apiserver))
    }

    /// Checks the ranges: both CIDRs parse, are of one family, and the node
    /// mask splits the cluster CIDR into at most 2^16 node ranges (the
    /// controller manager's limit).
    pub fn validate(&self) -> Result<(), LocalError> {
        let service = Cidr::parse(&self.service_cidr)?;
        service.first_ip()?;
        let cluster = Cidr::parse(&self.cluster_cidr)?;
        if service.network.is_ipv4() != cluster.network.is_ipv4() {
            return Err(LocalError::InvalidSpec(format!(
                "the service CIDR {service} and the cluster CIDR {cluster} are of different IP families"
            )));
        }
        let max = if cluster.network.is_ipv4() { 32 } else { 128 };
        if self.node_cidr_mask <= cluster.prefix
            || self.node_cidr_mask > max
            || self.node_cidr_mask - cluster.prefix > 16
        {
            return Err(LocalError::InvalidSpec(format!(
                "node CIDR mask /{} does not fit the cluster CIDR {cluster}: it must be longer than /{} and at most 16 bits longer",
                self.node_cidr_mask, cluster.prefix
            )));
        }
        Ok(())
    }

    /// Every listening socket: (who wants it, address, port).
    pub fn listeners(&self) -> Vec<(&'static str, IpAddr, u16)> {
        let lo = self.loopback();
        vec![
            ("kube-apiserver", self.listen_host, self.ports.apiserver),
            ("etcd client URL", lo, self.ports.etcd_client),
            ("etcd peer URL", lo, self.ports.etcd_peer),
            ("kube-controller-manager", lo, self.ports.controller_manager),
            ("kube-scheduler", lo, self.ports.scheduler),
        ]
    }
}

/// Checks that every port the local master needs can be bound now. A port
/// wanted twice or in use is an error naming the port and its component.
pub fn check_ports_free(spec: &LocalMasterSpec) -> Result<(), LocalError> {
    let listeners = spec.listeners();
    for (i, (component, _, port)) in listeners.iter().enumerate() {
        if *port == 0 {
            return Err(LocalError::InvalidSpec(format!(
                "{component} needs a port, got 0"
            )));
        }
        if let Some((first, _, _)) = listeners[..i].iter().find(|(_, _, p)| p == port) {
            return Err(LocalError::PortConflict {
                port: *port,
                first: first.to_string(),
                second: component.to_string(),
            });
        }
    }
    for (component, host, port) in listeners {
        // The listener is dropped at once; std sets SO_REUSEADDR, so this
        // probe leaves nothing in TIME_WAIT that would block the component.
        TcpListener::bind(SocketAddr::new(host, port)).map_err(|e| LocalError::PortInUse {
            port,
            host,
            component: component.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// An IP range `a.b.c.d/n` (or IPv6), normalized to its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, LocalError> {
        let bad = |why: &str| LocalError::InvalidSpec(format!("{s:?} is not a CIDR ({why})"));
        let (addr, prefix) = s.split_once('/').ok_or_else(|| bad("no /prefix"))?;
        let addr: IpAddr = addr.parse().map_err(|_| bad("bad address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix length"))?;
        let network = match addr {
            IpAddr::V4(a) => {
                if prefix > 32 {
                    return Err(bad("prefix longer than 32"));
                }
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                if prefix > 128 {
                    return Err(bad("prefix longer than 128"));
                }
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Ok(Cidr { network, prefix })
    }

    /// The first usable address (network + 1): the `kubernetes` Service's
    /// ClusterIP when this is the service range.
    pub fn first_ip(&self) -> Result<IpAddr, LocalError> {
        let too_small = || {
            LocalError::InvalidSpec(format!(
                "{}/{} has no address after its network address",
                self.network, self.prefix
            ))
        };
        match self.network {
            IpAddr::V4(a) if self.prefix < 32 => Ok(IpAddr::V4(Ipv4Addr::from(
                u32::from(a).checked_add(1).ok_or_else(too_small)?,
            ))),
            IpAddr::V6(a) if self.prefix < 128 => Ok(IpAddr::V6(Ipv6Addr::from(
                u128::from(a).checked_add(1).ok_or_else(too_small)?,
            ))),
            _ => Err(too_small()),
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn cluster_role_binding(name: &str, role: &str, user: &str, why: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/cluster-service": "true", "app.kubernetes.io/managed-by": "kubemark"},
            "annotations": {"kubemark.io/why": why},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })
}

/// Objects to create once kube-apiserver is ready so the hollow nodes'
/// shared credentials are authorized, as upstream kubemark's
/// `kubemark-rbac-bindings` addon does. The hollow kubelet, proxy and
/// node-problem-detector share ONE credential (user `kubelet`, group
/// `system:nodes`), which the Node authorizer ignores (it is not
/// `system:node:<name>`), so RBAC must grant it each component's role.
pub fn post_start_objects() -> Vec<Value> {
    vec![
        // Upstream kubelet-binding.yaml.
        cluster_role_binding(
            "kubelet-node",
            "system:node",
            KUBELET_USER,
            "hollow kubelets share the credential of user kubelet",
        ),
        // Upstream npd-binding.yaml.
        cluster_role_binding(
            "node-problem-detector-binding",
            "system:node-problem-detector",
            "system:node-problem-detector",
            "node-problem-detector's own identity",
        ),
        cluster_role_binding(
            "kubemark-kubelet-node-problem-detector",
            "system:node-problem-detector",
            KUBELET_USER,
            "hollow node-problem-detectors use the hollow kubelets' credential",
        ),
        cluster_role_binding(
            "kubemark-kubelet-node-proxier",
            "system:node-proxier",
            KUBELET_USER,
            "hollow kube-proxies use the hollow kubelets' credential",
        ),
        // The bootstrap policy's system:node-proxier binding grants this
        // already; kept explicit so kube-proxy.kubeconfig works even if that
        // default binding was changed.
        cluster_role_binding(
            "kubemark-kube-proxy-node-proxier",
            "system:node-proxier",
            KUBE_PROXY_USER,
            "kube-proxy.kubeconfig's user",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let cases = [
            ("10.96.0.0/12", "10.96.0.0/12", "10.96.0.1"),
            ("10.0.0.5/16", "10.0.0.0/16", "10.0.0.1"),
            ("fd00:10:96::/112", "fd00:10:96::/112", "fd00:10:96::1"),
            ("0.0.0.0/0", "0.0.0.0/0", "0.0.0.1"),
        ];
        for (input, norm, first) in cases {
            let c = Cidr::parse(input).unwrap();
            assert_eq!(c.to_string(), norm, "{input}");
            assert_eq!(c.first_ip().unwrap().to_string(), first, "{input}");
        }
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0.0/-1", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("10.0.0.1/32").unwrap().first_ip().is_err());
    }

    #[test]
    fn server_url_and_loopback() {
        let mut spec = LocalMasterSpec::default();
        spec.ports.apiserver = 7443;
        assert_eq!(spec.server_url(), "https://127.0.0.1:7443");
        spec.listen_host = "0.0.0.0".parse().unwrap();
        assert_eq!(spec.server_url(), "https://127.0.0.1:7443");
        spec.listen_host = "192.0.2.7".parse().unwrap();
        assert_eq!(spec.server_url(), "https://192.0.2.7:7443");
        spec.listen_host = "::".parse().unwrap();
        assert_eq!(spec.server_url(), "https://[::1]:7443");
        assert_eq!(spec.loopback().to_string(), "::1");
    }

    fn free_ports(n: usize) -> Vec<u16> {
        // Hold all listeners at once so the ports are distinct.
        let ls: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
    }

    fn spec_on_free_ports() -> LocalMasterSpec {
        let p = free_ports(5);
        LocalMasterSpec {
            ports: LocalPorts {
                apiserver: p[0],
                etcd_client: p[1],
                etcd_peer: p[2],
                controller_manager: p[3],
                scheduler: p[4],
            },
            ..LocalMasterSpec::default()
        }
    }

    #[test]
    fn ports_free() {
        let spec = spec_on_free_ports();
        check_ports_free(&spec).unwrap();
        // Twice: the probe itself leaves nothing behind.
        check_ports_free(&spec).unwrap();
    }

    #[test]
    fn port_in_use_names_port_and_component() {
        let spec = spec_on_free_ports();
        let cases = [
            (spec.ports.apiserver, "kube-apiserver"),
            (spec.ports.etcd_client, "etcd client URL"),
            (spec.ports.etcd_peer, "etcd peer URL"),
            (spec.ports.controller_manager, "kube-controller-manager"),
            (spec.ports.scheduler, "kube-scheduler"),
        ];
        for (port, component) in cases {
            let _held = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let err = check_ports_free(&spec).unwrap_err();
            match &err {
                LocalError::PortInUse {
                    port: p,
                    component: c,
                    host,
                    ..
                } => {
                    assert_eq!((*p, c.as_str()), (port, component));
                    assert_eq!(host.to_string(), "127.0.0.1");
                }
                other => panic!("unexpected {other:?}"),
            }
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "port {port} on 127.0.0.1 (wanted by {component}) is in use ("
                )),
                "{msg}"
            );
            assert!(
                msg.ends_with(&format!("give {component} another port")),
                "{msg}"
            );
        }
    }

    #[test]
    fn port_conflicts_and_zero() {
        let mut spec = spec_on_free_ports();
        spec.ports.scheduler = spec.ports.controller_manager;
        assert_eq!(
            check_ports_free(&spec).unwrap_err().to_string(),
            format!(
                "port {} is wanted by both kube-controller-manager and kube-scheduler; give each its own port",
                spec.ports.scheduler
            )
        );
        spec.ports.etcd_peer = 0;
        assert_eq!(
            check_ports_free(&spec).unwrap_err().to_string(),
            "invalid local master settings: etcd peer URL needs a port, got 0"
        );
    }

    #[test]
    fn rbac_objects() {
        let objs = post_start_objects();
        let grants: Vec<(String, String, String)> = objs
            .iter()
            .map(|o| {
                assert_eq!(o["apiVersion"], "rbac.authorization.k8s.io/v1");
                assert_eq!(o["kind"], "ClusterRoleBinding");
                assert_eq!(o["roleRef"]["kind"], "ClusterRole");
                assert_eq!(o["subjects"][0]["kind"], "User");
                (
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                    o["roleRef"]["name"].as_str().unwrap().to_string(),
                    o["subjects"][0]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want = [
            ("kubelet-node", "system:node", "kubelet"),
            (
                "node-problem-detector-binding",
                "system:node-problem-detector",
                "system:node-problem-detector",
            ),
            (
                "kubemark-kubelet-node-problem-detector",
                "system:node-problem-detector",
                "kubelet",
            ),
            (
                "kubemark-kubelet-node-proxier",
                "system:node-proxier",
                "kubelet",
            ),
            (
                "kubemark-kube-proxy-node-proxier",
                "system:node-proxier",
                "system:kube-proxy",
            ),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(grants, want);
    }
}
