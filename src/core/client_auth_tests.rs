use super::*;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use std::sync::OnceLock;

fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap())
}

fn form_pairs(form: String) -> Vec<(String, String)> {
    form_urlencoded::parse(form.as_bytes()).into_owned().collect()
}

type Pairs = Vec<(String, String)>;

fn run(client: &Client) -> (Pairs, Vec<(&'static str, String)>) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    let mut headers = Vec::new();
    authenticate(
        client,
        "https://op.example/token",
        &mut form,
        &mut headers,
        1_700_000_000,
        "jti-1",
    )
    .unwrap();
    (form_pairs(form.finish()), headers)
}

fn client(method: AuthMethod, secret: Option<&str>, key: Option<PrivateKey>) -> Client {
    Client {
        client_id: "rp 1".into(),
        method,
        secret: secret.map(Secret::new),
        private_key: key.map(Rc::new),
    }
}

#[test]
fn basic_auth_form_encodes_before_base64() {
    // RFC 6749 §2.3.1: "rp 1" / "p:ss wörd" are form-urlencoded first.
    let h = basic_auth("rp 1", &Secret::new("p:ss wörd"));
    let decoded = Base64::decode_vec(h.trim_start_matches("Basic ")).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), "rp+1:p%3Ass+w%C3%B6rd");
}

#[test]
fn secret_methods() {
    let (form, headers) = run(&client(AuthMethod::ClientSecretBasic, Some("s"), None));
    assert!(form.is_empty());
    assert_eq!(headers, vec![("authorization", basic_auth("rp 1", &Secret::new("s")))]);
    let (form, headers) = run(&client(AuthMethod::ClientSecretPost, Some("s3"), None));
    assert!(headers.is_empty());
    assert_eq!(
        form,
        vec![
            ("client_id".into(), "rp 1".into()),
            ("client_secret".into(), "s3".into())
        ]
    );
    let (form, _) = run(&client(AuthMethod::None, None, None));
    assert_eq!(form, vec![("client_id".into(), "rp 1".into())]);
}

#[test]
fn missing_credentials_are_errors() {
    let mut form = form_urlencoded::Serializer::new(String::new());
    let mut headers = Vec::new();
    for m in [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretJwt,
        AuthMethod::PrivateKeyJwt,
    ] {
        let e = authenticate(&client(m, None, None), "https://op/t", &mut form, &mut headers, 0, "j").unwrap_err();
        assert!(matches!(e, ClientAuthError::MissingCredential(_)), "{m:?}");
    }
}

