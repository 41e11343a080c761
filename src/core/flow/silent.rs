//! Refreshing a session without a refresh token: on the next navigation once it is due, a
//! silent authentication request (Core §3.1.2.1 `prompt=none`, with the session's ID token as
//! `id_token_hint`). The provider answers at once, with a code for the same user (the session
//! goes on, claims renewed, its start and absolute end kept), or with an error:
//!
//! - `login_required`, `interaction_required`, `consent_required`, `account_selection_required`
//!   (Core §3.1.2.6): the user must interact, so the session ends and **one** interactive login
//!   starts, to the same page. That login is an ordinary one: whatever it answers, nothing
//!   silent follows it, so there is no loop;
//! - anything else (`server_error`, `temporarily_unavailable`, …): the session goes on and the
//!   next silent attempt waits (`retry_after`), again no loop.
//!
//! API calls never start one (they cannot follow a redirect to a login page): they are served
//! with the current session until it expires.

use super::upkeep::retry_after;
use super::{App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::session::cookies::CookieJar;
use crate::core::session::pending::{PendingLogin, SilentRefresh};
use crate::core::session::seal::{clear_chunked, read_chunked};
use crate::core::session::{record_key, Identity};
use crate::core::site::pages::Reply;
use crate::core::site::return_url::check_return_url;

/// The errors that mean "the user must interact" (Core §3.1.2.6).
const NEEDS_INTERACTION: [&str; 4] = [
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
];

impl App {
    /// The gate, on a navigation with a silent refresh due: to the provider with `prompt=none`.
    pub(super) async fn start_silent<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        identity: &Identity,
    ) -> Result<Reply, AppError> {
        // The hint helps the provider answer for this user; without the record (a KV failure)
        // the request still works.
        let record = self
            .read_record(req, io, provider, &identity.handle)
            .await
            .ok()
            .flatten();
        let hint = record.as_ref().map(|r| r.id_token.as_str());
        let return_to = check_return_url(&req.path_and_query(), &req.url).unwrap_or_else(|_| "/".to_owned());
        let refresh = SilentRefresh {
            handle: identity.handle.clone(),
            created_at: identity.created_at,
            sub: identity.sub.clone(),
        };
        self.start_login_with(req, io, provider, &return_to, &[], Some((refresh, hint)))
            .await
    }

    /// The callback of a silent request that the provider answered with `error`.
    pub(super) async fn silent_refused<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        pending: &PendingLogin,
        error: &str,
    ) -> Result<Reply, AppError> {
        if NEEDS_INTERACTION.contains(&error) {
            return self.interactive_login(req, io, provider, &pending.return_to).await;
        }
        let cookies = self.postpone_silent(req, io, provider, pending).unwrap_or_default();
        Ok(Reply::redirect(&pending.return_to).with_cookies(cookies))
    }

    /// Ends the session this request carries and starts one interactive login to `return_to`.
    pub(super) async fn interactive_login<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        return_to: &str,
    ) -> Result<Reply, AppError> {
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let clear = clear_chunked(self.cookie_base(req), &self.session_attrs(req), &jar);
        let reply = self.start_login(req, io, provider, return_to, &[]).await?;
        Ok(reply.with_cookies(clear))
    }

    /// A silent refresh that succeeded: the session keeps its start and absolute end; its old
    /// record goes (the new one is under the new state's handle, the mark that state was used).
    pub(super) async fn continue_session<H: HttpClient, K: KvStore>(
        &self,
        identity: &mut Identity,
        refresh: &SilentRefresh,
        io: &Io<'_, H, K>,
    ) {
        identity.created_at = refresh.created_at;
        identity.expires_at = refresh
            .created_at
            .saturating_add(i64::try_from(self.config.session.lifetime_secs).unwrap_or(i64::MAX));
        if refresh.handle != identity.handle {
            // A leftover record costs nothing but storage until its expiry.
            let _ = io.kv.delete(&record_key(&refresh.handle)).await;
        }
    }

    /// The session cookie this request carries, sealed again with its next silent attempt
    /// later, when it is the session the pending refresh was for.
    fn postpone_silent<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        pending: &PendingLogin,
    ) -> Option<Vec<String>> {
        let refresh = pending.refresh.as_ref()?;
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let base = self.cookie_base(req);
        let value = read_chunked(&jar, base)?;
        let deployment = self.deployment(req);
        let mut identity =
            Identity::open(&self.config.sealer, &value, base, &deployment, |p| self.issuer_of(p)).ok()?;
        if identity.handle != refresh.handle || identity.provider != provider.name {
            return None;
        }
        let now = io.clock.now();
        let every = provider.follow.refresh_interval_secs?;
        identity.refresh_due = Some(now.saturating_add(retry_after(every)).min(identity.expires_at));
        let sealed = self.seal_identity(req, &identity, io.random).ok()?;
        self.identity_cookies(req, &sealed, Some((identity.expires_at, now)))
            .ok()
    }
}
