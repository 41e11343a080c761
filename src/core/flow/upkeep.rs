//! The gate's rare path: a session that needs more than being let through. Three things can be
//! due, each remembered in the sealed identity cookie so that every other request stays at zero
//! KV operations and zero subrequests:
//!
//! - a **revocation check** (`checked_at`, providers with back- or front-channel logout): at
//!   most once per `revocation_check_secs`, the session is looked up in the revocation records
//!   (src/core/session/revocation.rs);
//! - a **refresh** (`refresh_due`, providers with `session_refresh_interval_secs`): with the
//!   refresh token (src/core/flow/refresh.rs) on any request, or with a silent authentication
//!   request (src/core/flow/silent.rs) on the next navigation;
//! - an **idle-timeout step** (`active_at`, `session.idle_timeout_secs`): the cookie is sealed
//!   again once a step ([`idle_step`]) of the window has passed, not on every request.
//!
//! The requests of one session that find the same work due share one upkeep ([`Flights`]):
//! one revocation lookup, one refresh, one new cookie for all of them.

use super::flight::Joined;
use super::gate::join2;
use super::refresh::Refreshed;
use super::{App, Failure, Incoming, Io, Outcome};
use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore, StoreError};
use crate::core::log::{Event, EventKind};
use crate::core::session::cookies::CookieJar;
use crate::core::session::seal::clear_chunked;
use crate::core::session::{revocation, Identity};
use crate::core::site::path::CanonicalPath;
use std::rc::Rc;

/// Why a session ended during its upkeep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    /// Logged out at the provider (a revocation record, a refused refresh token, a record gone):
    /// navigations log in again, API calls get 401.
    Revoked,
    /// The allow-lists, applied again at a refresh, refuse the user (the email or sub).
    Forbidden(String),
    /// `required_acr`, applied again at a refresh, refuses the new `acr`.
    Acr(Option<String>),
}

/// What a session's upkeep decided, shared by its concurrent requests.
#[derive(Debug)]
pub(super) struct Upkept {
    /// The identity to go on with and its sealed cookie value (when it changed); or the end.
    pub outcome: Result<(Rc<Identity>, Option<String>), Ended>,
    /// For the log (a postponed refresh, a failed check): an event kind and its stable reason
    /// (src/core/log.rs: never free text), written once, by the leading request.
    pub note: Option<(EventKind, &'static str)>,
    /// The session was refreshed (a `refresh` event).
    pub refreshed: bool,
}

/// How much of the idle window passes before the cookie is sealed again: a tenth, at least a
/// minute, at most half the window. A session then ends after between `idle - step` and `idle`
/// seconds without a request.
pub(super) fn idle_step(idle: u64) -> i64 {
    i64::try_from((idle / 10).max(60).min(idle / 2)).unwrap_or(i64::MAX)
}

/// After a refresh that failed for a passing reason, the next attempt waits a quarter of the
/// interval (2 s to 5 min): a provider that is down is not asked again by every request.
pub(super) fn retry_after(interval: u64) -> i64 {
    i64::try_from((interval / 4).clamp(2, 300)).unwrap_or(300)
}

impl App {
    /// The hot path's test: is anything due on this session? Integer comparisons only; `false`
    /// at once when no provider follows its sessions and there is no idle timeout.
    pub(super) fn upkeep_due(&self, id: &Identity, now: i64, navigation: bool) -> bool {
        if !self.follows_sessions {
            return false;
        }
        if let Some(idle) = self.config.session.idle_timeout_secs {
            if id.active_at.is_none_or(|at| now.saturating_sub(at) >= idle_step(idle)) {
                return true;
            }
        }
        let Some(p) = self.config.provider(&id.provider) else {
            return false;
        };
        let f = &p.follow;
        let refresh = f.refresh_interval_secs.is_some()
            && id.refresh_due.is_none_or(|d| now >= d)
            && (!id.silent_refresh || navigation);
        let check = f.checks_revocation()
            && id
                .checked_at
                .is_none_or(|k| now.saturating_sub(k) >= i64::try_from(f.revocation_check_secs).unwrap_or(i64::MAX));
        refresh || check
    }

