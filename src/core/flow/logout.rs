//! Logout: clear the session and its record (and, for providers whose sessions are checked
//! against revocation records, record its `sid` as logged out), then RP-initiated logout at the
//! provider when it supports it.
//!
//! Logout must not be something another site can make a signed-in browser do (it would also end
//! the single sign-on session at the provider, through `id_token_hint`). It happens only on:
//! - a POST from this site: `Origin` is the site's origin, or `Sec-Fetch-Site: same-origin`;
//! - a GET that the browser marks `Sec-Fetch-Site: same-origin` (a link on this site) or `none`
//!   (typed into the address bar, a bookmark).
//!
//! Any other GET (cross-site, or from a client that sends no Fetch Metadata) gets a small
//! confirmation page whose button POSTs from this site; any other POST is refused.

use super::{App, Incoming, Io};
use crate::core::config::PageKind;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::oidc::end_session::EndSessionRequest;
use crate::core::session::cookies::CookieJar;
use crate::core::session::seal::{clear_chunked, read_chunked};
use crate::core::session::{record_key, revocation, Identity, SealContext, SessionRecord};
use crate::core::site::pages::{html_page, logout_confirmation_page, Reply};
use crate::core::site::templates::PageValues;

/// How a logout request came.
enum Intent {
    /// From this site (or typed by the user): log out.
    Confirmed,
    /// A GET that may come from another site: ask first.
    Ask,
}

impl App {
    pub(super) async fn logout<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<Reply, AppError> {
        match self.logout_intent(req)? {
            Intent::Ask => return Ok(logout_confirmation_page(&self.config.logout_path)),
            Intent::Confirmed => {}
        }
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let base = self.cookie_base(req);
        let deployment = self.deployment(req);
        // Expired sessions log out too (the record may still be there).
        let identity = read_chunked(&jar, base).and_then(|value| {
            Identity::open(&self.config.sealer, &value, base, &deployment, |p| self.issuer_of(p)).ok()
        });
        let clear = clear_chunked(base, &self.session_attrs(req), &jar);
        let provider = identity.as_ref().and_then(|s| self.config.provider(&s.provider));
        let (Some(identity), Some(provider)) = (identity.as_ref(), provider) else {
            return Ok(self.logged_out_page().with_cookies(clear));
        };
        // Where sessions are checked against revocation records, this one's provider session
        // ends here too: a copy of the cookie elsewhere stops within the check interval.
        if let (true, Some(sid)) = (provider.follow.checks_revocation(), identity.sid.as_deref()) {
            let key = revocation::sid_key(&provider.name, sid);
            let now = io.clock.now().to_string();
            io.kv.put_background(&key, &now, self.config.session.lifetime_secs);
        }
        io.log.push(
            Event::new(EventKind::Logout)
                .provider(&provider.name)
                .subject(&identity.sub),
        );
        // The record: the ID token for the hint. It is deleted either way; a store that cannot
        // be reached must not keep anyone logged in here (the cookie is cleared regardless).
        let key = record_key(&identity.handle);
        let context = SealContext {
            kind: "record",
            name: &key,
            deployment: &deployment,
            issuer: &provider.issuer,
        };
        let record = match io.kv.get(&key).await {
            Ok(Some(sealed)) => SessionRecord::open(&self.config.sealer, &context, &sealed).ok(),
            _ => None,
        };
        let _ = io.kv.delete(&key).await;
        let end_session = match self.metadata(provider, io).await {
            Ok(meta) => meta.end_session_endpoint.clone(),
            Err(_) => None,
        };
        // Without an end_session_endpoint (Google, GitLab) only this site's session ends: the
        // page says the sign-in at the provider may still be there, and where.
        let Some(endpoint) = end_session else {
            return Ok(self
                .templated_logged_out(still_signed_in_page(&provider.display_name))
                .with_cookies(clear));
        };
        let post_logout = self.our_url(req, &self.config.post_logout_redirect_uri);
        let client_id = record
            .as_ref()
            .map(|r| r.client_id.as_str())
            .or(match &provider.client {
                crate::core::config::ClientConfig::Static { client_id } => Some(client_id.as_str()),
                crate::core::config::ClientConfig::Dynamic { .. } => None,
            });
        // No `state`: the post-logout page is a plain page that would have nothing to check it
        // against (RP-Initiated Logout 1.0 §2 makes it optional).
        let url = EndSessionRequest {
            endpoint: &endpoint,
            id_token_hint: record.as_ref().map(|r| r.id_token.as_str()),
            post_logout_redirect_uri: &post_logout,
            client_id,
        }
        .url()
        .map_err(|e| AppError::Internal(format!("end_session_endpoint: {e}")))?;
        Ok(Reply::redirect(url.as_str()).with_cookies(clear))
    }

    /// Whether this logout request is this site's own (see the module documentation).
    fn logout_intent(&self, req: &Incoming) -> Result<Intent, AppError> {
        let site = req.headers.sec_fetch_site.as_deref().map(str::to_ascii_lowercase);
        match req.method.as_str() {
            "GET" | "HEAD" => Ok(match site.as_deref() {
                Some("same-origin" | "none") => Intent::Confirmed,
                _ => Intent::Ask,
            }),
            "POST" => {
                let same_origin = site.as_deref() == Some("same-origin")
                    || req
                        .headers
                        .origin
                        .as_deref()
                        .is_some_and(|o| o == req.url.origin().ascii_serialization());
                if same_origin {
                    Ok(Intent::Confirmed)
                } else {
                    Err(AppError::CrossSiteRequest)
                }
            }
            _ => Err(AppError::BadRequest("logout takes GET or POST".into())),
        }
    }
}

/// The logged-out page after a logout that could not end the provider's session (it has no
/// `end_session_endpoint`, or its metadata could not be read): the user may still be signed in
/// there, and on a shared computer should sign out there too.
fn still_signed_in_page(provider: &str) -> Reply {
    let message = format!(
        "You have been signed out of this site. You may still be signed in at {provider}: this site cannot end that sign-in. On a shared computer, sign out at {provider} too, or close the browser."
    );
    html_page(200, "Signed out", &message, &[], &[("/", "Sign in again")])
}

impl App {
    /// The logged-out page: built in, or the operator's template.
    pub(super) fn logged_out_page(&self) -> Reply {
        self.templated_logged_out(logged_out_page())
    }

    fn templated_logged_out(&self, built_in: Reply) -> Reply {
        let values = PageValues {
            title: "Signed out",
            status: built_in.status,
            return_url: "/",
            ..PageValues::default()
        };
        self.page(PageKind::LoggedOut, built_in, &values)
    }
}

/// The built-in logged-out page.
fn logged_out_page() -> Reply {
    html_page(
        200,
        "Signed out",
        "You have been signed out.",
        &[],
        &[("/", "Sign in again")],
    )
}
