//! The callback's form body (OAuth 2.0 Form Post Response Mode, and the fragment our relay page
//! posts): `AuthorizationResponse::from_form`, the relay page that posts it again, and the whole
//! POST through `App::handle`.
//!
//! Input, lines: flags, Content-Type (empty: none), body (the rest, any bytes). Flags: `b` the
//! pending login of `STATE_POST` (a code login answered by form_post) in the Cookie header,
//! `s`/`x` Sec-Fetch-Site same-origin/cross-site, `o` an `Origin` of this site, `t` a valid token
//! answer.
//!
//! Oracles, against a model written here from the rules (RFC 6749 §3.1: no repeated
//! parameter; `application/x-www-form-urlencoded` only; at most `MAX_BODY` bytes): the parser
//! accepts exactly what the model accepts and reads each known parameter as the model decodes
//! it; what a relay page posts again reads back as the same response, marked as relayed; the
//! page escapes every value (one script, one form, one input per parameter); through the app, a
//! relay page answers only a cross-site, unrelayed post with no pending login for its state, sets
//! no cookie, and every redirect stays on this site or goes to the provider.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::flow::{Incoming, Outcome, RequestHeaders};
use edge_oidc_fuzz::edge_oidc::core::oidc::response::{AuthorizationResponse, MAX_BODY, RELAY_MARKER};
use edge_oidc_fuzz::edge_oidc::core::session::pending;
use edge_oidc_fuzz::edge_oidc::core::site::relay::form_post_page;
use edge_oidc_fuzz::{
    form_post_pending_cookie, handle, jwks_json, request_url, valid_token_response, Canned, FakeHttp, MemKv, ISSUER,
    RP, SESSION,
};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;
use std::collections::HashMap;

const KNOWN: [&str; 9] = [
    "state",
    "code",
    "id_token",
    "access_token",
    "token_type",
    "expires_in",
    "error",
    "error_description",
    "iss",
];

/// The model: `None` when the body must be refused, else each name's only value.
fn model(content_type: Option<&str>, body: &[u8]) -> Option<HashMap<String, String>> {
    let media = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    if media != "application/x-www-form-urlencoded" || body.len() > MAX_BODY {
        return None;
    }
    let mut seen = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if seen.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(seen)
}

fn get<'a>(r: &'a AuthorizationResponse, name: &str) -> Option<&'a str> {
    match name {
        "state" => r.state.as_deref(),
        "code" => r.code.as_deref(),
        "id_token" => r.id_token.as_deref(),
        "access_token" => r.access_token.as_deref(),
        "token_type" => r.token_type.as_deref(),
        "expires_in" => r.expires_in.as_deref(),
        "error" => r.error.as_deref(),
        "error_description" => r.error_description.as_deref(),
        "iss" => r.iss.as_deref(),
        _ => unreachable!("not a known parameter"),
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The relay page posts exactly the response's parameters and the marker, escaped.
fn check_relay_page(parsed: &AuthorizationResponse) {
    let pairs = parsed.pairs();
    let page = form_post_page("/redirect_uri", &pairs);
    assert_eq!(page.body.matches("<script").count(), 1, "one script");
    assert_eq!(page.body.matches("<form").count(), 1, "one form");
    assert_eq!(page.body.matches("<input").count(), pairs.len() + 1, "one input each");
    let mut posted = Vec::new();
    for input in page.body.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = input.split_once("\" value=\"").expect("name then value");
        let (value, _) = rest.split_once("\">").expect("a closed input");
        assert!(!value.contains(['<', '>', '"']), "unescaped value {value:?}");
        posted.push((unescape(name), unescape(value)));
    }
    let mut expected: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    expected.push((RELAY_MARKER.to_owned(), "1".to_owned()));
    assert_eq!(posted, expected, "what the page posts");
    // The browser's post of that form reads back as the same response, relayed.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&posted)
        .finish();
    let again = AuthorizationResponse::from_form(Some("application/x-www-form-urlencoded"), body.as_bytes());
    if body.len() <= MAX_BODY {
        let again = again.expect("the relayed post parses");
        assert!(again.relayed);
        assert_eq!(AuthorizationResponse { relayed: parsed.relayed, ..again }, *parsed);
    }
}

