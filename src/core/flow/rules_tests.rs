//! Flow tests of `rules` (issue 13): the order of evaluation and every requirement kind through
//! whole requests, the claims projected into the cookie at login and again at a refresh, the
//! 403 answer (HTML and JSON) naming the rule without claims, preflights, the session endpoint
//! and operator page templates. The fakes are `test_op.rs`'s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::test_op::*;
use super::{Incoming, Outcome};
use crate::core::config::PageKind;
use crate::core::session::Identity;
use crate::core::site::pages::Reply;
use crate::core::site::path::CanonicalPath;
use crate::core::site::rules;
use serde_json::{json, Value};

/// Keycloak-like roles under `realm_access.roles`; rules in the order the tests rely on.
const RULED: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp",
    "groups_claim":"realm_access.roles","session_refresh_interval_secs":300}},
    "session":{"lifetime_secs":3600},"session_endpoint_path":"/.auth/me",
    "rules":[
      {"path":"/healthz","action":"public"},
      {"path_prefix":"/health","action":"deny"},
      {"name":"admins only","path_prefix":"/admin/","action":"authenticated","groups":["admin"]},
      {"path_prefix":"/gold/","action":"authenticated","claims":[{"path":["https://example.com/tier"],"any_of":["gold"]}]},
      {"path_prefix":"/team/","action":"authenticated","claims":[{"path":"org.teams","all_of":["red","blue"]}]},
      {"path_prefix":"/corp/","action":"authenticated","email_domains":["corp.example"]},
      {"path_prefix":"/alice/","action":"authenticated","emails":["ALICE@example.com"]},
      {"path_prefix":"/api/","methods":["POST"],"action":"authenticated","groups":["writer"],"allow_preflight":true}
    ]}"#;

fn harness(claims: Value) -> Harness {
    let h = Harness::new(RULED, &[ISSUER]);
    h.op().issue_refresh_tokens.set(true);
    h.op()
        .extra_claims
        .borrow_mut()
        .extend(claims.as_object().unwrap().clone());
    h
}

fn many_roles() -> Value {
    let roles: Vec<String> = (0..500)
        .map(|i| format!("role-{i}"))
        .chain(["admin".to_owned()])
        .collect();
    json!({"realm_access": {"roles": roles}, "https://example.com/tier": "gold", "org": {"teams": ["red", "blue", "green"]}})
}

fn outcome(h: &Harness, req: &Incoming) -> Result<(), Reply> {
    match h.handle(req).outcome {
        Outcome::Forward(_) => Ok(()),
        Outcome::Reply(r) => Err(r),
    }
}

fn identity(h: &Harness, browser: &Browser) -> Identity {
    let value = browser.get(SESSION).expect("a session cookie");
    Identity::open(&h.app.config.sealer, value, SESSION, RP, |p| h.app.issuer_of(p)).expect("opens")
}

#[test]
fn a_user_in_500_groups_carries_only_what_rules_name_and_every_kind_admits() {
    let h = harness(many_roles());
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/admin/");
    let who = identity(&h, &browser);
    assert_eq!(who.claims.get("g"), Some(&vec!["admin".to_owned()]));
    assert_eq!(
        who.claims.get("/https:~1~1example.com~1tier"),
        Some(&vec!["gold".to_owned()])
    );
    assert_eq!(
        who.claims.get("/org/teams"),
        Some(&vec!["red".to_owned(), "blue".to_owned()])
    );
    let size = browser.header().unwrap().len();
    assert!(size <= 500, "the session cookie is {size} bytes with rules on");
    for page in ["/admin/x", "/gold/", "/team/a", "/alice/", "/other"] {
        let req = browser.navigate(&format!("https://rp.example{page}"));
        assert!(outcome(&h, &req).is_ok(), "{page}");
    }
    // The rule decides; an unmet one is 403 whatever else the user has.
    let refused = outcome(&h, &browser.navigate("https://rp.example/corp/")).unwrap_err();
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("rules[5]"), "{}", refused.body);
    // The hot path with rules: no KV, no subrequest.
    let (kv, net) = (h.kv.ops(), h.net.total());
    outcome(&h, &browser.fetch("GET", "https://rp.example/admin/data")).unwrap();
    assert_eq!((h.kv.ops(), h.net.total()), (kv, net));
}

