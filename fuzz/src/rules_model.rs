//! A reference model of the rule decision (src/core/site/rules.rs), written apart from it: two
//! independent first-match scans (one per reading of the path), each rule judged on its own, then
//! the more restrictive verdict kept (refused > login > admitted > open; on a tie the first of
//! the two rules). Paths are compared with `path_model`'s functions.

use crate::path_model::{decode, public_covers, route_covers};

/// A rule as the model reads it.
#[derive(Debug, Clone)]
pub struct MRule {
    pub label: String,
    pub action: char, // 'P' public, 'D' deny, 'A' authenticated
    pub allow_preflight: bool,
    pub host: Option<String>,
    pub methods: Option<Vec<String>>,
    pub path: MPath,
    pub providers: Option<Vec<String>>,
    pub emails: Vec<String>,
    pub domains: Vec<String>,
    pub groups: Vec<String>,
    /// (cookie key, values, all_of)
    pub claims: Vec<(String, Vec<String>, bool)>,
}

#[derive(Debug, Clone)]
pub enum MPath {
    Any,
    Exact(String),
    Prefix(String),
}

/// The request and session as the model reads them.
pub struct MRequest<'a> {
    pub host: &'a str,
    pub method: &'a str,
    pub preflight: Option<&'a str>,
    pub path: &'a str,
}

pub struct MSession<'a> {
    pub provider: &'a str,
    pub email: Option<&'a str>,
    pub verified: Option<bool>,
    pub require_verified: bool,
    pub claims: &'a [(String, Vec<String>)],
}

/// The model's verdict: 0 open, 1 admitted, 2 login, 3 refused (with the label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MVerdict {
    Open,
    Admitted,
    Login,
    Refused(String),
}

fn rank(v: &MVerdict) -> u8 {
    match v {
        MVerdict::Open => 0,
        MVerdict::Admitted => 1,
        MVerdict::Login => 2,
        MVerdict::Refused(_) => 3,
    }
}

fn trim_slash(s: &[u8]) -> &[u8] {
    if s.len() > 1 && s.ends_with(b"/") {
        &s[..s.len() - 1]
    } else {
        s
    }
}

/// Whether `rule` matches the request under one reading.
pub fn matches(rule: &MRule, req: &MRequest<'_>, broad: bool) -> bool {
    if let Some(h) = &rule.host {
        if h != req.host {
            return false;
        }
    }
    let method = req.preflight.unwrap_or(req.method);
    if let Some(m) = &rule.methods {
        if !m.iter().any(|x| x == method) {
            return false;
        }
    }
    match (&rule.path, broad) {
        (MPath::Any, _) => true,
        (MPath::Exact(p), false) => p == req.path,
        (MPath::Exact(p), true) => {
            let a = decode(p).to_ascii_lowercase();
            let b = decode(req.path).to_ascii_lowercase();
            trim_slash(&a) == trim_slash(&b)
        }
        (MPath::Prefix(p), false) => {
            if p.ends_with('/') {
                public_covers(p, req.path)
            } else {
                req.path.starts_with(p.as_str())
            }
        }
        (MPath::Prefix(p), true) => route_covers(p, req.path),
    }
}

fn one(rule: Option<&MRule>, preflight: bool, session: Option<&MSession<'_>>) -> MVerdict {
    let Some(rule) = rule else {
        return if session.is_some() {
            MVerdict::Admitted
        } else {
            MVerdict::Login
        };
    };
    if rule.action == 'P' || (preflight && rule.allow_preflight) {
        return MVerdict::Open;
    }
    if rule.action == 'D' {
        return MVerdict::Refused(rule.label.clone());
    }
    let Some(s) = session else { return MVerdict::Login };
    if let Some(p) = &rule.providers {
        if !p.iter().any(|x| x == s.provider) {
            return MVerdict::Login;
        }
    }
    let refused = MVerdict::Refused(rule.label.clone());
    if !rule.emails.is_empty() || !rule.domains.is_empty() {
        let usable = match s.verified {
            Some(true) => s.email,
            None if !s.require_verified => s.email,
            _ => None,
        };
        let Some(email) = usable else { return refused };
        let lower = email.to_ascii_lowercase();
        let by_address = rule.emails.iter().any(|e| e.to_ascii_lowercase() == lower);
        let by_domain = match lower.rfind('@') {
            Some(at) if at > 0 => rule.domains.iter().any(|d| d.to_ascii_lowercase() == lower[at + 1..]),
            _ => false,
        };
        if !by_address && !by_domain {
            return refused;
        }
    }
    let held = |key: &str| -> Vec<String> {
        s.claims
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !rule.groups.is_empty() && !rule.groups.iter().any(|g| held("g").contains(g)) {
        return refused;
    }
    for (key, values, all) in &rule.claims {
        let have = held(key);
        let ok = if *all {
            values.iter().all(|v| have.contains(v))
        } else {
            values.iter().any(|v| have.contains(v))
        };
        if !ok {
            return refused;
        }
    }
    MVerdict::Admitted
}

/// The model's decision: (first broad match, first narrow match, verdict).
pub fn decide(
    rules: &[MRule],
    req: &MRequest<'_>,
    session: Option<&MSession<'_>>,
) -> (Option<usize>, Option<usize>, MVerdict) {
    let broad = rules.iter().position(|r| matches(r, req, true));
    let narrow = rules.iter().position(|r| matches(r, req, false));
    let preflight = req.preflight.is_some();
    let a = one(broad.map(|i| &rules[i]), preflight, session);
    let b = one(narrow.map(|i| &rules[i]), preflight, session);
    let verdict = if rank(&b) > rank(&a) { b } else { a };
    (broad, narrow, verdict)
}
