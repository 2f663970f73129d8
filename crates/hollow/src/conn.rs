//! Connections to the master: one HTTP/2 connection per kube client
//! (hyper-util's pool with `http2_only` multiplexes every request and
//! watch of the client on it), grouped in sets that cap the streams per
//! connection and open another connection when all are full. Each hollow
//! kubelet and proxy has its own set, like a real kubelet's single
//! connection; `--shared-connections` puts many nodes on one set.

use crate::error::HollowError;
use crate::metrics::Metrics;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{ClientBuilder, ConfigExt};
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client certificate and key (PEM) for one node identity.
#[derive(Debug, Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl Identity {
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Identity, String> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("certificate PEM: {e}"))?;
        if certs.is_empty() {
            return Err("certificate PEM holds no certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| format!("private key PEM: {e}"))?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("private key: {e}"))?;
        Ok(Identity {
            key: Arc::new(CertifiedKey::new(certs, signer)),
        })
    }
}

#[derive(Debug)]
struct FixedIdentity(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedIdentity {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Request headers that carry the kubeconfig's credentials (bearer token,
/// token file, basic auth) and impersonation, added to every request of
/// connections that do not present a per-node client certificate.
#[derive(Debug, Default)]
pub struct AuthHeaders {
    fixed: Vec<(HeaderName, HeaderValue)>,
    token_file: Option<TokenFile>,
}

#[derive(Debug)]
struct TokenFile {
    path: PathBuf,
    /// The token and when it was read (client-go re-reads every minute).
    cached: Mutex<Option<(Instant, HeaderValue)>>,
}

impl AuthHeaders {
    /// Headers from the kubeconfig user. Exec plugins and auth providers
    /// that yield tokens need kube's refreshing middleware, which cannot
    /// sit on our HTTP/2 stack: they are refused with a clear message.
    pub fn from_config(config: &kube::Config) -> Result<AuthHeaders, HollowError> {
        let bad = |m: String| HollowError::Kubeconfig(m);
        // The secrets are only reachable through the kubeconfig encoding.
        let user = serde_json::to_value(&config.auth_info)
            .map_err(|e| bad(format!("reading the user credentials: {e}")))?;
        let text = |k: &str| user.get(k).and_then(|v| v.as_str()).map(String::from);
        let value = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                bad("a credential contains characters not allowed in HTTP headers".into())
            })
        };
        let mut fixed = Vec::new();
        let mut token_file = None;
        if let Some(token) = text("token") {
            let mut v = value(&format!("Bearer {}", token.trim()))?;
            v.set_sensitive(true);
            fixed.push((AUTHORIZATION, v));
        } else if let Some(path) = text("tokenFile") {
            token_file = Some(TokenFile {
                path: PathBuf::from(path),
                cached: Mutex::new(None),
            });
        } else if let (Some(u), Some(p)) = (text("username"), text("password")) {
            use base64::Engine as _;
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            let mut v = value(&format!("Basic {enc}"))?;
            v.set_sensitive(true);
            fixed.push((AUTHORIZATION, v));
        } else if user.get("auth-provider").is_some_and(|v| !v.is_null()) {
            return Err(bad(
                "the kubeconfig user uses an auth-provider plugin, which the hollow fleet does not support; use a token, token file, basic auth or client certificate".into(),
            ));
        } else if user.get("exec").is_some_and(|v| !v.is_null())
            && config.auth_info.client_certificate_data.is_none()
            && config.auth_info.client_certificate.is_none()
        {
            tracing::warn!(
                "the kubeconfig user runs an exec plugin: only client certificates it returns are used, not tokens"
            );
        }
        if let Some(u) = text("as") {
            fixed.push((HeaderName::from_static("impersonate-user"), value(&u)?));
        }
        if let Some(u) = text("as-uid") {
            fixed.push((HeaderName::from_static("impersonate-uid"), value(&u)?));
        }
        if let Some(groups) = user.get("as-groups").and_then(|v| v.as_array()) {
            for g in groups.iter().filter_map(|g| g.as_str()) {
                fixed.push((HeaderName::from_static("impersonate-group"), value(g)?));
            }
        }
        for (k, v) in &config.headers {
            fixed.push((k.clone(), v.clone()));
        }
        Ok(AuthHeaders { fixed, token_file })
    }

    /// Adds the headers to a request.
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        for (k, v) in &self.fixed {
            headers.append(k.clone(), v.clone());
        }
        if let Some(tf) = &self.token_file {
            let mut cached = tf.cached.lock();
            let stale = cached
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= Duration::from_secs(60));
            if stale {
                match std::fs::read_to_string(&tf.path) {
                    Ok(t) => {
                        if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", t.trim())) {
                            v.set_sensitive(true);
                            *cached = Some((Instant::now(), v));
                        }
                    }
                    Err(e) => tracing::warn!("token file {}: {e}", tf.path.display()),
                }
            }
            if let Some((_, v)) = cached.as_ref() {
                headers.insert(AUTHORIZATION, v.clone());
            }
        }
    }
}

