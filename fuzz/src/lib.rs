//! Shared fixtures of the fuzz targets: fixed keys (so seeds stay valid across runs), a
//! configuration, and in-memory I/O for driving `App::handle` without a network.
//!
//! Everything here is deterministic: the same input always takes the same path, which libFuzzer
//! needs to attribute coverage and to reproduce a crash.

use edge_oidc::core::config::Config;
use edge_oidc::core::crypto::secret::Secret;
use edge_oidc::core::flow::{App, Incoming, Io, Outcome, RequestHeaders};
use edge_oidc::core::http::{Clock, HttpClient, HttpError, HttpRequest, HttpResponse, KvStore, Random, StoreError};
use edge_oidc::core::oidc::response::{ResponseMode, ResponseType};
use edge_oidc::core::session::pending::{self, PendingLogin};
use edge_oidc::core::session::SealContext;
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPrivateKey, SigningKey as _};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, Claims, Header};
use rand::SeedableRng;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::OnceLock;
use url::Url;

pub use edge_oidc;

pub mod path_model;
pub mod rules_model;

/// The fixed time of every run (unix seconds).
pub const NOW: i64 = 1_700_000_000;
pub const ISSUER: &str = "https://op.example";
pub const CLIENT_ID: &str = "edge-fuzz";
pub const CLIENT_SECRET: &str = "fuzz-secret";
pub const RP: &str = "https://rp.example";
/// The pending login of the `request` target (its cookie: [`pending_cookie`]).
pub const STATE: &str = "state-fuzz-0123456789012345678901234567890";
/// The pending login of the `form_post` target (its cookie: [`form_post_pending_cookie`]).
pub const STATE_POST: &str = "statepost-fuzz-012345678901234567890123456";
pub const NONCE: &str = "nonce-fuzz-0123456789012345678901234567890";
pub const VERIFIER: &str = "verifier-fuzz-0123456789012345678901234567";
/// The session cookie's name on https (the RP is https).
pub const SESSION: &str = "__Host-edge_oidc";
/// base64url of 32 bytes 0x2a.
pub const COOKIE_KEYS: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio";

type P256Sk = <Es256 as Algorithm>::SigningKey;
type EdSk = <Ed25519 as Algorithm>::SigningKey;

/// The provider's signing keys.
pub struct Keys {
    pub rsa: RsaPrivateKey,
    pub ec: P256Sk,
    pub ed: EdSk,
}

/// Fixed keys: RSA from a seeded generator, EC and Ed25519 from fixed scalars.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0000_ed9e_01dc);
        Keys {
            rsa: RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation"),
            ec: P256Sk::from_slice(&[7u8; 32]).expect("P-256 scalar"),
            ed: EdSk::from_slice(&[9u8; 32]).expect("Ed25519 seed"),
        }
    })
}

/// A JWK as JSON with extra members.
fn jwk(key: JsonWebKey<'_>, extra: Value) -> Value {
    let mut v = serde_json::to_value(&key).expect("JWK to JSON");
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// The provider's JWKS: one key per type plus keys that must be skipped.
pub fn jwks_json() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        let k = keys();
        json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac-1"},
            {"kty": "XYZ", "kid": "future"},
            jwk(JsonWebKey::from(&k.rsa.to_public_key()), json!({"kid": "rsa-1", "use": "sig", "alg": "RS256"})),
            jwk(JsonWebKey::from(k.ec.verifying_key()), json!({"kid": "ec-1", "alg": "ES256"})),
            jwk(JsonWebKey::from(&k.ed.verifying_key()), json!({"kid": "ed-1", "use": "sig"})),
        ]})
        .to_string()
    })
}

/// Valid ID token claims for the pending login.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": CLIENT_ID, "exp": NOW + 300, "iat": NOW - 5,
        "nonce": NONCE, "email": "alice@example.com", "email_verified": true, "name": "Alice",
    })
}

/// A compact JWS over `claims`, signed with the fixed key of `alg` ("RS256", "ES256", "EdDSA").
pub fn sign(alg: &str, kid: Option<&str>, claims: &Value) -> String {
    let header = match kid {
        Some(kid) => Header::empty().with_key_id(kid),
        None => Header::empty(),
    };
    let claims = Claims::new(claims.clone());
    let k = keys();
    match alg {
        "RS256" => Rsa::rs256().token(&header, &claims, &k.rsa),
        "ES256" => Es256.token(&header, &claims, &k.ec),
        _ => Ed25519.token(&header, &claims, &k.ed),
    }
    .expect("signing")
}

