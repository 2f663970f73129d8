//! Kubernetes `Status` errors with the codes, reasons and messages the real
//! API server uses (see `responses.txt` in the reference recordings).

use serde_json::{json, Map, Value};

/// One field-level cause of an `Invalid` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn required(field: &str) -> Cause {
        Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: field.into(),
        }
    }

    pub fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {shown}: {detail}"),
            field: field.into(),
        }
    }

    pub fn forbidden(field: &str, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {detail}"),
            field: field.into(),
        }
    }

    pub fn duplicate(field: &str, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueDuplicate".into(),
            message: format!("Duplicate value: {value}"),
            field: field.into(),
        }
    }

    pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Cause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Cause {
            reason: "FieldValueNotSupported".into(),
            message: format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
            field: field.into(),
        }
    }

    /// `field: message` as the real server joins causes into the top message.
    fn summary(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// An API error that is answered as a `Status` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details`; `None` omits the key entirely (BadRequest does).
    pub details: Option<Details>,
    /// Seconds a client should wait (429/503/504 set `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub uid: Option<String>,
    pub causes: Vec<Cause>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `pods` or `deployments.apps`: how messages qualify a resource.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn named(group: &str, resource: &str, name: &str) -> Option<Details> {
    Some(Details {
        name: Some(name.to_string()),
        group: (!group.is_empty()).then(|| group.to_string()),
        kind: Some(resource.to_string()),
        ..Details::default()
    })
}

impl ApiError {
    fn new(
        code: u16,
        reason: &'static str,
        message: impl Into<String>,
        details: Option<Details>,
    ) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details,
            retry_after: None,
        }
    }

    /// `pods "nope" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", qualified(group, resource)),
            named(group, resource, name),
        )
    }

    /// The path names no resource this server serves.
    pub fn no_such_resource() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Some(Details::default()),
        )
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", qualified(group, resource)),
            named(group, resource, name),
        )
    }

    /// Optimistic-concurrency failure.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {why}",
                qualified(group, resource)
            ),
            named(group, resource, name),
        )
    }

    /// The standard stale-resourceVersion conflict.
    pub fn stale(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `Pod "bad" is invalid: spec.containers: Required value`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let summary = match causes.len() {
            0 => String::new(),
            1 => causes[0].summary(),
            _ => format!(
                "[{}]",
                causes
                    .iter()
                    .map(Cause::summary)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        ApiError::new(
            422,
            "Invalid",
            format!("{kind} {name:?} is invalid: {summary}"),
            Some(Details {
                name: Some(name.to_string()),
                group: (!group.is_empty()).then(|| group.to_string()),
                kind: Some(kind.to_string()),
                causes,
                ..Details::default()
            }),
        )
    }

    /// 422 without causes, as a failed JSON-patch `test` is answered.
    pub fn invalid_request() -> ApiError {
        ApiError::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            Some(Details::default()),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message, None)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized", None)
    }

    /// `nodes "x" is forbidden: User "u" cannot patch resource "nodes" ...`.
    pub fn forbidden(group: &str, resource: &str, name: &str, why: impl Into<String>) -> ApiError {
        let what = if name.is_empty() {
            qualified(group, resource)
        } else {
            format!("{} {name:?}", qualified(group, resource))
        };
        ApiError::new(
            403,
            "Forbidden",
            format!("{what} is forbidden: {}", why.into()),
            Some(Details {
                name: (!name.is_empty()).then(|| name.to_string()),
                group: (!group.is_empty()).then(|| group.to_string()),
                kind: Some(resource.to_string()),
                ..Details::default()
            }),
        )
    }

    /// `410 Expired`, sent when a watch or list asks for history that is gone.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message, None)
    }

    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Gone", message, None)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message, Some(Details::default()))
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message, None)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", message, None)
    }

    pub fn request_entity_too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, "RequestEntityTooLarge", message, None)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(429, "TooManyRequests", message, None)
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message, None)
    }

    pub fn service_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message, None)
    }

    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(504, "Timeout", message, None)
    }

    /// The `Status` object as the real server serializes it (key order
    /// included).
    pub fn to_status(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        m.insert("message".into(), json!(self.message));
        m.insert("reason".into(), json!(self.reason));
        if let Some(d) = &self.details {
            let mut details = details_json(d);
            // StatusDetails.retryAfterSeconds (e.g. 504 ResourceVersionTooLarge).
            if let (Some(s), Value::Object(dm)) = (self.retry_after, &mut details) {
                dm.insert("retryAfterSeconds".into(), json!(s));
            }
            m.insert("details".into(), details);
        }
        m.insert("code".into(), json!(self.code));
        Value::Object(m)
    }
}

fn details_json(d: &Details) -> Value {
    let mut m = Map::new();
    if let Some(n) = &d.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(g) = &d.group {
        m.insert("group".into(), json!(g));
    }
    if let Some(k) = &d.kind {
        m.insert("kind".into(), json!(k));
    }
    if let Some(u) = &d.uid {
        m.insert("uid".into(), json!(u));
    }
    if !d.causes.is_empty() {
        let causes: Vec<Value> = d
            .causes
            .iter()
            .map(|c| {
                // StatusCause.field is omitempty upstream.
                if c.field.is_empty() {
                    json!({"reason": c.reason, "message": c.message})
                } else {
                    json!({"reason": c.reason, "message": c.message, "field": c.field})
                }
            })
            .collect();
        m.insert("causes".into(), Value::Array(causes));
    }
    Value::Object(m)
}

/// The `Success` status answered by deletes of resources that are gone at once.
pub fn success_status(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(resource));
    details.insert("uid".into(), json!(uid));
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_the_real_server() {
        let s = ApiError::not_found("", "pods", "nope").to_status();
        assert_eq!(
            s.to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"pods"},"code":404}"#
        );
    }

    #[test]
    fn invalid_joins_causes() {
        let e = ApiError::invalid("", "Pod", "bad", vec![Cause::required("spec.containers")]);
        assert_eq!(
            e.message,
            "Pod \"bad\" is invalid: spec.containers: Required value"
        );
        let s = e.to_status();
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
        let two = ApiError::invalid(
            "",
            "Pod",
            "bad",
            vec![Cause::required("a"), Cause::required("b")],
        );
        assert_eq!(
            two.message,
            "Pod \"bad\" is invalid: [a: Required value, b: Required value]"
        );
    }

    #[test]
    fn bad_request_has_no_details() {
        let s = ApiError::bad_request("x").to_status();
        assert!(s.get("details").is_none());
        assert_eq!(s["code"], 400);
    }

    #[test]
    fn conflict_message() {
        let e = ApiError::stale("", "configmaps", "cm1");
        assert!(e.message.starts_with(
            "Operation cannot be fulfilled on configmaps \"cm1\": the object has been modified"
        ));
        let e = ApiError::not_found("apps", "deployments", "d");
        assert_eq!(e.message, "deployments.apps \"d\" not found");
        assert_eq!(e.to_status()["details"]["group"], "apps");
    }
}
