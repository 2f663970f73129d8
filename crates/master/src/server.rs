//! Starting the embedded master: PKI, store recovery, bootstrap objects, and
//! the HTTPS listener serving HTTP/1.1 and HTTP/2 (ALPN). Usable as a
//! library: [`start`] returns the address, the admin kubeconfig and a
//! shutdown handle.

use crate::api::{self, ApiServer, DeleteOptions, Rendering, Reply};
use crate::auth::{self, Authenticator, Decision, RequestAttributes, UserInfo};
use crate::metrics::{ClientLabels, Metrics, ProcessStats, RequestLabels};
use crate::pki::Pki;
use crate::request::{self, Query, ResourceRequest, Target};
use crate::token::TokenSigner;
use crate::{discovery, openapi, review, table, watch};
use apimachinery::ApiError;
use bytes::Bytes;
use futures::FutureExt as _;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch as tokio_watch};

/// Errors starting the master.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("token auth file: {0}")]
    Auth(String),
    #[error("bootstrap: {0}")]
    Bootstrap(ApiError),
}

/// How to run a master.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    pub listen: SocketAddr,
    /// PKI, kubeconfig and (unless ephemeral) the stored objects.
    pub data_dir: PathBuf,
    /// Keep objects in memory only.
    pub ephemeral: bool,
    /// Where to write the admin kubeconfig; default `<data_dir>/kubeconfig`.
    pub kubeconfig_path: Option<PathBuf>,
    /// Extra IP/DNS names for the serving certificate.
    pub extra_sans: Vec<String>,
    /// kube-apiserver style `--token-auth-file` CSV.
    pub token_auth_file: Option<PathBuf>,
    /// Watch events kept per resource for resuming watches.
    pub history_capacity: usize,
    /// In-flight request and per-user watch limits.
    pub limits: crate::limits::LimitsConfig,
}

impl MasterConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> MasterConfig {
        MasterConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6443)),
            data_dir: data_dir.into(),
            ephemeral: false,
            kubeconfig_path: None,
            extra_sans: Vec::new(),
            token_auth_file: None,
            history_capacity: 10_000,
            limits: crate::limits::LimitsConfig::default(),
        }
    }
}

/// A running master. Dropping it stops the server.
pub struct RunningMaster {
    pub addr: SocketAddr,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    pub kubeconfig_path: PathBuf,
    pub kubeconfig: String,
    pub data_dir: PathBuf,
    pub recovery_warnings: Vec<String>,
    pub pki: Arc<Pki>,
    pub metrics: Arc<Metrics>,
    pub api: Arc<ApiServer>,
    extra_metrics: Arc<parking_lot::RwLock<Vec<MetricsSource>>>,
    shutdown: tokio_watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningMaster {
    /// Stops accepting connections and closes open ones.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        // Ends open watches and waits until accepted writes are on disk.
        self.api.store.close().await;
    }

    /// Adds metrics of another in-process component to `/metrics`.
    pub fn add_metrics_source(&self, source: MetricsSource) {
        self.extra_metrics.write().push(source);
    }

