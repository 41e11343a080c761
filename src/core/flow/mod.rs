//! Request handling: routes a request to the callback, logout, login or the session gate,
//! with all I/O through [`Io`]. The edge shell converts Workers types to [`Incoming`] and
//! carries out the [`Outcome`].

mod backchannel;
mod bearer;
mod callback;
mod client;
mod domain;
mod finish;
mod flight;
mod frontchannel;
mod gate;
mod login;
mod logout;
mod me;
mod origin;
mod provider;
mod refresh;
mod requirements;
mod silent;
mod upkeep;

use crate::core::config::{Config, PageKind, PageSource};
use crate::core::crypto::Signatures;
use crate::core::error::AppError;
use crate::core::http::{Clock, HttpClient, KvStore, Random};
use crate::core::log::{Event, EventLog};
use crate::core::oidc::response::MAX_BODY;
use crate::core::session::cache::IdentityCache;
use crate::core::session::cookies::{remove_cookie, CookieAttrs, CookieJar, SameSite};
use crate::core::session::pending::is_pending_cookie;
use crate::core::session::seal::{write_chunked, MAX_CHUNKS};
use crate::core::session::{Identity, SealContext};
use crate::core::site::pages::{html_page, json_error, Reply};
use crate::core::site::path::CanonicalPath;
use crate::core::site::templates::{PageValues, Templates};
use provider::ProviderCache;
use std::cell::Cell;
use std::rc::Rc;
use url::Url;

/// The request headers the core reads. The shell reads exactly [`REQUEST_HEADERS`], in that
/// order, and builds this with [`RequestHeaders::from_values`].
#[derive(Debug, Clone, Default)]
pub struct RequestHeaders {
    /// `Cookie`.
    pub cookie: Option<String>,
    /// `Accept`.
    pub accept: Option<String>,
    /// `Sec-Fetch-Mode` (Fetch Metadata).
    pub sec_fetch_mode: Option<String>,
    /// `Sec-Fetch-Site` (Fetch Metadata): `same-origin`, `same-site`, `cross-site` or `none`.
    pub sec_fetch_site: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `X-Requested-With`.
    pub x_requested_with: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Authorization` (bearer-token APIs).
    pub authorization: Option<String>,
    /// `Access-Control-Request-Method` (CORS preflights).
    pub access_control_request_method: Option<String>,
    /// `CF-Ray`: the request id for log lines.
    pub cf_ray: Option<String>,
}

/// The header names the shell reads, in the order of [`RequestHeaders`]' fields.
pub const REQUEST_HEADERS: [&str; 10] = [
    "cookie",
    "accept",
    "sec-fetch-mode",
    "sec-fetch-site",
    "origin",
    "x-requested-with",
    "content-type",
    "authorization",
    "access-control-request-method",
    "cf-ray",
];

impl RequestHeaders {
    /// From the values of [`REQUEST_HEADERS`], in that order.
    pub fn from_values(values: [Option<String>; 10]) -> RequestHeaders {
        let [cookie, accept, sec_fetch_mode, sec_fetch_site, origin, x_requested_with, content_type, authorization, access_control_request_method, cf_ray] =
            values;
        RequestHeaders {
            cookie,
            accept,
            sec_fetch_mode,
            sec_fetch_site,
            origin,
            x_requested_with,
            content_type,
            authorization,
            access_control_request_method,
            cf_ray,
        }
    }
}

/// The parts of an incoming request the core looks at.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Method, upper-case.
    pub method: String,
    /// The full request URL.
    pub url: Url,
    /// The headers the core reads.
    pub headers: RequestHeaders,
    /// The body, read by the shell only when [`App::body_limit`] asks for it (POSTs to
    /// edge-oidc's own endpoints), and at most that many bytes; `None` otherwise.
    pub body: Option<Vec<u8>>,
}

impl Incoming {
    /// A browser navigation (gets redirects and HTML) rather than `fetch`/XHR or a non-GET
    /// (gets 401 JSON): Fetch Metadata when the browser sends it, else the `Accept` header.
    pub fn is_navigation(&self) -> bool {
        let h = &self.headers;
        if !matches!(self.method.as_str(), "GET" | "HEAD") || h.x_requested_with.is_some() {
            return false;
        }
        match h.sec_fetch_mode.as_deref() {
            Some(mode) => mode.eq_ignore_ascii_case("navigate"),
            None => h.accept.as_deref().is_some_and(|a| a.contains("text/html")),
        }
    }

    /// A form a page submits (a POST the browser navigates with), as the callback receives
    /// form_post and the relayed fragment: its errors are pages, not JSON.
    pub fn is_form_navigation(&self) -> bool {
        let h = &self.headers;
        self.method == "POST"
            && match h.sec_fetch_mode.as_deref() {
                Some(mode) => mode.eq_ignore_ascii_case("navigate"),
                None => h.accept.as_deref().is_some_and(|a| a.contains("text/html")),
            }
    }

    /// The host the rules match (lower-case, as the URL parser keeps it; no port).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// For a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`, Fetch §3.2.2), the
    /// method it announces.
    pub fn preflight_method(&self) -> Option<&str> {
        if self.method != "OPTIONS" {
            return None;
        }
        self.headers.access_control_request_method.as_deref()
    }

    /// What the rules look at of this request.
    pub fn rule_request<'a>(
        &'a self,
        path: &'a CanonicalPath,
        preflight: Option<&'a str>,
    ) -> crate::core::site::rules::RuleRequest<'a> {
        crate::core::site::rules::RuleRequest {
            host: self.host(),
            method: &self.method,
            preflight,
            path,
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
    /// Header names (lower-case) to remove first: client-sent copies of identity headers. The
    /// same list for every request of a configuration.
    pub remove_headers: Rc<[String]>,
    /// Identity headers to add.
    pub add_headers: Vec<(String, String)>,
    /// The path (and query) to forward instead of the request's: its canonical form, when that
    /// differs, so the origin reads exactly the path the rules were applied to.
    pub path: Option<String>,
    /// The request was let through on a session: the response must not be stored by a shared
    /// cache (the shell sends the subrequest with `cache: no-store` and marks the response
    /// `Cache-Control: private`).
    pub private: bool,
    /// `Set-Cookie` values to append to the origin's response: the session cookie sealed again
    /// after a refresh, a revocation check or an idle-timeout step. Empty on the hot path.
    pub set_cookies: Vec<String>,
}

