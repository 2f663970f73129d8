//! The cluster PKI, kept in one directory the way kubeadm keeps
//! `/etc/kubernetes/pki`: a CA, the API server's serving certificate, the
//! `kubernetes-admin` client certificate and the service-account signing key.
//!
//! Everything is created on first use and validated when loaded again, so a
//! restarted master keeps serving with the same CA that existing kubeconfigs
//! trust.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::client::danger::ServerCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// File names inside the PKI directory (kubeadm's names where it has one).
pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
pub const SERVING_CERT_FILE: &str = "apiserver.crt";
pub const SERVING_KEY_FILE: &str = "apiserver.key";
pub const ADMIN_CERT_FILE: &str = "admin.crt";
pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const SA_KEY_FILE: &str = "sa.key";
pub const SA_PUB_FILE: &str = "sa.pub";

/// kubeadm names its cluster CA `kubernetes`.
pub const CA_COMMON_NAME: &str = "kubernetes";
pub const SERVING_COMMON_NAME: &str = "kube-apiserver";
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const MASTERS_GROUP: &str = "system:masters";

/// SANs every serving certificate carries: loopback, the in-cluster service
/// names and the first IP of the default service CIDR 10.96.0.0/12.
pub const DEFAULT_SERVING_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.96.0.1",
];

const CA_VALIDITY_DAYS: i64 = 3650;
const LEAF_VALIDITY_DAYS: i64 = 365;
/// Leaf certificates this close to expiry are reissued on load.
const RENEW_BEFORE_SECONDS: i64 = 24 * 3600;
/// Backdating tolerates small clock differences between machines.
const BACKDATE_MINUTES: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is invalid: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{} exists but {} does not; restore it or remove both to create a new CA", present.display(), missing.display())]
    Incomplete { present: PathBuf, missing: PathBuf },
    #[error("invalid subject alternative name {name:?}: {reason}")]
    InvalidSan { name: String, reason: String },
    #[error("invalid certificate subject: {0}")]
    InvalidSubject(String),
    #[error("cannot generate {what}: {reason}")]
    Generate { what: String, reason: String },
    #[error("cannot build the TLS configuration: {0}")]
    Tls(String),
}

fn corrupt(path: &Path, reason: impl Into<String>) -> PkiError {
    PkiError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn generate_err(what: &str, err: impl std::fmt::Display) -> PkiError {
    PkiError::Generate {
        what: what.to_string(),
        reason: err.to_string(),
    }
}

/// The CA, loaded or created.
struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
    /// The subject exactly as encoded in `ca.crt`, so issued certificates
    /// name it byte for byte as their issuer.
    subject: DistinguishedName,
}

impl Ca {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.subject.clone();
        params.key_usages = ca_key_usages();
        Issuer::new(params, &self.key)
    }
}

/// A certificate and its key, both PEM.
#[derive(Clone)]
struct Leaf {
    cert_pem: String,
    key_pem: String,
}

/// What kind of leaf to issue.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Usage {
    Server,
    Client,
}

/// The loaded cluster PKI.
pub struct Pki {
    dir: PathBuf,
    ca: Ca,
    serving: Leaf,
    admin: Leaf,
    sa_key: KeyPair,
}

