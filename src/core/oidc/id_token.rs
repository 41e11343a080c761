//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7) and the `at_hash` /
//! `c_hash` checks (§3.1.3.8, §3.2.2.9, §3.3.2.11).
//!
//! The token arrives from the token endpoint, but everything in it, header
//! included, is treated as attacker-controlled until the signature has been
//! checked with a key we chose: the algorithm comes from the configured
//! allow-list, never from the header alone, and the key type must fit it.
//! JWS parsing is jwt-compact's; the signature arithmetic is the runtime's
//! ([`Signatures`]: WebCrypto in the worker), asked only after every check
//! that needs no cryptography. This module adds the OpenID Connect rules.
//! Nothing here panics on input.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::Claims;
use serde::{de::Error as _, Deserialize, Deserializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use crate::core::crypto::Signatures;
use crate::core::oidc::issuer::{is_tenant_id, TenantIssuer};
use crate::core::oidc::jwks::{Alg, Jwks, KeySelectError};
use crate::core::oidc::jws::{self, JwsError};

pub use crate::core::oidc::jws::MAX_TOKEN_LEN;

/// Why an ID token was rejected. Messages never include token contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Not a compact JWS with a JSON header and JSON claims of the right
    /// types, or larger than [`MAX_TOKEN_LEN`]. The reason is a fixed text.
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is `none` or an HMAC algorithm, which are never accepted.
    // Display, not Debug: the worker is built without Debug formatting (scripts/build.sh).
    #[error("the ID token uses algorithm \"{0}\", which is never accepted (unsigned or HMAC)")]
    ForbiddenAlg(String),
    /// `alg` is not supported or not in the configured allow-list.
    #[error("the ID token is signed with algorithm \"{0}\", which the configuration does not allow")]
    AlgNotAllowed(String),
    /// No key could be chosen; [`KeySelectError::UnknownKid`] calls for one
    /// JWKS refetch (see [`IdTokenError::needs_jwks_refresh`]).
    #[error(transparent)]
    Key(#[from] KeySelectError),
    /// The signature does not verify with the provider's key.
    #[error("the ID token signature is invalid")]
    BadSignature,
    /// `iss` is absent or differs from the configured issuer (for an issuer template: from the
    /// template with the token's own `tid`).
    #[error("the ID token was not issued by the configured issuer")]
    WrongIssuer,
    /// The issuer is a template with `{tenantid}`, but the token's `tid` is absent or not a
    /// tenant id (a GUID), so there is no issuer to compare `iss` with.
    #[error("the ID token has no tenant id (tid) of the form the issuer template needs")]
    BadTenantId,
    /// `aud` is absent or does not contain our client_id.
    #[error("the ID token is not addressed to this client (aud)")]
    WrongAudience,
    /// Several audiences but no `azp` saying which party it was issued to.
    #[error("the ID token has several audiences but no authorized party (azp)")]
    MissingAzp,
    /// `azp` is present and is not our client_id.
    #[error("the ID token was issued to another client (azp)")]
    WrongAzp,
    /// `exp` is absent.
    #[error("the ID token has no expiry time (exp)")]
    MissingExp,
    /// `exp` is in the past, beyond the allowed clock skew.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is absent.
    #[error("the ID token has no issue time (iat)")]
    MissingIat,
    /// `iat` is in the future, beyond the allowed clock skew.
    #[error("the ID token's issue time is in the future; check the server clocks")]
    IssuedInFuture,
    /// `nbf` is in the future, beyond the allowed clock skew.
    #[error("the ID token is not valid yet (nbf)")]
    NotYetValid,
    /// A nonce was sent in the authentication request but the token has none.
    #[error("the ID token has no nonce, but this login sent one")]
    MissingNonce,
    /// The token's nonce is not the one sent for this login.
    #[error("the ID token's nonce does not match this login attempt")]
    NonceMismatch,
    /// `max_age` was requested but the token has no `auth_time`.
    #[error("the ID token has no authentication time (auth_time), which max_age requires")]
    MissingAuthTime,
    /// The last authentication is older than `max_age` allows.
    #[error("the last sign-in is older than the configured max_age; sign in again")]
    AuthTooOld,
    /// `sub` is absent or empty.
    #[error("the ID token has no subject (sub)")]
    MissingSub,
    /// `at_hash` / `c_hash` does not match the access token / code.
    #[error("the ID token's at_hash or c_hash does not match the token response")]
    TokenHashMismatch,
    /// An access token came with the ID token from the authorization endpoint, but the ID
    /// token has no `at_hash` (Core §3.2.2.10, §3.3.2.11).
    #[error("the ID token has no at_hash, which this response type requires")]
    MissingAtHash,
    /// A code came with the ID token from the authorization endpoint, but the ID token has no
    /// `c_hash` (Core §3.3.2.11).
    #[error("the ID token has no c_hash, which this response type requires")]
    MissingCHash,
    /// In the hybrid flow, the ID token from the token endpoint names another issuer or
    /// subject than the one from the authorization endpoint (Core §3.3.3.6).
    #[error("the ID tokens from the authorization and token endpoints name different users (iss or sub)")]
    SubjectMismatch,
    /// A refreshed ID token names another subject than the session's (Core §12.2: "its sub
    /// Claim Value MUST be the same as in the ID Token issued at the time of the original
    /// authentication").
    #[error("the refreshed ID token names another user (sub) than the session")]
    SubjectChanged,
    /// A refreshed ID token carries a nonce other than the original one, or an `auth_time`
    /// other than the original authentication's (Core §12.2).
    #[error("the refreshed ID token does not match the original authentication (nonce or auth_time)")]
    OriginalMismatch,
}

/// What kind of failure an [`IdTokenError`] is, for the wording of the error page and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenFault {
    /// The token is fine but not for our settings: `aud`/`azp` (our `client_id`) or the
    /// algorithm allow-list. The operator must fix the configuration.
    Configuration,
    /// The token failed a security check (signature, issuer, nonce, token hashes, a forbidden
    /// algorithm): a broken provider or an attack.
    Security,
    /// A time check failed: usually clocks that disagree.
    Clock,
    /// The last sign-in is older than `max_age` allows: the user must sign in again.
    Reauthenticate,
    /// The provider sent something that is not a usable ID token.
    Provider,
}

