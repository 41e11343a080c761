//! Provider options for providers that depart from the plain OpenID Connect shape, each a
//! documented setting rather than a special case by provider name (see docs/providers/):
//! - an issuer template with `{tenantid}` (Microsoft Entra ID's multi-tenant authorities), the
//!   `discovery_url` it is discovered from, and `allowed_tenants`;
//! - `discovery_url` alone, for any provider whose metadata is not at
//!   `<issuer>/.well-known/openid-configuration`;
//! - `required_claims`: claims that must carry one of the listed values at login (Google's `hd`,
//!   Auth0's `org_id`, GitLab's `groups`).

use super::{err, ConfigError};
use crate::core::config::provider_url_allowed;
use crate::core::http::parse_ascii_url;
use crate::core::oidc::discovery::discovery_url;
use crate::core::oidc::issuer::{is_tenant_id, TenantIssuer, SAMPLE_TENANT, TENANT_PLACEHOLDER};
use serde_json::{Map, Value};

/// A claim that must have one of the accepted values at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredClaim {
    /// The claim's name (top level of the ID token or UserInfo).
    pub name: String,
    /// Accepted values: a string claim must equal one; an array claim must contain one.
    pub accepted: Vec<String>,
}

/// Claims edge-oidc checks itself, or that have their own setting: requiring them here would
/// either do nothing or bypass the rule that goes with them.
const HANDLED_ELSEWHERE: &[(&str, &str)] = &[
    (
        "iss",
        "edge-oidc always checks it (for an Entra template use allowed_tenants)",
    ),
    ("aud", "edge-oidc always checks it against client_id"),
    ("azp", "edge-oidc always checks it against client_id"),
    ("exp", "edge-oidc always checks it"),
    ("iat", "edge-oidc always checks it"),
    ("nbf", "edge-oidc always checks it"),
    ("nonce", "edge-oidc always checks it"),
    ("at_hash", "edge-oidc always checks it"),
    ("c_hash", "edge-oidc always checks it"),
    ("auth_time", "use max_age"),
    ("acr", "use required_acr"),
    (
        "email",
        "use allowed_emails or allowed_email_domains (they honour email_verified)",
    ),
    (
        "email_verified",
        "use allowed_emails or allowed_email_domains with require_email_verified",
    ),
];

/// The issuer as configured: checked as a URL (`check` is the plain issuer check), and turned
/// into a [`TenantIssuer`] when it is a template. The placeholder must be one whole path segment
/// (`https://login.microsoftonline.com/{tenantid}/v2.0`): never in the host, never next to other
/// text, so a tenant id cannot change which server the issuer names.
pub(super) fn issuer_template(
    key_of: &dyn Fn(&str) -> String,
    issuer: &str,
    allowed_tenants: Option<&[String]>,
    check: impl Fn(&str) -> Result<(), ConfigError>,
) -> Result<Option<TenantIssuer>, ConfigError> {
    let key = key_of("issuer");
    let tenants_key = key_of("allowed_tenants");
    if !issuer.contains(['{', '}']) {
        check(issuer)?;
        if allowed_tenants.is_some() {
            return Err(err(
                tenants_key,
                "is set, but the issuer is not a template with {tenantid}",
                "remove allowed_tenants (a single-tenant issuer already names its tenant)",
            ));
        }
        return Ok(None);
    }
    let template_problem = || {
        err(
            &key,
            "holds `{` or `}` but is not a template with one `{tenantid}` as a whole path segment",
            "use the multi-tenant form, e.g. https://login.microsoftonline.com/{tenantid}/v2.0, or the provider's exact issuer",
        )
    };
    let sample = issuer.replacen(TENANT_PLACEHOLDER, SAMPLE_TENANT, 1);
    if sample.contains(['{', '}']) {
        return Err(template_problem());
    }
    check(&sample)?;
    let whole_segment = parse_ascii_url(&sample)
        .and_then(|u| u.path_segments().map(|mut s| s.any(|seg| seg == SAMPLE_TENANT)))
        .unwrap_or(false);
    if !whole_segment {
        return Err(template_problem());
    }
    let allowed = match allowed_tenants {
        None => Vec::new(),
        Some([]) => {
            return Err(err(
                tenants_key,
                "is empty",
                "list the tenant ids (GUIDs) that may sign in, or remove the key to allow every tenant",
            ))
        }
        Some(list) => {
            if let Some(bad) = list.iter().find(|t| !is_tenant_id(t)) {
                return Err(err(
                    tenants_key,
                    format!("`{bad}` is not a tenant id"),
                    "use the directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 (Entra admin center, Overview)",
                ));
            }
            list.to_vec()
        }
    };
    TenantIssuer::new(issuer, allowed)
        .map(Some)
        .ok_or_else(template_problem)
}

