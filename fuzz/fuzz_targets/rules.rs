//! The rule decision (src/core/site/rules.rs: `select` and `judge`) against the reference model
//! of `edge_oidc_fuzz::rules_model`, written apart from it.
//!
//! Input (text, one item a line): `METHOD HOST PATH [PREFLIGHT-METHOD]`; the session, `-` for
//! none or `PROVIDER EMAIL VERIFIED(y|n|-) [KEY=v|v …]` (claims as the cookie holds them, `g`
//! for groups); then one rule a line: `ACTION HOST METHODS KIND PATTERN [REQ …]` with ACTION
//! `P`ublic, `D`eny, `A`uthenticated or `F` (authenticated, preflights allowed), HOST and
//! METHODS `*` for any (methods comma-separated), KIND `=` (path), `^` (path_prefix) or `*`
//! (any path), REQ `p:provider`, `e:email`, `d:domain`, `g:group`, `c:KEY:v|v` (any of) or
//! `C:KEY:v|v` (all of).
//!
//! Oracles: the first matches under each reading are the model's; a rule that matches as written
//! matches in any spelling too; the verdict (and the refusing rule's label) is the model's.
#![no_main]

use edge_oidc_fuzz::edge_oidc::core::config::{ClaimPath, ClaimRule, Config, Requirements, Rule, RuleAction, RulePath};
use edge_oidc_fuzz::edge_oidc::core::session::Identity;
use edge_oidc_fuzz::edge_oidc::core::site::path::{CanonicalPath, PathPattern};
use edge_oidc_fuzz::edge_oidc::core::site::rules::{judge, select, RuleRequest, Verdict};
use edge_oidc_fuzz::rules_model::{decide, matches, MPath, MRequest, MRule, MSession, MVerdict};
use libfuzzer_sys::fuzz_target;

/// Provider `a` requires verified emails for email rules, `b` does not.
fn config() -> &'static Config {
    // Config holds `Rc`s (not `Sync`): one per thread, made once and kept for the process.
    thread_local! {
        static CONFIG: &'static Config = Box::leak(Box::new({
            let json = r#"{"providers":{"a":{"issuer":"https://a.example","client_id":"rp"},
                "b":{"issuer":"https://b.example","client_id":"rp","require_email_verified":false}}}"#;
            Config::from_json(json, &|n| (n == "COOKIE_KEYS").then(|| "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_owned()))
                .expect("the fixed configuration is valid")
        }));
    }
    CONFIG.with(|c| *c)
}

