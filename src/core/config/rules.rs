//! `rules`: which requests are public, denied, or need a session meeting requirements. An
//! ordered list; the first rule that matches a request decides (src/core/site/rules.rs).
//!
//! Today's `public_paths` and `routes` are translated into rules here ([`from_legacy`]), so the
//! gate has one way to decide. The allow-lists (`allowed_emails`, `allowed_email_domains`, per
//! provider too) stay what they were: who may hold a session at all, checked at login, at each
//! refresh and by the gate; rules add per-request requirements on top.

mod raw;

use super::{err, path_pattern, ConfigError, ProviderConfig, Route};
use crate::core::site::path::PathPattern;
use raw::{raw_rule, RawClaimRule, RawRule};
use serde_json::Value;

/// At most this many rules: each request walks the list.
pub const MAX_RULES: usize = 256;
/// At most this many values in one requirement (`emails`, `groups`, a claim's values).
pub const MAX_VALUES: usize = 256;

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// How 403 answers and logs name the rule: its `name`, else `rules[i]`.
    pub label: String,
    /// Only requests for this host (lower-case, no port); `None`: any host.
    pub host: Option<String>,
    /// Which paths.
    pub path: RulePath,
    /// Only these methods (upper-case); `None`: any. A CORS preflight is matched as the method
    /// it announces (`Access-Control-Request-Method`).
    pub methods: Option<Vec<String>>,
    /// What happens to a matching request.
    pub action: RuleAction,
    /// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) matching this rule is
    /// passed on without a session (browsers never send credentials with one).
    pub allow_preflight: bool,
    /// Bearer tokens under this rule (overrides the `bearer` section; src/core/flow/bearer.rs).
    pub bearer: Option<super::bearer::BearerPolicy>,
    /// The `aud` of the identity assertion for requests under this rule (overrides
    /// `assertion.audience`).
    pub assertion_audience: Option<String>,
}

/// The paths a rule covers.
#[derive(Debug, Clone)]
pub enum RulePath {
    /// Every path.
    Any,
    /// `path`: this path only.
    Exact(PathPattern),
    /// `path_prefix`: see [`PathPattern::covers_as_written`] / [`PathPattern::covers_any_spelling`].
    Prefix(PathPattern),
}

/// What a rule does.
#[derive(Debug, Clone)]
pub enum RuleAction {
    /// Passed on without a session (with the identity headers when there is one).
    Public,
    /// Refused with 403, session or not.
    Deny,
    /// A session is needed, and must meet these.
    Authenticated(Box<Requirements>),
}

/// What a session must meet under an `authenticated` rule. Empty lists require nothing.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Providers whose sessions count (and which a login may use); `None`: all.
    pub providers: Option<Vec<String>>,
    /// The (usable, see `require_email_verified`) email is one of these (lower-case) …
    pub emails: Vec<String>,
    /// … or in one of these domains (lower-case). With both empty, any email or none.
    pub email_domains: Vec<String>,
    /// The provider's groups claim (`groups_claim`) holds one of these.
    pub groups: Vec<String>,
    /// Each of these claim tests holds.
    pub claims: Vec<ClaimRule>,
}

/// A test of one claim.
#[derive(Debug, Clone)]
pub struct ClaimRule {
    /// Where the claim is.
    pub path: ClaimPath,
    /// The accepted values, as text (JSON numbers and booleans as written: `3`, `true`).
    pub values: Vec<String>,
    /// `all_of`: the claim holds every value; else (`any_of`) at least one.
    pub all: bool,
}

/// Where a claim is in the (nested) JSON of the ID token or UserInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    /// The keys, outermost first.
    pub keys: Vec<String>,
    /// The JSON Pointer form (RFC 6901), also the claim's key in the identity cookie.
    pub pointer: String,
}

