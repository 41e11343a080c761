//! Micro-benchmarks of the edge-oidc core, compiled to wasm32 and driven from Node (V8, the
//! engine workerd embeds) by `bench/micro.mjs`.
//!
//! Every `run_*` function repeats one piece of real work `n` times inside wasm (so the JS↔wasm
//! call is paid once per batch, not per operation) and returns how many repetitions gave the
//! expected result; the driver fails the run unless that is `n`. Inputs (keys, signed ID
//! tokens, JWKS) are made by the driver with node:crypto, as a provider would.
//!
//! Signatures are checked as in the worker: by the runtime's WebCrypto ([`WebCrypto`], Node's
//! `globalThis.crypto.subtle` here), which is asynchronous, so the callback and ID token
//! benchmarks are async exports (`run_async`, `run_validate_id_token`) returning promises; the
//! driver measures them in process CPU time, which includes the crypto done off the JS thread.
//!
//! Two levels:
//! - [`Rp`]: whole requests through `App::handle` with in-memory I/O (a fixed clock, a KV map,
//!   canned provider responses). This is exactly the core's per-request work in the worker,
//!   minus the JS glue and the network; it also counts KV and HTTP calls.
//! - `run_open_session`, `run_validate_id_token`, …: the components on their own.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use edge_oidc::core::config::Config;
use edge_oidc::core::log::EventLog;
use edge_oidc::core::flow::{App, Incoming, Io, Outcome, RequestHeaders};
use edge_oidc::core::http::{
    Clock, HttpClient, HttpError, HttpRequest, HttpResponse, KvStore, OsRandom, StoreError,
};
use edge_oidc::core::oidc::id_token::{self, TokenHashes, ValidationParams};
use edge_oidc::core::oidc::jwks::{Alg, Jwks};
use edge_oidc::core::session::seal::{parse_key_list, Sealer};
use edge_oidc::core::session::{Identity, SealContext};
use edge_oidc::core::oidc::token;
use edge_oidc::WebCrypto;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// Drives a future that never waits: every fake here answers at once. A future that is still
/// pending after one poll would mean real I/O (or WebCrypto: use the async exports), which the
/// benchmark must not hide.
fn now_or_never<F: Future>(f: F) -> Result<F::Output, JsError> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(JsError::new("the future did not complete in one poll")),
    }
}

struct FixedClock(Cell<i64>);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}

/// KV in memory, counting operations. With `forget_sessions` the session records the callback
/// writes (which also mark its state as used) are counted but not kept, so one callback can be
/// replayed by the callback benchmark.
#[derive(Default)]
struct MemKv {
    map: RefCell<HashMap<String, String>>,
    gets: Cell<u32>,
    puts: Cell<u32>,
    deletes: Cell<u32>,
    forget_sessions: Cell<bool>,
}

impl KvStore for MemKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        Ok(self.map.borrow().get(key).cloned())
    }

    async fn put(&self, key: &str, value: &str, _ttl_secs: u64) -> Result<(), StoreError> {
        self.puts.set(self.puts.get() + 1);
        self.map.borrow_mut().insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.deletes.set(self.deletes.get() + 1);
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    fn put_background(&self, key: &str, value: &str, _ttl_secs: u64) {
        self.puts.set(self.puts.get() + 1);
        if !(self.forget_sessions.get() && key.starts_with("session:")) {
            self.map.borrow_mut().insert(key.to_owned(), value.to_owned());
        }
    }
}

/// Canned provider answers by `METHOD url`, counting requests.
#[derive(Default)]
struct CannedHttp {
    responses: RefCell<HashMap<String, (u16, Vec<u8>)>>,
    sent: Cell<u32>,
}

impl HttpClient for CannedHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.sent.set(self.sent.get() + 1);
        let key = format!("{} {}", request.method, request.url);
        match self.responses.borrow().get(&key) {
            Some((status, body)) => Ok(HttpResponse {
                status: *status,
                content_type: Some("application/json".to_owned()),
                body: body.clone(),
            }),
            None => Err(HttpError::Network(format!("no canned response for {key}"))),
        }
    }
}

