//! The hollow kube-proxy: per node, its own connection with kube-proxy's
//! three watches (services and endpointslices without the service-proxy-
//! name and headless labels, its own node), the derived rule counts kept
//! in memory and re-derived at most once per minimum sync period. Parsed
//! Services and EndpointSlices come from the fleet's
//! [`Interner`](crate::intern::Interner), so thousands of proxies share one copy.

use crate::client::Api;
use crate::log::{node_event, Throttle, PROXY, PROXY_LOG_INTERVAL};
use crate::node_status::NodeIdent;
use crate::proxy_rules::{derive, object_key, ProxyState, ServiceView, SliceView};
use crate::shared::Shared;
use crate::stats::NodeStats;
use crate::watch::{run_watch, MetaOnly, WatchEvent, WatchTarget};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// kube-proxy's informer label selector.
pub const PROXY_LABEL_SELECTOR: &str =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

enum Msg {
    Services(WatchEvent<ServiceView>),
    Slices(WatchEvent<SliceView>),
}

pub struct ProxyHandle {
    pub cancel: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

pub fn spawn(
    sh: Arc<Shared>,
    id: Arc<NodeIdent>,
    stats: Arc<NodeStats>,
    identity: Option<crate::conn::Identity>,
) -> ProxyHandle {
    let cancel = CancellationToken::new();
    let conns = sh.conns("proxy", &id.name, identity);
    // kube-proxy's client defaults: QPS 5, burst 10.
    let api = Arc::new(Api::new(
        conns,
        "proxy",
        sh.ua_proxy.clone(),
        5.0,
        10,
        sh.metrics.clone(),
    ));
    let task = tokio::spawn(run(sh, id, stats, api, cancel.clone()));
    ProxyHandle { cancel, task }
}

async fn run(
    sh: Arc<Shared>,
    id: Arc<NodeIdent>,
    stats: Arc<NodeStats>,
    api: Arc<Api>,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    {
        // Start-up burst control: hold a registration slot until the
        // first lists are in.
        let gate = tokio::select! {
            g = sh.registration.acquire() => g.ok(),
            _ = cancel.cancelled() => return,
        };
        let metrics = sh.metrics.clone();
        tokio::spawn(run_watch(
            api.clone(),
            WatchTarget::new("/api/v1/services", "services")
                .label_selector(PROXY_LABEL_SELECTOR)
                .owner(&id.name, PROXY),
            metrics.clone(),
            cancel.child_token(),
            Some(tx.clone()),
            |e| Some(Msg::Services(e)),
        ));
        tokio::spawn(run_watch(
            api.clone(),
            WatchTarget::new("/apis/discovery.k8s.io/v1/endpointslices", "endpointslices")
                .label_selector(PROXY_LABEL_SELECTOR)
                .owner(&id.name, PROXY),
            metrics.clone(),
            cancel.child_token(),
            Some(tx.clone()),
            |e| Some(Msg::Slices(e)),
        ));
        tokio::spawn(run_watch::<MetaOnly, Msg, _>(
            api.clone(),
            WatchTarget::new("/api/v1/nodes", "nodes")
                .field_selector(&format!("metadata.name={}", id.name))
                .owner(&id.name, PROXY),
            metrics,
            cancel.child_token(),
            None,
            |_| None,
        ));
        drop(tx);
        let mut proxy = Proxy::new(id);
        let mut listed = (false, false);
        let deadline = tokio::time::sleep(Duration::from_secs(30));
        tokio::pin!(deadline);
        while !(listed.0 && listed.1) {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => {
                        match &m {
                            Msg::Services(WatchEvent::Listed(_)) => listed.0 = true,
                            Msg::Slices(WatchEvent::Listed(_)) => listed.1 = true,
                            _ => {}
                        }
                        proxy.apply(&sh, m);
                    }
                    None => return,
                },
                _ = &mut deadline => break,
                _ = cancel.cancelled() => return,
            }
        }
        drop(gate);
        proxy.sync(&sh, &stats);
        proxy.log_counts(Instant::now(), true);
        steady(sh, stats, rx, cancel, proxy).await;
    }
}

struct Proxy {
    id: Arc<NodeIdent>,
    state: ProxyState,
    dirty: bool,
    /// Counts last derived and last logged (services, endpoints, rules).
    counts: (usize, usize, usize),
    logged: Option<(usize, usize, usize)>,
    log_throttle: Throttle,
}

impl Proxy {
    fn new(id: Arc<NodeIdent>) -> Proxy {
        Proxy {
            id,
            state: ProxyState::default(),
            dirty: false,
            counts: (0, 0, 0),
            logged: None,
            log_throttle: Throttle::new(PROXY_LOG_INTERVAL),
        }
    }

