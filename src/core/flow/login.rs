//! Starting a login: the pending login goes to KV, the browser to the provider; with several
//! providers for a path, a chooser page first.

use super::{absolute, App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::crypto::secret::Secret;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::authorize::{state_key, AuthorizationRequest, PendingLogin};
use crate::core::session::cookies::{set_cookie, CookieJar};
use crate::core::site::pages::{chooser_page, Reply};
use crate::core::site::path::CanonicalPath;
use crate::core::site::return_url::check_return_url;

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
        let mut return_to = "/".to_owned();
        let mut provider_name = None;
        let mut extra = Vec::new();
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "return_to" => return_to = check_return_url(&v, &req.url)?,
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
        let allowed = self.config.providers_for(&path);
        let path = path.as_str();
        let provider = match provider_name {
            Some(name) => *allowed.iter().find(|p| p.name == name).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "the provider `{name}` does not exist or may not be used for {path}"
                ))
            })?,
            None => match allowed.as_slice() {
                [only] => *only,
                [] => return Err(AppError::Internal("no provider configured for this path".into())),
                several => return Ok(chooser_page(several, &self.config.login_path, &return_to, &extra)),
            },
        };
        let passthrough: Vec<(String, String)> = extra
            .into_iter()
            .filter(|(k, _)| provider.passthrough_params.contains(k))
            .collect();
        self.start_login(req, io, provider, &return_to, &passthrough).await
    }

    /// Stores a pending login and redirects to the provider's authorization endpoint
    /// (Core §3.1.2.1), binding the login to this browser with the login cookie.
    pub(super) async fn start_login<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        return_to: &str,
        passthrough: &[(String, String)],
    ) -> Result<Reply, AppError> {
        let metadata = self.metadata(provider, io).await?;
        let (client, registered) = self.client_for_login(provider, &metadata, req, io).await?;
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        // One binding cookie per browser, shared by every tab's pending login, so concurrent
        // logins never pile up cookies.
        let binding = match jar.get(&self.login_cookie) {
            Some(b) if b.len() == 43 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') => {
                b.to_owned()
            }
            _ => io.random.token(),
        };
        let state = io.random.token();
        let nonce = io.random.token();
        let verifier = io.random.token();
        let redirect_uri = absolute(req, &self.config.redirect_path);
        let pending = PendingLogin {
            provider: provider.name.clone(),
            nonce: Secret::new(nonce.clone()),
            pkce_verifier: Secret::new(verifier.clone()),
            binding: Secret::new(binding.clone()),
            return_to: return_to.to_owned(),
            created_at: io.clock.now(),
            registered,
        };
        let value = serde_json::to_string(&pending).map_err(|e| AppError::Internal(e.to_string()))?;
        io.kv
            .put(&state_key(&state), &value, self.config.login_timeout_secs)
            .await?;
        let url = AuthorizationRequest {
            provider,
            metadata: &metadata,
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            state: &state,
            nonce: &nonce,
            pkce_verifier: &verifier,
            passthrough,
        }
        .url()
        .map_err(|e| AppError::Internal(format!("authorization endpoint: {e}")))?;
        let attrs = self.cookie_attrs(req, Some(self.config.login_timeout_secs));
        Ok(Reply::redirect(url.as_str()).with_cookies([set_cookie(&self.login_cookie, &binding, &attrs)]))
    }
}
