//! Logout token validation (Back-Channel Logout 1.0 §2.6), one rule at a time: ES256 tokens
//! from a key made at setup, verified with the RustCrypto implementation of `Signatures`.

use super::*;
use crate::core::crypto::rust::RustCrypto;
use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::Es256;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature as _, Header};
use rand::Rng as _;
use serde_json::{json, Map};
use std::sync::OnceLock;

type P256Sk = <Es256 as Algorithm>::SigningKey;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://op.example";
const CLIENT: &str = "client-123";

fn key() -> &'static P256Sk {
    static KEY: OnceLock<P256Sk> = OnceLock::new();
    KEY.get_or_init(|| loop {
        if let Ok(k) = P256Sk::from_slice(&rand::thread_rng().gen::<[u8; 32]>()) {
            break k;
        }
    })
}

fn jwks() -> Jwks {
    let mut jwk = serde_json::to_value(JsonWebKey::from(key().verifying_key())).unwrap();
    jwk["kid"] = json!("ec-1");
    Jwks::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap()
}

fn claims() -> Map<String, Value> {
    let Value::Object(c) = json!({
        "iss": ISS, "aud": CLIENT, "iat": NOW - 5, "exp": NOW + 120, "jti": "jti-1",
        "sub": "alice", "sid": "sid-1",
        "events": { BACKCHANNEL_EVENT: {} },
    }) else {
        unreachable!()
    };
    c
}

/// An ES256 token over exactly these header and claims bytes.
fn raw(header: &Value, claims: &Map<String, Value>) -> String {
    let b64 = |s: &[u8]| Base64UrlUnpadded::encode_string(s);
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let sig = Es256.sign(key(), msg.as_bytes());
    format!("{msg}.{}", b64(&sig.as_bytes()))
}

fn token(claims: &Map<String, Value>) -> String {
    raw(&json!({"alg": "ES256", "kid": "ec-1", "typ": "logout+jwt"}), claims)
}

fn params() -> LogoutParams<'static> {
    LogoutParams {
        issuer: ISS,
        client_ids: &[CLIENT],
        allowed_algs: Alg::DEFAULT_ALLOWED,
        now: NOW,
        leeway_secs: 60,
        max_age_secs: 600,
    }
}

fn check(token: &str) -> Result<ValidatedLogoutToken, LogoutTokenError> {
    futures::executor::block_on(validate(token, &jwks(), &params(), &RustCrypto))
}

fn with(name: &str, value: Value) -> Map<String, Value> {
    let mut c = claims();
    c.insert(name.to_owned(), value);
    c
}

fn without(name: &str) -> Map<String, Value> {
    let mut c = claims();
    c.remove(name);
    c
}

#[test]
fn a_valid_token_gives_sub_sid_and_jti() {
    let v = check(&token(&claims())).unwrap();
    assert_eq!(v.sub.as_deref(), Some("alice"));
    assert_eq!(v.sid.as_deref(), Some("sid-1"));
    assert_eq!((v.jti.as_str(), v.iat), ("jti-1", NOW - 5));
    // sub alone, sid alone, no exp, aud as an array, generic typ: all accepted.
    assert_eq!(check(&token(&without("sid"))).unwrap().sid, None);
    assert_eq!(check(&token(&without("sub"))).unwrap().sub, None);
    assert!(check(&token(&without("exp"))).is_ok());
    assert!(check(&token(&with("aud", json!(["other", CLIENT])))).is_ok());
    for typ in [json!("JWT"), json!("application/logout+jwt")] {
        let t = raw(&json!({"alg": "ES256", "kid": "ec-1", "typ": typ}), &claims());
        assert!(check(&t).is_ok(), "{typ}");
    }
    assert_eq!(peek_issuer(&token(&claims())).as_deref(), Some(ISS));
}

