//! A provider's `response_type`, `response_mode` and `pushed_authorization_requests`, and their
//! check against the provider's metadata: at configuration time for static metadata, at the
//! start of each login for discovered metadata (the error then goes to the log, with the key).

use super::{err, ConfigError, MetadataSource, ProviderConfig};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::par::{self, ParMode};
use crate::core::oidc::response::{ResponseMode, ResponseType};

/// The three settings, validated.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowSettings {
    pub(super) response_type: ResponseType,
    pub(super) response_mode: ResponseMode,
    pub(super) par: ParMode,
}

/// Parses the settings of `providers.<name>` and checks them against static metadata.
pub(super) fn flow_settings(
    name: &str,
    response_type: Option<&str>,
    response_mode: Option<&str>,
    pushed: Option<&str>,
    metadata: &MetadataSource,
) -> Result<FlowSettings, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    let response_type = match response_type {
        None => ResponseType::Code,
        Some(value) => ResponseType::parse(value).ok_or_else(|| {
            err(
                key("response_type"),
                format!("`{value}` is not a response type"),
                "use code, id_token, \"id_token token\", \"code id_token\", \"code token\" or \"code id_token token\"",
            )
        })?,
    };
    let response_mode = match response_mode {
        None => response_type.default_mode(),
        Some(value) => ResponseMode::parse(value).ok_or_else(|| {
            err(
                key("response_mode"),
                format!("`{value}` is not a response mode"),
                "use query (code only), fragment or form_post",
            )
        })?,
    };
    // Multiple Response Type Encoding Practices §5: "the query encoding MUST NOT be used" for
    // any type that returns a token: the tokens would sit in a URL (logs, history, Referer).
    if response_mode == ResponseMode::Query && response_type != ResponseType::Code {
        return Err(err(
            key("response_mode"),
            format!(
                "`query` cannot carry the tokens of response_type `{}`",
                response_type.as_str()
            ),
            "use form_post (recommended) or fragment",
        ));
    }
    let par = match pushed {
        None => ParMode::Auto,
        Some(value) => ParMode::parse(value).ok_or_else(|| {
            err(
                key("pushed_authorization_requests"),
                format!("`{value}` is not a setting"),
                "use auto, on or off",
            )
        })?,
    };
    let settings = FlowSettings {
        response_type,
        response_mode,
        par,
    };
    if let MetadataSource::Static(meta) = metadata {
        check(name, &settings, meta)?;
    }
    Ok(settings)
}

/// Whether a provider's metadata supports its settings; the PAR endpoint to use, if any.
pub fn check_provider<'m>(
    provider: &ProviderConfig,
    metadata: &'m ProviderMetadata,
) -> Result<Option<&'m str>, ConfigError> {
    let settings = FlowSettings {
        response_type: provider.response_type,
        response_mode: provider.response_mode,
        par: provider.par,
    };
    check(&provider.name, &settings, metadata)
}

fn check<'m>(
    name: &str,
    settings: &FlowSettings,
    metadata: &'m ProviderMetadata,
) -> Result<Option<&'m str>, ConfigError> {
    let key = |k: &str| format!("providers.{name}.{k}");
    let listed = |list: &Option<Vec<String>>| list.as_deref().map(|l| l.join(", "));
    if let Some(supported) = &metadata.response_types_supported {
        if !settings.response_type.listed_in(supported) {
            return Err(err(
                key("response_type"),
                format!(
                    "is `{}`, which the provider does not support (response_types_supported: {})",
                    settings.response_type.as_str(),
                    listed(&metadata.response_types_supported).unwrap_or_default()
                ),
                "choose one of the provider's response types",
            ));
        }
    }
    // `query` is the baseline of the code flow (RFC 6749 §4.1.2), so it is not looked up: a
    // provider listing only its other modes still answers a code in the query.
    let mode = settings.response_mode;
    if let Some(supported) = &metadata.response_modes_supported {
        if mode != ResponseMode::Query && !supported.iter().any(|m| m == mode.as_str()) {
            return Err(err(
                key("response_mode"),
                format!(
                    "is `{}`, which the provider does not support (response_modes_supported: {})",
                    mode.as_str(),
                    listed(&metadata.response_modes_supported).unwrap_or_default()
                ),
                "choose one of the provider's response modes",
            ));
        }
    }
    par::endpoint(settings.par, metadata).map_err(|e| {
        err(
            key("pushed_authorization_requests"),
            e.to_string(),
            match e {
                par::ParSetupError::NoEndpoint => "set it to auto or off, or give the endpoint in the metadata",
                par::ParSetupError::Required => "set it to auto or on",
            },
        )
    })
}
