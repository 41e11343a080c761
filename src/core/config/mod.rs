//! Configuration: the JSON object in the `EDGE_OIDC_CONFIG` var plus secrets, validated once
//! per isolate into a [`Config`] with no `Option` for required values.
//!
//! Every error names the key and the fix, because it is shown on every request until fixed.

use crate::core::http::parse_ascii_url;
use crate::core::session::seal::{parse_key_list, Sealer};
use crate::core::site::path::{CanonicalPath, PathPattern};
pub mod bearer;
use crate::core::site::rules::{ProjectionSpec, RuleRequest};
mod domain;
mod follow;
pub mod identity;
mod ops;
mod pages;
mod provider;
mod quirks;
mod response;
mod rules;

pub use domain::host_under;
pub use follow::Follow;
pub use pages::{PageKind, PageSource, Pages};
pub use provider::{default_secret_binding, provider_url_allowed, ClientConfig, MetadataSource, ProviderConfig};
use provider::{validate_provider, RawProvider};
pub use quirks::RequiredClaim;
pub use response::check_provider;
pub use rules::{ClaimPath, ClaimRule, Requirements, Rule, RuleAction, RulePath};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use url::Url;

/// A configuration problem: which key, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `providers.main.client_id`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration key `{}`: {}. Fix: {}",
            self.key, self.problem, self.fix
        )
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The name of the var holding the JSON configuration.
pub const CONFIG_VAR: &str = "EDGE_OIDC_CONFIG";
/// The name of the secret holding the cookie keys.
pub const COOKIE_KEYS_SECRET: &str = "COOKIE_KEYS";

/// `EDGE_OIDC_CONFIG` as written (see README "Configuration reference").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    providers: BTreeMap<String, RawProvider>,
    #[serde(default = "default_redirect_path")]
    redirect_path: String,
    #[serde(default = "default_logout_path")]
    logout_path: String,
    #[serde(default = "default_login_path")]
    login_path: String,
    #[serde(default = "default_logged_out_path")]
    logged_out_path: String,
    #[serde(default)]
    post_logout_redirect_uri: Option<String>,
    #[serde(default)]
    session: RawSession,
    #[serde(default)]
    public_paths: Vec<String>,
    #[serde(default)]
    allowed_emails: Vec<String>,
    #[serde(default)]
    allowed_email_domains: Vec<String>,
    #[serde(default)]
    identity_headers: RawIdentityHeaders,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default = "default_timeout")]
    http_timeout_ms: u64,
    #[serde(default = "default_state_ttl")]
    login_timeout_secs: u64,
    #[serde(default = "default_leeway")]
    clock_leeway_secs: i64,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    rules: Vec<serde_json::Value>,
    #[serde(default)]
    session_endpoint_path: Option<String>,
    #[serde(default)]
    pages: pages::RawPages,
    #[serde(default = "default_jwks_path")]
    jwks_path: String,
    #[serde(default)]
    public_origin: Option<String>,
    #[serde(default)]
    dangerously_allow_http_providers: bool,
    #[serde(default = "default_backchannel_path")]
    backchannel_logout_path: String,
    #[serde(default = "default_frontchannel_path")]
    frontchannel_logout_path: String,
    #[serde(default)]
    log_level: Option<String>,
    #[serde(default)]
    metrics_binding: Option<String>,
    #[serde(default)]
    assertion: Option<identity::RawAssertion>,
    #[serde(default)]
    forward: identity::RawForward,
    #[serde(default)]
    bearer: Option<bearer::RawBearer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path_prefix: String,
    providers: Vec<String>,
}

fn default_jwks_path() -> String {
    "/.well-known/jwks.json".into()
}
fn default_backchannel_path() -> String {
    "/backchannel-logout".into()
}
fn default_frontchannel_path() -> String {
    "/frontchannel-logout".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    #[serde(default = "default_lifetime")]
    lifetime_secs: u64,
    #[serde(default = "yes")]
    permanent: bool,
    #[serde(default = "default_cookie_name")]
    cookie_name: String,
    #[serde(default = "yes")]
    host_prefix: bool,
    #[serde(default)]
    idle_timeout_secs: Option<u64>,
    #[serde(default)]
    cookie_domain: Option<String>,
}