    /// Waits until the server stops (it runs until shutdown).
    pub async fn wait(&mut self) {
        if let Some(t) = self.task.as_mut() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningMaster {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Something else in this process whose metrics `/metrics` also serves
/// (the embedded scheduler and controllers), rendered at scrape time.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

struct Shared {
    api: Arc<ApiServer>,
    metrics: Arc<Metrics>,
    authn: Authenticator,
    server_address: String,
    extra_metrics: Arc<parking_lot::RwLock<Vec<MetricsSource>>>,
    limiter: Arc<crate::limits::Limiter>,
}

/// Starts the master and returns once it accepts connections.
pub async fn start(config: MasterConfig) -> Result<RunningMaster, MasterError> {
    // The data directory holds keys, kubeconfigs and every stored object
    // (Secrets included): owner only.
    private_dir(&config.data_dir).map_err(|source| MasterError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| MasterError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| MasterError::Listen {
            addr: config.listen,
            source,
        })?;
    let mut sans = config.extra_sans.clone();
    sans.push(addr.ip().to_string());
    let pki = Arc::new(Pki::load_or_create(&config.data_dir.join("pki"), &sans)?);
    let store_cfg = store::StoreConfig {
        dir: (!config.ephemeral).then(|| config.data_dir.join("store")),
        history_capacity: config.history_capacity,
        snapshot_every_records: 50_000,
    };
    let (store, report) = store::Store::open(store_cfg).await?;
    for w in &report.warnings {
        tracing::warn!("store recovery: {w}");
    }
    let signer = TokenSigner::from_pki(&pki).map_err(|e| MasterError::Auth(e.to_string()))?;
    let mut authn = Authenticator::new(
        TokenSigner::from_pki(&pki).map_err(|e| MasterError::Auth(e.to_string()))?,
    );
    if let Some(path) = &config.token_auth_file {
        authn
            .load_token_file(path)
            .map_err(|e| MasterError::Auth(e.to_string()))?;
    }
    let api = Arc::new(ApiServer::new(store, signer, pki.ca_pem().to_string()));
    api.load_cluster_ips().map_err(MasterError::Bootstrap)?;
    bootstrap(&api, addr)
        .await
        .map_err(MasterError::Bootstrap)?;
    let url = format!("https://{}", url_host(addr));
    let kubeconfig = pki.admin_kubeconfig(&url, "kubemark");
    let kubeconfig_path = config
        .kubeconfig_path
        .clone()
        .unwrap_or_else(|| config.data_dir.join("kubeconfig"));
    Pki::write_kubeconfig(&kubeconfig_path, &kubeconfig)?;
    let metrics = Arc::new(Metrics::new());
    let tls = pki.server_tls_config()?;
    let extra_metrics = Arc::new(parking_lot::RwLock::new(Vec::new()));
    let shared = Arc::new(Shared {
        api: api.clone(),
        metrics: metrics.clone(),
        authn,
        server_address: addr.to_string(),
        extra_metrics: extra_metrics.clone(),
        limiter: crate::limits::Limiter::new(config.limits),
    });
    let (shutdown, shutdown_rx) = tokio_watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, tls, shared, shutdown_rx));
    Ok(RunningMaster {
        addr,
        url,
        kubeconfig_path,
        kubeconfig,
        data_dir: config.data_dir,
        recovery_warnings: report.warnings,
        pki,
        metrics,
        api,
        extra_metrics,
        shutdown,
        task: Some(task),
    })
}

/// Creates `dir` (and parents) mode 0700 and tightens an existing one.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn url_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    }
}

/// What the real API server creates for itself at startup.
async fn bootstrap(api: &ApiServer, addr: SocketAddr) -> Result<(), ApiError> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        api.ensure(
            ("", "namespaces"),
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    for (name, value, description) in [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        api.ensure(
            ("scheduling.k8s.io", "priorityclasses"),
            "",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                   "value": value, "description": description}),
        )
        .await?;
    }
    api.ensure(
        ("", "services"),
        "default",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": addr.port()}],
                        "sessionAffinity": "None", "type": "ClusterIP"}}),
    )
    .await?;
    api.ensure(
        ("", "endpoints"),
        "default",
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
               "subsets": [{"addresses": [{"ip": url_host(addr).rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']']).to_string()).unwrap_or_default()}],
                            "ports": [{"name": "https", "port": addr.port(), "protocol": "TCP"}]}]}),
    )
    .await?;
    for (plural, obj) in review::default_rbac_objects() {
        api.ensure(("rbac.authorization.k8s.io", plural), "", obj)
            .await?;
    }
    for service in discovery::local_api_services(&api::now_rfc3339()) {
        api.ensure(("apiregistration.k8s.io", "apiservices"), "", service)
            .await?;
    }
    Ok(())
}

/// How often repeated accept failures are logged.
pub const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Backoff of the accept loop after failures (Go's net/http: 5 ms doubling
/// to 1 s, reset by a success), and a count of failures logged at most once
/// per [`ACCEPT_LOG_INTERVAL`].
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    delay: Option<Duration>,
    failures: u64,
    last_report: Option<std::time::Instant>,
}

