//! `kubemark dashboard`'s HTTP server: the page and its assets (compiled
//! into the binary), `/api/data` (runs, rescanned on every request so new
//! runs appear without a restart) and `/api/compare`.

use crate::compare::{self, Tolerances};
use crate::report;
use crate::runs::{self, Run};
use crate::view;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Config {
    pub dirs: Vec<PathBuf>,
    pub listen: SocketAddr,
    pub tolerances: Tolerances,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ServerError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// A running server; dropping it does not stop it, [`Server::shutdown`] does.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn shutdown(self) {
        self.task.abort();
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

pub async fn start(config: Config) -> Result<Server, ServerError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError {
        addr: config.listen,
        source,
    })?;
    let config = Arc::new(config);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("dashboard: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let config = config.clone();
            // Connections live in the set, so they end with the server.
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let config = config.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(&config, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
            while conns.try_join_next().is_some() {}
        }
    });
    Ok(Server { addr, task })
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string(),
    )
}

/// Query parameter `name` (percent-decoded).
fn query(req: &Request<Incoming>, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn scan(config: &Arc<Config>) -> runs::Scan {
    let dirs = config.dirs.clone();
    tokio::task::spawn_blocking(move || runs::scan(&dirs))
        .await
        .unwrap_or_else(|e| runs::Scan {
            runs: Vec::new(),
            problems: vec![runs::Problem {
                path: "(scan)".into(),
                message: format!("scanning failed: {e}"),
            }],
        })
}

async fn handle(config: &Arc<Config>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return json_error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
    }
    match req.uri().path() {
        "/" | "/index.html" => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            report::served_page(),
        ),
        "/app.js" => respond(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            report::APP_JS,
        ),
        "/app.css" => respond(StatusCode::OK, "text/css; charset=utf-8", report::APP_CSS),
        "/api/data" => {
            let s = scan(config).await;
            let model = view::model(&s, &config.tolerances);
            respond(
                StatusCode::OK,
                "application/json",
                view::script_json(&model),
            )
        }
        "/api/compare" => {
            let ids = |name: &str| -> Vec<String> {
                query(&req, name)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            let (base, new) = (ids("base"), ids("new"));
            if base.is_empty() || new.is_empty() {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "pass base=<run id>[,...] and new=<run id>[,...]",
                );
            }
            let mut tol = config.tolerances.clone();
            if let Some(t) = query(&req, "tolerance").filter(|t| !t.is_empty()) {
                match compare::parse_tolerance(&t) {
                    Ok(p) => tol.default_pct = p,
                    Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
                }
            }
            let s = scan(config).await;
            let pick = |ids: &[String]| -> Result<Vec<&Run>, String> {
                ids.iter()
                    .map(|id| {
                        s.run(id).ok_or_else(|| {
                            format!("no run {id:?} (rescanned: {} runs)", s.runs.len())
                        })
                    })
                    .collect()
            };
            match (pick(&base), pick(&new)) {
                (Ok(b), Ok(n)) => {
                    let c = compare::compare(&b, &n, &tol);
                    respond(StatusCode::OK, "application/json", view::script_json(&c))
                }
                (Err(e), _) | (_, Err(e)) => json_error(StatusCode::NOT_FOUND, &e),
            }
        }
        _ => json_error(StatusCode::NOT_FOUND, "no such page; the dashboard is at /"),
    }
}