    /// Sets the upkeep fields of a session that starts now (or starts over after a silent
    /// refresh): next refresh, next check, last activity.
    pub(super) fn schedule(
        &self,
        identity: &mut Identity,
        provider: &ProviderConfig,
        now: i64,
        has_refresh_token: bool,
    ) {
        let f = &provider.follow;
        // Never after the session's end; `refresh_due` present means "scheduled", so that a
        // cookie sealed before refreshing was configured is refreshed at once.
        identity.refresh_due = f.refresh_interval_secs.map(|i| {
            now.saturating_add(i64::try_from(i).unwrap_or(i64::MAX))
                .min(identity.expires_at)
        });
        identity.silent_refresh = identity.refresh_due.is_some() && !has_refresh_token;
        identity.checked_at = f.checks_revocation().then_some(now);
        identity.active_at = self.config.session.idle_timeout_secs.map(|_| now);
    }

    /// The rare path (see the module documentation): a silent refresh starts on a navigation;
    /// everything else is done once per session and due state, and the request goes on with
    /// the resulting identity (and its new cookie), or the session ends.
    pub(super) async fn upkeep<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        path: &CanonicalPath,
        jar: &CookieJar<'_>,
        identity: Rc<Identity>,
    ) -> Result<Outcome, Failure> {
        let now = io.clock.now();
        let provider = self
            .config
            .provider(&identity.provider)
            .ok_or_else(|| AppError::Internal("the session's provider is not configured".into()))?;
        let navigation = req.method == "GET" && req.is_navigation();
        let refresh_due =
            provider.follow.refresh_interval_secs.is_some() && identity.refresh_due.is_none_or(|d| now >= d);
        if refresh_due && identity.silent_refresh && navigation {
            return Ok(Outcome::Reply(self.start_silent(req, io, provider, &identity).await?));
        }
        // Written out: the worker is built with `-Zfmt-debug=none` (scripts/build.sh), where `{:?}`
        // prints nothing, so no key may depend on Debug formatting.
        let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
        let key = format!(
            "{}\0{}\0{}\0{}\0{}\0{}",
            self.cookie_base(req),
            identity.handle,
            time(identity.refresh_due),
            time(identity.checked_at),
            time(identity.active_at),
            self.deployment(req)
        );
        let (upkept, led) = match self.upkeep.join(&key, now, |ms| io.clock.sleep(ms)).await {
            Joined::Landed(upkept) => (upkept, false),
            Joined::Lead(lead) => {
                let upkept = Rc::new(self.upkeep_now(req, io, provider, &identity).await);
                lead.land(upkept.clone(), now);
                (upkept, true)
            }
        };
        if led {
            if upkept.refreshed {
                io.log.push(
                    Event::new(EventKind::Refresh)
                        .provider(&provider.name)
                        .subject(&identity.sub),
                );
            }
            if let Some((kind, reason)) = upkept.note {
                let mut event = Event::new(kind).provider(&provider.name);
                event.reason = Some(reason);
                io.log.push(event);
            }
        }
        match &upkept.outcome {
            Ok((identity, sealed)) => {
                let mut forward = self.forward(jar, Some(identity));
                if let Some(sealed) = sealed {
                    forward.set_cookies = self.identity_cookies(req, sealed, Some((identity.expires_at, now)))?;
                }
                if self.extras {
                    forward = self.extras(req, io, path, identity.clone(), forward).await;
                }
                Ok(Outcome::Forward(forward))
            }
            Err(Ended::Revoked) => Ok(self.unauthenticated(req, io, path, jar, true).await?),
            Err(refused) => {
                let clear = clear_chunked(self.cookie_base(req), &self.session_attrs(req), jar);
                let error = match refused {
                    Ended::Acr(got) => AppError::AcrNotMet { got: got.clone() },
                    Ended::Forbidden(who) => AppError::Forbidden(who_or_sub(who, &identity)),
                    Ended::Revoked => AppError::Forbidden(who_or_sub("", &identity)),
                };
                Err(Failure::with_cookies(error, &clear))
            }
        }
    }