/// [`sign`] with a `kid` and a `typ` header (the `bearer` target's RFC 9068 `at+jwt`).
pub fn sign_typed(alg: &str, kid: &str, typ: &str, claims: &Value) -> String {
    let header = Header::empty().with_key_id(kid).with_token_type(typ);
    let claims = Claims::new(claims.clone());
    let k = keys();
    match alg {
        "RS256" => Rsa::rs256().token(&header, &claims, &k.rsa),
        "ES256" => Es256.token(&header, &claims, &k.ec),
        _ => Ed25519.token(&header, &claims, &k.ed),
    }
    .expect("signing")
}

/// The configuration of the `request` target: one provider with static metadata.
pub fn config_json() -> String {
    json!({
        "providers": {"op": {
            "issuer": ISSUER, "client_id": CLIENT_ID,
            "metadata": {
                "authorization_endpoint": format!("{ISSUER}/authorize"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
                "userinfo_endpoint": format!("{ISSUER}/userinfo"),
                "end_session_endpoint": format!("{ISSUER}/logout"),
                "authorization_response_iss_parameter_supported": true
            }
        }},
        "public_paths": ["/public/"],
        "allowed_email_domains": ["example.com"],
    })
    .to_string()
}

/// Secrets for [`Config::from_json`].
pub fn secret(name: &str) -> Option<String> {
    match name {
        n if n.starts_with("CLIENT_SECRET") => Some(CLIENT_SECRET.to_owned()),
        "COOKIE_KEYS" => Some(COOKIE_KEYS.to_owned()),
        _ => None,
    }
}

/// A provider answer chosen by the fuzz input.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Canned {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.into(),
        }
    }
}

/// The provider: answers by URL from canned responses; anything else is a network error.
pub struct FakeHttp {
    pub token: Canned,
    pub userinfo: Canned,
    pub jwks: Canned,
    pub calls: Cell<u32>,
}

impl HttpClient for FakeHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.calls.set(self.calls.get() + 1);
        let canned = match request.url.strip_prefix(ISSUER) {
            Some("/token") => &self.token,
            Some("/userinfo") => &self.userinfo,
            Some("/jwks") => &self.jwks,
            _ => return Err(HttpError::Network("no such endpoint".into())),
        };
        if canned.status == 0 {
            return Err(HttpError::Timeout);
        }
        Ok(HttpResponse {
            status: canned.status,
            content_type: canned.content_type.clone(),
            body: canned.body.clone(),
        })
    }
}

/// Workers KV in memory (empty at the start of every input: pending logins are cookies).
#[derive(Default)]
pub struct MemKv {
    pub map: RefCell<HashMap<String, String>>,
}

/// The pending-login cookie (`name=value`) of the login with [`STATE`], sealed as the app
/// seals it, with the fixed keys.
pub fn pending_cookie() -> &'static str {
    static COOKIE: OnceLock<String> = OnceLock::new();
    COOKIE.get_or_init(|| seal_pending(STATE, ResponseMode::Query))
}

/// The pending-login cookie of the login with [`STATE_POST`], a `code` login answered by
/// form_post (the `form_post` target's).
pub fn form_post_pending_cookie() -> &'static str {
    static COOKIE: OnceLock<String> = OnceLock::new();
    COOKIE.get_or_init(|| seal_pending(STATE_POST, ResponseMode::FormPost))
}

fn seal_pending(state: &str, response_mode: ResponseMode) -> String {
    let keys = edge_oidc::core::session::seal::parse_key_list(COOKIE_KEYS).expect("keys");
    let sealer = edge_oidc::core::session::seal::Sealer::new(keys).expect("sealer");
    let name = pending::cookie_name(SESSION, state).expect("a state long enough");
    let login = PendingLogin {
        provider: "op".into(),
        state: Secret::new(state),
        nonce: Secret::new(NONCE),
        pkce_verifier: Secret::new(VERIFIER),
        return_to: "/after?x=1".into(),
        created_at: NOW - 30,
        client_id: None,
        response_type: ResponseType::Code,
        response_mode,
        refresh: None,
    };
    let context = SealContext {
        kind: "pending",
        name: &name,
        deployment: RP,
        issuer: ISSUER,
    };
    let value = login.seal(&sealer, &context, [5; 24]).expect("seal");
    format!("{name}={value}")
}

