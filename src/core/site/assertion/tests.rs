use super::*;
use crate::core::crypto::rust::RustCrypto;
use jwt_compact::alg::{Es256, VerifyingKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, UntrustedToken};

/// A test key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
const PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkSaLOat8vzVkQnot
nHVbn7wmK+/EUCpzNddmU57HwG6hRANCAAQOpUhZ8tH9D/KDHzXA8Q0c0xBCvsD3
QoLwg+fw6AACrNj5/08yngGwwlJXopU+Bcvi2HxTlP21hI5eHZG9FHOK
-----END PRIVATE KEY-----
";
/// The same key as `openssl ec` writes it (SEC1).
const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJEmizmrfL81ZEJ6LZx1W5+8JivvxFAqczXXZlOex8BuoAoGCCqGSM49
AwEHoUQDQgAEDqVIWfLR/Q/ygx81wPENHNMQQr7A90KC8IPn8OgAAqzY+f9PMp4B
sMJSV6KVPgXL4th8U5T9tYSOXh2RvRRzig==
-----END EC PRIVATE KEY-----";

fn identity() -> Identity {
    Identity {
        provider: "main".into(),
        sub: "alice".into(),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        name: Some("Alice".into()),
        acr: None,
        created_at: 1_000,
        expires_at: 10_000,
        handle: "h1".into(),
        sid: None,
        refresh_due: None,
        silent_refresh: false,
        checked_at: None,
        active_at: None,
        claims: Default::default(),
    }
}

#[test]
fn pkcs8_sec1_and_jwk_give_the_same_key() {
    let a = AssertionKey::parse(PKCS8).expect("pkcs8");
    let b = AssertionKey::parse(SEC1).expect("sec1");
    assert_eq!(a.kid(), b.kid());
    let jwk = serde_json::to_string(a.public_jwk()).expect("json");
    assert!(!jwk.contains("\"d\""), "the public JWK has no private part: {jwk}");
    // The same key as a private JWK.
    let mut private: Value = a.public_jwk().clone();
    let pem_jwk: Value = serde_json::from_str(&pem_to_jwk(PKCS8).expect("jwk")).expect("json");
    private["d"] = pem_jwk["d"].clone();
    let c = AssertionKey::parse(&private.to_string()).expect("jwk");
    assert_eq!(a.kid(), c.kid());
}

#[test]
fn broken_and_foreign_keys_are_refused() {
    assert!(AssertionKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    assert!(AssertionKey::parse("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----").is_err());
    assert!(AssertionKey::parse("{}").is_err());
    // Truncated DER: every prefix of the key is refused, never a panic.
    let body: String = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = Base64::decode_vec(&body).expect("der");
    for n in 0..der.len() {
        assert!(ec_private_key(&der[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn a_signed_assertion_verifies_with_the_published_key() {
    let key = AssertionKey::parse(PKCS8).expect("key");
    let input = AssertionInput {
        issuer: "https://app.example.com",
        audience: "app",
        now: 2_000,
        lifetime_secs: 300,
        claims: &[("groups".to_owned(), serde_json::json!(["staff"]))],
    };
    let (jwt, exp) = futures::executor::block_on(sign(&key, &identity(), &input, &RustCrypto)).expect("signed");
    assert_eq!(exp, 2_300);
    // Verified with jwt-compact's own ES256 against the JWKS document.
    let jwks: Value = serde_json::from_str(&jwks_document(&key, None)).expect("jwks");
    let jwk: JsonWebKey<'_> = serde_json::from_value(jwks["keys"][0].clone()).expect("jwk");
    let public = <Es256 as jwt_compact::Algorithm>::VerifyingKey::from_slice(&{
        let JsonWebKey::EllipticCurve { x, y, .. } = &jwk else {
            panic!("EC")
        };
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        sec1
    })
    .expect("point");
    let token = UntrustedToken::new(&jwt).expect("parses");
    assert_eq!(token.header().key_id.as_deref(), Some(key.kid()));
    let verified = Es256
        .validator::<Map<String, Value>>(&public)
        .validate(&token)
        .expect("signature verifies");
    assert_eq!(verified.claims().expiration.map(|t| t.timestamp()), Some(2_300));
    let claims = verified.claims().custom.clone();
    assert_eq!(claims["iss"], "https://app.example.com");
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
}

#[test]
fn exp_never_passes_the_session_end() {
    let input = AssertionInput {
        issuer: "i",
        audience: "a",
        now: 9_900,
        lifetime_secs: 300,
        claims: &[],
    };
    assert_eq!(claims(&identity(), &input)["exp"], 10_000);
}

#[test]
fn the_cache_reuses_for_three_quarters_and_only_for_an_equal_identity() {
    let cache = AssertionCache::default();
    let id = Rc::new(identity());
    cache.insert(id.clone(), "https://i", "a", "jwt".into(), 1_000, 1_400);
    assert_eq!(cache.get(&id, "https://i", "a", 1_299).as_deref(), Some("jwt"));
    assert!(
        cache.get(&id, "https://i", "a", 1_300).is_none(),
        "re-signed with a quarter left"
    );
    let mut renamed = identity();
    renamed.name = Some("Alice B".into());
    assert!(
        cache.get(&Rc::new(renamed), "https://i", "a", 1_100).is_none(),
        "a changed identity signs again"
    );
    assert!(cache.get(&id, "https://i", "b", 1_100).is_none(), "another audience");
    assert!(cache.get(&id, "https://j", "a", 1_100).is_none(), "another issuer");
}
