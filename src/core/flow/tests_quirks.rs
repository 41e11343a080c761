//! Flow tests of the provider quirks as options: an issuer template with `{tenantid}` (Entra
//! multi-tenant) discovered from another URL, `allowed_tenants`, `required_claims` from the ID
//! token or UserInfo, and logout at a provider without `end_session_endpoint`.

use super::test_op::*;
use crate::core::http::HttpError;
use crate::core::session::{handle_for_state, record_key};
use crate::core::site::pages::Reply;
use serde_json::json;

/// Where the fake Entra serves its endpoints (the `organizations` authority).
const AUTHORITY: &str = "https://login.example/organizations/v2.0";
const TEMPLATE: &str = "https://login.example/{tenantid}/v2.0";
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn entra_config(extra: &str) -> String {
    format!(
        r#"{{"providers":{{"entra":{{"issuer":"{TEMPLATE}","client_id":"rp",
        "discovery_url":"{AUTHORITY}/.well-known/openid-configuration"{extra}}}}}}}"#
    )
}

/// A harness whose provider behaves like Entra's `organizations` authority for tenant `tid`.
fn entra(extra: &str, tid: &str) -> Harness {
    let h = Harness::new(&entra_config(extra), &[AUTHORITY]);
    *h.op().tenant.borrow_mut() = Some((TEMPLATE.to_owned(), tid.to_owned()));
    h
}

/// Logs in up to the callback and returns its reply (not asserting success).
fn try_login(h: &Harness, browser: &mut Browser) -> (url::Url, Reply) {
    let auth = h.start_login(browser, "https://rp.example/app");
    let back = h.op_for(&auth).authorize(&auth);
    let reply = h.callback(browser, &back);
    (auth, reply)
}

/// Neither a session cookie nor a session record came out of a refused callback.
fn assert_no_session(h: &Harness, browser: &Browser, auth: &url::Url) {
    assert_eq!(browser.get(SESSION), None, "no session cookie");
    let state = query(auth, "state").unwrap();
    assert_eq!(
        h.kv.peek(&record_key(&handle_for_state(&state))),
        None,
        "no session record"
    );
}

#[test]
fn entra_template_logs_in_with_the_tenants_own_issuer() {
    let h = entra("", TID);
    let mut browser = Browser::default();
    let (_, reply) = try_login(&h, &mut browser);
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(
        h.net.count(&format!("{AUTHORITY}/.well-known/openid-configuration")),
        1,
        "discovered from discovery_url, not from the template"
    );
    let fwd = h.forward(&browser.navigate("https://rp.example/app"));
    assert!(fwd
        .add_headers
        .contains(&("x-auth-subject".to_owned(), "alice".to_owned())));
    // The session is bound to the template (the provider), so it survives another isolate.
    let other = h.new_isolate();
    other.forward(&browser.navigate("https://rp.example/app"));
}

#[test]
fn entra_template_refuses_tokens_whose_iss_is_not_their_tenants() {
    // tid says one tenant, iss another: the issuer built from tid does not match.
    let h = entra("", TID);
    h.op().extra_claims.borrow_mut().insert("tid".into(), json!(OTHER_TID));
    let mut browser = Browser::default();
    let (auth, reply) = try_login(&h, &mut browser);
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.contains("not issued by the configured issuer"),
        "{}",
        reply.body
    );
    assert_no_session(&h, &browser, &auth);

    // A tid that is not a GUID never reaches an issuer.
    let h = entra("", TID);
    h.op().extra_claims.borrow_mut().insert("tid".into(), json!("common"));
    let mut browser = Browser::default();
    let (auth, reply) = try_login(&h, &mut browser);
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("tenant id (tid)"), "{}", reply.body);
    assert_no_session(&h, &browser, &auth);
}

#[test]
fn allowed_tenants_refuse_other_tenants_with_403() {
    let allowed = format!(r#","allowed_tenants":["{TID}"]"#);
    let h = entra(&allowed, OTHER_TID);
    let mut browser = Browser::default();
    let (auth, reply) = try_login(&h, &mut browser);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("claim `tid`"), "{}", reply.body);
    assert!(!reply.body.contains(OTHER_TID), "the claim's value is not shown");
    assert_no_session(&h, &browser, &auth);

    let h = entra(&allowed, TID);
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 302);
}

