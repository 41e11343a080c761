//! The edge shell: converts Workers types to the core's and back. No protocol decisions here.
//!
//! The runtime calls `entry.mjs`, which calls [`fetch`] here; `glue.js` does the work on the
//! runtime's objects in as few calls as possible (see js.rs). The wasm-bindgen glue and both
//! JavaScript files are bundled into build/index.js by scripts/build.sh.

mod fetch;
mod js;
mod kv;
pub(crate) mod webcrypto;

use crate::core::config::{Config, CONFIG_VAR};
use crate::core::flow::{App, Forward, Incoming, Io, Outcome, RequestHeaders, REQUEST_HEADERS};
use crate::core::http::{Clock, OsRandom};
use crate::core::session::cookies::MAX_COOKIE_HEADER;
use crate::core::site::pages::{html_page, json_error, misconfigured_page, Reply};
use js::{Ctx, Env, Request};
use js_sys::futures::future_to_promise;
use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;

/// The KV namespace binding holding pending logins.
const KV_BINDING: &str = "EDGE_OIDC_KV";

thread_local! {
    // Validated once per instance: bindings do not change during an isolate's life.
    static APP: OnceCell<Result<Rc<App>, String>> = const { OnceCell::new() };
    // What glue.js's readRequest writes into: sized for a large Cookie header, grown on demand.
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER_SIZE]);
}

/// The size of the buffer the request is read into, and the most it keeps after a larger one.
const READ_BUFFER_SIZE: usize = 8 * 1024;
const READ_BUFFER_MAX: usize = 64 * 1024;

/// A failure of the shell itself (the runtime refused something): a 500 page, and a log line.
type ShellResult<T> = Result<T, String>;

struct JsClock;

impl Clock for JsClock {
    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

/// Runs when the instance starts: a panic (which traps: `panic = "abort"`) is reported to
/// entry.mjs first, which answers the requests in flight and replaces the instance.
#[wasm_bindgen(start, private)]
fn start() {
    std::panic::set_hook(Box::new(|info| js::panicked(&info.to_string())));
}

/// The fetch handler (called by entry.mjs): a `Response`, or a promise of one.
///
/// The hot path (an authenticated or public request passed on) needs no I/O before its answer
/// is known, so the handler is polled once right here; only a request that has to wait (KV, a
/// provider: logins, callbacks, logouts) goes to the promise executor. A request passed on
/// returns glue.js's promise of the origin's response directly.
#[wasm_bindgen]
pub fn fetch(req: Request, env: Env, ctx: Ctx) -> JsValue {
    let mut task = Box::pin(respond(req, env, ctx));
    match task.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(response) => response,
        // Polled again by the executor, with a real waker.
        Poll::Pending => js::track(&future_to_promise(async move { Ok(task.await) })).into(),
    }
}

/// The 500 page for a request whose origin could not be reached (called by entry.mjs).
#[wasm_bindgen(js_name = errorPage)]
pub fn error_page(navigation: bool) -> JsValue {
    let reply = if navigation {
        html_page(
            500,
            "Server error",
            "Something went wrong on our side. Please try again later.",
            &[],
            &[],
        )
    } else {
        json_error(500, "internal_error", "the request could not be processed", None)
    };
    // The last resort: a response without the page.
    to_response(reply).unwrap_or_else(|_| js::reply(500, "", "").unwrap_or(JsValue::UNDEFINED))
}

/// The parts of the request the shell reads, all read in one call.
struct RequestParts {
    url: String,
    method: String,
    headers: RequestHeaders,
}

thread_local! {
    // REQUEST_HEADERS as glue.js's readRequest takes them.
    static HEADER_NAMES: String = REQUEST_HEADERS.join(" ");
}

impl RequestParts {
    fn read(req: &Request) -> RequestParts {
        HEADER_NAMES.with(|names| {
            READ_BUFFER.with_borrow_mut(|buf| {
                let mut len = js::read_request(req, buf, names) as usize;
                if len > buf.len() {
                    buf.resize(len, 0);
                    len = js::read_request(req, buf, names) as usize;
                }
                // UTF-8 from TextEncoder; a failure here would be a bug in glue.js.
                let all = buf
                    .get(..len)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .unwrap_or_default();
                let mut parts = all.split('\n');
                let mut next = || parts.next().unwrap_or_default();
                let url = next().to_owned();
                let method = next().to_owned();
                let values = std::array::from_fn(|_| next().strip_prefix('+').map(str::to_owned));
                let parts = RequestParts {
                    url,
                    method,
                    headers: RequestHeaders::from_values(values),
                };
                // Do not keep the room a huge request needed.
                if buf.len() > READ_BUFFER_MAX {
                    *buf = vec![0; READ_BUFFER_SIZE];
                }
                parts
            })
        })
    }

    fn is_navigation_guess(&self) -> bool {
        let h = &self.headers;
        h.sec_fetch_mode.as_ref().map_or_else(
            || h.accept.as_ref().is_some_and(|a| a.contains("text/html")),
            |m| m == "navigate",
        )
    }
}

async fn respond(req: Request, env: Env, ctx: Ctx) -> JsValue {
    let parts = RequestParts::read(&req);
    let navigation = parts.is_navigation_guess();
    // Nothing below may surface as an exception: every failure becomes a response.
    match handle(&req, &env, &ctx, parts).await {
        Ok(response) => response,
        Err(e) => {
            js::console_error(&format!("edge-oidc: internal error: {e}"));
            error_page(navigation)
        }
    }
}

