//! Durability of the embedded master as a real process: every write
//! acknowledged before `kill -9` is present after a restart on the same
//! data directory, resourceVersions keep increasing, and a truncated log
//! tail is recovered up to the last good record with a warning.

use cluster::launcher::{MasterChild, MasterLaunch};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Master {
    child: MasterChild,
    log: PathBuf,
}

/// `kubemark master` on `data_dir` through the one launcher (its ready
/// file), logging to a file next to the data directory.
async fn start(data_dir: &Path) -> Master {
    let log = data_dir.with_extension("log");
    // Each start's output on its own: a warning must come from this run.
    let _ = std::fs::remove_file(&log);
    let mut launch = MasterLaunch::ephemeral(&log);
    launch.exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_kubemark")));
    launch.data_dir = Some(data_dir.to_path_buf());
    launch.ephemeral = false;
    let child = MasterChild::spawn(&launch)
        .await
        .unwrap_or_else(|e| panic!("master did not start: {e}"));
    Master { child, log }
}

impl Master {
    async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::from_yaml(&self.child.kubeconfig).expect("kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(cfg).expect("client")
    }

    async fn kill9(self) {
        self.child.kill().await;
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"v": name}}))
        .expect("cm")
}

async fn names_and_max_rv(client: &kube::Client) -> (BTreeSet<String>, u64) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default()).await.expect("list");
    let rv = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("rv");
    (
        list.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .filter(|n| n.starts_with("w-"))
            .collect(),
        rv,
    )
}

/// The log files under the store directory, newest last.
fn log_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(store)
        .expect("store dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("log") || n.contains("wal"))
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir.path().join("data")).await;
    let client = m.client().await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    // Writers keep going while the process is killed.
    let mut writers = Vec::new();
    for w in 0..8 {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let name = format!("w-{w}-{i}");
                match api.create(&PostParams::default(), &cm(&name)).await {
                    Ok(_) => {
                        acked.lock().expect("lock").insert(name);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    // Let some writes land, then kill without warning.
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if acked.lock().expect("lock").len() >= 300 {
            break;
        }
    }
    let (_, rv_before) = names_and_max_rv(&client).await;
    m.kill9().await;
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 300);

    let m = start(&dir.path().join("data")).await;
    let client = m.client().await;
    let (present, rv_after) = names_and_max_rv(&client).await;
    let missing: Vec<&String> = acked.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        rv_after >= rv_before,
        "resourceVersion went backwards: {rv_before} -> {rv_after}"
    );
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("after-restart"))
        .await
        .expect("write after restart");
    let rv_new: u64 = created
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("rv");
    assert!(rv_new > rv_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_log_tail_is_recovered_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir.path().join("data")).await;
    let client = m.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..20 {
        api.create(&PostParams::default(), &cm(&format!("w-{i:02}")))
            .await
            .expect("create");
    }
    m.kill9().await;
    let logs = log_files(&dir.path().join("data").join("store"));
    let last = logs.last().expect("a log file exists").clone();
    let len = std::fs::metadata(&last).expect("meta").len();
    assert!(len > 10, "log {last:?} is empty");
    // Cut the last record in half.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open log");
    f.set_len(len - 7).expect("truncate");
    drop(f);

    let m = start(&dir.path().join("data")).await;
    let client = m.client().await;
    let (present, _) = names_and_max_rv(&client).await;
    let expected: BTreeSet<String> = (0..19).map(|i| format!("w-{i:02}")).collect();
    assert!(
        expected.is_subset(&present),
        "lost records before the damaged one: {:?}",
        expected.difference(&present).collect::<Vec<_>>()
    );
    assert!(
        !present.contains("w-19"),
        "the half-written record must not come back"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = m.output();
    assert!(
        stderr.to_lowercase().contains("warning"),
        "no recovery warning printed: {stderr}"
    );
    // The store keeps working after recovery.
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("w-19"))
        .await
        .expect("recreate after recovery");
}