/// The result of handling one request, plus the events an operator should see.
#[derive(Debug)]
pub struct Handled {
    /// What to do.
    pub outcome: Outcome,
    /// The log events of this request (src/core/log.rs: never hold secrets); empty on the hot
    /// path unless `log_level` is `debug`.
    pub events: Vec<Event>,
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
    /// The log events of this request.
    pub log: &'a EventLog,
}

/// The relying party of one isolate: validated configuration plus caches.
pub struct App {
    config: Config,
    cache: ProviderCache,
    identities: IdentityCache,
    /// Client-sent copies of these headers are removed from every request passed on.
    remove_headers: Rc<[String]>,
    /// The session cookie's name on https and on plain http (see `SessionConfig::cookie_base`).
    cookie_https: String,
    cookie_http: String,
    /// The deployment every sealed value is bound to when the configuration fixes it (the
    /// cookie domain, else `public_origin`); `None`: each request's origin (see `deployment`).
    fixed_deployment: Option<String>,
    /// Session upkeep (refresh, revocation check, idle step) done once per session and due
    /// state, whatever the number of its concurrent requests (src/core/flow/upkeep.rs).
    upkeep: flight::Flights<Rc<upkeep::Upkept>>,
    /// Front-channel logout requests that may read KV: the current window and how many it has
    /// used (src/core/flow/frontchannel.rs).
    frontchannel_budget: Cell<(i64, u32)>,
    /// Whether any session can have upkeep due (a provider refreshes or checks revocation, or
    /// an idle timeout is set): when not, the gate's test is one `false`.
    follows_sessions: bool,
    /// With a cookie domain, the host-only name a browser may still hold from before
    /// (`__Host-<name>`): still ours, never forwarded.
    cookie_host_only: Option<String>,
    /// Signed identity assertions per session and audience (src/core/flow/origin.rs).
    assertions: crate::core::site::assertion::AssertionCache,
    /// The session records' tokens, for pass-through (src/core/flow/origin.rs).
    tokens: origin::TokenCache,
    /// Whether forwarded sessions carry an assertion, tokens or claim headers.
    extras: bool,
    /// Bearer-token state per isolate (src/core/flow/bearer.rs).
    bearer: bearer::BearerState,
    /// Whether the `bearer` section or any rule takes bearer tokens.
    bearer_anywhere: bool,
    /// The operator's page templates, once the shell has loaded them (src/core/site/templates.rs).
    templates: std::cell::OnceCell<Templates>,
}

