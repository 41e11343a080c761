//! Flow tests of pushed authorization requests (RFC 9126), of the provider's lists of response
//! types and modes, and of the RFC 9207 `iss` parameter in the implicit and hybrid flows, against
//! the fake provider of `test_op.rs`.

use super::responses::{assert_refused, harness, harness_with};
use super::test_op::*;
use crate::core::flow::Outcome;
use crate::core::http::HttpResponse;
use serde_json::json;
use url::Url;

// ---- pushed authorization requests ----

#[test]
fn par_when_the_provider_requires_it_carries_everything_in_the_back_channel() {
    let h = harness_with(
        "code id_token",
        Some("form_post"),
        r#","prompt":"login","ui_locales":"de""#,
    );
    h.op().require_par.set(true);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs?x=1");
    let names: Vec<String> = auth.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{auth}");
    let pushed = h.op().par_requests.borrow().last().cloned().expect("a pushed request");
    let get = |k: &str| pushed.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("response_type"), Some("code id_token"));
    assert_eq!(get("response_mode"), Some("form_post"));
    assert_eq!(get("redirect_uri"), Some(REDIRECT_URI));
    assert_eq!(get("prompt"), Some("login"));
    assert_eq!(get("ui_locales"), Some("de"));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    let pending = h.pending(
        &browser,
        &Url::parse(&format!("https://x/?state={}", get("state").unwrap())).unwrap(),
    );
    assert_eq!(pending.map(|p| p.nonce.expose().to_owned()).as_deref(), get("nonce"));
    // The browser finishes the login with the pushed request.
    let reply = h.deliver(&mut browser, h.op().respond(&auth));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/docs?x=1"));
}

