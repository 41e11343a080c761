//! What a request let through on a session carries to the origin besides the identity
//! headers, when configured: the signed assertion (src/core/site/assertion.rs), the session's
//! access and ID tokens, and claims mapped to headers.
//!
//! The hot path stays free of I/O: the assertion and the tokens come from per-isolate caches
//! (`extras_cached`, synchronous); only a miss — the first request of a session in an isolate,
//! an assertion with a quarter of its life left, tokens past the access token's expiry — takes
//! the boxed slow path (`extras`), like the session upkeep: one WebCrypto signature, or one KV
//! read of the session record. With none of it configured nothing here runs.

use super::{App, Forward, Incoming, Io};
use crate::core::config::identity::CopiedClaim;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::session::Identity;
use crate::core::site::assertion::{self, AssertionInput};
use crate::core::site::path::CanonicalPath;
use crate::core::site::rules;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most sessions whose tokens are kept per isolate.
const MAX_TOKEN_ENTRIES: usize = 512;
/// Tokens are read again this often at most when the access token has no known expiry, or
/// after it expired (a refresh in another isolate may have replaced them).
const TOKEN_RECHECK_SECS: i64 = 300;
/// After a failed record read, the session goes without tokens this long before trying again.
const TOKEN_RETRY_SECS: i64 = 30;

/// The access token and the ID token of a session, as far as its record has them.
type TokenPair = (Option<Rc<str>>, Option<Rc<str>>);

/// A session's tokens as its record holds them.
pub(super) struct Tokens {
    identity: Rc<Identity>,
    access_token: Option<Rc<str>>,
    id_token: Option<Rc<str>>,
    until: i64,
}

/// The session tokens per isolate, keyed by session handle.
#[derive(Default)]
pub(super) struct TokenCache(RefCell<HashMap<Box<str>, Tokens>>);

impl TokenCache {
    fn get(&self, identity: &Rc<Identity>, now: i64) -> Option<TokenPair> {
        let entries = self.0.borrow();
        let t = entries.get(identity.handle.as_str())?;
        let same = Rc::ptr_eq(&t.identity, identity) || *t.identity == **identity;
        (same && now < t.until).then(|| (t.access_token.clone(), t.id_token.clone()))
    }

    fn insert(&self, tokens: Tokens) {
        let mut entries = self.0.borrow_mut();
        if entries.len() >= MAX_TOKEN_ENTRIES {
            entries.clear();
        }
        entries.insert(tokens.identity.handle.as_str().into(), tokens);
    }
}

impl App {
    /// Whether forwarded sessions carry anything besides the identity headers.
    pub(super) fn has_extras(&self) -> bool {
        self.config.assertion.is_some()
            || self.config.forward.passes_tokens()
            || !self.config.forward.claim_headers.is_empty()
    }

