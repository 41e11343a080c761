use super::*;
use crate::core::crypto::rust::RustCrypto;
use crate::core::crypto::secret::Secret;
use crate::core::oidc::authorize::tests::{metadata, provider, request};
use crate::core::oidc::response::{ResponseMode, ResponseType};
use base64ct::Encoding;

fn client(method: AuthMethod) -> Client {
    Client {
        client_id: "client 1".into(),
        method,
        secret: Some(Secret::new("s3cret")),
        private_key: None,
    }
}

fn form(request: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(request.body.as_deref().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn push(method: AuthMethod) -> HttpRequest {
    let (provider, metadata) = (provider(ResponseType::CodeIdToken, ResponseMode::FormPost), metadata());
    let hint = [("login_hint".to_owned(), "bob".to_owned())];
    let req = request(&provider, &metadata, &hint);
    let client = client(method);
    let pushed = push_request(
        &req,
        &client,
        "https://op.example/par",
        "https://op.example",
        1000,
        "jti-1",
        &RustCrypto,
    );
    futures::executor::block_on(pushed).unwrap()
}

/// RFC 9126 §2.1: every authorization parameter, `client_id` exactly once, the client's
/// authentication as at the token endpoint.
#[test]
fn the_pushed_request_carries_every_parameter_and_the_client_authentication() {
    let basic = push(AuthMethod::ClientSecretBasic);
    assert_eq!((basic.method, basic.url.as_str()), ("POST", "https://op.example/par"));
    assert!(!basic.follow_redirects);
    assert!(basic
        .headers
        .iter()
        .any(|(k, v)| *k == "authorization" && v.starts_with("Basic ")));
    let body = form(&basic);
    let names: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
    for expected in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "prompt",
        "login_hint",
    ] {
        assert_eq!(
            names.iter().filter(|n| **n == expected).count(),
            1,
            "{expected} in {names:?}"
        );
    }
    assert!(body.contains(&("response_mode".into(), "form_post".into())));
    for method in [
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
        AuthMethod::ClientSecretJwt,
    ] {
        let body = form(&push(method));
        let ids = body.iter().filter(|(k, _)| k == "client_id").count();
        assert_eq!(ids, 1, "{method:?}: {body:?}");
    }
    let post = form(&push(AuthMethod::ClientSecretPost));
    assert!(post.contains(&("client_secret".into(), "s3cret".into())));
}

/// RFC 9126 §2: a JWT client assertion is addressed to the issuer.
#[test]
fn a_client_assertion_is_addressed_to_the_issuer() {
    let body = form(&push(AuthMethod::ClientSecretJwt));
    let assertion = body
        .iter()
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v)
        .unwrap();
    let payload = assertion.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], "https://op.example");
    assert_eq!(claims["iss"], "client 1");
}

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse::json(status, body)
}

#[test]
fn responses() {
    let ok = r#"{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}"#;
    assert_eq!(
        parse_response(&resp(201, ok)).unwrap(),
        "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"
    );
    assert!(parse_response(&resp(200, ok)).is_ok());
    assert_eq!(
        parse_response(&resp(
            400,
            r#"{"error":"invalid_request","error_description":"bad scope"}"#
        )),
        Err(TokenError::Provider {
            error: "invalid_request".into(),
            description: Some("bad scope".into())
        })
    );
    assert_eq!(
        parse_response(&resp(401, r#"{"error":"invalid_client"}"#)),
        Err(TokenError::Provider {
            error: "invalid_client".into(),
            description: None
        })
    );
    assert_eq!(parse_response(&resp(503, "down")), Err(TokenError::Status(503)));
    assert!(matches!(
        parse_response(&resp(201, "{}")),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        parse_response(&resp(201, r#"{"request_uri":""}"#)),
        Err(TokenError::Malformed(_))
    ));
    let long = format!(r#"{{"request_uri":"{}"}}"#, "u".repeat(MAX_REQUEST_URI + 1));
    assert!(matches!(
        parse_response(&resp(201, &long)),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn when_to_push() {
    let plain = metadata();
    let offered = ProviderMetadata {
        pushed_authorization_request_endpoint: Some("https://op.example/par".into()),
        ..metadata()
    };
    let required = ProviderMetadata {
        require_pushed_authorization_requests: true,
        ..offered.clone()
    };
    assert_eq!(endpoint(ParMode::Auto, &plain), Ok(None));
    assert_eq!(endpoint(ParMode::Auto, &offered), Ok(None), "offered is not required");
    assert_eq!(endpoint(ParMode::Auto, &required), Ok(Some("https://op.example/par")));
    assert_eq!(endpoint(ParMode::On, &offered), Ok(Some("https://op.example/par")));
    assert_eq!(endpoint(ParMode::On, &plain), Err(ParSetupError::NoEndpoint));
    assert_eq!(endpoint(ParMode::Off, &offered), Ok(None));
    assert_eq!(endpoint(ParMode::Off, &required), Err(ParSetupError::Required));
    assert_eq!(ParMode::parse("on"), Some(ParMode::On));
    assert_eq!(ParMode::parse("yes"), None);
}
