//! Bearer-token APIs (RFC 6750): a request with `Authorization: Bearer` where `bearer` applies
//! is judged by its token alone — a JWT access token validated locally (RFC 9068), or an opaque
//! token introspected at the provider (RFC 7662) — and never gets a redirect or a cookie. A
//! refusal is 401 (`invalid_request`, `invalid_token`) or 403 (`insufficient_scope`) with
//! `WWW-Authenticate` (§3). With `mode = "require"` a request without a token gets 401 too.
//!
//! Cost and abuse. An accepted token is remembered per isolate (by a SHA-256 of it, never the
//! token) until its `exp`, so its later requests verify nothing. A JWT that does not verify
//! costs CPU only: an unknown `kid` refetches the provider's keys at most once per 10 s and
//! keeps them in the isolate (never in KV). Introspection answers are written to KV only when
//! the provider says the token is active, under `introspect:<provider>:<hash>` for
//! min(exp − now, `introspection_cache_secs`) (not at all under KV's 60 s minimum): anonymous
//! traffic with made-up tokens causes introspection requests but never a KV write. Inactive
//! answers are remembered per isolate for 30 s (bounded), so one bad token repeated is asked
//! about once per 30 s per isolate.

use super::{App, Failure, Forward, Incoming, Io, Outcome};
use crate::core::config::bearer::{BearerMode, BearerPolicy, MAX_INTROSPECTION_CACHE_SECS};
use crate::core::config::{ClientConfig, ProviderConfig, Rule, RuleAction};
use crate::core::crypto::secret::b64url;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::access_token::{self, bearer_token, AccessParams, AccessToken, AccessTokenError};
use crate::core::oidc::introspection::{self, Introspected};
use crate::core::session::cookies::CookieJar;
use crate::core::session::Identity;
use crate::core::site::pages::{json_error, Reply};
use crate::core::site::path::CanonicalPath;
use crate::core::site::rules;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;

/// Most accepted (and refused) tokens remembered per isolate.
const MAX_REMEMBERED: usize = 1024;
/// How long an inactive introspection answer is remembered in the isolate.
const INACTIVE_SECS: i64 = 30;
/// KV's minimum TTL: shorter answers stay in the isolate only.
const KV_MIN_TTL: i64 = 60;

/// Accepted tokens (until their `exp`) and inactive ones (briefly), by token hash.
#[derive(Default)]
pub(super) struct BearerState {
    accepted: RefCell<HashMap<[u8; 32], (AccessToken, i64)>>,
    inactive: RefCell<HashMap<[u8; 32], i64>>,
}

fn remember<V>(map: &RefCell<HashMap<[u8; 32], V>>, key: [u8; 32], value: V) {
    let mut m = map.borrow_mut();
    if m.len() >= MAX_REMEMBERED {
        m.clear();
    }
    m.insert(key, value);
}

/// Why a bearer request was not let through.
enum Refusal {
    /// The token (or its absence): 401/403 with `WWW-Authenticate`.
    Token(AccessTokenError),
    /// The provider or KV failed: not the client's fault.
    Upstream(AppError),
}

impl From<AccessTokenError> for Refusal {
    fn from(e: AccessTokenError) -> Refusal {
        Refusal::Token(e)
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Refusal {
        Refusal::Upstream(e)
    }
}

impl App {
    /// The bearer settings for a request: `None` at once when bearer tokens are configured
    /// nowhere (the hot path's only cost). Otherwise every deciding rule (one, or two when the
    /// readings of the path differ, see src/core/site/rules.rs) must take bearer tokens: by its
    /// own `bearer` settings, or, for a rule without requirements (or no rule), by the `bearer`
    /// section covering the path. A rule with emails, domains, groups or claims and no `bearer`
    /// of its own takes none, so a token can never stand in for requirements it is not checked
    /// against (the cookie decides there: 401 JSON for an API call). The more restrictive
    /// reading wins, as everywhere; when both rules have settings, the one matching as written
    /// (the last) applies.
    pub(super) fn bearer_policy(&self, selection: rules::Selection, path: &CanonicalPath) -> Option<&BearerPolicy> {
        if !self.bearer_anywhere {
            return None;
        }
        let site = || self.config.bearer.as_ref().and_then(|b| b.policy_for(path));
        let mut policy = None;
        for rule in selection.deciding(&self.config.rules) {
            let taken = match rule {
                // Judged without a token: passed on, or refused (`bearer` is never taken there).
                Some(Rule {
                    action: RuleAction::Public | RuleAction::Deny,
                    ..
                }) => continue,
                Some(Rule { bearer: Some(own), .. }) => own,
                Some(Rule {
                    action: RuleAction::Authenticated(req),
                    ..
                }) => {
                    let open = req.emails.is_empty()
                        && req.email_domains.is_empty()
                        && req.groups.is_empty()
                        && req.claims.is_empty();
                    site().filter(|p| open && req.providers.as_ref().is_none_or(|n| n.contains(&p.provider)))?
                }
                None => site()?,
            };
            policy = Some(taken);
        }
        policy
    }

