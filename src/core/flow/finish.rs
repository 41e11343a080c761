//! Finishing a login from an authorization response that passed the callback's checks: its
//! tokens validated as its response type requires, the code redeemed where there is one,
//! UserInfo, the allow-lists, and the session written (the KV record, which also marks the
//! state as used, and the identity cookie).
//!
//! - `code` (Core §3.1.3): the ID token and access token from the token endpoint.
//! - `id_token`, `id_token token` (Core §3.2.2.11): the ID token from the authorization endpoint,
//!   with its nonce required and, with an access token, its `at_hash` required and checked.
//! - `code id_token`, `code token`, `code id_token token` (Core §3.3.2.12, §3.3.3.7): the
//!   front-channel ID token (nonce, `c_hash` required, `at_hash` with an access token), then the
//!   code redeemed; the token endpoint's ID token must name the same `iss` and `sub`
//!   (§3.3.3.6), and the session keeps the token endpoint's tokens.

use super::{nonce24, requirements, App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::Secret;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::id_token::{self, IdTokenClaims, IdTokenError, TokenHashes, ValidatedIdToken, ValidationParams};
use crate::core::oidc::jwks::Jwks;
use crate::core::oidc::jwks::KeySelectError;
use crate::core::oidc::response::{AuthorizationResponse, ResponseError};
use crate::core::oidc::token::{self, TokenError};
use crate::core::session::pending::PendingLogin;
use crate::core::session::{record_key, revocation, Identity, SealContext, SessionRecord};
use crate::core::site::pages::Reply;
use std::rc::Rc;

/// The tokens a session is made of.
struct Tokens {
    id_token: ValidatedIdToken,
    access_token: Option<Secret>,
    expires_in: Option<i64>,
    refresh_token: Option<Secret>,
}

impl App {
    /// Validates the response's tokens, starts the session (or continues it, after a silent
    /// refresh) and redirects to the return URL.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        pending: &PendingLogin,
        params: AuthorizationResponse,
        handle: String,
    ) -> Result<Reply, AppError> {
        let redeems = pending.response_type.code();
        let iss_param = params.iss.clone();
        let key = record_key(&handle);
        let client = self
            .client_for_callback(provider, metadata, pending.client_id.as_deref(), io, redeems)
            .await?;
        let tokens = self
            .tokens(req, io, provider, &client, metadata, pending, params)
            .await?;
        let (mut identity, record) = self
            .session_from(
                io,
                provider,
                &client.client_id,
                metadata,
                tokens,
                handle,
                iss_param.as_deref(),
            )
            .await?;
        let now = io.clock.now();
        let resealed = match &pending.refresh {
            Some(refresh) => {
                if identity.sub != refresh.sub {
                    // Another user is signed in at the provider now: this session is over, and
                    // who comes next is for an interactive login to say.
                    return self.interactive_login(req, io, provider, &pending.return_to).await;
                }
                self.continue_session(&mut identity, refresh, io).await;
                Some((identity.expires_at, now))
            }
            None => None,
        };
        self.check_allowed(&identity)?;
        self.schedule(&mut identity, provider, now, record.refresh_token.is_some());
        let cookies = self.store_session(req, io, provider, &key, &identity, &record, resealed)?;
        let event = match resealed {
            // A silent refresh continues a session: a `refresh`, not a new login.
            Some(_) => Event::new(EventKind::Refresh),
            None => Event::new(EventKind::LoginCompleted).duration_secs(now.saturating_sub(pending.created_at)),
        };
        io.log.push(event.provider(&provider.name).subject(&identity.sub));
        Ok(Reply::redirect(&pending.return_to).with_cookies(cookies))
    }

    /// The session's tokens from the response, validated (see the module documentation).
    #[allow(clippy::too_many_arguments)]
    async fn tokens<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client: &crate::core::oidc::client_auth::Client,
        metadata: &ProviderMetadata,
        pending: &PendingLogin,
        params: AuthorizationResponse,
    ) -> Result<Tokens, AppError> {
        let rt = pending.response_type;
        let nonce = pending.nonce.expose();
        let client_id = client.client_id.as_str();
        // RFC 6749 §4.2.2: an access token from the authorization endpoint has a token_type,
        // and edge-oidc uses bearer tokens only (Core §3.2.2.5).
        if params.access_token.is_some() {
            match params.token_type.as_deref() {
                None => return Err(ResponseError::Missing("token_type").into()),
                Some(t) if !t.eq_ignore_ascii_case("bearer") => return Err(TokenError::TokenType(t.to_owned()).into()),
                Some(_) => {}
            }
        }
        // The front-channel ID token: nonce always (the validation params carry it), at_hash
        // when an access token came with it (Core §3.2.2.10, §3.3.2.11), c_hash when a code did
        // (§3.3.2.11); both with the hash of the token's own alg.
        let front = match params.id_token.as_deref() {
            Some(raw) => {
                let hashes = TokenHashes {
                    access_token: params.access_token.as_deref(),
                    require_at_hash: rt.token(),
                    code: params.code.as_deref(),
                    require_c_hash: rt.code(),
                };
                Some(
                    self.validate_id_token(io, provider, client_id, metadata, raw, Check::Login(nonce), hashes)
                        .await?,
                )
            }
            None => None,
        };
        let Some(code) = params.code.filter(|_| rt.code()) else {
            // The implicit flow: everything came from the authorization endpoint.
            let id_token = front.ok_or(ResponseError::Missing("id_token"))?;
            return Ok(Tokens {
                id_token,
                access_token: params.access_token.map(Secret::new),
                // Only informative (when the access token expires): a value that is not a
                // number is treated as absent rather than failing the login.
                expires_in: params.expires_in.and_then(|e| e.parse().ok()),
                refresh_token: None,
            });
        };
        let request = token::code_request(
            &metadata.token_endpoint,
            client,
            &code,
            &self.our_url(req, &self.config.redirect_path),
            pending.pkce_verifier.expose(),
            io.clock.now(),
            &io.random.token(),
            io.signatures,
        )
        .await?;
        let response = token::parse_token_response(&io.http.send(request).await?)?;
        let raw = response.id_token.clone().unwrap_or_default();
        // Core §3.1.3.8: at_hash is optional at the token endpoint, but when present it must match.
        let hashes = TokenHashes {
            access_token: Some(response.access_token.expose()),
            ..TokenHashes::default()
        };
        let back = self
            .validate_id_token(io, provider, client_id, metadata, &raw, Check::Login(nonce), hashes)
            .await?;
        // Core §3.3.3.6: "the iss and sub Claim Values MUST be identical in both ID Tokens".
        if let Some(front) = &front {
            let (f, b) = (front.claims(), back.claims());
            if f.iss != b.iss || f.sub != b.sub {
                return Err(IdTokenError::SubjectMismatch.into());
            }
        }
        Ok(Tokens {
            id_token: back,
            access_token: Some(response.access_token),
            expires_in: response.expires_in,
            refresh_token: response.refresh_token,
        })
    }

    /// The identity (cookie) and the record (KV) of a new session.
    #[allow(clippy::too_many_arguments)]
    async fn session_from<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client_id: &str,
        metadata: &ProviderMetadata,
        tokens: Tokens,
        handle: String,
        iss_param: Option<&str>,
    ) -> Result<(Identity, SessionRecord), AppError> {
        let claims = tokens.id_token.claims();
        check_acr(provider, claims.acr.as_deref())?;
        requirements::check_tenant(provider, claims, iss_param)?;
        // UserInfo needs an access token: an `id_token`-only login has its claims in the ID
        // token (Core §5.4).
        let userinfo = match (
            &metadata.userinfo_endpoint,
            &tokens.access_token,
            provider.fetch_userinfo,
        ) {
            (Some(endpoint), Some(access_token), true) => {
                let response = io.http.send(token::userinfo_request(endpoint, access_token)).await?;
                Some(token::parse_userinfo(&response, &claims.sub)?)
            }
            _ => None,
        };
        // Login-time policy only: nothing of it is kept for the hot path.
        requirements::check_required_claims(provider, claims, userinfo.as_ref())?;
        let (email, email_verified, name) = profile(Some(claims), userinfo.as_ref()).unwrap_or_default();
        let now = io.clock.now();
        let identity = Identity {
            provider: provider.name.clone(),
            sub: claims.sub.clone(),
            email,
            email_verified,
            name,
            acr: claims.acr.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.session.lifetime_secs as i64),
            handle,
            sid: claims.sid.clone(),
            refresh_due: None,
            silent_refresh: false,
            checked_at: None,
            active_at: None,
            claims: self.config.projection(provider, claims, userinfo.as_ref()),
        };
        let record = SessionRecord {
            client_id: client_id.to_owned(),
            id_token: tokens.id_token.raw().to_owned(),
            access_token_expires_at: tokens
                .access_token
                .as_ref()
                .and(tokens.expires_in)
                .map(|s| now.saturating_add(s)),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            userinfo,
        };
        Ok((identity, record))
    }

    /// Stores a session that starts (or continues after a silent refresh): the record under
    /// `key`, the front-channel index entry, and the identity cookie's `Set-Cookie` values.
    #[allow(clippy::too_many_arguments)]
    fn store_session<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        key: &str,
        identity: &Identity,
        record: &SessionRecord,
        resealed: Option<(i64, i64)>,
    ) -> Result<Vec<String>, AppError> {
        // The answer need not wait for it. Until it lands, a replay of this state is only
        // stopped by the pending cookie (removed by this answer) and, where there is one, the
        // provider's single-use code; for the implicit flow the record is the only mark.
        let ttl = self.put_record(req, io, provider, key, record, identity.expires_at)?;
        // Front-channel logout may only revoke provider sessions that logged in here.
        if let (true, Some(sid)) = (provider.follow.frontchannel_logout, identity.sid.as_deref()) {
            let index = revocation::sid_index_key(&provider.name, sid);
            io.kv.put_background(&index, &identity.created_at.to_string(), ttl);
        }
        let sealed = self.seal_identity(req, identity, io.random)?;
        self.identity_cookies(req, &sealed, resealed)
    }

    /// Seals the session record for `key` and writes it in the background, to live until the
    /// session expires (at least 60 s); returns that time to live.
    pub(super) fn put_record<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        key: &str,
        record: &SessionRecord,
        expires_at: i64,
    ) -> Result<u64, AppError> {
        let deployment = self.deployment(req);
        let context = SealContext {
            kind: "record",
            name: key,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        let sealed = record
            .seal(&self.config.sealer, &context, nonce24(io.random))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let ttl = u64::try_from(expires_at.saturating_sub(io.clock.now()))
            .unwrap_or(0)
            .max(60);
        io.kv.put_background(key, &sealed, ttl);
        Ok(ttl)
    }

    /// Core §3.1.3.7 (a login: `Check::Login` with its nonce) or §12.2 (a refresh) and the
    /// token hashes, with the provider's JWKS; an unknown `kid` refetches the JWKS once.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn validate_id_token<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client_id: &str,
        metadata: &ProviderMetadata,
        raw: &str,
        check: Check<'_>,
        hashes: TokenHashes<'_>,
    ) -> Result<ValidatedIdToken, AppError> {
        let params = ValidationParams {
            issuer: provider.expected_issuer(),
            client_id,
            allowed_algs: &provider.allowed_algs,
            // A login always sent a nonce, so every ID token of a login must carry it back.
            expected_nonce: match check {
                Check::Login(nonce) => Some(nonce),
                Check::Refresh(_) => None,
            },
            now: io.clock.now(),
            leeway_secs: self.config.clock_leeway_secs,
            // Core §3.1.3.7 step 13: with max_age requested, auth_time is required and checked.
            max_age_secs: provider.max_age.and_then(|m| i64::try_from(m).ok()),
        };
        let run = |jwks: Rc<Jwks>| async move {
            match check {
                Check::Login(_) => id_token::validate(raw, &jwks, &params, hashes, io.signatures).await,
                Check::Refresh(original) => {
                    id_token::validate_refreshed(raw, &jwks, &params, original, hashes, io.signatures).await
                }
            }
        };
        let jwks = self.jwks(provider, metadata, io).await?;
        match run(jwks).await {
            Err(IdTokenError::Key(KeySelectError::UnknownKid)) => {
                match self.refetch_jwks(provider, metadata, io).await? {
                    Some(fresh) => Ok(run(fresh).await?),
                    None => Err(IdTokenError::Key(KeySelectError::UnknownKid).into()),
                }
            }
            other => Ok(other?),
        }
    }
}

