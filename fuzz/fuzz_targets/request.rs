//! Whole requests through `App::handle`, the callback above all: its query, the login and session
//! cookies, the headers that choose HTML or JSON, and the provider's token and UserInfo answers.
//! A pending-login cookie for state [`STATE`] is available (flag `b`) and a valid ID token for
//! it, so the fuzzer reaches session creation and cookie writing.
//!
//! Input, lines: method, path?query, Cookie header (empty: none), flags, token answer
//! (`<status> <body>`), UserInfo answer (`<status> <content-type> <body>`, may span lines).
//! Flags: `h` Accept text/html, `n`/`c` Sec-Fetch-Mode navigate/cors, `x` X-Requested-With,
//! `b` add the pending login's cookie, `s` add a valid session, `t` valid token answer,
//! `0` provider timeouts.
//!
//! Oracles: every redirect goes to the provider or stays on this site; no header value holds a
//! control character; a forwarded request's identity headers come from a session.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::flow::{Incoming, Outcome, RequestHeaders};
use edge_oidc_fuzz::edge_oidc::core::session::cookies::CookieJar;
use edge_oidc_fuzz::{
    handle, jwks_json, pending_cookie, request_url, valid_session_cookie, valid_token_response, Canned, FakeHttp,
    MemKv, ISSUER, RP, SESSION,
};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;
use url::Url;

fn canned(spec: &str, with_type: bool) -> Canned {
    let (status, rest) = spec.split_once(' ').unwrap_or((spec, ""));
    let (content_type, body) = if with_type {
        let (t, b) = rest.split_once(' ').unwrap_or((rest, ""));
        (Some(t.to_owned()).filter(|t| !t.is_empty()), b)
    } else {
        (Some("application/json".to_owned()), rest)
    };
    Canned {
        status: status.parse().unwrap_or(200),
        content_type,
        body: body.as_bytes().to_vec(),
    }
}

fn check_location(location: &str) {
    let same_site = location.starts_with('/') && !location.starts_with("//") && !location.starts_with("/\\");
    let resolved = Url::parse(RP)
        .and_then(|rp| rp.join(location))
        .expect("a resolvable Location");
    assert!(
        same_site
            || location.starts_with(&format!("{ISSUER}/"))
            || resolved.origin() == Url::parse(RP).expect("rp").origin(),
        "redirect leaves the site: {location:?}"
    );
    assert!(
        resolved.scheme() == "https"
            && (resolved.host_str() == Some("rp.example") || resolved.host_str() == Some("op.example")),
        "redirect to {resolved}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(6, '\n');
    let mut next = || lines.next().unwrap_or("");
    let (method, path, cookie, flags, token, userinfo) = (next(), next(), next(), next(), next(), next());
    let Some(url) = request_url(path) else {
        return;
    };
    let mut cookie = cookie.to_owned();
    if flags.contains('b') {
        cookie.push_str("; ");
        cookie.push_str(pending_cookie());
    }
    if flags.contains('s') {
        cookie.push_str("; ");
        cookie.push_str(valid_session_cookie());
    }
    let req = Incoming {
        method: method.to_ascii_uppercase(),
        url,
        headers: RequestHeaders {
            cookie: (!cookie.is_empty()).then_some(cookie),
            accept: flags.contains('h').then(|| "text/html".to_owned()),
            sec_fetch_mode: if flags.contains('n') {
                Some("navigate".into())
            } else {
                flags.contains('c').then(|| "cors".to_owned())
            },
            x_requested_with: flags.contains('x').then(|| "XMLHttpRequest".to_owned()),
            ..RequestHeaders::default()
        },
        body: None,
    };
    let timeout = flags.contains('0');
    let mut http = FakeHttp {
        token: if flags.contains('t') {
            Canned::json(valid_token_response())
        } else {
            canned(token, false)
        },
        userinfo: canned(userinfo, true),
        jwks: Canned::json(jwks_json()),
        calls: Cell::new(0),
    };
    if timeout {
        http.token.status = 0;
        http.userinfo.status = 0;
    }
    let kv = MemKv::default();
    let Some(outcome) = handle(&req, &http, &kv) else {
        return;
    };
    match outcome {
        Outcome::Reply(reply) => {
            for (name, value) in &reply.headers {
                assert!(!value.bytes().any(|b| b.is_ascii_control()), "{name}: {value:?}");
                if *name == "location" {
                    check_location(value);
                }
            }
            assert!((200..600).contains(&reply.status));
        }
        Outcome::Forward(forward) => {
            for (name, value) in &forward.add_headers {
                assert!(
                    !value.bytes().any(|b| b.is_ascii_control() || b >= 0x80),
                    "{name}: {value:?}"
                );
            }
            if let Some(c) = &forward.cookie {
                let ours = |n: &str| {
                    n == SESSION
                        || n.starts_with(&format!("{SESSION}_s."))
                        || n.strip_prefix(&format!("{SESSION}."))
                            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                };
                assert!(
                    !CookieJar::parse(Some(c)).iter().any(|(n, _)| ours(n)),
                    "our cookie forwarded: {c:?}"
                );
            }
        }
    }
});
