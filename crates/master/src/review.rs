//! Resources the server answers instead of storing: TokenReview, the access
//! reviews (SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectAccessReview), SelfSubjectRulesReview, and componentstatuses.
//! The reviews are answered by the same authenticator and authorizer that
//! guard every request (`auth`), so `kubectl auth can-i` tells the truth.
//! Pure: the caller passes the requester, a pod lookup and the clock.

use apimachinery::registry::ResourceInfo;
use apimachinery::status::{ApiError, Cause};
use serde_json::{json, Map, Value};

use crate::auth::{self, Authenticator, Decision, RequestAttributes, UserInfo};

/// Which review a create request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewKind {
    TokenReview,
    SubjectAccessReview,
    LocalSubjectAccessReview,
    SelfSubjectAccessReview,
    SelfSubjectRulesReview,
}

impl ReviewKind {
    /// The review a resource is, if it is one.
    pub fn of(info: &ResourceInfo) -> Option<ReviewKind> {
        match (info.group, info.kind) {
            ("authentication.k8s.io", "TokenReview") => Some(ReviewKind::TokenReview),
            ("authorization.k8s.io", "SubjectAccessReview") => {
                Some(ReviewKind::SubjectAccessReview)
            }
            ("authorization.k8s.io", "LocalSubjectAccessReview") => {
                Some(ReviewKind::LocalSubjectAccessReview)
            }
            ("authorization.k8s.io", "SelfSubjectAccessReview") => {
                Some(ReviewKind::SelfSubjectAccessReview)
            }
            ("authorization.k8s.io", "SelfSubjectRulesReview") => {
                Some(ReviewKind::SelfSubjectRulesReview)
            }
            _ => None,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            ReviewKind::TokenReview => "TokenReview",
            ReviewKind::SubjectAccessReview => "SubjectAccessReview",
            ReviewKind::LocalSubjectAccessReview => "LocalSubjectAccessReview",
            ReviewKind::SelfSubjectAccessReview => "SelfSubjectAccessReview",
            ReviewKind::SelfSubjectRulesReview => "SelfSubjectRulesReview",
        }
    }

    fn group(self) -> &'static str {
        match self {
            ReviewKind::TokenReview => "authentication.k8s.io",
            _ => "authorization.k8s.io",
        }
    }
}

/// What a review needs from the running server.
pub struct ReviewContext<'a> {
    /// Who sent the review.
    pub requester: &'a UserInfo,
    /// The namespace of the request URL (LocalSubjectAccessReview).
    pub namespace: &'a str,
    pub authenticator: &'a Authenticator,
    /// Unix seconds, for token expiry.
    pub now: i64,
    /// The node a pod is bound to (`None`: no such pod or not bound), for
    /// the node authorizer's pod rules.
    pub pod_node: &'a dyn Fn(&str, &str) -> Option<String>,
}

/// Answers a review: the request body with `status` filled in, as the real
/// server returns it (201). Invalid reviews are 400/422 as there.
pub fn answer(kind: ReviewKind, body: Value, cx: &ReviewContext<'_>) -> Result<Value, ApiError> {
    let mut review = body;
    if !review.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of a {} must be a JSON object",
            kind.kind()
        )));
    }
    check_empty_metadata(kind, &review)?;
    let status = match kind {
        ReviewKind::TokenReview => token_review(&review, cx)?,
        ReviewKind::SelfSubjectRulesReview => rules_review(&review, cx)?,
        _ => access_review(kind, &mut review, cx)?,
    };
    if let Some(m) = review.as_object_mut() {
        let mut meta = json!({"creationTimestamp": null});
        if kind == ReviewKind::LocalSubjectAccessReview {
            meta["namespace"] = json!(cx.namespace);
        }
        m.insert("metadata".into(), meta);
        m.insert("status".into(), status);
    }
    Ok(review)
}

