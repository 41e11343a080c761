//! `assertion`, `forward` and `bearer`: defaults, and errors that name the key and never quote a
//! secret.
use super::super::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// A test key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkSaLOat8vzVkQnot
nHVbn7wmK+/EUCpzNddmU57HwG6hRANCAAQOpUhZ8tH9D/KDHzXA8Q0c0xBCvsD3
QoLwg+fw6AACrNj5/08yngGwwlJXopU+Bcvi2HxTlP21hI5eHZG9FHOK
-----END PRIVATE KEY-----";

fn parse_with(extra: &str, assertion_key: Option<&str>) -> Result<Config, ConfigError> {
    let json = format!(r#"{{"providers":{{"main":{{"issuer":"https://op.example","client_id":"rp"}}}}{extra}}}"#);
    Config::from_json(&json, &|name| match name {
        "COOKIE_KEYS" => Some(KEY.to_owned()),
        "ASSERTION_KEY" => assertion_key.map(str::to_owned),
        _ => None,
    })
}

fn key_of(extra: &str, assertion_key: Option<&str>) -> String {
    match parse_with(extra, assertion_key) {
        Err(e) => e.key,
        Ok(_) => panic!("accepted: {extra}"),
    }
}

#[test]
fn defaults() {
    let c = parse_with(
        r#","assertion":{},"forward":{"access_token":"Authorization"}"#,
        Some(PEM),
    )
    .expect("valid");
    let a = c.assertion.expect("assertion");
    assert_eq!(a.header, "x-edge-oidc-assertion");
    assert_eq!(a.jwks_path, "/.well-known/edge-oidc/jwks.json");
    assert_eq!(a.lifetime_secs, 300);
    assert!(a.next.is_none());
    assert_eq!(c.forward.access_token.as_deref(), Some("authorization"));
    assert!(c.bearer.is_none());
    let c = parse_with(r#","bearer":{"audiences":["https://api"]}"#, None).expect("valid");
    let b = c.bearer.expect("bearer");
    assert_eq!(b.policy.provider, "main");
    assert!(b.policy.require_typ);
    assert_eq!(b.policy.introspection_cache_secs, 300);
}

#[test]
fn errors_name_the_key() {
    assert_eq!(key_of(r#","assertion":{}"#, None), "ASSERTION_KEY");
    assert_eq!(key_of(r#","assertion":{}"#, Some("{\"kty\":\"EC\"}")), "ASSERTION_KEY");
    assert_eq!(
        key_of(r#","assertion":{"header":"Cookie"}"#, Some(PEM)),
        "assertion.header"
    );
    assert_eq!(
        key_of(r#","assertion":{"lifetime_secs":5}"#, Some(PEM)),
        "assertion.lifetime_secs"
    );
    assert_eq!(
        key_of(r#","assertion":{"audience":"a b"}"#, Some(PEM)),
        "assertion.audience"
    );
    assert_eq!(
        key_of(r#","assertion":{"claims":["exp"]}"#, Some(PEM)),
        "assertion.claims[0]"
    );
    assert_eq!(
        key_of(r#","forward":{"id_token":"Authorization"}"#, None),
        "forward.id_token"
    );
    assert_eq!(
        key_of(
            r#","forward":{"claim_headers":[{"claim":"email","header":"bad name"}]}"#,
            None
        ),
        "forward.claim_headers[0].header"
    );
    assert_eq!(key_of(r#","bearer":{}"#, None), "bearer.audiences");
    assert_eq!(
        key_of(r#","bearer":{"audiences":["a"],"mode":"maybe"}"#, None),
        "bearer.mode"
    );
    assert_eq!(
        key_of(r#","bearer":{"audiences":["a"],"provider":"x"}"#, None),
        "bearer.provider"
    );
    assert_eq!(
        key_of(r#","bearer":{"audiences":["a"],"scopes":["a\"b"]}"#, None),
        "bearer.scopes[0]"
    );
    assert_eq!(
        key_of(r#","bearer":{"audiences":["a"],"introspection_cache_secs":10}"#, None),
        "bearer.introspection_cache_secs"
    );
    assert_eq!(
        key_of(r#","bearer":{"audiences":["a"],"path_prefixes":["api"]}"#, None),
        "bearer.path_prefixes[0]"
    );
}

#[test]
fn a_bad_key_is_named_but_never_quoted() {
    let broken = PEM.replace("MIGH", "MIGX");
    let e = parse_with(r#","assertion":{}"#, Some(&broken)).expect_err("refused");
    assert!(!e.to_string().contains("MIG"), "{e}");
}

#[test]
fn per_rule_settings_are_validated_with_the_rule_index() {
    let rule = |r: &str| format!(r#","rules":[{{"path_prefix":"/x/","action":"public"}},{r}]"#);
    assert_eq!(
        key_of(
            &rule(r#"{"path_prefix":"/api/","action":"authenticated","groups":["a"],"bearer":{"audiences":["x"]}}"#),
            None
        ),
        "rules[1].bearer"
    );
    assert_eq!(
        key_of(
            &rule(r#"{"path_prefix":"/api/","action":"deny","bearer":{"audiences":["x"]}}"#),
            None
        ),
        "rules[1].bearer"
    );
    assert_eq!(
        key_of(
            &rule(r#"{"path_prefix":"/api/","action":"authenticated","bearer":{}}"#),
            None
        ),
        "rules[1].bearer.audiences"
    );
    assert_eq!(
        key_of(
            &rule(
                r#"{"path_prefix":"/api/","action":"authenticated","bearer":{"audiences":["x"],"path_prefixes":["/"]}}"#
            ),
            None
        ),
        "rules[1].bearer.path_prefixes"
    );
    assert_eq!(
        key_of(
            &rule(r#"{"path_prefix":"/w/","action":"authenticated","assertion_audience":""}"#),
            None
        ),
        "rules[1].assertion_audience"
    );
    let c = parse_with(
        &rule(r#"{"path_prefix":"/api/","action":"authenticated","assertion_audience":"urn:a","bearer":{"audiences":["x"],"mode":"require"}}"#),
        None,
    )
    .expect("valid");
    let r = c.rules.get(1).expect("rule");
    assert_eq!(r.assertion_audience.as_deref(), Some("urn:a"));
    assert_eq!(
        r.bearer.as_ref().map(|b| b.mode),
        Some(super::super::bearer::BearerMode::Require)
    );
}

#[test]
fn copied_claims_are_projected_whole() {
    let c = parse_with(
        r#","assertion":{"claims":["realm_access.roles","email"]},"forward":{"claim_headers":[{"claim":"groups","header":"X-G"}]}"#,
        Some(PEM),
    )
    .expect("valid");
    let keys: Vec<(&str, bool)> = c
        .projection
        .claims
        .iter()
        .map(|p| (p.key.as_str(), p.keep.is_none()))
        .collect();
    assert_eq!(
        keys,
        [("/realm_access/roles", true), ("/groups", true)],
        "email is the identity's own"
    );
}