impl AcceptBackoff {
    /// A failure at `now`: how long to wait, and the failures to report
    /// (including this one) if a log line is due.
    pub fn failed(&mut self, now: std::time::Instant) -> (Duration, Option<u64>) {
        let delay = match self.delay {
            None => Duration::from_millis(5),
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        self.failures += 1;
        let due = self
            .last_report
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_LOG_INTERVAL);
        if due {
            self.last_report = Some(now);
            let n = self.failures;
            self.failures = 0;
            (delay, Some(n))
        } else {
            (delay, None)
        }
    }

    pub fn succeeded(&mut self) {
        self.delay = None;
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    mut shutdown: tokio_watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut backoff = AcceptBackoff::default();
    loop {
        let (tcp, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => {
                    backoff.succeeded();
                    c
                }
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or another
                    // transient error: back off like Go's http.Server
                    // (5 ms doubling to 1 s) while open connections keep
                    // being served, and log once per interval with a count.
                    let (delay, report) = backoff.failed(std::time::Instant::now());
                    if let Some(n) = report {
                        tracing::warn!(
                            "accept failed: {e} ({n} times in the last {}s; retrying in {}ms)",
                            ACCEPT_LOG_INTERVAL.as_secs(),
                            delay.as_millis()
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    _ => return,
                };
            let cert_user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| auth::user_from_client_cert(der.as_ref()).ok());
            let cert_user = Arc::new(cert_user);
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let cert_user = cert_user.clone();
                async move {
                    // A bug must not take the connection (and its other
                    // streams) down: answer 500 instead.
                    let handled = std::panic::AssertUnwindSafe(handle(shared, cert_user, req))
                        .catch_unwind()
                        .await;
                    Ok::<_, std::convert::Infallible>(handled.unwrap_or_else(|_| {
                        error_response(&ApiError::internal(
                            "internal error while handling the request",
                        ))
                    }))
                }
            });
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // Header limits of Go's HTTP server (1 MiB): larger request
            // heads get 431 (HTTP/1.1) or a stream reset (HTTP/2).
            builder
                .http1()
                .max_buf_size(crate::limits::MAX_HEADER_BYTES);
            builder
                .http2()
                .max_header_list_size(crate::limits::MAX_HEADER_BYTES as u32)
                .timer(hyper_util::rt::TokioTimer::new())
                .max_concurrent_streams(1000)
                .keep_alive_interval(Some(Duration::from_secs(30)));
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

/// A response body: a whole buffer, or a stream of chunks (watches), or
/// one of these holding a limiter slot until the body is dropped.
pub enum RespBody {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
    Held(Box<RespBody>, crate::limits::Permit),
}

impl hyper::body::Body for RespBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            RespBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RespBody::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            RespBody::Held(inner, _) => Pin::new(inner.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RespBody::Held(inner, _) => inner.is_end_stream(),
            other => matches!(other, RespBody::Full(None)),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            RespBody::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            RespBody::Full(None) => hyper::body::SizeHint::with_exact(0),
            RespBody::Stream(_) => hyper::body::SizeHint::default(),
            RespBody::Held(inner, _) => inner.size_hint(),
        }
    }
}

