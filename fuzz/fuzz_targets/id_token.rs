//! ID token validation (Core §3.1.3.7) of an attacker-supplied compact JWS against the provider's
//! JWKS (RSA, P-256, Ed25519 keys plus keys that must be skipped). Oracle: an accepted token
//! satisfies every rule.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::crypto::rust::RustCrypto;
use edge_oidc_fuzz::edge_oidc::core::oidc::id_token::{self, TokenHashes, ValidationParams};
use edge_oidc_fuzz::edge_oidc::core::oidc::jwks::{Alg, Jwks};
use edge_oidc_fuzz::{jwks_json, CLIENT_ID, ISSUER, NONCE, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn jwks() -> &'static Jwks {
    static JWKS: OnceLock<Jwks> = OnceLock::new();
    JWKS.get_or_init(|| Jwks::parse(jwks_json().as_bytes()).expect("fixture JWKS"))
}

const LEEWAY: i64 = 60;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let header = id_token::peek_header(token);
    // Half the inputs also ask for max_age (auth_time then required).
    let max_age = data.len().is_multiple_of(2).then_some(3600);
    let params = ValidationParams {
        issuer: id_token::ExpectedIssuer::Exact(ISSUER),
        client_id: CLIENT_ID,
        allowed_algs: Alg::DEFAULT_ALLOWED,
        expected_nonce: Some(NONCE),
        now: NOW,
        leeway_secs: LEEWAY,
        max_age_secs: max_age,
    };
    // Every other input also has an access token with it, whose at_hash is then required.
    let hashes = TokenHashes {
        access_token: Some("access-token"),
        require_at_hash: data.len() % 3 == 0,
        ..TokenHashes::default()
    };
    let result = futures::executor::block_on(id_token::validate(token, jwks(), &params, hashes, &RustCrypto));
    if let Ok(validated) = result {
        let claims = validated.claims();
        let (alg, _) = header.expect("a valid token has a readable header");
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.aud.iter().any(|a| a == CLIENT_ID));
        assert!(claims.aud.len() == 1 || claims.azp.as_deref() == Some(CLIENT_ID));
        assert!(claims.azp.as_deref().is_none_or(|a| a == CLIENT_ID));
        assert_eq!(claims.nonce.as_deref(), Some(NONCE));
        assert!(!claims.sub.is_empty());
        assert!(claims.exp > NOW - LEEWAY);
        assert!(claims.iat <= NOW + LEEWAY);
        assert!(max_age.is_none() || claims.auth_time.is_some());
        assert_eq!(alg, validated.alg());
        assert_eq!(validated.raw(), token);
        match &claims.at_hash {
            Some(at_hash) => assert_eq!(at_hash, &id_token::token_hash(alg, "access-token")),
            None => assert!(!hashes.require_at_hash),
        }
    }
});
