//! The hollow kube-proxy: per node, its own connection with kube-proxy's
//! three watches (services and endpointslices without the service-proxy-
//! name and headless labels, its own node), the derived rule counts kept
//! in memory and re-derived at most once per minimum sync period. Parsed
//! Services and EndpointSlices are interned fleet-wide by (UID,
//! resourceVersion), so thousands of proxies share one copy.

use crate::client::Api;
use crate::kubelet::NodeStats;
use crate::node_status::NodeIdent;
use crate::proxy_rules::{
    derive, object_key, service_info, slice_info, ProxyState, ServiceInfo, ServiceView, SliceInfo,
    SliceView,
};
use crate::shared::Shared;
use crate::watch::{run_watch, MetaOnly, WatchEvent, WatchTarget};
use parking_lot::Mutex;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// kube-proxy's informer label selector.
pub const PROXY_LABEL_SELECTOR: &str =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

type InternMap<T> = Mutex<(HashMap<(u64, u64), Weak<T>>, usize)>;

/// Shares parsed objects between proxies.
#[derive(Default)]
pub struct Interner {
    services: InternMap<ServiceInfo>,
    slices: InternMap<SliceInfo>,
}

fn hash_of(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn intern<T>(map: &InternMap<T>, uid: &str, rv: &str, make: impl FnOnce() -> T) -> Arc<T> {
    let key = (hash_of(uid), hash_of(rv));
    let mut guard = map.lock();
    let (m, pruned_at) = &mut *guard;
    if let Some(v) = m.get(&key).and_then(Weak::upgrade) {
        return v;
    }
    let v = Arc::new(make());
    m.insert(key, Arc::downgrade(&v));
    // Drop dead entries now and then (amortised over inserts).
    if m.len() > 2 * *pruned_at + 1024 {
        m.retain(|_, w| w.strong_count() > 0);
        *pruned_at = m.len();
    }
    v
}

impl Interner {
    pub fn service(&self, v: &ServiceView) -> Arc<ServiceInfo> {
        intern(
            &self.services,
            &v.metadata.uid,
            &v.metadata.resource_version,
            || service_info(v),
        )
    }

    pub fn slice(&self, v: &SliceView) -> Arc<SliceInfo> {
        intern(
            &self.slices,
            &v.metadata.uid,
            &v.metadata.resource_version,
            || slice_info(v),
        )
    }
}

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
            WatchTarget::new("/api/v1/services", "services").label_selector(PROXY_LABEL_SELECTOR),
            metrics.clone(),
            cancel.child_token(),
            Some(tx.clone()),
            |e| Some(Msg::Services(e)),
        ));
        tokio::spawn(run_watch(
            api.clone(),
            WatchTarget::new("/apis/discovery.k8s.io/v1/endpointslices", "endpointslices")
                .label_selector(PROXY_LABEL_SELECTOR),
            metrics.clone(),
            cancel.child_token(),
            Some(tx.clone()),
            |e| Some(Msg::Slices(e)),
        ));
        tokio::spawn(run_watch::<MetaOnly, Msg, _>(
            api.clone(),
            WatchTarget::new("/api/v1/nodes", "nodes")
                .field_selector(&format!("metadata.name={}", id.name)),
            metrics,
            cancel.child_token(),
            None,
            |_| None,
        ));
        drop(tx);
        let mut proxy = Proxy::default();
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
        steady(sh, stats, rx, cancel, proxy).await;
    }
}

#[derive(Default)]
struct Proxy {
    state: ProxyState,
    dirty: bool,
}

impl Proxy {
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
        tokio::select! {
            _ = cancel.cancelled() => break,
            m = rx.recv() => match m {
                Some(m) => proxy.apply(&sh, m),
                None => break,
            },
            _ = tokio::time::sleep(wait), if proxy.dirty => {
                proxy.sync(&sh, &stats);
                last_sync = Instant::now();
            }
        }
    }
    // A stopped proxy programs nothing.
    proxy.state = ProxyState::default();
    proxy.sync(&sh, &stats);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interns_by_uid_and_version() {
        let i = Interner::default();
        let v1: ServiceView = serde_json::from_value(json!({"metadata": {"uid": "u", "resourceVersion": "1", "name": "a"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}})).unwrap();
        let v2: ServiceView = serde_json::from_value(json!({"metadata": {"uid": "u", "resourceVersion": "2", "name": "a"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}, {"port": 81}]}})).unwrap();
        let a = i.service(&v1);
        let b = i.service(&v1);
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.service(&v2);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.ports.len(), 2);
        drop((a, b));
        // A dead entry is rebuilt.
        let d = i.service(&v1);
        assert_eq!(d.ports.len(), 1);
    }
}
