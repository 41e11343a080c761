//! Provider settings: metadata source, client (static or dynamically registered), client
//! authentication, and the authentication request parameters.

use super::quirks::{self, RequiredClaim};
use super::{err, ConfigError};
use crate::core::crypto::secret::Secret;
use crate::core::http::parse_ascii_url;
use crate::core::oidc::client_auth::{AuthMethod, PrivateKey};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::id_token::ExpectedIssuer;
use crate::core::oidc::issuer::TenantIssuer;
use crate::core::oidc::jwks::Alg;
use crate::core::oidc::par::ParMode;
use crate::core::oidc::response::{ResponseMode, ResponseType};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::rc::Rc;
use url::Url;

/// `providers.<name>` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    #[serde(default)]
    display_name: Option<String>,
    issuer: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    registration: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    client_secret_binding: Option<String>,
    #[serde(default)]
    private_key_binding: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default = "default_scope")]
    scope: String,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    max_age: Option<u64>,
    #[serde(default)]
    acr_values: Option<String>,
    #[serde(default)]
    ui_locales: Option<String>,
    #[serde(default)]
    claims: Option<serde_json::Value>,
    #[serde(default = "default_passthrough")]
    passthrough_params: Vec<String>,
    #[serde(default)]
    auth_params: BTreeMap<String, String>,
    #[serde(default)]
    id_token_signing_algs: Option<Vec<String>>,
    #[serde(default = "yes")]
    fetch_userinfo: bool,
    #[serde(default)]
    required_acr: Option<Vec<String>>,
    #[serde(default = "yes")]
    require_email_verified: bool,
    #[serde(default)]
    allowed_emails: Vec<String>,
    #[serde(default)]
    allowed_email_domains: Vec<String>,
    #[serde(default)]
    response_type: Option<String>,
    #[serde(default)]
    response_mode: Option<String>,
    #[serde(default)]
    pushed_authorization_requests: Option<String>,
    #[serde(default)]
    session_refresh_interval_secs: Option<u64>,
    #[serde(default)]
    backchannel_logout: bool,
    #[serde(default)]
    frontchannel_logout: bool,
    #[serde(default = "super::follow::default_revocation_check")]
    revocation_check_secs: u64,
    #[serde(default)]
    discovery_url: Option<String>,
    #[serde(default)]
    allowed_tenants: Option<Vec<String>>,
    #[serde(default)]
    required_claims: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    groups_claim: Option<serde_json::Value>,
}

/// The secret a lone provider's client secret is read from when it has none of its own.
pub(super) const SHARED_SECRET: &str = "CLIENT_SECRET";

/// The default binding of a provider's client secret: `CLIENT_SECRET_<NAME>`, the name
/// upper-cased with `-` as `_` (`providers.corp-sso` → `CLIENT_SECRET_CORP_SSO`).
pub fn default_secret_binding(provider: &str) -> String {
    let name: String = provider
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() })
        .collect();
    format!("{SHARED_SECRET}_{name}")
}

fn default_scope() -> String {
    "openid email profile".into()
}
fn default_passthrough() -> Vec<String> {
    vec!["login_hint".into(), "domain_hint".into()]
}
fn yes() -> bool {
    true
}

/// Where the provider's metadata comes from.
#[derive(Debug, Clone)]
pub enum MetadataSource {
    /// Fetched from `{issuer}/.well-known/openid-configuration`.
    Discover,
    /// Given in the configuration.
    Static(Box<ProviderMetadata>),
}

/// How the client is known to the provider.
#[derive(Debug, Clone)]
pub enum ClientConfig {
    /// Registered beforehand: a fixed client id.
    Static {
        /// The client id.
        client_id: String,
    },
    /// Registered by edge-oidc itself (Dynamic Client Registration 1.0) on first use, with
    /// these extra registration parameters (client_name, contacts, …).
    Dynamic {
        /// Extra client metadata sent in the registration request.
        registration: serde_json::Map<String, serde_json::Value>,
    },
}

