//! The user's session: one AEAD-sealed cookie (chunked when long), checked on every request.

use crate::core::id_token::IdTokenClaims;
use crate::core::seal::{SealError, Sealer};
use crate::core::secret::Secret;
use serde::{Deserialize, Serialize};

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
