use super::*;
use PathError::*;

fn canonical(raw: &str) -> Result<String, PathError> {
    CanonicalPath::parse(raw).map(|p| p.as_str().to_owned())
}

fn path(raw: &str) -> CanonicalPath {
    CanonicalPath::parse(raw).unwrap()
}

fn pattern(raw: &str) -> PathPattern {
    PathPattern::parse(raw).unwrap()
}

/// Tricky inputs and their canonical form or refusal.
const TABLE: &[(&str, Result<&str, PathError>)] = &[
    ("/", Ok("/")),
    ("/a/b", Ok("/a/b")),
    ("/a/b/", Ok("/a/b/")),
    // The review's examples.
    ("/public/..%2Fsecret", Err(EncodedSlash)),
    ("/public/..%2fsecret", Err(EncodedSlash)),
    ("/public/..;/secret", Err(PathParameters)),
    ("/ADMIN/", Ok("/ADMIN/")),
    ("/admin", Ok("/admin")),
    ("/admin;/x", Err(PathParameters)),
    ("/admin;jsessionid=1/x", Err(PathParameters)),
    ("/x/..%2Fadmin/x", Err(EncodedSlash)),
    ("//admin/x", Ok("/admin/x")),
    // Repeated slashes merge.
    ("/admin//x//", Ok("/admin/x/")),
    ("///", Ok("/")),
    ("//", Ok("/")),
    // Dot segments (RFC 3986 §5.2.4), also when encoded.
    ("/a/./b/../c", Ok("/a/c")),
    ("/a/%2e/b/%2E%2e/c", Ok("/a/c")),
    ("/a/.%2e", Ok("/")),
    ("/a/b/..", Ok("/a/")),
    ("/a/.", Ok("/a/")),
    ("/a//..", Ok("/")),
    ("/...", Ok("/...")),
    ("/.a/..b/.%2e.", Ok("/.a/..b/...")),
    ("/..", Err(AboveRoot)),
    ("/a/../..", Err(AboveRoot)),
    ("/%2e%2e/x", Err(AboveRoot)),
    // Escapes: unreserved decoded (RFC 3986 §6.2.2.2), the rest upper-cased (§6.2.2.1).
    ("/%7e%41%62%2D%5f%30", Ok("/~Ab-_0")),
    ("/%61dmin/x", Ok("/admin/x")),
    ("/%7c%3a%40%21", Ok("/%7C%3A%40%21")),
    ("/a%25", Ok("/a%25")),
    ("/a%2561", Ok("/a%2561")),
    ("/a%3F%23", Ok("/a%3F%23")),
    ("/caf%c3%a9/", Ok("/caf%C3%A9/")),
    ("/caf\u{e9}/", Ok("/caf%C3%A9/")),
    // Characters the WHATWG path percent-encode set holds are encoded; others are kept.
    ("/a b", Ok("/a%20b")),
    ("/a^b`c{d}\"<>", Ok("/a%5Eb%60c%7Bd%7D%22%3C%3E")),
    ("/a|b[c]", Ok("/a|b[c]")),
    ("/a+b!$&'()*,=:@~", Ok("/a+b!$&'()*,=:@~")),
    // Refused.
    ("/a%2fb", Err(EncodedSlash)),
    ("/%2F%2Fevil.example", Err(EncodedSlash)),
    ("/a%5cb", Err(Backslash)),
    ("/a%5C..%5Cb", Err(Backslash)),
    ("/a\\b", Err(Backslash)),
    ("/a%3bb", Err(PathParameters)),
    ("/a%00b", Err(ControlCharacter)),
    ("/a%0d%0aSet-Cookie:x", Err(ControlCharacter)),
    ("/a%1Fb", Err(ControlCharacter)),
    ("/a%7fb", Err(ControlCharacter)),
    ("/a\tb", Err(ControlCharacter)),
    ("/a%zz", Err(BadEscape)),
    ("/a%4", Err(BadEscape)),
    ("/a%", Err(BadEscape)),
    ("/%u002e%u002e/x", Err(BadEscape)),
    ("/%C0%AE%C0%AE/x", Err(InvalidUtf8)),
    ("/%C0%AF", Err(InvalidUtf8)),
    ("/%ff", Err(InvalidUtf8)),
    ("/caf%c3", Err(InvalidUtf8)),
    ("/a?b", Err(QueryOrFragment)),
    ("/a#b", Err(QueryOrFragment)),
    ("relative", Err(NotAbsolute)),
    ("", Err(NotAbsolute)),
    ("%2F", Err(NotAbsolute)),
];

#[test]
fn canonical_forms_and_refusals() {
    for (raw, expected) in TABLE {
        let got = canonical(raw);
        assert_eq!(got.as_deref(), expected.as_ref().map(|s| *s), "{raw:?}");
    }
}

#[test]
fn canonical_form_is_a_fixed_point() {
    for (raw, _) in TABLE {
        if let Ok(once) = canonical(raw) {
            assert_eq!(canonical(&once), Ok(once.clone()), "{raw:?}");
            assert_eq!(
                PathPattern::parse(&once).map(|p| p.as_str().to_owned()),
                Ok(once),
                "{raw:?}"
            );
        }
    }
}

