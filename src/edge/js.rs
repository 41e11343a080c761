//! Bindings to the Workers runtime and to `glue.js`, the JavaScript half of the shell.
//!
//! Runtime objects (the request, `env`, bindings) stay opaque here: glue.js reads and builds
//! them in one call each, so a request crosses between wasm and JavaScript a handful of times
//! instead of once per header.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The runtime's `Request`.
    pub type Request;

    /// The fetch handler's `env`: variables, secrets and bindings.
    pub type Env;

    /// The fetch handler's context (`waitUntil`).
    pub type Ctx;

    /// What `http` resolves to when the request got an answer.
    pub type Answer;

    #[wasm_bindgen(method, getter)]
    pub fn status(this: &Answer) -> u16;

    #[wasm_bindgen(method, getter, js_name = type)]
    pub fn content_type(this: &Answer) -> Option<String>;

    #[wasm_bindgen(method, getter)]
    pub fn body(this: &Answer) -> Vec<u8>;

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(line: &str);
}

// wasm-bindgen copies it into its output (snippets/); scripts/build.sh points entry.mjs's
// `./glue.js` at that copy, so both use one module instance.
#[wasm_bindgen(module = "/src/edge/glue.js")]
extern "C" {
    /// URL, method and the headers named in `names` (space-separated), written into `buf`; the length
    /// written, or a larger length than `buf`'s when it does not fit. See glue.js.
    #[wasm_bindgen(js_name = readRequest)]
    pub fn read_request(req: &Request, buf: &mut [u8], names: &str) -> u32;

    /// A `Response` from a status, '\n'-joined header names and values, and a body.
    #[wasm_bindgen(catch)]
    pub fn reply(status: u16, headers: &str, body: &str) -> Result<JsValue, JsValue>;

    /// Passes the request on as `spec` says; a promise of the response. See glue.js.
    #[wasm_bindgen(catch)]
    pub fn forward(req: &Request, env: &Env, spec: &str, assets: bool, navigation: bool) -> Result<JsValue, JsValue>;

    /// An outgoing request to a provider; see glue.js.
    pub fn http(method: &str, url: &str, headers: &str, body: Option<&str>, timeout_ms: f64, max_bytes: f64)
        -> Promise;

    #[wasm_bindgen(js_name = kvGet)]
    pub fn kv_get(ns: &JsValue, key: &str) -> Promise;

    #[wasm_bindgen(js_name = kvPut)]
    pub fn kv_put(ns: &JsValue, key: &str, value: &str, ttl_secs: f64) -> Promise;

    #[wasm_bindgen(js_name = kvPutBackground)]
    pub fn kv_put_background(ctx: &Ctx, ns: &JsValue, key: &str, value: &str, ttl_secs: f64);

    #[wasm_bindgen(js_name = kvDelete)]
    pub fn kv_delete(ns: &JsValue, key: &str) -> Promise;

    /// The promise of a request that had to wait, settled with a 500 if the instance traps.
    pub fn track(p: &Promise) -> Promise;

    /// A thrown value as text.
    pub fn text(e: &JsValue) -> String;

    /// Tells entry.mjs that this instance is about to trap.
    pub fn panicked(message: &str);
}
