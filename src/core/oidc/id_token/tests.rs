//! Tests for `id_token` (and JWKS key selection end to end). Keys are
//! generated once per test binary; tokens are signed with jwt-compact and
//! verified with the RustCrypto implementation of [`Signatures`].

use super::*;
use crate::core::crypto::{rust::RustCrypto, CryptoError, LocalBoxFuture, PrivateKeyJwk, PublicKeyJwk};
use crate::core::oidc::jwks::{Alg, Jwks, KeySelectError};
use jwt_compact::{
    alg::{Ed25519, Es256, Hs256, Hs256Key, Rsa, RsaPrivateKey, SigningKey as _},
    jwk::JsonWebKey,
    Algorithm, AlgorithmExt, AlgorithmSignature as _, Header, Renamed,
};
use rand::Rng as _;
use serde_json::json;
use std::cell::Cell;
use std::sync::OnceLock;

type P256Sk = <Es256 as Algorithm>::SigningKey;
type EdSk = <Ed25519 as Algorithm>::SigningKey;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://op.example";
const CLIENT: &str = "client-123";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Keys {
    rsa: RsaPrivateKey,
    ec: P256Sk,
    ec_other: P256Sk,
    ed: EdSk,
}

fn random_p256() -> P256Sk {
    // A random 32-byte string is a valid scalar except with ~2^-32 odds.
    loop {
        if let Ok(k) = P256Sk::from_slice(&rand::thread_rng().gen::<[u8; 32]>()) {
            return k;
        }
    }
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap(),
        ec: random_p256(),
        ec_other: random_p256(),
        ed: EdSk::from_slice(&rand::thread_rng().gen::<[u8; 32]>()).unwrap(),
    })
}

/// A public JWK as JSON with extra members (kid, use, alg, ...).
fn jwk(key: JsonWebKey<'_>, extra: Value) -> Value {
    jwk_with(serde_json::to_value(&key).unwrap(), extra)
}

fn jwk_with(mut v: Value, extra: Value) -> Value {
    let Value::Object(extra) = extra else {
        panic!("extra must be an object")
    };
    v.as_object_mut().unwrap().extend(extra);
    v
}

fn rsa_jwk(key: &RsaPrivateKey, extra: Value) -> Value {
    jwk(JsonWebKey::from(&key.to_public_key()), extra)
}

fn jwks_of(keys: Vec<Value>) -> Jwks {
    Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
}

/// The provider's JWKS: one usable key per type, surrounded by keys that
/// must be skipped. The "enc" and "encrypt" RSA keys reuse kid "rsa-1": if
/// they were not skipped, selecting "rsa-1" would be ambiguous.
fn std_jwks() -> &'static Jwks {
    static JWKS: OnceLock<Jwks> = OnceLock::new();
    JWKS.get_or_init(|| {
        let k = keys();
        let p384 = Base64UrlUnpadded::encode_string(&[7u8; 48]);
        jwks_of(vec![
            json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "hmac-1"}),
            fake_rsa_jwk(json!({"kid": "rsa-1", "use": "enc"})),
            fake_rsa_jwk(json!({"kid": "rsa-1", "key_ops": ["encrypt"]})),
            json!({"kty": "EC", "crv": "P-384", "x": p384, "y": p384, "kid": "ec384"}),
            json!({"kty": "XYZ", "kid": "future"}),
            json!("not an object"),
            rsa_jwk(&k.rsa, json!({"kid": "rsa-1", "use": "sig", "alg": "RS256"})),
            jwk(
                JsonWebKey::from(k.ec.verifying_key()),
                json!({"kid": "ec-1", "alg": "ES256"}),
            ),
            jwk(
                JsonWebKey::from(&k.ed.verifying_key()),
                json!({"kid": "ed-1", "use": "sig"}),
            ),
        ])
    })
}

fn claims() -> Map<String, Value> {
    let c = json!({
        "iss": ISS, "sub": "user-42", "aud": CLIENT, "exp": NOW + 300, "iat": NOW - 10,
        "nonce": NONCE, "email": "u@example.com", "email_verified": true,
        "groups": ["admins"],
    });
    let Value::Object(c) = c else { unreachable!() };
    c
}

fn with(mut c: Map<String, Value>, name: &str, value: Value) -> Map<String, Value> {
    c.insert(name.to_owned(), value);
    c
}

fn without(mut c: Map<String, Value>, name: &str) -> Map<String, Value> {
    c.remove(name);
    c
}

fn header(kid: Option<&str>) -> Header {
    match kid {
        Some(kid) => Header::empty().with_key_id(kid),
        None => Header::empty(),
    }
}

fn sign_rsa(alg: Rsa, key: &RsaPrivateKey, kid: Option<&str>, c: &Map<String, Value>) -> String {
    alg.token(&header(kid), &Claims::new(c.clone()), key).unwrap()
}

/// The one RS256 token with the standard claims (RSA signing is slow in
/// debug builds, so it is signed once).
fn rs256_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| sign_rsa(Rsa::rs256(), &keys().rsa, Some("rsa-1"), &claims()))
}

