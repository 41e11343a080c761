//! Flow tests: whole requests through [`App::handle`](super::App::handle) with in-memory fakes
//! of the I/O (see `test_op.rs`): a fake OpenID Provider, a counting KV store, a fixed clock and
//! counter-based randomness.

use super::test_op;
// The provider quirks (issuer template, required claims, no end_session_endpoint).
#[path = "tests_quirks.rs"]
mod quirks;

#[path = "tests_responses.rs"]
mod responses;

#[path = "tests_par.rs"]
mod par;

use super::Outcome;
use crate::core::crypto::secret::Secret;
use crate::core::http::HttpError;
use crate::core::log::EventKind;
use crate::core::oidc::authorize::pkce_challenge;
use crate::core::oidc::client_auth::AuthMethod;
use crate::core::oidc::registration::RegisteredClient;
use crate::core::oidc::response::ResponseType;
use crate::core::session::{handle_for_state, record_key};
use crate::core::site::pages::Reply;
use serde_json::{json, Value};
use test_op::*;

/// Two providers; `/admin/` only with `b`.
const ROUTED: &str = r#"{"providers":{
    "a":{"issuer":"https://a.example","client_id":"rp","display_name":"Provider A"},
    "b":{"issuer":"https://b.example","client_id":"rp","display_name":"Provider B"}},
    "routes":[{"path_prefix":"/admin/","providers":["b"]}]}"#;

/// One provider with dynamic client registration.
const DYNAMIC: &str = r#"{"providers":{"main":{"issuer":"https://op.example","registration":{"client_name":"Docs"}}},
    "public_origin":"https://rp.example"}"#;

fn json_body(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.body))
}

// ---- 1. the whole login ----

#[test]
fn full_login_then_forward_with_identity_headers() {
    let h = Harness::single();
    let mut browser = Browser::default();
    browser.set("theme", "dark");
    // Looks like ours but is the origin's: must reach the origin.
    browser.set("edge_oidc_prefs", "compact");

    // A navigation to a protected page: off to the provider.
    let reply = h.reply(&browser.navigate("https://rp.example/docs/page?x=1"));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(
        h.kv.ops(),
        (1, 1, 0),
        "metadata cache miss and its cache put; nothing for the pending login"
    );
    let auth = url::Url::parse(reply.header("location").unwrap()).unwrap();
    assert_eq!(
        format!("{}://{}{}", auth.scheme(), auth.host_str().unwrap(), auth.path()),
        "https://op.example/authorize"
    );
    let param = |k: &str| query(&auth, k).unwrap_or_else(|| panic!("no {k} in {auth}"));
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), "rp");
    assert_eq!(param("redirect_uri"), REDIRECT_URI);
    assert_eq!(param("scope"), "openid email profile");
    assert_eq!(param("code_challenge_method"), "S256");
    for k in ["state", "nonce", "code_challenge"] {
        assert_eq!(param(k).len(), 43, "{k} is 256 bits of base64url");
    }
    assert_ne!(param("state"), param("nonce"));
    let login_cookie = set_cookies(&reply);
    assert_eq!(login_cookie.len(), 1, "{login_cookie:?}");
    let pending_name = format!("{SESSION}_s.{}", &param("state")[..12]);
    assert!(
        login_cookie[0].starts_with(&format!("{pending_name}=main.")),
        "{}",
        login_cookie[0]
    );
    assert!(login_cookie[0].ends_with("; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax"));
    browser.store(&reply);

    // What the callback will need is sealed in the browser's pending-login cookie.
    let pending = h.pending(&browser, &auth).expect("pending login in a cookie");
    assert_eq!(pending.provider, "main");
    assert_eq!(pending.return_to, "/docs/page?x=1");
    assert_eq!(pending.nonce.expose(), param("nonce"));
    assert_eq!(pending.state.expose(), param("state"));
    assert_eq!(pkce_challenge(pending.pkce_verifier.expose()), param("code_challenge"));
    assert!(
        h.kv.keys("").iter().all(|k| k == "metadata:main"),
        "{:?}",
        h.kv.keys("")
    );

    // The provider sends the browser back; the fake token endpoint checks PKCE and redirect_uri.
    let back = h.op().authorize(&auth);
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/docs/page?x=1"));
    let cookies = set_cookies(&reply);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("{SESSION}=main.")), "{}", cookies[0]);
    assert!(cookies[0].ends_with("; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"));
    let session_len = cookies[0].split(';').next().unwrap().len();
    assert!(
        session_len <= 400,
        "the cookie sent on every request is {session_len} bytes"
    );
    assert_eq!(
        cookies[1],
        format!("{pending_name}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
        "the pending login is used up"
    );
    let record = record_key(&handle_for_state(&param("state")));
    assert!(h.kv.peek(&record).is_some(), "the session record (and used-state mark)");
    assert_eq!(h.kv.ttl(&record), Some(3600));
    assert_eq!(h.net.count("https://op.example/token"), 1);
    assert_eq!(h.net.count("https://op.example/userinfo"), 1);

    // Signed in: the request goes to the origin with the identity, without our cookies.
    let fwd = h.forward(&browser.navigate("https://rp.example/docs/page?x=1"));
    let added = |name: &str| fwd.add_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(added("x-auth-subject"), Some("alice"));
    assert_eq!(added("x-auth-email"), Some("alice@example.com"));
    assert_eq!(
        added("x-auth-name"),
        Some("Zo%C3%AB Alice"),
        "from UserInfo, percent-encoded"
    );
    assert_eq!(fwd.add_headers.len(), 3, "{:?}", fwd.add_headers);
    for name in ["x-auth-subject", "x-auth-email", "x-auth-name"] {
        assert!(
            fwd.remove_headers.iter().any(|n| n == name),
            "client copies of {name} removed"
        );
    }
    assert!(h.pending_cookies(&browser).is_empty(), "no pending login left");
    assert_eq!(fwd.cookie.as_deref(), Some("edge_oidc_prefs=compact; theme=dark"));
    assert!(fwd.private && fwd.path.is_none());
}

