//! The authenticated hot path, where workers-rs' conveniences measurably cost CPU on every
//! request. Everything else in the shell goes through workers-rs; this file is the only place
//! that drives the runtime's objects directly (web_sys, re-exported by workers-rs) or with
//! JavaScript of its own.
//!
//! Measured with `node bench/shell.mjs` (workerd CPU per authenticated page view inside the
//! isolate, site from memory, minus the driver loop; 3000 calls x 7 rounds, medians, on the
//! shared 2-core VM, load average 4.5–6, so ±10 µs) — 2026-11-28, see the commit message of this
//! file for the full table:
//!
//! | shell | µs/request |
//! |---|--:|
//! | plain workers-rs: `#[event(fetch)]`, `worker::Request`/`Response`, `Fetcher::fetch_request` | 153 |
//! | … the forwarded response rewritten on web_sys (no `worker::Response` round trip) | 130 |
//! | … and polled once, no executor (**1** below) | 109 |
//! | … and the request read in one crossing (**2** below) = this file | 99 |
//! | hand-written shell before workers-rs (69da608; no `Cache-Control` rewrite) | 65 |
//!
//! 1. **One poll, no executor.** `#[event(fetch)]` makes the handler an async export: every
//!    request goes through wasm-bindgen's executor (a promise, `queueMicrotask`, a waker) and
//!    awaiting the origin adds two more closures and a second turn. The authenticated path
//!    needs no I/O before its answer is known, so [`fetch`] polls the handler once and returns
//!    at once; the forwarded response is finished by one continuation ([`pass_on`]). Only
//!    requests that wait (logins, callbacks, logouts: KV, providers) go to the executor.
//!    The forwarded response is used as it comes (`worker::Response` reads five properties of
//!    it and builds a new `Response` with copied headers on the way out): −20 µs, and −21 µs for
//!    no executor.
//! 2. **The request in one crossing.** The core reads ten headers ([`REQUEST_HEADERS`]); through
//!    `worker::Headers::get` that is ten calls into the runtime, each passing a name in and a
//!    value out. `read_request` below gathers URL, method and the ten values in JavaScript and
//!    writes them into wasm memory with one `TextEncoder.encodeInto`: −10 µs.
//!
//! The `Cache-Control: private` rewrite of forwarded responses (Forward::private) costs 1–4 µs
//! here: one header read, and when it must change, a `new Response(body, response)` with one
//! header set.

use super::handler::{self, error_reply};
use super::rewrite::{private_cache_control, target_url, RemovedNames};
use crate::core::flow::{App, Forward, Incoming, RequestHeaders, REQUEST_HEADERS};
use crate::core::site::pages::{json_error, Reply};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::Promise;
use worker::wasm_bindgen_futures::future_to_promise;
use worker::web_sys::{self, RequestCache, RequestRedirect};
use worker::{console_error, Context, Env, Headers};

/// The static assets binding, used when no `origin` is configured.
const ASSETS_BINDING: &str = "ASSETS";

/// What the request is read into: room for a large Cookie header, grown on demand, and shrunk
/// back after a huge request.
const READ_BUFFER_SIZE: usize = 8 * 1024;
const READ_BUFFER_MAX: usize = 64 * 1024;

thread_local! {
    // The callbacks of `finish`, made once per instance: a closure per request would cost an
    // allocation and a FinalizationRegistry entry every time.
    static PRIVATE_CACHE_CONTROL: Closure<dyn Fn(Option<String>) -> Option<String>> =
        Closure::new(|value: Option<String>| private_cache_control(value.as_deref()));
    static FAILED: Closure<dyn Fn(JsValue, bool) -> JsValue> = Closure::new(|error: JsValue, navigation: bool| {
        console_error!("edge-oidc: the request could not be passed on: {}", handler::js_text(&error));
        handler::reply_value(error_reply(502, navigation))
    });
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER_SIZE]);
    static NAMES_SENT: Cell<bool> = const { Cell::new(false) };
}

#[wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
let names = [];
export function set_header_names(list) { names = list.split(' '); }
// URL, method, then per header name '' (absent) or '+' and the value, joined by '\n': none of
// them can hold a newline (the URL parser drops them, Headers refuses them). Returns the bytes
// written, or, when `buf` is too small, a length that is large enough.
export function read_request(req, buf) {
  const h = req.headers;
  let all = req.url + '\n' + req.method;
  for (const name of names) {
    const v = h.get(name);
    all += v === null ? '\n' : '\n+' + v;
  }
  const { read, written } = encoder.encodeInto(all, buf);
  return read === all.length ? written : all.length * 3;
}
// The forwarded response: marked private when `isPrivate` (the new value comes from the wasm:
// `privateCacheControl`), or the error page when the origin could not be reached (`failed`).
export function finish(pending, isPrivate, navigation, privateCacheControl, failed) {
  return pending.then((response) => {
    if (!isPrivate) return response;
    const value = privateCacheControl(response.headers.get('cache-control'));
    if (value === undefined) return response;
    // A fetched response's headers are immutable: a new Response takes over its body, status,
    // status text and headers (a Response is a valid init), and gets the one header changed.
    const copy = new Response(response.body, response);
    copy.headers.set('cache-control', value);
    return copy;
  }).catch((error) => failed(error, navigation));
}
"#)]
extern "C" {
    fn set_header_names(list: &str);
    fn read_request(req: &web_sys::Request, buf: &mut [u8]) -> u32;
    fn finish(
        pending: &Promise,
        private: bool,
        navigation: bool,
        private_cache_control: &JsValue,
        failed: &JsValue,
    ) -> Promise;
}

