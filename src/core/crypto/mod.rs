//! Signature primitives behind a trait, so the protocol core decides everything and the
//! runtime does the arithmetic: the Workers runtime's WebCrypto (`crypto.subtle`) in the
//! deployed worker (`src/edge/webcrypto.rs`), RustCrypto in native builds ([`rust`], used by
//! the tests and the fuzz targets).
//!
//! The key types here are checked when built ([`PublicKeyJwk::rsa`], …): RSA moduli of 2048 to
//! 4096 bits with a sane exponent, 32-byte P-256 coordinates and Ed25519 keys. Whether a P-256
//! or Ed25519 key is a point on its curve is the implementation's check (WebCrypto refuses to
//! import such a key; RustCrypto refuses to build it), and it fails as "not verified". Which
//! algorithm a key may be used with, the allow-list, `none`/HMAC refusal and the signature
//! length are checked by the callers before an implementation is asked ([`verify`]); an
//! implementation's error or exception always means "not verified".

#[cfg(not(target_arch = "wasm32"))]
pub mod rust;
pub mod secret;

use crate::core::oidc::jwks::Alg;
use sha2::{Digest, Sha256};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed future that need not be `Send` (Workers run on one thread).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A signature implementation failed (key import refused, runtime exception, …). For
/// verification this means "not verified"; the text is for logs and never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signature operation failed: {0}")]
pub struct CryptoError(pub String);

/// RFC 7518 §3.3 / §3.5: RS* and PS* keys must have at least 2048 bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Larger RSA moduli are refused: they only cost CPU (RustCrypto's limit too).
pub const MAX_RSA_BITS: usize = 4096;
/// Largest RSA public exponent accepted (RustCrypto's limit, 2^33 - 1).
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// A public signature verification key, from a JWK. Build with the checking constructors.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKeyJwk {
    /// RSA: modulus and exponent, big-endian without leading zero bytes.
    Rsa {
        /// Modulus `n` (2048 to 4096 bits, odd).
        n: Vec<u8>,
        /// Public exponent `e` (odd, 3 to 2^33 - 1).
        e: Vec<u8>,
    },
    /// A point on P-256 (affine coordinates, big-endian).
    P256 {
        /// `x`.
        x: [u8; 32],
        /// `y`.
        y: [u8; 32],
    },
    /// An Ed25519 public key (RFC 8032 encoding).
    Ed25519 {
        /// `x`.
        x: [u8; 32],
    },
}

impl fmt::Debug for PublicKeyJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { n, .. } => write!(f, "PublicKeyJwk::Rsa({} bits)", bit_len(n)),
            Self::P256 { .. } => f.write_str("PublicKeyJwk::P256"),
            Self::Ed25519 { .. } => f.write_str("PublicKeyJwk::Ed25519"),
        }
    }
}

