use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn target_url_keeps_the_request_url_unless_told_otherwise() {
    let req = url("https://site.example/a/b%2Fc?x=1&y=%20");
    assert_eq!(target_url(&req, None, None), "https://site.example/a/b%2Fc?x=1&y=%20");
}

#[test]
fn target_url_takes_the_canonical_path_and_query() {
    let req = url("https://site.example/a//b/./c?x=1");
    assert_eq!(
        target_url(&req, Some("/a/b/c?x=1"), None),
        "https://site.example/a/b/c?x=1"
    );
    assert_eq!(target_url(&req, Some("/"), None), "https://site.example/");
    let port = url("http://127.0.0.1:8787/x");
    assert_eq!(target_url(&port, Some("/y"), None), "http://127.0.0.1:8787/y");
}

#[test]
fn target_url_goes_to_the_origin_with_the_request_path() {
    let req = url("https://site.example/reports/1?q=a%26b");
    let origin = url("http://10.0.0.5:8080/ignored/path");
    assert_eq!(
        target_url(&req, None, Some(&origin)),
        "http://10.0.0.5:8080/reports/1?q=a%26b"
    );
    assert_eq!(
        target_url(&req, Some("/reports/2"), Some(&origin)),
        "http://10.0.0.5:8080/reports/2"
    );
    let https = url("https://origin.example");
    assert_eq!(
        target_url(&url("https://site.example/"), None, Some(&https)),
        "https://origin.example/"
    );
}

#[test]
fn identity_header_copies_in_any_case_and_spelling() {
    let names = RemovedNames::new(&["x-auth-email".to_owned(), "x-auth-subject".to_owned()]);
    for copy in [
        "x-auth-email",
        "X-Auth-Email",
        "X_AUTH_EMAIL",
        "x-auth_email",
        "x_auth-subject",
    ] {
        assert!(names.contains(copy), "{copy}");
    }
    for other in [
        "x-auth-emails",
        "x-auth-emai",
        "x-auth",
        "cookie",
        "x-auth-name",
        "x.auth.email",
        "",
    ] {
        assert!(!names.contains(other), "{other}");
    }
    assert!(!RemovedNames::default().contains("x-auth-email"));
}

#[test]
fn configured_names_with_underscores_or_capitals_match_too() {
    let names = RemovedNames::new(&["X_Remote_User".to_owned()]);
    assert!(names.contains("x-remote-user"));
    assert!(names.contains("X_REMOTE-USER"));
}

#[test]
fn private_is_added_or_replaces_public() {
    let cases = [
        (None, "private"),
        (Some(""), "private"),
        (Some("  "), "private"),
        (Some("public"), "private"),
        (Some("PUBLIC, max-age=600"), "private, max-age=600"),
        (
            Some("public, max-age=0, must-revalidate"),
            "private, max-age=0, must-revalidate",
        ),
        (Some("max-age=60"), "private, max-age=60"),
        (Some("s-maxage=600, max-age=60"), "private, s-maxage=600, max-age=60"),
        (Some("no-cache"), "private, no-cache"),
        (Some("max-age=60, public, public"), "max-age=60, private"),
        (Some("public,,max-age=5,"), "private, max-age=5"),
        // A qualified private only hides the named fields: made unqualified.
        (Some(r#"private="set-cookie", max-age=60"#), "private, max-age=60"),
        // A comma inside a quoted string does not end the directive.
        (
            Some(r#"no-cache="a, private", max-age=9"#),
            r#"private, no-cache="a, private", max-age=9"#,
        ),
        (Some(r#"ext="x\", private", public"#), r#"ext="x\", private", private"#),
    ];
    for (value, want) in cases {
        assert_eq!(private_cache_control(value).as_deref(), Some(want), "{value:?}");
    }
}

#[test]
fn private_or_no_store_stay_as_they_are() {
    for value in [
        "private",
        "Private, max-age=60",
        "no-store",
        "max-age=0, NO-STORE",
        "public, no-store",
        " private ",
    ] {
        assert_eq!(private_cache_control(Some(value)), None, "{value}");
    }
}
