//! Structured log events: one flat JSON object per event an operator wants to see (a login
//! started, completed or failed, a logout, a denial, a provider or KV fault), collected by the
//! core for one request in an [`EventLog`] and written by the shell, one line per event
//! (`console.log` for info and debug, `console.error` for errors), and counted in the Analytics
//! Engine dataset when one is bound (README: Logs and metrics).
//!
//! What a line may hold is decided here, by type: event names and failure reasons are
//! `&'static str` (an error variant's stable name, never its text, which can quote input), the
//! provider is a configured name, the subject comes from a validated ID token, the path is the
//! canonical request path without its query, the ray is checked to look like one. No field can
//! carry a token, a cookie, a secret, a code, a state, a nonce or a query string.

use crate::core::error::{AppError, FaultClass};
use crate::core::http::HttpError;
use std::cell::{Cell, RefCell};

/// How much is logged (`log_level` in `EDGE_OIDC_CONFIG`). Ordered: an event is written when its
/// level is at most the configured one, so `off` writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Provider, KV, internal and configuration faults.
    Error,
    /// Plus logins (started, completed, failed), logouts, refreshes and denials. The default.
    #[default]
    Info,
    /// Plus every request let through on a session (the hot path).
    Debug,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A browser was sent to a provider.
    LoginStarted,
    /// A callback started a session.
    LoginCompleted,
    /// A login did not complete for a reason on the visitor's side (`reason`: which check).
    LoginFailed,
    /// A session was ended at the logout path.
    Logout,
    /// A session's tokens were refreshed.
    Refresh,
    /// A signed-in user was refused by an allow-list (`rule`).
    Denied,
    /// A provider failed or sent something unusable.
    ProviderError,
    /// Workers KV failed.
    KvError,
    /// A bug, or the origin could not be reached.
    InternalError,
    /// The configuration is invalid.
    ConfigError,
    /// A request let through on a session (written at `debug` only).
    Forwarded,
}

impl LogLevel {
    /// The name in a log line and in `log_level`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl EventKind {
    /// The name in a log line (and the first blob of a data point).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginStarted => "login_started",
            EventKind::LoginCompleted => "login_completed",
            EventKind::LoginFailed => "login_failed",
            EventKind::Logout => "logout",
            EventKind::Refresh => "refresh",
            EventKind::Denied => "denied",
            EventKind::ProviderError => "provider_error",
            EventKind::KvError => "kv_error",
            EventKind::InternalError => "internal_error",
            EventKind::ConfigError => "config_error",
            EventKind::Forwarded => "forwarded",
        }
    }

    /// The level the event is written at.
    pub fn level(self) -> LogLevel {
        match self {
            EventKind::ProviderError | EventKind::KvError | EventKind::InternalError | EventKind::ConfigError => {
                LogLevel::Error
            }
            EventKind::Forwarded => LogLevel::Debug,
            _ => LogLevel::Info,
        }
    }
}

/// Longest subject and path written (longer ones are cut on a character boundary).
const MAX_FIELD: usize = 128;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub event: EventKind,
    /// `error`, `info` or `debug`.
    pub level: LogLevel,
    /// The configured provider name.
    pub provider: Option<String>,
    /// The subject: only on login_completed, logout and refresh.
    pub sub: Option<String>,
    /// Which check failed: a stable snake_case name (see [`reason`]).
    pub reason: Option<&'static str>,
    /// The rule that denied the request.
    pub rule: Option<&'static str>,
    /// The canonical path (no query), cut to 128 bytes.
    pub path: Option<String>,
    /// From the login's start to its callback. The pending login records whole seconds, so this
    /// is a multiple of 1000.
    pub duration_ms: Option<u64>,
    /// The response status.
    pub status: Option<u16>,
    /// The request's `cf-ray`.
    pub ray: Option<String>,
    /// config_error only: the validation message (it names the key and the fix; operator text,
    /// never request input).
    pub detail: Option<String>,
}

impl Event {
    /// An event with only its kind (and level) set.
    pub fn new(event: EventKind) -> Event {
        Event {
            event,
            level: event.level(),
            provider: None,
            sub: None,
            reason: None,
            rule: None,
            path: None,
            duration_ms: None,
            status: None,
            ray: None,
            detail: None,
        }
    }

    /// With the provider's configured name.
    pub fn provider(mut self, name: &str) -> Event {
        self.provider = Some(name.to_owned());
        self
    }

