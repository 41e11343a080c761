//! Logout: clear the session, then RP-initiated logout at the provider when it supports it.

use super::{absolute, App, Incoming, Io};
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::end_session::EndSessionRequest;
use crate::core::session::cookies::{remove_cookie, CookieJar};
use crate::core::session::seal::{clear_chunked, read_chunked};
use crate::core::session::Session;
use crate::core::site::pages::{html_page, Reply};

impl App {
    pub(super) async fn logout<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, AppError> {
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let name = &self.config.session.cookie_name;
        let session =
            read_chunked(&jar, name).and_then(|sealed| Session::open_any_age(&self.config.sealer, name, &sealed).ok());
        let attrs = self.session_attrs(req);
        let mut clear = clear_chunked(name, &attrs, &jar);
        if jar.get(&self.login_cookie).is_some() {
            clear.push(remove_cookie(&self.login_cookie, &attrs));
        }
        let provider = session.as_ref().and_then(|s| self.config.provider(&s.provider));
        let (Some(session), Some(provider)) = (session.as_ref(), provider) else {
            return Ok(logged_out_page().with_cookies(clear));
        };
        // A provider that cannot be reached must not keep anyone logged in here: the cookie
        // is cleared whatever happens next.
        let end_session = match self.metadata(provider, io).await {
            Ok(meta) => meta.end_session_endpoint.clone(),
            Err(_) => None,
        };
        let Some(endpoint) = end_session else {
            return Ok(logged_out_page().with_cookies(clear));
        };
        let state = io.random.token();
        let post_logout = absolute(req, &self.config.post_logout_redirect_uri);
        let url = EndSessionRequest {
            endpoint: &endpoint,
            id_token_hint: Some(&session.id_token),
            post_logout_redirect_uri: &post_logout,
            state: &state,
            client_id: session.client_id.as_deref(),
        }
        .url()
        .map_err(|e| AppError::Internal(format!("end_session_endpoint: {e}")))?;
        Ok(Reply::redirect(url.as_str()).with_cookies(clear))
    }
}

/// The built-in logged-out page.
pub(super) fn logged_out_page() -> Reply {
    html_page(
        200,
        "Signed out",
        "You have been signed out.",
        &[],
        &[("/", "Sign in again")],
    )
}