/// How to reach the master: the kubeconfig plus its TLS settings, built
/// once and shared by every connection.
pub struct Transport {
    config: kube::Config,
    tls: Option<rustls::ClientConfig>,
    auth: Arc<AuthHeaders>,
    no_auth: Arc<AuthHeaders>,
}

/// Installs ring as the process's rustls provider (once; a provider that
/// is already installed is kept).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Transport {
    pub fn new(config: kube::Config) -> Result<Transport, HollowError> {
        install_crypto_provider();
        let https = config.cluster_url.scheme_str() == Some("https");
        let tls = if https {
            Some(
                config
                    .rustls_client_config()
                    .map_err(|e| HollowError::Tls(e.to_string()))?,
            )
        } else {
            None
        };
        let auth = Arc::new(AuthHeaders::from_config(&config)?);
        Ok(Transport {
            config,
            tls,
            auth,
            no_auth: Arc::new(AuthHeaders::default()),
        })
    }

    pub fn cluster_url(&self) -> &Uri {
        &self.config.cluster_url
    }

    /// The credential headers for connections with (`identity`) or
    /// without a per-node client certificate.
    pub fn auth_headers(&self, identity: bool) -> Arc<AuthHeaders> {
        if identity {
            self.no_auth.clone()
        } else {
            self.auth.clone()
        }
    }

    /// A kube client on a connection of its own. With `identity`, TLS
    /// presents that client certificate; session resumption is then off so
    /// that no node resumes another node's authenticated session.
    pub fn client(&self, identity: Option<&Identity>) -> Result<kube::Client, HollowError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
        builder
            .http2_only(true)
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            // Like client-go's HTTP/2 health check: ping an idle connection.
            .http2_keep_alive_interval(Some(Duration::from_secs(30)))
            .http2_keep_alive_timeout(Duration::from_secs(15))
            .http2_keep_alive_while_idle(true)
            .pool_max_idle_per_host(1);
        let ns = self.config.default_namespace.clone();
        match &self.tls {
            Some(base) => {
                let mut tls = base.clone();
                if let Some(id) = identity {
                    tls.client_auth_cert_resolver = Arc::new(FixedIdentity(id.key.clone()));
                    tls.resumption = rustls::client::Resumption::disabled();
                }
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_only();
                let connector = match &self.config.tls_server_name {
                    Some(name) => {
                        let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                            .map_err(|e| {
                                HollowError::Tls(format!("tls-server-name {name:?}: {e}"))
                            })?;
                        connector.with_server_name_resolver(
                            hyper_rustls::FixedServerNameResolver::new(server_name),
                        )
                    }
                    None => connector,
                };
                let connector = connector.enable_http2().wrap_connector(http);
                let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
                    builder.build(connector);
                Ok(ClientBuilder::new(client, ns)
                    .with_layer(&self.config.base_uri_layer())
                    .build())
            }
            None => {
                let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
                    builder.build(http);
                Ok(ClientBuilder::new(client, ns)
                    .with_layer(&self.config.base_uri_layer())
                    .build())
            }
        }
    }
}

/// One connection and the streams open on it.
pub struct Conn {
    pub client: kube::Client,
    streams: AtomicU32,
}

/// A stream slot on a connection, given back when dropped.
pub struct Permit {
    conn: Arc<Conn>,
    metrics: Arc<Metrics>,
}

impl Permit {
    pub fn client(&self) -> &kube::Client {
        &self.conn.client
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.conn.streams.fetch_sub(1, Ordering::Relaxed);
        self.metrics.streams.dec();
    }
}

type MakeClient = dyn Fn() -> Result<kube::Client, HollowError> + Send + Sync;

/// Connections for one component (or, shared, for many), at most
/// `max_streams` concurrent streams each.
pub struct ConnSet {
    conns: Mutex<Vec<Arc<Conn>>>,
    auth: Arc<AuthHeaders>,
    make: Box<MakeClient>,
    max_streams: u32,
    /// Above this many connections, warn once (shared mode).
    planned: Option<usize>,
    warned: AtomicBool,
    metrics: Arc<Metrics>,
    label: String,
}

impl ConnSet {
    pub fn new(
        label: String,
        max_streams: u32,
        planned: Option<usize>,
        metrics: Arc<Metrics>,
        auth: Arc<AuthHeaders>,
        make: Box<MakeClient>,
    ) -> ConnSet {
        ConnSet {
            conns: Mutex::new(Vec::new()),
            auth,
            make,
            max_streams: max_streams.max(1),
            planned,
            warned: AtomicBool::new(false),
            metrics,
            label,
        }
    }

