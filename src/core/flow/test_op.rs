//! In-memory fakes for the flow tests: a fixed clock, counter-based randomness, a counting KV
//! store, a fake OpenID Provider reached through a fake HTTP client, a browser cookie jar, and a
//! [`Harness`] that wires them to an [`App`].
//!
//! The fake OP checks what a real one checks (single-use codes, the PKCE verifier against the
//! challenge, the redirect URI, client authentication), so a flow test fails when the RP sends
//! the wrong thing, not only when it answers the wrong thing.

use crate::core::config::Config;
use crate::core::crypto::secret::{b64url, Secret};
use crate::core::flow::{App, Forward, Handled, Incoming, Io, Outcome, RequestHeaders};
use crate::core::http::{Clock, HttpClient, HttpError, HttpRequest, HttpResponse, KvStore, Random, StoreError};
use crate::core::oidc::authorize::pkce_challenge;
use crate::core::oidc::client_auth::basic_auth;
use crate::core::session::pending::{self, PendingLogin};
use crate::core::session::SealContext;
use crate::core::site::pages::Reply;

thread_local! {
    /// Every log line the harness's requests produced on this test's thread (log_tests.rs).
    pub static LOGGED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}
use jwt_compact::alg::Es256;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, Claims, Header};
use rand::Rng as _;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use url::Url;

type SigningKey = <Es256 as Algorithm>::SigningKey;

/// The fixed start time of every test.
pub const NOW: i64 = 1_700_000_000;
/// The RP's callback.
pub const REDIRECT_URI: &str = "https://rp.example/redirect_uri";
/// The RP's origin (the deployment sealed values are bound to).
pub const RP: &str = "https://rp.example";
/// The session cookie's name on https.
pub const SESSION: &str = "__Host-edge_oidc";
/// The single provider of most tests.
pub const ISSUER: &str = "https://op.example";
/// The statically registered client's secret (each provider's `CLIENT_SECRET_<NAME>`).
pub const CLIENT_SECRET: &str = "rp-secret";
/// One provider, a static client, a one-hour session.
pub const SINGLE: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},
    "session":{"lifetime_secs":3600},"public_paths":["/public/"]}"#;

// ---- clock, randomness, KV ----

/// A clock that only moves when told to.
pub struct TestClock(Cell<i64>);

impl TestClock {
    pub fn advance(&self, secs: i64) {
        self.0.set(self.0.get() + secs);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}

/// Deterministic bytes: every call gives different output (a counter mixed with the position).
#[derive(Default)]
pub struct CounterRandom(Cell<u64>);

impl Random for CounterRandom {
    fn fill(&self, buf: &mut [u8]) {
        let n = self.0.get() + 1;
        self.0.set(n);
        let seed = n.to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % 8] ^ (i as u8).wrapping_mul(37);
        }
    }
}

/// Workers KV in memory: expiry follows the test clock, every call is counted, and the whole
/// store can be made to fail.
pub struct MemKv {
    clock: Rc<TestClock>,
    map: RefCell<HashMap<String, (String, i64)>>,
    log: RefCell<Vec<(&'static str, String)>>,
    pub gets: Cell<usize>,
    pub puts: Cell<usize>,
    pub deletes: Cell<usize>,
    pub failing: Cell<bool>,
}

impl MemKv {
    fn new(clock: Rc<TestClock>) -> MemKv {
        MemKv {
            clock,
            map: RefCell::default(),
            log: RefCell::default(),
            gets: Cell::new(0),
            puts: Cell::new(0),
            deletes: Cell::new(0),
            failing: Cell::new(false),
        }
    }

    /// (gets, puts, deletes) so far.
    pub fn ops(&self) -> (usize, usize, usize) {
        (self.gets.get(), self.puts.get(), self.deletes.get())
    }

    /// How often the app called `op` ("get", "put", "delete") for `key`.
    pub fn calls(&self, op: &str, key: &str) -> usize {
        self.log.borrow().iter().filter(|(o, k)| *o == op && k == key).count()
    }

    /// A live value, looked at without counting (the test's view, not the app's).
    pub fn peek(&self, key: &str) -> Option<String> {
        let now = self.clock.now();
        self.map
            .borrow()
            .get(key)
            .filter(|(_, expires)| now < *expires)
            .map(|(v, _)| v.clone())
    }

