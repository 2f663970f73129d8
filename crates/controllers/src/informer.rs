//! Shared informers: one kube-rs watcher per resource (and selector) feeds
//! an in-memory cache and fans changes out to every controller that
//! subscribed, like client-go's `SharedInformerFactory`. Controllers read
//! the caches and never list from the server in their sync loops.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::watch as tokio_watch;

/// A change seen by an informer.
#[derive(Debug)]
pub enum Change<K> {
    Added(Arc<K>),
    Updated { old: Arc<K>, new: Arc<K> },
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    /// The current object (or the last state of a deleted one).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Added(o) | Change::Deleted(o) => o,
            Change::Updated { new, .. } => new,
        }
    }

    pub fn old(&self) -> Option<&Arc<K>> {
        match self {
            Change::Updated { old, .. } => Some(old),
            _ => None,
        }
    }
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Added(o) => Change::Added(o.clone()),
            Change::Updated { old, new } => Change::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Change::Deleted(o) => Change::Deleted(o.clone()),
        }
    }
}

type Handler<K> = Box<dyn Fn(&Change<K>) + Send + Sync>;
type Objects<K> = HashMap<String, HashMap<String, Arc<K>>>;

/// Bounds every cached type must meet.
pub trait Cached:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}
impl<K> Cached for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

pub struct Informer<K: Cached> {
    /// namespace ("" for cluster-scoped) -> name -> object.
    objects: RwLock<Objects<K>>,
    handlers: RwLock<Vec<Handler<K>>>,
    synced: tokio_watch::Sender<bool>,
    api: Api<K>,
    config: watcher::Config,
}

fn ns_name<K: Resource>(o: &K) -> (String, String) {
    let m = o.meta();
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

impl<K: Cached> Informer<K> {
    pub fn new(api: Api<K>, config: watcher::Config) -> Informer<K> {
        let (synced, _) = tokio_watch::channel(false);
        Informer {
            objects: RwLock::new(HashMap::new()),
            handlers: RwLock::new(Vec::new()),
            synced,
            api,
            config,
        }
    }

    /// Registers a change handler. Handlers run on the informer task and
    /// must not block (they send into channels).
    pub fn subscribe(&self, f: impl Fn(&Change<K>) + Send + Sync + 'static) {
        self.handlers.write().push(Box::new(f));
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.objects.read().get(namespace)?.get(name).cloned()
    }

    /// Looks up by `ns/name` (or `name`) key.
    pub fn get_key(&self, key: &str) -> Option<Arc<K>> {
        let (ns, name) = crate::util::split_key(key);
        self.get(ns, name)
    }

    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.objects
            .read()
            .get(namespace)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn list(&self) -> Vec<Arc<K>> {
        self.objects
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.objects.read().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    fn notify(&self, change: Change<K>) {
        for h in self.handlers.read().iter() {
            h(&change);
        }
    }

    fn apply(&self, obj: K) {
        let (ns, name) = ns_name(&obj);
        let new = Arc::new(obj);
        let old = self
            .objects
            .write()
            .entry(ns)
            .or_default()
            .insert(name, new.clone());
        match old {
            Some(old) => {
                // Resyncs deliver identical objects; skip those.
                if old.meta().resource_version != new.meta().resource_version
                    || old.meta().resource_version.is_none()
                {
                    self.notify(Change::Updated { old, new });
                }
            }
            None => self.notify(Change::Added(new)),
        }
    }

    fn delete(&self, obj: K) {
        let (ns, name) = ns_name(&obj);
        {
            let mut objects = self.objects.write();
            if let Some(m) = objects.get_mut(&ns) {
                m.remove(&name);
                if m.is_empty() {
                    objects.remove(&ns);
                }
            }
        }
        // Handlers get the final state the watch reported.
        self.notify(Change::Deleted(Arc::new(obj)));
    }

    /// Runs the watch until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let stream = watcher(self.api.clone(), self.config.clone()).default_backoff();
        futures::pin_mut!(stream);
        let mut seen: Option<HashSet<(String, String)>> = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Apply(o)) => self.apply(o),
                Ok(Event::Delete(o)) => self.delete(o),
                Ok(Event::Init) => seen = Some(HashSet::new()),
                Ok(Event::InitApply(o)) => {
                    if let Some(s) = seen.as_mut() {
                        s.insert(ns_name(&o));
                    }
                    self.apply(o);
                }
                Ok(Event::InitDone) => {
                    // Objects missing from a relist were deleted meanwhile.
                    if let Some(s) = seen.take() {
                        let gone: Vec<Arc<K>> = self
                            .objects
                            .read()
                            .iter()
                            .flat_map(|(ns, m)| {
                                m.iter()
                                    .filter(|(name, _)| !s.contains(&(ns.clone(), (*name).clone())))
                                    .map(|(_, o)| o.clone())
                            })
                            .collect();
                        for o in gone {
                            self.delete((*o).clone());
                        }
                    }
                    self.synced.send_replace(true);
                }
                Err(e) => {
                    tracing::debug!(kind = %K::kind(&()), error = %e, "watch failed; retrying")
                }
            }
        }
    }
}

fn watcher<K: Cached>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = watcher::Result<Event<K>>> {
    watcher::watcher(api, config)
}

trait Startable: Send + Sync {
    fn start(&self) -> tokio::task::JoinHandle<()>;
    fn synced_rx(&self) -> tokio_watch::Receiver<bool>;
}

impl<K: Cached> Startable for Arc<Informer<K>> {
    fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.clone().run())
    }

    fn synced_rx(&self) -> tokio_watch::Receiver<bool> {
        self.synced.subscribe()
    }
}

type Registered = (Arc<dyn Any + Send + Sync>, Box<dyn Startable>);

/// Creates informers on demand (one per type and selector) and starts them
/// together once every controller has subscribed.
pub struct InformerFactory {
    client: kube::Client,
    informers: Mutex<HashMap<(TypeId, String), Registered>>,
}

impl InformerFactory {
    pub fn new(client: kube::Client) -> InformerFactory {
        InformerFactory {
            client,
            informers: Mutex::new(HashMap::new()),
        }
    }

    /// The informer over all objects of a type.
    pub fn get<K: Cached>(&self) -> Arc<Informer<K>> {
        self.get_with(
            "",
            || Api::all(self.client.clone()),
            watcher::Config::default(),
        )
    }

    /// An informer with its own API scope and selectors, identified by `id`.
    pub fn get_with<K: Cached>(
        &self,
        id: &str,
        api: impl FnOnce() -> Api<K>,
        config: watcher::Config,
    ) -> Arc<Informer<K>> {
        let mut map = self.informers.lock();
        let key = (TypeId::of::<K>(), id.to_string());
        if let Some((any, _)) = map.get(&key) {
            if let Ok(inf) = any.clone().downcast::<Informer<K>>() {
                return inf;
            }
        }
        let inf = Arc::new(Informer::new(api(), config));
        map.insert(
            key,
            (
                inf.clone() as Arc<dyn Any + Send + Sync>,
                Box::new(inf.clone()),
            ),
        );
        inf
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Starts every informer created so far.
    pub fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.informers
            .lock()
            .values()
            .map(|(_, s)| s.start())
            .collect()
    }

    /// Waits until every informer has listed once.
    pub async fn wait_synced(&self) {
        let rxs: Vec<tokio_watch::Receiver<bool>> = self
            .informers
            .lock()
            .values()
            .map(|(_, s)| s.synced_rx())
            .collect();
        for mut rx in rxs {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}