    /// A stream slot: on the least busy connection with room (up to the
    /// planned number of connections, new ones are opened first so load
    /// spreads), else on a new connection.
    pub fn acquire(&self) -> Result<Permit, HollowError> {
        let mut conns = self.conns.lock();
        let want_more = self.planned.is_some_and(|p| conns.len() < p);
        let best = conns
            .iter()
            .filter(|c| c.streams.load(Ordering::Relaxed) < self.max_streams)
            .min_by_key(|c| c.streams.load(Ordering::Relaxed))
            .cloned();
        let conn = match best {
            Some(c) if !(want_more && c.streams.load(Ordering::Relaxed) > 0) => c,
            _ => {
                let c = Arc::new(Conn {
                    client: (self.make)()?,
                    streams: AtomicU32::new(0),
                });
                conns.push(c.clone());
                self.metrics.connections.inc();
                if let Some(p) = self.planned {
                    if conns.len() > p && !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "{}: {} shared connections are not enough for at most {} streams each; opened connection #{}",
                            self.label,
                            p,
                            self.max_streams,
                            conns.len()
                        );
                    }
                }
                c
            }
        };
        conn.streams.fetch_add(1, Ordering::Relaxed);
        self.metrics.streams.inc();
        Ok(Permit {
            conn,
            metrics: self.metrics.clone(),
        })
    }

    /// Credential headers for requests on these connections.
    pub fn auth(&self) -> &AuthHeaders {
        &self.auth
    }

    pub fn connections(&self) -> usize {
        self.conns.lock().len()
    }

    /// Streams per connection right now.
    pub fn streams(&self) -> Vec<u32> {
        self.conns
            .lock()
            .iter()
            .map(|c| c.streams.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for ConnSet {
    fn drop(&mut self) {
        self.metrics
            .connections
            .dec_by(self.conns.lock().len() as i64);
    }
}

/// Connections `--shared-connections` needs for `nodes` nodes with
/// `streams_per_node` long-lived streams each, at most `max_streams` per
/// connection (with a little room for requests).
pub fn connections_needed(nodes: usize, streams_per_node: usize, max_streams: usize) -> usize {
    let usable = max_streams.saturating_sub(max_streams / 10).max(1);
    (nodes * streams_per_node).div_ceil(usable).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_connections() {
        assert_eq!(connections_needed(1, 8, 90), 1);
        assert_eq!(connections_needed(10, 8, 90), 1);
        assert_eq!(connections_needed(11, 8, 90), 2);
        assert_eq!(connections_needed(5000, 8, 90), 494);
        assert_eq!(connections_needed(0, 8, 90), 1);
    }

    #[test]
    fn credential_headers() {
        let mut cfg = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        cfg.auth_info = serde_json::from_value(
            serde_json::json!({"token": "abc", "as": "jane", "as-groups": ["g1", "g2"]}),
        )
        .unwrap();
        let h = AuthHeaders::from_config(&cfg).unwrap();
        let mut map = http::HeaderMap::new();
        h.apply(&mut map);
        assert_eq!(map[AUTHORIZATION], "Bearer abc");
        assert_eq!(map["impersonate-user"], "jane");
        assert_eq!(map.get_all("impersonate-group").iter().count(), 2);

        cfg.auth_info =
            serde_json::from_value(serde_json::json!({"username": "u", "password": "p"})).unwrap();
        let mut map = http::HeaderMap::new();
        AuthHeaders::from_config(&cfg).unwrap().apply(&mut map);
        assert_eq!(map[AUTHORIZATION], "Basic dTpw");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        cfg.auth_info =
            serde_json::from_value(serde_json::json!({"tokenFile": path.to_str().unwrap()}))
                .unwrap();
        let mut map = http::HeaderMap::new();
        AuthHeaders::from_config(&cfg).unwrap().apply(&mut map);
        assert_eq!(map[AUTHORIZATION], "Bearer from-file");

        cfg.auth_info =
            serde_json::from_value(serde_json::json!({"auth-provider": {"name": "gcp"}})).unwrap();
        assert!(AuthHeaders::from_config(&cfg).is_err());
    }

    #[test]
    fn rejects_bad_pem() {
        assert!(Identity::from_pem("junk", "junk").is_err());
    }

    #[tokio::test]
    async fn caps_streams_per_connection() {
        let metrics = Arc::new(Metrics::new());
        let transport =
            Transport::new(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
        let transport = Arc::new(transport);
        let t = transport.clone();
        let set = ConnSet::new(
            "test".into(),
            3,
            None,
            metrics.clone(),
            Arc::new(AuthHeaders::default()),
            Box::new(move || t.client(None)),
        );
        let permits: Vec<Permit> = (0..7).map(|_| set.acquire().unwrap()).collect();
        assert_eq!(set.connections(), 3);
        assert_eq!(set.streams(), vec![3, 3, 1]);
        assert_eq!(metrics.streams.get(), 7);
        drop(permits);
        assert_eq!(set.streams(), vec![0, 0, 0]);
        assert_eq!(metrics.streams.get(), 0);
        let _p = set.acquire().unwrap();
        assert_eq!(set.connections(), 3, "free connections are reused");

        // Shared mode spreads over the planned connections first.
        let t = transport.clone();
        let shared = ConnSet::new(
            "shared".into(),
            90,
            Some(2),
            metrics.clone(),
            Arc::new(AuthHeaders::default()),
            Box::new(move || t.client(None)),
        );
        let _a = shared.acquire().unwrap();
        let _b = shared.acquire().unwrap();
        let _c = shared.acquire().unwrap();
        assert_eq!(shared.streams(), vec![2, 1]);
    }
}