/// One validated provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Key in `providers`; stored in the pending login and the session.
    pub name: String,
    /// Shown to people (chooser, error pages).
    pub display_name: String,
    /// The issuer identifier as configured, compared exactly with `iss`; or a template with
    /// `{tenantid}` (then see `tenant`). Sealed values are bound to this string.
    pub issuer: String,
    /// The issuer template and the allowed tenants, when `issuer` holds `{tenantid}`.
    pub tenant: Option<TenantIssuer>,
    /// Discovery or static metadata.
    pub metadata: MetadataSource,
    /// Where discovered metadata comes from: `discovery_url`, else
    /// `<issuer>/.well-known/openid-configuration`.
    pub discovery_url: String,
    /// Claims that must carry one of the listed values at login (ID token, else UserInfo).
    pub required_claims: Vec<RequiredClaim>,
    /// Static or dynamic client.
    pub client: ClientConfig,
    /// The configured method; `None`: chosen from the provider's supported methods.
    pub auth_method: Option<AuthMethod>,
    /// Client secret (secret-based methods).
    pub client_secret: Option<Secret>,
    /// Private key (`private_key_jwt`).
    pub private_key: Option<Rc<PrivateKey>>,
    /// Space-separated scopes; always contains `openid`.
    pub scope: String,
    /// Authentication request parameters (prompt, max_age, acr_values, ui_locales, claims and
    /// free extras), already as strings.
    pub auth_params: Vec<(String, String)>,
    /// `max_age`: then `auth_time` is required and checked (Core §3.1.3.7 step 13).
    pub max_age: Option<u64>,
    /// Query parameters of the login URL passed through to the provider.
    pub passthrough_params: Vec<String>,
    /// ID token signature algorithms accepted.
    pub allowed_algs: Vec<Alg>,
    /// Whether to call the userinfo endpoint after login when the provider has one.
    pub fetch_userinfo: bool,
    /// The ID token's `acr` must be one of these (empty: no requirement). Checked at login.
    pub required_acr: Vec<String>,
    /// An email counts for allow-lists only when the provider says `email_verified: true`
    /// (`false`: also when it says nothing; never when it says `false`).
    pub require_email_verified: bool,
    /// Where this provider's ID token (or UserInfo) lists the user's groups, for rules'
    /// `groups` (default `groups`; Keycloak: `realm_access.roles`).
    pub groups_claim: super::rules::ClaimPath,
    /// Allow-list of emails for this provider's users (lower-case), on top of the global one.
    pub allowed_emails: Vec<String>,
    /// Allow-list of email domains for this provider's users (lower-case, without `@`).
    pub allowed_email_domains: Vec<String>,
    /// The secret binding the client secret was read from (for messages; never the secret).
    pub client_secret_binding: String,
    /// Whether `http://` endpoints on hosts other than loopback are accepted
    /// (`dangerously_allow_http_providers`).
    pub allow_http: bool,
    /// What the authorization endpoint returns (`response_type`, default `code`).
    pub response_type: ResponseType,
    /// How it reaches the redirect URI (`response_mode`, default: the type's own default).
    pub response_mode: ResponseMode,
    /// When the authorization request is pushed (RFC 9126).
    pub par: ParMode,
    /// Refresh and logout propagation (src/core/config/follow.rs).
    pub follow: super::follow::Follow,
}

/// Parameters edge-oidc sets itself.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "response_mode",
    "request",
    "request_uri",
];

