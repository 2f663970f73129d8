//! Bound service-account tokens (what `TokenRequest` returns): ES256 JWTs
//! with the claims the real API server puts in them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};

use crate::pki::Pki;

/// The issuer (and default API audience) of every token we sign, as the
/// real server's `--service-account-issuer` is usually set.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Clock skew tolerated on `exp`, `nbf` and `iat`, as go-jose's
/// `DefaultLeeway` that the real validator uses.
pub const LEEWAY_SECONDS: i64 = 60;

/// Tokens longer than this are rejected before any decoding.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte
/// uncompressed point; the key id is a hash of the whole structure.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid service-account signing key: {0}")]
    Key(String),
    #[error("cannot sign token: {0}")]
    Signing(String),
    #[error("invalid token claims: {0}")]
    InvalidClaims(String),
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("unsupported token signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired (exp {expires_at}, now {now})")]
    Expired { expires_at: i64, now: i64 },
    #[error("token is not valid yet (nbf {not_before}, now {now})")]
    NotYetValid { not_before: i64, now: i64 },
    #[error("token was issued in the future (iat {issued_at}, now {now})")]
    IssuedInFuture { issued_at: i64, now: i64 },
    #[error("token issuer {0:?} is not {ISSUER:?}")]
    WrongIssuer(String),
}

/// An object a token is bound to (a pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundObject {
    pub name: String,
    pub uid: String,
}

/// What a token says. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    /// Set when the token is bound to a pod (kubelet projected volumes).
    pub pod: Option<BoundObject>,
    pub audiences: Vec<String>,
    pub issued_at: i64,
    pub not_before: i64,
    pub expires_at: i64,
    /// `kubernetes.io.warnafter`: set on extended-expiry kubelet tokens.
    pub warn_after: Option<i64>,
}

impl TokenClaims {
    /// Claims for a token valid from `now` for `expiration_seconds`, for
    /// the API's own audience.
    pub fn new(
        namespace: &str,
        name: &str,
        uid: &str,
        now: i64,
        expiration_seconds: i64,
    ) -> TokenClaims {
        TokenClaims {
            namespace: namespace.to_string(),
            service_account_name: name.to_string(),
            service_account_uid: uid.to_string(),
            pod: None,
            audiences: vec![ISSUER.to_string()],
            issued_at: now,
            not_before: now,
            expires_at: now.saturating_add(expiration_seconds),
            warn_after: None,
        }
    }

    /// `system:serviceaccount:<namespace>:<name>`: the `sub` claim and the
    /// authenticated user name.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account_name
        )
    }

    fn validate(&self) -> Result<(), TokenError> {
        let bad = |m: &str| Err(TokenError::InvalidClaims(m.to_string()));
        if self.namespace.is_empty() || self.namespace.contains(':') {
            return bad("namespace must be non-empty and contain no ':'");
        }
        if self.service_account_name.is_empty() || self.service_account_name.contains(':') {
            return bad("service account name must be non-empty and contain no ':'");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return bad("at least one non-empty audience is required");
        }
        if self.expires_at <= self.issued_at || self.expires_at <= self.not_before {
            return bad("expiry must be after issue time and not-before time");
        }
        Ok(())
    }
}

/// The JWS header we write and accept.
#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// `aud` may be a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct ServiceAccountRef {
    name: String,
    uid: String,
}

#[derive(Serialize, Deserialize)]
struct PrivateClaims {
    namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<BoundObject>,
    serviceaccount: ServiceAccountRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    warnafter: Option<i64>,
}

/// Payload in the alphabetical key order Go's JSON encoding of the claim
/// map produces.
#[derive(Serialize, Deserialize)]
struct Payload {
    aud: Audience,
    exp: i64,
    iat: i64,
    iss: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: PrivateClaims,
    nbf: i64,
    sub: String,
}

