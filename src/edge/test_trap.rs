//! Test builds only (cargo feature `test-trap`, built by `scripts/build.sh --test-trap` for
//! tests/e2e/trap.test.mjs, never by `wrangler deploy`): endpoints that make the instance trap in
//! the middle of requests, so the end-to-end test can check that in-flight requests are
//! answered and the next request is served by a fresh instance.
//!
//! - `/__edge_oidc_test/panic`: panics (`panic = "abort"`: the wasm traps);
//! - `/__edge_oidc_test/wait?ms=N`: answers after N ms (a request in flight during a trap);
//! - `/__edge_oidc_test/instance`: this instance's id, random per instance.

use crate::core::flow::Incoming;
use crate::core::http::{OsRandom, Random};
use std::time::Duration;
use worker::{Delay, Response};

thread_local! {
    static INSTANCE: String = OsRandom.token();
}

pub(super) async fn intercept(incoming: &Incoming) -> Option<Response> {
    let answer = |text: String| Response::ok(text).ok();
    match incoming.url.path() {
        #[allow(clippy::panic)] // the point of this test endpoint
        "/__edge_oidc_test/panic" => panic!("edge-oidc test trap (feature test-trap)"),
        "/__edge_oidc_test/wait" => {
            let ms = incoming
                .url
                .query_pairs()
                .find(|(k, _)| k == "ms")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1000);
            Delay::from(Duration::from_millis(ms)).await;
            answer(format!("waited {ms} ms"))
        }
        "/__edge_oidc_test/instance" => answer(INSTANCE.with(String::clone)),
        _ => None,
    }
}
