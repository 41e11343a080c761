//! Flow tests of sessions that follow their provider (issue 12): refresh by token (single
//! flight, another isolate's rotation, a revoked token, a passing failure, the rules applied
//! again), silent refresh (`prompt=none`, its errors), the idle timeout, and back- and
//! front-channel logout found by the gate's revocation check. The fakes are `test_op.rs`'s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::test_op::*;
use super::{Forward, Incoming, Outcome};
use crate::core::http::Clock;
use crate::core::session::revocation;
use crate::core::session::Identity;
use serde_json::json;
use url::Url;

/// Refresh every 300 s; sessions last an hour.
const REFRESHING: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp",
    "session_refresh_interval_secs":300,"allowed_emails":["alice@example.com"]}},
    "session":{"lifetime_secs":3600}}"#;

/// Back- and front-channel logout, checked every 60 s.
const LOGOUTS: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp",
    "backchannel_logout":true,"frontchannel_logout":true,"revocation_check_secs":60}},
    "session":{"lifetime_secs":3600}}"#;

/// A 10-minute idle timeout (its step: 60 s).
const IDLE: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "session":{"lifetime_secs":3600,"idle_timeout_secs":600}}"#;

const PAGE: &str = "https://rp.example/docs/page";
const API: &str = "https://rp.example/api/items";

fn harness(config: &str, refresh_tokens: bool) -> Harness {
    let h = Harness::new(config, &[ISSUER]);
    h.op().issue_refresh_tokens.set(refresh_tokens);
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("sid".into(), json!("op-session-1"));
    h
}

/// The browser keeps the cookies a forwarded response sets.
fn keep(browser: &mut Browser, forward: &Forward) {
    for c in &forward.set_cookies {
        let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
        browser.set(name, value);
    }
}

fn identity(h: &Harness, browser: &Browser) -> Identity {
    let value = browser.get(SESSION).expect("a session cookie");
    Identity::open(&h.app.config.sealer, value, SESSION, RP, |p| h.app.issuer_of(p)).expect("opens")
}

fn header<'a>(forward: &'a Forward, name: &str) -> Option<&'a str> {
    forward
        .add_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn status(h: &Harness, req: &Incoming) -> u16 {
    match h.handle(req).outcome {
        Outcome::Reply(r) => r.status,
        Outcome::Forward(_) => 200,
    }
}

#[test]
fn refresh_by_token_renews_claims_keeps_the_lifetime_and_costs_nothing_until_due() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let first = identity(&h, &browser);
    assert_eq!(first.refresh_due, Some(NOW + 300));
    assert!(!first.silent_refresh);
    assert_eq!(first.sid.as_deref(), Some("op-session-1"));
    let size = browser.header().unwrap().len();
    assert!(size <= 400, "the session cookie is {size} bytes");

    // Not due: the hot path, no cookie, no I/O.
    let (kv, net) = (h.kv.ops(), h.net.total());
    h.clock.advance(299);
    let fwd = h.forward(&browser.fetch("GET", API));
    assert!(fwd.set_cookies.is_empty());
    assert_eq!((h.kv.ops(), h.net.total()), (kv, net));

    // Due, on an API call: refreshed in the back channel, the new name from UserInfo.
    h.clock.advance(1);
    *h.op().userinfo_name.borrow_mut() = "Alice Renamed".into();
    let fwd = h.forward(&browser.fetch("GET", API));
    assert_eq!(h.op().refreshes.get(), 1);
    assert_eq!(header(&fwd, "x-auth-name"), Some("Alice Renamed"));
    assert_eq!(fwd.set_cookies.len(), 1, "{:?}", fwd.set_cookies);
    assert!(
        fwd.set_cookies[0].contains("Max-Age=3300"),
        "until the absolute end: {}",
        fwd.set_cookies[0]
    );
    keep(&mut browser, &fwd);
    let second = identity(&h, &browser);
    assert_eq!(
        (second.created_at, second.expires_at, &second.handle),
        (first.created_at, first.expires_at, &first.handle)
    );
    assert_eq!(second.refresh_due, Some(NOW + 600));
    assert_eq!(second.name.as_deref(), Some("Alice Renamed"));

    // With the new cookie: the hot path again.
    let (kv, net) = (h.kv.ops(), h.net.total());
    assert!(h.forward(&browser.fetch("GET", API)).set_cookies.is_empty());
    assert_eq!((h.kv.ops(), h.net.total()), (kv, net));

    // No refresh extends the session: at its absolute end it is over.
    h.clock.advance(3300);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 401);
}

