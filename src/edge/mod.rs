//! The edge shell: converts Workers types to the core's and back. No protocol decisions here.

mod fetch;
mod kv;
pub(crate) mod webcrypto;

use crate::core::config::{Config, CONFIG_VAR, COOKIE_KEYS_SECRET};
use crate::core::cookies::{remove_cookie, CookieAttrs, SameSite, MAX_COOKIE_HEADER};
use crate::core::flow::{App, Forward, Incoming, Io, Outcome};
use crate::core::http::{Clock, OsRandom};
use crate::core::seal::MAX_CHUNKS;
use crate::core::views::{html_page, json_error, Reply};
use std::cell::OnceCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response};
use worker::{console_error, event, Context, Env};

/// The KV namespace binding holding pending logins.
const KV_BINDING: &str = "EDGE_OIDC_KV";
/// The static assets binding, used as the origin when present and no `origin` is configured.
const ASSETS_BINDING: &str = "ASSETS";

thread_local! {
    // Validated once per isolate: bindings do not change during an isolate's life.
    static APP: OnceCell<Result<Rc<App>, String>> = const { OnceCell::new() };
}

struct JsClock;

impl Clock for JsClock {
    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

// The handler takes and returns the runtime's own Request and Response (web_sys) rather than
// `worker::Request` / `worker::Response`: converting costs on every request (the `cf` object is
// rebuilt on each read, and a response is rebuilt with copied headers), which on the
// authenticated path is more CPU than the session check itself (BENCHMARKS.md).
#[event(fetch)]
async fn main(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    // Nothing below may surface as an uncaught exception: every failure becomes a response.
    match handle(&req, &env).await {
        Ok(response) => Ok(response),
        Err(e) => {
            console_error!("edge-oidc: internal error: {e}");
            let reply = if !is_navigation_guess(&req) {
                json_error(500, "internal_error", "the request could not be processed", None)
            } else {
                html_page(
                    500,
                    "Server error",
                    "Something went wrong on our side. Please try again later.",
                    &[],
                    &[],
                )
            };
            to_response(reply)
        }
    }
}

async fn handle(req: &Request, env: &Env) -> worker::Result<Response> {
    let app = match app(env) {
        Ok(app) => app,
        Err(message) => {
            console_error!("edge-oidc: {message}");
            return to_response(html_page(
                500,
                "edge-oidc is not configured correctly",
                &message,
                &[],
                &[],
            ));
        }
    };
    let incoming = match incoming(req, &app) {
        Ok(incoming) => incoming,
        Err(refusal) => return to_response(refusal),
    };
    let http = fetch::FetchClient::new(app.config().http_timeout_ms);
    let kv = kv::Kv::new(env, KV_BINDING);
    let io = Io {
        http: &http,
        kv: &kv,
        clock: &JsClock,
        random: &OsRandom,
        signatures: &webcrypto::WebCrypto,
    };
    let handled = app.handle(&incoming, &io).await;
    if let Some(line) = handled.log {
        console_error!("edge-oidc: {line}");
    }
    match handled.outcome {
        Outcome::Reply(reply) => to_response(reply),
        Outcome::Forward(forward) => pass_on(req, env, &app, forward).await,
    }
}

fn app(env: &Env) -> Result<Rc<App>, String> {
    APP.with(|cell| cell.get_or_init(|| build_app(env)).clone())
}

fn build_app(env: &Env) -> Result<Rc<App>, String> {
    let raw = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(CONFIG_VAR)).unwrap_or(JsValue::UNDEFINED);
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
    let secret = |name: &str| -> Option<String> {
        js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    let _ = COOKIE_KEYS_SECRET;
    Config::from_json(&json, &secret)
        .map(|c| Rc::new(App::new(c)))
        .map_err(|e| e.to_string())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// The request URL, parsed.
fn request_url(req: &Request) -> Option<url::Url> {
    url::Url::parse(&req.url()).ok()
}

fn is_navigation_guess(req: &Request) -> bool {
    header(req, "sec-fetch-mode").map_or_else(
        || header(req, "accept").is_some_and(|a| a.contains("text/html")),
        |m| m == "navigate",
    )
}

fn incoming(req: &Request, app: &App) -> Result<Incoming, Reply> {
    let url =
        request_url(req).ok_or_else(|| json_error(400, "invalid_request", "the request URL is not valid", None))?;
    // One Headers object for every read (each `req.headers()` is a call into the runtime).
    let headers = req.headers();
    let get = |name: &str| headers.get(name).ok().flatten();
    let cookie = get("cookie");
    if cookie.as_ref().is_some_and(|c| c.len() > MAX_COOKIE_HEADER) {
        return Err(cookie_too_large(app, &url, is_navigation_guess(req)));
    }
    Ok(Incoming {
        method: req.method(),
        url,
        cookie,
        accept: get("accept"),
        sec_fetch_mode: get("sec-fetch-mode"),
        x_requested_with: get("x-requested-with"),
    })
}

/// 431 for a `Cookie` header over [`MAX_COOKIE_HEADER`] (refused unparsed), removing every cookie
/// edge-oidc may have set: they may be what made it too large, and the browser would otherwise be
/// refused, logout included, until they expire.
fn cookie_too_large(app: &App, url: &url::Url, navigation: bool) -> Reply {
    // Chunk numbers any version of edge-oidc may have written (older ones went up to 8).
    const CHUNK_NAMES: usize = 8;
    let name = &app.config().session.cookie_name;
    let attrs = CookieAttrs {
        path: "/".to_owned(),
        secure: url.scheme() == "https",
        http_only: true,
        same_site: SameSite::Lax,
        max_age: None,
    };
    let names = [name.clone(), format!("{name}_login")]
        .into_iter()
        .chain((0..CHUNK_NAMES.max(MAX_CHUNKS)).map(|i| format!("{name}.{i}")));
    let reply = if navigation {
        html_page(
            431,
            "Too many cookies",
            "Your browser sent more cookie data than this site accepts. The sign-in cookies have been removed; please try again.",
            &[],
            &[("/", "Back to the site")],
        )
    } else {
        json_error(431, "request_header_too_large", "the Cookie header is too large", None)
    };
    reply.with_cookies(names.map(|n| remove_cookie(&n, &attrs)).collect::<Vec<_>>())
}

/// Whether a request header is a copy of one of `identity` (lower-case names) under a spelling an
/// origin may fold into the same name: any case, and `_` for `-` (CGI-style servers, e.g. PHP,
/// Rack, WSGI, turn both `X-Auth-Email` and `X_Auth_Email` into `HTTP_X_AUTH_EMAIL`).
fn is_identity_copy(name: &str, identity: &[String]) -> bool {
    identity.iter().any(|id| {
        id.len() == name.len()
            && id
                .bytes()
                .zip(name.bytes())
                .all(|(a, b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_') || (a == b'_' && b == b'-'))
    })
}

fn to_response(reply: Reply) -> worker::Result<Response> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    let body = if reply.body.is_empty() {
        None
    } else {
        Some(reply.body.as_str())
    };
    Ok(Response::new_with_opt_str_and_init(body, &init)?)
}

/// Passes an authenticated (or public) request on: to the configured origin, else to the
/// static assets binding, else to the request's own URL (the zone's origin).
async fn pass_on(req: &Request, env: &Env, app: &App, forward: Forward) -> worker::Result<Response> {
    let original = req.headers();
    let headers = web_sys::Headers::new_with_headers(&original)?;
    let names: Vec<String> = js_sys::try_iter(&original.keys())?
        .into_iter()
        .flatten()
        .filter_map(|name| name.ok()?.as_string())
        .filter(|n| is_identity_copy(n, &forward.remove_headers))
        .collect();
    for name in names {
        headers.delete(&name)?;
    }
    headers.delete("cookie")?;
    if let Some(cookie) = &forward.cookie {
        headers.set("cookie", cookie)?;
    }
    for (name, value) in &forward.add_headers {
        headers.set(name, value)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let target = match &app.config().origin {
        Some(origin) => {
            let mut url =
                request_url(req).ok_or_else(|| worker::Error::RustError("the request URL is not valid".into()))?;
            url.set_scheme(origin.scheme()).ok();
            url.set_host(origin.host_str())
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            url.set_port(origin.port()).ok();
            url.to_string()
        }
        None => req.url(),
    };
    let outgoing = Request::new_with_str_and_init(&target, &init)?;
    let assets = match app.config().origin {
        Some(_) => JsValue::UNDEFINED,
        None => js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(ASSETS_BINDING))?,
    };
    let pending = if assets.is_object() {
        assets
            .unchecked_into::<worker::worker_sys::Fetcher>()
            .fetch(&outgoing)?
    } else {
        js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .fetch_with_request(&outgoing)
    };
    let response: Response = JsFuture::from(pending).await?.dyn_into()?;
    if forward.set_cookies.is_empty() {
        return Ok(response);
    }
    // Responses from fetch have immutable headers: copy them into a new response.
    let headers = web_sys::Headers::new_with_headers(&response.headers())?;
    for cookie in &forward.set_cookies {
        headers.append("set-cookie", cookie)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(response.status());
    init.set_status_text(&response.status_text());
    init.set_headers(&headers);
    Ok(Response::new_with_opt_readable_stream_and_init(
        response.body().as_ref(),
        &init,
    )?)
}
