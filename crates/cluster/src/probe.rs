//! Running a [`Probe`]: an HTTP(S) GET that must answer 200, or a file that
//! must exist.

use crate::process::Probe;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub ok: bool,
    /// `200 ok`, `connection refused`, the body of a failed check, …
    pub detail: String,
    /// The response body (for version probes).
    pub body: String,
}

impl ProbeResult {
    fn fail(detail: impl Into<String>) -> ProbeResult {
        ProbeResult {
            ok: false,
            detail: detail.into(),
            body: String::new(),
        }
    }
}

/// Runs a probe once, bounded by `timeout`.
pub async fn check(probe: &Probe, timeout: Duration) -> ProbeResult {
    match tokio::time::timeout(timeout, check_inner(probe)).await {
        Ok(r) => r,
        Err(_) => ProbeResult::fail(format!("no answer within {}s", timeout.as_secs_f32())),
    }
}

async fn check_inner(probe: &Probe) -> ProbeResult {
    match probe {
        Probe::File { path } => {
            if path.exists() {
                ProbeResult {
                    ok: true,
                    detail: "present".into(),
                    body: String::new(),
                }
            } else {
                ProbeResult::fail(format!("{} does not exist yet", path.display()))
            }
        }
        Probe::Kubeconfig { kubeconfig, path } => {
            let client = match client_from_kubeconfig(kubeconfig).await {
                Ok(c) => c,
                Err(e) => return ProbeResult::fail(e),
            };
            let req = match http::Request::get(path.as_str()).body(Vec::new()) {
                Ok(r) => r,
                Err(e) => return ProbeResult::fail(e.to_string()),
            };
            match client.request_text(req).await {
                Ok(body) => ProbeResult {
                    ok: true,
                    detail: "200 ok".into(),
                    body,
                },
                Err(e) => ProbeResult::fail(e.to_string()),
            }
        }
        Probe::Url { url } => get_url(url).await,
    }
}

/// A kube-rs client from a kubeconfig file (its current context).
pub async fn client_from_kubeconfig(path: &std::path::Path) -> Result<kube::Client, String> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    kube::Client::try_from(cfg).map_err(|e| format!("{}: {e}", path.display()))
}

/// The parts of an `http://` or `https://` URL a GET needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<UrlParts, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "{url:?}: only http:// and https:// URLs can be probed"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("{url:?}: bad port {p:?}"))?,
        ),
        _ => (authority.to_string(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok(UrlParts {
        tls,
        host,
        port,
        path: path.to_string(),
    })
}

/// The status code and body of a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let status_line = text.lines().next().unwrap_or("");
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

async fn get_url(url: &str) -> ProbeResult {
    let parts = match parse_url(url) {
        Ok(p) => p,
        Err(e) => return ProbeResult::fail(e),
    };
    let tcp = match tokio::net::TcpStream::connect((parts.host.as_str(), parts.port)).await {
        Ok(t) => t,
        Err(e) => return ProbeResult::fail(format!("{url}: {e}")),
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: kubemark-probe\r\nConnection: close\r\n\r\n",
        parts.path, parts.host
    );
    let raw = if parts.tls {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(insecure_client_config()));
        let name = match rustls_pki_types::ServerName::try_from(parts.host.clone()) {
            Ok(n) => n,
            Err(e) => return ProbeResult::fail(format!("{url}: {e}")),
        };
        let mut tls = match connector.connect(name, tcp).await {
            Ok(t) => t,
            Err(e) => return ProbeResult::fail(format!("{url}: TLS: {e}")),
        };
        exchange(&mut tls, &request).await
    } else {
        let mut tcp = tcp;
        exchange(&mut tcp, &request).await
    };
    match raw.and_then(|r| parse_response(&r)) {
        Ok((200, body)) => ProbeResult {
            ok: true,
            detail: "200 ok".into(),
            body,
        },
        Ok((code, body)) => ProbeResult::fail(format!("{url}: {code} {}", body.trim())),
        Err(e) => ProbeResult::fail(format!("{url}: {e}")),
    }
}

async fn exchange<S>(s: &mut S, request: &str) -> Result<Vec<u8>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    // Health bodies are tiny; cap what we read.
    let mut limited = s.take(1 << 20);
    limited
        .read_to_end(&mut buf)
        .await
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Components' own serving certificates are self-signed and probed on
/// loopback only: the probe checks liveness, not identity.
fn insecure_client_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(NoVerify(provider.clone()));
    let builder =
        rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions();
    match builder {
        Ok(b) => b
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
        // The default protocol versions are always supported by ring.
        Err(_) => rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    }
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = parse_url("https://127.0.0.1:10257/healthz").unwrap();
        assert_eq!(
            p,
            UrlParts {
                tls: true,
                host: "127.0.0.1".into(),
                port: 10257,
                path: "/healthz".into()
            }
        );
        let p = parse_url("http://localhost").unwrap();
        assert_eq!((p.port, p.path.as_str()), (80, "/"));
        let p = parse_url("http://[::1]:2379/health").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 2379));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap(),
            (200, "ok".into())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 500 Internal\r\n\r\n[-]etcd failed").unwrap(),
            (500, "[-]etcd failed".into())
        );
        assert!(parse_response(b"garbage").is_err());
    }

    #[tokio::test]
    async fn http_and_file_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for body in ["ok", "down"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await.unwrap();
                let code = if body == "ok" { "200 OK" } else { "503 No" };
                let resp = format!("HTTP/1.1 {code}\r\nConnection: close\r\n\r\n{body}");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        let p = Probe::Url {
            url: format!("http://{addr}/health"),
        };
        let r = check(&p, Duration::from_secs(5)).await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.body, "ok");
        let r = check(&p, Duration::from_secs(5)).await;
        assert!(!r.ok);
        assert!(r.detail.contains("503"), "{r:?}");
        let r = check(&p, Duration::from_secs(5)).await;
        assert!(!r.ok, "nothing listens any more: {r:?}");

        let dir = tempfile::tempdir().unwrap();
        let f = Probe::File {
            path: dir.path().join("ready"),
        };
        assert!(!check(&f, Duration::from_secs(1)).await.ok);
        std::fs::write(dir.path().join("ready"), b"").unwrap();
        assert!(check(&f, Duration::from_secs(1)).await.ok);
    }
}