/// One relying party (one isolate's `App`) with in-memory I/O.
#[wasm_bindgen]
pub struct Rp {
    inner: Rc<RpInner>,
}

struct RpInner {
    app: App,
    kv: MemKv,
    http: CannedHttp,
    clock: FixedClock,
}

#[wasm_bindgen]
impl Rp {
    /// `config`: EDGE_OIDC_CONFIG JSON; `secrets`: JSON object of secret bindings.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, secrets: &str, now: f64) -> Result<Rp, JsError> {
        let secrets: HashMap<String, String> = serde_json::from_str(secrets)?;
        let config = Config::from_json(config, &|name| secrets.get(name).cloned())
            .map_err(|e| JsError::new(&e.to_string()))?;
        let inner = RpInner {
            app: App::new(config),
            kv: MemKv::default(),
            http: CannedHttp::default(),
            clock: FixedClock(Cell::new(now as i64)),
        };
        Ok(Rp { inner: Rc::new(inner) })
    }

    /// Answer `method url` with `status` and `body` from now on.
    pub fn respond(&self, method: &str, url: &str, status: u16, body: &str) {
        self.inner
            .http
            .responses
            .borrow_mut()
            .insert(format!("{method} {url}"), (status, body.as_bytes().to_vec()));
    }

    /// Do not keep the session records the callback writes, so that the same callback (its
    /// pending-login cookie and state) can be replayed.
    pub fn keep_pending(&self, keep: bool) {
        self.inner.kv.forget_sessions.set(keep);
    }

    /// One request through `App::handle`, awaited (the callback awaits WebCrypto); resolves to
    /// JSON describing the outcome and the I/O it caused:
    /// `{kind, status, headers, body, add_headers, kv: [gets, puts, deletes], http}`.
    pub fn request(&self, method: &str, url: &str, cookie: Option<String>, accept: Option<String>) -> Result<js_sys::Promise, JsError> {
        let incoming = incoming(method, url, cookie, accept)?;
        let inner = self.inner.clone();
        Ok(future_to_promise(async move {
            let before = inner.io_counts();
            let handled = inner.handle(&incoming).await;
            let after = inner.io_counts();
            let io = json!({
                "kv": [after.0 - before.0, after.1 - before.1, after.2 - before.2],
                "http": after.3 - before.3,
            });
            let out = match handled {
                Outcome::Reply(r) => json!({
                    "kind": "reply", "status": r.status, "headers": r.headers, "body": r.body, "io": io,
                }),
                Outcome::Forward(f) => json!({
                    "kind": "forward", "add_headers": f.add_headers, "remove_headers": f.remove_headers.to_vec(),
                    "cookie": f.cookie, "path": f.path, "private": f.private, "io": io,
                }),
            };
            Ok(JsValue::from_str(&out.to_string()))
        }))
    }

    /// Repeats a request `n` times, each completing in one poll (requests that need no
    /// signature: the hot path, the redirect to the provider); counts the outcomes that are a
    /// forward with identity headers (`expect_status` 0) or a reply with `expect_status`.
    pub fn run(&self, n: u32, method: &str, url: &str, cookie: Option<String>, accept: Option<String>, expect_status: u16) -> Result<u32, JsError> {
        let incoming = incoming(method, url, cookie, accept)?;
        let mut ok = 0;
        for _ in 0..n {
            // Building `Incoming` is the edge shell's work, but parsing the URL is per request
            // too: clone the parsed one, as cheap as the shell's copy of its strings.
            let outcome = now_or_never(self.inner.handle(&incoming.clone()))?;
            ok += u32::from(expected(&outcome, expect_status));
        }
        Ok(ok)
    }

    /// [`Rp::run`] for requests that await WebCrypto (the callback): resolves to the count.
    pub fn run_async(&self, n: u32, method: &str, url: &str, cookie: Option<String>, accept: Option<String>, expect_status: u16) -> Result<js_sys::Promise, JsError> {
        let incoming = incoming(method, url, cookie, accept)?;
        let inner = self.inner.clone();
        Ok(future_to_promise(async move {
            let mut ok = 0u32;
            for _ in 0..n {
                let outcome = inner.handle(&incoming.clone()).await;
                ok += u32::from(expected(&outcome, expect_status));
            }
            Ok(JsValue::from(ok))
        }))
    }

    /// KV gets, puts, deletes and HTTP requests so far.
    pub fn io(&self) -> Vec<u32> {
        let (g, p, d, h) = self.inner.io_counts();
        vec![g, p, d, h]
    }
}