impl std::fmt::Debug for Pki {
    /// Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI from `dir`, creating whatever is missing. The serving
    /// certificate is reissued when it lacks one of the default SANs or
    /// `extra_sans` (IP addresses or DNS names), or is about to expire.
    pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> Result<Pki, PkiError> {
        let wanted_sans = serving_sans(extra_sans)?;
        create_private_dir(dir)?;

        let (ca, ca_is_new) = load_or_create_ca(dir)?;
        let serving = load_or_issue_leaf(dir, &ca, ca_is_new, LeafSpec::serving(&wanted_sans))?;
        let admin_orgs = [MASTERS_GROUP];
        let admin = load_or_issue_leaf(
            dir,
            &ca,
            ca_is_new,
            LeafSpec::client(ADMIN_USER, &admin_orgs),
        )?;
        let sa_key = load_or_create_sa_key(dir)?;

        Ok(Pki {
            dir: dir.to_path_buf(),
            ca,
            serving,
            admin,
            sa_key,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca.cert_der
    }

    pub fn serving_cert_pem(&self) -> &str {
        &self.serving.cert_pem
    }

    pub fn admin_cert_pem(&self) -> &str {
        &self.admin.cert_pem
    }

    pub fn admin_key_pem(&self) -> &str {
        &self.admin.key_pem
    }

    /// The service-account signing key as PKCS#8 DER (ECDSA P-256).
    pub fn sa_key_pkcs8_der(&self) -> &[u8] {
        self.sa_key.serialized_der()
    }

    /// The service-account verification key, PEM `PUBLIC KEY`.
    pub fn sa_public_key_pem(&self) -> String {
        self.sa_key.public_key_pem()
    }

    /// TLS for the API server: HTTP/2 and HTTP/1.1, client certificates
    /// requested and verified against the CA but not required (bearer
    /// tokens and anonymous health checks must still get through).
    pub fn server_tls_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(self.root_store()?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        let chain = vec![parse_cert_pem(&self.serving.cert_pem).map_err(PkiError::Tls)?];
        let key = PrivateKeyDer::from_pem_slice(self.serving.key_pem.as_bytes())
            .map_err(|e| PkiError::Tls(format!("serving key: {e}")))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PkiError::Tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A root store holding just the cluster CA.
    pub fn root_store(&self) -> Result<RootCertStore, PkiError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca.cert_der.clone())
            .map_err(|e| PkiError::Tls(format!("CA certificate: {e}")))?;
        Ok(roots)
    }

    /// Issues a client certificate (not stored) for user `common_name` in
    /// groups `organizations`, e.g. `system:node:<name>` / `system:nodes`.
    /// At most two organizations are supported.
    pub fn issue_client_cert(
        &self,
        common_name: &str,
        organizations: &[&str],
    ) -> Result<(String, String), PkiError> {
        let leaf = issue_leaf(&self.ca, &LeafSpec::client(common_name, organizations))?;
        Ok((leaf.cert_pem, leaf.key_pem))
    }

    /// kubeconfig for `kubernetes-admin` (group `system:masters`).
    pub fn admin_kubeconfig(&self, server_url: &str, cluster_name: &str) -> String {
        self.kubeconfig(
            server_url,
            cluster_name,
            ADMIN_USER,
            &self.admin.cert_pem,
            &self.admin.key_pem,
        )
    }

    /// kubeconfig for any user holding a client certificate from
    /// [`Pki::issue_client_cert`]. The context is named `<user>@<cluster>`.
    pub fn kubeconfig(
        &self,
        server_url: &str,
        cluster_name: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> String {
        let context = format!("{user}@{cluster_name}");
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\n\
             contexts:\n\
             - context:\n    cluster: {cluster}\n    user: {user_q}\n  name: {context_q}\n\
             current-context: {context_q}\n\
             preferences: {{}}\n\
             users:\n\
             - name: {user_q}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
            ca = BASE64.encode(self.ca.cert_pem.as_bytes()),
            server = yaml_quote(server_url),
            cluster = yaml_quote(cluster_name),
            user_q = yaml_quote(user),
            context_q = yaml_quote(&context),
            cert = BASE64.encode(cert_pem.as_bytes()),
            key = BASE64.encode(key_pem.as_bytes()),
        )
    }

    /// Writes a kubeconfig with mode 0600, creating parent directories
    /// (0700) as needed.
    pub fn write_kubeconfig(path: &Path, contents: &str) -> Result<(), PkiError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        write_private_file(path, contents.as_bytes())
    }
}

/// A YAML double-quoted scalar; JSON-style escapes are valid YAML.
fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One requested subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Ip(IpAddr),
    Dns(String),
}

impl San {
    fn parse(name: &str) -> Result<San, PkiError> {
        if let Ok(ip) = IpAddr::from_str(name) {
            return Ok(San::Ip(ip));
        }
        let invalid = |reason: &str| PkiError::InvalidSan {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.len() > 253 {
            return Err(invalid("longer than 253 characters"));
        }
        let labels_ok = name.split('.').enumerate().all(|(i, label)| {
            let wildcard = i == 0 && label == "*";
            wildcard
                || (!label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        });
        if !labels_ok {
            return Err(invalid("neither an IP address nor a valid DNS name"));
        }
        Ok(San::Dns(name.to_ascii_lowercase()))
    }

    fn to_rcgen(&self) -> Result<SanType, PkiError> {
        match self {
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            San::Dns(name) => {
                name.as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e: rcgen::Error| PkiError::InvalidSan {
                        name: name.clone(),
                        reason: e.to_string(),
                    })
            }
        }
    }
}

fn serving_sans(extra: &[String]) -> Result<BTreeSet<San>, PkiError> {
    DEFAULT_SERVING_SANS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .map(San::parse)
        .collect()
}

/// What a leaf certificate must contain.
struct LeafSpec<'a> {
    cert_file: &'static str,
    key_file: &'static str,
    usage: Usage,
    common_name: &'a str,
    organizations: &'a [&'a str],
    sans: Option<&'a BTreeSet<San>>,
}