fn check_reply(req: &Incoming, parsed: Option<&AuthorizationResponse>, outcome: Outcome) {
    let Outcome::Reply(reply) = outcome else {
        panic!("a POST to the callback is never forwarded");
    };
    assert!((200..600).contains(&reply.status));
    for (name, value) in &reply.headers {
        assert!(!value.bytes().any(|b| b.is_ascii_control()), "{name}: {value:?}");
        if *name == "location" {
            assert!(
                value.starts_with('/') && !value.starts_with("//") && !value.starts_with("/\\")
                    || value.starts_with(&format!("{ISSUER}/")),
                "redirect leaves the site: {value:?}"
            );
        }
    }
    let relay_page = reply
        .header("content-security-policy")
        .is_some_and(|c| c.contains("'sha256-"));
    if relay_page {
        let parsed = parsed.expect("a relay page only for a body that parses");
        assert_eq!(reply.status, 200);
        assert!(!parsed.relayed, "a relayed post is never relayed again");
        let h = &req.headers;
        assert_ne!(h.sec_fetch_site.as_deref(), Some("same-origin"));
        assert!(
            h.sec_fetch_site.is_some() || h.origin.as_deref() != Some(RP),
            "relayed a post of this origin"
        );
        let state = parsed.state.as_deref().expect("a state");
        let ours = pending::cookie_name(SESSION, state)
            .is_some_and(|name| req.headers.cookie.as_deref().unwrap_or("").contains(&format!("{name}=")));
        assert!(!ours, "relayed although the pending login came along");
        assert!(reply.header("set-cookie").is_none(), "a relay page sets no cookie");
    }
    if parsed.is_none() {
        assert!((400..500).contains(&reply.status), "a refused body is a client error: {}", reply.status);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let flags = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let content_type = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let content_type = (!content_type.is_empty()).then_some(content_type);

    let parsed = AuthorizationResponse::from_form(content_type.as_deref(), body);
    let expected = model(content_type.as_deref(), body);
    match (&parsed, &expected) {
        (Ok(r), Some(m)) => {
            for name in KNOWN {
                assert_eq!(get(r, name), m.get(name).map(String::as_str), "{name}");
            }
            assert_eq!(r.relayed, m.contains_key(RELAY_MARKER));
            check_relay_page(r);
        }
        (Err(_), None) => {}
        _ => panic!("parser {parsed:?}, model {expected:?}"),
    }

    let mut cookie = String::new();
    if flags.contains('b') {
        cookie.push_str(form_post_pending_cookie());
    }
    let Some(url) = request_url("/redirect_uri") else {
        return;
    };
    let req = Incoming {
        method: "POST".into(),
        url,
        headers: RequestHeaders {
            cookie: (!cookie.is_empty()).then_some(cookie),
            accept: Some("text/html".into()),
            sec_fetch_mode: Some("navigate".into()),
            sec_fetch_site: if flags.contains('s') {
                Some("same-origin".into())
            } else {
                flags.contains('x').then(|| "cross-site".to_owned())
            },
            origin: flags.contains('o').then(|| RP.to_owned()),
            content_type,
            ..RequestHeaders::default()
        },
        body: Some(body.to_vec()),
    };
    let http = FakeHttp {
        token: Canned::json(if flags.contains('t') { valid_token_response() } else { "{}" }),
        userinfo: Canned::json(r#"{"sub":"alice","email":"alice@example.com","email_verified":true}"#),
        jwks: Canned::json(jwks_json()),
        calls: Cell::new(0),
    };
    let kv = MemKv::default();
    if let Some(outcome) = handle(&req, &http, &kv) {
        check_reply(&req, parsed.as_ref().ok(), outcome);
    }
});
