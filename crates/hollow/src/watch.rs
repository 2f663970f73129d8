//! The list-and-watch driver: one small task per watch, stepping a
//! [`WatchMachine`](crate::watch_state::WatchMachine) and handing parsed
//! events to its owner through a channel. Watches that only need to be
//! held (a kubelet's services, CSI drivers, ConfigMaps...) parse nothing
//! but the resourceVersion.

use crate::client::{query_escape, Api};
use crate::metrics::Metrics;
use crate::watch_state::{closed_end, End, Next, WatchMachine};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Objects that carry a resourceVersion.
pub trait Versioned {
    fn resource_version(&self) -> &str;
}

/// Only the metadata we need to resume a watch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetaOnly {
    pub metadata: MetaRv,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetaRv {
    pub resource_version: String,
}

impl Versioned for MetaOnly {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

impl Versioned for crate::pod_spec::PodView {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

impl Versioned for crate::node_status::NodeView {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

impl Versioned for crate::proxy_rules::ServiceView {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

impl Versioned for crate::proxy_rules::SliceView {
    fn resource_version(&self) -> &str {
        &self.metadata.resource_version
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct ListOf<T> {
    metadata: MetaRv,
    items: Vec<T>,
}

impl<T> Default for ListOf<T> {
    fn default() -> Self {
        ListOf {
            metadata: MetaRv::default(),
            items: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusView {
    code: u16,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "object")]
enum Line<T> {
    #[serde(rename = "ADDED")]
    Added(T),
    #[serde(rename = "MODIFIED")]
    Modified(T),
    #[serde(rename = "DELETED")]
    Deleted(T),
    #[serde(rename = "BOOKMARK")]
    Bookmark(MetaOnly),
    #[serde(rename = "ERROR")]
    Error(StatusView),
}

/// What a watch hands to its owner.
#[derive(Debug)]
pub enum WatchEvent<T> {
    /// A (re)list: the complete current set.
    Listed(Vec<T>),
    Applied(T),
    Deleted(T),
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchTarget {
    /// Collection path, e.g. `/api/v1/pods`.
    pub path: String,
    /// Selector query without `?`, e.g. `fieldSelector=spec.nodeName%3Dn1`.
    pub query: String,
    /// Resource label for metrics.
    pub resource: &'static str,
    /// The node and component whose watch this is, for the `node` and
    /// `component` fields of its log lines.
    pub node: Option<Arc<str>>,
    pub component: Option<&'static str>,
}

impl WatchTarget {
    pub fn new(path: impl Into<String>, resource: &'static str) -> WatchTarget {
        WatchTarget {
            path: path.into(),
            query: String::new(),
            resource,
            node: None,
            component: None,
        }
    }

    /// Tags the watch's log lines with its node and component.
    pub fn owner(mut self, node: &str, component: &'static str) -> WatchTarget {
        self.node = Some(node.into());
        self.component = Some(component);
        self
    }

    pub fn field_selector(mut self, selector: &str) -> WatchTarget {
        self.add(&format!("fieldSelector={}", query_escape(selector)));
        self
    }

    pub fn label_selector(mut self, selector: &str) -> WatchTarget {
        self.add(&format!("labelSelector={}", query_escape(selector)));
        self
    }

    fn add(&mut self, q: &str) {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(q);
    }

    fn url(&self, extra: &str) -> String {
        match (self.query.is_empty(), extra.is_empty()) {
            (true, true) => self.path.clone(),
            (true, false) => format!("{}?{extra}", self.path),
            (false, true) => format!("{}?{}", self.path, self.query),
            (false, false) => format!("{}?{}&{extra}", self.path, self.query),
        }
    }
}

/// How long the server keeps a watch open: random in [5, 10) minutes, as
/// client-go's reflector asks.
fn watch_timeout_seconds() -> u64 {
    rand::thread_rng().gen_range(300..600)
}

async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    if d.is_zero() {
        return !cancel.is_cancelled();
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

/// Runs a watch until `cancel` fires or the receiver goes away. `map`
/// turns events into the owner's messages (`None`: nothing to send).
pub async fn run_watch<T, M, F>(
    api: Arc<Api>,
    target: WatchTarget,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tx: Option<mpsc::Sender<M>>,
    map: F,
) where
    T: DeserializeOwned + Versioned + Send + 'static,
    M: Send + 'static,
    F: Fn(WatchEvent<T>) -> Option<M> + Send + 'static,
{
    let mut machine = WatchMachine::new();
    let send = |msg: Option<M>| {
        let tx = tx.clone();
        async move {
            match (tx, msg) {
                (Some(tx), Some(m)) => tx.send(m).await.is_ok(),
                _ => true,
            }
        }
    };
    loop {
        if cancel.is_cancelled() {
            return;
        }
        match machine.next() {
            Next::List { resource_version } => {
                let extra = resource_version
                    .map(|rv| format!("resourceVersion={rv}"))
                    .unwrap_or_default();
                let url = target.url(&extra);
                let listed = tokio::select! {
                    r = api.get::<ListOf<T>>(crate::client::Verb::List, target.resource, &url) => r,
                    _ = cancel.cancelled() => return,
                };
                match listed {
                    Ok(list) => {
                        machine.listed(&list.metadata.resource_version);
                        if !send(map(WatchEvent::Listed(list.items))).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(
                            node = target.node.as_deref().map(tracing::field::display),
                            component = target.component.map(tracing::field::display),
                            "list {url}: {e}"
                        );
                        metrics.watch_restarts.inc();
                        let d = machine.ended(End::ListFailed, rand::random());
                        if !sleep_or_cancel(d, &cancel).await {
                            return;
                        }
                    }
                }
            }
            Next::Watch { resource_version } => {
                let extra = format!(
                    "allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds={}&watch=true",
                    query_escape(&resource_version),
                    watch_timeout_seconds()
                );
                let url = target.url(&extra);
                let opened = tokio::select! {
                    r = api.watch(target.resource, &url) => r,
                    _ = cancel.cancelled() => return,
                };
                let end = match opened {
                    Err(e) if e.is_gone() => End::Gone,
                    Err(e) => {
                        tracing::debug!(
                            node = target.node.as_deref().map(tracing::field::display),
                            component = target.component.map(tracing::field::display),
                            "watch {url}: {e}"
                        );
                        End::Failed
                    }
                    Ok(mut stream) => {
                        metrics.watches.inc();
                        let opened_at = std::time::Instant::now();
                        let mut events = 0u64;
                        let end = loop {
                            let line = tokio::select! {
                                l = stream.next_line() => l,
                                _ = cancel.cancelled() => {
                                    metrics.watches.dec();
                                    return;
                                }
                            };
                            let line = match line {
                                None => break closed_end(opened_at.elapsed(), events),
                                Some(Err(e)) => {
                                    tracing::debug!(
                                        node = target.node.as_deref().map(tracing::field::display),
                                        component = target.component.map(tracing::field::display),
                                        "watch {url} broke: {e}"
                                    );
                                    break End::Failed;
                                }
                                Some(Ok(l)) => l,
                            };
                            events += 1;
                            let event = match serde_json::from_slice::<Line<T>>(&line) {
                                Ok(ev) => ev,
                                Err(e) => {
                                    tracing::warn!(
                                        node = target.node.as_deref().map(tracing::field::display),
                                        component = target.component.map(tracing::field::display),
                                        "watch {url}: undecodable event ({e}); restarting the watch"
                                    );
                                    break End::Failed;
                                }
                            };
                            let msg = match event {
                                Line::Added(o) | Line::Modified(o) => {
                                    machine.observed(o.resource_version());
                                    map(WatchEvent::Applied(o))
                                }
                                Line::Deleted(o) => {
                                    machine.observed(o.resource_version());
                                    map(WatchEvent::Deleted(o))
                                }
                                Line::Bookmark(b) => {
                                    machine.observed(b.resource_version());
                                    None
                                }
                                Line::Error(s) => {
                                    if s.code == 410 {
                                        break End::Gone;
                                    }
                                    tracing::debug!(
                                        node = target.node.as_deref().map(tracing::field::display),
                                        component = target.component.map(tracing::field::display),
                                        "watch {url}: error event {} {}",
                                        s.code,
                                        s.message
                                    );
                                    break End::Failed;
                                }
                            };
                            if !send(msg).await {
                                metrics.watches.dec();
                                return;
                            }
                        };
                        metrics.watches.dec();
                        end
                    }
                };
                // A watch the server closed normally (its timeout) is
                // resumed, not restarted after an error.
                if !matches!(end, End::Closed) {
                    metrics.watch_restarts.inc();
                }
                let d = machine.ended(end, rand::random());
                if !sleep_or_cancel(d, &cancel).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_watch_lines() {
        let l: Line<MetaOnly> = serde_json::from_str(
            r#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"7"}}}"#,
        )
        .unwrap();
        assert!(matches!(l, Line::Added(o) if o.metadata.resource_version == "7"));
        let b: Line<crate::pod_spec::PodView> = serde_json::from_str(
            r#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}"#,
        )
        .unwrap();
        assert!(matches!(b, Line::Bookmark(m) if m.metadata.resource_version == "12"));
        let e: Line<MetaOnly> = serde_json::from_str(
            r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#,
        )
        .unwrap();
        assert!(matches!(e, Line::Error(s) if s.code == 410));
    }

    #[test]
    fn builds_urls() {
        let t = WatchTarget::new("/api/v1/pods", "pods").field_selector("spec.nodeName=n1");
        assert_eq!(t.url(""), "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
        assert_eq!(
            t.url("watch=true"),
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=true"
        );
        let plain = WatchTarget::new("/api/v1/services", "services");
        assert_eq!(
            plain.url("resourceVersion=0"),
            "/api/v1/services?resourceVersion=0"
        );
        let two = WatchTarget::new("/x", "x")
            .label_selector("a")
            .field_selector("b=c");
        assert_eq!(two.url(""), "/x?labelSelector=a&fieldSelector=b%3Dc");
    }
}
