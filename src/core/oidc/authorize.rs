//! The authentication request (OpenID Connect Core §3.1.2.1) with PKCE (RFC 7636). What the
//! callback needs to finish the login is in `session::pending`.

use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::b64url;
use crate::core::oidc::discovery::ProviderMetadata;
use sha2::{Digest, Sha256};
use url::{form_urlencoded, Url};

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
    /// The URL to send the browser to, carrying every parameter.
    pub fn url(&self) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(&self.metadata.authorization_endpoint)?;
        self.append(&mut url.query_pairs_mut(), true);
        Ok(url)
    }

    /// The URL to send the browser to after the parameters were pushed (RFC 9126 §4): only
    /// `client_id` and the `request_uri` the provider gave for them.
    pub fn pushed_url(&self, request_uri: &str) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(&self.metadata.authorization_endpoint)?;
        url.query_pairs_mut()
            .append_pair("client_id", self.client_id)
            .append_pair("request_uri", request_uri);
        Ok(url)
    }

    /// Appends the authentication request's parameters (`client_id` only when asked: a pushed
    /// request may carry it through client authentication instead).
    pub fn append<T: form_urlencoded::Target>(&self, q: &mut form_urlencoded::Serializer<'_, T>, client_id: bool) {
        let response_type = self.provider.response_type;
        q.append_pair("response_type", response_type.as_str());
        if client_id {
            q.append_pair("client_id", self.client_id);
        }
        q.append_pair("redirect_uri", self.redirect_uri)
            .append_pair("scope", &self.provider.scope)
            .append_pair("state", self.state)
            // Core §3.2.2.1 / §3.3.2.11: a nonce is required for every type that returns an ID
            // token from the authorization endpoint; edge-oidc always sends one.
            .append_pair("nonce", self.nonce);
        // PKCE wherever a code is returned (RFC 7636; RFC 9700 §2.1.1).
        if response_type.code() {
            q.append_pair("code_challenge", &pkce_challenge(self.pkce_verifier))
                .append_pair("code_challenge_method", "S256");
        }
        // Sent only when it is not what the response type defaults to, so a provider that does
        // not know the parameter never sees it for the plain code flow.
        if self.provider.response_mode != response_type.default_mode() {
            q.append_pair("response_mode", self.provider.response_mode.as_str());
        }
        for (k, v) in self.provider.auth_params.iter().chain(self.passthrough) {
            if self.silent.is_none() || !matches!(k.as_str(), "prompt" | "id_token_hint") {
                q.append_pair(k, v);
            }
        }
        // A silent refresh: prompt=none replaces the configured prompt, with the hint.
        if let Some(hint) = self.silent {
            q.append_pair("prompt", "none");
            if let Some(hint) = hint {
                q.append_pair("id_token_hint", hint);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::config::{ClientConfig, MetadataSource};
    use crate::core::oidc::par::ParMode;
    use crate::core::oidc::response::{ResponseMode, ResponseType};

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    /// The metadata of the unit tests' provider (its authorization endpoint has a query).
    pub(crate) fn metadata() -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://op.example".into(),
            authorization_endpoint: "https://op.example/auth?tenant=1".into(),
            token_endpoint: "https://op.example/token".into(),
            jwks_uri: "https://op.example/jwks".into(),
            ..ProviderMetadata::default()
        }
    }

    /// The unit tests' provider, with `response_type` and `response_mode`.
    pub(crate) fn provider(response_type: ResponseType, response_mode: ResponseMode) -> ProviderConfig {
        ProviderConfig {
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
            groups_claim: crate::core::config::ClaimPath::groups(),
            allowed_emails: vec![],
            allowed_email_domains: vec![],
            client_secret_binding: "CLIENT_SECRET".into(),
            allow_http: false,
            response_type,
            response_mode,
            par: ParMode::Auto,
            follow: Default::default(),
        }
    }

    pub(crate) const HINT: [(&str, &str); 1] = [("login_hint", "bob")];

    /// The request of the unit tests (state `s1`, nonce `n1`, RFC 7636's verifier).
    pub(crate) fn request<'a>(
        provider: &'a ProviderConfig,
        metadata: &'a ProviderMetadata,
        hint: &'a [(String, String)],
    ) -> AuthorizationRequest<'a> {
        AuthorizationRequest {
            provider,
            metadata,
            client_id: "client 1",
            redirect_uri: "https://rp.example/redirect_uri",
            state: "s1",
            nonce: "n1",
            pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            passthrough: hint,
            silent: None,
        }
    }

    fn pairs(url: &Url) -> Vec<(String, String)> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn builds_the_request() {
        let (provider, metadata) = (provider(ResponseType::Code, ResponseMode::Query), metadata());
        let hint: Vec<(String, String)> = HINT.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let pairs = pairs(&request(&provider, &metadata, &hint).url().unwrap());
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
        assert_eq!(get("response_mode"), None, "the code flow's default is not sent");
    }

    /// PKCE only where a code comes back; `response_mode` only when it is not the default;
    /// the nonce always.
    #[test]
    fn implicit_and_hybrid_requests() {
        let metadata = metadata();
        let cases = [
            (ResponseType::IdToken, ResponseMode::Fragment, "id_token", false, None),
            (
                ResponseType::IdTokenToken,
                ResponseMode::FormPost,
                "id_token token",
                false,
                Some("form_post"),
            ),
            (
                ResponseType::CodeIdToken,
                ResponseMode::FormPost,
                "code id_token",
                true,
                Some("form_post"),
            ),
            (
                ResponseType::CodeToken,
                ResponseMode::Fragment,
                "code token",
                true,
                None,
            ),
            (
                ResponseType::Code,
                ResponseMode::FormPost,
                "code",
                true,
                Some("form_post"),
            ),
            (
                ResponseType::Code,
                ResponseMode::Fragment,
                "code",
                true,
                Some("fragment"),
            ),
        ];
        for (rt, mode, sent, pkce, sent_mode) in cases {
            let provider = provider(rt, mode);
            let pairs = pairs(&request(&provider, &metadata, &[]).url().unwrap());
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            assert_eq!(get("response_type"), Some(sent));
            assert_eq!(get("code_challenge").is_some(), pkce, "{sent}");
            assert_eq!(get("code_challenge_method").is_some(), pkce, "{sent}");
            assert_eq!(get("response_mode"), sent_mode, "{sent}");
            assert_eq!(get("nonce"), Some("n1"));
        }
    }

    #[test]
    fn a_pushed_request_leaves_only_client_id_and_request_uri_in_the_url() {
        let (provider, metadata) = (provider(ResponseType::CodeIdToken, ResponseMode::FormPost), metadata());
        let url = request(&provider, &metadata, &[])
            .pushed_url("urn:ietf:params:oauth:request_uri:abc")
            .unwrap();
        assert_eq!(
            pairs(&url),
            [
                ("tenant".into(), "1".into()),
                ("client_id".into(), "client 1".into()),
                ("request_uri".into(), "urn:ietf:params:oauth:request_uri:abc".into())
            ]
        );
    }

    #[test]
    fn a_silent_refresh_asks_prompt_none_with_the_hint() {
        let (provider, metadata) = (provider(ResponseType::Code, ResponseMode::Query), metadata());
        let hint: Vec<(String, String)> = HINT.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        // A silent refresh: prompt=none replaces the configured prompt, with the hint.
        let silent = AuthorizationRequest {
            silent: Some(Some("h.i.nt")),
            passthrough: &[],
            ..request(&provider, &metadata, &hint)
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
