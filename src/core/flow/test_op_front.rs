//! The fake provider's authorization endpoint for every response type and mode, its pushed
//! authorization request endpoint (RFC 9126), and the browser's side of each mode: following a
//! redirect (the fragment stays in the browser), and auto-posting a form_post page cross-site
//! (the `SameSite=Lax` pending-login cookie stays home).

use super::*;
use crate::core::oidc::id_token::token_hash;
use crate::core::oidc::jwks::Alg;
use crate::core::oidc::response::{ResponseMode, ResponseType, RELAY_MARKER};

/// How the provider's answer reaches the browser.
#[derive(Debug)]
pub enum Front {
    /// A redirect with the response in the query.
    Query(Url),
    /// A redirect with the response in the fragment.
    Fragment(Url),
    /// The provider's page that posts the response to `action` (OAuth 2.0 Form Post).
    FormPost {
        action: String,
        params: Vec<(String, String)>,
    },
}

impl FakeOp {
    /// The provider's login page, with the user consenting: checks the authentication request
    /// (sent directly, or pushed before), remembers it for the code, and answers as its
    /// `response_type` and `response_mode` ask, with hashes (`at_hash`, `c_hash`) for ES256.
    pub fn respond(&self, auth: &Url) -> Front {
        assert!(
            auth.as_str().starts_with(&self.url("/authorize?")),
            "not our endpoint: {auth}"
        );
        let params = self.authorization_params(auth);
        let param = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("authorization request without {k}"))
        };
        let optional = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let rt = ResponseType::parse(&param("response_type")).expect("a response type");
        let client_id = param("client_id");
        assert!(
            self.clients.borrow().contains_key(&client_id),
            "unknown client {client_id}"
        );
        let (redirect_uri, nonce) = (param("redirect_uri"), param("nonce"));
        let mut out: Vec<(String, String)> = Vec::new();
        let mut code = None;
        if rt.code() {
            assert_eq!(param("code_challenge_method"), "S256");
            let c = format!("code-{}", self.next());
            let grant = Grant {
                client_id: client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                challenge: param("code_challenge"),
                nonce: nonce.clone(),
            };
            self.codes.borrow_mut().insert(c.clone(), grant);
            out.push(("code".into(), c.clone()));
            code = Some(c);
        } else {
            assert_eq!(optional("code_challenge"), None, "PKCE without a code");
        }
        let mut access_token = None;
        if rt.token() {
            let at = format!("at-{}", self.next());
            self.access_tokens.borrow_mut().push(at.clone());
            out.extend([
                ("access_token".into(), at.clone()),
                ("token_type".into(), "Bearer".into()),
                ("expires_in".into(), "3600".into()),
            ]);
            access_token = Some(at);
        }
        if rt.id_token() {
            let now = self.clock.now();
            let mut claims = json!({
                "iss": self.token_issuer(), "sub": "alice", "aud": client_id, "exp": now + 300, "iat": now,
                "nonce": nonce, "email": "alice@example.com", "email_verified": true,
            });
            let obj = claims.as_object_mut().expect("an object");
            if let Some((_, tid)) = &*self.tenant.borrow() {
                obj.insert("tid".into(), json!(tid));
            }
            if let Some(at) = &access_token {
                obj.insert("at_hash".into(), json!(token_hash(Alg::ES256, at)));
            }
            if let Some(c) = &code {
                obj.insert("c_hash".into(), json!(token_hash(Alg::ES256, c)));
            }
            if let Some(change) = self.front_claims.borrow().as_ref() {
                change(obj);
            }
            let id_token = self.sign(claims);
            self.id_tokens.borrow_mut().push(id_token.clone());
            out.push(("id_token".into(), id_token));
        }
        out.push(("state".into(), param("state")));
        if self.send_iss.get() {
            out.push(("iss".into(), self.token_issuer()));
        }
        let mode = optional("response_mode").map_or(rt.default_mode(), |m| ResponseMode::parse(&m).expect("a mode"));
        let mut back = Url::parse(&redirect_uri).expect("redirect_uri is a URL");
        match mode {
            ResponseMode::Query => {
                back.query_pairs_mut().extend_pairs(&out);
                Front::Query(back)
            }
            ResponseMode::Fragment => {
                let fragment = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&out)
                    .finish();
                back.set_fragment(Some(&fragment));
                Front::Fragment(back)
            }
            ResponseMode::FormPost => Front::FormPost {
                action: redirect_uri,
                params: out,
            },
        }
    }

    /// The request's parameters: from the URL, or the pushed request its `request_uri` names
    /// (single use; the URL's `client_id` must be the pushing client's).
    fn authorization_params(&self, auth: &Url) -> Vec<(String, String)> {
        let Some(uri) = query(auth, "request_uri") else {
            assert!(
                !self.require_par.get(),
                "this provider takes pushed requests only: {auth}"
            );
            return auth.query_pairs().into_owned().collect();
        };
        let names: Vec<String> = auth.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(names, ["client_id", "request_uri"], "only these next to a request_uri");
        let pushed = self
            .pushed
            .borrow_mut()
            .remove(&uri)
            .expect("a pushed request, not used yet");
        let pushed_client = pushed.iter().find(|(k, _)| k == "client_id").map(|(_, v)| v.clone());
        assert_eq!(pushed_client, query(auth, "client_id"), "the pushing client");
        pushed
    }

    /// RFC 9126 §2: the client authenticates; the parameters are kept under a `request_uri`.
    pub(super) fn par(&self, req: &HttpRequest) -> HttpResponse {
        if let Some(refusal) = self.par_refusal.borrow().clone() {
            return refusal;
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.body.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let form: HashMap<String, String> = pairs.iter().cloned().collect();
        assert_eq!(form.len(), pairs.len(), "a parameter repeated in {pairs:?}");
        self.par_requests.borrow_mut().push(pairs.clone());
        let Some(client_id) = form.get("client_id") else {
            return oauth_error(400, "invalid_request", "no client_id");
        };
        if !self.client_authenticated(req, &form, client_id) {
            return oauth_error(401, "invalid_client", "client authentication failed");
        }
        let uri = format!("urn:ietf:params:oauth:request_uri:{}", self.next());
        let kept = pairs.into_iter().filter(|(k, _)| k != "client_secret").collect();
        self.pushed.borrow_mut().insert(uri.clone(), kept);
        json_response(201, &json!({ "request_uri": uri, "expires_in": 60 }))
    }
}

