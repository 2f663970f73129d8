//! The scheduler cache: one [`NodeInfo`] per node with the resources, host
//! ports and pods of everything bound (or assumed bound) to it.
//!
//! Like the real scheduler's cache, a pod counts on its node as soon as a
//! bind is issued ("assumed"); the informer later confirms it, or the
//! binding fails and the assumption is forgotten.

use crate::model::{HostPort, NodeView, PodInfo, Resources};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an assumed pod whose binding finished may stay unconfirmed by
/// the informer before it is dropped (`durationToExpireAssumedPod`).
pub const ASSUMED_POD_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("pod {0} is already in the scheduler cache")]
    PodAlreadyInCache(String),
}

/// A node and what is placed on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods are known for a node whose object is not (or no
    /// longer) seen; such nodes are never candidates.
    pub node: Option<NodeView>,
    /// Sum of the requests of the pods here (no defaults).
    pub requested: Resources,
    /// Sum of requests with 100m / 200Mi for unset CPU / memory (scoring).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports used by the pods here (a multiset).
    pub used_ports: Vec<HostPort>,
}

impl NodeInfo {
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            ..NodeInfo::default()
        }
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        let s = &pod.spec;
        self.requested.add(&s.requests);
        self.non_zero_milli_cpu = self.non_zero_milli_cpu.saturating_add(s.non_zero_milli_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_add(s.non_zero_memory);
        self.used_ports.extend(s.host_ports.iter().cloned());
        self.pods.push(pod);
    }

    /// Removes the pod with this key; false when it is not here.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key == key) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        let s = &pod.spec;
        self.requested.sub(&s.requests);
        self.non_zero_milli_cpu = self.non_zero_milli_cpu.saturating_sub(s.non_zero_milli_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_sub(s.non_zero_memory);
        for port in &s.host_ports {
            if let Some(j) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }
}

#[derive(Debug, Clone)]
struct PodState {
    node: String,
    info: Arc<PodInfo>,
    assumed: bool,
    /// Set once the binding call returned (success); starts the expiry clock.
    deadline: Option<Instant>,
}

/// What a node upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// `relevant`: something that can change scheduling decisions changed.
    Updated {
        relevant: bool,
    },
}

