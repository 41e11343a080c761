//! The authorization callback at the redirect path (Core §3.1.2.5–§3.1.3.7).

use super::{nonce24, requirements, App, Failure, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::id_token::{self, IdTokenClaims, IdTokenError, TokenHashes, ValidatedIdToken, ValidationParams};
use crate::core::oidc::jwks::Jwks;
use crate::core::oidc::jwks::KeySelectError;
use crate::core::oidc::token::{self, TokenResponse};
use crate::core::session::cookies::{remove_cookie, CookieJar};
use crate::core::session::pending::{self, PendingLogin};
use crate::core::session::{handle_for_state, record_key, revocation, Identity, SealContext, SessionRecord};
use crate::core::site::pages::Reply;
use std::rc::Rc;

/// Longest callback query accepted.
const MAX_QUERY: usize = 8192;

/// The authorization response parameters (Core §3.1.2.5 / §3.1.2.6, RFC 9207).
#[derive(Debug, Default)]
pub(crate) struct CallbackParams {
    pub(crate) state: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) iss: Option<String>,
}

/// Parses the callback query. RFC 6749 §3.1: parameters must not repeat.
pub(crate) fn parse_callback(query: &str) -> Result<CallbackParams, AppError> {
    if query.len() > MAX_QUERY {
        return Err(AppError::BadRequest("the callback query is too long".into()));
    }
    let mut params = CallbackParams::default();
    let mut others: Vec<String> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut params.state,
            "code" => &mut params.code,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            "iss" => &mut params.iss,
            // Ignored, but a repeat is still refused (a handful of names: a list is enough).
            other if others.iter().any(|o| o == other) => {
                return Err(AppError::BadRequest(format!("the parameter `{k}` is repeated")))
            }
            other => {
                others.push(other.to_owned());
                continue;
            }
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(AppError::BadRequest(format!("the parameter `{k}` is repeated")));
        }
    }
    Ok(params)
}

impl App {
    /// The callback. Its pending-login cookie is removed by every answer, success or not.
    pub(super) async fn callback<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, Failure> {
        if req.method != "GET" {
            return Err(AppError::BadRequest("the callback must be a GET".into()).into());
        }
        io.log.in_login(None);
        let params = parse_callback(req.url.query().unwrap_or(""))?;
        let base = self.cookie_base(req);
        // Without a state of ours there is no login to finish, and whatever else the request
        // says (an `error_description` included) is anyone's text: it is not shown.
        let state = params.state.clone().filter(|s| !s.is_empty() && s.len() <= 256);
        let Some((state, name)) = state.and_then(|s| pending::cookie_name(base, &s).map(|n| (s, n))) else {
            return Err(unbound(&params).into());
        };
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let Some(value) = jar.get(&name) else {
            return Err(unbound(&params).into());
        };
        let clear = [remove_cookie(&name, &self.cookie_attrs(req, None))];
        let fail = |e: AppError| Failure::with_cookies(e, &clear);
        let deployment = self.deployment(req);
        let pending = PendingLogin::open(&self.config.sealer, value, &name, &deployment, Some(&state), |p| {
            self.issuer_of(p)
        })
        .map_err(|_| fail(unbound(&params)))?;
        io.log.in_login(Some(&pending.provider));
        if io.clock.now().saturating_sub(pending.created_at) > self.config.login_timeout_secs as i64 {
            return Err(fail(AppError::UnknownState));
        }
        let provider = self.config.provider(&pending.provider).ok_or_else(|| {
            fail(AppError::BadRequest(
                "this login was started for a provider that is no longer configured".into(),
            ))
        })?;
        // The state matched this browser's pending login: the provider's answer may be shown.
        if let Some(error) = params.error.clone() {
            if pending.refresh.is_some() {
                // A silent refresh the provider could not answer without the user (or at all).
                let reply = self
                    .silent_refused(req, io, provider, &pending, &error)
                    .await
                    .map_err(fail)?;
                return Ok(reply.with_cookies(clear));
            }
            return Err(fail(AppError::Provider {
                error,
                description: params.error_description.clone(),
            }));
        }
        let reply = self
            .complete(req, io, provider, &pending, &state, params)
            .await
            .map_err(fail)?;
        Ok(reply.with_cookies(clear))
    }

