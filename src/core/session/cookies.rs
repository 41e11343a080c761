//! Cookie header parsing and `Set-Cookie` formatting.
//!
//! The `Cookie` request header comes straight from the internet, so parsing
//! is lenient (RFC 6265 §5.4 describes what user agents send; RFC 6265bis
//! §5.6 describes how servers should tolerate deviations) and must never
//! panic: a panic in wasm takes down every request of the isolate.
//!
//! `Set-Cookie` values are only ever produced from our own cookie names and
//! base64url values, so formatting trusts its input (checked by
//! `debug_assert!` in debug builds only).

use std::fmt::{self, Write as _};

/// Longest `Cookie` request header edge-oidc accepts; the edge shell refuses a longer one
/// (431) before parsing it. 16 KiB is a common per-header limit of proxies and servers, so a
/// longer header would not reach a worker reliably anyway, and sessions are sized to fit well
/// inside it (see `seal::MAX_CHUNKS`).
pub const MAX_COOKIE_HEADER: usize = 16 * 1024;

/// Parsed `Cookie` request header (RFC 6265 §4.2.1 / §5.4): `a=b; c=d`.
///
/// Lenient: pairs without `=` or with an empty name are skipped, names and
/// values are trimmed of whitespace, and one pair of surrounding double quotes
/// is stripped from values (RFC 6265 §4.1.1 allows `DQUOTE *cookie-octet
/// DQUOTE`). Names and values borrow from the header: parsing allocates the
/// pair vector and nothing else.
#[derive(Clone, Default)]
pub struct CookieJar<'a> {
    /// The raw header, kept so [`CookieJar::header_without`] can forward
    /// every other cookie byte-for-byte.
    header: &'a str,
    /// `(name, value)` in header order; duplicates are kept.
    pairs: Vec<(&'a str, &'a str)>,
}

// Cookie values are credentials (ours and the origin's), so Debug shows only
// the names.
impl fmt::Debug for CookieJar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("names", &self.pairs.iter().map(|(n, _)| *n).collect::<Vec<_>>())
            .field("values", &format_args!("[redacted]"))
            .finish()
    }
}

/// Splits one `;`-separated segment into a trimmed `(name, value)`, or `None`
/// when it is not a usable pair.
fn parse_pair(segment: &str) -> Option<(&str, &str)> {
    // RFC 6265bis §5.6: a segment without '=' is a nameless cookie; we never
    // read those, so skipping them is the lenient choice.
    let (name, value) = segment.split_once('=')?;
    let name = name.trim_ascii();
    if name.is_empty() {
        return None;
    }
    let value = value.trim_ascii();
    // Strip exactly one pair of quotes; a lone `"` stays as it is.
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((name, value))
}

impl<'a> CookieJar<'a> {
    /// Parses a `Cookie` header; `None` (header absent) gives an empty jar.
    pub fn parse(header: Option<&'a str>) -> Self {
        let header = header.unwrap_or("");
        // One counting pass so the vector is allocated exactly once.
        let mut pairs = Vec::with_capacity(header.bytes().filter(|&b| b == b';').count() + 1);
        pairs.extend(header.split(';').filter_map(parse_pair));
        CookieJar { header, pairs }
    }

