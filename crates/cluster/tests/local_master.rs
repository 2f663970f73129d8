//! The `local` master provider with a real etcd (Debian's `etcd-server`,
//! installed by scripts/test.sh): binaries resolved, PKI and kubeconfigs
//! written, etcd started exactly as its `ProcessSpec` says, its readiness
//! probe answered, its ports reported in use, then SIGTERM and gone.
//! kube-apiserver and friends cannot be installed here, so they are small
//! scripts that only answer `--version`; they are never started.

#![allow(clippy::unwrap_used)]

use cluster::local::{
    check_ports_free, generate_pki, processes, resolve_binaries, write_kubeconfigs, LocalError,
    LocalLayout, LocalMasterSpec, LocalPorts, ETCD,
};
use cluster::process::{Probe, ProcessSpec};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child if the test fails half-way, so no etcd outlives it.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_ports() -> LocalPorts {
    // All held at once, so they are distinct.
    let ls: Vec<TcpListener> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let p: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
    LocalPorts {
        apiserver: p[0],
        etcd_client: p[1],
        etcd_peer: p[2],
        controller_manager: p[3],
        scheduler: p[4],
    }
}

/// Stand-ins for the Kubernetes build: they only answer `--version`.
fn fake_kube_bin_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    for name in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\necho 'Kubernetes v1.24.10'\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Starts a process exactly as the spec says (what the supervisor does).
fn spawn(spec: &ProcessSpec, default_cwd: &Path) -> Child {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .unwrap();
    Command::new(&spec.program)
        .args(&spec.args)
        .envs(&spec.env)
        .current_dir(spec.cwd.as_deref().unwrap_or(default_cwd))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// A plain HTTP/1.1 request: (status, body).
fn http(url: &str, method: &str, body: &str) -> std::io::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[test]
fn real_etcd_from_the_local_master_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster_dir = tmp.path().join("cluster");
    let bin_dir = tmp.path().join("bin");
    fake_kube_bin_dir(&bin_dir);
    let spec = LocalMasterSpec {
        bin_dir: Some(bin_dir.clone()),
        ports: free_ports(),
        ..LocalMasterSpec::default()
    };

    // etcd from PATH: the real one, or this test fails.
    let bins = resolve_binaries(&spec)
        .unwrap_or_else(|e| panic!("{e} (scripts/test.sh installs Debian's etcd-server)"));
    assert!(bins.etcd.path.is_absolute());
    assert!(bins.etcd.version.starts_with("3."), "{}", bins.etcd.version);
    assert_eq!(bins.kube_apiserver.path, bin_dir.join("kube-apiserver"));
    assert_eq!(bins.kube_apiserver.version, "v1.24.10");

    check_ports_free(&spec).unwrap();
    let pki = generate_pki(&cluster_dir.join("pki"), &spec).unwrap();
    let kubeconfigs =
        write_kubeconfigs(&cluster_dir.join("kubeconfig"), &pki, &spec.server_url()).unwrap();
    let layout = LocalLayout {
        data_dir: cluster_dir.join("data"),
        logs_dir: cluster_dir.join("logs"),
    };
    let procs = processes(&spec, &bins, &pki, &kubeconfigs, &layout);
    let etcd_spec = procs.iter().find(|p| p.name == ETCD).unwrap();
    assert_eq!(etcd_spec.program, bins.etcd.path);
    let Some(Probe::Url { url: health }) = &etcd_spec.ready else {
        panic!("etcd's probe is not a URL: {:?}", etcd_spec.ready)
    };
    assert_eq!(
        *health,
        format!("http://127.0.0.1:{}/health", spec.ports.etcd_client)
    );

    fs::create_dir_all(&layout.logs_dir).unwrap();
    fs::create_dir_all(&layout.data_dir).unwrap();
    let mut guard = Guard(Some(spawn(etcd_spec, &cluster_dir)));

    // The readiness probe answers 200 with a healthy member.
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        match http(health, "GET", "") {
            Ok((200, body)) => break body,
            other => {
                if let Some(status) = guard.0.as_mut().unwrap().try_wait().unwrap() {
                    panic!(
                        "etcd exited ({status}) before serving: {}",
                        fs::read_to_string(&etcd_spec.log).unwrap_or_default()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "etcd not healthy in 60s (last: {other:?}); log: {}",
                    fs::read_to_string(&etcd_spec.log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(body.contains(r#""health":"true""#), "{body}");

    // It is a working store: a write and a read through etcd's v3 gateway
    // (keys and values base64: "kubemark" / "ok").
    let client = format!("http://127.0.0.1:{}", spec.ports.etcd_client);
    let (status, _) = http(
        &format!("{client}/v3/kv/put"),
        "POST",
        r#"{"key":"a3ViZW1hcms=","value":"b2s="}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, body) = http(
        &format!("{client}/v3/kv/range"),
        "POST",
        r#"{"key":"a3ViZW1hcms="}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#""value":"b2s=""#), "{body}");

    // Its data and log are where the layout says.
    assert!(layout.data_dir.join("etcd/member").is_dir());
    assert!(!fs::read_to_string(&etcd_spec.log).unwrap().is_empty());

    // Now its client port is taken, and the check says by whom it is wanted.
    match check_ports_free(&spec) {
        Err(LocalError::PortInUse {
            port, component, ..
        }) => {
            assert_eq!(port, spec.ports.etcd_client);
            assert_eq!(component, "etcd client URL");
        }
        other => panic!("expected the etcd port in use, got {other:?}"),
    }

    // SIGTERM: etcd shuts down cleanly and is gone.
    let mut child = guard.0.take().unwrap();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("etcd did not exit within 20s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // etcd exits 0 on SIGTERM (or is reported as killed by it).
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.success() || status.signal() == Some(15),
        "etcd exited with {status}"
    );
    assert!(http(health, "GET", "").is_err(), "etcd still answers");
    // No such process any more, and every port is free again.
    assert!(kill(pid, None).is_err());
    check_ports_free(&spec).unwrap();
}
