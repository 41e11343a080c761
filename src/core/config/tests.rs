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
        r#"{"providers":{"main":{"issuer":"https://op.example","registration":{"client_name":"x"},"token_endpoint_auth_method":"client_secret_basic"}},
            "public_origin":"https://docs.example.com"}"#,
        &none_but_keys,
    )
    .unwrap();
    assert_eq!(c.public_origin.as_deref(), Some("https://docs.example.com"));
    assert!(
        matches!(&c.providers[0].client, ClientConfig::Dynamic { registration } if registration["client_name"] == "x")
    );
}

fn at(path: &str) -> CanonicalPath {
    CanonicalPath::parse(path).unwrap()
}

#[test]
fn routes_and_public_paths() {
    let keys_only = |n: &str| (n == "COOKIE_KEYS").then(|| KEY.to_owned());
    let c = Config::from_json(
        r#"{"providers":{"a":{"issuer":"https://a.example","client_id":"rp"},"b":{"issuer":"https://b.example","client_id":"rp"}},
        "routes":[{"path_prefix":"/admin/","providers":["b"]}],"public_paths":["/public/","/favicon.ico"]}"#,
        &keys_only,
    )
    .unwrap();
    let names = |path: &str| {
        c.providers_for("site.example", &at(path))
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
    assert!(c.is_public("site.example", &at("/public/x")));
    assert!(c.is_public("site.example", &at("/public")));
    assert!(c.is_public("site.example", &at("/favicon.ico")));
    assert!(!c.is_public("site.example", &at("/favicon.ico2")));
    assert!(!c.is_public("site.example", &at("/publicx")));
    // Another case is another path for an origin that cares about case: not public.
    assert!(!c.is_public("site.example", &at("/PUBLIC/x")));
    assert!(c.is_public("site.example", &at("/logged-out")));
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
    assert!(c.is_public("site.example", &at("/caf%C3%A9/menu")));
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

// ---- security review (issue 9) ----

/// Item 1: a malformed private key is named, never quoted.
#[test]
fn private_key_errors_never_quote_the_key() {
    let d = "c2VjcmV0LXNjYWxhci1kLXRoYXQtbXVzdC1uZXZlci1sZWFr="; // padded: invalid JWK
    let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    let cases = [
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{d}"}}"#),
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"a+b/{d}"}}"#),
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":{{"v":"{d}"}}}}"#),
        format!(r#"{{"kty":"oct","k":"{d}"}}"#),
        format!("not json {d}"),
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{}"}}"#, &d[..20]),
    ];
    for jwk in cases {
        let secret = |n: &str| match n {
            "COOKIE_KEYS" => Some(KEY.to_owned()),
            "CLIENT_PRIVATE_KEY" => Some(jwk.clone()),
            _ => None,
        };
        let e = Config::from_json(
            r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","token_endpoint_auth_method":"private_key_jwt"}}}"#,
            &secret,
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.key, "providers.main.private_key_binding", "{text}");
        assert!(text.contains("CLIENT_PRIVATE_KEY"), "{text}");
        for piece in [&d[..12], &d[20..32], "c2VjcmV0"] {
            assert!(!text.contains(piece), "the error quotes the key: {text}");
        }
    }
}

