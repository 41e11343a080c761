//! Refreshing a session with its refresh token (RFC 6749 §6, OpenID Connect Core §12), on
//! whatever request finds it due: the user sees nothing, API calls included.
//!
//! Within an isolate the requests of a session share one refresh (src/core/flow/flight.rs).
//! Across isolates, and across providers that rotate refresh tokens (a used token is refused,
//! and some providers then revoke the whole grant: oidc-provider does), two KV records keyed by
//! a hash of the session handle and the refresh due time the old cookie carries (every copy of
//! the old cookie names the same refresh, even once the record holds the rotated token) keep one
//! redemption per refresh:
//!
//! 1. `refreshed:<h>`: the session a refresh got, sealed, kept 120 s. An isolate that finds it
//!    takes it and does not refresh at all (one KV read, before the record is even read).
//! 2. `refreshing:<h>`: a lease. An isolate writes its random id there, waits
//!    [`LEASE_SETTLE_MS`] for concurrent writers to land, and reads it back: only the isolate
//!    whose id is still there redeems the token; the others wait for `refreshed:<h>`. KV is
//!    eventually consistent, so this is a strong filter within a location, not a lock.
//! 3. After `invalid_grant`, `refreshed:<h>` is looked at again (another isolate may have won a
//!    race the lease missed) before the session is ended as revoked.
//!
//! A passing failure (no answer, 5xx, a KV error, another isolate's refresh that does not land)
//! never ends a session: it goes on and the next attempt waits (src/core/flow/upkeep.rs). Once
//! the provider has answered with new tokens they are kept even if what follows fails for a
//! passing reason, since the old refresh token may be spent.