/// Email, whether it is verified, and display name: from the ID token's claims, else UserInfo;
/// `None` when neither says anything about the email or the name.
pub(super) fn profile(
    claims: Option<&IdTokenClaims>,
    userinfo: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<(Option<String>, Option<bool>, Option<String>)> {
    let from_userinfo = |k: &str| userinfo.and_then(|u| u.get(k));
    let email = claims
        .and_then(|c| c.email.clone())
        .or_else(|| from_userinfo("email").and_then(|v| v.as_str()).map(str::to_owned));
    // The verification flag belongs to the email it came with.
    let email_verified = match claims {
        Some(c) if c.email.is_some() => c.email_verified,
        _ => from_userinfo("email_verified").and_then(|v| v.as_bool()),
    };
    let name = claims
        .and_then(|c| c.name.clone())
        .or_else(|| from_userinfo("name").and_then(|v| v.as_str()).map(str::to_owned));
    (email.is_some() || name.is_some()).then_some((email, email_verified, name))
}

/// Which ID token rules apply.
#[derive(Debug, Clone, Copy)]
pub(super) enum Check<'a> {
    /// A login: Core §3.1.3.7 with the nonce sent.
    Login(&'a str),
    /// A refresh token grant: Core §12.2 against the original ID token.
    Refresh(id_token::Original<'a>),
}

/// Core §3.1.3.7 step 12: "If the acr Claim was requested, the Client SHOULD check that the
/// asserted Claim Value is appropriate." Requesting `acr_values` is not enough (a user can edit
/// the authorization URL): with `required_acr` set, the ID token's `acr` must be one of them.
pub(super) fn check_acr(provider: &ProviderConfig, acr: Option<&str>) -> Result<(), AppError> {
    if provider.required_acr.is_empty() || acr.is_some_and(|a| provider.required_acr.iter().any(|r| r == a)) {
        return Ok(());
    }
    Err(AppError::AcrNotMet {
        got: acr.map(str::to_owned),
    })
}
