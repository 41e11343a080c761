//! JWT access tokens (RFC 9068) validated by the resource server — here, the worker in front of
//! an API — as §4 says, and the answer when a token is refused (RFC 6750 §3).
//!
//! A bearer token is attacker-controlled until its signature verified with a key of the
//! provider's JWKS, by an algorithm of the provider's allow-list (never `none` or HMAC:
//! [`jws::verify`], shared with ID and logout tokens). Then §4: `typ` `at+jwt` (step 1, when
//! required), `iss` exactly the provider's issuer (3), `aud` one of the configured audiences
//! (4), `exp` in the future (6), and the required scopes in `scope` (§2.2.3; a missing scope is
//! 403 `insufficient_scope`, RFC 6750 §3.1). An ID token can never pass: its `aud` is our
//! client id, not a resource, and with `typ` required it is `JWT`. Nothing here panics on input.

use jwt_compact::Claims;
use serde::Deserialize;

use crate::core::crypto::Signatures;
use crate::core::oidc::jwks::{Alg, Jwks, KeySelectError};
use crate::core::oidc::jws::{self, JwsError};
use crate::core::oidc::logout_token::opt_one_or_many;

/// Why a bearer token was refused. Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    /// The JWS: malformed, `none`/HMAC, an algorithm not allowed, no key, a bad signature.
    #[error("the access token is not accepted: {0}")]
    Jws(#[from] JwsError),
    /// `typ` is not `at+jwt` (RFC 9068 §4 step 1) while the configuration requires it.
    #[error("the access token's type (typ) is not at+jwt")]
    WrongType,
    /// `iss` is absent or not the provider's issuer (step 3).
    #[error("the access token was not issued by the provider (iss)")]
    WrongIssuer,
    /// `aud` does not name this API (step 4).
    #[error("the access token is not meant for this resource (aud)")]
    WrongAudience,
    /// `exp` is absent or past (step 6).
    #[error("the access token has expired")]
    Expired,
    /// `iat` or `nbf` is in the future beyond the clock leeway.
    #[error("the access token is not valid yet; check the server clocks")]
    NotYetValid,
    /// A claim §2.2 makes REQUIRED is absent (`sub`, `client_id`, `iat`, `jti`).
    #[error("the access token lacks the required claim {0}")]
    MissingClaim(&'static str),
    /// An introspection answer names another kind of token (`token_type`, e.g. a refresh
    /// token): only access tokens open the API.
    #[error("the token is not an access token (token_type)")]
    NotAnAccessToken,
    /// A required scope is not in `scope` (RFC 6750 §3.1: 403 `insufficient_scope`).
    #[error("the access token lacks a required scope")]
    InsufficientScope,
}

impl AccessTokenError {
    /// True when the token names a key the cached JWKS lacks (refetch the JWKS once).
    pub fn needs_jwks_refresh(&self) -> bool {
        matches!(self, AccessTokenError::Jws(JwsError::Key(KeySelectError::UnknownKid)))
    }
}

/// What a valid access token must match. Everything comes from configuration.
#[derive(Debug, Clone, Copy)]
pub struct AccessParams<'a> {
    /// The provider's issuer; compared exactly with `iss`.
    pub issuer: &'a str,
    /// One of these must be in `aud`.
    pub audiences: &'a [String],
    /// All of these must be in `scope`.
    pub scopes: &'a [String],
    /// The provider's allow-list of algorithms.
    pub allowed_algs: &'a [Alg],
    /// Require `typ: at+jwt`.
    pub require_typ: bool,
    /// Current time, unix seconds.
    pub now: i64,
    /// Clock skew tolerance.
    pub leeway_secs: i64,
}

/// An accepted access token: who, for which client, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The resource owner (or the client, for client credentials).
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When it expires.
    pub exp: i64,
    /// An `email` claim, if the provider adds one.
    pub email: Option<String>,
}

impl AccessToken {
    /// Whether every scope of `required` was granted.
    pub fn has_scopes(&self, required: &[String]) -> bool {
        required.iter().all(|r| self.scopes.iter().any(|s| s == r))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(deserialize_with = "opt_one_or_many")]
    aud: Option<Vec<String>>,
    client_id: Option<String>,
    jti: Option<String>,
    scope: Option<String>,
    email: Option<String>,
}

