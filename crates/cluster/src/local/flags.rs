//! The command lines of a local master's processes.
//!
//! Flags follow what upstream kubemark's master uses
//! (test/kubemark/resources/start-kubemark-master.sh and
//! cluster/kubemark/gce/config-default.sh), adapted to v1.24+ (no insecure
//! ports, service-account issuer and signing key required) and to one
//! machine (loopback etcd over plain HTTP, like hack/local-up-cluster.sh).

use super::{
    Binaries, Kubeconfigs, LocalLayout, LocalMasterSpec, LocalPki, ETCD, KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER,
};
use crate::process::{Probe, ProcessSpec};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

/// Upstream kubemark's `CUSTOM_ADMISSION_PLUGINS` without
/// `PersistentVolumeLabel` (a cloud-provider plugin later releases removed).
/// Every plugin here exists in v1.24 and later.
pub const ADMISSION_PLUGINS: &str = "NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,NodeRestriction,Priority,StorageObjectInUseProtection,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota";

/// kubeadm's default issuer.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The name etcd's single member goes by.
const ETCD_MEMBER: &str = "kubemark";

fn flag(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

fn path_flag(name: &str, path: &Path) -> String {
    flag(name, path.display())
}

fn spec(
    name: &str,
    program: &Path,
    mut args: Vec<String>,
    pass_through: &[String],
    layout: &LocalLayout,
    ready: Probe,
) -> ProcessSpec {
    // Last so they win: Go's flag parsing keeps the last value of a flag.
    args.extend(pass_through.iter().cloned());
    ProcessSpec {
        name: name.to_string(),
        program: program.to_path_buf(),
        args,
        env: BTreeMap::new(),
        cwd: None,
        log: layout.logs_dir.join(format!("{name}.log")),
        ready: Some(ready),
    }
}

/// The processes of a local master in start order: etcd, kube-apiserver,
/// kube-controller-manager, kube-scheduler. Pure: creates nothing (etcd
/// creates its data directory, `<data_dir>/etcd`, itself).
pub fn processes(
    spec_: &LocalMasterSpec,
    bins: &Binaries,
    pki: &LocalPki,
    kubeconfigs: &Kubeconfigs,
    layout: &LocalLayout,
) -> Vec<ProcessSpec> {
    let lo = spec_.loopback();
    let ports = &spec_.ports;
    let etcd_client = format!("http://{}", SocketAddr::new(lo, ports.etcd_client));
    let etcd_peer = format!("http://{}", SocketAddr::new(lo, ports.etcd_peer));

    let etcd = spec(
        ETCD,
        &bins.etcd.path,
        vec![
            flag("name", ETCD_MEMBER),
            path_flag("data-dir", &layout.data_dir.join("etcd")),
            flag("listen-client-urls", &etcd_client),
            flag("advertise-client-urls", &etcd_client),
            flag("listen-peer-urls", &etcd_peer),
            flag("initial-advertise-peer-urls", &etcd_peer),
            flag("initial-cluster", format!("{ETCD_MEMBER}={etcd_peer}")),
            flag("initial-cluster-state", "new"),
            // Upstream kubemark's ETCD_QUOTA_BYTES: 4 GiB instead of 2.
            flag("quota-backend-bytes", 4_294_967_296u64),
        ],
        &spec_.etcd_args,
        layout,
        Probe::Url {
            url: format!("{etcd_client}/health"),
        },
    );

    let mut apiserver_args = vec![
        flag("bind-address", spec_.listen_host),
        flag("secure-port", ports.apiserver),
    ];
    // As hack/local-up-cluster.sh: on loopback, let kube-apiserver pick the
    // address it advertises in the `kubernetes` Endpoints (loopback
    // addresses are not valid endpoints).
    if !spec_.listen_host.is_loopback() && !spec_.listen_host.is_unspecified() {
        apiserver_args.push(flag("advertise-address", spec_.listen_host));
    }
    apiserver_args.extend([
        flag("etcd-servers", &etcd_client),
        path_flag("tls-cert-file", &pki.apiserver.cert),
        path_flag("tls-private-key-file", &pki.apiserver.key),
        path_flag("client-ca-file", &pki.ca.cert),
        path_flag("token-auth-file", &pki.token_file),
        flag("authorization-mode", "Node,RBAC"),
        flag("enable-admission-plugins", ADMISSION_PLUGINS),
        flag("allow-privileged", true),
        flag("service-cluster-ip-range", &spec_.service_cidr),
        flag("service-account-issuer", SERVICE_ACCOUNT_ISSUER),
        path_flag("service-account-key-file", &pki.sa_pub),
        path_flag("service-account-signing-key-file", &pki.sa_key),
        path_flag(
            "kubelet-client-certificate",
            &pki.apiserver_kubelet_client.cert,
        ),
        path_flag("kubelet-client-key", &pki.apiserver_kubelet_client.key),
        flag("kubelet-preferred-address-types", "InternalIP,Hostname"),
        // Upstream kubemark's APISERVER_TEST_ARGS and request timeout.
        flag("delete-collection-workers", 16),
        flag("min-request-timeout", 300),
        flag("v", 2),
    ]);
    let apiserver = spec(
        KUBE_APISERVER,
        &bins.kube_apiserver.path,
        apiserver_args,
        &spec_.apiserver_args,
        layout,
        Probe::Kubeconfig {
            kubeconfig: kubeconfigs.admin.clone(),
            path: "/readyz".to_string(),
        },
    );

    let secure_serving = |kubeconfig: &Path, port: u16| {
        vec![
            path_flag("kubeconfig", kubeconfig),
            // Delegated authentication and authorization of the component's
            // own endpoints (/healthz is always allowed).
            path_flag("authentication-kubeconfig", kubeconfig),
            path_flag("authorization-kubeconfig", kubeconfig),
            flag("bind-address", lo),
            flag("secure-port", port),
            // One instance: no leases to wait for at start.
            flag("leader-elect", false),
        ]
    };
    let healthz = |port: u16| Probe::Url {
        url: format!("https://{}/healthz", SocketAddr::new(lo, port)),
    };

    let mut cm_args = secure_serving(&kubeconfigs.controller_manager, ports.controller_manager);
    cm_args.extend([
        flag("use-service-account-credentials", true),
        path_flag("service-account-private-key-file", &pki.sa_key),
        path_flag("root-ca-file", &pki.ca.cert),
        path_flag("cluster-signing-cert-file", &pki.ca.cert),
        path_flag("cluster-signing-key-file", &pki.ca.key),
        flag("allocate-node-cidrs", true),
        flag("cluster-cidr", &spec_.cluster_cidr),
        flag("node-cidr-mask-size", spec_.node_cidr_mask),
        flag("service-cluster-ip-range", &spec_.service_cidr),
        // Upstream kubemark's TERMINATED_POD_GC_THRESHOLD.
        flag("terminated-pod-gc-threshold", 100),
        flag("v", 2),
    ]);
    let controller_manager = spec(
        KUBE_CONTROLLER_MANAGER,
        &bins.kube_controller_manager.path,
        cm_args,
        &spec_.controller_manager_args,
        layout,
        healthz(ports.controller_manager),
    );

    let mut sched_args = secure_serving(&kubeconfigs.scheduler, ports.scheduler);
    sched_args.push(flag("v", 2));
    let scheduler = spec(
        KUBE_SCHEDULER,
        &bins.kube_scheduler.path,
        sched_args,
        &spec_.scheduler_args,
        layout,
        healthz(ports.scheduler),
    );

    vec![etcd, apiserver, controller_manager, scheduler]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::{Binary, CertKey, LocalPorts};
    use std::path::PathBuf;

    fn bin(path: &str) -> Binary {
        Binary {
            path: PathBuf::from(path),
            version: "v1.24.10".to_string(),
        }
    }

    fn ck(stem: &str) -> CertKey {
        CertKey {
            cert: PathBuf::from(format!("/c/pki/{stem}.crt")),
            key: PathBuf::from(format!("/c/pki/{stem}.key")),
        }
    }

    fn fixture(spec: &LocalMasterSpec) -> Vec<ProcessSpec> {
        let bins = Binaries {
            etcd: bin("/usr/bin/etcd"),
            kube_apiserver: bin("/k/kube-apiserver"),
            kube_controller_manager: bin("/k/kube-controller-manager"),
            kube_scheduler: bin("/k/kube-scheduler"),
        };
        let pki = LocalPki {
            dir: PathBuf::from("/c/pki"),
            ca: ck("ca"),
            apiserver: ck("apiserver"),
            apiserver_kubelet_client: ck("apiserver-kubelet-client"),
            admin: ck("admin"),
            controller_manager: ck("kube-controller-manager"),
            scheduler: ck("kube-scheduler"),
            kubelet: ck("kubelet"),
            kube_proxy: ck("kube-proxy"),
            sa_key: PathBuf::from("/c/pki/sa.key"),
            sa_pub: PathBuf::from("/c/pki/sa.pub"),
            token_file: PathBuf::from("/c/pki/known_tokens.csv"),
            admin_token: "t".to_string(),
        };
        let kc = |n: &str| PathBuf::from(format!("/c/kubeconfig/{n}.kubeconfig"));
        let kubeconfigs = Kubeconfigs {
            admin: kc("admin"),
            controller_manager: kc("controller-manager"),
            scheduler: kc("scheduler"),
            kubelet: kc("kubelet"),
            kube_proxy: kc("kube-proxy"),
        };
        let layout = LocalLayout {
            data_dir: PathBuf::from("/c/data"),
            logs_dir: PathBuf::from("/c/logs"),
        };
        processes(spec, &bins, &pki, &kubeconfigs, &layout)
    }

    fn test_spec() -> LocalMasterSpec {
        LocalMasterSpec {
            ports: LocalPorts {
                apiserver: 16443,
                etcd_client: 12379,
                etcd_peer: 12380,
                controller_manager: 20257,
                scheduler: 20259,
            },
            ..LocalMasterSpec::default()
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_lines() {
        let procs = fixture(&test_spec());
        let names: Vec<&str> = procs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                ETCD,
                KUBE_APISERVER,
                KUBE_CONTROLLER_MANAGER,
                KUBE_SCHEDULER
            ]
        );
        let want: [(&str, &str, Vec<String>, Probe); 4] = [
            (
                "/usr/bin/etcd",
                "/c/logs/etcd.log",
                strs(&[
                    "--name=kubemark",
                    "--data-dir=/c/data/etcd",
                    "--listen-client-urls=http://127.0.0.1:12379",
                    "--advertise-client-urls=http://127.0.0.1:12379",
                    "--listen-peer-urls=http://127.0.0.1:12380",
                    "--initial-advertise-peer-urls=http://127.0.0.1:12380",
                    "--initial-cluster=kubemark=http://127.0.0.1:12380",
                    "--initial-cluster-state=new",
                    "--quota-backend-bytes=4294967296",
                ]),
                Probe::Url {
                    url: "http://127.0.0.1:12379/health".into(),
                },
            ),
            (
                "/k/kube-apiserver",
                "/c/logs/kube-apiserver.log",
                strs(&[
                    "--bind-address=127.0.0.1",
                    "--secure-port=16443",
                    "--etcd-servers=http://127.0.0.1:12379",
                    "--tls-cert-file=/c/pki/apiserver.crt",
                    "--tls-private-key-file=/c/pki/apiserver.key",
                    "--client-ca-file=/c/pki/ca.crt",
                    "--token-auth-file=/c/pki/known_tokens.csv",
                    "--authorization-mode=Node,RBAC",
                    &format!("--enable-admission-plugins={ADMISSION_PLUGINS}"),
                    "--allow-privileged=true",
                    "--service-cluster-ip-range=10.96.0.0/12",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--service-account-key-file=/c/pki/sa.pub",
                    "--service-account-signing-key-file=/c/pki/sa.key",
                    "--kubelet-client-certificate=/c/pki/apiserver-kubelet-client.crt",
                    "--kubelet-client-key=/c/pki/apiserver-kubelet-client.key",
                    "--kubelet-preferred-address-types=InternalIP,Hostname",
                    "--delete-collection-workers=16",
                    "--min-request-timeout=300",
                    "--v=2",
                ]),
                Probe::Kubeconfig {
                    kubeconfig: "/c/kubeconfig/admin.kubeconfig".into(),
                    path: "/readyz".into(),
                },
            ),
            (
                "/k/kube-controller-manager",
                "/c/logs/kube-controller-manager.log",
                strs(&[
                    "--kubeconfig=/c/kubeconfig/controller-manager.kubeconfig",
                    "--authentication-kubeconfig=/c/kubeconfig/controller-manager.kubeconfig",
                    "--authorization-kubeconfig=/c/kubeconfig/controller-manager.kubeconfig",
                    "--bind-address=127.0.0.1",
                    "--secure-port=20257",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    "--service-account-private-key-file=/c/pki/sa.key",
                    "--root-ca-file=/c/pki/ca.crt",
                    "--cluster-signing-cert-file=/c/pki/ca.crt",
                    "--cluster-signing-key-file=/c/pki/ca.key",
                    "--allocate-node-cidrs=true",
                    "--cluster-cidr=10.64.0.0/11",
                    "--node-cidr-mask-size=24",
                    "--service-cluster-ip-range=10.96.0.0/12",
                    "--terminated-pod-gc-threshold=100",
                    "--v=2",
                ]),
                Probe::Url {
                    url: "https://127.0.0.1:20257/healthz".into(),
                },
            ),
            (
                "/k/kube-scheduler",
                "/c/logs/kube-scheduler.log",
                strs(&[
                    "--kubeconfig=/c/kubeconfig/scheduler.kubeconfig",
                    "--authentication-kubeconfig=/c/kubeconfig/scheduler.kubeconfig",
                    "--authorization-kubeconfig=/c/kubeconfig/scheduler.kubeconfig",
                    "--bind-address=127.0.0.1",
                    "--secure-port=20259",
                    "--leader-elect=false",
                    "--v=2",
                ]),
                Probe::Url {
                    url: "https://127.0.0.1:20259/healthz".into(),
                },
            ),
        ];
        for (p, (program, log, args, probe)) in procs.iter().zip(want) {
            assert_eq!(p.program, PathBuf::from(program), "{}", p.name);
            assert_eq!(p.log, PathBuf::from(log), "{}", p.name);
            assert_eq!(p.args, args, "{}", p.name);
            assert_eq!(p.ready, Some(probe), "{}", p.name);
            assert!(p.env.is_empty() && p.cwd.is_none(), "{}", p.name);
        }
    }

    #[test]
    fn pass_through_args_come_last() {
        let mut spec = test_spec();
        spec.etcd_args = strs(&["--quota-backend-bytes=1024", "--snapshot-count=5000"]);
        spec.apiserver_args = strs(&["--v=4", "--authorization-mode=AlwaysAllow"]);
        spec.controller_manager_args = strs(&["--controllers=*,-nodelifecycle"]);
        spec.scheduler_args = strs(&["--v=5"]);
        let procs = fixture(&spec);
        let tails: Vec<(&str, &Vec<String>)> = vec![
            (ETCD, &spec.etcd_args),
            (KUBE_APISERVER, &spec.apiserver_args),
            (KUBE_CONTROLLER_MANAGER, &spec.controller_manager_args),
            (KUBE_SCHEDULER, &spec.scheduler_args),
        ];
        let base = fixture(&test_spec());
        for ((p, b), (name, tail)) in procs.iter().zip(&base).zip(tails) {
            assert_eq!(p.name, name);
            assert!(p.args.ends_with(tail), "{name}: {:?}", p.args);
            assert_eq!(
                &p.args[..p.args.len() - tail.len()],
                b.args.as_slice(),
                "{name}"
            );
        }
    }

    #[test]
    fn listen_hosts() {
        // A routable apiserver address is advertised; everything else stays
        // on loopback.
        let mut spec = test_spec();
        spec.listen_host = "192.0.2.10".parse().unwrap();
        let procs = fixture(&spec);
        assert_eq!(
            procs[1].args[..3],
            strs(&[
                "--bind-address=192.0.2.10",
                "--secure-port=16443",
                "--advertise-address=192.0.2.10",
            ])
        );
        assert!(procs[0]
            .args
            .contains(&"--listen-client-urls=http://127.0.0.1:12379".to_string()));
        assert!(procs[2]
            .args
            .contains(&"--bind-address=127.0.0.1".to_string()));

        // All addresses: not advertised (kube-apiserver picks one).
        spec.listen_host = "0.0.0.0".parse().unwrap();
        let procs = fixture(&spec);
        assert!(!procs[1]
            .args
            .iter()
            .any(|a| a.starts_with("--advertise-address")));
        assert_eq!(procs[1].args[0], "--bind-address=0.0.0.0");

        // IPv6: bracketed URLs on ::1.
        spec.listen_host = "::1".parse().unwrap();
        let procs = fixture(&spec);
        assert_eq!(procs[1].args[0], "--bind-address=::1");
        assert!(procs[0]
            .args
            .contains(&"--initial-cluster=kubemark=http://[::1]:12380".to_string()));
        assert_eq!(
            procs[0].ready,
            Some(Probe::Url {
                url: "http://[::1]:12379/health".into()
            })
        );
        assert_eq!(
            procs[3].ready,
            Some(Probe::Url {
                url: "https://[::1]:20259/healthz".into()
            })
        );
    }
}
