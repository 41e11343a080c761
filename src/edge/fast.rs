//! The authenticated hot path, where workers-rs' conveniences measurably cost CPU on every
//! request. Everything else in the shell goes through workers-rs; this file is the only place
//! that drives the runtime's objects directly (web_sys, re-exported by workers-rs) or with
//! JavaScript of its own.
//!
//! Measured with `node bench/shell.mjs` (2026-11-28): workerd's CPU per authenticated page view,
//! the handler called in a loop inside the isolate with the site answering from memory, as the
//! paired median difference to the hand-written shell this replaced (69da608, which did not mark
//! responses private; 61 µs per request over the driver loop in the quietest run) over 31–51
//! interleaved rounds. The shared 2-core VM moves absolute figures by ±30 % between runs; the
//! quietest run (load average 0.9) first, others after:
//!
//! | shell | µs/request over 69da608 |
//! |---|--:|
//! | plain workers-rs (`#[event(fetch)]`, `worker::Request`/`Response`, `Fetcher::fetch_request`; commit 6060068) | +57 (+60, +81) |
//! | … the same under worker-build's entry (a `WorkerEntrypoint` class and a Proxy per request) | +76 (+72, +93) |
//! | this file | +18, +21 (+26, +27) |
//! | … without the `Cache-Control: private` rewrite | +9 (+18) |
//!
//! Each piece, from plain workers-rs:
//!
//! 1. **The forwarded response used as it comes**, not as a `worker::Response` (which reads five
//!    of its properties and builds a new `Response` with copied headers on the way out): −15 to
//!    −23 µs in three runs.
//! 2. **One poll, no executor.** `#[event(fetch)]` makes the handler an async export: every
//!    request goes through wasm-bindgen's executor (a promise, `queueMicrotask`, a waker), and
//!    awaiting the origin adds two closures and another turn. The authenticated path needs no
//!    I/O before its answer is known, so [`fetch`] polls the handler once and returns at once;
//!    the forwarded response is finished by one JavaScript continuation (`finish`). Requests
//!    that wait (logins, callbacks, logouts: KV, providers) go on in the executor, and the first
//!    poll's waker relays to the executor's (a future that keeps its first waker, like
//!    `worker::Delay`, would otherwise never be woken): −16 to −21 µs in three runs.
//! 3. **The request in one crossing.** The core reads ten headers ([`REQUEST_HEADERS`]); through
//!    `worker::Headers::get` that is ten calls into the runtime, each passing a name in and a
//!    value out. `read_request` below gathers URL, method and the ten values in JavaScript and
//!    writes them into wasm memory with one `TextEncoder.encodeInto`: −4.3 and −5.1 µs against
//!    this file reading them through `worker::Headers` (two runs of 41 and 51 rounds).
//!
//! The `Cache-Control: private` rewrite (Forward::private) costs 9–12 µs: the forwarded
//! response's headers are immutable, so it is a `new Response(body, response)` (3 µs in plain
//! JavaScript) with one header set; the new value comes from the wasm's rule
//! (`rewrite::private_cache_control`), remembered for the last value seen (−4 µs: a site sends
//! the same Cache-Control on most pages).
//!
//! Not for speed: requests waiting in the executor are tracked (`track`), so that a panic
//! answers them with a 500 at once. workers-rs and wasm-bindgen replace a trapped instance on the
//! next call, but what was waiting in it could only be answered by the runtime when its own I/O
//! ended (a request waiting on a hanging provider: when the provider gives up, since its timeout
//! timer died with the instance). A panic hook after workers-rs' does it; not wasm-bindgen's abort
//! hook, where every call to JavaScript traps (the glue checks after each import call whether
//! the instance has terminated), so only one can be made there and workers-rs' makes it. Traps
//! that are not panics (out of memory, stack overflow) leave the waiting requests to the runtime.

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
use worker::web_sys;
use worker::{Context, Env};

/// The static assets binding, used when no `origin` is configured.
pub(super) const ASSETS_BINDING: &str = "ASSETS";

/// What the request is read into: room for a large Cookie header, grown on demand, and shrunk
/// back after a huge request.
const READ_BUFFER_SIZE: usize = 8 * 1024;
const READ_BUFFER_MAX: usize = 64 * 1024;

