//! The offline check: `EDGE_OIDC_CONFIG` validated by the core's own `Config::from_json`, with
//! the secrets the worker would have, so the rules cannot differ from the worker's.
//!
//! The core stops at the first problem. To list every missing or ill-formed secret, a secret the
//! core refuses is reported and replaced by a stand-in, and the configuration is validated again,
//! until it passes or fails on something that is not a secret. With `--config-only` every secret
//! is a stand-in from the start (CI on the shipped wrangler.toml and the recipe pages): the
//! configuration's own rules are checked and the secrets it needs are listed, not checked.

use crate::report::{Level, Report};
use edge_oidc::core::config::identity::{ASSERTION_KEY_NEXT_SECRET, ASSERTION_KEY_SECRET};
use edge_oidc::core::config::{ClientConfig, Config, ConfigError, MetadataSource, COOKIE_KEYS_SECRET};
use edge_oidc::core::crypto::secret::b64url;
use edge_oidc::core::session::seal::parse_key_list;
use std::collections::BTreeMap;

/// A stand-in client secret (never sent anywhere: the check makes no token request).
const STANDIN_SECRET: &str = "stand-in-client-secret";

/// Validates the configuration and reports on it and its secrets; the validated configuration
/// (with stand-ins where secrets were missing) when it passed.
pub fn check(
    json: &str,
    real: &dyn Fn(&str) -> Option<String>,
    config_only: bool,
    report: &mut Report,
) -> Option<Config> {
    report.part("configuration (EDGE_OIDC_CONFIG, validated by edge-oidc's own rules)");
    let mut standins: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut secret_findings: Vec<(Level, String, String)> = Vec::new();
    // Each round fixes one secret; a configuration names a handful at most.
    for _ in 0..32 {
        let lookup = |name: &str| match standins.get(name) {
            Some(standin) => standin.clone(),
            None if config_only => None,
            None => real(name).filter(|v| !v.is_empty()),
        };
        match Config::from_json(json, &lookup) {
            Ok(config) => {
                summarise(&config, report);
                report.part("secrets (.dev.vars and the environment; values are never shown)");
                for (level, subject, text) in secret_findings {
                    report.add(level, subject, text);
                }
                secrets_found(&config, &standins, &lookup, config_only, report);
                return Some(config);
            }
            Err(e) => match standin_for(&e) {
                Some((name, standin)) if !standins.contains_key(&name) => {
                    let (level, text) = if config_only {
                        (
                            Level::Info,
                            format!("needed, not checked (--config-only): {}", e.problem),
                        )
                    } else {
                        (Level::Error, format!("{}. Fix: {}", e.problem, e.fix))
                    };
                    secret_findings.push((level, name.clone(), text));
                    standins.insert(name, standin);
                }
                _ => {
                    report.add(Level::Error, e.key.clone(), format!("{}. Fix: {}", e.problem, e.fix));
                    report.part("secrets (.dev.vars and the environment; values are never shown)");
                    for (level, subject, text) in secret_findings {
                        report.add(level, subject, text);
                    }
                    // The core checks the cookie keys last: check them here too, with its parser.
                    if !config_only && !standins.contains_key(COOKIE_KEYS_SECRET) {
                        if let Err(why) = parse_key_list(&real(COOKIE_KEYS_SECRET).unwrap_or_default()) {
                            report.add(Level::Error, COOKIE_KEYS_SECRET, format!("missing or invalid ({why})"));
                        }
                    }
                    return None;
                }
            },
        }
    }
    report.add(Level::Error, "EDGE_OIDC_CONFIG", "too many secret problems to list");
    None
}

/// For an error about a secret: its name and what stands in for it (`None`: the secret is
/// taken away, for a `CLIENT_SECRET` that several providers would share).
fn standin_for(e: &ConfigError) -> Option<(String, Option<String>)> {
    if e.key == COOKIE_KEYS_SECRET {
        return Some((e.key.clone(), Some(b64url(&[7u8; 32]))));
    }
    if e.key == "CLIENT_SECRET" {
        return Some((e.key.clone(), None));
    }
    // The identity assertion's keys: a fresh P-256 key stands in (it is never published).
    if e.key == ASSERTION_KEY_SECRET || e.key == ASSERTION_KEY_NEXT_SECRET {
        return Some((e.key.clone(), Some(standin_private_jwk())));
    }
    // The core's wording: "the secret `NAME` is not set" / "the secret `NAME`: <problem>".
    let name = e
        .problem
        .split('`')
        .nth(1)
        .filter(|_| e.problem.starts_with("the secret `"))?;
    if e.key.ends_with(".client_secret_binding") {
        return Some((name.to_owned(), Some(STANDIN_SECRET.to_owned())));
    }
    if e.key.ends_with(".private_key_binding") {
        return Some((name.to_owned(), Some(standin_private_jwk())));
    }
    None
}