/// Reviews are not objects: their metadata must be empty (kubectl sends
/// `creationTimestamp: null`, which is empty).
fn check_empty_metadata(kind: ReviewKind, review: &Value) -> Result<(), ApiError> {
    let Some(meta) = review.get("metadata") else {
        return Ok(());
    };
    let empty = match meta {
        Value::Null => true,
        // The real validation clears managedFields (and a local review's
        // namespace) before comparing with empty metadata.
        Value::Object(m) => m.iter().all(|(k, v)| match v {
            _ if k == "managedFields" => true,
            _ if k == "namespace" && kind == ReviewKind::LocalSubjectAccessReview => true,
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => k.is_empty(),
        }),
        _ => false,
    };
    if empty {
        return Ok(());
    }
    Err(invalid(
        kind,
        vec![Cause::invalid("metadata", meta, "must be empty")],
    ))
}

fn invalid(kind: ReviewKind, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid(kind.group(), kind.kind(), "", causes)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// TokenReview: authenticates `spec.token` as a request carrying it would
/// be (static tokens, then service-account JWTs).
fn token_review(review: &Value, cx: &ReviewContext<'_>) -> Result<Value, ApiError> {
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let wanted = str_list(review.pointer("/spec/audiences"));
    let api_audiences = cx.authenticator.api_audiences().to_vec();
    let header = format!("Bearer {token}");
    let mut status = Map::new();
    match cx.authenticator.authenticate(None, Some(&header), cx.now) {
        Ok(Some(user)) => {
            status.insert("authenticated".into(), json!(true));
            status.insert(
                "user".into(),
                json!({"username": user.name, "uid": user.uid, "groups": user.groups}),
            );
            // Our tokens are valid for the API audiences only.
            if !wanted.is_empty() && !wanted.iter().any(|a| api_audiences.contains(a)) {
                status.insert("authenticated".into(), json!(false));
                status.insert("error".into(), json!("token audiences don't match"));
                status.insert("audiences".into(), json!([]));
            } else if wanted.is_empty() {
                status.insert("audiences".into(), json!(api_audiences));
            } else {
                let both: Vec<&String> = wanted
                    .iter()
                    .filter(|a| api_audiences.contains(a))
                    .collect();
                status.insert("audiences".into(), json!(both));
            }
        }
        Ok(None) => {
            status.insert("authenticated".into(), json!(false));
        }
        Err(e) => {
            status.insert("authenticated".into(), json!(false));
            status.insert("error".into(), json!(e.to_string()));
        }
    }
    Ok(Value::Object(status))
}

/// The attributes of an access review's spec, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Attrs {
    verb: String,
    group: String,
    resource: String,
    subresource: String,
    namespace: String,
    name: String,
    path: String,
}