/// A failed request, with the cookies its answer must still set or remove (a callback always
/// removes its pending-login cookie, whatever went wrong).
#[derive(Debug)]
pub(crate) struct Failure {
    error: AppError,
    cookies: Vec<String>,
    /// Answer with an HTML page even though the request is not a GET navigation (a form the
    /// browser posted to the callback).
    page: bool,
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Failure {
        Failure {
            error,
            cookies: Vec::new(),
            page: false,
        }
    }
}

impl Failure {
    fn with_cookies(error: AppError, cookies: &[String]) -> Failure {
        Failure {
            error,
            cookies: cookies.to_vec(),
            page: false,
        }
    }
}

impl App {
    /// Builds the app from a validated configuration.
    pub fn new(config: Config) -> App {
        // Every header edge-oidc sets is removed from what the client sent first.
        let remove_headers = config
            .identity_headers
            .names()
            .chain(config.assertion.as_ref().map(|a| a.header.as_str()))
            .chain(config.forward.names())
            .map(str::to_owned)
            .collect();
        let follows_sessions = config.session.idle_timeout_secs.is_some()
            || config
                .providers
                .iter()
                .any(|p| p.follow.refresh_interval_secs.is_some() || p.follow.checks_revocation());
        App {
            cookie_https: config.session.cookie_base(true),
            cookie_http: config.session.cookie_base(false),
            cookie_host_only: domain::former_host_only_name(&config),
            fixed_deployment: domain::deployment(&config).or_else(|| config.public_origin.clone()),
            config,
            cache: ProviderCache::default(),
            identities: IdentityCache::default(),
            remove_headers,
            upkeep: flight::Flights::default(),
            frontchannel_budget: Cell::new((0, 0)),
            follows_sessions,
            assertions: Default::default(),
            tokens: Default::default(),
            extras: false,
            bearer: Default::default(),
            bearer_anywhere: false,
            templates: std::cell::OnceCell::new(),
        }
        .with_extras()
    }

    fn with_extras(mut self) -> App {
        self.extras = self.has_extras();
        self.bearer_anywhere = self.config.bearer.is_some() || self.config.rules.iter().any(|r| r.bearer.is_some());
        self
    }

    /// The page templates the shell must load before handling a request (once per isolate);
    /// `None` when there are none or they are loaded.
    pub fn templates_to_load(&self) -> Option<&[(PageKind, PageSource)]> {
        let sources = &self.config.pages.sources;
        (!sources.is_empty() && self.templates.get().is_none()).then_some(sources.as_slice())
    }

    /// Installs the loaded templates (the text, or why it could not be loaded); returns a log
    /// line for each template not used (the built-in page is served instead).
    pub fn install_templates(&self, loaded: Vec<(PageKind, Result<String, String>)>) -> Vec<String> {
        let (templates, notes) = Templates::from_loaded(loaded);
        let _ = self.templates.set(templates);
        notes
    }

    /// `built_in`, or the operator's template for `kind` rendered with `values`.
    fn page(&self, kind: PageKind, built_in: Reply, values: &PageValues<'_>) -> Reply {
        match self.templates.get() {
            Some(t) => t.apply(kind, built_in, values),
            None => built_in,
        }
    }