thread_local! {
    // The removed header names of the last Forward seen, folded and space-joined for JavaScript.
    static REMOVED: RefCell<(Option<std::rc::Rc<[String]>>, String)> = const { RefCell::new((None, String::new())) };
    // The callbacks of `finish`, made once per instance: a closure per request would cost an
    // allocation and a FinalizationRegistry entry every time.
    static PRIVATE_CACHE_CONTROL: Closure<dyn Fn(Option<String>) -> Option<String>> =
        Closure::new(|value: Option<String>| private_cache_control(value.as_deref()));
    static FAILED: Closure<dyn Fn(JsValue, bool) -> JsValue> = Closure::new(|error: JsValue, navigation: bool| {
        // Not the runtime's text: it can quote the URL with its query.
        let _ = error;
        super::events::internal_error("origin_unreachable");
        handler::reply_value(error_reply(502, navigation))
    });
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER_SIZE]);
    static PANIC_HOOKED: Cell<bool> = const { Cell::new(false) };
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
// The request passed on, built in one call: the client's headers without the copies of the
// identity headers (`removed`: folded names, space-separated, the same for every request of a
// configuration, so its set is made once) and with the cookie and identity headers given
// (`add`: name, value, name, value… separated by '\n', which no header can contain).
let removedList = null, removedSet = new Set();
const fold = (name) => name.replaceAll('_', '-');
export function forward_request(req, target, method, removed, cookie, add, noStore) {
  if (removed !== removedList) {
    removedSet = new Set(removed === '' ? [] : removed.split(' '));
    removedList = removed;
  }
  const headers = new Headers(req.headers);
  if (removedSet.size > 0) {
    const copies = [];
    for (const name of headers.keys()) if (removedSet.has(fold(name))) copies.push(name);
    for (const name of copies) headers.delete(name);
  }
  if (cookie === undefined) headers.delete('cookie');
  else headers.set('cookie', cookie);
  if (add !== '') {
    const a = add.split('\n');
    for (let i = 0; i + 1 < a.length; i += 2) headers.set(a[i], a[i + 1]);
  }
  const init = { method, headers, redirect: 'manual' };
  if (req.body !== null) init.body = req.body;
  if (noStore) init.cache = 'no-store';
  return new Request(target, init);
}
// The forwarded response: marked private when `isPrivate` (the new value comes from the wasm:
// `privateCacheControl`), with the session's new cookie appended when `cookies` is an array (a
// refresh, a revocation check or an idle step sealed it again; `undefined` on the hot path), or
// the error page when the origin could not be reached (`failed`). A site sends the same
// Cache-Control on most pages: the last answer is remembered (the rule is a pure function of the
// value), which saves a call into the wasm per request.
let lastValue, lastPrivate;
export function finish(pending, isPrivate, navigation, cookies, privateCacheControl, failed) {
  return pending.then((response) => {
    // A WebSocket upgrade (101 with the socket) is passed back as it is: a new Response cannot
    // carry the socket, and there is no cache to keep it out of.
    if (!isPrivate || response.webSocket) return response;
    const current = response.headers.get('cache-control');
    if (current !== lastValue) {
      lastPrivate = privateCacheControl(current);
      lastValue = current;
    }
    const value = lastPrivate;
    if (value === undefined && cookies === undefined) return response;
    // A fetched response's headers are immutable: a new Response takes over its body, status,
    // status text and headers (a Response is a valid init), and gets the headers changed.
    const copy = new Response(response.body, response);
    if (value !== undefined) copy.headers.set('cache-control', value);
    if (cookies !== undefined) for (const cookie of cookies) copy.headers.append('set-cookie', cookie);
    return copy;
  }).catch((error) => failed(error, navigation));
}
// Requests waiting in the executor (logins, callbacks, logouts). If the instance traps, they can
// never complete; `trapped` answers them with a plain 500 at once (the wasm cannot render its own
// page any more). Without it the runtime answers them only when their own I/O ends: a request
// waiting on a provider that hangs would wait for the provider (its timeout timer dies with the
// instance).
const waiting = new Set();
export function track(promise) {
  return new Promise((resolve, reject) => {
    const entry = { resolve };
    waiting.add(entry);
    promise.then(
      (response) => { waiting.delete(entry); resolve(response); },
      (error) => { waiting.delete(entry); reject(error); },
    );
  });
}
export function trapped() {
  for (const entry of waiting) {
    entry.resolve(new Response('Internal Server Error', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
  }
  waiting.clear();
}
"#)]
extern "C" {
    fn set_header_names(list: &str);
    #[wasm_bindgen(catch)]
    fn forward_request(
        req: &web_sys::Request,
        target: &str,
        method: &str,
        removed: &str,
        cookie: Option<&str>,
        add: &str,
        no_store: bool,
    ) -> Result<web_sys::Request, JsValue>;
    fn read_request(req: &web_sys::Request, buf: &mut [u8]) -> u32;
    fn track(promise: &Promise) -> Promise;
    fn trapped();
    fn finish(
        pending: &Promise,
        private: bool,
        navigation: bool,
        cookies: &JsValue,
        private_cache_control: &JsValue,
        failed: &JsValue,
    ) -> Promise;
}

/// The fetch handler the entry module exports: a `Response`, or a promise of one.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> JsValue {
    if !PANIC_HOOKED.replace(true) {
        // After workers-rs' own hook (which logs the panic): while a panic hook runs, the instance
        // still works; right after it, the panic aborts and the instance traps.
        let workers_rs_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            workers_rs_hook(info);
            trapped();
        }));
    }
    // The first poll's waker relays to the executor's once the task has moved there: a future
    // that keeps the waker of its first poll (worker::Delay does) still wakes the task.
    let relay = Arc::new(Relay::default());
    let waker = Waker::from(Arc::clone(&relay));
    let mut task = Box::pin(handler::respond(req, env, Context::new(ctx)));
    match task.as_mut().poll(&mut TaskContext::from_waker(&waker)) {
        Poll::Ready(response) => response,
        // Polled again by the executor, with its own waker.
        Poll::Pending => track(&future_to_promise(async move {
            Ok(poll_fn(|cx| {
                relay.set(cx.waker());
                task.as_mut().poll(cx)
            })
            .await)
        }))
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
    // The runtime serialises request URLs in ASCII; core::http::parse_ascii_url says why that
    // matters (no host ever reaches url's IDNA stub).
    let url = crate::core::http::parse_ascii_url(parts.next().unwrap_or_default()).ok_or_else(bad)?;
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
    // Nothing to build on the hot path: `undefined` unless the session cookie was sealed again.
    let cookies = if forward.set_cookies.is_empty() {
        JsValue::UNDEFINED
    } else {
        forward
            .set_cookies
            .iter()
            .map(|c| JsValue::from_str(c))
            .collect::<worker::js_sys::Array>()
            .into()
    };
    Ok(finish(
        &pending,
        forward.private,
        navigation,
        &cookies,
        &private_cache_control,
        &failed,
    ))
}

