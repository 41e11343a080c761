//! Token request (OpenID Connect Core §3.1.3.1, RFC 6749 §4.1.3), token response (§3.1.3.3)
//! and the UserInfo request (§5.3).

use crate::core::crypto::secret::Secret;
use crate::core::crypto::Signatures;
use crate::core::http::{json_problem, HttpRequest, HttpResponse};
use crate::core::oidc::client_auth::{self, Client, ClientAuthError};
use serde::Deserialize;
use url::form_urlencoded;

/// Why a token or UserInfo response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The provider answered with an OAuth error (RFC 6749 §5.2).
    #[error("the provider refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// A status that is neither success nor an OAuth error.
    #[error("the provider answered with HTTP status {0}")]
    Status(u16),
    /// The body is not the JSON expected.
    #[error("the provider's response is not valid: {0}")]
    Malformed(String),
    /// The token response has no `id_token` (required with scope openid, Core §3.1.3.3).
    #[error("the token response has no id_token")]
    MissingIdToken,
    /// `token_type` is not Bearer (Core §3.1.3.3: case-insensitive).
    #[error("the token type `{0}` is not Bearer")]
    TokenType(String),
    /// UserInfo `sub` differs from the ID token's (Core §5.3.2: tokens must not be used then).
    #[error("the UserInfo subject does not match the ID token subject")]
    UserinfoSubjectMismatch,
}

impl TokenError {
    /// The provider refused the grant itself (RFC 6749 §5.2 `invalid_grant`): for a refresh
    /// token, it is expired, revoked, or was already used (rotation).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Provider { error, .. } if error == "invalid_grant")
    }
}

/// A successful token response.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// Access token.
    pub access_token: Secret,
    /// Must be `Bearer`.
    pub token_type: String,
    /// The ID token (compact JWS).
    #[serde(default)]
    pub id_token: Option<String>,
    /// Refresh token.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Access token lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Builds the token request for an authorization code, authenticated as `client`.
/// `jti` must be fresh randomness (used by the JWT-based methods); `signatures` signs a
/// `private_key_jwt` assertion.
#[allow(clippy::too_many_arguments)]
pub async fn code_request(
    token_endpoint: &str,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<HttpRequest, ClientAuthError> {
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token_request(token_endpoint, client, &grant, now, jti, signatures).await
}

/// Builds a refresh token request (RFC 6749 §6, Core §12.1), authenticated as `client` as the
/// code was (RFC 6749 §6: "the client MUST authenticate").
pub async fn refresh_request(
    token_endpoint: &str,
    client: &Client,
    refresh_token: &Secret,
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<HttpRequest, ClientAuthError> {
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    token_request(token_endpoint, client, &grant, now, jti, signatures).await
}

/// A form POST to the token endpoint with `grant` and the client's authentication.
async fn token_request(
    token_endpoint: &str,
    client: &Client,
    grant: &[(&str, &str)],
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<HttpRequest, ClientAuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(grant);
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("accept", "application/json".to_owned()),
    ];
    client_auth::authenticate(client, token_endpoint, &mut form, &mut headers, now, jti, signatures).await?;
    Ok(HttpRequest {
        method: "POST",
        url: token_endpoint.to_owned(),
        headers,
        body: Some(form.finish()),
        follow_redirects: false,
    })
}

/// Parses the token endpoint's answer.
pub fn parse_token_response(response: &HttpResponse) -> Result<TokenResponse, TokenError> {
    let tokens = parse_refresh_response(response)?;
    if tokens.id_token.as_deref().is_none_or(str::is_empty) {
        return Err(TokenError::MissingIdToken);
    }
    Ok(tokens)
}

/// Parses the answer to a refresh token request: as [`parse_token_response`], but the ID token
/// is optional (Core §12.2: "Upon successful validation of the Refresh Token, the response
/// body is the Token Response of Section 3.1.3.3 except that it might not contain an
/// id_token").
pub fn parse_refresh_response(response: &HttpResponse) -> Result<TokenResponse, TokenError> {
    if response.status != 200 {
        return Err(oauth_error(response));
    }
    let tokens: TokenResponse =
        serde_json::from_slice(&response.body).map_err(|e| TokenError::Malformed(json_problem(&e)))?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::TokenType(tokens.token_type));
    }
    Ok(tokens)
}

/// The OAuth error of a refused request (RFC 6749 §5.2), else its status.
pub(crate) fn oauth_error(response: &HttpResponse) -> TokenError {
    match serde_json::from_slice::<OAuthError>(&response.body) {
        Ok(e) if (400..500).contains(&response.status) => TokenError::Provider {
            error: e.error,
            description: e.error_description,
        },
        _ => TokenError::Status(response.status),
    }
}

/// Builds the UserInfo request (Core §5.3.1, bearer token in the header, RFC 6750 §2.1).
pub fn userinfo_request(endpoint: &str, access_token: &Secret) -> HttpRequest {
    HttpRequest {
        method: "GET",
        url: endpoint.to_owned(),
        headers: vec![
            ("authorization", format!("Bearer {}", access_token.expose())),
            ("accept", "application/json".to_owned()),
        ],
        body: None,
        follow_redirects: false,
    }
}

