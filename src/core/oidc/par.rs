//! Pushed authorization requests (RFC 9126): the authentication request's parameters go to the
//! provider's `pushed_authorization_request_endpoint` in a POST authenticated as the client, and
//! the browser carries only `client_id` and the `request_uri` the provider answers with. The
//! parameters then never pass through the browser (no tampering with `acr_values`, `claims`,
//! …, nothing in its history), and the provider knows them to come from the client.

use crate::core::crypto::Signatures;
use crate::core::http::{json_problem, HttpRequest, HttpResponse};
use crate::core::oidc::authorize::AuthorizationRequest;
use crate::core::oidc::client_auth::{self, AuthMethod, Client, ClientAuthError};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::token::{oauth_error, TokenError};
use serde::Deserialize;
use url::form_urlencoded;

/// Longest `request_uri` accepted (it goes into the browser's URL).
const MAX_REQUEST_URI: usize = 2048;

/// When to push the authorization request (`pushed_authorization_requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParMode {
    /// When the provider requires it (`require_pushed_authorization_requests`).
    #[default]
    Auto,
    /// Always; the provider must have a `pushed_authorization_request_endpoint`.
    On,
    /// Never; a provider that requires PAR cannot be used.
    Off,
}

impl ParMode {
    /// Parses the configuration value.
    pub fn parse(value: &str) -> Option<ParMode> {
        match value {
            "auto" => Some(ParMode::Auto),
            "on" => Some(ParMode::On),
            "off" => Some(ParMode::Off),
            _ => None,
        }
    }
}

/// Why PAR cannot be used as configured with this provider's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParSetupError {
    /// `on`, but the provider has no endpoint for it.
    #[error("is \"on\", but the provider has no pushed_authorization_request_endpoint")]
    NoEndpoint,
    /// `off`, but the provider accepts nothing else.
    #[error(
        "is \"off\", but the provider requires pushed authorization requests (require_pushed_authorization_requests)"
    )]
    Required,
}

/// The PAR endpoint to push to, or `None` to send the parameters through the browser.
pub fn endpoint(mode: ParMode, metadata: &ProviderMetadata) -> Result<Option<&str>, ParSetupError> {
    let wanted = match mode {
        ParMode::On => true,
        ParMode::Off if metadata.require_pushed_authorization_requests => return Err(ParSetupError::Required),
        ParMode::Off => false,
        ParMode::Auto => metadata.require_pushed_authorization_requests,
    };
    match (wanted, metadata.pushed_authorization_request_endpoint.as_deref()) {
        (false, _) => Ok(None),
        (true, Some(endpoint)) => Ok(Some(endpoint)),
        (true, None) => Err(ParSetupError::NoEndpoint),
    }
}

/// The pushed authorization request (RFC 9126 §2.1): every parameter of `request` in a form
/// body, authenticated as `client` would be at the token endpoint. A JWT client assertion is
/// addressed to the issuer (§2: "the issuer identifier URL … SHOULD be used as the value of the
/// audience"). `jti` must be fresh randomness.
#[allow(clippy::too_many_arguments)]
pub async fn push_request(
    request: &AuthorizationRequest<'_>,
    client: &Client,
    endpoint: &str,
    issuer: &str,
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<HttpRequest, ClientAuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    // `client_id` appears once: every method but Basic puts it into the body itself.
    request.append(&mut form, client.method == AuthMethod::ClientSecretBasic);
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("accept", "application/json".to_owned()),
    ];
    client_auth::authenticate(client, issuer, &mut form, &mut headers, now, jti, signatures).await?;
    Ok(HttpRequest {
        method: "POST",
        url: endpoint.to_owned(),
        headers,
        body: Some(form.finish()),
        follow_redirects: false,
    })
}

#[derive(Deserialize)]
struct PushResponse {
    request_uri: String,
}

/// The `request_uri` of a PAR response (RFC 9126 §2.2: 201 with JSON; 200 is accepted too).
/// An OAuth error (§2.3) is [`TokenError::Provider`], shown like any error of the provider.
pub fn parse_response(response: &HttpResponse) -> Result<String, TokenError> {
    if !matches!(response.status, 200 | 201) {
        return Err(oauth_error(response));
    }
    let pushed: PushResponse =
        serde_json::from_slice(&response.body).map_err(|e| TokenError::Malformed(json_problem(&e)))?;
    if pushed.request_uri.is_empty() || pushed.request_uri.len() > MAX_REQUEST_URI {
        return Err(TokenError::Malformed("the request_uri is empty or too long".into()));
    }
    Ok(pushed.request_uri)
}

#[cfg(test)]
mod tests;
