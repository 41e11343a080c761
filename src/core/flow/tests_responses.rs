//! Flow tests of every response type and mode (Core §3.1–§3.3, Form Post Response Mode), the
//! relay pages, and pushed authorization requests (RFC 9126), against the fake provider of
//! `test_op.rs` (its front channel: `test_op_front.rs`).

use super::test_op::*;
use crate::core::oidc::response::{ResponseType, MAX_BODY, RELAY_MARKER};
use crate::core::session::{handle_for_state, record_key, SealContext, SessionRecord};
use crate::core::site::pages::Reply;
use serde_json::json;
use url::Url;

/// One provider with this `response_type` (and `response_mode`, when given).
pub(super) fn harness(response_type: &str, mode: Option<&str>) -> Harness {
    harness_with(response_type, mode, "")
}

pub(super) fn harness_with(response_type: &str, mode: Option<&str>, extra: &str) -> Harness {
    let mode = mode.map(|m| format!(r#","response_mode":"{m}""#)).unwrap_or_default();
    Harness::new(
        &format!(
            r#"{{"providers":{{"main":{{"issuer":"https://op.example","client_id":"rp","response_type":"{response_type}"{mode}{extra}}}}},
            "session":{{"lifetime_secs":3600}}}}"#
        ),
        &[ISSUER],
    )
}

/// The session record a login with this authorization request wrote.
fn record(h: &Harness, auth: &Url) -> SessionRecord {
    let key = record_key(&handle_for_state(&query(auth, "state").expect("state")));
    let context = SealContext {
        kind: "record",
        name: &key,
        deployment: RP,
        issuer: ISSUER,
    };
    let sealed = h.kv.peek(&key).expect("a session record");
    SessionRecord::open(&h.app.config.sealer, &context, &sealed).expect("it opens")
}

/// Starts a login at `/docs`, has the provider answer and delivers the answer as a browser
/// would; returns the authorization URL and the callback's final answer.
fn login(h: &Harness, browser: &mut Browser) -> (Url, Reply) {
    let auth = h.start_login(browser, "https://rp.example/docs");
    let front = h.op().respond(&auth);
    let reply = h.deliver(browser, front);
    (auth, reply)
}

pub(super) fn assert_refused(reply: &Reply, status: u16, text: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.body.contains(text), "{text:?} not in {}", reply.body);
    assert!(
        !set_cookies(reply).iter().any(|c| c.starts_with(&format!("{SESSION}="))),
        "no session"
    );
}

// ---- every type and mode logs in ----

#[test]
fn every_response_type_and_mode_logs_in_with_the_right_tokens() {
    let cases = [
        ("code", Some("query")),
        ("code", Some("fragment")),
        ("code", Some("form_post")),
        ("id_token", None),
        ("id_token", Some("form_post")),
        ("id_token token", None),
        ("id_token token", Some("form_post")),
        ("code id_token", None),
        ("code id_token", Some("form_post")),
        ("code token", None),
        ("code token", Some("form_post")),
        ("code id_token token", None),
        ("code id_token token", Some("form_post")),
    ];
    for (rt, mode) in cases {
        let case = format!("{rt} / {mode:?}");
        let h = harness(rt, mode);
        let mut browser = Browser::default();
        let (auth, reply) = login(&h, &mut browser);
        assert_eq!(reply.status, 302, "{case}: {}", reply.body);
        assert_eq!(reply.header("location"), Some("/docs"), "{case}");
        assert!(browser.get(SESSION).is_some(), "{case}: a session");
        assert!(
            h.pending_cookies(&browser).is_empty(),
            "{case}: the pending login is used up"
        );
        let parsed = ResponseType::parse(rt).unwrap();
        let record = record(&h, &auth);
        let issued = h.op().id_tokens.borrow().clone();
        // Hybrid: the token endpoint's ID token is kept (the second one issued).
        let expected = if parsed.code() { issued.last() } else { issued.first() };
        assert_eq!(Some(&record.id_token), expected, "{case}");
        assert_eq!(
            issued.len(),
            usize::from(parsed.id_token()) + usize::from(parsed.code()),
            "{case}"
        );
        assert_eq!(record.access_token.is_some(), parsed.code() || parsed.token(), "{case}");
        assert_eq!(
            h.net.count("https://op.example/token"),
            usize::from(parsed.code()),
            "{case}"
        );
        // UserInfo whenever there is an access token to call it with.
        assert_eq!(
            h.net.count("https://op.example/userinfo"),
            usize::from(record.access_token.is_some()),
            "{case}"
        );
        assert_eq!(record.userinfo.is_some(), record.access_token.is_some(), "{case}");
        // Signed in: the next request goes to the origin as this user.
        let fwd = h.forward(&browser.navigate("https://rp.example/docs"));
        assert!(
            fwd.add_headers
                .iter()
                .any(|(n, v)| n == "x-auth-subject" && v == "alice"),
            "{case}"
        );
        // The login asked for exactly this type and mode.
        let default_mode = parsed.default_mode().as_str();
        let sent_mode = query(&auth, "response_mode");
        assert_eq!(query(&auth, "response_type").as_deref(), Some(parsed.as_str()));
        assert_eq!(
            sent_mode.as_deref().unwrap_or(default_mode),
            mode.unwrap_or(default_mode),
            "{case}"
        );
    }
}

