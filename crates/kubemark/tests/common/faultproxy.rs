//! Fault injection between hollow nodes and the master, on loopback.
//!
//! [`TcpFaultProxy`] forwards bytes (TLS passes through untouched) and on
//! command cuts (resets every connection and resets new ones at accept),
//! stalls (accepts and holds every byte), slows (delivers each chunk from
//! the master a fixed delay after it arrived) and restores.
//!
//! [`HttpFaultProxy`] terminates TLS with a PKI of its own and forwards
//! every request to the master with the master's admin credentials; on
//! command it answers every request itself with an error `Status` (429
//! with `Retry-After`, 500, 503) instead, as an overloaded or broken
//! kube-apiserver does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// What the TCP proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Reset every open connection; reset new ones as they are accepted.
    Cut,
    /// Accept and hold: nothing is forwarded in either direction.
    Stall,
    /// Bytes from the master are delivered this long after they arrived.
    Slow(Duration),
}

/// A TCP proxy to `upstream`, bound to 127.0.0.1:0. Stopped when dropped.
pub struct TcpFaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpFaultProxy {
    pub async fn start(upstream: SocketAddr) -> TcpFaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, rx) = watch::channel(Mode::Pass);
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                if *rx.borrow() == Mode::Cut {
                    reset(client);
                    continue;
                }
                tokio::spawn(serve(client, upstream, rx.clone()));
            }
        });
        TcpFaultProxy {
            addr,
            mode,
            accepted,
            task,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Connections accepted so far (also the ones reset at accept).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// `kubeconfig` with its server replaced by this proxy. The serving
    /// certificate of the master names 127.0.0.1, so TLS still verifies.
    pub fn kubeconfig(&self, kubeconfig: &str) -> String {
        let mut kc: serde_yaml::Value = serde_yaml::from_str(kubeconfig).unwrap();
        for c in kc["clusters"].as_sequence_mut().unwrap() {
            c["cluster"]["server"] = format!("https://{}", self.addr).into();
        }
        serde_yaml::to_string(&kc).unwrap()
    }
}

impl Drop for TcpFaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.mode.send_replace(Mode::Cut);
    }
}

