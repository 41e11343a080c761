//! The Front-Channel Logout endpoint (OpenID Connect Front-Channel Logout 1.0): the provider's
//! logout page loads `GET {frontchannel_logout_path}?iss=…&sid=…` in an iframe. Third-party
//! cookies are usually blocked in that iframe (and `SameSite=Lax` cookies are not sent to a
//! cross-site one), so clearing the cookie alone would not log anyone out: the logout is recorded
//! as a `sid` revocation, which the gate's revocation check finds (src/core/flow/upkeep.rs).
//!
//! The request carries no proof: anyone who knows a session's `sid` can end it, as the
//! specification accepts. What anonymous traffic must not do is write KV at will, so a
//! revocation is only written for a `sid` in the index of provider sessions that logged in here
//! (written at the callback for providers with front-channel logout), once; and the index
//! lookups themselves are limited per isolate ([`BUDGET`] per [`WINDOW_SECS`]). When the request
//! carries the session's own cookie, the cookie is proof enough and is cleared too.
//!
//! The page may only be framed by the provider (`frame-ancestors` with its issuer's origin).

use super::{App, Incoming, Io};
use crate::core::config::ProviderConfig;
use crate::core::http::{HttpClient, KvStore};
use crate::core::log::{Event, EventKind};
use crate::core::session::cookies::CookieJar;
use crate::core::session::seal::{clear_chunked, read_chunked};
use crate::core::session::{revocation, Identity};
use crate::core::site::pages::{html_page, Reply};

/// Index lookups allowed per isolate and window.
const BUDGET: u32 = 20;
/// The window of [`BUDGET`].
const WINDOW_SECS: i64 = 10;
/// Longest `sid` looked at.
const MAX_SID: usize = 256;

impl App {
    /// `GET {frontchannel_logout_path}?iss=…&sid=…`.
    pub(super) async fn frontchannel_logout<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Reply {
        match self.frontchannel_params(req) {
            Err(why) => html_page(400, "Sign-out request not accepted", why, &[], &[]),
            Ok((provider, sid)) => {
                let (cookies, note) = self.record_frontchannel(req, io, provider, &sid).await;
                if let Some((kind, reason)) = note {
                    let mut event = Event::new(kind).provider(&provider.name);
                    event.reason = Some(reason);
                    io.log.push(event);
                }
                signed_out_page(provider).with_cookies(cookies)
            }
        }
    }

    /// The provider (by `iss`, with front-channel logout on) and the `sid` of the request.
    fn frontchannel_params(&self, req: &Incoming) -> Result<(&ProviderConfig, String), &'static str> {
        if !matches!(req.method.as_str(), "GET" | "HEAD") {
            return Err("front-channel logout takes a GET");
        }
        let (mut iss, mut sid) = (None, None);
        for (k, v) in req.url.query_pairs() {
            let slot = match k.as_ref() {
                "iss" => &mut iss,
                "sid" => &mut sid,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err("a parameter is repeated");
            }
        }
        // We register with frontchannel_logout_session_required: both must be there.
        let (Some(iss), Some(sid)) = (iss, sid.filter(|s| !s.is_empty() && s.len() <= MAX_SID)) else {
            return Err("the request needs iss and sid");
        };
        let provider = self
            .config
            .providers
            .iter()
            .find(|p| p.issuer == iss && p.follow.frontchannel_logout)
            .ok_or("the issuer is not a provider with front-channel logout")?;
        Ok((provider, sid))
    }

    /// Records the logout of `sid`; returns the cookie removals (when the request carries that
    /// session) and a log line.
    async fn record_frontchannel<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        sid: &str,
    ) -> (Vec<String>, Option<(EventKind, &'static str)>) {
        let now = io.clock.now();
        let key = revocation::sid_key(&provider.name, sid);
        let lifetime = self.config.session.lifetime_secs;
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let base = self.cookie_base(req);
        let deployment = self.deployment(req);
        let own = read_chunked(&jar, base)
            .and_then(|v| Identity::open(&self.config.sealer, &v, base, &deployment, |p| self.issuer_of(p)).ok())
            .is_some_and(|i| i.provider == provider.name && i.sid.as_deref() == Some(sid));
        if own {
            io.kv.put_background(&key, &now.to_string(), lifetime);
            return (
                clear_chunked(base, &self.session_attrs(req), &jar),
                Some((EventKind::Logout, "frontchannel_logout")),
            );
        }
        if !self.frontchannel_budget_left(now) {
            return (
                Vec::new(),
                Some((EventKind::InternalError, "frontchannel_budget_spent")),
            );
        }
        let index = io.kv.get(&revocation::sid_index_key(&provider.name, sid)).await;
        let Ok(Some(created)) = index else {
            return (
                Vec::new(),
                index.err().map(|_| (EventKind::KvError, "frontchannel_logout")),
            );
        };
        // Once per provider session: a record at or after its login already covers it.
        let recorded = io.kv.get(&key).await.ok().flatten();
        if !revocation::revoked(created.trim().parse().unwrap_or(0), &[recorded]) {
            io.kv.put_background(&key, &now.to_string(), lifetime);
        }
        (Vec::new(), Some((EventKind::Logout, "frontchannel_logout")))
    }

    /// Takes one index lookup from this isolate's budget.
    fn frontchannel_budget_left(&self, now: i64) -> bool {
        let (window, used) = self.frontchannel_budget.get();
        let (window, used) = if now.saturating_sub(window) >= WINDOW_SECS {
            (now, 0)
        } else {
            (window, used)
        };
        if used >= BUDGET {
            return false;
        }
        self.frontchannel_budget.set((window, used + 1));
        true
    }
}

/// The page in the provider's iframe: framable by the provider's origin only.
fn signed_out_page(provider: &ProviderConfig) -> Reply {
    let mut page = html_page(200, "Signed out", "You have been signed out of this site.", &[], &[]);
    let origin = url::Url::parse(&provider.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".to_owned());
    for (name, value) in page.headers.iter_mut() {
        if *name == "content-security-policy" {
            *value =
                format!("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors {origin}");
        }
    }
    page
}
