//! The log events of whole requests (src/core/log.rs): what is written when, and that no line
//! ever holds a token, a cookie, a secret, a code, a state or a nonce.

use super::test_op::*;
use crate::core::flow::Outcome;
use crate::core::log::{Event, EventKind};
use std::collections::BTreeSet;
use url::Url;

/// [`SINGLE`] at another log level, optionally with an allow-list.
fn config(level: &str, allowed: &str) -> String {
    format!(
        r#"{{"providers":{{"main":{{"issuer":"https://op.example","client_id":"rp"}}}},
        "session":{{"lifetime_secs":3600}},"public_paths":["/public/"],
        "log_level":"{level}","allowed_emails":[{allowed}]}}"#
    )
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.event).collect()
}

fn take_lines() -> Vec<String> {
    LOGGED.with_borrow_mut(std::mem::take)
}

/// Everything secret a browser, the fake provider or the configuration held during a test.
#[derive(Default)]
struct Secrets(BTreeSet<String>);

impl Secrets {
    fn browser(&mut self, browser: &Browser) {
        for name in browser.names().collect::<Vec<_>>() {
            self.add(browser.get(&name).unwrap_or_default());
        }
    }

    fn auth(&mut self, auth: &Url) {
        for k in ["state", "nonce", "code_challenge"] {
            self.add(&query(auth, k).unwrap_or_default());
        }
    }

    fn back(&mut self, back: &Url) {
        self.add(&query(back, "code").unwrap_or_default());
        self.add(&query(back, "state").unwrap_or_default());
    }

    fn op(&mut self, op: &FakeOp) {
        for t in op.id_tokens.borrow().iter().chain(op.access_tokens.borrow().iter()) {
            self.add(t);
            // The ID token's signature and payload on their own, too.
            for part in t.split('.') {
                self.add(part);
            }
        }
    }

    fn add(&mut self, s: &str) {
        if s.len() >= 6 {
            self.0.insert(s.to_owned());
        }
    }

    fn assert_absent(&self, lines: &[String]) {
        assert!(self.0.len() >= 10, "too few secrets collected: {:?}", self.0);
        for line in lines {
            for secret in &self.0 {
                assert!(!line.contains(secret.as_str()), "{line} holds {secret}");
            }
            assert!(!line.contains('?'), "a query string in {line}");
        }
    }
}

#[test]
fn no_log_line_holds_a_token_cookie_secret_code_state_or_nonce() {
    take_lines();
    let h = Harness::new(&config("debug", ""), &[ISSUER]);
    let mut secrets = Secrets::default();
    secrets.add(CLIENT_SECRET);
    let mut browser = Browser::default();

    // A whole login, pages on the session (debug logs them), a logout.
    let auth = h.start_login(&mut browser, "https://rp.example/docs/page?token=query-secret-1");
    secrets.auth(&auth);
    secrets.browser(&browser);
    let back = h.op().authorize(&auth);
    secrets.back(&back);
    assert_eq!(h.callback(&mut browser, &back).status, 302);
    secrets.browser(&browser);
    h.forward(&browser.navigate("https://rp.example/docs/page?token=query-secret-2"));
    h.forward(&browser.fetch("POST", "https://rp.example/api/items?key=query-secret-3"));
    assert_eq!(h.reply(&browser.navigate("https://rp.example/logout")).status, 302);

    // Failures: a replayed callback, one from another browser, a provider's error with its text,
    // an ID token with the wrong nonce, a token endpoint that fails.
    let mut other = Browser::default();
    let auth = h.start_login(&mut other, "https://rp.example/");
    secrets.auth(&auth);
    secrets.browser(&other);
    let back = h.op().authorize(&auth);
    secrets.back(&back);
    assert_eq!(h.reply(&Browser::default().navigate(back.as_str())).status, 400);
    let refused = with_param(&with_param(&back, "code", None), "error", Some("access_denied"));
    let refused = with_param(&refused, "error_description", Some("provider-text-secret"));
    secrets.add("provider-text-secret");
    assert_eq!(h.callback(&mut other, &refused).status, 403);
    let auth = h.start_login(&mut other, "https://rp.example/");
    secrets.auth(&auth);
    secrets.browser(&other);
    *h.op().nonce_override.borrow_mut() = Some("forged-nonce-value".into());
    secrets.add("forged-nonce-value");
    let back = h.op().authorize(&auth);
    secrets.back(&back);
    assert_eq!(h.callback(&mut other, &back).status, 502);
    let auth = h.start_login(&mut other, "https://rp.example/");
    secrets.auth(&auth);
    h.net
        .fail("https://op.example/token", crate::core::http::HttpError::Timeout);
    let back = h.op().authorize(&auth);
    secrets.back(&back);
    assert_eq!(h.callback(&mut other, &back).status, 504);
    secrets.op(h.op());

    let lines = take_lines();
    let events: Vec<&str> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert!(v.is_object(), "{l}");
            v["event"].as_str().map(|s| s.to_owned()).unwrap_or_default()
        })
        .map(|s| Box::leak(s.into_boxed_str()) as &str)
        .collect();
    assert_eq!(
        events,
        [
            "login_started",
            "login_completed",
            "forwarded",
            "forwarded",
            "logout",
            "login_started",
            "login_failed",
            "login_failed",
            "login_started",
            "provider_error",
            "login_started",
            "provider_error",
        ],
        "{lines:#?}"
    );
    secrets.assert_absent(&lines);
}

