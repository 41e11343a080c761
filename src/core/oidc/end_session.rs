//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).

use url::Url;

/// The logout request sent to the provider's `end_session_endpoint`.
#[derive(Debug)]
pub struct EndSessionRequest<'a> {
    /// The provider's `end_session_endpoint`.
    pub endpoint: &'a str,
    /// The ID token of the session (recommended, §2).
    pub id_token_hint: Option<&'a str>,
    /// Where the provider sends the browser afterwards (must be registered there).
    pub post_logout_redirect_uri: &'a str,
    /// Our client id (§2: lets the provider check the redirect URI without a hint).
    pub client_id: Option<&'a str>,
}

impl EndSessionRequest<'_> {
    /// The URL to send the browser to.
    pub fn url(&self) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(self.endpoint)?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = self.id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            q.append_pair("post_logout_redirect_uri", self.post_logout_redirect_uri);
            if let Some(id) = self.client_id {
                q.append_pair("client_id", id);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_logout_url() {
        let url = EndSessionRequest {
            endpoint: "https://op.example/session/end",
            id_token_hint: Some("a.b.c"),
            post_logout_redirect_uri: "https://rp.example/logged-out",
            client_id: Some("rp"),
        }
        .url()
        .unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![
                ("id_token_hint".into(), "a.b.c".into()),
                (
                    "post_logout_redirect_uri".into(),
                    "https://rp.example/logged-out".into()
                ),
                ("client_id".into(), "rp".into()),
            ]
        );
    }
}
