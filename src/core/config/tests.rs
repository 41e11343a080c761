use super::*;
use crate::core::oidc::client_auth::AuthMethod;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn secrets(name: &str) -> Option<String> {
    match name {
        "COOKIE_KEYS" => Some(KEY.to_owned()),
        "CLIENT_SECRET" => Some("s3cret".to_owned()),
        _ => None,
    }
}

fn parse(json: &str) -> Result<Config, ConfigError> {
    Config::from_json(json, &secrets)
}

fn err_of(json: &str) -> ConfigError {
    match parse(json) {
        Err(e) => e,
        Ok(_) => panic!("accepted: {json}"),
    }
}

const MIN: &str = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}}}"#;

#[test]
fn minimal_config_gets_the_defaults() {
    let c = parse(MIN).unwrap();
    assert_eq!(c.redirect_path, "/redirect_uri");
    assert_eq!(c.logout_path, "/logout");
    assert_eq!(c.post_logout_redirect_uri, "/logged-out");
    assert_eq!(c.session.cookie_name, "edge_oidc");
    assert!(c.session.permanent);
    assert_eq!(c.http_timeout_ms, 5000);
    assert_eq!(c.identity_headers.email, "x-auth-email");
    let p = &c.providers[0];
    assert_eq!(p.scope, "openid email profile");
    assert_eq!(p.auth_method, None);
    assert!(p.client_secret.is_some());
    assert!(matches!(p.metadata, MetadataSource::Discover));
    assert!(matches!(&p.client, ClientConfig::Static { client_id } if client_id == "rp"));
    assert_eq!(
        p.passthrough_params,
        vec!["login_hint".to_owned(), "domain_hint".to_owned()]
    );
    assert!(!c.publishes_jwks());
}

#[test]
fn errors_name_the_key_and_the_fix() {
    let cases: &[(&str, &str)] = &[
        (r#"{"providers":{}}"#, "providers"),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example"}}}"#,
            "providers.main.client_id",
        ),
        (
            r#"{"providers":{"main":{"issuer":"not a url","client_id":"rp"}}}"#,
            "providers.main.issuer",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example?x=1","client_id":"rp"}}}"#,
            "providers.main.issuer",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","scope":"email"}}}"#,
            "providers.main.scope",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","auth_params":{"state":"x"}}}}"#,
            "providers.main.auth_params",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","token_endpoint_auth_method":"tls_client_auth"}}}"#,
            "providers.main.token_endpoint_auth_method",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","token_endpoint_auth_method":"private_key_jwt"}}}"#,
            "providers.main.private_key_binding",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","client_secret_binding":"NOPE","token_endpoint_auth_method":"client_secret_post"}}}"#,
            "providers.main.client_secret_binding",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","id_token_signing_algs":["HS256"]}}}"#,
            "providers.main.id_token_signing_algs",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","prompt":"always"}}}"#,
            "providers.main.prompt",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","claims":[1]}}}"#,
            "providers.main.claims",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","registration":{}}}}"#,
            "providers.main.registration",
        ),
        (
            r#"{"providers":{"a b":{"issuer":"https://op.example","client_id":"rp"}}}"#,
            "providers.a b",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"redirect_path":"cb"}"#,
            "redirect_path",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"public_paths":["//x"]}"#,
            "public_paths[0]",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"http_timeout_ms":5}"#,
            "http_timeout_ms",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"login_timeout_secs":10}"#,
            "login_timeout_secs",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"origin":"https://o.example/path"}"#,
            "origin",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"session":{"cookie_name":"a;b"}}"#,
            "session.cookie_name",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"identity_headers":{"email":"Cookie"}}"#,
            "identity_headers.email",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"routes":[{"path_prefix":"/a/","providers":["x"]}]}"#,
            "routes[0].providers",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"post_logout_redirect_uri":"javascript:x"}"#,
            "post_logout_redirect_uri",
        ),
        (
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"typo":1}"#,
            "EDGE_OIDC_CONFIG",
        ),
        ("not json", "EDGE_OIDC_CONFIG"),
    ];
    for (json, key) in cases {
        let e = err_of(json);
        assert_eq!(e.key, *key, "{json}: {e}");
        assert!(!e.fix.is_empty());
        assert!(e.to_string().contains("Fix:"));
    }
}

#[test]
fn unknown_key_error_says_which() {
    let e = err_of(r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}},"redirect_pth":"/x"}"#);
    assert!(e.problem.contains("redirect_pth"), "{e}");
}

#[test]
fn cookie_keys_are_required_and_validated() {
    let none = |_: &str| None;
    let e = Config::from_json(MIN, &none).unwrap_err();
    assert_eq!(e.key, "COOKIE_KEYS");
    let short = |n: &str| (n == "COOKIE_KEYS").then(|| "AAAA".to_owned());
    assert_eq!(Config::from_json(MIN, &short).unwrap_err().key, "COOKIE_KEYS");
    let e = Config::from_json(MIN, &short).unwrap_err();
    assert!(!e.to_string().contains("AAAA"), "a secret never appears in an error");
}

