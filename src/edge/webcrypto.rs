//! [`Signatures`] with the runtime's WebCrypto (`crypto.subtle`): RSASSA-PKCS1-v1_5, RSA-PSS
//! (salt length = hash length, as JOSE's PS* require), ECDSA P-256 (raw `r || s` signatures,
//! which is the JOSE format) and Ed25519 all run natively in workerd, so the wasm carries no
//! RSA, elliptic-curve or big-number code.
//!
//! The core has already checked the algorithm against the allow-list, the key type against the
//! algorithm and the signature length. Any failure here (an exception, a refused import — e.g.
//! of a P-256 point off the curve —, a non-boolean answer) is an `Err`, which the core treats
//! as "not verified". Imported `CryptoKey`s are kept per isolate, keyed by a digest of the key
//! and the algorithm, so `importKey` runs once per key.

use crate::core::crypto::secret::b64url;
use crate::core::crypto::{CryptoError, LocalBoxFuture, PrivateKeyJwk, PublicKeyJwk, Signatures};
use crate::core::oidc::jwks::Alg;
use sha2::{Digest, Sha256};
use std::cell::{OnceCell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{self, futures::JsFuture};
use worker::js_sys::{Array, Object, Promise, Uint8Array};

#[wasm_bindgen]
extern "C" {
    /// The `SubtleCrypto` interface (only the three methods used here).
    #[derive(Clone)]
    type SubtleCrypto;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &SubtleCrypto,
        format: &str,
        key_data: &Object,
        algorithm: &Object,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn verify(
        this: &SubtleCrypto,
        algorithm: &Object,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn sign(this: &SubtleCrypto, algorithm: &Object, key: &JsValue, data: &Uint8Array) -> Result<Promise, JsValue>;
}

/// Imported keys kept per isolate; cleared when full (a provider has a handful of keys).
const MAX_CACHED_KEYS: usize = 32;

thread_local! {
    static SUBTLE: OnceCell<Option<SubtleCrypto>> = const { OnceCell::new() };
    // At most MAX_CACHED_KEYS: a list (a hash map would cost its own hashing code in the wasm).
    static KEYS: RefCell<Vec<([u8; 32], JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// WebCrypto signatures. Stateless; the key cache is per isolate.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebCrypto;

fn fail(what: &str, e: &JsValue) -> CryptoError {
    // The exception's message (e.g. "Invalid EC key") helps the operator; no key material.
    let message = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_default();
    CryptoError(format!("{what}: {message}"))
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    SUBTLE
        .with(|cell| {
            cell.get_or_init(|| {
                let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
                let subtle = js_sys::Reflect::get(&crypto, &JsValue::from_str("subtle")).ok()?;
                subtle.is_object().then(|| subtle.unchecked_into())
            })
            .clone()
        })
        .ok_or_else(|| CryptoError("crypto.subtle is not available".into()))
}

/// A JS object from JSON text we built (algorithm parameters, JWKs).
fn object(json: &str) -> Result<Object, CryptoError> {
    js_sys::JSON::parse(json)
        .map_err(|e| fail("JSON.parse", &e))?
        .dyn_into()
        .map_err(|_| CryptoError("not an object".into()))
}

/// The hash WebCrypto pairs with `alg`.
fn hash(alg: Alg) -> &'static str {
    match alg {
        Alg::RS256 | Alg::PS256 | Alg::ES256 => "SHA-256",
        Alg::RS384 | Alg::PS384 => "SHA-384",
        Alg::RS512 | Alg::PS512 | Alg::EdDSA => "SHA-512",
    }
}

/// `importKey` algorithm parameters, and the parameters of `sign` / `verify`.
fn params(alg: Alg) -> (String, String) {
    let h = hash(alg);
    match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 => (
            format!(r#"{{"name":"RSASSA-PKCS1-v1_5","hash":"{h}"}}"#),
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#.to_owned(),
        ),
        Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            // RFC 7518 §3.5: the salt is as long as the hash output.
            let salt = match alg {
                Alg::PS256 => 32,
                Alg::PS384 => 48,
                _ => 64,
            };
            (
                format!(r#"{{"name":"RSA-PSS","hash":"{h}"}}"#),
                format!(r#"{{"name":"RSA-PSS","saltLength":{salt}}}"#),
            )
        }
        Alg::ES256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#.to_owned(),
            r#"{"name":"ECDSA","hash":"SHA-256"}"#.to_owned(),
        ),
        Alg::EdDSA => (r#"{"name":"Ed25519"}"#.to_owned(), r#"{"name":"Ed25519"}"#.to_owned()),
    }
}

/// The public members of a JWK, as JSON members without braces.
fn public_members(key: &PublicKeyJwk) -> String {
    match key {
        PublicKeyJwk::Rsa { n, e } => format!(r#""kty":"RSA","n":"{}","e":"{}""#, b64url(n), b64url(e)),
        PublicKeyJwk::P256 { x, y } => {
            format!(r#""kty":"EC","crv":"P-256","x":"{}","y":"{}""#, b64url(x), b64url(y))
        }
        PublicKeyJwk::Ed25519 { x } => format!(r#""kty":"OKP","crv":"Ed25519","x":"{}""#, b64url(x)),
    }
}

fn private_jwk(key: &PrivateKeyJwk) -> String {
    let public = public_members(key.public());
    match key {
        PrivateKeyJwk::Rsa {
            d, p, q, dp, dq, qi, ..
        } => format!(
            r#"{{{public},"d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"}}"#,
            b64url(d),
            b64url(p),
            b64url(q),
            b64url(dp),
            b64url(dq),
            b64url(qi)
        ),
        PrivateKeyJwk::P256 { d, .. } => format!(r#"{{{public},"d":"{}"}}"#, b64url(d)),
    }
}

/// The cache key of a key imported for `alg` and `usage`.
fn cache_key(fingerprint: &[u8; 32], alg: Alg, usage: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(fingerprint);
    h.update(alg.name());
    h.update(usage);
    h.finalize().into()
}

/// The imported key, from the cache or `importKey` (JWK format, not extractable).
async fn imported(
    subtle: &SubtleCrypto,
    id: [u8; 32],
    jwk: impl FnOnce() -> String,
    algorithm: &str,
    usage: &str,
) -> Result<JsValue, CryptoError> {
    if let Some(key) = KEYS.with(|keys| keys.borrow().iter().find(|(k, _)| *k == id).map(|(_, v)| v.clone())) {
        return Ok(key);
    }
    let usages = Array::of1(&JsValue::from_str(usage));
    let promise = subtle
        .import_key("jwk", &object(&jwk())?, &object(algorithm)?, false, &usages)
        .map_err(|e| fail("importKey", &e))?;
    let key = JsFuture::from(promise).await.map_err(|e| fail("importKey", &e))?;
    if !key.is_object() {
        return Err(CryptoError("importKey gave no key".into()));
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.push((id, key.clone()));
    });
    Ok(key)
}

async fn verify_async(alg: Alg, key: &PublicKeyJwk, input: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    if !key.fits(alg) {
        return Err(CryptoError(format!("a {} key cannot verify {alg}", key.kind())));
    }
    let subtle = subtle()?;
    let (import_params, verify_params) = params(alg);
    let id = cache_key(&key.fingerprint(), alg, "verify");
    let jwk = || format!("{{{}}}", public_members(key));
    let crypto_key = imported(&subtle, id, jwk, &import_params, "verify").await?;
    let promise = subtle
        .verify(
            &object(&verify_params)?,
            &crypto_key,
            &Uint8Array::from(signature),
            &Uint8Array::from(input),
        )
        .map_err(|e| fail("verify", &e))?;
    let result = JsFuture::from(promise).await.map_err(|e| fail("verify", &e))?;
    result
        .as_bool()
        .ok_or_else(|| CryptoError("verify gave no boolean".into()))
}

async fn sign_async(alg: Alg, key: &PrivateKeyJwk, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if alg != key.alg() {
        return Err(CryptoError(format!(
            "cannot sign {alg} with a {} key",
            key.public().kind()
        )));
    }
    let subtle = subtle()?;
    let (import_params, sign_params) = params(alg);
    let id = cache_key(&key.fingerprint(), alg, "sign");
    let crypto_key = imported(&subtle, id, || private_jwk(key), &import_params, "sign").await?;
    let promise = subtle
        .sign(&object(&sign_params)?, &crypto_key, &Uint8Array::from(input))
        .map_err(|e| fail("sign", &e))?;
    let result = JsFuture::from(promise).await.map_err(|e| fail("sign", &e))?;
    if !result.is_instance_of::<js_sys::ArrayBuffer>() {
        return Err(CryptoError("sign gave no ArrayBuffer".into()));
    }
    Ok(Uint8Array::new(&result).to_vec())
}

impl Signatures for WebCrypto {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a PublicKeyJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
        Box::pin(verify_async(alg, key, signing_input, signature))
    }

    fn sign<'a>(
        &'a self,
        alg: Alg,
        key: &'a PrivateKeyJwk,
        signing_input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(sign_async(alg, key, signing_input))
    }
}
