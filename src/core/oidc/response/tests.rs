use super::*;

#[test]
fn response_types_parse_in_any_word_order_and_only_once() {
    for t in RESPONSE_TYPES {
        assert_eq!(ResponseType::parse(t.as_str()), Some(t));
    }
    assert_eq!(ResponseType::parse("id_token code"), Some(ResponseType::CodeIdToken));
    assert_eq!(
        ResponseType::parse("token id_token code"),
        Some(ResponseType::CodeIdTokenToken)
    );
    for bad in [
        "",
        "token",
        "none",
        "code code",
        "code  id_token",
        " code",
        "CODE",
        "code id_token token x",
    ] {
        assert_eq!(ResponseType::parse(bad), None, "{bad:?}");
    }
    assert!(ResponseType::CodeIdToken.listed_in(&["code".into(), "id_token code".into()]));
    assert!(!ResponseType::CodeIdToken.listed_in(&["code".into(), "id_token".into()]));
    assert!(!ResponseType::IdToken.listed_in(&["id_token id_token".into()]));
}

#[test]
fn what_each_type_returns_and_its_default_mode() {
    use ResponseType as T;
    let table = [
        (T::Code, (true, false, false), ResponseMode::Query),
        (T::IdToken, (false, true, false), ResponseMode::Fragment),
        (T::IdTokenToken, (false, true, true), ResponseMode::Fragment),
        (T::CodeIdToken, (true, true, false), ResponseMode::Fragment),
        (T::CodeToken, (true, false, true), ResponseMode::Fragment),
        (T::CodeIdTokenToken, (true, true, true), ResponseMode::Fragment),
    ];
    for (t, parts, mode) in table {
        assert_eq!((t.code(), t.id_token(), t.token()), parts, "{}", t.as_str());
        assert_eq!(t.default_mode(), mode);
    }
    assert!(!ResponseMode::Query.posted());
    assert!(ResponseMode::Fragment.posted() && ResponseMode::FormPost.posted());
    assert_eq!(ResponseMode::parse("form_post"), Some(ResponseMode::FormPost));
    assert_eq!(ResponseMode::parse("web_message"), None);
}

#[test]
fn parses_a_query_and_refuses_repeats_of_any_parameter() {
    let r =
        AuthorizationResponse::from_query("code=c&state=s&iss=https%3A%2F%2Fop&session_state=x&scope=openid").unwrap();
    assert_eq!(r.code.as_deref(), Some("c"));
    assert_eq!(r.state.as_deref(), Some("s"));
    assert_eq!(r.iss.as_deref(), Some("https://op"));
    assert!(!r.relayed);
    assert_eq!(
        AuthorizationResponse::from_query("state=a&code=c&state=b"),
        Err(ResponseError::Repeated("state".into()))
    );
    assert_eq!(
        AuthorizationResponse::from_query("x=1&y=2&x=3"),
        Err(ResponseError::Repeated("x".into())),
        "ignored parameters may not repeat either"
    );
    let long = format!("state=s&pad={}", "p".repeat(MAX_QUERY));
    assert_eq!(
        AuthorizationResponse::from_query(&long),
        Err(ResponseError::TooLong("query"))
    );
}

#[test]
fn parses_a_form_body() {
    let body = b"id_token=a.b.c&access_token=at&token_type=Bearer&expires_in=300&state=s&edge_oidc_relay=1";
    let r = AuthorizationResponse::from_form(Some("application/x-www-form-urlencoded"), body).unwrap();
    assert_eq!(r.id_token.as_deref(), Some("a.b.c"));
    assert_eq!(r.access_token.as_deref(), Some("at"));
    assert_eq!(r.token_type.as_deref(), Some("Bearer"));
    assert_eq!(r.expires_in.as_deref(), Some("300"));
    assert!(r.relayed);
    let with_charset =
        AuthorizationResponse::from_form(Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), b"state=s");
    assert_eq!(with_charset.unwrap().state.as_deref(), Some("s"));
    for bad in [
        None,
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json"),
    ] {
        assert_eq!(
            AuthorizationResponse::from_form(bad, b"state=s"),
            Err(ResponseError::NotForm),
            "{bad:?}"
        );
    }
    let big = vec![b'a'; MAX_BODY + 1];
    assert_eq!(
        AuthorizationResponse::from_form(Some("application/x-www-form-urlencoded"), &big),
        Err(ResponseError::TooLong("body"))
    );
    assert_eq!(
        AuthorizationResponse::from_form(
            Some("application/x-www-form-urlencoded"),
            b"edge_oidc_relay=1&edge_oidc_relay=1"
        ),
        Err(ResponseError::Repeated(RELAY_MARKER.into()))
    );
    // Not UTF-8, `+` and escapes: decoded as a browser encoded them, never a panic.
    let odd = AuthorizationResponse::from_form(Some("application/x-www-form-urlencoded"), b"state=a+b%20c%FF&code=%")
        .unwrap();
    assert_eq!(odd.state.as_deref(), Some("a b c\u{fffd}"));
    assert_eq!(odd.code.as_deref(), Some("%"));
}

#[test]
fn pairs_are_what_a_relay_posts_again() {
    let r = AuthorizationResponse::from_query("state=s&code=c&other=x&iss=i").unwrap();
    assert_eq!(r.pairs(), [("state", "s"), ("code", "c"), ("iss", "i")]);
    let back = AuthorizationResponse::parse(
        r.pairs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!((back.state, back.code, back.iss), (r.state, r.code, r.iss));
}

#[test]
fn the_parts_must_be_exactly_those_of_the_response_type() {
    let with = |q: &str| AuthorizationResponse::from_query(q).unwrap();
    use ResponseType as T;
    assert_eq!(with("code=c").check_parts(T::Code), Ok(()));
    assert_eq!(
        with("code=c&id_token=x").check_parts(T::Code),
        Err(ResponseError::Unexpected("id_token")),
        "a code login answered with a front-channel ID token"
    );
    assert_eq!(
        with("code=c&access_token=a").check_parts(T::Code),
        Err(ResponseError::Unexpected("access_token"))
    );
    assert_eq!(with("id_token=x").check_parts(T::IdToken), Ok(()));
    assert_eq!(
        with("id_token=x&code=c").check_parts(T::IdToken),
        Err(ResponseError::Unexpected("code"))
    );
    assert_eq!(
        with("id_token=x").check_parts(T::IdTokenToken),
        Err(ResponseError::Missing("access_token"))
    );
    assert_eq!(
        with("code=c&id_token=").check_parts(T::CodeIdToken),
        Err(ResponseError::Missing("id_token"))
    );
    assert_eq!(
        with("id_token=x").check_parts(T::CodeIdToken),
        Err(ResponseError::Missing("code"))
    );
    assert_eq!(with("code=c&access_token=a").check_parts(T::CodeToken), Ok(()));
    assert_eq!(
        with("code=c&access_token=a&id_token=x").check_parts(T::CodeIdTokenToken),
        Ok(())
    );
    assert_eq!(
        with("code=c&id_token=x").check_parts(T::CodeIdTokenToken),
        Err(ResponseError::Missing("access_token"))
    );
}
