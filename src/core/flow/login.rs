//! Starting a login: the pending login goes into a sealed cookie (no KV write: anonymous
//! traffic costs nothing), the browser to the provider; with several providers for a path, a
//! chooser page first.

use super::{nonce24, App, Incoming, Io};
use crate::core::config::PageKind;
use crate::core::config::{check_provider, ProviderConfig};
use crate::core::crypto::secret::Secret;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::oidc::authorize::AuthorizationRequest;
use crate::core::oidc::client_auth::Client;
use crate::core::oidc::par;
use crate::core::oidc::token::TokenError;
use crate::core::session::cookies::{is_token, remove_cookie, set_cookie, CookieAttrs, CookieJar};
use crate::core::session::pending::{self, PendingLogin, SilentRefresh, MAX_PENDING};
use crate::core::session::SealContext;
use crate::core::site::pages::{chooser_links, chooser_page, Reply};
use crate::core::site::path::CanonicalPath;
use crate::core::site::templates::PageValues;

/// Longest passed-through parameter value.
const MAX_PASSTHROUGH: usize = 256;

impl App {
    /// `GET {login_path}?return_to=/path[&provider=name][&login_hint=…]`: with one provider
    /// for the return path (or `provider` given) the login starts; with several, the chooser.
    pub(super) async fn login_endpoint<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, AppError> {
        io.log.in_login(None);
        let mut return_to = "/".to_owned();
        let mut provider_name = None;
        let mut extra = Vec::new();
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "return_to" => return_to = super::domain::return_target(&self.config, &req.url, &v)?,
                "provider" => provider_name = Some(v.into_owned()),
                _ if v.len() <= MAX_PASSTHROUGH => extra.push((k.into_owned(), v.into_owned())),
                _ => {}
            }
        }
        // The providers the gate will accept there: the return URL's canonical path, resolved
        // as the browser will resolve it.
        let target = req
            .url
            .join(&return_to)
            .map_err(|_| AppError::BadRequest("the return URL is not valid".into()))?;
        let path = CanonicalPath::from_url(&target)
            .map_err(|e| AppError::BadRequest(format!("the return URL's path is not accepted: {e}")))?;
        let allowed = self.config.providers_for(target.host_str().unwrap_or_default(), &path);
        let path = path.as_str();
        let provider = match provider_name {
            Some(name) => *allowed.iter().find(|p| p.name == name).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "the provider `{name}` does not exist or may not be used for {path}"
                ))
            })?,
            None => match allowed.as_slice() {
                [only] => *only,
                // Two deciding rules (the path read two ways) that accept no provider in common.
                [] => return Err(AppError::BadRequest(format!("no provider may sign in for {path}"))),
                several => return Ok(self.chooser(several, &return_to, &extra)),
            },
        };
        let passthrough: Vec<(String, String)> = extra
            .into_iter()
            .filter(|(k, _)| provider.passthrough_params.contains(k))
            .collect();
        self.start_login(req, io, provider, &return_to, &passthrough).await
    }

    /// Redirects to the provider's authorization endpoint (Core §3.1.2.1), with the pending
    /// login sealed into its own cookie, which binds the login to this browser.
    pub(super) async fn start_login<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        return_to: &str,
        passthrough: &[(String, String)],
    ) -> Result<Reply, AppError> {
        self.start_login_with(req, io, provider, return_to, passthrough, None)
            .await
    }

    /// [`App::start_login`], or with `silent` the silent authentication request refreshing a
    /// session (src/core/flow/silent.rs): `prompt=none`, the hint, and the session in the
    /// pending login.
    pub(super) async fn start_login_with<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        return_to: &str,
        passthrough: &[(String, String)],
        silent: Option<(SilentRefresh, Option<&str>)>,
    ) -> Result<Reply, AppError> {
        io.log.in_login(Some(&provider.name));
        let metadata = self.metadata(provider, io).await?;
        // Static metadata was checked with the configuration; discovered metadata is checked
        // here. A mismatch is the operator's to fix: logged with the key, a generic page shown.
        let par_endpoint = check_provider(provider, &metadata).map_err(AppError::Config)?;
        let authenticates = provider.response_type.code() || par_endpoint.is_some();
        let (client, registered) = self
            .client_for_login(provider, &metadata, req, io, authenticates)
            .await?;
        let state = io.random.token();
        let nonce = io.random.token();
        let verifier = io.random.token();
        let base = self.cookie_base(req);
        let name = pending::cookie_name(base, &state)
            .ok_or_else(|| AppError::Internal("a random state is not base64url".into()))?;
        let pending = PendingLogin {
            provider: provider.name.clone(),
            state: Secret::new(state.clone()),
            nonce: Secret::new(nonce.clone()),
            pkce_verifier: Secret::new(verifier.clone()),
            return_to: return_to.to_owned(),
            created_at: io.clock.now(),
            client_id: registered.map(|r| r.client_id),
            response_type: provider.response_type,
            response_mode: provider.response_mode,
            refresh: silent.as_ref().map(|(refresh, _)| refresh.clone()),
        };
        let deployment = self.deployment(req);
        let context = SealContext {
            kind: "pending",
            name: &name,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        let value = pending
            .seal(&self.config.sealer, &context, nonce24(io.random))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let redirect_uri = self.our_url(req, &self.config.redirect_path);
        let request = AuthorizationRequest {
            provider,
            metadata: &metadata,
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            state: &state,
            nonce: &nonce,
            pkce_verifier: &verifier,
            passthrough,
            silent: silent.as_ref().map(|(_, hint)| *hint),
        };
        let url = match par_endpoint {
            None => request.url(),
            Some(endpoint) => {
                let request_uri = push(io, provider, &client, &request, endpoint).await?;
                request.pushed_url(&request_uri)
            }
        }
        .map_err(|e| AppError::Internal(format!("authorization endpoint: {e}")))?;
        let attrs = self.cookie_attrs(req, Some(self.config.login_timeout_secs));
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let mut cookies = self.evict_pending(req, &jar, &attrs, io.clock.now());
        cookies.push(set_cookie(&name, &value, &attrs));
        io.log
            .push(Event::new(EventKind::LoginStarted).provider(&provider.name));
        Ok(Reply::redirect(url.as_str()).with_cookies(cookies))
    }

    /// Removals for the pending-login cookies that must go before one more is set: those that
    /// no longer open or have expired, then the oldest, so that at most [`MAX_PENDING`] remain.
    fn evict_pending(&self, req: &Incoming, jar: &CookieJar<'_>, attrs: &CookieAttrs, now: i64) -> Vec<String> {
        let base = self.cookie_base(req);
        let deployment = self.deployment(req);
        let timeout = i64::try_from(self.config.login_timeout_secs).unwrap_or(i64::MAX);
        let mut live: Vec<(i64, &str)> = Vec::new();
        let mut gone: Vec<&str> = Vec::new();
        // Only names a `Set-Cookie` can carry: a stray cookie whose name is not an RFC 6265 token
        // (the browser got it from elsewhere) is never forwarded, but cannot be removed either.
        let ours = |n: &str| pending::is_pending_cookie(n, base) && is_token(n);
        for (name, value) in jar.iter().filter(|(n, _)| ours(n)) {
            if live.iter().any(|(_, n)| *n == name) || gone.contains(&name) {
                continue;
            }
            let opened = PendingLogin::open(&self.config.sealer, value, name, &deployment, None, |p| {
                self.issuer_of(p)
            });
            match opened {
                Ok(p) if now.saturating_sub(p.created_at) <= timeout => live.push((p.created_at, name)),
                _ => gone.push(name),
            }
        }
        live.sort_unstable();
        let excess = (live.len() + 1).saturating_sub(MAX_PENDING);
        gone.extend(live.iter().take(excess).map(|(_, n)| *n));
        gone.into_iter().map(|n| remove_cookie(n, attrs)).collect()
    }
}

