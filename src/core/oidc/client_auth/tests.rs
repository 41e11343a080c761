use super::*;
use crate::core::crypto::rust::RustCrypto;
use crate::core::crypto::{CryptoError, LocalBoxFuture};
use crate::core::oidc::jwks::Alg;
use jwt_compact::alg::{Es256, Rsa};
use jwt_compact::{AlgorithmExt, UntrustedToken};
use rsa::traits::PrivateKeyParts as _;
use std::sync::OnceLock;

fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap())
}

/// The whole private JWK (with the CRT parameters, which jwt-compact leaves out).
fn rsa_jwk() -> serde_json::Value {
    let key = rsa_key();
    let mut jwk = serde_json::to_value(JsonWebKey::from(key)).unwrap();
    let b64 = |v: &rsa::BigUint| b64url(&v.to_bytes_be());
    jwk["dp"] = b64(key.dp().unwrap()).into();
    jwk["dq"] = b64(key.dq().unwrap()).into();
    jwk["qi"] = b64(&key.crt_coefficient().unwrap()).into();
    jwk
}

fn form_pairs(form: String) -> Vec<(String, String)> {
    form_urlencoded::parse(form.as_bytes()).into_owned().collect()
}

type Pairs = Vec<(String, String)>;
type Sent = (Pairs, Vec<(&'static str, String)>);

fn run_with(client: &Client, signatures: &dyn Signatures) -> Result<Sent, ClientAuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    let mut headers = Vec::new();
    futures::executor::block_on(authenticate(
        client,
        "https://op.example/token",
        &mut form,
        &mut headers,
        1_700_000_000,
        "jti-1",
        signatures,
    ))?;
    Ok((form_pairs(form.finish()), headers))
}

fn run(client: &Client) -> Sent {
    run_with(client, &RustCrypto).unwrap()
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
        let c = client(m, None, None);
        let e = futures::executor::block_on(authenticate(
            &c,
            "https://op/t",
            &mut form,
            &mut headers,
            0,
            "j",
            &RustCrypto,
        ))
        .unwrap_err();
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
    let key = PrivateKey::from_jwk(&rsa_jwk().to_string()).unwrap();
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
        r#"{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ","d":"AQ"}"#,
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
    ] {
        assert!(
            matches!(PrivateKey::from_jwk(bad), Err(ClientAuthError::BadPrivateKey(_))),
            "{bad}"
        );
    }
    // The CRT parameters are required (WebCrypto imports no RSA key without them). Whether a
    // P-256 key's point is on the curve and its scalar in range is the implementation's check,
    // at the first signature (crypto/tests.rs: sign_refuses_invalid_p256_private_keys).
    let without_crt = serde_json::to_string(&JsonWebKey::from(rsa_key())).unwrap();
    assert!(matches!(
        PrivateKey::from_jwk(&without_crt),
        Err(ClientAuthError::BadPrivateKey(_))
    ));
    let signing = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let good = serde_json::to_value(JsonWebKey::from(&signing)).unwrap();
    for (member, value) in [
        ("y", good["x"].clone()),
        ("d", b64url(&[0xff; 32]).into()),
        ("d", b64url(&[0; 32]).into()),
    ] {
        let mut jwk = good.clone();
        jwk[member] = value;
        assert!(PrivateKey::from_jwk(&jwk.to_string()).is_ok(), "{member}: shape only");
    }
    let mut multi = rsa_jwk();
    multi["oth"] = serde_json::json!([{"r": "AQAB", "d": "AQAB", "t": "AQAB"}]);
    assert!(matches!(
        PrivateKey::from_jwk(&multi.to_string()),
        Err(ClientAuthError::BadPrivateKey(_))
    ));
    let key = PrivateKey::from_jwk(&rsa_jwk().to_string()).unwrap();
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

#[test]
fn published_jwk_and_kid_are_those_of_the_public_key() {
    // Without a kid, the RFC 7638 thumbprint of the public key, as jwt-compact computes it.
    let key = PrivateKey::from_jwk(&rsa_jwk().to_string()).unwrap();
    let public_key = rsa_key().to_public_key();
    let public = JsonWebKey::from(&public_key);
    let thumbprint = b64url(&public.thumbprint::<sha2::Sha256>());
    assert_eq!(key.public_jwk()["kid"], thumbprint.as_str());
    let mut expected = serde_json::to_value(&public).unwrap();
    expected["kid"] = thumbprint.into();
    expected["use"] = "sig".into();
    expected["alg"] = "RS256".into();
    assert_eq!(key.public_jwk(), &expected);
    // A modulus sent with a leading zero byte is published without it.
    let mut padded = rsa_jwk();
    let n = base64ct::Base64UrlUnpadded::decode_vec(padded["n"].as_str().unwrap()).unwrap();
    padded["n"] = b64url(&[&[0u8][..], &n].concat()).into();
    let same = PrivateKey::from_jwk(&padded.to_string()).unwrap();
    assert_eq!(same.public_jwk(), key.public_jwk());
}

/// A [`Signatures`] whose signing fails or returns a signature of the wrong length.
struct BadSigner(Result<Vec<u8>, CryptoError>);

impl Signatures for BadSigner {
    fn verify<'a>(
        &'a self,
        _: Alg,
        _: &'a crate::core::crypto::PublicKeyJwk,
        _: &'a [u8],
        _: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, CryptoError>> {
        Box::pin(std::future::ready(Ok(true)))
    }
    fn sign<'a>(
        &'a self,
        _: Alg,
        _: &'a PrivateKeyJwk,
        _: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, CryptoError>> {
        Box::pin(std::future::ready(self.0.clone()))
    }
}

#[test]
fn signing_failures_are_errors() {
    let signing = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let jwk = serde_json::to_string(&JsonWebKey::from(&signing)).unwrap();
    let c = client(
        AuthMethod::PrivateKeyJwt,
        None,
        Some(PrivateKey::from_jwk(&jwk).unwrap()),
    );
    for answer in [Err(CryptoError("importKey failed".into())), Ok(vec![0; 63]), Ok(vec![])] {
        assert_eq!(run_with(&c, &BadSigner(answer)).unwrap_err(), ClientAuthError::Signing);
    }
    assert!(run_with(&c, &BadSigner(Ok(vec![0; 64]))).is_ok());
    // HS256 never asks the runtime.
    let hs = client(AuthMethod::ClientSecretJwt, Some("s"), None);
    assert!(run_with(&hs, &BadSigner(Err(CryptoError("unused".into())))).is_ok());
}