impl<'a> LeafSpec<'a> {
    fn serving(sans: &'a BTreeSet<San>) -> LeafSpec<'a> {
        LeafSpec {
            cert_file: SERVING_CERT_FILE,
            key_file: SERVING_KEY_FILE,
            usage: Usage::Server,
            common_name: SERVING_COMMON_NAME,
            organizations: &[],
            sans: Some(sans),
        }
    }

    fn client(common_name: &'a str, organizations: &'a [&'a str]) -> LeafSpec<'a> {
        LeafSpec {
            cert_file: ADMIN_CERT_FILE,
            key_file: ADMIN_KEY_FILE,
            usage: Usage::Client,
            common_name,
            organizations,
            sans: None,
        }
    }
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ]
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| generate_err("serial number", "random source failed"))?;
    // Positive and non-zero, as RFC 5280 requires.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| generate_err(what, e))
}

fn subject(common_name: &str, organizations: &[&str]) -> Result<DistinguishedName, PkiError> {
    if common_name.is_empty() {
        return Err(PkiError::InvalidSubject(
            "the common name (user name) must not be empty".into(),
        ));
    }
    if organizations.len() > 2 {
        return Err(PkiError::InvalidSubject(format!(
            "at most 2 organizations (groups) are supported, got {}",
            organizations.len()
        )));
    }
    if organizations.iter().any(|o| o.is_empty()) {
        return Err(PkiError::InvalidSubject(
            "organization (group) names must not be empty".into(),
        ));
    }
    let mut dn = DistinguishedName::new();
    // rcgen keys attributes by type, so a second O goes in under the same
    // OID spelled as a custom type.
    if let Some(first) = organizations.first() {
        dn.push(DnType::OrganizationName, *first);
    }
    if let Some(second) = organizations.get(1) {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 10]), *second);
    }
    dn.push(DnType::CommonName, common_name);
    Ok(dn)
}

fn issue_leaf(ca: &Ca, spec: &LeafSpec<'_>) -> Result<Leaf, PkiError> {
    let what = format!("certificate for {:?}", spec.common_name);
    let key = new_key(&what)?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(spec.common_name, spec.organizations)?;
    if let Some(sans) = spec.sans {
        params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    }
    params.not_before = now - Duration::minutes(BACKDATE_MINUTES);
    params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![match spec.usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca.issuer())
        .map_err(|e| generate_err(&what, e))?;
    Ok(Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn create_ca(dir: &Path) -> Result<Ca, PkiError> {
    let key = new_key("CA key")?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(CA_COMMON_NAME, &[])?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages();
    params.not_before = now - Duration::minutes(BACKDATE_MINUTES);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);
    let cert = params
        .self_signed(&key)
        .map_err(|e| generate_err("CA certificate", e))?;
    let ca = Ca {
        cert_pem: cert.pem(),
        cert_der: cert.der().clone(),
        subject: params.distinguished_name.clone(),
        key,
    };
    write_private_file(&dir.join(CA_KEY_FILE), ca.key.serialize_pem().as_bytes())?;
    write_private_file(&dir.join(CA_CERT_FILE), ca.cert_pem.as_bytes())?;
    tracing::info!(dir = %dir.display(), "created cluster CA");
    Ok(ca)
}

/// Returns the CA and whether it was just created (then every leaf must be
/// reissued, whatever is on disk).
fn load_or_create_ca(dir: &Path) -> Result<(Ca, bool), PkiError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => return Ok((create_ca(dir)?, true)),
        (true, false) => {
            return Err(PkiError::Incomplete {
                present: cert_path,
                missing: key_path,
            })
        }
        (false, true) => {
            return Err(PkiError::Incomplete {
                present: key_path,
                missing: cert_path,
            })
        }
        (true, true) => {}
    }
    let cert_pem = read_text(&cert_path)?;
    let key_pem = read_text(&key_path)?;
    let cert_der = parse_cert_pem(&cert_pem).map_err(|e| corrupt(&cert_path, e))?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| corrupt(&key_path, format!("not a PEM private key: {e}")))?;
    let subject = {
        let cert = parse_x509(&cert_der).map_err(|e| corrupt(&cert_path, e))?;
        if !cert.is_ca() {
            return Err(corrupt(
                &cert_path,
                "not a CA certificate (basicConstraints CA is not set)",
            ));
        }
        if cert.validity().not_after.timestamp() <= OffsetDateTime::now_utc().unix_timestamp() {
            return Err(corrupt(
                &cert_path,
                "the CA certificate has expired; remove the PKI directory to create a new one",
            ));
        }
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(corrupt(
                &key_path,
                format!("the key does not belong to {CA_CERT_FILE}"),
            ));
        }
        distinguished_name_of(&cert).map_err(|e| corrupt(&cert_path, e))?
    };
    Ok((
        Ca {
            cert_pem,
            cert_der,
            key,
            subject,
        },
        false,
    ))
}

