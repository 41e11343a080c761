//! Provider metadata: OpenID Connect Discovery 1.0 §3/§4, or given statically.

use crate::core::config::provider_url_allowed;
use crate::core::http::{json_problem, parse_ascii_url};
use serde::{Deserialize, Serialize};

/// Why provider metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The document is not a JSON object of the expected shape.
    #[error("the provider metadata is not valid JSON: {0}")]
    Malformed(String),
    /// Discovery §4.3: the `issuer` in the document must equal the configured issuer exactly.
    #[error("the provider metadata names issuer `{found}`, but `{expected}` is configured")]
    IssuerMismatch {
        /// Configured issuer.
        expected: String,
        /// Issuer in the document.
        found: String,
    },
    /// The provider lists its PKCE methods and S256 is not among them (RFC 8414 §2,
    /// RFC 7636 §4.2): edge-oidc always sends S256 and never falls back to `plain`.
    #[error("the provider does not support PKCE with S256 (code_challenge_methods_supported)")]
    NoPkceS256,
    /// An endpoint is not an absolute https URL (http only on loopback, or when allowed).
    #[error("the provider metadata field `{0}` is not an absolute https URL")]
    BadEndpoint(&'static str),
}

/// The provider metadata edge-oidc uses (Discovery §3, RFC 9126 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// JWKS document location.
    pub jwks_uri: String,
    /// UserInfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Dynamic client registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RFC 9207: the provider sends `iss` in authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Token endpoint authentication methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// PKCE methods; when listed, `S256` must be among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// The `response_type` values the provider supports (REQUIRED in discovery; a static
    /// configuration may leave it out, and then nothing is checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// The `response_mode` values; when listed, the configured mode must be among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// RFC 9126 §5: where pushed authorization requests go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: the provider accepts authorization requests only through PAR.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 8414 §2 / RFC 7662: where bearer tokens are introspected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
}

/// `{issuer}/.well-known/openid-configuration` (Discovery §4.1: strip a trailing `/`).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

impl ProviderMetadata {
    /// Parses a discovery document and checks it against the configured issuer. Endpoints must
    /// be https (http only on loopback hosts, or anywhere with `allow_http`).
    pub fn from_json(body: &[u8], expected_issuer: &str, allow_http: bool) -> Result<Self, DiscoveryError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| DiscoveryError::Malformed(json_problem(&e)))?;
        Self::from_value(value, expected_issuer, allow_http)
    }

    /// Same as [`ProviderMetadata::from_json`] for an already parsed value.
    pub fn from_value(
        value: serde_json::Value,
        expected_issuer: &str,
        allow_http: bool,
    ) -> Result<Self, DiscoveryError> {
        let meta: ProviderMetadata =
            serde_json::from_value(value).map_err(|e| DiscoveryError::Malformed(json_problem(&e)))?;
        if meta.issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: meta.issuer,
            });
        }
        let endpoints = [
            ("authorization_endpoint", Some(&meta.authorization_endpoint)),
            ("token_endpoint", Some(&meta.token_endpoint)),
            ("jwks_uri", Some(&meta.jwks_uri)),
            ("userinfo_endpoint", meta.userinfo_endpoint.as_ref()),
            ("end_session_endpoint", meta.end_session_endpoint.as_ref()),
            ("registration_endpoint", meta.registration_endpoint.as_ref()),
            (
                "pushed_authorization_request_endpoint",
                meta.pushed_authorization_request_endpoint.as_ref(),
            ),
            ("introspection_endpoint", meta.introspection_endpoint.as_ref()),
        ];
        if meta
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| !m.iter().any(|m| m == "S256"))
        {
            return Err(DiscoveryError::NoPkceS256);
        }
        for (name, value) in endpoints {
            if let Some(v) = value {
                match parse_ascii_url(v) {
                    Some(u) if provider_url_allowed(&u, allow_http) => {}
                    _ => return Err(DiscoveryError::BadEndpoint(name)),
                }
            }
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"issuer":"https://op.example","authorization_endpoint":"https://op.example/auth",
        "token_endpoint":"https://op.example/token","jwks_uri":"https://op.example/jwks",
        "userinfo_endpoint":"https://op.example/me","response_types_supported":["code"]}"#;

    #[test]
    fn parses_and_checks_issuer() {
        let m = ProviderMetadata::from_json(DOC.as_bytes(), "https://op.example", false).unwrap();
        assert_eq!(m.token_endpoint, "https://op.example/token");
        assert_eq!(m.userinfo_endpoint.as_deref(), Some("https://op.example/me"));
        assert_eq!(m.end_session_endpoint, None);
        assert!(!m.authorization_response_iss_parameter_supported);
    }

    #[test]
    fn issuer_mismatch_is_refused() {
        let e = ProviderMetadata::from_json(DOC.as_bytes(), "https://op.example/", false).unwrap_err();
        assert!(matches!(e, DiscoveryError::IssuerMismatch { .. }));
    }

    #[test]
    fn bad_documents() {
        assert!(matches!(
            ProviderMetadata::from_json(b"<html>", "x", false),
            Err(DiscoveryError::Malformed(_))
        ));
        assert!(matches!(
            ProviderMetadata::from_json(b"{\"issuer\":\"x\"}", "x", false),
            Err(DiscoveryError::Malformed(_))
        ));
        let doc = DOC.replace("https://op.example/jwks", "javascript:alert(1)");
        assert_eq!(
            ProviderMetadata::from_json(doc.as_bytes(), "https://op.example", false),
            Err(DiscoveryError::BadEndpoint("jwks_uri"))
        );
    }

    #[test]
    fn pkce_s256_must_be_supported_when_methods_are_listed() {
        let with = |methods: &str| {
            DOC.replace(
                r#""response_types_supported""#,
                &format!(r#""code_challenge_methods_supported":{methods},"response_types_supported""#),
            )
        };
        assert!(
            ProviderMetadata::from_json(with(r#"["plain","S256"]"#).as_bytes(), "https://op.example", false).is_ok()
        );
        assert_eq!(
            ProviderMetadata::from_json(with(r#"["plain"]"#).as_bytes(), "https://op.example", false),
            Err(DiscoveryError::NoPkceS256)
        );
    }

    #[test]
    fn http_endpoints_only_on_loopback() {
        let doc = DOC.replace("https://op.example/token", "http://op.example/token");
        assert_eq!(
            ProviderMetadata::from_json(doc.as_bytes(), "https://op.example", false),
            Err(DiscoveryError::BadEndpoint("token_endpoint"))
        );
        assert!(ProviderMetadata::from_json(doc.as_bytes(), "https://op.example", true).is_ok());
        let local = DOC.replace("https://op.example/token", "http://127.0.0.1:9/token");
        assert!(ProviderMetadata::from_json(local.as_bytes(), "https://op.example", false).is_ok());
    }

    #[test]
    fn discovery_url_strips_slash() {
        assert_eq!(
            discovery_url("https://op.example/"),
            "https://op.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://op.example/t1"),
            "https://op.example/t1/.well-known/openid-configuration"
        );
    }
}
