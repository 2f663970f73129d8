//! Authentication (client certificates, static tokens, service-account
//! JWTs) and authorization (the default RBAC roles plus the Node authorizer
//! and NodeRestriction admission for kubelets), as pure functions.

use std::collections::HashMap;
use std::path::Path;

use apimachinery::status::Details;
use apimachinery::ApiError;

use crate::token::{TokenError, TokenSigner, ISSUER};

pub const GROUP_AUTHENTICATED: &str = "system:authenticated";
pub const GROUP_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const GROUP_MASTERS: &str = "system:masters";
pub const GROUP_NODES: &str = "system:nodes";
pub const GROUP_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
pub const USER_ANONYMOUS: &str = "system:anonymous";
pub const NODE_USER_PREFIX: &str = "system:node:";
pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";
/// Where node leases live.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// An authenticated (or anonymous) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
    pub uid: String,
}

impl UserInfo {
    /// The user unauthenticated requests run as.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: USER_ANONYMOUS.into(),
            groups: vec![GROUP_UNAUTHENTICATED.into()],
            uid: String::new(),
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node name of a kubelet identity (`system:node:<name>` in group
    /// `system:nodes`, as the real NodeIdentifier requires). `Some("")`
    /// means a node identity without a name.
    pub fn node_name(&self) -> Option<&str> {
        let name = self.name.strip_prefix(NODE_USER_PREFIX)?;
        self.in_group(GROUP_NODES).then_some(name)
    }

    /// Adds `system:authenticated` unless present, as the real server's
    /// authenticated-group adder does for every authenticator.
    fn authenticated(mut self) -> UserInfo {
        if !self.in_group(GROUP_AUTHENTICATED) {
            self.groups.push(GROUP_AUTHENTICATED.into());
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid client certificate: {0}")]
    ClientCertificate(String),
    #[error("invalid bearer token")]
    InvalidToken,
    #[error("invalid service-account token: {0}")]
    ServiceAccountToken(#[from] TokenError),
    #[error("service-account token audiences {got:?} include none of the API audiences {want:?}")]
    WrongAudience { got: Vec<String>, want: Vec<String> },
    #[error("cannot read token file {path}: {reason}")]
    TokenFileRead { path: String, reason: String },
    #[error("token file {path}, line {line}: {reason}")]
    TokenFileSyntax {
        path: String,
        line: usize,
        reason: String,
    },
}

impl AuthError {
    /// Every authentication failure is answered with the same bare 401.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::unauthorized()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        e.to_api_error()
    }
}

/// User from a client certificate the TLS layer has already verified
/// against the cluster CA: name = CN, groups = O values.
pub fn user_from_client_cert(der: &[u8]) -> Result<UserInfo, AuthError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| AuthError::ClientCertificate(format!("not an X.509 certificate: {e}")))?;
    let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
        attr.as_str()
            .map(str::to_string)
            .map_err(|e| AuthError::ClientCertificate(format!("subject: {e}")))
    };
    let name = match cert.subject().iter_common_name().next() {
        Some(cn) => text(cn)?,
        None => String::new(),
    };
    if name.is_empty() {
        return Err(AuthError::ClientCertificate(
            "the subject has no common name".into(),
        ));
    }
    let groups = cert
        .subject()
        .iter_organization()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UserInfo {
        name,
        groups,
        uid: String::new(),
    }
    .authenticated())
}

/// One line of a `--token-auth-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticToken {
    pub token: String,
    pub user: UserInfo,
}

/// Authenticates requests.
#[derive(Debug)]
pub struct Authenticator {
    signer: TokenSigner,
    static_tokens: HashMap<String, UserInfo>,
    api_audiences: Vec<String>,
}

impl Authenticator {
    /// Service-account tokens only; the API audience is the issuer, as the
    /// real server defaults `--api-audiences`.
    pub fn new(signer: TokenSigner) -> Authenticator {
        Authenticator {
            signer,
            static_tokens: HashMap::new(),
            api_audiences: vec![ISSUER.to_string()],
        }
    }

