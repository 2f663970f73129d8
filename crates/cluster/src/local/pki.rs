//! The PKI a local master runs on (the guide's "certs/keys required for
//! setting up the PKI for kubemark cluster"): a CA, kube-apiserver's serving
//! certificate, a client certificate per identity, the service-account
//! signing key pair and an admin bearer token; and a kubeconfig per
//! component.
//!
//! All keys are ECDSA P-256 (ring cannot generate RSA keys), which every
//! supported Kubernetes release accepts for TLS, client certificates,
//! `--cluster-signing-key-file` and service-account tokens (ES256).

use super::{Cidr, LocalError, LocalMasterSpec};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
#[cfg(test)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// The CA's common name.
pub const CA_COMMON_NAME: &str = "kubemark-ca";
/// The user of `admin.kubeconfig` (kubeadm's name), in `system:masters`.
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The hollow nodes' shared identity, as upstream kubemark's kubelet
/// certificate: user `kubelet` in group `system:nodes`.
pub const KUBELET_USER: &str = "kubelet";
pub const KUBE_PROXY_USER: &str = "system:kube-proxy";
/// The name of the cluster in every kubeconfig.
pub const CLUSTER_NAME: &str = "kubemark";
const MASTERS: &str = "system:masters";
const NODES: &str = "system:nodes";

const CA_VALIDITY_DAYS: i64 = 3650;
const LEAF_VALIDITY_DAYS: i64 = 365;
/// Leaves this close to expiry are reissued.
const RENEW_BEFORE_DAYS: i64 = 30;
/// Tolerates small clock differences.
const BACKDATE_MINUTES: i64 = 5;

/// A certificate file and its private key file (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKey {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files of a local master's PKI.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalPki {
    pub dir: PathBuf,
    /// `ca.crt`/`ca.key`: signs everything; also the controller manager's
    /// cluster-signing CA.
    pub ca: CertKey,
    /// kube-apiserver's serving certificate.
    pub apiserver: CertKey,
    /// kube-apiserver's client certificate towards kubelets.
    pub apiserver_kubelet_client: CertKey,
    pub admin: CertKey,
    pub controller_manager: CertKey,
    pub scheduler: CertKey,
    /// The hollow nodes' shared credential.
    pub kubelet: CertKey,
    pub kube_proxy: CertKey,
    /// Service-account token signing key (PKCS#8 PEM) and its public key.
    pub sa_key: PathBuf,
    pub sa_pub: PathBuf,
    /// kube-apiserver's `--token-auth-file`: `TOKEN,admin,admin,system:masters`.
    pub token_file: PathBuf,
    /// The admin bearer token (user `admin`, group `system:masters`).
    pub admin_token: String,
}