fn expected(outcome: &Outcome, expect_status: u16) -> bool {
    match (outcome, expect_status) {
        (Outcome::Forward(f), 0) => !f.add_headers.is_empty(),
        (Outcome::Reply(r), s) => r.status == s,
        _ => false,
    }
}

impl RpInner {
    async fn handle(&self, incoming: &Incoming) -> Outcome {
        // As the shell does: the configured level (default info: the hot path logs nothing).
        let log = EventLog::new(self.app.config().log_level);
        let io = Io {
            http: &self.http,
            kv: &self.kv,
            clock: &self.clock,
            random: &OsRandom,
            signatures: &WebCrypto,
            log: &log,
        };
        self.app.handle(incoming, &io).await.outcome
    }

    fn io_counts(&self) -> (u32, u32, u32, u32) {
        (self.kv.gets.get(), self.kv.puts.get(), self.kv.deletes.get(), self.http.sent.get())
    }
}

fn incoming(method: &str, url: &str, cookie: Option<String>, accept: Option<String>) -> Result<Incoming, JsError> {
    Ok(Incoming {
        method: method.to_owned(),
        url: url::Url::parse(url)?,
        headers: RequestHeaders {
            cookie,
            accept,
            ..RequestHeaders::default()
        },
        body: None,
    })
}

fn sealer(keys: &str) -> Result<Sealer, JsError> {
    let keys = parse_key_list(keys).map_err(|e| JsError::new(&e.to_string()))?;
    Sealer::new(keys).map_err(|e| JsError::new(&e.to_string()))
}

/// Opens (AEAD + JSON) an identity cookie value `n` times as the gate does on a cache miss;
/// counts the unexpired ones. `deployment` and `issuer` are the context it was sealed for.
#[wasm_bindgen]
pub fn run_open_session(n: u32, keys: &str, name: &str, deployment: &str, issuer: &str, value: &str, now: f64) -> Result<u32, JsError> {
    let sealer = sealer(keys)?;
    let mut ok = 0;
    for _ in 0..n {
        let opened = Identity::open(&sealer, value, name, deployment, |_| Some(issuer));
        ok += u32::from(opened.is_ok_and(|i| !i.expired(now as i64)));
    }
    Ok(ok)
}

/// The identity inside a cookie value, as JSON (input for [`run_seal_session`]).
#[wasm_bindgen]
pub fn open_session_json(keys: &str, name: &str, deployment: &str, issuer: &str, value: &str) -> Result<String, JsError> {
    let identity = Identity::open(&sealer(keys)?, value, name, deployment, |_| Some(issuer))
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(serde_json::to_string(&identity)?)
}

/// Seals an identity (JSON of `Identity`, for `provider`) `n` times as the callback does;
/// counts non-empty results.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn run_seal_session(n: u32, keys: &str, name: &str, deployment: &str, issuer: &str, provider: &str, identity: &str) -> Result<u32, JsError> {
    let sealer = sealer(keys)?;
    let mut identity: Identity = serde_json::from_str(identity)?;
    provider.clone_into(&mut identity.provider);
    let context = SealContext {
        kind: "identity",
        name,
        deployment,
        issuer,
    };
    let mut ok = 0;
    for i in 0..n {
        let mut nonce = [7u8; 24];
        nonce[..4].copy_from_slice(&i.to_le_bytes());
        ok += u32::from(identity.seal(&sealer, &context, nonce).is_ok_and(|s| !s.is_empty()));
    }
    Ok(ok)
}

/// Parses a token endpoint response `n` times.
#[wasm_bindgen]
pub fn run_parse_token_response(n: u32, body: &str) -> u32 {
    let response = HttpResponse {
        status: 200,
        content_type: Some("application/json".to_owned()),
        body: body.as_bytes().to_vec(),
    };
    (0..n)
        .map(|_| u32::from(token::parse_token_response(&response).is_ok()))
        .sum()
}