/// A token with claims `c`, signed with the ES256 key "ec-1". Claim checks
/// do not depend on the algorithm, and ES256 is fast.
fn tok(c: &Map<String, Value>) -> String {
    es256(&keys().ec, Some("ec-1"), c)
}

/// An ES256 key's signature under a header naming `alg` / `kid`: for tests
/// that must be decided before any signature check.
fn header_only(alg: &str, kid: Option<&str>) -> String {
    let mut h = json!({ "alg": alg });
    if let Some(kid) = kid {
        h["kid"] = json!(kid);
    }
    es256_raw(&h.to_string(), &Value::Object(claims()).to_string())
}

/// An RSA public JWK with a made-up 2048-bit modulus: parses and selects
/// like a real key, verifies nothing.
fn fake_rsa_jwk(extra: Value) -> Value {
    let n = Base64UrlUnpadded::encode_string(&[0xC5; 256]);
    jwk_with(json!({"kty": "RSA", "n": n, "e": "AQAB"}), extra)
}

fn es256(key: &P256Sk, kid: Option<&str>, c: &Map<String, Value>) -> String {
    Es256.token(&header(kid), &Claims::new(c.clone()), key).unwrap()
}

fn eddsa(kid: Option<&str>, c: &Map<String, Value>) -> String {
    Ed25519
        .token(&header(kid), &Claims::new(c.clone()), &keys().ed)
        .unwrap()
}

/// An ES256 token over exactly these header and claims bytes, for shapes
/// jwt-compact would not produce (duplicate claims, crit, odd types).
fn es256_raw(header: &str, claims: &str) -> String {
    let b64 = |s: &[u8]| Base64UrlUnpadded::encode_string(s);
    let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let sig = Es256.sign(&keys().ec, msg.as_bytes());
    format!("{msg}.{}", b64(&sig.as_bytes()))
}

fn params() -> ValidationParams<'static> {
    ValidationParams {
        issuer: ExpectedIssuer::Exact(ISS),
        client_id: CLIENT,
        allowed_algs: Alg::DEFAULT_ALLOWED,
        expected_nonce: Some(NONCE),
        now: NOW,
        leeway_secs: 60,
        max_age_secs: None,
    }
}

/// [`super::validate`] with the RustCrypto signatures, run to completion.
fn validate_claims(token: &str, jwks: &Jwks, p: &ValidationParams<'_>) -> Result<IdTokenClaims, IdTokenError> {
    futures::executor::block_on(super::validate_claims(token, jwks, p, &RustCrypto))
}

fn check(token: &str) -> Result<IdTokenClaims, IdTokenError> {
    validate_claims(token, std_jwks(), &params())
}

fn check_err(token: &str) -> IdTokenError {
    check(token).unwrap_err()
}

// ---- accepted tokens ----

#[test]
fn std_jwks_keeps_only_the_three_signature_keys() {
    let jwks = std_jwks();
    assert_eq!(jwks.len(), 3);
    let kids: Vec<_> = jwks.keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids, [Some("rsa-1"), Some("ec-1"), Some("ed-1")]);
}

#[test]
fn valid_rs256_is_accepted_with_all_claims() {
    let c = check(rs256_token()).unwrap();
    assert_eq!(c.iss, ISS);
    assert_eq!(c.sub, "user-42");
    assert_eq!(c.aud, [CLIENT]);
    assert_eq!((c.exp, c.iat, c.nbf), (NOW + 300, NOW - 10, None));
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert_eq!(c.email_verified, Some(true));
    assert_eq!(c.extra.get("groups"), Some(&json!(["admins"])));
    // exp / iat are typed fields only, never duplicated into extra.
    assert!(!c.extra.contains_key("exp") && !c.extra.contains_key("iat"));
}

#[test]
fn valid_es256_and_eddsa_are_accepted() {
    assert_eq!(
        check(&es256(&keys().ec, Some("ec-1"), &claims())).unwrap().sub,
        "user-42"
    );
    assert_eq!(check(&eddsa(Some("ed-1"), &claims())).unwrap().sub, "user-42");
}

#[test]
fn rsa_key_without_jwk_alg_verifies_ps256_and_rs512() {
    let jwks = jwks_of(vec![rsa_jwk(&keys().rsa, json!({"kid": "r"}))]);
    for alg in [Rsa::ps256(), Rsa::rs512()] {
        let token = sign_rsa(alg, &keys().rsa, Some("r"), &claims());
        assert!(validate_claims(&token, &jwks, &params()).is_ok());
    }
}

#[test]
fn kid_absent_uses_the_single_compatible_key() {
    // std_jwks has one key per type, so each algorithm has exactly one fit.
    assert!(check(&sign_rsa(Rsa::rs256(), &keys().rsa, None, &claims())).is_ok());
    assert!(check(&es256(&keys().ec, None, &claims())).is_ok());
    assert!(check(&eddsa(None, &claims())).is_ok());
}

