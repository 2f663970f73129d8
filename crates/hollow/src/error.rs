//! Errors of the hollow fleet (setup and control) and of single API calls.

use std::net::SocketAddr;

/// What can go wrong starting or controlling a fleet.
#[derive(Debug, thiserror::Error)]
pub enum HollowError {
    #[error("invalid hollow-node configuration: {0}")]
    Config(String),
    #[error("cannot load the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot set up TLS to the master: {0}")]
    Tls(String),
    #[error("no client credentials for hollow node {node:?}: {why}")]
    NodeCredentials { node: String, why: String },
    #[error("cannot serve metrics on {addr}: {source}")]
    MetricsListen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no hollow node named {0:?} in this fleet")]
    UnknownNode(String),
    #[error("hollow node {0:?} is already running")]
    AlreadyRunning(String),
    #[error("hollow node {0:?} is not running")]
    NotRunning(String),
    #[error(transparent)]
    Ipam(#[from] crate::ipam::IpamError),
    #[error(transparent)]
    NodeSpec(#[from] crate::node_status::NodeSpecError),
    #[error(transparent)]
    Problem(#[from] crate::npd::UnknownProblem),
    #[error("interrupted: {0}")]
    Signal(std::io::Error),
}

impl HollowError {
    /// 2 for bad flags or configuration, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            HollowError::Config(_)
            | HollowError::Kubeconfig(_)
            | HollowError::NodeSpec(_)
            | HollowError::Ipam(_) => 2,
            _ => 1,
        }
    }
}

/// One failed API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{code} {reason}: {message}")]
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: connection refused or dropped, timeout.
    #[error("request failed: {0}")]
    Transport(String),
    /// An answer we could not read.
    #[error("cannot decode the response: {0}")]
    Decode(String),
}

impl ApiError {
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.code() == Some(409)
    }

    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }

    /// The `Status` body of an error response (or its raw text).
    pub fn from_response(code: u16, body: &[u8]) -> ApiError {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct StatusBody {
            reason: String,
            message: String,
        }
        match serde_json::from_slice::<StatusBody>(body) {
            Ok(s) => ApiError::Status {
                code,
                reason: s.reason,
                message: s.message,
            },
            Err(_) => ApiError::Status {
                code,
                reason: String::new(),
                message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_bodies() {
        let e = ApiError::from_response(
            409,
            br#"{"kind":"Status","reason":"AlreadyExists","message":"nodes \"n\" already exists","code":409}"#,
        );
        assert!(e.is_conflict());
        assert_eq!(
            e.to_string(),
            "409 AlreadyExists: nodes \"n\" already exists"
        );
        let raw = ApiError::from_response(502, b"bad gateway");
        assert_eq!(raw.code(), Some(502));
        assert!(raw.to_string().contains("bad gateway"));
        assert!(ApiError::Transport("x".into()).code().is_none());
    }
}