/// Parses a JWKS `n` times (once per hour per isolate in the worker: it is cached).
#[wasm_bindgen]
pub fn run_parse_jwks(n: u32, jwks: &str) -> u32 {
    (0..n).map(|_| u32::from(Jwks::parse(jwks.as_bytes()).is_ok())).sum()
}

/// Validates an ID token (signature by WebCrypto + Core §3.1.3.7 claims) `n` times; resolves
/// to the count of valid ones.

/// Validates an ID token (signature by WebCrypto + Core §3.1.3.7 claims) `n` times; resolves
/// to the count of valid ones.
#[wasm_bindgen]
pub async fn run_validate_id_token(n: u32, token: String, jwks: String, issuer: String, client_id: String, nonce: String, now: f64) -> Result<u32, JsError> {
    let jwks = Jwks::parse(jwks.as_bytes()).map_err(|e| JsError::new(&e.to_string()))?;
    let algs = [Alg::RS256, Alg::ES256];
    let params = ValidationParams {
        issuer: id_token::ExpectedIssuer::Exact(&issuer),
        client_id: &client_id,
        allowed_algs: &algs,
        expected_nonce: Some(&nonce),
        now: now as i64,
        leeway_secs: 60,
        max_age_secs: None,
    };
    let mut ok = 0;
    let mut last = None;
    for _ in 0..n {
        match id_token::validate(&token, &jwks, &params, TokenHashes::default(), &WebCrypto).await {
            Ok(_) => ok += 1,
            Err(e) => last = Some(e),
        }
    }
    match (ok, last) {
        (0, Some(e)) => Err(JsError::new(&e.to_string())),
        _ => Ok(ok),
    }
}

/// The claims of a validated ID token, as JSON (for the driver to build a session from).
#[wasm_bindgen]
pub async fn validated_claims(token: String, jwks: String, issuer: String, client_id: String, nonce: String, now: f64) -> Result<String, JsError> {
    let jwks = Jwks::parse(jwks.as_bytes()).map_err(|e| JsError::new(&e.to_string()))?;
    let algs = [Alg::RS256, Alg::ES256];
    let params = ValidationParams {
        issuer: id_token::ExpectedIssuer::Exact(&issuer),
        client_id: &client_id,
        allowed_algs: &algs,
        expected_nonce: Some(&nonce),
        now: now as i64,
        leeway_secs: 60,
        max_age_secs: None,
    };
    let validated = id_token::validate(&token, &jwks, &params, TokenHashes::default(), &WebCrypto)
        .await
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(serde_json::to_string(validated.claims())?)
}

/// Sanity check that the driver and this crate agree on JSON (used once at start).
#[wasm_bindgen]
pub fn echo_json(s: &str) -> Result<String, JsError> {
    let v: Value = serde_json::from_str(s)?;
    Ok(v.to_string())
}

/// Signs `n` identity assertions (src/core/site/assertion.rs) for the identity in `identity_json`
/// with the P-256 key `key` (PKCS#8 PEM or JWK), by WebCrypto as in the worker: the cost a
/// session pays once per isolate per three quarters of `assertion.lifetime_secs`. Resolves to
/// the count of signed assertions.
#[wasm_bindgen]
pub fn run_sign_assertion(n: u32, key: &str, identity_json: &str, now: f64) -> Result<js_sys::Promise, JsError> {
    use edge_oidc::core::site::assertion::{self, AssertionInput, AssertionKey};
    let key = AssertionKey::parse(key).map_err(|e| JsError::new(&e.to_string()))?;
    let mut identity: Identity = serde_json::from_str(identity_json)?;
    identity.provider = "main".to_owned();
    Ok(future_to_promise(async move {
        let mut ok = 0u32;
        for _ in 0..n {
            let input = AssertionInput {
                issuer: "https://rp.example",
                audience: "https://rp.example",
                now: now as i64,
                lifetime_secs: 300,
                claims: &[],
            };
            ok += u32::from(assertion::sign(&key, &identity, &input, &WebCrypto).await.is_some());
        }
        Ok(JsValue::from(ok))
    }))
}