impl Default for RawSession {
    fn default() -> Self {
        RawSession {
            lifetime_secs: default_lifetime(),
            permanent: true,
            cookie_name: default_cookie_name(),
            host_prefix: true,
            idle_timeout_secs: None,
            cookie_domain: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentityHeaders {
    #[serde(default = "default_subject_header")]
    subject: String,
    #[serde(default = "default_email_header")]
    email: String,
    #[serde(default = "default_name_header")]
    name: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    acr: Option<String>,
}

impl Default for RawIdentityHeaders {
    fn default() -> Self {
        RawIdentityHeaders {
            subject: default_subject_header(),
            email: default_email_header(),
            name: default_name_header(),
            provider: None,
            acr: None,
        }
    }
}

fn default_redirect_path() -> String {
    "/redirect_uri".into()
}
fn default_logout_path() -> String {
    "/logout".into()
}
fn default_login_path() -> String {
    "/login".into()
}
fn default_logged_out_path() -> String {
    "/logged-out".into()
}
fn default_cookie_name() -> String {
    "edge_oidc".into()
}
fn default_subject_header() -> String {
    "X-Auth-Subject".into()
}
fn default_email_header() -> String {
    "X-Auth-Email".into()
}
fn default_name_header() -> String {
    "X-Auth-Name".into()
}
fn default_lifetime() -> u64 {
    8 * 3600
}
fn default_timeout() -> u64 {
    5000
}
fn default_state_ttl() -> u64 {
    600
}
fn default_leeway() -> i64 {
    60
}
fn yes() -> bool {
    true
}

/// Session cookie settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Session lifetime, enforced on every request.
    pub lifetime_secs: u64,
    /// `true`: the cookie has Max-Age = lifetime; `false`: a browser-session cookie.
    pub permanent: bool,
    /// Cookie name as configured (see [`SessionConfig::cookie_base`] for the name used).
    pub cookie_name: String,
    /// Prefix the name with `__Host-` on https (Secure, Path=/, no Domain, enforced by browsers);
    /// `__Secure-` with a `cookie_domain`.
    pub host_prefix: bool,
    /// A session unused this long ends; `None`: no idle timeout (the default).
    pub idle_timeout_secs: Option<u64>,
    /// Share the session with every host under this domain (`Domain=` on the cookies).
    pub cookie_domain: Option<String>,
}

impl SessionConfig {
    /// The session cookie's name for a request over `https` or not: `__Host-<name>` on https
    /// when `host_prefix` is on (browsers refuse `__Host-` cookies without Secure, so plain http,
    /// used only locally, gets the bare name). Chunks are `<base>.0`, `<base>.1`, …; pending
    /// logins `<base>_s.<id>`.
    pub fn cookie_base(&self, https: bool) -> String {
        if https && self.host_prefix && self.cookie_domain.is_some() {
            // Browsers refuse `__Host-` with a Domain; `__Secure-` still requires Secure.
            format!("__Secure-{}", self.cookie_name)
        } else if https && self.host_prefix {
            format!("__Host-{}", self.cookie_name)
        } else {
            self.cookie_name.clone()
        }
    }
}

/// Names of the identity headers sent to the origin.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// Subject (`sub`).
    pub subject: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Provider name, when configured.
    pub provider: Option<String>,
    /// Authentication context class (`acr` claim), when configured.
    pub acr: Option<String>,
}

impl IdentityHeaders {
    /// All configured header names (lower-case), to strip client-sent copies.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [
            Some(&self.subject),
            Some(&self.email),
            Some(&self.name),
            self.provider.as_ref(),
            self.acr.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// At least one provider, in name order.
    pub providers: Vec<ProviderConfig>,
    /// Path of the authorization callback (`redirect_uri`).
    pub redirect_path: String,
    /// Path that logs out.
    pub logout_path: String,
    /// Path that starts a login (`?return_to=` a same-origin path).
    pub login_path: String,
    /// Path of the built-in logged-out page.
    pub logged_out_path: String,
    /// Where the provider sends the browser after logout: a path or a same-origin URL.
    pub post_logout_redirect_uri: String,
    /// Session cookie settings.
    pub session: SessionConfig,
    /// Paths served without login (canonical; see [`PathPattern::covers_as_written`]).
    pub public_paths: Vec<PathPattern>,
    /// Allowed email addresses (lower-case); empty with no domains = everyone.
    pub allowed_emails: Vec<String>,
    /// Allowed email domains (lower-case, without `@`).
    pub allowed_email_domains: Vec<String>,
    /// Identity header names.
    pub identity_headers: IdentityHeaders,
    /// Origin to forward to; `None`: the static assets binding or the request's own URL.
    pub origin: Option<Url>,
    /// Timeout for every request to a provider.
    pub http_timeout_ms: u64,
    /// How long a pending login stays valid (KV TTL; at least 60).
    pub login_timeout_secs: u64,
    /// Clock skew tolerated for `exp`, `iat`, `nbf`.
    pub clock_leeway_secs: i64,
    /// Seals and opens cookies.
    pub sealer: Sealer,
    /// Which providers protect which path prefixes (first match wins; default: all), as
    /// configured; the gate uses their translation in `rules`.
    pub routes: Vec<Route>,
    /// The request rules (first match decides; src/core/site/rules.rs): `rules` as configured,
    /// or the translation of `public_paths` and `routes`.
    pub rules: Vec<Rule>,
    /// What the identity cookie carries for the rules (see [`Config::projection`]).
    pub projection: ProjectionSpec,
    /// Where a signed-in page's scripts read the session as JSON (`None`: off).
    pub session_endpoint_path: Option<String>,
    /// Operator templates for edge-oidc's own pages.
    pub pages: pages::Pages,
    /// Where the worker publishes its public keys (for `private_key_jwt`).
    pub jwks_path: String,
    /// Where providers POST Back-Channel Logout tokens (when one has `backchannel_logout`).
    pub backchannel_logout_path: String,
    /// Where providers' logout pages send Front-Channel Logout requests (when one has
    /// `frontchannel_logout`).
    pub frontchannel_logout_path: String,
    /// The one origin (`https://host[:port]`, no trailing slash) this deployment answers on:
    /// the redirect URI and every sealed value are bound to it, and requests for other hosts
    /// are redirected (GET/HEAD) or refused before any login work. `None`: the request's origin.
    pub public_origin: Option<String>,
    /// Which events are logged (src/core/log.rs).
    pub log_level: crate::core::log::LogLevel,
    /// The Analytics Engine dataset binding events are counted in, if any.
    pub metrics_binding: Option<String>,
    /// The signed identity assertion, if configured.
    pub assertion: Option<identity::AssertionConfig>,
    /// Tokens and claims passed to the origin.
    pub forward: identity::ForwardConfig,
    /// Bearer-token APIs, if configured.
    pub bearer: Option<bearer::BearerConfig>,
}

/// Providers allowed under a path prefix.
#[derive(Debug, Clone)]
pub struct Route {
    /// Path prefix (canonical; see [`PathPattern::covers_any_spelling`]).
    pub path_prefix: PathPattern,
    /// Provider names, in the order the chooser lists them.
    pub providers: Vec<String>,
}

impl Config {
    /// Parses and validates the JSON configuration. `secret(name)` reads a secret binding
    /// (`wrangler secret put NAME`, or `.dev.vars` locally).
    pub fn from_json(json: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|e| {
            err(
                CONFIG_VAR,
                format!("is not valid configuration JSON ({e})"),
                "compare it with the configuration reference in README.md",
            )
        })?;
        Self::validate(raw, secret)
    }

