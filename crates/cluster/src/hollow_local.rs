//! Hollow-node provider `local`: hollow nodes in supervised `kubemark
//! hollow-node` processes on this machine, `nodesPerProcess` each, node
//! indices in order (process i runs indices [i·K, (i+1)·K)).

use crate::process::ProcessSpec;
use crate::provider::{
    parse_config, BoxFut, HollowContext, HollowProvider, LineSink, Location, ProviderError,
};
use crate::state::ClusterDir;
use k8s_openapi::api::core::v1::Node;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Supervised process names: `hollow-nodes-0`, `hollow-nodes-1`, …
pub const PROCESS_PREFIX: &str = "hollow-nodes-";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalHollow {
    /// The kubemark executable that runs `kubemark hollow-node`.
    pub exe: PathBuf,
    pub nodes_per_process: usize,
    /// Node names are `<namePrefix><index>`.
    pub name_prefix: String,
    /// More `kubemark hollow-node` flags.
    #[serde(default)]
    pub hollow_args: Vec<String>,
}

impl LocalHollow {
    pub fn from_config(config: &serde_json::Value) -> Result<LocalHollow, ProviderError> {
        let h: LocalHollow = parse_config("local", config)?;
        if h.nodes_per_process == 0 {
            return Err(ProviderError::Config {
                provider: "local".into(),
                why: "nodesPerProcess must be at least 1".into(),
            });
        }
        Ok(h)
    }
}

/// `(first index, count)` of each process for `nodes` nodes, `per` each.
pub fn chunks(nodes: usize, per: usize) -> Vec<(usize, usize)> {
    let per = per.max(1);
    (0..nodes.div_ceil(per))
        .map(|i| (i * per, per.min(nodes - i * per)))
        .collect()
}

/// The node index of `<prefix><index>`.
pub fn index_of(name: &str, prefix: &str) -> Option<usize> {
    name.strip_prefix(prefix)?.parse().ok()
}

fn annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

impl LocalHollow {
    /// The process that runs `node`: from its pid annotation when the
    /// supervisor knows that pid, else from its index.
    fn process_of(&self, ctx: &HollowContext<'_>, node: &Node) -> Option<(String, Option<u32>)> {
        let runtime = ctx.dir.read_runtime().ok()?;
        let pid: Option<u32> =
            annotation(node, "kubemark.io/hollow-pid").and_then(|p| p.parse().ok());
        if let Some(pid) = pid {
            if let Some((name, _)) = runtime
                .processes
                .iter()
                .find(|(_, r)| r.process.is_some_and(|p| p.pid == pid))
            {
                return Some((name.clone(), Some(pid)));
            }
        }
        let name = node.metadata.name.as_deref()?;
        let i = index_of(name, &self.name_prefix)? / self.nodes_per_process.max(1);
        let proc_name = format!("{PROCESS_PREFIX}{i}");
        let pid = runtime
            .processes
            .get(&proc_name)
            .and_then(|r| r.process)
            .map(|p| p.pid);
        runtime
            .processes
            .contains_key(&proc_name)
            .then_some((proc_name, pid))
    }
}

impl HollowProvider for LocalHollow {
    fn name(&self) -> &'static str {
        "local"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn processes(
        &self,
        dir: &ClusterDir,
        hollow_kubeconfig: &Path,
        nodes: usize,
    ) -> Result<Vec<ProcessSpec>, ProviderError> {
        Ok(chunks(nodes, self.nodes_per_process)
            .into_iter()
            .enumerate()
            .map(|(i, (first, count))| {
                let name = format!("{PROCESS_PREFIX}{i}");
                let mut args = vec![
                    "hollow-node".to_string(),
                    "--kubeconfig".to_string(),
                    hollow_kubeconfig.display().to_string(),
                    "--nodes".to_string(),
                    count.to_string(),
                    "--first-index".to_string(),
                    first.to_string(),
                    "--name-prefix".to_string(),
                    self.name_prefix.clone(),
                ];
                args.extend(self.hollow_args.iter().cloned());
                ProcessSpec {
                    log: dir.log(&name),
                    name,
                    program: self.exe.clone(),
                    args,
                    // Per-node lines are info level: `kubemark logs` reads
                    // them, whatever KUBEMARK_LOG the starting shell had.
                    env: [("KUBEMARK_LOG".to_string(), "info".to_string())]
                        .into_iter()
                        .collect(),
                    cwd: Some(dir.root.clone()),
                    ready: None,
                }
            })
            .collect())
    }