    /// The answer to a failed request: JSON for `api`, else the built-in page or the operator's
    /// template (`forbidden` for refusals, `error` for the rest).
    fn error_reply(&self, error: &AppError, api: bool) -> Reply {
        let reply = error.to_reply(api);
        let Some(templates) = self.templates.get().filter(|_| !api) else {
            return reply;
        };
        let message = error.message();
        let (code, description) = match error {
            AppError::Provider { error, description } => (error.as_str(), description.as_deref().unwrap_or_default()),
            other => (other.code(), message.as_str()),
        };
        let kind = if reply.status == 403 && templates.has(PageKind::Forbidden) {
            PageKind::Forbidden
        } else {
            PageKind::Error
        };
        let values = PageValues {
            title: error.title(),
            error: code,
            error_description: description,
            status: reply.status,
            return_url: "/",
            providers: &[],
        };
        templates.apply(kind, reply, &values)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the shell must read the body of a request with this method and path before
    /// calling [`App::handle`], and at most how many bytes (a longer body is refused with 413
    /// by the shell). `None` for every request passed on: their bodies go to the origin
    /// untouched.
    ///
    /// Only a POST to the redirect path has its body read (form_post, and the fragment posted
    /// by the relay page): at most [`MAX_BODY`] bytes. `path` is the raw path; it is compared
    /// in its canonical form, as [`App::handle`] routes it.
    pub fn body_limit(&self, method: &str, path: &str) -> Option<usize> {
        // The shell passes the raw path: it is canonicalised as `route` will see it, so that no
        // spelling of the redirect path or the back-channel path reaches its endpoint without
        // its body.
        if method != "POST" {
            return None;
        }
        let canonical = CanonicalPath::parse(path).ok()?;
        if canonical.as_str() == self.config.redirect_path {
            return Some(MAX_BODY);
        }
        (self.config.backchannel_enabled() && canonical.as_str() == self.config.backchannel_logout_path)
            .then_some(backchannel::MAX_BODY)
    }

    /// Handles one request. Never fails: errors become error responses.
    pub async fn handle<H: HttpClient, K: KvStore>(&self, req: &Incoming, io: &Io<'_, H, K>) -> Handled {
        let outcome = match self.route(req, io).await {
            Ok(outcome) => outcome,
            Err(Failure { error, cookies, page }) => {
                // Client faults are logged only within a login, at info (log.rs says which).
                let path = CanonicalPath::from_url(&req.url);
                io.log
                    .failed(&error, path.as_ref().map_or(req.url.path(), CanonicalPath::as_str));
                Outcome::Reply(
                    self.error_reply(&error, !(page || req.is_navigation()))
                        .with_cookies(cookies),
                )
            }
        };
        let status = match &outcome {
            Outcome::Reply(reply) => Some(reply.status),
            Outcome::Forward(_) => None,
        };
        Handled {
            events: io.log.finish(req.headers.cf_ray.as_deref(), status),
            outcome,
        }
    }

    async fn route<H: HttpClient, K: KvStore>(&self, req: &Incoming, io: &Io<'_, H, K>) -> Result<Outcome, Failure> {
        if let Some(reply) = self.other_host(req) {
            return Ok(Outcome::Reply(reply));
        }
        // Every rule below reads this one canonical path; a path without one gets 400.
        let canonical = CanonicalPath::from_url(&req.url).map_err(AppError::from)?;
        let path = canonical.as_str();
        let c = &self.config;
        if path == c.redirect_path {
            // Each endpoint but the gate is its own boxed future (here and in the gate's login
            // start): its state machine is a function of its own instead of being inlined into
            // one for every request, so the first request of an isolate, usually the gate's,
            // compiles far less code (BENCHMARKS.md, Notes: start).
            return boxed(self.callback(req, io))
                .await
                .map(Outcome::Reply)
                .map_err(|mut f| {
                    f.page = req.is_form_navigation();
                    f
                });
        }
        if path == c.logout_path {
            return Ok(Outcome::Reply(boxed(self.logout(req, io)).await?));
        }
        if path == c.logged_out_path {
            return Ok(Outcome::Reply(self.logged_out_page()));
        }
        if c.session_endpoint_path.as_deref() == Some(path) {
            return Ok(Outcome::Reply(self.session_endpoint(req, io.clock.now())));
        }
        if path == c.jwks_path && c.publishes_jwks() {
            return Ok(Outcome::Reply(self.jwks_document()));
        }
        if let Some(a) = c.assertion.as_ref().filter(|a| a.jwks_path == path) {
            return Ok(Outcome::Reply(jwks_reply(crate::core::site::assertion::jwks_document(
                &a.key,
                a.next.as_ref(),
            ))));
        }
        if path == c.login_path {
            return Ok(Outcome::Reply(boxed(self.login_endpoint(req, io)).await?));
        }
        if path == c.backchannel_logout_path && c.backchannel_enabled() {
            return Ok(Outcome::Reply(boxed(self.backchannel_logout(req, io)).await));
        }
        if path == c.frontchannel_logout_path && c.frontchannel_enabled() {
            return Ok(Outcome::Reply(boxed(self.frontchannel_logout(req, io)).await));
        }
        match self.gate(req, io, &canonical).await? {
            // The origin gets the path the rules were applied to.
            Outcome::Forward(mut forward) => {
                forward.path = canonical.forward_target(&req.url);
                Ok(Outcome::Forward(forward))
            }
            reply => Ok(reply),
        }
    }

    /// With `public_origin` set, a request for any other origin (apex vs www, workers.dev) is
    /// sent to the public origin (GET/HEAD: 308) or refused (421) before any login work, so the
    /// redirect URI, the registered client and every sealed value stay those of one origin.
    fn other_host(&self, req: &Incoming) -> Option<Reply> {
        if let Some(served) = domain::serves(&self.config, &req.url) {
            return (!served).then(|| domain::misdirected(req.is_navigation(), self.config.public_origin.as_deref()));
        }
        let public = self.config.public_origin.as_deref()?;
        if req.url.origin().ascii_serialization() == public {
            return None;
        }
        if matches!(req.method.as_str(), "GET" | "HEAD") {
            let mut target = String::with_capacity(public.len() + 64);
            target.push_str(public);
            target.push_str(&req.path_and_query());
            let mut reply = Reply::redirect(&target);
            reply.status = 308;
            return Some(reply);
        }
        let message = "this site is served on another address";
        Some(if req.is_navigation() {
            html_page(421, "Wrong address", message, &[], &[(public, "Go to the site")])
        } else {
            json_error(421, "misdirected_request", message, None)
        })
    }

    /// The deployment the sealed values of this request are bound to: the cookie domain, else
    /// `public_origin` (both fixed at start: no allocation per request), else the request's origin.
    fn deployment(&self, req: &Incoming) -> std::borrow::Cow<'_, str> {
        match &self.fixed_deployment {
            Some(fixed) => std::borrow::Cow::Borrowed(fixed),
            None => std::borrow::Cow::Owned(req.url.origin().ascii_serialization()),
        }
    }