/// RFC 9068 §4 on `token`.
pub async fn validate(
    token: &str,
    jwks: &Jwks,
    p: &AccessParams<'_>,
    signatures: &dyn Signatures,
) -> Result<AccessToken, AccessTokenError> {
    let verified = jws::verify::<WireClaims>(
        token,
        jwks,
        p.allowed_algs,
        signatures,
        "the claims are not a JSON object with valid access token claim types",
    )
    .await?;
    // Step 1: `at+jwt`, or its full media type (RFC 9068 §2.1), case-insensitive.
    if p.require_typ {
        let typ = verified.typ.as_deref().unwrap_or_default().to_ascii_lowercase();
        if typ.strip_prefix("application/").unwrap_or(&typ) != "at+jwt" {
            return Err(AccessTokenError::WrongType);
        }
    }
    check_claims(verified.claims, p)
}

fn check_claims(claims: Claims<WireClaims>, p: &AccessParams<'_>) -> Result<AccessToken, AccessTokenError> {
    let leeway = p.leeway_secs.max(0);
    let w = claims.custom;
    if w.iss.as_deref() != Some(p.issuer) {
        return Err(AccessTokenError::WrongIssuer);
    }
    if !w.aud.unwrap_or_default().iter().any(|a| p.audiences.contains(a)) {
        return Err(AccessTokenError::WrongAudience);
    }
    let exp = claims.expiration.ok_or(AccessTokenError::Expired)?.timestamp();
    if exp <= p.now.saturating_sub(leeway) {
        return Err(AccessTokenError::Expired);
    }
    let iat = claims
        .issued_at
        .ok_or(AccessTokenError::MissingClaim("iat"))?
        .timestamp();
    let nbf = claims.not_before.map(|t| t.timestamp());
    if iat > p.now.saturating_add(leeway) || nbf.is_some_and(|n| n > p.now.saturating_add(leeway)) {
        return Err(AccessTokenError::NotYetValid);
    }
    let sub = w
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(AccessTokenError::MissingClaim("sub"))?;
    let client_id = Some(
        w.client_id
            .filter(|s| !s.is_empty())
            .ok_or(AccessTokenError::MissingClaim("client_id"))?,
    );
    w.jti
        .filter(|s| !s.is_empty())
        .ok_or(AccessTokenError::MissingClaim("jti"))?;
    let token = AccessToken {
        sub,
        client_id,
        scopes: split_scope(w.scope.as_deref()),
        exp,
        email: w.email,
    };
    if !token.has_scopes(p.scopes) {
        return Err(AccessTokenError::InsufficientScope);
    }
    Ok(token)
}

/// A space-separated `scope` value (RFC 6749 §3.3).
pub fn split_scope(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `Authorization: Bearer` token of a request (RFC 6750 §2.1): `None` without one; the
/// scheme is case-insensitive, the token is b64token characters.
pub fn bearer_token(authorization: Option<&str>) -> Option<Result<&str, ()>> {
    let value = authorization?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_matches(' ');
    let b64token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    let valid = !token.is_empty() && token.len() <= jws::MAX_TOKEN_LEN && token.bytes().all(b64token);
    Some(if valid { Ok(token) } else { Err(()) })
}

/// The `WWW-Authenticate` value of a refusal (RFC 6750 §3): no `error` when the request had no
/// token (§3.1: "SHOULD NOT include an error code"), else `invalid_request`, `invalid_token`
/// or `insufficient_scope` with a description and, for the last, the scopes needed.
pub fn www_authenticate(error: Option<&str>, description: &str, scopes: &[String]) -> String {
    let mut v = String::from("Bearer realm=\"edge-oidc\"");
    if let Some(error) = error {
        // Descriptions are our fixed texts; quotes and backslashes cannot occur, but are kept out.
        let clean: String = description.chars().filter(|c| *c != '"' && *c != '\\').collect();
        v.push_str(&format!(", error=\"{error}\", error_description=\"{clean}\""));
        if error == "insufficient_scope" && !scopes.is_empty() {
            v.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
        }
    }
    v
}

#[cfg(test)]
mod tests;
