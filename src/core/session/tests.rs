#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::cache::{IdentityCache, MAX_ENTRIES};
use super::pending::{self, PendingLogin, MAX_PENDING};
use super::seal::{CookieKey, SealError, Sealer};
use super::*;
use crate::core::oidc::response::{ResponseMode, ResponseType};
use std::rc::Rc;

const ISSUER: &str = "https://op.example";
const SITE: &str = "https://docs.example.com";
const NAME: &str = "__Host-edge_oidc";

fn sealer(fill: u8) -> Sealer {
    Sealer::new(vec![CookieKey::from_bytes([fill; 32])]).unwrap()
}

fn identity() -> Identity {
    Identity {
        provider: "main".into(),
        sub: "248289761001".into(),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        name: Some("Alice Example".into()),
        acr: None,
        created_at: 1_764_320_000,
        expires_at: 1_764_348_800,
        handle: handle_for_state("state-1"),
        sid: None,
        refresh_due: None,
        silent_refresh: false,
        checked_at: None,
        active_at: None,
        claims: Default::default(),
    }
}

fn context<'a>(name: &'a str, deployment: &'a str, issuer: &'a str) -> SealContext<'a> {
    SealContext {
        kind: "identity",
        name,
        deployment,
        issuer,
    }
}

fn issuers(p: &str) -> Option<&'static str> {
    match p {
        "main" => Some(ISSUER),
        "other" => Some("https://other.example"),
        _ => None,
    }
}

#[test]
fn identity_round_trip_and_size() {
    let s = sealer(1);
    let value = identity().seal(&s, &context(NAME, SITE, ISSUER), [5; 24]).unwrap();
    assert!(value.starts_with("main."), "{value}");
    let opened = Identity::open(&s, &value, NAME, SITE, issuers).unwrap();
    assert_eq!(opened, identity());
    // What the browser sends on every request: name, '=', value. The budget is 400 bytes.
    let cookie_len = NAME.len() + 1 + value.len();
    assert!(cookie_len <= 400, "identity cookie is {cookie_len} bytes");
    assert!(
        cookie_len >= 200,
        "suspiciously small ({cookie_len}): is everything in it?"
    );
}

#[test]
fn identity_is_bound_to_name_deployment_issuer_and_kind() {
    let s = sealer(1);
    let value = identity().seal(&s, &context(NAME, SITE, ISSUER), [5; 24]).unwrap();
    let open = |name: &str, site: &str| Identity::open(&s, &value, name, site, issuers);
    // Another cookie name, another deployment (staging sharing COOKIE_KEYS): refused.
    assert_eq!(open("edge_oidc", SITE), Err(SessionError::Seal(SealError::AuthFailed)));
    assert_eq!(
        open(NAME, "https://staging.example.com"),
        Err(SessionError::Seal(SealError::AuthFailed))
    );
    // The provider prefix is authenticated through its issuer: swapping it fails.
    let swapped = value.replacen("main.", "other.", 1);
    assert_eq!(
        Identity::open(&s, &swapped, NAME, SITE, issuers),
        Err(SessionError::Seal(SealError::AuthFailed))
    );
    // A provider no longer configured, or no prefix at all.
    let unknown = value.replacen("main.", "gone.", 1);
    assert_eq!(
        Identity::open(&s, &unknown, NAME, SITE, issuers),
        Err(SessionError::Malformed)
    );
    let bare = value.trim_start_matches("main.");
    assert!(Identity::open(&s, bare, NAME, SITE, issuers).is_err());
    // Same bytes sealed as a record are not an identity.
    let record_ctx = SealContext {
        kind: "record",
        ..context(NAME, SITE, ISSUER)
    };
    let json = serde_json::to_vec(&identity()).unwrap();
    let as_record = format!("main.{}", s.seal(&record_ctx.render(), &json, [6; 24]));
    assert_eq!(
        Identity::open(&s, &as_record, NAME, SITE, issuers),
        Err(SessionError::Seal(SealError::AuthFailed))
    );
    // Another deployment's key.
    assert!(matches!(
        Identity::open(&sealer(2), &value, NAME, SITE, issuers),
        Err(SessionError::Seal(SealError::UnknownKey))
    ));
}

#[test]
fn expiry() {
    let id = identity();
    assert!(!id.expired(id.expires_at - 1));
    assert!(id.expired(id.expires_at));
}

#[test]
fn usable_email_follows_the_verified_flag() {
    let mut id = identity();
    for (flag, required, usable) in [
        (Some(true), true, true),
        (Some(true), false, true),
        (None, true, false),
        (None, false, true),
        (Some(false), true, false),
        (Some(false), false, false),
    ] {
        id.email_verified = flag;
        assert_eq!(
            id.usable_email(required).is_some(),
            usable,
            "verified {flag:?}, required {required}"
        );
    }
}

#[test]
fn allow_list() {
    let emails = vec!["alice@example.com".to_owned()];
    let domains = vec!["corp.example".to_owned()];
    assert!(email_allowed(None, &[], &[]));
    assert!(email_allowed(Some("Alice@Example.com"), &emails, &domains));
    assert!(email_allowed(Some("bob@corp.example"), &emails, &domains));
    assert!(!email_allowed(Some("bob@sub.corp.example"), &emails, &domains));
    assert!(!email_allowed(Some("bob@evilcorp.example"), &emails, &domains));
    assert!(!email_allowed(Some("@corp.example"), &emails, &domains));
    assert!(!email_allowed(Some("x@corp.example@evil.example"), &emails, &domains));
    assert!(!email_allowed(None, &emails, &domains));
}

