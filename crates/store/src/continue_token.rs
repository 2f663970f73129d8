//! The list `continue` token, byte-compatible with kube-apiserver's
//! (`base64url-nopad({"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"})`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::{Rv, StoreError};

const VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

/// Encodes a token that resumes at `start` (relative to the list's key prefix) at `rv`.
pub fn encode(rv: Rv, start: &str) -> String {
    let token = Token {
        v: VERSION.to_owned(),
        // etcd revisions are int64; ours never come near the limit.
        rv: i64::try_from(rv).unwrap_or(i64::MAX),
        start: start.to_owned(),
    };
    // Serializing a struct of strings and an integer cannot fail.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Why a token was rejected (kept out of `StoreError` so its variant stays unit-like).
#[derive(Debug, PartialEq, Eq)]
pub enum InvalidReason {
    Base64,
    Json,
    Version(String),
    ZeroRv,
    EmptyStart,
    NotClean(String),
}

/// Decodes a token into (rv, start key relative to the list prefix). Mirrors the
/// apiserver's checks, including the path-traversal guard on the start key.
pub fn decode_reason(token: &str) -> Result<(Rv, String), InvalidReason> {
    let data = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| InvalidReason::Base64)?;
    let t: Token = serde_json::from_slice(&data).map_err(|_| InvalidReason::Json)?;
    if t.v != VERSION {
        return Err(InvalidReason::Version(t.v));
    }
    let rv = match Rv::try_from(t.rv) {
        Ok(0) | Err(_) => return Err(InvalidReason::ZeroRv),
        Ok(rv) => rv,
    };
    if t.start.is_empty() {
        return Err(InvalidReason::EmptyStart);
    }
    let rooted = if t.start.starts_with('/') {
        t.start.clone()
    } else {
        format!("/{}", t.start)
    };
    if !is_clean_path(&rooted) {
        return Err(InvalidReason::NotClean(t.start));
    }
    Ok((rv, rooted[1..].to_owned()))
}

/// [`decode_reason`] mapped onto the store's error.
pub fn decode(token: &str) -> Result<(Rv, String), StoreError> {
    decode_reason(token).map_err(|reason| {
        tracing::debug!(?reason, "rejecting continue token");
        StoreError::InvalidContinue
    })
}

/// True if Go's `path.Clean` would leave this rooted path unchanged.
fn is_clean_path(p: &str) -> bool {
    if p == "/" {
        return true;
    }
    if p.ends_with('/') {
        return false;
    }
    p[1..]
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    /// Recorded from a real kube-apiserver (`/api/v1/nodes?limit=2`).
    const REAL: &str =
        "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjQ1LCJzdGFydCI6ImhvbGxvdy1ub2RlLTFcdTAwMDAifQ";

    #[test]
    fn encodes_exactly_like_the_apiserver() {
        assert_eq!(encode(245, "hollow-node-1\u{0}"), REAL);
        assert_eq!(
            decode(REAL).unwrap(),
            (245, "hollow-node-1\u{0}".to_owned())
        );
    }

    #[test]
    fn rejects_bad_tokens() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let cases = [
            ("%%%".to_owned(), InvalidReason::Base64),
            (b64("not json"), InvalidReason::Json),
            (
                b64(r#"{"v":"x","rv":1,"start":"a"}"#),
                InvalidReason::Version("x".into()),
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
                InvalidReason::ZeroRv,
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":-3,"start":"a"}"#),
                InvalidReason::ZeroRv,
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":2,"start":""}"#),
                InvalidReason::EmptyStart,
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":2,"start":"../x"}"#),
                InvalidReason::NotClean("../x".into()),
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":2,"start":"a//b"}"#),
                InvalidReason::NotClean("a//b".into()),
            ),
        ];
        for (tok, want) in cases {
            assert_eq!(decode_reason(&tok), Err(want), "{tok}");
            assert!(matches!(decode(&tok), Err(StoreError::InvalidContinue)));
        }
    }

    #[test]
    fn leading_slash_is_stripped() {
        let tok = URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":2,"start":"/ns/a\u0000"}"#);
        assert_eq!(decode(&tok).unwrap(), (2, "ns/a\u{0}".to_owned()));
    }
}