#[test]
fn kid_absent_with_two_compatible_keys_is_ambiguous() {
    let jwks = jwks_of(vec![rsa_jwk(&keys().rsa, json!({})), fake_rsa_jwk(json!({}))]);
    let token = header_only("RS256", None);
    assert_eq!(
        validate_claims(&token, &jwks, &params()),
        Err(IdTokenError::Key(KeySelectError::AmbiguousKey(Alg::RS256)))
    );
}

#[test]
fn several_audiences_with_our_azp_are_accepted() {
    let c = with(claims(), "aud", json!(["other-api", CLIENT]));
    let c = with(c, "azp", json!(CLIENT));
    assert_eq!(check(&tok(&c)).unwrap().aud, ["other-api", CLIENT]);
    // A one-element array is as good as a string, and needs no azp.
    assert!(check(&tok(&with(claims(), "aud", json!([CLIENT])))).is_ok());
}

#[test]
fn email_verified_as_string_is_accepted() {
    let c = with(claims(), "email_verified", json!("false"));
    assert_eq!(check(&tok(&c)).unwrap().email_verified, Some(false));
}

#[test]
fn claims_round_trip_through_serde() {
    let c = check(&tok(&with(claims(), "amr", json!("pwd")))).unwrap();
    assert_eq!(c.amr, Some(vec!["pwd".to_owned()]));
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<IdTokenClaims>(&json).unwrap(), c);
    let single: IdTokenClaims = serde_json::from_value(json!({
        "iss": ISS, "sub": "s", "aud": CLIENT, "exp": 1, "iat": 0
    }))
    .unwrap();
    assert_eq!(single.aud, [CLIENT]);
    // Missing exp must not default to 0 when reading stored claims either.
    let missing = json!({"iss": ISS, "sub": "s", "aud": CLIENT, "iat": 0});
    assert!(serde_json::from_value::<IdTokenClaims>(missing).is_err());
}

#[test]
fn peek_header_reads_alg_and_kid() {
    assert_eq!(peek_header(rs256_token()), Ok((Alg::RS256, Some("rsa-1".to_owned()))));
    assert_eq!(peek_header(&eddsa(None, &claims())), Ok((Alg::EdDSA, None)));
}

// ---- algorithm and key ----

