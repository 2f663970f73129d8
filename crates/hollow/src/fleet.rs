//! A fleet of hollow nodes in this process: start it against a master,
//! stop and start single nodes (a node going away and coming back), inject
//! node problems, read stats, serve `/metrics`, shut down.

use crate::config::FleetConfig;
use crate::conn::{connections_needed, ConnSet, Transport};
use crate::error::HollowError;
use crate::intern::Interner;
use crate::kubelet::{self, KubeletHandle, KubeletState, Msg};
use crate::metrics::Metrics;
use crate::node_status::{NodeIdent, NodeTemplate};
use crate::proxy::{self, ProxyHandle};
use crate::shared::{user_agent, Shared, USER_AGENT_KUBELET, USER_AGENT_NPD, USER_AGENT_PROXY};
use crate::stats::{summary, NodeStats};
pub use crate::stats::{FleetStats, NodeSummary};
use bytes::Bytes;
use http_body_util::Full;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Long-lived streams per node: kubelet 5 watches (+ referenced objects),
/// proxy 3.
const STREAMS_PER_NODE: usize = 8;

enum KubeletSlot {
    Running(KubeletHandle),
    Stopped(Box<KubeletState>),
    Disabled,
}

struct Slot {
    id: Arc<NodeIdent>,
    stats: Arc<NodeStats>,
    kubelet: KubeletSlot,
    proxy: Option<ProxyHandle>,
}

/// A running fleet. Dropping it stops every node (without waiting).
pub struct Fleet {
    sh: Arc<Shared>,
    nodes: tokio::sync::Mutex<BTreeMap<String, Slot>>,
    index: Arc<Vec<(Arc<NodeIdent>, Arc<NodeStats>)>>,
    metrics_addr: Option<SocketAddr>,
    metrics_stop: CancellationToken,
}

