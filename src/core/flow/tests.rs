//! Flow tests: whole requests through [`App::handle`](super::App::handle) with in-memory fakes
//! of the I/O (see `test_op.rs`): a fake OpenID Provider, a counting KV store, a fixed clock and
//! counter-based randomness.

#[path = "test_op.rs"]
mod test_op;

use super::Outcome;
use crate::core::crypto::secret::Secret;
use crate::core::http::HttpError;
use crate::core::oidc::authorize::{pkce_challenge, state_key};
use crate::core::oidc::client_auth::AuthMethod;
use crate::core::oidc::registration::RegisteredClient;
use crate::core::site::pages::Reply;
use serde_json::{json, Value};
use test_op::*;

/// Two providers; `/admin/` only with `b`.
const ROUTED: &str = r#"{"providers":{
    "a":{"issuer":"https://a.example","client_id":"rp","display_name":"Provider A"},
    "b":{"issuer":"https://b.example","client_id":"rp","display_name":"Provider B"}},
    "routes":[{"path_prefix":"/admin/","providers":["b"]}]}"#;

/// One provider with dynamic client registration.
const DYNAMIC: &str = r#"{"providers":{"main":{"issuer":"https://op.example","registration":{"client_name":"Docs"}}}}"#;

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
        (1, 2, 0),
        "metadata cache miss, then metadata and state puts"
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
    assert!(login_cookie[0].starts_with("edge_oidc_login="), "{}", login_cookie[0]);
    assert!(login_cookie[0].ends_with("; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax"));
    browser.store(&reply);

    // What the callback will need is in KV under the state, bound to this browser.
    let pending = h.pending(&auth).expect("pending login in KV");
    assert_eq!(pending.provider, "main");
    assert_eq!(pending.return_to, "/docs/page?x=1");
    assert_eq!(pending.nonce.expose(), param("nonce"));
    assert_eq!(pkce_challenge(pending.pkce_verifier.expose()), param("code_challenge"));
    assert_eq!(Some(pending.binding.expose()), browser.get("edge_oidc_login"));
    assert_eq!(h.kv.ttl(&state_key(&param("state"))), Some(600));

    // The provider sends the browser back; the fake token endpoint checks PKCE and redirect_uri.
    let back = h.op().authorize(&auth);
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/docs/page?x=1"));
    let session_cookie = set_cookies(&reply);
    assert_eq!(session_cookie.len(), 1, "{session_cookie:?}");
    assert!(session_cookie[0].starts_with("edge_oidc="));
    assert!(session_cookie[0].ends_with("; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"));
    assert_eq!(h.kv.peek(&state_key(&param("state"))), None, "the state is used up");
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
    assert!(
        browser.get("edge_oidc_login").is_some(),
        "the browser still sends the login cookie"
    );
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
        assert!(handled.log.is_none(), "{:?}", handled.log);
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
    assert_eq!(h.callback(&mut browser, &back).status, 302);
    let replay = h.callback(&mut browser, &back);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("expired or was already used"), "{}", replay.body);
    assert_eq!(h.net.count("https://op.example/token"), 1, "no second code exchange");
}

#[test]
fn callback_without_the_login_cookie_is_refused_and_keeps_the_pending_login() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let back = h.op().authorize(&auth);
    let key = state_key(&query(&auth, "state").unwrap());

    // No cookie at all (the link was opened in another browser).
    let reply = h.callback(&mut Browser::default(), &back);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("another browser"), "{}", reply.body);
    assert!(h.kv.peek(&key).is_some(), "a forged callback cannot burn the login");

    // Another browser's login cookie.
    let mut other = Browser::default();
    other.set("edge_oidc_login", &"x".repeat(43));
    assert_eq!(h.callback(&mut other, &back).status, 400);
    assert!(h.kv.peek(&key).is_some());
    assert_eq!(h.net.count("https://op.example/token"), 0);

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
        assert!(set_cookies(&reply).is_empty(), "no session for {iss:?}");
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
    assert!(h.pending(&auth).is_none(), "the login is used up");
    assert_eq!(h.net.count("https://op.example/token"), 0);

    // Without state the explanation is still shown.
    let no_state = url::Url::parse(&format!(
        "{REDIRECT_URI}?error=login_required&error_description=Sign+in+first"
    ))
    .unwrap();
    let reply = h.callback(&mut browser, &no_state);
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("login_required") && reply.body.contains("Sign in first"));
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
    let pending = h.kv.keys("state:").len();
    let reply = h.reply(&browser.navigate("https://rp.example/docs"));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
    let cookies = set_cookies(&reply);
    assert!(
        cookies.contains(&"edge_oidc=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
        "{cookies:?}"
    );
    assert_eq!(h.kv.keys("state:").len(), pending + 1, "a new pending login");

    // An API call with the expired session: 401, and the cookie is cleared there too.
    let reply = h.reply(&browser.fetch("GET", "https://rp.example/api/x"));
    assert_eq!(reply.status, 401);
    assert!(set_cookies(&reply).iter().any(|c| c.starts_with("edge_oidc=; ")));
}

