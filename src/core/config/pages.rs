//! `pages`: operator templates for edge-oidc's own pages (the error view, the 403 page, the
//! provider chooser, the logged-out page), each from a file of the static assets (`asset`, a
//! path served by the `ASSETS` binding) or from a var (`var`, its name). The shell loads them
//! once per isolate; src/core/site/templates.rs parses and renders them.

use super::{check_path, err, ConfigError};
use serde::Deserialize;

/// `pages` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPages {
    #[serde(default)]
    error: Option<RawSource>,
    #[serde(default)]
    forbidden: Option<RawSource>,
    #[serde(default)]
    chooser: Option<RawSource>,
    #[serde(default)]
    logged_out: Option<RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    var: Option<String>,
}

/// Which page a template replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Every error page (status 4xx/5xx) but 403s when `forbidden` is set.
    Error,
    /// Refusals: a rule, an allow-list, `required_claims`, `required_acr` (403).
    Forbidden,
    /// The provider chooser.
    Chooser,
    /// The logged-out page.
    LoggedOut,
}

impl PageKind {
    /// The key under `pages`.
    pub fn key(self) -> &'static str {
        match self {
            PageKind::Error => "error",
            PageKind::Forbidden => "forbidden",
            PageKind::Chooser => "chooser",
            PageKind::LoggedOut => "logged_out",
        }
    }
}

/// Where a template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageSource {
    /// A path of the static assets (`ASSETS` binding).
    Asset(String),
    /// A var (or secret) of this name.
    Var(String),
}

/// The configured templates.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    /// Page and source, in the order of [`PageKind`].
    pub sources: Vec<(PageKind, PageSource)>,
}

pub(super) fn validate(raw: RawPages) -> Result<Pages, ConfigError> {
    let mut sources = Vec::new();
    for (kind, source) in [
        (PageKind::Error, raw.error),
        (PageKind::Forbidden, raw.forbidden),
        (PageKind::Chooser, raw.chooser),
        (PageKind::LoggedOut, raw.logged_out),
    ] {
        let Some(source) = source else { continue };
        let key = format!("pages.{}", kind.key());
        let source = match (source.asset, source.var) {
            (Some(path), None) => {
                check_path(&format!("{key}.asset"), &path)?;
                PageSource::Asset(path)
            }
            (None, Some(name)) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                PageSource::Var(name)
            }
            (None, Some(name)) => {
                return Err(err(
                    format!("{key}.var"),
                    format!("`{name}` is not a var name"),
                    "use letters, digits and `_`, e.g. ERROR_PAGE",
                ));
            }
            _ => {
                return Err(err(
                    key,
                    "needs exactly one of `asset` and `var`",
                    "e.g. {\"asset\": \"/_pages/error.html\"} or {\"var\": \"ERROR_PAGE\"}",
                ));
            }
        };
        sources.push((kind, source));
    }
    Ok(Pages { sources })
}
