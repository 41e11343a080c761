use super::*;

#[test]
fn levels_are_ordered_and_off_keeps_nothing() {
    let log = EventLog::new(LogLevel::Info);
    assert!(log.enabled(LogLevel::Error) && log.enabled(LogLevel::Info));
    assert!(!log.enabled(LogLevel::Debug) && !log.enabled(LogLevel::Off));
    log.push(Event::new(EventKind::Forwarded));
    log.push(Event::new(EventKind::LoginStarted));
    assert_eq!(
        log.finish(None, Some(302)).iter().map(|e| e.event).collect::<Vec<_>>(),
        [EventKind::LoginStarted]
    );
    let off = EventLog::new(LogLevel::Off);
    off.push(Event::new(EventKind::InternalError));
    assert!(off.finish(None, None).is_empty());
}

#[test]
fn a_line_is_one_flat_object_without_empty_fields() {
    let e = Event::new(EventKind::KvError);
    assert_eq!(e.to_line(), r#"{"event":"kv_error","level":"error"}"#);
    let long = "é".repeat(100);
    let e = Event::new(EventKind::Denied).path(&long);
    assert_eq!(
        e.path.as_deref().map(str::len),
        Some(128),
        "cut on a character boundary"
    );
}

#[test]
fn only_ray_shaped_values_are_kept() {
    for (ray, kept) in [
        ("8c2f0d6e2b1a1234-FRA", true),
        ("", false),
        ("a b", false),
        ("x\"}", false),
        (&"a".repeat(65), false),
    ] {
        let log = EventLog::new(LogLevel::Info);
        log.push(Event::new(EventKind::Logout));
        let events = log.finish(Some(ray), None);
        assert_eq!(events.first().and_then(|e| e.ray.as_deref()).is_some(), kept, "{ray}");
    }
}

#[test]
fn client_faults_are_logged_only_within_a_login() {
    let log = EventLog::new(LogLevel::Info);
    log.failed(&AppError::UnknownState, "/redirect_uri");
    assert!(log.finish(None, None).is_empty());
    log.in_login(Some("main"));
    log.failed(&AppError::UnknownState, "/redirect_uri");
    log.failed(
        &AppError::Store(crate::core::http::StoreError("down: key session:x".into())),
        "/",
    );
    let lines: Vec<String> = log.finish(None, Some(400)).iter().map(Event::to_line).collect();
    assert_eq!(
        lines,
        [
            r#"{"event":"login_failed","level":"info","provider":"main","reason":"unknown_state","status":400}"#,
            r#"{"event":"kv_error","level":"error","provider":"main","reason":"kv","status":400}"#,
        ],
        "the error's text never reaches the line"
    );
}

#[test]
fn text_fields_are_json_escaped() {
    let mut e = Event::new(EventKind::LoginCompleted)
        .subject("a\"b\\c\nd\u{1}")
        .path("/x\"y");
    e.ray = Some("r".into());
    let line = e.to_line();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{line}: {err}"));
    assert_eq!(v["sub"], "a\"b\\c\nd\u{1}");
    assert_eq!(v["path"], "/x\"y");
    assert_eq!(v.as_object().map(|o| o.len()), Some(5), "{line}");
    assert!(!line.contains('\n'), "one line");
}

#[test]
fn a_required_claim_not_met_is_a_denial_by_that_rule_without_the_claim() {
    let log = EventLog::new(LogLevel::Info);
    log.in_login(Some("google"));
    log.failed(&AppError::ClaimNotMet { claim: "hd".into() }, "/redirect_uri");
    let lines: Vec<String> = log.finish(None, Some(403)).iter().map(Event::to_line).collect();
    assert_eq!(
        lines,
        [
            r#"{"event":"denied","level":"info","provider":"google","reason":"claim_not_met","rule":"required_claims","path":"/redirect_uri","status":403}"#
        ]
    );
}
