//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, validated as §2.6 says).
//!
//! A logout token reaches the back-channel endpoint from anyone on the internet: like an ID
//! token it is attacker-controlled until its signature verified with a key of the provider its
//! `iss` names, with an algorithm on that provider's allow-list ([`jws::verify`], shared with
//! ID tokens). Then the claims: `iss`, `aud`, `iat` (and `exp` when present) as for ID tokens,
//! a `sub` or a `sid`, the back-channel logout member in `events`, no `nonce` (so an ID token
//! can never pass as a logout token), a `jti` for the replay check the caller makes. Nothing
//! here panics on input.

use jwt_compact::Claims;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::core::crypto::Signatures;
use crate::core::oidc::jwks::{Alg, Jwks, KeySelectError};
use crate::core::oidc::jws::{self, JwsError};

/// The `events` member that makes a JWT a logout token (§2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a logout token was refused (answered with 400, §2.8). Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// The JWS itself: malformed, `none`/HMAC, an algorithm not allowed, no key, bad signature.
    #[error("the logout token is not accepted: {0}")]
    Jws(#[from] JwsError),
    /// The claims are not a JSON object with the claim types of §2.4.
    #[error("the logout token's claims are malformed: {0}")]
    Malformed(&'static str),
    /// `typ` names another kind of token than a logout token (§2.4 explicit typing).
    #[error("the logout token's type (typ) is not logout+jwt")]
    WrongType,
    /// `iss` is absent or not the provider's issuer.
    #[error("the logout token was not issued by the provider (iss)")]
    WrongIssuer,
    /// `aud` is absent or does not contain our client id.
    #[error("the logout token is not addressed to this client (aud)")]
    WrongAudience,
    /// `iat` is absent.
    #[error("the logout token has no issue time (iat)")]
    MissingIat,
    /// `iat` is in the future beyond the clock leeway.
    #[error("the logout token's issue time is in the future; check the server clocks")]
    IssuedInFuture,
    /// `iat` is older than the window in which tokens are accepted (and their `jti` remembered).
    #[error("the logout token was issued too long ago")]
    TooOld,
    /// `exp` is present and in the past beyond the clock leeway.
    #[error("the logout token has expired")]
    Expired,
    /// Neither `sub` nor `sid` (§2.4: at least one is REQUIRED).
    #[error("the logout token has neither sub nor sid")]
    MissingSubAndSid,
    /// `events` is absent, not an object, or lacks the back-channel logout member (whose value
    /// must be a JSON object).
    #[error("the logout token has no back-channel logout event (events)")]
    MissingEvent,
    /// A `nonce` is present (§2.4: "A nonce Claim MUST NOT be present").
    #[error("the logout token carries a nonce, which logout tokens must not")]
    NoncePresent,
    /// `jti` is absent or empty (§2.4: REQUIRED).
    #[error("the logout token has no identifier (jti)")]
    MissingJti,
}

impl LogoutTokenError {
    /// True when the token names a key the cached JWKS lacks (refetch the JWKS once).
    pub fn needs_jwks_refresh(&self) -> bool {
        matches!(self, LogoutTokenError::Jws(JwsError::Key(KeySelectError::UnknownKid)))
    }
}

/// What a valid logout token must match. Everything comes from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LogoutParams<'a> {
    /// The provider's issuer; compared exactly with `iss`.
    pub issuer: &'a str,
    /// Our client ids at that provider (one, or the dynamically registered ones); one must be
    /// in `aud`.
    pub client_ids: &'a [&'a str],
    /// Allowed signature algorithms (the provider's ID token allow-list, §2.6 step 3).
    pub allowed_algs: &'a [Alg],
    /// Current time, unix seconds.
    pub now: i64,
    /// Clock skew tolerance for `iat` and `exp`.
    pub leeway_secs: i64,
    /// How old `iat` may be: the window in which a `jti` must be remembered.
    pub max_age_secs: i64,
}

/// A logout token that passed every check of §2.6 but the replay check (the caller's: it owns
/// the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedLogoutToken {
    /// The user whose sessions end (all of them at this provider when there is no `sid`).
    pub sub: Option<String>,
    /// The provider session that ended.
    pub sid: Option<String>,
    /// The token's identifier.
    pub jti: String,
    /// When it was issued.
    pub iat: i64,
}

