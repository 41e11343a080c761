//! Where what ends sessions from outside is kept in KV, and how a session is checked against it.
//!
//! - `revoked:sid:<provider>:<hash of sid>` and `revoked:sub:<provider>:<hash of sub>`: the time
//!   of a logout (back-channel, front-channel, or this site's own logout for the `sid`); a session
//!   of that provider session or user created at or before it is over. A time rather than a mark,
//!   so that a user who signs in again (possibly in the same provider session, whose `sid` may
//!   not change) is not logged out by the old record. Kept `session.lifetime_secs`: no session
//!   created before it lives longer.
//! - `sid:<provider>:<hash of sid>`: the index of the provider sessions that logged in here,
//!   written at the callback only for providers with front-channel logout, so that anonymous
//!   front-channel requests cannot write revocation records for made-up sids.
//! - `logout-jti:<provider>:<hash of jti>`: logout tokens already used (replay).
//! - `refreshing:<hash>` / `refreshed:<hash>`: the lease of the isolate that redeems a session's
//!   refresh token, and the session it got for it (src/core/flow/refresh.rs). The hash is of the
//!   session handle and the refresh due time the old cookie carries: every copy of the old cookie
//!   finds them, even after the record was rewritten with the new (rotated) refresh token.
//!
//! Hashed: the values (user ids, session ids, tokens) never appear in key names, which KV lists.

use crate::core::crypto::secret::b64url;
use sha2::{Digest, Sha256};

/// 128 bits of SHA-256 over a domain label and the value.
fn hash(label: &str, value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"edge-oidc ")
        .chain_update(label.as_bytes())
        .chain_update(b"\0")
        .chain_update(value.as_bytes())
        .finalize();
    b64url(digest.get(..16).unwrap_or_default())
}

/// The revocation record of a provider session.
pub fn sid_key(provider: &str, sid: &str) -> String {
    format!("revoked:sid:{provider}:{}", hash("sid", sid))
}

/// The revocation record of every session of a user at a provider.
pub fn sub_key(provider: &str, sub: &str) -> String {
    format!("revoked:sub:{provider}:{}", hash("sub", sub))
}

/// The index entry of a provider session that logged in here (front-channel logout only).
pub fn sid_index_key(provider: &str, sid: &str) -> String {
    format!("sid:{provider}:{}", hash("sid", sid))
}

/// The replay mark of a logout token.
pub fn jti_key(provider: &str, jti: &str) -> String {
    format!("logout-jti:{provider}:{}", hash("jti", jti))
}

/// What names one refresh of a session: its handle and the due time of the cookie refreshed.
fn refresh_id(handle: &str, due: Option<i64>) -> String {
    format!("{handle}\0{}", due.map_or_else(|| "-".to_owned(), |d| d.to_string()))
}

/// The lease on refreshing the session `handle` that was due at `due`.
pub fn refreshing_key(handle: &str, due: Option<i64>) -> String {
    format!("refreshing:{}", hash("refresh", &refresh_id(handle, due)))
}

/// The session that refresh got.
pub fn refreshed_key(handle: &str, due: Option<i64>) -> String {
    format!("refreshed:{}", hash("refresh", &refresh_id(handle, due)))
}

/// Whether a session created at `created_at` is revoked by the records read (their values: the
/// times of the logouts). A record that does not parse counts as a logout now: it can only have
/// been written by edge-oidc, and failing closed ends one session at worst.
pub fn revoked(created_at: i64, records: &[Option<String>]) -> bool {
    records
        .iter()
        .flatten()
        .any(|at| at.trim().parse::<i64>().map_or(true, |at| created_at <= at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hide_values_and_differ_by_kind_and_provider() {
        let keys = [
            sid_key("main", "s1"),
            sub_key("main", "s1"),
            sid_index_key("main", "s1"),
            jti_key("main", "s1"),
            sid_key("other", "s1"),
            refreshing_key("s1", Some(1)),
            refreshed_key("s1", Some(1)),
            refreshed_key("s1", Some(2)),
        ];
        for (i, k) in keys.iter().enumerate() {
            assert!(!k.ends_with(":s1"), "{k}");
            assert!(keys.iter().skip(i + 1).all(|other| other != k), "{k}");
        }
        assert!(sid_key("main", "s1").starts_with("revoked:sid:main:"));
        assert_eq!(sid_key("main", "s1"), sid_key("main", "s1"));
    }

    #[test]
    fn sessions_created_before_a_logout_are_revoked() {
        let at = |t: i64| Some(t.to_string());
        assert!(revoked(100, &[at(100)]));
        assert!(revoked(100, &[None, at(150)]));
        assert!(!revoked(200, &[at(150), None]));
        assert!(!revoked(200, &[None, None]));
        assert!(revoked(200, &[Some("garbage".into())]));
    }
}