fn respond(code: u16, content_type: &str, body: Bytes) -> Response<RespBody> {
    let mut resp = Response::new(RespBody::Full(Some(body)));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn json_response(code: u16, v: &Value) -> Response<RespBody> {
    respond(
        code,
        "application/json",
        Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
    )
}

fn error_response(e: &ApiError) -> Response<RespBody> {
    let mut resp = json_response(e.code, &e.to_status());
    if let Some(s) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    resp
}

fn header(req: &Request<Incoming>, name: http::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Outcome of one request, for metrics.
struct Outcome {
    response: Response<RespBody>,
    labels: Option<RequestLabels>,
}

async fn handle(
    shared: Arc<Shared>,
    cert_user: Arc<Option<UserInfo>>,
    req: Request<Incoming>,
) -> Response<RespBody> {
    let started = Instant::now();
    let user_agent = header(&req, http::header::USER_AGENT)
        .unwrap_or("")
        .to_string();
    let user = match (*cert_user).clone() {
        Some(u) => Ok(Some(u)),
        None => {
            let authz = header(&req, http::header::AUTHORIZATION);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            shared
                .authn
                .authenticate(None, authz, now)
                .map_err(|_| ApiError::unauthorized())
        }
    };
    let user_name = ApiServer::user_label(user.as_ref().ok().and_then(Option::as_ref));
    let outcome = match user {
        Err(e) => Outcome {
            response: error_response(&e),
            labels: None,
        },
        Ok(user) => route(&shared, user.as_ref(), req).await,
    };
    let code = outcome.response.status().as_u16();
    if let Some(labels) = outcome.labels {
        let client = ClientLabels {
            user: user_name,
            user_agent,
            verb: labels.verb,
            group: labels.group.clone(),
            resource: labels.resource.clone(),
            subresource: labels.subresource.clone(),
        };
        shared
            .metrics
            .observe(labels, code, started.elapsed().as_secs_f64(), Some(client));
    }
    outcome.response
}

/// What unauthenticated clients may read: exactly the paths of the real
/// server's `system:public-info-viewer` role (bound to
/// `system:unauthenticated`); everything else is 401.
fn is_public(path: &str) -> bool {
    auth::PUBLIC_INFO_PATHS.contains(&path)
}

async fn route(shared: &Shared, user: Option<&UserInfo>, req: Request<Incoming>) -> Outcome {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let watch_flag = match query.flag("watch") {
        Ok(w) => w,
        Err(e) => {
            return Outcome {
                response: error_response(&e),
                labels: None,
            }
        }
    };
    let target = match shared
        .api
        .classify(req.method().as_str(), &path, watch_flag)
    {
        Ok(t) => t,
        Err(e) => {
            return Outcome {
                response: error_response(&e),
                labels: None,
            }
        }
    };
    match target {
        Target::NonResource(path) => {
            if let Err(e) = authorize_path(user, req.method().as_str(), &path) {
                return Outcome {
                    response: error_response(&e),
                    labels: None,
                };
            }
            Outcome {
                response: non_resource(shared, &path, &req),
                labels: None,
            }
        }
        Target::Resource(r) => {
            let labels = RequestLabels {
                verb: request::metrics_verb(r.verb, req.method().as_str()),
                dry_run: if query.non_empty("dryRun").is_some() {
                    "All"
                } else {
                    ""
                },
                group: r.info.group.to_string(),
                version: r.info.version.to_string(),
                resource: r.info.plural.to_string(),
                subresource: r.subresource.clone(),
                scope: r.scope(),
                component: "apiserver",
            };
            let Some(user) = user else {
                return Outcome {
                    response: error_response(&ApiError::unauthorized()),
                    labels: Some(labels),
                };
            };
            // Creates are authorized once the body names the object.
            if !(r.verb == "create" && r.name.is_empty()) {
                if let Err(e) = authorize(shared, user, &r, &r.name) {
                    return Outcome {
                        response: error_response(&e),
                        labels: Some(labels),
                    };
                }
            }
            let mutating = !matches!(r.verb, "get" | "list" | "watch");
            // kube-apiserver's max-in-flight filter exempts long-running
            // requests (watches); we cap those per user instead.
            let permit = if r.verb == "watch" {
                shared.limiter.watch(&user.name)
            } else {
                shared.limiter.request(mutating)
            };
            let permit = match permit {
                Ok(p) => p,
                Err(e) => {
                    return Outcome {
                        response: error_response(&e),
                        labels: Some(labels),
                    }
                }
            };
            let watching = r.verb == "watch";
            let _inflight = shared.metrics.inflight(mutating);
            let protobuf = crate::protobuf_response::wanted(req.headers());
            let (api_version, kind) = (r.info.api_version(), r.info.kind);
            let response = match resource(shared, user, r, query, req).await {
                Ok(resp) => resp,
                Err(e) => error_response(&e),
            };
            let response = if protobuf {
                crate::protobuf_response::convert(response, (&api_version, kind))
            } else {
                response
            };
            // A watch keeps its slot while its stream is open.
            let response = if watching {
                response.map(|b| RespBody::Held(Box::new(b), permit))
            } else {
                drop(permit);
                response
            };
            Outcome {
                response,
                labels: Some(labels),
            }
        }
    }
}

fn authorize(
    shared: &Shared,
    user: &UserInfo,
    r: &ResourceRequest,
    name: &str,
) -> Result<(), ApiError> {
    let path = String::new();
    let attrs = RequestAttributes {
        verb: r.verb,
        group: r.info.group,
        resource: r.info.plural,
        subresource: &r.subresource,
        namespace: &r.namespace,
        name,
        path: &path,
    };
    match auth::authorize(user, &attrs) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => Err(auth::forbidden_error(&attrs, &reason)),
        Decision::AllowIfPodOnNode { node } => match shared.api.pod_node(&r.namespace, name) {
            Some(n) if n == node => Ok(()),
            // A pod that is gone is the caller's 404, not a 403.
            None if shared.api.get(r).is_err() => Ok(()),
            _ => Err(auth::pod_not_on_node(&attrs, &node)),
        },
    }
}

fn authorize_path(user: Option<&UserInfo>, method: &str, path: &str) -> Result<(), ApiError> {
    if is_public(path) {
        return Ok(());
    }
    let Some(user) = user else {
        return Err(ApiError::unauthorized());
    };
    let verb = method.to_ascii_lowercase();
    let attrs = RequestAttributes {
        verb: &verb,
        path,
        ..RequestAttributes::default()
    };
    match auth::authorize(user, &attrs) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => Err(auth::forbidden_error(&attrs, &reason)),
        Decision::AllowIfPodOnNode { .. } => {
            Err(auth::forbidden_error(&attrs, "not a resource request"))
        }
    }
}

