//! Canonical paths and the path rules (src/core/site/path.rs) against the reference model of
//! `edge_oidc_fuzz::path_model`, written apart from them.
//!
//! Input: `pattern\npath` (without a newline: the whole input is the path, checked against
//! `/admin/`, `/public/` and `/favicon.ico`).
//!
//! Oracles: a path is refused exactly when the model refuses it, and otherwise its canonical
//! form is the model's spelling of it; canonicalising a canonical path changes nothing; a
//! canonical path put back into a URL (as the shell does) reads back unchanged; a configured
//! pattern parses exactly when the path would and holds no dot segment; both rules agree with
//! the model's `starts_with` versions, and whatever `public_paths` covers, `routes` covers too.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::site::path::{CanonicalPath, PathPattern};
use edge_oidc_fuzz::path_model::{has_dot_segment, model, public_covers, route_covers};
use edge_oidc_fuzz::RP;
use libfuzzer_sys::fuzz_target;
use url::Url;

fn canonical(raw: &str) -> Option<CanonicalPath> {
    let got = CanonicalPath::parse(raw);
    let expected = model(raw);
    match (&got, &expected) {
        (Ok(path), Some(m)) => assert_eq!(path.as_str(), m.spelling(), "canonical form of {raw:?}"),
        (Err(_), None) => {}
        _ => panic!("{raw:?}: path.rs says {got:?}, the model {expected:?}"),
    }
    let path = got.ok()?;
    // A fixed point.
    assert_eq!(CanonicalPath::parse(path.as_str()).as_ref(), Ok(&path), "idempotence for {raw:?}");
    // What the shell forwards: the canonical path joined onto the request URL must read back
    // as itself (no dot segment, `//` or escape that the URL parser would change).
    if let Ok(url) = Url::parse(&format!("{RP}{raw}")) {
        if let Ok(from_url) = CanonicalPath::from_url(&url) {
            if let Some(target) = from_url.forward_target(&url) {
                let joined = url.join(&target).expect("a canonical path joins");
                assert_eq!(joined.path(), from_url.as_str(), "forwarded form of {raw:?}");
                assert_eq!(joined.query(), url.query(), "query of {raw:?}");
            }
        }
    }
    Some(path)
}

fn check_rules(pattern_raw: &str, path: &CanonicalPath) {
    let pattern = PathPattern::parse(pattern_raw);
    match (&pattern, CanonicalPath::parse(pattern_raw)) {
        (Ok(p), Ok(c)) => {
            assert_eq!(p.as_str(), c.as_str());
            assert!(!has_dot_segment(pattern_raw), "{pattern_raw:?} holds a dot segment");
        }
        (Err(_), Ok(_)) => assert!(has_dot_segment(pattern_raw), "{pattern_raw:?} refused"),
        (Ok(_), Err(e)) => panic!("{pattern_raw:?} accepted as a pattern, refused as a path: {e}"),
        (Err(_), Err(_)) => {}
    }
    let Ok(pattern) = pattern else { return };
    let public = pattern.covers_as_written(path);
    let route = pattern.covers_any_spelling(path);
    assert_eq!(public, public_covers(pattern.as_str(), path.as_str()), "public {pattern:?} {path:?}");
    assert_eq!(route, route_covers(pattern.as_str(), path.as_str()), "route {pattern:?} {path:?}");
    // The more restrictive reading: a public path is never outside a route that spells it.
    assert!(!public || route, "public but not routed: {pattern:?} {path:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, raw) = match text.split_once('\n') {
        Some((pattern, raw)) => (Some(pattern), raw),
        None => (None, text.as_ref()),
    };
    let Some(path) = canonical(raw) else { return };
    match pattern {
        Some(pattern) => {
            check_rules(pattern, &path);
            // The pattern read as a path, too: each side's canonical form.
            if let Some(p) = canonical(pattern) {
                check_rules(path.as_str(), &p);
            }
        }
        None => {
            for pattern in ["/admin/", "/public/", "/favicon.ico", "/admin"] {
                check_rules(pattern, &path);
            }
        }
    }
});