    /// With the subject (login_completed, logout, refresh only).
    pub fn subject(mut self, sub: &str) -> Event {
        self.sub = Some(cut(sub));
        self
    }

    /// With the time since the login started (negative: 0).
    pub fn duration_secs(mut self, secs: i64) -> Event {
        self.duration_ms = Some(u64::try_from(secs).unwrap_or(0).saturating_mul(1000));
        self
    }

    /// With the canonical path.
    pub fn path(mut self, path: &str) -> Event {
        self.path = Some(cut(path));
        self
    }

    /// The JSON line: one flat object, fields in declaration order, absent ones left out.
    /// Written by hand rather than derived: the derive costs bundle bytes (BENCHMARKS.md Notes).
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(192);
        out.push_str("{\"event\":\"");
        out.push_str(self.event.as_str());
        out.push_str("\",\"level\":\"");
        out.push_str(self.level.as_str());
        out.push('"');
        let texts = [
            ("provider", self.provider.as_deref()),
            ("sub", self.sub.as_deref()),
            ("reason", self.reason),
            ("rule", self.rule),
            ("path", self.path.as_deref()),
        ];
        for (key, value) in texts {
            push_field(&mut out, key, value.map(json_string));
        }
        push_field(&mut out, "duration_ms", self.duration_ms.map(|d| d.to_string()));
        push_field(&mut out, "status", self.status.map(|s| s.to_string()));
        push_field(&mut out, "ray", self.ray.as_deref().map(json_string));
        push_field(&mut out, "detail", self.detail.as_deref().map(json_string));
        out.push('}');
        out
    }
}

fn push_field(out: &mut String, key: &str, json: Option<String>) {
    if let Some(json) = json {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        out.push_str(&json);
    }
}

/// A JSON string literal (quotes, backslashes and control characters escaped by serde_json).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// The events of one request, and what the core knows so far about the login it belongs to.
#[derive(Debug, Default)]
pub struct EventLog {
    level: LogLevel,
    events: RefCell<Vec<Event>>,
    provider: RefCell<Option<String>>,
    login: Cell<bool>,
}

impl EventLog {
    /// An empty log writing events up to `level`.
    pub fn new(level: LogLevel) -> EventLog {
        EventLog {
            level,
            ..EventLog::default()
        }
    }

    /// Whether events of `level` are kept: check before building one on a hot path.
    pub fn enabled(&self, level: LogLevel) -> bool {
        level != LogLevel::Off && level <= self.level
    }

    /// Keeps `event` if its level is enabled.
    pub fn push(&self, event: Event) {
        if self.enabled(event.level) {
            self.events.borrow_mut().push(event);
        }
    }

    /// This request belongs to a login (started, or its callback) with this provider, when
    /// known: a client-side failure from here on is a `login_failed`.
    pub fn in_login(&self, provider: Option<&str>) {
        self.login.set(true);
        if let Some(p) = provider {
            *self.provider.borrow_mut() = Some(p.to_owned());
        }
    }

    /// The provider the request's events name (a session's, when it is refused).
    pub fn set_provider(&self, provider: &str) {
        *self.provider.borrow_mut() = Some(provider.to_owned());
    }

    /// The event for a request that failed with `error`, if one is written: client faults only
    /// within a login (anything else is the visitor's or an attacker's noise) or when an
    /// allow-list refused a signed-in user.
    pub fn failed(&self, error: &AppError, path: &str) {
        let kind = match (error, error.class()) {
            (AppError::Forbidden(_) | AppError::ClaimNotMet { .. }, _) => EventKind::Denied,
            // A rule refusing a signed-in user (the gate names the provider then); a `deny`
            // rule answering anonymous traffic is noise.
            (AppError::RuleRefused(_), _) if self.provider.borrow().is_some() => EventKind::Denied,
            (AppError::Config(_), _) => EventKind::ConfigError,
            (AppError::Store(_), _) => EventKind::KvError,
            (_, FaultClass::Internal) => EventKind::InternalError,
            (_, FaultClass::Upstream) => EventKind::ProviderError,
            (_, FaultClass::Client) if self.login.get() => EventKind::LoginFailed,
            (_, FaultClass::Client) => return,
        };
        let mut event = Event::new(kind);
        event.provider = self.provider.borrow().clone();
        event.reason = Some(reason(error));
        // A provider's metadata that does not fit its settings is found at login (discovered
        // metadata): the message names the key and the fix, and is the operator's text.
        if let AppError::Config(e) = error {
            event.detail = Some(e.to_string());
        }
        if kind == EventKind::Denied {
            event.rule = Some(match error {
                AppError::ClaimNotMet { .. } => "required_claims",
                AppError::RuleRefused(_) => "rules",
                _ => "allowed_emails",
            });
            if let AppError::RuleRefused(label) = error {
                event.detail = Some(label.clone());
            }
            event = event.path(path);
        }
        self.push(event);
    }

