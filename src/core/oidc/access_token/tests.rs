//! RFC 9068 §4 validation one rule at a time, RFC 6750 header parsing and errors: ES256 tokens
//! from a key made at setup, verified with the RustCrypto implementation of `Signatures`.

use super::*;
use crate::core::crypto::rust::RustCrypto;
use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::Es256;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature as _};
use rand::Rng as _;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

type P256Sk = <Es256 as Algorithm>::SigningKey;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://op.example";
const API: &str = "https://api.example";

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
        "iss": ISS, "aud": API, "iat": NOW - 5, "exp": NOW + 120, "jti": "j1",
        "sub": "alice", "client_id": "c1", "scope": "openid read write",
    }) else {
        unreachable!()
    };
    c
}

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
    raw(&json!({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}), claims)
}

fn check_with(token: &str, scopes: &[String], require_typ: bool) -> Result<AccessToken, AccessTokenError> {
    let audiences = [API.to_owned()];
    let p = AccessParams {
        issuer: ISS,
        audiences: &audiences,
        scopes,
        allowed_algs: Alg::DEFAULT_ALLOWED,
        require_typ,
        now: NOW,
        leeway_secs: 60,
    };
    futures::executor::block_on(validate(token, &jwks(), &p, &RustCrypto))
}

fn check(token: &str) -> Result<AccessToken, AccessTokenError> {
    check_with(token, &["read".to_owned()], true)
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
fn a_valid_token_is_accepted() {
    let at = check(&token(&claims())).expect("valid");
    assert_eq!(at.sub, "alice");
    assert_eq!(at.client_id.as_deref(), Some("c1"));
    assert_eq!(at.scopes, ["openid", "read", "write"]);
    assert_eq!(at.exp, NOW + 120);
    // `aud` as an array, and the full media type in `typ`.
    let t = raw(
        &json!({"alg": "ES256", "kid": "ec-1", "typ": "application/AT+JWT"}),
        &with("aud", json!(["other", API])),
    );
    assert!(check(&t).is_ok());
}

#[test]
fn every_claim_fault_is_refused() {
    assert_eq!(
        check(&token(&with("iss", json!("https://evil")))),
        Err(AccessTokenError::WrongIssuer)
    );
    assert_eq!(check(&token(&without("iss"))), Err(AccessTokenError::WrongIssuer));
    assert_eq!(
        check(&token(&with("aud", json!("c1")))),
        Err(AccessTokenError::WrongAudience)
    );
    assert_eq!(check(&token(&without("aud"))), Err(AccessTokenError::WrongAudience));
    assert_eq!(
        check(&token(&with("exp", json!(NOW - 61)))),
        Err(AccessTokenError::Expired)
    );
    assert_eq!(check(&token(&without("exp"))), Err(AccessTokenError::Expired));
    assert_eq!(
        check(&token(&with("iat", json!(NOW + 61)))),
        Err(AccessTokenError::NotYetValid)
    );
    assert_eq!(
        check(&token(&with("nbf", json!(NOW + 61)))),
        Err(AccessTokenError::NotYetValid)
    );
    assert_eq!(
        check(&token(&without("sub"))),
        Err(AccessTokenError::MissingClaim("sub"))
    );
    assert_eq!(
        check(&token(&without("client_id"))),
        Err(AccessTokenError::MissingClaim("client_id"))
    );
    assert_eq!(
        check(&token(&without("jti"))),
        Err(AccessTokenError::MissingClaim("jti"))
    );
    assert_eq!(
        check(&token(&with("scope", json!("openid")))),
        Err(AccessTokenError::InsufficientScope)
    );
    assert_eq!(
        check(&token(&without("scope"))),
        Err(AccessTokenError::InsufficientScope)
    );
}

#[test]
fn typ_alg_and_signature_faults_are_refused() {
    let id_token_typ = raw(&json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}), &claims());
    assert_eq!(check(&id_token_typ), Err(AccessTokenError::WrongType));
    let no_typ = raw(&json!({"alg": "ES256", "kid": "ec-1"}), &claims());
    assert_eq!(check(&no_typ), Err(AccessTokenError::WrongType));
    assert!(
        check_with(&no_typ, &[], false).is_ok(),
        "typ is checked only when required"
    );
    let none = format!(
        "{}.{}.",
        Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"at+jwt"}"#),
        Base64UrlUnpadded::encode_string(Value::Object(claims()).to_string().as_bytes())
    );
    assert!(matches!(
        check(&none),
        Err(AccessTokenError::Jws(JwsError::ForbiddenAlg(_)))
    ));
    let good = token(&claims());
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", Base64UrlUnpadded::encode_string(&[7u8; 64]));
    assert_eq!(check(&forged), Err(AccessTokenError::Jws(JwsError::BadSignature)));
    let other_kid = raw(&json!({"alg": "ES256", "kid": "ec-2", "typ": "at+jwt"}), &claims());
    let e = check(&other_kid).unwrap_err();
    assert!(e.needs_jwks_refresh(), "{e:?}");
}

#[test]
fn bearer_header_parsing() {
    assert_eq!(bearer_token(None), None);
    assert_eq!(bearer_token(Some("Basic abc")), None);
    assert_eq!(bearer_token(Some("Bearer abc.def-_~+/=")), Some(Ok("abc.def-_~+/=")));
    assert_eq!(bearer_token(Some("bearer  abc")), Some(Ok("abc")));
    assert_eq!(bearer_token(Some("Bearer")), Some(Err(())));
    assert_eq!(bearer_token(Some("Bearer a b")), Some(Err(())));
    assert_eq!(bearer_token(Some("Bearer a\"b")), Some(Err(())));
}

#[test]
fn www_authenticate_follows_rfc_6750() {
    assert_eq!(www_authenticate(None, "x", &[]), "Bearer realm=\"edge-oidc\"");
    let v = www_authenticate(
        Some("insufficient_scope"),
        "needs \"more\"",
        &["read".into(), "write".into()],
    );
    assert_eq!(
        v,
        "Bearer realm=\"edge-oidc\", error=\"insufficient_scope\", error_description=\"needs more\", scope=\"read write\""
    );
}
