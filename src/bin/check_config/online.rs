//! `--online`: each provider's discovery document and JWKS fetched now, parsed by the core's own
//! parsers (`ProviderMetadata::from_json`, `Jwks::parse`) and compared with the configuration:
//! issuer, endpoints, response types, client authentication, PKCE S256, signing algorithms.

use crate::report::{Level, Report};
use edge_oidc::core::config::{ClientConfig, Config, MetadataSource, ProviderConfig};
use edge_oidc::core::oidc::client_auth::choose_method;
use edge_oidc::core::oidc::discovery::ProviderMetadata;
use edge_oidc::core::oidc::jwks::Jwks;
use serde_json::Value;
use std::time::Duration;

/// Largest document read (discovery documents and key sets are a few KiB).
const MAX_BODY: u64 = 1 << 20;

/// A GET of a JSON document: the status and the body, or why there was none.
pub fn fetch(url: &str, timeout_ms: u64) -> Result<(u16, Vec<u8>), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("accept", "application/json")
        .call()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Checks every provider online.
pub fn check(config: &Config, report: &mut Report) {
    for p in &config.providers {
        report.part(&format!("online: providers.{}", p.name));
        let Some(meta) = metadata(p, config.http_timeout_ms, report) else {
            continue;
        };
        jwks(p, &meta, config.http_timeout_ms, report);
    }
}

/// The provider's metadata: static, or discovered and checked.
fn metadata(p: &ProviderConfig, timeout_ms: u64, report: &mut Report) -> Option<ProviderMetadata> {
    let doc = match &p.metadata {
        MetadataSource::Static(meta) => {
            report.add(
                Level::Info,
                "metadata",
                "static (from the configuration): nothing to discover",
            );
            return Some((**meta).clone());
        }
        MetadataSource::Discover => &p.discovery_url,
    };
    let body = match fetch(doc, timeout_ms) {
        Ok((200, body)) => body,
        Ok((status, _)) => {
            report.add(Level::Error, "discovery", format!("{doc} answered HTTP {status}"));
            return None;
        }
        Err(why) => {
            report.add(Level::Error, "discovery", format!("{doc} could not be fetched: {why}"));
            return None;
        }
    };
    // The core's own parser: issuer (exact, or the template as configured), endpoint URLs, PKCE.
    let meta = match ProviderMetadata::from_json(&body, &p.issuer, p.allow_http) {
        Ok(meta) => meta,
        Err(e) => {
            report.add(Level::Error, "discovery", format!("{doc}: {e}"));
            return None;
        }
    };
    report.add(
        Level::Ok,
        "issuer",
        format!("{} (as the document names it)", meta.issuer),
    );
    let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    document_fields(p, &meta, &raw, report);
    Some(meta)
}

/// A list of strings in the document, if it has one.
fn list<'a>(raw: &'a Value, field: &str) -> Option<Vec<&'a str>> {
    raw.get(field)?
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
}

/// The fields the core does not need to parse but a working login does.
fn document_fields(p: &ProviderConfig, meta: &ProviderMetadata, raw: &Value, report: &mut Report) {
    match list(raw, "response_types_supported") {
        Some(types) if !types.contains(&"code") => report.add(
            Level::Error,
            "response_types_supported",
            format!(
                "lacks `code` ({}): edge-oidc uses the authorization code flow",
                types.join(", ")
            ),
        ),
        Some(_) => report.add(Level::Ok, "response_types_supported", "includes code"),
        None => report.add(
            Level::Warn,
            "response_types_supported",
            "missing (Discovery §3 requires it)",
        ),
    }
    match &meta.code_challenge_methods_supported {
        Some(_) => report.add(Level::Ok, "code_challenge_methods_supported", "includes S256"),
        None => report.add(
            Level::Warn,
            "code_challenge_methods_supported",
            "not listed: edge-oidc sends PKCE S256 anyway; the provider does not say it checks it",
        ),
    }
    if let ClientConfig::Static { .. } = p.client {
        let supported = meta.token_endpoint_auth_methods_supported.as_deref();
        match choose_method(
            p.auth_method,
            supported,
            p.client_secret.is_some(),
            p.private_key.is_some(),
        ) {
            Ok(m)
                if supported
                    .unwrap_or(&["client_secret_basic".to_owned()])
                    .iter()
                    .any(|s| s == m.name()) =>
            {
                report.add(
                    Level::Ok,
                    "token_endpoint_auth_method",
                    format!("{} (listed by the provider)", m.name()),
                )
            }
            Ok(m) => report.add(
                Level::Warn,
                "token_endpoint_auth_method",
                format!(
                    "{} is configured but not listed by the provider: it may refuse it",
                    m.name()
                ),
            ),
            Err(e) => report.add(Level::Error, "token_endpoint_auth_method", e.to_string()),
        }
    } else if meta.registration_endpoint.is_none() {
        report.add(
            Level::Error,
            "registration_endpoint",
            "missing, but the provider is configured with dynamic registration. Fix: register a client and set client_id",
        );
    }
    if let Some(algs) = list(raw, "id_token_signing_alg_values_supported") {
        if !p.allowed_algs.iter().any(|a| algs.contains(&a.name())) {
            report.add(
                Level::Error,
                "id_token_signing_alg_values_supported",
                format!("{} has none of the allowed algorithms", algs.join(", ")),
            );
        }
    }
    if let Some(scopes) = list(raw, "scopes_supported") {
        for scope in p.scope.split(' ').filter(|s| !s.is_empty() && !scopes.contains(s)) {
            report.add(
                Level::Warn,
                "scopes_supported",
                format!("does not list the requested scope `{scope}`"),
            );
        }
    }
    match &meta.end_session_endpoint {
        Some(url) => report.add(Level::Ok, "end_session_endpoint", url.clone()),
        None => report.add(
            Level::Info,
            "end_session_endpoint",
            format!(
                "none: logout ends this site's session only; the logged-out page says the user may still be signed in at {}",
                p.display_name
            ),
        ),
    }
    if meta.userinfo_endpoint.is_none() && p.fetch_userinfo && !p.required_claims.is_empty() {
        report.add(
            Level::Warn,
            "userinfo_endpoint",
            "none: required_claims are read from the ID token only",
        );
    }
}

/// The provider's key set: fetched, parsed by the core, with a key for an allowed algorithm.
fn jwks(p: &ProviderConfig, meta: &ProviderMetadata, timeout_ms: u64, report: &mut Report) {
    let url = &meta.jwks_uri;
    let body = match fetch(url, timeout_ms) {
        Ok((200, body)) => body,
        Ok((status, _)) => return report.add(Level::Error, "jwks_uri", format!("{url} answered HTTP {status}")),
        Err(why) => return report.add(Level::Error, "jwks_uri", format!("{url} could not be fetched: {why}")),
    };
    match Jwks::parse(&body) {
        Err(e) => report.add(Level::Error, "jwks_uri", format!("{url}: {e}")),
        Ok(jwks) => {
            let usable = jwks
                .keys()
                .iter()
                .filter(|k| p.allowed_algs.iter().any(|a| k.supports(*a)))
                .count();
            if usable == 0 {
                report.add(
                    Level::Error,
                    "jwks_uri",
                    format!("{url}: none of its {} key(s) fits an allowed algorithm", jwks.len()),
                );
            } else {
                report.add(Level::Ok, "jwks_uri", format!("{} key(s), {usable} usable", jwks.len()));
            }
        }
    }
}
