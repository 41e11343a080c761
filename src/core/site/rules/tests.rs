use super::*;
use crate::core::config::Config;
use crate::core::session::Identity;
use serde_json::json;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn config(extra: &str) -> Config {
    let json = format!(
        r#"{{"providers":{{"a":{{"issuer":"https://a.example","client_id":"rp","groups_claim":"realm_access.roles"}},
        "b":{{"issuer":"https://b.example","client_id":"rp"}}}}{extra}}}"#
    );
    Config::from_json(&json, &|n| (n == "COOKIE_KEYS").then(|| KEY.to_owned())).unwrap()
}

fn config_err(extra: &str) -> String {
    let json = format!(r#"{{"providers":{{"a":{{"issuer":"https://a.example","client_id":"rp"}}}}{extra}}}"#);
    match Config::from_json(&json, &|n| (n == "COOKIE_KEYS").then(|| KEY.to_owned())) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted: {extra}"),
    }
}

fn path(p: &str) -> CanonicalPath {
    CanonicalPath::parse(p).unwrap()
}

fn user(provider: &str, email: &str, claims: &[(&str, &[&str])]) -> Identity {
    Identity {
        provider: provider.into(),
        sub: "u1".into(),
        email: Some(email.into()),
        email_verified: Some(true),
        name: None,
        acr: None,
        created_at: 0,
        expires_at: 10,
        handle: "h".into(),
        sid: None,
        refresh_due: None,
        silent_refresh: false,
        checked_at: None,
        active_at: None,
        claims: claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect(),
    }
}

/// The verdict for `method path` on `host` with `who` signed in (or nobody).
fn verdict(c: &Config, host: &str, method: &str, p: &str, who: Option<&Identity>) -> String {
    let p = path(p);
    let request = RuleRequest {
        host,
        method,
        preflight: None,
        path: &p,
    };
    let selection = select(&c.rules, &request);
    let session = who.map(|i| (i, c.provider(&i.provider)));
    match judge(&c.rules, selection, false, session) {
        Verdict::Open => "open".into(),
        Verdict::Admitted => "admitted".into(),
        Verdict::Login => "login".into(),
        Verdict::Refused(label) => format!("refused {label}"),
    }
}

const RULES: &str = r#","rules":[
  {"path":"/healthz","action":"public"},
  {"name":"admin area","path_prefix":"/admin/","action":"authenticated","groups":["admins"]},
  {"path_prefix":"/internal/","action":"deny"},
  {"host":"api.example","path_prefix":"/v1/","methods":["post","PUT"],"action":"authenticated",
   "claims":[{"path":"/https:~1~1example.com~1tier","any_of":["gold",3]}],"allow_preflight":true},
  {"path_prefix":"/staff/","action":"authenticated","email_domains":["Corp.example"],"emails":["ext@partner.example"]},
  {"path_prefix":"/b-only/","action":"authenticated","providers":["b"]},
  {"path_prefix":"/both/","action":"authenticated","claims":[{"path":["scope.list"],"all_of":["read","write"]}]},
  {"path_prefix":"/pub/","action":"public"}
]"#;