fn non_resource(shared: &Shared, path: &str, req: &Request<Incoming>) -> Response<RespBody> {
    let accept = header(req, http::header::ACCEPT).unwrap_or("");
    // Discovery and OpenAPI with the custom resources of stored CRDs.
    if let Some((code, content_type, body)) = shared.api.crds.non_resource(path, accept) {
        return respond(code, content_type, body);
    }
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    let p = path.trim_end_matches('/');
    let p = if p.is_empty() { "/" } else { p };
    match p {
        "/healthz" | "/livez" | "/readyz" => {
            respond(200, "text/plain; charset=utf-8", Bytes::from_static(b"ok"))
        }
        _ if p.starts_with("/healthz/")
            || p.starts_with("/livez/")
            || p.starts_with("/readyz/") =>
        {
            respond(200, "text/plain; charset=utf-8", Bytes::from_static(b"ok"))
        }
        "/version" => json_response(200, &discovery::version_info()),
        "/api" if aggregated => aggregated_response(discovery::aggregated_discovery(true)),
        "/apis" if aggregated => aggregated_response(discovery::aggregated_discovery(false)),
        "/api" => json_response(200, &discovery::api_versions(&shared.server_address)),
        "/apis" => json_response(200, &discovery::api_group_list()),
        "/metrics" => {
            let counts = shared.api.store.counts();
            let mut text = shared.metrics.render(&counts, ProcessStats::read());
            for source in shared.extra_metrics.read().iter() {
                text.push_str(&source());
            }
            respond(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                Bytes::from(text),
            )
        }
        // Per-client request counts, bounded (kept out of /metrics).
        "/debug/requests" => json_response(200, &shared.metrics.clients_json()),
        "/openapi/v2" if accept.contains("protobuf") && !accept.contains("json") => {
            error_response(&ApiError::not_acceptable(
                "only the following media types are accepted: application/json",
            ))
        }
        "/openapi/v2" => respond(
            200,
            "application/json",
            Bytes::from_static(openapi::openapi_v2_bytes()),
        ),
        "/openapi/v3" => json_response(200, &openapi::openapi_v3_root()),
        _ => {
            if let Some(rest) = p.strip_prefix("/openapi/v3/") {
                let parts: Vec<&str> = rest.split('/').collect();
                let doc = match parts.as_slice() {
                    ["api", v] => openapi::openapi_v3_group_version_bytes("", v),
                    ["apis", g, v] => openapi::openapi_v3_group_version_bytes(g, v),
                    _ => None,
                };
                return match doc {
                    Some(d) => respond(200, "application/json", Bytes::from_static(d)),
                    None => error_response(&ApiError::no_such_resource()),
                };
            }
            let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
            let doc = match parts.as_slice() {
                ["api", v] => discovery::api_resource_list("", v),
                ["apis", g] => discovery::api_group(g),
                ["apis", g, v] => discovery::api_resource_list(g, v),
                _ => None,
            };
            match doc {
                Some(d) => json_response(200, &d),
                None => error_response(&ApiError::no_such_resource()),
            }
        }
    }
}