#[test]
fn unmet_requirements_are_403_naming_the_rule_without_claims() {
    let h = harness(
        json!({"realm_access": {"roles": ["secret-role-x"]}, "org": {"teams": ["red"]},
        "https://example.com/tier": "silver"}),
    );
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let who = identity(&h, &browser);
    // Only values some rule names are kept: `red` (rules[4]), not the role or tier.
    assert_eq!(who.claims.len(), 1, "{:?}", who.claims);
    assert_eq!(who.claims.get("/org/teams"), Some(&vec!["red".to_owned()]));
    let page = outcome(&h, &browser.navigate("https://rp.example/admin/")).unwrap_err();
    assert_eq!(page.status, 403);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.body.contains("admins only"), "{}", page.body);
    assert!(!page.body.contains("secret-role-x") && !page.body.contains("silver"));
    let json = outcome(&h, &browser.fetch("GET", "https://rp.example/admin/")).unwrap_err();
    assert_eq!(json.status, 403);
    let body: Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(body["error"], "access_denied");
    assert!(body["error_description"].as_str().unwrap().contains("admins only"));
    for (page, rule) in [("/gold/", "rules[3]"), ("/team/", "rules[4]")] {
        let r = outcome(&h, &browser.navigate(&format!("https://rp.example{page}"))).unwrap_err();
        assert!(r.status == 403 && r.body.contains(rule), "{page}: {}", r.body);
    }
}

#[test]
fn the_first_matching_rule_decides_public_and_deny_need_no_session() {
    let h = harness(json!({}));
    let anonymous = Browser::default();
    assert!(outcome(&h, &anonymous.navigate("https://rp.example/healthz")).is_ok());
    // `/health` (deny) comes after `/healthz` (public): the public rule wins for /healthz only.
    let denied = outcome(&h, &anonymous.fetch("GET", "https://rp.example/health/db")).unwrap_err();
    assert_eq!(denied.status, 403);
    assert_eq!(
        outcome(&h, &anonymous.navigate("https://rp.example/HEALTH/x"))
            .unwrap_err()
            .status,
        403
    );
    assert_eq!(h.kv.ops(), (0, 0, 0));
    assert_eq!(h.net.total(), 0);
    // Another spelling of /healthz is not public (read as written, no rule matches it: the
    // default, a session); and of /health/x is denied (the deny rule reads it broadly).
    assert_eq!(
        outcome(&h, &anonymous.navigate("https://rp.example/HEALTHZ"))
            .unwrap_err()
            .status,
        302
    );
}

#[test]
fn preflights_pass_only_where_a_rule_allows_them() {
    let h = harness(json!({}));
    let preflight = |path: &str| {
        let mut req = Browser::default().fetch("OPTIONS", &format!("https://rp.example{path}"));
        req.headers.access_control_request_method = Some("POST".into());
        req
    };
    assert!(outcome(&h, &preflight("/api/items")).is_ok());
    assert_eq!(outcome(&h, &preflight("/admin/")).unwrap_err().status, 401);
    // A plain OPTIONS is not a preflight, and the rule is for POST.
    let plain = Browser::default().fetch("OPTIONS", "https://rp.example/api/items");
    assert_eq!(outcome(&h, &plain).unwrap_err().status, 401);
}

#[test]
fn a_refresh_projects_the_claims_again() {
    let h = harness(json!({"realm_access": {"roles": ["admin", "writer"]}}));
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/admin/");
    assert!(outcome(&h, &browser.navigate("https://rp.example/admin/")).is_ok());
    // The provider drops `admin`; at the next refresh the cookie no longer carries it.
    h.op()
        .extra_claims
        .borrow_mut()
        .insert("realm_access".into(), json!({"roles": ["writer"]}));
    h.clock.advance(300);
    let refreshed = h.forward(&browser.fetch("GET", "https://rp.example/other"));
    assert_eq!(h.op().refreshes.get(), 1);
    for c in &refreshed.set_cookies {
        let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
        browser.set(name, value);
    }
    assert_eq!(identity(&h, &browser).claims.get("g"), Some(&vec!["writer".to_owned()]));
    assert_eq!(
        outcome(&h, &browser.navigate("https://rp.example/admin/"))
            .unwrap_err()
            .status,
        403
    );
}

