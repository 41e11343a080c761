//! Operator templates for edge-oidc's own pages (`pages` in the configuration). A template is
//! HTML with placeholders `{{title}}`, `{{error}}`, `{{error_description}}`, `{{status}}`,
//! `{{return_url}}` and `{{providers}}` (a list of sign-in links); every value is HTML-escaped,
//! whatever it holds. A template that cannot be used (too large, not UTF-8, an unknown or
//! unclosed placeholder) is refused when it is loaded, and the built-in page is served instead.

use super::pages::{escape, Reply};
use crate::core::config::PageKind;
use std::fmt::Write;

/// Templates are at most this large (64 KiB).
pub const MAX_TEMPLATE: usize = 64 * 1024;

/// The Content-Security-Policy of a templated page: still no scripts and no framing, but the
/// site's own stylesheets, images and fonts may be used.
const TEMPLATE_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'none'; form-action 'self'; frame-ancestors 'none'";

/// Why a template was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Larger than [`MAX_TEMPLATE`].
    #[error("it is larger than 64 KiB")]
    TooLarge,
    /// A `{{name}}` that is not one of the placeholders.
    #[error("it has an unknown placeholder `{{{{{0}}}}}`")]
    UnknownPlaceholder(String),
    /// A `{{` without its `}}`.
    #[error("it has a `{{{{` without `}}}}`")]
    Unclosed,
    /// It could not be loaded (missing asset, var not set, not UTF-8).
    #[error("it could not be loaded: {0}")]
    Missing(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Title,
    Error,
    ErrorDescription,
    Status,
    ReturnUrl,
    Providers,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Slot(Slot),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template(Vec<Part>);

/// The values a page is rendered with.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageValues<'a> {
    /// The page's title.
    pub title: &'a str,
    /// An error code (`access_denied`, the provider's `error`); empty on other pages.
    pub error: &'a str,
    /// What went wrong, for people.
    pub error_description: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// Where "back" or "sign in" leads.
    pub return_url: &'a str,
    /// Sign-in links (href, label).
    pub providers: &'a [(String, String)],
}

impl Template {
    /// Parses a template.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.len() > MAX_TEMPLATE {
            return Err(TemplateError::TooLarge);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let (before, after) = rest.split_at(start);
            parts.push(Part::Text(before.to_owned()));
            let after = after.get(2..).unwrap_or_default();
            let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
            let name = after.get(..end).unwrap_or_default().trim();
            let slot = match name {
                "title" => Slot::Title,
                "error" => Slot::Error,
                "error_description" => Slot::ErrorDescription,
                "status" => Slot::Status,
                "return_url" => Slot::ReturnUrl,
                "providers" => Slot::Providers,
                other => return Err(TemplateError::UnknownPlaceholder(other.chars().take(40).collect())),
            };
            parts.push(Part::Slot(slot));
            rest = after.get(end + 2..).unwrap_or_default();
        }
        parts.push(Part::Text(rest.to_owned()));
        Ok(Template(parts))
    }

    /// The page, every value escaped.
    pub fn render(&self, v: &PageValues<'_>) -> String {
        let mut out = String::with_capacity(4096);
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot(Slot::Title) => out.push_str(&escape(v.title)),
                Part::Slot(Slot::Error) => out.push_str(&escape(v.error)),
                Part::Slot(Slot::ErrorDescription) => out.push_str(&escape(v.error_description)),
                Part::Slot(Slot::Status) => {
                    let _ = write!(out, "{}", v.status);
                }
                Part::Slot(Slot::ReturnUrl) => out.push_str(&escape(v.return_url)),
                Part::Slot(Slot::Providers) => {
                    out.push_str("<ul class=\"edge-oidc-providers\">");
                    for (href, label) in v.providers {
                        let _ = write!(out, "<li><a href=\"{}\">{}</a></li>", escape(href), escape(label));
                    }
                    out.push_str("</ul>");
                }
            }
        }
        out
    }
}