/// `$HOSTNAME` first: in a pod it is the pod name (what `kubemark which`
/// maps a node to), and a pod's container run as a plain process (tests,
/// debugging) sets it to the pod it stands for; else the kernel's.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// Starts `cfg.nodes` hollow nodes against the master of `kubeconfig`.
/// Returns once every node task is started (registration continues in
/// the background; watch [`Fleet::stats`] for progress).
pub async fn start_fleet(kubeconfig: kube::Config, cfg: FleetConfig) -> Result<Fleet, HollowError> {
    let plan = cfg.plan()?;
    if cfg.morph.npd && !cfg.morph.kubelet {
        return Err(HollowError::Config(
            "the npd morph needs the kubelet morph: the hollow NPD reports on the Node its kubelet registers".into(),
        ));
    }
    let transport = Arc::new(Transport::new(kubeconfig)?);
    let metrics = Arc::new(Metrics::new());
    metrics.nodes.set(plan.len() as i64);
    let shared_conns = match cfg.shared_connections {
        Some(n) => {
            let needed = connections_needed(
                plan.len(),
                STREAMS_PER_NODE,
                cfg.max_streams_per_connection as usize,
            );
            if n < needed {
                tracing::warn!(
                    "--shared-connections {n} is too few for {} nodes at most {} streams per connection: about {needed} are needed; more will be opened as streams fill up",
                    plan.len(),
                    cfg.max_streams_per_connection
                );
            }
            if cfg.node_credentials.is_some() {
                tracing::warn!(
                    "shared connections carry the kubeconfig's identity: per-node credentials are not used"
                );
            }
            let t = transport.clone();
            Some(Arc::new(ConnSet::new(
                "shared connections".into(),
                cfg.max_streams_per_connection,
                Some(n),
                metrics.clone(),
                transport.auth_headers(false),
                Box::new(move || t.client(None)),
            )))
        }
        None => None,
    };
    // Proxies alone multiplexed (kubelets keep their own connections):
    // 3 watches per proxy.
    let proxy_only_conns = match (cfg.shared_connections, cfg.shared_proxy_connections) {
        (None, Some(n)) if cfg.morph.proxy => {
            let t = transport.clone();
            Some(Arc::new(ConnSet::new(
                "shared proxy connections".into(),
                cfg.max_streams_per_connection,
                Some(n),
                metrics.clone(),
                transport.auth_headers(false),
                Box::new(move || t.client(None)),
            )))
        }
        _ => None,
    };
    let tpl = NodeTemplate {
        labels: cfg.node_labels.clone(),
        taints: cfg.register_with_taints.clone(),
        capacity: cfg.capacity(),
        kubelet_version: cfg.kubelet_version.clone(),
        proxy_version: cfg.kubelet_version.clone(),
        kubelet_port: 20001,
        host: hostname(),
        pid: std::process::id(),
    };
    let sh = Arc::new(Shared {
        tpl: Arc::new(tpl),
        metrics: metrics.clone(),
        transport,
        kubelet_conns: shared_conns.clone(),
        proxy_conns: shared_conns.or(proxy_only_conns),
        registration: Arc::new(tokio::sync::Semaphore::new(
            cfg.registration_concurrency.max(1),
        )),
        epoch: Instant::now(),
        ua_kubelet: user_agent(USER_AGENT_KUBELET, &cfg.kubelet_version),
        ua_proxy: user_agent(USER_AGENT_PROXY, &cfg.kubelet_version),
        ua_npd: user_agent(USER_AGENT_NPD, "v0.8.10"),
        interner: Interner::default(),
        cfg,
    });
    let index: Vec<(Arc<NodeIdent>, Arc<NodeStats>)> = plan
        .into_iter()
        .map(|id| (Arc::new(id), Arc::new(NodeStats::default())))
        .collect();
    let index = Arc::new(index);
    let metrics_stop = CancellationToken::new();
    let metrics_addr = match sh.cfg.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| HollowError::MetricsListen { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| HollowError::MetricsListen { addr, source })?;
            tokio::spawn(serve_metrics(
                listener,
                metrics.clone(),
                index.clone(),
                metrics_stop.clone(),
            ));
            Some(local)
        }
        None => None,
    };
    let mut nodes = BTreeMap::new();
    for (id, stats) in index.iter() {
        let identity = sh.identity(&id.name)?;
        let kubelet = if sh.cfg.morph.kubelet {
            KubeletSlot::Running(kubelet::spawn(
                sh.clone(),
                id.clone(),
                stats.clone(),
                KubeletState::new(id),
                identity.clone(),
            ))
        } else {
            KubeletSlot::Disabled
        };
        let proxy = sh
            .cfg
            .morph
            .proxy
            .then(|| proxy::spawn(sh.clone(), id.clone(), stats.clone(), identity));
        nodes.insert(
            id.name.clone(),
            Slot {
                id: id.clone(),
                stats: stats.clone(),
                kubelet,
                proxy,
            },
        );
    }
    Ok(Fleet {
        sh,
        nodes: tokio::sync::Mutex::new(nodes),
        index,
        metrics_addr,
        metrics_stop,
    })
}