async fn handle(req: &Request, env: &Env, ctx: &Ctx, parts: RequestParts) -> ShellResult<JsValue> {
    let app = match app(env) {
        Ok(app) => app,
        Err(message) => {
            js::console_error(&format!("edge-oidc: {message}"));
            return to_response(misconfigured_page(!parts.is_navigation_guess()));
        }
    };
    let navigation = parts.is_navigation_guess();
    let incoming = match incoming(parts, &app, navigation) {
        Ok(incoming) => incoming,
        Err(refusal) => return to_response(refusal),
    };
    let http = fetch::FetchClient::new(app.config().http_timeout_ms);
    let kv = kv::Kv::new(env, ctx, KV_BINDING);
    let io = Io {
        http: &http,
        kv: &kv,
        clock: &JsClock,
        random: &OsRandom,
        signatures: &webcrypto::WebCrypto,
    };
    let handled = app.handle(&incoming, &io).await;
    if let Some(line) = handled.log {
        js::console_error(&format!("edge-oidc: {line}"));
    }
    match handled.outcome {
        Outcome::Reply(reply) => to_response(reply),
        Outcome::Forward(forward) => pass_on(req, env, &app, &incoming.url, forward, navigation),
    }
}

fn app(env: &Env) -> Result<Rc<App>, String> {
    APP.with(|cell| cell.get_or_init(|| build_app(env)).clone())
}

fn binding(env: &Env, name: &str) -> JsValue {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn build_app(env: &Env) -> Result<Rc<App>, String> {
    let raw = binding(env, CONFIG_VAR);
    let json = if let Some(s) = raw.as_string() {
        s
    } else if raw.is_object() {
        js_sys::JSON::stringify(&raw)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    } else {
        return Err(format!(
            "configuration key `{CONFIG_VAR}`: is not set. Fix: add it under [vars] in wrangler.toml (see README.md)"
        ));
    };
    let secret = |name: &str| binding(env, name).as_string();
    Config::from_json(&json, &secret)
        .map(|c| Rc::new(App::new(c)))
        .map_err(|e| e.to_string())
}

fn incoming(parts: RequestParts, app: &App, navigation: bool) -> Result<Incoming, Reply> {
    // The runtime serialises request URLs in ASCII; parse_ascii_url says why that matters.
    let url = crate::core::http::parse_ascii_url(&parts.url)
        .ok_or_else(|| json_error(400, "invalid_request", "the request URL is not valid", None))?;
    if parts
        .headers
        .cookie
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COOKIE_HEADER)
    {
        return Err(app.cookie_header_too_large(&url, navigation));
    }
    Ok(Incoming {
        method: parts.method,
        url,
        headers: parts.headers,
        body: None,
    })
}

/// Appends `line` and a '\n' to a glue.js list, refusing what would break the list (no header
/// name or value can hold a newline: the runtime would refuse them too).
fn push_line(out: &mut String, line: &str) -> ShellResult<()> {
    if line.contains('\n') {
        return Err("a header holds a newline".to_owned());
    }
    out.push_str(line);
    out.push('\n');
    Ok(())
}

fn to_response(reply: Reply) -> ShellResult<JsValue> {
    let mut headers = String::new();
    for (name, value) in &reply.headers {
        push_line(&mut headers, name)?;
        push_line(&mut headers, value)?;
    }
    headers.pop();
    js::reply(reply.status, &headers, &reply.body).map_err(|e| js::text(&e))
}

/// Passes an authenticated (or public) request on: to the configured origin, else to the
/// static assets binding, else to the request's own URL (the zone's origin). Returns glue.js's
/// promise of the response.
fn pass_on(
    req: &Request,
    env: &Env,
    app: &App,
    url: &url::Url,
    forward: Forward,
    navigation: bool,
) -> ShellResult<JsValue> {
    // The layout glue.js's `forward` reads.
    let mut spec = String::with_capacity(256);
    let origin = &app.config().origin;
    // The canonical path the core checked, when the request spelled it otherwise: a path
    // starting with one `/` (no dot segments), so joining it keeps the origin and the query.
    let canonical = match &forward.path {
        Some(path) => Some(url.join(path).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Some(origin) = origin {
        let mut target = canonical.unwrap_or_else(|| url.clone());
        target.set_scheme(origin.scheme()).ok();
        target.set_host(origin.host_str()).map_err(|e| e.to_string())?;
        target.set_port(origin.port()).ok();
        push_line(&mut spec, target.as_str())?;
    } else if let Some(target) = canonical {
        push_line(&mut spec, target.as_str())?;
    } else {
        spec.push('\n');
    }
    match &forward.cookie {
        Some(cookie) => {
            spec.push('+');
            push_line(&mut spec, cookie)?;
        }
        None => spec.push('\n'),
    }
    for (i, name) in forward.remove_headers.iter().enumerate() {
        if name.contains([' ', '\n']) {
            return Err("an identity header name holds a space".to_owned());
        }
        if i > 0 {
            spec.push(' ');
        }
        spec.push_str(name);
    }
    spec.push('\n');
    push_line(&mut spec, &forward.add_headers.len().to_string())?;
    for (name, value) in &forward.add_headers {
        push_line(&mut spec, name)?;
        push_line(&mut spec, value)?;
    }
    spec.pop();
    js::forward(req, env, &spec, origin.is_none(), navigation).map_err(|e| js::text(&e))
}
