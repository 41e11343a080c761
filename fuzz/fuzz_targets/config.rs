//! `EDGE_OIDC_CONFIG` as an operator might write it, plus the other JSON edge-oidc reads from a
//! provider outside the ID token (discovery, token and UserInfo responses) and the COOKIE_KEYS
//! secret. Oracle: any configuration that validates gives an app that answers requests.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::config::Config;
use edge_oidc_fuzz::edge_oidc::core::flow::{App, Io};
use edge_oidc_fuzz::edge_oidc::core::http::HttpResponse;
use edge_oidc_fuzz::edge_oidc::core::oidc::discovery::ProviderMetadata;
use edge_oidc_fuzz::edge_oidc::core::oidc::token;
use edge_oidc_fuzz::edge_oidc::core::session::seal::parse_key_list;
use edge_oidc_fuzz::{navigation, secret, Canned, CounterRandom, FakeHttp, FixedClock, MemKv, ISSUER};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ProviderMetadata::from_json(data, ISSUER, false);
    let _ = parse_key_list(&text);
    let response = HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: data.to_vec(),
    };
    let _ = token::parse_token_response(&response);
    let _ = token::parse_userinfo(&response, "alice");

    let Ok(config) = Config::from_json(&text, &secret) else {
        return;
    };
    let paths = [
        "/".to_owned(),
        format!("{}?return_to=%2Fdocs", config.login_path),
        config.logout_path.clone(),
        format!("{}?state=s&code=c", config.redirect_path),
        config.logged_out_path.clone(),
    ];
    let app = App::new(config);
    // The provider is unreachable except for an empty JWKS: every request still gets an answer.
    let http = FakeHttp {
        token: Canned::json("{}"),
        userinfo: Canned::json("{}"),
        jwks: Canned::json(r#"{"keys":[]}"#),
        calls: Cell::new(0),
    };
    let kv = MemKv::default();
    // Every level kept, so that building every event is fuzzed too.
    let log = edge_oidc_fuzz::edge_oidc::core::log::EventLog::new(edge_oidc_fuzz::edge_oidc::core::log::LogLevel::Debug);
    let io = Io {
        http: &http,
        kv: &kv,
        clock: &FixedClock,
        random: &CounterRandom::default(),
        signatures: &edge_oidc_fuzz::edge_oidc::core::crypto::rust::RustCrypto,
        log: &log,
    };
    for path in &paths {
        if let Some(req) = navigation(
            path,
            Some("__Host-edge_oidc=op.x; __Host-edge_oidc_s.AAAAAAAAAAAA=op.y".into()),
        ) {
            let _ = futures::executor::block_on(app.handle(&req, &io));
        }
    }
});