impl Fleet {
    /// Where `/metrics` is served (None when disabled).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.sh.metrics.clone()
    }

    pub fn config(&self) -> &FleetConfig {
        &self.sh.cfg
    }

    /// Node names, in index order.
    pub fn node_names(&self) -> Vec<String> {
        self.index.iter().map(|(id, _)| id.name.clone()).collect()
    }

    pub fn node(&self, name: &str) -> Option<NodeSummary> {
        self.index
            .iter()
            .find(|(id, _)| id.name == name)
            .map(|(id, s)| summary(id, s))
    }

    pub fn nodes(&self) -> Vec<NodeSummary> {
        self.index.iter().map(|(id, s)| summary(id, s)).collect()
    }

    pub fn stats(&self) -> FleetStats {
        let m = &self.sh.metrics;
        let mut s = FleetStats {
            nodes: self.index.len(),
            connections: m.connections.get(),
            streams: m.streams.get(),
            watches: m.watches.get(),
            lease_renewals: m.lease_renewals.get(),
            lease_failures: m.lease_failures.get(),
            lease_misses: m.lease_misses.get(),
            ..FleetStats::default()
        };
        {
            let h = m.lateness.lock();
            s.lease_lateness_p99 = Duration::from_millis(h.quantile_ms(0.99));
            s.lease_lateness_max = Duration::from_millis(h.max_ms());
        }
        for (_, n) in self.index.iter() {
            s.registered += usize::from(n.registered.load(Ordering::Relaxed));
            s.ready += usize::from(n.ready.load(Ordering::Relaxed));
            s.pods += u64::from(n.pods.load(Ordering::Relaxed));
            s.pods_running += u64::from(n.pods_running.load(Ordering::Relaxed));
            s.proxy_services += u64::from(n.proxy_services.load(Ordering::Relaxed));
            s.proxy_endpoints += u64::from(n.proxy_endpoints.load(Ordering::Relaxed));
            s.proxy_rules += u64::from(n.proxy_rules.load(Ordering::Relaxed));
            s.problems += u64::from(n.problems.load(Ordering::Relaxed));
            s.timer_wakeups += n.timer_wakeups.load(Ordering::Relaxed);
        }
        s.running = self
            .nodes
            .try_lock()
            .map(|n| {
                n.values()
                    .filter(|s| matches!(s.kubelet, KubeletSlot::Running(_)) || s.proxy.is_some())
                    .count()
            })
            .unwrap_or(s.nodes);
        s
    }

    /// Stops a node's kubelet, NPD and proxy, as if its machine went away:
    /// no more heartbeats, its watches and connections close. Its pods
    /// keep running in the fake runtime until [`Fleet::start_node`].
    pub async fn stop_node(&self, name: &str) -> Result<(), HollowError> {
        let mut nodes = self.nodes.lock().await;
        let slot = nodes
            .get_mut(name)
            .ok_or_else(|| HollowError::UnknownNode(name.to_string()))?;
        let mut was_running = false;
        if let KubeletSlot::Running(_) = slot.kubelet {
            let KubeletSlot::Running(h) =
                std::mem::replace(&mut slot.kubelet, KubeletSlot::Disabled)
            else {
                return Err(HollowError::NotRunning(name.to_string()));
            };
            h.cancel.cancel();
            let state = match h.task.await {
                Ok(st) => st,
                Err(e) => {
                    tracing::warn!(
                        node = %name,
                        component = %crate::log::KUBELET,
                        "kubelet task ended abnormally: {e}"
                    );
                    KubeletState::new(&slot.id)
                }
            };
            slot.kubelet = KubeletSlot::Stopped(Box::new(state));
            was_running = true;
        }
        if let Some(p) = slot.proxy.take() {
            p.cancel.cancel();
            let _ = p.task.await;
            was_running = true;
        }
        if was_running {
            Ok(())
        } else {
            Err(HollowError::NotRunning(name.to_string()))
        }
    }

    /// Starts a stopped node again: it re-registers (adopting its Node),
    /// renews its lease, relists its pods and keeps running them.
    pub async fn start_node(&self, name: &str) -> Result<(), HollowError> {
        let mut nodes = self.nodes.lock().await;
        let slot = nodes
            .get_mut(name)
            .ok_or_else(|| HollowError::UnknownNode(name.to_string()))?;
        if matches!(slot.kubelet, KubeletSlot::Running(_)) || slot.proxy.is_some() {
            return Err(HollowError::AlreadyRunning(name.to_string()));
        }
        let identity = self.sh.identity(name)?;
        if let KubeletSlot::Stopped(_) = slot.kubelet {
            let KubeletSlot::Stopped(state) =
                std::mem::replace(&mut slot.kubelet, KubeletSlot::Disabled)
            else {
                return Err(HollowError::AlreadyRunning(name.to_string()));
            };
            slot.kubelet = KubeletSlot::Running(kubelet::spawn(
                self.sh.clone(),
                slot.id.clone(),
                slot.stats.clone(),
                *state,
                identity.clone(),
            ));
        }
        if self.sh.cfg.morph.proxy {
            slot.proxy = Some(proxy::spawn(
                self.sh.clone(),
                slot.id.clone(),
                slot.stats.clone(),
                identity,
            ));
        }
        Ok(())
    }

    /// Injects a node problem (as the `kubemark.io/inject-problem`
    /// annotation does): a condition problem turns its NPD condition True
    /// and posts an Event; an event-only problem posts an Event.
    pub async fn inject_problem(&self, node: &str, problem: &str) -> Result<(), HollowError> {
        self.problem_cmd(node, problem, true).await
    }

    /// Clears a problem injected with [`Fleet::inject_problem`].
    pub async fn clear_problem(&self, node: &str, problem: &str) -> Result<(), HollowError> {
        self.problem_cmd(node, problem, false).await
    }

    async fn problem_cmd(&self, node: &str, problem: &str, on: bool) -> Result<(), HollowError> {
        if !self.sh.cfg.morph.npd {
            return Err(HollowError::Config("the npd morph is not enabled".into()));
        }
        let p = crate::npd::canonical_problem(problem)?;
        let tx = {
            let nodes = self.nodes.lock().await;
            let slot = nodes
                .get(node)
                .ok_or_else(|| HollowError::UnknownNode(node.to_string()))?;
            match &slot.kubelet {
                KubeletSlot::Running(h) => h.tx.clone(),
                _ => return Err(HollowError::NotRunning(node.to_string())),
            }
        };
        let msg = if on { Msg::Inject(p) } else { Msg::Clear(p) };
        tx.send(msg)
            .await
            .map_err(|_| HollowError::NotRunning(node.to_string()))
    }

    /// Waits until `pred(stats)` holds or `timeout` passes; the last stats.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&FleetStats) -> bool,
    ) -> Result<FleetStats, FleetStats> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if pred(&s) {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                return Err(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops every node and the metrics server, and waits for them.
    pub async fn shutdown(self) {
        let mut nodes = self.nodes.lock().await;
        let mut tasks = Vec::new();
        for slot in nodes.values_mut() {
            if let KubeletSlot::Running(h) =
                std::mem::replace(&mut slot.kubelet, KubeletSlot::Disabled)
            {
                h.cancel.cancel();
                tasks.push(tokio::spawn(async move {
                    let _ = h.task.await;
                }));
            }
            if let Some(p) = slot.proxy.take() {
                p.cancel.cancel();
                tasks.push(tokio::spawn(async move {
                    let _ = p.task.await;
                }));
            }
        }
        drop(nodes);
        for t in tasks {
            let _ = t.await;
        }
        self.metrics_stop.cancel();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.metrics_stop.cancel();
        if let Ok(mut nodes) = self.nodes.try_lock() {
            for slot in nodes.values_mut() {
                if let KubeletSlot::Running(h) = &slot.kubelet {
                    h.cancel.cancel();
                }
                if let Some(p) = slot.proxy.take() {
                    p.cancel.cancel();
                }
            }
        }
    }
}

async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    index: Arc<Vec<(Arc<NodeIdent>, Arc<NodeStats>)>>,
    stop: CancellationToken,
) {
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let metrics = metrics.clone();
        let index = index.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |req: http::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    let index = index.clone();
                    async move {
                        let (code, ctype, body) = match req.uri().path() {
                            "/metrics" => (
                                200,
                                "text/plain; version=0.0.4; charset=utf-8",
                                metrics.render(),
                            ),
                            "/healthz" => (200, "text/plain", "ok".to_string()),
                            "/debug/nodes" => {
                                let nodes: Vec<serde_json::Value> = index
                                .iter()
                                .map(|(id, s)| {
                                    let n = summary(id, s);
                                    serde_json::json!({
                                        "name": n.name, "internalIP": n.internal_ip, "podCIDR": n.pod_cidr,
                                        "registered": n.registered, "ready": n.ready, "pods": n.pods,
                                        "podsRunning": n.pods_running, "leaseRenewals": n.lease_renewals,
                                        "proxyServices": n.proxy_services, "proxyEndpoints": n.proxy_endpoints,
                                        "problems": n.problems,
                                    })
                                })
                                .collect();
                                (
                                    200,
                                    "application/json",
                                    serde_json::to_string(&nodes).unwrap_or_default(),
                                )
                            }
                            _ => (
                                404,
                                "text/plain",
                                "not found: try /metrics or /debug/nodes\n".into(),
                            ),
                        };
                        let mut resp = http::Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() =
                            http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
                        resp.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(ctype),
                        );
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}