    /// Logs the synced counts when they changed since the last line: at
    /// once (`force`, or the throttle allows), else when due.
    fn log_counts(&mut self, now: Instant, force: bool) {
        if self.logged == Some(self.counts) {
            return;
        }
        let go = if force {
            self.log_throttle.logged(now);
            true
        } else {
            self.log_throttle.changed(now)
        };
        if go {
            self.logged = Some(self.counts);
            let (services, endpoints, rules) = self.counts;
            node_event!(
                info,
                self.id.name,
                PROXY,
                services,
                endpoints,
                rules,
                "Synced services and endpointslices"
            );
        }
    }

    /// When held-back counts are to be logged.
    fn log_due(&self) -> Option<Instant> {
        self.log_throttle
            .due()
            .filter(|_| self.logged != Some(self.counts))
    }

    fn apply(&mut self, sh: &Shared, m: Msg) {
        self.dirty = true;
        match m {
            Msg::Services(WatchEvent::Listed(items)) => {
                self.state.services = items
                    .iter()
                    .map(|s| {
                        (
                            object_key(&s.metadata.namespace, &s.metadata.name),
                            sh.interner.service(s),
                        )
                    })
                    .collect();
            }
            Msg::Services(WatchEvent::Applied(s)) => {
                self.state.services.insert(
                    object_key(&s.metadata.namespace, &s.metadata.name),
                    sh.interner.service(&s),
                );
            }
            Msg::Services(WatchEvent::Deleted(s)) => {
                self.state
                    .services
                    .remove(&object_key(&s.metadata.namespace, &s.metadata.name));
            }
            Msg::Slices(WatchEvent::Listed(items)) => {
                self.state.slices = items
                    .iter()
                    .map(|s| {
                        (
                            object_key(&s.metadata.namespace, &s.metadata.name),
                            sh.interner.slice(s),
                        )
                    })
                    .collect();
            }
            Msg::Slices(WatchEvent::Applied(s)) => {
                self.state.slices.insert(
                    object_key(&s.metadata.namespace, &s.metadata.name),
                    sh.interner.slice(&s),
                );
            }
            Msg::Slices(WatchEvent::Deleted(s)) => {
                self.state
                    .slices
                    .remove(&object_key(&s.metadata.namespace, &s.metadata.name));
            }
        }
    }

    /// "Programs" the rules: derives them and publishes the counts.
    fn sync(&mut self, sh: &Shared, stats: &NodeStats) {
        self.dirty = false;
        let p = derive(&self.state);
        self.counts = (p.services, p.endpoints, p.rules);
        let m = &sh.metrics;
        let set = |field: &std::sync::atomic::AtomicU32,
                   gauge: &prometheus_client::metrics::gauge::Gauge,
                   v: usize| {
            let v = v.min(u32::MAX as usize) as u32;
            let was = field.swap(v, Ordering::Relaxed);
            gauge.inc_by(i64::from(v) - i64::from(was));
        };
        set(&stats.proxy_services, &m.proxy_services, p.services);
        set(&stats.proxy_endpoints, &m.proxy_endpoints, p.endpoints);
        set(&stats.proxy_rules, &m.proxy_rules, p.rules);
        if self.state.services.capacity() > 4 * self.state.services.len().max(8) {
            self.state.services.shrink_to_fit();
        }
        if self.state.slices.capacity() > 4 * self.state.slices.len().max(8) {
            self.state.slices.shrink_to_fit();
        }
    }
}

async fn steady(
    sh: Arc<Shared>,
    stats: Arc<NodeStats>,
    mut rx: mpsc::Receiver<Msg>,
    cancel: CancellationToken,
    mut proxy: Proxy,
) {
    let min_sync = sh.cfg.proxy_min_sync_period;
    let mut last_sync = Instant::now();
    loop {
        let wait = if proxy.dirty {
            (last_sync + min_sync).saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(3600)
        };
        let log_due = proxy.log_due();
        let log_wait = log_due
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = cancel.cancelled() => break,
            m = rx.recv() => match m {
                Some(m) => proxy.apply(&sh, m),
                None => break,
            },
            _ = tokio::time::sleep(wait), if proxy.dirty => {
                proxy.sync(&sh, &stats);
                last_sync = Instant::now();
                proxy.log_counts(last_sync, false);
            }
            _ = tokio::time::sleep(log_wait), if log_due.is_some() => {
                proxy.log_counts(Instant::now(), true);
            }
        }
    }
    // A stopped proxy programs nothing.
    proxy.state = ProxyState::default();
    proxy.sync(&sh, &stats);
}
