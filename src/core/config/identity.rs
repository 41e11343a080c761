//! `assertion` and `forward`: what the origin receives about the user besides the identity
//! headers — a signed assertion it can verify (src/core/site/assertion.rs), the session's tokens,
//! and claims mapped to headers. Site-wide defaults; a rule may set its own assertion audience.

use super::{err, ConfigError};
use crate::core::site::assertion::AssertionKey;
use serde::Deserialize;

/// The secret holding the key that signs assertions.
pub const ASSERTION_KEY_SECRET: &str = "ASSERTION_KEY";
/// The secret holding the key published beside it during a rotation (never signs).
pub const ASSERTION_KEY_NEXT_SECRET: &str = "ASSERTION_KEY_NEXT";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAssertion {
    #[serde(default = "default_assertion_header")]
    header: String,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default = "default_assertion_lifetime")]
    lifetime_secs: i64,
    #[serde(default = "default_assertion_jwks_path")]
    jwks_path: String,
    #[serde(default)]
    claims: Vec<String>,
}

fn default_assertion_header() -> String {
    "X-Edge-Oidc-Assertion".into()
}
fn default_assertion_lifetime() -> i64 {
    300
}
fn default_assertion_jwks_path() -> String {
    "/.well-known/edge-oidc/jwks.json".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForward {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    claim_headers: Vec<RawClaimHeader>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaimHeader {
    claim: String,
    header: String,
}

/// The signed identity assertion (`[assertion]`).
#[derive(Debug)]
pub struct AssertionConfig {
    /// The request header carrying it (lower-case).
    pub header: String,
    /// The default `aud`; `None`: the worker's public origin (the `iss`).
    pub audience: Option<String>,
    /// How long one assertion is valid (`exp - iat`).
    pub lifetime_secs: i64,
    /// Where the public keys are published.
    pub jwks_path: String,
    /// Claims of the session copied into the assertion (besides sub, email, name).
    pub claims: Vec<CopiedClaim>,
    /// The key that signs.
    pub key: AssertionKey,
    /// The key published beside it (the next one, or the previous one after a switch).
    pub next: Option<AssertionKey>,
}

/// What else goes to the origin (`[forward]`).
#[derive(Debug, Default)]
pub struct ForwardConfig {
    /// The header for the session's access token (lower-case); `authorization`: as
    /// `Authorization: Bearer <token>`.
    pub access_token: Option<String>,
    /// The header for the session's ID token (lower-case).
    pub id_token: Option<String>,
    /// Claims sent as headers: (the claim, header name lower-case).
    pub claim_headers: Vec<(CopiedClaim, String)>,
}

/// A claim the origin receives (in the assertion or a header): one of the identity's own fields,
/// or one projected into the identity cookie at login (`Config::projection`).
#[derive(Debug, Clone)]
pub struct CopiedClaim {
    /// As configured: the claim's name in the assertion.
    pub name: String,
    /// Where it is in the identity's projected claims (a JSON Pointer); `None`: one of the
    /// identity's own fields (`email`, `email_verified`, `name`, `acr`, `sid`, `idp`).
    pub pointer: Option<String>,
}

/// The identity's own fields, which need no projection.
pub const IDENTITY_FIELDS: [&str; 6] = ["email", "email_verified", "name", "acr", "sid", "idp"];

fn copied(key: &str, name: &str) -> Result<CopiedClaim, ConfigError> {
    check_claim_name(key, name)?;
    if IDENTITY_FIELDS.contains(&name) {
        return Ok(CopiedClaim {
            name: name.to_owned(),
            pointer: None,
        });
    }
    let path = super::rules::ClaimPath::parse(&serde_json::Value::String(name.to_owned()))
        .map_err(|e| err(key, e, "name a claim, or a dotted path into one (`realm_access.roles`)"))?;
    Ok(CopiedClaim {
        name: name.to_owned(),
        pointer: Some(path.pointer),
    })
}

/// Adds the claims the assertion and the claim headers copy to what the identity cookie
/// carries: their whole values (at most `MAX_KEPT` per claim), not only those a rule names.
pub(super) fn project_copied(
    spec: &mut crate::core::site::rules::ProjectionSpec,
    assertion: Option<&AssertionConfig>,
    forward: &ForwardConfig,
) -> Result<(), ConfigError> {
    let names = assertion
        .into_iter()
        .flat_map(|a| a.claims.iter())
        .chain(forward.claim_headers.iter().map(|(c, _)| c));
    for c in names {
        if c.pointer.is_none() {
            continue;
        }
        let path = super::rules::ClaimPath::parse(&serde_json::Value::String(c.name.clone()))
            .map_err(|e| err(c.name.clone(), e, "name a claim"))?;
        match spec.claims.iter_mut().find(|p| p.path == path) {
            Some(entry) => entry.keep = None,
            None => spec.claims.push(crate::core::site::rules::Projected {
                key: path.pointer.clone(),
                path,
                keep: None,
            }),
        }
    }
    Ok(())
}

impl ForwardConfig {
    /// Whether the session record's tokens are needed on forwarded requests.
    pub fn passes_tokens(&self) -> bool {
        self.access_token.is_some() || self.id_token.is_some()
    }

    /// Every header name this section sets (lower-case): client-sent copies are removed.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.access_token
            .iter()
            .chain(self.id_token.iter())
            .map(String::as_str)
            .chain(self.claim_headers.iter().map(|(_, h)| h.as_str()))
    }
}

/// A header name edge-oidc sets on forwarded requests: a token, not a reserved one.
pub(super) fn header_name(key: &str, v: &str, allow_authorization: bool) -> Result<String, ConfigError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(err(
            key,
            format!("`{v}` is not a valid header name"),
            "use e.g. X-Auth-Groups",
        ));
    }
    let lower = v.to_ascii_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "cookie" | "host" | "content-length" | "transfer-encoding" | "connection" | "upgrade"
    ) || (lower == "authorization" && !allow_authorization);
    if reserved {
        return Err(err(key, format!("`{v}` is a reserved header"), "use an X-… name"));
    }
    Ok(lower)
}

