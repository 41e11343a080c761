//! `session.cookie_domain`: one session for every host under a domain. The cookies carry
//! `Domain=`, sealed values are bound to the domain instead of one origin, and every host under
//! it is served; with `public_origin` (the auth host) the redirect URI, callback and logout stay
//! there, and return URLs may name any https host under the domain (site/return_url.rs).

use crate::core::config::{host_under, Config};
use crate::core::site::pages::{html_page, json_error, Reply};
use crate::core::site::return_url::{check_return_url, check_return_url_under, ReturnUrlError};
use url::Url;

/// The deployment sealed values are bound to with a cookie domain: the domain itself, in a form
/// no origin can take (an origin always has a scheme), so a value sealed for `https://example.com`
/// never opens here and the reverse.
pub(super) fn deployment(config: &Config) -> Option<String> {
    config
        .session
        .cookie_domain
        .as_ref()
        .map(|d| format!("cookie-domain:{d}"))
}

/// With a cookie domain: whether this request's host is served (`Some(false)`: it is not);
/// `None` without one.
pub(super) fn serves(config: &Config, url: &Url) -> Option<bool> {
    let domain = config.session.cookie_domain.as_deref()?;
    let host_ok = url.host_str().is_some_and(|h| host_under(h, domain));
    // With a public origin, only its scheme (an http request on an https deployment would get
    // cookies without Secure).
    let scheme_ok = config
        .public_origin
        .as_deref()
        .is_none_or(|o| o.starts_with(&format!("{}://", url.scheme())));
    Some(host_ok && scheme_ok)
}

/// The `Domain` attribute for cookies set in answer to `url`: the cookie domain when the host is
/// under it (any other host is refused before, see [`serves`]).
pub(super) fn cookie_domain_for(config: &Config, url: &Url) -> Option<String> {
    let domain = config.session.cookie_domain.as_deref()?;
    url.host_str()
        .is_some_and(|h| host_under(h, domain))
        .then(|| domain.to_owned())
}

/// 421 for a host outside the cookie domain: with a public origin, a link there.
pub(super) fn misdirected(navigation: bool, public_origin: Option<&str>) -> Reply {
    let message = "this site is not served on this address";
    if !navigation {
        return json_error(421, "misdirected_request", message, None);
    }
    let links: Vec<(&str, &str)> = public_origin.map(|o| (o, "Go to the site")).into_iter().collect();
    html_page(421, "Wrong address", message, &[], &links)
}

/// The return URL to keep in a pending login started by `req_url`. With a cookie domain and a
/// public origin, the callback lands on the public origin, so a login started on another host
/// under the domain keeps an absolute URL back to that host; a `return_to` may then name any
/// https host under the domain (`check_return_url_under`).
pub(super) fn return_target(config: &Config, req_url: &Url, candidate: &str) -> Result<String, ReturnUrlError> {
    let Some(domain) = config.session.cookie_domain.as_deref() else {
        return check_return_url(candidate, req_url);
    };
    let checked = check_return_url_under(candidate, req_url, domain)?;
    let own = req_url.origin().ascii_serialization();
    match config.public_origin.as_deref() {
        Some(public) if checked.starts_with('/') && own != public => Ok(format!("{own}{checked}")),
        _ => Ok(checked),
    }
}

/// With a cookie domain on https, the session cookie's name before it was set
/// (`__Host-<name>`): a browser may still send that cookie and its pending logins, which stay
/// edge-oidc's own and are never forwarded to the origin.
pub(super) fn former_host_only_name(config: &Config) -> Option<String> {
    let s = &config.session;
    (s.cookie_domain.is_some() && s.host_prefix).then(|| format!("__Host-{}", s.cookie_name))
}