#[test]
fn first_match_decides_and_every_kind_allows_and_refuses() {
    let c = config(RULES);
    let admin = user("a", "x@corp.example", &[("g", &["admins"])]);
    let plain = user("a", "y@other.example", &[]);
    assert_eq!(verdict(&c, "site.example", "GET", "/healthz", None), "open");
    assert_eq!(verdict(&c, "site.example", "GET", "/admin/x", None), "login");
    assert_eq!(verdict(&c, "site.example", "GET", "/admin/x", Some(&admin)), "admitted");
    assert_eq!(
        verdict(&c, "site.example", "GET", "/admin/x", Some(&plain)),
        "refused admin area"
    );
    assert_eq!(
        verdict(&c, "site.example", "GET", "/internal/a", None),
        "refused rules[2]"
    );
    assert_eq!(
        verdict(&c, "site.example", "GET", "/internal/a", Some(&admin)),
        "refused rules[2]"
    );
    // Host and methods: another host or method falls through to the default (any session).
    let gold = user("a", "y@other.example", &[("/https:~1~1example.com~1tier", &["gold"])]);
    assert_eq!(verdict(&c, "api.example", "POST", "/v1/x", Some(&gold)), "admitted");
    assert_eq!(
        verdict(&c, "api.example", "PUT", "/v1/x", Some(&plain)),
        "refused rules[3]"
    );
    assert_eq!(verdict(&c, "api.example", "GET", "/v1/x", Some(&plain)), "admitted");
    assert_eq!(verdict(&c, "www.example", "POST", "/v1/x", Some(&plain)), "admitted");
    // Emails and domains (case-insensitive); an unverified email never counts.
    assert_eq!(verdict(&c, "h", "GET", "/staff/", Some(&admin)), "admitted");
    assert_eq!(
        verdict(&c, "h", "GET", "/staff/", Some(&user("a", "EXT@partner.example", &[]))),
        "admitted"
    );
    assert_eq!(verdict(&c, "h", "GET", "/staff/", Some(&plain)), "refused rules[4]");
    let mut unverified = admin.clone();
    unverified.email_verified = Some(false);
    assert_eq!(
        verdict(&c, "h", "GET", "/staff/", Some(&unverified)),
        "refused rules[4]"
    );
    // Providers: a session from another provider needs a login there.
    assert_eq!(verdict(&c, "h", "GET", "/b-only/", Some(&admin)), "login");
    assert_eq!(
        verdict(&c, "h", "GET", "/b-only/", Some(&user("b", "z@b.example", &[]))),
        "admitted"
    );
    // all_of needs every value.
    let both = user("a", "e@x.example", &[("/scope.list", &["read", "write", "x"])]);
    let one = user("a", "e@x.example", &[("/scope.list", &["read"])]);
    assert_eq!(verdict(&c, "h", "GET", "/both/", Some(&both)), "admitted");
    assert_eq!(verdict(&c, "h", "GET", "/both/", Some(&one)), "refused rules[6]");
    // No rule: any session.
    assert_eq!(verdict(&c, "h", "GET", "/else", None), "login");
    assert_eq!(verdict(&c, "h", "GET", "/else", Some(&plain)), "admitted");
}

#[test]
fn the_more_restrictive_reading_wins() {
    let c = config(RULES);
    let plain = user("a", "y@other.example", &[]);
    // Any spelling of /admin/ is held to the admin rule.
    for p in ["/ADMIN/x", "/%61dmin/x", "/Admin"] {
        assert_eq!(verdict(&c, "h", "GET", p, Some(&plain)), "refused admin area", "{p}");
    }
    // A public rule opens only its own spelling.
    assert_eq!(verdict(&c, "h", "GET", "/pub/x", None), "open");
    assert_eq!(verdict(&c, "h", "GET", "/PUB/x", None), "login");
    assert_eq!(verdict(&c, "h", "GET", "/HEALTHZ", None), "login");
    // Deny in any spelling.
    assert_eq!(verdict(&c, "h", "GET", "/Internal/a", Some(&plain)), "refused rules[2]");
}

#[test]
fn a_preflight_is_let_through_only_where_allowed() {
    let c = config(RULES);
    let p = path("/v1/x");
    let preflight = |host| {
        let request = RuleRequest {
            host,
            method: "OPTIONS",
            preflight: Some("POST"),
            path: &p,
        };
        judge(&c.rules, select(&c.rules, &request), true, None)
    };
    assert_eq!(preflight("api.example"), Verdict::Open);
    // Another host: the default rule, which lets no preflight through.
    assert_eq!(preflight("www.example"), Verdict::Login);
}

#[test]
fn legacy_keys_become_equivalent_rules() {
    let c =
        config(r#","public_paths":["/public/","/favicon.ico"],"routes":[{"path_prefix":"/admin","providers":["b"]}]"#);
    let labels: Vec<&str> = c.rules.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["public_paths[0]", "public_paths[1]", "routes[0]"]);
    let a = user("a", "x@a.example", &[]);
    assert_eq!(verdict(&c, "h", "GET", "/public/x", None), "open");
    assert_eq!(verdict(&c, "h", "GET", "/public", None), "open");
    assert_eq!(verdict(&c, "h", "GET", "/publicx", None), "login");
    assert_eq!(verdict(&c, "h", "GET", "/favicon.ico", None), "open");
    assert_eq!(verdict(&c, "h", "GET", "/favicon.ico/x", None), "login");
    assert_eq!(verdict(&c, "h", "GET", "/administrator", Some(&a)), "login");
    assert_eq!(verdict(&c, "h", "GET", "/ADMIN/x", Some(&a)), "login");
    assert_eq!(verdict(&c, "h", "GET", "/other", Some(&a)), "admitted");
    let names: Vec<&str> = c
        .providers_for("h", &path("/Admin/x"))
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["b"]);
}