#[test]
fn thirty_concurrent_requests_share_one_refresh_and_a_late_one_gets_the_same_cookie() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    h.clock.advance(300);
    let reqs: Vec<Incoming> = (0..30).map(|i| browser.fetch("GET", &format!("{API}/{i}"))).collect();
    let handled = h.handle_all(&reqs);
    assert_eq!(h.op().refreshes.get(), 1, "one refresh for the whole page");
    let cookies: Vec<Vec<String>> = handled
        .into_iter()
        .map(|h| match h.outcome {
            Outcome::Forward(f) => f.set_cookies,
            Outcome::Reply(r) => panic!("{} {}", r.status, r.body),
        })
        .collect();
    assert!(cookies.iter().all(|c| c.len() == 1 && *c == cookies[0]), "{cookies:?}");
    // A request that still carries the old cookie a moment later: same value, no I/O.
    let net = h.net.total();
    h.clock.advance(5);
    let late = h.forward(&browser.fetch("GET", API));
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_eq!(value(&late.set_cookies[0]), value(&cookies[0][0]));
    assert_eq!((h.net.total(), h.op().refreshes.get()), (net, 1));
}

#[test]
fn another_isolate_with_the_old_cookie_adopts_the_rotated_session() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let old = browser.clone();
    h.clock.advance(300);
    let fwd = h.forward(&browser.fetch("GET", API));
    keep(&mut browser, &fwd);
    assert_eq!(h.op().refreshes.get(), 1);

    // The refresh token was rotated: a second redemption would be refused (and at some
    // providers revoke the grant). The other isolate finds the new session instead.
    let other = h.new_isolate();
    let tokens = h.net.count(&format!("{ISSUER}/token"));
    let adopted = other.forward(&old.fetch("GET", API));
    assert_eq!(h.net.count(&format!("{ISSUER}/token")), tokens, "no second redemption");
    let mut adopted_browser = old.clone();
    keep(&mut adopted_browser, &adopted);
    assert_eq!(
        identity(&h, &adopted_browser).refresh_due,
        identity(&h, &browser).refresh_due
    );

    // The lease: an isolate that finds another one redeeming waits for its result rather than
    // redeeming too; if that result never lands, the session goes on and is retried later.
    let third = h.new_isolate();
    h.clock.advance(300);
    let current = identity(&h, &browser);
    h.kv.seed(
        &revocation::refreshing_key(&current.handle, current.refresh_due),
        "another-isolate",
        60,
    );
    let waited = third.forward(&browser.fetch("GET", API));
    assert_eq!(h.op().refreshes.get(), 1, "the lease holder redeems, not us");
    assert_eq!(
        waited.set_cookies.len(),
        1,
        "the next attempt is postponed in the cookie"
    );
}

#[test]
fn a_revoked_refresh_token_ends_the_session() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    h.op().revoke_refresh_tokens();
    h.clock.advance(300);
    // An API call gets 401 JSON, never an HTML redirect; the log says why (no error level).
    let handled = h.handle(&browser.fetch("GET", API));
    assert!(
        handled.events.iter().any(|e| e.reason == Some("refresh_token_revoked")),
        "{:?}",
        handled.events
    );
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("not served")
    };
    assert_eq!(reply.status, 401, "{}", reply.body);
    // A navigation logs in again.
    let reply = h.reply(&browser.navigate(PAGE));
    assert_eq!(reply.status, 302);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("https://op.example/authorize?"));
    assert!(set_cookies(&reply)
        .iter()
        .any(|c| c.starts_with(&format!("{SESSION}=;"))));
}

