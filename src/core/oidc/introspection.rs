//! OAuth 2.0 Token Introspection (RFC 7662) for opaque bearer tokens: the request (§2.1, with
//! the client's authentication as for the token endpoint) and the answer (§2.2), checked like a
//! JWT access token's claims where present (`exp`, `aud`, `iss`, `scope`).

use serde::Deserialize;
use url::form_urlencoded;

use crate::core::crypto::Signatures;
use crate::core::http::HttpRequest;
use crate::core::oidc::access_token::{split_scope, AccessToken, AccessTokenError};
use crate::core::oidc::client_auth::{authenticate, Client, ClientAuthError};
use crate::core::oidc::logout_token::opt_one_or_many;

/// The introspection request (§2.1): `token` and `token_type_hint=access_token`, authenticated.
pub async fn request(
    client: &Client,
    endpoint: &str,
    token: &str,
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<HttpRequest, ClientAuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", "access_token");
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("accept", "application/json".to_owned()),
    ];
    authenticate(client, endpoint, &mut form, &mut headers, now, jti, signatures).await?;
    Ok(HttpRequest {
        method: "POST",
        url: endpoint.to_owned(),
        headers,
        body: Some(form.finish()),
        follow_redirects: false,
    })
}

/// The answer (§2.2). Only `active` is REQUIRED; the rest is checked when present.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Introspected {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scopes.
    pub scope: Option<String>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The resource owner.
    pub sub: Option<String>,
    /// Expiry, unix seconds.
    pub exp: Option<i64>,
    /// Audiences.
    #[serde(deserialize_with = "opt_one_or_many")]
    pub aud: Option<Vec<String>>,
    /// Issuer.
    pub iss: Option<String>,
    /// `token_type`, e.g. `Bearer`.
    pub token_type: Option<String>,
}

/// Parses an answer body; `None` when it is not JSON of the §2.2 shape (an upstream fault).
pub fn parse(body: &[u8]) -> Option<Introspected> {
    serde_json::from_slice(body).ok()
}

/// The answer as an accepted token, or why not. `audiences` empty: `aud` is not checked (the
/// provider decided the token is active for the client that asked).
pub fn check(
    i: Introspected,
    issuer: &str,
    audiences: &[String],
    scopes: &[String],
    now: i64,
) -> Result<AccessToken, AccessTokenError> {
    if !i.active {
        return Err(AccessTokenError::Expired);
    }
    // §2.2 `token_type` (RFC 6749 §7.1 types): an access token is a `Bearer` one; a refresh
    // token a provider reports as active must not open the API.
    if i.token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(AccessTokenError::NotAnAccessToken);
    }
    if i.iss.as_deref().is_some_and(|iss| iss != issuer) {
        return Err(AccessTokenError::WrongIssuer);
    }
    if !audiences.is_empty() && !i.aud.unwrap_or_default().iter().any(|a| audiences.contains(a)) {
        return Err(AccessTokenError::WrongAudience);
    }
    // No `exp`: the provider said active now; the caller's cache bound applies.
    let exp = i.exp.unwrap_or(i64::MAX);
    if exp <= now {
        return Err(AccessTokenError::Expired);
    }
    let token = AccessToken {
        sub: i.sub.or_else(|| i.client_id.clone()).unwrap_or_default(),
        client_id: i.client_id,
        scopes: split_scope(i.scope.as_deref()),
        exp,
        email: None,
    };
    if !token.has_scopes(scopes) {
        return Err(AccessTokenError::InsufficientScope);
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
