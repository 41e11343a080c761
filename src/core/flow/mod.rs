//! Request handling: routes a request to the callback, logout, login or the session gate,
//! with all I/O through [`Io`]. The edge shell converts Workers types to [`Incoming`] and
//! carries out the [`Outcome`].

mod callback;
mod client;
mod gate;
mod login;
mod logout;
mod provider;

use crate::core::config::Config;
use crate::core::crypto::Signatures;
use crate::core::error::{AppError, FaultClass};
use crate::core::http::{Clock, HttpClient, KvStore, Random};
use crate::core::session::cookies::{CookieAttrs, SameSite};
use crate::core::site::pages::Reply;
use provider::ProviderCache;
use url::Url;

/// The parts of an incoming request the core looks at.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Method, upper-case.
    pub method: String,
    /// The full request URL.
    pub url: Url,
    /// `Cookie` header.
    pub cookie: Option<String>,
    /// `Accept` header.
    pub accept: Option<String>,
    /// `Sec-Fetch-Mode` header.
    pub sec_fetch_mode: Option<String>,
    /// `X-Requested-With` header.
    pub x_requested_with: Option<String>,
}

impl Incoming {
    /// A browser navigation (gets redirects and HTML) rather than `fetch`/XHR or a non-GET
    /// (gets 401 JSON): Fetch Metadata when the browser sends it, else the `Accept` header.
    pub fn is_navigation(&self) -> bool {
        if !matches!(self.method.as_str(), "GET" | "HEAD") || self.x_requested_with.is_some() {
            return false;
        }
        match self.sec_fetch_mode.as_deref() {
            Some(mode) => mode.eq_ignore_ascii_case("navigate"),
            None => self.accept.as_deref().is_some_and(|a| a.contains("text/html")),
        }
    }

    fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }
}

/// What the edge shell must do with the request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer with this response.
    Reply(Reply),
    /// Pass the request on to the origin (or static assets), changed as described.
    Forward(Forward),
}

/// How to change a request before it goes to the origin.
#[derive(Debug, Default)]
pub struct Forward {
    /// The `Cookie` header to send (ours removed); `None`: no Cookie header at all.
    pub cookie: Option<String>,
    /// Header names (lower-case) to remove first: client-sent copies of identity headers.
    pub remove_headers: Vec<String>,
    /// Identity headers to add.
    pub add_headers: Vec<(String, String)>,
    /// `Set-Cookie` values to add to the origin's response.
    pub set_cookies: Vec<String>,
}

/// The result of handling one request, plus a line for the log when something failed that
/// an operator should see.
#[derive(Debug)]
pub struct Handled {
    /// What to do.
    pub outcome: Outcome,
    /// A log line (never holds secrets).
    pub log: Option<String>,
}

/// The I/O of one request.
pub struct Io<'a, H, K> {
    /// Outbound HTTP.
    pub http: &'a H,
    /// Workers KV.
    pub kv: &'a K,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Randomness.
    pub random: &'a dyn Random,
    /// Signature verification and signing (WebCrypto in the worker).
    pub signatures: &'a dyn Signatures,
}

/// The relying party of one isolate: validated configuration plus provider caches.
pub struct App {
    config: Config,
    cache: ProviderCache,
    login_cookie: String,
}

impl App {
    /// Builds the app from a validated configuration.
    pub fn new(config: Config) -> App {
        let login_cookie = format!("{}_login", config.session.cookie_name);
        App {
            config,
            cache: ProviderCache::default(),
            login_cookie,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one request. Never fails: errors become error responses.
    pub async fn handle<H: HttpClient, K: KvStore>(&self, req: &Incoming, io: &Io<'_, H, K>) -> Handled {
        match self.route(req, io).await {
            Ok(outcome) => Handled { outcome, log: None },
            Err(e) => {
                let log = match e.class() {
                    FaultClass::Client => None,
                    FaultClass::Upstream | FaultClass::Internal => {
                        Some(format!("{} {}: {e}", req.method, req.url.path()))
                    }
                };
                Handled {
                    outcome: Outcome::Reply(e.to_reply(!req.is_navigation())),
                    log,
                }
            }
        }
    }

    async fn route<H: HttpClient, K: KvStore>(&self, req: &Incoming, io: &Io<'_, H, K>) -> Result<Outcome, AppError> {
        let path = req.url.path();
        let c = &self.config;
        if path == c.redirect_path {
            return self.callback(req, io).await.map(Outcome::Reply);
        }
        if path == c.logout_path {
            return self.logout(req, io).await.map(Outcome::Reply);
        }
        if path == c.logged_out_path {
            return Ok(Outcome::Reply(logout::logged_out_page()));
        }
        if path == c.jwks_path && c.publishes_jwks() {
            return Ok(Outcome::Reply(self.jwks_document()));
        }
        if path == c.login_path {
            return self.login_endpoint(req, io).await.map(Outcome::Reply);
        }
        self.gate(req, io).await
    }

    /// The worker's public keys for `private_key_jwt` (RFC 7517 JWK Set).
    fn jwks_document(&self) -> Reply {
        let keys = self.config.providers.iter().filter_map(|p| p.private_key.as_deref());
        Reply {
            status: 200,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "public, max-age=300".to_owned()),
            ],
            body: crate::core::oidc::client_auth::public_jwks(keys),
        }
    }

    fn cookie_attrs(&self, req: &Incoming, max_age: Option<u64>) -> CookieAttrs {
        CookieAttrs {
            path: "/".to_owned(),
            secure: req.url.scheme() == "https",
            http_only: true,
            // Lax: the callback is a top-level cross-site GET navigation, which Lax allows.
            same_site: SameSite::Lax,
            max_age,
        }
    }

    fn session_attrs(&self, req: &Incoming) -> CookieAttrs {
        let s = &self.config.session;
        self.cookie_attrs(req, s.permanent.then_some(s.lifetime_secs))
    }

    fn is_our_cookie(&self, name: &str) -> bool {
        let base = &self.config.session.cookie_name;
        name == self.login_cookie
            || name.strip_prefix(base.as_str()).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix('.')
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
    }
}

fn nonce24(random: &dyn Random) -> [u8; 24] {
    let mut n = [0u8; 24];
    random.fill(&mut n);
    n
}

/// Resolves a configured path or URL against the request's origin.
fn absolute(req: &Incoming, path_or_url: &str) -> String {
    match req.url.join(path_or_url) {
        Ok(u) => u.to_string(),
        Err(_) => path_or_url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