    /// Checks the response, redeems the code and starts the session.
    async fn complete<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        pending: &PendingLogin,
        state: &str,
        params: CallbackParams,
    ) -> Result<Reply, AppError> {
        // The session record doubles as the mark that this state was used: a replayed
        // callback (same browser, same state) finds it. KV is eventually consistent across
        // locations; the code is single-use at the provider too.
        let handle = handle_for_state(state);
        let key = record_key(&handle);
        if io.kv.get(&key).await?.is_some() {
            return Err(AppError::UnknownState);
        }
        let metadata = self.metadata(provider, io).await?;
        // RFC 9207 §2.4: compare `iss` exactly; reject its absence if the provider promised it.
        // A templated issuer (Entra multi-tenant) matches any tenant's issuer here; the tenant
        // must then be the ID token's own (see `requirements::check_tenant`).
        match params.iss.as_deref() {
            Some(iss) if !provider.issuer_matches(iss) => return Err(AppError::IssuerMismatch),
            None if metadata.authorization_response_iss_parameter_supported => return Err(AppError::IssuerMismatch),
            _ => {}
        }
        let code = params
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::BadRequest("the callback has no code".into()))?;
        let redirect_uri = self.our_url(req, &self.config.redirect_path);
        let client = self
            .client_for_callback(provider, &metadata, pending.client_id.as_deref(), io)
            .await?;
        let request = token::code_request(
            &metadata.token_endpoint,
            &client,
            &code,
            &redirect_uri,
            pending.pkce_verifier.expose(),
            io.clock.now(),
            &io.random.token(),
            io.signatures,
        )
        .await?;
        let tokens = token::parse_token_response(&io.http.send(request).await?)?;
        let (mut identity, record) = self
            .session_from_tokens(
                io,
                provider,
                &client.client_id,
                &metadata,
                pending,
                tokens,
                handle,
                params.iss.as_deref(),
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
            None => {
                Event::new(EventKind::LoginCompleted).duration_secs(io.clock.now().saturating_sub(pending.created_at))
            }
        };
        io.log.push(event.provider(&provider.name).subject(&identity.sub));
        Ok(Reply::redirect(&pending.return_to).with_cookies(cookies))
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
        let now = io.clock.now();
        let deployment = self.deployment(req);
        let record_context = SealContext {
            kind: "record",
            name: key,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        let sealed_record = record
            .seal(&self.config.sealer, &record_context, nonce24(io.random))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let ttl = u64::try_from(identity.expires_at.saturating_sub(now))
            .unwrap_or(0)
            .max(60);
        // The answer need not wait for it; until it lands a replay of this state is only
        // stopped by the provider's single-use code (and by the pending cookie, removed now).
        io.kv.put_background(key, &sealed_record, ttl);
        // Front-channel logout may only revoke provider sessions that logged in here.
        if let (true, Some(sid)) = (provider.follow.frontchannel_logout, identity.sid.as_deref()) {
            let index = revocation::sid_index_key(&provider.name, sid);
            io.kv.put_background(&index, &identity.created_at.to_string(), ttl);
        }
        let sealed = self.seal_identity(req, identity, io.random)?;
        self.identity_cookies(req, &sealed, resealed)
    }

    /// The identity (cookie) and the record (KV) of a new session, from a token response.
    #[allow(clippy::too_many_arguments)]
    async fn session_from_tokens<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client_id: &str,
        metadata: &ProviderMetadata,
        pending: &PendingLogin,
        tokens: TokenResponse,
        handle: String,
        iss_param: Option<&str>,
    ) -> Result<(Identity, SessionRecord), AppError> {
        let raw_id_token = tokens.id_token.clone().unwrap_or_default();
        // Core §3.1.3.8: at_hash is optional in the code flow, but when present it must match.
        let hashes = TokenHashes {
            access_token: Some(tokens.access_token.expose()),
            ..TokenHashes::default()
        };
        let validated = self
            .validate_id_token(
                io,
                provider,
                client_id,
                metadata,
                &raw_id_token,
                Check::Login(pending.nonce.expose()),
                hashes,
            )
            .await?;
        check_acr(provider, validated.claims().acr.as_deref())?;
        let claims = validated.claims();
        requirements::check_tenant(provider, claims, iss_param)?;
        let userinfo = match (&metadata.userinfo_endpoint, provider.fetch_userinfo) {
            (Some(endpoint), true) => {
                let response = io
                    .http
                    .send(token::userinfo_request(endpoint, &tokens.access_token))
                    .await?;
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
        };
        let record = SessionRecord {
            client_id: client_id.to_owned(),
            id_token: validated.raw().to_owned(),
            access_token: tokens.access_token,
            access_token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)),
            refresh_token: tokens.refresh_token,
            userinfo,
        };
        Ok((identity, record))
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

/// The error for a callback that matches no pending login of this browser: a provider's
/// `error` without its text (it may be anyone's), else "started in another browser".
fn unbound(params: &CallbackParams) -> AppError {
    match (&params.error, &params.state) {
        (Some(_), _) => AppError::ProviderUnverified,
        (None, None) => AppError::BadRequest("the callback has no state".into()),
        (None, Some(_)) => AppError::StateNotBound,
    }
}