#[test]
fn implicit_id_token_only_takes_its_claims_from_the_id_token() {
    let h = harness("id_token", Some("fragment"));
    let mut browser = Browser::default();
    let (auth, reply) = login(&h, &mut browser);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(query(&auth, "code_challenge").is_none(), "no PKCE without a code");
    assert!(query(&auth, "response_mode").is_none(), "fragment is the default");
    let fwd = h.forward(&browser.navigate("https://rp.example/docs"));
    assert!(fwd
        .add_headers
        .iter()
        .any(|(n, v)| n == "x-auth-email" && v == "alice@example.com"));
    assert_eq!(
        h.net.count("https://op.example/token") + h.net.count("https://op.example/userinfo"),
        0
    );
    // One KV write: the session record (the state's used-mark), nothing else.
    assert_eq!(h.kv.keys("session:").len(), 1);
}

// ---- the relay pages ----

#[test]
fn the_fragment_relay_page_is_served_for_a_callback_without_a_query() {
    let h = Harness::single();
    let page = h.reply(&Browser::default().navigate("https://rp.example/redirect_uri"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("location.hash") && page.body.contains("history.replaceState"));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("script-src 'sha256-")));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(relay_fields(&page), [(RELAY_MARKER.to_owned(), "1".to_owned())]);
    assert_eq!(h.kv.ops(), (0, 0, 0), "a relay page costs no KV");
    assert_eq!(h.net.total(), 0);
}

#[test]
fn a_cross_site_form_post_gets_the_relay_page_and_only_a_relayed_post_finishes() {
    let h = harness("code id_token", Some("form_post"));
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let Front::FormPost { action, mut params } = h.op().respond(&auth) else {
        panic!("a form_post answer")
    };
    params.push(("session_state".into(), "ignored".into()));
    let page = h.reply(&browser.post(&action, &params, false));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(set_cookies(&page).is_empty(), "the pending login stays");
    let fields = relay_fields(&page);
    // The same parameters edge-oidc reads, nothing else, and the marker.
    assert!(fields.iter().all(|(k, _)| k != "session_state"), "{fields:?}");
    for (k, v) in params.iter().filter(|(k, _)| k != "session_state") {
        assert!(fields.contains(&(k.clone(), v.clone())), "{k} relayed");
    }
    assert!(fields.contains(&(RELAY_MARKER.into(), "1".into())));
    assert!(page.body.contains("<noscript><p>JavaScript is off"));
    // The relayed post without the cookie (another browser, cookies blocked): no second relay.
    let other = Browser::default();
    let refused = h.reply(&other.post(&action, &fields, true));
    assert_refused(&refused, 400, "started in another browser");
    let again = h.reply(&other.post(&action, &fields, false));
    assert_refused(&again, 400, "started in another browser");
    // A post from this origin without the cookie is not relayed either.
    let unmarked: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != RELAY_MARKER).cloned().collect();
    assert_refused(
        &h.reply(&other.post(&action, &unmarked, true)),
        400,
        "started in another browser",
    );
    // This browser's relayed post finishes the login.
    let reply = h.reply(&browser.post(&action, &fields, true));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(h.net.count("https://op.example/token"), 1);
}

#[test]
fn a_post_without_a_state_or_with_a_foreign_one_gets_no_relay_page() {
    let h = harness("id_token", Some("form_post"));
    let browser = Browser::default();
    let none = h.reply(&browser.post(REDIRECT_URI, &[("id_token".into(), "x".into())], false));
    assert_refused(&none, 400, "has no state");
    // A form the browser posted gets a page, as a navigation does.
    assert_eq!(none.header("content-type"), Some("text/html; charset=utf-8"));
    let short = h.reply(&browser.post(REDIRECT_URI, &[("state".into(), "abc".into())], false));
    assert_refused(&short, 400, "started in another browser");
}