    fn validate(raw: RawConfig, secret: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        if raw.providers.is_empty() {
            return Err(err("providers", "is empty", "configure at least one provider"));
        }
        let single = raw.providers.len() == 1;
        let allow_http = raw.dangerously_allow_http_providers;
        let providers = raw
            .providers
            .into_iter()
            .map(|(name, p)| validate_provider(name, p, secret, single, allow_http))
            .collect::<Result<Vec<_>, _>>()?;
        check_shared_secret(&providers, secret)?;
        let public_origin = raw.public_origin.as_deref().map(validate_public_origin).transpose()?;
        if public_origin.is_none() {
            if let Some(p) = providers
                .iter()
                .find(|p| matches!(p.client, ClientConfig::Dynamic { .. }))
            {
                return Err(err(
                    "public_origin",
                    format!("is required because providers.{} uses dynamic registration", p.name),
                    "set it to the site's origin, e.g. \"https://docs.example.com\" (the registered redirect URI is built from it)",
                ));
            }
        }
        // Our own paths are matched exactly against the canonical request path, so they are kept
        // in canonical form too.
        let redirect_path = canonical_path("redirect_path", &raw.redirect_path)?;
        let logout_path = canonical_path("logout_path", &raw.logout_path)?;
        let login_path = canonical_path("login_path", &raw.login_path)?;
        let logged_out_path = canonical_path("logged_out_path", &raw.logged_out_path)?;
        let jwks_path = canonical_path("jwks_path", &raw.jwks_path)?;
        let backchannel_logout_path = canonical_path("backchannel_logout_path", &raw.backchannel_logout_path)?;
        let frontchannel_logout_path = canonical_path("frontchannel_logout_path", &raw.frontchannel_logout_path)?;
        let public_paths = raw
            .public_paths
            .iter()
            .enumerate()
            .map(|(i, p)| path_pattern(&format!("public_paths[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;
        let routes = validate_routes(&raw.routes, &providers)?;
        let rules = if raw.rules.is_empty() {
            rules::from_legacy(&public_paths, &routes)
        } else if !public_paths.is_empty() || !routes.is_empty() {
            return Err(err(
                "rules",
                "is set together with `public_paths` or `routes`",
                "move them into `rules` (a public path is {\"path_prefix\": \"/x/\", \"action\": \"public\"}; a route is {\"path_prefix\": …, \"action\": \"authenticated\", \"providers\": […]})",
            ));
        } else {
            rules::validate(&raw.rules, &providers)?
        };
        let projection = ProjectionSpec::of(&rules);
        let session_endpoint_path = raw
            .session_endpoint_path
            .as_deref()
            .map(|p| canonical_path("session_endpoint_path", p))
            .transpose()?;
        let pages = pages::validate(raw.pages)?;
        let post_logout_redirect_uri = raw.post_logout_redirect_uri.unwrap_or_else(|| logged_out_path.clone());
        check_post_logout(&post_logout_redirect_uri)?;
        let mut raw_session = raw.session;
        let cookie_domain = domain::validate_cookie_domain(raw_session.cookie_domain.take(), public_origin.as_deref())?;
        let session = SessionConfig {
            cookie_domain,
            ..validate_session(raw_session)?
        };
        let identity_headers = validate_identity_headers(raw.identity_headers)?;
        let origin = raw.origin.as_deref().map(validate_origin).transpose()?;
        if !(100..=60_000).contains(&raw.http_timeout_ms) {
            return Err(err("http_timeout_ms", "must be between 100 and 60000", "use e.g. 5000"));
        }
        if !(60..=3600).contains(&raw.login_timeout_secs) {
            return Err(err(
                "login_timeout_secs",
                "must be between 60 (the KV minimum TTL) and 3600",
                "use e.g. 600",
            ));
        }
        if !(0..=600).contains(&raw.clock_leeway_secs) {
            return Err(err("clock_leeway_secs", "must be between 0 and 600", "use e.g. 60"));
        }
        let keys = secret(COOKIE_KEYS_SECRET).unwrap_or_default();
        let keys = parse_key_list(&keys).map_err(|e| {
            err(
                COOKIE_KEYS_SECRET,
                format!("secret is missing or invalid ({e})"),
                "run `openssl rand -base64 32 | wrangler secret put COOKIE_KEYS` (several keys: comma-separated, newest first)",
            )
        })?;
        let log_level = ops::validate_log_level(raw.log_level.as_deref())?;
        let metrics_binding = ops::validate_metrics_binding(raw.metrics_binding)?;
        let assertion = identity::validate_assertion(raw.assertion, secret)?;
        let forward = identity::validate_forward(raw.forward)?;
        let mut projection = projection;
        identity::project_copied(&mut projection, assertion.as_ref(), &forward)?;
        let bearer = bearer::validate_bearer(raw.bearer, &providers)?;
        let sealer = Sealer::new(keys).map_err(|e| err(COOKIE_KEYS_SECRET, e.to_string(), "set at least one key"))?;
        Ok(Config {
            providers,
            redirect_path,
            logout_path,
            login_path,
            logged_out_path,
            post_logout_redirect_uri,
            session,
            public_paths,
            allowed_emails: provider::lower_emails(&raw.allowed_emails),
            allowed_email_domains: provider::lower_domains(&raw.allowed_email_domains),
            identity_headers,
            origin,
            http_timeout_ms: raw.http_timeout_ms,
            login_timeout_secs: raw.login_timeout_secs,
            clock_leeway_secs: raw.clock_leeway_secs,
            sealer,
            routes,
            rules,
            projection,
            session_endpoint_path,
            pages,
            jwks_path,
            backchannel_logout_path,
            frontchannel_logout_path,
            public_origin,
            log_level,
            metrics_binding,
            assertion,
            forward,
            bearer,
        })
    }

    /// The providers that may log a visitor in for a `GET` of `path` on `host`: those the
    /// deciding rules accept (src/core/site/rules.rs), all without a rule. Rules are read both
    /// ways (as written and in any spelling) and both must accept.
    pub fn providers_for(&self, host: &str, path: &CanonicalPath) -> Vec<&ProviderConfig> {
        let request = RuleRequest {
            host,
            method: "GET",
            preflight: None,
            path,
        };
        let selection = crate::core::site::rules::select(&self.rules, &request);
        crate::core::site::rules::login_providers(&self.rules, selection, &self.providers)
    }

    /// The claims to seal into the identity cookie of a session at `provider`, from its ID
    /// token's claims and UserInfo: what the configured rules can test, and nothing else (see
    /// [`crate::core::site::rules::project`]). Used at login and at every refresh, so that one
    /// function says what a session carries.
    pub fn projection(
        &self,
        provider: &ProviderConfig,
        id_token: &crate::core::oidc::id_token::IdTokenClaims,
        userinfo: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> BTreeMap<String, Vec<String>> {
        if self.projection.is_empty() {
            return BTreeMap::new();
        }
        // The claims rules may name: the token's other claims as sent, and the profile ones it
        // parsed (built by hand: no JSON serializer for the claims type in the worker).
        let mut claims = id_token.extra.clone();
        let named = [
            ("sub", Some(&id_token.sub)),
            ("email", id_token.email.as_ref()),
            ("name", id_token.name.as_ref()),
            ("preferred_username", id_token.preferred_username.as_ref()),
            ("acr", id_token.acr.as_ref()),
            ("sid", id_token.sid.as_ref()),
        ];
        for (name, value) in named {
            if let Some(v) = value {
                claims.insert(name.to_owned(), serde_json::Value::String(v.clone()));
            }
        }
        if let Some(amr) = &id_token.amr {
            claims.insert("amr".to_owned(), serde_json::Value::from(amr.clone()));
        }
        let id_token = claims;
        crate::core::site::rules::project(&self.projection, &provider.groups_claim, &id_token, userinfo)
    }

    /// Whether any provider sends Back-Channel Logout tokens (then `backchannel_logout_path` is
    /// edge-oidc's).
    pub fn backchannel_enabled(&self) -> bool {
        self.providers.iter().any(|p| p.follow.backchannel_logout)
    }

    /// Whether any provider sends Front-Channel Logout requests (then `frontchannel_logout_path`
    /// is edge-oidc's).
    pub fn frontchannel_enabled(&self) -> bool {
        self.providers.iter().any(|p| p.follow.frontchannel_logout)
    }

    /// Whether any provider signs client assertions with a private key (then the public
    /// JWKS is served at `jwks_path`).
    pub fn publishes_jwks(&self) -> bool {
        self.providers.iter().any(|p| p.private_key.is_some())
    }

    /// The provider with this name.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Whether a `GET` of `path` on `host` is served without login (the deciding rules are
    /// `public`). Public paths are read narrowly (case and escapes as written): a path spelled
    /// otherwise needs a login.
    pub fn is_public(&self, host: &str, path: &CanonicalPath) -> bool {
        let request = RuleRequest {
            host,
            method: "GET",
            preflight: None,
            path,
        };
        let selection = crate::core::site::rules::select(&self.rules, &request);
        path.as_str() == self.logged_out_path
            || crate::core::site::rules::judge(&self.rules, selection, false, None)
                == crate::core::site::rules::Verdict::Open
    }
}

fn validate_routes(raw: &[RawRoute], providers: &[ProviderConfig]) -> Result<Vec<Route>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let path_prefix = path_pattern(&format!("routes[{i}].path_prefix"), &r.path_prefix)?;
            if r.providers.is_empty() {
                return Err(err(
                    format!("routes[{i}].providers"),
                    "is empty",
                    "list at least one provider name",
                ));
            }
            if let Some(unknown) = r.providers.iter().find(|n| !providers.iter().any(|p| &p.name == *n)) {
                return Err(err(
                    format!("routes[{i}].providers"),
                    format!("names `{unknown}`, which is not in `providers`"),
                    "use a name from `providers`",
                ));
            }
            Ok(Route {
                path_prefix,
                providers: r.providers.clone(),
            })
        })
        .collect()
}

fn check_path(key: &str, path: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') || path.starts_with("//") || path.contains(['?', '#', '\\']) {
        return Err(err(
            key,
            format!("`{path}` is not an absolute path"),
            "use a path such as `/redirect_uri`",
        ));
    }
    Ok(())
}

