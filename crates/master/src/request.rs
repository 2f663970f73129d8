//! Turning an HTTP method, path and query into what the request asks for:
//! the resource, namespace, name, subresource and Kubernetes verb, like the
//! real API server's `RequestInfoFactory`. Pure; no I/O.

use apimachinery::registry::{self, ResourceInfo};
use apimachinery::ApiError;
use std::collections::HashMap;

/// A request for a resource (as opposed to `/healthz`, `/metrics`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    pub info: &'static ResourceInfo,
    /// Empty for cluster-scoped requests and for all-namespace lists.
    pub namespace: String,
    /// Empty for collection requests.
    pub name: String,
    /// Empty unless `pods/status` and the like.
    pub subresource: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete,
    /// deletecollection.
    pub verb: &'static str,
}

impl ResourceRequest {
    /// `resource`, `namespace` or `cluster`, as the `scope` metrics label.
    pub fn scope(&self) -> &'static str {
        if !self.name.is_empty() {
            "resource"
        } else if !self.namespace.is_empty() {
            "namespace"
        } else {
            "cluster"
        }
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Resource(ResourceRequest),
    /// Anything else: discovery, health, metrics, openapi, version.
    NonResource(String),
}

/// Parsed query parameters (the last value wins, as in Go's `url.Values.Get`
/// for single-valued options).
#[derive(Debug, Clone, Default)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut params = HashMap::new();
        if let Some(raw) = raw {
            for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
                params
                    .entry(k.into_owned())
                    .or_insert_with(|| v.into_owned());
            }
        }
        Query { params }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Non-empty value of a parameter.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Go's `strconv.ParseBool` as used for `watch=1`/`watch=true`.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: strconv.ParseBool: parsing {other:?}: invalid syntax"
            ))),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: strconv.ParseInt: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }
}

/// Classifies a request. `watch` is the already-parsed `watch` query flag.
pub fn classify(method: &str, path: &str, watch_param: bool) -> Result<Target, ApiError> {
    classify_with(method, path, watch_param, &|_, _, _| None)
}

/// [`classify`] that also finds resources outside the built-in registry
/// (a master's custom resources): `custom(group, version, plural)`.
pub fn classify_with(
    method: &str,
    path: &str,
    watch_param: bool,
    custom: &dyn Fn(&str, &str, &str) -> Option<&'static ResourceInfo>,
) -> Result<Target, ApiError> {
    let trimmed = path.trim_matches('/');
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Ok(Target::NonResource(path.to_string())),
    };
    // The deprecated `/watch/` path prefix.
    let (rest, watch_prefix) = match rest {
        ["watch", tail @ ..] if !tail.is_empty() => (tail, true),
        _ => (rest, false),
    };
    // namespaces/{ns}/{resource}/... addresses a namespaced resource; a bare
    // `namespaces/{name}[/status|/finalize]` addresses a namespace object.
    let (namespace, rest): (&str, &[&str]) = match rest {
        ["namespaces", _, "status" | "finalize"] => ("", rest),
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (*ns, tail),
        _ => ("", rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, "", ""),
        [plural, name] => (*plural, *name, ""),
        [plural, name, sub] => (*plural, *name, *sub),
        _ => return Err(ApiError::no_such_resource()),
    };
    let info = registry::lookup(group, version, plural)
        .or_else(|| custom(group, version, plural))
        .ok_or_else(ApiError::no_such_resource)?;
    if !namespace.is_empty() && !info.namespaced {
        return Err(ApiError::no_such_resource());
    }
    if !subresource.is_empty() && info.subresource(subresource).is_none() {
        return Err(ApiError::no_such_resource());
    }
    let watch = watch_param || watch_prefix;
    let verb = match (method, name.is_empty()) {
        ("GET" | "HEAD", true) if watch => "watch",
        ("GET" | "HEAD", true) => "list",
        ("GET" | "HEAD", false) if watch => "watch",
        ("GET" | "HEAD", false) => "get",
        ("POST", _) => "create",
        ("PUT", false) => "update",
        ("PATCH", false) => "patch",
        ("DELETE", false) => "delete",
        ("DELETE", true) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ))
        }
    };
    Ok(Target::Resource(ResourceRequest {
        info,
        namespace: namespace.to_string(),
        name: name.to_string(),
        subresource: subresource.to_string(),
        verb,
    }))
}