#[test]
fn alg_none_is_forbidden() {
    let b64 = |s: &str| Base64UrlUnpadded::encode_string(s.as_bytes());
    let body = b64(&Value::Object(claims()).to_string());
    for alg in ["none", "NONE"] {
        let token = format!("{}.{body}.", b64(&json!({ "alg": alg }).to_string()));
        assert_eq!(check_err(&token), IdTokenError::ForbiddenAlg(alg.to_owned()));
        assert_eq!(peek_header(&token), Err(IdTokenError::ForbiddenAlg(alg.to_owned())));
    }
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_forbidden() {
    // The classic confusion attack: MAC the token with the public key's
    // bytes and hope the verifier uses the JWKS key as an HMAC secret.
    let public_key = keys().rsa.to_public_key();
    let public = JsonWebKey::from(&public_key).to_string();
    let JsonWebKey::Rsa { modulus, .. } = JsonWebKey::from(&public_key) else {
        unreachable!()
    };
    for secret in [public.as_bytes(), &modulus[..]] {
        let token = Hs256
            .token(&header(Some("rsa-1")), &Claims::new(claims()), &Hs256Key::new(secret))
            .unwrap();
        assert_eq!(check_err(&token), IdTokenError::ForbiddenAlg("HS256".to_owned()));
    }
}

#[test]
fn alg_not_in_allow_list_is_rejected_before_key_lookup() {
    let p = ValidationParams {
        allowed_algs: &[Alg::ES256],
        ..params()
    };
    // kid "unknown" would give UnknownKid if the key were looked up first.
    let token = header_only("RS256", Some("unknown"));
    assert_eq!(
        validate_claims(&token, std_jwks(), &p),
        Err(IdTokenError::AlgNotAllowed("RS256".into()))
    );
}

#[test]
fn unsupported_alg_names_are_not_allowed() {
    let token = Renamed::new(Es256, "ES384")
        .token(&header(Some("ec-1")), &Claims::new(claims()), &keys().ec)
        .unwrap();
    assert_eq!(check_err(&token), IdTokenError::AlgNotAllowed("ES384".into()));
    let token = es256_raw(r#"{"alg":"ES256\u0000<script>"}"#, "{}");
    assert_eq!(check_err(&token), IdTokenError::AlgNotAllowed("(unrecognised)".into()));
}

#[test]
fn unknown_kid_asks_for_a_refetch() {
    let err = check_err(&header_only("RS256", Some("rotated")));
    assert_eq!(err, IdTokenError::Key(KeySelectError::UnknownKid));
    assert!(err.needs_jwks_refresh());
    assert!(!IdTokenError::BadSignature.needs_jwks_refresh());
}

#[test]
fn kid_of_a_key_of_another_type_is_no_suitable_key() {
    let token = header_only("RS256", Some("ed-1"));
    assert_eq!(
        check_err(&token),
        IdTokenError::Key(KeySelectError::NoSuitableKey(Alg::RS256))
    );
    let token = es256(&keys().ec, Some("rsa-1"), &claims());
    assert_eq!(
        check_err(&token),
        IdTokenError::Key(KeySelectError::NoSuitableKey(Alg::ES256))
    );
}

#[test]
fn jwk_alg_restricts_the_key() {
    // rsa-1 states "alg":"RS256", so a PS256 token cannot use it.
    let token = header_only("PS256", Some("rsa-1"));
    assert_eq!(
        check_err(&token),
        IdTokenError::Key(KeySelectError::NoSuitableKey(Alg::PS256))
    );
}

#[test]
fn signature_by_another_key_with_the_same_kid_is_rejected() {
    // The JWKS lists another RSA key under the signer's kid.
    let jwks = jwks_of(vec![fake_rsa_jwk(json!({"kid": "rsa-1"}))]);
    assert_eq!(
        validate_claims(rs256_token(), &jwks, &params()),
        Err(IdTokenError::BadSignature)
    );
    // A real second key pair, for ES256.
    assert_eq!(
        check_err(&es256(&keys().ec_other, Some("ec-1"), &claims())),
        IdTokenError::BadSignature
    );
}

#[test]
fn tampered_claims_break_the_signature() {
    let token = rs256_token();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = with(claims(), "sub", json!("admin"));
    let forged = Base64UrlUnpadded::encode_string(Value::Object(forged).to_string().as_bytes());
    let token = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(check_err(&token), IdTokenError::BadSignature);
}

// ---- issuer, audience, azp, sub ----

#[test]
fn wrong_or_missing_issuer_is_rejected() {
    for iss in [json!("https://evil.example"), json!("https://op.example/"), json!(null)] {
        assert_eq!(check_err(&tok(&with(claims(), "iss", iss))), IdTokenError::WrongIssuer);
    }
    assert_eq!(check_err(&tok(&without(claims(), "iss"))), IdTokenError::WrongIssuer);
}

/// An issuer template (Entra multi-tenant): `iss` must be the template with the token's own
/// `tid`, which must be a GUID; the template itself, another tenant's issuer or a `tid` that is
/// not a GUID are refused.
#[test]
fn templated_issuer_takes_the_tenant_from_tid() {
    use crate::core::oidc::issuer::TenantIssuer;
    let template = TenantIssuer::new("https://login.example/{tenantid}/v2.0", vec![]).unwrap();
    let p = ValidationParams {
        issuer: ExpectedIssuer::Tenant(&template),
        ..params()
    };
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let other = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let entra = |iss: &str, tid: Option<&str>| {
        let c = with(claims(), "iss", json!(iss));
        let c = match tid {
            Some(t) => with(c, "tid", json!(t)),
            None => c,
        };
        validate_claims(&tok(&c), std_jwks(), &p)
    };
    let ok = entra(&format!("https://login.example/{tid}/v2.0"), Some(tid)).unwrap();
    assert_eq!(ok.extra["tid"], json!(tid));
    let cases = [
        (
            format!("https://login.example/{other}/v2.0"),
            Some(tid),
            IdTokenError::WrongIssuer,
        ),
        (
            "https://login.example/{tenantid}/v2.0".to_owned(),
            Some(tid),
            IdTokenError::WrongIssuer,
        ),
        (
            format!("https://login.example/{tid}/v2.0"),
            None,
            IdTokenError::BadTenantId,
        ),
        (
            "https://login.example/common/v2.0".to_owned(),
            Some("common"),
            IdTokenError::BadTenantId,
        ),
        (
            "https://login.example/a/../v2.0".to_owned(),
            Some("a/.."),
            IdTokenError::BadTenantId,
        ),
    ];
    for (iss, tid, want) in cases {
        assert_eq!(entra(&iss, tid), Err(want.clone()), "{iss} {tid:?}");
    }
    // An exact issuer never matches a templated token, whatever its tid.
    let c = with(
        with(claims(), "iss", json!(format!("https://login.example/{tid}/v2.0"))),
        "tid",
        json!(tid),
    );
    assert_eq!(check_err(&tok(&c)), IdTokenError::WrongIssuer);
}

#[test]
fn audience_without_our_client_is_rejected() {
    for aud in [json!("other"), json!(["a", "b"]), json!([])] {
        assert_eq!(
            check_err(&tok(&with(claims(), "aud", aud))),
            IdTokenError::WrongAudience
        );
    }
    assert_eq!(check_err(&tok(&without(claims(), "aud"))), IdTokenError::WrongAudience);
}

#[test]
fn several_audiences_without_azp_are_rejected() {
    let c = with(claims(), "aud", json!([CLIENT, "other-api"]));
    assert_eq!(check_err(&tok(&c)), IdTokenError::MissingAzp);
}

#[test]
fn foreign_azp_is_rejected() {
    let c = with(claims(), "azp", json!("other-client"));
    assert_eq!(check_err(&tok(&c)), IdTokenError::WrongAzp);
    let c = with(
        with(c, "aud", json!([CLIENT, "other-client"])),
        "azp",
        json!("other-client"),
    );
    assert_eq!(check_err(&tok(&c)), IdTokenError::WrongAzp);
}

#[test]
fn missing_or_empty_sub_is_rejected() {
    assert_eq!(check_err(&tok(&without(claims(), "sub"))), IdTokenError::MissingSub);
    assert_eq!(
        check_err(&tok(&with(claims(), "sub", json!("")))),
        IdTokenError::MissingSub
    );
}

// ---- time ----

#[test]
fn missing_iat_and_exp_are_rejected() {
    assert_eq!(check_err(&tok(&without(claims(), "iat"))), IdTokenError::MissingIat);
    assert_eq!(check_err(&tok(&without(claims(), "exp"))), IdTokenError::MissingExp);
}

#[test]
fn iat_in_the_future_beyond_leeway_is_rejected() {
    let at = |iat: i64| check(&tok(&with(claims(), "iat", json!(iat))));
    assert_eq!(at(NOW + 61).unwrap_err(), IdTokenError::IssuedInFuture);
    assert!(at(NOW + 60).is_ok());
}

#[test]
fn exp_is_checked_with_leeway() {
    let at = |exp: i64| check(&tok(&with(claims(), "exp", json!(exp))));
    assert_eq!(at(NOW - 3600).unwrap_err(), IdTokenError::Expired);
    assert_eq!(at(NOW - 60).unwrap_err(), IdTokenError::Expired);
    assert!(at(NOW - 59).is_ok());
    assert!(at(NOW).is_ok());
}

#[test]
fn nbf_in_the_future_is_rejected() {
    let at = |nbf: i64| check(&tok(&with(claims(), "nbf", json!(nbf))));
    assert_eq!(at(NOW + 61).unwrap_err(), IdTokenError::NotYetValid);
    assert_eq!(at(NOW + 60).unwrap().nbf, Some(NOW + 60));
}

#[test]
fn extreme_numbers_never_panic() {
    let extremes = [
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e300),
    ];
    for v in &extremes {
        // Outside chrono's range: jwt-compact refuses to parse these.
        for claim in ["exp", "iat", "nbf"] {
            let r = check(&tok(&with(claims(), claim, v.clone())));
            assert!(matches!(r, Err(IdTokenError::Malformed(_))), "{claim}={v}");
        }
        // auth_time and the params are ours: the arithmetic must saturate
        // (tests run with overflow checks on, so an overflow would panic).
        let token = tok(&with(claims(), "auth_time", v.clone()));
        for (now, leeway_secs, max_age) in [
            (i64::MAX, i64::MAX, i64::MAX),
            (i64::MIN, i64::MAX, i64::MIN),
            (NOW, i64::MIN, 0),
        ] {
            let p = ValidationParams {
                now,
                leeway_secs,
                max_age_secs: Some(max_age),
                ..params()
            };
            let _ = validate_claims(&token, std_jwks(), &p);
        }
    }
}

// ---- nonce, max_age ----

#[test]
fn nonce_must_match_when_expected() {
    let c = with(claims(), "nonce", json!("n-0S6_WzA2Mk"));
    assert_eq!(check_err(&tok(&c)), IdTokenError::NonceMismatch);
    assert_eq!(check_err(&tok(&without(claims(), "nonce"))), IdTokenError::MissingNonce);
    // No nonce expected: whatever the token carries is not checked.
    let p = ValidationParams {
        expected_nonce: None,
        ..params()
    };
    assert!(validate_claims(&tok(&without(claims(), "nonce")), std_jwks(), &p).is_ok());
}

#[test]
fn max_age_requires_a_recent_auth_time() {
    let p = ValidationParams {
        max_age_secs: Some(300),
        ..params()
    };
    let at = |c: Map<String, Value>| validate_claims(&tok(&c), std_jwks(), &p);
    assert_eq!(at(claims()), Err(IdTokenError::MissingAuthTime));
    assert_eq!(
        at(with(claims(), "auth_time", json!(NOW - 361))),
        Err(IdTokenError::AuthTooOld)
    );
    assert_eq!(
        at(with(claims(), "auth_time", json!(NOW - 360))).unwrap().auth_time,
        Some(NOW - 360)
    );
    // Without max_age, auth_time is neither required nor checked.
    assert!(check(&tok(&with(claims(), "auth_time", json!(0)))).is_ok());
}

// ---- at_hash / c_hash ----

#[test]
fn token_hashes_match_the_spec_examples() {
    // OpenID Connect Core 1.0 Appendix A.4 / A.3 (RS256 tokens).
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    assert_eq!(
        verify_token_hash(Alg::RS256, access_token, "77QmUPtjPfzWtF2AnpK9RQ"),
        Ok(())
    );
    assert_eq!(verify_token_hash(Alg::RS256, code, "LDktKdoQak3Pk0cnXxCltA"), Ok(()));
    // SHA-384 / SHA-512 (EdDSA too) halves, computed with Python's hashlib.
    assert_eq!(token_hash(Alg::PS384, access_token), "jtAeDp945y1dDqU3nkIVGNZP1HjH_MFs");
    let sha512_half = "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM";
    assert_eq!(token_hash(Alg::RS512, access_token), sha512_half);
    assert_eq!(verify_token_hash(Alg::EdDSA, access_token, sha512_half), Ok(()));
}

#[test]
fn wrong_token_hashes_are_rejected() {
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    for (alg, expected) in [
        (Alg::RS256, "77QmUPtjPfzWtF2AnpK9RR"),
        (Alg::RS256, "77QmUPtjPfzWtF2AnpK9RQ="),
        (Alg::RS256, ""),
        (Alg::ES256, "LDktKdoQak3Pk0cnXxCltA"),
        // Right value, wrong hash: the SHA-256 half under a *512 alg.
        (Alg::EdDSA, "77QmUPtjPfzWtF2AnpK9RQ"),
    ] {
        assert_eq!(
            verify_token_hash(alg, access_token, expected),
            Err(IdTokenError::TokenHashMismatch)
        );
    }
}

/// [`validate`] (the only way to a [`ValidatedIdToken`]) checks the hashes against what came
/// with the token, with the hash of the token's own algorithm, and requires them when told.
#[test]
fn validated_tokens_check_at_hash_and_c_hash() {
    let at = "access-token-1";
    let code = "code-1";
    let run = |token: &str, hashes: TokenHashes<'_>| {
        futures::executor::block_on(validate(token, std_jwks(), &params(), hashes, &RustCrypto))
    };
    let good = with(
        with(claims(), "at_hash", json!(token_hash(Alg::ES256, at))),
        "c_hash",
        json!(token_hash(Alg::ES256, code)),
    );
    let both = TokenHashes {
        access_token: Some(at),
        require_at_hash: true,
        code: Some(code),
        require_c_hash: true,
    };
    let v = run(&tok(&good), both).unwrap();
    assert_eq!(v.claims().sub, claims()["sub"]);
    assert_eq!(v.alg(), Alg::ES256, "tok() signs ES256");
    assert_eq!(v.raw(), tok(&good));
    // Wrong value for either hash.
    let wrong_at = TokenHashes {
        access_token: Some("other"),
        ..both
    };
    assert_eq!(run(&tok(&good), wrong_at).unwrap_err(), IdTokenError::TokenHashMismatch);
    let wrong_code = TokenHashes {
        code: Some("other"),
        ..both
    };
    assert_eq!(
        run(&tok(&good), wrong_code).unwrap_err(),
        IdTokenError::TokenHashMismatch
    );
    // Missing where required; optional where not (the code flow's at_hash).
    assert_eq!(
        run(&tok(&without(good.clone(), "at_hash")), both).unwrap_err(),
        IdTokenError::MissingAtHash
    );
    assert_eq!(
        run(&tok(&without(good.clone(), "c_hash")), both).unwrap_err(),
        IdTokenError::MissingCHash
    );
    let code_flow = TokenHashes {
        access_token: Some(at),
        ..TokenHashes::default()
    };
    assert!(run(&tok(&without(good.clone(), "at_hash")), code_flow).is_ok());
    // The hash of the token's own algorithm: an ES256 token's at_hash is SHA-256 based, an
    // EdDSA token's SHA-512 based; the other one is refused.
    let ed = |h: String| eddsa(Some("ed-1"), &with(claims(), "at_hash", json!(h)));
    assert!(run(&ed(token_hash(Alg::EdDSA, at)), code_flow).is_ok());
    assert_eq!(
        run(&ed(token_hash(Alg::ES256, at)), code_flow).unwrap_err(),
        IdTokenError::TokenHashMismatch
    );
}

