//! The Back-Channel Logout endpoint (OpenID Connect Back-Channel Logout 1.0): the provider
//! POSTs a logout token when a user logs out there, and the sessions it names end here within
//! the revocation check bound (src/core/flow/upkeep.rs).
//!
//! Anyone can POST here. Nothing is written to KV unless the token verified with the keys of the
//! provider its `iss` names (src/core/oidc/logout_token.rs); a `kid` the cached keys lack is
//! refetched at most once per 10 s and kept in the isolate only. A valid token writes the
//! revocation record (by `sid`, else by `sub`: §2.7) and its `jti` mark (replays are refused).
//! Answers (§2.8): 200, or 400 with a JSON `error` / `error_description`; never cached.

use super::{App, Incoming, Io};
use crate::core::config::{ClientConfig, ProviderConfig};
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::oidc::logout_token::{self, LogoutParams, LogoutTokenError, ValidatedLogoutToken};
use crate::core::oidc::registration::RegisteredClient;
use crate::core::session::revocation;
use crate::core::site::pages::{json_error, Reply};

/// Largest request body read (a logout token is a few KB; the JWS cap, form-encoded).
pub const MAX_BODY: usize = 72 * 1024;
/// How old a logout token may be (`iat`), and so how long its `jti` is remembered.
const MAX_TOKEN_AGE_SECS: i64 = 600;

/// Why a back-channel logout request was refused.
#[derive(Debug, thiserror::Error)]
enum BackchannelError {
    /// Not a POST of a form with one `logout_token`.
    #[error("{0}")]
    Request(&'static str),
    /// The token names no provider with back-channel logout on.
    #[error("the logout token's issuer is not a provider with back-channel logout")]
    UnknownIssuer,
    /// The token failed validation.
    #[error(transparent)]
    Token(#[from] LogoutTokenError),
    /// Its `jti` was seen before.
    #[error("this logout token was already used (jti)")]
    Replayed,
    /// The provider's metadata or keys, or KV, failed: the logout is not recorded (logged).
    #[error("the logout could not be recorded: {0}")]
    Unavailable(#[from] AppError),
}

impl App {
    /// `POST {backchannel_logout_path}` with `logout_token=…`.
    pub(super) async fn backchannel_logout<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Reply {
        match self.accept_logout(req, io).await {
            Ok(provider) => {
                io.log.push(Event::new(EventKind::Logout).provider(provider));
                Reply {
                    status: 200,
                    headers: vec![("cache-control", "no-store".to_owned())],
                    body: String::new(),
                }
            }
            Err(e) => {
                // Only our own failures are logged: refused tokens are anyone's noise.
                if matches!(e, BackchannelError::Unavailable(_)) {
                    let mut event = Event::new(EventKind::ProviderError);
                    event.reason = Some("backchannel_logout_unavailable");
                    io.log.push(event);
                }
                json_error(400, "invalid_request", &e.to_string(), None)
            }
        }
    }

    /// Validates and records a logout; the name of the provider it came from.
    async fn accept_logout<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<&str, BackchannelError> {
        let token = logout_token_param(req)?;
        let issuer = logout_token::peek_issuer(&token).ok_or(BackchannelError::Token(LogoutTokenError::WrongIssuer))?;
        let provider = self
            .config
            .providers
            .iter()
            .find(|p| p.issuer == issuer && p.follow.backchannel_logout)
            .ok_or(BackchannelError::UnknownIssuer)?;
        let logout = self.validate_logout_token(io, provider, &token).await?;
        // §2.6 step 8: a jti seen before is refused. Checked (and marked) only for valid tokens.
        let jti_key = revocation::jti_key(&provider.name, &logout.jti);
        if io.kv.get(&jti_key).await.map_err(AppError::from)?.is_some() {
            return Err(BackchannelError::Replayed);
        }
        // §2.7: with a sid, that provider session; with only a sub, every session of the user.
        let now = io.clock.now();
        let revoke = match (&logout.sid, &logout.sub) {
            (Some(sid), _) => revocation::sid_key(&provider.name, sid),
            (None, Some(sub)) => revocation::sub_key(&provider.name, sub),
            (None, None) => return Err(LogoutTokenError::MissingSubAndSid.into()),
        };
        let lifetime = self.config.session.lifetime_secs;
        io.kv
            .put(&revoke, &now.to_string(), lifetime)
            .await
            .map_err(AppError::from)?;
        let remember = u64::try_from(MAX_TOKEN_AGE_SECS + 2 * self.config.clock_leeway_secs).unwrap_or(3600);
        io.kv
            .put(&jti_key, "1", remember.max(60))
            .await
            .map_err(AppError::from)?;
        Ok(&provider.name)
    }

    /// §2.6 with the provider's keys; an unknown `kid` refetches them once (not stored).
    async fn validate_logout_token<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        token: &str,
    ) -> Result<ValidatedLogoutToken, BackchannelError> {
        let metadata = self.metadata(provider, io).await?;
        let client_ids = self.client_ids(provider, io).await;
        let ids: Vec<&str> = client_ids.iter().map(String::as_str).collect();
        let params = LogoutParams {
            issuer: &provider.issuer,
            client_ids: &ids,
            allowed_algs: &provider.allowed_algs,
            now: io.clock.now(),
            leeway_secs: self.config.clock_leeway_secs,
            max_age_secs: MAX_TOKEN_AGE_SECS,
        };
        let jwks = self.jwks(provider, &metadata, io).await?;
        match logout_token::validate(token, &jwks, &params, io.signatures).await {
            Err(e) if e.needs_jwks_refresh() => match self.refetch_jwks_for(provider, &metadata, io, false).await? {
                Some(fresh) => Ok(logout_token::validate(token, &fresh, &params, io.signatures).await?),
                None => Err(e.into()),
            },
            other => Ok(other?),
        }
    }

    /// Our client ids at `provider`: the configured one, or the registrations known (this
    /// isolate's, else the current one in KV).
    pub(super) async fn client_ids<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        io: &Io<'_, H, K>,
    ) -> Vec<String> {
        match &provider.client {
            ClientConfig::Static { client_id } => vec![client_id.clone()],
            ClientConfig::Dynamic { .. } => {
                let known = self.cache.registered_ids(&provider.name);
                if !known.is_empty() {
                    return known;
                }
                let stored = io.kv.get(&super::client::registration_key(&provider.name)).await;
                stored
                    .ok()
                    .flatten()
                    .and_then(|v| serde_json::from_str::<RegisteredClient>(&v).ok())
                    .map(|c| vec![c.client_id])
                    .unwrap_or_default()
            }
        }
    }
}

/// The one `logout_token` of a form POST (§2.5).
fn logout_token_param(req: &Incoming) -> Result<String, BackchannelError> {
    if req.method != "POST" {
        return Err(BackchannelError::Request(
            "the back-channel logout endpoint takes a POST",
        ));
    }
    let form = req.headers.content_type.as_deref().is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return Err(BackchannelError::Request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = req.body.as_deref().unwrap_or_default();
    let mut tokens = url::form_urlencoded::parse(body).filter(|(k, _)| k == "logout_token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) if !token.is_empty() => Ok(token.into_owned()),
        (Some(_), Some(_)) => Err(BackchannelError::Request("logout_token is repeated")),
        _ => Err(BackchannelError::Request("the request has no logout_token")),
    }
}
