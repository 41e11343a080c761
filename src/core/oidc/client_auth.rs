//! Client authentication at the token endpoint (OpenID Connect Core §9): `client_secret_basic`,
//! `client_secret_post`, `client_secret_jwt`, `private_key_jwt` and `none`.

use crate::core::crypto::secret::{b64url, Secret};
use crate::core::crypto::{self, PrivateKeyJwk, PublicKeyJwk, Signatures};
use base64ct::{Base64, Encoding};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;
use url::form_urlencoded;

/// Why a client could not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    /// The private key is not a private JWK of a supported type.
    #[error("the private key is not a private RSA or P-256 JSON Web Key: {0}")]
    BadPrivateKey(String),
    /// No method fits what the provider supports and what is configured.
    #[error("no client authentication method fits: the provider supports {supported}, edge-oidc has {have}")]
    NoMethod {
        /// What the provider lists.
        supported: String,
        /// What the configuration allows.
        have: String,
    },
    /// The method needs a secret or key that is not configured.
    #[error("client authentication `{0}` needs a secret or key that is not configured")]
    MissingCredential(&'static str),
    /// Signing the client assertion failed.
    #[error("the client assertion could not be signed")]
    Signing,
}

/// A token endpoint authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT MACed with the client secret (HS256).
    ClientSecretJwt,
    /// A JWT signed with the client's private key (RS256 or ES256).
    PrivateKeyJwt,
    /// A public client: PKCE protects the code.
    None,
}

impl AuthMethod {
    /// Parses the registered name.
    pub fn from_name(name: &str) -> Option<AuthMethod> {
        Some(match name {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "client_secret_jwt" => AuthMethod::ClientSecretJwt,
            "private_key_jwt" => AuthMethod::PrivateKeyJwt,
            "none" => AuthMethod::None,
            _ => return None,
        })
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
}

/// The client's private key for `private_key_jwt`. `Debug` prints no key material.
pub struct PrivateKey {
    jwk: PrivateKeyJwk,
    kid: String,
    public_jwk: serde_json::Value,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey {{ kid: {:?}, key: [redacted] }}", self.kid)
    }
}

impl PrivateKey {
    /// Parses a private JWK (RSA with `d`, `p`, `q`, `dp`, `dq`, `qi`, or EC P-256 with `d`).
    /// Without a `kid`, the RFC 7638 thumbprint is used, so the provider can match it in our
    /// JWKS. The shape is checked here; whether the private parts belong to the public ones is
    /// checked when the runtime imports the key for the first signature.
    ///
    /// Errors are fixed texts that may name a JWK member but never quote a value: the key is a
    /// secret, and configuration errors reach the log.
    pub fn from_jwk(json: &str) -> Result<PrivateKey, ClientAuthError> {
        let bad = |e: &dyn fmt::Display| ClientAuthError::BadPrivateKey(e.to_string());
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|_| bad(&"it is not a JSON object (a private JWK)"))?;
        check_jwk_members(&value)?;
        let jwk: JsonWebKey<'_> =
            serde_json::from_str(json).map_err(|_| bad(&"its members do not form an RSA or EC P-256 private key"))?;
        let key = match &jwk {
            JsonWebKey::Rsa {
                modulus,
                public_exponent,
                private_parts: Some(parts),
            } => {
                if !parts.other_prime_factors.is_empty() {
                    return Err(bad(&"multi-prime RSA keys (oth) are not supported"));
                }
                PrivateKeyJwk::rsa(
                    modulus,
                    public_exponent,
                    &parts.private_exponent,
                    &parts.prime_factor_p,
                    &parts.prime_factor_q,
                    parts.p_crt_exponent.as_deref(),
                    parts.q_crt_exponent.as_deref(),
                    parts.q_crt_coefficient.as_deref(),
                )
            }
            JsonWebKey::Rsa { .. } => return Err(bad(&"the RSA key has no private parts (d, p, q)")),
            JsonWebKey::EllipticCurve { curve, x, y, secret } if curve == "P-256" => match secret {
                Some(d) => PrivateKeyJwk::p256(x, y, d),
                None => return Err(bad(&"the EC key has no private part (d)")),
            },
            _ => return Err(bad(&"only RSA and EC P-256 keys are supported")),
        }
        .map_err(|e| bad(&e))?;
        let public = public_jwk_of(key.public());
        let thumbprint = b64url(&public.thumbprint::<sha2::Sha256>());
        let mut public_jwk =
            serde_json::to_value(&public).map_err(|_| bad(&"the public key cannot be written as a JWK"))?;
        drop(public);
        let kid = value
            .get("kid")
            .and_then(|k| k.as_str())
            .map_or(thumbprint, str::to_owned);
        if let Some(obj) = public_jwk.as_object_mut() {
            obj.insert("kid".into(), kid.clone().into());
            obj.insert("use".into(), "sig".into());
            obj.insert("alg".into(), key.alg().name().into());
        }
        Ok(PrivateKey {
            jwk: key,
            kid,
            public_jwk,
        })
    }

    /// The public half, as a JWK (with `kid`, `use`, `alg`).
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// `RS256` or `ES256`.
    pub fn alg(&self) -> &'static str {
        self.jwk.alg().name()
    }

    /// The key id published with the public half (the JWK's `kid`, else its RFC 7638
    /// thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key material (for the runtime's signature).
    pub fn jwk(&self) -> &PrivateKeyJwk {
        &self.jwk
    }
}