#[test]
fn every_error_has_a_fault_class() {
    use IdTokenFault as F;
    for (e, fault) in [
        (IdTokenError::WrongAudience, F::Configuration),
        (IdTokenError::AlgNotAllowed("RS256".into()), F::Configuration),
        (IdTokenError::BadSignature, F::Security),
        (IdTokenError::NonceMismatch, F::Security),
        (IdTokenError::MissingCHash, F::Security),
        (IdTokenError::Expired, F::Clock),
        (IdTokenError::AuthTooOld, F::Reauthenticate),
        (IdTokenError::MissingSub, F::Provider),
    ] {
        assert_eq!(e.fault(), fault, "{e}");
    }
}

// ---- malformed input ----

#[test]
fn garbage_is_malformed_and_never_panics() {
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    let big_parts = format!("{0}.{0}.{0}", "QUFB".repeat(5000));
    let inputs = [
        "",
        ".",
        "..",
        "...",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!!.@@@.###",
        "é.é.é",
        "eyJ.eyJ.",
        "e30.e30.",
        "bnVsbA.e30.",
        &huge,
        &big_parts,
    ];
    for input in inputs {
        assert!(matches!(check(input), Err(IdTokenError::Malformed(_))), "{input:.40}");
        assert!(
            matches!(peek_header(input), Err(IdTokenError::Malformed(_))),
            "{input:.40}"
        );
    }
}

