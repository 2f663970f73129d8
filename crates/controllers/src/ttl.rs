//! The TTL controller (kube-controller-manager's `ttl`): annotates every
//! Node with `node.alpha.kubernetes.io/ttl`, how long its kubelet may cache
//! objects, chosen by cluster size with hysteresis between the steps.

use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::{sync, util};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use std::sync::Arc;

pub const TTL_ANNOTATION: &str = "node.alpha.kubernetes.io/ttl";

/// Upstream's `ttlBoundaries`: (sizeMin, sizeMax, ttlSeconds). The ranges
/// overlap so that a cluster at a boundary does not flap between steps.
pub const BOUNDARIES: [(usize, usize, u32); 5] = [
    (0, 100, 0),
    (90, 500, 15),
    (450, 1000, 30),
    (900, 2000, 60),
    (1800, usize::MAX, 300),
];

/// Node count and size step, as upstream keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeStep {
    pub nodes: usize,
    pub step: usize,
}

impl SizeStep {
    pub fn added(&mut self) {
        self.nodes += 1;
        if self.nodes > BOUNDARIES[self.step].1 && self.step + 1 < BOUNDARIES.len() {
            self.step += 1;
        }
    }

    pub fn deleted(&mut self) {
        self.nodes = self.nodes.saturating_sub(1);
        if self.step > 0 && self.nodes < BOUNDARIES[self.step].0 {
            self.step -= 1;
        }
    }

    pub fn desired_ttl(&self) -> u32 {
        BOUNDARIES[self.step].2
    }
}

/// Whether `node` lacks the desired annotation value.
pub fn needs_patch(node: &Node, desired: u32) -> bool {
    let current = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TTL_ANNOTATION))
        .and_then(|v| v.parse::<u32>().ok());
    current != Some(desired)
}

pub struct TtlController {
    ctx: Ctx,
    nodes: Arc<Informer<Node>>,
    size: SizeStep,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let nodes = factory.get::<Node>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&nodes, &wiring.tx, |c| c);
    runtime::starter(
        TtlController {
            ctx: ctx.clone(),
            nodes,
            size: SizeStep::default(),
        },
        wiring.rx,
        WorkQueue::new(),
    )
}

impl Reconciler for TtlController {
    type Msg = Change<Node>;
    type Done = bool;

    fn on_msg(&mut self, msg: Change<Node>, q: &mut WorkQueue) {
        let name = msg.object().metadata.name.clone().unwrap_or_default();
        match msg {
            Change::Added(_) => {
                self.size.added();
                q.add(name);
            }
            Change::Updated { .. } => q.add(name),
            // A deleted node needs no annotation.
            Change::Deleted(_) => self.size.deleted(),
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let node = self.nodes.get("", key)?;
        let desired = self.size.desired_ttl();
        if !needs_patch(&node, desired) {
            return None;
        }
        let ctx = self.ctx.clone();
        let name = key.to_string();
        Some(Box::pin(async move {
            let api: Api<Node> = Api::all(ctx.client.clone());
            let patch = serde_json::json!({"metadata": {"annotations": {TTL_ANNOTATION: desired.to_string()}}});
            match ctx
                .call(api.patch(&name, &PatchParams::default(), &Patch::Strategic(patch)))
                .await
            {
                Ok(_) => true,
                Err(e) => util::is_not_found(&e),
            }
        }))
    }

    fn on_done(&mut self, key: &str, ok: bool, q: &mut WorkQueue) {
        sync::retry_or_forget(q, key, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_and_shrink_with_hysteresis() {
        let mut s = SizeStep::default();
        let mut ttl_at = Vec::new();
        for n in 1..=2001 {
            s.added();
            if [1, 100, 101, 500, 501, 1000, 1001, 2000, 2001].contains(&n) {
                ttl_at.push((n, s.desired_ttl()));
            }
        }
        assert_eq!(
            ttl_at,
            [
                (1, 0),
                (100, 0),
                (101, 15),
                (500, 15),
                (501, 30),
                (1000, 30),
                (1001, 60),
                (2000, 60),
                (2001, 300)
            ]
        );
        // Shrinking keeps the step until below its sizeMin.
        let mut s = SizeStep {
            nodes: 101,
            step: 1,
        };
        s.deleted();
        assert_eq!((s.nodes, s.desired_ttl()), (100, 15));
        for _ in 0..10 {
            s.deleted();
        }
        assert_eq!((s.nodes, s.desired_ttl()), (90, 15));
        s.deleted();
        assert_eq!((s.nodes, s.desired_ttl()), (89, 0));
        let mut empty = SizeStep::default();
        empty.deleted();
        assert_eq!(empty, SizeStep::default());
    }

    #[test]
    fn patches_only_a_missing_or_different_value() {
        let node = |ann: Option<&str>| -> Node {
            let mut n = Node::default();
            if let Some(v) = ann {
                n.metadata.annotations = Some([(TTL_ANNOTATION.to_string(), v.to_string())].into());
            }
            n
        };
        assert!(needs_patch(&node(None), 0));
        assert!(!needs_patch(&node(Some("0")), 0));
        assert!(needs_patch(&node(Some("0")), 15));
        assert!(needs_patch(&node(Some("x")), 0));
    }
}
