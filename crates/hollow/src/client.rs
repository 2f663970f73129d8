//! API calls of one hollow component (kubelet, proxy or NPD) of one node:
//! JSON requests with the component's user agent on its connection set,
//! the kubelet's client-side rate limit (QPS/burst) where the real one has
//! it, a count of every request in the fleet's metrics, and watch streams
//! read line by line without buffering when idle.

use crate::conn::{ConnSet, Permit};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ratelimit::TokenBucket;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::Method;
use http_body_util::BodyExt;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Content types of request bodies.
pub const JSON: &str = "application/json";
pub const STRATEGIC_MERGE: &str = "application/strategic-merge-patch+json";
pub const MERGE: &str = "application/merge-patch+json";

/// A request verb, labelled as the API server's metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    pub fn label(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn method(self) -> Method {
        match self {
            Verb::Get | Verb::List | Verb::Watch => Method::GET,
            Verb::Create => Method::POST,
            Verb::Update => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
}

/// Requests that are not watches give up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One component's client.
pub struct Api {
    conns: Arc<ConnSet>,
    component: &'static str,
    user_agent: HeaderValue,
    limiter: Option<Mutex<TokenBucket>>,
    metrics: Arc<Metrics>,
}

impl Api {
    /// `qps <= 0` means no client-side limit.
    pub fn new(
        conns: Arc<ConnSet>,
        component: &'static str,
        user_agent: HeaderValue,
        qps: f64,
        burst: u32,
        metrics: Arc<Metrics>,
    ) -> Api {
        Api {
            conns,
            component,
            user_agent,
            limiter: (qps > 0.0).then(|| Mutex::new(TokenBucket::new(qps, burst, Instant::now()))),
            metrics,
        }
    }

    /// The same connections and user agent with another rate limit (the
    /// kubelet's heartbeat client is unlimited).
    pub fn sibling(
        &self,
        component: &'static str,
        user_agent: HeaderValue,
        qps: f64,
        burst: u32,
    ) -> Api {
        Api::new(
            self.conns.clone(),
            component,
            user_agent,
            qps,
            burst,
            self.metrics.clone(),
        )
    }