#[test]
fn par_on_and_off() {
    // on: pushed although the provider does not require it.
    let h = harness_with("code", None, r#","pushed_authorization_requests":"on""#);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    assert!(query(&auth, "request_uri").is_some() && query(&auth, "state").is_none());
    assert_eq!(h.deliver(&mut browser, h.op().respond(&auth)).status, 302);
    // off, with a provider that requires PAR: the operator's to fix (logged with the key).
    let h = harness_with("code", None, r#","pushed_authorization_requests":"off""#);
    h.op().require_par.set(true);
    let handled = h.handle(&Browser::default().navigate("https://rp.example/docs"));
    let log = config_detail(&handled);
    let Outcome::Reply(reply) = handled.outcome else {
        panic!("a reply")
    };
    assert_eq!(reply.status, 500);
    assert!(!reply.body.contains("pushed"), "the details stay in the log");
    assert!(
        log.contains("providers.main.pushed_authorization_requests") && log.contains("set it to auto or on"),
        "{log}"
    );
    assert!(h.op().par_requests.borrow().is_empty());
}

#[test]
fn a_refused_push_is_shown_as_the_providers_error_and_starts_no_login() {
    let h = harness_with("code", None, r#","pushed_authorization_requests":"on""#);
    *h.op().par_refusal.borrow_mut() = Some(HttpResponse {
        status: 400,
        content_type: Some("application/json".into()),
        body: br#"{"error":"invalid_request","error_description":"the claims parameter is not supported"}"#.to_vec(),
    });
    let reply = h.reply(&Browser::default().navigate("https://rp.example/docs"));
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.body.contains("invalid_request") && reply.body.contains("the claims parameter is not supported"));
    assert!(set_cookies(&reply).is_empty(), "no pending login");
    *h.op().par_refusal.borrow_mut() = Some(HttpResponse {
        status: 503,
        content_type: None,
        body: b"down".to_vec(),
    });
    let reply = h.reply(&Browser::default().navigate("https://rp.example/docs"));
    assert_eq!(reply.status, 502, "{}", reply.body);
}

// ---- the provider must support what is configured ----

#[test]
fn a_response_type_or_mode_the_provider_does_not_list_is_refused_at_login() {
    let h = harness("code id_token", Some("form_post"));
    let metadata = json!({
        "issuer": ISSUER, "authorization_endpoint": h.op().url("/authorize"),
        "token_endpoint": h.op().url("/token"), "jwks_uri": h.op().url("/jwks"),
        "response_types_supported": ["code", "id_token"],
    });
    // A stale copy in KV stands for the provider's document (it is read before fetching).
    let cached = json!({
        "url": "https://op.example/.well-known/openid-configuration",
        "fetched_at": NOW, "body": metadata.to_string(),
    });
    h.kv.seed("metadata:main", &cached.to_string(), 3600);
    let handled = h.handle(&Browser::default().navigate("https://rp.example/docs"));
    let log = config_detail(&handled);
    assert!(
        log.contains("providers.main.response_type") && log.contains("code, id_token"),
        "{log}"
    );
    let modes = harness("id_token", Some("form_post"));
    let metadata = json!({
        "issuer": ISSUER, "authorization_endpoint": modes.op().url("/authorize"),
        "token_endpoint": modes.op().url("/token"), "jwks_uri": modes.op().url("/jwks"),
        "response_modes_supported": ["query", "fragment"],
    });
    let cached = json!({
        "url": "https://op.example/.well-known/openid-configuration",
        "fetched_at": NOW, "body": metadata.to_string(),
    });
    modes.kv.seed("metadata:main", &cached.to_string(), 3600);
    let handled = modes.handle(&Browser::default().navigate("https://rp.example/docs"));
    let log = config_detail(&handled);
    assert!(log.contains("providers.main.response_mode"), "{log}");
}

/// A front channel without RFC 9207's `iss` (the provider promises it): acceptable only when an
/// ID token comes with it, whose signed `iss` names the issuer (oidc-provider leaves the
/// parameter out then); a response with a code alone is refused.
#[test]
fn a_missing_iss_parameter_is_accepted_only_with_a_front_channel_id_token() {
    let strip = |front: Front| match front {
        Front::Query(back) => Front::Query(with_param(&back, "iss", None)),
        Front::Fragment(back) => {
            let kept: Vec<(String, String)> = url::form_urlencoded::parse(back.fragment().unwrap_or("").as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "iss")
                .collect();
            let mut back = back.clone();
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&kept)
                .finish();
            back.set_fragment(Some(&fragment));
            Front::Fragment(back)
        }
        Front::FormPost { action, params } => Front::FormPost {
            action,
            params: params.into_iter().filter(|(k, _)| k != "iss").collect(),
        },
    };
    for (rt, mode, accepted) in [
        ("id_token", "fragment", true),
        ("code id_token", "form_post", true),
        ("code id_token token", "fragment", true),
        ("code token", "form_post", false),
        ("code", "query", false),
        ("code", "form_post", false),
    ] {
        let case = format!("{rt} / {mode}");
        let h = harness(rt, Some(mode));
        let mut browser = Browser::default();
        let auth = h.start_login(&mut browser, "https://rp.example/docs");
        let front = strip(h.op().respond(&auth));
        let reply = h.deliver(&mut browser, front);
        if accepted {
            assert_eq!(reply.status, 302, "{case}: {}", reply.body);
            assert!(browser.get(SESSION).is_some(), "{case}: a session");
        } else {
            assert_refused(&reply, 400, "unexpected issuer");
            assert_eq!(h.net.count("https://op.example/token"), 0, "{case}: no code redeemed");
        }
    }
}

/// `required_claims` (issue 14) holds for the implicit flow too: its only ID token is the
/// front channel's, and without an access token there is no UserInfo to look in.
#[test]
fn required_claims_apply_to_an_implicit_login() {
    let required = r#","required_claims":{"groups":["staff"]}"#;
    let h = harness_with("id_token", Some("form_post"), required);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let reply = h.deliver(&mut browser, h.op().respond(&auth));
    assert_refused(&reply, 403, "claim `groups`");
    assert!(h.kv.keys("session:").is_empty());

    let h = harness_with("id_token", Some("form_post"), required);
    *h.op().front_claims.borrow_mut() = Some(Box::new(|c| {
        c.insert("groups".into(), json!(["staff"]));
    }));
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/docs");
    let reply = h.deliver(&mut browser, h.op().respond(&auth));
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(browser.get(SESSION).is_some());
}

/// The message of the request's config_error event (it names the key and the fix).
fn config_detail(handled: &crate::core::flow::Handled) -> String {
    let event = handled
        .events
        .iter()
        .find(|e| e.event == crate::core::log::EventKind::ConfigError)
        .expect("a config_error event");
    event.detail.clone().expect("with its message")
}