fn field(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn access_review(
    kind: ReviewKind,
    review: &mut Value,
    cx: &ReviewContext<'_>,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or_else(|| json!({}));
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let mut causes = Vec::new();
    match (resource, non_resource) {
        (Some(_), Some(n)) => causes.push(Cause::invalid(
            "spec.nonResourceAttributes",
            n,
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => causes.push(Cause::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        (None, Some(n)) if kind == ReviewKind::LocalSubjectAccessReview => {
            causes.push(Cause::invalid(
                "spec.nonResourceAttributes",
                n,
                "disallowed on this kind of request",
            ))
        }
        _ => {}
    }
    let user = match kind {
        ReviewKind::SelfSubjectAccessReview => cx.requester.clone(),
        _ => {
            let user = UserInfo {
                name: field(&spec, "user"),
                groups: str_list(spec.get("groups")),
                uid: field(&spec, "uid"),
            };
            if user.name.is_empty() && user.groups.is_empty() {
                causes.push(Cause::invalid(
                    "spec.user",
                    &json!(""),
                    "at least one of user or group must be specified",
                ));
            }
            user
        }
    };
    if !causes.is_empty() {
        return Err(invalid(kind, causes));
    }
    let attrs = match (resource, non_resource) {
        (Some(r), _) => Attrs {
            verb: field(r, "verb"),
            group: field(r, "group"),
            resource: field(r, "resource"),
            subresource: field(r, "subresource"),
            namespace: field(r, "namespace"),
            name: field(r, "name"),
            path: String::new(),
        },
        (None, Some(n)) => Attrs {
            verb: field(n, "verb"),
            path: field(n, "path"),
            ..Attrs::default()
        },
        (None, None) => Attrs::default(),
    };
    if kind == ReviewKind::LocalSubjectAccessReview {
        if attrs.namespace.is_empty() {
            // The URL's namespace is the one asked about.
            if let Some(r) = review
                .pointer_mut("/spec/resourceAttributes")
                .and_then(Value::as_object_mut)
            {
                r.insert("namespace".into(), json!(cx.namespace));
            }
        } else if attrs.namespace != cx.namespace {
            return Err(ApiError::bad_request(format!(
                "spec.resourceAttributes.namespace must match namespace: {}",
                cx.namespace
            )));
        }
    }
    let attrs = Attrs {
        namespace: if kind == ReviewKind::LocalSubjectAccessReview {
            cx.namespace.to_string()
        } else {
            attrs.namespace
        },
        ..attrs
    };
    Ok(decide(&user, &attrs, cx.pod_node))
}

/// The authorizer's answer as a SubjectAccessReviewStatus.
fn decide(user: &UserInfo, a: &Attrs, pod_node: &dyn Fn(&str, &str) -> Option<String>) -> Value {
    let attrs = RequestAttributes {
        verb: &a.verb,
        group: &a.group,
        resource: &a.resource,
        subresource: &a.subresource,
        namespace: &a.namespace,
        name: &a.name,
        path: &a.path,
    };
    let allowed = match auth::authorize(user, &attrs) {
        Decision::Allow => true,
        Decision::Deny(_) => false,
        // Allowed only for a named pod bound to the asking node.
        Decision::AllowIfPodOnNode { node } => {
            !a.name.is_empty() && pod_node(&a.namespace, &a.name).is_some_and(|n| n == node)
        }
    };
    let mut status = Map::new();
    status.insert("allowed".into(), json!(allowed));
    // The real RBAC authorizer names the binding that allowed; a denial
    // carries no reason (no authorizer had an opinion).
    if allowed && user.in_group(auth::GROUP_MASTERS) {
        status.insert(
            "reason".into(),
            json!(format!(
                "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group {:?}",
                auth::GROUP_MASTERS
            )),
        );
    }
    Value::Object(status)
}

/// SelfSubjectRulesReview: what the requester may do in `spec.namespace`,
/// from the rules our authorizer applies. Node identities get the
/// RBAC-granted rules plus `incomplete`, as the real Node authorizer cannot
/// list its rules.
fn rules_review(review: &Value, cx: &ReviewContext<'_>) -> Result<Value, ApiError> {
    let ns = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !cx.namespace.is_empty() && ns != cx.namespace {
        return Err(ApiError::bad_request(format!(
            "spec.namespace must match namespace: {}",
            cx.namespace
        )));
    }
    let user = cx.requester;
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    if user.in_group(auth::GROUP_MASTERS) {
        resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
    }
    if user.in_group(auth::GROUP_AUTHENTICATED) {
        resource_rules.push(json!({
            "verbs": ["create"],
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        }));
        non_resource_rules
            .push(json!({"verbs": ["get"], "nonResourceURLs": auth::DISCOVERY_PATHS}));
    }
    non_resource_rules.push(json!({"verbs": ["get"], "nonResourceURLs": auth::PUBLIC_INFO_PATHS}));
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    });
    if user.node_name().is_some() && !user.in_group(auth::GROUP_MASTERS) {
        status["incomplete"] = json!(true);
        status["evaluationError"] = json!("node authorizer does not support user rule resolution");
    }
    Ok(status)
}

/// The default RBAC objects that describe what our built-in authorizer
/// grants (it does not read RBAC objects): `cluster-admin` for
/// system:masters, `system:basic-user`, `system:discovery` and
/// `system:public-info-viewer`, with the real bootstrap labels. Returns
/// (resource plural, object) pairs: ClusterRoles first, then their bindings.
pub fn default_rbac_objects() -> Vec<(&'static str, Value)> {
    let meta = |name: &str| {
        json!({
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        })
    };
    let role = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": meta(name), "rules": rules})
    };
    let binding = |name: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": meta(name),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": subjects})
    };
    let (authenticated, unauthenticated) = (auth::GROUP_AUTHENTICATED, auth::GROUP_UNAUTHENTICATED);
    vec![
        (
            "clusterroles",
            role(
                "cluster-admin",
                json!([
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["*"], "verbs": ["*"]},
                ]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:basic-user",
                json!([{
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                }]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:discovery",
                json!([
                    {"nonResourceURLs": auth::DISCOVERY_PATHS, "verbs": ["get"]},
                ]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:public-info-viewer",
                json!([
                    {"nonResourceURLs": auth::PUBLIC_INFO_PATHS, "verbs": ["get"]},
                ]),
            ),
        ),
        (
            "clusterrolebindings",
            binding("cluster-admin", &[auth::GROUP_MASTERS]),
        ),
        (
            "clusterrolebindings",
            binding("system:basic-user", &[authenticated]),
        ),
        (
            "clusterrolebindings",
            binding("system:discovery", &[authenticated]),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:public-info-viewer",
                &[authenticated, unauthenticated],
            ),
        ),
    ]
}