/// Checks the members of a private JWK before anything parses them, with errors that name the
/// member and never show its value: `kty` is `RSA` or `EC`, and every key member present is
/// unpadded base64url (RFC 7518 §6: Base64urlUInt, no padding, no `+`/`/`).
fn check_jwk_members(value: &serde_json::Value) -> Result<(), ClientAuthError> {
    let bad = |m: &str| Err(ClientAuthError::BadPrivateKey(m.to_owned()));
    let Some(obj) = value.as_object() else {
        return bad("it is not a JSON object (a private JWK)");
    };
    match obj.get("kty").and_then(|k| k.as_str()) {
        Some("RSA" | "EC") => {}
        _ => return bad("member `kty` must be \"RSA\" or \"EC\""),
    }
    for member in ["n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y"] {
        let Some(v) = obj.get(member) else { continue };
        let valid = v
            .as_str()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !valid {
            return Err(ClientAuthError::BadPrivateKey(format!(
                "member `{member}` is not unpadded base64url (no `=`, `+` or `/`)"
            )));
        }
    }
    Ok(())
}

/// The public JWK members of a key (RFC 7638 thumbprint input).
fn public_jwk_of(key: &PublicKeyJwk) -> JsonWebKey<'_> {
    match key {
        PublicKeyJwk::Rsa { n, e } => JsonWebKey::Rsa {
            modulus: Cow::Borrowed(n),
            public_exponent: Cow::Borrowed(e),
            private_parts: None,
        },
        PublicKeyJwk::P256 { x, y } => JsonWebKey::EllipticCurve {
            curve: Cow::Borrowed("P-256"),
            x: Cow::Borrowed(x),
            y: Cow::Borrowed(y),
            secret: None,
        },
        PublicKeyJwk::Ed25519 { x } => JsonWebKey::KeyPair {
            curve: Cow::Borrowed("Ed25519"),
            x: Cow::Borrowed(x),
            secret: None,
        },
    }
}

/// A JWK Set document of public keys (RFC 7517 §5), served at the worker's `jwks_path`.
pub fn public_jwks<'a>(keys: impl Iterator<Item = &'a PrivateKey>) -> String {
    let keys: Vec<&serde_json::Value> = keys.map(PrivateKey::public_jwk).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The credentials a token request is made with.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// The method.
    pub method: AuthMethod,
    /// The client secret (secret methods).
    pub secret: Option<Secret>,
    /// The private key (`private_key_jwt`).
    pub private_key: Option<Rc<PrivateKey>>,
}