#[test]
fn a_callback_body_must_be_a_form_and_is_size_limited() {
    let h = harness("id_token", Some("form_post"));
    let mut browser = Browser::default();
    let _ = h.start_login(&mut browser, "https://rp.example/docs");
    let mut req = browser.post(REDIRECT_URI, &[("state".into(), "s".repeat(43))], true);
    req.headers.content_type = Some("application/json".into());
    assert_refused(&h.reply(&req), 400, "application/x-www-form-urlencoded");
    let mut big = browser.post(REDIRECT_URI, &[("state".into(), "s".repeat(43))], true);
    big.body = Some(vec![b'a'; MAX_BODY + 1]);
    assert_refused(&h.reply(&big), 400, "callback body is too long");
    let repeated = browser.post(
        REDIRECT_URI,
        &[("state".into(), "a".into()), ("state".into(), "b".into())],
        true,
    );
    assert_refused(&h.reply(&repeated), 400, "`state` is repeated");
    // The shell reads the body of a POST to the redirect path (as routed: canonical) only.
    let app = &h.app;
    assert_eq!(app.body_limit("POST", "/redirect_uri"), Some(MAX_BODY));
    assert_eq!(app.body_limit("POST", "//redirect_%75ri"), Some(MAX_BODY));
    assert_eq!(app.body_limit("GET", "/redirect_uri"), None);
    assert_eq!(app.body_limit("POST", "/redirect_uri/x"), None);
    assert_eq!(app.body_limit("POST", "/logout"), None);
    assert_eq!(app.body_limit("POST", "/%2Fredirect_uri"), None);
}

// ---- the login's type and mode are insisted on ----

#[test]
fn the_response_must_come_the_way_the_login_asked() {
    // A form_post login answered in the query (tokens in a URL).
    let h = harness("code id_token", Some("form_post"));
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let Front::FormPost { params, .. } = h.op().respond(&auth) else {
        panic!("form_post")
    };
    let mut back = Url::parse(REDIRECT_URI).unwrap();
    back.query_pairs_mut().extend_pairs(&params);
    let reply = h.callback(&mut browser, &back);
    assert_refused(
        &reply,
        400,
        "came in the URL query, but this login asked for response_mode form_post",
    );
    assert!(h.pending_cookies(&browser).is_empty(), "the login is over");
    assert_eq!(h.net.count("https://op.example/token"), 0);

    // A query login answered by a POST.
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let back = h.op().authorize(&auth);
    let params: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let reply = h.reply(&browser.post(REDIRECT_URI, &params, true));
    assert_refused(
        &reply,
        400,
        "came in a POST body, but this login asked for response_mode query",
    );
}

#[test]
fn a_code_login_answered_with_front_channel_tokens_is_refused() {
    let h = Harness::single();
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let back = with_param(&h.op().authorize(&auth), "id_token", Some("a.b.c"));
    assert_refused(&h.callback(&mut browser, &back), 400, "carries `id_token`");
    assert_eq!(h.net.count("https://op.example/token"), 0);
}

#[test]
fn an_implicit_login_answered_with_a_code_or_without_its_tokens_is_refused() {
    for (rt, change, text) in [
        ("id_token", ("code", Some("c")), "carries `code`"),
        ("id_token token", ("access_token", None), "has no `access_token`"),
        ("code id_token", ("id_token", None), "has no `id_token`"),
        ("code id_token token", ("code", None), "has no `code`"),
        ("id_token token", ("token_type", None), "has no `token_type`"),
        ("id_token token", ("token_type", Some("mac")), "is not Bearer"),
    ] {
        let h = harness(rt, Some("fragment"));
        let mut browser = Browser::default();
        let auth = h.start_login(&mut browser, "https://rp.example/docs");
        let Front::Fragment(back) = h.op().respond(&auth) else {
            panic!("fragment")
        };
        let mut params: Vec<(String, String)> = url::form_urlencoded::parse(back.fragment().unwrap().as_bytes())
            .into_owned()
            .filter(|(k, _)| k != change.0)
            .collect();
        if let Some(v) = change.1 {
            params.push((change.0.into(), v.into()));
        }
        params.push((RELAY_MARKER.into(), "1".into()));
        let reply = h.reply(&browser.post(REDIRECT_URI, &params, true));
        assert_refused(&reply, if text.contains("Bearer") { 502 } else { 400 }, text);
    }
}

// ---- Core §3.2.2 / §3.3.2 negatives ----