pub(super) fn validate_provider(
    name: String,
    p: RawProvider,
    secret: &dyn Fn(&str) -> Option<String>,
    single: bool,
    allow_http: bool,
) -> Result<ProviderConfig, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(err(
            format!("providers.{name}"),
            "provider names may only hold letters, digits, `-` and `_`",
            "rename it",
        ));
    }
    let tenant = quirks::issuer_template(&key, &p.issuer, p.allowed_tenants.as_deref(), |issuer| {
        check_issuer(&key("issuer"), issuer, allow_http)
    })?;
    let metadata = metadata_source(&key("metadata"), p.metadata.clone(), &p.issuer, allow_http)?;
    let flow = super::response::flow_settings(
        &name,
        p.response_type.as_deref(),
        p.response_mode.as_deref(),
        p.pushed_authorization_requests.as_deref(),
        &metadata,
    )?;
    let discovery_url = quirks::discovery_location(
        &key("discovery_url"),
        p.discovery_url.as_deref(),
        &p.issuer,
        tenant.is_some(),
        p.metadata.is_some(),
        allow_http,
    )?;
    let required_claims = quirks::required_claims(&key("required_claims"), p.required_claims.as_ref())?;
    let client = match (&p.client_id, &p.registration) {
        (Some(id), None) if !id.is_empty() => ClientConfig::Static { client_id: id.clone() },
        (None, Some(reg)) => ClientConfig::Dynamic {
            registration: reg.clone(),
        },
        (Some(_), Some(_)) => {
            return Err(err(
                key("registration"),
                "is set together with client_id",
                "use one of the two",
            ))
        }
        _ => {
            return Err(err(
                key("client_id"),
                "is missing",
                "set the client id registered at the provider, or `registration` for dynamic registration",
            ))
        }
    };
    let (auth_method, client_secret, private_key, client_secret_binding) = credentials(&name, &p, secret, single)?;
    if !p.scope.split(' ').any(|s| s == "openid") {
        return Err(err(
            key("scope"),
            "does not contain `openid`",
            "add `openid` to the scope",
        ));
    }
    let required_acr = match &p.required_acr {
        Some(list) if list.is_empty() || list.iter().any(|v| v.is_empty() || v.contains(' ')) => {
            return Err(err(
                key("required_acr"),
                "must list at least one acr value, without spaces",
                "e.g. [\"urn:corp:mfa\"]",
            ))
        }
        Some(list) => list.clone(),
        None => Vec::new(),
    };
    let auth_params = auth_params(&name, &p, &required_acr)?;
    for param in &p.passthrough_params {
        if RESERVED.contains(&param.as_str()) {
            return Err(err(
                key("passthrough_params"),
                format!("lists `{param}`"),
                format!("remove `{param}`"),
            ));
        }
    }
    let allowed_algs = match &p.id_token_signing_algs {
        None => Alg::DEFAULT_ALLOWED.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                Alg::from_name(n).ok_or_else(|| {
                    err(
                        key("id_token_signing_algs"),
                        format!("`{n}` is not supported"),
                        "use RS256, RS384, RS512, PS256, PS384, PS512, ES256 or EdDSA",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let follow = super::follow::validate(
        &name,
        p.session_refresh_interval_secs,
        p.backchannel_logout,
        p.frontchannel_logout,
        p.revocation_check_secs,
    )?;
    if allowed_algs.is_empty() {
        return Err(err(
            key("id_token_signing_algs"),
            "is empty",
            "list at least one algorithm, e.g. [\"RS256\"]",
        ));
    }
    let groups_claim = match &p.groups_claim {
        None => super::rules::ClaimPath::groups(),
        Some(raw) => super::rules::ClaimPath::parse(raw).map_err(|problem| {
            err(
                key("groups_claim"),
                problem,
                "write a dotted path (\"realm_access.roles\"), a JSON Pointer or a list of keys",
            )
        })?,
    };
    Ok(ProviderConfig {
        groups_claim,
        display_name: p.display_name.clone().unwrap_or_else(|| name.clone()),
        name,
        issuer: p.issuer,
        tenant,
        metadata,
        discovery_url,
        required_claims,
        client,
        auth_method,
        client_secret,
        private_key,
        scope: p.scope,
        auth_params,
        max_age: p.max_age,
        passthrough_params: p.passthrough_params,
        allowed_algs,
        fetch_userinfo: p.fetch_userinfo,
        required_acr,
        require_email_verified: p.require_email_verified,
        allowed_emails: lower_emails(&p.allowed_emails),
        allowed_email_domains: lower_domains(&p.allowed_email_domains),
        client_secret_binding,
        allow_http,
        response_type: flow.response_type,
        response_mode: flow.response_mode,
        par: flow.par,
        follow,
    })
}

impl ProviderConfig {
    /// The issuer an ID token must name (Core §3.1.3.7 step 2).
    pub fn expected_issuer(&self) -> ExpectedIssuer<'_> {
        match &self.tenant {
            Some(template) => ExpectedIssuer::Tenant(template),
            None => ExpectedIssuer::Exact(&self.issuer),
        }
    }

    /// Whether an RFC 9207 `iss` parameter names this provider: exactly its issuer, or for a
    /// template the template with a tenant id in it (the tenant is checked against the ID
    /// token's once that is validated).
    pub fn issuer_matches(&self, iss: &str) -> bool {
        match &self.tenant {
            Some(template) => template.tenant_in(iss).is_some(),
            None => iss == self.issuer,
        }
    }
}

/// Allow-list entries as compared: trimmed, lower-case.
pub(super) fn lower_emails(list: &[String]) -> Vec<String> {
    list.iter().map(|e| e.trim().to_ascii_lowercase()).collect()
}

/// Domain allow-list entries as compared: trimmed, lower-case, without a leading `@`.
pub(super) fn lower_domains(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .collect()
}

/// Whether `url` may be used for a provider: https, or http on a loopback host (local tests
/// and demos), or http anywhere when the operator said so with the loudly named setting.
pub fn provider_url_allowed(url: &Url, allow_http: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => allow_http || is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        None => false,
    }
}

fn check_issuer(key: &str, issuer: &str, allow_http: bool) -> Result<(), ConfigError> {
    let url = parse_ascii_url(issuer).ok_or_else(|| {
        err(
            key,
            "is not an ASCII URL",
            "use the provider's issuer, e.g. https://accounts.example.com (international host names in punycode, xn--…)",
        )
    })?;
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.scheme(), "https" | "http") {
        return Err(err(
            key,
            "must be an https URL without query or fragment",
            "use the provider's issuer identifier",
        ));
    }
    if !provider_url_allowed(&url, allow_http) {
        return Err(err(
            key,
            "is an http:// URL on a host that is not loopback: tokens would cross the network unencrypted",
            "use the provider's https issuer (only for a test provider on a private network: set dangerously_allow_http_providers to true)",
        ));
    }
    Ok(())
}