/// A configured path in canonical form (src/core/site/path.rs), so that any spelling of it
/// means the same requests.
fn path_pattern(key: &str, path: &str) -> Result<PathPattern, ConfigError> {
    check_path(key, path)?;
    PathPattern::parse(path).map_err(|e| {
        err(
            key,
            format!("`{path}` is not accepted: {e}"),
            "write the path as requests spell it, without `.`, `..`, `;`, `\\` or `%2F`",
        )
    })
}

fn canonical_path(key: &str, path: &str) -> Result<String, ConfigError> {
    path_pattern(key, path).map(|p| p.as_str().to_owned())
}

fn check_post_logout(value: &str) -> Result<(), ConfigError> {
    const KEY: &str = "post_logout_redirect_uri";
    if value.starts_with('/') {
        return check_path(KEY, value);
    }
    match parse_ascii_url(value) {
        Some(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        _ => Err(err(
            KEY,
            format!("`{value}` is neither a path nor an http(s) URL"),
            "use a path such as `/logged-out`",
        )),
    }
}

/// With several providers, a `CLIENT_SECRET` that no provider names would go to whichever
/// provider fell back to it: refuse it and say how to name each provider's secret.
fn check_shared_secret(
    providers: &[ProviderConfig],
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if providers.len() < 2 || secret(provider::SHARED_SECRET).is_none() {
        return Ok(());
    }
    if providers
        .iter()
        .any(|p| p.client_secret_binding == provider::SHARED_SECRET)
    {
        return Ok(());
    }
    Err(err(
        provider::SHARED_SECRET,
        "is set, but with several providers each one's secret has its own name",
        "store each provider's secret as CLIENT_SECRET_<NAME> (e.g. CLIENT_SECRET_CORP for providers.corp) or set client_secret_binding, then `wrangler secret delete CLIENT_SECRET`",
    ))
}

fn validate_public_origin(o: &str) -> Result<String, ConfigError> {
    match parse_ascii_url(o) {
        Some(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(u.origin().ascii_serialization())
        }
        _ => Err(err(
            "public_origin",
            format!("`{o}` is not an origin"),
            "use scheme and host only, e.g. https://docs.example.com",
        )),
    }
}

fn validate_session(s: RawSession) -> Result<SessionConfig, ConfigError> {
    if !(60..=400 * 86400).contains(&s.lifetime_secs) {
        return Err(err(
            "session.lifetime_secs",
            "must be between 60 and 34560000 (400 days)",
            "use e.g. 28800 (8 hours)",
        ));
    }
    if s.cookie_name.is_empty()
        || !s
            .cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(err(
            "session.cookie_name",
            "may only hold letters, digits, `_` and `-`",
            "use e.g. edge_oidc",
        ));
    }
    if s.cookie_name.starts_with("__") {
        return Err(err(
            "session.cookie_name",
            "starts with `__`",
            "give the name without a prefix: edge-oidc adds `__Host-` itself on https (see session.host_prefix)",
        ));
    }
    if s.idle_timeout_secs
        .is_some_and(|idle| !(60..=s.lifetime_secs).contains(&idle))
    {
        return Err(err(
            "session.idle_timeout_secs",
            "must be between 60 and session.lifetime_secs",
            "use e.g. 1800 (30 minutes), or leave it out for no idle timeout",
        ));
    }
    Ok(SessionConfig {
        lifetime_secs: s.lifetime_secs,
        permanent: s.permanent,
        cookie_name: s.cookie_name,
        host_prefix: s.host_prefix,
        idle_timeout_secs: s.idle_timeout_secs,
        cookie_domain: None,
    })
}