impl KvStore for MemKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: &str, _ttl_secs: u64) -> Result<(), StoreError> {
        self.map.borrow_mut().insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    fn put_background(&self, key: &str, value: &str, _ttl_secs: u64) {
        self.map.borrow_mut().insert(key.to_owned(), value.to_owned());
    }
}

pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        NOW
    }
}

/// Deterministic "randomness": a counter.
#[derive(Default)]
pub struct CounterRandom(Cell<u8>);

impl Random for CounterRandom {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.get();
            self.0.set(self.0.get().wrapping_add(1));
        }
    }
}

/// A valid token response for the pending login.
pub fn valid_token_response() -> &'static str {
    static BODY: OnceLock<String> = OnceLock::new();
    BODY.get_or_init(|| {
        json!({
            "access_token": "at-fuzz", "token_type": "Bearer", "expires_in": 300,
            "id_token": sign("EdDSA", Some("ed-1"), &claims()),
        })
        .to_string()
    })
}

/// Runs one request through a fresh app and returns the outcome.
pub fn handle(req: &Incoming, http: &FakeHttp, kv: &MemKv) -> Option<Outcome> {
    let config = Config::from_json(&config_json(), &secret).ok()?;
    let app = App::new(config);
    let io = Io {
        http,
        kv,
        clock: &FixedClock,
        random: &CounterRandom::default(),
        signatures: &edge_oidc::core::crypto::rust::RustCrypto,
        // Every event kept: building them is on the fuzzed paths too.
        log: &edge_oidc::core::log::EventLog::new(edge_oidc::core::log::LogLevel::Debug),
    };
    Some(futures::executor::block_on(app.handle(req, &io)).outcome)
}

/// The request URL the runtime would give for a request to the RP whose request target is
/// `path_query`: the host is always the RP's (the runtime serialises URLs in ASCII, see
/// `core::http::parse_ascii_url`), the path and query are the client's.
pub fn request_url(path_query: &str) -> Option<Url> {
    let mut url = Url::parse(RP).ok()?;
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    url.set_path(path);
    url.set_query(query);
    // What the shell does with the runtime's URL string.
    edge_oidc::core::http::parse_ascii_url(url.as_str())
}

/// A navigation to `path_query` on the RP with `cookie`.
pub fn navigation(path_query: &str, cookie: Option<String>) -> Option<Incoming> {
    Some(Incoming {
        method: "GET".into(),
        url: request_url(path_query)?,
        headers: RequestHeaders {
            cookie,
            accept: Some("text/html".into()),
            sec_fetch_mode: Some("navigate".into()),
            ..RequestHeaders::default()
        },
        body: None,
    })
}

/// The session cookie (`name=value; ...` pairs for a Cookie header) of a completed valid login,
/// made once by running the callback through the real flow.
pub fn valid_session_cookie() -> &'static str {
    static COOKIE: OnceLock<String> = OnceLock::new();
    COOKIE.get_or_init(|| {
        let http = FakeHttp {
            token: Canned::json(valid_token_response()),
            userinfo: Canned::json(r#"{"sub":"alice","email":"alice@example.com","email_verified":true}"#),
            jwks: Canned::json(jwks_json()),
            calls: Cell::new(0),
        };
        let kv = MemKv::default();
        let query = format!("/redirect_uri?code=c&state={STATE}&iss=https%3A%2F%2Fop.example");
        let req = navigation(&query, Some(pending_cookie().to_owned())).expect("callback URL");
        let Some(Outcome::Reply(reply)) = handle(&req, &http, &kv) else {
            panic!("the valid callback did not produce a reply");
        };
        assert_eq!(reply.status, 302, "valid callback failed: {}", reply.body);
        reply
            .headers
            .iter()
            .filter(|(n, v)| *n == "set-cookie" && v.starts_with(SESSION) && !v.starts_with(&format!("{SESSION}_s.")))
            .filter_map(|(_, v)| v.split(';').next())
            .filter(|pair| !pair.ends_with('='))
            .collect::<Vec<_>>()
            .join("; ")
    })
}
