//! The user's session: one AEAD-sealed cookie (chunked when long), checked on every request.

use crate::core::crypto::secret::Secret;
use crate::core::oidc::id_token::IdTokenClaims;
use crate::core::session::seal::{SealError, Sealer};
use serde::{Deserialize, Serialize};

pub mod cookies;
pub mod seal;

/// Why a session cookie was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not sealed by us, tampered with, or sealed with a retired key.
    #[error("the session cookie is not valid: {0}")]
    Seal(#[from] SealError),
    /// Sealed by us but not a session of this version.
    #[error("the session cookie has an unknown format")]
    Malformed,
    /// The session's lifetime is over.
    #[error("the session has expired")]
    Expired,
}

/// Everything kept about a signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Provider name (key in `providers`).
    pub provider: String,
    /// The client id the session was obtained with (logout's `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subject.
    pub sub: String,
    /// Email address (ID token, else UserInfo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider says the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the session started (unix seconds).
    pub created_at: i64,
    /// When the session ends, whatever the cookie's own expiry says.
    pub expires_at: i64,
    /// The raw ID token (for `id_token_hint` at logout).
    pub id_token: String,
    /// The validated ID token claims.
    pub claims: IdTokenClaims,
    /// The access token.
    pub access_token: Secret,
    /// When the access token expires, if the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<i64>,
    /// The refresh token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// UserInfo claims, if fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Session {
    /// Seals the session for the cookie `name`.
    pub fn seal(&self, sealer: &Sealer, name: &str, nonce: [u8; 24]) -> Result<String, SessionError> {
        let json = serde_json::to_vec(self).map_err(|_| SessionError::Malformed)?;
        Ok(sealer.seal(name, &json, nonce))
    }

    /// Opens a sealed session and checks its expiry.
    pub fn open(sealer: &Sealer, name: &str, sealed: &str, now: i64) -> Result<Session, SessionError> {
        let session = Self::open_any_age(sealer, name, sealed)?;
        if now >= session.expires_at {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }

    /// Opens a sealed session without checking its expiry (logout still wants the ID token).
    pub fn open_any_age(sealer: &Sealer, name: &str, sealed: &str) -> Result<Session, SessionError> {
        let json = sealer.open(name, sealed)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)
    }

    /// Whether the email may be used for allow-list decisions: an email the provider
    /// explicitly marks unverified is not.
    pub fn verified_email(&self) -> Option<&str> {
        match self.email_verified {
            Some(false) => None,
            _ => self.email.as_deref(),
        }
    }
}

/// What the session gate (the authenticated hot path, run on every request) needs of a session.
/// Parsing only these fields skips the raw ID token, the tokens, the UserInfo claims and all ID
/// token claims but `acr` (serde_json scans them without building anything), which is most of
/// the session's JSON. Only [`Session::seal`] makes what this opens, so every view is of a
/// complete [`Session`]; anything else needing the session opens the whole of it.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionView {
    /// Provider name.
    pub provider: String,
    /// Subject.
    pub sub: String,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the provider says the email is verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// When the session ends.
    pub expires_at: i64,
    /// The one ID token claim the gate uses.
    pub claims: AcrClaim,
}

/// The `acr` of the session's ID token claims.
#[derive(Debug, Clone, Deserialize)]
pub struct AcrClaim {
    /// Authentication context class reference.
    #[serde(default)]
    pub acr: Option<String>,
}

impl SessionView {
    /// Opens a sealed session's hot-path fields and checks its expiry.
    pub fn open(sealer: &Sealer, name: &str, sealed: &str, now: i64) -> Result<SessionView, SessionError> {
        let json = sealer.open(name, sealed)?;
        let view: SessionView = serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)?;
        if now >= view.expires_at {
            return Err(SessionError::Expired);
        }
        Ok(view)
    }

    /// As [`Session::verified_email`].
    pub fn verified_email(&self) -> Option<&str> {
        match self.email_verified {
            Some(false) => None,
            _ => self.email.as_deref(),
        }
    }
}