#[test]
fn signed_but_malformed_claims_are_rejected() {
    let h = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let dup = r#"{"iss":"https://evil.example","iss":"https://op.example","sub":"s","aud":"client-123","exp":1700000300,"iat":1700000000,"nonce":"n-0S6_WzA2Mj"}"#;
    for body in ["not json", "[1,2]", "null", r#"{"exp":"soon"}"#, r#"{"aud":5}"#, dup] {
        assert!(
            matches!(check(&es256_raw(h, body)), Err(IdTokenError::Malformed(_))),
            "{body}"
        );
    }
    // The same claims without the duplicate pass, so the test can fail.
    let ok = dup.replace(r#""iss":"https://evil.example","#, "");
    assert!(check(&es256_raw(h, &ok)).is_ok());
}

#[test]
fn critical_header_extensions_are_rejected() {
    let body = Value::Object(claims()).to_string();
    let token = es256_raw(r#"{"alg":"ES256","kid":"ec-1","crit":["exp"],"exp":1}"#, &body);
    assert!(matches!(check(&token), Err(IdTokenError::Malformed(_))));
    assert!(check(&es256_raw(r#"{"alg":"ES256","kid":"ec-1"}"#, &body)).is_ok());
}

#[test]
fn error_messages_do_not_echo_token_contents() {
    let c = with(claims(), "nonce", json!("secret-nonce-value"));
    let msg = check_err(&tok(&c)).to_string();
    assert!(!msg.contains("secret-nonce-value") && !msg.contains(NONCE), "{msg}");
}

// ---- the Signatures boundary ----

/// A [`Signatures`] that counts calls and answers with a fixed result.
struct Scripted {
    calls: Cell<u32>,
    answer: Result<bool, CryptoError>,
}

impl Scripted {
    fn new(answer: Result<bool, CryptoError>) -> Self {
        Scripted {
            calls: Cell::new(0),
            answer,
        }
    }
}

impl Signatures for Scripted {
    fn verify<'a>(
        &'a self,
        _alg: Alg,
        _key: &'a PublicKeyJwk,
        _signing_input: &'a [u8],
        _signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
        self.calls.set(self.calls.get() + 1);
        Box::pin(std::future::ready(self.answer.clone()))
    }

    fn sign<'a>(
        &'a self,
        _alg: Alg,
        _key: &'a PrivateKeyJwk,
        _signing_input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(std::future::ready(Err(CryptoError("not here".into()))))
    }
}

fn validate_with(token: &str, jwks: &Jwks, sig: &dyn Signatures) -> Result<IdTokenClaims, IdTokenError> {
    futures::executor::block_on(super::validate_claims(token, jwks, &params(), sig))
}

#[test]
fn a_verifier_error_or_false_is_a_bad_signature() {
    let token = tok(&claims());
    for answer in [Err(CryptoError("importKey: invalid point".into())), Ok(false)] {
        let sig = Scripted::new(answer);
        assert_eq!(validate_with(&token, std_jwks(), &sig), Err(IdTokenError::BadSignature));
        assert_eq!(sig.calls.get(), 1);
    }
    // The same token with a verifier that says yes: the test can fail.
    let yes = Scripted::new(Ok(true));
    assert!(validate_with(&token, std_jwks(), &yes).is_ok());
}

#[test]
fn refused_tokens_never_reach_the_verifier() {
    let yes = Scripted::new(Ok(true));
    let b64 = |s: &str| Base64UrlUnpadded::encode_string(s.as_bytes());
    let body = b64(&Value::Object(claims()).to_string());
    let sig64 = Base64UrlUnpadded::encode_string(&[0u8; 64]);
    let sig256 = Base64UrlUnpadded::encode_string(&[0u8; 256]);
    let cases = [
        // none / HMAC.
        format!("{}.{body}.", b64(r#"{"alg":"none"}"#)),
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"HS256","kid":"rsa-1"}"#)),
        // Key type and alg mismatch: an RSA kid for ES256, an EC kid for RS256, EdDSA on EC.
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"ES256","kid":"rsa-1"}"#)),
        format!("{}.{body}.{sig256}", b64(r#"{"alg":"RS256","kid":"ec-1"}"#)),
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"EdDSA","kid":"ec-1"}"#)),
        // The JWK's alg (RS256) excludes PS256.
        format!("{}.{body}.{sig256}", b64(r#"{"alg":"PS256","kid":"rsa-1"}"#)),
        // Wrong signature lengths for the key.
        format!(
            "{}.{body}.{}",
            b64(r#"{"alg":"ES256","kid":"ec-1"}"#),
            Base64UrlUnpadded::encode_string(&[0u8; 65])
        ),
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"RS256","kid":"rsa-1"}"#)),
        format!("{}.{body}.", b64(r#"{"alg":"EdDSA","kid":"ed-1"}"#)),
        // crit, unknown kid, unknown alg.
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"ES256","kid":"ec-1","crit":["x"]}"#)),
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"ES256","kid":"nope"}"#)),
        format!("{}.{body}.{sig64}", b64(r#"{"alg":"ES512","kid":"ec-1"}"#)),
    ];
    for token in &cases {
        assert!(validate_with(token, std_jwks(), &yes).is_err(), "{token}");
    }
    assert_eq!(yes.calls.get(), 0);
    // Not in the allow-list: refused before the key and the verifier.
    let p = ValidationParams {
        allowed_algs: &[Alg::RS256],
        ..params()
    };
    let token = tok(&claims());
    assert!(futures::executor::block_on(super::validate_claims(&token, std_jwks(), &p, &yes)).is_err());
    assert_eq!(yes.calls.get(), 0);
}

#[test]
fn the_verifier_gets_the_signing_input_and_the_selected_key() {
    type Call = (Alg, PublicKeyJwk, Vec<u8>, Vec<u8>);
    struct Spy(std::cell::RefCell<Vec<Call>>);
    impl Signatures for Spy {
        fn verify<'a>(
            &'a self,
            alg: Alg,
            key: &'a PublicKeyJwk,
            input: &'a [u8],
            signature: &'a [u8],
        ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
            self.0
                .borrow_mut()
                .push((alg, key.clone(), input.to_vec(), signature.to_vec()));
            Box::pin(std::future::ready(Ok(true)))
        }
        fn sign<'a>(
            &'a self,
            _: Alg,
            _: &'a PrivateKeyJwk,
            _: &'a [u8],
        ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
            Box::pin(std::future::ready(Err(CryptoError("no".into()))))
        }
    }
    let spy = Spy(Default::default());
    let token = eddsa(Some("ed-1"), &claims());
    assert!(validate_with(&token, std_jwks(), &spy).is_ok());
    let calls = spy.0.borrow();
    let (alg, key, input, signature) = &calls[0];
    assert_eq!(*alg, Alg::EdDSA);
    assert_eq!(key, std_jwks().keys()[2].key());
    let (head, sig) = token.rsplit_once('.').unwrap();
    assert_eq!(input, head.as_bytes());
    assert_eq!(signature, &Base64UrlUnpadded::decode_vec(sig).unwrap());
}

#[test]
fn every_algorithm_verifies_with_rustcrypto_and_fails_when_tampered() {
    let jwks = jwks_of(vec![rsa_jwk(&keys().rsa, json!({"kid": "r"}))]);
    for alg in [
        Rsa::rs256(),
        Rsa::rs384(),
        Rsa::rs512(),
        Rsa::ps256(),
        Rsa::ps384(),
        Rsa::ps512(),
    ] {
        let token = sign_rsa(alg, &keys().rsa, Some("r"), &claims());
        assert!(validate_claims(&token, &jwks, &params()).is_ok(), "{token:.30}");
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut sig = Base64UrlUnpadded::decode_vec(sig).unwrap();
        sig[10] ^= 1;
        let forged = format!("{head}.{}", Base64UrlUnpadded::encode_string(&sig));
        assert_eq!(
            validate_claims(&forged, &jwks, &params()),
            Err(IdTokenError::BadSignature)
        );
    }
}

/// Core §12.2: a refreshed ID token keeps the original `sub`, `nonce` (if any) and `auth_time`;
/// no nonce is expected from the refresh itself, and everything else is checked as usual.
#[test]
fn refreshed_id_tokens_must_match_the_original_authentication() {
    let refresh = |c: &Map<String, Value>, original: Original<'_>| {
        let p = ValidationParams {
            expected_nonce: None,
            ..params()
        };
        futures::executor::block_on(validate_refreshed(
            &tok(c),
            std_jwks(),
            &p,
            original,
            TokenHashes::default(),
            &RustCrypto,
        ))
    };
    let original = Original {
        sub: "user-42",
        nonce: Some(NONCE),
        auth_time: Some(NOW - 1000),
    };
    let fresh = with(claims(), "auth_time", json!(NOW - 1000));
    assert!(refresh(&fresh, original).is_ok());
    // No nonce at all is fine (providers usually send none on refresh); no auth_time too.
    assert!(refresh(&without(without(fresh.clone(), "nonce"), "auth_time"), original).is_ok());
    let cases = [
        (
            with(fresh.clone(), "sub", json!("user-43")),
            IdTokenError::SubjectChanged,
        ),
        (
            with(fresh.clone(), "nonce", json!("other")),
            IdTokenError::OriginalMismatch,
        ),
        (
            with(fresh.clone(), "auth_time", json!(NOW - 5)),
            IdTokenError::OriginalMismatch,
        ),
        (
            with(fresh.clone(), "iss", json!("https://other.example")),
            IdTokenError::WrongIssuer,
        ),
        (
            with(fresh.clone(), "aud", json!("someone")),
            IdTokenError::WrongAudience,
        ),
        (with(fresh.clone(), "exp", json!(NOW - 600)), IdTokenError::Expired),
    ];
    for (c, expected) in cases {
        assert_eq!(refresh(&c, original).map(|_| ()), Err(expected.clone()), "{expected}");
    }
    // A nonce where the original had none.
    let no_nonce = Original {
        nonce: None,
        ..original
    };
    assert_eq!(
        refresh(&fresh, no_nonce).map(|_| ()),
        Err(IdTokenError::OriginalMismatch)
    );
    // The stored original is read back without a signature check.
    let stored = stored_claims(&tok(&fresh)).unwrap();
    assert_eq!((stored.sub.as_str(), stored.auth_time), ("user-42", Some(NOW - 1000)));
    assert!(stored_claims("junk").is_none());
}
