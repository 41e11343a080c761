//! A request, from the runtime to the core and back. Every failure becomes a response; nothing
//! surfaces as an exception. The entry point and the hot path's reading and forwarding are in
//! `fast.rs`; the rest is workers-rs.

use super::body::{declared_too_large, read_capped, ReadError};
use super::{events, fast, fetch::FetchClient, kv::Kv, webcrypto::WebCrypto};
use crate::core::config::{Config, PageKind, PageSource, CONFIG_VAR};
use crate::core::flow::{App, Io, Outcome};
use crate::core::http::{Clock, OsRandom};
use crate::core::log::EventLog;
use crate::core::session::cookies::MAX_COOKIE_HEADER;
use crate::core::site::pages::{html_page, json_error, misconfigured_page, Reply};
use std::cell::OnceCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::web_sys;
use worker::{Context, Env, Headers, Request, Response};

/// The KV namespace binding holding pending logins.
const KV_BINDING: &str = "EDGE_OIDC_KV";

thread_local! {
    // Validated once per instance: bindings do not change during an isolate's life.
    static APP: OnceCell<Result<Rc<App>, String>> = const { OnceCell::new() };
}

struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> i64 {
        // The static Date.now(): worker::Date::now() builds a Date object first.
        (worker::js_sys::Date::now() / 1000.0) as i64
    }

    fn sleep(&self, millis: u32) -> crate::core::crypto::LocalBoxFuture<'_, ()> {
        Box::pin(worker::Delay::from(std::time::Duration::from_millis(u64::from(millis))))
    }
}

/// The answer to `req`: a `Response`, or a promise of one (a request passed on).
pub(super) async fn respond(req: web_sys::Request, env: Env, ctx: Context) -> JsValue {
    let mut incoming = match fast::incoming(&req) {
        Ok(incoming) => incoming,
        Err(reply) => return reply_value(reply),
    };
    let navigation = incoming.is_navigation();
    let app = match app(&env) {
        Ok(app) => app,
        Err(message) => {
            // The reason is for the operator (it names keys and secret bindings): log only.
            events::config_error(&message);
            return reply_value(misconfigured_page(!navigation));
        }
    };
    if let Some(sources) = app.templates_to_load() {
        // Once per isolate, and only when `pages` is configured: the hot path never gets here.
        // Boxed: its state machine stays out of `respond`'s, which every request polls.
        let loaded = Box::pin(load_templates(&env, &incoming.url, sources)).await;
        for note in app.install_templates(loaded) {
            events::config_error(&note);
        }
    }
    if incoming
        .headers
        .cookie
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COOKIE_HEADER)
    {
        return reply_value(app.cookie_header_too_large(&incoming.url, navigation));
    }
    #[cfg(feature = "test-trap")]
    if let Some(response) = super::test_trap::intercept(&incoming).await {
        return web_sys::Response::from(response).into();
    }
    if let Some(limit) = app.body_limit(&incoming.method, incoming.url.path()) {
        match read_body(Request::from(Clone::clone(&req)), limit).await {
            Ok(body) => incoming.body = Some(body),
            Err(reply) => return reply_value(reply),
        }
    }
    let http = FetchClient::new(app.config().http_timeout_ms);
    let kv = Kv::new(&env, &ctx, KV_BINDING);
    let log = EventLog::new(app.config().log_level);
    let io = Io {
        http: &http,
        kv: &kv,
        clock: &WorkerClock,
        random: &OsRandom,
        signatures: &WebCrypto,
        log: &log,
    };
    let handled = app.handle(&incoming, &io).await;
    if !handled.events.is_empty() {
        events::write(&env, app.config(), &handled.events);
    }
    match handled.outcome {
        Outcome::Reply(reply) => reply_value(reply),
        Outcome::Forward(forward) => match fast::pass_on(&req, &env, &app, &incoming, forward, navigation) {
            Ok(pending) => pending.into(),
            Err(_) => {
                events::internal_error("forward_request");
                reply_value(error_reply(500, navigation))
            }
        },
    }
}