// ---- 2. the hot path budget ----

#[test]
fn authenticated_requests_do_no_kv_and_no_http() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let kv_before = h.kv.ops();
    let http_before = h.net.total();
    let requests = [
        browser.navigate("https://rp.example/"),
        browser.navigate("https://rp.example/docs/deep/page?q=1"),
        browser.fetch("GET", "https://rp.example/api/items"),
        browser.fetch("POST", "https://rp.example/api/items"),
        browser.navigate("https://rp.example/public/logo.svg"),
    ];
    for req in &requests {
        let handled = h.handle(req);
        assert!(
            handled.events.is_empty(),
            "the hot path logs nothing at info: {:?}",
            handled.events
        );
        let Outcome::Forward(fwd) = handled.outcome else {
            panic!("{} {} was not forwarded", req.method, req.url)
        };
        assert!(fwd
            .add_headers
            .iter()
            .any(|(n, v)| n == "x-auth-subject" && v == "alice"));
    }
    assert_eq!(h.kv.ops(), kv_before, "zero KV operations on the hot path");
    assert_eq!(h.net.total(), http_before, "zero subrequests on the hot path");
}

// ---- 3. refused callbacks and expiry ----

#[test]
fn replayed_state_is_refused() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let back = h.op().authorize(&auth);
    // A copy of the browser with the pending-login cookie still in it (as an attacker who
    // captured it would have).
    let mut copy = browser.clone();
    assert_eq!(h.callback(&mut browser, &back).status, 302);
    // The browser itself no longer has the pending login.
    let again = h.callback(&mut browser, &back);
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("another browser"), "{}", again.body);
    // The copy still has it, but the session record marks the state as used.
    let replay = h.callback(&mut copy, &back);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("expired or was already used"), "{}", replay.body);
    assert!(copy.get(SESSION).is_none(), "no session from a replay");
    assert_eq!(h.net.count("https://op.example/token"), 1, "no second code exchange");
}

#[test]
fn callback_without_the_pending_login_cookie_is_refused_and_keeps_the_login() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let back = h.op().authorize(&auth);
    let name = h.pending_cookies(&browser).pop().unwrap();

    // No cookie at all (the link was opened in another browser).
    let reply = h.callback(&mut Browser::default(), &back);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("another browser"), "{}", reply.body);

    // Another browser's cookie under the right name, and one sealed for another state.
    let mut other = Browser::default();
    other.set(&name, &format!("main.{}", "x".repeat(200)));
    assert_eq!(h.callback(&mut other, &back).status, 400);
    let mut other = Browser::default();
    let other_auth = h.start_login(&mut other, "https://rp.example/docs");
    let other_value = h
        .pending_cookies(&other)
        .pop()
        .map(|n| other.get(&n).unwrap().to_owned())
        .unwrap();
    other.set(&name, &other_value);
    assert_eq!(h.callback(&mut other, &back).status, 400);
    assert!(h.pending(&other, &other_auth).is_some());
    assert_eq!(h.net.count("https://op.example/token"), 0);
    assert_eq!(h.kv.ops().1, 1, "no KV write but the metadata cache's");

    // The real browser can still finish.
    assert_eq!(h.callback(&mut browser, &back).status, 302);
}

#[test]
fn wrong_or_missing_iss_parameter_is_refused() {
    let h = Harness::single();
    for iss in [Some("https://evil.example"), Some("https://op.example/"), None] {
        let mut browser = Browser::default();
        let auth = h.start_login(&mut browser, "https://rp.example/docs");
        let back = with_param(&h.op().authorize(&auth), "iss", iss);
        let reply = h.callback(&mut browser, &back);
        assert_eq!(reply.status, 400, "{iss:?}: {}", reply.body);
        assert!(reply.body.contains("unexpected issuer"), "{}", reply.body);
        assert!(browser.get(SESSION).is_none(), "no session for {iss:?}");
        assert!(h.pending_cookies(&browser).is_empty(), "the pending login is used up");
    }
    assert_eq!(h.net.count("https://op.example/token"), 0);
}

#[test]
fn provider_error_response_shows_its_description() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let mut back = url::Url::parse(REDIRECT_URI).unwrap();
    back.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user <declined> the request")
        .append_pair("state", &query(&auth, "state").unwrap())
        .append_pair("iss", ISSUER);
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(reply.body.contains("access_denied"));
    assert!(
        reply.body.contains("The user &lt;declined&gt; the request"),
        "{}",
        reply.body
    );
    assert!(h.pending(&browser, &auth).is_none(), "the login is used up");
    assert_eq!(h.net.count("https://op.example/token"), 0);

    // Without a state of this browser's, the text is anyone's: a generic page. Same for a
    // state that matches no pending login, and for another browser.
    let crafted = "error=access_denied&error_description=Call+%2B1-555-0100+to+unlock+your+account";
    let fresh = h.start_login(&mut browser, "https://rp.example/docs");
    for (query, who) in [
        (crafted.to_owned(), &mut browser.clone()),
        (format!("{crafted}&state={}", "A".repeat(43)), &mut browser.clone()),
        (
            format!("{crafted}&state={}", query(&fresh, "state").unwrap()),
            &mut Browser::default(),
        ),
    ] {
        let url = url::Url::parse(&format!("{REDIRECT_URI}?{query}")).unwrap();
        let reply = h.callback(who, &url);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(
            !reply.body.contains("555") && !reply.body.contains("unlock"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("not completed"), "{}", reply.body);
    }
}

