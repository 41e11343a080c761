//! JSON Web Key Sets (RFC 7517) and the signature algorithms edge-oidc
//! accepts for ID tokens.
//!
//! The JWKS document comes from the provider over the network, so parsing is
//! lenient per key (a key we cannot use is skipped, because providers publish
//! encryption keys and key types we do not implement next to their signing
//! keys) but strict about the document shape. Nothing here panics on input: a
//! panic in wasm takes down every request of the isolate.

use crate::core::crypto::PublicKeyJwk;
use jwt_compact::jwk::JsonWebKey;
use serde_json::{Map, Value};

/// Largest JWKS document we parse. Real ones are a few KiB; the cap keeps a
/// misbehaving endpoint from making us parse megabytes on every refetch.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A signature algorithm edge-oidc accepts for ID tokens. Never `none`, never
/// HMAC: an HS* ID token would be keyed with the client secret, and accepting
/// it is the classic "alg confusion" hole when the key is looked up by header.
///
/// Variant names are the JOSE registry names (RFC 7518 §3.1), which is also
/// how they (de)serialize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// EdDSA; only the Ed25519 curve is supported (RFC 8037).
    EdDSA,
}

impl Alg {
    /// Every supported algorithm: the allow-list when the configuration
    /// names none.
    pub const DEFAULT_ALLOWED: &'static [Alg] = &[
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::EdDSA,
    ];

    /// Parses a JOSE `alg` name. Case-sensitive, as RFC 7515 §4.1.1 makes
    /// `alg` values case-sensitive; `None` for anything we do not accept
    /// (including `none` and `HS256`).
    pub fn from_name(s: &str) -> Option<Alg> {
        Alg::DEFAULT_ALLOWED.iter().copied().find(|a| a.name() == s)
    }

    /// The JOSE `alg` name, e.g. `"RS256"`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a JWKS document could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The document exceeds [`MAX_JWKS_BYTES`].
    #[error("the provider's JWKS document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The body is not JSON.
    #[error("the provider's JWKS document is not valid JSON")]
    NotJson,
    /// The body is JSON but not an object with a `keys` array (RFC 7517 §5).
    #[error("the provider's JWKS document has no \"keys\" array")]
    NoKeysArray,
}

/// Why no key could be chosen for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySelectError {
    /// The token names a `kid` that is not in the set. The provider may have
    /// rotated its keys: refetch the JWKS once and retry.
    #[error("the token was signed with a key the provider's JWKS does not list (unknown kid)")]
    UnknownKid,
    /// No key (with the token's `kid`, if any) fits the token's algorithm.
    #[error("the provider's JWKS has no key usable with {0}")]
    NoSuitableKey(Alg),
    /// The token has no `kid` and several keys fit its algorithm, or several
    /// keys share its `kid`; picking one would be a guess.
    #[error("the provider's JWKS has several keys usable with {0} and the token does not say which")]
    AmbiguousKey(Alg),
}

/// A public key usable for ID token signature verification, with the JWK
/// metadata that restricts its use.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// JWK `kid`.
    kid: Option<String>,
    /// JWK `alg`: when present, the only algorithm this key may verify.
    alg: Option<Alg>,
    /// The key: RSA of 2048 to 4096 bits, a P-256 point on the curve, or Ed25519.
    key: PublicKeyJwk,
}

impl VerifyingKey {
    /// The JWK `kid`, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `alg`, if the key states one.
    pub fn alg(&self) -> Option<Alg> {
        self.alg
    }

    /// The public key itself.
    pub fn key(&self) -> &PublicKeyJwk {
        &self.key
    }