/// Nodes and the pods placed on them.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, PodState>,
    live_nodes: usize,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// All node slots, including ones without a Node object (skip those).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Nodes with a Node object.
    pub fn num_nodes(&self) -> usize {
        self.live_nodes
    }

    pub fn num_pods(&self) -> usize {
        self.pods.len()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.node.is_some())
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn pod_keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.nodes.push(NodeInfo::new(name));
        let i = self.nodes.len() - 1;
        self.index.insert(name.to_string(), i);
        i
    }

    fn drop_slot_if_empty(&mut self, i: usize) {
        if self.nodes[i].node.is_some() || !self.nodes[i].pods.is_empty() {
            return;
        }
        let removed = self.nodes.swap_remove(i);
        self.index.remove(&removed.name);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
        }
    }

    /// Adds or updates a node.
    pub fn upsert_node(&mut self, view: NodeView) -> NodeChange {
        let i = self.slot(&view.name);
        let info = &mut self.nodes[i];
        match info.node.replace(view) {
            None => {
                self.live_nodes += 1;
                NodeChange::Added
            }
            Some(old) => {
                let relevant = info
                    .node
                    .as_ref()
                    .is_some_and(|new| new.scheduling_properties_differ(&old));
                NodeChange::Updated { relevant }
            }
        }
    }

    /// Removes a node; its pods stay accounted until they are deleted.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(&i) = self.index.get(name) else {
            return false;
        };
        if self.nodes[i].node.take().is_none() {
            return false;
        }
        self.live_nodes -= 1;
        self.drop_slot_if_empty(i);
        true
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str) {
        let i = self.slot(node);
        self.nodes[i].add_pod(info);
    }

    fn unplace(&mut self, key: &str, node: &str) {
        if let Some(&i) = self.index.get(node) {
            self.nodes[i].remove_pod(key);
            self.drop_slot_if_empty(i);
        }
    }

    /// A bound pod seen by the informer (add or update). Confirms an assumed
    /// pod, moving it if it landed elsewhere. Terminal or unassigned pods are
    /// removed instead.
    pub fn add_pod(&mut self, info: Arc<PodInfo>) {
        if !info.is_assigned() || info.terminal {
            self.remove_pod(&info.key);
            return;
        }
        let key = info.key.clone();
        let node = info.node_name.clone();
        if let Some(old) = self.pods.remove(&key) {
            self.unplace(&key, &old.node);
        }
        self.place(info.clone(), &node);
        self.pods.insert(
            key,
            PodState {
                node,
                info,
                assumed: false,
                deadline: None,
            },
        );
    }

    /// A pod deleted (or gone terminal); true when it was accounted.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(old) = self.pods.remove(key) else {
            return false;
        };
        self.unplace(key, &old.node);
        true
    }

    /// Counts `info` on `node` before the binding is confirmed.
    pub fn assume_pod(&mut self, info: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        if self.pods.contains_key(&info.key) {
            return Err(CacheError::PodAlreadyInCache(info.key.clone()));
        }
        let key = info.key.clone();
        self.place(info.clone(), node);
        self.pods.insert(
            key,
            PodState {
                node: node.to_string(),
                info,
                assumed: true,
                deadline: None,
            },
        );
        Ok(())
    }

    /// The binding call succeeded; the assumption expires after the TTL
    /// unless the informer confirms it first.
    pub fn finish_binding(&mut self, key: &str, now: Instant) {
        if let Some(p) = self.pods.get_mut(key).filter(|p| p.assumed) {
            p.deadline = Some(now + ASSUMED_POD_TTL);
        }
    }

    /// The binding failed: drops an assumed pod (confirmed pods stay).
    pub fn forget_pod(&mut self, key: &str) -> bool {
        match self.pods.get(key) {
            Some(p) if p.assumed => self.remove_pod(key),
            _ => false,
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// The node a pod is (assumed) placed on.
    pub fn pod_node(&self, key: &str) -> Option<&str> {
        self.pods.get(key).map(|p| p.node.as_str())
    }

    pub fn pod(&self, key: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(key).map(|p| &p.info)
    }

    /// Drops assumed pods whose binding finished but were never confirmed.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<String> {
        let expired: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.assumed && p.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &expired {
            self.remove_pod(k);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::*;
    use serde_json::json;

    fn bound(name: &str, node: &str, cpu: &str, mem: &str) -> Arc<PodInfo> {
        Arc::new(pod_from(merge(
            pod_json(name, cpu, mem),
            json!({"spec": {"nodeName": node}}),
        )))
    }

    fn totals(c: &Cache, node: &str) -> (i64, i64, i64, i64, usize) {
        let n = c.node(node).expect("node");
        (
            n.requested.milli_cpu,
            n.requested.memory,
            n.non_zero_milli_cpu,
            n.non_zero_memory,
            n.pods.len(),
        )
    }

    #[test]
    fn pods_are_accounted_on_their_node() {
        let mut c = Cache::new();
        assert_eq!(
            c.upsert_node(node("n1", "4", "8Gi", "110")),
            NodeChange::Added
        );
        c.add_pod(bound("a", "n1", "1", "1Gi"));
        c.add_pod(bound("b", "n1", "", ""));
        assert_eq!(
            totals(&c, "n1"),
            (1000, 1 << 30, 1100, (1 << 30) + (200 << 20), 2)
        );
        // Update moving a pod to another node.
        c.add_pod(bound("a", "n2", "1", "1Gi"));
        assert_eq!(totals(&c, "n1"), (0, 0, 100, 200 << 20, 1));
        assert_eq!(totals(&c, "n2").4, 1);
        assert_eq!(c.num_nodes(), 1, "n2 has pods but no Node object");
        assert!(c.remove_pod("default/b"));
        assert!(!c.remove_pod("default/b"));
        assert_eq!(totals(&c, "n1"), (0, 0, 0, 0, 0));
        // A terminal pod update releases its resources.
        let mut done = (*bound("a", "n2", "1", "1Gi")).clone();
        done.terminal = true;
        c.add_pod(Arc::new(done));
        assert!(
            c.node("n2").is_none(),
            "empty slot without a Node object is dropped"
        );
    }

    #[test]
    fn assume_confirm_forget_and_expire() {
        let mut c = Cache::new();
        c.upsert_node(node("n1", "4", "8Gi", "110"));
        let p = Arc::new(pod("p", "500m", "1Gi"));
        c.assume_pod(p.clone(), "n1").expect("assume");
        assert!(c.is_assumed("default/p"));
        assert_eq!(
            c.assume_pod(p.clone(), "n1"),
            Err(CacheError::PodAlreadyInCache("default/p".into()))
        );
        assert_eq!(totals(&c, "n1").0, 500);
        // Forget undoes the accounting.
        assert!(c.forget_pod("default/p"));
        assert_eq!(totals(&c, "n1").0, 0);
        // Assume again, then the informer confirms it.
        c.assume_pod(p.clone(), "n1").expect("assume");
        c.add_pod(bound("p", "n1", "500m", "1Gi"));
        assert!(!c.is_assumed("default/p"));
        assert!(
            !c.forget_pod("default/p"),
            "confirmed pods are not forgotten"
        );
        assert_eq!(totals(&c, "n1"), (500, 1 << 30, 500, 1 << 30, 1));
        // An assumed pod that is never confirmed expires after the TTL.
        let q = Arc::new(pod("q", "1", ""));
        c.assume_pod(q, "n1").expect("assume");
        let now = Instant::now();
        assert!(
            c.cleanup_expired(now + ASSUMED_POD_TTL * 2).is_empty(),
            "binding not finished: no expiry"
        );
        c.finish_binding("default/q", now);
        assert!(c.cleanup_expired(now).is_empty());
        assert_eq!(
            c.cleanup_expired(now + ASSUMED_POD_TTL),
            vec!["default/q".to_string()]
        );
        assert_eq!(totals(&c, "n1").4, 1);
    }

    #[test]
    fn node_updates_and_removal() {
        let mut c = Cache::new();
        c.upsert_node(node("n1", "4", "8Gi", "110"));
        c.upsert_node(node("n2", "4", "8Gi", "110"));
        assert_eq!(
            c.upsert_node(node("n1", "4", "8Gi", "110")),
            NodeChange::Updated { relevant: false }
        );
        assert_eq!(
            c.upsert_node(node("n1", "8", "8Gi", "110")),
            NodeChange::Updated { relevant: true }
        );
        c.add_pod(bound("a", "n1", "1", ""));
        assert!(c.remove_node("n1"));
        assert!(!c.remove_node("n1"));
        assert_eq!(c.num_nodes(), 1);
        assert!(
            c.node("n1").is_some_and(|n| n.node.is_none()),
            "ghost keeps its pods"
        );
        assert_eq!(
            c.upsert_node(node("n1", "4", "8Gi", "110")),
            NodeChange::Added
        );
        assert_eq!(totals(&c, "n1").0, 1000);
        assert!(c.remove_node("n2"));
        assert!(c.node("n2").is_none());
        assert_eq!(c.node_names(), vec!["n1".to_string()]);
    }

    #[test]
    fn host_ports_are_a_multiset() {
        let mut n = NodeInfo::new("n");
        let with_port = |name: &str| {
            Arc::new(pod_from(merge(
                pod_json(name, "", ""),
                json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]}}),
            )))
        };
        n.add_pod(with_port("a"));
        n.add_pod(with_port("b"));
        assert_eq!(n.used_ports.len(), 2);
        n.remove_pod("default/a");
        assert_eq!(n.used_ports, vec![HostPort::new("", "", 80)]);
    }
}
