//! Signed JWTs from a provider (RFC 7515 compact JWS): what ID tokens (Core §3.1.3.7) and logout
//! tokens (Back-Channel Logout 1.0 §2.6) share before their own claim rules.
//!
//! Everything in the token, header included, is attacker-controlled until the signature has been
//! checked with a key we chose: the algorithm must be on the configured allow-list (never `none`
//! or HMAC: an HS* token would be keyed with the client secret, the classic "alg confusion"
//! hole), the key comes from the provider's JWKS and must fit the algorithm, and the signature
//! arithmetic is the runtime's ([`Signatures`]: WebCrypto in the worker). JWS parsing is
//! jwt-compact's. Nothing here panics on input.

use jwt_compact::{Claims, ParseError, UntrustedToken};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::core::crypto::{self, Signatures};
use crate::core::oidc::jwks::{Alg, Jwks, KeySelectError};

/// Longest token looked at. Real ID and logout tokens are a few KiB; the cap bounds the work an
/// oversized (hostile or broken) input can cause.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Why a JWS was not accepted, before any claim was looked at. Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a compact JWS with a JSON header and JSON claims, or larger than [`MAX_TOKEN_LEN`].
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is `none` or an HMAC algorithm, which are never accepted.
    #[error("algorithm \"{0}\" is never accepted (unsigned or HMAC)")]
    ForbiddenAlg(String),
    /// `alg` is not supported or not in the configured allow-list.
    #[error("algorithm \"{0}\" is not allowed by the configuration")]
    AlgNotAllowed(String),
    /// No key could be chosen; [`KeySelectError::UnknownKid`] calls for one JWKS refetch.
    #[error(transparent)]
    Key(#[from] KeySelectError),
    /// The signature does not verify with the provider's key.
    #[error("the signature is invalid")]
    BadSignature,
}

/// Header fields jwt-compact does not model but we must look at.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HeaderExt {
    /// RFC 7515 §4.1.11: extensions the recipient MUST understand.
    #[serde(default)]
    crit: Option<Value>,
}

/// A token whose signature verified with a provider key, with its claims (not yet checked).
pub(crate) struct Verified<C> {
    /// The claims: jwt-compact's `exp`/`iat`/`nbf` plus the custom ones.
    pub claims: Claims<C>,
    /// The algorithm it was verified with (from the allow-list).
    pub alg: Alg,
    /// The header's `typ`, if any (RFC 7519 §5.1; Back-Channel Logout §2.4 types its tokens).
    pub typ: Option<String>,
}

/// Parses the compact JWS and maps its `alg` to an [`Alg`], refusing `none` / HS* explicitly
/// and unknown algorithms generically.
pub(crate) fn parse(token: &str) -> Result<(UntrustedToken<'_, HeaderExt>, Alg), JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed("the token is too large"));
    }
    let untrusted = UntrustedToken::<HeaderExt>::try_from(token).map_err(|e| {
        JwsError::Malformed(match e {
            ParseError::InvalidTokenStructure => {
                "it is not three dot-separated parts (encrypted tokens are not supported)"
            }
            ParseError::InvalidBase64Encoding => "a part is not valid base64url",
            ParseError::MalformedHeader(_) => "the header is not a valid JOSE header",
            ParseError::UnsupportedContentType(_) => "the header has an unsupported content type",
            _ => "the token cannot be parsed",
        })
    })?;
    // RFC 7515 §4.1.11: a recipient that does not understand a listed extension MUST reject the
    // JWS; we understand none.
    if untrusted.header().other_fields.crit.is_some() {
        return Err(JwsError::Malformed(
            "the header lists critical extensions (crit), which are not supported",
        ));
    }
    let name = untrusted.algorithm();
    let is_hmac = name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS"));
    if is_hmac || name.eq_ignore_ascii_case("none") {
        return Err(JwsError::ForbiddenAlg(printable_alg(name)));
    }
    let alg = Alg::from_name(name).ok_or_else(|| JwsError::AlgNotAllowed(printable_alg(name)))?;
    Ok((untrusted, alg))
}

/// The header's `alg` for an error message: it is attacker-controlled, so anything that does not
/// look like a JOSE algorithm name is replaced.
fn printable_alg(name: &str) -> String {
    let plausible =
        !name.is_empty() && name.len() <= 16 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_+".contains(&b));
    if plausible { name } else { "(unrecognised)" }.to_owned()
}

/// Parses `token`, checks its algorithm against `allowed_algs` before any key is touched, picks
/// the key from `jwks` and verifies the signature. The order is jwt-compact's: signature length,
/// then claims (malformed claims are reported as such whatever the signature), then the
/// signature itself. `claims_problem` words a claims set that does not parse as `C`.
pub(crate) async fn verify<C: DeserializeOwned>(
    token: &str,
    jwks: &Jwks,
    allowed_algs: &[Alg],
    signatures: &dyn Signatures,
    claims_problem: &'static str,
) -> Result<Verified<C>, JwsError> {
    let (untrusted, alg) = parse(token)?;
    if !allowed_algs.contains(&alg) {
        return Err(JwsError::AlgNotAllowed(alg.name().to_owned()));
    }
    let key = jwks.select(untrusted.header().key_id.as_deref(), alg)?;
    if !key.supports(alg) {
        return Err(JwsError::Key(KeySelectError::NoSuitableKey(alg)));
    }
    let signature = untrusted.signature_bytes();
    if signature.len() != key.key().signature_len() {
        return Err(JwsError::BadSignature);
    }
    let claims = untrusted
        .deserialize_claims_unchecked::<C>()
        .map_err(|_| JwsError::Malformed(claims_problem))?;
    // The JWS signing input: everything before the last dot (parse checked there are exactly
    // three parts).
    let (signing_input, _) = token
        .rsplit_once('.')
        .ok_or(JwsError::Malformed("the token cannot be parsed"))?;
    if !crypto::verify(signatures, alg, key.key(), signing_input.as_bytes(), signature).await {
        return Err(JwsError::BadSignature);
    }
    Ok(Verified {
        claims,
        alg,
        typ: untrusted.header().token_type.clone(),
    })
}

/// The claims of a token this worker validated earlier and kept sealed (the session record's ID
/// token), read without checking the signature again: the seal proves we stored it.
pub(crate) fn stored_claims<C: DeserializeOwned>(token: &str) -> Option<Claims<C>> {
    let (untrusted, _) = parse(token).ok()?;
    untrusted.deserialize_claims_unchecked::<C>().ok()
}