    /// The leading request's upkeep: check, refresh, idle step, in that order, then the new
    /// cookie value if anything changed.
    async fn upkeep_now<H: HttpClient, K: KvStore>(
        &self,
        req: &Incoming,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        identity: &Identity,
    ) -> Upkept {
        let now = io.clock.now();
        let f = &provider.follow;
        let mut next = identity.clone();
        let mut note = None;
        let mut refreshed = false;
        let interval = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
        if f.checks_revocation()
            && identity
                .checked_at
                .is_none_or(|k| now.saturating_sub(k) >= interval(f.revocation_check_secs))
        {
            match self.revoked(io, provider, identity).await {
                Ok(true) => return ended(Ended::Revoked, Some((EventKind::Logout, "revoked"))),
                Ok(false) => {}
                // A store that cannot be read does not end sessions; the next check waits a
                // whole interval, so that an outage is not one read per request.
                Err(_) => note = Some((EventKind::KvError, "revocation_check_skipped")),
            }
            next.checked_at = Some(now);
        }
        if let Some(every) = f.refresh_interval_secs {
            if !identity.silent_refresh && identity.refresh_due.is_none_or(|d| now >= d) {
                match self.refresh_by_token(req, io, provider, identity).await {
                    Refreshed::Renewed(renewed, notes) => {
                        next = Identity {
                            checked_at: next.checked_at,
                            active_at: next.active_at,
                            ..*renewed
                        };
                        refreshed = true;
                        if notes.is_some() {
                            note = Some((EventKind::ProviderError, "refresh_partial"));
                        }
                    }
                    Refreshed::Postponed(why) => {
                        next.refresh_due = Some(now.saturating_add(retry_after(every)).min(next.expires_at));
                        let _ = why;
                        note = Some((EventKind::ProviderError, "refresh_postponed"));
                    }
                    Refreshed::Silent => next.silent_refresh = true,
                    Refreshed::Ended(end, why) => {
                        let note = match (&end, why) {
                            // The provider answered with something that must not be trusted.
                            (_, Some(_)) => Some((EventKind::ProviderError, "refresh_refused")),
                            // Revoked or expired at the provider: an ordinary end.
                            (Ended::Revoked, None) => Some((EventKind::Logout, "refresh_token_revoked")),
                            // The rules refused the user: the `denied` event of the refusal.
                            _ => None,
                        };
                        return ended(end, note);
                    }
                }
            }
        }
        if let Some(idle) = self.config.session.idle_timeout_secs {
            if next
                .active_at
                .is_none_or(|at| now.saturating_sub(at) >= idle_step(idle))
            {
                next.active_at = Some(now);
            }
        }
        let sealed = if next == *identity {
            None
        } else {
            match self.seal_identity(req, &next, io.random) {
                Ok(sealed) => Some(sealed),
                Err(_) => {
                    return Upkept {
                        outcome: Ok((Rc::new(identity.clone()), None)),
                        note: Some((EventKind::InternalError, "seal")),
                        refreshed,
                    }
                }
            }
        };
        Upkept {
            outcome: Ok((Rc::new(next), sealed)),
            note,
            refreshed,
        }
    }

    /// Whether a logout recorded the end of this session: its provider session (`sid`) or all
    /// of its user's sessions (`sub`) ended at or after it started. Both records are read at
    /// once.
    async fn revoked<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        provider: &ProviderConfig,
        identity: &Identity,
    ) -> Result<bool, StoreError> {
        let by_sub = revocation::sub_key(&provider.name, &identity.sub);
        let by_sid = identity
            .sid
            .as_deref()
            .map(|sid| revocation::sid_key(&provider.name, sid));
        let (sub, sid) = join2(io.kv.get(&by_sub), async {
            match &by_sid {
                Some(key) => io.kv.get(key).await,
                None => Ok(None),
            }
        })
        .await;
        Ok(revocation::revoked(identity.created_at, &[sub?, sid?]))
    }
}

fn ended(end: Ended, note: Option<(EventKind, &'static str)>) -> Upkept {
    Upkept {
        outcome: Err(end),
        note,
        refreshed: false,
    }
}

fn who_or_sub(who: &str, identity: &Identity) -> String {
    if who.is_empty() {
        identity.email.clone().unwrap_or_else(|| identity.sub.clone())
    } else {
        who.to_owned()
    }
}
