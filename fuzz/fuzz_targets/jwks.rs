//! A JWKS document from the provider: parsing, then key selection for every algorithm, then a
//! fixed token validated against the parsed set. Oracle: a selected key fits the algorithm and
//! carries the requested kid.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::crypto::rust::RustCrypto;
use edge_oidc_fuzz::edge_oidc::core::oidc::id_token::{self, TokenHashes, ValidationParams};
use edge_oidc_fuzz::edge_oidc::core::oidc::jwks::{Alg, Jwks};
use edge_oidc_fuzz::{claims, sign, CLIENT_ID, ISSUER, NONCE, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| sign("ES256", Some("ec-1"), &claims()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(jwks) = Jwks::parse(data) else {
        return;
    };
    let kids: Vec<Option<String>> = [
        None,
        Some("rsa-1".to_owned()),
        Some("ec-1".to_owned()),
        Some(String::new()),
    ]
    .into_iter()
    .chain(jwks.keys().iter().map(|k| k.kid().map(str::to_owned)))
    .collect();
    for &alg in Alg::DEFAULT_ALLOWED {
        for kid in &kids {
            if let Ok(key) = jwks.select(kid.as_deref(), alg) {
                assert!(key.supports(alg));
                if let Some(kid) = kid {
                    assert_eq!(key.kid(), Some(kid.as_str()));
                }
            }
        }
    }
    let params = ValidationParams {
        issuer: id_token::ExpectedIssuer::Exact(ISSUER),
        client_id: CLIENT_ID,
        allowed_algs: Alg::DEFAULT_ALLOWED,
        expected_nonce: Some(NONCE),
        now: NOW,
        leeway_secs: 60,
        max_age_secs: None,
    };
    let _ = futures::executor::block_on(id_token::validate(
        token(),
        &jwks,
        &params,
        TokenHashes::default(),
        &RustCrypto,
    ));
});
