//! The identity assertion to the origin: a short JWT signed by the worker (ES256), sent in a
//! request header on every request let through on a session, with the public keys published at
//! a JWKS path — what Cloudflare Access (`Cf-Access-Jwt-Assertion`) and Pomerium
//! (`X-Pomerium-Jwt-Assertion`) give their origins. The origin verifies it with any JWT library
//! against the JWKS: signature, `iss` (the worker's public origin), `aud`, `exp`.
//!
//! A signature is WebCrypto work (tens of µs plus a turn of the event loop), too much per
//! request: a signed assertion is kept per isolate ([`AssertionCache`]) for its session and
//! audience and reused until a quarter of its lifetime is left, so a session pays one signature
//! per isolate per three quarters of `assertion.lifetime_secs`.

use crate::core::crypto::{PrivateKeyJwk, Signatures};
use crate::core::oidc::client_auth::{sign_jws, PrivateKey};
use crate::core::session::Identity;
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Why a configured assertion key was refused. Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionKeyError {
    /// PEM that is not a PKCS#8 or SEC1 P-256 private key with its public point.
    #[error("the PEM is not a P-256 private key with its public key ({0})")]
    Pem(&'static str),
    /// A JWK that is not a P-256 private key.
    #[error("the JWK is not a P-256 private key ({0})")]
    Jwk(String),
}

/// A P-256 key that signs assertions (ES256), with its public half as a JWK.
#[derive(Debug)]
pub struct AssertionKey(PrivateKey);

impl AssertionKey {
    /// From a private JWK (`{"kty":"EC","crv":"P-256",…,"d":…}`) or PEM: PKCS#8 (`BEGIN
    /// PRIVATE KEY`, what `openssl genpkey` writes) or SEC1 (`BEGIN EC PRIVATE KEY`).
    pub fn parse(value: &str) -> Result<AssertionKey, AssertionKeyError> {
        let value = value.trim();
        let jwk = if value.starts_with("-----BEGIN") {
            pem_to_jwk(value)?
        } else {
            value.to_owned()
        };
        let key = PrivateKey::from_jwk(&jwk).map_err(|e| AssertionKeyError::Jwk(e.to_string()))?;
        if !matches!(key.jwk(), PrivateKeyJwk::P256 { .. }) {
            return Err(AssertionKeyError::Jwk("an RSA key; assertions are signed ES256".into()));
        }
        Ok(AssertionKey(key))
    }

    /// The key id in the JWKS and in each assertion's header.
    pub fn kid(&self) -> &str {
        self.0.kid()
    }

    /// The public half, as a JWK (`kid`, `use`, `alg`).
    pub fn public_jwk(&self) -> &Value {
        self.0.public_jwk()
    }
}

/// The JWKS document: the signing key first, then the one published beside it.
pub fn jwks_document(key: &AssertionKey, next: Option<&AssertionKey>) -> String {
    let keys: Vec<&Value> = std::iter::once(key).chain(next).map(AssertionKey::public_jwk).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// What goes into one assertion besides the identity.
pub struct AssertionInput<'a> {
    /// `iss`: the worker's public origin.
    pub issuer: &'a str,
    /// `aud`.
    pub audience: &'a str,
    /// `iat`.
    pub now: i64,
    /// `exp` = `now` + this, but never after the session's end.
    pub lifetime_secs: i64,
    /// Claims of the session copied in (names → values), already chosen by the configuration.
    pub claims: &'a [(String, Value)],
}

/// The claims set: `iss`, `aud`, `sub`, `iat`, `nbf`, `exp`, `email`, `email_verified`,
/// `name`, `idp` (the provider's name), `acr` when known, and the configured claims.
pub fn claims(identity: &Identity, input: &AssertionInput<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, value) in input.claims {
        m.insert(name.clone(), value.clone());
    }
    let exp = input.now.saturating_add(input.lifetime_secs).min(identity.expires_at);
    m.insert("iss".into(), input.issuer.into());
    m.insert("aud".into(), input.audience.into());
    m.insert("sub".into(), identity.sub.clone().into());
    m.insert("iat".into(), input.now.into());
    m.insert("nbf".into(), input.now.into());
    m.insert("exp".into(), exp.into());
    m.insert("idp".into(), identity.provider.clone().into());
    if let Some(email) = &identity.email {
        m.insert("email".into(), email.clone().into());
    }
    if let Some(v) = identity.email_verified {
        m.insert("email_verified".into(), v.into());
    }
    if let Some(name) = &identity.name {
        m.insert("name".into(), name.clone().into());
    }
    if let Some(acr) = &identity.acr {
        m.insert("acr".into(), acr.clone().into());
    }
    m
}

/// Signs an assertion (`typ: JWT`); its `exp`.
pub async fn sign(
    key: &AssertionKey,
    identity: &Identity,
    input: &AssertionInput<'_>,
    signatures: &dyn Signatures,
) -> Option<(String, i64)> {
    let claims = claims(identity, input);
    let exp = claims.get("exp").and_then(Value::as_i64)?;
    let payload = serde_json::to_vec(&claims).ok()?;
    let jwt = sign_jws(&key.0, Some("JWT"), &payload, signatures).await.ok()?;
    Some((jwt, exp))
}