fn metadata_source(
    key: &str,
    value: Option<serde_json::Value>,
    issuer: &str,
    allow_http: bool,
) -> Result<MetadataSource, ConfigError> {
    let Some(mut value) = value else {
        return Ok(MetadataSource::Discover);
    };
    if let Some(obj) = value.as_object_mut() {
        obj.entry("issuer")
            .or_insert_with(|| serde_json::Value::String(issuer.to_owned()));
    }
    let meta = ProviderMetadata::from_value(value, issuer, allow_http).map_err(|e| {
        err(
            key,
            e.to_string(),
            "give authorization_endpoint, token_endpoint and jwks_uri",
        )
    })?;
    Ok(MetadataSource::Static(Box::new(meta)))
}

type Credentials = (Option<AuthMethod>, Option<Secret>, Option<Rc<PrivateKey>>, String);

/// The method, secret and key. A method that needs a credential which is not configured is
/// an error now rather than at the first login.
fn credentials(
    name: &str,
    p: &RawProvider,
    secret: &dyn Fn(&str) -> Option<String>,
    single: bool,
) -> Result<Credentials, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    let method = match p.token_endpoint_auth_method.as_deref() {
        None | Some("auto") => None,
        Some(m) => Some(AuthMethod::from_name(m).ok_or_else(|| {
            err(
                key("token_endpoint_auth_method"),
                format!("`{m}` is not supported"),
                "use client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none, or auto",
            )
        })?),
    };
    // Each provider's secret has its own name, so no provider is ever sent another's secret;
    // a lone provider may use the plain CLIENT_SECRET.
    let secret_binding = match &p.client_secret_binding {
        Some(binding) => binding.clone(),
        None => {
            let own = default_secret_binding(name);
            if single && secret(&own).is_none() {
                SHARED_SECRET.to_owned()
            } else {
                own
            }
        }
    };
    let key_binding = p
        .private_key_binding
        .clone()
        .unwrap_or_else(|| "CLIENT_PRIVATE_KEY".to_owned());
    let client_secret = secret(&secret_binding).filter(|s| !s.is_empty()).map(Secret::new);
    let private_key = match secret(&key_binding).filter(|s| !s.is_empty()) {
        Some(jwk) => Some(Rc::new(PrivateKey::from_jwk(&jwk).map_err(|e| {
            // `e` is fixed wording that names a JWK member, never its value.
            err(
                key("private_key_binding"),
                format!("the secret `{key_binding}`: {e}"),
                "put a private JWK (RSA or EC P-256) there",
            )
        })?)),
        None => None,
    };
    let needs_secret = matches!(
        method,
        Some(AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt)
    );
    // A dynamically registered client gets its secret from the provider.
    if needs_secret && client_secret.is_none() && p.registration.is_none() {
        // Name the provider's own secret (what the recipes tell operators to store), even for
        // a lone provider whose lookup fell back to CLIENT_SECRET.
        let (wanted, alternative) = match &p.client_secret_binding {
            Some(binding) => (binding.clone(), String::new()),
            None if single => (
                default_secret_binding(name),
                format!(" (a lone provider may use `{SHARED_SECRET}` instead)"),
            ),
            None => (secret_binding.clone(), String::new()),
        };
        return Err(err(
            key("client_secret_binding"),
            format!("the secret `{wanted}` is not set{alternative}"),
            format!(
                "run `wrangler secret put {wanted}` (locally: add it to .dev.vars), or use token_endpoint_auth_method \"none\" for a public client"
            ),
        ));
    }
    if method == Some(AuthMethod::PrivateKeyJwt) && private_key.is_none() {
        return Err(err(
            key("private_key_binding"),
            format!("the secret `{key_binding}` is not set"),
            format!("put a private JWK there: `wrangler secret put {key_binding}`"),
        ));
    }
    Ok((method, client_secret, private_key, secret_binding))
}