    /// The bearer decision for a request where `policy` applies: `None` when the cookie
    /// decides instead (mode `accept` and no `Authorization: Bearer`).
    pub(super) fn bearer_applies(&self, req: &Incoming, policy: &BearerPolicy) -> bool {
        policy.mode == BearerMode::Require || bearer_token(req.headers.authorization.as_deref()).is_some()
    }

    /// Judges the request by its bearer token alone.
    pub(super) async fn bearer<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        policy: &BearerPolicy,
        rule_audience: Option<&str>,
    ) -> Result<Outcome, Failure> {
        let token = match bearer_token(req.headers.authorization.as_deref()) {
            None => return Ok(Outcome::Reply(refusal(401, None, "a bearer token is required", policy))),
            Some(Err(())) => {
                return Ok(Outcome::Reply(refusal(
                    400,
                    Some("invalid_request"),
                    "the Authorization header is not a valid bearer token",
                    policy,
                )))
            }
            Some(Ok(t)) => t,
        };
        let provider = self
            .config
            .provider(&policy.provider)
            .ok_or_else(|| AppError::Internal("the bearer provider is not configured".into()))?;
        match self.accept_token(io, provider, policy, token).await {
            Ok(at) => {
                let mut f = self.bearer_forward(req, provider, &at, token);
                if self.config.assertion.is_some() {
                    let identity = token_identity(provider, &at, token);
                    let mut extra = vec![("scope".to_owned(), at.scopes.join(" ").into())];
                    if let Some(client) = &at.client_id {
                        extra.push(("client_id".to_owned(), client.clone().into()));
                    }
                    if let Some(h) = self.signed_assertion(req, io, &identity, rule_audience, extra).await {
                        f.add_headers.push(h);
                    }
                }
                Ok(Outcome::Forward(f))
            }
            Err(Refusal::Token(e)) => {
                let (status, code) = match e {
                    AccessTokenError::InsufficientScope => (403, "insufficient_scope"),
                    _ => (401, "invalid_token"),
                };
                Ok(Outcome::Reply(refusal(status, Some(code), &e.to_string(), policy)))
            }
            Err(Refusal::Upstream(e)) => Err(e.into()),
        }
    }

