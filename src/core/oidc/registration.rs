//! Dynamic client registration (OpenID Connect Dynamic Client Registration 1.0, RFC 7591).

use crate::core::crypto::secret::Secret;
use crate::core::http::{json_problem, HttpRequest, HttpResponse};
use crate::core::oidc::client_auth::AuthMethod;
use crate::core::oidc::response::ResponseType;
use serde::{Deserialize, Serialize};

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// The provider has no `registration_endpoint`.
    #[error("the provider does not offer dynamic client registration (no registration_endpoint)")]
    NotSupported,
    /// The provider refused the registration (Registration §3.3, RFC 7591 §3.2.2).
    #[error("the provider refused the client registration: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// `error` code, e.g. `invalid_redirect_uri`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// An unexpected status.
    #[error("the registration endpoint answered with HTTP status {0}")]
    Status(u16),
    /// The response is not a registration response.
    #[error("the registration response is not valid: {0}")]
    Malformed(String),
    /// An earlier attempt failed moments ago; not retried yet.
    #[error("client registration failed recently and is not retried yet: {0}")]
    Backoff(String),
}

/// A client registered by edge-oidc, as stored in KV and in pending logins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The issued client id.
    pub client_id: String,
    /// The issued secret, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When the secret expires (unix seconds); 0: never (Registration §3.2).
    #[serde(default)]
    pub client_secret_expires_at: i64,
    /// The method the provider registered.
    pub method: AuthMethod,
    /// The issuer it was registered at.
    pub issuer: String,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
    /// The response type it was registered for (absent in registrations stored before it was
    /// kept: `code`, the only one then).
    #[serde(default)]
    pub response_type: ResponseType,
}

impl RegisteredClient {
    /// Whether a new registration is needed (a minute early, so a login started now can finish).
    pub fn expired(&self, now: i64) -> bool {
        self.client_secret_expires_at > 0 && now >= self.client_secret_expires_at - 60
    }
}

/// What edge-oidc asks to be registered with.
#[derive(Debug)]
pub struct RegistrationRequest<'a> {
    /// The provider's registration endpoint.
    pub endpoint: &'a str,
    /// Our callback.
    pub redirect_uri: &'a str,
    /// Our post-logout redirect URI.
    pub post_logout_redirect_uri: &'a str,
    /// The method we want.
    pub method: AuthMethod,
    /// Our public JWKS, for `private_key_jwt`.
    pub jwks_uri: Option<&'a str>,
    /// The response type the logins will use (registered with its grant types).
    pub response_type: ResponseType,
    /// Our Back-Channel Logout endpoint (Back-Channel Logout 1.0 §2.2), when it is on.
    pub backchannel_logout_uri: Option<&'a str>,
    /// Our Front-Channel Logout endpoint (Front-Channel Logout 1.0 §2), when it is on.
    pub frontchannel_logout_uri: Option<&'a str>,
    /// Extra client metadata from the configuration (client_name, contacts, …).
    pub extra: &'a serde_json::Map<String, serde_json::Value>,
}