impl Browser {
    /// A form POST of `params` to `url`: from a page of another site (the provider's form_post
    /// page: `SameSite=Lax` cookies are not sent), or from a page of the RP itself.
    pub fn post(&self, url: &str, params: &[(String, String)], same_origin: bool) -> Incoming {
        let url = Url::parse(url).expect("test URL");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Incoming {
            method: "POST".into(),
            headers: RequestHeaders {
                cookie: if same_origin { self.header() } else { None },
                accept: Some("text/html".into()),
                sec_fetch_mode: Some("navigate".into()),
                sec_fetch_site: Some(if same_origin { "same-origin" } else { "cross-site" }.into()),
                origin: Some(if same_origin {
                    url.origin().ascii_serialization()
                } else {
                    ISSUER.into()
                }),
                content_type: Some("application/x-www-form-urlencoded".into()),
                ..RequestHeaders::default()
            },
            url,
            body: Some(body.into_bytes()),
        }
    }
}

/// The hidden fields of a relay page's form (what its script or button posts).
pub fn relay_fields(page: &Reply) -> Vec<(String, String)> {
    let unescape = |v: &str| {
        v.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    page.body
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").expect("a value");
            let (value, _) = rest.split_once('"').expect("a closing quote");
            (unescape(name), unescape(value))
        })
        .collect()
}

impl Harness {
    /// The provider's answer delivered as a browser delivers it, relay pages included: a query
    /// redirect is followed; a fragment redirect arrives without its fragment, and the relay
    /// page posts the fragment from this origin; a form_post page posts cross-site, without the
    /// pending-login cookie, and the relay page posts the same fields again from this origin.
    /// Returns the callback's last answer (the browser keeps its cookies).
    pub fn deliver(&self, browser: &mut Browser, front: Front) -> Reply {
        let posted = match front {
            Front::Query(back) => return self.callback(browser, &back),
            Front::Fragment(back) => {
                let mut bare = back.clone();
                bare.set_fragment(None);
                let page = self.reply(&browser.navigate(bare.as_str()));
                assert_eq!(page.status, 200, "{}", page.body);
                assert_eq!(relay_fields(&page), [(RELAY_MARKER.to_owned(), "1".to_owned())]);
                let mut fields: Vec<(String, String)> =
                    url::form_urlencoded::parse(back.fragment().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                fields.push((RELAY_MARKER.into(), "1".into()));
                browser.post(bare.as_str(), &fields, true)
            }
            Front::FormPost { action, params } => {
                let page = self.reply(&browser.post(&action, &params, false));
                assert_eq!(page.status, 200, "relay page expected: {}", page.body);
                assert!(set_cookies(&page).is_empty(), "a relay page changes no cookie");
                browser.post(&action, &relay_fields(&page), true)
            }
        };
        let reply = self.reply(&posted);
        browser.store(&reply);
        reply
    }
}
