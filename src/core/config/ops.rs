//! The operations keys of `EDGE_OIDC_CONFIG`: `log_level` and `metrics_binding` (README: Logs
//! and metrics).

use super::{err, ConfigError};
use crate::core::log::LogLevel;

/// `log_level`: `"error"`, `"info"` (the default), `"debug"` or `"off"`.
pub(super) fn validate_log_level(raw: Option<&str>) -> Result<LogLevel, ConfigError> {
    match raw {
        None | Some("info") => Ok(LogLevel::Info),
        Some("error") => Ok(LogLevel::Error),
        Some("debug") => Ok(LogLevel::Debug),
        Some("off") => Ok(LogLevel::Off),
        Some(other) => Err(err(
            "log_level",
            format!("`{}` is not a log level", other.escape_debug()),
            "use \"error\", \"info\" (the default), \"debug\" (also logs every request let through on a session) or \"off\"",
        )),
    }
}

/// `metrics_binding`: the name of an Analytics Engine dataset binding in wrangler.toml, which
/// is a JavaScript identifier.
pub(super) fn validate_metrics_binding(raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(name) = raw else { return Ok(None) };
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && name.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(Some(name));
    }
    Err(err(
        "metrics_binding",
        "is not a binding name (letters, digits and `_`, not starting with a digit, at most 64)",
        "use the `binding` of an [[analytics_engine_datasets]] entry in wrangler.toml, e.g. \"EDGE_OIDC_METRICS\", or leave the key out",
    ))
}