#[test]
fn expired_session_starts_a_new_login_and_clears_the_cookie() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/docs");
    assert!(matches!(
        h.handle(&browser.navigate("https://rp.example/docs")).outcome,
        Outcome::Forward(_)
    ));

    h.clock.advance(3600);
    let reply = h.reply(&browser.navigate("https://rp.example/docs"));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
    let cookies = set_cookies(&reply);
    assert!(
        cookies.contains(&"__Host-edge_oidc=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-edge_oidc_s.")),
        "a new pending login: {cookies:?}"
    );

    // An API call with the expired session: 401, and the cookie is cleared there too.
    let reply = h.reply(&browser.fetch("GET", "https://rp.example/api/x"));
    assert_eq!(reply.status, 401);
    assert!(set_cookies(&reply).iter().any(|c| c.starts_with("__Host-edge_oidc=; ")));
}

#[test]
fn fake_op_refuses_a_wrong_pkce_verifier_and_the_rp_a_wrong_nonce() {
    let h = Harness::single();
    // The RP sends the verifier it stored: change it and the provider refuses the code.
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    h.rewrite_pending(&mut browser, &auth, |p| p.pkce_verifier = Secret::new("a".repeat(43)));
    let reply = h.callback(&mut browser, &h.op().authorize(&auth));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("PKCE verification failed"), "{}", reply.body);

    // An ID token with another login's nonce is refused by the RP.
    *h.op().nonce_override.borrow_mut() = Some("someone-elses-nonce".into());
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let reply = h.callback(&mut browser, &h.op().authorize(&auth));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("nonce does not match"), "{}", reply.body);
    assert!(reply.body.contains("security check"), "{}", reply.body);
    assert!(browser.get(SESSION).is_none());
}

// ---- 4. metadata and JWKS caching ----

#[test]
fn metadata_and_jwks_are_fetched_once_and_shared_through_kv() {
    let h = Harness::single();
    let discovery = "https://op.example/.well-known/openid-configuration";
    let jwks = "https://op.example/jwks";
    h.login(&mut Browser::default(), "https://rp.example/a");
    h.login(&mut Browser::default(), "https://rp.example/b");
    assert_eq!(h.net.count(discovery), 1);
    assert_eq!(h.net.count(jwks), 1);
    assert_eq!(h.net.count("https://op.example/token"), 2);
    assert_eq!(h.kv.keys("metadata:"), ["metadata:main"]);
    assert_eq!(h.kv.keys("jwks:"), ["jwks:main"]);

    // A new isolate a minute later: both documents come from KV, not from the provider.
    h.clock.advance(60);
    let other = h.new_isolate();
    other.login(&mut Browser::default(), "https://rp.example/c");
    assert_eq!(h.net.count(discovery), 1);
    assert_eq!(h.net.count(jwks), 1);
    assert_eq!(h.net.count("https://op.example/token"), 3);
    assert_eq!(h.kv.calls("get", "metadata:main"), 2, "read by each isolate once");
    assert_eq!(h.kv.calls("get", "jwks:main"), 2);
    assert_eq!(h.kv.calls("put", "metadata:main"), 1, "a KV hit is not written back");
    assert_eq!(h.kv.calls("put", "jwks:main"), 1);

    // After the cache lifetime (an hour) both are fetched again.
    h.clock.advance(3600);
    h.login(&mut Browser::default(), "https://rp.example/d");
    assert_eq!(h.net.count(discovery), 2);
    assert_eq!(h.net.count(jwks), 2);
}

#[test]
fn unknown_kid_refetches_the_jwks_once_and_accepts_the_rotated_key() {
    let h = Harness::single();
    let jwks = "https://op.example/jwks";
    h.login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(h.net.count(jwks), 1);
    h.op().rotate();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    assert_eq!(h.net.count(jwks), 2, "exactly one refetch");
    assert!(browser.get(SESSION).is_some());
    // The refreshed set is cached: the next login with the new key fetches nothing.
    h.login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(h.net.count(jwks), 2);
}

#[test]
fn second_unknown_kid_within_ten_seconds_does_not_refetch() {
    let h = Harness::single();
    let jwks = "https://op.example/jwks";
    h.login(&mut Browser::default(), "https://rp.example/");
    h.op().rotate();
    h.login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(h.net.count(jwks), 2);

    // Another new key 5 s later: no refetch, the login fails.
    h.clock.advance(5);
    h.op().rotate();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    let reply = h.callback(&mut browser, &h.op().authorize(&auth));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("unknown kid"), "{}", reply.body);
    assert_eq!(h.net.count(jwks), 2, "no second refetch within 10 s");

    // Once the interval has passed, the new key is fetched and accepted.
    h.clock.advance(5);
    h.login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(h.net.count(jwks), 3);
}

// ---- 5. dynamic client registration ----

#[test]
fn dynamic_registration_happens_once_and_is_shared_through_kv() {
    let h = Harness::new(DYNAMIC, &[ISSUER]);
    let register = "https://op.example/register";
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/a");
    assert_eq!(query(&auth, "client_id").as_deref(), Some("dyn-1"));
    assert_eq!(h.callback(&mut browser, &h.op().authorize(&auth)).status, 302);
    h.login(&mut Browser::default(), "https://rp.example/b");
    assert_eq!(h.net.count(register), 1);
    let body = h.op().registrations.borrow()[0].clone();
    assert_eq!(body["redirect_uris"], json!([REDIRECT_URI]));
    assert_eq!(body["client_name"], "Docs");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");

    let stored: RegisteredClient = serde_json::from_str(&h.kv.peek("registration:main").unwrap()).unwrap();
    assert_eq!(stored.client_id, "dyn-1");
    assert_eq!(stored.redirect_uri, REDIRECT_URI);

    // Another isolate reuses the stored client.
    let other = h.new_isolate();
    let auth = other.start_login(&mut Browser::default(), "https://rp.example/c");
    assert_eq!(query(&auth, "client_id").as_deref(), Some("dyn-1"));
    assert_eq!(h.net.count(register), 1);
}

