//! The bearer path (RFC 6750 / RFC 9068 / RFC 7662), open to anyone who can send a request: an
//! `Authorization` header value parsed as a bearer token, the token validated as a JWT access
//! token against the provider's JWKS (RSA, P-256, Ed25519 keys plus keys that must be skipped),
//! with and without the `typ` requirement, and the same bytes read as an introspection answer.
//! Oracle: an accepted token satisfies every rule of RFC 9068 §4 (checked here again on the
//! decoded claims, independently of the validator); the `WWW-Authenticate` of any refusal is one
//! header line of printable ASCII.
#![no_main]

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_oidc_fuzz::edge_oidc::core::crypto::rust::RustCrypto;
use edge_oidc_fuzz::edge_oidc::core::oidc::access_token::{self, bearer_token, AccessParams};
use edge_oidc_fuzz::edge_oidc::core::oidc::introspection;
use edge_oidc_fuzz::edge_oidc::core::oidc::jwks::{Alg, Jwks};
use edge_oidc_fuzz::{jwks_json, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

fn jwks() -> &'static Jwks {
    static JWKS: OnceLock<Jwks> = OnceLock::new();
    JWKS.get_or_init(|| Jwks::parse(jwks_json().as_bytes()).expect("fixture JWKS"))
}

const LEEWAY: i64 = 60;
const API: &str = "https://api.example";

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let audiences = [API.to_owned(), "urn:other".to_owned()];
    let scopes = ["read".to_owned()];
    // The same bytes as an introspection answer: an accepted one is active, for us, in time.
    if let Some(answer) = introspection::parse(header.as_bytes()) {
        let active = answer.active;
        let exp = answer.exp;
        if let Ok(at) = introspection::check(answer, ISSUER, &audiences, &scopes, NOW) {
            assert!(active);
            assert!(exp.is_none_or(|e| e > NOW));
            assert!(at.has_scopes(&scopes));
        }
    }
    let token = match bearer_token(Some(header)) {
        None => return,
        Some(Err(())) => return,
        Some(Ok(t)) => t,
    };
    assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
    for require_typ in [true, false] {
        let params = AccessParams {
            issuer: ISSUER,
            audiences: &audiences,
            scopes: &scopes,
            allowed_algs: Alg::DEFAULT_ALLOWED,
            require_typ,
            now: NOW,
            leeway_secs: LEEWAY,
        };
        let result = futures::executor::block_on(access_token::validate(token, jwks(), &params, &RustCrypto));
        let at = match result {
            Ok(at) => at,
            Err(e) => {
                let www = access_token::www_authenticate(Some("invalid_token"), &e.to_string(), &scopes);
                assert!(www.bytes().all(|b| (0x20..0x7f).contains(&b)), "one printable line");
                assert_eq!(www.matches('"').count() % 2, 0, "quotes balanced");
                continue;
            }
        };
        let mut parts = token.split('.');
        let header: Value = serde_json::from_slice(
            &Base64UrlUnpadded::decode_vec(parts.next().expect("header")).expect("base64url"),
        )
        .expect("JSON header");
        let claims: Value = serde_json::from_slice(
            &Base64UrlUnpadded::decode_vec(parts.next().expect("claims")).expect("base64url"),
        )
        .expect("JSON claims");
        if require_typ {
            let typ = header["typ"].as_str().expect("typ").to_ascii_lowercase();
            assert!(typ == "at+jwt" || typ == "application/at+jwt", "typ {typ}");
        }
        assert_ne!(header["alg"].as_str().map(str::to_ascii_lowercase).as_deref(), Some("none"));
        assert_eq!(claims["iss"], ISSUER);
        let aud_ok = match &claims["aud"] {
            Value::String(a) => audiences.contains(a),
            Value::Array(a) => a.iter().any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
            _ => false,
        };
        assert!(aud_ok, "aud names this API");
        assert!(at.exp > NOW - LEEWAY, "not expired");
        assert_eq!(claims["exp"].as_i64(), Some(at.exp));
        assert_eq!(claims["sub"].as_str(), Some(at.sub.as_str()));
        assert!(!at.sub.is_empty());
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        let granted: Vec<&str> = claims["scope"].as_str().unwrap_or_default().split(' ').collect();
        assert!(granted.contains(&"read"), "the required scope was granted");
    }
});
