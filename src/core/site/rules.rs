//! Deciding a request by `rules` (configured in src/core/config/rules.rs). This runs on every
//! request: it walks the list once, compares bytes, and allocates nothing; the claims it tests
//! are those projected into the identity cookie at login ([`project`]), never the KV record.
//!
//! **Two readings, the more restrictive wins.** A request path can be read as written (case and
//! escapes exact) or as an origin might read it (escapes decoded, ASCII case ignored). The first
//! rule matching under each reading is found; when they differ, *both* must let the request
//! through. So `/ADMIN/x` is held to a rule for `/admin/` (an origin may serve it as `/admin/x`),
//! and a `public` rule for `/pub/` does not open `/PUB/x` (an origin may serve another file).

use crate::core::config::{ClaimPath, ProviderConfig, Requirements, Rule, RuleAction, RulePath};
use crate::core::session::Identity;
use crate::core::site::path::CanonicalPath;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The key of the provider's groups (its `groups_claim`) in the identity cookie's claims; claim
/// paths are keyed by their JSON Pointer, which always starts with `/`, so this cannot collide.
pub const GROUPS_KEY: &str = "g";

/// What of a request the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct RuleRequest<'a> {
    /// The host (lower-case, no port).
    pub host: &'a str,
    /// The method (upper-case).
    pub method: &'a str,
    /// For a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), the announced method.
    pub preflight: Option<&'a str>,
    /// The canonical path.
    pub path: &'a CanonicalPath,
}

impl RuleRequest<'_> {
    /// The method rules match: a preflight's announced method, else the request's.
    fn method(&self) -> &str {
        self.preflight.unwrap_or(self.method)
    }
}

/// The rules that decide a request (indices into the list): the first matching under the broad
/// reading and the first under the narrow one. `None`: no rule matches, the default decides (a
/// session from any provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// First match, reading the path as an origin might.
    pub broad: Option<usize>,
    /// First match, reading the path as written (never before `broad`).
    pub narrow: Option<usize>,
}

impl Selection {
    /// The deciding rules: one, or two when the readings differ; a `None` is the default.
    pub fn deciding<'r>(&self, rules: &'r [Rule]) -> impl Iterator<Item = Option<&'r Rule>> {
        let pick = |i: Option<usize>| i.and_then(|i| rules.get(i));
        let count = if self.broad == self.narrow { 1 } else { 2 };
        [pick(self.broad), pick(self.narrow)].into_iter().take(count)
    }
}

/// Finds the deciding rules in one walk (a narrow match is also a broad one, so the broad
/// match comes first or together).
pub fn select(rules: &[Rule], req: &RuleRequest<'_>) -> Selection {
    let mut broad = None;
    for (i, rule) in rules.iter().enumerate() {
        if rule.host.as_deref().is_some_and(|h| h != req.host) {
            continue;
        }
        if !rule
            .methods
            .as_deref()
            .is_none_or(|m| m.iter().any(|m| m == req.method()))
        {
            continue;
        }
        let (narrow_hit, broad_hit) = match &rule.path {
            RulePath::Any => (true, true),
            RulePath::Exact(p) => (p.is_as_written(req.path), p.is_any_spelling(req.path)),
            RulePath::Prefix(p) => (p.prefixes_as_written(req.path), p.covers_any_spelling(req.path)),
        };
        if broad.is_none() && (broad_hit || narrow_hit) {
            broad = Some(i);
        }
        if narrow_hit {
            return Selection { broad, narrow: Some(i) };
        }
    }
    Selection { broad, narrow: None }
}

/// How the deciding rules treat a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'r> {
    /// Passed on without a session: `public`, or a preflight a rule lets through.
    Open,
    /// Refused by the rule with this label (`deny`, or requirements the session does not meet).
    Refused(&'r str),
    /// A session is needed (none, or one from a provider the rule does not accept).
    Login,
    /// The session meets every deciding rule.
    Admitted,
}

/// The verdict for a request with `identity` (or none). `provider` is the session's provider.
pub fn judge<'r>(
    rules: &'r [Rule],
    selection: Selection,
    preflight: bool,
    session: Option<(&Identity, Option<&ProviderConfig>)>,
) -> Verdict<'r> {
    let mut verdict = Verdict::Open;
    for rule in selection.deciding(rules) {
        let requirements = match rule.map(|r| (r, &r.action)) {
            Some((_, RuleAction::Public)) => continue,
            Some((r, _)) if preflight && r.allow_preflight => continue,
            Some((r, RuleAction::Deny)) => return Verdict::Refused(&r.label),
            Some((r, RuleAction::Authenticated(req))) => Some((r, req.as_ref())),
            None => None,
        };
        let Some((identity, provider)) = session else {
            verdict = Verdict::Login;
            continue;
        };
        if let Some((r, req)) = requirements {
            if !req
                .providers
                .as_deref()
                .is_none_or(|names| names.contains(&identity.provider))
            {
                verdict = Verdict::Login;
                continue;
            }
            if !meets(req, identity, provider) {
                return Verdict::Refused(&r.label);
            }
        }
        if verdict == Verdict::Open {
            verdict = Verdict::Admitted;
        }
    }
    verdict
}