/// Item 6: each provider's secret has its own name; a shared CLIENT_SECRET is refused when it
/// could reach the wrong provider.
#[test]
fn client_secrets_are_per_provider() {
    const TWO: &str = r#"{"providers":{"corp-sso":{"issuer":"https://a.example","client_id":"rp"},"partner":{"issuer":"https://b.example","client_id":"rp"}}}"#;
    let secret = |n: &str| match n {
        "COOKIE_KEYS" => Some(KEY.to_owned()),
        "CLIENT_SECRET_CORP_SSO" => Some("a-secret".to_owned()),
        "CLIENT_SECRET_PARTNER" => Some("b-secret".to_owned()),
        _ => None,
    };
    let c = Config::from_json(TWO, &secret).unwrap();
    let of = |name: &str| {
        c.provider(name)
            .unwrap()
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
    };
    assert_eq!(of("corp-sso").as_deref(), Some("a-secret"));
    assert_eq!(of("partner").as_deref(), Some("b-secret"));
    assert_eq!(
        c.provider("corp-sso").unwrap().client_secret_binding,
        "CLIENT_SECRET_CORP_SSO"
    );

    // A provider without its own secret does not get the shared one.
    let shared = |n: &str| match n {
        "COOKIE_KEYS" => Some(KEY.to_owned()),
        "CLIENT_SECRET" => Some("one-secret".to_owned()),
        "CLIENT_SECRET_CORP_SSO" => Some("a-secret".to_owned()),
        _ => None,
    };
    let e = Config::from_json(TWO, &shared).unwrap_err();
    assert_eq!(e.key, "CLIENT_SECRET");
    assert!(e.fix.contains("CLIENT_SECRET_<NAME>"), "{e}");
    assert!(!e.to_string().contains("one-secret"));
    // ... unless a provider names it explicitly.
    let named = TWO.replace(
        r#""client_id":"rp"}}}"#,
        r#""client_id":"rp","client_secret_binding":"CLIENT_SECRET"}}}"#,
    );
    let c = Config::from_json(&named, &shared).unwrap();
    assert_eq!(
        c.provider("partner").unwrap().client_secret.as_ref().unwrap().expose(),
        "one-secret"
    );
    assert_eq!(
        c.provider("corp-sso").unwrap().client_secret.as_ref().unwrap().expose(),
        "a-secret"
    );

    // A lone provider may use the plain CLIENT_SECRET; its own name wins when both exist.
    let c = parse(MIN).unwrap();
    assert_eq!(c.providers[0].client_secret.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(c.providers[0].client_secret_binding, "CLIENT_SECRET");
    let both = |n: &str| match n {
        "COOKIE_KEYS" => Some(KEY.to_owned()),
        "CLIENT_SECRET" => Some("plain".to_owned()),
        "CLIENT_SECRET_MAIN" => Some("own".to_owned()),
        _ => None,
    };
    let c = Config::from_json(MIN, &both).unwrap();
    assert_eq!(c.providers[0].client_secret.as_ref().unwrap().expose(), "own");
}

/// Item 5: public_origin is validated, and required with dynamic registration.
#[test]
fn public_origin() {
    let with = |origin: &str| MIN.replace("}}}", &format!("}}}},\"public_origin\":\"{origin}\"}}"));
    assert_eq!(
        parse(&with("https://Docs.Example.com"))
            .unwrap()
            .public_origin
            .as_deref(),
        Some("https://docs.example.com")
    );
    assert_eq!(
        parse(&with("https://docs.example.com:8443/"))
            .unwrap()
            .public_origin
            .as_deref(),
        Some("https://docs.example.com:8443")
    );
    for bad in [
        "https://docs.example.com/app",
        "docs.example.com",
        "https://u@docs.example.com",
        "ftp://x",
    ] {
        assert_eq!(err_of(&with(bad)).key, "public_origin", "{bad}");
    }
    assert_eq!(parse(MIN).unwrap().public_origin, None);
    let e = err_of(r#"{"providers":{"main":{"issuer":"https://op.example","registration":{}}}}"#);
    assert_eq!(e.key, "public_origin");
    assert!(e.problem.contains("dynamic registration"), "{e}");
}

/// Hardening: http:// issuers only on loopback, or with the loudly named setting.
#[test]
fn http_issuers_only_on_loopback() {
    for ok in ["http://127.0.0.1:9000", "http://localhost:9000/op", "http://[::1]:9000"] {
        let json = MIN.replace("https://op.example", ok);
        assert!(parse(&json).is_ok(), "{ok}");
    }
    let json = MIN.replace("https://op.example", "http://op.example");
    let e = err_of(&json);
    assert_eq!(e.key, "providers.main.issuer");
    assert!(e.fix.contains("dangerously_allow_http_providers"), "{e}");
    let allowed = json.replace("}}}", "}},\"dangerously_allow_http_providers\":true}");
    assert!(parse(&allowed).unwrap().providers[0].allow_http);
    // Static metadata with an http endpoint on a public host.
    let meta = r#"{"providers":{"main":{"issuer":"https://op.example","client_id":"rp","metadata":{
        "authorization_endpoint":"https://op.example/a","token_endpoint":"http://op.example/t","jwks_uri":"https://op.example/j"}}}}"#;
    assert_eq!(err_of(meta).key, "providers.main.metadata");
}