fn auth_params(name: &str, p: &RawProvider, required_acr: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    for reserved in RESERVED {
        if p.auth_params.contains_key(*reserved) {
            return Err(err(
                key("auth_params"),
                format!("sets `{reserved}`, which edge-oidc controls"),
                format!("remove `{reserved}`"),
            ));
        }
    }
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(prompt) = &p.prompt {
        if !prompt
            .split(' ')
            .all(|v| matches!(v, "none" | "login" | "consent" | "select_account"))
        {
            return Err(err(
                key("prompt"),
                format!("`{prompt}` is not a prompt value"),
                "use none, login, consent or select_account",
            ));
        }
        params.push(("prompt".into(), prompt.clone()));
    }
    if let Some(max_age) = p.max_age {
        params.push(("max_age".into(), max_age.to_string()));
    }
    // Requesting is not enforcing (a user can edit the authorization URL): `required_acr` is
    // checked on the ID token; without `acr_values` it is also what is requested.
    match (&p.acr_values, required_acr) {
        (Some(acr), _) => params.push(("acr_values".into(), acr.clone())),
        (None, []) => {}
        (None, required) => params.push(("acr_values".into(), required.join(" "))),
    }
    if let Some(locales) = &p.ui_locales {
        params.push(("ui_locales".into(), locales.clone()));
    }
    if let Some(claims) = &p.claims {
        if !claims.is_object() {
            return Err(err(
                key("claims"),
                "is not a JSON object",
                "see OpenID Connect Core §5.5",
            ));
        }
        params.push(("claims".into(), claims.to_string()));
    }
    for (k, v) in &p.auth_params {
        if params.iter().any(|(n, _)| n == k) {
            return Err(err(
                key("auth_params"),
                format!("sets `{k}` twice"),
                format!("set `{k}` only once"),
            ));
        }
        params.push((k.clone(), v.clone()));
    }
    Ok(params)
}
