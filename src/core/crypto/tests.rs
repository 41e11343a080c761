use super::rust::RustCrypto;
use super::*;
use futures::executor::block_on;
use jwt_compact::alg::{Ed25519, Es256, Rsa, SigningKey as _};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature as _};
use rsa::traits::PrivateKeyParts as _;
use rsa::traits::PublicKeyParts as _;
use std::cell::Cell;
use std::sync::OnceLock;

fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap())
}

fn rsa_public() -> PublicKeyJwk {
    let k = rsa_key();
    PublicKeyJwk::rsa(&k.n().to_bytes_be(), &k.e().to_bytes_be()).unwrap()
}

fn rsa_private() -> PrivateKeyJwk {
    let k = rsa_key();
    let be = |v: &rsa::BigUint| v.to_bytes_be();
    let primes = k.primes();
    PrivateKeyJwk::rsa(
        &be(k.n()),
        &be(k.e()),
        &be(k.d()),
        &be(&primes[0]),
        &be(&primes[1]),
        Some(&be(k.dp().unwrap())),
        Some(&be(k.dq().unwrap())),
        Some(&be(&k.crt_coefficient().unwrap())),
    )
    .unwrap()
}

fn p256_pair() -> (p256::ecdsa::SigningKey, PrivateKeyJwk) {
    let sk = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let JsonWebKey::EllipticCurve { x, y, secret, .. } = JsonWebKey::from(&sk) else {
        unreachable!()
    };
    let private = PrivateKeyJwk::p256(&x, &y, &secret.unwrap()).unwrap();
    (sk, private)
}

#[test]
fn bit_len_counts_significant_bits() {
    assert_eq!(bit_len(&[]), 0);
    assert_eq!(bit_len(&[0, 0]), 0);
    assert_eq!(bit_len(&[1]), 1);
    assert_eq!(bit_len(&[0, 0x80, 0]), 16);
    assert_eq!(bit_len(&[0x7F; 256]), 2047);
    assert_eq!(strip_zeros(&[0, 0, 1, 0]), &[1, 0]);
    assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
}

#[test]
fn key_constructors_check_shapes() {
    assert!(PublicKeyJwk::rsa(&[0xC5; 256], &[1, 0, 1]).is_some());
    assert!(PublicKeyJwk::rsa(&[[0, 0].as_slice(), &[0xC5; 256]].concat(), &[0, 1, 0, 1]).is_some());
    assert!(PublicKeyJwk::rsa(&[0x7F; 256], &[1, 0, 1]).is_none());
    assert!(PublicKeyJwk::rsa(&[0xC5; 256], &[0; 9]).is_none());
    assert!(PublicKeyJwk::rsa(&[0xC5; 256], &[1, 0, 0, 0, 0, 0, 0, 0, 1]).is_none());
    assert!(PublicKeyJwk::p256(&[1; 31], &[1; 32]).is_none());
    assert!(PublicKeyJwk::p256(&[1; 32], &[1; 33]).is_none());
    assert!(PublicKeyJwk::ed25519(&[1; 31]).is_none());
    assert!(PublicKeyJwk::ed25519(&[1; 33]).is_none());
    let padded = PublicKeyJwk::rsa(&[[0].as_slice(), &[0xC5; 256]].concat(), &[0, 3]).unwrap();
    let PublicKeyJwk::Rsa { n, e } = padded else {
        unreachable!()
    };
    assert_eq!((n.len(), e.as_slice()), (256, &[3u8][..]));
    let rsa = rsa_public();
    assert_eq!(rsa.signature_len(), 256);
    assert!(rsa.fits(Alg::PS512) && !rsa.fits(Alg::ES256) && !rsa.fits(Alg::EdDSA));
    assert_ne!(
        rsa.fingerprint(),
        PublicKeyJwk::rsa(&[0xC5; 256], &[1, 0, 1]).unwrap().fingerprint()
    );
    assert!(format!("{:?}", rsa_private()).contains("[redacted]"));
    // Missing CRT parameters or zero private parts are refused.
    let k = rsa_key();
    let be = |v: &rsa::BigUint| v.to_bytes_be();
    let (n, e, d, p, q) = (be(k.n()), be(k.e()), be(k.d()), be(&k.primes()[0]), be(&k.primes()[1]));
    assert!(PrivateKeyJwk::rsa(&n, &e, &d, &p, &q, None, Some(&d), Some(&d)).is_err());
    assert!(PrivateKeyJwk::rsa(&n, &e, &[0, 0], &p, &q, Some(&d), Some(&d), Some(&d)).is_err());
}

/// Counts calls; says yes to everything.
#[derive(Default)]
struct Yes(Cell<u32>);

impl Signatures for Yes {
    fn verify<'a>(
        &'a self,
        _: Alg,
        _: &'a PublicKeyJwk,
        _: &'a [u8],
        _: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
        self.0.set(self.0.get() + 1);
        Box::pin(std::future::ready(Ok(true)))
    }
    fn sign<'a>(
        &'a self,
        _: Alg,
        _: &'a PrivateKeyJwk,
        _: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
        self.0.set(self.0.get() + 1);
        Box::pin(std::future::ready(Ok(vec![0; 64])))
    }
}