fn aggregated_response(v: Value) -> Response<RespBody> {
    respond(
        200,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
    )
}

async fn read_body(req: Request<Incoming>) -> Result<(http::request::Parts, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, api::MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(c) => Ok((parts, c.to_bytes())),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::request_entity_too_large(format!(
                    "Request entity too large: limit is {}",
                    api::MAX_BODY_BYTES
                )))
            } else {
                Err(ApiError::bad_request(format!(
                    "error reading request body: {e}"
                )))
            }
        }
    }
}

fn reply_response(reply: Reply) -> Response<RespBody> {
    respond(reply.code, "application/json", reply.body)
}

/// Renders a single object or list in the form the client asked for.
fn rendered_object(
    r: &ResourceRequest,
    rendering: Rendering,
    include: table::IncludeObject,
    json_bytes: Bytes,
) -> Result<Response<RespBody>, ApiError> {
    match rendering {
        Rendering::Object => Ok(respond(200, "application/json", json_bytes)),
        Rendering::Table => {
            let v: Value = serde_json::from_slice(&json_bytes)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let t =
                table::to_table_single_for(r.info, &v, include, time::OffsetDateTime::now_utc());
            Ok(json_response(200, &t))
        }
        Rendering::PartialObjectMetadata => {
            let v: Value = serde_json::from_slice(&json_bytes)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json_response(
                200,
                &json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata")}),
            ))
        }
    }
}

fn include_object(query: &Query) -> table::IncludeObject {
    match query.get("includeObject") {
        Some("None") => table::IncludeObject::None,
        Some("Object") => table::IncludeObject::Object,
        _ => table::IncludeObject::Metadata,
    }
}

/// Unknown-field checking for writes, per the `fieldValidation` parameter.
fn field_validation(
    query: &Query,
    r: &ResourceRequest,
    obj: &Value,
) -> Result<Vec<String>, ApiError> {
    let mode = query.get("fieldValidation").unwrap_or("");
    if mode.is_empty() || mode == "Ignore" {
        return Ok(Vec::new());
    }
    if mode != "Strict" && mode != "Warn" {
        return Err(ApiError::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {mode:?}"
        )));
    }
    let unknown = crate::schema_validation::unknown_fields(r.info.group, r.info.kind, obj);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    if mode == "Strict" {
        return Err(crate::schema_validation::strict_error(
            r.info.kind,
            r.info.version,
            &unknown,
        ));
    }
    Ok(unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect())
}