impl RegistrationRequest<'_> {
    /// The HTTP request (Registration §3.1: JSON POST).
    pub fn to_http(&self) -> HttpRequest {
        let mut body = self.extra.clone();
        // Registration §2: `code` needs the authorization_code grant, `id_token` and `token`
        // the implicit one.
        let rt = self.response_type;
        let mut grants: Vec<&str> = Vec::new();
        if rt.code() {
            grants.extend(["authorization_code", "refresh_token"]);
        }
        if rt.id_token() || rt.token() {
            grants.push("implicit");
        }
        // Our own values win over configured extras: the redirect URIs must be ours.
        let ours = serde_json::json!({
            "redirect_uris": [self.redirect_uri],
            "post_logout_redirect_uris": [self.post_logout_redirect_uri],
            "response_types": [rt.as_str()],
            "grant_types": grants,
            "application_type": "web",
            "token_endpoint_auth_method": self.method.name(),
        });
        if let Some(obj) = ours.as_object() {
            body.extend(obj.clone());
        }
        if let Some(jwks_uri) = self.jwks_uri {
            body.insert("jwks_uri".into(), jwks_uri.into());
        }
        // Session required: logout tokens and front-channel requests then name the provider
        // session (sid), so that one logout ends one session rather than all of the user's.
        if let Some(uri) = self.backchannel_logout_uri {
            body.insert("backchannel_logout_uri".into(), uri.into());
            body.insert("backchannel_logout_session_required".into(), true.into());
        }
        if let Some(uri) = self.frontchannel_logout_uri {
            body.insert("frontchannel_logout_uri".into(), uri.into());
            body.insert("frontchannel_logout_session_required".into(), true.into());
        }
        HttpRequest {
            method: "POST",
            url: self.endpoint.to_owned(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("accept", "application/json".to_owned()),
            ],
            body: Some(serde_json::Value::Object(body).to_string()),
            follow_redirects: false,
        }
    }
}