#[test]
fn expired_registration_is_replaced() {
    let h = Harness::new(DYNAMIC, &[ISSUER]);
    let register = "https://op.example/register";
    let old = RegisteredClient {
        client_id: "old".into(),
        client_secret: Some(Secret::new("old-secret")),
        client_secret_expires_at: NOW - 10,
        method: AuthMethod::ClientSecretBasic,
        issuer: ISSUER.into(),
        redirect_uri: REDIRECT_URI.into(),
        response_type: ResponseType::Code,
    };
    h.kv.seed("registration:main", &serde_json::to_string(&old).unwrap(), 3600);
    h.op().registration.set(Registration::Accept {
        lifetime_secs: Some(7200),
    });
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    assert_eq!(query(&auth, "client_id").as_deref(), Some("dyn-1"));
    assert_eq!(h.net.count(register), 1);
    let stored: RegisteredClient = serde_json::from_str(&h.kv.peek("registration:main").unwrap()).unwrap();
    assert_eq!(stored.client_id, "dyn-1");
    assert_eq!(stored.client_secret_expires_at, NOW + 7200);
    assert_eq!(h.kv.ttl("registration:main"), Some(7200));
    assert_eq!(h.callback(&mut browser, &h.op().authorize(&auth)).status, 302);

    // The isolate's own copy expires too (a minute early): registered again.
    h.clock.advance(7200 - 60);
    let auth = h.start_login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(query(&auth, "client_id").as_deref(), Some("dyn-2"));
    assert_eq!(h.net.count(register), 2);
}

#[test]
fn refused_registration_gives_502_and_is_not_retried_for_30_seconds() {
    let h = Harness::new(DYNAMIC, &[ISSUER]);
    let register = "https://op.example/register";
    h.op().registration.set(Registration::Refuse);
    let browser = Browser::default();
    let handled = h.handle(&browser.navigate("https://rp.example/"));
    assert_eq!(
        handled.events.iter().map(|e| (e.event, e.reason)).collect::<Vec<_>>(),
        [(EventKind::ProviderError, Some("registration"))],
        "an upstream fault is logged"
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("invalid_client_metadata"), "{}", reply.body);
    assert!(reply.body.contains("contacts are required"), "{}", reply.body);
    assert_eq!(h.net.count(register), 1);
    assert!(h.kv.keys("registration:").is_empty());
    assert!(
        set_cookies(&reply).is_empty(),
        "no pending login for a login that cannot start"
    );

    // Ten seconds later: the same answer, without asking the provider.
    h.clock.advance(10);
    let total = h.net.total();
    let reply = h.reply(&browser.navigate("https://rp.example/"));
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("not retried yet"), "{}", reply.body);
    assert_eq!(h.net.total(), total, "no request at all during the backoff");

    // After 30 s it is tried again.
    h.clock.advance(20);
    h.op().registration.set(Registration::Accept { lifetime_secs: None });
    let auth = h.start_login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(query(&auth, "client_id").as_deref(), Some("dyn-1"));
    assert_eq!(h.net.count(register), 2);
}

// ---- 6. several providers ----

#[test]
fn several_providers_get_a_chooser_and_routes_pick_one() {
    let h = Harness::new(ROUTED, &["https://a.example", "https://b.example"]);
    let browser = Browser::default();
    let reply = h.reply(&browser.navigate("https://rp.example/docs?p=1"));
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("/login?return_to=%2Fdocs%3Fp%3D1"));
    assert_eq!(h.kv.ops(), (0, 0, 0), "the chooser redirect stores nothing");
    assert_eq!(h.net.total(), 0);

    let page = h.reply(&browser.navigate("https://rp.example/login?return_to=%2Fdocs%3Fp%3D1"));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"href="/login?provider=a&amp;return_to=%2Fdocs%3Fp%3D1">Sign in with Provider A<"#),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains(r#"href="/login?provider=b&amp;return_to=%2Fdocs%3Fp%3D1">Sign in with Provider B<"#));

    // Following a chooser link starts the login at that provider.
    let mut chooser = Browser::default();
    let auth = h.start_login(
        &mut chooser,
        "https://rp.example/login?provider=b&return_to=%2Fdocs%3Fp%3D1",
    );
    assert!(auth.as_str().starts_with("https://b.example/authorize?"), "{auth}");
    assert_eq!(h.pending(&chooser, &auth).unwrap().provider, "b");

    // A path with one provider goes straight there.
    let auth = h.start_login(&mut Browser::default(), "https://rp.example/admin/users");
    assert!(auth.as_str().starts_with("https://b.example/authorize?"), "{auth}");
    // A provider not allowed for the path is refused.
    let reply = h.reply(&browser.navigate("https://rp.example/login?provider=a&return_to=%2Fadmin%2Fx"));
    assert_eq!(reply.status, 400, "{}", reply.body);
}

#[test]
fn callback_for_provider_a_with_provider_b_iss_is_refused() {
    let h = Harness::new(ROUTED, &["https://a.example", "https://b.example"]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/login?provider=a&return_to=%2Fdocs");
    assert!(auth.as_str().starts_with("https://a.example/authorize?"));
    let back = with_param(&h.op_for(&auth).authorize(&auth), "iss", Some("https://b.example"));
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("unexpected issuer"));
    assert!(browser.get(SESSION).is_none());
    assert_eq!(
        h.net.count("https://a.example/token") + h.net.count("https://b.example/token"),
        0
    );
}

#[test]
fn a_session_from_one_provider_does_not_open_another_providers_route() {
    let h = Harness::new(ROUTED, &["https://a.example", "https://b.example"]);
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/login?provider=a&return_to=%2Fdocs");
    h.forward(&browser.navigate("https://rp.example/docs"));
    let reply = h.reply(&browser.navigate("https://rp.example/admin/"));
    assert_eq!(reply.status, 302);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://b.example/authorize?"));
    assert!(
        !set_cookies(&reply).iter().any(|c| c.starts_with("__Host-edge_oidc=")),
        "the session stays valid for the paths it may serve"
    );
}

// ---- 7. API requests ----

