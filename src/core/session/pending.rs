//! Logins in progress, kept by the browser: one sealed cookie per pending login, so that an
//! anonymous request costs no KV write at all (a crawler or a loop of requests cannot use up
//! the Workers KV write quota or make us pay for it). KV is only written when a callback
//! completes a login: the session record, which doubles as the mark that the state was used
//! (see [`super::handle_for_state`]).
//!
//! Each pending login has its own cookie, `<session cookie>_s.<first 12 characters of the
//! state>`, so tabs that start logins at the same moment never overwrite each other's; at most
//! [`MAX_PENDING`] exist per browser (the oldest are dropped when a new login starts, as
//! mod_auth_openidc's `OIDCStateMaxNumberOfCookies` does), and each lives `login_timeout_secs`.
//! The cookie is the browser binding: only the browser that started the login has it.

use super::{SealContext, SessionError};
use crate::core::crypto::secret::{ct_eq, Secret};
use crate::core::oidc::response::{ResponseMode, ResponseType};
use crate::core::session::seal::Sealer;
use serde::{Deserialize, Serialize};

/// Most pending logins (and so cookies) per browser.
pub const MAX_PENDING: usize = 5;

/// How many characters of the state name its cookie (72 bits: unique among a few logins).
const STATE_ID_LEN: usize = 12;

/// What the callback needs to finish a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The provider the login was started with (mix-up defence: only its callback is
    /// accepted); carried in the clear before the sealed part.
    #[serde(skip)]
    pub provider: String,
    /// The whole `state` (the cookie name holds only its start).
    #[serde(rename = "t")]
    pub state: Secret,
    /// The `nonce` sent; the ID token must carry it back (Core §3.1.2.1, §15.5.2).
    #[serde(rename = "n")]
    pub nonce: Secret,
    /// The PKCE `code_verifier` (RFC 7636 §4.1).
    #[serde(rename = "v")]
    pub pkce_verifier: Secret,
    /// Same-origin path (with query) to return to after login.
    #[serde(rename = "r")]
    pub return_to: String,
    /// When the login started (unix seconds).
    #[serde(rename = "c")]
    pub created_at: i64,
    /// The dynamically registered client the login was started with (the callback must use
    /// the same one, even if a newer registration exists by then).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The `response_type` the login asked for: the callback accepts exactly its parts. Left
    /// out for `code` (the cookie stays as small as before for the code flow).
    #[serde(rename = "y", default, skip_serializing_if = "is_default")]
    pub response_type: ResponseType,
    /// The `response_mode` the login asked for: the callback accepts the response only by that
    /// way (the query, or a POST: form_post, or the fragment relayed by our page). Left out for
    /// `query`.
    #[serde(rename = "m", default, skip_serializing_if = "is_default")]
    pub response_mode: ResponseMode,
    /// Set when this is the silent authentication request (`prompt=none`) refreshing a session,
    /// not a new login: the callback must find the same user and keeps the session's lifetime.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<SilentRefresh>,
}

/// The session a silent authentication request refreshes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilentRefresh {
    /// The handle of its record (deleted when the refresh succeeds: the new record has the
    /// handle of the new state, which doubles as that state's "used" mark).
    #[serde(rename = "h")]
    pub handle: String,
    /// When the session started: the refreshed one keeps it, and so its absolute end.
    #[serde(rename = "c")]
    pub created_at: i64,
    /// The user: the provider must answer for the same `sub` (Core §12.2 by analogy).
    #[serde(rename = "s")]
    pub sub: String,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The prefix of every pending-login cookie name for the session cookie `base`.
pub fn cookie_prefix(base: &str) -> String {
    format!("{base}_s.")
}

/// The cookie name of the pending login with `state`, or `None` for a state edge-oidc cannot
/// have made (too short, or not base64url).
pub fn cookie_name(base: &str, state: &str) -> Option<String> {
    let id = state.get(..STATE_ID_LEN)?;
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then(|| format!("{base}_s.{id}"))
}

/// Whether `cookie` has the name of a pending-login cookie for the session cookie `base`: any
/// `<base>_s.<id>`, not only the ones edge-oidc writes, so that no cookie looking like one ever
/// reaches the origin, and a stray one is removed at the next login start (it does not open).
pub fn is_pending_cookie(cookie: &str, base: &str) -> bool {
    cookie.strip_prefix(base).is_some_and(|rest| rest.starts_with("_s."))
}

impl PendingLogin {
    /// The cookie value: `provider.` followed by the sealed login.
    pub fn seal(&self, sealer: &Sealer, context: &SealContext<'_>, nonce: [u8; 24]) -> Result<String, SessionError> {
        super::seal_cookie(self, &self.provider, sealer, context, nonce)
    }

    /// Opens a pending-login cookie. `state`: the callback's state, which must be the one the
    /// login was started with (constant-time compare); `None` when only the age is wanted.
    pub fn open<'i>(
        sealer: &Sealer,
        value: &str,
        name: &str,
        deployment: &str,
        state: Option<&str>,
        issuer_of: impl FnOnce(&str) -> Option<&'i str>,
    ) -> Result<PendingLogin, SessionError> {
        let (provider, mut pending): (_, PendingLogin) =
            super::open_cookie(sealer, value, "pending", name, deployment, issuer_of)?;
        if state.is_some_and(|s| !ct_eq(s, pending.state.expose())) {
            return Err(SessionError::Malformed);
        }
        provider.clone_into(&mut pending.provider);
        Ok(pending)
    }
}