#[test]
fn iss_parameter_of_a_template_must_name_the_tokens_tenant() {
    // The template itself is no tenant's issuer: refused before the code is redeemed.
    let h = entra("", TID);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/app");
    let back = with_param(&h.op().authorize(&auth), "iss", Some(TEMPLATE));
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(h.net.count(&format!("{AUTHORITY}/token")), 0);

    // Another tenant's issuer passes the first look, but not the comparison with the token.
    let h = entra("", TID);
    let mut browser = Browser::default();
    let auth = h.start_login(&mut browser, "https://rp.example/app");
    let other = TEMPLATE.replace("{tenantid}", OTHER_TID);
    let back = with_param(&h.op().authorize(&auth), "iss", Some(&other));
    let reply = h.callback(&mut browser, &back);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("unexpected issuer"), "{}", reply.body);
    assert_eq!(h.net.count(&format!("{AUTHORITY}/token")), 1);
    assert_no_session(&h, &browser, &auth);

    // Entra sends no iss parameter: then the token alone decides.
    let h = entra("", TID);
    h.op().send_iss.set(false);
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 302);
}

fn with_required(claims: &str, extra: &str) -> Harness {
    let config = SINGLE.replace(
        r#""client_id":"rp""#,
        &format!(r#""client_id":"rp","required_claims":{claims}{extra}"#),
    );
    Harness::new(&config, &[ISSUER])
}

#[test]
fn required_claims_from_the_id_token() {
    let h = with_required(r#"{"hd":"example.com"}"#, "");
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("hd".into(), json!("example.com"));
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 302);

    for hd in [json!("other.example"), json!(["other.example"]), json!(null), json!(1)] {
        let h = with_required(r#"{"hd":"example.com"}"#, "");
        h.op().extra_claims.borrow_mut().insert("hd".into(), hd.clone());
        let mut browser = Browser::default();
        let (auth, reply) = try_login(&h, &mut browser);
        assert_eq!(reply.status, 403, "{hd}: {}", reply.body);
        assert!(reply.body.contains("claim `hd`"), "{}", reply.body);
        assert!(!reply.body.contains("other.example"));
        assert_no_session(&h, &browser, &auth);
    }
    // A personal account has no hd at all.
    let h = with_required(r#"{"hd":"example.com"}"#, "");
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 403);
}

#[test]
fn required_claims_fall_back_to_userinfo_only_for_claims_the_token_lacks() {
    // GitLab-like: `groups` only in UserInfo; one listed group is enough.
    let h = with_required(r#"{"groups":["ops","admins"]}"#, "");
    h.op()
        .userinfo_claims
        .borrow_mut()
        .insert("groups".into(), json!(["dev", "admins"]));
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 302);

    // The signed ID token decides when it has the claim, whatever UserInfo says.
    let h = with_required(r#"{"org":"acme"}"#, "");
    h.op().extra_claims.borrow_mut().insert("org".into(), json!("other"));
    h.op().userinfo_claims.borrow_mut().insert("org".into(), json!("acme"));
    let mut browser = Browser::default();
    assert_eq!(try_login(&h, &mut browser).1.status, 403);

    // Without UserInfo a claim only it has is missing.
    let h = with_required(r#"{"groups":"admins"}"#, r#","fetch_userinfo":false"#);
    h.op()
        .userinfo_claims
        .borrow_mut()
        .insert("groups".into(), json!(["admins"]));
    let mut browser = Browser::default();
    let (auth, reply) = try_login(&h, &mut browser);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(h.net.count("https://op.example/userinfo"), 0);
    assert_no_session(&h, &browser, &auth);
}

#[test]
fn logout_at_a_provider_without_end_session_names_it() {
    let config = SINGLE.replace(r#""client_id":"rp""#, r#""client_id":"rp","display_name":"Google""#);
    let h = Harness::new(&config, &[ISSUER]);
    h.op().end_session.set(false);
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let reply = h.reply(&browser.navigate("https://rp.example/logout"));
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains("You may still be signed in at Google"),
        "{}",
        reply.body
    );
    assert!(h.kv.keys("session:").is_empty(), "the record is deleted all the same");
    // With the metadata unreachable at logout the page says the same (nothing was ended there).
    let h = Harness::new(&config, &[ISSUER]);
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let other = h.new_isolate();
    other.kv.seed("metadata:main", "not json", 3600);
    other.net.fail(
        &format!("{ISSUER}/.well-known/openid-configuration"),
        HttpError::Timeout,
    );
    let reply = other.reply(&browser.navigate("https://rp.example/logout"));
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains("You may still be signed in at Google"),
        "{}",
        reply.body
    );
}