/// Parses a UserInfo response and checks its `sub` (Core §5.3.2).
pub fn parse_userinfo(
    response: &HttpResponse,
    id_token_sub: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    if response.status != 200 {
        return Err(oauth_error(response));
    }
    if response
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/jwt"))
    {
        return Err(TokenError::Malformed(
            "signed UserInfo responses are not supported".into(),
        ));
    }
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&response.body).map_err(|e| TokenError::Malformed(json_problem(&e)))?;
    match claims.get("sub").and_then(|s| s.as_str()) {
        Some(sub) if sub == id_token_sub => Ok(claims),
        _ => Err(TokenError::UserinfoSubjectMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crypto::rust::RustCrypto;
    use crate::core::oidc::client_auth::AuthMethod;

    fn client(method: AuthMethod, secret: Option<&str>) -> Client {
        Client {
            client_id: "my client".into(),
            method,
            secret: secret.map(Secret::new),
            private_key: None,
        }
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::json(status, body)
    }

    #[test]
    fn code_request_per_auth_method() {
        let req = |m, s| {
            let client = client(m, s);
            let request = code_request(
                "https://op/token",
                &client,
                "c",
                "https://rp/cb",
                "v",
                0,
                "j",
                &RustCrypto,
            );
            futures::executor::block_on(request).unwrap()
        };
        let basic = req(AuthMethod::ClientSecretBasic, Some("s"));
        assert!(basic.headers.iter().any(|(k, _)| *k == "authorization"));
        let body = basic.body.unwrap();
        assert!(
            body.contains("grant_type=authorization_code")
                && body.contains("code=c")
                && body.contains("code_verifier=v")
        );
        assert!(body.contains("redirect_uri=https%3A%2F%2Frp%2Fcb"));
        assert!(!body.contains("client_secret"));
        let post = req(AuthMethod::ClientSecretPost, Some("s3"));
        assert!(!post.headers.iter().any(|(k, _)| *k == "authorization"));
        assert!(post.body.unwrap().contains("client_id=my+client&client_secret=s3"));
        let none = req(AuthMethod::None, None);
        let body = none.body.unwrap();
        assert!(body.contains("client_id=my+client") && !body.contains("client_secret"));
    }

    #[test]
    fn token_responses() {
        let ok = parse_token_response(&resp(
            200,
            r#"{"access_token":"a","token_type":"bearer","id_token":"x.y.z","expires_in":60}"#,
        ))
        .unwrap();
        assert_eq!(ok.access_token.expose(), "a");
        assert_eq!(
            parse_token_response(&resp(400, r#"{"error":"invalid_grant","error_description":"used"}"#)).unwrap_err(),
            TokenError::Provider {
                error: "invalid_grant".into(),
                description: Some("used".into())
            }
        );
        assert_eq!(
            parse_token_response(&resp(500, "oops")).unwrap_err(),
            TokenError::Status(500)
        );
        assert!(matches!(
            parse_token_response(&resp(200, "<html>")).unwrap_err(),
            TokenError::Malformed(_)
        ));
        assert_eq!(
            parse_token_response(&resp(200, r#"{"access_token":"a","token_type":"Bearer"}"#)).unwrap_err(),
            TokenError::MissingIdToken
        );
        assert_eq!(
            parse_token_response(&resp(200, r#"{"access_token":"a","token_type":"mac","id_token":"x"}"#)).unwrap_err(),
            TokenError::TokenType("mac".into())
        );
    }

    #[test]
    fn userinfo_subject_must_match() {
        assert!(parse_userinfo(&resp(200, r#"{"sub":"alice","email":"a@x"}"#), "alice").is_ok());
        assert_eq!(
            parse_userinfo(&resp(200, r#"{"sub":"mallory"}"#), "alice").unwrap_err(),
            TokenError::UserinfoSubjectMismatch
        );
        assert_eq!(
            parse_userinfo(&resp(200, r#"{"email":"a@x"}"#), "alice").unwrap_err(),
            TokenError::UserinfoSubjectMismatch
        );
        assert_eq!(
            parse_userinfo(&resp(401, ""), "alice").unwrap_err(),
            TokenError::Status(401)
        );
    }

    #[test]
    fn refresh_requests_and_responses() {
        let client = client(AuthMethod::ClientSecretBasic, Some("s"));
        let rt = Secret::new("rt/1+x");
        let req = futures::executor::block_on(refresh_request("https://op/token", &client, &rt, 0, "j", &RustCrypto))
            .unwrap();
        assert_eq!(
            (req.method, req.url.as_str(), req.follow_redirects),
            ("POST", "https://op/token", false)
        );
        assert!(req.headers.iter().any(|(k, _)| *k == "authorization"));
        assert_eq!(
            req.body.as_deref(),
            Some("grant_type=refresh_token&refresh_token=rt%2F1%2Bx")
        );
        // Core §12.2: the ID token may be missing from a refresh response.
        let ok = parse_refresh_response(&resp(
            200,
            r#"{"access_token":"a","token_type":"Bearer","refresh_token":"r2"}"#,
        ))
        .unwrap();
        assert_eq!(
            (ok.id_token, ok.refresh_token.map(|r| r.expose().to_owned())),
            (None, Some("r2".to_owned()))
        );
        let revoked = parse_refresh_response(&resp(400, r#"{"error":"invalid_grant"}"#)).unwrap_err();
        assert!(revoked.is_invalid_grant());
        assert!(!parse_refresh_response(&resp(503, "busy"))
            .unwrap_err()
            .is_invalid_grant());
        assert!(!parse_refresh_response(&resp(401, r#"{"error":"invalid_client"}"#))
            .unwrap_err()
            .is_invalid_grant());
    }
}