impl PublicKeyJwk {
    /// An RSA key from the JWK's `n` and `e` (leading zero bytes allowed), or `None` when the
    /// modulus is under 2048 or over 4096 bits or even, or the exponent is even, below 3 or
    /// over 2^33 - 1.
    pub fn rsa(n: &[u8], e: &[u8]) -> Option<PublicKeyJwk> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = bit_len(n);
        let n_odd = n.last().is_some_and(|b| b & 1 == 1);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || !n_odd || e.len() > 8 {
            return None;
        }
        let e_value = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if e_value < 3 || e_value % 2 == 0 || e_value > MAX_RSA_EXPONENT {
            return None;
        }
        Some(PublicKeyJwk::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    /// A P-256 key from the JWK's `x` and `y` (32 bytes each). Whether they are a point on the
    /// curve is left to the implementation (WebCrypto's `importKey` refuses a point off the
    /// curve): such a key never verifies anything.
    pub fn p256(x: &[u8], y: &[u8]) -> Option<PublicKeyJwk> {
        Some(PublicKeyJwk::P256 {
            x: x.try_into().ok()?,
            y: y.try_into().ok()?,
        })
    }

    /// An Ed25519 key from the JWK's `x` (32 bytes). Whether it decodes to a curve point is
    /// left to the implementation: one that does not fails to verify.
    pub fn ed25519(x: &[u8]) -> Option<PublicKeyJwk> {
        Some(PublicKeyJwk::Ed25519 { x: x.try_into().ok()? })
    }

    /// The key type, for messages (`RSA`, `P-256`, `Ed25519`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rsa { .. } => "RSA",
            Self::P256 { .. } => "P-256",
            Self::Ed25519 { .. } => "Ed25519",
        }
    }

    /// Whether the key type fits `alg`: RSA keys verify RS* and PS*, P-256 keys ES256,
    /// Ed25519 keys EdDSA; nothing else.
    pub fn fits(&self, alg: Alg) -> bool {
        match self {
            Self::Rsa { .. } => matches!(
                alg,
                Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
            ),
            Self::P256 { .. } => alg == Alg::ES256,
            Self::Ed25519 { .. } => alg == Alg::EdDSA,
        }
    }

    /// The only valid signature length for this key: the modulus length for RSA, 64 bytes
    /// for ES256 (JOSE's `r || s`) and Ed25519.
    pub fn signature_len(&self) -> usize {
        match self {
            Self::Rsa { n, .. } => n.len(),
            Self::P256 { .. } | Self::Ed25519 { .. } => 64,
        }
    }

    /// A SHA-256 digest identifying the key (for caching imported keys).
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        match self {
            Self::Rsa { n, e } => {
                h.update(b"RSA\0");
                h.update((n.len() as u64).to_be_bytes());
                h.update(n);
                h.update(e);
            }
            Self::P256 { x, y } => {
                h.update(b"P-256\0");
                h.update(x);
                h.update(y);
            }
            Self::Ed25519 { x } => {
                h.update(b"Ed25519\0");
                h.update(x);
            }
        }
        h.finalize().into()
    }
}

/// A private signing key (`private_key_jwt`), from a private JWK. `Debug` prints no key
/// material.
#[derive(Clone)]
pub enum PrivateKeyJwk {
    /// RSA with the CRT parameters WebCrypto needs (RFC 7518 §6.3.2), big-endian.
    Rsa {
        /// The public half.
        public: PublicKeyJwk,
        /// `d`.
        d: Vec<u8>,
        /// `p`.
        p: Vec<u8>,
        /// `q`.
        q: Vec<u8>,
        /// `dp`.
        dp: Vec<u8>,
        /// `dq`.
        dq: Vec<u8>,
        /// `qi`.
        qi: Vec<u8>,
    },
    /// P-256.
    P256 {
        /// The public half.
        public: PublicKeyJwk,
        /// The secret scalar `d`, 32 bytes.
        d: [u8; 32],
    },
}

impl fmt::Debug for PrivateKeyJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKeyJwk({:?}, [redacted])", self.public())
    }
}