/// A fresh P-256 private JWK, only to let the validation go on past a missing key.
fn standin_private_jwk() -> String {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let mut bytes = [0u8; 32];
    let key = loop {
        if getrandom::getrandom(&mut bytes).is_err() {
            bytes = [1u8; 32];
        }
        if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let point = key.public_key().to_encoded_point(false);
    let coord = |c: Option<&p256::FieldBytes>| c.map(|b| b64url(b)).unwrap_or_default();
    format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","d":"{}"}}"#,
        coord(point.x()),
        coord(point.y()),
        b64url(&key.to_bytes())
    )
}

/// What the validated configuration says, per provider, and what deserves a second look.
fn summarise(config: &Config, report: &mut Report) {
    let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    report.add(
        Level::Ok,
        "EDGE_OIDC_CONFIG",
        format!("valid: {} provider(s) ({})", names.len(), names.join(", ")),
    );
    match &config.public_origin {
        Some(origin) => report.add(Level::Ok, "public_origin", origin.clone()),
        None => report.add(
            Level::Warn,
            "public_origin",
            "not set: every host that reaches the worker gets its own redirect URI. Fix: set it to the site's origin, e.g. https://app.example.com",
        ),
    }
    for p in &config.providers {
        let key = format!("providers.{}", p.name);
        let source = match &p.metadata {
            MetadataSource::Discover => format!("discovered from {}", p.discovery_url),
            MetadataSource::Static(_) => "static metadata".to_owned(),
        };
        let client = match &p.client {
            ClientConfig::Static { client_id } => format!("client_id {client_id}"),
            ClientConfig::Dynamic { .. } => "dynamic client registration".to_owned(),
        };
        report.add(
            Level::Ok,
            key.clone(),
            format!("issuer {}, {source}, {client}", p.issuer),
        );
        if let Some(template) = &p.tenant {
            match template.allowed() {
                [] => report.add(
                    Level::Warn,
                    format!("{key}.allowed_tenants"),
                    "not set: users of every tenant can sign in. Fix: list your tenant ids (docs/providers/entra.md)",
                ),
                list => report.add(Level::Ok, format!("{key}.allowed_tenants"), list.join(", ")),
            }
        }
        let lists = !(p.allowed_emails.is_empty()
            && p.allowed_email_domains.is_empty()
            && config.allowed_emails.is_empty()
            && config.allowed_email_domains.is_empty());
        if !p.require_email_verified && lists {
            report.add(
                Level::Warn,
                format!("{key}.require_email_verified"),
                "false: emails the provider did not verify pass the allow-lists (see the provider's recipe for the risk)",
            );
        }
        for claim in &p.required_claims {
            report.add(
                Level::Info,
                format!("{key}.required_claims.{}", claim.name),
                format!("one of: {}", claim.accepted.join(", ")),
            );
        }
    }
}

/// The secrets the validated configuration uses, as found (never their values).
fn secrets_found(
    config: &Config,
    standins: &BTreeMap<String, Option<String>>,
    lookup: &dyn Fn(&str) -> Option<String>,
    config_only: bool,
    report: &mut Report,
) {
    let unchecked = |name: &str| config_only || standins.contains_key(name);
    if !unchecked(COOKIE_KEYS_SECRET) {
        let count = lookup(COOKIE_KEYS_SECRET)
            .and_then(|k| parse_key_list(&k).ok())
            .map_or(0, |k| k.len());
        report.add(Level::Ok, COOKIE_KEYS_SECRET, format!("{count} key(s) of 32 bytes"));
    }
    for p in &config.providers {
        let binding = &p.client_secret_binding;
        // A secret reported missing above has a stand-in here: nothing more to say about it.
        // A stand-in private key is recognised by its public half.
        let standin_key = p.private_key.as_ref().is_some_and(|k| {
            let x = k.public_jwk().get("x").and_then(|x| x.as_str()).unwrap_or_default();
            standins.values().flatten().any(|v| !x.is_empty() && v.contains(x))
        });
        if !config_only && (standins.contains_key(binding) || standin_key) {
            continue;
        }
        let method = p.auth_method.map_or("auto", |m| m.name());
        let mut level = if config_only { Level::Info } else { Level::Ok };
        let text = if let Some(key) = &p.private_key {
            format!("private JWK ({}) for private_key_jwt; method {method}", key.alg())
        } else if p.client_secret.is_some() {
            format!("client secret in {binding}; method {method}")
        } else if matches!(p.client, ClientConfig::Dynamic { .. }) {
            "no client secret: the provider issues one at registration".to_owned()
        } else if p.auth_method.is_none() && !config_only {
            // `auto` without a secret or key is a public client (`none`): right for a client
            // registered as public, a failed token request for a confidential one.
            level = Level::Warn;
            format!("no client secret in {binding} and no private key: method auto becomes `none` (a public client). Fix: if the provider issued a secret, store it in {binding}")
        } else {
            format!("no client secret in {binding} and no private key; method {method}")
        };
        report.add(level, format!("providers.{}", p.name), text);
    }
}