/// Item 3: required_acr is enforced (flow tests) and requested when acr_values is not set.
#[test]
fn required_acr() {
    let c = parse(&MIN.replace(
        r#""client_id":"rp""#,
        r#""client_id":"rp","required_acr":["urn:mfa","urn:hw"]"#,
    ))
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.required_acr, vec!["urn:mfa".to_owned(), "urn:hw".to_owned()]);
    assert!(p
        .auth_params
        .contains(&("acr_values".to_owned(), "urn:mfa urn:hw".to_owned())));
    let both = MIN.replace(
        r#""client_id":"rp""#,
        r#""client_id":"rp","required_acr":["urn:mfa"],"acr_values":"urn:mfa urn:pwd""#,
    );
    let c = parse(&both).unwrap();
    assert!(c.providers[0]
        .auth_params
        .contains(&("acr_values".to_owned(), "urn:mfa urn:pwd".to_owned())));
    for bad in [r#"[]"#, r#"[""]"#, r#"["a b"]"#] {
        let json = MIN.replace(
            r#""client_id":"rp""#,
            &format!(r#""client_id":"rp","required_acr":{bad}"#),
        );
        assert_eq!(err_of(&json).key, "providers.main.required_acr", "{bad}");
    }
}

/// A provider with extra keys (`"k": v, …` after client_id).
fn with_provider_keys(extra: &str) -> String {
    MIN.replace(r#""client_id":"rp""#, &format!(r#""client_id":"rp",{extra}"#))
}

const ENTRA: &str = r#""issuer":"https://login.microsoftonline.com/{tenantid}/v2.0""#;
const ORGANIZATIONS: &str =
    r#""discovery_url":"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration""#;
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Entra multi-tenant: the issuer template needs a discovery URL, keeps the template as the
/// provider's issuer (what sealed values bind to), and takes an allow-list of tenant ids.
#[test]
fn issuer_template_with_discovery_url_and_allowed_tenants() {
    let json = with_provider_keys(ORGANIZATIONS).replace(r#""issuer":"https://op.example""#, ENTRA);
    let p = parse(&json).unwrap().providers.remove(0);
    assert_eq!(p.issuer, "https://login.microsoftonline.com/{tenantid}/v2.0");
    assert!(p
        .discovery_url
        .ends_with("/organizations/v2.0/.well-known/openid-configuration"));
    let template = p.tenant.as_ref().expect("a template");
    assert!(template.allowed().is_empty());
    let tenant_issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
    assert!(p.issuer_matches(&tenant_issuer));
    assert!(!p.issuer_matches(&p.issuer), "the template itself names no tenant");

    let upper = TID.to_ascii_uppercase();
    let listed = json.replace(
        ORGANIZATIONS,
        &format!(r#"{ORGANIZATIONS},"allowed_tenants":["{upper}"]"#),
    );
    let p = parse(&listed).unwrap().providers.remove(0);
    assert_eq!(p.tenant.unwrap().allowed(), [TID.to_owned()]);

    // Without a template: no tenant, the issuer's own discovery URL unless one is given.
    let p = parse(MIN).unwrap().providers.remove(0);
    assert!(p.tenant.is_none());
    assert_eq!(p.discovery_url, "https://op.example/.well-known/openid-configuration");
    let b2c = with_provider_keys(r#""discovery_url":"https://id.example/t/.well-known/openid-configuration?p=signin""#);
    assert!(parse(&b2c).unwrap().providers[0].discovery_url.ends_with("?p=signin"));
}

#[test]
fn issuer_template_errors_name_the_key() {
    let entra = |extra: &str| with_provider_keys(extra).replace(r#""issuer":"https://op.example""#, ENTRA);
    let cases: Vec<(String, &str)> = vec![
        (entra(r#""scope":"openid""#), "providers.main.discovery_url"),
        (
            entra(&format!(r#"{ORGANIZATIONS},"allowed_tenants":[]"#)),
            "providers.main.allowed_tenants",
        ),
        (
            entra(&format!(r#"{ORGANIZATIONS},"allowed_tenants":["contoso.com"]"#)),
            "providers.main.allowed_tenants",
        ),
        (
            with_provider_keys(&format!(r#""allowed_tenants":["{TID}"]"#)),
            "providers.main.allowed_tenants",
        ),
        (
            with_provider_keys(ORGANIZATIONS).replace("https://op.example", "https://{tenantid}.example"),
            "providers.main.issuer",
        ),
        (
            with_provider_keys(ORGANIZATIONS).replace("https://op.example", "https://op.example/t-{tenantid}"),
            "providers.main.issuer",
        ),
        (
            with_provider_keys(ORGANIZATIONS).replace("https://op.example", "https://op.example/{tenantid}/{tenantid}"),
            "providers.main.issuer",
        ),
        (
            with_provider_keys(ORGANIZATIONS).replace("https://op.example", "https://op.example/{tenant}"),
            "providers.main.issuer",
        ),
        (
            with_provider_keys(r#""discovery_url":"http://op.example/x""#),
            "providers.main.discovery_url",
        ),
        (
            with_provider_keys(r#""discovery_url":"https://op.example/{tenantid}/x""#),
            "providers.main.discovery_url",
        ),
        (
            with_provider_keys(
                r#""discovery_url":"https://op.example/d","metadata":{"authorization_endpoint":"https://op.example/a","token_endpoint":"https://op.example/t","jwks_uri":"https://op.example/j"}"#,
            ),
            "providers.main.discovery_url",
        ),
    ];
    for (json, key) in cases {
        let e = err_of(&json);
        assert_eq!(e.key, key, "{json}: {e}");
        assert!(!e.fix.is_empty());
    }
}

/// `required_claims`: a string or a list per claim; claims with a setting of their own (or
/// checked anyway) are refused with a pointer to it.
#[test]
fn required_claims_values_and_errors() {
    let p = parse(&with_provider_keys(
        r#""required_claims":{"hd":"example.com","groups":["staff","admins"]}"#,
    ))
    .unwrap()
    .providers
    .remove(0);
    let names: Vec<(&str, Vec<&str>)> = p
        .required_claims
        .iter()
        .map(|r| (r.name.as_str(), r.accepted.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        names,
        vec![("groups", vec!["staff", "admins"]), ("hd", vec!["example.com"])]
    );
    let hd = &p.required_claims[1];
    assert!(hd.accepts(&serde_json::json!("example.com")));
    assert!(!hd.accepts(&serde_json::json!("EXAMPLE.COM")), "compared as written");
    assert!(!hd.accepts(&serde_json::json!(true)));
    let groups = &p.required_claims[0];
    assert!(groups.accepts(&serde_json::json!(["users", "admins"])));
    assert!(!groups.accepts(&serde_json::json!(["users", 1])));
    assert!(!groups.accepts(&serde_json::json!({"staff": true})));

    for (bad, key) in [
        (r#"{"hd":""}"#, "providers.main.required_claims.hd"),
        (r#"{"hd":[]}"#, "providers.main.required_claims.hd"),
        (r#"{"hd":["a", 1]}"#, "providers.main.required_claims.hd"),
        (r#"{"hd":true}"#, "providers.main.required_claims.hd"),
        (r#"{"acr":"mfa"}"#, "providers.main.required_claims.acr"),
        (r#"{"email":"a@b"}"#, "providers.main.required_claims.email"),
        (r#"{"iss":"https://x"}"#, "providers.main.required_claims.iss"),
        (r#"{"":"x"}"#, "providers.main.required_claims"),
        (r#"["hd"]"#, "EDGE_OIDC_CONFIG"),
    ] {
        let e = err_of(&with_provider_keys(&format!(r#""required_claims":{bad}"#)));
        assert_eq!(e.key, key, "{bad}: {e}");
    }
}

/// Item 7 and the cookie prefix: defaults and per-provider lists.
#[test]
fn email_verification_and_cookie_prefix_defaults() {
    let c = parse(MIN).unwrap();
    assert!(c.providers[0].require_email_verified);
    assert!(c.session.host_prefix);
    assert_eq!(c.session.cookie_base(true), "__Host-edge_oidc");
    assert_eq!(c.session.cookie_base(false), "edge_oidc");
    let json = MIN.replace(
        r#""client_id":"rp""#,
        r#""client_id":"rp","require_email_verified":false,"allowed_emails":[" Bob@Example.com"],"allowed_email_domains":["@Corp.Example"]"#,
    );
    let c = parse(&json).unwrap();
    let p = &c.providers[0];
    assert!(!p.require_email_verified);
    assert_eq!(p.allowed_emails, vec!["bob@example.com".to_owned()]);
    assert_eq!(p.allowed_email_domains, vec!["corp.example".to_owned()]);
    let json = MIN.replace("}}}", r#"}},"session":{"host_prefix":false,"cookie_name":"sess"}}"#);
    assert_eq!(parse(&json).unwrap().session.cookie_base(true), "sess");
    let json = MIN.replace("}}}", r#"}},"session":{"cookie_name":"__Host-sess"}}"#);
    assert_eq!(err_of(&json).key, "session.cookie_name");
}

/// Fuzz finding (security review): a non-ASCII host never reaches url's IDNA stub.
#[test]
fn non_ascii_urls_are_refused_before_parsing() {
    let e = err_of(&MIN.replace("https://op.example", "https://E\u{34d}\u{725}.example"));
    assert_eq!(e.key, "providers.main.issuer");
    assert!(e.fix.contains("punycode"), "{e}");
    let json = MIN.replace("}}}", "}},\"public_origin\":\"https://d\u{f6}cs.example\"}");
    assert_eq!(err_of(&json).key, "public_origin");
    let json = MIN.replace("}}}", "}},\"origin\":\"https://\u{c9}xample.com\"}");
    assert_eq!(err_of(&json).key, "origin");
}

/// `response_type`, `response_mode`, `pushed_authorization_requests`: defaults, refusals that
/// name the key, and the check against static metadata.
#[test]
fn response_type_mode_and_par() {
    use crate::core::oidc::par::ParMode;
    use crate::core::oidc::response::{ResponseMode, ResponseType};
    let with = |extra: &str| {
        format!(r#"{{"providers":{{"main":{{"issuer":"https://op.example","client_id":"rp"{extra}}}}}}}"#)
    };
    let p = parse(MIN).unwrap().providers.remove(0);
    assert_eq!(
        (p.response_type, p.response_mode, p.par),
        (ResponseType::Code, ResponseMode::Query, ParMode::Auto)
    );
    let p = parse(&with(r#","response_type":"id_token code""#))
        .unwrap()
        .providers
        .remove(0);
    assert_eq!(
        (p.response_type, p.response_mode),
        (ResponseType::CodeIdToken, ResponseMode::Fragment)
    );
    let p = parse(&with(
        r#","response_type":"id_token token","response_mode":"form_post","pushed_authorization_requests":"on""#,
    ))
    .unwrap()
    .providers
    .remove(0);
    assert_eq!(
        (p.response_type, p.response_mode, p.par),
        (ResponseType::IdTokenToken, ResponseMode::FormPost, ParMode::On)
    );
    let p = parse(&with(r#","response_mode":"form_post""#))
        .unwrap()
        .providers
        .remove(0);
    assert_eq!(
        (p.response_type, p.response_mode),
        (ResponseType::Code, ResponseMode::FormPost)
    );
    let refused: &[(&str, &str, &str)] = &[
        (
            r#","response_type":"token""#,
            "providers.main.response_type",
            "is not a response type",
        ),
        (
            r#","response_type":"code code""#,
            "providers.main.response_type",
            "is not a response type",
        ),
        (
            r#","response_mode":"web_message""#,
            "providers.main.response_mode",
            "is not a response mode",
        ),
        (
            r#","response_type":"code id_token","response_mode":"query""#,
            "providers.main.response_mode",
            "`query` cannot carry the tokens",
        ),
        (
            r#","pushed_authorization_requests":"yes""#,
            "providers.main.pushed_authorization_requests",
            "use auto, on or off",
        ),
    ];
    for (extra, key, text) in refused {
        let e = err_of(&with(extra));
        assert_eq!(e.key, *key, "{extra}");
        assert!(e.to_string().contains(text), "{e}");
    }
    // Static metadata: what the provider lists is checked now.
    let meta = |fields: &str| {
        with(&format!(
            r#","response_type":"code id_token","response_mode":"form_post","metadata":{{"authorization_endpoint":"https://op.example/a","token_endpoint":"https://op.example/t","jwks_uri":"https://op.example/j"{fields}}}"#
        ))
    };
    assert!(parse(&meta("")).is_ok(), "nothing listed: nothing to check");
    assert!(parse(&meta(
        r#","response_types_supported":["id_token code"],"response_modes_supported":["form_post"]"#
    ))
    .is_ok());
    let e = err_of(&meta(r#","response_types_supported":["code","id_token"]"#));
    assert_eq!(e.key, "providers.main.response_type");
    assert!(e.problem.contains("response_types_supported: code, id_token"), "{e}");
    let e = err_of(&meta(r#","response_modes_supported":["query","fragment"]"#));
    assert_eq!(e.key, "providers.main.response_mode");
    let e = err_of(&meta(r#","require_pushed_authorization_requests":true,"pushed_authorization_request_endpoint":"https://op.example/par""#)
        .replace(r#""response_mode":"form_post""#, r#""response_mode":"form_post","pushed_authorization_requests":"off""#));
    assert_eq!(e.key, "providers.main.pushed_authorization_requests");
    assert!(e.fix.contains("auto or on"), "{e}");
    let e = err_of(&meta("").replace(
        r#""response_mode":"form_post""#,
        r#""response_mode":"form_post","pushed_authorization_requests":"on""#,
    ));
    assert!(e.problem.contains("no pushed_authorization_request_endpoint"), "{e}");
    let e = err_of(&meta(
        r#","pushed_authorization_request_endpoint":"http://op.example/par""#,
    ));
    assert!(e.problem.contains("pushed_authorization_request_endpoint"), "{e}");
}