/// Whether a session meets an `authenticated` rule's requirements (other than providers).
pub fn meets(req: &Requirements, identity: &Identity, provider: Option<&ProviderConfig>) -> bool {
    if !(req.emails.is_empty() && req.email_domains.is_empty()) {
        let email = identity.usable_email(provider.is_none_or(|p| p.require_email_verified));
        let listed = email.is_some_and(|email| {
            req.emails.iter().any(|e| e.eq_ignore_ascii_case(email))
                || match email.rsplit_once('@') {
                    Some((local, domain)) if !local.is_empty() => {
                        req.email_domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
                    }
                    _ => false,
                }
        });
        if !listed {
            return false;
        }
    }
    let held = |key: &str| identity.claims.get(key).map_or(&[][..], Vec::as_slice);
    if !req.groups.is_empty() {
        let groups = held(GROUPS_KEY);
        if !req.groups.iter().any(|g| groups.contains(g)) {
            return false;
        }
    }
    req.claims.iter().all(|c| {
        let values = held(&c.path.pointer);
        if c.all {
            c.values.iter().all(|v| values.contains(v))
        } else {
            c.values.iter().any(|v| values.contains(v))
        }
    })
}

/// The providers a login for these deciding rules may use (in configuration order): those every
/// deciding `authenticated` rule accepts.
pub fn login_providers<'c>(rules: &[Rule], selection: Selection, all: &'c [ProviderConfig]) -> Vec<&'c ProviderConfig> {
    all.iter()
        .filter(|p| {
            selection.deciding(rules).flatten().all(|r| match &r.action {
                RuleAction::Authenticated(req) => req.providers.as_deref().is_none_or(|n| n.contains(&p.name)),
                _ => true,
            })
        })
        .collect()
}

/// One claim the identity cookie carries: under `key`, the values at `path` of the ID token
/// (else UserInfo); with `keep`, only those of its values (what some rule compares them with).
#[derive(Debug, Clone)]
pub struct Projected {
    /// The key in the cookie (the path's JSON Pointer).
    pub key: String,
    /// Where the claim is.
    pub path: ClaimPath,
    /// Only these values are kept; `None`: all (at most [`MAX_KEPT`]).
    pub keep: Option<BTreeSet<String>>,
}

/// At most this many values of one claim are kept when all are (`keep: None`).
pub const MAX_KEPT: usize = 32;

/// What the configured rules can ever test: each claim path with the values rules name, and the
/// group names rules name (looked up at each provider's `groups_claim`).
#[derive(Debug, Clone, Default)]
pub struct ProjectionSpec {
    /// Claims by path.
    pub claims: Vec<Projected>,
    /// The group names some rule names.
    pub groups: BTreeSet<String>,
}

impl ProjectionSpec {
    /// Whether nothing is projected (no rule tests a claim): sessions carry no claims.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.groups.is_empty()
    }

    /// The spec of a rule list.
    pub fn of(rules: &[Rule]) -> ProjectionSpec {
        let mut spec = ProjectionSpec::default();
        for rule in rules {
            let RuleAction::Authenticated(req) = &rule.action else {
                continue;
            };
            spec.groups.extend(req.groups.iter().cloned());
            for c in &req.claims {
                let entry = match spec.claims.iter_mut().find(|p| p.path == c.path) {
                    Some(entry) => entry,
                    None => {
                        spec.claims.push(Projected {
                            key: c.path.pointer.clone(),
                            path: c.path.clone(),
                            keep: Some(BTreeSet::new()),
                        });
                        let Some(last) = spec.claims.last_mut() else { continue };
                        last
                    }
                };
                if let Some(keep) = &mut entry.keep {
                    keep.extend(c.values.iter().cloned());
                }
            }
        }
        spec
    }
}

/// The claims to seal into the identity cookie (login and refresh): for each projected path, the
/// user's values (string, number, boolean, or an array of them) that are kept. A user in 500
/// groups carries only the few that rules name.
pub fn project(
    spec: &ProjectionSpec,
    groups_claim: &ClaimPath,
    id_token: &Map<String, Value>,
    userinfo: Option<&Map<String, Value>>,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let lookup = |path: &ClaimPath| find(id_token, path).or_else(|| userinfo.and_then(|u| find(u, path)));
    if !spec.groups.is_empty() {
        let kept = values_of(lookup(groups_claim), Some(&spec.groups));
        if !kept.is_empty() {
            out.insert(GROUPS_KEY.to_owned(), kept);
        }
    }
    for p in &spec.claims {
        let kept = values_of(lookup(&p.path), p.keep.as_ref());
        if !kept.is_empty() {
            out.insert(p.key.clone(), kept);
        }
    }
    out
}

/// The value at `path` in nested JSON objects.
pub fn find<'v>(claims: &'v Map<String, Value>, path: &ClaimPath) -> Option<&'v Value> {
    let (first, rest) = path.keys.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |v, k| v.as_object()?.get(k))
}

/// A claim's values as text, filtered by `keep`, without repeats, at most [`MAX_KEPT`] when
/// unfiltered.
fn values_of(value: Option<&Value>, keep: Option<&BTreeSet<String>>) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    let items: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if keep.is_none_or(|k| k.contains(&item)) && !out.contains(&item) {
            out.push(item);
        }
        if keep.is_none() && out.len() >= MAX_KEPT {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;
