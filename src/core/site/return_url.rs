//! Same-origin return URLs: where the browser goes after login or logout.
//!
//! Only a path on this origin is accepted. Browsers treat `//host`, `/\host` and `\\host` as
//! other origins, strip tabs and newlines before parsing, and some decode `%2F`/`%5C` in
//! redirects, so all of these are refused rather than normalised.

use crate::core::http::parse_ascii_url;
use url::Url;

/// Why a return URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnUrlError {
    /// Not a path starting with a single `/`, or it would leave this origin.
    #[error("the return URL must be a path on this site")]
    NotSameOrigin,
    /// Longer than [`MAX_RETURN_URL`].
    #[error("the return URL is too long")]
    TooLong,
}

/// Longest return URL kept in a pending login.
pub const MAX_RETURN_URL: usize = 2048;

/// Checks a return URL (a path with optional query) and returns it normalised to
/// path + query on `origin`. Absolute URLs are accepted only when their origin is `origin`.
pub fn check_return_url(candidate: &str, origin: &Url) -> Result<String, ReturnUrlError> {
    if candidate.len() > MAX_RETURN_URL {
        return Err(ReturnUrlError::TooLong);
    }
    if candidate.chars().any(|c| c.is_control() || c == '\\') {
        return Err(ReturnUrlError::NotSameOrigin);
    }
    let path_like = if candidate.starts_with('/') {
        candidate.to_owned()
    } else {
        // An absolute URL on our own origin is fine; anything else (javascript:, other hosts,
        // relative paths) is not.
        let url = parse_ascii_url(candidate).ok_or(ReturnUrlError::NotSameOrigin)?;
        if url.origin() != origin.origin() {
            return Err(ReturnUrlError::NotSameOrigin);
        }
        let mut p = url.path().to_owned();
        if let Some(q) = url.query() {
            p.push('?');
            p.push_str(q);
        }
        p
    };
    let lowered = path_like.to_ascii_lowercase();
    if path_like.starts_with("//")
        || lowered.starts_with("/%2f")
        || lowered.starts_with("/%5c")
        || lowered.contains("%0a")
        || lowered.contains("%0d")
        || lowered.contains("%09")
    {
        return Err(ReturnUrlError::NotSameOrigin);
    }
    // Final proof: resolving it against our origin must stay on our origin.
    let resolved = origin.join(&path_like).map_err(|_| ReturnUrlError::NotSameOrigin)?;
    if resolved.origin() != origin.origin() {
        return Err(ReturnUrlError::NotSameOrigin);
    }
    Ok(path_like)
}

/// Like [`check_return_url`], and with a cookie domain (`session.cookie_domain`) also an
/// absolute URL on another host under `domain`, kept absolute: same scheme as `origin`, no
/// userinfo, no port other than `origin`'s, a host that is `domain` or ends in `.domain`.
pub fn check_return_url_under(candidate: &str, origin: &Url, domain: &str) -> Result<String, ReturnUrlError> {
    if candidate.starts_with('/') || candidate.len() > MAX_RETURN_URL {
        return check_return_url(candidate, origin);
    }
    if candidate.chars().any(|c| c.is_control() || c == '\\') {
        return Err(ReturnUrlError::NotSameOrigin);
    }
    let url = parse_ascii_url(candidate).ok_or(ReturnUrlError::NotSameOrigin)?;
    let host_ok = url
        .host_str()
        .is_some_and(|h| crate::core::config::host_under(h, domain));
    if url.scheme() != origin.scheme()
        || !host_ok
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port() != origin.port()
    {
        return Err(ReturnUrlError::NotSameOrigin);
    }
    // The path gets the same-origin checks against its own origin.
    let on_host = url.join("/").map_err(|_| ReturnUrlError::NotSameOrigin)?;
    let path = check_return_url(candidate, &on_host)?;
    Ok(format!("{}{path}", url.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Url {
        Url::parse("https://rp.example").unwrap()
    }

    #[test]
    fn accepts_paths_on_this_origin() {
        assert_eq!(check_return_url("/", &origin()).unwrap(), "/");
        assert_eq!(check_return_url("/a/b?x=1&y=%20", &origin()).unwrap(), "/a/b?x=1&y=%20");
        assert_eq!(
            check_return_url("https://rp.example/docs?q=1", &origin()).unwrap(),
            "/docs?q=1"
        );
    }

    #[test]
    fn refuses_open_redirects() {
        for bad in [
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "http://rp.example/",
            "https://rp.example.evil.example/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "/%2fevil.example",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/\r\nSet-Cookie: x=y",
            "/%0d%0aSet-Cookie:x",
            "/\t/evil.example",
            "relative/path",
            "",
            "https://user@evil.example",
            // Non-ASCII hosts never reach the URL parser (fuzz finding: the IDNA stub).
            "https://rp.ex\u{e4}mple/x",
            "\n//E\u{34d}\u{725}",
        ] {
            assert_eq!(
                check_return_url(bad, &origin()),
                Err(ReturnUrlError::NotSameOrigin),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_return_url(&format!("/{}", "a".repeat(3000)), &origin()),
            Err(ReturnUrlError::TooLong)
        );
    }

    #[test]
    fn under_a_cookie_domain_absolute_urls_on_its_hosts_are_kept() {
        let auth = Url::parse("https://auth.example.com/redirect_uri").unwrap();
        let ok = |c: &str| check_return_url_under(c, &auth, "example.com");
        assert_eq!(
            ok("https://docs.example.com/a?b=1").unwrap(),
            "https://docs.example.com/a?b=1"
        );
        assert_eq!(ok("https://example.com/").unwrap(), "https://example.com/");
        assert_eq!(ok("https://DOCS.example.com/x").unwrap(), "https://docs.example.com/x");
        assert_eq!(ok("/relative?x").unwrap(), "/relative?x");
        for bad in [
            "https://evil.com/",
            "https://example.com.evil.com/",
            "https://xexample.com/",
            "https://user@docs.example.com/",
            "https://docs.example.com@evil.com/",
            "https://user:pw@docs.example.com/",
            "http://docs.example.com/",
            "https://docs.example.com:8443/",
            "https://docs.example.com//evil.com",
            "https://docs.example.com/%2f%2fevil.com",
            "https://docs.example.com\\@evil.com/",
            "javascript://docs.example.com/%0aalert(1)",
            "//docs.example.com/",
            "https://127.0.0.1/",
            "https://docs.example.com./",
        ] {
            assert_eq!(ok(bad), Err(ReturnUrlError::NotSameOrigin), "{bad:?}");
        }
    }
}