#[test]
fn static_metadata_and_request_parameters() {
    let c = parse(
        r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","token_endpoint_auth_method":"client_secret_post",
        "metadata":{"authorization_endpoint":"https://op.example/a","token_endpoint":"https://op.example/t","jwks_uri":"https://op.example/k"},
        "prompt":"login consent","max_age":300,"acr_values":"loa2","ui_locales":"de","claims":{"userinfo":{"email":null}},
        "auth_params":{"resource":"r"}}}}"#,
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.auth_method, Some(AuthMethod::ClientSecretPost));
    let MetadataSource::Static(meta) = &p.metadata else {
        panic!("static expected")
    };
    assert_eq!(meta.issuer, "https://op.example");
    assert_eq!(meta.token_endpoint, "https://op.example/t");
    assert_eq!(p.max_age, Some(300));
    let get = |k: &str| p.auth_params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("prompt"), Some("login consent"));
    assert_eq!(get("max_age"), Some("300"));
    assert_eq!(get("acr_values"), Some("loa2"));
    assert_eq!(get("ui_locales"), Some("de"));
    assert_eq!(get("claims"), Some(r#"{"userinfo":{"email":null}}"#));
    assert_eq!(get("resource"), Some("r"));
}

#[test]
fn dynamic_registration_needs_no_secret() {
    let none_but_keys = |n: &str| (n == "COOKIE_KEYS").then(|| KEY.to_owned());
    let c = Config::from_json(
        r#"{"providers":{"main":{"issuer":"https://op.example","registration":{"client_name":"x"},"token_endpoint_auth_method":"client_secret_basic"}}}"#,
        &none_but_keys,
    )
    .unwrap();
    assert!(
        matches!(&c.providers[0].client, ClientConfig::Dynamic { registration } if registration["client_name"] == "x")
    );
}

fn at(path: &str) -> CanonicalPath {
    CanonicalPath::parse(path).unwrap()
}

#[test]
fn routes_and_public_paths() {
    let c = parse(
        r#"{"providers":{"a":{"issuer":"https://a.example","client_id":"rp"},"b":{"issuer":"https://b.example","client_id":"rp"}},
        "routes":[{"path_prefix":"/admin/","providers":["b"]}],"public_paths":["/public/","/favicon.ico"]}"#,
    )
    .unwrap();
    let names = |path: &str| {
        c.providers_for(&at(path))
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("/admin/x"), vec!["b"]);
    assert_eq!(names("/other"), vec!["a", "b"]);
    // Any spelling an origin may read as `/admin/…` is restricted like it.
    for path in ["/admin", "/ADMIN/", "/Admin/x", "//admin/x", "/%61dmin/x"] {
        assert_eq!(names(path), vec!["b"], "{path}");
    }
    assert_eq!(names("/administrator"), vec!["a", "b"]);
    assert!(c.is_public(&at("/public/x")));
    assert!(c.is_public(&at("/public")));
    assert!(c.is_public(&at("/favicon.ico")));
    assert!(!c.is_public(&at("/favicon.ico2")));
    assert!(!c.is_public(&at("/publicx")));
    // Another case is another path for an origin that cares about case: not public.
    assert!(!c.is_public(&at("/PUBLIC/x")));
    assert!(c.is_public(&at("/logged-out")));
}

#[test]
fn configured_paths_are_canonical() {
    let c = parse(
        r#"{"providers":{"a":{"issuer":"https://a.example","client_id":"rp"}},"public_paths":["/caf%c3%a9/","/caf\u00e9/","/%7Eu//x"],
        "routes":[{"path_prefix":"/ADM%69N/","providers":["a"]}],"logout_path":"/%6Cogout","redirect_path":"/cb//x"}"#,
    )
    .unwrap();
    let public: Vec<&str> = c.public_paths.iter().map(|p| p.as_str()).collect();
    assert_eq!(public, ["/caf%C3%A9/", "/caf%C3%A9/", "/~u/x"]);
    assert_eq!(c.routes[0].path_prefix.as_str(), "/ADMiN/");
    assert_eq!((c.logout_path.as_str(), c.redirect_path.as_str()), ("/logout", "/cb/x"));
    assert!(c.is_public(&at("/caf%C3%A9/menu")));
    // A configured path without a canonical form is an error naming its key.
    for (json, key) in [
        (
            r#""public_paths":["/a/","/b/","/public/..%2Fsecret"]"#,
            "public_paths[2]",
        ),
        (r#""public_paths":["/a/../"]"#, "public_paths[0]"),
        (r#""public_paths":["/a;x/"]"#, "public_paths[0]"),
        (
            r#""routes":[{"path_prefix":"/admin%5C/","providers":["a"]}]"#,
            "routes[0].path_prefix",
        ),
        (r#""logout_path":"/bye/.""#, "logout_path"),
        (r#""login_path":"/%00""#, "login_path"),
    ] {
        let e = err_of(&format!(
            r#"{{"providers":{{"a":{{"issuer":"https://a.example","client_id":"rp"}}}},{json}}}"#
        ));
        assert_eq!(e.key, key, "{json}");
        assert!(e.problem.contains("is not accepted"), "{json}: {}", e.problem);
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    let c = parse(MIN).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cret"));
    assert!(!debug.contains(KEY));
}