/// The claims as they come off the wire, minus `exp` / `iat` / `nbf` (jwt-compact's). Named
/// fields reject duplicates.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(deserialize_with = "opt_one_or_many")]
    aud: Option<Vec<String>>,
    jti: Option<String>,
    sid: Option<String>,
    events: Option<Value>,
    /// Present in any form, `null` included.
    #[serde(deserialize_with = "present")]
    nonce: Option<()>,
}

/// The `iss` of a token, read WITHOUT trusting it: which provider's keys to verify it with.
pub fn peek_issuer(token: &str) -> Option<String> {
    jws::stored_claims::<WireClaims>(token)?.custom.iss
}

/// Validates a logout token (§2.6 steps 1–7; step 8, the `jti` replay check, is the caller's).
pub async fn validate(
    token: &str,
    jwks: &Jwks,
    params: &LogoutParams<'_>,
    signatures: &dyn Signatures,
) -> Result<ValidatedLogoutToken, LogoutTokenError> {
    // Steps 1–3: no encryption (a JWE is malformed), the signature as for ID tokens, never
    // `none` (nor HMAC), an algorithm on the allow-list.
    let verified = jws::verify::<WireClaims>(
        token,
        jwks,
        params.allowed_algs,
        signatures,
        "the claims are not a JSON object with valid logout token claim types",
    )
    .await?;
    // §2.4: "Use of explicit typing ... prevents cross-JWT confusion": absent or generic is
    // accepted (many providers send JWT), another token type is not.
    if let Some(typ) = verified.typ.as_deref() {
        let typ = typ.to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if typ != "jwt" && typ != "logout+jwt" {
            return Err(LogoutTokenError::WrongType);
        }
    }
    check_claims(verified.claims, params)
}

/// §2.6 steps 4–7 on verified claims.
fn check_claims(claims: Claims<WireClaims>, p: &LogoutParams<'_>) -> Result<ValidatedLogoutToken, LogoutTokenError> {
    let leeway = p.leeway_secs.max(0);
    let iat = claims.issued_at.ok_or(LogoutTokenError::MissingIat)?.timestamp();
    let exp = claims.expiration.map(|t| t.timestamp());
    let w = claims.custom;
    // Step 4: iss, aud, iat and exp as for ID tokens (Core §3.1.3.7 steps 2, 3, 9, 10).
    if w.iss.as_deref() != Some(p.issuer) {
        return Err(LogoutTokenError::WrongIssuer);
    }
    let aud = w.aud.unwrap_or_default();
    if !aud.iter().any(|a| p.client_ids.contains(&a.as_str())) {
        return Err(LogoutTokenError::WrongAudience);
    }
    if iat > p.now.saturating_add(leeway) {
        return Err(LogoutTokenError::IssuedInFuture);
    }
    if iat < p.now.saturating_sub(p.max_age_secs.saturating_add(leeway)) {
        return Err(LogoutTokenError::TooOld);
    }
    if exp.is_some_and(|exp| exp <= p.now.saturating_sub(leeway)) {
        return Err(LogoutTokenError::Expired);
    }
    // Step 5: a sub, a sid, or both.
    let sub = w.sub.filter(|s| !s.is_empty());
    let sid = w.sid.filter(|s| !s.is_empty());
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::MissingSubAndSid);
    }
    // Step 6: events holds the back-channel logout member, itself a JSON object (§2.4).
    let event = w.events.as_ref().and_then(|e| e.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::MissingEvent);
    }
    // Step 7: no nonce.
    if w.nonce.is_some() {
        return Err(LogoutTokenError::NoncePresent);
    }
    let jti = w.jti.filter(|j| !j.is_empty()).ok_or(LogoutTokenError::MissingJti)?;
    Ok(ValidatedLogoutToken { sub, sid, jti, iat })
}

/// `aud` on the wire: a single string or an array of strings.
pub(crate) fn opt_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    }))
}

/// A member that is there, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| Some(()))
}

#[cfg(test)]
mod tests;