    /// The absolute URL of one of our paths (or an operator's absolute URL, kept as is).
    fn our_url(&self, req: &Incoming, path_or_url: &str) -> String {
        match &self.config.public_origin {
            Some(origin) if path_or_url.starts_with('/') => format!("{origin}{path_or_url}"),
            _ => absolute(req, path_or_url),
        }
    }

    /// The session cookie's name for this request.
    fn cookie_base(&self, req: &Incoming) -> &str {
        if req.url.scheme() == "https" {
            &self.cookie_https
        } else {
            &self.cookie_http
        }
    }

    /// The issuer of a configured provider (the context sealed values are bound to).
    fn issuer_of(&self, provider: &str) -> Option<&str> {
        self.config.provider(provider).map(|p| p.issuer.as_str())
    }

    /// The worker's public keys for `private_key_jwt` (RFC 7517 JWK Set).
    fn jwks_document(&self) -> Reply {
        let keys = self.config.providers.iter().filter_map(|p| p.private_key.as_deref());
        jwks_reply(crate::core::oidc::client_auth::public_jwks(keys))
    }

    /// The answer to a request whose `Cookie` header is longer than
    /// [`MAX_COOKIE_HEADER`](crate::core::session::cookies::MAX_COOKIE_HEADER) (the shell
    /// refuses it unparsed, before [`App::handle`]): 431, removing every cookie edge-oidc may
    /// have set, since they may be what made it too large, and the browser would otherwise be
    /// refused (logout included) until they expire. Pending-login cookies are not known by
    /// name here (the header is not parsed); they expire after `login_timeout_secs`.
    pub fn cookie_header_too_large(&self, url: &Url, navigation: bool) -> Reply {
        let base = if url.scheme() == "https" {
            &self.cookie_https
        } else {
            &self.cookie_http
        };
        let attrs = self.cookie_attrs_for(url, None);
        let names = std::iter::once(base.clone()).chain((0..MAX_CHUNKS).map(|i| format!("{base}.{i}")));
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

    fn cookie_attrs(&self, req: &Incoming, max_age: Option<u64>) -> CookieAttrs {
        self.cookie_attrs_for(&req.url, max_age)
    }

    fn cookie_attrs_for(&self, url: &Url, max_age: Option<u64>) -> CookieAttrs {
        CookieAttrs {
            path: "/".to_owned(),
            secure: url.scheme() == "https",
            http_only: true,
            // Lax: the callback is a top-level cross-site GET navigation, which Lax allows.
            same_site: SameSite::Lax,
            max_age,
            domain: domain::cookie_domain_for(&self.config, url),
        }
    }

    fn session_attrs(&self, req: &Incoming) -> CookieAttrs {
        let s = &self.config.session;
        self.cookie_attrs(req, s.permanent.then_some(s.lifetime_secs))
    }

    /// The attributes of a session cookie sealed again during the session: a permanent cookie
    /// lives until the session's absolute end, not a whole lifetime from now.
    fn session_attrs_until(&self, req: &Incoming, expires_at: i64, now: i64) -> CookieAttrs {
        let left = u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0);
        self.cookie_attrs(req, self.config.session.permanent.then_some(left))
    }