#[test]
fn api_request_without_session_gets_401_json_with_login_url() {
    let h = Harness::single();
    let reply = h.reply(&Browser::default().fetch("GET", "https://rp.example/api/items?page=2"));
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = json_body(&reply);
    assert_eq!(body["error"], "login_required");
    assert_eq!(body["login_url"], "/login?return_to=%2Fapi%2Fitems%3Fpage%3D2");
    assert_eq!(h.kv.ops(), (0, 0, 0), "no login is started for an API call");
    assert_eq!(h.net.total(), 0);
}

#[test]
fn a_posted_form_without_session_logs_in_and_api_calls_get_401() {
    let h = Harness::single();
    let browser = Browser::default();
    // fetch/XHR POSTs, PUTs and XHR GETs: 401 JSON, nothing written.
    let post = browser.fetch("POST", "https://rp.example/form");
    let put = browser.fetch("PUT", "https://rp.example/data");
    let mut xhr = browser.navigate("https://rp.example/data");
    xhr.headers.x_requested_with = Some("XMLHttpRequest".into());
    for req in [post, put, xhr] {
        let reply = h.reply(&req);
        assert_eq!(reply.status, 401, "{} {}", req.method, req.url);
        assert_eq!(json_body(&reply)["error"], "login_required");
    }
    assert_eq!(h.kv.ops(), (0, 0, 0));
    // A form the page posts (Sec-Fetch-Mode: navigate): a login that returns to the same URL
    // (by GET); the body is not kept.
    let mut form = browser.navigate("https://rp.example/form?x=1");
    form.method = "POST".into();
    let reply = h.reply(&form);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = reply.header("location").unwrap_or_default();
    assert!(location.starts_with("https://op.example/"), "{location}");
    assert!(reply
        .headers
        .iter()
        .any(|(n, v)| *n == "set-cookie" && v.contains("_s.")));
}

// ---- 8. logout ----

#[test]
fn logout_redirects_to_the_end_session_endpoint_and_clears_the_session() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let reply = h.reply(&browser.navigate("https://rp.example/logout"));
    assert_eq!(reply.status, 302, "{}", reply.body);
    let to = url::Url::parse(reply.header("location").unwrap()).unwrap();
    assert!(to.as_str().starts_with("https://op.example/logout?"), "{to}");
    let id_token = h.op().id_tokens.borrow().last().cloned().unwrap();
    assert_eq!(query(&to, "id_token_hint"), Some(id_token));
    assert_eq!(
        query(&to, "post_logout_redirect_uri").as_deref(),
        Some("https://rp.example/logged-out")
    );
    assert_eq!(query(&to, "state"), None, "no state that nothing would check");
    assert_eq!(query(&to, "client_id").as_deref(), Some("rp"));
    let cookies = set_cookies(&reply);
    assert!(cookies.contains(&"__Host-edge_oidc=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"));
    assert!(h.kv.keys("session:").is_empty(), "the session record is deleted");

    browser.store(&reply);
    assert_eq!(browser.header(), None);
    let next = h.reply(&browser.navigate("https://rp.example/"));
    assert_eq!(next.status, 302, "signed out: a new login");
}

#[test]
fn logout_without_end_session_endpoint_shows_the_logged_out_page() {
    let h = Harness::single();
    h.op().end_session.set(false);
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let reply = h.reply(&browser.navigate("https://rp.example/logout"));
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("You have been signed out of this site."));
    // Only this site's session ended: the page names the provider where it may go on.
    assert!(
        reply.body.contains("You may still be signed in at main"),
        "{}",
        reply.body
    );
    assert!(set_cookies(&reply).iter().any(|c| c.starts_with("__Host-edge_oidc=; ")));
    browser.store(&reply);
    assert_eq!(browser.get(SESSION), None);
    // The logged-out page itself is public.
    let page = h.reply(&browser.navigate("https://rp.example/logged-out"));
    assert_eq!(page.status, 200);
}

// ---- 9. failing I/O ----

#[test]
fn a_failing_store_does_not_stop_a_login_from_starting_but_stops_the_callback_with_503() {
    let h = Harness::single();
    h.kv.failing.set(true);
    let mut browser = Browser::default();
    // Starting needs no KV (the metadata cache is only a cache).
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    // The callback must check the state was not used: it cannot, so it refuses.
    let handled = h.handle(&browser.navigate(h.op().authorize(&auth).as_str()));
    assert_eq!(
        handled
            .events
            .iter()
            .map(|e| (e.event, e.reason, e.provider.as_deref(), e.status))
            .collect::<Vec<_>>(),
        [(EventKind::KvError, Some("kv"), Some("main"), Some(503))]
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("Temporarily unavailable"));
    assert!(!set_cookies(&reply)
        .iter()
        .any(|c| c.starts_with("__Host-edge_oidc=main.")));
    assert_eq!(h.net.count("https://op.example/token"), 0);
}

#[test]
fn token_endpoint_timeout_gives_504() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    h.net.fail("https://op.example/token", HttpError::Timeout);
    let back = h.op().authorize(&auth);
    let handled = h.handle(&browser.navigate(back.as_str()));
    assert_eq!(
        handled.events.iter().map(|e| (e.event, e.reason)).collect::<Vec<_>>(),
        [(EventKind::ProviderError, Some("provider_timeout"))]
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert!(reply.body.contains("no answer within the timeout"));
    assert_eq!(h.net.count("https://op.example/token"), 1);
}

// ---- identity headers ----

#[test]
fn configured_acr_header_is_sent_and_client_copies_are_removed() {
    let config = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
        "identity_headers":{"acr":"X-Auth-Acr","provider":"X-Auth-Provider"},"public_paths":["/public/"]}"#;
    let h = Harness::new(config, &[ISSUER]);
    // Without a session (public path) a client-sent copy must not reach the origin either.
    let public = h.forward(&Browser::default().navigate("https://rp.example/public/x"));
    assert!(public.add_headers.is_empty());
    for name in ["x-auth-acr", "x-auth-provider", "x-auth-subject"] {
        assert!(
            public.remove_headers.iter().any(|n| n == name),
            "{name}: {:?}",
            public.remove_headers
        );
    }
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("acr".into(), json!("urn:loa:2"));
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let fwd = h.forward(&browser.navigate("https://rp.example/"));
    assert!(fwd
        .add_headers
        .contains(&("x-auth-acr".to_owned(), "urn:loa:2".to_owned())));
    assert!(fwd
        .add_headers
        .contains(&("x-auth-provider".to_owned(), "main".to_owned())));
}