impl IdTokenError {
    /// The kind of failure.
    pub fn fault(&self) -> IdTokenFault {
        use IdTokenError as E;
        match self {
            E::WrongAudience | E::WrongAzp | E::MissingAzp | E::AlgNotAllowed(_) => IdTokenFault::Configuration,
            E::BadSignature
            | E::WrongIssuer
            | E::BadTenantId
            | E::MissingNonce
            | E::NonceMismatch
            | E::TokenHashMismatch
            | E::MissingAtHash
            | E::MissingCHash
            | E::SubjectMismatch
            | E::SubjectChanged
            | E::OriginalMismatch
            | E::ForbiddenAlg(_) => IdTokenFault::Security,
            E::Expired | E::IssuedInFuture | E::NotYetValid => IdTokenFault::Clock,
            E::AuthTooOld | E::MissingAuthTime => IdTokenFault::Reauthenticate,
            E::Malformed(_) | E::Key(_) | E::MissingExp | E::MissingIat | E::MissingSub => IdTokenFault::Provider,
        }
    }
}

impl IdTokenError {
    /// True when the token names a key the cached JWKS lacks: the provider
    /// may have rotated keys, so refetch the JWKS once and validate again.
    pub fn needs_jwks_refresh(&self) -> bool {
        matches!(self, IdTokenError::Key(KeySelectError::UnknownKid))
    }
}

/// Claims of a validated ID token (OpenID Connect Core §2, §5.1). Unknown
/// claims are kept in `extra`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct IdTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// Subject: the user's stable id at the issuer.
    pub sub: String,
    /// Audiences; JSON allows a single string or an array.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Not-before, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Nonce from the authentication request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Time of the user's authentication, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Access token hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authorization code hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// Session id (OpenID Connect Front-/Back-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the issuer verified the email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Preferred username; not unique, never an identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Every other claim, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The issuer a token must name.
#[derive(Debug, Clone, Copy)]
pub enum ExpectedIssuer<'a> {
    /// One issuer identifier, compared exactly with `iss`.
    Exact(&'a str),
    /// A template with `{tenantid}` (Microsoft Entra ID's multi-tenant authorities): `iss` must
    /// equal it with the token's own `tid` (a GUID) in place of the placeholder (see
    /// [`crate::core::oidc::issuer`]). Which tenants may sign in is the caller's policy.
    Tenant(&'a TenantIssuer),
}

/// What a valid token must match. Everything comes from configuration or the
/// login state, never from the token.
#[derive(Debug, Clone, Copy)]
pub struct ValidationParams<'a> {
    /// Expected issuer.
    pub issuer: ExpectedIssuer<'a>,
    /// Our client_id; must be in `aud` (and equal `azp` when present).
    pub client_id: &'a str,
    /// Allowed signature algorithms, from configuration.
    pub allowed_algs: &'a [Alg],
    /// `Some`: the nonce sent in the authentication request; the `nonce`
    /// claim is then required and must be equal.
    pub expected_nonce: Option<&'a str>,
    /// Current time, unix seconds.
    pub now: i64,
    /// Clock skew tolerance in seconds for `exp`, `iat`, `nbf` and `max_age`.
    pub leeway_secs: i64,
    /// `Some`: the `max_age` sent in the authentication request; `auth_time`
    /// is then required.
    pub max_age_secs: Option<i64>,
}