fn assertion_of(form: &[(String, String)]) -> String {
    assert!(form.contains(&(
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()
    )));
    form.iter()
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// The assertion's payload exactly as sent (jwt-compact moves exp/iat out of `custom`).
fn payload(assertion: &str) -> serde_json::Value {
    let part = assertion.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

fn check_claims(claims: &serde_json::Value) {
    assert_eq!(claims["iss"], "rp 1");
    assert_eq!(claims["sub"], "rp 1");
    assert_eq!(claims["aud"], "https://op.example/token");
    assert_eq!(claims["jti"], "jti-1");
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(claims["exp"], 1_700_000_060);
}

#[test]
fn client_secret_jwt_is_hs256_with_the_secret() {
    let (form, _) = run(&client(AuthMethod::ClientSecretJwt, Some("a long shared secret"), None));
    let assertion = assertion_of(&form);
    let token = UntrustedToken::new(&assertion).unwrap();
    assert_eq!(token.algorithm(), "HS256");
    let key = Hs256Key::new(b"a long shared secret");
    let valid = Hs256.validator::<serde_json::Value>(&key).validate(&token).unwrap();
    assert_eq!(valid.claims().custom["sub"], "rp 1");
    check_claims(&payload(&assertion));
    let wrong = Hs256Key::new(b"another secret");
    assert!(Hs256.validator::<serde_json::Value>(&wrong).validate(&token).is_err());
}

#[test]
fn private_key_jwt_rs256_verifies_with_the_published_key() {
    let jwk = serde_json::to_string(&JsonWebKey::from(rsa_key())).unwrap();
    let key = PrivateKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.alg(), "RS256");
    let published = public_jwks(std::iter::once(&key));
    assert!(!published.contains("\"d\""), "no private part published: {published}");
    let (form, _) = run(&client(AuthMethod::PrivateKeyJwt, None, Some(key)));
    let assertion = assertion_of(&form);
    let token = UntrustedToken::new(&assertion).unwrap();
    assert_eq!(token.algorithm(), "RS256");
    let doc: serde_json::Value = serde_json::from_str(&published).unwrap();
    assert_eq!(token.header().key_id.as_deref(), doc["keys"][0]["kid"].as_str());
    let public: JsonWebKey<'_> = serde_json::from_value(doc["keys"][0].clone()).unwrap();
    let public = rsa::RsaPublicKey::try_from(&public).unwrap();
    let valid = Rsa::rs256()
        .validator::<serde_json::Value>(&public)
        .validate(&token)
        .unwrap();
    assert_eq!(valid.claims().custom["sub"], "rp 1");
    check_claims(&payload(&assertion));
}

#[test]
fn private_key_jwt_es256() {
    let signing = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let mut jwk = serde_json::to_value(JsonWebKey::from(&signing)).unwrap();
    jwk["kid"] = "k1".into();
    let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
    assert_eq!(key.alg(), "ES256");
    assert_eq!(key.public_jwk()["kid"], "k1");
    let (form, _) = run(&client(AuthMethod::PrivateKeyJwt, None, Some(key)));
    let assertion = assertion_of(&form);
    let token = UntrustedToken::new(&assertion).unwrap();
    let valid = Es256
        .validator::<serde_json::Value>(signing.verifying_key())
        .validate(&token)
        .unwrap();
    assert_eq!(valid.claims().custom["sub"], "rp 1");
    check_claims(&payload(&assertion));
}

#[test]
fn bad_private_keys() {
    for bad in [
        "",
        "{}",
        r#"{"kty":"oct","k":"AAAA"}"#,
        r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
    ] {
        assert!(
            matches!(PrivateKey::from_jwk(bad), Err(ClientAuthError::BadPrivateKey(_))),
            "{bad}"
        );
    }
    let key = PrivateKey::from_jwk(&serde_json::to_string(&JsonWebKey::from(rsa_key())).unwrap()).unwrap();
    assert!(!format!("{key:?}").contains(&format!("{:?}", rsa_key())));
    assert!(format!("{key:?}").contains("[redacted]"));
}

#[test]
fn method_choice() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        choose_method(Some(AuthMethod::ClientSecretPost), None, true, false),
        Ok(AuthMethod::ClientSecretPost)
    );
    assert_eq!(
        choose_method(None, None, true, false),
        Ok(AuthMethod::ClientSecretBasic)
    );
    assert_eq!(
        choose_method(None, Some(&s(&["client_secret_post", "private_key_jwt"])), true, true),
        Ok(AuthMethod::PrivateKeyJwt)
    );
    assert_eq!(
        choose_method(None, Some(&s(&["client_secret_post"])), true, false),
        Ok(AuthMethod::ClientSecretPost)
    );
    assert_eq!(
        choose_method(None, Some(&s(&["none", "client_secret_basic"])), false, false),
        Ok(AuthMethod::None)
    );
    assert!(matches!(
        choose_method(None, Some(&s(&["private_key_jwt"])), true, false),
        Err(ClientAuthError::NoMethod { .. })
    ));
    assert_eq!(
        AuthMethod::from_name("client_secret_jwt"),
        Some(AuthMethod::ClientSecretJwt)
    );
    assert_eq!(AuthMethod::from_name("tls_client_auth"), None);
}
