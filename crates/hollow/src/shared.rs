//! What all nodes of a fleet share: configuration, the node template,
//! metrics, the transport, shared connection sets, the registration gate,
//! the clock and the user agents.

use crate::config::FleetConfig;
use crate::conn::{ConnSet, Identity, Transport};
use crate::error::HollowError;
use crate::metrics::Metrics;
use crate::node_status::NodeTemplate;
use crate::pod_state::{Millis, Now};
use http::HeaderValue;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// User-agent prefixes of the hollow components, for telling their
/// requests apart on the master.
pub const USER_AGENT_KUBELET: &str = "kubemark-hollow-kubelet";
pub const USER_AGENT_PROXY: &str = "kubemark-hollow-proxy";
pub const USER_AGENT_NPD: &str = "kubemark-hollow-npd";

pub fn user_agent(component: &str, version: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{component}/{version} (linux/amd64) kubemark/{}",
        env!("CARGO_PKG_VERSION")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("kubemark-hollow"))
}

pub struct Shared {
    pub cfg: FleetConfig,
    pub tpl: Arc<NodeTemplate>,
    pub metrics: Arc<Metrics>,
    pub transport: Arc<Transport>,
    pub kubelet_conns: Option<Arc<ConnSet>>,
    pub proxy_conns: Option<Arc<ConnSet>>,
    pub registration: Arc<Semaphore>,
    pub epoch: Instant,
    pub ua_kubelet: HeaderValue,
    pub ua_proxy: HeaderValue,
    pub ua_npd: HeaderValue,
    pub interner: crate::intern::Interner,
}

impl Shared {
    pub fn now(&self) -> Now {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Now {
            mono: self.epoch.elapsed().as_millis() as Millis,
            wall,
        }
    }

    pub fn instant(&self, ms: Millis) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// A node's own connection set for `component`, or the shared one.
    pub fn conns(
        &self,
        component: &'static str,
        node: &str,
        identity: Option<Identity>,
    ) -> Arc<ConnSet> {
        let shared = match component {
            "proxy" => &self.proxy_conns,
            _ => &self.kubelet_conns,
        };
        if let Some(s) = shared {
            return s.clone();
        }
        let transport = self.transport.clone();
        let auth = transport.auth_headers(identity.is_some());
        Arc::new(ConnSet::new(
            format!("{component} of {node}"),
            self.cfg.max_streams_per_connection,
            None,
            self.metrics.clone(),
            auth,
            Box::new(move || transport.client(identity.as_ref())),
        ))
    }

    /// The node's client identity from the credentials hook (if any and
    /// connections are not shared).
    pub fn identity(&self, node: &str) -> Result<Option<Identity>, HollowError> {
        let Some(hook) = &self.cfg.node_credentials else {
            return Ok(None);
        };
        if self.cfg.shared_connections.is_some() {
            return Ok(None);
        }
        let (cert, key) = hook(node).map_err(|why| HollowError::NodeCredentials {
            node: node.to_string(),
            why,
        })?;
        Identity::from_pem(&cert, &key)
            .map(Some)
            .map_err(|why| HollowError::NodeCredentials {
                node: node.to_string(),
                why,
            })
    }
}

/// `base` plus up to `fraction` of it at random (wait.Jitter).
pub fn jitter(base: Duration, fraction: f64) -> Duration {
    base + base.mul_f64(fraction * rand::random::<f64>())
}
