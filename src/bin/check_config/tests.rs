//! The check on good and broken configurations: each problem is reported under its own name
//! (the key or the secret), the exit verdict follows the errors, and no secret's value is ever
//! in the output. `--online` is tested end to end against a local provider
//! (tests/e2e/check_config.test.mjs).

use super::*;
use std::collections::BTreeMap;
use std::fs;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const SECRET: &str = "very-secret-client-secret-4711";

const WRANGLER: &str = r#"
name = "edge-oidc"
[vars.EDGE_OIDC_CONFIG]
public_origin = "https://app.example.com"

[vars.EDGE_OIDC_CONFIG.providers.main]
issuer = "https://accounts.example.com"
client_id = "edge-oidc"
token_endpoint_auth_method = "client_secret_basic"
"#;

/// A directory with `wrangler.toml` and `.dev.vars`.
struct Dir(PathBuf);

impl Dir {
    fn new(toml: &str, dev_vars: Option<&str>) -> Dir {
        let dir = std::env::temp_dir().join(format!("check-config-{}-{}", std::process::id(), rand_suffix()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("wrangler.toml"), toml).unwrap();
        if let Some(vars) = dev_vars {
            fs::write(dir.join(".dev.vars"), vars).unwrap();
        }
        Dir(dir)
    }

    fn options(&self, config_only: bool) -> Options {
        Options {
            file: self.0.join("wrangler.toml"),
            dev_vars: None,
            online: false,
            config_only,
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Runs the check; (output, ready).
fn check(toml: &str, dev_vars: Option<&str>) -> (String, bool) {
    let dir = Dir::new(toml, dev_vars);
    run(&dir.options(false), &no_env).unwrap()
}

/// The output's lines at `level` about `subject`.
fn lines<'a>(out: &'a str, level: &str, subject: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(level) && words.next() == Some(subject)
        })
        .collect()
}

fn assert_no_secrets(out: &str) {
    for secret in [KEY, SECRET, "\"d\":"] {
        assert!(!out.contains(secret), "a secret is in the output:\n{out}");
    }
}

#[test]
fn a_good_configuration_is_ready() {
    let vars = format!("# local secrets\nCOOKIE_KEYS={KEY}\nCLIENT_SECRET='{SECRET}'\n");
    let (out, ready) = check(WRANGLER, Some(&vars));
    assert!(ready, "{out}");
    assert_eq!(lines(&out, "ok", "EDGE_OIDC_CONFIG").len(), 1, "{out}");
    assert_eq!(lines(&out, "ok", "COOKIE_KEYS").len(), 1, "{out}");
    assert!(lines(&out, "ok", "providers.main")
        .iter()
        .any(|l| l.contains("client secret in CLIENT_SECRET")));
    assert!(out.ends_with("0 errors, 0 warnings: ready\n"), "{out}");
    assert_no_secrets(&out);
}

#[test]
fn every_missing_secret_is_named() {
    let (out, ready) = check(WRANGLER, None);
    assert!(!ready);
    assert_eq!(lines(&out, "error", "COOKIE_KEYS").len(), 1, "{out}");
    assert_eq!(lines(&out, "error", "CLIENT_SECRET_MAIN").len(), 1, "{out}");
    // The configuration itself is fine: only the secrets are missing.
    assert_eq!(lines(&out, "ok", "EDGE_OIDC_CONFIG").len(), 1, "{out}");
    // The stand-in that let the check go on is never reported as found.
    assert!(!out.contains("client secret in"), "{out}");
    assert!(out.contains("2 errors"), "{out}");
}

#[test]
fn ill_formed_secrets_are_named_without_their_values() {
    let short = "c2hvcnQ"; // "short": 5 bytes
    let vars = format!("COOKIE_KEYS={short}\nCLIENT_SECRET={SECRET}\n");
    let (out, ready) = check(WRANGLER, Some(&vars));
    assert!(!ready);
    let cookie = lines(&out, "error", "COOKIE_KEYS");
    assert!(cookie.len() == 1 && cookie[0].contains("32 bytes"), "{out}");
    assert!(!out.contains(short));

    // private_key_jwt with a key missing its private part: the member is named, no value shown.
    let pk = WRANGLER.replace("client_secret_basic", "private_key_jwt");
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"WbbaSStuffXw3ExtZ9ws-yAuyK5iGYZLxP-lgSWaPwo","y":"_P3e0Y2xjxrHd7rTN4kbfQDYQxbvbfsTtiVAa9CHMj0"}"#;
    let (out, ready) = check(&pk, Some(&format!("COOKIE_KEYS={KEY}\nCLIENT_PRIVATE_KEY='{jwk}'\n")));
    assert!(!ready);
    let key = lines(&out, "error", "CLIENT_PRIVATE_KEY");
    assert!(key.len() == 1 && key[0].contains("private part (d)"), "{out}");
    assert!(
        !out.contains("for private_key_jwt;"),
        "the stand-in key is not reported as found:\n{out}"
    );
    assert!(!out.contains("WbbaSStuff"), "{out}");
    assert_no_secrets(&out);
}