/// `componentstatuses`: the components this process can vouch for. The
/// store is in-process (it replaces etcd), so answering at all means it is
/// healthy; the scheduler and controllers run beside the API server only
/// when the embedded control plane starts them, so they are not listed.
pub fn component_statuses(store_objects: usize) -> Vec<Value> {
    vec![json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": "store-0", "creationTimestamp": null},
        "conditions": [{
            "type": "Healthy",
            "status": "True",
            "message": format!("{{\"health\":\"true\",\"reason\":\"\",\"objects\":{store_objects}}}"),
        }],
    })]
}

/// `GET componentstatuses[/name]`.
pub fn component_status_response(name: &str, store_objects: usize) -> Result<Value, ApiError> {
    let items = component_statuses(store_objects);
    if name.is_empty() {
        return Ok(json!({
            "kind": "ComponentStatusList",
            "apiVersion": "v1",
            "metadata": {},
            "items": items,
        }));
    }
    items
        .into_iter()
        .find(|i| i.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| ApiError::not_found("", "componentstatuses", name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use crate::auth::StaticToken;
    use crate::pki::Pki;
    use crate::token::TokenSigner;

    /// One authenticator for all tests: generating its keys is slow.
    fn authenticator() -> &'static Authenticator {
        static AUTHN: std::sync::OnceLock<Authenticator> = std::sync::OnceLock::new();
        AUTHN.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
            let mut a = Authenticator::new(TokenSigner::from_pki(&pki).unwrap());
            a.add_static_token(StaticToken {
                token: "node-token".into(),
                user: UserInfo {
                    name: "system:node:n1".into(),
                    groups: vec![auth::GROUP_NODES.into()],
                    uid: "u1".into(),
                },
            });
            a
        })
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            uid: String::new(),
        }
    }

    fn pod_node(ns: &str, name: &str) -> Option<String> {
        (ns == "default" && name == "on-n1").then(|| "n1".to_string())
    }

    fn run(
        kind: ReviewKind,
        requester: &UserInfo,
        ns: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        let cx = ReviewContext {
            requester,
            namespace: ns,
            authenticator: authenticator(),
            now: 1_700_000_000,
            pod_node: &pod_node,
        };
        answer(kind, body, &cx)
    }

    #[test]
    fn access_reviews_give_the_authorizers_answers() {
        let admin = user("admin", &[auth::GROUP_MASTERS, auth::GROUP_AUTHENTICATED]);
        let node = user(
            "system:node:n1",
            &[auth::GROUP_NODES, auth::GROUP_AUTHENTICATED],
        );
        let ssar = |verb: &str, resource: &str, ns: &str, name: &str, sub: &str| {
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"resourceAttributes": {"verb": verb, "resource": resource,
                            "namespace": ns, "name": name, "subresource": sub}}})
        };
        // (requester, verb, resource, namespace, name, subresource, allowed)
        let cases: Vec<(&UserInfo, &str, &str, &str, &str, &str, bool)> = vec![
            (&admin, "delete", "nodes", "", "x", "", true),
            (&admin, "create", "secrets", "default", "", "", true),
            (&node, "get", "pods", "default", "", "", true),
            (&node, "list", "secrets", "default", "", "", true),
            (&node, "create", "secrets", "default", "", "", false),
            (&node, "delete", "nodes", "", "n1", "", false),
            (&node, "patch", "nodes", "", "n1", "status", true),
            (&node, "patch", "nodes", "", "n2", "status", false),
            (&node, "update", "pods", "default", "on-n1", "status", true),
            (
                &node,
                "update",
                "pods",
                "default",
                "elsewhere",
                "status",
                false,
            ),
        ];
        for (who, verb, res, ns, name, sub, want) in cases {
            let out = run(
                ReviewKind::SelfSubjectAccessReview,
                who,
                "",
                ssar(verb, res, ns, name, sub),
            )
            .unwrap();
            assert_eq!(
                out["status"]["allowed"], want,
                "{} {verb} {res}/{sub} {ns}/{name}: {out}",
                who.name
            );
            assert_eq!(out["kind"], "SelfSubjectAccessReview");
        }
        let out = run(
            ReviewKind::SelfSubjectAccessReview,
            &admin,
            "",
            ssar("get", "pods", "", "", ""),
        )
        .unwrap();
        assert!(out["status"]["reason"]
            .as_str()
            .unwrap()
            .contains("system:masters"));
    }

    #[test]
    fn subject_access_review_asks_about_the_spec_user() {
        let admin = user("admin", &[auth::GROUP_MASTERS]);
        let body = |user: &str, groups: Value| {
            json!({"kind": "SubjectAccessReview", "spec": {"user": user, "groups": groups,
                   "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}})
        };
        let out = run(
            ReviewKind::SubjectAccessReview,
            &admin,
            "",
            body("bob", json!([])),
        )
        .unwrap();
        assert_eq!(out["status"]["allowed"], true, "public info: {out}");
        let write = json!({"kind": "SubjectAccessReview", "spec": {"user": "bob",
                   "resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "a"}}});
        let out = run(ReviewKind::SubjectAccessReview, &admin, "", write).unwrap();
        assert_eq!(out["status"]["allowed"], false);
        let e = run(
            ReviewKind::SubjectAccessReview,
            &admin,
            "",
            body("", json!([])),
        )
        .unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains("at least one of user or group"),
            "{}",
            e.message
        );
    }

    #[test]
    fn invalid_reviews_are_refused_like_the_real_server() {
        let admin = user("admin", &[auth::GROUP_MASTERS]);
        // (kind, namespace, body, code, message part)
        let cases = [
            (
                ReviewKind::SelfSubjectAccessReview,
                "",
                json!({"spec": {}}),
                422,
                "exactly one of",
            ),
            (
                ReviewKind::SelfSubjectAccessReview,
                "",
                json!({"spec": {"resourceAttributes": {}, "nonResourceAttributes": {}}}),
                422,
                "cannot be specified in combination",
            ),
            (
                ReviewKind::SelfSubjectAccessReview,
                "",
                json!({"metadata": {"name": "x"}, "spec": {"resourceAttributes": {}}}),
                422,
                "must be empty",
            ),
            (
                ReviewKind::LocalSubjectAccessReview,
                "a",
                json!({"spec": {"user": "u", "resourceAttributes": {"namespace": "b"}}}),
                400,
                "must match namespace: a",
            ),
            (
                ReviewKind::TokenReview,
                "",
                json!({"spec": {}}),
                400,
                "token is required",
            ),
            (
                ReviewKind::SelfSubjectRulesReview,
                "a",
                json!({"spec": {"namespace": "b"}}),
                400,
                "must match",
            ),
        ];
        for (kind, ns, body, code, part) in cases {
            let e = run(kind, &admin, ns, body).unwrap_err();
            assert_eq!(e.code, code, "{kind:?}: {}", e.message);
            assert!(e.message.contains(part), "{kind:?}: {}", e.message);
        }
    }

    #[test]
    fn local_review_takes_the_url_namespace() {
        let admin = user("admin", &[auth::GROUP_MASTERS]);
        let body = json!({"spec": {"user": "system:node:n1", "groups": [auth::GROUP_NODES],
                  "resourceAttributes": {"verb": "update", "resource": "pods", "subresource": "status", "name": "on-n1"}}});
        let out = run(
            ReviewKind::LocalSubjectAccessReview,
            &admin,
            "default",
            body,
        )
        .unwrap();
        assert_eq!(out["spec"]["resourceAttributes"]["namespace"], "default");
        assert_eq!(out["status"]["allowed"], true, "{out}");
    }

    #[test]
    fn token_review_uses_the_authenticator() {
        let admin = user("admin", &[auth::GROUP_MASTERS]);
        let tr = |token: &str| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
        let out = run(ReviewKind::TokenReview, &admin, "", tr("node-token")).unwrap();
        assert_eq!(out["status"]["authenticated"], true, "{out}");
        assert_eq!(out["status"]["user"]["username"], "system:node:n1");
        assert!(out["status"]["user"]["groups"]
            .as_array()
            .unwrap()
            .contains(&json!(auth::GROUP_AUTHENTICATED)));
        let out = run(ReviewKind::TokenReview, &admin, "", tr("nope")).unwrap();
        assert_eq!(out["status"]["authenticated"], false);
        assert_eq!(out["status"]["error"], "invalid bearer token");
    }

    #[test]
    fn rules_reviews_list_what_the_authorizer_allows() {
        let admin = user("admin", &[auth::GROUP_MASTERS, auth::GROUP_AUTHENTICATED]);
        let node = user(
            "system:node:n1",
            &[auth::GROUP_NODES, auth::GROUP_AUTHENTICATED],
        );
        let body = json!({"spec": {"namespace": "default"}});
        let out = run(ReviewKind::SelfSubjectRulesReview, &admin, "", body.clone()).unwrap();
        assert_eq!(out["status"]["resourceRules"][0]["verbs"], json!(["*"]));
        assert_eq!(out["status"]["incomplete"], false);
        let out = run(ReviewKind::SelfSubjectRulesReview, &node, "", body).unwrap();
        assert_eq!(out["status"]["incomplete"], true);
        assert_eq!(
            out["status"]["resourceRules"][0]["resources"],
            json!(["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
        );
    }

    /// The stored defaults say what the authorizer does: every rule of
    /// a default ClusterRole, for every group bound to it, is allowed.
    #[test]
    fn default_rbac_objects_describe_the_authorizer() {
        let objects = default_rbac_objects();
        let role = |name: &str| {
            objects
                .iter()
                .find(|(p, o)| *p == "clusterroles" && o["metadata"]["name"] == name)
                .map(|(_, o)| o.clone())
                .unwrap()
        };
        let mut checked = 0;
        for (_, b) in objects.iter().filter(|(p, _)| *p == "clusterrolebindings") {
            let r = role(b["roleRef"]["name"].as_str().unwrap());
            for subject in b["subjects"].as_array().unwrap() {
                let who = user("someone", &[subject["name"].as_str().unwrap()]);
                for rule in r["rules"].as_array().unwrap() {
                    let verb = rule["verbs"][0].as_str().unwrap();
                    let verb = if verb == "*" { "delete" } else { verb };
                    let attrs = if let Some(urls) = rule["nonResourceURLs"].as_array() {
                        let path = urls[0].as_str().unwrap().replace('*', "x");
                        Attrs {
                            verb: verb.into(),
                            path,
                            ..Attrs::default()
                        }
                    } else {
                        let group = rule["apiGroups"][0].as_str().unwrap().replace('*', "apps");
                        let resource = rule["resources"][0]
                            .as_str()
                            .unwrap()
                            .replace('*', "deployments");
                        Attrs {
                            verb: verb.into(),
                            group,
                            resource,
                            ..Attrs::default()
                        }
                    };
                    let status = decide(&who, &attrs, &pod_node);
                    assert_eq!(status["allowed"], true, "{} {attrs:?}", subject["name"]);
                    checked += 1;
                }
            }
        }
        assert!(checked >= 6);
    }

    #[test]
    fn component_statuses_list_and_get() {
        let list = component_status_response("", 3).unwrap();
        assert_eq!(list["kind"], "ComponentStatusList");
        assert_eq!(list["items"][0]["conditions"][0]["status"], "True");
        assert!(component_status_response("store-0", 3).is_ok());
        assert_eq!(component_status_response("nope", 3).unwrap_err().code, 404);
    }
}