#[test]
fn verify_checks_type_and_length_before_asking() {
    let yes = Yes::default();
    let rsa = rsa_public();
    let ec = p256_pair().1.public().clone();
    let ed = PublicKeyJwk::ed25519(&[9; 32]).unwrap();
    for (alg, key, len) in [
        (Alg::ES256, &rsa, 256),
        (Alg::EdDSA, &rsa, 256),
        (Alg::RS256, &ec, 64),
        (Alg::EdDSA, &ec, 64),
        (Alg::ES256, &ed, 64),
        (Alg::PS256, &ed, 64),
        (Alg::RS256, &rsa, 255),
        (Alg::RS256, &rsa, 257),
        (Alg::ES256, &ec, 63),
        (Alg::ES256, &ec, 0),
        (Alg::EdDSA, &ed, 65),
    ] {
        assert!(
            !block_on(verify(&yes, alg, key, b"x", &vec![0; len])),
            "{alg} {key:?} {len}"
        );
    }
    assert_eq!(yes.0.get(), 0);
    assert!(block_on(verify(&yes, Alg::RS256, &rsa, b"x", &[0; 256])));
    assert!(block_on(verify(&yes, Alg::ES256, &ec, b"x", &[0; 64])));
    assert_eq!(yes.0.get(), 2);
}

#[test]
fn rustcrypto_round_trips_and_rejects() {
    let input = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0";
    // RSA: every JOSE algorithm, signed with jwt-compact, verified through the trait.
    let rsa = rsa_public();
    let jwt_rsa = rsa_key().clone();
    for (alg, rsa_alg) in [
        (Alg::RS256, Rsa::rs256()),
        (Alg::RS384, Rsa::rs384()),
        (Alg::RS512, Rsa::rs512()),
        (Alg::PS256, Rsa::ps256()),
        (Alg::PS384, Rsa::ps384()),
        (Alg::PS512, Rsa::ps512()),
    ] {
        let sig = rsa_alg.sign(&jwt_rsa, input).as_bytes().into_owned();
        assert!(block_on(verify(&RustCrypto, alg, &rsa, input, &sig)), "{alg}");
        assert!(!block_on(verify(&RustCrypto, alg, &rsa, b"other", &sig)), "{alg}");
    }
    // RS256 signing through the trait, verified by rsa.
    let sig = block_on(sign(&RustCrypto, &rsa_private(), input)).unwrap();
    assert!(block_on(verify(&RustCrypto, Alg::RS256, &rsa, input, &sig)));
    assert!(!block_on(verify(&RustCrypto, Alg::PS256, &rsa, input, &sig)));
    // ES256 both ways.
    let (sk, private) = p256_pair();
    let sig = block_on(sign(&RustCrypto, &private, input)).unwrap();
    let theirs = Es256.sign(&sk, input).as_bytes().into_owned();
    for s in [&sig, &theirs] {
        assert!(block_on(verify(&RustCrypto, Alg::ES256, private.public(), input, s)));
    }
    assert!(!block_on(verify(
        &RustCrypto,
        Alg::ES256,
        private.public(),
        b"other",
        &sig
    )));
    // A P-256 private key whose d belongs to another point fails to sign.
    let (_, other) = p256_pair();
    let (PrivateKeyJwk::P256 { public, .. }, PrivateKeyJwk::P256 { d, .. }) = (&private, &other) else {
        unreachable!()
    };
    let mismatched = PrivateKeyJwk::P256 {
        public: public.clone(),
        d: *d,
    };
    assert!(block_on(sign(&RustCrypto, &mismatched, input)).is_err());
    // Ed25519.
    let ed = <Ed25519 as Algorithm>::SigningKey::from_slice(&[5; 32]).unwrap();
    let key = PublicKeyJwk::ed25519(ed.verifying_key().as_bytes()).unwrap();
    let sig = Ed25519.sign(&ed, input).as_bytes().into_owned();
    assert!(block_on(verify(&RustCrypto, Alg::EdDSA, &key, input, &sig)));
    assert!(!block_on(verify(&RustCrypto, Alg::EdDSA, &key, b"other", &sig)));
    // An x that is not a curve point: an error from the implementation, so not verified.
    let bad = PublicKeyJwk::ed25519(&[0xff; 32]).unwrap();
    assert!(!block_on(verify(&RustCrypto, Alg::EdDSA, &bad, input, &sig)));
    // The same for a P-256 point off the curve (the core no longer checks it; WebCrypto refuses
    // it in workerd: tests/e2e/conformance.test.mjs, rp-jwks-ec-point-off-curve).
    let off_curve = PublicKeyJwk::p256(&[1; 32], &[1; 32]).unwrap();
    assert!(block_on(RustCrypto.verify(Alg::ES256, &off_curve, input, &[1; 64])).is_err());
    assert!(!block_on(verify(&RustCrypto, Alg::ES256, &off_curve, input, &[1; 64])));
    // The implementation refuses a mismatch itself too (defence in depth).
    assert!(block_on(RustCrypto.verify(Alg::ES256, &rsa, input, &[0; 256])).is_err());
    assert!(block_on(RustCrypto.sign(Alg::ES256, &rsa_private(), input)).is_err());
}

/// The core no longer checks P-256 points and scalars itself: the implementation refuses to sign
/// with a key whose point is off the curve, whose scalar is out of range, or whose scalar does
/// not belong to the point.
#[test]
fn sign_refuses_invalid_p256_private_keys() {
    let (_, good) = p256_pair();
    let PrivateKeyJwk::P256 { public, d } = &good else {
        unreachable!()
    };
    let PublicKeyJwk::P256 { x, .. } = public else {
        unreachable!()
    };
    let input = b"header.payload";
    assert!(block_on(sign(&RustCrypto, &good, input)).is_ok());
    for bad in [
        PrivateKeyJwk::p256(x, x, d).unwrap(),
        PrivateKeyJwk::p256(x, &[1; 32], &[0xff; 32]).unwrap(),
        PrivateKeyJwk::p256(x, &[1; 32], &[0; 32]).unwrap(),
    ] {
        assert!(block_on(sign(&RustCrypto, &bad, input)).is_err());
    }
}