fn validate_identity_headers(h: RawIdentityHeaders) -> Result<IdentityHeaders, ConfigError> {
    let check = |key: &str, v: &str| {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(err(
                format!("identity_headers.{key}"),
                format!("`{v}` is not a valid header name"),
                "use e.g. X-Auth-Email",
            ));
        }
        if matches!(
            v.to_ascii_lowercase().as_str(),
            "cookie" | "host" | "authorization" | "content-length" | "transfer-encoding"
        ) {
            return Err(err(
                format!("identity_headers.{key}"),
                format!("`{v}` is a reserved header"),
                "use an X-… name",
            ));
        }
        Ok(v.to_ascii_lowercase())
    };
    Ok(IdentityHeaders {
        subject: check("subject", &h.subject)?,
        email: check("email", &h.email)?,
        name: check("name", &h.name)?,
        provider: h.provider.as_deref().map(|p| check("provider", p)).transpose()?,
        acr: h.acr.as_deref().map(|p| check("acr", p)).transpose()?,
    })
}

fn validate_origin(o: &str) -> Result<Url, ConfigError> {
    match parse_ascii_url(o) {
        Some(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none() =>
        {
            Ok(u)
        }
        _ => Err(err(
            "origin",
            format!("`{o}` is not an origin URL"),
            "use scheme and host only, e.g. https://origin.example.com",
        )),
    }
}

#[cfg(test)]
mod tests;