// ---- the security review (issue 9) ----

/// Item 4: anonymous navigations write nothing to KV (a crawler cannot use up the quota).
#[test]
fn anonymous_traffic_writes_nothing_to_kv() {
    let h = Harness::single();
    // The first login caches the discovered metadata and the JWKS (once per hour at most).
    h.login(&mut Browser::default(), "https://rp.example/warm");
    let (_, puts, deletes) = h.kv.ops();
    for i in 0..200 {
        let reply = h.reply(&Browser::default().navigate(&format!("https://rp.example/page/{i}")));
        assert_eq!(reply.status, 302);
    }
    for i in 0..50 {
        h.reply(&Browser::default().fetch("GET", &format!("https://rp.example/api/{i}")));
        // Forged callbacks: no pending cookie, no write either.
        h.reply(&Browser::default().navigate(&format!("https://rp.example/redirect_uri?state={i:043}&code=x")));
    }
    assert_eq!(
        (h.kv.ops().1, h.kv.ops().2),
        (puts, deletes),
        "0 KV writes per anonymous request"
    );
    // A completed login costs exactly one write: the session record.
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    assert_eq!(h.kv.ops().1, puts + 1);
}

/// Item 4: tabs that start logins at the same time all finish; at most MAX_PENDING cookies.
#[test]
fn several_tabs_log_in_at_once_and_pending_cookies_stay_bounded() {
    use crate::core::session::pending::MAX_PENDING;
    let h = Harness::single();
    let mut browser = Browser::default();
    // Three tabs start before any of them comes back (each sees the cookies set so far).
    let tabs: Vec<_> = (0..3)
        .map(|i| h.start_login(&mut browser, &format!("https://rp.example/tab/{i}")))
        .collect();
    assert_eq!(h.pending_cookies(&browser).len(), 3);
    // They come back in another order; each lands on its own page.
    for i in [2, 0, 1] {
        let back = h.op().authorize(&tabs[i]);
        let reply = h.callback(&mut browser, &back);
        assert_eq!(reply.status, 302, "tab {i}: {}", reply.body);
        assert_eq!(reply.header("location"), Some(format!("/tab/{i}").as_str()));
    }
    assert!(h.pending_cookies(&browser).is_empty());

    // A browser that starts many logins keeps at most MAX_PENDING: the oldest are dropped.
    let mut browser = Browser::default();
    let mut auths = Vec::new();
    for i in 0..MAX_PENDING + 3 {
        h.clock.advance(1);
        auths.push(h.start_login(&mut browser, &format!("https://rp.example/many/{i}")));
        assert!(h.pending_cookies(&browser).len() <= MAX_PENDING);
    }
    assert_eq!(h.pending_cookies(&browser).len(), MAX_PENDING);
    assert!(h.pending(&browser, &auths[0]).is_none(), "the oldest is gone");
    let newest = auths.last().unwrap();
    assert_eq!(h.callback(&mut browser.clone(), &h.op().authorize(newest)).status, 302);
    // Expired pending logins are dropped at the next start too.
    h.clock.advance(601);
    h.start_login(&mut browser, "https://rp.example/later");
    assert_eq!(h.pending_cookies(&browser).len(), 1);
}

/// Item 3: required_acr is enforced on the ID token, whatever was requested.
#[test]
fn required_acr_is_enforced() {
    let config =
        r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","required_acr":["urn:mfa"]}}}"#;
    let h = Harness::new(config, &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    assert_eq!(query(&auth, "acr_values").as_deref(), Some("urn:mfa"));
    // The user edited the request (or the provider ignored it): a weaker acr, then none.
    for acr in [json!("urn:pwd"), Value::Null] {
        h.op().extra_claims.borrow_mut().insert("acr".into(), acr.clone());
        let mut browser = Browser::default();
        let auth = h.start_login(&mut browser, "https://rp.example/");
        let reply = h.callback(&mut browser, &h.op().authorize(&auth));
        assert_eq!(reply.status, 403, "{acr}: {}", reply.body);
        assert!(reply.body.contains("required authentication method"), "{}", reply.body);
        assert!(browser.get(SESSION).is_none());
    }
    h.op().extra_claims.borrow_mut().insert("acr".into(), json!("urn:mfa"));
    h.login(&mut Browser::default(), "https://rp.example/");
}

/// Item 5: with public_origin, other hosts are sent there before any login work.
#[test]
fn other_hosts_go_to_the_public_origin() {
    let config = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"public_origin":"https://rp.example"}"#;
    let h = Harness::new(config, &[ISSUER]);
    let browser = Browser::default();
    let reply = h.reply(&browser.navigate("https://www.rp.example/docs?x=1"));
    assert_eq!(reply.status, 308);
    assert_eq!(reply.header("location"), Some("https://rp.example/docs?x=1"));
    let reply = h.reply(&browser.navigate("http://rp.example/redirect_uri?state=x&code=y"));
    assert_eq!(reply.status, 308);
    let mut post = browser.fetch("POST", "https://rp.workers.dev/api");
    post.method = "POST".into();
    assert_eq!(h.reply(&post).status, 421);
    assert_eq!(h.net.total(), 0);
    assert_eq!(h.kv.ops(), (0, 0, 0));
    // On the public origin, the redirect URI is built from it.
    let auth = h.start_login(&mut Browser::default(), "https://rp.example/docs");
    assert_eq!(query(&auth, "redirect_uri").as_deref(), Some(REDIRECT_URI));
}

