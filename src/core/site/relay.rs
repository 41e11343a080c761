//! The relay pages of the callback: one small page that posts an authorization response to the
//! redirect path from this origin.
//!
//! - **fragment** (`response_mode=fragment`): the browser keeps the fragment to itself, so the
//!   callback GET arrives with nothing. The page's script reads `location.hash`, removes it from
//!   the history entry (`history.replaceState`), and posts the parameters to the redirect path.
//!   The tokens never reach a server log, a later `Referer` or the history.
//! - **form_post** (OAuth 2.0 Form Post Response Mode): the provider's page posts the response
//!   cross-site, and the browser withholds the `SameSite=Lax` pending-login cookie from such a
//!   POST. The page posts the same parameters again from this origin, where the cookie comes
//!   along, and the callback runs as for any other response. It can only make the browser post
//!   what it posted already; the state must still match this browser's sealed pending login.
//!
//! Both posts carry [`RELAY_MARKER`], so a relayed post never gets a relay page again. The
//! script is allowed by its hash in the page's Content-Security-Policy (nothing else may run, no
//! resource is loaded, no frame may hold the page); the page is not cached and sends no
//! `Referer`. Every value is HTML-escaped.

use super::pages::{escape, html_page, Reply};
use crate::core::oidc::response::RELAY_MARKER;
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The page's only script: fragment parameters into the form (when there are any), then submit;
/// a page with nothing to post says so.
const SCRIPT: &str = "(function(){var f=document.getElementById(\"r\"),h=location.hash.slice(1);\
if(h){history.replaceState(null,\"\",location.pathname);new URLSearchParams(h).forEach(function(v,k){\
var i=document.createElement(\"input\");i.type=\"hidden\";i.name=k;i.value=v;f.appendChild(i)})}\
if(h||f.elements.length>1){f.submit()}else{document.getElementById(\"m\").hidden=false}})();";

/// The fragment relay page, served for a callback GET without a query.
pub fn fragment_page(action: &str) -> Reply {
    page(
        action,
        &[],
        "<p>This sign-in needs JavaScript to finish: the provider's answer is in the part of the address only a script can read. Turn JavaScript on and sign in again.</p>",
    )
}

/// The form_post relay page: `params` posted again from this origin.
pub fn form_post_page(action: &str, params: &[(&str, &str)]) -> Reply {
    page(
        action,
        params,
        "<p>JavaScript is off: press the button to finish signing in.</p><button type=\"submit\">Continue</button>",
    )
}

fn page(action: &str, params: &[(&str, &str)], noscript: &str) -> Reply {
    let mut reply = html_page(200, "Signing in", "Finishing your sign-in…", &[], &[]);
    let mut form = String::with_capacity(512 + params.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>());
    let _ = write!(form, "<form id=\"r\" method=\"post\" action=\"{}\">", escape(action));
    for (name, value) in params.iter().chain(&[(RELAY_MARKER, "1")]) {
        let _ = write!(
            form,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    let _ = write!(
        form,
        "<noscript>{noscript}</noscript></form><p id=\"m\" hidden>There is no sign-in to finish at this address. <a href=\"/\">Back to the site</a></p><script>{SCRIPT}</script>"
    );
    if let Some(at) = reply.body.rfind("</body>") {
        reply.body.insert_str(at, &form);
    }
    let script_hash = Base64::encode_string(&Sha256::digest(SCRIPT.as_bytes()));
    for (name, value) in reply.headers.iter_mut() {
        if *name == "content-security-policy" {
            *value = format!(
                "default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
            );
        }
    }
    reply.headers.push(("referrer-policy", "no-referrer".to_owned()));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp(reply: &Reply) -> &str {
        reply.header("content-security-policy").unwrap()
    }

    #[test]
    fn only_the_script_with_its_hash_may_run() {
        let page = fragment_page("/redirect_uri");
        let script = page
            .body
            .split("<script>")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        assert_eq!(script, SCRIPT);
        assert_eq!(page.body.matches("<script").count(), 1);
        let hash = Base64::encode_string(&Sha256::digest(script.as_bytes()));
        assert!(
            csp(&page).contains(&format!("script-src 'sha256-{hash}'")),
            "{}",
            csp(&page)
        );
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp(&page).contains(directive), "{directive}");
        }
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("src="), "no external resource");
    }

    #[test]
    fn form_post_relay_escapes_what_it_posts_again_and_marks_it() {
        let page = form_post_page(
            "/redirect_uri",
            &[("state", "s\"><script>alert(1)</script>"), ("code", "c&d")],
        );
        assert!(page
            .body
            .contains("<form id=\"r\" method=\"post\" action=\"/redirect_uri\">"));
        assert!(page
            .body
            .contains("name=\"state\" value=\"s&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(page.body.contains("name=\"code\" value=\"c&amp;d\""));
        assert!(page.body.contains(&format!("name=\"{RELAY_MARKER}\" value=\"1\"")));
        assert_eq!(page.body.matches("<script").count(), 1, "the injected one is text");
        assert!(page.body.contains("<noscript><p>JavaScript is off"));
    }

    #[test]
    fn fragment_relay_without_javascript_says_what_to_do() {
        let page = fragment_page("/cb");
        assert!(page.body.contains("<noscript><p>This sign-in needs JavaScript"));
        assert!(!page.body.contains("<noscript><p>JavaScript is off"));
        assert!(page.body.contains("action=\"/cb\""));
    }
}