fn list(s: &str) -> Vec<String> {
    s.split('|').filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// A rule line as the crate's `Rule` and the model's `MRule`.
fn rule(i: usize, line: &str) -> Option<(Rule, MRule)> {
    let mut parts = line.split(' ');
    let action = parts.next()?.chars().next()?;
    let host = parts.next()?;
    let methods = parts.next()?;
    let kind = parts.next()?;
    let pattern = parts.next().unwrap_or("/");
    let host = (host != "*").then(|| host.to_ascii_lowercase());
    let methods = (methods != "*").then(|| methods.split(',').map(str::to_owned).collect::<Vec<_>>());
    let (path, mpath) = match kind {
        "=" => {
            let p = PathPattern::parse(pattern).ok()?;
            let s = p.as_str().to_owned();
            (RulePath::Exact(p), MPath::Exact(s))
        }
        "^" => {
            let p = PathPattern::parse(pattern).ok()?;
            let s = p.as_str().to_owned();
            (RulePath::Prefix(p), MPath::Prefix(s))
        }
        _ => (RulePath::Any, MPath::Any),
    };
    let mut req = Requirements::default();
    let mut providers: Option<Vec<String>> = None;
    let mut claims_model = Vec::new();
    for r in parts {
        let (k, v) = r.split_once(':')?;
        match k {
            "p" => providers.get_or_insert_with(Vec::new).push(v.to_owned()),
            "e" => req.emails.push(v.to_ascii_lowercase()),
            "d" => req.email_domains.push(v.to_ascii_lowercase()),
            "g" => req.groups.push(v.to_owned()),
            "c" | "C" => {
                let (key, values) = v.split_once(':')?;
                let values = list(values);
                let path = ClaimPath {
                    keys: vec![key.to_owned()],
                    pointer: format!("/{key}"),
                };
                claims_model.push((path.pointer.clone(), values.clone(), k == "C"));
                req.claims.push(ClaimRule {
                    path,
                    values,
                    all: k == "C",
                });
            }
            _ => return None,
        }
    }
    req.providers = providers.clone();
    let label = format!("rules[{i}]");
    let (raction, maction, preflight) = match action {
        'P' => (RuleAction::Public, 'P', false),
        'D' => (RuleAction::Deny, 'D', false),
        'F' => (RuleAction::Authenticated(Box::new(req.clone())), 'A', true),
        _ => (RuleAction::Authenticated(Box::new(req.clone())), 'A', false),
    };
    let model = MRule {
        label: label.clone(),
        action: maction,
        allow_preflight: preflight,
        host: host.clone(),
        methods: methods.clone(),
        path: mpath,
        providers,
        emails: req.emails.clone(),
        domains: req.email_domains.clone(),
        groups: req.groups.clone(),
        claims: claims_model,
    };
    Some((
        Rule {
            label,
            host,
            path,
            methods,
            action: raction,
            allow_preflight: preflight,
        },
        model,
    ))
}

fn session(line: &str) -> Option<Identity> {
    let mut parts = line.split(' ');
    let provider = parts.next()?;
    if provider == "-" || provider.is_empty() {
        return None;
    }
    let email = parts.next().filter(|e| *e != "-").map(str::to_owned);
    let verified = match parts.next() {
        Some("y") => Some(true),
        Some("n") => Some(false),
        _ => None,
    };
    let claims = parts
        .filter_map(|c| c.split_once('='))
        .map(|(k, v)| (if k == "g" { "g".to_owned() } else { format!("/{k}") }, list(v)))
        .collect();
    Some(Identity {
        provider: provider.to_owned(),
        sub: "u".into(),
        email,
        email_verified: verified,
        name: None,
        acr: None,
        created_at: 0,
        expires_at: 1,
        handle: "h".into(),
        sid: None,
        refresh_due: None,
        silent_refresh: false,
        checked_at: None,
        active_at: None,
        claims,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.split('\n');
    let Some(request) = lines.next() else { return };
    let mut r = request.split(' ');
    let (Some(method), Some(host), Some(raw_path)) = (r.next(), r.next(), r.next()) else {
        return;
    };
    let preflight = r.next();
    let Ok(path) = CanonicalPath::parse(raw_path) else {
        return;
    };
    let identity = session(lines.next().unwrap_or("-"));
    let (rules, model): (Vec<Rule>, Vec<MRule>) = lines.take(64).enumerate().filter_map(|(i, l)| rule(i, l)).unzip();
    // Labels name the index in the kept list, as validation names `rules[i]`.
    let rules: Vec<Rule> = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| Rule {
            label: format!("rules[{i}]"),
            ..r
        })
        .collect();
    let model: Vec<MRule> = model
        .into_iter()
        .enumerate()
        .map(|(i, r)| MRule {
            label: format!("rules[{i}]"),
            ..r
        })
        .collect();
    let host = host.to_ascii_lowercase();
    let req = RuleRequest {
        host: &host,
        method,
        preflight,
        path: &path,
    };
    let mreq = MRequest {
        host: &host,
        method,
        preflight,
        path: path.as_str(),
    };

    for m in &model {
        assert!(
            !matches(m, &mreq, false) || matches(m, &mreq, true),
            "as written implies any spelling: {m:?}"
        );
    }
    let selection = select(&rules, &req);
    let config = config();
    let provider = identity.as_ref().and_then(|i| config.provider(&i.provider));
    let held: Vec<(String, Vec<String>)> = identity
        .as_ref()
        .map(|i| i.claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let msession = identity.as_ref().map(|i| MSession {
        provider: &i.provider,
        email: i.email.as_deref(),
        verified: i.email_verified,
        require_verified: provider.is_none_or(|p| p.require_email_verified),
        claims: &held,
    });
    let (broad, narrow, expected) = decide(&model, &mreq, msession.as_ref());
    assert_eq!(
        (selection.broad, selection.narrow),
        (broad, narrow),
        "selection for {text:?}"
    );
    let got = judge(
        &rules,
        selection,
        preflight.is_some(),
        identity.as_ref().map(|i| (i, provider)),
    );
    let got = match got {
        Verdict::Open => MVerdict::Open,
        Verdict::Admitted => MVerdict::Admitted,
        Verdict::Login => MVerdict::Login,
        Verdict::Refused(label) => MVerdict::Refused(label.to_owned()),
    };
    assert_eq!(got, expected, "verdict for {text:?}");
});