/// The fetch handler the entry module exports: a `Response`, or a promise of one.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> JsValue {
    // The first poll's waker relays to the executor's once the task has moved there: a future
    // that keeps the waker of its first poll (worker::Delay does) still wakes the task.
    let relay = Arc::new(Relay::default());
    let waker = Waker::from(Arc::clone(&relay));
    let mut task = Box::pin(handler::respond(req, env, Context::new(ctx)));
    match task.as_mut().poll(&mut TaskContext::from_waker(&waker)) {
        Poll::Ready(response) => response,
        // Polled again by the executor, with its own waker.
        Poll::Pending => future_to_promise(async move {
            Ok(poll_fn(|cx| {
                relay.set(cx.waker());
                task.as_mut().poll(cx)
            })
            .await)
        })
        .into(),
    }
}

/// A waker that wakes whatever waker it was last given (none before the executor has the task;
/// the executor polls a new task anyway).
#[derive(Default)]
struct Relay(Mutex<Option<Waker>>);

impl Relay {
    fn set(&self, waker: &Waker) {
        if let Ok(mut slot) = self.0.lock() {
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
    }
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Ok(slot) = self.0.lock() {
            if let Some(waker) = slot.as_ref() {
                waker.wake_by_ref();
            }
        }
    }
}

/// URL, method and the headers the core reads ([`REQUEST_HEADERS`], in that order).
pub(super) fn incoming(req: &web_sys::Request) -> Result<Incoming, Reply> {
    if !NAMES_SENT.replace(true) {
        set_header_names(&REQUEST_HEADERS.join(" "));
    }
    READ_BUFFER.with_borrow_mut(|buf| {
        let mut len = read_request(req, buf) as usize;
        if len > buf.len() {
            buf.resize(len, 0);
            len = read_request(req, buf) as usize;
        }
        let parsed = parse(buf.get(..len).unwrap_or_default());
        if buf.len() > READ_BUFFER_MAX {
            *buf = vec![0; READ_BUFFER_SIZE];
        }
        parsed
    })
}

fn parse(bytes: &[u8]) -> Result<Incoming, Reply> {
    let bad = || json_error(400, "invalid_request", "the request URL is not valid", None);
    // UTF-8 from TextEncoder; anything else would be a bug above.
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split('\n');
    let url = url::Url::parse(parts.next().unwrap_or_default()).map_err(|_| bad())?;
    let method = parts.next().unwrap_or_default().to_owned();
    let mut values: [Option<String>; REQUEST_HEADERS.len()] = Default::default();
    for (value, part) in values.iter_mut().zip(parts) {
        *value = part.strip_prefix('+').map(str::to_owned);
    }
    Ok(Incoming {
        method,
        url,
        headers: RequestHeaders::from_values(values),
        body: None,
    })
}

/// Passes the request on: to the configured origin, else to the static assets binding, else to
/// the request's own URL (the zone's origin), changed as `forward` says. A promise of the
/// response: `Cache-Control: private` when the request was let through on a session, a 502 page
/// when the origin could not be reached.
pub(super) fn pass_on(
    req: &web_sys::Request,
    env: &Env,
    app: &App,
    incoming: &Incoming,
    forward: Forward,
    navigation: bool,
) -> Result<Promise, JsValue> {
    let origin = app.config().origin.as_ref();
    let assets = match origin {
        Some(_) => None,
        None => env
            .assets(ASSETS_BINDING)
            .ok()
            .map(|a| a.into_rpc::<worker::worker_sys::Fetcher>()),
    };
    let outgoing = outgoing_request(req, incoming, &forward, origin, assets.is_none())?;
    let pending = match assets {
        Some(assets) => assets.fetch(&outgoing)?,
        None => worker::js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .fetch_with_request(&outgoing),
    };
    let private_cache_control = PRIVATE_CACHE_CONTROL.with(|f| f.as_ref().clone());
    let failed = FAILED.with(|f| f.as_ref().clone());
    Ok(finish(
        &pending,
        forward.private,
        navigation,
        &private_cache_control,
        &failed,
    ))
}

/// The request to send: the client's, with the identity headers and cookies of `forward`, to
/// the target URL, never following redirects (the browser gets them).
fn outgoing_request(
    req: &web_sys::Request,
    incoming: &Incoming,
    forward: &Forward,
    origin: Option<&url::Url>,
    network: bool,
) -> Result<web_sys::Request, JsValue> {
    let headers = Headers(web_sys::Headers::new_with_headers(&req.headers())?);
    if !forward.remove_headers.is_empty() {
        let removed = RemovedNames::new(&forward.remove_headers);
        let copies: Vec<String> = headers.keys().filter(|name| removed.contains(name)).collect();
        for name in copies {
            headers.delete(&name)?;
        }
    }
    match &forward.cookie {
        Some(cookie) => headers.set("cookie", cookie)?,
        None => headers.delete("cookie")?,
    }
    for (name, value) in &forward.add_headers {
        headers.set(name, value)?;
    }
    // web_sys's RequestInit, not worker::RequestInit: the latter carries a worker::Method, which
    // turns methods it does not know (PROPFIND, …) into GET.
    let init = web_sys::RequestInit::new();
    init.set_method(&incoming.method);
    init.set_headers(&headers.0);
    init.set_redirect(RequestRedirect::Manual);
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    // A page let through on a session must not be stored in (or served from) the zone's shared
    // cache. The assets binding has no such cache; its answer is marked private instead.
    if forward.private && network {
        init.set_cache(RequestCache::NoStore);
    }
    web_sys::Request::new_with_str_and_init(&target_url(&incoming.url, forward.path.as_deref(), origin), &init)
}
