//! `session.cookie_domain`: one session for every host under a domain (README: One session
//! across subdomains).

use super::{err, ConfigError};
use crate::core::http::parse_ascii_url;

/// Checks `session.cookie_domain` and, with `public_origin` set, that the auth host is under it.
///
/// What is checked: lower-case ASCII (an internationalised name in punycode), no leading or
/// trailing dot, at least two labels, each 1–63 letters, digits or `-` (not at either end), at
/// most 253 bytes, a last label that is not all digits (so no IPv4 address), and no `:` (no IPv6).
/// That it is registrable (not a public suffix such as `co.uk`) cannot be checked without the
/// Public Suffix List, which the worker does not carry; browsers refuse such a `Domain` anyway.
pub(super) fn validate_cookie_domain(
    raw: Option<String>,
    public_origin: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    let Some(domain) = raw else { return Ok(None) };
    let key = "session.cookie_domain";
    let fix = "give the parent domain every site shares, without a dot in front, e.g. \"example.com\" for docs.example.com and app.example.com";
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.starts_with('.') {
        return Err(err(key, "starts with a dot", fix));
    }
    let numeric_tld = labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) || numeric_tld {
        return Err(err(
            key,
            format!("`{domain}` is not a domain name of two labels or more (an IP address or a single label is not accepted)"),
            fix,
        ));
    }
    if let Some(origin) = public_origin {
        let host = parse_ascii_url(origin)
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if !host_under(&host, &domain) {
            return Err(err(
                key,
                format!("the public_origin host `{host}` is not under `{domain}`"),
                "set the cookie domain to the public_origin host or one of its parent domains",
            ));
        }
    }
    Ok(Some(domain))
}

/// Whether `host` is `domain` or a subdomain of it (RFC 6265 §5.1.3 domain-match, for names).
pub fn host_under(host: &str, domain: &str) -> bool {
    host.len() >= domain.len()
        && host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_parent_domains_of_the_public_origin() {
        for (domain, origin) in [
            ("example.com", Some("https://auth.example.com")),
            ("example.com", Some("https://example.com")),
            ("a.example.co.uk", Some("https://x.y.a.example.co.uk")),
            ("xn--bcher-kva.example", None),
            ("rp.test", None),
        ] {
            assert_eq!(
                validate_cookie_domain(Some(domain.into()), origin),
                Ok(Some(domain.into())),
                "{domain}"
            );
        }
        assert_eq!(validate_cookie_domain(None, Some("https://x.example")), Ok(None));
    }

    #[test]
    fn refuses_ips_single_labels_dots_and_foreign_origins() {
        for (domain, origin) in [
            (".example.com", None),
            ("example.com.", None),
            ("com", None),
            ("localhost", None),
            ("127.0.0.1", None),
            ("[::1]", None),
            ("::1", None),
            ("Example.com", None),
            ("exa mple.com", None),
            ("-x.example.com", None),
            ("bücher.example", None),
            ("", None),
            ("example.com", Some("https://example.com.evil.com")),
            ("example.com", Some("https://xexample.com")),
            ("app.example.com", Some("https://example.com")),
        ] {
            let e = validate_cookie_domain(Some(domain.into()), origin).expect_err(domain);
            assert_eq!(e.key, "session.cookie_domain", "{domain}");
        }
    }

    #[test]
    fn host_under_is_a_label_boundary_match() {
        assert!(host_under("docs.example.com", "example.com"));
        assert!(host_under("example.com", "example.com"));
        assert!(!host_under("xexample.com", "example.com"));
        assert!(!host_under("example.com.evil.com", "example.com"));
        assert!(!host_under("com", "example.com"));
    }
}
