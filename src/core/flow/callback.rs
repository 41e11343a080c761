//! The authorization callback at the redirect path (Core §3.1.2.5–§3.1.2.7, §3.2.2.5–§3.2.2.8,
//! §3.3.2.5–§3.3.2.8). The response arrives in the query of a GET (`response_mode=query`) or in
//! the body of a POST: form_post, and the fragment, which the browser keeps to itself and the
//! fragment relay page posts (see `site::relay`). Whatever the way, the response must match this
//! browser's sealed pending login (the `state` names its cookie), come the way that login asked
//! for, and carry exactly the parts of its `response_type`; `finish.rs` validates the tokens
//! and starts the session.

use super::{App, Failure, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::response::{AuthorizationResponse, ResponseError};
use crate::core::session::cookies::{remove_cookie, CookieJar};
use crate::core::session::pending::{self, PendingLogin};
use crate::core::session::{handle_for_state, record_key};
use crate::core::site::pages::Reply;
use crate::core::site::relay;

/// What the session endpoints share with a login's end (src/core/flow/finish.rs).
pub(super) use super::finish::{check_acr, profile, Check};

impl App {
    /// The callback. Its pending-login cookie is removed by every answer, success or not, except
    /// a relay page (the login is not finished yet).
    pub(super) async fn callback<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, Failure> {
        io.log.in_login(None);
        let (params, posted) = match req.method.as_str() {
            "GET" => match req.url.query().filter(|q| !q.is_empty()) {
                Some(query) => (AuthorizationResponse::from_query(query).map_err(AppError::from)?, false),
                // Nothing in the query: a response in the fragment, which only a script on this
                // page can read and post.
                None => return Ok(relay::fragment_page(&self.config.redirect_path)),
            },
            "POST" => {
                let body = req.body.as_deref().unwrap_or_default();
                let params = AuthorizationResponse::from_form(req.headers.content_type.as_deref(), body);
                (params.map_err(AppError::from)?, true)
            }
            _ => return Err(AppError::BadRequest("the callback takes GET or POST".into()).into()),
        };
        let base = self.cookie_base(req);
        // Without a state of ours there is no login to finish, and whatever else the request
        // says (an `error_description` included) is anyone's text: it is not shown.
        let state = params.state.clone().filter(|s| !s.is_empty() && s.len() <= 256);
        let Some((state, name)) = state.and_then(|s| pending::cookie_name(base, &s).map(|n| (s, n))) else {
            return Err(unbound(&params).into());
        };
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let Some(value) = jar.get(&name) else {
            // A form_post from the provider's site: SameSite=Lax kept the pending-login cookie
            // home. Posted again from this origin, the cookie comes along. A post from this
            // origin, or one we relayed already, without it: another browser's login.
            if posted && !params.relayed && !same_origin(req) {
                return Ok(relay::form_post_page(&self.config.redirect_path, &params.pairs()));
            }
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
        io.log.in_login(Some(&pending.provider));
        if io.clock.now().saturating_sub(pending.created_at) > self.config.login_timeout_secs as i64 {
            return Err(fail(AppError::UnknownState));
        }
        let provider = self.config.provider(&pending.provider).ok_or_else(|| {
            fail(AppError::BadRequest(
                "this login was started for a provider that is no longer configured".into(),
            ))
        })?;
        // The state matched this browser's pending login: the provider's answer may be shown,
        // whichever way it came (a provider that cannot use the mode answers in its default).
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
        // Tokens only by the way the login asked for: a form_post or fragment login answered in
        // the query (tokens in a URL) is refused, and so is a query login answered by a POST.
        let mode = pending.response_mode;
        if posted != mode.posted() {
            let got = if posted { "in a POST body" } else { "in the URL query" };
            return Err(fail(
                ResponseError::WrongMode {
                    got,
                    expected: mode.as_str(),
                }
                .into(),
            ));
        }
        let reply = self
            .complete(req, io, provider, &pending, &state, params)
            .await
            .map_err(fail)?;
        Ok(reply.with_cookies(clear))
    }

    /// Checks the response as a whole, then has its tokens validated and the session started.
    async fn complete<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        pending: &PendingLogin,
        state: &str,
        params: AuthorizationResponse,
    ) -> Result<Reply, AppError> {
        // The session record doubles as the mark that this state was used: a replayed
        // callback (same browser, same state) finds it. For the implicit flow it is the only
        // mark (there is no code the provider could refuse to redeem twice). KV is eventually
        // consistent across locations; the pending cookie is removed by this answer too.
        let handle = handle_for_state(state);
        if io.kv.get(&record_key(&handle)).await?.is_some() {
            return Err(AppError::UnknownState);
        }
        let metadata = self.metadata(provider, io).await?;
        params.check_parts(pending.response_type)?;
        // RFC 9207 §2.4: compare `iss` exactly; reject its absence if the provider promised it,
        // unless the response carries an ID token (checked above: this login's type returns
        // one): its signed `iss` claim, validated against this provider's issuer in `finish`,
        // identifies the issuer as well (RFC 9700 §4.4.2.1), and providers such as
        // oidc-provider leave the parameter out then. A templated issuer (Entra multi-tenant)
        // matches any tenant's issuer here; the tenant must then be the ID token's own (see
        // `requirements::check_tenant`).
        match params.iss.as_deref() {
            Some(iss) if !provider.issuer_matches(iss) => return Err(AppError::IssuerMismatch),
            None if metadata.authorization_response_iss_parameter_supported && params.id_token.is_none() => {
                return Err(AppError::IssuerMismatch)
            }
            _ => {}
        }
        self.finish(req, io, provider, &metadata, pending, params, handle).await
    }
}

/// Whether a POST comes from a page of this origin: Fetch Metadata, else `Origin`.
fn same_origin(req: &Incoming) -> bool {
    let h = &req.headers;
    match h.sec_fetch_site.as_deref() {
        Some(site) => site.eq_ignore_ascii_case("same-origin"),
        None => h
            .origin
            .as_deref()
            .is_some_and(|o| o == req.url.origin().ascii_serialization()),
    }
}

/// The error for a callback that matches no pending login of this browser: a provider's
/// `error` without its text (it may be anyone's), else "started in another browser".
fn unbound(params: &AuthorizationResponse) -> AppError {
    match (&params.error, &params.state) {
        (Some(_), _) => AppError::ProviderUnverified,
        (None, None) => AppError::BadRequest("the callback has no state".into()),
        (None, Some(_)) => AppError::StateNotBound,
    }
}