#[test]
fn each_claim_wrong_or_missing_is_refused() {
    use LogoutTokenError as E;
    let cases: Vec<(Map<String, Value>, LogoutTokenError)> = vec![
        (with("iss", json!("https://evil.example")), E::WrongIssuer),
        (without("iss"), E::WrongIssuer),
        (with("aud", json!("someone-else")), E::WrongAudience),
        (without("aud"), E::WrongAudience),
        (without("iat"), E::MissingIat),
        (with("iat", json!(NOW + 3600)), E::IssuedInFuture),
        (with("iat", json!(NOW - 3600)), E::TooOld),
        (with("exp", json!(NOW - 3600)), E::Expired),
        (
            {
                let mut c = without("sub");
                c.remove("sid");
                c
            },
            E::MissingSubAndSid,
        ),
        (
            with("sub", json!("")).into_iter().filter(|(k, _)| k != "sid").collect(),
            E::MissingSubAndSid,
        ),
        (without("events"), E::MissingEvent),
        (with("events", json!({})), E::MissingEvent),
        (with("events", json!({ BACKCHANNEL_EVENT: "yes" })), E::MissingEvent),
        (with("events", json!([BACKCHANNEL_EVENT])), E::MissingEvent),
        (with("nonce", json!("n-1")), E::NoncePresent),
        (with("nonce", Value::Null), E::NoncePresent),
        (without("jti"), E::MissingJti),
        (with("jti", json!("")), E::MissingJti),
    ];
    for (claims, expected) in cases {
        assert_eq!(check(&token(&claims)), Err(expected.clone()), "{claims:?}");
    }
    // Claims of the wrong type are malformed, not a pass.
    assert!(matches!(
        check(&token(&with("iat", json!("yesterday")))),
        Err(E::Jws(JwsError::Malformed(_)))
    ));
}

#[test]
fn signature_algorithm_key_and_type_are_checked() {
    use LogoutTokenError as E;
    let good = token(&claims());
    // One bit of the signature flipped.
    let (head, sig) = good.rsplit_once('.').unwrap();
    let mut bytes = Base64UrlUnpadded::decode_vec(sig).unwrap();
    bytes[10] ^= 1;
    let tampered = format!("{head}.{}", Base64UrlUnpadded::encode_string(&bytes));
    assert_eq!(check(&tampered), Err(E::Jws(JwsError::BadSignature)));
    // Claims changed after signing.
    let (h, _) = head.split_once('.').unwrap();
    let forged_claims =
        Base64UrlUnpadded::encode_string(Value::Object(with("sub", json!("bob"))).to_string().as_bytes());
    assert_eq!(
        check(&format!("{h}.{forged_claims}.{sig}")),
        Err(E::Jws(JwsError::BadSignature))
    );
    // none and HMAC are never accepted; an unknown kid asks for a JWKS refetch.
    for alg in ["none", "HS256"] {
        let t = raw(&json!({"alg": alg, "kid": "ec-1"}), &claims());
        assert_eq!(check(&t), Err(E::Jws(JwsError::ForbiddenAlg(alg.into()))));
    }
    let unknown = check(&raw(&json!({"alg": "ES256", "kid": "ec-9"}), &claims())).unwrap_err();
    assert!(unknown.needs_jwks_refresh(), "{unknown}");
    // Not on the allow-list.
    let p = LogoutParams {
        allowed_algs: &[Alg::RS256],
        ..params()
    };
    let r = futures::executor::block_on(validate(&good, &jwks(), &p, &RustCrypto));
    assert_eq!(r, Err(E::Jws(JwsError::AlgNotAllowed("ES256".into()))));
    // Another token type (an ID token or an access token passed off as a logout token).
    for typ in ["at+jwt", "id_token+jwt", "secevent+jwt"] {
        let t = raw(&json!({"alg": "ES256", "kid": "ec-1", "typ": typ}), &claims());
        assert_eq!(check(&t), Err(E::WrongType), "{typ}");
    }
    // An ordinary JWT signed by the same key, with jwt-compact's own header.
    let plain = Es256
        .token(&Header::empty().with_key_id("ec-1"), &Claims::new(claims()), key())
        .unwrap();
    assert!(check(&plain).is_ok());
    assert_eq!(peek_issuer("not.a.token"), None);
}