#[test]
fn fake_op_refuses_a_wrong_pkce_verifier_and_the_rp_a_wrong_nonce() {
    let h = Harness::single();
    // The RP sends the verifier it stored: change it and the provider refuses the code.
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let mut pending = h.pending(&auth).unwrap();
    pending.pkce_verifier = Secret::new("a".repeat(43));
    let key = state_key(&query(&auth, "state").unwrap());
    h.kv.seed(&key, &serde_json::to_string(&pending).unwrap(), 600);
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
    assert!(browser.get("edge_oidc").is_none());
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
    assert!(browser.get("edge_oidc").is_some());
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
    assert!(handled.log.is_some(), "an upstream fault is logged");
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("invalid_client_metadata"), "{}", reply.body);
    assert!(reply.body.contains("contacts are required"), "{}", reply.body);
    assert_eq!(h.net.count(register), 1);
    assert!(h.kv.keys("state:").is_empty() && h.kv.keys("registration:").is_empty());

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
    let auth = h.start_login(
        &mut Browser::default(),
        "https://rp.example/login?provider=b&return_to=%2Fdocs%3Fp%3D1",
    );
    assert!(auth.as_str().starts_with("https://b.example/authorize?"), "{auth}");
    assert_eq!(h.pending(&auth).unwrap().provider, "b");

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
    assert!(set_cookies(&reply).is_empty());
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
        !set_cookies(&reply).iter().any(|c| c.starts_with("edge_oidc=")),
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
fn non_get_without_session_gets_401_even_as_a_navigation() {
    let h = Harness::single();
    let browser = Browser::default();
    let mut post = browser.navigate("https://rp.example/form");
    post.method = "POST".into();
    let mut xhr = browser.navigate("https://rp.example/data");
    xhr.headers.x_requested_with = Some("XMLHttpRequest".into());
    for req in [post, xhr] {
        let reply = h.reply(&req);
        assert_eq!(reply.status, 401, "{} {}", req.method, req.url);
        assert_eq!(json_body(&reply)["error"], "login_required");
    }
    assert_eq!(h.kv.ops(), (0, 0, 0));
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
    assert_eq!(query(&to, "state").map(|s| s.len()), Some(43));
    assert_eq!(query(&to, "client_id").as_deref(), Some("rp"));
    let cookies = set_cookies(&reply);
    assert!(cookies.contains(&"edge_oidc=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"));
    assert!(cookies.contains(&"edge_oidc_login=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"));

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
    assert!(reply.body.contains("You have been signed out."));
    assert!(set_cookies(&reply).iter().any(|c| c.starts_with("edge_oidc=; ")));
    browser.store(&reply);
    assert_eq!(browser.get("edge_oidc"), None);
    // The logged-out page itself is public.
    let page = h.reply(&browser.navigate("https://rp.example/logged-out"));
    assert_eq!(page.status, 200);
}

// ---- 9. failing I/O ----

#[test]
fn store_failure_at_login_start_gives_503() {
    let h = Harness::single();
    h.kv.failing.set(true);
    let handled = h.handle(&Browser::default().navigate("https://rp.example/docs"));
    assert!(
        handled.log.as_deref().is_some_and(|l| l.contains("key-value store")),
        "{:?}",
        handled.log
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("Temporarily unavailable"));
    assert!(
        set_cookies(&reply).is_empty(),
        "no login cookie for a login that was not stored"
    );
}

#[test]
fn token_endpoint_timeout_gives_504() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    h.net.fail("https://op.example/token", HttpError::Timeout);
    let back = h.op().authorize(&auth);
    let handled = h.handle(&browser.navigate(back.as_str()));
    assert!(handled
        .log
        .as_deref()
        .is_some_and(|l| l.starts_with("GET /redirect_uri")));
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
            h.handle(&browser.navigate(&url)).log.is_none(),
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
