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
            format!("`{other}` is not a log level"),
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

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use crate::core::log::LogLevel;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        let json = format!(r#"{{"providers":{{"main":{{"issuer":"https://op.example","client_id":"rp"}}}}{extra}}}"#);
        let secret =
            |name: &str| (name == "COOKIE_KEYS").then(|| "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_owned());
        Config::from_json(&json, &secret)
    }

    #[test]
    fn log_level_defaults_to_info_and_names_the_key_when_wrong() {
        let level = |extra: &str| parse(extra).map(|c| c.log_level);
        assert_eq!(level(""), Ok(LogLevel::Info));
        assert_eq!(level(r#","log_level":"off""#), Ok(LogLevel::Off));
        assert_eq!(level(r#","log_level":"error""#), Ok(LogLevel::Error));
        assert_eq!(level(r#","log_level":"debug""#), Ok(LogLevel::Debug));
        for bad in [r#""verbose""#, r#""INFO""#, r#""""#] {
            let e = parse(&format!(r#","log_level":{bad}"#))
                .err()
                .unwrap_or_else(|| panic!("accepted {bad}"));
            assert_eq!(e.key, "log_level", "{bad}");
            assert!(e.fix.contains("\"info\""), "{}", e.fix);
        }
    }

    #[test]
    fn metrics_binding_is_a_binding_name() {
        let binding = |extra: &str| parse(extra).map(|c| c.metrics_binding);
        assert_eq!(binding(""), Ok(None));
        assert_eq!(
            binding(r#","metrics_binding":"EDGE_OIDC_METRICS""#),
            Ok(Some("EDGE_OIDC_METRICS".into()))
        );
        for bad in [r#""""#, r#""1ST""#, r#""A-B""#, r#""a b""#] {
            let e = parse(&format!(r#","metrics_binding":{bad}"#))
                .err()
                .unwrap_or_else(|| panic!("accepted {bad}"));
            assert_eq!(e.key, "metrics_binding", "{bad}");
        }
    }
}