    /// Service-account tokens must name one of these audiences.
    pub fn with_api_audiences(mut self, audiences: Vec<String>) -> Authenticator {
        self.api_audiences = audiences;
        self
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Adds the tokens of a kube-apiserver `--token-auth-file`; returns how
    /// many were read.
    pub fn load_token_file(&mut self, path: &Path) -> Result<usize, AuthError> {
        let shown = path.display().to_string();
        let contents = std::fs::read_to_string(path).map_err(|e| AuthError::TokenFileRead {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let tokens = parse_token_file(&contents, &shown)?;
        let count = tokens.len();
        for t in tokens {
            self.add_static_token(t);
        }
        Ok(count)
    }

    pub fn add_static_token(&mut self, token: StaticToken) {
        self.static_tokens.insert(token.token, token.user);
    }

    /// Who is asking. A verified client certificate wins; otherwise a
    /// `Bearer` token is tried against the static tokens, then as a
    /// service-account JWT. A token that is present but matches nothing is
    /// an error (401); no usable credentials is `Ok(None)` (anonymous).
    pub fn authenticate(
        &self,
        client_cert: Option<&[u8]>,
        authorization_header: Option<&str>,
        now: i64,
    ) -> Result<Option<UserInfo>, AuthError> {
        // Like the real union authenticator: a failing method does not stop
        // the next one, but its error is reported if nothing succeeds.
        let cert_error = match client_cert.map(user_from_client_cert) {
            Some(Ok(user)) => return Ok(Some(user)),
            Some(Err(e)) => Some(e),
            None => None,
        };
        if let Some(token) = authorization_header.and_then(bearer_token) {
            return self.authenticate_token(token, now).map(Some);
        }
        match cert_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    fn authenticate_token(&self, token: &str, now: i64) -> Result<UserInfo, AuthError> {
        if let Some(user) = self.static_tokens.get(token) {
            return Ok(user.clone().authenticated());
        }
        // Only something shaped like a JWT gets the detailed error.
        if token.split('.').count() != 3 {
            return Err(AuthError::InvalidToken);
        }
        let claims = self.signer.verify(token, now)?;
        if !claims
            .audiences
            .iter()
            .any(|a| self.api_audiences.contains(a))
        {
            return Err(AuthError::WrongAudience {
                got: claims.audiences,
                want: self.api_audiences.clone(),
            });
        }
        Ok(UserInfo {
            name: claims.subject(),
            groups: vec![
                GROUP_SERVICE_ACCOUNTS.to_string(),
                format!("{GROUP_SERVICE_ACCOUNTS}:{}", claims.namespace),
                GROUP_AUTHENTICATED.to_string(),
            ],
            uid: claims.service_account_uid,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header, parsed as the
/// real bearer-token authenticator does (scheme case-insensitive, anything
/// after a second space ignored). Other schemes and empty tokens yield
/// `None`.
pub fn bearer_token(header: &str) -> Option<&str> {
    let header = header.trim();
    let mut parts = header.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Parses a `--token-auth-file`: CSV records `token,user,uid[,"group1,group2"]`
/// (Go `encoding/csv` quoting; extra columns ignored). `source` names the file
/// in errors. Records with an empty token are skipped, as the real server
/// does.
pub fn parse_token_file(contents: &str, source: &str) -> Result<Vec<StaticToken>, AuthError> {
    let records = parse_csv(contents).map_err(|(line, reason)| AuthError::TokenFileSyntax {
        path: source.to_string(),
        line,
        reason,
    })?;
    let mut out: Vec<StaticToken> = Vec::new();
    for (line, record) in records {
        if record.len() < 3 {
            return Err(AuthError::TokenFileSyntax {
                path: source.to_string(),
                line,
                reason: format!(
                    "must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                ),
            });
        }
        let mut fields = record.into_iter();
        let (token, name, uid) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
        );
        if token.is_empty() {
            tracing::warn!(file = source, line, "empty token in token file; skipped");
            continue;
        }
        let groups = fields
            .next()
            .map(|g| {
                g.split(',')
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if out.iter().any(|t| t.token == token) {
            tracing::warn!(
                file = source,
                line,
                "duplicate token in token file; the last one wins"
            );
            out.retain(|t| t.token != token);
        }
        out.push(StaticToken {
            token,
            user: UserInfo { name, groups, uid },
        });
    }
    Ok(out)
}

/// A CSV record and the line it starts on.
type CsvRecord = (usize, Vec<String>);

/// Go `encoding/csv` (comma separator, no lazy quotes): records with the
/// line each starts on. Blank lines are skipped; quoted fields may span
/// lines and use `""` for a quote.
fn parse_csv(input: &str) -> Result<Vec<CsvRecord>, (usize, String)> {
    let mut records = Vec::new();
    let mut line = 1usize;
    let mut chars = input.chars().peekable();
    while chars.peek().is_some() {
        let start_line = line;
        // Blank line (also `\r\n`).
        match chars.peek() {
            Some('\n') => {
                chars.next();
                line += 1;
                continue;
            }
            Some('\r') => {
                let mut look = chars.clone();
                look.next();
                if matches!(look.peek(), Some('\n') | None) {
                    chars.next();
                    continue;
                }
            }
            _ => {}
        }
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err((
                                start_line,
                                "extraneous or missing \" in quoted-field".into(),
                            ))
                        }
                        Some('"') => match chars.peek() {
                            Some('"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some(',') | Some('\n') | None => break,
                            Some('\r') => break,
                            Some(_) => {
                                return Err((
                                    line,
                                    "extraneous or missing \" in quoted-field".into(),
                                ))
                            }
                        },
                        Some('\n') => {
                            line += 1;
                            field.push('\n');
                        }
                        Some(c) => field.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    match c {
                        ',' | '\n' => break,
                        '\r' => {
                            let mut look = chars.clone();
                            look.next();
                            if matches!(look.peek(), Some('\n') | None) {
                                break;
                            }
                            field.push(c);
                            chars.next();
                        }
                        '"' => return Err((line, "bare \" in non-quoted-field".into())),
                        _ => {
                            field.push(c);
                            chars.next();
                        }
                    }
                }
            }
            record.push(field);
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push((start_line, record));
    }
    Ok(records)
}

/// What a request does, as the authorizer sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestAttributes<'a> {
    /// Resource requests: get list watch create update patch delete
    /// deletecollection. Non-resource requests: the lowercase HTTP method.
    pub verb: &'a str,
    /// API group; empty for core.
    pub group: &'a str,
    /// Plural resource name; empty for a non-resource request.
    pub resource: &'a str,
    pub subresource: &'a str,
    /// Empty for cluster-scoped resources and all-namespace lists.
    pub namespace: &'a str,
    /// Object name. For `create`, pass the name from the request body (the
    /// NodeRestriction rules need it, as the real admission plugin reads it).
    pub name: &'a str,
    /// The request path (used for non-resource requests).
    pub path: &'a str,
}

impl RequestAttributes<'_> {
    pub fn is_resource_request(&self) -> bool {
        !self.resource.is_empty()
    }
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The text after `... is forbidden: ` in the 403 message.
    Deny(String),
    /// Allowed only if the pod named by the request has `spec.nodeName ==
    /// node`; otherwise answer [`pod_not_on_node`].
    AllowIfPodOnNode {
        node: String,
    },
}

/// `/healthz`, `/version`, ... (system:public-info-viewer, for everyone).
pub const PUBLIC_INFO_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];
/// system:discovery, for every authenticated user; `*` is a prefix match.
pub const DISCOVERY_PATHS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
];

/// Reads a kubelet (and the kubemark hollow proxy) needs.
const NODE_READABLE: &[(&str, &str)] = &[
    ("", "nodes"),
    ("", "pods"),
    ("", "services"),
    ("", "endpoints"),
    ("discovery.k8s.io", "endpointslices"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
    ("node.k8s.io", "runtimeclasses"),
    ("coordination.k8s.io", "leases"),
    ("", "namespaces"),
];

fn path_matches(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *p == path,
    })
}

/// Decides whether `user` may do `attrs`: system:masters may do anything;
/// kubelets get what the Node authorizer, the system:node role and
/// NodeRestriction admission give them; everyone else only discovery and
/// health (the default RBAC bindings, without any extra roles).
pub fn authorize(user: &UserInfo, attrs: &RequestAttributes<'_>) -> Decision {
    if user.in_group(GROUP_MASTERS) {
        return Decision::Allow;
    }
    if !attrs.is_resource_request() {
        let authenticated = user.in_group(GROUP_AUTHENTICATED);
        let allowed = attrs.verb == "get"
            && (path_matches(PUBLIC_INFO_PATHS, attrs.path)
                || (authenticated && path_matches(DISCOVERY_PATHS, attrs.path)));
        return if allowed {
            Decision::Allow
        } else {
            Decision::Deny(forbidden_message(user, attrs))
        };
    }
    // system:basic-user: anyone authenticated may ask what they may do.
    if user.in_group(GROUP_AUTHENTICATED)
        && attrs.verb == "create"
        && attrs.group == "authorization.k8s.io"
        && matches!(
            attrs.resource,
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
        )
    {
        return Decision::Allow;
    }
    match user.node_name() {
        Some(node) => authorize_node(user, node, attrs),
        None => Decision::Deny(forbidden_message(user, attrs)),
    }
}

fn authorize_node(user: &UserInfo, node: &str, a: &RequestAttributes<'_>) -> Decision {
    let deny = |reason: &str| Decision::Deny(reason.to_string());
    if node.is_empty() {
        return deny(&format!(
            "could not determine node from user {:?}",
            user.name
        ));
    }
    let read = matches!(a.verb, "get" | "list" | "watch");
    if read && a.subresource.is_empty() && NODE_READABLE.contains(&(a.group, a.resource)) {
        return Decision::Allow;
    }
    match (a.group, a.resource, a.subresource, a.verb) {
        // Its own Node object and status (NodeRestriction: only its own).
        ("", "nodes", "" | "status", "create" | "update" | "patch") => {
            if a.name == node {
                Decision::Allow
            } else {
                Decision::Deny(format!(
                    "node {node:?} is not allowed to modify node {:?}",
                    a.name
                ))
            }
        }
        ("", "nodes", "status", "get") if a.name == node => Decision::Allow,
        ("coordination.k8s.io", "leases", "", "create" | "update" | "patch" | "get" | "delete") => {
            if a.namespace != NODE_LEASE_NAMESPACE {
                deny(&format!(
                    "can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"
                ))
            } else if a.name != node {
                deny("can only access node lease with the same name as the requesting node")
            } else {
                Decision::Allow
            }
        }
        ("storage.k8s.io", "csinodes", "", "get" | "create" | "update" | "patch") => {
            if a.name == node {
                Decision::Allow
            } else {
                deny("can only access CSINode with the same name as the requesting node")
            }
        }
        ("", "pods", "status", "update" | "patch")
        | ("", "pods", "", "delete")
        | ("", "pods", "eviction", "create") => Decision::AllowIfPodOnNode {
            node: node.to_string(),
        },
        // The kubelet's event recorder creates events and patches repeats.
        ("" | "events.k8s.io", "events", "", "create" | "update" | "patch") => Decision::Allow,
        ("", "serviceaccounts", "token", "create") => Decision::Allow,
        _ => Decision::Deny(forbidden_message(user, a)),
    }
}

/// `User "X" cannot list resource "pods" in API group "" in the namespace
/// "default"`, exactly as the real server words (and HTML-escapes) it.
pub fn forbidden_message(user: &UserInfo, a: &RequestAttributes<'_>) -> String {
    let message = if !a.is_resource_request() {
        format!("User {:?} cannot {} path {:?}", user.name, a.verb, a.path)
    } else {
        let resource = if a.subresource.is_empty() {
            a.resource.to_string()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        if a.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                user.name, a.verb, a.group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                user.name, a.verb, a.group, a.namespace
            )
        }
    };
    message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The 403 for a denied request. Non-resource requests get the bare
/// `forbidden: ...` form the real server uses when there is no resource.
pub fn forbidden_error(attrs: &RequestAttributes<'_>, reason: &str) -> ApiError {
    if attrs.is_resource_request() {
        ApiError::forbidden(attrs.group, attrs.resource, attrs.name, reason)
    } else {
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!("forbidden: {reason}"),
            details: Some(Details::default()),
            retry_after: None,
        }
    }
}

/// The 403 when an [`Decision::AllowIfPodOnNode`] pod is bound elsewhere,
/// worded like NodeRestriction.
pub fn pod_not_on_node(attrs: &RequestAttributes<'_>, node: &str) -> ApiError {
    let reason = match (attrs.subresource, attrs.verb) {
        ("status", _) => format!(
            "node {node:?} can only update pod status for pods with spec.nodeName set to itself"
        ),
        ("eviction", _) => {
            format!("node {node} can only evict pods with spec.nodeName set to itself")
        }
        _ => format!("node {node:?} can only delete pods with spec.nodeName set to itself"),
    };
    forbidden_error(attrs, &reason)
}

impl Decision {
    /// `Ok(None)` to go ahead, `Ok(Some(node))` to go ahead only if the pod
    /// is on `node`, or the 403 to answer (ApiError is the crate-wide error
    /// type, so it is not boxed).
    #[allow(clippy::result_large_err)]
    pub fn into_result(self, attrs: &RequestAttributes<'_>) -> Result<Option<String>, ApiError> {
        match self {
            Decision::Allow => Ok(None),
            Decision::AllowIfPodOnNode { node } => Ok(Some(node)),
            Decision::Deny(reason) => Err(forbidden_error(attrs, &reason)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use crate::pki::Pki;
    use crate::token::TokenClaims;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    const NOW: i64 = 1_700_000_000;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            uid: String::new(),
        }
    }

    fn node(name: &str) -> UserInfo {
        user(
            &format!("system:node:{name}"),
            &[GROUP_NODES, GROUP_AUTHENTICATED],
        )
    }

    fn res<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        ns: &'a str,
        name: &'a str,
    ) -> RequestAttributes<'a> {
        RequestAttributes {
            verb,
            group,
            resource,
            namespace: ns,
            name,
            ..Default::default()
        }
    }

    fn sub<'a>(
        verb: &'a str,
        resource: &'a str,
        subresource: &'a str,
        ns: &'a str,
        name: &'a str,
    ) -> RequestAttributes<'a> {
        RequestAttributes {
            subresource,
            ..res(verb, "", resource, ns, name)
        }
    }