    /// Seconds until `key` expires.
    pub fn ttl(&self, key: &str) -> Option<i64> {
        self.map
            .borrow()
            .get(key)
            .map(|(_, expires)| expires - self.clock.now())
    }

    /// Writes without counting (test setup).
    pub fn seed(&self, key: &str, value: &str, ttl: i64) {
        let expires = self.clock.now() + ttl;
        self.map
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), expires));
    }

    /// Live keys starting with `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let now = self.clock.now();
        let mut keys: Vec<String> = self
            .map
            .borrow()
            .iter()
            .filter(|(k, (_, expires))| k.starts_with(prefix) && now < *expires)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    fn check(&self) -> Result<(), StoreError> {
        match self.failing.get() {
            true => Err(StoreError("the namespace is unavailable".into())),
            false => Ok(()),
        }
    }
}

impl KvStore for MemKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        self.log.borrow_mut().push(("get", key.to_owned()));
        self.check()?;
        Ok(self.peek(key))
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        self.puts.set(self.puts.get() + 1);
        self.log.borrow_mut().push(("put", key.to_owned()));
        self.check()?;
        // Workers KV refuses expirations under 60 s; the app must never ask for one.
        assert!(ttl_secs >= 60, "KV put of {key} with ttl {ttl_secs} < 60");
        self.seed(key, value, i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.deletes.set(self.deletes.get() + 1);
        self.log.borrow_mut().push(("delete", key.to_owned()));
        self.check()?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    /// Counted and logged as a put (`put_bg` in the log); a failure is dropped, as the shell
    /// only logs it.
    fn put_background(&self, key: &str, value: &str, ttl_secs: u64) {
        self.puts.set(self.puts.get() + 1);
        self.log.borrow_mut().push(("put_bg", key.to_owned()));
        if self.check().is_ok() {
            assert!(ttl_secs >= 60, "KV put of {key} with ttl {ttl_secs} < 60");
            self.seed(key, value, i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        }
    }
}

// ---- the network and the fake provider ----

/// Outbound HTTP: routes each request by URL to the provider whose issuer it starts with,
/// logs it, and can be told to fail for a URL.
pub struct Net {
    pub ops: Vec<FakeOp>,
    log: RefCell<Vec<HttpRequest>>,
    failures: RefCell<HashMap<String, HttpError>>,
    /// URL → how many more requests to it fail (with a connection error) before it answers.
    flaky: RefCell<HashMap<String, usize>>,
}

impl Net {
    /// Requests sent to exactly this URL.
    pub fn count(&self, url: &str) -> usize {
        self.log.borrow().iter().filter(|r| r.url == url).count()
    }

    /// All requests sent.
    pub fn total(&self) -> usize {
        self.log.borrow().len()
    }

    /// From now on, requests to `url` fail with `error`.
    pub fn fail(&self, url: &str, error: HttpError) {
        self.failures.borrow_mut().insert(url.to_owned(), error);
    }

    /// The next `times` requests to `url` fail with a connection error.
    pub fn fail_times(&self, url: &str, times: usize) {
        self.flaky.borrow_mut().insert(url.to_owned(), times);
    }
}

impl HttpClient for Net {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.log.borrow_mut().push(request.clone());
        if let Some(e) = self.failures.borrow().get(&request.url) {
            return Err(e.clone());
        }
        if let Some(left) = self.flaky.borrow_mut().get_mut(&request.url).filter(|n| **n > 0) {
            *left -= 1;
            return Err(HttpError::Network("connection reset".into()));
        }
        match self
            .ops
            .iter()
            .find(|op| request.url.starts_with(&format!("{}/", op.issuer)))
        {
            Some(op) => Ok(op.serve(&request)),
            None => Err(HttpError::Network(format!("no route to {}", request.url))),
        }
    }
}

/// How the fake provider answers registration requests.
#[derive(Debug, Clone, Copy)]
pub enum Registration {
    /// 201 with a new client; the secret expires after this many seconds (`None`: never).
    Accept { lifetime_secs: Option<i64> },
    /// 400 `invalid_client_metadata`.
    Refuse,
}