#[test]
fn record_round_trip_is_bound_to_its_key() {
    let s = sealer(1);
    let record = SessionRecord {
        client_id: "rp".into(),
        id_token: "a.b.c".into(),
        access_token: Some(Secret::new("at")),
        access_token_expires_at: Some(5),
        refresh_token: Some(Secret::new("rt")),
        userinfo: None,
    };
    let key = record_key(&handle_for_state("s1"));
    let ctx = SealContext {
        kind: "record",
        name: &key,
        deployment: SITE,
        issuer: ISSUER,
    };
    let sealed = record.seal(&s, &ctx, [1; 24]).unwrap();
    assert!(
        !sealed.contains("at") || !sealed.contains("a.b.c"),
        "tokens are encrypted"
    );
    let opened = SessionRecord::open(&s, &ctx, &sealed).unwrap();
    assert_eq!(opened.id_token, "a.b.c");
    assert_eq!(opened.refresh_token.unwrap().expose(), "rt");
    let other_key = record_key(&handle_for_state("s2"));
    let moved = SealContext {
        name: &other_key,
        ..ctx
    };
    assert!(SessionRecord::open(&s, &moved, &sealed).is_err());
}

#[test]
fn handles_derive_from_the_state() {
    let a = handle_for_state("state-a");
    assert_eq!(a, handle_for_state("state-a"));
    assert_ne!(a, handle_for_state("state-b"));
    assert_eq!(a.len(), 22, "128 bits of base64url");
    assert_eq!(record_key(&a), format!("session:{a}"));
}

#[test]
fn pending_login_round_trip_and_state_check() {
    let s = sealer(1);
    let state = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
    let name = pending::cookie_name(NAME, state).unwrap();
    assert_eq!(name, "__Host-edge_oidc_s.AbCdEfGhIjKl");
    assert!(pending::is_pending_cookie(&name, NAME));
    assert!(!pending::is_pending_cookie(NAME, NAME));
    assert!(
        pending::is_pending_cookie("__Host-edge_oidc_s.]]]]", NAME),
        "stripped and evicted too"
    );
    assert!(
        pending::is_pending_cookie("__Host-edge_oidc_s.", NAME),
        "fuzz finding: empty id too"
    );
    assert!(!pending::is_pending_cookie("__Host-edge_oidc_sx.abc", NAME));
    assert_eq!(pending::cookie_name(NAME, "short"), None);
    assert_eq!(pending::cookie_name(NAME, "AbCdEfGhIj;l+more"), None);
    let login = PendingLogin {
        provider: "main".into(),
        state: Secret::new(state),
        nonce: Secret::new("n"),
        pkce_verifier: Secret::new("v"),
        return_to: "/docs".into(),
        created_at: 100,
        client_id: None,
        response_type: ResponseType::Code,
        response_mode: ResponseMode::Query,
        refresh: None,
    };
    let ctx = SealContext {
        kind: "pending",
        name: &name,
        deployment: SITE,
        issuer: ISSUER,
    };
    let value = login.seal(&s, &ctx, [2; 24]).unwrap();
    let open = |st: Option<&str>| PendingLogin::open(&s, &value, &name, SITE, st, issuers);
    assert_eq!(open(Some(state)).unwrap(), login);
    assert_eq!(open(None).unwrap(), login, "age only");
    // Same 12-character prefix, different state: refused.
    let other = format!("{}X", &state[..42]);
    assert_eq!(open(Some(&other)), Err(SessionError::Malformed));
    assert!(PendingLogin::open(&s, &value, &name, "https://evil.example", Some(state), issuers).is_err());
    // The code flow's cookie does not grow: its type and mode are the defaults, left out.
    let json = serde_json::to_string(&login).unwrap();
    assert!(!json.contains("\"y\"") && !json.contains("\"m\""), "{json}");
    let hybrid = PendingLogin {
        response_type: ResponseType::CodeIdToken,
        response_mode: ResponseMode::FormPost,
        ..login.clone()
    };
    let json = serde_json::to_string(&hybrid).unwrap();
    assert!(json.ends_with(r#","y":"ci","m":"p"}"#), "{json}");
    let value = hybrid.seal(&s, &ctx, [3; 24]).unwrap();
    assert_eq!(
        PendingLogin::open(&s, &value, &name, SITE, Some(state), issuers).unwrap(),
        hybrid
    );
    const _: () = assert!(MAX_PENDING >= 2, "several tabs must be able to log in at once");
}

#[test]
fn identity_cache_hits_only_for_the_same_value_and_place() {
    let cache = IdentityCache::default();
    let id = Rc::new(identity());
    cache.insert("v1", NAME, SITE, id.clone());
    assert_eq!(cache.get("v1", NAME, SITE).as_deref(), Some(&*id));
    assert!(cache.get("v2", NAME, SITE).is_none());
    assert!(cache.get("v1", "edge_oidc", SITE).is_none());
    assert!(cache.get("v1", NAME, "https://other.example").is_none());
    // Bounded: filling it past the limit starts over.
    for i in 0..MAX_ENTRIES {
        cache.insert(&format!("k{i}"), NAME, SITE, id.clone());
    }
    assert!(cache.len() <= MAX_ENTRIES);
    assert!(!cache.is_empty());
}