    fn path<'a>(verb: &'a str, path: &'a str) -> RequestAttributes<'a> {
        RequestAttributes {
            verb,
            path,
            ..Default::default()
        }
    }

    fn pki() -> (tempfile::TempDir, Pki) {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &[]).unwrap();
        (tmp, pki)
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    // ---- authentication ----

    #[test]
    fn client_cert_user_and_groups() {
        let (_t, pki) = pki();
        let u = user_from_client_cert(&der(pki.admin_cert_pem())).unwrap();
        assert_eq!(
            u,
            user("kubernetes-admin", &[GROUP_MASTERS, GROUP_AUTHENTICATED])
        );
        let (cert, _) = pki
            .issue_client_cert("system:node:n1", &["system:nodes"])
            .unwrap();
        let u = user_from_client_cert(&der(&cert)).unwrap();
        assert_eq!(u.node_name(), Some("n1"));
        let (cert, _) = pki.issue_client_cert("alice", &["dev", "ops"]).unwrap();
        assert_eq!(
            user_from_client_cert(&der(&cert)).unwrap().groups,
            ["dev", "ops", GROUP_AUTHENTICATED]
        );
        let (cert, _) = pki.issue_client_cert("bob", &[]).unwrap();
        assert_eq!(
            user_from_client_cert(&der(&cert)).unwrap().groups,
            [GROUP_AUTHENTICATED]
        );
        assert!(matches!(
            user_from_client_cert(b"junk"),
            Err(AuthError::ClientCertificate(_))
        ));
        assert!(matches!(
            user_from_client_cert(&[]),
            Err(AuthError::ClientCertificate(_))
        ));
    }

