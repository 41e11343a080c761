//! Flow tests of what goes to the origin besides the identity headers (src/core/flow/origin.rs):
//! the signed assertion reused per session and isolate, re-signed near its expiry; the session's
//! tokens read from the record once per isolate; claim headers; and none of it on the hot path's
//! I/O (no KV, no HTTP once cached).

use super::test_op::*;
use crate::core::session::Identity;

/// A test key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
pub const ASSERTION_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkSaLOat8vzVkQnot
nHVbn7wmK+/EUCpzNddmU57HwG6hRANCAAQOpUhZ8tH9D/KDHzXA8Q0c0xBCvsD3
QoLwg+fw6AACrNj5/08yngGwwlJXopU+Bcvi2HxTlP21hI5eHZG9FHOK
-----END PRIVATE KEY-----";

const CONFIG: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "session":{"lifetime_secs":3600},
    "assertion":{"lifetime_secs":400,"audience":"urn:app"},
    "forward":{"access_token":"Authorization","id_token":"X-Id-Token",
               "claim_headers":[{"claim":"email","header":"X-Mail"}]}}"#;

fn header<'a>(f: &'a crate::core::flow::Forward, name: &str) -> Option<&'a str> {
    f.add_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn payload(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("three parts");
    let bytes = base64ct::Base64UrlUnpadded::decode_vec(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

use base64ct::Encoding as _;

#[test]
fn the_assertion_is_signed_once_then_reused_without_io_until_a_quarter_is_left() {
    let h = Harness::new(CONFIG, &[ISSUER]);
    let mut browser = Browser::default();
    h.login(&mut browser, &format!("{RP}/docs"));
    let first = h.forward(&browser.navigate(&format!("{RP}/docs")));
    let jwt = header(&first, "x-edge-oidc-assertion").expect("assertion").to_owned();
    let claims = payload(&jwt);
    assert_eq!(claims["iss"], RP);
    assert_eq!(claims["aud"], "urn:app");
    assert_eq!(claims["exp"].as_i64(), Some(NOW + 400));
    assert!(first.remove_headers.iter().any(|n| n == "x-edge-oidc-assertion"));
    assert!(first.remove_headers.iter().any(|n| n == "authorization"));
    assert!(first.remove_headers.iter().any(|n| n == "x-mail"));

    // Later requests: the same assertion, no KV and no HTTP.
    let (kv, http) = (h.kv.ops(), h.net.total());
    h.clock.advance(299);
    let again = h.forward(&browser.navigate(&format!("{RP}/docs")));
    assert_eq!(header(&again, "x-edge-oidc-assertion"), Some(jwt.as_str()));
    assert_eq!((h.kv.ops(), h.net.total()), (kv, http), "the hot path did I/O");

    // With a quarter of its life left it is signed again.
    h.clock.advance(1);
    let renewed = h.forward(&browser.navigate(&format!("{RP}/docs")));
    let jwt2 = header(&renewed, "x-edge-oidc-assertion").expect("assertion");
    assert_ne!(jwt2, jwt);
    assert_eq!(payload(jwt2)["iat"].as_i64(), Some(NOW + 300));

    // Another isolate signs its own once.
    let other = h.new_isolate();
    let there = other.forward(&browser.navigate(&format!("{RP}/docs")));
    assert!(header(&there, "x-edge-oidc-assertion").is_some());
}

#[test]
fn tokens_are_read_once_per_session_and_isolate_and_claims_become_headers() {
    let h = Harness::new(CONFIG, &[ISSUER]);
    let mut browser = Browser::default();
    h.login(&mut browser, &format!("{RP}/docs"));
    let record_key = {
        let cookie = browser.get(SESSION).expect("session cookie").to_owned();
        let id = Identity::open(&h.app.config.sealer, &cookie, SESSION, RP, |_| Some(ISSUER)).expect("opens");
        crate::core::session::record_key(&id.handle)
    };
    let reads = h.kv.calls("get", &record_key);
    let f = h.forward(&browser.navigate(&format!("{RP}/docs")));
    let bearer = header(&f, "authorization").expect("access token");
    assert!(bearer.starts_with("Bearer ") && bearer.len() > 10, "{bearer}");
    let id_token = header(&f, "x-id-token").expect("ID token");
    assert_eq!(payload(id_token)["iss"], ISSUER);
    assert_eq!(header(&f, "x-mail"), Some("alice@example.com"));
    for _ in 0..3 {
        let again = h.forward(&browser.navigate(&format!("{RP}/docs")));
        assert_eq!(header(&again, "authorization"), Some(bearer));
    }
    assert_eq!(
        h.kv.calls("get", &record_key) - reads,
        1,
        "one record read for four requests"
    );
}

#[test]
fn without_the_sections_nothing_is_added() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, &format!("{RP}/docs"));
    let f = h.forward(&browser.navigate(&format!("{RP}/docs")));
    let names: Vec<&str> = f.add_headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-auth-subject", "x-auth-email", "x-auth-name"]);
}
