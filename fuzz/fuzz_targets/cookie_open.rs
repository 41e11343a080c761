//! The session gate's input: a `Cookie` header from the internet. Parses it, reassembles the
//! (possibly chunked) session and opens it; also opens the raw input as a sealed value.
//! Oracles: sealing then opening any value gives it back, and so does chunking then reading.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::session::cookies::{CookieAttrs, CookieJar};
use edge_oidc_fuzz::edge_oidc::core::session::seal::{parse_key_list, read_chunked, write_chunked, Sealer, MAX_SEALED_LEN};
use edge_oidc_fuzz::edge_oidc::core::session::Session;
use edge_oidc_fuzz::{COOKIE_KEYS, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NAME: &str = "edge_oidc";

fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    // A retired key after the current one, as during a rotation.
    SEALER.get_or_init(|| {
        let keys = parse_key_list(&format!("{COOKIE_KEYS},AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")).expect("keys");
        Sealer::new(keys).expect("sealer")
    })
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let sealer = sealer();

    // What the gate and logout do with the header.
    let jar = CookieJar::parse(Some(&header));
    if let Some(sealed) = read_chunked(&jar, NAME) {
        let _ = Session::open(sealer, NAME, &sealed, NOW);
        let _ = Session::open_any_age(sealer, NAME, &sealed);
    }
    let _ = jar.get("edge_oidc_login");
    if let Some(rest) = jar.header_without(|n| n.starts_with(NAME)) {
        assert!(!CookieJar::parse(Some(&rest)).iter().any(|(n, _)| n.starts_with(NAME)));
    }
    let _ = sealer.open(NAME, &header);

    // Round trips: seal -> chunk -> read -> open gives the input back.
    let sealed = sealer.seal(NAME, data, [3u8; 24]);
    assert_eq!(sealer.open(NAME, &sealed).as_deref(), Ok(data));
    assert!(sealer.open("another-cookie", &sealed).is_err());
    if sealed.len() <= MAX_SEALED_LEN {
        let attrs = CookieAttrs::default();
        let cookies = write_chunked(NAME, &sealed, &attrs, &CookieJar::parse(None)).expect("fits");
        let sent: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
        let sent = sent.join("; ");
        let back = read_chunked(&CookieJar::parse(Some(&sent)), NAME).expect("chunks present");
        assert_eq!(back.as_ref(), sealed);
    }
});
