//! The user's session, in two parts:
//! - the **identity cookie** ([`Identity`]): who signed in, at which provider, until when. A few
//!   hundred bytes, sealed, sent by the browser on every request and opened by the gate (once per
//!   isolate per cookie value: see [`cache`]);
//! - the **session record** ([`SessionRecord`]) in KV: the ID token, the access and refresh
//!   tokens and the UserInfo claims, sealed too, read only when they are needed (logout).
//!
//! Every sealed value is bound by its AEAD associated data ([`SealContext`]) to what it is (an
//! identity, a record, a pending login), the cookie name, the deployment (its public origin) and
//! the provider's issuer: deployments that share `COOKIE_KEYS` (staging and production) do not
//! accept each other's values, nor does a provider accept another's.

pub mod cache;
pub mod cookies;
pub mod pending;
pub mod revocation;
pub mod seal;

use crate::core::crypto::secret::{b64url, Secret};
use seal::{SealError, Sealer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Why a sealed session value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not sealed by us, tampered with, sealed for another place, or with a retired key.
    #[error("the session cookie is not valid: {0}")]
    Seal(#[from] SealError),
    /// Sealed by us but not a value of this version, or its provider is not configured.
    #[error("the session cookie has an unknown format or provider")]
    Malformed,
    /// The session's lifetime is over.
    #[error("the session has expired")]
    Expired,
}

/// What a sealed value is and where it is valid: rendered into the AEAD's associated data.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    /// `identity`, `record` or `pending`.
    pub kind: &'a str,
    /// The cookie name (or KV key) the value lives under.
    pub name: &'a str,
    /// The deployment: its public origin (`public_origin`, else the request's origin).
    pub deployment: &'a str,
    /// The issuer of the provider the value belongs to.
    pub issuer: &'a str,
}

impl SealContext<'_> {
    /// The associated data. NUL separates the parts: none of them can hold one (cookie names,
    /// KV keys, origins and issuers are printable ASCII or URLs).
    pub fn render(&self) -> String {
        let mut s =
            String::with_capacity(16 + self.kind.len() + self.name.len() + self.deployment.len() + self.issuer.len());
        for part in ["edge-oidc/2", self.kind, self.name, self.deployment, self.issuer] {
            s.push_str(part);
            s.push('\0');
        }
        s
    }
}

/// Splits a cookie value `provider.sealed` into its parts. The provider name is in the clear
/// (the browser knows where it signed in) so that the issuer can be part of the context.
pub fn split_provider(value: &str) -> Option<(&str, &str)> {
    let (provider, sealed) = value.split_once('.')?;
    let valid = !provider.is_empty()
        && provider.len() <= 64
        && provider
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some((provider, sealed))
}

/// Seals `value` as the cookie value `provider.<sealed JSON>`.
fn seal_cookie<T: Serialize>(
    value: &T,
    provider: &str,
    sealer: &Sealer,
    context: &SealContext<'_>,
    nonce: [u8; 24],
) -> Result<String, SessionError> {
    let json = serde_json::to_vec(value).map_err(|_| SessionError::Malformed)?;
    let sealed = sealer.seal(&context.render(), &json, nonce);
    Ok(format!("{provider}.{sealed}"))
}

/// Opens a cookie value made by [`seal_cookie`] as a `kind`, with the context built for the
/// provider it names (`issuer_of` gives a configured provider's issuer); returns the provider.
fn open_cookie<'v, 'i, T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    value: &'v str,
    kind: &str,
    name: &str,
    deployment: &str,
    issuer_of: impl FnOnce(&str) -> Option<&'i str>,
) -> Result<(&'v str, T), SessionError> {
    let (provider, sealed) = split_provider(value).ok_or(SessionError::Malformed)?;
    let issuer = issuer_of(provider).ok_or(SessionError::Malformed)?;
    let context = SealContext {
        kind,
        name,
        deployment,
        issuer,
    };
    let json = sealer.open(&context.render(), sealed)?;
    let opened = serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)?;
    Ok((provider, opened))
}