/// Where the metadata is discovered: `discovery_url` when set, else the issuer's well-known URL
/// (Discovery §4). A template issuer has no well-known URL of its own, so it needs one.
pub(super) fn discovery_location(
    key: &str,
    discovery: Option<&str>,
    issuer: &str,
    template: bool,
    has_metadata: bool,
    allow_http: bool,
) -> Result<String, ConfigError> {
    let Some(url) = discovery else {
        if template && !has_metadata {
            return Err(err(
                key,
                "is missing: a templated issuer has no discovery document of its own",
                "set the authority's discovery URL, e.g. https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
            ));
        }
        return Ok(discovery_url(issuer));
    };
    if has_metadata {
        return Err(err(
            key,
            "is set together with metadata",
            "use one of the two: static metadata is never discovered",
        ));
    }
    match parse_ascii_url(url) {
        Some(u) if provider_url_allowed(&u, allow_http) && u.fragment().is_none() && !url.contains(['{', '}']) => {
            Ok(url.to_owned())
        }
        _ => Err(err(
            key,
            format!("`{url}` is not an https URL of a discovery document"),
            "use the provider's full discovery URL, ending in /.well-known/openid-configuration",
        )),
    }
}

/// `required_claims`: claim name → a string or a list of accepted strings.
pub(super) fn required_claims(key: &str, raw: Option<&Map<String, Value>>) -> Result<Vec<RequiredClaim>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    // Plain loops rather than iterator chains collected into `Result`s: this runs once per
    // configuration, and the chains cost the wasm about a kilobyte (BENCHMARKS.md, issue 14).
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let claim_key = format!("{key}.{name}");
        if name.is_empty() {
            return Err(err(key, "names an empty claim", "use the claim's name, e.g. hd"));
        }
        if let Some((_, fix)) = HANDLED_ELSEWHERE.iter().find(|(n, _)| n == name) {
            return Err(err(claim_key, "cannot be required here", *fix));
        }
        let items: &[Value] = match value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        let mut accepted = Vec::with_capacity(items.len());
        let mut valid = !items.is_empty();
        for item in items {
            match item.as_str() {
                Some(s) if !s.is_empty() => accepted.push(s.to_owned()),
                _ => valid = false,
            }
        }
        if !valid {
            return Err(err(
                claim_key,
                "must be a non-empty string or a non-empty list of non-empty strings",
                "e.g. required_claims = { hd = \"example.com\" } or { groups = [\"staff\", \"admins\"] }",
            ));
        }
        out.push(RequiredClaim {
            name: name.clone(),
            accepted,
        });
    }
    Ok(out)
}

impl RequiredClaim {
    /// Whether a claim value satisfies this requirement: a string equal to an accepted value, or
    /// an array holding one. Numbers, booleans, objects and `null` never do (values are compared
    /// as written, case-sensitively: `hd` is lower-case as Google sends it).
    pub fn accepts(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.accepts_str(s),
            Value::Array(items) => items.iter().any(|v| v.as_str().is_some_and(|s| self.accepts_str(s))),
            _ => false,
        }
    }

    /// Whether one string value is accepted.
    pub fn accepts_str(&self, value: &str) -> bool {
        self.accepted.iter().any(|a| a == value)
    }
}
