//! `rules[i]` as written, read by hand from its JSON value: every error then names the rule's
//! index and key (`rules[3].claims[0].path`), and the worker carries no second deserializer (a
//! `serde_json::Value` deserializer) for it. A later per-rule setting is one more arm in
//! [`raw_rule`] and one more field here.

use super::super::{err, ConfigError};
use serde_json::Value;

/// `rules[i]` as written. Read by hand from its JSON value ([`raw_rule`]): every error then
/// names the rule's index and key, and no second deserializer is compiled into the worker for it.
#[derive(Debug, Default)]
pub(super) struct RawRule {
    pub(super) name: Option<String>,
    pub(super) host: Option<String>,
    pub(super) path: Option<String>,
    pub(super) path_prefix: Option<String>,
    pub(super) methods: Option<Vec<String>>,
    pub(super) action: String,
    pub(super) allow_preflight: bool,
    pub(super) providers: Option<Vec<String>>,
    pub(super) emails: Vec<String>,
    pub(super) email_domains: Vec<String>,
    pub(super) groups: Vec<String>,
    pub(super) claims: Vec<RawClaimRule>,
    pub(super) bearer: Option<super::super::bearer::RawBearer>,
    pub(super) assertion_audience: Option<String>,
}

#[derive(Debug)]
pub(super) struct RawClaimRule {
    pub(super) path: Value,
    pub(super) any_of: Option<Vec<Value>>,
    pub(super) all_of: Option<Vec<Value>>,
}

/// The rule at `at` from its JSON value.
pub(super) fn raw_rule(at: &str, value: &Value) -> Result<RawRule, ConfigError> {
    let Some(object) = value.as_object() else {
        return Err(err(
            at,
            "is not an object",
            "write a rule as {\"path_prefix\": \"/x/\", \"action\": \"public\"}",
        ));
    };
    let mut r = RawRule::default();
    let mut action = None;
    for (k, v) in object {
        let key = format!("{at}.{k}");
        match k.as_str() {
            "name" => r.name = Some(text(&key, v)?),
            "host" => r.host = Some(text(&key, v)?),
            "path" => r.path = Some(text(&key, v)?),
            "path_prefix" => r.path_prefix = Some(text(&key, v)?),
            "methods" => r.methods = Some(texts(&key, v)?),
            "action" => action = Some(text(&key, v)?),
            "allow_preflight" => {
                r.allow_preflight = v.as_bool().ok_or_else(|| err(&key, "is not true or false", "use true or false"))?;
            }
            "providers" => r.providers = Some(texts(&key, v)?),
            "emails" => r.emails = texts(&key, v)?,
            "email_domains" => r.email_domains = texts(&key, v)?,
            "groups" => r.groups = texts(&key, v)?,
            "claims" => {
                let list = v.as_array().ok_or_else(|| err(&key, "is not a list", "list claim tests"))?;
                r.claims = list
                    .iter()
                    .enumerate()
                    .map(|(j, c)| raw_claim(&format!("{key}[{j}]"), c))
                    .collect::<Result<_, _>>()?;
            }
            // Read from its text with the deserializer of the `bearer` section (already in the
            // worker for the configuration string): no `Value` deserializer for it.
            "bearer" => {
                r.bearer = Some(serde_json::from_str(&v.to_string()).map_err(|e| {
                    err(
                        &key,
                        format!("is not valid bearer settings ({e})"),
                        "see `bearer` in the configuration reference",
                    )
                })?);
            }
            "assertion_audience" => r.assertion_audience = Some(text(&key, v)?),
            _ => {
                return Err(err(
                    key,
                    "is not a rule setting",
                    "use name, host, path, path_prefix, methods, action, allow_preflight, providers, emails, email_domains, groups, claims, bearer or assertion_audience",
                ))
            }
        }
    }
    r.action = action.ok_or_else(|| {
        err(
            format!("{at}.action"),
            "is missing",
            "add \"action\": \"public\", \"deny\" or \"authenticated\"",
        )
    })?;
    Ok(r)
}

fn raw_claim(at: &str, value: &Value) -> Result<RawClaimRule, ConfigError> {
    let object = value.as_object().ok_or_else(|| {
        err(
            at,
            "is not an object",
            "e.g. {\"path\": \"realm_access.roles\", \"any_of\": [\"admin\"]}",
        )
    })?;
    let mut c = RawClaimRule {
        path: Value::Null,
        any_of: None,
        all_of: None,
    };
    for (k, v) in object {
        let key = format!("{at}.{k}");
        let list = || {
            v.as_array()
                .cloned()
                .ok_or_else(|| err(&key, "is not a list", "list the accepted values"))
        };
        match k.as_str() {
            "path" => c.path = v.clone(),
            "any_of" => c.any_of = Some(list()?),
            "all_of" => c.all_of = Some(list()?),
            _ => return Err(err(key, "is not a claim test setting", "use path and any_of or all_of")),
        }
    }
    Ok(c)
}

fn text(key: &str, v: &Value) -> Result<String, ConfigError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| err(key, "is not a string", "write it in quotes"))
}

fn texts(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    v.as_array()
        .and_then(|items| items.iter().map(|i| i.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| err(key, "is not a list of strings", "e.g. [\"a\", \"b\"]"))
}
