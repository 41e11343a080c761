//! The session endpoint (`session_endpoint_path`, e.g. `/.auth/me`): a static site's scripts ask
//! who is signed in. It answers only requests from this site (`Sec-Fetch-Site: same-origin`, or
//! an `Origin` equal to the site's), so another site cannot learn who visits it; never tokens.
//! Nothing is read from KV: the identity cookie holds everything it reports.

use super::{App, Incoming};
use crate::core::session::cookies::CookieJar;
use crate::core::site::pages::{json_error, Reply};
use crate::core::site::rules::GROUPS_KEY;
use serde_json::{json, Map, Value};

impl App {
    /// `GET <session_endpoint_path>`: the session as JSON, or 401 JSON.
    pub(super) fn session_endpoint(&self, req: &Incoming, now: i64) -> Reply {
        if !matches!(req.method.as_str(), "GET" | "HEAD") {
            return json_error(405, "invalid_request", "the session endpoint takes GET", None);
        }
        if !self.same_origin(req) {
            return json_error(
                401,
                "same_origin_required",
                "the session endpoint answers requests from this site only",
                None,
            );
        }
        let jar = CookieJar::parse(req.headers.cookie.as_deref());
        let identity = match self.session(req, &jar, now) {
            Some(Ok(identity)) if self.check_allowed(&identity).is_ok() => identity,
            _ => return json_error(401, "login_required", "not signed in", None),
        };
        let mut claims = Map::new();
        for (key, values) in &identity.claims {
            // `g` is the provider's groups claim, whatever its path.
            let name = if key == GROUPS_KEY { "groups" } else { key.as_str() };
            claims.insert(name.to_owned(), Value::from(values.clone()));
        }
        let body = json!({
            "sub": identity.sub,
            "email": identity.email,
            "email_verified": identity.email_verified,
            "name": identity.name,
            "provider": identity.provider,
            "expires_at": identity.expires_at,
            "claims": claims,
        });
        Reply {
            status: 200,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "no-store".to_owned()),
                ("x-content-type-options", "nosniff".to_owned()),
            ],
            body: body.to_string(),
        }
    }

    /// Whether the request comes from this site: Fetch Metadata says so, or its `Origin` is the
    /// site's (the public origin, else the request's own).
    fn same_origin(&self, req: &Incoming) -> bool {
        let h = &req.headers;
        if let Some(site) = h.sec_fetch_site.as_deref() {
            return site.eq_ignore_ascii_case("same-origin");
        }
        let site = match &self.config.public_origin {
            Some(public) => public.clone(),
            None => req.url.origin().ascii_serialization(),
        };
        h.origin.as_deref().is_some_and(|o| o == site)
    }
}
