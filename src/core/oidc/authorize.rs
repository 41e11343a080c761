//! The authentication request (OpenID Connect Core §3.1.2.1) with PKCE (RFC 7636). What the
//! callback needs to finish the login is in `session::pending`.

use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::b64url;
use crate::core::oidc::discovery::ProviderMetadata;
use sha2::{Digest, Sha256};
use url::Url;

/// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2, method S256).
pub fn pkce_challenge(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

/// Per-request values of an authentication request.
#[derive(Debug)]
pub struct AuthorizationRequest<'a> {
    /// The provider's configuration.
    pub provider: &'a ProviderConfig,
    /// The provider's metadata.
    pub metadata: &'a ProviderMetadata,
    /// The client id (static or dynamically registered).
    pub client_id: &'a str,
    /// Absolute redirect URI of this worker.
    pub redirect_uri: &'a str,
    /// Opaque `state` (it names the pending-login cookie).
    pub state: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// PKCE verifier; the request carries its S256 challenge.
    pub pkce_verifier: &'a str,
    /// Extra parameters passed through from the login URL (e.g. `login_hint`).
    pub passthrough: &'a [(String, String)],
    /// A silent authentication request refreshing a session (Core §3.1.2.1 `prompt=none`,
    /// replacing any configured `prompt`), with the session's ID token as `id_token_hint`
    /// when it is known.
    pub silent: Option<Option<&'a str>>,
}

impl AuthorizationRequest<'_> {
    /// The URL to send the browser to.
    pub fn url(&self) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(&self.metadata.authorization_endpoint)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", &self.provider.scope)
                .append_pair("state", self.state)
                .append_pair("nonce", self.nonce)
                .append_pair("code_challenge", &pkce_challenge(self.pkce_verifier))
                .append_pair("code_challenge_method", "S256");
            for (k, v) in self.provider.auth_params.iter().chain(self.passthrough) {
                if self.silent.is_none() || !matches!(k.as_str(), "prompt" | "id_token_hint") {
                    q.append_pair(k, v);
                }
            }
            if let Some(hint) = self.silent {
                q.append_pair("prompt", "none");
                if let Some(hint) = hint {
                    q.append_pair("id_token_hint", hint);
                }
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{ClientConfig, MetadataSource};

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn builds_the_request() {
        let metadata = ProviderMetadata {
            issuer: "https://op.example".into(),
            authorization_endpoint: "https://op.example/auth?tenant=1".into(),
            token_endpoint: "https://op.example/token".into(),
            jwks_uri: "https://op.example/jwks".into(),
            userinfo_endpoint: None,
            end_session_endpoint: None,
            registration_endpoint: None,
            authorization_response_iss_parameter_supported: false,
            token_endpoint_auth_methods_supported: None,
            code_challenge_methods_supported: None,
        };
        let provider = ProviderConfig {
            name: "op".into(),
            display_name: "OP".into(),
            issuer: "https://op.example".into(),
            tenant: None,
            metadata: MetadataSource::Discover,
            discovery_url: "https://op.example/.well-known/openid-configuration".into(),
            required_claims: vec![],
            client: ClientConfig::Static {
                client_id: "client 1".into(),
            },
            auth_method: None,
            client_secret: None,
            private_key: None,
            scope: "openid email".into(),
            auth_params: vec![("prompt".into(), "login".into())],
            max_age: None,
            passthrough_params: vec![],
            allowed_algs: vec![],
            fetch_userinfo: true,
            required_acr: vec![],
            require_email_verified: true,
            allowed_emails: vec![],
            allowed_email_domains: vec![],
            client_secret_binding: "CLIENT_SECRET".into(),
            allow_http: false,
            follow: Default::default(),
        };
        let hint = [("login_hint".to_owned(), "bob".to_owned())];
        let req = AuthorizationRequest {
            provider: &provider,
            metadata: &metadata,
            client_id: "client 1",
            redirect_uri: "https://rp.example/redirect_uri",
            state: "s1",
            nonce: "n1",
            pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            passthrough: &hint,
            silent: None,
        };
        let url = req.url().unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("tenant"), Some("1"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("client 1"));
        assert_eq!(get("redirect_uri"), Some("https://rp.example/redirect_uri"));
        assert_eq!(get("scope"), Some("openid email"));
        assert_eq!(get("state"), Some("s1"));
        assert_eq!(get("nonce"), Some("n1"));
        assert_eq!(
            get("code_challenge"),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("prompt"), Some("login"));
        assert_eq!(get("login_hint"), Some("bob"));
        // A silent refresh: prompt=none replaces the configured prompt, with the hint.
        let silent = AuthorizationRequest {
            silent: Some(Some("h.i.nt")),
            passthrough: &[],
            ..req
        };
        let url = silent.url().unwrap();
        let prompts: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(prompts, ["none"]);
        assert_eq!(query(&url, "id_token_hint").as_deref(), Some("h.i.nt"));
    }

    fn query(url: &Url, name: &str) -> Option<String> {
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}