#[test]
fn a_passing_failure_keeps_the_session_and_postpones_the_next_attempt() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let token_url = format!("{ISSUER}/token");
    h.net.fail_times(&token_url, 1);
    h.clock.advance(300);
    let handled = h.handle(&browser.fetch("GET", API));
    assert!(
        handled.events.iter().any(|e| e.reason == Some("refresh_postponed")),
        "{:?}",
        handled.events
    );
    let Outcome::Forward(fwd) = handled.outcome else {
        panic!("served")
    };
    keep(&mut browser, &fwd);
    assert_eq!(
        identity(&h, &browser).refresh_due,
        Some(NOW + 300 + 75),
        "a quarter of the interval later"
    );
    // Until then the provider is not asked again.
    let tokens = h.net.count(&token_url);
    h.clock.advance(74);
    assert!(h.forward(&browser.fetch("GET", API)).set_cookies.is_empty());
    assert_eq!(h.net.count(&token_url), tokens);
    h.clock.advance(1);
    h.forward(&browser.fetch("GET", API));
    assert_eq!(h.op().refreshes.get(), 1, "retried once due");
}

#[test]
fn a_user_removed_from_the_allow_list_loses_access_at_the_refresh() {
    let h = harness(REFRESHING, true);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("email".into(), json!("alice@elsewhere.example"));
    h.clock.advance(300);
    let reply = h.reply(&browser.fetch("GET", API));
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(set_cookies(&reply)
        .iter()
        .any(|c| c.starts_with(&format!("{SESSION}=;"))));
}

#[test]
fn without_a_refresh_token_a_navigation_refreshes_silently_and_api_calls_are_served() {
    let h = harness(REFRESHING, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let first = identity(&h, &browser);
    assert!(first.silent_refresh);
    h.clock.advance(300);
    // An API call cannot follow a login: served with the session as it is, no I/O.
    let (kv, net) = (h.kv.ops(), h.net.total());
    assert!(h.forward(&browser.fetch("GET", API)).set_cookies.is_empty());
    assert_eq!((h.kv.ops(), h.net.total()), (kv, net));
    // A navigation: prompt=none with the ID token as hint.
    let auth = h.start_login(&mut browser, PAGE);
    assert_eq!(query(&auth, "prompt").as_deref(), Some("none"));
    assert_eq!(query(&auth, "id_token_hint"), h.op().id_tokens.borrow().last().cloned());
    let back = h.op().authorize(&auth);
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.header("location"), Some("/docs/page"));
    let second = identity(&h, &browser);
    assert_eq!(
        (second.created_at, second.expires_at),
        (first.created_at, first.expires_at)
    );
    assert_eq!(second.refresh_due, Some(NOW + 600));
    assert_eq!(h.kv.keys("session:").len(), 1, "the old record is replaced");
}

#[test]
fn a_silent_refresh_that_needs_the_user_leads_to_one_interactive_login() {
    let h = harness(REFRESHING, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    h.clock.advance(300);
    let auth = h.start_login(&mut browser, PAGE);
    let state = query(&auth, "state").unwrap();
    let refused = Url::parse(&format!(
        "{REDIRECT_URI}?error=login_required&state={state}&iss={}",
        url::form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect::<String>()
    ))
    .unwrap();
    let reply = h.callback(&mut browser, &refused);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let interactive = Url::parse(reply.header("location").unwrap()).unwrap();
    assert!(interactive.as_str().starts_with("https://op.example/authorize?"));
    assert_eq!(
        query(&interactive, "prompt"),
        None,
        "an ordinary login, not another silent one"
    );
    assert!(browser.get(SESSION).is_none(), "the old session is over");
    // The login completes as any other: a new session, back to the same page.
    let back = h.op().authorize(&interactive);
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.header("location"), Some("/docs/page"));
    assert_eq!(identity(&h, &browser).created_at, NOW + 300);

    // Any other error: the session goes on, the next silent attempt later.
    h.clock.advance(300);
    let auth = h.start_login(&mut browser, PAGE);
    let state = query(&auth, "state").unwrap();
    let busy = with_param(
        &with_param(&refused, "state", Some(&state)),
        "error",
        Some("temporarily_unavailable"),
    );
    let reply = h.callback(&mut browser, &busy);
    assert_eq!(reply.header("location"), Some("/docs/page"));
    assert_eq!(identity(&h, &browser).refresh_due, Some(NOW + 600 + 75));
    assert_eq!(status(&h, &browser.navigate(PAGE)), 200, "served, no loop");
}