/// The loaded templates of an isolate.
#[derive(Debug, Clone, Default)]
pub struct Templates(Vec<(PageKind, Template)>);

impl Templates {
    /// From the loaded texts (or why they could not be loaded): the usable templates, and a
    /// log line for each that is not used.
    pub fn from_loaded(loaded: Vec<(PageKind, Result<String, String>)>) -> (Templates, Vec<String>) {
        let mut templates = Vec::new();
        let mut notes = Vec::new();
        for (kind, text) in loaded {
            match text.map_err(TemplateError::Missing).and_then(|t| Template::parse(&t)) {
                Ok(t) => templates.push((kind, t)),
                Err(e) => notes.push(format!(
                    "pages.{}: the template is not used, the built-in page is served ({e})",
                    kind.key()
                )),
            }
        }
        (Templates(templates), notes)
    }

    /// Whether there is a usable template for `kind`.
    pub fn has(&self, kind: PageKind) -> bool {
        self.0.iter().any(|(k, _)| *k == kind)
    }

    /// `built_in` as the operator's template for `kind` renders it, when there is one.
    pub fn apply(&self, kind: PageKind, built_in: Reply, values: &PageValues<'_>) -> Reply {
        let Some((_, template)) = self.0.iter().find(|(k, _)| *k == kind) else {
            return built_in;
        };
        let mut reply = built_in;
        reply.body = template.render(values);
        for (name, value) in &mut reply.headers {
            if *name == "content-security-policy" {
                TEMPLATE_CSP.clone_into(value);
            }
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::site::pages::html_page;

    #[test]
    fn every_value_is_escaped() {
        let t = Template::parse("<h1>{{title}}</h1><p>{{ error }}: {{error_description}} ({{status}})</p><a href=\"{{return_url}}\">back</a>{{providers}}").unwrap();
        let providers = vec![("/login?provider=a&x=\"1\"".to_owned(), "<b>A</b>".to_owned())];
        let page = t.render(&PageValues {
            title: "T<script>",
            error: "e\"rr",
            error_description: "<img src=x onerror=alert(1)>",
            status: 403,
            return_url: "javascript:\"><script>",
            providers: &providers,
        });
        assert!(
            !page.contains("<script>") && !page.contains("<img") && !page.contains("<b>"),
            "{page}"
        );
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
        assert!(page.contains("(403)") && page.contains("e&quot;rr"), "{page}");
        assert!(
            page.contains("href=\"/login?provider=a&amp;x=&quot;1&quot;\""),
            "{page}"
        );
    }

    #[test]
    fn broken_templates_fall_back_with_a_reason() {
        let (templates, notes) = Templates::from_loaded(vec![
            (PageKind::Error, Ok("{{nope}}".into())),
            (PageKind::Forbidden, Ok("<p>{{error".into())),
            (PageKind::Chooser, Err("asset /x.html: 404".into())),
            (PageKind::LoggedOut, Ok("x".repeat(MAX_TEMPLATE + 1))),
        ]);
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(
            notes[0].contains("pages.error") && notes[0].contains("{{nope}}"),
            "{notes:?}"
        );
        assert!(notes[2].contains("404"), "{notes:?}");
        let built_in = html_page(500, "t", "m", &[], &[]);
        let page = templates.apply(PageKind::Error, built_in.clone(), &PageValues::default());
        assert_eq!(page, built_in);
    }

    #[test]
    fn a_template_keeps_status_and_headers_but_allows_site_styles() {
        let (templates, notes) = Templates::from_loaded(vec![(PageKind::Forbidden, Ok("<p>{{status}}</p>".into()))]);
        assert!(notes.is_empty());
        let page = templates.apply(
            PageKind::Forbidden,
            html_page(403, "t", "m", &[], &[]),
            &PageValues {
                status: 403,
                ..PageValues::default()
            },
        );
        assert_eq!((page.status, page.body.as_str()), (403, "<p>403</p>"));
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
}