/// What the identity cookie holds: everything the gate needs, nothing more. Short field names:
/// the browser sends this on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Provider name (key in `providers`); carried in the clear before the sealed part.
    #[serde(skip)]
    pub provider: String,
    /// Subject.
    #[serde(rename = "s")]
    pub sub: String,
    /// Email address (ID token, else UserInfo).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider says the email is verified (`None`: it did not say).
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Display name.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The ID token's `acr` (already checked against `required_acr` at login).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the user signed in (unix seconds).
    #[serde(rename = "c")]
    pub created_at: i64,
    /// When the session ends, whatever the cookie's own expiry says.
    #[serde(rename = "x")]
    pub expires_at: i64,
    /// Where the session record is in KV ([`record_key`]).
    #[serde(rename = "h")]
    pub handle: String,
    /// The provider's session id (`sid` of the ID token), which back- and front-channel logout
    /// name.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the session is due for a refresh (unix seconds; only with the provider's
    /// `session_refresh_interval_secs`).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub refresh_due: Option<i64>,
    /// The refresh is a silent authentication request (`prompt=none`) on a navigation: the
    /// provider gave no refresh token.
    #[serde(rename = "p", default, skip_serializing_if = "is_false")]
    pub silent_refresh: bool,
    /// When the session was last checked against the revocation records (only for providers
    /// with back- or front-channel logout).
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
    /// When the session was last seen in use, to the step of the idle timeout (only with
    /// `session.idle_timeout_secs`).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub active_at: Option<i64>,
    /// The claims the configured rules (and later features) test, projected at login and at each
    /// refresh by `Config::projection`: key (a claim's JSON Pointer, or `g` for the provider's
    /// groups) to the user's values that some rule names. Empty without such rules.
    #[serde(rename = "r", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, Vec<String>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Identity {
    /// The cookie value: `provider.` followed by the sealed identity.
    pub fn seal(&self, sealer: &Sealer, context: &SealContext<'_>, nonce: [u8; 24]) -> Result<String, SessionError> {
        seal_cookie(self, &self.provider, sealer, context, nonce)
    }

    /// Opens a cookie value made by [`Identity::seal`] (not checking expiry). `issuer_of` gives
    /// the issuer of a configured provider; the context is built for it.
    pub fn open<'i>(
        sealer: &Sealer,
        value: &str,
        name: &str,
        deployment: &str,
        issuer_of: impl FnOnce(&str) -> Option<&'i str>,
    ) -> Result<Identity, SessionError> {
        Identity::open_as(sealer, value, "identity", name, deployment, issuer_of)
    }

    /// Opens an identity sealed as `kind` (`identity` for the cookie; `refreshed` for the copy
    /// a refresh leaves in KV for other isolates) under `name` (cookie name or KV key).
    pub fn open_as<'i>(
        sealer: &Sealer,
        value: &str,
        kind: &str,
        name: &str,
        deployment: &str,
        issuer_of: impl FnOnce(&str) -> Option<&'i str>,
    ) -> Result<Identity, SessionError> {
        let (provider, mut identity): (_, Identity) = open_cookie(sealer, value, kind, name, deployment, issuer_of)?;
        provider.clone_into(&mut identity.provider);
        Ok(identity)
    }

    /// Whether the session's lifetime is over at `now`.
    pub fn expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Whether the session has been unused for `idle_timeout` at `now` (a session sealed before
    /// the timeout was configured counts as used now).
    pub fn idle(&self, now: i64, idle_timeout: Option<u64>) -> bool {
        match (idle_timeout, self.active_at) {
            (Some(idle), Some(at)) => now.saturating_sub(at) >= i64::try_from(idle).unwrap_or(i64::MAX),
            _ => false,
        }
    }

    /// The email, if it may be used for allow-list decisions: one the provider marks
    /// unverified never is; one it says nothing about only when `require_verified` is off.
    pub fn usable_email(&self, require_verified: bool) -> Option<&str> {
        match self.email_verified {
            Some(true) => self.email.as_deref(),
            None if !require_verified => self.email.as_deref(),
            _ => None,
        }
    }
}

/// What the session keeps apart from the cookie, in KV under [`record_key`]: the tokens and the
/// UserInfo claims (Flask-pyoidc keeps all three in its session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The client id the session was obtained with (logout's `client_id`).
    pub client_id: String,
    /// The raw ID token (`id_token_hint` at logout).
    pub id_token: String,
    /// The access token (none for `response_type=id_token`, which issues none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
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

impl SessionRecord {
    /// The sealed KV value.
    pub fn seal(&self, sealer: &Sealer, context: &SealContext<'_>, nonce: [u8; 24]) -> Result<String, SessionError> {
        let json = serde_json::to_vec(self).map_err(|_| SessionError::Malformed)?;
        Ok(sealer.seal(&context.render(), &json, nonce))
    }

    /// Opens a KV value made by [`SessionRecord::seal`] with the same context.
    pub fn open(sealer: &Sealer, context: &SealContext<'_>, sealed: &str) -> Result<SessionRecord, SessionError> {
        let json = sealer.open(&context.render(), sealed)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)
    }
}

/// The KV key of a session record.
pub fn record_key(handle: &str) -> String {
    format!("session:{handle}")
}

/// The handle of the session a login with this `state` creates: 128 bits of
/// SHA-256("edge-oidc session\0" || state). Derived from the state so that the record doubles
/// as the mark that the state was used (a replayed callback finds it).
pub fn handle_for_state(state: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"edge-oidc session\0")
        .chain_update(state.as_bytes())
        .finalize();
    b64url(digest.get(..16).unwrap_or_default())
}

/// Checks an email against allow-lists (case-insensitive). Empty lists allow everyone.
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
mod tests;