    fn apply<'a>(
        &'a self,
        _ctx: &'a HollowContext<'a>,
        _nodes: usize,
    ) -> BoxFut<'a, Result<(), ProviderError>> {
        // Everything runs as supervised processes.
        Box::pin(async { Ok(()) })
    }

    fn problems<'a>(&'a self, ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let Ok(rt) = ctx.dir.read_runtime() else {
                return vec![];
            };
            rt.processes
                .iter()
                .filter(|(n, r)| n.starts_with(PROCESS_PREFIX) && r.process.is_none())
                .map(|(n, r)| {
                    format!(
                        "{n} is not running ({}); see {}",
                        r.last_exit.as_deref().unwrap_or("not started"),
                        ctx.dir.log(n).display()
                    )
                })
                .collect()
        })
    }

    fn locate<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        node: &'a Node,
    ) -> BoxFut<'a, Result<Location, ProviderError>> {
        Box::pin(async move {
            let name = node.metadata.name.clone().unwrap_or_default();
            let (process, pid) = self.process_of(ctx, node).ok_or_else(|| {
                ProviderError::failed(format!(
                    "node {name} is not simulated by a hollow-node process of cluster {:?}",
                    ctx.dir.name
                ))
            })?;
            let host = annotation(node, "kubemark.io/hollow-host")
                .map(str::to_string)
                .unwrap_or_else(|| "localhost".to_string());
            Ok(Location {
                node: name,
                host,
                pid,
                log: Some(ctx.dir.log(&process)),
                process: Some(process),
                pod: None,
            })
        })
    }

    fn logs<'a>(
        &'a self,
        ctx: &'a HollowContext<'a>,
        node: &'a Node,
        follow: bool,
        out: LineSink<'a>,
    ) -> BoxFut<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let loc = self.locate(ctx, node).await?;
            let name = loc.node.clone();
            let path = loc
                .log
                .ok_or_else(|| ProviderError::failed(format!("no log file for {name}")))?;
            follow_file(&path, follow, &mut |line| {
                if hollow::log::line_is_for_node(line, &name) {
                    out(line);
                }
            })
            .await
        })
    }

    fn remove<'a>(&'a self, _ctx: &'a HollowContext<'a>) -> BoxFut<'a, Vec<String>> {
        // The supervisor stops the processes.
        Box::pin(async { Vec::new() })
    }
}

/// Reads `path` line by line; with `follow`, keeps reading what is
/// appended (like `tail -f`) until the task is dropped.
pub async fn follow_file(
    path: &Path,
    follow: bool,
    out: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ProviderError> {
    use tokio::io::AsyncBufReadExt;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ProviderError::failed(format!("{}: {e}", path.display())))?;
    let mut reader = tokio::io::BufReader::new(file);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| ProviderError::failed(format!("{}: {e}", path.display())))?;
        if n == 0 || !line.ends_with('\n') {
            if !follow {
                if n > 0 {
                    out(line.trim_end());
                }
                return Ok(());
            }
            // A partial line: wait for the rest.
            if n > 0 {
                let mut rest = line.clone();
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let mut more = String::new();
                    let m = reader
                        .read_line(&mut more)
                        .await
                        .map_err(|e| ProviderError::failed(format!("{}: {e}", path.display())))?;
                    rest.push_str(&more);
                    if m > 0 && rest.ends_with('\n') {
                        break;
                    }
                }
                out(rest.trim_end());
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        }
        out(line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking() {
        assert_eq!(chunks(0, 10), vec![]);
        assert_eq!(chunks(5, 10), vec![(0, 5)]);
        assert_eq!(chunks(10, 10), vec![(0, 10)]);
        assert_eq!(chunks(25, 10), vec![(0, 10), (10, 10), (20, 5)]);
        assert_eq!(chunks(3, 1), vec![(0, 1), (1, 1), (2, 1)]);
    }

    #[test]
    fn indices() {
        assert_eq!(index_of("hollow-node-12", "hollow-node-"), Some(12));
        assert_eq!(index_of("hollow-node-x", "hollow-node-"), None);
        assert_eq!(index_of("other-1", "hollow-node-"), None);
    }

    #[test]
    fn processes_cover_every_index_once() {
        let base = tempfile::tempdir().unwrap();
        let dir = ClusterDir::new(base.path(), "t").unwrap();
        let h = LocalHollow {
            exe: "/k".into(),
            nodes_per_process: 4,
            name_prefix: "hollow-node-".into(),
            hollow_args: vec!["--morph=kubelet".into()],
        };
        let ps = h.processes(&dir, Path::new("/kc"), 9).unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[2].name, "hollow-nodes-2");
        assert_eq!(
            ps[2].command_line(),
            "/k hollow-node --kubeconfig /kc --nodes 1 --first-index 8 --name-prefix hollow-node- --morph=kubelet"
        );
        assert_eq!(ps[2].log, dir.log("hollow-nodes-2"));
        assert!(LocalHollow::from_config(
            &serde_json::json!({"exe": "/k", "nodesPerProcess": 0, "namePrefix": "h"})
        )
        .is_err());
        assert_eq!(LocalHollow::from_config(&h.config()).unwrap(), h);
    }

    #[tokio::test]
    async fn follow_reads_appended_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "a\nb\n").unwrap();
        let mut got = Vec::new();
        follow_file(&path, false, &mut |l| got.push(l.to_string()))
            .await
            .unwrap();
        assert_eq!(got, ["a", "b"]);
        let p2 = path.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut send = |l: &str| {
                let _ = tx.send(l.to_string());
            };
            let _ = follow_file(&p2, true, &mut send).await;
        });
        assert_eq!(rx.recv().await.unwrap(), "a");
        assert_eq!(rx.recv().await.unwrap(), "b");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(f, "c").unwrap();
        f.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        writeln!(f, "d").unwrap();
        let line = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, "cd");
        task.abort();
    }
}