    async fn throttle(&self) {
        let wait = match &self.limiter {
            Some(l) => l.lock().reserve(Instant::now()),
            None => Duration::ZERO,
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn request(
        &self,
        verb: Verb,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> Result<http::Request<kube::client::Body>, ApiError> {
        let mut b = http::Request::builder()
            .method(verb.method())
            .uri(path)
            .header(USER_AGENT, self.user_agent.clone())
            .header(ACCEPT, JSON);
        if let Some(h) = b.headers_mut() {
            self.conns.auth().apply(h);
        }
        let body = match body {
            Some((ct, bytes)) => {
                b = b.header(CONTENT_TYPE, ct);
                kube::client::Body::from(bytes)
            }
            None => kube::client::Body::empty(),
        };
        b.body(body)
            .map_err(|e| ApiError::Transport(format!("building request for {path}: {e}")))
    }

    /// Sends one request; the body of a 2xx answer, else the error. A 429
    /// or 5xx answer with `Retry-After` is retried after that long, as
    /// client-go's request retry does (see [`retry_after_wait`]).
    pub async fn call(
        &self,
        verb: Verb,
        resource: &'static str,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Bytes, ApiError> {
        let body = body.map(|(ct, b)| (ct, Bytes::from(b)));
        let mut retries = 0u32;
        loop {
            self.throttle().await;
            let (code, bytes, retry_after) = match self.call_once(verb, path, &body).await {
                Ok(answer) => answer,
                Err(e) => {
                    self.metrics
                        .request(self.component, verb.label(), resource, 0);
                    return Err(e);
                }
            };
            self.metrics
                .request(self.component, verb.label(), resource, code);
            if (200..300).contains(&code) {
                return Ok(bytes);
            }
            match retry_after_wait(code, retry_after.as_deref(), retries, rand::random()) {
                Some(wait) => {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                None => return Err(ApiError::from_response(code, &bytes)),
            }
        }
    }

    /// One attempt: status, body and the `Retry-After` header.
    async fn call_once(
        &self,
        verb: Verb,
        path: &str,
        body: &Option<(&'static str, Bytes)>,
    ) -> Result<(u16, Bytes, Option<String>), ApiError> {
        let req = self.request(verb, path, body.clone())?;
        let permit = self
            .conns
            .acquire()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = permit
                .client()
                .send(req)
                .await
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let code = resp.status().as_u16();
            let retry_after = retry_after_header(resp.headers());
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ApiError::Transport(format!("reading the response: {e}")))?
                .to_bytes();
            Ok::<_, ApiError>((code, bytes, retry_after))
        })
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Transport(format!(
                "no answer within {REQUEST_TIMEOUT:?}"
            )))
        })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        verb: Verb,
        resource: &'static str,
        path: &str,
    ) -> Result<T, ApiError> {
        let bytes = self.call(verb, resource, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    pub async fn send_json<T: DeserializeOwned>(
        &self,
        verb: Verb,
        resource: &'static str,
        path: &str,
        content_type: &'static str,
        body: &serde_json::Value,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Decode(e.to_string()))?;
        let out = self
            .call(verb, resource, path, Some((content_type, bytes)))
            .await?;
        serde_json::from_slice(&out).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    /// Opens a watch; the stream holds its connection slot until dropped.
    /// A 429 or 5xx answer with `Retry-After` is retried as in [`Self::call`].
    pub async fn watch(&self, resource: &'static str, path: &str) -> Result<WatchStream, ApiError> {
        let mut retries = 0u32;
        loop {
            self.throttle().await;
            let req = self.request(Verb::Watch, path, None)?;
            let permit = self
                .conns
                .acquire()
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let sent = tokio::time::timeout(REQUEST_TIMEOUT, permit.client().send(req)).await;
            let resp = match sent {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    self.metrics.request(self.component, "WATCH", resource, 0);
                    return Err(ApiError::Transport(e.to_string()));
                }
                Err(_) => {
                    self.metrics.request(self.component, "WATCH", resource, 0);
                    return Err(ApiError::Transport("no answer to the watch".into()));
                }
            };
            let code = resp.status().as_u16();
            self.metrics
                .request(self.component, "WATCH", resource, code);
            if (200..300).contains(&code) {
                return Ok(WatchStream {
                    _permit: permit,
                    body: resp.into_body(),
                    partial: Vec::new(),
                    ready: std::collections::VecDeque::new(),
                });
            }
            let retry_after = retry_after_header(resp.headers());
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            drop(permit);
            match retry_after_wait(code, retry_after.as_deref(), retries, rand::random()) {
                Some(wait) => {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                None => return Err(ApiError::from_response(code, &body)),
            }
        }
    }
}

/// client-go retries a request this often on `Retry-After` answers
/// (`rest.Request`'s default `maxRetries`).
pub const MAX_RETRY_AFTER_RETRIES: u32 = 10;

/// The longest `Retry-After` we wait for in one step: a server asking for
/// more is retried after this, so a bad header cannot park a node for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

fn retry_after_header(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// How long to wait before retrying an answer with status `code` and the
/// `Retry-After` header `retry_after`, after `retries` retries; `None`:
/// do not retry, hand the error to the caller (whose own jittered backoff
/// applies). As client-go's `checkWait`: only 429 and 5xx answers with
/// whole seconds in `Retry-After` are retried, at most
/// [`MAX_RETRY_AFTER_RETRIES`] times. Unlike client-go, up to 20 % of
/// random extra delay (`random01` in [0, 1)) is added, so that thousands of
/// hollow nodes told the same `Retry-After` do not come back in the same
/// instant.
pub fn retry_after_wait(
    code: u16,
    retry_after: Option<&str>,
    retries: u32,
    random01: f64,
) -> Option<Duration> {
    if !(code == 429 || (500..600).contains(&code)) || retries >= MAX_RETRY_AFTER_RETRIES {
        return None;
    }
    let secs: u64 = retry_after?.trim().parse().ok()?;
    // `Retry-After: 0` would be an immediate retry: wait a second instead,
    // as the server is overloaded either way.
    let base = Duration::from_secs(secs.max(1)).min(MAX_RETRY_AFTER);
    Some(base + base.mul_f64(0.2 * random01.clamp(0.0, 1.0)))
}

/// The lines of a watch response.
pub struct WatchStream {
    _permit: Permit,
    body: kube::client::Body,
    /// An incomplete last line (empty between events).
    partial: Vec<u8>,
    ready: std::collections::VecDeque<Bytes>,
}

impl WatchStream {
    /// The next line; `None` when the server ended the stream.
    pub async fn next_line(&mut self) -> Option<Result<Bytes, ApiError>> {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return Some(Ok(l));
            }
            match self.body.frame().await {
                None => {
                    if self.partial.is_empty() {
                        return None;
                    }
                    let rest = std::mem::take(&mut self.partial);
                    return Some(Ok(Bytes::from(rest)));
                }
                Some(Err(e)) => return Some(Err(ApiError::Transport(e.to_string()))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        split_lines(&mut self.partial, data, &mut self.ready);
                    }
                }
            }
        }
    }
}