    /// Whether this key may verify a token signed with `alg`: the key type
    /// must fit the algorithm (an RSA key must never check an ES256 token and
    /// so on), and a key that states its `alg` (RFC 7517 §4.4) is used only
    /// with that one.
    pub fn supports(&self, alg: Alg) -> bool {
        self.key.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// A parsed JSON Web Key Set: only keys usable for signature verification are
/// kept.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<VerifyingKey>,
}

impl Jwks {
    /// Parses a JWKS document (RFC 7517 §5). Keys of unknown kty/crv, keys
    /// with `use` other than `sig`, keys whose `key_ops` exclude `verify`,
    /// keys with an `alg` we do not accept, RSA keys under 2048 bits and keys
    /// that fail to parse are skipped, not errors: providers publish
    /// encryption keys and key types we don't know. An empty usable set is not
    /// an error here (the caller decides). A body that is not JSON or has no
    /// `keys` array is an error.
    pub fn parse(body: &[u8]) -> Result<Jwks, JwksError> {
        if body.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let doc: Value = serde_json::from_slice(body).map_err(|_| JwksError::NotJson)?;
        let Value::Object(mut doc) = doc else {
            return Err(JwksError::NoKeysArray);
        };
        let Some(Value::Array(entries)) = doc.remove("keys") else {
            return Err(JwksError::NoKeysArray);
        };
        let keys = entries
            .into_iter()
            .filter_map(|entry| match entry {
                Value::Object(jwk) => parse_key(jwk),
                _ => None,
            })
            .collect();
        Ok(Jwks { keys })
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no usable key was found.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Selects the key for a token header: by `kid` when present; when
    /// absent, the single key compatible with `alg`. The chosen key must
    /// [support](VerifyingKey::supports) `alg`.
    ///
    /// `alg` must already have passed the configured allow-list: the header
    /// is attacker-controlled, and the key type check here is the second line
    /// of defence, not the first.
    pub fn select(&self, kid: Option<&str>, alg: Alg) -> Result<&VerifyingKey, KeySelectError> {
        let named = |k: &VerifyingKey| kid.is_none_or(|kid| k.kid() == Some(kid));
        // Only an absent kid justifies a refetch; a known kid whose key does
        // not fit the alg will not get better by refetching.
        if kid.is_some() && !self.keys.iter().any(named) {
            return Err(KeySelectError::UnknownKid);
        }
        let mut fitting = self.keys.iter().filter(|k| named(k) && k.supports(alg));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(KeySelectError::NoSuitableKey(alg)),
            (Some(_), Some(_)) => Err(KeySelectError::AmbiguousKey(alg)),
        }
    }
}

/// Converts one JWK object into a [`VerifyingKey`], or `None` when it is not
/// usable for ID token signatures.
fn parse_key(jwk: Map<String, Value>) -> Option<VerifyingKey> {
    // RFC 7517 §4.2: "sig" or "enc"; absent means unspecified.
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return None,
    }
    // RFC 7517 §4.3: when key_ops is present, it must allow "verify".
    if let Some(ops) = jwk.get("key_ops") {
        let verify = Value::String("verify".to_owned());
        if !ops.as_array().is_some_and(|ops| ops.contains(&verify)) {
            return None;
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    // RFC 7517 §4.4: a key that names an algorithm we don't accept (RSA-OAEP,
    // HS256, ES384, ...) is of no use to us.
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(Alg::from_name(name)?),
        Some(_) => return None,
    };
    // Unknown kty values (and shapes jwt-compact cannot read) fail here.
    let parsed: JsonWebKey<'static> = serde_json::from_value(Value::Object(jwk)).ok()?;
    let key = match &parsed {
        // Checks the size (2048 to 4096 bits) and the exponent.
        JsonWebKey::Rsa {
            modulus,
            public_exponent,
            ..
        } => PublicKeyJwk::rsa(modulus, public_exponent),
        // Checks the lengths and that the point is on the curve.
        JsonWebKey::EllipticCurve { curve, x, y, .. } if curve == "P-256" => PublicKeyJwk::p256(x, y),
        JsonWebKey::KeyPair { curve, x, .. } if curve == "Ed25519" => PublicKeyJwk::ed25519(x),
        // Other curves and symmetric ("oct") keys: never used.
        _ => None,
    }?;
    let key = VerifyingKey { kid, alg, key };
    // A key whose stated alg does not fit its type (an Ed25519 key "for"
    // ES256) could never verify anything.
    key.alg().is_none_or(|a| key.supports(a)).then_some(key)
}

#[cfg(test)]
mod tests {

    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use jwt_compact::alg::{Ed25519, Es256};
    use jwt_compact::Algorithm;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    fn with(mut jwk: Value, extra: Value) -> Value {
        jwk.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        jwk
    }

