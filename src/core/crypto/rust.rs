//! [`Signatures`] with RustCrypto (through jwt-compact's algorithm types), for native builds:
//! the test suite and the fuzz targets. The deployed worker uses the runtime's WebCrypto
//! instead (`src/edge/webcrypto.rs`), so none of this is in the wasm.

use super::{CryptoError, LocalBoxFuture, PrivateKeyJwk, PublicKeyJwk, Signatures};
use crate::core::oidc::jwks::Alg;
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::{JsonWebKey, RsaPrivateParts};
use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;
use std::future::ready;

/// RustCrypto signatures: RSASSA-PKCS1-v1_5 and RSA-PSS (`rsa`), ECDSA P-256 (`p256`),
/// Ed25519 (`ed25519-dalek`). Stateless; answers at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCrypto;

fn err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError(e.to_string())
}

fn public_jwk(key: &PublicKeyJwk) -> JsonWebKey<'_> {
    match key {
        PublicKeyJwk::Rsa { n, e } => JsonWebKey::Rsa {
            modulus: Cow::Borrowed(n),
            public_exponent: Cow::Borrowed(e),
            private_parts: None,
        },
        PublicKeyJwk::P256 { x, y } => JsonWebKey::EllipticCurve {
            curve: Cow::Borrowed("P-256"),
            x: Cow::Borrowed(x),
            y: Cow::Borrowed(y),
            secret: None,
        },
        PublicKeyJwk::Ed25519 { x } => JsonWebKey::KeyPair {
            curve: Cow::Borrowed("Ed25519"),
            x: Cow::Borrowed(x),
            secret: None,
        },
    }
}

fn check<A: Algorithm>(alg: &A, key: &A::VerifyingKey, input: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    let signature = A::Signature::try_from_slice(signature).map_err(err)?;
    Ok(alg.verify_signature(&signature, key, input))
}

fn verify_now(alg: Alg, key: &PublicKeyJwk, input: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    let jwk = public_jwk(key);
    match (key, alg) {
        (PublicKeyJwk::Rsa { .. }, _) => {
            // jwt-compact's RSA names are the JOSE ones; ES256 / EdDSA fail here.
            let rsa: Rsa = alg.name().parse().map_err(err)?;
            check(&rsa, &RsaPublicKey::try_from(&jwk).map_err(err)?, input, signature)
        }
        (PublicKeyJwk::P256 { .. }, Alg::ES256) => {
            let key = <Es256 as Algorithm>::VerifyingKey::try_from(&jwk).map_err(err)?;
            check(&Es256, &key, input, signature)
        }
        (PublicKeyJwk::Ed25519 { .. }, Alg::EdDSA) => {
            let key = <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk).map_err(err)?;
            check(&Ed25519, &key, input, signature)
        }
        _ => Err(CryptoError(format!("a {} key cannot verify {alg}", key.kind()))),
    }
}

fn sign_now(alg: Alg, key: &PrivateKeyJwk, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match (key, alg) {
        (
            PrivateKeyJwk::Rsa {
                public,
                d,
                p,
                q,
                dp,
                dq,
                qi,
            },
            Alg::RS256,
        ) => {
            let JsonWebKey::Rsa {
                modulus,
                public_exponent,
                ..
            } = public_jwk(public)
            else {
                return Err(CryptoError("not an RSA key".into()));
            };
            fn secret(v: &[u8]) -> jwt_compact::alg::SecretBytes<'_> {
                jwt_compact::alg::SecretBytes::borrowed(v)
            }
            let jwk = JsonWebKey::Rsa {
                modulus,
                public_exponent,
                private_parts: Some(RsaPrivateParts {
                    private_exponent: secret(d),
                    prime_factor_p: secret(p),
                    prime_factor_q: secret(q),
                    p_crt_exponent: Some(secret(dp)),
                    q_crt_exponent: Some(secret(dq)),
                    q_crt_coefficient: Some(secret(qi)),
                    other_prime_factors: Vec::new(),
                }),
            };
            let key = RsaPrivateKey::try_from(&jwk).map_err(err)?;
            Ok(Rsa::rs256().sign(&key, input).as_bytes().into_owned())
        }
        (PrivateKeyJwk::P256 { public, d }, Alg::ES256) => {
            let JsonWebKey::EllipticCurve { curve, x, y, .. } = public_jwk(public) else {
                return Err(CryptoError("not a P-256 key".into()));
            };
            let jwk = JsonWebKey::EllipticCurve {
                curve,
                x,
                y,
                secret: Some(jwt_compact::alg::SecretBytes::borrowed(d)),
            };
            // Checks that d belongs to (x, y), as WebCrypto's import does.
            let key = <Es256 as Algorithm>::SigningKey::try_from(&jwk).map_err(err)?;
            Ok(Es256.sign(&key, input).as_bytes().into_owned())
        }
        _ => Err(CryptoError(format!(
            "cannot sign {alg} with a {} key",
            key.public().kind()
        ))),
    }
}

impl Signatures for RustCrypto {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a PublicKeyJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
        Box::pin(ready(verify_now(alg, key, signing_input, signature)))
    }

    fn sign<'a>(
        &'a self,
        alg: Alg,
        key: &'a PrivateKeyJwk,
        signing_input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(ready(sign_now(alg, key, signing_input)))
    }
}