    /// The `iss` of assertions: `public_origin` (no allocation), else the request's origin.
    fn assertion_issuer(&self, req: &Incoming) -> Cow<'_, str> {
        match &self.config.public_origin {
            Some(o) => Cow::Borrowed(o),
            None => Cow::Owned(req.url.origin().ascii_serialization()),
        }
    }

    /// The audience of the assertion for this request: the deciding rule's, else
    /// `assertion.audience`, else the issuer.
    fn assertion_audience<'a>(&'a self, rule: Option<&'a str>, issuer: &'a str) -> &'a str {
        rule.or_else(|| self.config.assertion.as_ref().and_then(|a| a.audience.as_deref()))
            .unwrap_or(issuer)
    }

    /// The `assertion_audience` of the rules deciding a request (the one matching as written
    /// first), if any.
    pub(super) fn rule_audience(&self, selection: rules::Selection) -> Option<&str> {
        // `deciding` yields the broad reading's rule, then the one matching as written: the last
        // one that sets an audience wins. No allocation (the hot path with the assertion on).
        selection
            .deciding(&self.config.rules)
            .flatten()
            .filter_map(|r| r.assertion_audience.as_deref())
            .last()
    }

    /// Adds what the caches hold; `false` when something must be fetched or signed first.
    pub(super) fn extras_cached(
        &self,
        req: &Incoming,
        identity: &Rc<Identity>,
        rule_audience: Option<&str>,
        now: i64,
        f: &mut Forward,
    ) -> bool {
        self.add_claim_headers(identity, f);
        let mut complete = true;
        if let Some(a) = &self.config.assertion {
            let issuer = self.assertion_issuer(req);
            match self
                .assertions
                .get(identity, &issuer, self.assertion_audience(rule_audience, &issuer), now)
            {
                Some(jwt) => f.add_headers.push((a.header.clone(), jwt.to_string())),
                None => complete = false,
            }
        }
        if self.config.forward.passes_tokens() {
            match self.tokens.get(identity, now) {
                Some((access, id)) => self.add_tokens(access.as_deref(), id.as_deref(), f),
                None => complete = false,
            }
        }
        complete
    }

    /// The slow path: signs the assertion and reads the record as needed, then adds them.
    pub(super) async fn extras<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        path: &CanonicalPath,
        identity: Rc<Identity>,
        mut f: Forward,
    ) -> Forward {
        let now = io.clock.now();
        let selection = rules::select(&self.config.rules, &req.rule_request(path, req.preflight_method()));
        let rule_audience = self.rule_audience(selection);
        f.add_headers.retain(|(name, _)| !self.is_extra_header(name));
        self.add_claim_headers(&identity, &mut f);
        if let Some(header) = self
            .signed_assertion(req, io, &identity, rule_audience, Vec::new())
            .await
        {
            f.add_headers.push(header);
        }
        if self.config.forward.passes_tokens() {
            let tokens = match self.tokens.get(&identity, now) {
                Some(t) => t,
                None => self.read_tokens(req, io, &identity, now).await,
            };
            self.add_tokens(tokens.0.as_deref(), tokens.1.as_deref(), &mut f);
        }
        f
    }

    /// The assertion header for `identity` (with `extra` claims besides the configured ones):
    /// from the isolate's cache, else signed now and remembered. `None` without `[assertion]`,
    /// or when signing failed (logged; the origin then refuses the request, as it should).
    pub(super) async fn signed_assertion<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        identity: &Rc<Identity>,
        rule_audience: Option<&str>,
        extra: Vec<(String, Value)>,
    ) -> Option<(String, String)> {
        let a = self.config.assertion.as_ref()?;
        let now = io.clock.now();
        let issuer = self.assertion_issuer(req);
        let audience = self.assertion_audience(rule_audience, &issuer);
        if let Some(jwt) = self.assertions.get(identity, &issuer, audience, now) {
            return Some((a.header.clone(), jwt.to_string()));
        }
        let mut claims = self.assertion_claims(identity);
        claims.extend(extra);
        let input = AssertionInput {
            issuer: &issuer,
            audience,
            now,
            lifetime_secs: a.lifetime_secs,
            claims: &claims,
        };
        let Some((jwt, exp)) = assertion::sign(&a.key, identity, &input, io.signatures).await else {
            internal(io, "assertion_signature");
            return None;
        };
        let jwt: Rc<str> = jwt.into();
        self.assertions
            .insert(identity.clone(), &issuer, audience, jwt.clone(), now, exp);
        Some((a.header.clone(), jwt.to_string()))
    }

    fn is_extra_header(&self, name: &str) -> bool {
        self.config.assertion.as_ref().is_some_and(|a| a.header == name)
            || self.config.forward.names().any(|n| n == name)
    }

    fn add_tokens(&self, access: Option<&str>, id: Option<&str>, f: &mut Forward) {
        let fw = &self.config.forward;
        if let (Some(name), Some(token)) = (&fw.access_token, access) {
            let value = if name == "authorization" {
                format!("Bearer {}", super::gate::header_value(token))
            } else {
                super::gate::header_value(token)
            };
            f.add_headers.push((name.clone(), value));
        }
        if let (Some(name), Some(token)) = (&fw.id_token, id) {
            f.add_headers.push((name.clone(), super::gate::header_value(token)));
        }
    }

    /// The record's tokens, remembered until the access token expires (at most
    /// [`TOKEN_RECHECK_SECS`] when it has no known expiry or expired already).
    async fn read_tokens<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        identity: &Rc<Identity>,
        now: i64,
    ) -> TokenPair {
        let Some(provider) = self.config.provider(&identity.provider) else {
            return (None, None);
        };
        let (access, id, until) = match self.read_record(req, io, provider, &identity.handle).await {
            Ok(Some(record)) => {
                let until = match record.access_token_expires_at {
                    Some(exp) if exp > now => exp.min(identity.expires_at),
                    _ => now + TOKEN_RECHECK_SECS,
                };
                let access = record.access_token.map(|t| Rc::from(t.expose()));
                (access, Some(Rc::from(record.id_token.as_str())), until)
            }
            Ok(None) => (None, None, now + TOKEN_RETRY_SECS),
            Err(_) => {
                let mut event = Event::new(EventKind::KvError);
                event.reason = Some("session_record_read");
                io.log.push(event);
                (None, None, now + TOKEN_RETRY_SECS)
            }
        };
        self.tokens.insert(Tokens {
            identity: identity.clone(),
            access_token: access.clone(),
            id_token: id.clone(),
            until,
        });
        (access, id)
    }

    /// The configured claims present in the session, for the assertion.
    fn assertion_claims(&self, identity: &Identity) -> Vec<(String, Value)> {
        let Some(a) = &self.config.assertion else {
            return Vec::new();
        };
        a.claims
            .iter()
            .filter_map(|c| claim_value(identity, c).map(|v| (c.name.clone(), v)))
            .collect()
    }

    fn add_claim_headers(&self, identity: &Identity, f: &mut Forward) {
        for (claim, header) in &self.config.forward.claim_headers {
            if let Some(v) = claim_value(identity, claim) {
                f.add_headers
                    .push((header.clone(), super::gate::header_value(&header_text(&v))));
            }
        }
    }
}

/// A claim of the session: one of the identity's own fields, or one projected into it at login
/// (a list of the provider's values: strings, numbers and booleans as text; an array here even
/// for one value, so the origin reads one shape).
pub(super) fn claim_value(identity: &Identity, claim: &CopiedClaim) -> Option<Value> {
    if let Some(pointer) = &claim.pointer {
        let values = identity.claims.get(pointer)?;
        return Some(Value::Array(values.iter().cloned().map(Value::from).collect()));
    }
    match claim.name.as_str() {
        "email" => identity.email.clone().map(Value::from),
        "email_verified" => identity.email_verified.map(Value::from),
        "name" => identity.name.clone().map(Value::from),
        "acr" => identity.acr.clone().map(Value::from),
        "sid" => identity.sid.clone().map(Value::from),
        "idp" => Some(identity.provider.clone().into()),
        _ => None,
    }
}

/// A claim as header text: a string as is, an array of strings comma-separated, anything else
/// as JSON.
pub(crate) fn header_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

fn internal<H, K>(io: &Io<'_, H, K>, reason: &'static str) {
    let mut event = Event::new(EventKind::InternalError);
    event.reason = Some(reason);
    io.log.push(event);
}