/// What the authorization endpoint handed out for a code.
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
}

/// A fake OpenID Provider. Signs ES256 ID tokens with keys made at setup: key 0 is published
/// and signs; [`FakeOp::rotate`] moves signing to the next key and publishes it.
pub struct FakeOp {
    pub issuer: String,
    clock: Rc<TestClock>,
    keys: Vec<(String, SigningKey)>,
    signing: Cell<usize>,
    published: RefCell<Vec<usize>>,
    /// Whether the metadata lists an `end_session_endpoint`.
    pub end_session: Cell<bool>,
    pub registration: Cell<Registration>,
    /// Bodies of the registration requests received.
    pub registrations: RefCell<Vec<Value>>,
    /// Misbehaviour: put this nonce into ID tokens instead of the requested one.
    pub nonce_override: RefCell<Option<String>>,
    /// Extra claims for ID tokens.
    pub extra_claims: RefCell<serde_json::Map<String, Value>>,
    /// Extra claims for UserInfo responses.
    pub userinfo_claims: RefCell<serde_json::Map<String, Value>>,
    /// Like Entra's multi-tenant authorities: (issuer template with `{tenantid}`, the user's
    /// tenant id). The metadata names the template, ID tokens and the `iss` parameter the tenant's
    /// issuer, and ID tokens carry `tid`.
    pub tenant: RefCell<Option<(String, String)>>,
    /// Whether the authorization response carries RFC 9207 `iss`.
    pub send_iss: Cell<bool>,
    /// client_id → secret (`None`: public client).
    clients: RefCell<HashMap<String, Option<String>>>,
    codes: RefCell<HashMap<String, Grant>>,
    pub access_tokens: RefCell<Vec<String>>,
    /// Every ID token issued, in order.
    pub id_tokens: RefCell<Vec<String>>,
    counter: Cell<u32>,
    /// RFC 9126: the metadata says `require_pushed_authorization_requests`, and the
    /// authorization endpoint takes only pushed requests.
    pub require_par: Cell<bool>,
    /// Misbehaviour: the PAR endpoint answers this.
    pub par_refusal: RefCell<Option<HttpResponse>>,
    /// The form bodies of the pushed authorization requests received.
    pub par_requests: RefCell<Vec<Vec<(String, String)>>>,
    /// Pushed requests not used yet, by `request_uri`.
    pushed: RefCell<HashMap<String, Vec<(String, String)>>>,
    /// Misbehaviour: changes the claims of ID tokens from the authorization endpoint.
    #[allow(clippy::type_complexity)]
    pub front_claims: RefCell<Option<Box<dyn Fn(&mut serde_json::Map<String, Value>)>>>,
    /// Whether the token endpoint issues refresh tokens (rotated at every use, RFC 6749 §10.4).
    pub issue_refresh_tokens: Cell<bool>,
    /// The refresh tokens that may still be redeemed, with their client.
    refresh_tokens: RefCell<HashMap<String, String>>,
    /// Refresh token grants answered with new tokens.
    pub refreshes: Cell<usize>,
    /// The name UserInfo returns.
    pub userinfo_name: RefCell<String>,
}

