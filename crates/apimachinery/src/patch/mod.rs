//! JSON merge patch, JSON patch and strategic merge patch over
//! `serde_json::Value`, with the semantics (and error classes) of
//! kube-apiserver v1.24: evanphx/json-patch v4 for the first two and
//! k8s.io/apimachinery `strategicpatch` for the third.

mod jsonpatch;
mod merge;
mod schema;
mod strategic;

pub use jsonpatch::{json_patch, MAX_JSON_PATCH_OPERATIONS};
pub use merge::{create_merge_patch, merge_patch};
pub use strategic::strategic_merge;

use crate::status::ApiError;

/// The PATCH content types the API server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// Maps a `Content-Type` header to a patch type. Parameters after `;`
    /// are ignored, like the real server does; matching is exact otherwise.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Why a patch could not be applied, classified by the `Status` the real
/// server answers (see [`PatchError::to_api_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed: 400 BadRequest with this message
    /// (JSON patch not an array of objects, merge patch not an object,
    /// bad `$retainKeys`/`$setElementOrder`/`$deleteFromPrimitiveList`).
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch `test` operation failed: 422 Invalid, generic message.
    #[error("testing value {path} failed")]
    TestFailed { path: String },
    /// Any other JSON patch operation failed (missing path, bad index,
    /// unknown op): 422 Invalid, generic message.
    #[error("{0}")]
    Apply(String),
    /// A strategic merge patch the server finds unprocessable (lists of
    /// lists, content outside `$retainKeys`): 422 Invalid, generic message.
    #[error("{0}")]
    Unprocessable(String),
    /// More JSON patch operations than allowed: 413.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
    /// Any other strategic merge failure (missing merge key, unknown
    /// `$patch` value, mixed list element types): 500, message as is.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// HTTP status code the real server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::TestFailed { .. } | PatchError::Apply(_) | PatchError::Unprocessable(_) => {
                422
            }
            PatchError::TooManyOperations { .. } => 413,
            PatchError::Internal(_) => 500,
        }
    }

    /// `Status.reason` the real server answers with.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::TestFailed { .. } | PatchError::Apply(_) | PatchError::Unprocessable(_) => {
                "Invalid"
            }
            PatchError::TooManyOperations { .. } => "RequestEntityTooLarge",
            PatchError::Internal(_) => "InternalError",
        }
    }

    /// Whether a JSON patch `test` operation failed.
    pub fn is_test_failure(&self) -> bool {
        matches!(self, PatchError::TestFailed { .. })
    }

    /// The `Status` error. 422s carry the fixed message the server uses for
    /// them ("the server rejected our request due to an error in our
    /// request") and empty details, as recorded from the real server.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            PatchError::BadRequest(m) => ApiError::bad_request(m.clone()),
            PatchError::TestFailed { .. } | PatchError::Apply(_) | PatchError::Unprocessable(_) => {
                ApiError::invalid_request()
            }
            PatchError::TooManyOperations { .. } => {
                ApiError::request_entity_too_large(format!("Request entity too large: {self}"))
            }
            PatchError::Internal(m) => ApiError::internal(m.clone()),
        }
    }
}

/// Go's name for a JSON value's kind in `json: cannot unmarshal X into ...`.
fn json_type_name(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::StrategicMerge),
            ),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            (
                "application/merge-patch+json; charset=utf-8",
                Some(PatchType::Merge),
            ),
            ("application/json", None),
            ("", None),
            ("application/yaml", None),
        ];
        for (ct, want) in cases {
            assert_eq!(PatchType::from_content_type(ct), want, "{ct}");
            if let Some(t) = want {
                assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
            }
        }
    }

    #[test]
    fn error_mapping() {
        let test = PatchError::TestFailed {
            path: "/data/a".into(),
        };
        assert!(test.is_test_failure());
        assert_eq!(test.to_string(), "testing value /data/a failed");
        // Recorded: json-patch-test-failure-422.
        assert_eq!(
            test.to_api_error().to_status().to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server rejected our request due to an error in our request","reason":"Invalid","details":{},"code":422}"#
        );
        let cases: Vec<(PatchError, u16, &str)> = vec![
            (PatchError::BadRequest("x".into()), 400, "BadRequest"),
            (PatchError::Apply("x".into()), 422, "Invalid"),
            (PatchError::Unprocessable("x".into()), 422, "Invalid"),
            (
                PatchError::TooManyOperations {
                    max: 10000,
                    got: 10001,
                },
                413,
                "RequestEntityTooLarge",
            ),
            (PatchError::Internal("x".into()), 500, "InternalError"),
        ];
        for (e, code, reason) in cases {
            assert!(!e.is_test_failure());
            assert_eq!(e.status_code(), code);
            assert_eq!(e.reason(), reason);
            let api = e.to_api_error();
            assert_eq!((api.code, api.reason), (code, reason), "{e:?}");
        }
        assert_eq!(
            PatchError::TooManyOperations { max: 10000, got: 10001 }.to_api_error().message,
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }
}