impl std::fmt::Debug for LocalPki {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The kubeconfig files [`write_kubeconfigs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfigs {
    /// The guide's `kubeconfig.kubemark`: user `kubernetes-admin`.
    pub admin: PathBuf,
    pub controller_manager: PathBuf,
    pub scheduler: PathBuf,
    /// For the hollow nodes (kubelet, proxy and node-problem-detector).
    pub kubelet: PathBuf,
    pub kube_proxy: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Usage {
    Server,
    Client,
}

/// One leaf certificate of the PKI.
struct LeafSpec {
    stem: &'static str,
    common_name: &'static str,
    organizations: &'static [&'static str],
    usage: Usage,
}

const APISERVER: LeafSpec = LeafSpec {
    stem: "apiserver",
    common_name: "kube-apiserver",
    organizations: &[],
    usage: Usage::Server,
};

/// Client certificates (kubeadm's names and identities where it has them).
const CLIENTS: [LeafSpec; 6] = [
    LeafSpec {
        stem: "apiserver-kubelet-client",
        common_name: "kube-apiserver-kubelet-client",
        organizations: &[MASTERS],
        usage: Usage::Client,
    },
    LeafSpec {
        stem: "admin",
        common_name: ADMIN_USER,
        organizations: &[MASTERS],
        usage: Usage::Client,
    },
    LeafSpec {
        stem: "kube-controller-manager",
        common_name: "system:kube-controller-manager",
        organizations: &[],
        usage: Usage::Client,
    },
    LeafSpec {
        stem: "kube-scheduler",
        common_name: "system:kube-scheduler",
        organizations: &[],
        usage: Usage::Client,
    },
    LeafSpec {
        stem: "kubelet",
        common_name: KUBELET_USER,
        organizations: &[NODES],
        usage: Usage::Client,
    },
    LeafSpec {
        stem: "kube-proxy",
        common_name: KUBE_PROXY_USER,
        organizations: &[],
        usage: Usage::Client,
    },
];

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> LocalError + 'a {
    move |source| LocalError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> LocalError {
    LocalError::CorruptPki {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn generate_err(what: &str, e: impl std::fmt::Display) -> LocalError {
    LocalError::Generate {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// Creates `dir` (and parents) with mode 0700, and tightens an existing one.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), LocalError> {
    crate::state::make_private_dir(dir).map_err(io_err("create directory", dir))
}

/// Writes atomically (temporary file, then rename) with `mode`.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), LocalError> {
    crate::state::write_atomic(path, contents, mode).map_err(io_err("write", path))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), LocalError> {
    write_file(path, contents, 0o600)
}

fn write_public(path: &Path, contents: &[u8]) -> Result<(), LocalError> {
    write_file(path, contents, 0o644)
}

fn read_text(path: &Path) -> Result<String, LocalError> {
    fs::read_to_string(path).map_err(io_err("read", path))
}

fn random_bytes<const N: usize>(what: &str) -> Result<[u8; N], LocalError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| generate_err(what, "the system random source failed"))?;
    Ok(bytes)
}

fn random_serial() -> Result<SerialNumber, LocalError> {
    let mut bytes: [u8; 16] = random_bytes("a serial number")?;
    // Positive and non-zero, as RFC 5280 requires.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn new_key(what: &str) -> Result<KeyPair, LocalError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| generate_err(what, e))
}

fn pem_to_der(pem: &str, path: &Path) -> Result<Vec<u8>, LocalError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN CERTIFICATE-----")
        .skip(1)
        .take_while(|l| *l != "-----END CERTIFICATE-----")
        .collect();
    if body.is_empty() {
        return Err(corrupt(path, "no PEM CERTIFICATE block"));
    }
    BASE64
        .decode(body)
        .map_err(|e| corrupt(path, format!("bad base64 in the PEM block: {e}")))
}

fn parse_x509<'a>(der: &'a [u8], path: &Path) -> Result<X509Certificate<'a>, LocalError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| corrupt(path, format!("not an X.509 certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(corrupt(path, "trailing data after the certificate"));
    }
    Ok(cert)
}

fn subject(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    // At most one organization per certificate here (rcgen keys attributes
    // by type).
    if let Some(o) = organizations.first() {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ]
}

struct Ca {
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(CA_COMMON_NAME, &[]);
        params.key_usages = ca_key_usages();
        Issuer::new(params, &self.key)
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn create_ca(pki: &CertKey) -> Result<Ca, LocalError> {
    let key = new_key("the CA key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(CA_COMMON_NAME, &[]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages();
    params.not_before = now() - Duration::minutes(BACKDATE_MINUTES);
    params.not_after = now() + Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);
    let cert = params
        .self_signed(&key)
        .map_err(|e| generate_err("the CA certificate", e))?;
    write_private(&pki.key, key.serialize_pem().as_bytes())?;
    write_public(&pki.cert, cert.pem().as_bytes())?;
    tracing::info!(file = %pki.cert.display(), "created the local master's CA");
    Ok(Ca {
        key,
        der: cert.der().to_vec(),
    })
}

fn load_or_create_ca(files: &CertKey) -> Result<Ca, LocalError> {
    match (files.cert.exists(), files.key.exists()) {
        (false, false) => return create_ca(files),
        (true, false) => {
            return Err(corrupt(
                &files.key,
                format!("missing while {} exists", files.cert.display()),
            ))
        }
        (false, true) => {
            return Err(corrupt(
                &files.cert,
                format!("missing while {} exists", files.key.display()),
            ))
        }
        (true, true) => {}
    }
    let der = pem_to_der(&read_text(&files.cert)?, &files.cert)?;
    let key = KeyPair::from_pem(&read_text(&files.key)?)
        .map_err(|e| corrupt(&files.key, format!("not a PEM private key: {e}")))?;
    let cert = parse_x509(&der, &files.cert)?;
    if !cert.is_ca() {
        return Err(corrupt(&files.cert, "not a CA certificate"));
    }
    if cert.validity().not_after.timestamp() <= now().unix_timestamp() {
        return Err(corrupt(&files.cert, "the CA certificate has expired"));
    }
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        return Err(corrupt(
            &files.key,
            "the key does not belong to the CA certificate",
        ));
    }
    Ok(Ca { key, der })
}

/// A requested subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Ip(IpAddr),
    Dns(String),
}

impl San {
    fn parse(name: &str) -> Result<San, LocalError> {
        let name = name.trim();
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').enumerate().all(|(i, label)| {
                (i == 0 && label == "*")
                    || (!label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            });
        if !valid {
            return Err(LocalError::InvalidSpec(format!(
                "--tls-san {name:?} is neither an IP address nor a DNS name"
            )));
        }
        Ok(San::Dns(name.to_ascii_lowercase()))
    }

    fn to_rcgen(&self) -> Result<SanType, LocalError> {
        match self {
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            San::Dns(name) => {
                name.as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e: rcgen::Error| {
                        LocalError::InvalidSpec(format!("--tls-san {name:?}: {e}"))
                    })
            }
        }
    }
}

/// Every SAN the serving certificate must carry.
fn serving_sans(spec: &LocalMasterSpec) -> Result<BTreeSet<San>, LocalError> {
    let service_ip = Cidr::parse(&spec.service_cidr)?.first_ip()?;
    let mut sans: BTreeSet<San> = [
        "127.0.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    .into_iter()
    .map(San::parse)
    .collect::<Result<_, _>>()?;
    sans.insert(San::Ip(service_ip));
    // An unspecified address (0.0.0.0) is not a name clients use.
    if !spec.listen_host.is_unspecified() {
        sans.insert(San::Ip(spec.listen_host));
    }
    if spec.listen_host.is_ipv6() {
        sans.insert(San::Ip(spec.loopback()));
    }
    for extra in &spec.tls_sans {
        sans.insert(San::parse(extra)?);
    }
    Ok(sans)
}

fn issue_leaf(
    ca: &Ca,
    leaf: &LeafSpec,
    sans: &BTreeSet<San>,
) -> Result<(String, String), LocalError> {
    let what = format!("the certificate for {}", leaf.common_name);
    let key = new_key(&what)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(leaf.common_name, leaf.organizations);
    params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    params.not_before = now() - Duration::minutes(BACKDATE_MINUTES);
    params.not_after = now() + Duration::days(LEAF_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![match leaf.usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca.issuer())
        .map_err(|e| generate_err(&what, e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Why an existing leaf must be reissued, or `None` to reuse it.
fn leaf_problem(
    ca: &Ca,
    leaf: &LeafSpec,
    sans: &BTreeSet<San>,
    files: &CertKey,
) -> Result<Option<String>, LocalError> {
    let der = match pem_to_der(&read_text(&files.cert)?, &files.cert) {
        Ok(der) => der,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let cert = match parse_x509(&der, &files.cert) {
        Ok(c) => c,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let key = match KeyPair::from_pem(&read_text(&files.key)?) {
        Ok(k) => k,
        Err(e) => return Ok(Some(format!("unreadable key: {e}"))),
    };
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        return Ok(Some("the key does not match the certificate".into()));
    }
    let ca_cert = parse_x509(&ca.der, Path::new("ca.crt"))?;
    if cert.issuer().as_raw() != ca_cert.subject().as_raw()
        || cert.verify_signature(Some(ca_cert.public_key())).is_err()
    {
        return Ok(Some("not signed by the current CA".into()));
    }
    let renew_at = now() + Duration::days(RENEW_BEFORE_DAYS);
    if cert.validity().not_after.timestamp() <= renew_at.unix_timestamp() {
        return Ok(Some("expires soon".into()));
    }
    let cn: Vec<&str> = cert
        .subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .collect();
    let orgs: Vec<&str> = cert
        .subject()
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .collect();
    if cn != [leaf.common_name] || orgs != leaf.organizations {
        return Ok(Some("a different identity".into()));
    }
    let mut have = BTreeSet::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    have.insert(San::Dns(d.to_ascii_lowercase()));
                }
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        have.insert(San::Ip(IpAddr::from(a)));
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        have.insert(San::Ip(IpAddr::from(a)));
                    }
                }
                _ => {}
            }
        }
    }
    if &have != sans {
        return Ok(Some("different subject alternative names".into()));
    }
    Ok(None)
}

fn load_or_issue_leaf(
    ca: &Ca,
    leaf: &LeafSpec,
    sans: &BTreeSet<San>,
    files: &CertKey,
) -> Result<(), LocalError> {
    if files.cert.exists() && files.key.exists() {
        match leaf_problem(ca, leaf, sans, files)? {
            None => return Ok(()),
            Some(why) => {
                tracing::info!(file = %files.cert.display(), "reissuing certificate: {why}")
            }
        }
    }
    let (cert, key) = issue_leaf(ca, leaf, sans)?;
    write_private(&files.key, key.as_bytes())?;
    write_public(&files.cert, cert.as_bytes())?;
    Ok(())
}

fn load_or_create_sa_key(key_path: &Path, pub_path: &Path) -> Result<(), LocalError> {
    let key = if key_path.exists() {
        KeyPair::from_pem(&read_text(key_path)?)
            .map_err(|e| corrupt(key_path, format!("not a PEM private key: {e}")))?
    } else {
        let key = new_key("the service-account signing key")?;
        write_private(key_path, key.serialize_pem().as_bytes())?;
        key
    };
    let public = key.public_key_pem();
    if fs::read_to_string(pub_path).ok().as_deref() != Some(public.as_str()) {
        write_public(pub_path, public.as_bytes())?;
    }
    Ok(())
}

/// The admin token from an existing token file, or a new file.
fn load_or_create_token(path: &Path) -> Result<String, LocalError> {
    if path.exists() {
        let text = read_text(path)?;
        let token = text.lines().find_map(|line| {
            let mut fields = line.split(',');
            let token = fields.next()?.trim();
            (fields.next()?.trim() == "admin" && !token.is_empty()).then(|| token.to_string())
        });
        return token.ok_or_else(|| corrupt(path, "no line for user admin"));
    }
    let bytes: [u8; 24] = random_bytes("the admin token")?;
    // Hex: no characters that CSV or an Authorization header would mangle.
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, format!("{token},admin,admin,{MASTERS}\n").as_bytes())?;
    Ok(token)
}

fn cert_key(dir: &Path, stem: &str) -> CertKey {
    CertKey {
        cert: dir.join(format!("{stem}.crt")),
        key: dir.join(format!("{stem}.key")),
    }
}

/// Creates (or, on a later call, reuses) the PKI in `pki_dir` (mode 0700;
/// keys and the token file 0600). An existing certificate is reused unless
/// it is unreadable, not signed by the CA, within 30 days of expiry, or no
/// longer matches its identity or SANs (e.g. a new `--tls-san`); then it is
/// reissued. A CA certificate without its key (or the reverse) is an error.
pub fn generate_pki(pki_dir: &Path, spec: &LocalMasterSpec) -> Result<LocalPki, LocalError> {
    spec.validate()?;
    let sans = serving_sans(spec)?;
    create_private_dir(pki_dir)?;
    let files = |stem| cert_key(pki_dir, stem);
    let ca_files = files("ca");
    let ca = load_or_create_ca(&ca_files)?;
    load_or_issue_leaf(&ca, &APISERVER, &sans, &files(APISERVER.stem))?;
    let none = BTreeSet::new();
    for leaf in &CLIENTS {
        load_or_issue_leaf(&ca, leaf, &none, &files(leaf.stem))?;
    }
    let sa_key = pki_dir.join("sa.key");
    let sa_pub = pki_dir.join("sa.pub");
    load_or_create_sa_key(&sa_key, &sa_pub)?;
    let token_file = pki_dir.join("known_tokens.csv");
    let admin_token = load_or_create_token(&token_file)?;
    Ok(LocalPki {
        dir: pki_dir.to_path_buf(),
        ca: ca_files,
        apiserver: files("apiserver"),
        apiserver_kubelet_client: files("apiserver-kubelet-client"),
        admin: files("admin"),
        controller_manager: files("kube-controller-manager"),
        scheduler: files("kube-scheduler"),
        kubelet: files("kubelet"),
        kube_proxy: files("kube-proxy"),
        sa_key,
        sa_pub,
        token_file,
        admin_token,
    })
}

/// A kubeconfig with embedded CA, certificate and key.
fn kubeconfig_yaml(
    server_url: &str,
    user: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<String, LocalError> {
    let context = format!("{user}@{CLUSTER_NAME}");
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": CLUSTER_NAME,
            "cluster": {
                "server": server_url,
                "certificate-authority-data": BASE64.encode(ca_pem),
            },
        }],
        "users": [{
            "name": user,
            "user": {
                "client-certificate-data": BASE64.encode(cert_pem),
                "client-key-data": BASE64.encode(key_pem),
            },
        }],
        "contexts": [{
            "name": context,
            "context": {"cluster": CLUSTER_NAME, "user": user},
        }],
        "current-context": context,
        "preferences": {},
    });
    serde_yaml::to_string(&doc).map_err(|e| generate_err("a kubeconfig", e))
}

/// Writes a kubeconfig per component into `dir` (0700), each 0600 with the
/// CA, certificate and key embedded, pointing at `server_url`. Rewritten on
/// every call so a changed URL takes effect.
pub fn write_kubeconfigs(
    dir: &Path,
    pki: &LocalPki,
    server_url: &str,
) -> Result<Kubeconfigs, LocalError> {
    create_private_dir(dir)?;
    let ca_pem = read_text(&pki.ca.cert)?;
    let write = |file: &str, user: &str, creds: &CertKey| -> Result<PathBuf, LocalError> {
        let path = dir.join(file);
        let yaml = kubeconfig_yaml(
            server_url,
            user,
            &ca_pem,
            &read_text(&creds.cert)?,
            &read_text(&creds.key)?,
        )?;
        write_private(&path, yaml.as_bytes())?;
        Ok(path)
    };
    Ok(Kubeconfigs {
        admin: write("admin.kubeconfig", ADMIN_USER, &pki.admin)?,
        controller_manager: write(
            "controller-manager.kubeconfig",
            "system:kube-controller-manager",
            &pki.controller_manager,
        )?,
        scheduler: write(
            "scheduler.kubeconfig",
            "system:kube-scheduler",
            &pki.scheduler,
        )?,
        kubelet: write("kubelet.kubeconfig", KUBELET_USER, &pki.kubelet)?,
        kube_proxy: write("kube-proxy.kubeconfig", KUBE_PROXY_USER, &pki.kube_proxy)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use x509_parser::extensions::{KeyUsage, ParsedExtension};

    struct Parsed {
        der: Vec<u8>,
    }

    impl Parsed {
        fn load(path: &Path) -> Parsed {
            Parsed {
                der: pem_to_der(&fs::read_to_string(path).unwrap(), path).unwrap(),
            }
        }
        fn cert(&self) -> X509Certificate<'_> {
            x509_parser::parse_x509_certificate(&self.der).unwrap().1
        }
    }

    fn names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
        let s = cert.subject();
        (
            s.iter_common_name()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            s.iter_organization()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        )
    }

    fn key_usage(cert: &X509Certificate<'_>) -> KeyUsage {
        *cert.key_usage().unwrap().expect("key usage present").value
    }

    /// (serverAuth, clientAuth, any other)
    fn ext_key_usage(cert: &X509Certificate<'_>) -> Option<(bool, bool, bool)> {
        cert.extended_key_usage().unwrap().map(|e| {
            let v = e.value;
            (
                v.server_auth,
                v.client_auth,
                v.any
                    || v.code_signing
                    || v.email_protection
                    || v.time_stamping
                    || v.ocsp_signing
                    || !v.other.is_empty(),
            )
        })
    }

    fn sans(cert: &X509Certificate<'_>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(ext) = cert.subject_alternative_name().unwrap() {
            for n in &ext.value.general_names {
                match n {
                    GeneralName::DNSName(d) => out.insert(format!("DNS:{d}")),
                    GeneralName::IPAddress(b) => {
                        let ip = match b.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                            16 => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
                            _ => panic!("bad IP SAN"),
                        };
                        out.insert(format!("IP:{ip}"))
                    }
                    other => panic!("unexpected SAN {other:?}"),
                };
            }
        }
        out
    }

    fn days(cert: &X509Certificate<'_>) -> i64 {
        let v = cert.validity();
        (v.not_after.timestamp() - v.not_before.timestamp()) / 86400
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn test_spec() -> LocalMasterSpec {
        LocalMasterSpec {
            tls_sans: vec!["192.0.2.50".into(), "Kubemark.Example.com".into()],
            ..LocalMasterSpec::default()
        }
    }

    /// Every file of the PKI directory and its contents.
    fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn pki_credentials() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cluster/pki");
        let pki = generate_pki(&dir, &test_spec()).unwrap();

        let ca_file = Parsed::load(&pki.ca.cert);
        let ca = ca_file.cert();
        assert_eq!(names(&ca), (vec![CA_COMMON_NAME.to_string()], vec![]));
        assert!(ca.is_ca());
        let bc = ca.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        let ku = key_usage(&ca);
        assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
        assert!(!ku.key_encipherment());
        assert_eq!(ext_key_usage(&ca), None);
        assert_eq!(days(&ca), CA_VALIDITY_DAYS);
        ca.verify_signature(None).unwrap();
        assert_eq!(ca.subject().as_raw(), ca.issuer().as_raw());

        // (files, CN, O, serverAuth)
        let leaves: [(&CertKey, &str, &[&str], bool); 7] = [
            (&pki.apiserver, "kube-apiserver", &[], true),
            (
                &pki.apiserver_kubelet_client,
                "kube-apiserver-kubelet-client",
                &["system:masters"],
                false,
            ),
            (&pki.admin, "kubernetes-admin", &["system:masters"], false),
            (
                &pki.controller_manager,
                "system:kube-controller-manager",
                &[],
                false,
            ),
            (&pki.scheduler, "system:kube-scheduler", &[], false),
            (&pki.kubelet, "kubelet", &["system:nodes"], false),
            (&pki.kube_proxy, "system:kube-proxy", &[], false),
        ];
        for (files, cn, orgs, server) in leaves {
            let parsed = Parsed::load(&files.cert);
            let cert = parsed.cert();
            let want_orgs: Vec<String> = orgs.iter().map(|o| o.to_string()).collect();
            assert_eq!(names(&cert), (vec![cn.to_string()], want_orgs), "{cn}");
            assert!(!cert.is_ca(), "{cn}");
            let bc = cert.basic_constraints().unwrap().expect("basicConstraints");
            assert!(!bc.value.ca, "{cn}");
            let ku = key_usage(&cert);
            assert!(ku.digital_signature() && ku.key_encipherment(), "{cn}");
            assert!(!ku.key_cert_sign() && !ku.crl_sign(), "{cn}");
            assert_eq!(ext_key_usage(&cert), Some((server, !server, false)), "{cn}");
            assert_eq!(days(&cert), LEAF_VALIDITY_DAYS, "{cn}");
            let now = OffsetDateTime::now_utc().unix_timestamp();
            assert!(cert.validity().not_before.timestamp() <= now, "{cn}");
            assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw(), "{cn}");
            cert.verify_signature(Some(ca.public_key())).unwrap();
            // The key belongs to the certificate.
            let key = KeyPair::from_pem(&fs::read_to_string(&files.key).unwrap()).unwrap();
            assert_eq!(
                cert.public_key().raw,
                key.subject_public_key_info().as_slice(),
                "{cn}"
            );
            // Authority key identifier names the CA's subject key identifier.
            let ski = ca
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                    _ => None,
                })
                .unwrap();
            let aki = cert
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::AuthorityKeyIdentifier(a) => {
                        a.key_identifier.as_ref().map(|k| k.0.to_vec())
                    }
                    _ => None,
                })
                .unwrap();
            assert_eq!(aki, ski, "{cn}");
            if server {
                let want: BTreeSet<String> = [
                    "IP:127.0.0.1",
                    "IP:10.96.0.1",
                    "IP:192.0.2.50",
                    "DNS:localhost",
                    "DNS:kubernetes",
                    "DNS:kubernetes.default",
                    "DNS:kubernetes.default.svc",
                    "DNS:kubernetes.default.svc.cluster.local",
                    "DNS:kubemark.example.com",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                assert_eq!(sans(&cert), want);
            } else {
                assert!(sans(&cert).is_empty(), "{cn}");
            }
        }

        // Service-account key pair.
        let sa = KeyPair::from_pem(&fs::read_to_string(&pki.sa_key).unwrap()).unwrap();
        assert_eq!(
            fs::read_to_string(&pki.sa_pub).unwrap(),
            sa.public_key_pem()
        );
        assert!(fs::read_to_string(&pki.sa_pub)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));

        // Token file: TOKEN,admin,admin,system:masters
        let csv = fs::read_to_string(&pki.token_file).unwrap();
        assert_eq!(
            csv,
            format!("{},admin,admin,system:masters\n", pki.admin_token)
        );
        assert_eq!(pki.admin_token.len(), 48);
        assert!(pki.admin_token.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{pki:?}").contains(&pki.admin_token));

        // Modes.
        assert_eq!(mode(&dir), 0o700);
        for (name, _) in snapshot(&dir) {
            let want = if name.ends_with(".crt") || name.ends_with(".pub") {
                0o644
            } else {
                0o600
            };
            assert_eq!(mode(&dir.join(&name)), want, "{name}");
        }
        let files: BTreeSet<String> = snapshot(&dir).into_keys().collect();
        let mut want: BTreeSet<String> = ["sa.key", "sa.pub", "known_tokens.csv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for stem in [
            "ca",
            "apiserver",
            "apiserver-kubelet-client",
            "admin",
            "kube-controller-manager",
            "kube-scheduler",
            "kubelet",
            "kube-proxy",
        ] {
            want.insert(format!("{stem}.crt"));
            want.insert(format!("{stem}.key"));
        }
        assert_eq!(files, want);
    }

    #[test]
    fn pki_is_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let first = generate_pki(&dir, &test_spec()).unwrap();
        let before = snapshot(&dir);
        let second = generate_pki(&dir, &test_spec()).unwrap();
        assert_eq!(first, second);
        assert_eq!(snapshot(&dir), before);

        // A new --tls-san reissues the serving certificate only.
        let mut spec = test_spec();
        spec.tls_sans.push("198.51.100.1".into());
        generate_pki(&dir, &spec).unwrap();
        let after = snapshot(&dir);
        for (name, contents) in &before {
            let changed = after[name] != *contents;
            assert_eq!(changed, name.starts_with("apiserver."), "{name}");
        }
        let cert = Parsed::load(&dir.join("apiserver.crt"));
        assert!(sans(&cert.cert()).contains("IP:198.51.100.1"));

        // A missing leaf is issued again by the same CA.
        fs::remove_file(dir.join("kubelet.key")).unwrap();
        generate_pki(&dir, &spec).unwrap();
        let again = snapshot(&dir);
        assert_ne!(again["kubelet.crt"], after["kubelet.crt"]);
        assert_eq!(again["ca.crt"], after["ca.crt"]);
        assert_eq!(again["admin.crt"], after["admin.crt"]);

        // A leaf from another CA is replaced.
        let other = tempfile::tempdir().unwrap();
        generate_pki(other.path(), &spec).unwrap();
        fs::copy(other.path().join("admin.crt"), dir.join("admin.crt")).unwrap();
        fs::copy(other.path().join("admin.key"), dir.join("admin.key")).unwrap();
        generate_pki(&dir, &spec).unwrap();
        let ca = Parsed::load(&dir.join("ca.crt"));
        let admin = Parsed::load(&dir.join("admin.crt"));
        admin
            .cert()
            .verify_signature(Some(ca.cert().public_key()))
            .unwrap();
    }

    #[test]
    fn pki_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = test_spec();
        spec.tls_sans = vec!["not a name".into()];
        assert_eq!(
            generate_pki(tmp.path(), &spec).unwrap_err().to_string(),
            "invalid local master settings: --tls-san \"not a name\" is neither an IP address nor a DNS name"
        );
        let mut spec = test_spec();
        spec.service_cidr = "10.96.0.0".into();
        assert_eq!(
            generate_pki(tmp.path(), &spec).unwrap_err().to_string(),
            "invalid local master settings: \"10.96.0.0\" is not a CIDR (no /prefix)"
        );
        let mut spec = test_spec();
        spec.node_cidr_mask = 8;
        assert_eq!(
            generate_pki(tmp.path(), &spec).unwrap_err().to_string(),
            "invalid local master settings: node CIDR mask /8 does not fit the cluster CIDR 10.64.0.0/11: it must be longer than /11 and at most 16 bits longer"
        );

        let dir = tmp.path().join("pki");
        generate_pki(&dir, &test_spec()).unwrap();
        fs::remove_file(dir.join("ca.key")).unwrap();
        assert_eq!(
            generate_pki(&dir, &test_spec()).unwrap_err().to_string(),
            format!(
                "{} is invalid: missing while {} exists; remove the cluster's PKI directory to create a new one",
                dir.join("ca.key").display(),
                dir.join("ca.crt").display()
            )
        );
    }

    #[test]
    fn ipv6_and_wildcard_hosts() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = LocalMasterSpec {
            listen_host: "::".parse().unwrap(),
            service_cidr: "fd00:10:96::/112".into(),
            cluster_cidr: "fd00:10:64::/56".into(),
            node_cidr_mask: 64,
            ..LocalMasterSpec::default()
        };
        let pki = generate_pki(tmp.path(), &spec).unwrap();
        let cert = Parsed::load(&pki.apiserver.cert);
        let got = sans(&cert.cert());
        assert!(
            got.contains("IP:::1") && got.contains("IP:fd00:10:96::1"),
            "{got:?}"
        );
        assert!(!got.contains("IP:::"), "{got:?}");
    }

    #[test]
    fn kubeconfigs() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = generate_pki(&tmp.path().join("pki"), &test_spec()).unwrap();
        let dir = tmp.path().join("kubeconfig");
        let url = "https://127.0.0.1:16443";
        let kcs = write_kubeconfigs(&dir, &pki, url).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let table = [
            (
                &kcs.admin,
                "admin.kubeconfig",
                "kubernetes-admin",
                &pki.admin,
            ),
            (
                &kcs.controller_manager,
                "controller-manager.kubeconfig",
                "system:kube-controller-manager",
                &pki.controller_manager,
            ),
            (
                &kcs.scheduler,
                "scheduler.kubeconfig",
                "system:kube-scheduler",
                &pki.scheduler,
            ),
            (&kcs.kubelet, "kubelet.kubeconfig", "kubelet", &pki.kubelet),
            (
                &kcs.kube_proxy,
                "kube-proxy.kubeconfig",
                "system:kube-proxy",
                &pki.kube_proxy,
            ),
        ];
        let decode = |v: &serde_yaml::Value| BASE64.decode(v.as_str().unwrap()).unwrap();
        for (path, file, user, creds) in table {
            assert_eq!(*path, dir.join(file));
            assert_eq!(mode(path), 0o600, "{file}");
            let text = fs::read_to_string(path).unwrap();
            // The real client library accepts it.
            let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
            assert_eq!(
                parsed.current_context.as_deref(),
                Some(format!("{user}@kubemark").as_str())
            );
            let y: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            assert_eq!(
                y["clusters"][0]["cluster"]["server"].as_str(),
                Some(url),
                "{file}"
            );
            assert_eq!(y["clusters"][0]["name"].as_str(), Some("kubemark"));
            assert_eq!(y["users"][0]["name"].as_str(), Some(user), "{file}");
            assert_eq!(y["contexts"][0]["context"]["user"].as_str(), Some(user));
            assert_eq!(
                decode(&y["clusters"][0]["cluster"]["certificate-authority-data"]),
                fs::read(&pki.ca.cert).unwrap()
            );
            assert_eq!(
                decode(&y["users"][0]["user"]["client-certificate-data"]),
                fs::read(&creds.cert).unwrap(),
                "{file}"
            );
            assert_eq!(
                decode(&y["users"][0]["user"]["client-key-data"]),
                fs::read(&creds.key).unwrap(),
                "{file}"
            );
        }
        // Rewritten with a new URL.
        let kcs2 = write_kubeconfigs(&dir, &pki, "https://192.0.2.1:6443").unwrap();
        assert_eq!(kcs, kcs2);
        assert!(fs::read_to_string(&kcs.kubelet)
            .unwrap()
            .contains("https://192.0.2.1:6443"));
    }
}