pub(super) fn validate_assertion(
    raw: Option<RawAssertion>,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<AssertionConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let header = header_name("assertion.header", &raw.header, false)?;
    if !(30..=3600).contains(&raw.lifetime_secs) {
        return Err(err(
            "assertion.lifetime_secs",
            "must be between 30 and 3600",
            "use e.g. 300 (a signed assertion is reused for up to three quarters of it)",
        ));
    }
    if let Some(aud) = &raw.audience {
        check_audience("assertion.audience", aud)?;
    }
    let jwks_path = super::canonical_path("assertion.jwks_path", &raw.jwks_path)?;
    let claims = raw
        .claims
        .iter()
        .enumerate()
        .map(|(i, c)| copied(&format!("assertion.claims[{i}]"), c))
        .collect::<Result<Vec<_>, _>>()?;
    let key = read_key(ASSERTION_KEY_SECRET, secret)?.ok_or_else(|| {
        err(
            ASSERTION_KEY_SECRET,
            "secret is missing ([assertion] is configured)",
            "generate a P-256 key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out assertion.pem`) and run `wrangler secret put ASSERTION_KEY < assertion.pem`",
        )
    })?;
    let next = read_key(ASSERTION_KEY_NEXT_SECRET, secret)?;
    if next.as_ref().is_some_and(|n| n.kid() == key.kid()) {
        return Err(err(
            ASSERTION_KEY_NEXT_SECRET,
            "is the same key as ASSERTION_KEY",
            "put the new (or the previous) key there, or delete it: `wrangler secret delete ASSERTION_KEY_NEXT`",
        ));
    }
    Ok(Some(AssertionConfig {
        header,
        audience: raw.audience,
        lifetime_secs: raw.lifetime_secs,
        jwks_path,
        claims,
        key,
        next,
    }))
}

fn read_key(name: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<Option<AssertionKey>, ConfigError> {
    let Some(value) = secret(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    AssertionKey::parse(&value).map(Some).map_err(|e| {
        err(
            name,
            format!("secret is not a usable key ({e})"),
            "store a P-256 private key as PKCS#8 PEM (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) or as a private JWK",
        )
    })
}

/// An audience: a URI or a plain identifier of printable ASCII without spaces.
pub(super) fn check_audience(key: &str, aud: &str) -> Result<(), ConfigError> {
    if aud.is_empty() || aud.len() > 512 || !aud.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(
            key,
            "is not an audience (printable ASCII without spaces, at most 512 bytes)",
            "use the origin's URL or an identifier such as `https://app.example.com`",
        ));
    }
    Ok(())
}

/// A claim name or a dotted path into nested JSON (`realm_access.roles`).
pub(super) fn check_claim_name(key: &str, claim: &str) -> Result<(), ConfigError> {
    let reserved = matches!(claim, "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "sub");
    if claim.is_empty() || claim.len() > 256 || !claim.bytes().all(|b| b.is_ascii_graphic()) || reserved {
        return Err(err(
            key,
            format!("`{claim}` is not a claim that can be copied"),
            "name a claim of the ID token or UserInfo (not iss, aud, exp, iat, nbf, jti or sub), e.g. `groups`",
        ));
    }
    Ok(())
}

pub(super) fn validate_forward(raw: RawForward) -> Result<ForwardConfig, ConfigError> {
    let access_token = raw
        .access_token
        .as_deref()
        .map(|h| header_name("forward.access_token", h, true))
        .transpose()?;
    let id_token = raw
        .id_token
        .as_deref()
        .map(|h| header_name("forward.id_token", h, false))
        .transpose()?;
    let claim_headers = raw
        .claim_headers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let claim = copied(&format!("forward.claim_headers[{i}].claim"), &m.claim)?;
            let header = header_name(&format!("forward.claim_headers[{i}].header"), &m.header, false)?;
            Ok((claim, header))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(ForwardConfig {
        access_token,
        id_token,
        claim_headers,
    })
}

#[cfg(test)]
mod tests;