#[test]
fn configuration_errors_name_the_key_and_the_secrets_are_still_checked() {
    let cases = [
        (
            WRANGLER.replace("https://accounts.example.com", "http://accounts.example.com"),
            "providers.main.issuer",
        ),
        (WRANGLER.replace("client_id = ", "client_idd = "), "EDGE_OIDC_CONFIG"),
        (
            format!("{WRANGLER}required_claims = {{ email = \"a@b\" }}\n"),
            "providers.main.required_claims.email",
        ),
        (
            WRANGLER.replace("https://accounts.example.com", "https://login.example/{tenantid}/v2.0"),
            "providers.main.discovery_url",
        ),
    ];
    for (toml, key) in cases {
        let (out, ready) = check(&toml, None);
        assert!(!ready, "{toml}");
        assert_eq!(lines(&out, "error", key).len(), 1, "{key}:\n{out}");
        assert!(lines(&out, "error", key)[0].contains("Fix:"), "{out}");
        assert_eq!(lines(&out, "error", "COOKIE_KEYS").len(), 1, "{key}:\n{out}");
    }
}

#[test]
fn a_client_secret_shared_by_several_providers_is_refused() {
    let two = format!(
        "{WRANGLER}\n[vars.EDGE_OIDC_CONFIG.providers.other]\nissuer = \"https://id.example.org\"\nclient_id = \"x\"\n"
    );
    let vars = format!("COOKIE_KEYS={KEY}\nCLIENT_SECRET={SECRET}\nCLIENT_SECRET_MAIN={SECRET}\n");
    let (out, ready) = check(&two, Some(&vars));
    assert!(!ready);
    assert_eq!(lines(&out, "error", "CLIENT_SECRET").len(), 1, "{out}");
    assert_no_secrets(&out);
}

#[test]
fn warnings_for_an_open_tenant_template_and_unverified_emails() {
    let entra = WRANGLER
        .replace("https://accounts.example.com", "https://login.example/{tenantid}/v2.0")
        .replace(
            "client_id = ",
            "discovery_url = \"https://login.example/organizations/v2.0/.well-known/openid-configuration\"\nrequire_email_verified = false\nallowed_email_domains = [\"example.com\"]\nclient_id = ",
        );
    let (out, ready) = check(&entra, Some(&format!("COOKIE_KEYS={KEY}\nCLIENT_SECRET={SECRET}\n")));
    assert!(ready, "warnings do not fail the check:\n{out}");
    assert_eq!(lines(&out, "warn", "providers.main.allowed_tenants").len(), 1, "{out}");
    assert_eq!(
        lines(&out, "warn", "providers.main.require_email_verified").len(),
        1,
        "{out}"
    );
}

#[test]
fn config_only_lists_the_secrets_without_reading_them() {
    let dir = Dir::new(WRANGLER, Some("COOKIE_KEYS=not-base64!\n"));
    let (out, ready) = run(&dir.options(true), &no_env).unwrap();
    assert!(ready, "{out}");
    assert!(lines(&out, "info", "COOKIE_KEYS")[0].contains("not checked"), "{out}");
    assert!(
        lines(&out, "info", "CLIENT_SECRET_MAIN")[0].contains("not checked"),
        "{out}"
    );
}