/// Checks an email against the allow-lists (case-insensitive). Empty lists allow everyone.
pub fn email_allowed(email: Option<&str>, emails: &[String], domains: &[String]) -> bool {
    if emails.is_empty() && domains.is_empty() {
        return true;
    }
    let Some(email) = email.map(str::to_ascii_lowercase) else {
        return false;
    };
    if emails.contains(&email) {
        return true;
    }
    match email.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => domains.iter().any(|d| d == domain),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::session::seal::CookieKey;

    fn session(email_verified: Option<bool>, acr: Option<&str>, userinfo: bool) -> Session {
        let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "https://op.example", "sub": "u\"1", "aud": "rp", "exp": 2000, "iat": 1000,
            "acr": acr, "nonce": "n",
        }))
        .unwrap();
        Session {
            provider: "main".into(),
            client_id: Some("rp".into()),
            sub: "u\"1".into(),
            email: Some("Zo\u{eb}@example.com".into()),
            email_verified,
            name: Some("Zo\u{eb} \"Z\"".into()),
            created_at: 1000,
            expires_at: 5000,
            id_token: "a.b.c".into(),
            claims,
            access_token: Secret::new("at"),
            access_token_expires_at: Some(4000),
            refresh_token: Some(Secret::new("rt")),
            userinfo: userinfo.then(|| {
                serde_json::from_value(serde_json::json!({"sub": "x", "acr": "no", "claims": {"acr": "nested"}}))
                    .unwrap()
            }),
        }
    }

    /// The gate's view and the whole session agree on every sealed session: same verdict,
    /// same fields.
    #[test]
    fn hot_path_view_agrees_with_session() {
        let sealer = Sealer::new(vec![CookieKey::from_bytes([7; 32])]).unwrap();
        for s in [
            session(None, None, false),
            session(Some(false), Some("urn:mace:incommon:iap:silver"), true),
            session(Some(true), Some("1"), true),
        ] {
            let sealed = s.seal(&sealer, "c", [3; 24]).unwrap();
            for now in [999, 4999, 5000, 9999] {
                let full = Session::open(&sealer, "c", &sealed, now);
                let view = SessionView::open(&sealer, "c", &sealed, now);
                match (full, view) {
                    (Ok(f), Ok(v)) => {
                        assert_eq!(
                            (
                                &f.provider,
                                &f.sub,
                                &f.email,
                                f.email_verified,
                                &f.name,
                                f.expires_at,
                                &f.claims.acr
                            ),
                            (
                                &v.provider,
                                &v.sub,
                                &v.email,
                                v.email_verified,
                                &v.name,
                                v.expires_at,
                                &v.claims.acr
                            )
                        );
                        assert_eq!(f.verified_email(), v.verified_email());
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    (a, b) => panic!("disagree at {now}: {a:?} / {b:?}"),
                }
            }
            // Tampered and foreign-purpose cookies are refused by both, in the same way.
            let mut tampered = sealed.clone().into_bytes();
            let last = tampered.len() - 5;
            tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            for (value, purpose) in [(tampered.as_str(), "c"), (sealed.as_str(), "other")] {
                assert_eq!(
                    Session::open(&sealer, purpose, value, 0).unwrap_err(),
                    SessionView::open(&sealer, purpose, value, 0).unwrap_err()
                );
            }
        }
    }

    #[test]
    fn allow_list() {
        let emails = vec!["alice@example.com".to_owned()];
        let domains = vec!["corp.example".to_owned()];
        assert!(email_allowed(None, &[], &[]));
        assert!(email_allowed(Some("Alice@Example.com"), &emails, &domains));
        assert!(email_allowed(Some("bob@corp.example"), &emails, &domains));
        assert!(!email_allowed(Some("bob@sub.corp.example"), &emails, &domains));
        assert!(!email_allowed(Some("bob@evilcorp.example"), &emails, &domains));
        assert!(!email_allowed(Some("@corp.example"), &emails, &domains));
        assert!(!email_allowed(Some("x@corp.example@evil.example"), &emails, &domains));
        assert!(!email_allowed(None, &emails, &domains));
    }
}
