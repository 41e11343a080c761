//! The session gate: every request that is not one of ours. This is the hot path: one cookie
//! lookup and, for a cookie this isolate has not seen yet, one AEAD open of a few hundred bytes;
//! no KV, no subrequest.

use super::{App, Failure, Forward, Incoming, Io, Outcome};
use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind, LogLevel};
use crate::core::session::cookies::CookieJar;
use crate::core::session::seal::{clear_chunked, read_chunked};
use crate::core::session::{email_allowed, Identity, SessionError};
use crate::core::site::pages::{json_error, Reply};
use crate::core::site::path::CanonicalPath;
use crate::core::site::rules::{self, Verdict};
use std::fmt::Write;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;

impl App {
    pub(super) async fn gate<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        path: &CanonicalPath,
    ) -> Result<Outcome, Failure> {
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let now = io.clock.now();
        let rules = &self.config.rules;
        let preflight = req.preflight_method();
        let selection = rules::select(rules, &req.rule_request(path, preflight));
        // Bearer-token APIs: where a rule (or the `bearer` section) takes bearer tokens and the
        // request needs a session, the token alone decides, never a redirect or a cookie (boxed:
        // its validation awaits keys and signatures). Nothing to test without bearer settings.
        if let Some(policy) = self.bearer_policy(selection, path) {
            let needs_session = rules::judge(rules, selection, preflight.is_some(), None) == Verdict::Login;
            if needs_session && self.bearer_applies(req, policy) {
                let audience = self.rule_audience(selection);
                return super::boxed(self.bearer(req, io, policy, audience)).await;
            }
        }
        let session = self.session(req, &jar, now);
        let outcome = match session {
            Some(Ok(identity)) => {
                // Looked up once for the allow-lists and the rules. The provider is named in the
                // `denied` event (only then: no work on the hot path).
                let provider = self.config.provider(&identity.provider);
                self.check_allowed_for(&identity, provider)
                    .inspect_err(|_| io.log.set_provider(&identity.provider))?;
                match rules::judge(rules, selection, preflight.is_some(), Some((&identity, provider))) {
                    Verdict::Refused(rule) => {
                        io.log.set_provider(&identity.provider);
                        return Err(AppError::RuleRefused(rule.to_owned()).into());
                    }
                    // A session from a provider that may not be used for this path (or no
                    // longer exists) does not count here; it stays valid for the paths it may
                    // serve.
                    Verdict::Login => self.unauthenticated(req, io, path, &jar, false).await?,
                    _ if self.upkeep_due(&identity, now, req.method == "GET" && req.is_navigation()) => {
                        // Boxed: see `route`; the hot path never polls it.
                        return super::boxed(self.upkeep(req, io, path, &jar, identity)).await;
                    }
                    _ => {
                        // Checked first: at the default level the hot path builds no event.
                        if io.log.enabled(LogLevel::Debug) {
                            io.log.push(
                                Event::new(EventKind::Forwarded)
                                    .provider(&identity.provider)
                                    .path(path.as_str()),
                            );
                        }
                        let mut forward = self.forward(&jar, Some(&identity));
                        // The assertion, tokens and claim headers: from the isolate's caches, or
                        // boxed like the upkeep when one must be signed or read (never on the hot
                        // path of a session this isolate has served recently).
                        if self.extras {
                            let audience = self.rule_audience(selection);
                            if !self.extras_cached(req, &identity, audience, now, &mut forward) {
                                forward = super::boxed(self.extras(req, io, path, identity, forward)).await;
                            }
                        }
                        Outcome::Forward(forward)
                    }
                }
            }
            _ => match rules::judge(rules, selection, preflight.is_some(), None) {
                Verdict::Open => Outcome::Forward(self.forward(&jar, None)),
                Verdict::Refused(rule) => return Err(AppError::RuleRefused(rule.to_owned()).into()),
                _ => self.unauthenticated(req, io, path, &jar, true).await?,
            },
        };
        Ok(outcome)
    }

    /// The session of this request, if it sends one: opened (or found in the isolate's cache
    /// of opened cookies), and not expired.
    pub(super) fn session(
        &self,
        req: &Incoming,
        jar: &CookieJar<'_>,
        now: i64,
    ) -> Option<Result<Rc<Identity>, SessionError>> {
        let name = self.cookie_base(req);
        let value = read_chunked(jar, name)?;
        let deployment = self.deployment(req);
        let identity = match self.identities.get(&value, name, &deployment) {
            Some(identity) => identity,
            None => match Identity::open(&self.config.sealer, &value, name, &deployment, |p| self.issuer_of(p)) {
                Ok(identity) => {
                    let identity = Rc::new(identity);
                    self.identities.insert(&value, name, &deployment, identity.clone());
                    identity
                }
                Err(e) => return Some(Err(e)),
            },
        };
        let over = identity.expired(now) || identity.idle(now, self.config.session.idle_timeout_secs);
        Some(if over { Err(SessionError::Expired) } else { Ok(identity) })
    }

    /// The allow-lists: the global ones and the session's provider's (both must allow).
    pub(super) fn check_allowed(&self, identity: &Identity) -> Result<(), AppError> {
        self.check_allowed_for(identity, self.config.provider(&identity.provider))
    }

    /// [`Self::check_allowed`] with the session's provider already looked up (`None`: it no
    /// longer exists).
    fn check_allowed_for(&self, identity: &Identity, provider: Option<&ProviderConfig>) -> Result<(), AppError> {
        let c = &self.config;
        let require_verified = provider.is_none_or(|p| p.require_email_verified);
        let email = identity.usable_email(require_verified);
        let allowed = email_allowed(email, &c.allowed_emails, &c.allowed_email_domains)
            && provider.is_none_or(|p| email_allowed(email, &p.allowed_emails, &p.allowed_email_domains));
        if allowed {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                identity.email.clone().unwrap_or_else(|| identity.sub.clone()),
            ))
        }
    }

    /// No valid session: navigations start a login, everything else gets 401 JSON.
    /// Invalid or expired session cookies are cleared either way.
    pub(super) async fn unauthenticated<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        path: &CanonicalPath,
        jar: &CookieJar<'_>,
        clear_session: bool,
    ) -> Result<Outcome, AppError> {
        let clear = if clear_session {
            clear_chunked(self.cookie_base(req), &self.session_attrs(req), jar)
        } else {
            Vec::new()
        };
        // A form a page posts (Sec-Fetch-Mode: navigate) is a navigation too: after the login
        // the browser comes back with a GET of the same URL. The body is not kept (README,
        // "Forwarding": a POST whose session expired).
        if !(req.is_navigation() || req.is_form_navigation()) {
            let mut login_url = self.config.login_path.clone();
            login_url.push_str("?return_to=");
            login_url.extend(url::form_urlencoded::byte_serialize(req.path_and_query().as_bytes()));
            let reply = json_error(
                401,
                "login_required",
                "sign in to access this resource",
                Some(&login_url),
            );
            return Ok(Outcome::Reply(reply.with_cookies(clear)));
        }
        // The path itself may be an open redirect (`//evil.example`, `/\evil.example`): it gets
        // the same check as a `return_to` parameter; a refused or too long one returns to `/`.
        let return_to = super::domain::return_target(&self.config, &req.url, &req.path_and_query())
            .unwrap_or_else(|_| "/".to_owned());
        let reply = match self.config.providers_for(req.host(), path).as_slice() {
            // Boxed: see `route`.
            [provider] => super::boxed(self.start_login(req, io, provider, &return_to, &[])).await?,
            _ => {
                // Several providers: the chooser, at the login path (it keeps the return URL).
                let mut chooser = self.config.login_path.clone();
                chooser.push_str("?return_to=");
                chooser.extend(url::form_urlencoded::byte_serialize(return_to.as_bytes()));
                Reply::redirect(&chooser)
            }
        };
        Ok(Outcome::Reply(reply.with_cookies(clear)))
    }

    /// The changes to a request passed to the origin: our cookies removed, client-sent
    /// identity headers removed, ours added.
    pub(super) fn forward(&self, jar: &CookieJar<'_>, session: Option<&Identity>) -> Forward {
        let h = &self.config.identity_headers;
        let mut add = Vec::new();
        if let Some(s) = session {
            add.push((h.subject.clone(), header_value(&s.sub)));
            if let Some(email) = &s.email {
                add.push((h.email.clone(), header_value(email)));
            }
            if let Some(name) = &s.name {
                add.push((h.name.clone(), header_value(name)));
            }
            if let (Some(name), Some(acr)) = (&h.acr, &s.acr) {
                add.push((name.clone(), header_value(acr)));
            }
            if let Some(p) = &h.provider {
                add.push((p.clone(), header_value(&s.provider)));
            }
        }
        Forward {
            cookie: jar.header_without(|n| self.is_our_cookie(n)),
            remove_headers: self.remove_headers.clone(),
            add_headers: add,
            path: None,
            private: session.is_some(),
            set_cookies: Vec::new(),
        }
    }
}

/// Both futures, polled together (two KV reads at once); no executor needed.
pub(super) async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// A header value that is always valid: printable ASCII kept, `%` and every other byte
/// percent-encoded (UTF-8), so names like "Zoë" reach the origin as "Zo%C3%AB" and no
/// CR/LF can ever be injected.
pub(crate) fn header_value(value: &str) -> String {
    if value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