#[derive(Deserialize)]
struct Response {
    client_id: String,
    #[serde(default)]
    client_secret: Option<Secret>,
    #[serde(default)]
    client_secret_expires_at: Option<i64>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Parses the registration response (Registration §3.2: 201 with the client information).
pub fn parse_response(
    response: &HttpResponse,
    requested: AuthMethod,
    issuer: &str,
    redirect_uri: &str,
) -> Result<RegisteredClient, RegistrationError> {
    if !matches!(response.status, 200 | 201) {
        return Err(match serde_json::from_slice::<ErrorResponse>(&response.body) {
            Ok(e) if response.status == 400 => RegistrationError::Refused {
                error: e.error,
                description: e.error_description,
            },
            _ => RegistrationError::Status(response.status),
        });
    }
    let r: Response =
        serde_json::from_slice(&response.body).map_err(|e| RegistrationError::Malformed(json_problem(&e)))?;
    if r.client_id.is_empty() {
        return Err(RegistrationError::Malformed("empty client_id".into()));
    }
    let method = match r.token_endpoint_auth_method.as_deref() {
        Some(name) => AuthMethod::from_name(name)
            .ok_or_else(|| RegistrationError::Malformed(format!("unsupported token_endpoint_auth_method `{name}`")))?,
        None => requested,
    };
    let needs_secret = matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt
    );
    if needs_secret && r.client_secret.is_none() {
        return Err(RegistrationError::Malformed(format!(
            "no client_secret for {}",
            method.name()
        )));
    }
    Ok(RegisteredClient {
        client_id: r.client_id,
        client_secret: r.client_secret,
        client_secret_expires_at: r.client_secret_expires_at.unwrap_or(0),
        method,
        issuer: issuer.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        response_type: ResponseType::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::json(status, body)
    }

    #[test]
    fn request_carries_our_uris_and_the_extras() {
        let mut extra = serde_json::Map::new();
        extra.insert("client_name".into(), "Docs".into());
        extra.insert("contacts".into(), serde_json::json!(["ops@example.com"]));
        extra.insert("redirect_uris".into(), serde_json::json!(["https://evil.example/cb"]));
        let req = RegistrationRequest {
            endpoint: "https://op.example/reg",
            redirect_uri: "https://rp.example/redirect_uri",
            post_logout_redirect_uri: "https://rp.example/logged-out",
            method: AuthMethod::PrivateKeyJwt,
            jwks_uri: Some("https://rp.example/.well-known/jwks.json"),
            response_type: ResponseType::Code,
            backchannel_logout_uri: Some("https://rp.example/backchannel-logout"),
            frontchannel_logout_uri: None,
            extra: &extra,
        }
        .to_http();
        assert_eq!(req.method, "POST");
        let body: serde_json::Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["redirect_uris"],
            serde_json::json!(["https://rp.example/redirect_uri"])
        );
        assert_eq!(
            body["post_logout_redirect_uris"],
            serde_json::json!(["https://rp.example/logged-out"])
        );
        assert_eq!(body["client_name"], "Docs");
        assert_eq!(body["contacts"][0], "ops@example.com");
        assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(body["jwks_uri"], "https://rp.example/.well-known/jwks.json");
        assert_eq!(body["response_types"], serde_json::json!(["code"]));
        assert_eq!(
            body["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(body["backchannel_logout_uri"], "https://rp.example/backchannel-logout");
        assert_eq!(body["backchannel_logout_session_required"], true);
        assert!(body.get("frontchannel_logout_uri").is_none());
    }

    /// Registration §2: the response types and the grant types they need.
    #[test]
    fn implicit_and_hybrid_register_their_grant_types() {
        let extra = serde_json::Map::new();
        let body = |response_type| {
            let req = RegistrationRequest {
                endpoint: "https://op.example/reg",
                redirect_uri: "https://rp.example/redirect_uri",
                post_logout_redirect_uri: "https://rp.example/logged-out",
                method: AuthMethod::None,
                jwks_uri: None,
                response_type,
                backchannel_logout_uri: None,
                frontchannel_logout_uri: None,
                extra: &extra,
            };
            serde_json::from_str::<serde_json::Value>(req.to_http().body.as_deref().unwrap()).unwrap()
        };
        let implicit = body(ResponseType::IdTokenToken);
        assert_eq!(implicit["response_types"], serde_json::json!(["id_token token"]));
        assert_eq!(implicit["grant_types"], serde_json::json!(["implicit"]));
        let hybrid = body(ResponseType::CodeIdToken);
        assert_eq!(hybrid["response_types"], serde_json::json!(["code id_token"]));
        assert_eq!(
            hybrid["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token", "implicit"])
        );
    }

    #[test]
    fn responses() {
        let ok = parse_response(
            &resp(201, r#"{"client_id":"c1","client_secret":"s","client_secret_expires_at":2000,"token_endpoint_auth_method":"client_secret_post"}"#),
            AuthMethod::ClientSecretBasic,
            "https://op",
            "https://rp/cb",
        )
        .unwrap();
        assert_eq!(ok.client_id, "c1");
        assert_eq!(ok.method, AuthMethod::ClientSecretPost);
        assert!(!ok.expired(1000));
        assert!(ok.expired(1950));
        let never = parse_response(
            &resp(
                201,
                r#"{"client_id":"c","client_secret":"s","client_secret_expires_at":0}"#,
            ),
            AuthMethod::ClientSecretBasic,
            "i",
            "r",
        )
        .unwrap();
        assert!(!never.expired(i64::MAX));
        assert_eq!(
            parse_response(
                &resp(400, r#"{"error":"invalid_redirect_uri","error_description":"no"}"#),
                AuthMethod::None,
                "i",
                "r"
            ),
            Err(RegistrationError::Refused {
                error: "invalid_redirect_uri".into(),
                description: Some("no".into())
            })
        );
        assert_eq!(
            parse_response(&resp(500, "x"), AuthMethod::None, "i", "r"),
            Err(RegistrationError::Status(500))
        );
        assert!(matches!(
            parse_response(&resp(201, "{}"), AuthMethod::None, "i", "r"),
            Err(RegistrationError::Malformed(_))
        ));
        assert!(matches!(
            parse_response(
                &resp(201, r#"{"client_id":"c"}"#),
                AuthMethod::ClientSecretBasic,
                "i",
                "r"
            ),
            Err(RegistrationError::Malformed(_))
        ));
        assert!(matches!(
            parse_response(
                &resp(
                    201,
                    r#"{"client_id":"c","token_endpoint_auth_method":"tls_client_auth"}"#
                ),
                AuthMethod::None,
                "i",
                "r"
            ),
            Err(RegistrationError::Malformed(_))
        ));
    }
}