/// Most assertions kept per isolate (about 1 KB each).
pub const MAX_CACHED: usize = 512;

struct Cached {
    identity: Rc<Identity>,
    /// `iss` and `aud` it was signed for, joined by NUL.
    place: Box<str>,
    jwt: Rc<str>,
    /// Reused until then (three quarters of its lifetime).
    renew_at: i64,
}

/// Signed assertions per isolate, keyed by session handle; an entry is used only for the same
/// issuer and audience and an equal identity (a refresh that changed the name signs again).
/// When full, it starts over. A lookup allocates nothing.
#[derive(Default)]
pub struct AssertionCache {
    entries: RefCell<HashMap<Box<str>, Cached>>,
}

fn same_place(place: &str, issuer: &str, audience: &str) -> bool {
    place.split_once('\0') == Some((issuer, audience))
}

impl AssertionCache {
    /// A reusable assertion for this session, issuer and audience at `now`.
    pub fn get(&self, identity: &Rc<Identity>, issuer: &str, audience: &str, now: i64) -> Option<Rc<str>> {
        let entries = self.entries.borrow();
        let c = entries.get(identity.handle.as_str())?;
        let same = Rc::ptr_eq(&c.identity, identity) || *c.identity == **identity;
        (same && now < c.renew_at && same_place(&c.place, issuer, audience)).then(|| c.jwt.clone())
    }

    /// Remembers an assertion signed at `now`, valid until `exp`.
    pub fn insert(&self, identity: Rc<Identity>, issuer: &str, audience: &str, jwt: Rc<str>, now: i64, exp: i64) {
        let renew_at = now + (exp - now) * 3 / 4;
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        let place = format!("{issuer}\0{audience}").into();
        entries.insert(
            identity.handle.as_str().into(),
            Cached {
                identity,
                place,
                jwt,
                renew_at,
            },
        );
    }
}

/// The P-256 private key of a PEM block as a private JWK.
fn pem_to_jwk(pem: &str) -> Result<String, AssertionKeyError> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = Base64::decode_vec(&body).map_err(|_| AssertionKeyError::Pem("not base64"))?;
    let (d, point) = ec_private_key(&der)?;
    let (x, y) = point.split_at(32);
    Ok(serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": Base64UrlUnpadded::encode_string(x),
        "y": Base64UrlUnpadded::encode_string(y),
        "d": Base64UrlUnpadded::encode_string(d),
    })
    .to_string())
}

/// DER object identifier of prime256v1 / secp256r1 (RFC 5480 §2.1.1.1).
const P256_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER element: tag, contents, rest.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// `d` and the uncompressed public point (64 bytes, `x || y`) of a PKCS#8 (RFC 5208) or SEC1
/// (RFC 5915) P-256 key.
fn ec_private_key(der: &[u8]) -> Result<(&[u8], &[u8]), AssertionKeyError> {
    let bad = AssertionKeyError::Pem;
    let (tag, outer, _) = tlv(der).ok_or(bad("not DER"))?;
    if tag != 0x30 {
        return Err(bad("not a DER sequence"));
    }
    let (_, version, rest) = tlv(outer).ok_or(bad("no version"))?;
    // PKCS#8: version 0, the algorithm identifier, then the SEC1 structure in an OCTET STRING.
    let sec1 = if version == [0] {
        let (_, algorithm, rest) = tlv(rest).ok_or(bad("no algorithm"))?;
        let (_, _ec_oid, params) = tlv(algorithm).ok_or(bad("no algorithm"))?;
        let (_, curve, _) = tlv(params).ok_or(bad("no curve"))?;
        if curve != P256_OID {
            return Err(bad("not the P-256 curve"));
        }
        let (tag, inner, _) = tlv(rest).ok_or(bad("no private key"))?;
        if tag != 0x04 {
            return Err(bad("no private key"));
        }
        let (_, seq, _) = tlv(inner).ok_or(bad("no private key"))?;
        let (_, _, after_version) = tlv(seq).ok_or(bad("no private key"))?;
        after_version
    } else {
        rest
    };
    let (tag, d, mut rest) = tlv(sec1).ok_or(bad("no private key"))?;
    if tag != 0x04 || d.len() != 32 {
        return Err(bad("the private scalar is not 32 bytes"));
    }
    while let Some((tag, contents, next)) = tlv(rest) {
        match tag {
            // [0] parameters (SEC1): must name P-256.
            0xa0 => {
                let (_, curve, _) = tlv(contents).ok_or(bad("no curve"))?;
                if curve != P256_OID {
                    return Err(bad("not the P-256 curve"));
                }
            }
            // [1] publicKey: a BIT STRING with no unused bits, an uncompressed point.
            0xa1 => {
                let (_, bits, _) = tlv(contents).ok_or(bad("no public key"))?;
                return match bits {
                    [0, 4, point @ ..] if point.len() == 64 => Ok((d, point)),
                    _ => Err(bad("the public key is not an uncompressed P-256 point")),
                };
            }
            _ => {}
        }
        rest = next;
    }
    Err(bad("it has no public key (export it with openssl, which includes it)"))
}

#[cfg(test)]
mod tests;