    #[test]
    fn bearer_header_parsing() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("  BEARER abc  ", Some("abc")),
            ("Bearer abc extra", Some("abc")),
            ("Bearer ", None),
            ("Bearer  abc", None),
            ("Bearer", None),
            ("Basic dXNlcjpwYXNz", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(bearer_token(header), want, "{header:?}");
        }
    }

    fn authenticator(pki: &Pki) -> Authenticator {
        let mut a = Authenticator::new(TokenSigner::from_pki(pki).unwrap());
        for t in parse_token_file(
            "admin-token,admin,uid-1,system:masters\nplain,pat,uid-2\n",
            "test",
        )
        .unwrap()
        {
            a.add_static_token(t);
        }
        a
    }

    #[test]
    fn authenticate_precedence_and_failures() {
        let (_t, pki) = pki();
        let a = authenticator(&pki);
        let admin = der(pki.admin_cert_pem());

        // Nothing: anonymous.
        assert_eq!(a.authenticate(None, None, NOW), Ok(None));
        assert_eq!(a.authenticate(None, Some("Basic xyz"), NOW), Ok(None));
        // Certificate wins over a wrong token.
        let u = a
            .authenticate(Some(&admin), Some("Bearer wrong"), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(u.name, "kubernetes-admin");
        // Static tokens.
        let u = a
            .authenticate(None, Some("Bearer admin-token"), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(
            u,
            UserInfo {
                name: "admin".into(),
                groups: vec![GROUP_MASTERS.into(), GROUP_AUTHENTICATED.into()],
                uid: "uid-1".into()
            }
        );
        let u = a
            .authenticate(None, Some("Bearer plain"), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(u.groups, [GROUP_AUTHENTICATED]);
        // Wrong token: 401.
        assert_eq!(
            a.authenticate(None, Some("Bearer wrong"), NOW),
            Err(AuthError::InvalidToken)
        );
        assert!(matches!(
            a.authenticate(None, Some("Bearer a.b.c"), NOW),
            Err(AuthError::ServiceAccountToken(_))
        ));
        // A bad certificate with a good token: the token carries it.
        let u = a
            .authenticate(Some(b"junk"), Some("Bearer plain"), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(u.name, "pat");
        // A bad certificate alone is an error.
        assert!(matches!(
            a.authenticate(Some(b"junk"), None, NOW),
            Err(AuthError::ClientCertificate(_))
        ));
        assert_eq!(AuthError::InvalidToken.to_api_error().code, 401);
        assert_eq!(
            ApiError::from(AuthError::InvalidToken).to_status()["reason"],
            "Unauthorized"
        );
    }

    #[test]
    fn service_account_tokens() {
        let (_t, pki) = pki();
        let a = authenticator(&pki);
        let token = a
            .signer()
            .issue(TokenClaims::new("team-a", "builder", "sa-uid", NOW, 3600))
            .unwrap();
        let header = format!("Bearer {token}");
        let u = a
            .authenticate(None, Some(&header), NOW + 5)
            .unwrap()
            .unwrap();
        assert_eq!(
            u,
            UserInfo {
                name: "system:serviceaccount:team-a:builder".into(),
                groups: vec![
                    "system:serviceaccounts".into(),
                    "system:serviceaccounts:team-a".into(),
                    GROUP_AUTHENTICATED.into()
                ],
                uid: "sa-uid".into(),
            }
        );
        // Expired.
        assert!(matches!(
            a.authenticate(None, Some(&header), NOW + 7200),
            Err(AuthError::ServiceAccountToken(TokenError::Expired { .. }))
        ));
        // A token for another audience is not for us.
        let claims = TokenClaims {
            audiences: vec!["vault".into()],
            ..TokenClaims::new("a", "b", "c", NOW, 600)
        };
        let header = format!("Bearer {}", a.signer().issue(claims).unwrap());
        assert!(matches!(
            a.authenticate(None, Some(&header), NOW),
            Err(AuthError::WrongAudience { .. })
        ));
        // Signed by another cluster.
        let (_t2, other) = super::tests::pki();
        let foreign = TokenSigner::from_pki(&other)
            .unwrap()
            .issue(TokenClaims::new("a", "b", "c", NOW, 600))
            .unwrap();
        assert!(matches!(
            a.authenticate(None, Some(&format!("Bearer {foreign}")), NOW),
            Err(AuthError::ServiceAccountToken(TokenError::BadSignature))
        ));
    }

    // ---- token file ----

    #[test]
    fn token_file_parsing() {
        let text = "t1,alice,1,\"dev,ops\"\r\n\n\"t,2\",\"bob \"\"b\"\"\",2\n,skipped,3\nt3,carol,3,,extra\nt1,alice2,9\n";
        let tokens = parse_token_file(text, "tokens.csv").unwrap();
        assert_eq!(
            tokens,
            vec![
                StaticToken {
                    token: "t,2".into(),
                    user: UserInfo {
                        name: "bob \"b\"".into(),
                        groups: vec![],
                        uid: "2".into()
                    }
                },
                StaticToken {
                    token: "t3".into(),
                    user: UserInfo {
                        name: "carol".into(),
                        groups: vec![],
                        uid: "3".into()
                    }
                },
                StaticToken {
                    token: "t1".into(),
                    user: UserInfo {
                        name: "alice2".into(),
                        groups: vec![],
                        uid: "9".into()
                    }
                },
            ]
        );
        let first = parse_token_file("t1,alice,1,\"dev,ops\"", "x").unwrap();
        assert_eq!(first[0].user.groups, ["dev", "ops"]);
        // A quoted field spanning lines keeps line numbers right.
        let multi = parse_token_file("a,\"b\nc\",1\nd,e\n", "x").unwrap_err();
        assert_eq!(multi.to_string(), "token file x, line 3: must have at least 3 columns (token, user name, user uid), found 2");
    }

    #[test]
    fn token_file_errors_name_the_line() {
        let cases = [
            ("ok,u,1\nonly,two\n", 2, "at least 3 columns"),
            ("ok,u,1\n\nbad\"quote,u,1\n", 3, "bare \""),
            ("\"unterminated,u,1\n", 1, "missing \""),
            ("\"a\"x,u,1\n", 1, "extraneous"),
            ("   \n", 1, "found 1"),
        ];
        for (text, line, what) in cases {
            match parse_token_file(text, "/etc/tokens.csv") {
                Err(AuthError::TokenFileSyntax {
                    path,
                    line: got,
                    reason,
                }) => {
                    assert_eq!(path, "/etc/tokens.csv");
                    assert_eq!(got, line, "{text:?}");
                    assert!(reason.contains(what), "{text:?}: {reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn load_token_file_from_disk() {
        let (_t, pki) = pki();
        let mut a = Authenticator::new(TokenSigner::from_pki(&pki).unwrap());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("tokens.csv");
        std::fs::write(&path, "secret,ops,7,system:masters\n").unwrap();
        assert_eq!(a.load_token_file(&path), Ok(1));
        let u = a
            .authenticate(None, Some("Bearer secret"), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(
            authorize(&u, &res("delete", "", "nodes", "", "x")),
            Decision::Allow
        );
        let missing = a.load_token_file(&tmp.path().join("nope.csv")).unwrap_err();
        assert!(missing.to_string().contains("nope.csv"), "{missing}");
    }

    // ---- authorization ----

    #[test]
    fn masters_may_do_anything() {
        let admin = user("kubernetes-admin", &[GROUP_MASTERS, GROUP_AUTHENTICATED]);
        for a in [
            res("deletecollection", "", "pods", "default", ""),
            res("create", "apps", "deployments", "x", "d"),
            sub("patch", "nodes", "status", "", "any"),
            path("post", "/anything"),
        ] {
            assert_eq!(authorize(&admin, &a), Decision::Allow, "{a:?}");
        }
    }

    #[test]
    fn non_resource_paths() {
        let sa = user(
            "system:serviceaccount:default:default",
            &[GROUP_SERVICE_ACCOUNTS, GROUP_AUTHENTICATED],
        );
        let anon = UserInfo::anonymous();
        let n = node("n1");
        let cases = [
            (&sa, "get", "/api", true),
            (&sa, "get", "/api/v1", true),
            (&sa, "get", "/apis/apps/v1", true),
            (&sa, "get", "/openapi/v2", true),
            (&sa, "get", "/openapi/v3/apis/apps/v1", true),
            (&sa, "get", "/version", true),
            (&sa, "get", "/healthz", true),
            (&n, "get", "/apis", true),
            (&sa, "post", "/api", false),
            (&sa, "get", "/metrics", false),
            (&sa, "get", "/healthz/etcd", false),
            (&anon, "get", "/healthz", true),
            (&anon, "get", "/livez", true),
            (&anon, "get", "/readyz", true),
            (&anon, "get", "/version", true),
            (&anon, "get", "/api", false),
            (&anon, "get", "/openapi/v2", false),
        ];
        for (u, verb, p, allowed) in cases {
            let d = authorize(u, &path(verb, p));
            assert_eq!(
                d == Decision::Allow,
                allowed,
                "{} {verb} {p}: {d:?}",
                u.name
            );
        }
        let d = authorize(&sa, &path("get", "/metrics"));
        assert_eq!(
            d,
            Decision::Deny(
                "User \"system:serviceaccount:default:default\" cannot get path \"/metrics\""
                    .into()
            )
        );
        let e = forbidden_error(
            &path("get", "/metrics"),
            "User \"x\" cannot get path \"/metrics\"",
        );
        assert_eq!(
            e.message,
            "forbidden: User \"x\" cannot get path \"/metrics\""
        );
        assert_eq!(e.code, 403);
        assert_eq!(e.to_status()["details"], serde_json::json!({}));
    }

    #[test]
    fn other_users_get_the_rbac_denial() {
        let sa = user(
            "system:serviceaccount:default:default",
            &[GROUP_SERVICE_ACCOUNTS, GROUP_AUTHENTICATED],
        );
        let a = res("list", "", "pods", "default", "");
        let Decision::Deny(why) = authorize(&sa, &a) else {
            panic!()
        };
        assert_eq!(
            why,
            "User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let e = forbidden_error(&a, &why);
        assert_eq!(e.message, format!("pods is forbidden: {why}"));

        let a = sub("get", "nodes", "status", "", "n1");
        let Decision::Deny(why) = authorize(&sa, &a) else {
            panic!()
        };
        assert_eq!(
            why,
            "User \"system:serviceaccount:default:default\" cannot get resource \"nodes/status\" in API group \"\" at the cluster scope"
        );
        let e = forbidden_error(&a, &why);
        assert_eq!(e.message, format!("nodes \"n1\" is forbidden: {why}"));
        assert_eq!(
            e.to_status()["details"],
            serde_json::json!({"name": "n1", "kind": "nodes"})
        );

        let a = res("create", "apps", "deployments", "prod", "");
        let Decision::Deny(why) = authorize(&user("bob", &[GROUP_AUTHENTICATED]), &a) else {
            panic!()
        };
        assert!(why.ends_with("cannot create resource \"deployments\" in API group \"apps\" in the namespace \"prod\""));
        assert_eq!(
            forbidden_error(&a, &why).message,
            format!("deployments.apps is forbidden: {why}")
        );

        // Self reviews are open to everyone authenticated, not to anonymous.
        let review = res(
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            "",
        );
        assert_eq!(authorize(&sa, &review), Decision::Allow);
        assert!(matches!(
            authorize(&UserInfo::anonymous(), &review),
            Decision::Deny(_)
        ));
        assert!(matches!(
            authorize(&UserInfo::anonymous(), &res("get", "", "pods", "x", "y")),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn forbidden_message_is_html_escaped() {
        let u = user("<evil>&co", &[GROUP_AUTHENTICATED]);
        let msg = forbidden_message(&u, &path("get", "/x<y>"));
        assert_eq!(
            msg,
            "User \"&lt;evil&gt;&amp;co\" cannot get path \"/x&lt;y&gt;\""
        );
    }

    #[test]
    fn node_identity_requires_the_nodes_group() {
        assert_eq!(node("n1").node_name(), Some("n1"));
        assert_eq!(
            user("system:node:n1", &[GROUP_AUTHENTICATED]).node_name(),
            None
        );
        assert_eq!(user("n1", &[GROUP_NODES]).node_name(), None);
        // Without the group it is an ordinary user.
        let imposter = user("system:node:n1", &[GROUP_AUTHENTICATED]);
        assert!(matches!(
            authorize(&imposter, &res("get", "", "pods", "default", "p")),
            Decision::Deny(_)
        ));
        // A node identity without a name is refused outright.
        let nameless = node("");
        assert_eq!(
            authorize(&nameless, &res("get", "", "pods", "default", "p")),
            Decision::Deny("could not determine node from user \"system:node:\"".into())
        );
    }

    #[test]
    fn node_rules() {
        let n = node("n1");
        let allow = Decision::Allow;
        let on_node = Decision::AllowIfPodOnNode { node: "n1".into() };
        let cases: Vec<(RequestAttributes<'_>, Decision)> = vec![
            // Reads.
            (res("get", "", "nodes", "", "n2"), allow.clone()),
            (res("list", "", "nodes", "", ""), allow.clone()),
            (res("watch", "", "pods", "", ""), allow.clone()),
            (res("get", "", "pods", "default", "p"), allow.clone()),
            (res("watch", "", "services", "", ""), allow.clone()),
            (res("list", "", "endpoints", "", ""), allow.clone()),
            (
                res("watch", "discovery.k8s.io", "endpointslices", "", ""),
                allow.clone(),
            ),
            (
                res("get", "", "configmaps", "default", "kube-root-ca.crt"),
                allow.clone(),
            ),
            (res("watch", "", "secrets", "default", ""), allow.clone()),
            (res("get", "", "persistentvolumes", "", "pv"), allow.clone()),
            (
                res("get", "", "persistentvolumeclaims", "ns", "pvc"),
                allow.clone(),
            ),
            (
                res("watch", "storage.k8s.io", "csidrivers", "", ""),
                allow.clone(),
            ),
            (
                res("list", "storage.k8s.io", "csinodes", "", ""),
                allow.clone(),
            ),
            (
                res("watch", "node.k8s.io", "runtimeclasses", "", ""),
                allow.clone(),
            ),
            (
                res(
                    "get",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n2",
                ),
                allow.clone(),
            ),
            (res("list", "", "namespaces", "", ""), allow.clone()),
            // Own node.
            (res("create", "", "nodes", "", "n1"), allow.clone()),
            (res("update", "", "nodes", "", "n1"), allow.clone()),
            (res("patch", "", "nodes", "", "n1"), allow.clone()),
            (sub("patch", "nodes", "status", "", "n1"), allow.clone()),
            (sub("update", "nodes", "status", "", "n1"), allow.clone()),
            (sub("get", "nodes", "status", "", "n1"), allow.clone()),
            // Other nodes.
            (
                res("create", "", "nodes", "", "n2"),
                Decision::Deny("node \"n1\" is not allowed to modify node \"n2\"".into()),
            ),
            (
                res("patch", "", "nodes", "", "n2"),
                Decision::Deny("node \"n1\" is not allowed to modify node \"n2\"".into()),
            ),
            (
                sub("patch", "nodes", "status", "", "n2"),
                Decision::Deny("node \"n1\" is not allowed to modify node \"n2\"".into()),
            ),
            (
                sub("update", "nodes", "status", "", "n2"),
                Decision::Deny("node \"n1\" is not allowed to modify node \"n2\"".into()),
            ),
            // Leases.
            (
                res(
                    "create",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n1",
                ),
                allow.clone(),
            ),
            (
                res(
                    "update",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n1",
                ),
                allow.clone(),
            ),
            (
                res(
                    "patch",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n1",
                ),
                allow.clone(),
            ),
            (
                res(
                    "delete",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n1",
                ),
                allow.clone(),
            ),
            (
                res(
                    "update",
                    "coordination.k8s.io",
                    "leases",
                    "kube-node-lease",
                    "n2",
                ),
                Decision::Deny(
                    "can only access node lease with the same name as the requesting node".into(),
                ),
            ),
            (
                res("create", "coordination.k8s.io", "leases", "default", "n1"),
                Decision::Deny(
                    "can only access leases in the \"kube-node-lease\" system namespace".into(),
                ),
            ),
            // CSINodes.
            (
                res("get", "storage.k8s.io", "csinodes", "", "n1"),
                allow.clone(),
            ),
            (
                res("create", "storage.k8s.io", "csinodes", "", "n1"),
                allow.clone(),
            ),
            (
                res("update", "storage.k8s.io", "csinodes", "", "n1"),
                allow.clone(),
            ),
            (
                res("patch", "storage.k8s.io", "csinodes", "", "n1"),
                allow.clone(),
            ),
            (
                res("create", "storage.k8s.io", "csinodes", "", "n2"),
                Decision::Deny(
                    "can only access CSINode with the same name as the requesting node".into(),
                ),
            ),
            // Pods it runs.
            (
                sub("patch", "pods", "status", "default", "p"),
                on_node.clone(),
            ),
            (
                sub("update", "pods", "status", "default", "p"),
                on_node.clone(),
            ),
            (res("delete", "", "pods", "default", "p"), on_node.clone()),
            (
                sub("create", "pods", "eviction", "default", "p"),
                on_node.clone(),
            ),
            // Events and tokens.
            (res("create", "", "events", "default", ""), allow.clone()),
            (res("patch", "", "events", "default", "e"), allow.clone()),
            (
                res("create", "events.k8s.io", "events", "kube-system", ""),
                allow.clone(),
            ),
            (
                sub("create", "serviceaccounts", "token", "default", "default"),
                allow.clone(),
            ),
        ];
        for (a, want) in cases {
            assert_eq!(authorize(&n, &a), want, "{a:?}");
        }
    }

    #[test]
    fn node_denials_use_the_rbac_message() {
        let n = node("n1");
        let denied = [
            res("create", "", "pods", "default", "p"),
            res("update", "", "pods", "default", "p"),
            res("delete", "", "nodes", "", "n1"),
            res("deletecollection", "", "pods", "default", ""),
            res("create", "", "configmaps", "default", "c"),
            res("update", "", "secrets", "default", "s"),
            res("list", "apps", "deployments", "", ""),
            res("get", "", "serviceaccounts", "default", "default"),
            res("list", "", "events", "default", ""),
            res("delete", "storage.k8s.io", "csinodes", "", "n1"),
            sub("get", "nodes", "status", "", "n2"),
            sub("get", "pods", "log", "default", "p"),
            sub("create", "pods", "exec", "default", "p"),
        ];
        for a in denied {
            assert_eq!(
                authorize(&n, &a),
                Decision::Deny(forbidden_message(&n, &a)),
                "{a:?}"
            );
        }
        let Decision::Deny(why) = authorize(&n, &res("list", "", "serviceaccounts", "", "")) else {
            panic!()
        };
        assert_eq!(why, "User \"system:node:n1\" cannot list resource \"serviceaccounts\" in API group \"\" at the cluster scope");
    }

    #[test]
    fn node_patching_node_status_end_to_end() {
        let n = node("hollow-node-0");
        let other = sub("patch", "nodes", "status", "", "hollow-node-1");
        let e = authorize(&n, &other).into_result(&other).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "nodes \"hollow-node-1\" is forbidden: node \"hollow-node-0\" is not allowed to modify node \"hollow-node-1\""
        );
        let own = sub("patch", "nodes", "status", "", "hollow-node-0");
        assert_eq!(authorize(&n, &own).into_result(&own), Ok(None));
        let lease = res(
            "update",
            "coordination.k8s.io",
            "leases",
            "kube-node-lease",
            "hollow-node-1",
        );
        let e = authorize(&n, &lease).into_result(&lease).unwrap_err();
        assert_eq!(
            e.message,
            "leases.coordination.k8s.io \"hollow-node-1\" is forbidden: can only access node lease with the same name as the requesting node"
        );
    }

    #[test]
    fn pod_on_other_node_messages() {
        let status = sub("patch", "pods", "status", "default", "p");
        let Decision::AllowIfPodOnNode { node } = authorize(&node("n1"), &status) else {
            panic!()
        };
        assert_eq!(
            authorize(&self::node("n1"), &status).into_result(&status),
            Ok(Some("n1".to_string()))
        );
        let e = pod_not_on_node(&status, &node);
        assert_eq!(e.message, "pods \"p\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to itself");
        let delete = res("delete", "", "pods", "default", "p");
        assert_eq!(
            pod_not_on_node(&delete, "n1").message,
            "pods \"p\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself"
        );
        let evict = sub("create", "pods", "eviction", "default", "p");
        assert_eq!(
            pod_not_on_node(&evict, "n1").message,
            "pods \"p\" is forbidden: node n1 can only evict pods with spec.nodeName set to itself"
        );
    }
}
