//! The authorization callback at the redirect path (Core §3.1.2.5–§3.1.3.7).

use super::{absolute, nonce24, App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::ct_eq;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::authorize::{state_key, PendingLogin};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::id_token::{self, IdTokenClaims, IdTokenError, ValidationParams};
use crate::core::oidc::jwks::KeySelectError;
use crate::core::oidc::token::{self, TokenResponse};
use crate::core::session::cookies::CookieJar;
use crate::core::session::seal::write_chunked;
use crate::core::session::{email_allowed, Session};
use crate::core::site::pages::Reply;
use std::collections::HashMap;

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
    let mut seen: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if seen.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(AppError::BadRequest(format!("the parameter `{k}` is repeated")));
        }
    }
    Ok(CallbackParams {
        state: seen.remove("state"),
        code: seen.remove("code"),
        error: seen.remove("error"),
        error_description: seen.remove("error_description"),
        iss: seen.remove("iss"),
    })
}

impl App {
    pub(super) async fn callback<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, AppError> {
        if req.method != "GET" {
            return Err(AppError::BadRequest("the callback must be a GET".into()));
        }
        let params = parse_callback(req.url.query().unwrap_or(""))?;
        let Some(state) = params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 256) else {
            // An error response without state still deserves the provider's explanation.
            return Err(match params.error {
                Some(error) => AppError::Provider {
                    error,
                    description: params.error_description,
                },
                None => AppError::BadRequest("the callback has no state".into()),
            });
        };
        let pending = self.take_pending(req, io, state).await?;
        let provider = self.config.provider(&pending.provider).ok_or_else(|| {
            AppError::BadRequest("this login was started for a provider that is no longer configured".into())
        })?;
        if let Some(error) = params.error {
            return Err(AppError::Provider {
                error,
                description: params.error_description,
            });
        }
        let metadata = self.metadata(provider, io).await?;
        // RFC 9207 §2.4: compare `iss` exactly; reject its absence if the provider promised it.
        match params.iss.as_deref() {
            Some(iss) if iss != provider.issuer => return Err(AppError::IssuerMismatch),
            None if metadata.authorization_response_iss_parameter_supported => return Err(AppError::IssuerMismatch),
            _ => {}
        }
        let code = params
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::BadRequest("the callback has no code".into()))?;
        let redirect_uri = absolute(req, &self.config.redirect_path);
        let client = self.client_for_callback(provider, &metadata, pending.registered.as_ref())?;
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
        let session = self
            .session_from_tokens(io, provider, &client.client_id, &metadata, &pending, tokens)
            .await?;
        if !email_allowed(
            session.verified_email(),
            &self.config.allowed_emails,
            &self.config.allowed_email_domains,
        ) {
            return Err(AppError::Forbidden(
                session.email.clone().unwrap_or_else(|| session.sub.clone()),
            ));
        }
        let name = &self.config.session.cookie_name;
        let sealed = session
            .seal(&self.config.sealer, name, nonce24(io.random))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let cookies = write_chunked(name, &sealed, &self.session_attrs(req), &jar).map_err(|_| {
            AppError::BadRequest(
                "the session is too large for cookies; ask the administrator to request fewer claims".into(),
            )
        })?;
        Ok(Reply::redirect(&pending.return_to).with_cookies(cookies))
    }

    /// Reads and deletes the pending login (single use), and checks the browser binding.
    async fn take_pending<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        state: &str,
    ) -> Result<PendingLogin, AppError> {
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let binding = jar.get(&self.login_cookie).ok_or(AppError::StateNotBound)?;
        let key = state_key(state);
        let value = io.kv.get(&key).await?.ok_or(AppError::UnknownState)?;
        let pending: PendingLogin = serde_json::from_str(&value).map_err(|_| AppError::UnknownState)?;
        // Checked before the state is used up, so a forged callback from another browser
        // cannot burn the real login.
        if !ct_eq(pending.binding.expose(), binding) {
            return Err(AppError::StateNotBound);
        }
        // Deleted before use: a replayed state finds nothing (KV is eventually consistent
        // across locations; the code itself is single-use at the provider too).
        io.kv.delete(&key).await?;
        if io.clock.now() - pending.created_at > self.config.login_timeout_secs as i64 {
            return Err(AppError::UnknownState);
        }
        Ok(pending)
    }

    async fn session_from_tokens<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client_id: &str,
        metadata: &ProviderMetadata,
        pending: &PendingLogin,
        tokens: TokenResponse,
    ) -> Result<Session, AppError> {
        let raw_id_token = tokens.id_token.clone().unwrap_or_default();
        let claims = self
            .validate_id_token(io, provider, client_id, metadata, &raw_id_token, pending.nonce.expose())
            .await?;
        // Core §3.1.3.8: at_hash is optional in the code flow, but when present it must match.
        if let Some(at_hash) = &claims.at_hash {
            let (alg, _) = id_token::peek_header(&raw_id_token)?;
            id_token::verify_token_hash(alg, tokens.access_token.expose(), at_hash)?;
        }
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
        let from_userinfo = |k: &str| userinfo.as_ref().and_then(|u| u.get(k));
        let email = claims
            .email
            .clone()
            .or_else(|| from_userinfo("email").and_then(|v| v.as_str()).map(str::to_owned));
        let email_verified = claims
            .email_verified
            .or_else(|| from_userinfo("email_verified").and_then(|v| v.as_bool()));
        let name = claims
            .name
            .clone()
            .or_else(|| from_userinfo("name").and_then(|v| v.as_str()).map(str::to_owned));
        let now = io.clock.now();
        Ok(Session {
            provider: provider.name.clone(),
            client_id: Some(client_id.to_owned()),
            sub: claims.sub.clone(),
            email,
            email_verified,
            name,
            created_at: now,
            expires_at: now.saturating_add(self.config.session.lifetime_secs as i64),
            id_token: raw_id_token,
            claims,
            access_token: tokens.access_token,
            access_token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)),
            refresh_token: tokens.refresh_token,
            userinfo,
        })
    }

    /// Core §3.1.3.7 with the provider's JWKS; an unknown `kid` refetches the JWKS once.
    async fn validate_id_token<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        client_id: &str,
        metadata: &ProviderMetadata,
        raw: &str,
        nonce: &str,
    ) -> Result<IdTokenClaims, AppError> {
        let params = ValidationParams {
            issuer: &provider.issuer,
            client_id,
            allowed_algs: &provider.allowed_algs,
            expected_nonce: Some(nonce),
            now: io.clock.now(),
            leeway_secs: self.config.clock_leeway_secs,
            // Core §3.1.3.7 step 13: with max_age requested, auth_time is required and checked.
            max_age_secs: provider.max_age.and_then(|m| i64::try_from(m).ok()),
        };
        let jwks = self
            .jwks(provider, metadata, io, false)
            .await?
            .ok_or_else(|| AppError::Internal("no JWKS".into()))?;
        match id_token::validate(raw, &jwks, &params, io.signatures).await {
            Err(IdTokenError::Key(KeySelectError::UnknownKid)) => {
                match self.jwks(provider, metadata, io, true).await? {
                    Some(fresh) => Ok(id_token::validate(raw, &fresh, &params, io.signatures).await?),
                    None => Err(IdTokenError::Key(KeySelectError::UnknownKid).into()),
                }
            }
            other => Ok(other?),
        }
    }
}