use super::callback::{check_acr, profile, Check};
use super::upkeep::Ended;
use super::{nonce24, App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::Secret;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::id_token::{self, IdTokenFault, Original, TokenHashes};
use crate::core::oidc::token::{self, TokenError, TokenResponse};
use crate::core::session::{record_key, revocation, Identity, SealContext, SessionRecord};

/// How long a lease writer waits before reading the lease back.
pub const LEASE_SETTLE_MS: u32 = 50;
/// The lease's life in KV (its minimum TTL): a crashed leader holds others off this long.
const LEASE_TTL_SECS: u64 = 60;
/// How long the session a refresh got stays in KV for other isolates.
const REFRESHED_TTL_SECS: u64 = 120;
/// When to look for another isolate's refresh while it holds the lease (ms, about 3 s in all).
const AWAIT_LEASE_MS: [u32; 5] = [100, 200, 400, 800, 1600];
/// When to look again after `invalid_grant` before ending the session (ms).
const AWAIT_REFUSED_MS: [u32; 3] = [0, 250, 750];

/// What a refresh by token gave.
#[derive(Debug)]
pub(super) enum Refreshed {
    /// A new identity (same handle, start and end; new claims, next refresh scheduled), and
    /// what was not refreshed, for the log.
    Renewed(Box<Identity>, Option<String>),
    /// Not now, for a passing reason: try again later.
    Postponed(String),
    /// The session has no refresh token: it refreshes with `prompt=none` on a navigation.
    Silent,
    /// The session is over.
    Ended(Ended, Option<String>),
}

impl App {
    /// Refreshes `identity` with the refresh token of its record (see the module documentation).
    pub(super) async fn refresh_by_token<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        identity: &Identity,
    ) -> Refreshed {
        let done_key = revocation::refreshed_key(&identity.handle, identity.refresh_due);
        if let Some(adopted) = self.adopt(req, io, identity, &done_key, &[0]).await {
            return Refreshed::Renewed(Box::new(adopted), None);
        }
        let record = match self.read_record(req, io, provider, &identity.handle).await {
            Ok(Some(record)) => record,
            // Logged out (the record is deleted at logout) or expired.
            Ok(None) => return Refreshed::Ended(Ended::Revoked, None),
            Err(e) => return Refreshed::Postponed(e.to_string()),
        };
        let Some(refresh_token) = record.refresh_token.clone() else {
            return Refreshed::Silent;
        };
        let lease = revocation::refreshing_key(&identity.handle, identity.refresh_due);
        match self.take_lease(io, &lease).await {
            Ok(true) => {}
            Ok(false) => {
                return match self.adopt(req, io, identity, &done_key, &AWAIT_LEASE_MS).await {
                    Some(adopted) => Refreshed::Renewed(Box::new(adopted), None),
                    None => Refreshed::Postponed("another isolate is refreshing this session".into()),
                }
            }
            Err(e) => return Refreshed::Postponed(e.to_string()),
        }
        // Everything that can fail for a passing reason before the token is spent.
        let metadata = match self.metadata(provider, io).await {
            Ok(m) => m,
            Err(e) => return Refreshed::Postponed(e.to_string()),
        };
        let tokens = match self.redeem(io, provider, &metadata, &record, &refresh_token).await {
            Ok(tokens) => tokens,
            Err(Redeem::Refused) => {
                return match self.adopt(req, io, identity, &done_key, &AWAIT_REFUSED_MS).await {
                    Some(adopted) => Refreshed::Renewed(Box::new(adopted), None),
                    None => Refreshed::Ended(Ended::Revoked, None),
                }
            }
            Err(Redeem::Failed(why)) => return Refreshed::Postponed(why),
        };
        self.renew(req, io, provider, &metadata, identity, record, tokens, &done_key)
            .await
    }

    /// The session record of `handle`, opened.
    pub(super) async fn read_record<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        handle: &str,
    ) -> Result<Option<SessionRecord>, AppError> {
        let key = record_key(handle);
        let deployment = self.deployment(req);
        let context = SealContext {
            kind: "record",
            name: &key,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        Ok(match io.kv.get(&key).await? {
            Some(sealed) => SessionRecord::open(&self.config.sealer, &context, &sealed).ok(),
            None => None,
        })
    }

    /// The session another isolate got for the same refresh token, looked for after each wait
    /// of `waits` (ms). Only the same session (handle and user) is taken.
    async fn adopt<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        identity: &Identity,
        done_key: &str,
        waits: &[u32],
    ) -> Option<Identity> {
        let deployment = self.deployment(req);
        for &wait in waits {
            if wait > 0 {
                io.clock.sleep(wait).await;
            }
            let Ok(Some(sealed)) = io.kv.get(done_key).await else {
                continue;
            };
            let opened = Identity::open_as(&self.config.sealer, &sealed, "refreshed", done_key, &deployment, |p| {
                self.issuer_of(p)
            });
            return opened
                .ok()
                .filter(|i| i.handle == identity.handle && i.sub == identity.sub && i.provider == identity.provider);
        }
        None
    }

    /// Writes this isolate's id into the lease and reads it back after the settling time:
    /// whether this isolate may redeem the token.
    async fn take_lease<H: HttpClient, K: KvStore>(&self, io: &Io<'_, H, K>, lease: &str) -> Result<bool, AppError> {
        if io.kv.get(lease).await?.is_some() {
            return Ok(false);
        }
        let mine = io.random.token();
        io.kv.put(lease, &mine, LEASE_TTL_SECS).await?;
        io.clock.sleep(LEASE_SETTLE_MS).await;
        Ok(io.kv.get(lease).await?.is_none_or(|v| v == mine))
    }

    /// The refresh token grant, with the client the session was obtained with.
    async fn redeem<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        record: &SessionRecord,
        refresh_token: &Secret,
    ) -> Result<TokenResponse, Redeem> {
        let failed = |e: AppError| Redeem::Failed(e.to_string());
        let client = self
            .client_for_callback(provider, metadata, Some(&record.client_id), io, true)
            .await
            .map_err(failed)?;
        let request = token::refresh_request(
            &metadata.token_endpoint,
            &client,
            refresh_token,
            io.clock.now(),
            &io.random.token(),
            io.signatures,
        )
        .await
        .map_err(|e| failed(e.into()))?;
        let response = io.http.send(request).await.map_err(|e| failed(e.into()))?;
        token::parse_refresh_response(&response).map_err(|e| match e {
            e if e.is_invalid_grant() => Redeem::Refused,
            e => failed(AppError::Token(e)),
        })
    }

    /// New tokens in hand: Core §12.2 on the new ID token, UserInfo again, the rules again,
    /// then the new record and identity stored.
    #[allow(clippy::too_many_arguments)]
    async fn renew<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        identity: &Identity,
        record: SessionRecord,
        tokens: TokenResponse,
        done_key: &str,
    ) -> Refreshed {
        let now = io.clock.now();
        let mut notes = Vec::new();
        let original = id_token::stored_claims(&record.id_token);
        let new_id_token = match &tokens.id_token {
            Some(raw) => {
                let check = Check::Refresh(Original {
                    sub: &identity.sub,
                    nonce: original.as_ref().and_then(|c| c.nonce.as_deref()),
                    auth_time: original.as_ref().and_then(|c| c.auth_time),
                });
                let hashes = TokenHashes {
                    access_token: Some(tokens.access_token.expose()),
                    ..TokenHashes::default()
                };
                match self
                    .validate_id_token(io, provider, &record.client_id, metadata, raw, check, hashes)
                    .await
                {
                    Ok(v) => Some(v),
                    Err(AppError::IdToken(e))
                        if matches!(e.fault(), IdTokenFault::Security | IdTokenFault::Configuration) =>
                    {
                        return Refreshed::Ended(Ended::Revoked, Some(format!("refreshed session refused: {e}")));
                    }
                    Err(e) => {
                        notes.push(format!("the refreshed ID token was not used: {e}"));
                        None
                    }
                }
            }
            None => None,
        };
        let claims = new_id_token.as_ref().map(|v| v.claims());
        let acr = claims.and_then(|c| c.acr.clone()).or_else(|| identity.acr.clone());
        if check_acr(provider, acr.as_deref()).is_err() {
            return Refreshed::Ended(Ended::Acr(acr), None);
        }
        let userinfo = match (&metadata.userinfo_endpoint, provider.fetch_userinfo) {
            (Some(endpoint), true) => match io
                .http
                .send(token::userinfo_request(endpoint, &tokens.access_token))
                .await
            {
                Ok(response) => match token::parse_userinfo(&response, &identity.sub) {
                    Ok(claims) => Some(claims),
                    Err(TokenError::UserinfoSubjectMismatch) => {
                        return Refreshed::Ended(Ended::Revoked, Some("refreshed UserInfo names another user".into()))
                    }
                    Err(e) => {
                        notes.push(format!("UserInfo not refreshed: {e}"));
                        None
                    }
                },
                Err(e) => {
                    notes.push(format!("UserInfo not refreshed: {e}"));
                    None
                }
            },
            _ => None,
        };
        let mut next = identity.clone();
        if let Some((email, email_verified, name)) = profile(claims, userinfo.as_ref()) {
            (next.email, next.email_verified, next.name) = (email, email_verified, name);
        }
        next.acr = acr;
        next.sid = claims.and_then(|c| c.sid.clone()).or(next.sid);
        let has_refresh_token = tokens.refresh_token.is_some() || record.refresh_token.is_some();
        let every = provider.follow.refresh_interval_secs.unwrap_or(0);
        next.refresh_due = Some(
            now.saturating_add(i64::try_from(every).unwrap_or(i64::MAX))
                .min(next.expires_at),
        );
        next.silent_refresh = !has_refresh_token;
        if let Err(e) = self.check_allowed(&next) {
            let who = match e {
                AppError::Forbidden(who) => who,
                _ => String::new(),
            };
            return Refreshed::Ended(Ended::Forbidden(who), None);
        }
        // `required_claims` (a login rule) again, on what this refresh knows: the new ID token's
        // claims, else the original's, and UserInfo, new or stored.
        let basis = claims.or(original.as_ref());
        let info = userinfo.as_ref().or(record.userinfo.as_ref());
        // The claims the rules test, from what this refresh knows (the same projection as at login).
        if let Some(basis) = basis {
            next.claims = self.config.projection(provider, basis, info);
        }
        if basis.is_some_and(|c| super::requirements::check_required_claims(provider, c, info).is_err()) {
            return Refreshed::Ended(
                Ended::Forbidden(String::new()),
                Some("a required claim is no longer met".into()),
            );
        }
        let record = SessionRecord {
            client_id: record.client_id,
            id_token: new_id_token.map_or(record.id_token, |v| v.raw().to_owned()),
            access_token: Some(tokens.access_token),
            access_token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)),
            // RFC 6749 §6: a new refresh token replaces the old one; without one the old stays.
            refresh_token: tokens.refresh_token.or(record.refresh_token),
            userinfo: userinfo.or(record.userinfo),
        };
        if let Err(e) = self.store_renewed(req, io, provider, &next, &record, done_key) {
            notes.push(e.to_string());
        }
        if notes.is_empty() {
            return Refreshed::Renewed(Box::new(next), None);
        }
        // The tokens are kept; what was not refreshed is asked again soon, and logged.
        let retry = super::upkeep::retry_after(every);
        next.refresh_due = Some(now.saturating_add(retry).min(next.expires_at));
        Refreshed::Renewed(Box::new(next), Some(notes.join("; ")))
    }

    /// The new record (same key, remaining lifetime) and the copy of the new identity for the
    /// isolates that lost the race for this refresh token.
    fn store_renewed<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        identity: &Identity,
        record: &SessionRecord,
        done_key: &str,
    ) -> Result<(), AppError> {
        let key = record_key(&identity.handle);
        self.put_record(req, io, provider, &key, record, identity.expires_at)?;
        let deployment = self.deployment(req);
        let done_context = SealContext {
            kind: "refreshed",
            name: done_key,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        let sealed_identity = identity
            .seal(&self.config.sealer, &done_context, nonce24(io.random))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        io.kv.put_background(done_key, &sealed_identity, REFRESHED_TTL_SECS);
        Ok(())
    }
}

/// Why a refresh token grant gave no tokens.
enum Redeem {
    /// `invalid_grant`: revoked, expired, or already used (rotation).
    Refused,
    /// Anything else (no answer, 5xx, client authentication, a malformed answer): passing.
    Failed(String),
}