/// Pushes the authorization request (RFC 9126) and returns its `request_uri`. The provider's
/// refusal (§2.3) is shown like an error at the callback: the request is this browser's own.
async fn push<H: HttpClient, K: KvStore>(
    io: &Io<'_, H, K>,
    provider: &ProviderConfig,
    client: &Client,
    request: &AuthorizationRequest<'_>,
    endpoint: &str,
) -> Result<String, AppError> {
    let pushed = par::push_request(
        request,
        client,
        endpoint,
        &provider.issuer,
        io.clock.now(),
        &io.random.token(),
        io.signatures,
    )
    .await?;
    let response = io.http.send(pushed).await?;
    par::parse_response(&response).map_err(|e| match e {
        TokenError::Provider { error, description } => AppError::Provider { error, description },
        other => AppError::Token(other),
    })
}

impl App {
    /// The provider chooser: built in, or the operator's template with the same links.
    fn chooser(&self, providers: &[&ProviderConfig], return_to: &str, extra: &[(String, String)]) -> Reply {
        let links = chooser_links(providers, &self.config.login_path, return_to, extra);
        let built_in = chooser_page(&links);
        let values = PageValues {
            title: "Choose how to sign in",
            status: 200,
            return_url: return_to,
            providers: &links,
            ..PageValues::default()
        };
        self.page(PageKind::Chooser, built_in, &values)
    }
}
