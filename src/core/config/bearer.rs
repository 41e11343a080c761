//! `bearer`: API requests authenticated by `Authorization: Bearer` (RFC 6750) instead of the
//! session cookie — JWT access tokens validated locally (RFC 9068) or opaque tokens asked about
//! at the provider's introspection endpoint (RFC 7662). The section is the site-wide default.

use super::identity::check_audience;
use super::{err, path_pattern, ConfigError, ProviderConfig, RuleAction};
use crate::core::site::path::{CanonicalPath, PathPattern};
use serde::Deserialize;

/// Longest a positive introspection answer may be kept (KV and isolate).
pub const MAX_INTROSPECTION_CACHE_SECS: u64 = 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBearer {
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default)]
    path_prefixes: Option<Vec<String>>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "yes")]
    require_typ: bool,
    #[serde(default)]
    introspection: bool,
    #[serde(default = "default_cache")]
    introspection_cache_secs: u64,
}

fn default_mode() -> String {
    "accept".into()
}
fn yes() -> bool {
    true
}
fn default_cache() -> u64 {
    300
}

/// Whether a bearer token is an alternative to the cookie or the only way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerMode {
    /// A request with `Authorization: Bearer` is judged by its token; others by the cookie.
    Accept,
    /// Only a bearer token counts: no cookie session, never a login redirect.
    Require,
}

/// How a bearer token is checked, and what it must say.
#[derive(Debug, Clone)]
pub struct BearerPolicy {
    /// Accept or require.
    pub mode: BearerMode,
    /// The provider whose tokens count.
    pub provider: String,
    /// At least one must be in the token's `aud` (RFC 9068 §4 step 4).
    pub audiences: Vec<String>,
    /// Every one must be in the token's `scope`; else 403 `insufficient_scope`.
    pub scopes: Vec<String>,
    /// The JWT header's `typ` must be `at+jwt` (RFC 9068 §4 step 1).
    pub require_typ: bool,
    /// Ask the provider (RFC 7662) instead of validating a JWT locally.
    pub introspection: bool,
    /// Longest an active introspection answer is reused.
    pub introspection_cache_secs: u64,
}

/// The validated `bearer` section.
#[derive(Debug, Clone)]
pub struct BearerConfig {
    /// Where it applies.
    pub path_prefixes: Vec<PathPattern>,
    /// The policy there.
    pub policy: BearerPolicy,
}

impl BearerConfig {
    /// The policy for `path`, if bearer tokens count there. Prefixes are read broadly: an origin
    /// that reads `/API/` as `/api/` must not serve it by another rule.
    pub fn policy_for(&self, path: &CanonicalPath) -> Option<&BearerPolicy> {
        self.path_prefixes
            .iter()
            .any(|p| p.covers_any_spelling(path))
            .then_some(&self.policy)
    }
}

pub(super) fn validate_bearer(
    raw: Option<RawBearer>,
    providers: &[ProviderConfig],
) -> Result<Option<BearerConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let path_prefixes = raw
        .path_prefixes
        .clone()
        .unwrap_or_else(|| vec!["/".into()])
        .iter()
        .enumerate()
        .map(|(i, p)| path_pattern(&format!("bearer.path_prefixes[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = validate_policy("bearer", &raw, providers)?;
    Ok(Some(BearerConfig { path_prefixes, policy }))
}

fn validate_policy(key: &str, raw: &RawBearer, providers: &[ProviderConfig]) -> Result<BearerPolicy, ConfigError> {
    let mode = match raw.mode.as_str() {
        "accept" => BearerMode::Accept,
        "require" => BearerMode::Require,
        other => {
            return Err(err(
                format!("{key}.mode"),
                format!("`{other}` is not a mode"),
                "use \"accept\" (bearer token or cookie) or \"require\" (bearer token only)",
            ))
        }
    };
    let provider = match &raw.provider {
        Some(name) if providers.iter().any(|p| &p.name == name) => name.clone(),
        Some(name) => {
            return Err(err(
                format!("{key}.provider"),
                format!("names `{name}`, which is not in `providers`"),
                "use a name from `providers`",
            ))
        }
        None => providers
            .first()
            .map(|p| p.name.clone())
            .ok_or_else(|| err("providers", "is empty", "configure at least one provider"))?,
    };
    if raw.audiences.is_empty() && !raw.introspection {
        return Err(err(
            format!("{key}.audiences"),
            "is empty",
            "list the audience your provider puts in access tokens for this API (the resource indicator), e.g. [\"https://api.example.com\"]",
        ));
    }
    for (i, a) in raw.audiences.iter().enumerate() {
        check_audience(&format!("{key}.audiences[{i}]"), a)?;
    }
    for (i, s) in raw.scopes.iter().enumerate() {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
            return Err(err(
                format!("{key}.scopes[{i}]"),
                format!("`{s}` is not a scope token (RFC 6749 §3.3)"),
                "use e.g. \"read\"",
            ));
        }
    }
    if !(60..=MAX_INTROSPECTION_CACHE_SECS).contains(&raw.introspection_cache_secs) {
        return Err(err(
            format!("{key}.introspection_cache_secs"),
            "must be between 60 (the KV minimum) and 3600",
            "use e.g. 300: a token revoked at the provider is still accepted up to this long",
        ));
    }
    Ok(BearerPolicy {
        mode,
        provider,
        audiences: raw.audiences.clone(),
        scopes: raw.scopes.clone(),
        require_typ: raw.require_typ,
        introspection: raw.introspection,
        introspection_cache_secs: raw.introspection_cache_secs,
    })
}

/// A rule's `bearer` and `assertion_audience` (`rules[i]`). Bearer tokens are judged by their
/// audiences and scopes only: a rule that also requires emails, groups or claims (which a token
/// does not carry in the session's form) is refused rather than silently not applied to tokens.
pub(super) fn validate_rule_settings(
    at: &str,
    bearer: &Option<RawBearer>,
    audience: &Option<String>,
    action: &RuleAction,
    providers: &[ProviderConfig],
) -> Result<(Option<BearerPolicy>, Option<String>), ConfigError> {
    if let Some(aud) = audience {
        check_audience(&format!("{at}.assertion_audience"), aud)?;
    }
    let Some(raw) = bearer else {
        return Ok((None, audience.clone()));
    };
    let key = format!("{at}.bearer");
    let RuleAction::Authenticated(req) = action else {
        return Err(err(
            key,
            "is set on a rule that is not `authenticated`",
            "put it on the `\"action\": \"authenticated\"` rule of the API's paths",
        ));
    };
    if !(req.emails.is_empty() && req.email_domains.is_empty() && req.groups.is_empty() && req.claims.is_empty()) {
        return Err(err(
            key,
            "is set on a rule with emails, email_domains, groups or claims, which bearer tokens are not checked against",
            "require scopes instead (`bearer.scopes`), or split the rule: one for the API with `bearer`, one for pages",
        ));
    }
    if raw.path_prefixes.is_some() {
        return Err(err(
            format!("{key}.path_prefixes"),
            "is for the top-level `bearer` section",
            "remove it: the rule's own path decides where its bearer settings apply",
        ));
    }
    Ok((Some(validate_policy(&key, raw, providers)?), audience.clone()))
}