impl PrivateKeyJwk {
    /// An RSA private key from the JWK members (leading zero bytes allowed). The public half
    /// must pass [`PublicKeyJwk::rsa`]; `d`, `p`, `q`, `dp`, `dq` and `qi` must all be
    /// present and non-zero (WebCrypto imports no key without the CRT parameters). Whether they
    /// belong together is checked by the implementation when it imports the key.
    #[allow(clippy::too_many_arguments)]
    pub fn rsa(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
        dp: Option<&[u8]>,
        dq: Option<&[u8]>,
        qi: Option<&[u8]>,
    ) -> Result<PrivateKeyJwk, &'static str> {
        let public = PublicKeyJwk::rsa(n, e)
            .ok_or("the modulus must have 2048 to 4096 bits and the exponent must be odd, from 3 to 2^33-1")?;
        let (Some(dp), Some(dq), Some(qi)) = (dp, dq, qi) else {
            return Err("the CRT parameters dp, dq and qi are missing (export the whole key)");
        };
        let part = |v: &[u8]| -> Result<Vec<u8>, &'static str> {
            let v = strip_zeros(v);
            if v.is_empty() {
                Err("a private RSA parameter is zero")
            } else {
                Ok(v.to_vec())
            }
        };
        Ok(PrivateKeyJwk::Rsa {
            public,
            d: part(d)?,
            p: part(p)?,
            q: part(q)?,
            dp: part(dp)?,
            dq: part(dq)?,
            qi: part(qi)?,
        })
    }

    /// A P-256 private key from the JWK's `x`, `y` and `d` (32 bytes each). Whether `d` is a
    /// valid scalar that belongs to the point is checked by the implementation when it imports
    /// the key for the first signature.
    pub fn p256(x: &[u8], y: &[u8], d: &[u8]) -> Result<PrivateKeyJwk, &'static str> {
        let public = PublicKeyJwk::p256(x, y).ok_or("x and y must be 32 bytes each")?;
        let d: [u8; 32] = d.try_into().map_err(|_| "d must be 32 bytes")?;
        Ok(PrivateKeyJwk::P256 { public, d })
    }

    /// The public half.
    pub fn public(&self) -> &PublicKeyJwk {
        match self {
            Self::Rsa { public, .. } | Self::P256 { public, .. } => public,
        }
    }

    /// The JOSE algorithm edge-oidc signs client assertions with: RS256 or ES256.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Rsa { .. } => Alg::RS256,
            Self::P256 { .. } => Alg::ES256,
        }
    }

    /// A SHA-256 digest identifying the key (for caching imported keys; one-way).
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"private\0");
        h.update(self.public().fingerprint());
        match self {
            Self::Rsa { d, .. } => h.update(d),
            Self::P256 { d, .. } => h.update(d),
        }
        h.finalize().into()
    }
}

/// The runtime's signature operations. Futures are not `Send` (see [`crate::core::http`]);
/// the methods return boxed futures so that [`crate::core::flow::Io`] can hold a
/// `&dyn Signatures` like its clock and randomness.
pub trait Signatures {
    /// Whether `signature` is a valid `alg` signature by `key` over `signing_input` (the JWS
    /// `header.payload` bytes). `Ok(false)` and `Err` both mean "not verified". Callers go
    /// through [`verify`], which checks the key type and the signature length first.
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a PublicKeyJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>>;

    /// The JOSE signature (`r || s` for ES256) of `signing_input` with `key`.
    fn sign<'a>(
        &'a self,
        alg: Alg,
        key: &'a PrivateKeyJwk,
        signing_input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>>;
}

/// Verifies a signature with `signatures` after the checks that do not need cryptography:
/// the key type must fit `alg` and the signature must have the length `alg` and the key
/// call for. `true` only when the implementation says so; its errors are "not verified".
pub async fn verify(
    signatures: &dyn Signatures,
    alg: Alg,
    key: &PublicKeyJwk,
    signing_input: &[u8],
    signature: &[u8],
) -> bool {
    if !key.fits(alg) || signature.len() != key.signature_len() {
        return false;
    }
    matches!(signatures.verify(alg, key, signing_input, signature).await, Ok(true))
}

/// Signs with `signatures` and checks the result has the length `alg` and the key call for.
pub async fn sign(
    signatures: &dyn Signatures,
    key: &PrivateKeyJwk,
    signing_input: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let signature = signatures.sign(key.alg(), key, signing_input).await?;
    if signature.len() != key.public().signature_len() {
        return Err(CryptoError(format!(
            "the signature is {} bytes, not {}",
            signature.len(),
            key.public().signature_len()
        )));
    }
    Ok(signature)
}

/// `bytes` without leading zero bytes.
pub fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian unsigned integer (leading zero bytes allowed).
pub fn bit_len(n: &[u8]) -> usize {
    let mut significant = strip_zeros(n).iter();
    match significant.next() {
        None => 0,
        Some(&first) => 8 * significant.len() + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests;