#[test]
fn front_channel_id_token_checks() {
    type Change = fn(&mut serde_json::Map<String, serde_json::Value>);
    let cases: [(&str, Change, &str); 7] = [
        (
            "code id_token",
            |c| {
                c.remove("c_hash");
            },
            "has no c_hash",
        ),
        (
            "code id_token",
            |c| {
                c.insert("c_hash".into(), json!("AAAAAAAAAAAAAAAAAAAAAA"));
            },
            "at_hash or c_hash does not match",
        ),
        (
            "code id_token token",
            |c| {
                c.insert("at_hash".into(), json!("AAAAAAAAAAAAAAAAAAAAAA"));
            },
            "at_hash or c_hash does not match",
        ),
        (
            "id_token token",
            |c| {
                c.remove("at_hash");
            },
            "has no at_hash",
        ),
        (
            "id_token token",
            |c| {
                c.insert("at_hash".into(), json!("wrong"));
            },
            "at_hash or c_hash does not match",
        ),
        (
            "id_token",
            |c| {
                c.remove("nonce");
            },
            "has no nonce",
        ),
        (
            "id_token",
            |c| {
                c.insert("nonce".into(), json!("another"));
            },
            "nonce does not match",
        ),
    ];
    for (rt, change, text) in cases {
        let h = harness(rt, Some("form_post"));
        *h.op().front_claims.borrow_mut() = Some(Box::new(change));
        let mut browser = Browser::default();
        let (_, reply) = login(&h, &mut browser);
        assert_refused(&reply, 502, text);
        assert!(reply.body.contains("failed a security check"), "{rt}: {}", reply.body);
        assert_eq!(
            h.net.count("https://op.example/token"),
            0,
            "{rt}: the code is not redeemed"
        );
        assert!(h.kv.keys("session:").is_empty());
    }
}

#[test]
fn hybrid_token_endpoint_id_token_for_another_subject_is_refused() {
    let h = harness("code id_token", Some("form_post"));
    h.op().extra_claims.borrow_mut().insert("sub".into(), json!("mallory"));
    let mut browser = Browser::default();
    let (_, reply) = login(&h, &mut browser);
    assert_refused(&reply, 502, "name different users");
    assert_eq!(h.net.count("https://op.example/token"), 1);
    assert!(h.kv.keys("session:").is_empty());
}

#[test]
fn implicit_replays_are_stopped_by_the_session_record() {
    for mode in ["fragment", "form_post"] {
        let h = harness("id_token token", Some(mode));
        let mut browser = Browser::default();
        let auth = h.start_login(&mut browser, "https://rp.example/docs");
        let pending = browser.clone();
        let front = h.op().respond(&auth);
        let replayed = match &front {
            Front::Fragment(back) => url::form_urlencoded::parse(back.fragment().unwrap().as_bytes())
                .into_owned()
                .collect::<Vec<_>>(),
            Front::FormPost { params, .. } => params.clone(),
            Front::Query(_) => panic!("no query for tokens"),
        };
        let reply = h.deliver(&mut browser, front);
        assert_eq!(reply.status, 302, "{mode}: {}", reply.body);
        let puts = h.kv.puts.get();
        // The same response again, in a browser that still has the pending-login cookie (as if
        // the answer removing it had been lost): the record written at the first one stops it.
        let mut again = pending.clone();
        let mut fields = replayed.clone();
        fields.push((RELAY_MARKER.into(), "1".into()));
        let reply = h.reply(&again.post(REDIRECT_URI, &fields, true));
        again.store(&reply);
        assert_refused(&reply, 400, "expired or was already used");
        assert_eq!(h.kv.puts.get(), puts, "{mode}: no second session");
        // Without the cookie (another browser): nothing to finish either.
        let reply = h.reply(&Browser::default().post(REDIRECT_URI, &fields, true));
        assert_refused(&reply, 400, "started in another browser");
    }
}

#[test]
fn implicit_needs_no_client_authentication_method() {
    // No secret for this provider, and the provider lists only secret-based methods: the
    // implicit flow never authenticates the client, so it still logs in.
    let h = harness_with("id_token", Some("form_post"), r#","client_secret_binding":"NOT_SET""#);
    let mut browser = Browser::default();
    let (_, reply) = login(&h, &mut browser);
    assert_eq!(reply.status, 302, "{}", reply.body);
    // The code flow with the same client cannot: it must authenticate at the token endpoint.
    let h = harness_with("code", None, r#","client_secret_binding":"NOT_SET""#);
    let reply = h.reply(&Browser::default().navigate("https://rp.example/docs"));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.contains("no client authentication method fits"),
        "{}",
        reply.body
    );
}