/// Rebuilds a subject with the same attribute order and string types, so
/// names compare equal byte for byte.
fn distinguished_name_of(cert: &X509Certificate<'_>) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    let mut seen = BTreeSet::new();
    for rdn in cert.subject().iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err("multi-valued subject components are not supported".into());
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or("subject attribute type is not a valid OID")?
            .collect();
        if !seen.insert(oid.clone()) {
            return Err("repeated subject attribute types are not supported".into());
        }
        let data = attr.attr_value().data;
        let text = std::str::from_utf8(data)
            .map_err(|_| "subject attribute is not valid text".to_string())?;
        let value = match attr.attr_value().header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text.to_string()),
            Tag::PrintableString => {
                DnValue::PrintableString(text.try_into().map_err(|e: rcgen::Error| e.to_string())?)
            }
            Tag::Ia5String => {
                DnValue::Ia5String(text.try_into().map_err(|e: rcgen::Error| e.to_string())?)
            }
            other => return Err(format!("unsupported subject string type {other}")),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

/// Loads a leaf, reissuing it when missing (either half), expiring, for a
/// new CA, or lacking a wanted SAN; fails when a present file is corrupt.
fn load_or_issue_leaf(
    dir: &Path,
    ca: &Ca,
    ca_is_new: bool,
    spec: LeafSpec<'_>,
) -> Result<Leaf, PkiError> {
    let cert_path = dir.join(spec.cert_file);
    let key_path = dir.join(spec.key_file);
    if !ca_is_new && cert_path.exists() && key_path.exists() {
        let leaf = Leaf {
            cert_pem: read_text(&cert_path)?,
            key_pem: read_text(&key_path)?,
        };
        if let Some(leaf) = check_leaf(ca, &spec, leaf, &cert_path, &key_path)? {
            return Ok(leaf);
        }
    }
    let leaf = issue_leaf(ca, &spec)?;
    write_private_file(&key_path, leaf.key_pem.as_bytes())?;
    write_private_file(&cert_path, leaf.cert_pem.as_bytes())?;
    tracing::info!(file = %cert_path.display(), "issued certificate");
    Ok(leaf)
}