/// The request body for the core, at most `limit` bytes; a larger one is refused with 413.
async fn read_body(mut req: Request, limit: usize) -> Result<Vec<u8>, Reply> {
    let too_large = || json_error(413, "invalid_request", "the request body is too large", None);
    let declared = req.headers().get("content-length").ok().flatten();
    if declared_too_large(declared.as_deref(), limit) {
        return Err(too_large());
    }
    let Ok(stream) = req.stream() else {
        return Ok(Vec::new()); // no body
    };
    match read_capped(stream, limit).await {
        Ok(body) => Ok(body),
        Err(ReadError::TooLarge) => Err(too_large()),
        Err(ReadError::Stream(_)) => Err(json_error(
            400,
            "invalid_request",
            "the request body could not be read",
            None,
        )),
    }
}

fn app(env: &Env) -> Result<Rc<App>, String> {
    APP.with(|cell| cell.get_or_init(|| build_app(env)).clone())
}

fn build_app(env: &Env) -> Result<Rc<App>, String> {
    // A JSON string, or (as `[vars.EDGE_OIDC_CONFIG]` in wrangler.toml gives it) an object.
    // Read as JSON text either way: `object_var` would deserialize the object through
    // serde-wasm-bindgen, a second deserializer for the whole configuration in the wasm
    // (BENCHMARKS.md, Notes: size); the core parses the text with serde_json as it does every
    // other document.
    let json = match env.var(CONFIG_VAR) {
        Ok(text) => text.to_string(),
        Err(_) => worker::js_sys::Reflect::get(env, &JsValue::from_str(CONFIG_VAR))
            .ok()
            .filter(JsValue::is_object)
            .and_then(|value| worker::js_sys::JSON::stringify(&value).ok())
            .and_then(|text| text.as_string())
            .ok_or_else(|| {
                format!(
                    "configuration key `{CONFIG_VAR}`: is not set. Fix: add it under [vars] in wrangler.toml (see README.md)"
                )
            })?,
    };
    let secret = |name: &str| env.secret(name).ok().map(|s| s.to_string());
    Config::from_json(&json, &secret)
        .map(|c| Rc::new(App::new(c)))
        .map_err(|e| e.to_string())
}

/// A response from the core's reply, as the runtime's `Response`.
pub(super) fn reply_value(reply: Reply) -> JsValue {
    web_sys::Response::from(to_response(reply)).into()
}

fn to_response(reply: Reply) -> Response {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        if let Err(e) = headers.append(name, value) {
            // The core builds every header; one the runtime refuses is a bug there.
            let _ = (name, e);
            events::internal_error("response_header");
            return Response::builder()
                .with_status(500)
                .fixed(b"Internal Server Error".to_vec());
        }
    }
    Response::builder()
        .with_status(reply.status)
        .with_headers(headers)
        .fixed(reply.body.into_bytes())
}

/// 500 (internal) or 502 (origin unreachable): an HTML page or JSON, no details.
pub(super) fn error_reply(status: u16, navigation: bool) -> Reply {
    if navigation {
        html_page(
            status,
            "Server error",
            "Something went wrong on our side. Please try again later.",
            &[],
            &[],
        )
    } else {
        json_error(status, "internal_error", "the request could not be processed", None)
    }
}

/// The operator's page templates (`pages`): a var's text, or a file of the static assets fetched
/// through the `ASSETS` binding (with this request's origin; the binding serves by path).
async fn load_templates(
    env: &Env,
    url: &url::Url,
    sources: &[(PageKind, PageSource)],
) -> Vec<(PageKind, Result<String, String>)> {
    let mut loaded = Vec::with_capacity(sources.len());
    for (kind, source) in sources {
        let text = match source {
            PageSource::Var(name) => env
                .var(name)
                .map(|v| v.to_string())
                .map_err(|_| format!("the var {name} is not set")),
            PageSource::Asset(path) => asset_text(env, url, path).await,
        };
        loaded.push((*kind, text));
    }
    loaded
}

async fn asset_text(env: &Env, url: &url::Url, path: &str) -> Result<String, String> {
    let assets = env
        .assets(fast::ASSETS_BINDING)
        .map_err(|_| format!("there is no {} binding", fast::ASSETS_BINDING))?;
    let target = format!("{}{path}", url.origin().ascii_serialization());
    let mut response = assets
        .fetch(target, None)
        .await
        .map_err(|e| format!("asset {path}: {e}"))?;
    if response.status_code() != 200 {
        return Err(format!("asset {path}: status {}", response.status_code()));
    }
    response.text().await.map_err(|e| format!("asset {path}: {e}"))
}