#[test]
fn the_assertion_key_is_named_when_missing_or_ill_formed_and_listed_with_config_only() {
    let with_assertion = format!("{WRANGLER}\n[vars.EDGE_OIDC_CONFIG.assertion]\naudience = \"urn:app\"\n");
    let (out, ready) = check(
        &with_assertion,
        Some(&format!("COOKIE_KEYS={KEY}\nCLIENT_SECRET={SECRET}\n")),
    );
    assert!(!ready);
    assert_eq!(lines(&out, "error", "ASSERTION_KEY").len(), 1, "{out}");
    let vars = format!("COOKIE_KEYS={KEY}\nCLIENT_SECRET={SECRET}\nASSERTION_KEY=not-a-key\n");
    let (out, ready) = check(&with_assertion, Some(&vars));
    assert!(!ready);
    assert!(!out.contains("not-a-key"), "{out}");
    assert_eq!(lines(&out, "error", "ASSERTION_KEY").len(), 1, "{out}");
    let dir = Dir::new(&with_assertion, None);
    let (out, ready) = run(&dir.options(true), &no_env).unwrap();
    assert!(ready, "{out}");
    assert!(lines(&out, "info", "ASSERTION_KEY")[0].contains("not checked"), "{out}");
    assert_no_secrets(&out);
}

#[test]
fn the_environment_wins_over_dev_vars() {
    let dir = Dir::new(WRANGLER, Some("COOKIE_KEYS=bad\nCLIENT_SECRET=x\n"));
    let env = |name: &str| (name == "COOKIE_KEYS").then(|| KEY.to_owned());
    let (out, ready) = run(&dir.options(false), &env).unwrap();
    assert!(ready, "{out}");
}

#[test]
fn recipe_pages_and_bad_input() {
    let dir = Dir::new(WRANGLER, None);
    let page = dir.0.join("recipe.md");
    fs::write(&page, format!("# A recipe\n\n```toml\n{WRANGLER}```\n\nMore text.\n")).unwrap();
    assert!(input::config_json(&page)
        .unwrap()
        .contains("\"issuer\":\"https://accounts.example.com\""));
    fs::write(&page, "# No block\n```sh\nnpm test\n```\n").unwrap();
    assert!(matches!(
        input::config_json(&page),
        Err(input::InputError::NoTomlBlock(_))
    ));
    let bad = Dir::new("[vars.EDGE_OIDC_CONFIG\nx = 1", None);
    assert!(run(&bad.options(false), &no_env)
        .unwrap_err()
        .contains("not valid TOML"));
    let none = Dir::new("name = \"x\"\n", None);
    assert!(run(&none.options(false), &no_env)
        .unwrap_err()
        .contains("no [vars.EDGE_OIDC_CONFIG]"));
    // A JSON string in [vars] is taken as it is.
    let json = Dir::new(
        r#"[vars]
EDGE_OIDC_CONFIG = '{"providers":{"main":{"issuer":"https://op.example","client_id":"rp"}}}'"#,
        None,
    );
    let (out, _) = run(&json.options(true), &no_env).unwrap();
    assert_eq!(lines(&out, "ok", "EDGE_OIDC_CONFIG").len(), 1, "{out}");
}

#[test]
fn dev_vars_lines() {
    let vars = input::parse_dev_vars(
        "# comment\n\nA=plain # trailing comment\nexport B='{\"k\":\"v # not a comment\"}'\nC=\"line\\nbreak\"\nnot a pair\n",
    );
    let want: BTreeMap<String, String> = [
        ("A", "plain"),
        ("B", "{\"k\":\"v # not a comment\"}"),
        ("C", "line\nbreak"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(vars, want);
}

#[test]
fn arguments() {
    let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let o = args(&["--online", "docs/providers/google.md"]).unwrap();
    assert!(o.online && !o.config_only);
    assert_eq!(o.file, PathBuf::from("docs/providers/google.md"));
    assert_eq!(args(&[]).unwrap().file, PathBuf::from("wrangler.toml"));
    assert!(args(&["--nope"]).is_err());
    assert!(args(&["a", "b"]).is_err());
    assert!(args(&["--dev-vars"]).is_err());
}
