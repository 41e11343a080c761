//! The fetch event: the request into the core's [`Incoming`], the core's answer back out.
//! Every failure becomes a response; nothing surfaces as an exception.

use super::body::{declared_too_large, read_capped, ReadError};
use super::{fetch::FetchClient, forward, kv::Kv, webcrypto::WebCrypto};
use crate::core::config::{Config, CONFIG_VAR};
use crate::core::flow::{App, Incoming, Io, Outcome, RequestHeaders, REQUEST_HEADERS};
use crate::core::http::{Clock, OsRandom};
use crate::core::session::cookies::MAX_COOKIE_HEADER;
use crate::core::site::pages::{html_page, json_error, misconfigured_page, Reply};
use std::cell::OnceCell;
use std::rc::Rc;
use worker::{console_error, event, Context, Env, Headers, Request, Response};

/// The KV namespace binding holding pending logins.
const KV_BINDING: &str = "EDGE_OIDC_KV";

thread_local! {
    // Validated once per instance: bindings do not change during an isolate's life.
    static APP: OnceCell<Result<Rc<App>, String>> = const { OnceCell::new() };
}

struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> i64 {
        (worker::Date::now().as_millis() / 1000) as i64
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(respond(req, &env, &ctx).await)
}

async fn respond(req: Request, env: &Env, ctx: &Context) -> Response {
    let incoming = match read_request(&req) {
        Ok(incoming) => incoming,
        Err(reply) => return to_response(reply),
    };
    let navigation = incoming.is_navigation();
    match handle(req, incoming, env, ctx).await {
        Ok(response) => response,
        Err(Failure::Origin(e)) => {
            console_error!("edge-oidc: the origin could not be reached: {e}");
            to_response(error_reply(502, navigation))
        }
        Err(Failure::Internal(e)) => {
            console_error!("edge-oidc: internal error: {e}");
            to_response(error_reply(500, navigation))
        }
    }
}

/// A failure of the shell itself, after the core: a 5xx page and a log line.
pub(super) enum Failure {
    /// Passing the request on failed (origin or assets unreachable).
    Origin(worker::Error),
    /// The runtime refused something the shell built.
    Internal(worker::Error),
}

/// URL, method and the headers the core reads ([`REQUEST_HEADERS`], in that order).
fn read_request(req: &Request) -> Result<Incoming, Reply> {
    let url = req
        .url()
        .map_err(|_| json_error(400, "invalid_request", "the request URL is not valid", None))?;
    // The method as sent: worker::Method maps methods it does not know to GET.
    let method = req.inner().method();
    let headers = req.headers();
    let values = REQUEST_HEADERS.map(|name| headers.get(name).ok().flatten());
    Ok(Incoming {
        method,
        url,
        headers: RequestHeaders::from_values(values),
        body: None,
    })
}

async fn handle(mut req: Request, mut incoming: Incoming, env: &Env, ctx: &Context) -> Result<Response, Failure> {
    let navigation = incoming.is_navigation();
    let app = match app(env) {
        Ok(app) => app,
        Err(message) => {
            // The reason is for the operator (it may name secrets' bindings): log only.
            console_error!("edge-oidc: {message}");
            return Ok(to_response(misconfigured_page(!navigation)));
        }
    };
    if incoming
        .headers
        .cookie
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COOKIE_HEADER)
    {
        return Ok(to_response(app.cookie_header_too_large(&incoming.url, navigation)));
    }
    #[cfg(feature = "test-trap")]
    if let Some(response) = super::test_trap::intercept(&incoming).await {
        return Ok(response);
    }
    if let Some(limit) = app.body_limit(&incoming.method, incoming.url.path()) {
        match read_body(&mut req, limit).await {
            Ok(body) => incoming.body = Some(body),
            Err(reply) => return Ok(to_response(reply)),
        }
    }
    let http = FetchClient::new(app.config().http_timeout_ms);
    let kv = Kv::new(env, ctx, KV_BINDING);
    let io = Io {
        http: &http,
        kv: &kv,
        clock: &WorkerClock,
        random: &OsRandom,
        signatures: &WebCrypto,
    };
    let handled = app.handle(&incoming, &io).await;
    if let Some(line) = handled.log {
        console_error!("edge-oidc: {line}");
    }
    match handled.outcome {
        Outcome::Reply(reply) => Ok(to_response(reply)),
        Outcome::Forward(f) => forward::pass_on(&req, env, &app, &incoming, f).await,
    }
}

/// The request body for the core, at most `limit` bytes; a larger one is refused with 413.
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, Reply> {
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
    let json = match env.var(CONFIG_VAR) {
        Ok(text) => text.to_string(),
        Err(_) => env
            .object_var::<serde_json::Value>(CONFIG_VAR)
            .map(|value| value.to_string())
            .map_err(|_| {
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

/// A response from the core's reply.
pub(super) fn to_response(reply: Reply) -> Response {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        if let Err(e) = headers.append(name, value) {
            // The core builds every header; one the runtime refuses is a bug there.
            console_error!("edge-oidc: internal error: header {name} refused: {e}");
            return plain_500();
        }
    }
    Response::builder()
        .with_status(reply.status)
        .with_headers(headers)
        .fixed(reply.body.into_bytes())
}

/// 500 (internal) or 502 (origin unreachable): an HTML page or JSON, no details.
fn error_reply(status: u16, navigation: bool) -> Reply {
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

fn plain_500() -> Response {
    Response::builder()
        .with_status(500)
        .fixed(b"Internal Server Error".to_vec())
}