    /// The events, with the request's ray and the response status filled in.
    pub fn finish(&self, ray: Option<&str>, status: Option<u16>) -> Vec<Event> {
        let mut events = self.events.take();
        if events.is_empty() {
            return events;
        }
        let ray = ray.filter(|r| looks_like_ray(r));
        for e in &mut events {
            e.ray = ray.map(str::to_owned);
            e.status = e.status.or(status);
        }
        events
    }
}

/// A `cf-ray` value as Cloudflare writes it (hex, a dash, a location code); anything else a
/// client may have sent is left out of the log.
fn looks_like_ray(ray: &str) -> bool {
    (1..=64).contains(&ray.len()) && ray.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The stable name of the check that failed: the error variant (and for ID tokens, HTTP and
/// provider answers, the kind of fault), never its text.
pub fn reason(error: &AppError) -> &'static str {
    match error {
        AppError::Config(_) => "config",
        AppError::BadRequest(_) => "bad_request",
        AppError::Response(e) => response_reason(e),
        AppError::Path(_) => "path",
        AppError::UnknownState => "unknown_state",
        AppError::StateNotBound => "state_not_bound",
        AppError::Provider { .. } => "provider_refused",
        AppError::ProviderUnverified => "provider_unverified",
        AppError::CrossSiteRequest => "cross_site_request",
        AppError::AcrNotMet { .. } => "acr_not_met",
        AppError::ClaimNotMet { .. } => "claim_not_met",
        AppError::IssuerMismatch => "issuer_mismatch",
        AppError::ReturnUrl(_) => "return_url",
        AppError::IdToken(e) => id_token_reason(e),
        AppError::Token(_) => "token_response",
        AppError::Discovery(_) => "discovery",
        AppError::Jwks(_) => "jwks",
        AppError::Upstream(HttpError::Timeout) => "provider_timeout",
        AppError::Upstream(_) => "provider_unreachable",
        AppError::Registration(_) => "registration",
        AppError::ClientAuth(_) => "client_auth",
        AppError::Store(_) => "kv",
        AppError::Forbidden(_) => "forbidden",
        AppError::RuleRefused(_) => "rule_refused",
        AppError::Internal(_) => "internal",
    }
}

fn response_reason(e: &crate::core::oidc::response::ResponseError) -> &'static str {
    use crate::core::oidc::response::ResponseError as E;
    match e {
        E::TooLong(_) | E::Repeated(_) | E::NotForm => "bad_request",
        E::WrongMode { .. } => "response_mode",
        E::Missing(_) | E::Unexpected(_) => "response_type",
    }
}

fn id_token_reason(e: &crate::core::oidc::id_token::IdTokenError) -> &'static str {
    use crate::core::oidc::id_token::{IdTokenError as E, IdTokenFault};
    #[allow(unreachable_patterns)] // the fallback keeps variants added later named by fault
    match e {
        E::Malformed(_) => "id_token_malformed",
        E::ForbiddenAlg(_) | E::AlgNotAllowed(_) => "id_token_alg",
        E::Key(_) => "id_token_key",
        E::BadSignature => "id_token_signature",
        E::WrongIssuer => "id_token_issuer",
        E::BadTenantId => "id_token_tenant",
        E::WrongAudience | E::MissingAzp | E::WrongAzp => "id_token_audience",
        E::MissingExp | E::Expired => "id_token_expired",
        E::MissingIat | E::IssuedInFuture | E::NotYetValid => "id_token_clock",
        E::MissingNonce | E::NonceMismatch => "id_token_nonce",
        E::MissingAuthTime | E::AuthTooOld => "id_token_max_age",
        E::MissingSub => "id_token_sub",
        E::TokenHashMismatch | E::MissingAtHash | E::MissingCHash => "id_token_hash",
        _ => match e.fault() {
            IdTokenFault::Configuration => "id_token_configuration",
            IdTokenFault::Security => "id_token_security",
            IdTokenFault::Clock => "id_token_clock",
            IdTokenFault::Reauthenticate => "id_token_max_age",
            IdTokenFault::Provider => "id_token_provider",
        },
    }
}

#[cfg(test)]
mod tests;