/// The request to send: the client's, with the identity headers and cookies of `forward`, to
/// the target URL, never following redirects (the browser gets them). Built by one call into
/// JavaScript (`forward_request`) instead of a `Headers` and a `RequestInit` assembled call by call
/// (each header key read, deleted or set was a crossing): BENCHMARKS.md Notes has the figure.
fn outgoing_request(
    req: &web_sys::Request,
    incoming: &Incoming,
    forward: &Forward,
    origin: Option<&url::Url>,
    network: bool,
) -> Result<web_sys::Request, JsValue> {
    let mut add = String::with_capacity(128);
    for (name, value) in &forward.add_headers {
        // The core's names and values never hold a newline (header_value percent-encodes).
        if name.contains('\n') || value.contains('\n') {
            return Err(JsValue::from_str("an identity header holds a newline"));
        }
        if !add.is_empty() {
            add.push('\n');
        }
        add.push_str(name);
        add.push('\n');
        add.push_str(value);
    }
    REMOVED.with_borrow_mut(|(last, folded)| {
        // The same list for every request of a configuration: folded and joined once.
        if last
            .as_ref()
            .is_none_or(|l| !std::rc::Rc::ptr_eq(l, &forward.remove_headers))
        {
            *folded = RemovedNames::new(&forward.remove_headers).joined();
            *last = Some(forward.remove_headers.clone());
        }
        // A page let through on a session must not be stored in (or served from) the zone's
        // shared cache. The assets binding has no such cache; its answer is marked private.
        forward_request(
            req,
            &target_url(&incoming.url, forward.path.as_deref(), origin),
            &incoming.method,
            folded,
            forward.cookie.as_deref(),
            &add,
            forward.private && network,
        )
    })
}