#[test]
fn the_idle_timeout_ends_unused_sessions_and_reseals_only_once_a_step() {
    let h = harness(IDLE, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    assert_eq!(identity(&h, &browser).active_at, Some(NOW));
    h.clock.advance(59);
    assert!(
        h.forward(&browser.fetch("GET", API)).set_cookies.is_empty(),
        "within a step: no cookie"
    );
    h.clock.advance(1);
    let ops = h.kv.ops();
    let fwd = h.forward(&browser.fetch("GET", API));
    assert_eq!(h.kv.ops(), ops, "an idle step is the cookie only");
    keep(&mut browser, &fwd);
    assert_eq!(identity(&h, &browser).active_at, Some(NOW + 60));
    // Used again just before the window closes: served, and `l` moves on.
    let stale = browser.clone();
    h.clock.advance(599);
    let fwd = h.forward(&browser.fetch("GET", API));
    keep(&mut browser, &fwd);
    assert_eq!(identity(&h, &browser).active_at, Some(NOW + 659));
    // The cookie as it was before that request has been unused for 600 s: over.
    h.clock.advance(1);
    assert_eq!(status(&h, &stale.fetch("GET", API)), 401);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 200);
    h.clock.advance(600);
    assert_eq!(
        status(&h, &browser.fetch("GET", API)),
        401,
        "unused for the whole window"
    );
}

fn logout_claims(h: &Harness, jti: &str) -> serde_json::Value {
    json!({
        "iss": ISSUER, "aud": "rp", "iat": h.clock.now(), "jti": jti, "sid": "op-session-1",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    })
}

fn backchannel(browser: &Browser, token: &str) -> Incoming {
    let mut req = browser.fetch("POST", "https://rp.example/backchannel-logout");
    req.headers.cookie = None;
    req.headers.content_type = Some("application/x-www-form-urlencoded".into());
    req.body = Some(format!("logout_token={token}").into_bytes());
    req
}

#[test]
fn backchannel_logout_ends_the_session_within_the_check_interval() {
    let h = harness(LOGOUTS, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    assert_eq!(
        h.app.body_limit("POST", "/x/../backchannel-logout"),
        Some(super::backchannel::MAX_BODY)
    );
    assert_eq!(h.app.body_limit("POST", "/docs"), None);

    // Junk and tokens that fail validation write nothing.
    let puts = h.kv.ops().1;
    for bad in [
        "not-a-jwt".to_owned(),
        h.op()
            .logout_token(json!({"iss": ISSUER, "aud": "rp", "iat": NOW, "jti": "j0", "sid": "op-session-1"})),
        {
            let mut c = logout_claims(&h, "j0");
            c["nonce"] = json!("n");
            h.op().logout_token(c)
        },
        {
            let mut c = logout_claims(&h, "j0");
            c["aud"] = json!("someone-else");
            h.op().logout_token(c)
        },
    ] {
        let reply = h.reply(&backchannel(&browser, &bad));
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert!(reply.body.contains("\"error\""), "{}", reply.body);
    }
    assert_eq!(h.kv.ops().1, puts, "no KV write for a token that did not validate");

    let token = h.op().logout_token(logout_claims(&h, "j1"));
    let reply = h.reply(&backchannel(&browser, &token));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(h.kv.peek(&revocation::sid_key("main", "op-session-1")).is_some());
    assert_eq!(
        h.reply(&backchannel(&browser, &token)).status,
        400,
        "a replayed jti is refused"
    );

    // Checked at most every 60 s: served until the check, then over.
    h.clock.advance(59);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 200);
    h.clock.advance(1);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 401);

    // A new login in the same provider session is not ended by the old record.
    h.clock.advance(1);
    h.login(&mut browser, PAGE);
    h.clock.advance(60);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 200);
}