/// The claims as they come off the wire, minus `exp` / `iat` / `nbf`, which
/// jwt-compact's `Claims` parses (once). Every field is optional here so that
/// a missing one gets its own error rather than a generic parse failure.
/// Named fields reject duplicates, so `{"iss":"a","iss":"b"}` is malformed
/// rather than silently last-one-wins.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(deserialize_with = "opt_one_or_many")]
    aud: Option<Vec<String>>,
    nonce: Option<String>,
    azp: Option<String>,
    auth_time: Option<i64>,
    acr: Option<String>,
    // Some providers send a single string.
    #[serde(deserialize_with = "opt_one_or_many")]
    amr: Option<Vec<String>>,
    at_hash: Option<String>,
    c_hash: Option<String>,
    sid: Option<String>,
    email: Option<String>,
    // Some providers (Apple, for one) send "true" / "false" strings.
    #[serde(deserialize_with = "opt_lenient_bool")]
    email_verified: Option<bool>,
    name: Option<String>,
    preferred_username: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The `at_hash` / `c_hash` expectations of a response (Core §3.1.3.8, §3.2.2.9, §3.3.2.11):
/// the access token and code that came with the ID token, and whether the hashes must be there.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenHashes<'a> {
    /// The access token issued with the ID token; `at_hash` is checked against it when present.
    pub access_token: Option<&'a str>,
    /// `at_hash` is required (an access token from the authorization endpoint).
    pub require_at_hash: bool,
    /// The code issued with the ID token; `c_hash` is checked against it when present.
    pub code: Option<&'a str>,
    /// `c_hash` is required (hybrid flows with `code id_token`).
    pub require_c_hash: bool,
}

/// An ID token that passed every check of Core §3.1.3.7 and the token hashes: it can only be
/// made by [`validate`].
#[derive(Debug, Clone)]
pub struct ValidatedIdToken {
    raw: String,
    claims: IdTokenClaims,
    alg: Alg,
}

impl ValidatedIdToken {
    /// The compact token, as received (for `id_token_hint`).
    pub fn raw(&self) -> &str {
        &self.raw
    }
    /// The validated claims.
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }
    /// The algorithm it was signed with (from the allow-list).
    pub fn alg(&self) -> Alg {
        self.alg
    }
    /// The raw token and the claims.
    pub fn into_parts(self) -> (String, IdTokenClaims) {
        (self.raw, self.claims)
    }
}

/// Validates an ID token: Core §3.1.3.7 ([`validate_claims`]) and then `at_hash` / `c_hash`
/// as `hashes` says, each computed with the hash of the token's own (allow-listed) `alg`.
pub async fn validate(
    token: &str,
    jwks: &Jwks,
    params: &ValidationParams<'_>,
    hashes: TokenHashes<'_>,
    signatures: &dyn Signatures,
) -> Result<ValidatedIdToken, IdTokenError> {
    let (claims, alg) = validate_claims_alg(token, jwks, params, signatures).await?;
    let checks = [
        (
            hashes.access_token,
            claims.at_hash.as_deref(),
            hashes.require_at_hash,
            IdTokenError::MissingAtHash,
        ),
        (
            hashes.code,
            claims.c_hash.as_deref(),
            hashes.require_c_hash,
            IdTokenError::MissingCHash,
        ),
    ];
    for (value, claim, required, missing) in checks {
        match (value, claim) {
            (Some(value), Some(claim)) => verify_token_hash(alg, value, claim)?,
            (_, None) if required => return Err(missing),
            // A hash without the value it covers proves nothing, but hurts nothing either.
            _ => {}
        }
    }
    Ok(ValidatedIdToken {
        raw: token.to_owned(),
        claims,
        alg,
    })
}

