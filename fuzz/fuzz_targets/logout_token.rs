//! Logout token validation (Back-Channel Logout 1.0 §2.6) of an attacker-supplied compact JWS
//! against the provider's JWKS (RSA, P-256, Ed25519 keys plus keys that must be skipped): the
//! endpoint that takes them is open to anyone. Oracle: an accepted token satisfies every rule
//! of §2.4/§2.6 (checked here again on the decoded claims, independently of the validator).
#![no_main]

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_oidc_fuzz::edge_oidc::core::crypto::rust::RustCrypto;
use edge_oidc_fuzz::edge_oidc::core::oidc::jwks::{Alg, Jwks};
use edge_oidc_fuzz::edge_oidc::core::oidc::logout_token::{self, LogoutParams, BACKCHANNEL_EVENT};
use edge_oidc_fuzz::{jwks_json, CLIENT_ID, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

fn jwks() -> &'static Jwks {
    static JWKS: OnceLock<Jwks> = OnceLock::new();
    JWKS.get_or_init(|| Jwks::parse(jwks_json().as_bytes()).expect("fixture JWKS"))
}

const LEEWAY: i64 = 60;
const MAX_AGE: i64 = 600;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    // The issuer is read before validation to pick the provider: it must never panic either.
    let _ = logout_token::peek_issuer(token);
    let ids = [CLIENT_ID, "edge-fuzz-2"];
    let params = LogoutParams {
        issuer: ISSUER,
        client_ids: &ids,
        allowed_algs: Alg::DEFAULT_ALLOWED,
        now: NOW,
        leeway_secs: LEEWAY,
        max_age_secs: MAX_AGE,
    };
    let result = futures::executor::block_on(logout_token::validate(token, jwks(), &params, &RustCrypto));
    let Ok(valid) = result else {
        return;
    };
    // The claims as the wire has them (the signature was checked by the validator).
    let payload = token.split('.').nth(1).expect("three parts");
    let claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).expect("base64url")).expect("JSON claims");
    assert_eq!(claims["iss"], ISSUER);
    let aud_ok = match &claims["aud"] {
        Value::String(a) => ids.contains(&a.as_str()),
        Value::Array(a) => a.iter().any(|a| a.as_str().is_some_and(|a| ids.contains(&a))),
        _ => false,
    };
    assert!(aud_ok, "aud names us");
    assert!(claims.get("nonce").is_none(), "no nonce");
    assert!(claims["events"][BACKCHANNEL_EVENT].is_object(), "the back-channel logout event");
    assert!(valid.sub.is_some() || valid.sid.is_some(), "sub or sid");
    assert!(!valid.jti.is_empty());
    assert_eq!(claims["jti"].as_str(), Some(valid.jti.as_str()));
    assert!(valid.iat <= NOW + LEEWAY && valid.iat >= NOW - MAX_AGE - LEEWAY, "iat in the window");
    if let Some(exp) = claims["exp"].as_i64() {
        assert!(exp > NOW - LEEWAY, "not expired");
    }
    assert_eq!(valid.sid.as_deref(), claims["sid"].as_str().filter(|s| !s.is_empty()));
    assert_eq!(valid.sub.as_deref(), claims["sub"].as_str().filter(|s| !s.is_empty()));
});
