//! A minimal HTTP/2 client for load generation: TLS with the kubeconfig's
//! CA and client certificate, many concurrent streams per connection, and
//! nothing else in the way (so the client spends little of the machine's
//! CPU while it measures the server).

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use tokio::net::TcpStream;

/// Server address and TLS settings taken from a kubeconfig.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Arc<rustls::ClientConfig>,
}

fn b64(field: &str, v: &serde_yaml::Value) -> anyhow::Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| anyhow!("kubeconfig: {field} is not a string"))?;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .with_context(|| format!("kubeconfig: {field} is not base64"))
}

impl Target {
    /// Reads the current context's cluster and user (inline data only, as
    /// the embedded master writes them).
    pub fn from_kubeconfig(text: &str) -> anyhow::Result<Target> {
        let kc: serde_yaml::Value = serde_yaml::from_str(text).context("kubeconfig is not YAML")?;
        let current = kc["current-context"].as_str().unwrap_or("");
        let ctx = kc["contexts"]
            .as_sequence()
            .and_then(|s| s.iter().find(|c| c["name"].as_str() == Some(current)))
            .ok_or_else(|| anyhow!("kubeconfig: current context {current:?} not found"))?;
        let cluster_name = ctx["context"]["cluster"].as_str().unwrap_or("");
        let user_name = ctx["context"]["user"].as_str().unwrap_or("");
        let cluster = kc["clusters"]
            .as_sequence()
            .and_then(|s| s.iter().find(|c| c["name"].as_str() == Some(cluster_name)))
            .ok_or_else(|| anyhow!("kubeconfig: cluster {cluster_name:?} not found"))?;
        let user = kc["users"]
            .as_sequence()
            .and_then(|s| s.iter().find(|c| c["name"].as_str() == Some(user_name)))
            .ok_or_else(|| anyhow!("kubeconfig: user {user_name:?} not found"))?;
        let server = cluster["cluster"]["server"]
            .as_str()
            .ok_or_else(|| anyhow!("kubeconfig: no server"))?;
        let url = url_parts(server)?;
        let ca = b64(
            "certificate-authority-data",
            &cluster["cluster"]["certificate-authority-data"],
        )?;
        let cert = b64(
            "client-certificate-data",
            &user["user"]["client-certificate-data"],
        )?;
        let key = b64("client-key-data", &user["user"]["client-key-data"])?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&ca) {
            roots
                .add(c.context("kubeconfig CA")?)
                .context("adding the CA")?;
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .context("client certificate")?;
        let key = PrivateKeyDer::from_pem_slice(&key).context("client key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .context("client certificate")?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Target {
            host: url.0,
            port: url.1,
            tls: Arc::new(tls),
        })
    }

    /// Opens one HTTP/2 connection.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("connecting to {}:{}", self.host, self.port))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.host.clone()).context("server name")?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .context("TLS handshake")?;
        let (send, conn) =
            hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .initial_stream_window_size(1 << 20)
                .initial_connection_window_size(8 << 20)
                .handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .context("HTTP/2 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            authority: format!("{}:{}", self.host, self.port),
        })
    }
}

fn url_parts(server: &str) -> anyhow::Result<(String, u16)> {
    let rest = server
        .strip_prefix("https://")
        .ok_or_else(|| anyhow!("server {server:?} is not https"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse::<u16>().context("port")?,
        ),
        None => (hostport.to_string(), 443),
    };
    if host.is_empty() {
        bail!("server {server:?} has no host");
    }
    Ok((host, port))
}

/// One HTTP/2 connection; clones share it (one stream per request).
#[derive(Clone)]
pub struct Conn {
    send: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("https://{}{}", self.authority, path));
        if let Some(ct) = content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        let req = b.body(Full::new(body))?;
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((code, bytes))
    }

    /// Starts a request and returns once the response headers arrive,
    /// keeping the body open (for watches).
    pub async fn open_stream(
        &mut self,
        path: &str,
    ) -> anyhow::Result<(u16, hyper::body::Incoming)> {
        let req = http::Request::builder()
            .method("GET")
            .uri(format!("https://{}{}", self.authority, path))
            .body(Full::new(Bytes::new()))?;
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let code = resp.status().as_u16();
        Ok((code, resp.into_body()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            url_parts("https://127.0.0.1:6443").ok(),
            Some(("127.0.0.1".into(), 6443))
        );
        assert_eq!(
            url_parts("https://[::1]:443/").ok(),
            Some(("::1".into(), 443))
        );
        assert_eq!(
            url_parts("https://example.com").ok(),
            Some(("example.com".into(), 443))
        );
        assert!(url_parts("http://x").is_err());
    }
}
