//! Running a hollow-node pod's container as a local process, exactly as
//! the external cluster's StatefulSet specifies it (shared by the tests
//! of the `external` provider).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cluster::external::{self, External};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use kube::api::Api;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The local stand-in for the pod's container; killed when dropped.
pub struct PodProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl PodProcess {
    #[allow(dead_code)]
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PodProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces the first `mount/` path prefix in `arg` with `root/mount/`.
fn remap(arg: &str, mounts: &[String], root: &Path) -> String {
    for m in mounts {
        let from = format!("{}/", m.trim_end_matches('/'));
        if arg.contains(&from) {
            let to = format!("{}/", root.join(m.trim_start_matches('/')).display());
            return arg.replacen(&from, &to, 1);
        }
    }
    arg.to_string()
}

/// Runs the hollow-node container of pod `pod` as the external cluster's
/// StatefulSet specifies it: command, args and env from the pod template,
/// the Secret's and ConfigMap's keys as files at their mount paths, and
/// HOSTNAME = the pod name as a container runtime sets it. A test cannot
/// mount, so the mount paths live under `root`: that prefix (and the
/// kubemark binary's path in the image) is the only change.
pub async fn run_pod(ext: &External, namespace: &str, pod: &str, root: &Path) -> PodProcess {
    let sts: Api<StatefulSet> = Api::namespaced(ext.client.clone(), namespace);
    let sts = sts.get(external::HOLLOW_NODE).await.unwrap();
    let spec = sts.spec.unwrap().template.spec.unwrap();
    let container: Container = spec
        .containers
        .iter()
        .find(|c| c.name == external::HOLLOW_NODE)
        .cloned()
        .expect("hollow-node container");
    let volumes = spec.volumes.unwrap_or_default();
    let mut mount_paths = Vec::new();
    for vm in container.volume_mounts.iter().flatten() {
        let volume = volumes.iter().find(|v| v.name == vm.name).expect("volume");
        let files: BTreeMap<String, Vec<u8>> = if let Some(s) = &volume.secret {
            let api: Api<Secret> = Api::namespaced(ext.client.clone(), namespace);
            let secret = api.get(s.secret_name.as_deref().unwrap()).await.unwrap();
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()
        } else if let Some(c) = &volume.config_map {
            let api: Api<ConfigMap> = Api::namespaced(ext.client.clone(), namespace);
            let cm = api.get(&c.name).await.unwrap();
            cm.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect()
        } else {
            panic!("volume {} is neither a Secret nor a ConfigMap", vm.name);
        };
        let dir = root.join(vm.mount_path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for (key, data) in files {
            std::fs::write(dir.join(key), data).unwrap();
        }
        mount_paths.push(vm.mount_path.clone());
    }
    let command = container.command.clone().unwrap();
    assert_eq!(command, [external::BINARY], "the image's kubemark binary");
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| remap(a, &mount_paths, root))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemark"));
    cmd.args(&args).env_clear().current_dir(root);
    for e in container.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(from)) => {
                let field = from.field_ref.as_ref().expect("only fieldRef is used");
                assert_eq!(field.field_path, "metadata.name");
                pod.to_string()
            }
            (None, None) => String::new(),
        };
        cmd.env(&e.name, value);
    }
    cmd.env("HOSTNAME", pod);
    let log = root.join(format!("{pod}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    PodProcess { child, log }
}