/// What a refreshed ID token must share with the ID token of the original authentication.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    /// The session's subject.
    pub sub: &'a str,
    /// The original ID token's nonce, if it had one.
    pub nonce: Option<&'a str>,
    /// The original ID token's `auth_time`, if it had one.
    pub auth_time: Option<i64>,
}

/// Validates an ID token from a refresh token grant (Core §12.2): everything [`validate`]
/// checks (signature with an allowed algorithm, `iss`, `aud`, `azp`, `exp`, `iat`, `nbf`,
/// `at_hash`), with no nonce expected (`params.expected_nonce` must be `None`), and then: "its
/// iss Claim Value MUST be the same as in the ID Token issued at the time of the original
/// authentication" (the configured issuer, checked by [`validate`]); "its sub Claim Value MUST
/// be the same"; "if the ID Token contains an auth_time Claim, its value MUST represent the time
/// of the original authentication"; "its nonce Claim Value, if present, MUST be the same"; "its
/// aud Claim Value MUST be the same" and "its azp Claim Value ... if present" (our client id, as
/// [`validate`] checks).
pub async fn validate_refreshed(
    token: &str,
    jwks: &Jwks,
    params: &ValidationParams<'_>,
    original: Original<'_>,
    hashes: TokenHashes<'_>,
    signatures: &dyn Signatures,
) -> Result<ValidatedIdToken, IdTokenError> {
    let params = ValidationParams {
        expected_nonce: None,
        max_age_secs: None,
        ..*params
    };
    let validated = validate(token, jwks, &params, hashes, signatures).await?;
    let c = &validated.claims;
    if c.sub != original.sub {
        return Err(IdTokenError::SubjectChanged);
    }
    let nonce_changed = match (c.nonce.as_deref(), original.nonce) {
        (Some(new), Some(old)) => !bool::from(new.as_bytes().ct_eq(old.as_bytes())),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let auth_time_changed = matches!((c.auth_time, original.auth_time), (Some(new), Some(old)) if new != old);
    if nonce_changed || auth_time_changed {
        return Err(IdTokenError::OriginalMismatch);
    }
    Ok(validated)
}

/// The claims of an ID token validated earlier and kept in the sealed session record (the
/// original of a refresh), read without checking the signature again: the seal proves we
/// stored it after validating it.
pub fn stored_claims(token: &str) -> Option<IdTokenClaims> {
    into_id_claims(jws::stored_claims::<WireClaims>(token)?).ok()
}

/// Header info read WITHOUT trusting it (to choose a key or decide on a JWKS
/// refetch): the algorithm and the `kid`, if any. `none` and HS* are refused
/// here already.
pub fn peek_header(token: &str) -> Result<(Alg, Option<String>), IdTokenError> {
    let (untrusted, alg) = jws::parse(token)?;
    Ok((alg, untrusted.header().key_id.clone()))
}

/// Core §3.1.3.7 alone, returning the claims (the token hashes are [`validate`]'s): what the
/// unit tests exercise one check at a time.
#[cfg(test)]
async fn validate_claims(
    token: &str,
    jwks: &Jwks,
    params: &ValidationParams<'_>,
    signatures: &dyn Signatures,
) -> Result<IdTokenClaims, IdTokenError> {
    validate_claims_alg(token, jwks, params, signatures)
        .await
        .map(|(c, _)| c)
}

/// [`validate_claims`], also giving the algorithm the token was verified with.
async fn validate_claims_alg(
    token: &str,
    jwks: &Jwks,
    params: &ValidationParams<'_>,
    signatures: &dyn Signatures,
) -> Result<(IdTokenClaims, Alg), IdTokenError> {
    // Step 1 (decrypt an encrypted ID token): not supported; a JWE has five parts and is
    // rejected as malformed. `none` and HS* are refused by jws::parse (step 8: HS* would be keyed
    // with the client secret; we never verify MACs, so an HS* token cannot be trusted).
    // Step 7: "The alg value SHOULD be the default of RS256 or the algorithm sent by the Client
    // in the id_token_signed_response_alg parameter": the allow-list is configuration, checked
    // before any key is touched. Step 6: "The Client MUST validate the signature ... using the
    // algorithm specified in the JWT alg Header Parameter. The Client MUST use the keys provided
    // by the Issuer." We always check it, TLS notwithstanding.
    let verified = jws::verify::<WireClaims>(
        token,
        jwks,
        params.allowed_algs,
        signatures,
        "the claims are not a JSON object with valid ID token claim types",
    )
    .await?;
    let alg = verified.alg;
    let claims = into_id_claims(verified.claims)?;
    check_issuer_and_audience(&claims, params)?;
    check_times(&claims, params)?;
    check_nonce(&claims, params)?;
    check_auth_time(&claims, params)?;
    Ok((claims, alg))
}

impl From<JwsError> for IdTokenError {
    fn from(e: JwsError) -> IdTokenError {
        match e {
            JwsError::Malformed(why) => IdTokenError::Malformed(why),
            JwsError::ForbiddenAlg(alg) => IdTokenError::ForbiddenAlg(alg),
            JwsError::AlgNotAllowed(alg) => IdTokenError::AlgNotAllowed(alg),
            JwsError::Key(e) => IdTokenError::Key(e),
            JwsError::BadSignature => IdTokenError::BadSignature,
        }
    }
}

/// Builds [`IdTokenClaims`] from verified claims, requiring `exp`, `iat` and
/// a non-empty `sub` (OpenID Connect Core §2 makes all three REQUIRED).
fn into_id_claims(claims: Claims<WireClaims>) -> Result<IdTokenClaims, IdTokenError> {
    let exp = claims.expiration.ok_or(IdTokenError::MissingExp)?.timestamp();
    let iat = claims.issued_at.ok_or(IdTokenError::MissingIat)?.timestamp();
    let nbf = claims.not_before.map(|t| t.timestamp());
    let w = claims.custom;
    Ok(IdTokenClaims {
        iss: w.iss.ok_or(IdTokenError::WrongIssuer)?,
        sub: w.sub.filter(|s| !s.is_empty()).ok_or(IdTokenError::MissingSub)?,
        aud: w.aud.ok_or(IdTokenError::WrongAudience)?,
        exp,
        iat,
        nbf,
        nonce: w.nonce,
        azp: w.azp,
        auth_time: w.auth_time,
        acr: w.acr,
        amr: w.amr,
        at_hash: w.at_hash,
        c_hash: w.c_hash,
        sid: w.sid,
        email: w.email,
        email_verified: w.email_verified,
        name: w.name,
        preferred_username: w.preferred_username,
        extra: w.extra,
    })
}

/// §3.1.3.7 steps 2-5.
fn check_issuer_and_audience(c: &IdTokenClaims, p: &ValidationParams<'_>) -> Result<(), IdTokenError> {
    // Step 2: "The Issuer Identifier for the OpenID Provider ... MUST exactly
    // match the value of the iss (issuer) Claim." No normalisation: a
    // trailing slash is a different issuer (mix-up defence).
    match p.issuer {
        ExpectedIssuer::Exact(issuer) if c.iss != issuer => return Err(IdTokenError::WrongIssuer),
        ExpectedIssuer::Exact(_) => {}
        // A templated issuer (Entra multi-tenant): Microsoft's documented rule is that `iss` is
        // the template with the token's own `tid` in it. `tid` must be a GUID, so no other text
        // can be spliced into the issuer; the comparison itself stays exact.
        ExpectedIssuer::Tenant(template) => {
            let tid = c
                .extra
                .get("tid")
                .and_then(Value::as_str)
                .filter(|t| is_tenant_id(t))
                .ok_or(IdTokenError::BadTenantId)?;
            if c.iss != template.issuer_for(tid) {
                return Err(IdTokenError::WrongIssuer);
            }
        }
    }
    // Step 3: "The Client MUST validate that the aud (audience) Claim
    // contains its client_id value".
    if !c.aud.iter().any(|a| a == p.client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    // Step 4: "If the ID Token contains multiple audiences, the Client SHOULD
    // verify that an azp Claim is present." We make it a MUST: the other
    // audiences are parties we know nothing about (step 3's "additional
    // audiences not trusted by the Client"), and azp says the token is ours.
    if c.aud.len() > 1 && c.azp.is_none() {
        return Err(IdTokenError::MissingAzp);
    }
    // Step 5: "If an azp (authorized party) Claim is present, the Client
    // SHOULD verify that its client_id is the Claim Value."
    if c.azp.as_deref().is_some_and(|azp| azp != p.client_id) {
        return Err(IdTokenError::WrongAzp);
    }
    Ok(())
}

/// §3.1.3.7 steps 9-10, plus `nbf` (RFC 7519 §4.1.5). Arithmetic saturates:
/// timestamps are attacker-chosen numbers.
fn check_times(c: &IdTokenClaims, p: &ValidationParams<'_>) -> Result<(), IdTokenError> {
    let leeway = p.leeway_secs.max(0);
    // Step 9: "The current time MUST be before the time represented by the
    // exp Claim", with leeway for clock skew between us and the provider.
    if c.exp <= p.now.saturating_sub(leeway) {
        return Err(IdTokenError::Expired);
    }
    // Step 10: "The iat Claim can be used to reject tokens that were issued
    // too far away from the current time". A token from the future means a
    // skewed clock or a forged timeline; a past iat is bounded by exp.
    if c.iat > p.now.saturating_add(leeway) {
        return Err(IdTokenError::IssuedInFuture);
    }
    // RFC 7519 §4.1.5: the JWT "MUST NOT be accepted for processing" before nbf.
    if c.nbf.is_some_and(|nbf| nbf > p.now.saturating_add(leeway)) {
        return Err(IdTokenError::NotYetValid);
    }
    Ok(())
}

/// §3.1.3.7 step 11: "If a nonce value was sent in the Authentication
/// Request, a nonce Claim MUST be present and its value checked to verify that
/// it is the same value". The nonce binds the token to this browser's login
/// attempt; compared in constant time as it is a secret until used.
fn check_nonce(c: &IdTokenClaims, p: &ValidationParams<'_>) -> Result<(), IdTokenError> {
    let Some(expected) = p.expected_nonce else {
        return Ok(());
    };
    let nonce = c.nonce.as_deref().ok_or(IdTokenError::MissingNonce)?;
    if bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(IdTokenError::NonceMismatch)
    }
}

/// §3.1.3.7 step 13: "If the auth_time Claim was requested, either through a
/// specific request for this Claim or by using the max_age parameter, the
/// Client SHOULD check the auth_time Claim value and request
/// re-authentication if it determines too much time has elapsed". §3.1.2.1
/// makes auth_time REQUIRED in the response when max_age was sent.
/// (Step 12, acr, is policy and left to the caller.)
fn check_auth_time(c: &IdTokenClaims, p: &ValidationParams<'_>) -> Result<(), IdTokenError> {
    let Some(max_age) = p.max_age_secs else {
        return Ok(());
    };
    let auth_time = c.auth_time.ok_or(IdTokenError::MissingAuthTime)?;
    let elapsed = p.now.saturating_sub(auth_time);
    if elapsed > max_age.saturating_add(p.leeway_secs.max(0)) {
        return Err(IdTokenError::AuthTooOld);
    }
    Ok(())
}

/// The `at_hash` / `c_hash` value for `value` under `alg` (§3.1.3.6,
/// §3.3.2.11): "the base64url encoding of the left-most half of the hash of
/// the octets of the ASCII representation" of the value, "where the hash
/// algorithm used is the hash algorithm used in the alg Header Parameter".
/// EdDSA with Ed25519 uses SHA-512, as Ed25519 itself does.
pub fn token_hash(alg: Alg, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        Alg::RS256 | Alg::PS256 | Alg::ES256 => Sha256::digest(value).to_vec(),
        Alg::RS384 | Alg::PS384 => Sha384::digest(value).to_vec(),
        Alg::RS512 | Alg::PS512 | Alg::EdDSA => Sha512::digest(value).to_vec(),
    };
    let half = digest.get(..digest.len() / 2).unwrap_or_default();
    Base64UrlUnpadded::encode_string(half)
}