    /// RSA public JWK whose modulus is `len` bytes of 0xC5 (top bit set, so
    /// `8 * len` bits). Not a product of primes, but parsing does not care.
    fn rsa(len: usize, extra: Value) -> Value {
        with(json!({"kty": "RSA", "n": b64(&vec![0xC5; len]), "e": "AQAB"}), extra)
    }

    fn ec(extra: Value) -> Value {
        let sk = <Es256 as Algorithm>::SigningKey::from_slice(&[1; 32]).unwrap();
        with(
            serde_json::to_value(JsonWebKey::from(sk.verifying_key())).unwrap(),
            extra,
        )
    }

    fn ed(extra: Value) -> Value {
        let vk = <Ed25519 as Algorithm>::SigningKey::from_bytes(&[2; 32]).verifying_key();
        with(serde_json::to_value(JsonWebKey::from(&vk)).unwrap(), extra)
    }

    fn parse(keys: Vec<Value>) -> Jwks {
        Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn alg_names_round_trip_and_exclude_none_and_hmac() {
        assert_eq!(Alg::DEFAULT_ALLOWED.len(), 8);
        for &alg in Alg::DEFAULT_ALLOWED {
            assert_eq!(Alg::from_name(alg.name()), Some(alg));
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{alg}\""));
            assert_eq!(serde_json::from_str::<Alg>(&json).unwrap(), alg);
        }
        for name in ["none", "HS256", "HS512", "rs256", "ES384", "Ed25519", ""] {
            assert_eq!(Alg::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn bad_documents_are_errors_but_an_empty_set_is_not() {
        assert_eq!(Jwks::parse(b"<html>").unwrap_err(), JwksError::NotJson);
        assert_eq!(Jwks::parse(b"").unwrap_err(), JwksError::NotJson);
        for doc in [&b"[]"[..], b"{}", b"null", br#"{"keys":{}}"#, br#"{"Keys":[]}"#] {
            assert_eq!(Jwks::parse(doc).unwrap_err(), JwksError::NoKeysArray);
        }
        let huge = vec![b' '; MAX_JWKS_BYTES + 1];
        assert_eq!(Jwks::parse(&huge).unwrap_err(), JwksError::TooLarge);
        assert!(Jwks::parse(br#"{"keys":[]}"#).unwrap().is_empty());
        assert!(Jwks::parse(br#"{"keys":[1,"x",null,[],{}]}"#).unwrap().is_empty());
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let jwks = parse(vec![
            rsa(255, json!({"kid": "weak"})),
            rsa(256, json!({"kid": "enc", "use": "enc"})),
            rsa(256, json!({"kid": "use-not-string", "use": 1})),
            rsa(256, json!({"kid": "sign-only", "key_ops": ["sign"]})),
            rsa(256, json!({"kid": "ops-not-array", "key_ops": "verify"})),
            rsa(256, json!({"kid": 7})),
            rsa(256, json!({"kid": "oaep", "alg": "RSA-OAEP"})),
            rsa(256, json!({"kid": "huge", "n": b64(&[0xC5; 1024])})),
            json!({"kty": "RSA", "kid": "no-n", "e": "AQAB"}),
            json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}),
            json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(&[1; 48]), "y": b64(&[1; 48])}),
            json!({"kty": "EC", "crv": "P-256", "kid": "short-y", "x": b64(&[1; 32]), "y": b64(&[1; 31])}),
            json!({"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64(&[1; 32])}),
            json!({"kty": "OKP", "crv": "Ed25519", "kid": "bad-b64", "x": "!!"}),
            ed(json!({"kid": "ed-es256", "alg": "ES256"})),
            // Kept: the ones below.
            rsa(256, json!({"kid": "rsa", "use": "sig", "key_ops": ["verify"]})),
            with(
                rsa(256, json!({"kid": "rsa-zero-pad"})),
                json!({"n": b64(&[[0].as_slice(), &[0xC5; 256]].concat())}),
            ),
            ec(json!({"kid": "ec"})),
            ed(json!({"kid": "ed"})),
        ]);
        let kids: Vec<_> = jwks.keys().iter().map(VerifyingKey::kid).collect();
        assert_eq!(kids, [Some("rsa"), Some("rsa-zero-pad"), Some("ec"), Some("ed")]);
    }

    #[test]
    fn select_by_kid() {
        let jwks = parse(vec![
            rsa(256, json!({"kid": "a", "alg": "RS256"})),
            ec(json!({"kid": "b"})),
            rsa(256, json!({"kid": "dup"})),
            rsa(384, json!({"kid": "dup"})),
        ]);
        assert_eq!(jwks.select(Some("a"), Alg::RS256).unwrap().kid(), Some("a"));
        assert_eq!(jwks.select(Some("b"), Alg::ES256).unwrap().kid(), Some("b"));
        assert_eq!(
            jwks.select(Some("zzz"), Alg::RS256).unwrap_err(),
            KeySelectError::UnknownKid
        );
        // Known kid, wrong type or a different stated alg: not a refetch case.
        let no_fit = |alg| Err(KeySelectError::NoSuitableKey(alg));
        assert_eq!(jwks.select(Some("b"), Alg::RS256).map(|_| ()), no_fit(Alg::RS256));
        assert_eq!(jwks.select(Some("a"), Alg::PS256).map(|_| ()), no_fit(Alg::PS256));
        assert_eq!(jwks.select(Some("a"), Alg::EdDSA).map(|_| ()), no_fit(Alg::EdDSA));
        let ambiguous = jwks.select(Some("dup"), Alg::RS256).map(|_| ());
        assert_eq!(ambiguous, Err(KeySelectError::AmbiguousKey(Alg::RS256)));
    }

    #[test]
    fn select_without_kid() {
        let jwks = parse(vec![rsa(256, json!({"alg": "RS256"})), ec(json!({})), ed(json!({}))]);
        let key = |alg| jwks.select(None, alg).map(|k| k.key().clone());
        assert!(matches!(key(Alg::RS256), Ok(PublicKeyJwk::Rsa { .. })));
        assert!(matches!(key(Alg::ES256), Ok(PublicKeyJwk::P256 { .. })));
        assert!(matches!(key(Alg::EdDSA), Ok(PublicKeyJwk::Ed25519 { .. })));
        let none = jwks.select(None, Alg::PS512).map(|_| ());
        assert_eq!(none, Err(KeySelectError::NoSuitableKey(Alg::PS512)));
        let two = parse(vec![ec(json!({"kid": "1"})), ec(json!({"kid": "2"}))]);
        let ambiguous = two.select(None, Alg::ES256).map(|_| ());
        assert_eq!(ambiguous, Err(KeySelectError::AmbiguousKey(Alg::ES256)));
        assert!(Jwks::default().select(None, Alg::RS256).is_err());
    }

    #[test]
    fn rsa_size_and_exponent_rules() {
        let key = |n: &[u8], e: &str| {
            Jwks::parse(
                json!({"keys": [{"kty": "RSA", "n": b64(n), "e": e}]})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
            .len()
        };
        assert_eq!(key(&[0xC5; 256], "AQAB"), 1);
        assert_eq!(key(&[0xC5; 512], "AQAB"), 1);
        assert_eq!(key(&[0x7F; 256], "AQAB"), 0, "2047 bits");
        assert_eq!(key(&[0xC5; 513], "AQAB"), 0, "4104 bits");
        assert_eq!(
            key(&[[0xC5; 255].as_slice(), &[0xC4]].concat(), "AQAB"),
            0,
            "even modulus"
        );
        assert_eq!(key(&[0xC5; 256], "Aw"), 1, "e = 3");
        for e in ["AQ", "Ag", "AAE", "AQAA", "", "AgAAAAE"] {
            assert_eq!(key(&[0xC5; 256], e), 0, "e = {e}");
        }
    }
}