#[test]
fn request_urls_are_canonicalised_after_the_whatwg_parser() {
    // What the url crate (WHATWG) leaves for us: `\` is already `/`, `%2e` dot segments resolved.
    for (url, expected) in [
        ("https://rp.example/a\\..\\admin/x", Ok("/admin/x")),
        ("https://rp.example/public/%2e%2e/secret", Ok("/secret")),
        ("https://rp.example//admin/x?q=1", Ok("/admin/x")),
        ("https://rp.example/public/..%2Fsecret", Err(EncodedSlash)),
        ("https://rp.example/public/..;/secret", Err(PathParameters)),
    ] {
        let url = Url::parse(url).unwrap();
        let got = CanonicalPath::from_url(&url).map(|p| p.as_str().to_owned());
        assert_eq!(got.as_deref().map_err(|e| *e), expected, "{url}");
    }
}

#[test]
fn the_canonical_path_is_forwarded_with_the_query_untouched() {
    let url = Url::parse("https://rp.example//admin/%7euser?x=%2F..&y").unwrap();
    let p = CanonicalPath::from_url(&url).unwrap();
    assert_eq!(p.forward_target(&url).as_deref(), Some("/admin/~user?x=%2F..&y"));
    let url = Url::parse("https://rp.example//a").unwrap();
    assert_eq!(
        CanonicalPath::from_url(&url).unwrap().forward_target(&url).as_deref(),
        Some("/a")
    );
    // Already canonical: nothing to change.
    let url = Url::parse("https://rp.example/admin/x?q=1").unwrap();
    assert_eq!(CanonicalPath::from_url(&url).unwrap().forward_target(&url), None);
}

#[test]
fn configured_paths_refuse_dot_segments() {
    for raw in ["/a/../", "/./", "/a/.", "/a/%2e/", "/a/%2E%2E/b/"] {
        assert_eq!(PathPattern::parse(raw), Err(DotSegment), "{raw:?}");
    }
    assert_eq!(PathPattern::parse("/a%2F/"), Err(EncodedSlash));
    assert_eq!(PathPattern::parse("/caf%c3%a9/").unwrap().as_str(), "/caf%C3%A9/");
    assert_eq!(PathPattern::parse("/a//b/").unwrap().as_str(), "/a/b/");
}

#[test]
fn public_paths_are_read_as_written() {
    let public = pattern("/public/");
    for covered in [
        "/public",
        "/public/",
        "/public/x",
        "/public/x/y",
        "/%70ublic/x",
        "/public//x",
    ] {
        assert!(public.covers_as_written(&path(covered)), "{covered}");
    }
    for other in [
        "/publicx",
        "/publi",
        "/",
        "/PUBLIC/x",
        "/Public",
        "/x/public/",
        "/public%7C",
    ] {
        assert!(!public.covers_as_written(&path(other)), "{other}");
    }
    let exact = pattern("/favicon.ico");
    assert!(exact.covers_as_written(&path("/favicon.ico")));
    assert!(exact.covers_as_written(&path("//favicon%2Eico")));
    for other in ["/favicon.ico/", "/favicon.icox", "/FAVICON.ICO", "/favicon"] {
        assert!(!exact.covers_as_written(&path(other)), "{other}");
    }
    // An escape matches only the same escape (any hex case), not the raw character.
    let escaped = pattern("/a%7c/");
    assert!(escaped.covers_as_written(&path("/a%7C/x")));
    assert!(!escaped.covers_as_written(&path("/a|/x")));
    // A configured UTF-8 path matches both spellings of it.
    let cafe = pattern("/caf%c3%a9/");
    assert!(cafe.covers_as_written(&path("/caf%C3%A9/menu")));
    assert!(cafe.covers_as_written(&path("/caf\u{e9}/menu")));
    assert!(pattern("/").covers_as_written(&path("/anything/at/all")));
}

#[test]
fn routes_are_read_in_any_spelling() {
    let admin = pattern("/admin/");
    for covered in [
        "/admin",
        "/admin/",
        "/admin/x",
        "/ADMIN/",
        "/ADMIN",
        "/Admin/x",
        "/%41dmin/x",
        "/%61DMIN",
        "//admin/x",
        "/admin//x",
        "/x/../admin/x",
    ] {
        assert!(admin.covers_any_spelling(&path(covered)), "{covered}");
    }
    for other in ["/administrator", "/adminx", "/x/admin/", "/", "/admi", "/admin%20/x"] {
        assert!(!admin.covers_any_spelling(&path(other)), "{other}");
    }
    // A pattern without a final `/` is a plain prefix.
    let bare = pattern("/admin");
    for covered in ["/admin", "/admin/x", "/administrator", "/ADMINISTRATOR"] {
        assert!(bare.covers_any_spelling(&path(covered)), "{covered}");
    }
    assert!(!bare.covers_any_spelling(&path("/admi")));
    // Escapes compare decoded: `%21` is `!`, `%C3%A9` is `é` and `É` is not `é` (ASCII only).
    assert!(pattern("/a!/").covers_any_spelling(&path("/A%21/x")));
    assert!(pattern("/a%21/").covers_any_spelling(&path("/a!/x")));
    assert!(pattern("/caf\u{e9}/").covers_any_spelling(&path("/CAF%c3%a9/x")));
    assert!(!pattern("/caf\u{e9}/").covers_any_spelling(&path("/caf\u{c9}/x")));
    assert!(pattern("/").covers_any_spelling(&path("/x")));
}

#[test]
fn decoding_passes_through_what_is_not_an_escape() {
    // Never produced by canonicalisation; the decoder must still not lose bytes.
    assert_eq!(Decoded("%4".bytes()).collect::<Vec<_>>(), b"%4");
    assert_eq!(Decoded("a%zz%41".bytes()).collect::<Vec<_>>(), b"a%zzA");
}
