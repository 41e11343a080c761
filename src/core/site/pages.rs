//! The pages and JSON bodies edge-oidc answers with itself. Plain HTML, no scripts, no external
//! resources; every dynamic value is HTML-escaped.

use std::fmt::Write;

/// A response the core answers with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers; `set-cookie` may repeat.
    pub headers: Vec<(&'static str, String)>,
    /// Body (HTML or JSON).
    pub body: String,
}

impl Reply {
    /// A redirect (302) that must not be cached.
    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 302,
            headers: vec![
                ("location", location.to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: String::new(),
        }
    }

    /// Adds `Set-Cookie` headers.
    pub fn with_cookies(mut self, cookies: impl IntoIterator<Item = String>) -> Reply {
        self.headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
        self
    }

    /// The first value of a header (tests and the edge shell).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}dt{font-weight:600}dd{margin:0 0 .5rem 0;font-family:monospace;white-space:pre-wrap;word-break:break-all}\
a{color:#0645ad}";

/// A complete HTML page: title, a paragraph, optional details (label, value) and links.
pub fn html_page(status: u16, title: &str, message: &str, details: &[(&str, &str)], links: &[(&str, &str)]) -> Reply {
    let mut body = String::with_capacity(1024);
    let _ = write!(
        body,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1><p>{m}</p>",
        t = escape(title),
        m = escape(message)
    );
    if !details.is_empty() {
        body.push_str("<dl>");
        for (label, value) in details {
            let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
        }
        body.push_str("</dl>");
    }
    for (href, text) in links {
        let _ = write!(body, "<p><a href=\"{}\">{}</a></p>", escape(href), escape(text));
    }
    body.push_str("</body></html>\n");
    Reply {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            (
                "content-security-policy",
                // No framing (clickjacking), no scripts, forms only to this site.
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'".to_owned(),
            ),
        ],
        body,
    }
}

/// The page every request gets while the configuration is invalid. It says where to look and
/// nothing else: configuration errors can name secrets' bindings and the deployment's settings,
/// so their text goes to the log only.
pub fn misconfigured_page(api: bool) -> Reply {
    const WHAT: &str = "This site's sign-in gateway (edge-oidc) is not configured correctly.";
    const WHERE: &str = "The operator finds the reason in the worker's log (`wrangler tail`) and with the configuration check (see README.md).";
    if api {
        return json_error(500, "configuration_error", WHAT, None);
    }
    html_page(500, "Sign-in is not available", &format!("{WHAT} {WHERE}"), &[], &[])
}

/// The page for a logout request that may come from another site: one button that POSTs the
/// logout from this site (the POST is accepted only with this site's `Origin`).
pub fn logout_confirmation_page(logout_path: &str) -> Reply {
    let mut page = html_page(200, "Sign out?", "Do you want to sign out of this site?", &[], &[]);
    let form = format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form><p><a href=\"/\">Stay signed in</a></p>",
        escape(logout_path)
    );
    if let Some(at) = page.body.rfind("</body>") {
        page.body.insert_str(at, &form);
    }
    page
}

/// The provider chooser's links (href, label): one per provider to the login path, keeping the
/// return URL and the passed-through parameters.
pub fn chooser_links(
    providers: &[&crate::core::config::ProviderConfig],
    login_path: &str,
    return_to: &str,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    providers
        .iter()
        .map(|p| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("provider", &p.name).append_pair("return_to", return_to);
            for (k, v) in extra {
                q.append_pair(k, v);
            }
            (
                format!("{login_path}?{}", q.finish()),
                format!("Sign in with {}", p.display_name),
            )
        })
        .collect()
}

/// The provider chooser (plain HTML, works without JavaScript): the [`chooser_links`].
pub fn chooser_page(links: &[(String, String)]) -> Reply {
    let links: Vec<(&str, &str)> = links.iter().map(|(h, t)| (h.as_str(), t.as_str())).collect();
    html_page(
        200,
        "Choose how to sign in",
        "This site accepts several sign-in providers.",
        &[],
        &links,
    )
}

/// A JSON error body for `fetch`/XHR clients: `{"error": code, "error_description": text}`.
pub fn json_error(status: u16, code: &str, description: &str, login_url: Option<&str>) -> Reply {
    let mut value = serde_json::json!({ "error": code, "error_description": description });
    if let (Some(url), Some(obj)) = (login_url, value.as_object_mut()) {
        obj.insert("login_url".into(), serde_json::Value::String(url.to_owned()));
    }
    Reply {
        status,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("cache-control", "no-store".to_owned()),
        ],
        body: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_dynamic() {
        let r = html_page(
            400,
            "<t>",
            "a&b",
            &[("error", "<script>alert(1)</script>")],
            &[("/x?a=\"1\"", "go")],
        );
        assert!(!r.body.contains("<script>"));
        assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.body.contains("<title>&lt;t&gt;</title>"));
        assert!(r.body.contains("href=\"/x?a=&quot;1&quot;\""));
        assert_eq!(r.status, 400);
    }

    /// Every page edge-oidc serves: not stored, not framed, no scripts, forms only to this site.
    #[test]
    fn pages_are_not_cached_framed_or_scripted() {
        for page in [
            html_page(200, "t", "m", &[], &[]),
            logout_confirmation_page("/logout"),
            misconfigured_page(false),
        ] {
            assert_eq!(page.header("cache-control"), Some("no-store"));
            assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
            let csp = page.header("content-security-policy").unwrap_or_default();
            for directive in ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"] {
                assert!(csp.contains(directive), "{csp}");
            }
            assert!(!csp.contains("script-src"), "{csp}");
        }
        let confirm = logout_confirmation_page("/out\"x");
        assert!(
            confirm.body.contains(r#"<form method="post" action="/out&quot;x">"#),
            "{}",
            confirm.body
        );
        assert_eq!(Reply::redirect("/x").header("cache-control"), Some("no-store"));
        assert_eq!(
            json_error(401, "e", "d", None).header("cache-control"),
            Some("no-store")
        );
    }

    #[test]
    fn json_errors() {
        let r = json_error(401, "login_required", "no \"session\"", Some("/login"));
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "login_required");
        assert_eq!(v["error_description"], "no \"session\"");
        assert_eq!(v["login_url"], "/login");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}