/// Appends `data` to `partial` and moves every complete, non-empty line
/// to `out`. Chunks holding whole lines are not copied.
pub fn split_lines(
    partial: &mut Vec<u8>,
    mut data: Bytes,
    out: &mut std::collections::VecDeque<Bytes>,
) {
    while let Some(nl) = data.iter().position(|b| *b == b'\n') {
        let line = data.split_to(nl + 1);
        let line = line.slice(..nl);
        if partial.is_empty() {
            if !line.is_empty() {
                out.push_back(line);
            }
        } else {
            partial.extend_from_slice(&line);
            let whole = std::mem::take(partial);
            if !whole.is_empty() {
                out.push_back(Bytes::from(whole));
            }
        }
    }
    if !data.is_empty() {
        partial.extend_from_slice(&data);
    }
    if partial.is_empty() && partial.capacity() > 0 {
        // Do not keep a buffer around between events.
        *partial = Vec::new();
    }
}

/// Percent-encodes a query value (selectors contain `=`, `,`, `!`).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn splits_lines_across_chunks() {
        let mut partial = Vec::new();
        let mut out = VecDeque::new();
        split_lines(
            &mut partial,
            Bytes::from_static(b"{\"a\":1}\n{\"b\""),
            &mut out,
        );
        assert_eq!(out.pop_front().unwrap(), Bytes::from_static(b"{\"a\":1}"));
        assert!(out.is_empty());
        assert_eq!(partial, b"{\"b\"");
        split_lines(
            &mut partial,
            Bytes::from_static(b":2}\n\n{\"c\":3}\n"),
            &mut out,
        );
        assert_eq!(out.pop_front().unwrap(), Bytes::from_static(b"{\"b\":2}"));
        assert_eq!(out.pop_front().unwrap(), Bytes::from_static(b"{\"c\":3}"));
        assert!(partial.is_empty());
        assert_eq!(partial.capacity(), 0, "no buffer kept between events");
    }

    #[test]
    fn escapes_queries() {
        assert_eq!(query_escape("spec.nodeName=n-1"), "spec.nodeName%3Dn-1");
        assert_eq!(
            query_escape("!service.kubernetes.io/headless,!a"),
            "%21service.kubernetes.io%2Fheadless%2C%21a"
        );
    }

    #[test]
    fn retries_only_overload_answers_with_retry_after() {
        let secs = |d: Option<Duration>| d.map(|d| d.as_millis());
        // (status, Retry-After, retries so far, random, wait in ms)
        type Case<'a> = (u16, Option<&'a str>, u32, f64, Option<u128>);
        let cases: &[Case] = &[
            (429, Some("3"), 0, 0.0, Some(3000)),
            (429, Some("3"), 0, 0.5, Some(3300)),
            (503, Some("1"), 9, 0.0, Some(1000)),
            (500, Some(" 2 "), 0, 0.0, Some(2000)),
            // Retries run out, as client-go's maxRetries.
            (429, Some("3"), 10, 0.0, None),
            // No header, an HTTP date or garbage: the caller's backoff.
            (429, None, 0, 0.0, None),
            (503, Some("Wed, 21 Oct 2015 07:28:00 GMT"), 0, 0.0, None),
            (503, Some("-1"), 0, 0.0, None),
            // Not an overload answer.
            (409, Some("3"), 0, 0.0, None),
            (404, Some("3"), 0, 0.0, None),
            // Zero waits a second; huge values are capped.
            (429, Some("0"), 0, 0.0, Some(1000)),
            (429, Some("86400"), 0, 0.0, Some(60_000)),
            // Out-of-range randomness is clamped.
            (429, Some("1"), 0, 9.0, Some(1200)),
        ];
        for (code, header, retries, r, want) in cases {
            assert_eq!(
                secs(retry_after_wait(*code, *header, *retries, *r)),
                *want,
                "{code} Retry-After {header:?} after {retries} retries"
            );
        }
    }

    #[test]
    fn verb_labels() {
        assert_eq!(Verb::Create.label(), "POST");
        assert_eq!(Verb::Update.label(), "PUT");
        assert_eq!(Verb::List.method(), Method::GET);
    }
}
