//! The session gate's input: a `Cookie` header from the internet. Parses it, reassembles the
//! (possibly chunked) identity cookie and opens it, and opens every pending-login cookie in it;
//! also opens the raw input as a sealed value. Oracles: sealing then opening any value gives it
//! back (and fails in any other context), and so does chunking then reading.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::session::cookies::{CookieAttrs, CookieJar};
use edge_oidc_fuzz::edge_oidc::core::session::pending::{self, PendingLogin};
use edge_oidc_fuzz::edge_oidc::core::session::seal::{
    parse_key_list, read_chunked, write_chunked, Sealer, MAX_SEALED_LEN,
};
use edge_oidc_fuzz::edge_oidc::core::session::Identity;
use edge_oidc_fuzz::{COOKIE_KEYS, ISSUER, RP, SESSION};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    // A retired key after the current one, as during a rotation.
    SEALER.get_or_init(|| {
        let keys = parse_key_list(&format!("{COOKIE_KEYS},AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")).expect("keys");
        Sealer::new(keys).expect("sealer")
    })
}

fn issuer(provider: &str) -> Option<&'static str> {
    (provider == "op").then_some(ISSUER)
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let sealer = sealer();

    // What the gate, login start and logout do with the header.
    let jar = CookieJar::parse(Some(&header));
    if let Some(value) = read_chunked(&jar, SESSION) {
        let _ = Identity::open(sealer, &value, SESSION, RP, issuer);
    }
    for (name, value) in jar.iter().filter(|(n, _)| pending::is_pending_cookie(n, SESSION)) {
        let _ = PendingLogin::open(sealer, value, name, RP, None, issuer);
    }
    if let Some(rest) = jar.header_without(|n| n.starts_with(SESSION)) {
        assert!(!CookieJar::parse(Some(&rest))
            .iter()
            .any(|(n, _)| n.starts_with(SESSION)));
    }
    let _ = sealer.open(SESSION, &header);

    // Round trips: seal -> chunk -> read -> open gives the input back.
    let sealed = sealer.seal(SESSION, data, [3u8; 24]);
    assert_eq!(sealer.open(SESSION, &sealed).as_deref(), Ok(data));
    assert!(sealer.open("another-cookie", &sealed).is_err());
    if sealed.len() <= MAX_SEALED_LEN {
        let attrs = CookieAttrs::default();
        let cookies = write_chunked(SESSION, &sealed, &attrs, &CookieJar::parse(None)).expect("fits");
        let sent: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
        let sent = sent.join("; ");
        let back = read_chunked(&CookieJar::parse(Some(&sent)), SESSION).expect("chunks present");
        assert_eq!(back.as_ref(), sealed);
    }
});