impl ClaimPath {
    /// A claim path as configured: `"realm_access.roles"` (dotted), a JSON Pointer
    /// (`"/https:~1~1example.com~1tier"`, RFC 6901) or a list of keys
    /// (`["https://example.com/tier"]`, taken literally); or why not.
    pub(super) fn parse(raw: &Value) -> Result<ClaimPath, String> {
        let keys: Vec<String> = match raw {
            Value::Array(items) => items
                .iter()
                .map(|k| k.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or("is a list that holds something other than strings")?,
            Value::String(t) if t.starts_with('/') => pointer_keys(t)?,
            Value::String(t) => t.split('.').map(str::to_owned).collect(),
            _ => return Err("is neither a string nor a list of strings".into()),
        };
        if keys.is_empty() || keys.len() > 8 || keys.iter().any(|k| k.is_empty() || k.len() > 256) {
            return Err("must name 1 to 8 non-empty keys".into());
        }
        let mut pointer = String::new();
        for k in &keys {
            pointer.push('/');
            pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
        }
        Ok(ClaimPath { keys, pointer })
    }

    /// The path `groups`, the default `groups_claim`.
    pub fn groups() -> ClaimPath {
        ClaimPath {
            keys: vec!["groups".into()],
            pointer: "/groups".into(),
        }
    }
}

/// The keys of a JSON Pointer (RFC 6901 §3: `~1` is `/`, `~0` is `~`, no other `~` escape).
fn pointer_keys(pointer: &str) -> Result<Vec<String>, String> {
    pointer
        .split('/')
        .skip(1)
        .map(|k| {
            let mut out = String::with_capacity(k.len());
            let mut chars = k.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("`{pointer}` has a `~` not followed by 0 or 1 (RFC 6901)")),
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

/// `rules` as written, validated. `providers` are the validated providers (names checked).
pub(super) fn validate(raw: &[Value], providers: &[ProviderConfig]) -> Result<Vec<Rule>, ConfigError> {
    if raw.len() > MAX_RULES {
        return Err(err(
            "rules",
            format!("has {} rules, more than {MAX_RULES}", raw.len()),
            "merge rules with path prefixes",
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, value)| {
            let at = format!("rules[{i}]");
            let rule = raw_rule(&at, value)?;
            validate_rule(&at, rule, providers)
        })
        .collect()
}

fn validate_rule(at: &str, r: RawRule, providers: &[ProviderConfig]) -> Result<Rule, ConfigError> {
    let key = |k: &str| format!("{at}.{k}");
    if let Some(name) = &r.name {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(err(
                key("name"),
                "must be 1 to 64 printable ASCII characters",
                "use e.g. \"admin area\"",
            ));
        }
    }
    let path = match (&r.path, &r.path_prefix) {
        (Some(_), Some(_)) => {
            return Err(err(at, "has both `path` and `path_prefix`", "keep one of them"));
        }
        (Some(p), None) => RulePath::Exact(path_pattern(&key("path"), p)?),
        (None, Some(p)) => RulePath::Prefix(path_pattern(&key("path_prefix"), p)?),
        (None, None) => RulePath::Any,
    };
    let host = r.host.as_deref().map(|h| validate_host(&key("host"), h)).transpose()?;
    let methods = r
        .methods
        .as_deref()
        .map(|m| validate_methods(&key("methods"), m))
        .transpose()?;
    let has_requirements = r.providers.is_some()
        || !(r.emails.is_empty() && r.email_domains.is_empty() && r.groups.is_empty() && r.claims.is_empty());
    let action = match r.action.as_str() {
        "public" | "deny" if has_requirements => {
            return Err(err(
                at,
                format!(
                    "is `{}` and has requirements (providers, emails, email_domains, groups or claims)",
                    r.action
                ),
                "requirements belong to `\"action\": \"authenticated\"` rules: remove them or change the action",
            ));
        }
        "public" if r.allow_preflight => {
            return Err(err(
                key("allow_preflight"),
                "is set on a public rule, which lets every request through already",
                "remove it",
            ));
        }
        "public" => RuleAction::Public,
        "deny" => RuleAction::Deny,
        "authenticated" => {
            RuleAction::Authenticated(Box::new(requirements(at, r.providers.as_deref(), &r, providers)?))
        }
        other => {
            return Err(err(
                key("action"),
                format!("`{other}` is not an action"),
                "use \"public\", \"deny\" or \"authenticated\"",
            ));
        }
    };
    let (bearer, assertion_audience) =
        super::bearer::validate_rule_settings(at, &r.bearer, &r.assertion_audience, &action, providers)?;
    Ok(Rule {
        label: r.name.clone().unwrap_or_else(|| at.to_owned()),
        host,
        path,
        methods,
        action,
        allow_preflight: r.allow_preflight,
        bearer,
        assertion_audience,
    })
}

fn requirements(
    at: &str,
    names: Option<&[String]>,
    r: &RawRule,
    providers: &[ProviderConfig],
) -> Result<Requirements, ConfigError> {
    let key = |k: &str| format!("{at}.{k}");
    if let Some(names) = names {
        if names.is_empty() {
            return Err(err(
                key("providers"),
                "is empty",
                "list at least one provider name, or leave it out for all",
            ));
        }
        if let Some(unknown) = names.iter().find(|n| !providers.iter().any(|p| &p.name == *n)) {
            return Err(err(
                key("providers"),
                format!("names `{unknown}`, which is not in `providers`"),
                "use a name from `providers`",
            ));
        }
    }
    for (k, list) in [
        ("emails", &r.emails),
        ("email_domains", &r.email_domains),
        ("groups", &r.groups),
    ] {
        check_values(&key(k), list)?;
    }
    if let Some(bad) = r.email_domains.iter().find(|d| d.contains('@')) {
        return Err(err(
            key("email_domains"),
            format!("`{bad}` holds an `@`"),
            "give the domain only, e.g. example.com",
        ));
    }
    let claims = r
        .claims
        .iter()
        .enumerate()
        .map(|(j, c)| claim_rule(&key(&format!("claims[{j}]")), c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Requirements {
        providers: names.map(<[String]>::to_vec),
        emails: super::provider::lower_emails(&r.emails),
        email_domains: super::provider::lower_domains(&r.email_domains),
        groups: r.groups.clone(),
        claims,
    })
}

fn claim_rule(at: &str, c: &RawClaimRule) -> Result<ClaimRule, ConfigError> {
    let path = ClaimPath::parse(&c.path).map_err(|problem| {
        err(
            format!("{at}.path"),
            problem,
            "write a dotted path (\"realm_access.roles\"), a JSON Pointer (\"/https:~1~1example.com~1tier\") or a list of keys ([\"https://example.com/tier\"])",
        )
    })?;
    let (values, all, which) = match (&c.any_of, &c.all_of) {
        (Some(v), None) => (v, false, "any_of"),
        (None, Some(v)) => (v, true, "all_of"),
        _ => {
            return Err(err(
                at,
                "needs exactly one of `any_of` and `all_of`",
                "e.g. \"any_of\": [\"admin\"]",
            ));
        }
    };
    let values = values
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
            _ => Err(err(
                format!("{at}.{which}"),
                "holds a value that is not a string, number or boolean",
                "list plain values",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_values(&format!("{at}.{which}"), &values)?;
    if values.is_empty() {
        return Err(err(format!("{at}.{which}"), "is empty", "list at least one value"));
    }
    Ok(ClaimRule { path, values, all })
}

fn check_values(key: &str, values: &[String]) -> Result<(), ConfigError> {
    if values.len() > MAX_VALUES {
        return Err(err(
            key,
            format!("has more than {MAX_VALUES} values"),
            "shorten the list",
        ));
    }
    match values.iter().find(|v| v.is_empty() || v.len() > 256) {
        Some(_) => Err(err(
            key,
            "holds an empty value or one longer than 256 characters",
            "remove it",
        )),
        None => Ok(()),
    }
}

fn validate_host(key: &str, host: &str) -> Result<String, ConfigError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(err(
            key,
            format!("`{host}` is not a host name"),
            "give the host only, without scheme or port, e.g. api.example.com",
        ))
    }
}

fn validate_methods(key: &str, methods: &[String]) -> Result<Vec<String>, ConfigError> {
    if methods.is_empty() {
        return Err(err(
            key,
            "is empty",
            "list methods such as [\"GET\", \"HEAD\"], or leave it out for all",
        ));
    }
    methods
        .iter()
        .map(|m| {
            if !m.is_empty() && m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(m.to_ascii_uppercase())
            } else {
                Err(err(
                    key,
                    format!("`{m}` is not a method"),
                    "use e.g. GET, POST, OPTIONS",
                ))
            }
        })
        .collect()
}

/// Today's keys as rules: each `public_paths` entry a `public` rule (a path ending in `/` a
/// prefix, any other exactly that path, as `public_paths` always meant), then each route an
/// `authenticated` rule for its providers. What no rule matches needs a session from any
/// provider, as before.
pub(super) fn from_legacy(public_paths: &[PathPattern], routes: &[Route]) -> Vec<Rule> {
    let public = public_paths.iter().enumerate().map(|(i, p)| Rule {
        label: format!("public_paths[{i}]"),
        host: None,
        path: if p.as_str().ends_with('/') {
            RulePath::Prefix(p.clone())
        } else {
            RulePath::Exact(p.clone())
        },
        methods: None,
        action: RuleAction::Public,
        allow_preflight: false,
        bearer: None,
        assertion_audience: None,
    });
    let routes = routes.iter().enumerate().map(|(i, r)| Rule {
        label: format!("routes[{i}]"),
        host: None,
        path: RulePath::Prefix(r.path_prefix.clone()),
        methods: None,
        action: RuleAction::Authenticated(Box::new(Requirements {
            providers: Some(r.providers.clone()),
            ..Requirements::default()
        })),
        allow_preflight: false,
        bearer: None,
        assertion_audience: None,
    });
    public.chain(routes).collect()
}
