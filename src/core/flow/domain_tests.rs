//! `session.cookie_domain` (flow/domain.rs): one login serves every host under the domain.

use super::test_op::*;
use crate::core::flow::Outcome;

/// The auth host under the cookie domain.
const SHARED: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "public_origin":"https://auth.example.com","session":{"lifetime_secs":3600,"cookie_domain":"example.com"}}"#;

/// The same keys, another cookie domain.
const ELSEWHERE: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "public_origin":"https://auth.example.org","session":{"lifetime_secs":3600,"cookie_domain":"example.org"}}"#;

/// The same keys, host-only on one of the domain's hosts (its `__Host-` value is tried under the
/// domain's `__Secure-` name).
const HOST_ONLY: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "public_origin":"https://docs.example.com","session":{"lifetime_secs":3600}}"#;

fn login_on(h: &Harness, browser: &mut Browser, url: &str) -> String {
    let reply = h.reply(&browser.navigate(url));
    assert_eq!(reply.status, 302, "{}", reply.body);
    let pending = set_cookies(&reply);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0].starts_with("__Secure-edge_oidc_s."), "{}", pending[0]);
    assert!(pending[0].contains("; Domain=example.com; Secure;"), "{}", pending[0]);
    browser.store(&reply);
    let auth = url::Url::parse(reply.header("location").unwrap()).unwrap();
    assert_eq!(
        query(&auth, "redirect_uri").as_deref(),
        Some("https://auth.example.com/redirect_uri"),
        "the callback stays on the auth host"
    );
    let back = h.op_for(&auth).authorize(&auth);
    assert!(back.as_str().starts_with("https://auth.example.com/redirect_uri?"));
    let reply = h.callback(browser, &back);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let session = set_cookies(&reply);
    assert!(session[0].starts_with("__Secure-edge_oidc=main."), "{}", session[0]);
    assert!(
        session[0].ends_with("; Max-Age=3600; Domain=example.com; Secure; HttpOnly; SameSite=Lax"),
        "{}",
        session[0]
    );
    browser.get("__Secure-edge_oidc").expect("session cookie").to_owned()
}

fn subject(h: &Harness, browser: &Browser, url: &str) -> Option<String> {
    match h.handle(&browser.navigate(url)).outcome {
        Outcome::Forward(f) => f
            .add_headers
            .iter()
            .find(|(n, _)| n == "x-auth-subject")
            .map(|(_, v)| v.clone()),
        Outcome::Reply(_) => None,
    }
}

#[test]
fn one_login_on_one_host_serves_every_host_under_the_domain() {
    let h = Harness::new(SHARED, &[ISSUER]);
    let mut browser = Browser::default();
    login_on(&h, &mut browser, "https://docs.example.com/guide?x=1");
    // The callback sent the browser back to the host it started on.
    let last = h.reply(&browser.navigate("https://auth.example.com/login?return_to=https%3A%2F%2Fapp.example.com%2Fy"));
    assert_eq!(last.status, 302, "signed in: the login endpoint still starts a login");
    for url in [
        "https://docs.example.com/guide",
        "https://app.example.com/",
        "https://auth.example.com/x",
    ] {
        assert_eq!(subject(&h, &browser, url).as_deref(), Some("alice"), "{url}");
    }
    // Other hosts and plain http are not served.
    for url in [
        "https://evil.com/",
        "https://example.com.evil.com/",
        "https://xexample.com/",
        "http://docs.example.com/",
    ] {
        let reply = h.reply(&browser.navigate(url));
        assert_eq!(reply.status, 421, "{url}");
    }
}

#[test]
fn the_callback_returns_to_the_host_the_login_started_on() {
    let h = Harness::new(SHARED, &[ISSUER]);
    let mut browser = Browser::default();
    let reply = h.reply(&browser.navigate("https://app.example.com/deep/page?q=2"));
    browser.store(&reply);
    let auth = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let back = h.op().authorize(&auth);
    let done = h.callback(&mut browser, &back);
    assert_eq!(done.header("location"), Some("https://app.example.com/deep/page?q=2"));
}

#[test]
fn return_urls_may_name_hosts_under_the_domain_only() {
    let h = Harness::new(SHARED, &[ISSUER]);
    let browser = Browser::default();
    let login = |to: &str| {
        let mut url = url::Url::parse("https://auth.example.com/login").unwrap();
        url.query_pairs_mut().append_pair("return_to", to);
        h.reply(&browser.navigate(url.as_str())).status
    };
    assert_eq!(login("https://app.example.com/y"), 302);
    assert_eq!(login("/local"), 302);
    for bad in [
        "https://evil.com/",
        "https://example.com.evil.com/",
        "https://xexample.com/",
        "https://user@app.example.com/",
        "http://app.example.com/",
        "https://app.example.com:444/",
    ] {
        assert_eq!(login(bad), 400, "{bad}");
    }
}

#[test]
fn a_cookie_sealed_for_another_domain_or_one_host_does_not_open() {
    let h = Harness::new(SHARED, &[ISSUER]);
    for (config, start, name) in [
        (ELSEWHERE, "https://docs.example.org/", "__Secure-edge_oidc"),
        (HOST_ONLY, "https://docs.example.com/", "__Host-edge_oidc"),
    ] {
        let other = Harness::new(config, &[ISSUER]).with_cookie_key(&h);
        let mut theirs = Browser::default();
        other.login(&mut theirs, start);
        let value = theirs.get(name).expect("a session").to_owned();
        let mut browser = Browser::default();
        browser.set("__Secure-edge_oidc", &value);
        assert_eq!(subject(&h, &browser, "https://docs.example.com/"), None, "{config}");
        assert_eq!(
            subject(&other, &theirs, start).as_deref(),
            Some("alice"),
            "it opens where it was sealed"
        );
    }
}

#[test]
fn cookies_of_the_host_only_setup_before_are_not_forwarded() {
    let h = Harness::new(SHARED, &[ISSUER]);
    let mut browser = Browser::default();
    login_on(&h, &mut browser, "https://docs.example.com/");
    for name in [
        "__Host-edge_oidc",
        "__Host-edge_oidc.0",
        "__Host-edge_oidc_s.abcdefghijkl",
    ] {
        browser.set(name, "old");
    }
    browser.set("theme", "dark");
    let forward = h.forward(&browser.navigate("https://app.example.com/"));
    assert_eq!(forward.cookie.as_deref(), Some("theme=dark"));
}