/// `Ok(None)` means "reissue".
fn check_leaf(
    ca: &Ca,
    spec: &LeafSpec<'_>,
    leaf: Leaf,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Option<Leaf>, PkiError> {
    let der = parse_cert_pem(&leaf.cert_pem).map_err(|e| corrupt(cert_path, e))?;
    let key = KeyPair::from_pem(&leaf.key_pem)
        .map_err(|e| corrupt(key_path, format!("not a PEM private key: {e}")))?;
    let cert = parse_x509(&der).map_err(|e| corrupt(cert_path, e))?;
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        return Err(corrupt(
            key_path,
            format!("the key does not belong to {}", spec.cert_file),
        ));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if cert.validity().not_after.timestamp() - RENEW_BEFORE_SECONDS <= now {
        tracing::info!(file = %cert_path.display(), "certificate expires soon; reissuing");
        return Ok(None);
    }
    if let Some(wanted) = spec.sans {
        let have = sans_of(&cert).map_err(|e| corrupt(cert_path, e))?;
        if !wanted.is_subset(&have) {
            tracing::info!(file = %cert_path.display(), "certificate lacks requested SANs; reissuing");
            return Ok(None);
        }
    }
    verify_chain(ca, spec.usage, &der).map_err(|e| {
        corrupt(
            cert_path,
            format!("does not verify against {CA_CERT_FILE} ({e}); remove it to have it reissued"),
        )
    })?;
    Ok(Some(leaf))
}

fn sans_of(cert: &X509Certificate<'_>) -> Result<BTreeSet<San>, String> {
    let mut out = BTreeSet::new();
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subjectAltName: {e}"))?
    else {
        return Ok(out);
    };
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(d) => {
                out.insert(San::Dns(d.to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                let ip = match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                    _ => None,
                };
                if let Some(ip) = ip {
                    out.insert(San::Ip(ip));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Verifies a leaf with the same WebPKI code the TLS stack uses.
fn verify_chain(ca: &Ca, usage: Usage, der: &CertificateDer<'static>) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der.clone()).map_err(|e| e.to_string())?;
    let roots = Arc::new(roots);
    let now = UnixTime::now();
    match usage {
        Usage::Server => {
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| e.to_string())?;
            let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            verifier
                .verify_server_cert(der, &[], &name, &[], now)
                .map_err(|e| e.to_string())?;
        }
        Usage::Client => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| e.to_string())?;
            verifier
                .verify_client_cert(der, &[], now)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn load_or_create_sa_key(dir: &Path) -> Result<KeyPair, PkiError> {
    let key_path = dir.join(SA_KEY_FILE);
    let key = if key_path.exists() {
        let pem = read_text(&key_path)?;
        let key = KeyPair::from_pem(&pem)
            .map_err(|e| corrupt(&key_path, format!("not a PEM private key: {e}")))?;
        if !key.is_compatible(&PKCS_ECDSA_P256_SHA256) {
            return Err(corrupt(
                &key_path,
                "the service-account key must be an ECDSA P-256 key",
            ));
        }
        key
    } else {
        let key = new_key("service-account key")?;
        write_private_file(&key_path, key.serialize_pem().as_bytes())?;
        key
    };
    // sa.pub is derived; keep it in step with sa.key.
    let pub_path = dir.join(SA_PUB_FILE);
    let public = key.public_key_pem();
    if fs::read_to_string(&pub_path).ok().as_deref() != Some(public.as_str()) {
        write_private_file(&pub_path, public.as_bytes())?;
    }
    Ok(key)
}

fn parse_cert_pem(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))
}

fn parse_x509<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    if !rest.is_empty() {
        return Err("trailing data after the certificate".into());
    }
    Ok(cert)
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| PkiError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written key behind; the file ends up mode 0600.
fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    let wrap = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(wrap)?;
    #[cfg(unix)]
    {
        // A leftover temporary file keeps its old mode; force it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(wrap)?;
    }
    file.write_all(contents).map_err(wrap)?;
    file.sync_all().map_err(wrap)?;
    drop(file);
    fs::rename(&tmp, path).map_err(wrap)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn subject_of(pem: &str) -> (Vec<String>, Vec<String>) {
        let der = parse_cert_pem(pem).unwrap();
        let cert = parse_x509(&der).unwrap();
        let cn = cert
            .subject()
            .iter_common_name()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let o = cert
            .subject()
            .iter_organization()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        (cn, o)
    }

    fn serving_sans_of(pki: &Pki) -> BTreeSet<San> {
        let der = parse_cert_pem(pki.serving_cert_pem()).unwrap();
        sans_of(&parse_x509(&der).unwrap()).unwrap()
    }

    #[test]
    fn creates_everything_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let pki = Pki::load_or_create(&dir, &[]).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in [
            CA_CERT_FILE,
            CA_KEY_FILE,
            SERVING_CERT_FILE,
            SERVING_KEY_FILE,
            ADMIN_CERT_FILE,
            ADMIN_KEY_FILE,
            SA_KEY_FILE,
            SA_PUB_FILE,
        ] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let (cn, o) = subject_of(pki.admin_cert_pem());
        assert_eq!(cn, vec![ADMIN_USER]);
        assert_eq!(o, vec![MASTERS_GROUP]);
        let have = serving_sans_of(&pki);
        for san in DEFAULT_SERVING_SANS {
            assert!(have.contains(&San::parse(san).unwrap()), "{san}");
        }
        assert!(format!("{pki:?}").contains("Pki"));
    }

    #[test]
    fn reload_keeps_the_same_material() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(tmp.path(), &[]).unwrap();
        let second = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        assert_eq!(first.serving_cert_pem(), second.serving_cert_pem());
        assert_eq!(first.admin_cert_pem(), second.admin_cert_pem());
        assert_eq!(first.sa_key_pkcs8_der(), second.sa_key_pkcs8_der());
    }

    #[test]
    fn missing_san_reissues_the_serving_cert_only() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(tmp.path(), &[]).unwrap();
        let extra = vec![
            "10.1.2.3".to_string(),
            "Master.Example.COM".to_string(),
            "fd00::1".to_string(),
        ];
        let second = Pki::load_or_create(tmp.path(), &extra).unwrap();
        assert_ne!(first.serving_cert_pem(), second.serving_cert_pem());
        assert_eq!(first.ca_pem(), second.ca_pem());
        assert_eq!(first.admin_cert_pem(), second.admin_cert_pem());
        let have = serving_sans_of(&second);
        assert!(have.contains(&San::Ip("10.1.2.3".parse().unwrap())));
        assert!(have.contains(&San::Ip("fd00::1".parse().unwrap())));
        assert!(have.contains(&San::Dns("master.example.com".into())));
        // Same request again: nothing changes.
        let third = Pki::load_or_create(tmp.path(), &extra).unwrap();
        assert_eq!(second.serving_cert_pem(), third.serving_cert_pem());
        // Fewer SANs requested: the existing superset is kept.
        let fourth = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_eq!(second.serving_cert_pem(), fourth.serving_cert_pem());
    }

    #[test]
    fn invalid_extra_sans_are_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "bad name", "-x.example", "a..b", "ünï.example"] {
            let err = Pki::load_or_create(tmp.path(), &[bad.to_string()]).unwrap_err();
            assert!(matches!(err, PkiError::InvalidSan { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn corrupt_files_are_named_in_errors() {
        let cases = [
            CA_CERT_FILE,
            CA_KEY_FILE,
            SERVING_CERT_FILE,
            SERVING_KEY_FILE,
            ADMIN_KEY_FILE,
            SA_KEY_FILE,
        ];
        for file in cases {
            let tmp = tempfile::tempdir().unwrap();
            Pki::load_or_create(tmp.path(), &[]).unwrap();
            fs::write(tmp.path().join(file), "garbage").unwrap();
            let err = Pki::load_or_create(tmp.path(), &[]).unwrap_err();
            assert!(err.to_string().contains(file), "{file}: {err}");
        }
    }

    #[test]
    fn mismatched_key_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        Pki::load_or_create(tmp.path(), &[]).unwrap();
        // The admin key does not belong to the serving certificate.
        fs::copy(
            tmp.path().join(ADMIN_KEY_FILE),
            tmp.path().join(SERVING_KEY_FILE),
        )
        .unwrap();
        let err = Pki::load_or_create(tmp.path(), &[]).unwrap_err();
        assert!(err.to_string().contains(SERVING_KEY_FILE), "{err}");
    }

    #[test]
    fn leaf_from_another_ca_is_an_error() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        Pki::load_or_create(a.path(), &[]).unwrap();
        Pki::load_or_create(b.path(), &[]).unwrap();
        for f in [ADMIN_CERT_FILE, ADMIN_KEY_FILE] {
            fs::copy(b.path().join(f), a.path().join(f)).unwrap();
        }
        let err = Pki::load_or_create(a.path(), &[]).unwrap_err();
        assert!(err.to_string().contains(ADMIN_CERT_FILE), "{err}");
    }

    #[test]
    fn half_missing_ca_is_an_error_and_half_missing_leaf_is_reissued() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(tmp.path(), &[]).unwrap();
        fs::remove_file(tmp.path().join(ADMIN_KEY_FILE)).unwrap();
        let second = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_ne!(first.admin_cert_pem(), second.admin_cert_pem());
        fs::remove_file(tmp.path().join(CA_KEY_FILE)).unwrap();
        let err = Pki::load_or_create(tmp.path(), &[]).unwrap_err();
        assert!(matches!(err, PkiError::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains(CA_KEY_FILE));
    }

    #[test]
    fn new_ca_reissues_leaves() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(tmp.path(), &[]).unwrap();
        fs::remove_file(tmp.path().join(CA_KEY_FILE)).unwrap();
        fs::remove_file(tmp.path().join(CA_CERT_FILE)).unwrap();
        let second = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_ne!(first.ca_pem(), second.ca_pem());
        assert_ne!(first.serving_cert_pem(), second.serving_cert_pem());
        // Leaves chain to the new CA, so a third load accepts them.
        let third = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_eq!(second.admin_cert_pem(), third.admin_cert_pem());
    }

    #[test]
    fn node_client_certs() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &[]).unwrap();
        let (cert, key) = pki
            .issue_client_cert("system:node:hollow-node-0", &["system:nodes"])
            .unwrap();
        assert!(key.contains("PRIVATE KEY"));
        let (cn, o) = subject_of(&cert);
        assert_eq!(cn, vec!["system:node:hollow-node-0"]);
        assert_eq!(o, vec!["system:nodes"]);
        let (cert, _) = pki.issue_client_cert("u", &["g1", "g2"]).unwrap();
        let (_, o) = subject_of(&cert);
        assert_eq!(o, vec!["g1", "g2"]);
        let der = parse_cert_pem(&cert).unwrap();
        verify_chain(&pki.ca, Usage::Client, &der).unwrap();
        assert!(verify_chain(&pki.ca, Usage::Server, &der).is_err());
        assert!(pki.issue_client_cert("", &[]).is_err());
        assert!(pki.issue_client_cert("u", &["a", "b", "c"]).is_err());
        assert!(pki.issue_client_cert("u", &[""]).is_err());
    }

    #[test]
    fn kubeconfig_parses_and_writes_private() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(&tmp.path().join("pki"), &[]).unwrap();
        let text = pki.admin_kubeconfig("https://127.0.0.1:6443", "kubemark");
        let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(
            parsed.current_context.as_deref(),
            Some("kubernetes-admin@kubemark")
        );
        let cluster = parsed.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let ca = BASE64
            .decode(cluster.certificate_authority_data.as_ref().unwrap())
            .unwrap();
        assert_eq!(ca, pki.ca_pem().as_bytes());
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let key = BASE64
            .decode(
                value["users"][0]["user"]["client-key-data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(key, pki.admin_key_pem().as_bytes());

        // Awkward names survive quoting.
        let odd = pki.kubeconfig("https://h:1", "a: \"b\"\n#c", "system:node:n", "C", "K");
        let value: serde_yaml::Value = serde_yaml::from_str(&odd).unwrap();
        assert_eq!(value["clusters"][0]["name"].as_str(), Some("a: \"b\"\n#c"));
        assert_eq!(value["users"][0]["name"].as_str(), Some("system:node:n"));

        let path = tmp.path().join("nested/dir/admin.conf");
        Pki::write_kubeconfig(&path, &text).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("nested/dir")), 0o700);
    }

    #[test]
    fn sa_public_key_matches_private_key() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &[]).unwrap();
        assert_eq!(
            fs::read_to_string(tmp.path().join(SA_PUB_FILE)).unwrap(),
            pki.sa_public_key_pem()
        );
        let key = KeyPair::try_from(pki.sa_key_pkcs8_der()).unwrap();
        assert!(key.is_compatible(&PKCS_ECDSA_P256_SHA256));
    }

    #[tokio::test]
    async fn tls_handshake_with_and_without_client_cert() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &[]).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_tls_config().unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut peers = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let (_, conn) = tls.get_ref();
                let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
                let peer = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                tls.write_all(b"ok").await.unwrap();
                tls.shutdown().await.unwrap();
                peers.push((alpn, peer));
            }
            peers
        });

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = |with_cert: bool| {
            let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(pki.root_store().unwrap());
            let mut config = if with_cert {
                let chain = vec![parse_cert_pem(pki.admin_cert_pem()).unwrap()];
                let key = PrivateKeyDer::from_pem_slice(pki.admin_key_pem().as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            } else {
                builder.with_no_client_auth()
            };
            config.alpn_protocols = vec![b"h2".to_vec()];
            tokio_rustls::TlsConnector::from(Arc::new(config))
        };
        for (with_cert, host) in [(true, "localhost"), (false, "kubernetes.default.svc")] {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from(host).unwrap();
            let mut tls = client(with_cert).connect(name, tcp).await.unwrap();
            let mut buf = Vec::new();
            tls.read_to_end(&mut buf).await.unwrap();
            assert_eq!(buf, b"ok");
        }
        let peers = server.await.unwrap();
        assert_eq!(peers[0].0.as_deref(), Some(&b"h2"[..]));
        let admin_der = parse_cert_pem(pki.admin_cert_pem()).unwrap();
        assert_eq!(peers[0].1.as_deref(), Some(admin_der.as_ref()));
        assert_eq!(peers[1].1, None);
    }
}