#[test]
fn the_session_endpoint_answers_this_site_only_and_never_tokens() {
    let h = harness(many_roles());
    let mut browser = Browser::default();
    let anonymous = outcome(&h, &browser.fetch("GET", "https://rp.example/.auth/me")).unwrap_err();
    assert_eq!(
        (anonymous.status, anonymous.header("cache-control")),
        (401, Some("no-store"))
    );
    h.login(&mut browser, "https://rp.example/");
    let me = outcome(&h, &browser.fetch("GET", "https://rp.example/.auth/me")).unwrap_err();
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.header("cache-control"), Some("no-store"));
    let body: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["provider"], "main");
    assert_eq!(body["expires_at"], NOW + 3600);
    assert_eq!(body["claims"]["groups"], json!(["admin"]));
    assert!(
        !me.body.contains("at-") && !me.body.contains("rt-") && !me.body.contains("eyJ"),
        "{}",
        me.body
    );
    // Another site's page (Fetch Metadata, or without it a foreign Origin): 401.
    let mut cross = browser.fetch("GET", "https://rp.example/.auth/me");
    cross.headers.sec_fetch_site = Some("cross-site".into());
    assert_eq!(outcome(&h, &cross).unwrap_err().status, 401);
    cross.headers.sec_fetch_site = None;
    cross.headers.origin = Some("https://evil.example".into());
    assert_eq!(outcome(&h, &cross).unwrap_err().status, 401);
    cross.headers.origin = Some(RP.into());
    assert_eq!(outcome(&h, &cross).unwrap_err().status, 200);
}

#[test]
fn operator_templates_render_escaped_values_and_fall_back_when_broken() {
    let h = harness(json!({}));
    let notes = h.app.install_templates(vec![
        (
            PageKind::Forbidden,
            Ok("<main>{{status}} {{error}}: {{error_description}}</main>".into()),
        ),
        (PageKind::Error, Ok("<p>{{unknown}}</p>".into())),
    ]);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let mut browser = Browser::default();
    h.login(&mut browser, "https://rp.example/");
    let page = outcome(&h, &browser.navigate("https://rp.example/admin/")).unwrap_err();
    assert!(
        page.body
            .starts_with("<main>403 access_denied: access to this page is refused by rule `admins only`"),
        "{}",
        page.body
    );
    // A provider's error text is hostile input: escaped in the (built-in) error page.
    let bad = outcome(
        &h,
        &Browser::default().navigate("https://rp.example/redirect_uri?state=x&error=%3Cscript%3E"),
    )
    .unwrap_err();
    assert!(!bad.body.contains("<script>"), "{}", bad.body);
    assert!(
        bad.body.starts_with("<!doctype html>"),
        "the broken error template is not used"
    );
}

/// A bearer token never stands in for requirements it is not checked against: where a deciding
/// rule (under either reading of the path) has emails/domains/groups/claims and no `bearer` of its
/// own, the site-wide `bearer` section does not apply there, and the cookie decides.
#[test]
fn bearer_tokens_do_not_bypass_rule_requirements_in_any_spelling() {
    const CONF: &str = r#"{"providers":{
          "main":{"issuer":"https://op.example","client_id":"rp"},
          "other":{"issuer":"https://op2.example","client_id":"rp"}},
        "bearer":{"mode":"accept","provider":"main","audiences":["https://api.example"]},
        "rules":[
          {"path_prefix":"/admin/","action":"authenticated","groups":["admin"]},
          {"path_prefix":"/mine/","action":"authenticated","providers":["other"]},
          {"path_prefix":"/open/","action":"authenticated"},
          {"path_prefix":"/api/","action":"authenticated",
           "bearer":{"mode":"require","provider":"main","audiences":["https://own.example"]}},
          {"path_prefix":"/pub/","action":"public"}
        ]}"#;
    let h = Harness::new(CONF, &[ISSUER]);
    let policy = |path: &str| {
        let req = Browser::default().fetch("GET", &format!("https://rp.example{path}"));
        let canonical = CanonicalPath::parse(path).unwrap();
        let selection = rules::select(&h.app.config.rules, &req.rule_request(&canonical, None));
        h.app
            .bearer_policy(selection, &canonical)
            .map(|p| p.audiences.first().cloned().unwrap_or_default())
    };
    let site = Some("https://api.example".to_owned());
    assert_eq!(
        policy("/admin/x"),
        None,
        "a groups rule takes no site-wide bearer token"
    );
    assert_eq!(policy("/ADMIN/x"), None, "nor under another spelling of its path");
    assert_eq!(policy("/%61dmin/x"), None, "nor with an escape");
    assert_eq!(
        policy("/mine/x"),
        None,
        "a rule for another provider takes none of this one's"
    );
    assert_eq!(policy("/open/x"), site, "a rule without requirements takes them");
    assert_eq!(policy("/elsewhere"), site, "no rule: the bearer section decides");
    assert_eq!(
        policy("/api/x"),
        Some("https://own.example".to_owned()),
        "the rule's own settings"
    );
    assert_eq!(
        policy("/API/x"),
        site,
        "another spelling: both readings must take a token"
    );
}
