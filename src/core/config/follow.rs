//! How sessions follow their provider (README "Sessions that follow the provider"): refresh,
//! back- and front-channel logout, and how often the gate checks for a logout.

use super::{err, ConfigError};

/// The per-provider settings, as validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Follow {
    /// Refresh the session this often (refresh token, else `prompt=none` on a navigation);
    /// `None`: never (the default).
    pub refresh_interval_secs: Option<u64>,
    /// Accept Back-Channel Logout 1.0 logout tokens from this provider.
    pub backchannel_logout: bool,
    /// Accept Front-Channel Logout 1.0 requests naming this provider.
    pub frontchannel_logout: bool,
    /// With either logout on: the gate checks a session against the revocation records at most
    /// this often.
    pub revocation_check_secs: u64,
}

impl Follow {
    /// Whether sessions of this provider are checked against revocation records.
    pub fn checks_revocation(&self) -> bool {
        self.backchannel_logout || self.frontchannel_logout
    }
}

/// The default of `revocation_check_secs`.
pub(super) fn default_revocation_check() -> u64 {
    60
}

/// Validates the settings of `providers.<name>`.
pub(super) fn validate(
    name: &str,
    refresh_interval_secs: Option<u64>,
    backchannel_logout: bool,
    frontchannel_logout: bool,
    revocation_check_secs: u64,
) -> Result<Follow, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    // Two seconds is only useful in tests; the README suggests minutes. The upper end is the
    // longest session.
    if refresh_interval_secs.is_some_and(|s| !(2..=400 * 86400).contains(&s)) {
        return Err(err(
            key("session_refresh_interval_secs"),
            "must be between 2 and 34560000",
            "use e.g. 900 (refresh every 15 minutes), or leave it out to never refresh",
        ));
    }
    if !(1..=86400).contains(&revocation_check_secs) {
        return Err(err(
            key("revocation_check_secs"),
            "must be between 1 and 86400",
            "use e.g. 60 (the default)",
        ));
    }
    Ok(Follow {
        refresh_interval_secs,
        backchannel_logout,
        frontchannel_logout,
        revocation_check_secs,
    })
}