    /// The identity cookie's value for `identity`, sealed for this request's deployment.
    fn seal_identity(&self, req: &Incoming, identity: &Identity, random: &dyn Random) -> Result<String, AppError> {
        let issuer = self
            .issuer_of(&identity.provider)
            .ok_or_else(|| AppError::Internal("the session's provider is not configured".into()))?;
        let deployment = self.deployment(req);
        let context = SealContext {
            kind: "identity",
            name: self.cookie_base(req),
            deployment: &deployment,
            issuer,
        };
        identity
            .seal(&self.config.sealer, &context, nonce24(random))
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// The `Set-Cookie` values storing a sealed identity (chunked when long), replacing what
    /// the browser sent; `expires_at`/`now` for a cookie sealed again during the session.
    fn identity_cookies(
        &self,
        req: &Incoming,
        sealed: &str,
        until: Option<(i64, i64)>,
    ) -> Result<Vec<String>, AppError> {
        let attrs = match until {
            Some((expires_at, now)) => self.session_attrs_until(req, expires_at, now),
            None => self.session_attrs(req),
        };
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        write_chunked(self.cookie_base(req), sealed, &attrs, &jar).map_err(|_| {
            AppError::BadRequest(
                "the session is too large for cookies; ask the administrator to request fewer claims".into(),
            )
        })
    }

    /// Whether a cookie is edge-oidc's own (never forwarded to the origin): the session cookie,
    /// its chunks and the pending-login cookies, under either name (https or http).
    fn is_our_cookie(&self, name: &str) -> bool {
        let former = self.cookie_host_only.as_ref();
        [&self.cookie_https, &self.cookie_http]
            .into_iter()
            .chain(former)
            .any(|base| {
                name.strip_prefix(base.as_str()).is_some_and(|rest| {
                    rest.is_empty()
                        || rest
                            .strip_prefix('.')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                }) || is_pending_cookie(name, base)
            })
    }
}

/// A future behind a `dyn` pointer: polled through its vtable, so the compiler cannot inline its
/// state machine into the caller's (see `route`).
fn boxed<'a, T>(future: impl std::future::Future<Output = T> + 'a) -> crate::core::crypto::LocalBoxFuture<'a, T> {
    Box::pin(future)
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

/// A published JWKS (the client's keys, or the assertion's): public, cacheable for 5 minutes so
/// a rotation is seen soon.
fn jwks_reply(body: String) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("cache-control", "public, max-age=300".to_owned()),
        ],
        body,
    }
}

#[cfg(test)]
mod origin_tests;
#[cfg(test)]
mod rules_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod test_op;
#[cfg(test)]
mod tests;