/// Item 7: an email without `email_verified` does not pass an allow-list by default.
#[test]
fn unverified_or_unstated_emails_do_not_pass_allow_lists() {
    let strict = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"allowed_email_domains":["example.com"]}"#;
    let h = Harness::new(strict, &[ISSUER]);
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("email_verified".into(), Value::Null);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    let reply = h.callback(&mut browser, &h.op().authorize(&auth));
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(browser.get(SESSION).is_none());

    // A provider known not to send it (Entra): the operator turns the requirement off.
    let relaxed = strict.replace(
        r#""client_id":"rp""#,
        r#""client_id":"rp","require_email_verified":false"#,
    );
    let h = Harness::new(&relaxed, &[ISSUER]);
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("email_verified".into(), Value::Null);
    h.login(&mut Browser::default(), "https://rp.example/");
    // But an explicit `false` never passes.
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("email_verified".into(), json!(false));
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    assert_eq!(h.callback(&mut browser, &h.op().authorize(&auth)).status, 403);

    // Per-provider lists apply on top of the global ones.
    let scoped = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","allowed_emails":["bob@example.com"]}}}"#;
    let h = Harness::new(scoped, &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    assert_eq!(
        h.callback(&mut browser, &h.op().authorize(&auth)).status,
        403,
        "alice is not bob"
    );
}

/// Item 8: logout only from this site; a cross-site GET gets a confirmation page, a
/// cross-site POST is refused.
#[test]
fn logout_cannot_be_triggered_from_another_site() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let mut cross = browser.navigate("https://rp.example/logout");
    cross.headers.sec_fetch_site = Some("cross-site".into());
    let mut no_metadata = browser.navigate("https://rp.example/logout");
    no_metadata.headers.sec_fetch_site = None;
    for req in [cross, no_metadata] {
        let reply = h.reply(&req);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.body.contains(r#"<form method="post" action="/logout">"#),
            "{}",
            reply.body
        );
        assert!(set_cookies(&reply).is_empty(), "nothing cleared yet");
    }
    let mut post = browser.fetch("POST", "https://rp.example/logout");
    post.headers.sec_fetch_site = Some("cross-site".into());
    post.headers.origin = Some("https://evil.example".into());
    let reply = h.reply(&post);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(set_cookies(&reply).is_empty());
    assert_eq!(h.kv.keys("session:").len(), 1, "the session record is still there");
    h.forward(&browser.navigate("https://rp.example/"));

    // The confirmation page's button: a POST from this site.
    let mut confirmed = browser.fetch("POST", "https://rp.example/logout");
    confirmed.headers.sec_fetch_site = None;
    confirmed.headers.origin = Some("https://rp.example".into());
    let reply = h.reply(&confirmed);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/logout?"));
    browser.store(&reply);
    assert!(browser.get(SESSION).is_none());
}

/// Hardening: a session sealed for one deployment (or issuer) is not accepted by another that
/// shares COOKIE_KEYS.
#[test]
fn sessions_do_not_cross_deployments_sharing_keys() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    // Same keys, same cookie, another host (staging): not a session there.
    let mut elsewhere = browser.navigate("https://staging.rp.example/");
    elsewhere.url = url::Url::parse("https://staging.rp.example/").unwrap();
    let reply = h.reply(&elsewhere);
    assert_eq!(reply.status, 302);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
    // Same keys and host, another issuer under the same provider name.
    let other = Harness::new(
        &SINGLE.replace("https://op.example", "https://other-op.example"),
        &["https://other-op.example"],
    );
    let other = other.with_cookie_key(&h);
    assert_eq!(other.reply(&browser.navigate("https://rp.example/docs")).status, 302);
}

/// Hardening: a connection failure on the JWKS GET is retried once.
#[test]
fn jwks_fetch_is_retried_once_after_a_connection_failure() {
    let h = Harness::single();
    h.net.fail_times("https://op.example/jwks", 1);
    h.login(&mut Browser::default(), "https://rp.example/");
    assert_eq!(h.net.count("https://op.example/jwks"), 2);
    // Two failures in a row: the login fails (502), nothing is retried forever.
    let h = Harness::single();
    h.net.fail_times("https://op.example/jwks", 2);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    assert_eq!(h.callback(&mut browser, &h.op().authorize(&auth)).status, 502);
    assert_eq!(h.net.count("https://op.example/jwks"), 2);
}

/// Issue 10: repeat requests with the same cookie are served from the isolate's cache of
/// opened identities; expiry is still checked on every request.
#[test]
fn opened_identities_are_cached_and_still_expire() {
    let h = Harness::single();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    assert!(h.app.identities.is_empty(), "the callback itself does not cache");
    for _ in 0..3 {
        h.forward(&browser.navigate("https://rp.example/"));
    }
    assert_eq!(h.app.identities.len(), 1);
    h.clock.advance(3600);
    assert_eq!(h.reply(&browser.navigate("https://rp.example/")).status, 302);
}

/// Two first logins at once register two clients; each login finishes with its own, in this
/// isolate and in another one (by client id, from KV).
#[test]
fn concurrent_first_registrations_both_finish() {
    let h = Harness::new(DYNAMIC, &[ISSUER]);
    let mut first = Browser::default();
    let auth1 = h.start_login(&mut first, "https://rp.example/a");
    // The registration expires at once for this isolate's next login: a second client.
    h.kv.seed("registration:main", "{}", 60);
    let other = h.new_isolate();
    let mut second = Browser::default();
    let auth2 = other.start_login(&mut second, "https://rp.example/b");
    assert_eq!(query(&auth1, "client_id").as_deref(), Some("dyn-1"));
    assert_eq!(query(&auth2, "client_id").as_deref(), Some("dyn-2"));
    // The first login finishes in the second isolate (where dyn-2 is current), the second in
    // the first (where dyn-1 is).
    assert_eq!(other.callback(&mut first, &h.op().authorize(&auth1)).status, 302);
    assert_eq!(h.callback(&mut second, &h.op().authorize(&auth2)).status, 302);
    assert_eq!(h.kv.keys("registration:main:").len(), 2);
}