    async fn accept_token<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        policy: &BearerPolicy,
        token: &str,
    ) -> Result<AccessToken, Refusal> {
        let now = io.clock.now();
        let hash: [u8; 32] = Sha256::new()
            .chain_update(b"edge-oidc bearer\0")
            .chain_update(policy.provider.as_bytes())
            .chain_update(b"\0")
            .chain_update(token.as_bytes())
            .finalize()
            .into();
        let remembered = self.bearer.accepted.borrow().get(&hash).cloned();
        if let Some((at, until)) = remembered {
            if now < until {
                // The policy's scopes are checked on every use: a token remembered for one path
                // may lack what another requires.
                return if at.has_scopes(&policy.scopes) {
                    Ok(at)
                } else {
                    Err(AccessTokenError::InsufficientScope.into())
                };
            }
        }
        let (at, until) = if policy.introspection {
            self.introspect(io, provider, policy, token, &hash, now).await?
        } else {
            let at = self.validate_jwt(io, provider, policy, token, now).await?;
            let until = at.exp;
            (at, until)
        };
        remember(&self.bearer.accepted, hash, (at.clone(), until));
        Ok(at)
    }

    async fn validate_jwt<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        policy: &BearerPolicy,
        token: &str,
        now: i64,
    ) -> Result<AccessToken, Refusal> {
        let metadata = self.metadata(provider, io).await?;
        let jwks = self.jwks(provider, &metadata, io).await?;
        let params = AccessParams {
            issuer: &provider.issuer,
            audiences: &policy.audiences,
            scopes: &policy.scopes,
            allowed_algs: &provider.allowed_algs,
            require_typ: policy.require_typ,
            now,
            leeway_secs: self.config.clock_leeway_secs,
        };
        match access_token::validate(token, &jwks, &params, io.signatures).await {
            // Anyone can send a token: keys refetched for it stay in the isolate.
            Err(e) if e.needs_jwks_refresh() => match self.refetch_jwks_for(provider, &metadata, io, false).await? {
                Some(fresh) => Ok(access_token::validate(token, &fresh, &params, io.signatures).await?),
                None => Err(e.into()),
            },
            other => Ok(other?),
        }
    }

    /// RFC 7662, with the answer remembered as the module documentation says; the token and
    /// until when it may be reused.
    async fn introspect<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        policy: &BearerPolicy,
        token: &str,
        hash: &[u8; 32],
        now: i64,
    ) -> Result<(AccessToken, i64), Refusal> {
        if self
            .bearer
            .inactive
            .borrow()
            .get(hash)
            .is_some_and(|until| now < *until)
        {
            return Err(AccessTokenError::Expired.into());
        }
        let check = |i: Introspected| introspection::check(i, &provider.issuer, &policy.audiences, &policy.scopes, now);
        let key = format!("introspect:{}:{}", provider.name, b64url(hash));
        // A KV failure is not a refusal: the provider is asked instead.
        if let Ok(Some(stored)) = io.kv.get(&key).await {
            // `from_slice`, as the provider's answer is read: one deserializer in the wasm, not two.
            if let Ok((i, until)) = serde_json::from_slice::<(Introspected, i64)>(stored.as_bytes()) {
                if now < until {
                    return Ok((check(i)?, until));
                }
            }
        }
        let metadata = self.metadata(provider, io).await?;
        let endpoint = metadata.introspection_endpoint.as_deref().ok_or_else(|| {
            AppError::Internal(format!(
                "bearer.introspection is on, but provider {} lists no introspection_endpoint",
                provider.name
            ))
        })?;
        let client = self.introspection_client(provider, &metadata, io).await?;
        let request = introspection::request(&client, endpoint, token, now, &io.random.token(), io.signatures)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let response = io.http.send(request).await.map_err(AppError::from)?;
        let answer = (response.status == 200)
            .then(|| introspection::parse(&response.body))
            .flatten()
            .ok_or_else(|| AppError::Internal("the introspection endpoint gave no valid answer".into()))?;
        if !answer.active {
            remember(&self.bearer.inactive, *hash, now + INACTIVE_SECS);
            return Err(AccessTokenError::Expired.into());
        }
        let bound = i64::try_from(policy.introspection_cache_secs.min(MAX_INTROSPECTION_CACHE_SECS)).unwrap_or(300);
        let until = answer.exp.unwrap_or(i64::MAX).min(now.saturating_add(bound));
        let at = check(answer.clone())?;
        let ttl = until - now;
        if ttl >= KV_MIN_TTL {
            if let Ok(json) = serde_json::to_string(&(&answer, until)) {
                io.kv.put_background(&key, &json, u64::try_from(ttl).unwrap_or(60));
            }
        }
        Ok((at, until))
    }

    /// The client that asks the introspection endpoint: the configured one, or the registered one
    /// known here (never a new registration for an API request).
    async fn introspection_client<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &crate::core::oidc::discovery::ProviderMetadata,
        io: &Io<'_, H, K>,
    ) -> Result<crate::core::oidc::client_auth::Client, AppError> {
        let id = match &provider.client {
            ClientConfig::Static { .. } => None,
            ClientConfig::Dynamic { .. } => self.client_ids(provider, io).await.into_iter().next(),
        };
        self.client_for_callback(provider, metadata, id.as_deref(), io, true)
            .await
    }

    /// The request passed on for an accepted token: our cookies removed, the identity headers
    /// from the token (`sub`, `email` when it has one, the provider), never a cookie set.
    fn bearer_forward(&self, req: &Incoming, provider: &ProviderConfig, at: &AccessToken, token: &str) -> Forward {
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let mut f = self.forward(&jar, None);
        let h = &self.config.identity_headers;
        f.add_headers
            .push((h.subject.clone(), super::gate::header_value(&at.sub)));
        if let Some(email) = &at.email {
            f.add_headers.push((h.email.clone(), super::gate::header_value(email)));
        }
        if let Some(p) = &h.provider {
            f.add_headers
                .push((p.clone(), super::gate::header_value(&provider.name)));
        }
        // Pass-through to `Authorization` removed the client's copy: the validated token goes on.
        if self.config.forward.access_token.as_deref() == Some("authorization") {
            f.add_headers
                .push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        f.private = true;
        f
    }
}

/// The identity an accepted token stands for, for its assertion: the token's `sub` and `email`,
/// until its `exp`; its handle a hash of the token (the assertion cache's key: one signature per
/// token per isolate, never the token itself).
fn token_identity(provider: &ProviderConfig, at: &AccessToken, token: &str) -> std::rc::Rc<Identity> {
    let digest = Sha256::new()
        .chain_update(b"edge-oidc bearer assertion\0")
        .chain_update(token.as_bytes())
        .finalize();
    std::rc::Rc::new(Identity {
        provider: provider.name.clone(),
        sub: at.sub.clone(),
        email: at.email.clone(),
        email_verified: None,
        name: None,
        acr: None,
        created_at: 0,
        expires_at: at.exp,
        handle: format!("bearer:{}", b64url(digest.get(..16).unwrap_or_default())),
        sid: None,
        refresh_due: None,
        silent_refresh: false,
        checked_at: None,
        active_at: None,
        claims: Default::default(),
    })
}

/// A refusal per RFC 6750 §3: JSON body, `WWW-Authenticate`, never cached, never a cookie.
fn refusal(status: u16, code: Option<&str>, description: &str, policy: &BearerPolicy) -> Reply {
    let mut reply = json_error(status, code.unwrap_or("invalid_token"), description, None);
    reply.headers.push((
        "www-authenticate",
        access_token::www_authenticate(code, description, &policy.scopes),
    ));
    reply
}