fn with_warnings(mut resp: Response<RespBody>, warnings: &[String]) -> Response<RespBody> {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {:?}", w)) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

async fn resource(
    shared: &Shared,
    user: &UserInfo,
    r: ResourceRequest,
    query: Query,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, ApiError> {
    let api = &shared.api;
    let accept = header(&req, http::header::ACCEPT).map(String::from);
    let content_type = header(&req, http::header::CONTENT_TYPE).map(String::from);
    let rendering = Rendering::for_resource(r.info, accept.as_deref())?;
    let dry_run = match query.non_empty("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported dryRun value {other:?}: only \"All\" is supported"
            )))
        }
    };
    let sub = r.subresource.clone();
    if let Some(early) = answered_resource(shared, &r, rendering, &query)? {
        return Ok(early);
    }
    let review_kind = review::ReviewKind::of(r.info);
    match (r.verb, sub.as_str()) {
        ("create", "") if review_kind.is_some() => {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, r.info.kind)?;
            authorize(shared, user, &r, "")?;
            let kind = review_kind.ok_or_else(|| ApiError::internal("not a review"))?;
            let pod_node = |ns: &str, name: &str| api.pod_node(ns, name);
            let cx = review::ReviewContext {
                requester: user,
                namespace: &r.namespace,
                authenticator: &shared.authn,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
                pod_node: &pod_node,
            };
            Ok(json_response(201, &review::answer(kind, v, &cx)?))
        }
        ("get", "scale") => Ok(reply_response(api.get_scale(&r)?)),
        ("get", _) => {
            let obj = api.get(&r)?;
            rendered_object(&r, rendering, include_object(&query), obj.json.clone())
        }
        ("list", _) => {
            let result = watch::list_fresh(api, &r, &query).await?;
            match rendering {
                Rendering::Object => Ok(respond(
                    200,
                    "application/json",
                    ApiServer::list_json(r.info, &result),
                )),
                Rendering::Table => {
                    let items: Vec<Value> = result
                        .items
                        .iter()
                        .map(|o| serde_json::from_slice(&o.json).unwrap_or(Value::Null))
                        .collect();
                    let mut meta = json!({"resourceVersion": result.rv.to_string()});
                    if let Some(c) = &result.continue_token {
                        meta["continue"] = json!(c);
                    }
                    if let Some(n) = result.remaining_item_count {
                        meta["remainingItemCount"] = json!(n);
                    }
                    let t = table::to_table_for(
                        r.info,
                        &items,
                        meta,
                        include_object(&query),
                        time::OffsetDateTime::now_utc(),
                    );
                    Ok(json_response(200, &t))
                }
                Rendering::PartialObjectMetadata => {
                    let items: Vec<Value> = result
                        .items
                        .iter()
                        .map(|o| {
                            let v: Value = serde_json::from_slice(&o.json).unwrap_or(Value::Null);
                            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata")})
                        })
                        .collect();
                    let mut meta = json!({"resourceVersion": result.rv.to_string()});
                    if let Some(c) = &result.continue_token {
                        meta["continue"] = json!(c);
                    }
                    Ok(json_response(
                        200,
                        &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
                    ))
                }
            }
        }
        ("watch", _) => {
            let w = watch::WatchRequest::parse(&r, &query, rendering)?;
            let metrics = shared.metrics.clone();
            let (group, plural, scope) = (r.info.group, r.info.plural, r.scope());
            let rx = watch::start(api.clone(), r, w)?;
            metrics.watch_started(group, plural, scope);
            let (tx2, rx2) = mpsc::channel::<Bytes>(16);
            // Relay so that the longrunning gauge drops when the stream ends.
            tokio::spawn(async move {
                let mut rx = rx;
                while let Some(b) = rx.recv().await {
                    if tx2.send(b).await.is_err() {
                        break;
                    }
                }
                metrics.watch_ended(group, plural, scope);
            });
            let mut resp = Response::new(RespBody::Stream(rx2));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        ("delete", _) => {
            let (_, body) = read_body(req).await?;
            let opts = DeleteOptions::parse(&query, &body)?;
            Ok(reply_response(api.delete(&r, &opts).await?))
        }
        ("deletecollection", _) => {
            let (_, body) = read_body(req).await?;
            let opts = DeleteOptions::parse(&query, &body)?;
            Ok(reply_response(
                api.delete_collection(&r, &query, &opts).await?,
            ))
        }
        ("patch", "scale") => {
            let (_, body) = read_body(req).await?;
            Ok(reply_response(
                api.update_scale(&r, Some((content_type.as_deref(), &body)), None, dry_run)
                    .await?,
            ))
        }
        ("update", "scale") => {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, "Scale")?;
            Ok(reply_response(
                api.update_scale(&r, None, Some(v), dry_run).await?,
            ))
        }
        ("patch", _) => {
            let (_, body) = read_body(req).await?;
            Ok(reply_response(
                api.patch(&r, content_type.as_deref(), &body, dry_run)
                    .await?,
            ))
        }
        ("create", "binding") | ("create", "")
            if r.info.plural == "bindings" || sub == "binding" =>
        {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, "Binding")?;
            if r.name.is_empty() {
                let body_name = v
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                authorize(shared, user, &r, body_name)?;
            }
            Ok(reply_response(api.bind(&r, v).await?))
        }
        ("create", "eviction") => {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, "Eviction")?;
            Ok(reply_response(api.evict(&r, v).await?))
        }
        ("create", "token") => {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, "TokenRequest")?;
            Ok(reply_response(api.token_request(&r, v)?))
        }
        ("create", "") => {
            let (_, body) = read_body(req).await?;
            let mut v = api::decode_body(content_type.as_deref(), &body, r.info.kind)?;
            if r.info.kind == "CertificateSigningRequest" {
                crate::admission::kinds::stamp_csr_requester(&mut v, user);
            }
            let body_name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            authorize(shared, user, &r, body_name)?;
            let warnings = field_validation(&query, &r, &v)?;
            Ok(with_warnings(
                reply_response(api.create(&r, v, dry_run).await?),
                &warnings,
            ))
        }
        ("update", _) => {
            let (_, body) = read_body(req).await?;
            let v = api::decode_body(content_type.as_deref(), &body, r.info.kind)?;
            let warnings = field_validation(&query, &r, &v)?;
            Ok(with_warnings(
                reply_response(api.update(&r, v, dry_run).await?),
                &warnings,
            ))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// Requests answered before the stored-object handlers: verbs a resource
/// does not have (405, as the real server has no such route), `Table` for
/// kinds that cannot be listed (406: the real server has no table
/// convertor for them, e.g. SelfSubjectAccessReview), and the
/// componentstatuses, which are probed rather than stored.
fn answered_resource(
    shared: &Shared,
    r: &ResourceRequest,
    rendering: Rendering,
    query: &Query,
) -> Result<Option<Response<RespBody>>, ApiError> {
    if r.subresource.is_empty() && !r.info.supports(r.verb) {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    if rendering == Rendering::Table && !r.info.supports("list") {
        return Err(ApiError::not_acceptable(
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        ));
    }
    if r.info.group.is_empty() && r.info.plural == "componentstatuses" {
        let objects = shared.api.store.counts().iter().map(|(_, n)| n).sum();
        let v = review::component_status_response(&r.name, objects)?;
        let now = time::OffsetDateTime::now_utc();
        let include = include_object(query);
        return Ok(Some(match rendering {
            Rendering::Table if r.name.is_empty() => {
                let items = v["items"].as_array().cloned().unwrap_or_default();
                json_response(
                    200,
                    &table::to_table(&r.info.storage_name(), &items, json!({}), include, now),
                )
            }
            Rendering::Table => json_response(
                200,
                &table::to_table_single(&r.info.storage_name(), &v, include, now),
            ),
            _ => json_response(200, &v),
        }));
    }
    Ok(None)
}

/// Default data directory: `$XDG_DATA_HOME/kubemark/master` or
/// `~/.local/share/kubemark/master`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Path::new(&x).join("kubemark").join("master");
    }
    match std::env::var_os("HOME") {
        Some(h) => Path::new(&h).join(".local/share/kubemark/master"),
        None => PathBuf::from("kubemark-data"),
    }
}

#[cfg(test)]
mod accept_backoff_tests {
    use super::*;

    #[test]
    fn backs_off_like_go_and_logs_once_per_interval() {
        let mut b = AcceptBackoff::default();
        let t0 = std::time::Instant::now();
        let delays: Vec<u128> = (0..10)
            .map(|i| b.failed(t0 + Duration::from_millis(i)).0.as_millis())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        // Only the first failure of the interval was reported...
        let mut b = AcceptBackoff::default();
        assert_eq!(b.failed(t0).1, Some(1));
        for i in 1..1000 {
            assert_eq!(b.failed(t0 + Duration::from_millis(i)).1, None);
        }
        // ...and the next report counts everything since.
        assert_eq!(b.failed(t0 + ACCEPT_LOG_INTERVAL).1, Some(1000));
        b.succeeded();
        assert_eq!(
            b.failed(t0 + ACCEPT_LOG_INTERVAL).0,
            Duration::from_millis(5)
        );
    }
}