fn random_p256() -> SigningKey {
    // A random 32-byte string is a valid scalar except with ~2^-32 odds.
    loop {
        if let Ok(k) = SigningKey::from_slice(&rand::thread_rng().gen::<[u8; 32]>()) {
            return k;
        }
    }
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: Some("application/json".into()),
        body: body.to_string().into_bytes(),
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    json_response(status, &json!({ "error": error, "error_description": description }))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

impl FakeOp {
    fn new(issuer: &str, clock: Rc<TestClock>) -> FakeOp {
        let mut clients = HashMap::new();
        clients.insert("rp".to_owned(), Some(CLIENT_SECRET.to_owned()));
        FakeOp {
            issuer: issuer.to_owned(),
            clock,
            keys: (1..=3).map(|i| (format!("key-{i}"), random_p256())).collect(),
            signing: Cell::new(0),
            published: RefCell::new(vec![0]),
            end_session: Cell::new(true),
            registration: Cell::new(Registration::Accept { lifetime_secs: None }),
            registrations: RefCell::default(),
            nonce_override: RefCell::default(),
            extra_claims: RefCell::default(),
            userinfo_claims: RefCell::default(),
            tenant: RefCell::default(),
            send_iss: Cell::new(true),
            clients: RefCell::new(clients),
            codes: RefCell::default(),
            access_tokens: RefCell::default(),
            id_tokens: RefCell::default(),
            counter: Cell::new(0),
            require_par: Cell::new(false),
            par_refusal: RefCell::default(),
            par_requests: RefCell::default(),
            pushed: RefCell::default(),
            front_claims: RefCell::default(),
            issue_refresh_tokens: Cell::new(false),
            refresh_tokens: RefCell::default(),
            refreshes: Cell::new(0),
            userinfo_name: RefCell::new("Zoë Alice".into()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The issuer the discovery document names (the template, for a tenant provider).
    fn metadata_issuer(&self) -> String {
        match &*self.tenant.borrow() {
            Some((template, _)) => template.clone(),
            None => self.issuer.clone(),
        }
    }

    /// The issuer ID tokens and the `iss` parameter name (the tenant's own, for a tenant
    /// provider).
    pub fn token_issuer(&self) -> String {
        match &*self.tenant.borrow() {
            Some((template, tid)) => template.replace("{tenantid}", tid),
            None => self.issuer.clone(),
        }
    }

    /// Signs with the next key from now on and publishes it (the old key stays published).
    pub fn rotate(&self) {
        let next = self.signing.get() + 1;
        assert!(next < self.keys.len(), "no more test keys");
        self.signing.set(next);
        self.published.borrow_mut().push(next);
    }

    fn next(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        self.counter.get()
    }

    /// The provider's login page, with the user consenting, for a code flow answered in the
    /// query: the URL the browser is sent back to (see [`FakeOp::respond`]).
    pub fn authorize(&self, auth: &Url) -> Url {
        match self.respond(auth) {
            Front::Query(back) => back,
            other => panic!("not a query response: {other:?}"),
        }
    }

    fn serve(&self, req: &HttpRequest) -> HttpResponse {
        let path = req.url.strip_prefix(&self.issuer).unwrap_or_default();
        match (req.method, path) {
            ("GET", "/.well-known/openid-configuration") => json_response(200, &self.metadata()),
            ("GET", "/jwks") => json_response(200, &self.jwks()),
            ("POST", "/token") => self.token(req),
            ("GET", "/userinfo") => self.userinfo(req),
            ("POST", "/register") => self.register(req),
            ("POST", "/par") => self.par(req),
            _ => oauth_error(404, "not_found", req.url.as_str()),
        }
    }

    fn metadata(&self) -> Value {
        let mut m = json!({
            "issuer": self.metadata_issuer(),
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "jwks_uri": self.url("/jwks"),
            "userinfo_endpoint": self.url("/userinfo"),
            "registration_endpoint": self.url("/register"),
            "authorization_response_iss_parameter_supported": self.send_iss.get(),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "pushed_authorization_request_endpoint": self.url("/par"),
            "require_pushed_authorization_requests": self.require_par.get(),
        });
        if self.end_session.get() {
            m["end_session_endpoint"] = json!(self.url("/logout"));
        }
        m
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .published
            .borrow()
            .iter()
            .map(|&i| {
                let (kid, key) = &self.keys[i];
                let mut jwk = serde_json::to_value(JsonWebKey::from(key.verifying_key())).unwrap();
                jwk["kid"] = json!(kid);
                jwk["alg"] = json!("ES256");
                jwk["use"] = json!("sig");
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    /// RFC 6749 §4.1.3 / RFC 7636 §4.6: single-use code, client authentication, PKCE verifier,
    /// redirect URI.
    fn token(&self, req: &HttpRequest) -> HttpResponse {
        let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let field = |k: &str| form.get(k).map(String::as_str);
        if field("grant_type") == Some("refresh_token") {
            return self.refresh(req, &form);
        }
        if field("grant_type") != Some("authorization_code") {
            return oauth_error(400, "unsupported_grant_type", "only authorization_code");
        }
        let Some(grant) = field("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
            return oauth_error(400, "invalid_grant", "unknown or already used code");
        };
        if !self.authenticated(req, &form, &grant.client_id) {
            return oauth_error(401, "invalid_client", "client authentication failed");
        }
        if field("code_verifier").map(pkce_challenge) != Some(grant.challenge.clone()) {
            return oauth_error(400, "invalid_grant", "PKCE verification failed");
        }
        if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
            return oauth_error(400, "invalid_grant", "redirect_uri does not match");
        }
        let now = self.clock.now();
        let nonce = self.nonce_override.borrow().clone().unwrap_or(grant.nonce);
        let mut claims = json!({
            "iss": self.token_issuer(), "sub": "alice", "aud": grant.client_id, "exp": now + 300, "iat": now,
            "nonce": nonce, "email": "alice@example.com", "email_verified": true,
        });
        if let (Some(obj), Some((_, tid))) = (claims.as_object_mut(), &*self.tenant.borrow()) {
            obj.insert("tid".into(), json!(tid));
        }
        if let Some(obj) = claims.as_object_mut() {
            obj.extend(self.extra_claims.borrow().clone());
        }
        self.tokens(claims, &grant.client_id)
    }

    /// Client authentication as the client registered (basic or post).
    fn authenticated(&self, req: &HttpRequest, form: &HashMap<String, String>, client_id: &str) -> bool {
        let secret = self.clients.borrow().get(client_id).cloned().flatten();
        match header(req, "authorization") {
            Some(h) => secret.is_some_and(|s| h == basic_auth(client_id, &Secret::new(s))),
            None => {
                form.get("client_id").map(String::as_str) == Some(client_id)
                    && form.get("client_secret").map(String::as_str) == secret.as_deref()
            }
        }
    }

    /// A token response with an ID token of `claims` (and a refresh token when they are on).
    fn tokens(&self, claims: Value, client_id: &str) -> HttpResponse {
        let id_token = self.sign(claims);
        self.id_tokens.borrow_mut().push(id_token.clone());
        let access_token = format!("at-{}", self.next());
        self.access_tokens.borrow_mut().push(access_token.clone());
        let mut body =
            json!({ "access_token": access_token, "token_type": "Bearer", "id_token": id_token, "expires_in": 3600 });
        if self.issue_refresh_tokens.get() {
            let rt = format!("rt-{}", self.next());
            self.refresh_tokens
                .borrow_mut()
                .insert(rt.clone(), client_id.to_owned());
            body["refresh_token"] = json!(rt);
        }
        json_response(200, &body)
    }

    /// RFC 6749 §6 with rotation: the token is spent; Core §12.2: a new ID token for the same
    /// user, without nonce.
    fn refresh(&self, req: &HttpRequest, form: &HashMap<String, String>) -> HttpResponse {
        let token = form.get("refresh_token").cloned().unwrap_or_default();
        let Some(client_id) = self.refresh_tokens.borrow_mut().remove(&token) else {
            return oauth_error(400, "invalid_grant", "unknown, revoked or already used refresh token");
        };
        if !self.authenticated(req, form, &client_id) {
            return oauth_error(401, "invalid_client", "client authentication failed");
        }
        self.refreshes.set(self.refreshes.get() + 1);
        let now = self.clock.now();
        let mut claims = json!({
            "iss": self.issuer, "sub": "alice", "aud": client_id, "exp": now + 300, "iat": now,
            "email": "alice@example.com", "email_verified": true,
        });
        if let Some(obj) = claims.as_object_mut() {
            obj.extend(self.extra_claims.borrow().clone());
        }
        self.tokens(claims, &client_id)
    }

    /// Revokes every refresh token (the user's grant ended at the provider).
    pub fn revoke_refresh_tokens(&self) {
        self.refresh_tokens.borrow_mut().clear();
    }

    /// A logout token (Back-Channel Logout §2.4) with these claims, signed with the current key.
    pub fn logout_token(&self, claims: Value) -> String {
        let (kid, key) = &self.keys[self.signing.get()];
        let Value::Object(claims) = claims else {
            panic!("claims must be an object")
        };
        let header = Header::empty().with_key_id(kid.as_str()).with_token_type("logout+jwt");
        Es256.token(&header, &Claims::new(claims), key).unwrap()
    }

    /// `client_secret_basic` or `client_secret_post` as `client_id` (public clients: none).
    fn client_authenticated(&self, req: &HttpRequest, form: &HashMap<String, String>, client_id: &str) -> bool {
        let field = |k: &str| form.get(k).map(String::as_str);
        let secret = self.clients.borrow().get(client_id).cloned().flatten();
        match header(req, "authorization") {
            Some(h) => secret.is_some_and(|s| h == basic_auth(client_id, &Secret::new(s))),
            None => field("client_id") == Some(client_id) && field("client_secret") == secret.as_deref(),
        }
    }

    fn sign(&self, claims: Value) -> String {
        let (kid, key) = &self.keys[self.signing.get()];
        let Value::Object(claims) = claims else {
            panic!("claims must be an object")
        };
        Es256
            .token(&Header::empty().with_key_id(kid.as_str()), &Claims::new(claims), key)
            .unwrap()
    }

    /// Core §5.3: the name comes only from here, so the flow tests see UserInfo being used.
    fn userinfo(&self, req: &HttpRequest) -> HttpResponse {
        let token = header(req, "authorization").and_then(|h| h.strip_prefix("Bearer "));
        if !token.is_some_and(|t| self.access_tokens.borrow().iter().any(|a| a == t)) {
            return oauth_error(401, "invalid_token", "unknown access token");
        }
        let mut claims = json!({ "sub": "alice", "name": *self.userinfo_name.borrow(), "email": "alice@example.com" });
        if let Some(obj) = claims.as_object_mut() {
            obj.extend(self.userinfo_claims.borrow().clone());
        }
        json_response(200, &claims)
    }

    /// Dynamic Client Registration §3.
    fn register(&self, req: &HttpRequest) -> HttpResponse {
        let body: Value = serde_json::from_str(req.body.as_deref().unwrap_or("")).unwrap_or(Value::Null);
        self.registrations.borrow_mut().push(body.clone());
        let Registration::Accept { lifetime_secs } = self.registration.get() else {
            return oauth_error(400, "invalid_client_metadata", "contacts are required");
        };
        let n = 1 + self.clients.borrow().keys().filter(|c| c.starts_with("dyn-")).count();
        let (client_id, secret) = (format!("dyn-{n}"), format!("dyn-secret-{n}"));
        self.clients
            .borrow_mut()
            .insert(client_id.clone(), Some(secret.clone()));
        json_response(
            201,
            &json!({
                "client_id": client_id,
                "client_secret": secret,
                "client_secret_expires_at": lifetime_secs.map_or(0, |l| self.clock.now() + l),
                "token_endpoint_auth_method": body["token_endpoint_auth_method"],
                "redirect_uris": body["redirect_uris"],
            }),
        )
    }
}

#[path = "test_op_front.rs"]
mod front;
pub use front::{relay_fields, Front};

// ---- the browser ----

/// A browser's cookies for the RP's origin.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn set(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// The names of the cookies it holds.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.cookies.keys().cloned()
    }

    /// The `Cookie` header it sends.
    pub fn header(&self) -> Option<String> {
        let pairs: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Applies the `Set-Cookie` headers of a reply (`Max-Age=0` deletes).
    pub fn store(&mut self, reply: &Reply) {
        for (_, value) in reply.headers.iter().filter(|(n, _)| *n == "set-cookie") {
            let pair = value.split(';').next().unwrap_or_default();
            let (name, v) = pair.split_once('=').expect("name=value");
            if value.contains("; Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
        }
    }

    /// A top-level navigation (GET) to `url`.
    pub fn navigate(&self, url: &str) -> Incoming {
        Incoming {
            method: "GET".into(),
            url: Url::parse(url).expect("test URL"),
            headers: RequestHeaders {
                cookie: self.header(),
                accept: Some("text/html,application/xhtml+xml".into()),
                sec_fetch_mode: Some("navigate".into()),
                sec_fetch_site: Some("none".into()),
                ..RequestHeaders::default()
            },
            body: None,
        }
    }

    /// A `fetch()` from a page of the site.
    pub fn fetch(&self, method: &str, url: &str) -> Incoming {
        Incoming {
            method: method.into(),
            url: Url::parse(url).expect("test URL"),
            headers: RequestHeaders {
                cookie: self.header(),
                accept: Some("application/json".into()),
                sec_fetch_mode: Some("cors".into()),
                sec_fetch_site: Some("same-origin".into()),
                ..RequestHeaders::default()
            },
            body: None,
        }
    }
}

/// The first value of a query parameter.
pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `url` with parameter `name` set to `value` (or removed), other parameters kept in order.
pub fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != name).collect();
    let mut out = url.clone();
    {
        let mut q = out.query_pairs_mut();
        q.clear().extend_pairs(&pairs);
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    out
}

/// The `Set-Cookie` values of a reply.
pub fn set_cookies(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| *n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect()
}

// ---- the harness ----

/// One isolate's [`App`] plus the I/O it sees. Isolates made with [`Harness::new_isolate`]
/// share the network, KV, clock and randomness, but not the in-memory caches.
pub struct Harness {
    pub app: App,
    config: String,
    cookie_key: String,
    pub net: Rc<Net>,
    pub kv: Rc<MemKv>,
    pub clock: Rc<TestClock>,
    random: Rc<CounterRandom>,
}

fn build_app(config: &str, cookie_key: &str) -> App {
    let secret = |name: &str| match name {
        "COOKIE_KEYS" => Some(cookie_key.to_owned()),
        n if n.starts_with("CLIENT_SECRET_") => Some(CLIENT_SECRET.to_owned()),
        "ASSERTION_KEY" => Some(super::origin_tests::ASSERTION_PEM.to_owned()),
        _ => None,
    };
    App::new(Config::from_json(config, &secret).expect("test configuration is valid"))
}

impl Harness {
    /// An isolate with this configuration and one fake provider per issuer.
    pub fn new(config: &str, issuers: &[&str]) -> Harness {
        let clock = Rc::new(TestClock(Cell::new(NOW)));
        let net = Rc::new(Net {
            ops: issuers.iter().map(|i| FakeOp::new(i, clock.clone())).collect(),
            log: RefCell::default(),
            failures: RefCell::default(),
            flaky: RefCell::default(),
        });
        let cookie_key = b64url(&rand::thread_rng().gen::<[u8; 32]>());
        Harness {
            app: build_app(config, &cookie_key),
            config: config.to_owned(),
            cookie_key,
            net,
            kv: Rc::new(MemKv::new(clock.clone())),
            clock,
            random: Rc::default(),
        }
    }

    /// [`SINGLE`] with its provider.
    pub fn single() -> Harness {
        Harness::new(SINGLE, &[ISSUER])
    }

    /// The same worker with `other`'s cookie keys (deployments that share `COOKIE_KEYS`).
    pub fn with_cookie_key(self, other: &Harness) -> Harness {
        Harness {
            app: build_app(&self.config, &other.cookie_key),
            cookie_key: other.cookie_key.clone(),
            ..self
        }
    }

    /// Another isolate of the same worker: same KV, network, clock; empty caches.
    pub fn new_isolate(&self) -> Harness {
        Harness {
            app: build_app(&self.config, &self.cookie_key),
            config: self.config.clone(),
            cookie_key: self.cookie_key.clone(),
            net: self.net.clone(),
            kv: self.kv.clone(),
            clock: self.clock.clone(),
            random: self.random.clone(),
        }
    }

    /// The first provider.
    pub fn op(&self) -> &FakeOp {
        &self.net.ops[0]
    }

    /// The provider a URL belongs to.
    pub fn op_for(&self, url: &Url) -> &FakeOp {
        let op = self
            .net
            .ops
            .iter()
            .find(|op| url.as_str().starts_with(&format!("{}/", op.issuer)));
        op.unwrap_or_else(|| panic!("no provider at {url}"))
    }

    pub fn handle(&self, req: &Incoming) -> Handled {
        let log = crate::core::log::EventLog::new(self.app.config().log_level);
        let io = Io {
            http: &*self.net,
            kv: &*self.kv,
            clock: &*self.clock,
            random: &*self.random,
            signatures: &crate::core::crypto::rust::RustCrypto,
            log: &log,
        };
        let handled = futures::executor::block_on(self.app.handle(req, &io));
        LOGGED.with_borrow_mut(|l| l.extend(handled.events.iter().map(|e| e.to_line())));
        handled
    }

    /// Handles the requests concurrently in this isolate (one page firing them at once).
    pub fn handle_all(&self, reqs: &[Incoming]) -> Vec<Handled> {
        let logs: Vec<crate::core::log::EventLog> = reqs
            .iter()
            .map(|_| crate::core::log::EventLog::new(self.app.config().log_level))
            .collect();
        let ios: Vec<_> = logs
            .iter()
            .map(|log| Io {
                http: &*self.net,
                kv: &*self.kv,
                clock: &*self.clock,
                random: &*self.random,
                signatures: &crate::core::crypto::rust::RustCrypto,
                log,
            })
            .collect();
        futures::executor::block_on(futures::future::join_all(
            reqs.iter().zip(&ios).map(|(r, io)| self.app.handle(r, io)),
        ))
    }

    /// Handles a request that must be answered by the worker itself.
    pub fn reply(&self, req: &Incoming) -> Reply {
        match self.handle(req).outcome {
            Outcome::Reply(r) => r,
            Outcome::Forward(f) => panic!("expected a reply, got a forward: {f:?}"),
        }
    }

    /// Handles a request that must be passed on to the origin.
    pub fn forward(&self, req: &Incoming) -> Forward {
        match self.handle(req).outcome {
            Outcome::Forward(f) => f,
            Outcome::Reply(r) => panic!("expected a forward, got {} {:?}: {}", r.status, r.headers, r.body),
        }
    }

    /// Navigates to `url` without a session: must be sent to a provider. Returns the
    /// authorization URL; the browser keeps the login cookie.
    pub fn start_login(&self, browser: &mut Browser, url: &str) -> Url {
        let reply = self.reply(&browser.navigate(url));
        assert_eq!(reply.status, 302, "{}", reply.body);
        browser.store(&reply);
        Url::parse(reply.header("location").expect("location")).expect("absolute authorization URL")
    }

    /// The browser arrives at the callback URL.
    pub fn callback(&self, browser: &mut Browser, callback: &Url) -> Reply {
        let reply = self.reply(&browser.navigate(callback.as_str()));
        browser.store(&reply);
        reply
    }

    /// A whole login starting at `url`; returns the callback's reply (302 back to `url`).
    pub fn login(&self, browser: &mut Browser, url: &str) -> Reply {
        let auth = self.start_login(browser, url);
        let back = self.op_for(&auth).authorize(&auth);
        let reply = self.callback(browser, &back);
        assert_eq!(reply.status, 302, "{}", reply.body);
        reply
    }

    /// The pending login the browser holds for an authorization URL's `state`.
    pub fn pending(&self, browser: &Browser, auth: &Url) -> Option<PendingLogin> {
        let state = query(auth, "state")?;
        let name = pending::cookie_name(SESSION, &state)?;
        let value = browser.get(&name)?;
        PendingLogin::open(&self.app.config.sealer, value, &name, RP, Some(&state), |p| {
            self.app.issuer_of(p)
        })
        .ok()
    }

    /// Changes the pending login the browser holds for `auth` (sealed again with the app's key,
    /// as the app itself would).
    pub fn rewrite_pending(&self, browser: &mut Browser, auth: &Url, change: impl FnOnce(&mut PendingLogin)) {
        let mut login = self.pending(browser, auth).expect("a pending login");
        change(&mut login);
        let state = query(auth, "state").expect("state");
        let name = pending::cookie_name(SESSION, &state).expect("cookie name");
        let issuer = self.app.issuer_of(&login.provider).expect("provider");
        let context = SealContext {
            kind: "pending",
            name: &name,
            deployment: RP,
            issuer,
        };
        let value = login.seal(&self.app.config.sealer, &context, [9; 24]).expect("seal");
        browser.set(&name, &value);
    }

    /// The names of the pending-login cookies the browser holds.
    pub fn pending_cookies(&self, browser: &Browser) -> Vec<String> {
        browser
            .names()
            .filter(|n| pending::is_pending_cookie(n, SESSION))
            .collect()
    }
}