/// Signs and verifies service-account tokens with the cluster's `sa.key`.
pub struct TokenSigner {
    key: EcdsaKeyPair,
    key_id: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// From a PKCS#8 DER ECDSA P-256 private key.
    pub fn new(pkcs8_der: &[u8]) -> Result<TokenSigner, TokenError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der, &rng)
            .map_err(|e| TokenError::Key(format!("not a PKCS#8 ECDSA P-256 key: {e}")))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        // The real server's key id: base64url(SHA-256(PKIX public key)).
        let key_id = B64URL.encode(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref());
        Ok(TokenSigner { key, key_id, rng })
    }

    pub fn from_pki(pki: &Pki) -> Result<TokenSigner, TokenError> {
        TokenSigner::new(pki.sa_key_pkcs8_der())
    }

    /// The `kid` header of the tokens this signer issues.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A signed compact JWS.
    pub fn issue(&self, claims: TokenClaims) -> Result<String, TokenError> {
        claims.validate()?;
        let header = Header {
            alg: "ES256".into(),
            kid: Some(self.key_id.clone()),
        };
        let sub = claims.subject();
        let payload = Payload {
            aud: Audience::Many(claims.audiences),
            exp: claims.expires_at,
            iat: claims.issued_at,
            iss: ISSUER.to_string(),
            kubernetes: PrivateClaims {
                namespace: claims.namespace,
                pod: claims.pod,
                serviceaccount: ServiceAccountRef {
                    name: claims.service_account_name,
                    uid: claims.service_account_uid,
                },
                warnafter: claims.warn_after,
            },
            nbf: claims.not_before,
            sub,
        };
        let header = serde_json::to_vec(&header).map_err(|e| TokenError::Signing(e.to_string()))?;
        let payload =
            serde_json::to_vec(&payload).map_err(|e| TokenError::Signing(e.to_string()))?;
        let signing_input = format!("{}.{}", B64URL.encode(header), B64URL.encode(payload));
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| TokenError::Signing("ECDSA signing failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            B64URL.encode(signature.as_ref())
        ))
    }

    /// Checks the signature, issuer and validity window at `now` (Unix
    /// seconds) and returns the claims. Audiences are the caller's concern.
    pub fn verify(&self, token: &str, now: i64) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed(format!(
                "longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "not three dot-separated parts".into(),
            ));
        };
        let header: Header = decode_json(header_b64, "header")?;
        if header.alg != "ES256" {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let signature = B64URL
            .decode(signature_b64)
            .map_err(|e| TokenError::Malformed(format!("signature: {e}")))?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref())
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;

        let payload: Payload = decode_json(payload_b64, "payload")?;
        if payload.iss != ISSUER {
            return Err(TokenError::WrongIssuer(payload.iss));
        }
        if now > payload.exp.saturating_add(LEEWAY_SECONDS) {
            return Err(TokenError::Expired {
                expires_at: payload.exp,
                now,
            });
        }
        if now.saturating_add(LEEWAY_SECONDS) < payload.nbf {
            return Err(TokenError::NotYetValid {
                not_before: payload.nbf,
                now,
            });
        }
        if now.saturating_add(LEEWAY_SECONDS) < payload.iat {
            return Err(TokenError::IssuedInFuture {
                issued_at: payload.iat,
                now,
            });
        }
        let audiences = match payload.aud {
            Audience::One(a) => vec![a],
            Audience::Many(a) => a,
        };
        let claims = TokenClaims {
            namespace: payload.kubernetes.namespace,
            service_account_name: payload.kubernetes.serviceaccount.name,
            service_account_uid: payload.kubernetes.serviceaccount.uid,
            pod: payload.kubernetes.pod,
            audiences,
            issued_at: payload.iat,
            not_before: payload.nbf,
            expires_at: payload.exp,
            warn_after: payload.kubernetes.warnafter,
        };
        if claims.subject() != payload.sub {
            return Err(TokenError::InvalidClaims(format!(
                "sub {:?} does not name service account {}/{}",
                payload.sub, claims.namespace, claims.service_account_name
            )));
        }
        Ok(claims)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, TokenError> {
    let bytes = B64URL
        .decode(part)
        .map_err(|e| TokenError::Malformed(format!("{what}: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| TokenError::Malformed(format!("{what}: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    use super::*;
    use rcgen::PublicKeyData as _;
    use serde_json::Value;

    const NOW: i64 = 1_700_000_000;

    fn signer() -> TokenSigner {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        TokenSigner::new(key.serialized_der()).unwrap()
    }

    fn pod_claims() -> TokenClaims {
        TokenClaims {
            pod: Some(BoundObject {
                name: "web-0".into(),
                uid: "pod-uid".into(),
            }),
            audiences: vec![ISSUER.into(), "vault".into()],
            warn_after: Some(NOW + 3600),
            ..TokenClaims::new("default", "default", "sa-uid", NOW, 3607)
        }
    }

    fn payload_of(token: &str) -> Value {
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&B64URL.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn round_trip() {
        let s = signer();
        let claims = pod_claims();
        let token = s.issue(claims.clone()).unwrap();
        assert_eq!(s.verify(&token, NOW + 10).unwrap(), claims);
        let plain = TokenClaims::new("kube-system", "builder", "u", NOW, 600);
        assert_eq!(
            s.verify(&s.issue(plain.clone()).unwrap(), NOW).unwrap(),
            plain
        );
    }

    #[test]
    fn payload_has_the_kubernetes_claims() {
        let s = signer();
        let token = s.issue(pod_claims()).unwrap();
        let header: Value =
            serde_json::from_slice(&B64URL.decode(token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], s.key_id());
        let p = payload_of(&token);
        assert_eq!(p["iss"], ISSUER);
        assert_eq!(p["sub"], "system:serviceaccount:default:default");
        assert_eq!(p["aud"], serde_json::json!([ISSUER, "vault"]));
        assert_eq!(p["iat"], NOW);
        assert_eq!(p["nbf"], NOW);
        assert_eq!(p["exp"], NOW + 3607);
        let k = &p["kubernetes.io"];
        assert_eq!(k["namespace"], "default");
        assert_eq!(
            k["serviceaccount"],
            serde_json::json!({"name": "default", "uid": "sa-uid"})
        );
        assert_eq!(
            k["pod"],
            serde_json::json!({"name": "web-0", "uid": "pod-uid"})
        );
        assert_eq!(k["warnafter"], NOW + 3600);
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["aud", "exp", "iat", "iss", "kubernetes.io", "nbf", "sub"]
        );
        let plain = payload_of(&s.issue(TokenClaims::new("a", "b", "c", NOW, 60)).unwrap());
        assert!(plain["kubernetes.io"].get("pod").is_none());
        assert!(plain["kubernetes.io"].get("warnafter").is_none());
    }

    #[test]
    fn key_id_is_the_hash_of_the_pkix_public_key() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let s = TokenSigner::new(key.serialized_der()).unwrap();
        let want = B64URL.encode(ring::digest::digest(
            &ring::digest::SHA256,
            &key.subject_public_key_info(),
        ));
        assert_eq!(s.key_id(), want);
        assert!(!format!("{s:?}").contains("key:"));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let s = signer();
        let token = s.issue(pod_claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut p = payload_of(&token);
        p["sub"] = "system:serviceaccount:kube-system:admin".into();
        p["kubernetes.io"]["namespace"] = "kube-system".into();
        p["kubernetes.io"]["serviceaccount"]["name"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(serde_json::to_vec(&p).unwrap()),
            parts[2]
        );
        assert_eq!(s.verify(&forged, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn other_key_and_alg_none_are_rejected() {
        let token = signer().issue(pod_claims()).unwrap();
        assert_eq!(signer().verify(&token, NOW), Err(TokenError::BadSignature));
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!("{}.{}.", B64URL.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(
            signer().verify(&none, NOW),
            Err(TokenError::UnsupportedAlgorithm("none".into()))
        );
    }

    #[test]
    fn validity_window() {
        let s = signer();
        let token = s
            .issue(TokenClaims::new("ns", "sa", "u", NOW, 600))
            .unwrap();
        // Inside the leeway on either side.
        assert!(s.verify(&token, NOW - LEEWAY_SECONDS).is_ok());
        assert!(s.verify(&token, NOW + 600 + LEEWAY_SECONDS).is_ok());
        assert_eq!(
            s.verify(&token, NOW + 600 + LEEWAY_SECONDS + 1),
            Err(TokenError::Expired {
                expires_at: NOW + 600,
                now: NOW + 600 + LEEWAY_SECONDS + 1
            })
        );
        assert!(matches!(
            s.verify(&token, NOW - LEEWAY_SECONDS - 1),
            Err(TokenError::NotYetValid { .. })
        ));
        let future_iat = TokenClaims {
            not_before: NOW - 1000,
            ..TokenClaims::new("ns", "sa", "u", NOW, 600)
        };
        let token = s.issue(future_iat).unwrap();
        assert!(matches!(
            s.verify(&token, NOW - 500),
            Err(TokenError::IssuedInFuture { .. })
        ));
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let s = signer();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let cases = [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a.b.c.d",
            "!!!.???.***",
            "eyJhbGciOiJFUzI1NiJ9..",
            "eyJhbGciOiJFUzI1NiJ9.e30.",
            "e30.e30.e30",
            "\u{0}\u{1}.é.ü",
            long.as_str(),
        ];
        for case in cases {
            assert!(s.verify(case, NOW).is_err(), "{case:?}");
        }
        // Correctly signed but with a payload that is not our claims.
        let header = B64URL.encode(br#"{"alg":"ES256"}"#);
        let payload = B64URL.encode(br#"{"sub":"x"}"#);
        let input = format!("{header}.{payload}");
        let sig = s.key.sign(&s.rng, input.as_bytes()).unwrap();
        let token = format!("{input}.{}", B64URL.encode(sig.as_ref()));
        assert!(matches!(
            s.verify(&token, NOW),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_issuer_and_inconsistent_subject_are_rejected() {
        let s = signer();
        let sign = |payload: &Value| {
            let header = B64URL.encode(br#"{"alg":"ES256"}"#);
            let input = format!(
                "{header}.{}",
                B64URL.encode(serde_json::to_vec(payload).unwrap())
            );
            let sig = s.key.sign(&s.rng, input.as_bytes()).unwrap();
            format!("{input}.{}", B64URL.encode(sig.as_ref()))
        };
        let mut p = payload_of(&s.issue(pod_claims()).unwrap());
        p["aud"] = "single".into();
        let claims = s.verify(&sign(&p), NOW).unwrap();
        assert_eq!(claims.audiences, vec!["single"]);
        p["sub"] = "system:serviceaccount:default:other".into();
        assert!(matches!(
            s.verify(&sign(&p), NOW),
            Err(TokenError::InvalidClaims(_))
        ));
        p["iss"] = "kubernetes/serviceaccount".into();
        assert_eq!(
            s.verify(&sign(&p), NOW),
            Err(TokenError::WrongIssuer("kubernetes/serviceaccount".into()))
        );
    }

    #[test]
    fn invalid_claims_are_not_signed() {
        let s = signer();
        let base = TokenClaims::new("ns", "sa", "u", NOW, 600);
        let cases = [
            TokenClaims {
                namespace: String::new(),
                ..base.clone()
            },
            TokenClaims {
                service_account_name: "a:b".into(),
                ..base.clone()
            },
            TokenClaims {
                audiences: vec![],
                ..base.clone()
            },
            TokenClaims {
                audiences: vec![String::new()],
                ..base.clone()
            },
            TokenClaims {
                expires_at: NOW,
                ..base.clone()
            },
        ];
        for c in cases {
            assert!(matches!(s.issue(c), Err(TokenError::InvalidClaims(_))));
        }
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(matches!(
            TokenSigner::new(b"not a key"),
            Err(TokenError::Key(_))
        ));
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(matches!(
            TokenSigner::new(p384.serialized_der()),
            Err(TokenError::Key(_))
        ));
    }

    #[test]
    fn from_pki_uses_the_sa_key() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &[]).unwrap();
        let a = TokenSigner::from_pki(&pki).unwrap();
        let b = TokenSigner::from_pki(&Pki::load_or_create(tmp.path(), &[]).unwrap()).unwrap();
        let token = a
            .issue(TokenClaims::new("ns", "sa", "u", NOW, 600))
            .unwrap();
        assert!(b.verify(&token, NOW).is_ok());
    }
}