#[test]
fn frontchannel_logout_records_only_sessions_that_logged_in_here() {
    let h = harness(LOGOUTS, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let stranger = Browser::default();
    let puts = h.kv.ops().1;
    let url = |sid: &str| format!("https://rp.example/frontchannel-logout?iss=https%3A%2F%2Fop.example&sid={sid}");
    let reply = h.reply(&stranger.navigate(&url("made-up")));
    assert_eq!(reply.status, 200);
    assert_eq!(h.kv.ops().1, puts, "an unknown sid writes nothing");
    let csp = reply.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors https://op.example"), "{csp}");

    // The iframe usually carries no cookie: the known sid is recorded.
    let reply = h.reply(&stranger.navigate(&url("op-session-1")));
    assert_eq!(reply.status, 200);
    assert!(h.kv.peek(&revocation::sid_key("main", "op-session-1")).is_some());
    let puts = h.kv.ops().1;
    h.reply(&stranger.navigate(&url("op-session-1")));
    assert_eq!(h.kv.ops().1, puts, "recorded once");
    h.clock.advance(60);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 401);
    assert_eq!(
        h.reply(&stranger.navigate("https://rp.example/frontchannel-logout?sid=x"))
            .status,
        400
    );
}

#[test]
fn rp_initiated_logout_also_revokes_the_sid() {
    let h = harness(LOGOUTS, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    let copy = browser.clone();
    let reply = h.reply(&browser.navigate("https://rp.example/logout"));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(h.kv.peek(&revocation::sid_key("main", "op-session-1")).is_some());
    h.clock.advance(60);
    assert_eq!(
        status(&h, &copy.fetch("GET", API)),
        401,
        "a copy of the cookie stops too"
    );
}

#[test]
fn each_check_interval_costs_one_check_and_one_new_cookie() {
    let h = harness(LOGOUTS, false);
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    for round in 1..=3 {
        h.clock.advance(60);
        let gets = h.kv.ops().0;
        let fwd = h.forward(&browser.fetch("GET", API));
        assert_eq!(h.kv.ops().0 - gets, 2, "round {round}: the two records, read once");
        assert_eq!(fwd.set_cookies.len(), 1, "round {round}");
        keep(&mut browser, &fwd);
        assert_eq!(identity(&h, &browser).checked_at, Some(NOW + 60 * round));
        let gets = h.kv.ops().0;
        assert!(
            h.forward(&browser.fetch("GET", API)).set_cookies.is_empty(),
            "round {round}: nothing due"
        );
        assert_eq!(h.kv.ops().0, gets);
    }
}

#[test]
fn required_claims_are_applied_again_at_a_refresh() {
    let config = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp",
        "session_refresh_interval_secs":300,"required_claims":{"hd":"example.com"}}},
        "session":{"lifetime_secs":3600}}"#;
    let h = harness(config, true);
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("hd".into(), json!("example.com"));
    let mut browser = Browser::default();
    h.login(&mut browser, PAGE);
    h.clock.advance(300);
    assert_eq!(status(&h, &browser.fetch("GET", API)), 200, "still met");
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("hd".into(), json!("elsewhere.example"));
    h.clock.advance(300);
    let reply = h.reply(&browser.fetch("GET", API));
    assert_eq!(reply.status, 403, "{}", reply.body);
}