// ---- 10. canonical paths (src/core/site/path.rs) ----

/// [`ROUTED`] with a public prefix.
const ROUTED_PUBLIC: &str = r#"{"providers":{
    "a":{"issuer":"https://a.example","client_id":"rp"},
    "b":{"issuer":"https://b.example","client_id":"rp"}},
    "routes":[{"path_prefix":"/admin/","providers":["b"]}],"public_paths":["/public/"]}"#;

fn routed_public() -> Harness {
    Harness::new(ROUTED_PUBLIC, &["https://a.example", "https://b.example"])
}

#[test]
fn a_path_without_canonical_form_gets_400_and_nothing_is_passed_on() {
    let h = routed_public();
    let mut browser = Browser::default();
    // Even with a session that may serve every path but /admin/.
    h.login(&mut browser, "https://rp.example/login?provider=a&return_to=%2Fdocs");
    let (kv, net) = (h.kv.ops(), h.net.total());
    for path in [
        "/public/..%2Fsecret",
        "/public/..;/secret",
        "/admin;/x",
        "/x/..%2Fadmin/x",
        "/public/%5C../secret",
        "/public/%00",
        "/public/%C0%AE%C0%AE/secret",
        "/public/%zz",
    ] {
        let url = format!("https://rp.example{path}");
        let page = h.reply(&browser.navigate(&url));
        assert_eq!(page.status, 400, "{path}");
        assert!(page.body.contains("Bad request"), "{path}: {}", page.body);
        let api = h.reply(&browser.fetch("GET", &url));
        assert_eq!(
            (api.status, json_body(&api)["error"].as_str()),
            (400, Some("invalid_path")),
            "{path}"
        );
        assert!(
            h.handle(&browser.navigate(&url)).events.is_empty(),
            "a client fault is not logged"
        );
    }
    assert_eq!(
        (h.kv.ops(), h.net.total()),
        (kv, net),
        "no login started, nothing fetched"
    );
}

#[test]
fn every_spelling_of_a_route_keeps_its_provider_restriction() {
    let h = routed_public();
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/login?provider=a&return_to=%2Fdocs");
    assert!(h.forward(&browser.navigate("https://rp.example/docs")).path.is_none());
    for path in [
        "/admin/x",
        "/ADMIN/",
        "/admin",
        "/Admin/x",
        "//admin/x",
        "/%61dmin/x",
        "/docs/..\\admin/x",
    ] {
        let reply = h.reply(&browser.navigate(&format!("https://rp.example{path}")));
        assert_eq!(reply.status, 302, "{path}");
        let location = reply.header("location").unwrap();
        assert!(
            location.starts_with("https://b.example/authorize?"),
            "{path}: {location}"
        );
    }
    // The login endpoint reads the return URL the same way.
    let reply = h.reply(&browser.navigate("https://rp.example/login?provider=a&return_to=%2FADMIN%2Fx"));
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = h.reply(&browser.navigate("https://rp.example/login?provider=a&return_to=%2Fa%25252Fb"));
    assert_eq!(reply.status, 302, "`%25` is kept as is: {}", reply.body);
}

#[test]
fn public_paths_match_only_as_written_and_the_origin_gets_the_canonical_path() {
    let h = routed_public();
    let browser = Browser::default();
    // Another case is not public: it needs a login (the chooser: two providers allowed).
    let reply = h.reply(&browser.navigate("https://rp.example/PUBLIC/x"));
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("/login?return_to=%2FPUBLIC%2Fx"));
    // Public without a session; a non-canonical spelling is passed on in canonical form.
    for (url, forwarded) in [
        ("https://rp.example/public/x?q=%2F..", None),
        ("https://rp.example/public", None),
        ("https://rp.example//public/x?q=1", Some("/public/x?q=1")),
        ("https://rp.example/public//%7euser/%2e/x", Some("/public/~user/x")),
        ("https://rp.example/%70ublic/a%c3%a9", Some("/public/a%C3%A9")),
    ] {
        let fwd = h.forward(&browser.navigate(url));
        assert_eq!(fwd.path.as_deref(), forwarded, "{url}");
        assert!(!fwd.private, "{url}");
    }
}

#[test]
fn own_endpoints_are_matched_on_the_canonical_path() {
    let h = Harness::single();
    for url in ["https://rp.example//logged-out", "https://rp.example/logged%2Dout"] {
        let reply = h.reply(&Browser::default().navigate(url));
        assert_eq!(reply.status, 200, "{url}");
        assert!(reply.body.contains("Signed out"), "{url}");
    }
    let reply = h.reply(&Browser::default().navigate("https://rp.example/%6Cogin?return_to=%2Fdocs"));
    assert_eq!(reply.status, 302);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
    // A trailing slash or another case is another path: the gate's.
    let reply = h.reply(&Browser::default().navigate("https://rp.example/LOGGED-OUT"));
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
}

/// Fuzz finding: a stray cookie named like a pending login but not an RFC 6265 token is never
/// forwarded, and the login start does not try to remove it (no invalid Set-Cookie).
#[test]
fn stray_pending_like_cookies_are_stripped_but_not_removed() {
    let h = Harness::single();
    let mut browser = Browser::default();
    browser.set("__Host-edge_oidc_s.]]]]", "x");
    browser.set("__Host-edge_oidc_s.abc", "y");
    let reply = h.reply(&browser.navigate("https://rp.example/docs"));
    let cookies = set_cookies(&reply);
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-edge_oidc_s.abc=; ")),
        "{cookies:?}"
    );
    assert!(!cookies.iter().any(|c| c.contains("]]]]")), "{cookies:?}");
    let fwd = h.forward(&browser.navigate("https://rp.example/public/x"));
    assert_eq!(fwd.cookie, None, "neither is forwarded");
}

#[path = "log_tests.rs"]
mod log_tests;

#[path = "domain_tests.rs"]
mod domain_tests;
