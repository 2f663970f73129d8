//! The loop every controller runs on: one task owns the controller's state
//! (work queue, expectations), receives informer changes as messages, and
//! syncs keys. A sync decides synchronously from the caches and returns the
//! API calls to make as a future; the loop runs it in the background, never
//! runs two syncs of the same key at once, and re-syncs a key that changed
//! meanwhile once the running sync finishes (client-go's workqueue
//! semantics). API calls share one concurrency limit.

use crate::events::{EventBroadcaster, EventRecorder};
use crate::queue::WorkQueue;
use crate::ControllerManagerConfig;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// What every controller shares.
#[derive(Clone)]
pub struct Ctx {
    pub client: kube::Client,
    pub config: Arc<ControllerManagerConfig>,
    /// Bounds API calls in flight across all controllers.
    pub limit: Arc<Semaphore>,
    pub events: Arc<EventBroadcaster>,
}

impl Ctx {
    pub fn new(client: kube::Client, config: ControllerManagerConfig) -> Ctx {
        let limit = Arc::new(Semaphore::new(config.max_concurrent_requests.max(1)));
        let events = Arc::new(EventBroadcaster::start(client.clone()));
        Ctx {
            client,
            config: Arc::new(config),
            limit,
            events,
        }
    }

    pub fn recorder(&self, component: &str) -> EventRecorder {
        self.events.recorder(component)
    }

    /// Runs one API call under the shared concurrency limit.
    pub async fn call<T>(&self, fut: impl Future<Output = T>) -> T {
        // The semaphore is never closed, so acquire only fails if it were.
        let _permit = self.limit.acquire().await.ok();
        fut.await
    }
}

/// A controller's logic, driven by [`drive`].
pub trait Reconciler: Send + 'static {
    type Msg: Send + 'static;
    type Done: Send + 'static;

    /// Handles an informer change or other message; queues keys.
    fn on_msg(&mut self, msg: Self::Msg, queue: &mut WorkQueue);

    /// Decides what to do for `key` from the caches. Returns the work to run
    /// in the background, or `None` when there is nothing to do.
    fn sync(&mut self, key: &str, queue: &mut WorkQueue) -> Option<BoxFuture<'static, Self::Done>>;

    /// The background work for `key` finished.
    fn on_done(&mut self, key: &str, done: Self::Done, queue: &mut WorkQueue);
}

/// How many messages are handled before queued keys are synced, so that a
/// burst of watch events collapses into one sync per key.
const MESSAGE_BATCH: usize = 2000;

/// Runs a reconciler until shutdown or until its message channel closes.
pub async fn drive<R: Reconciler>(
    mut r: R,
    mut rx: mpsc::UnboundedReceiver<R::Msg>,
    mut queue: WorkQueue,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut running: JoinSet<(String, R::Done)> = JoinSet::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut dirty: HashSet<String> = HashSet::new();
    loop {
        queue.promote(Instant::now());
        while let Some(key) = queue.pop() {
            if in_flight.contains(&key) {
                dirty.insert(key);
                continue;
            }
            if let Some(work) = r.sync(&key, &mut queue) {
                in_flight.insert(key.clone());
                running.spawn(async move { (key, work.await) });
            }
        }
        let deadline = queue.next_deadline();
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => break,
            msg = rx.recv() => match msg {
                Some(m) => {
                    r.on_msg(m, &mut queue);
                    for _ in 0..MESSAGE_BATCH {
                        match rx.try_recv() {
                            Ok(m) => r.on_msg(m, &mut queue),
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
            Some(res) = running.join_next(), if !running.is_empty() => {
                if let Ok((key, done)) = res {
                    in_flight.remove(&key);
                    r.on_done(&key, done, &mut queue);
                    if dirty.remove(&key) {
                        queue.add(key);
                    }
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => {}
        }
    }
    running.abort_all();
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Wires a reconciler: returns the sender informer handlers use.
pub struct Wiring<M> {
    pub tx: mpsc::UnboundedSender<M>,
    pub rx: mpsc::UnboundedReceiver<M>,
}

impl<M> Wiring<M> {
    pub fn new() -> Wiring<M> {
        let (tx, rx) = mpsc::unbounded_channel();
        Wiring { tx, rx }
    }
}

impl<M> Default for Wiring<M> {
    fn default() -> Self {
        Wiring::new()
    }
}

/// Subscribes `make(change)` messages from an informer into a channel.
pub fn forward<K, M, F>(
    factory_informer: &crate::informer::Informer<K>,
    tx: &mpsc::UnboundedSender<M>,
    make: F,
) where
    K: crate::informer::Cached,
    M: Send + 'static,
    F: Fn(crate::informer::Change<K>) -> M + Send + Sync + 'static,
{
    let tx = tx.clone();
    factory_informer.subscribe(move |c| {
        let _ = tx.send(make(c.clone()));
    });
}

/// A controller ready to run once the informers have synced.
pub type Starter = Box<dyn FnOnce(watch::Receiver<bool>) -> BoxFuture<'static, ()> + Send>;

/// Packs a reconciler and its channel into a [`Starter`].
pub fn starter<R: Reconciler>(
    r: R,
    rx: mpsc::UnboundedReceiver<R::Msg>,
    queue: WorkQueue,
) -> Starter {
    Box::new(move |shutdown| Box::pin(drive(r, rx, queue, shutdown)))
}