/// Picks the method: the configured one, else the first of ours that the provider lists in
/// `token_endpoint_auth_methods_supported` (default `client_secret_basic`, Discovery §3),
/// strongest first.
pub fn choose_method(
    configured: Option<AuthMethod>,
    supported: Option<&[String]>,
    has_secret: bool,
    has_key: bool,
) -> Result<AuthMethod, ClientAuthError> {
    if let Some(m) = configured {
        return Ok(m);
    }
    let ours: Vec<AuthMethod> = [
        (has_key, AuthMethod::PrivateKeyJwt),
        (has_secret, AuthMethod::ClientSecretBasic),
        (has_secret, AuthMethod::ClientSecretPost),
        (has_secret, AuthMethod::ClientSecretJwt),
        (!has_secret && !has_key, AuthMethod::None),
    ]
    .into_iter()
    .filter_map(|(ok, m)| ok.then_some(m))
    .collect();
    let default = ["client_secret_basic".to_owned()];
    let supported = supported.unwrap_or(&default);
    ours.iter()
        .copied()
        .find(|m| supported.iter().any(|s| s == m.name()))
        .ok_or_else(|| ClientAuthError::NoMethod {
            supported: supported.join(", "),
            have: ours.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
        })
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: &'a str,
    exp: i64,
    iat: i64,
}

/// Adds the client's credentials to a token request (form body and headers).
/// `jti` must be fresh randomness; `now` is unix seconds. `signatures` signs
/// `private_key_jwt` assertions.
pub async fn authenticate(
    client: &Client,
    token_endpoint: &str,
    form: &mut form_urlencoded::Serializer<'_, String>,
    headers: &mut Vec<(&'static str, String)>,
    now: i64,
    jti: &str,
    signatures: &dyn Signatures,
) -> Result<(), ClientAuthError> {
    let secret = || {
        client
            .secret
            .as_ref()
            .ok_or(ClientAuthError::MissingCredential(client.method.name()))
    };
    match client.method {
        AuthMethod::ClientSecretBasic => headers.push(("authorization", basic_auth(&client.client_id, secret()?))),
        AuthMethod::ClientSecretPost => {
            form.append_pair("client_id", &client.client_id)
                .append_pair("client_secret", secret()?.expose());
        }
        AuthMethod::None => {
            form.append_pair("client_id", &client.client_id);
        }
        AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt => {
            // Core §9: iss = sub = client_id, aud = the token endpoint, a unique jti, short exp.
            let claims = AssertionClaims {
                iss: &client.client_id,
                sub: &client.client_id,
                aud: token_endpoint,
                jti,
                exp: now + 60,
                iat: now,
            };
            let assertion = sign_assertion(client, &claims, signatures).await?;
            form.append_pair("client_id", &client.client_id)
                .append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", &assertion);
        }
    }
    Ok(())
}

async fn sign_assertion(
    client: &Client,
    claims: &AssertionClaims<'_>,
    signatures: &dyn Signatures,
) -> Result<String, ClientAuthError> {
    if client.method == AuthMethod::ClientSecretJwt {
        let secret = client
            .secret
            .as_ref()
            .ok_or(ClientAuthError::MissingCredential("client_secret_jwt"))?;
        let key = Hs256Key::new(secret.expose().as_bytes());
        return Hs256
            .token(&Header::empty(), &Claims::new(claims), &key)
            .map_err(|_| ClientAuthError::Signing);
    }
    let key = client
        .private_key
        .as_ref()
        .ok_or(ClientAuthError::MissingCredential("private_key_jwt"))?;
    let payload = serde_json::to_vec(claims).map_err(|_| ClientAuthError::Signing)?;
    sign_jws(key, None, &payload, signatures).await
}

/// A compact JWS (RFC 7515 §7.1) of `payload` signed with `key` (header `alg`, `kid`, and `typ`
/// when given); the runtime signs. Client assertions and the identity assertion to the origin
/// (src/core/site/assertion.rs).
pub async fn sign_jws(
    key: &PrivateKey,
    typ: Option<&str>,
    payload: &[u8],
    signatures: &dyn Signatures,
) -> Result<String, ClientAuthError> {
    #[derive(Serialize)]
    struct JwsHeader<'a> {
        alg: &'a str,
        kid: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        typ: Option<&'a str>,
    }
    let header = JwsHeader {
        alg: key.alg(),
        kid: &key.kid,
        typ,
    };
    let header = serde_json::to_vec(&header).map_err(|_| ClientAuthError::Signing)?;
    let signing_input = format!("{}.{}", b64url(&header), b64url(payload));
    let signature = crypto::sign(signatures, &key.jwk, signing_input.as_bytes())
        .await
        .map_err(|_| ClientAuthError::Signing)?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic_auth(client_id: &str, secret: &Secret) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let pw: String = form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
    format!("Basic {}", Base64::encode_string(format!("{id}:{pw}").as_bytes()))
}

#[cfg(test)]
mod tests;