/// The verb label the real API server's metrics use (`LIST`, `WATCH`,
/// `POST`, ...).
pub fn metrics_verb(verb: &str, method: &str) -> &'static str {
    match verb {
        "list" => "LIST",
        "watch" => "WATCH",
        "get" => "GET",
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        "deletecollection" => "DELETECOLLECTION",
        _ => match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "PATCH" => "PATCH",
            "HEAD" => "HEAD",
            _ => "other",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: &str, path: &str, watch: bool) -> ResourceRequest {
        match classify(method, path, watch) {
            Ok(Target::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    /// method, path, watch flag, then plural, namespace, name, subresource, verb.
    type Case<'a> = (
        &'a str,
        &'a str,
        bool,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
    );

    #[test]
    fn classifies_resource_paths() {
        let cases: &[Case] = &[
            ("GET", "/api/v1/pods", false, "pods", "", "", "", "list"),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                false,
                "pods",
                "default",
                "",
                "",
                "list",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                true,
                "pods",
                "default",
                "",
                "",
                "watch",
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods/p1",
                false,
                "pods",
                "default",
                "p1",
                "",
                "get",
            ),
            (
                "PATCH",
                "/api/v1/namespaces/default/pods/p1/status",
                false,
                "pods",
                "default",
                "p1",
                "status",
                "patch",
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods/p1/binding",
                false,
                "pods",
                "default",
                "p1",
                "binding",
                "create",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods",
                false,
                "pods",
                "default",
                "",
                "",
                "deletecollection",
            ),
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                false,
                "namespaces",
                "",
                "kube-system",
                "",
                "get",
            ),
            (
                "PUT",
                "/api/v1/namespaces/x/finalize",
                false,
                "namespaces",
                "",
                "x",
                "finalize",
                "update",
            ),
            (
                "GET",
                "/api/v1/nodes/n1",
                false,
                "nodes",
                "",
                "n1",
                "",
                "get",
            ),
            (
                "GET",
                "/api/v1/watch/namespaces/default/pods",
                false,
                "pods",
                "default",
                "",
                "",
                "watch",
            ),
            (
                "GET",
                "/apis/apps/v1/namespaces/d/deployments/x/scale",
                false,
                "deployments",
                "d",
                "x",
                "scale",
                "get",
            ),
            (
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n",
                false,
                "leases",
                "kube-node-lease",
                "n",
                "",
                "update",
            ),
        ];
        for (method, path, watch, plural, ns, name, sub, verb) in cases {
            let r = res(method, path, *watch);
            assert_eq!(
                (
                    r.info.plural,
                    r.namespace.as_str(),
                    r.name.as_str(),
                    r.subresource.as_str(),
                    r.verb
                ),
                (*plural, *ns, *name, *sub, *verb),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn non_resource_paths() {
        for p in [
            "/",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/healthz",
            "/metrics",
            "/openapi/v2",
        ] {
            assert!(
                matches!(classify("GET", p, false), Ok(Target::NonResource(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn unknown_resources_are_404() {
        for p in [
            "/api/v1/frobnicators",
            "/api/v1/pods/a/b/c/d",
            "/api/v1/namespaces/x/nodes",
            "/api/v1/namespaces/d/pods/p/log",
            "/apis/nope/v1/things",
        ] {
            let e = classify("GET", p, false).expect_err(p);
            assert_eq!(e.code, 404, "{p}");
        }
    }

    #[test]
    fn scope_labels() {
        assert_eq!(res("GET", "/api/v1/pods", false).scope(), "cluster");
        assert_eq!(
            res("GET", "/api/v1/namespaces/a/pods", false).scope(),
            "namespace"
        );
        assert_eq!(
            res("GET", "/api/v1/namespaces/a/pods/b", false).scope(),
            "resource"
        );
        assert_eq!(res("GET", "/api/v1/nodes/b", false).scope(), "resource");
    }

    #[test]
    fn query_flags() {
        let q = Query::parse(Some("watch=1&limit=5&bad=x&labelSelector=a%3Db"));
        assert!(q.flag("watch").expect("flag"));
        assert_eq!(q.int("limit").expect("int"), Some(5));
        assert!(q.int("bad").is_err());
        assert!(q.flag("bad").is_err());
        assert_eq!(q.get("labelSelector"), Some("a=b"));
    }
}