/// `at_hash` / `c_hash` check (§3.1.3.8, §3.2.2.9, §3.3.2.11): `expected` is
/// the claim, `value` the access token or code from the same response, `alg`
/// the ID token's algorithm. Constant-time compare.
pub fn verify_token_hash(alg: Alg, value: &str, expected: &str) -> Result<(), IdTokenError> {
    let computed = token_hash(alg, value);
    if bool::from(computed.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(IdTokenError::TokenHashMismatch)
    }
}

/// `aud` / `amr` on the wire: a single string or an array of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    OneOrMany::deserialize(d).map(Vec::from)
}

fn opt_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<OneOrMany>::deserialize(d).map(|v| v.map(Vec::from))
}

/// `true` / `false`, also as the strings some providers (Apple) send.
fn opt_lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        Str(String),
    }
    match Option::<BoolOrString>::deserialize(d)? {
        None => Ok(None),
        Some(BoolOrString::Bool(b)) => Ok(Some(b)),
        Some(BoolOrString::Str(s)) if s == "true" => Ok(Some(true)),
        Some(BoolOrString::Str(s)) if s == "false" => Ok(Some(false)),
        Some(BoolOrString::Str(_)) => Err(D::Error::custom("expected a boolean")),
    }
}

#[cfg(test)]
mod tests;
