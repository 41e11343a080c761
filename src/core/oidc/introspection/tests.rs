//! RFC 7662 §2.2 answers, one rule at a time.
use super::*;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://op.example";

fn answer(json: &str) -> Introspected {
    parse(json.as_bytes()).expect("parses")
}

fn check_default(i: Introspected) -> Result<AccessToken, AccessTokenError> {
    check(i, ISS, &["https://api".to_owned()], &["read".to_owned()], NOW)
}

#[test]
fn an_active_answer_for_us_is_accepted() {
    let at = check_default(answer(
        r#"{"active":true,"iss":"https://op.example","aud":["x","https://api"],"scope":"read write","exp":1700000100,"client_id":"c","token_type":"Bearer"}"#,
    ))
    .expect("accepted");
    assert_eq!(at.sub, "c", "client credentials: the client is the subject");
    assert_eq!(at.exp, NOW + 100);
}

#[test]
fn every_fault_is_refused() {
    let cases = [
        (
            r#"{"active":false,"scope":"read","aud":"https://api"}"#,
            AccessTokenError::Expired,
        ),
        (
            r#"{"active":true,"iss":"https://evil","scope":"read","aud":"https://api"}"#,
            AccessTokenError::WrongIssuer,
        ),
        (
            r#"{"active":true,"scope":"read","aud":"https://other"}"#,
            AccessTokenError::WrongAudience,
        ),
        (r#"{"active":true,"scope":"read"}"#, AccessTokenError::WrongAudience),
        (
            r#"{"active":true,"scope":"read","aud":"https://api","exp":1700000000}"#,
            AccessTokenError::Expired,
        ),
        (
            r#"{"active":true,"scope":"write","aud":"https://api"}"#,
            AccessTokenError::InsufficientScope,
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(check_default(answer(json)).unwrap_err(), expected, "{json}");
    }
}

#[test]
fn malformed_answers_are_not_parsed() {
    assert!(parse(b"not json").is_none());
    assert!(parse(br#"{"active":"yes"}"#).is_none());
    assert!(parse(br#"{"active":true,"exp":"soon"}"#).is_none());
    // Without `active` (REQUIRED) the token is not active.
    assert!(!answer("{}").active);
}