    /// Value of the first cookie called `name`. RFC 6265 §5.4 has browsers
    /// list cookies with longer paths first, so the first one is the most
    /// specific.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// All parsed `(name, value)` pairs in header order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs.iter().copied()
    }

    /// The `Cookie` header to forward to the origin with every cookie for
    /// which `drop(name)` is true removed; `None` when nothing is left.
    ///
    /// Kept segments are forwarded verbatim (quotes included), in order: we
    /// are a proxy and the origin has its own parser, so only the cookies we
    /// own are taken out. Segments we could not parse are kept for the same
    /// reason.
    pub fn header_without(&self, drop: impl Fn(&str) -> bool) -> Option<String> {
        let mut out = String::with_capacity(self.header.len());
        for segment in self.header.split(';') {
            let segment = segment.trim_ascii();
            if segment.is_empty() {
                continue;
            }
            if matches!(parse_pair(segment), Some((name, _)) if drop(name)) {
                continue;
            }
            if !out.is_empty() {
                // RFC 6265 §4.2.1: cookie-pairs are separated by "; ".
                out.push_str("; ");
            }
            out.push_str(segment);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// The `SameSite` attribute (RFC 6265bis §4.1.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, which is what the
    /// OIDC redirect back to us needs.
    Lax,
    /// Never sent on cross-site requests.
    Strict,
    /// Sent everywhere; browsers require `Secure` with it (RFC 6265bis
    /// §5.7 step 18).
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// Attributes shared by every cookie we set. We never set `Domain`: a
/// host-only cookie is the narrowest scope (RFC 6265 §5.3 step 6).
#[derive(Debug, Clone)]
pub struct CookieAttrs {
    /// `Path` attribute, normally `/`.
    pub path: String,
    /// Emit `Secure` (required for `__Host-`/`__Secure-` names and for
    /// `SameSite=None`).
    pub secure: bool,
    /// Emit `HttpOnly`, hiding the cookie from page scripts.
    pub http_only: bool,
    /// `SameSite` attribute.
    pub same_site: SameSite,
    /// `Max-Age` in seconds; `None` makes a browser-session cookie.
    pub max_age: Option<u64>,
    /// `Domain` attribute (`session.cookie_domain`); `None`: a host-only cookie.
    pub domain: Option<String>,
}

impl Default for CookieAttrs {
    fn default() -> Self {
        CookieAttrs {
            path: "/".to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
            domain: None,
        }
    }
}

/// RFC 6265 §4.1.1 `cookie-name = token` (RFC 2616 §2.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// RFC 6265 §4.1.1 `cookie-octet`: visible ASCII except `"` `,` `;` `\`.
fn is_cookie_value(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

/// RFC 6265 §4.1.1 `path-value`: any CHAR except CTLs or `;`.
fn is_path_value(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';')
}

/// Writes `name=value` followed by the attributes; `max_age` overrides
/// `attrs.max_age` for removals.
fn format_cookie(name: &str, value: &str, attrs: &CookieAttrs, max_age: Option<u64>) -> String {
    // Inputs are our own names and base64url values; a violation is a bug in
    // this crate, caught in debug builds. Release builds never panic here.
    debug_assert!(is_token(name), "cookie name is not an RFC 6265 token");
    debug_assert!(is_cookie_value(value), "cookie value has non-cookie-octets");
    debug_assert!(is_path_value(&attrs.path), "cookie path has ';' or CTLs");
    // RFC 6265bis §4.1.3.2: browsers reject `__Host-` cookies unless Secure,
    // Path=/ and no Domain.
    debug_assert!(
        !name.starts_with("__Host-") || (attrs.secure && attrs.path == "/"),
        "__Host- cookies need Secure and Path=/"
    );
    debug_assert!(
        !name.starts_with("__Host-") || attrs.domain.is_none(),
        "__Host- cookies take no Domain"
    );

    let mut out = String::with_capacity(name.len() + value.len() + attrs.path.len() + 64);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push_str("; Path=");
    out.push_str(&attrs.path);
    if let Some(secs) = max_age {
        // Writing into a String cannot fail.
        let _ = write!(out, "; Max-Age={secs}");
    }
    if let Some(domain) = &attrs.domain {
        debug_assert!(is_token(domain), "cookie domain is not a plain name");
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    if attrs.secure {
        out.push_str("; Secure");
    }
    if attrs.http_only {
        out.push_str("; HttpOnly");
    }
    out.push_str("; SameSite=");
    out.push_str(attrs.same_site.as_str());
    out
}

/// Formats a `Set-Cookie` header value (RFC 6265 §4.1).
///
/// `name` and `value` must already be cookie-safe (we only write our own
/// names and base64url values): this is `debug_assert!`ed, and release builds
/// write them unchanged without panicking.
pub fn set_cookie(name: &str, value: &str, attrs: &CookieAttrs) -> String {
    format_cookie(name, value, attrs, attrs.max_age)
}

/// A `Set-Cookie` value deleting `name`: empty value and `Max-Age=0` (RFC 6265
/// §5.2.2: a non-positive Max-Age expires the cookie at once), with the same
/// Path/Secure/SameSite so the browser matches the cookie being replaced
/// (RFC 6265 §5.3 step 11).
pub fn remove_cookie(name: &str, attrs: &CookieAttrs) -> String {
    format_cookie(name, "", attrs, Some(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pairs(header: &str) -> Vec<(&str, &str)> {
        CookieJar::parse(Some(header)).iter().collect()
    }

    #[test]
    fn parses_simple_header() {
        let jar = CookieJar::parse(Some("a=b; c=d"));
        assert_eq!(jar.get("a"), Some("b"));
        assert_eq!(jar.get("c"), Some("d"));
        assert_eq!(jar.get("e"), None);
        assert_eq!(jar.iter().collect::<Vec<_>>(), vec![("a", "b"), ("c", "d")]);
    }

    #[test]
    fn parse_edge_cases() {
        assert!(pairs("").is_empty());
        assert!(CookieJar::parse(None).iter().next().is_none());
        assert!(pairs(";;; ;").is_empty());
        assert_eq!(pairs("novalue; a=1"), vec![("a", "1")]);
        assert_eq!(pairs("=value; a=1"), vec![("a", "1")]);
        assert_eq!(pairs("  a =  1 ;\tb=2\t"), vec![("a", "1"), ("b", "2")]);
        assert_eq!(
            pairs(r#"a="quoted"; b=""; c="; d="x"#),
            vec![("a", "quoted"), ("b", ""), ("c", "\""), ("d", "\"x"),]
        );
        // Only one pair of quotes is stripped.
        assert_eq!(pairs(r#"a=""x"""#), vec![("a", "\"x\"")]);
        // '=' inside the value belongs to the value.
        assert_eq!(pairs("a=b=c"), vec![("a", "b=c")]);
        assert_eq!(pairs("a="), vec![("a", "")]);
        assert_eq!(pairs("ünï=çødé; ✓=✗"), vec![("ünï", "çødé"), ("✓", "✗")]);
    }

    #[test]
    fn duplicate_names_return_first() {
        let jar = CookieJar::parse(Some("a=1; b=2; a=3"));
        assert_eq!(jar.get("a"), Some("1"));
        assert_eq!(jar.iter().filter(|(n, _)| *n == "a").count(), 2);
    }

    /// Random headers: besides not panicking, the jar must keep its promises on every input:
    /// names are trimmed, non-empty and free of `;` and `=`; `get` returns the first pair of that
    /// name; `header_without` drops exactly the named cookie and keeps the rest in order.
    #[test]
    fn parse_keeps_its_promises_on_random_input() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6265);
        let alphabet = ['a', 'b', '=', ';', ' ', '"', '\t', 'é', '✓', '\0', ','];
        for _ in 0..2000 {
            let len = rng.gen_range(0..40);
            let s: String = (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect();
            let jar = CookieJar::parse(Some(&s));
            let pairs: Vec<_> = jar.iter().collect();
            for (name, value) in &pairs {
                assert!(!name.is_empty(), "{s:?}");
                assert_eq!(*name, name.trim_ascii(), "{s:?}");
                assert!(!name.contains([';', '=']), "{s:?}");
                assert!(!value.contains(';'), "{s:?}");
            }
            assert_eq!(
                jar.get("a"),
                pairs.iter().find(|(n, _)| *n == "a").map(|(_, v)| *v),
                "{s:?}"
            );
            let forwarded = jar.header_without(|n| n == "a");
            let kept = CookieJar::parse(forwarded.as_deref());
            assert!(kept.get("a").is_none(), "{s:?}");
            let others: Vec<_> = pairs.iter().filter(|(n, _)| *n != "a").copied().collect();
            assert_eq!(kept.iter().collect::<Vec<_>>(), others, "{s:?}");
        }
    }

    #[test]
    fn header_without_drops_and_keeps_order() {
        let jar = CookieJar::parse(Some("x=1; sess.0=a; y=\"2\"; sess=b; junk; z=3; sess.1=c"));
        let kept = jar.header_without(|n| n == "sess" || n.starts_with("sess."));
        assert_eq!(kept.as_deref(), Some("x=1; y=\"2\"; junk; z=3"));
        assert_eq!(
            jar.header_without(|_| false).as_deref(),
            Some("x=1; sess.0=a; y=\"2\"; sess=b; junk; z=3; sess.1=c")
        );
    }

    #[test]
    fn header_without_none_when_empty() {
        let jar = CookieJar::parse(Some("sess=b;  sess=c ;"));
        assert_eq!(jar.header_without(|n| n == "sess"), None);
        assert_eq!(CookieJar::parse(None).header_without(|_| false), None);
        assert_eq!(CookieJar::parse(Some(" ; ")).header_without(|_| false), None);
    }

    #[test]
    fn debug_hides_values() {
        let jar = CookieJar::parse(Some("sess=topsecret"));
        let dbg = format!("{jar:?}");
        assert!(dbg.contains("sess"));
        assert!(!dbg.contains("topsecret"));
    }

    fn attrs(secure: bool, max_age: Option<u64>) -> CookieAttrs {
        CookieAttrs {
            path: "/".into(),
            secure,
            http_only: true,
            same_site: SameSite::Lax,
            max_age,
            domain: None,
        }
    }

    #[test]
    fn set_cookie_exact_attributes() {
        assert_eq!(
            set_cookie("sess", "abc-_", &attrs(true, Some(3600))),
            "sess=abc-_; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            set_cookie("sess", "abc", &attrs(false, None)),
            "sess=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        let mut a = attrs(true, None);
        a.http_only = false;
        a.same_site = SameSite::Strict;
        assert_eq!(set_cookie("s", "v", &a), "s=v; Path=/; Secure; SameSite=Strict");
        a.same_site = SameSite::None;
        assert_eq!(set_cookie("s", "v", &a), "s=v; Path=/; Secure; SameSite=None");
    }

    #[test]
    fn a_cookie_domain_is_written_before_secure() {
        let mut a = attrs(true, Some(60));
        a.domain = Some("example.com".into());
        assert_eq!(
            set_cookie("__Secure-s", "v", &a),
            "__Secure-s=v; Path=/; Max-Age=60; Domain=example.com; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            remove_cookie("__Secure-s", &a),
            "__Secure-s=; Path=/; Max-Age=0; Domain=example.com; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn remove_cookie_exact_attributes() {
        assert_eq!(
            remove_cookie("sess", &attrs(true, Some(3600))),
            "sess=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            remove_cookie("sess", &attrs(false, None)),
            "sess=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn default_attrs() {
        let a = CookieAttrs::default();
        assert_eq!(a.path, "/");
        assert!(a.secure && a.http_only && a.max_age.is_none());
        assert_eq!(a.same_site, SameSite::Lax);
    }

    #[test]
    fn token_checks() {
        assert!(is_token("__Host-sess.0"));
        assert!(!is_token("a b") && !is_token("a;b") && !is_token("") && !is_token("é"));
        assert!(is_cookie_value("") && is_cookie_value("AZaz09-_"));
        assert!(!is_cookie_value("a b") && !is_cookie_value("a;b") && !is_cookie_value("\""));
    }
}