/// Closes with RST instead of FIN, as a crashed peer or a middlebox does.
/// (A zero linger does not block on close, which is what the deprecation
/// of `set_linger` warns about.)
#[allow(deprecated)]
fn reset(s: TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

async fn serve(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let server = tokio::select! {
        s = TcpStream::connect(upstream) => match s {
            Ok(s) => s,
            Err(_) => return reset(client),
        },
        _ = mode.wait_for(|m| *m == Mode::Cut) => return reset(client),
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Each direction: a reader stamping chunks and a writer delivering them
    // under the current mode, so a delay is latency, not a bandwidth cap.
    let mut cut_rx = mode.clone();
    let cut = tokio::select! {
        _ = async {
            tokio::join!(
                pump(&mut cr, &mut sw, mode.clone(), false),
                pump(&mut sr, &mut cw, mode.clone(), true),
            )
        } => false,
        _ = cut_rx.wait_for(|m| *m == Mode::Cut) => true,
    };
    #[allow(deprecated)]
    if cut {
        // RST instead of FIN on both sides.
        let _ = AsRef::<TcpStream>::as_ref(&cw).set_linger(Some(Duration::ZERO));
        let _ = AsRef::<TcpStream>::as_ref(&sw).set_linger(Some(Duration::ZERO));
    }
}

/// Copies `from` to `to` until either ends or the mode turns to Cut.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    from_master: bool,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Instant, Bytes)>(256);
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send((Instant::now(), Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    let writer = async {
        while let Some((at, chunk)) = rx.recv().await {
            loop {
                let m = *mode.borrow_and_update();
                match m {
                    Mode::Pass => break,
                    Mode::Cut => return,
                    Mode::Stall => {
                        if mode.changed().await.is_err() {
                            return;
                        }
                    }
                    Mode::Slow(d) => {
                        if !from_master {
                            break;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep_until(at + d) => break,
                            r = mode.changed() => if r.is_err() { return },
                        }
                    }
                }
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// The error the HTTP proxy answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFault {
    None,
    /// `code` with a `Status` body, and `Retry-After: secs` when set.
    Status {
        code: u16,
        retry_after: Option<u64>,
    },
}

/// A TLS-terminating HTTP proxy in front of the master.
pub struct HttpFaultProxy {
    pub addr: SocketAddr,
    /// Admin kubeconfig for the proxy (its own CA and client identity).
    pub kubeconfig: String,
    fault: watch::Sender<HttpFault>,
    requests: Arc<AtomicU64>,
    faulted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    _pki: tempfile::TempDir,
}

type ProxyBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

impl HttpFaultProxy {
    /// Forwards to the master of `master_kubeconfig` (its admin identity).
    pub async fn start(master_kubeconfig: &str) -> HttpFaultProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kc = kube::config::Kubeconfig::from_yaml(master_kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let upstream = kube::Client::try_from(cfg).unwrap();
        let pki_dir = tempfile::tempdir().unwrap();
        let pki = master::pki::Pki::load_or_create(pki_dir.path(), &[]).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_tls_config().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let kubeconfig = pki.admin_kubeconfig(&format!("https://{addr}"), "fault-proxy");
        let (fault, rx) = watch::channel(HttpFault::None);
        let requests = Arc::new(AtomicU64::new(0));
        let faulted = Arc::new(AtomicU64::new(0));
        let (rq, fq) = (requests.clone(), faulted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, upstream, rx, rq, fq) = (
                    acceptor.clone(),
                    upstream.clone(),
                    rx.clone(),
                    rq.clone(),
                    fq.clone(),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                        let (upstream, rx, rq, fq) =
                            (upstream.clone(), rx.clone(), rq.clone(), fq.clone());
                        async move {
                            rq.fetch_add(1, Ordering::Relaxed);
                            let fault = *rx.borrow();
                            let resp = match fault {
                                HttpFault::Status { code, retry_after } => {
                                    fq.fetch_add(1, Ordering::Relaxed);
                                    status_response(code, retry_after)
                                }
                                HttpFault::None => forward(&upstream, req).await,
                            };
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        HttpFaultProxy {
            addr,
            kubeconfig,
            fault,
            requests,
            faulted,
            task,
            _pki: pki_dir,
        }
    }

    pub fn set(&self, fault: HttpFault) {
        self.fault.send_replace(fault);
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests answered with the injected error so far.
    pub fn faulted(&self) -> u64 {
        self.faulted.load(Ordering::Relaxed)
    }
}

impl Drop for HttpFaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// kube-apiserver's error answer: a `Status` and, for 429, `Retry-After`.
fn status_response(code: u16, retry_after: Option<u64>) -> http::Response<ProxyBody> {
    let mut details = serde_json::Map::new();
    if let Some(s) = retry_after {
        details.insert("retryAfterSeconds".into(), s.into());
    }
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "injected by the fault proxy",
        "reason": reason(code),
        "details": details,
        "code": code,
    });
    let mut b = http::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(s) = retry_after {
        b = b.header(http::header::RETRY_AFTER, s.to_string());
    }
    b.body(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    )
    .unwrap()
}

/// Sends the request on to the master with the proxy's upstream client;
/// the answer streams back (watches included).
async fn forward(
    upstream: &kube::Client,
    req: http::Request<Incoming>,
) -> http::Response<ProxyBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return status_response(400, None),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut out = http::Request::builder().method(parts.method).uri(path);
    for (k, v) in &parts.headers {
        // The upstream client authenticates itself.
        if k == http::header::AUTHORIZATION || k == http::header::HOST {
            continue;
        }
        out = out.header(k, v);
    }
    let out = out.body(kube::client::Body::from(body)).unwrap();
    match upstream.send(out).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            http::Response::from_parts(
                parts,
                body.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    .boxed_unsync(),
            )
        }
        Err(_) => status_response(503, None),
    }
}