#[test]
fn errors_name_the_rule_and_key() {
    for (extra, key) in [
        (
            r#","rules":[{"path":"/a","action":"public"},{"path":"/b","action":"allow"}]"#,
            "rules[1].action",
        ),
        (
            r#","rules":[{"path":"/a","path_prefix":"/b","action":"deny"}]"#,
            "`rules[0]`",
        ),
        (r#","rules":[{"path":"a","action":"deny"}]"#, "rules[0].path"),
        (
            r#","rules":[{"path_prefix":"/a/../b","action":"deny"}]"#,
            "rules[0].path_prefix",
        ),
        (r#","rules":[{"action":"public","groups":["x"]}]"#, "`rules[0]`"),
        (
            r#","rules":[{"action":"authenticated","providers":["zz"]}]"#,
            "rules[0].providers",
        ),
        (
            r#","rules":[{"action":"authenticated","methods":["GE T"]}]"#,
            "rules[0].methods",
        ),
        (
            r#","rules":[{"action":"authenticated","host":"https://x"}]"#,
            "rules[0].host",
        ),
        (
            r#","rules":[{"action":"authenticated","email_domains":["@x"]}]"#,
            "rules[0].email_domains",
        ),
        (
            r#","rules":[{"action":"deny"},{"action":"authenticated","claims":[{"path":"a","any_of":["x"]},{"path":"a..b","any_of":["x"]}]}]"#,
            "rules[1].claims[1].path",
        ),
        (
            r#","rules":[{"action":"authenticated","claims":[{"path":"/a~2","any_of":["x"]}]}]"#,
            "rules[0].claims[0].path",
        ),
        (
            r#","rules":[{"action":"authenticated","claims":[{"path":"a","any_of":["x"],"all_of":["y"]}]}]"#,
            "rules[0].claims[0]",
        ),
        (
            r#","rules":[{"action":"authenticated","claims":[{"path":"a","any_of":[]}]}]"#,
            "rules[0].claims[0].any_of",
        ),
        (
            r#","rules":[{"action":"authenticated","claims":[{"path":"a","any_of":[{}]}]}]"#,
            "rules[0].claims[0].any_of",
        ),
        (
            r#","rules":[{"action":"authenticated","colour":"red"}]"#,
            "rules[0].colour",
        ),
        (r#","rules":[{"path":"/a"}]"#, "rules[0].action"),
        (r#","rules":[{"action":"deny"},"public"]"#, "`rules[1]`"),
        (
            r#","rules":[{"action":"authenticated","groups":"admins"}]"#,
            "rules[0].groups",
        ),
        (
            r#","rules":[{"action":"authenticated","claims":[{"path":3,"any_of":["x"]}]}]"#,
            "rules[0].claims[0].path",
        ),
        (
            r#","rules":[{"action":"public","allow_preflight":true}]"#,
            "rules[0].allow_preflight",
        ),
        (r#","rules":[{"action":"deny"}],"public_paths":["/x"]"#, "`rules`"),
    ] {
        let e = config_err(extra);
        assert!(e.contains(key), "{extra}: {e}");
    }
}

#[test]
fn claim_paths_nest_and_keep_only_what_rules_name() {
    let c = config(RULES);
    let groups: Vec<String> = (0..500).map(|i| format!("g{i}")).chain(["admins".to_owned()]).collect();
    let id_token = json!({
        "sub": "u1",
        "realm_access": {"roles": groups},
        "https://example.com/tier": 3,
        "scope.list": ["read", "other"],
    });
    let id_token = id_token.as_object().unwrap();
    let a = c.provider("a").unwrap();
    let claims = project(&c.projection, &a.groups_claim, id_token, None);
    assert_eq!(claims.get(GROUPS_KEY), Some(&vec!["admins".to_owned()]));
    assert_eq!(claims.get("/https:~1~1example.com~1tier"), Some(&vec!["3".to_owned()]));
    assert_eq!(claims.get("/scope.list"), Some(&vec!["read".to_owned()]));
    assert_eq!(claims.len(), 3);
    // Provider b reads `groups` (the default), which it does not send: nothing kept.
    let b = c.provider("b").unwrap();
    let claims = project(&c.projection, &b.groups_claim, id_token, None);
    assert_eq!(claims.get(GROUPS_KEY), None);
    // A claim the ID token lacks is taken from UserInfo.
    let userinfo = json!({"groups": ["admins", "x"]});
    let claims = project(&c.projection, &b.groups_claim, id_token, userinfo.as_object());
    assert_eq!(claims.get(GROUPS_KEY), Some(&vec!["admins".to_owned()]));
}

#[test]
fn without_rules_nothing_is_projected() {
    let c = config("");
    assert!(c.projection.is_empty());
    assert!(c.rules.is_empty());
}