#[test]
fn a_login_and_a_logout_name_provider_subject_and_duration() {
    let h = Harness::new(&config("info", ""), &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    h.clock.advance(7);
    let mut back_req = browser.navigate(h.op().authorize(&auth).as_str());
    back_req.headers.cf_ray = Some("8c2f0d6e2b1a1234-FRA".into());
    let handled = h.handle(&back_req);
    let [done] = handled.events.as_slice() else {
        panic!("{:?}", handled.events)
    };
    assert_eq!(
        done.to_line(),
        r#"{"event":"login_completed","level":"info","provider":"main","sub":"alice","duration_ms":7000,"status":302,"ray":"8c2f0d6e2b1a1234-FRA"}"#
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("forwarded")
    };
    browser.store(&reply);
    // The hot path logs nothing at info.
    assert!(h.handle(&browser.navigate("https://rp.example/docs")).events.is_empty());
    let mut logout = browser.navigate("https://rp.example/logout");
    logout.headers.cf_ray = Some("not a ray\"}".into());
    let events = h.handle(&logout).events;
    assert_eq!(
        events.iter().map(Event::to_line).collect::<Vec<_>>(),
        [r#"{"event":"logout","level":"info","provider":"main","sub":"alice","status":302}"#],
        "a ray that does not look like one is left out"
    );
}

#[test]
fn denials_failed_logins_and_client_noise() {
    let h = Harness::new(&config("info", r#""bob@example.com""#), &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs/a%20b?q=1");
    let back = h.op().authorize(&auth);
    let denied = h.handle(&browser.navigate(back.as_str())).events;
    assert_eq!(
        denied.iter().map(Event::to_line).collect::<Vec<_>>(),
        [
            r#"{"event":"denied","level":"info","provider":"main","reason":"forbidden","rule":"allowed_emails","path":"/redirect_uri","status":403}"#
        ]
    );
    // A callback with no pending login of this browser: a failed login, without a provider.
    let stray = h.handle(&Browser::default().navigate(back.as_str())).events;
    assert_eq!(
        stray
            .iter()
            .map(|e| (e.event, e.reason, e.provider.clone()))
            .collect::<Vec<_>>(),
        [(EventKind::LoginFailed, Some("state_not_bound"), None)]
    );
    // Client faults outside a login are not logged: a bad path, a cross-site logout POST.
    assert!(h
        .handle(&browser.navigate("https://rp.example/public/..%2Fsecret"))
        .events
        .is_empty());
    let mut post = browser.fetch("POST", "https://rp.example/logout");
    post.headers.sec_fetch_site = Some("cross-site".into());
    assert!(h.handle(&post).events.is_empty());
}

#[test]
fn levels_error_and_off() {
    let h = Harness::new(&config("error", ""), &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    h.net
        .fail("https://op.example/token", crate::core::http::HttpError::Timeout);
    let back = h.op().authorize(&auth);
    let events = h.handle(&browser.navigate(back.as_str())).events;
    assert_eq!(kinds(&events), [EventKind::ProviderError], "only errors at `error`");
    assert!(h
        .handle(&Browser::default().navigate("https://rp.example/"))
        .events
        .is_empty());

    let h = Harness::new(&config("off", ""), &[ISSUER]);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/");
    h.net
        .fail("https://op.example/token", crate::core::http::HttpError::Timeout);
    let back = h.op().authorize(&auth);
    assert!(h.handle(&browser.navigate(back.as_str())).events.is_empty());
}

#[test]
fn a_session_refused_by_an_allow_list_is_a_denial_with_its_provider_and_path() {
    let open = Harness::new(&config("info", ""), &[ISSUER]);
    let mut browser = Browser::default();
    open.login(&mut browser, "https://rp.example/");
    // The same deployment after the operator added an allow-list.
    let closed = Harness::new(&config("info", r#""bob@example.com""#), &[ISSUER]).with_cookie_key(&open);
    let events = closed
        .handle(&browser.navigate("https://rp.example/admin/report?id=7"))
        .events;
    assert_eq!(
        events.iter().map(Event::to_line).collect::<Vec<_>>(),
        [
            r#"{"event":"denied","level":"info","provider":"main","reason":"forbidden","rule":"allowed_emails","path":"/admin/report","status":403}"#
        ]
    );
}
