//! The authorization response: which parts the authorization endpoint returns (`response_type`,
//! OpenID Connect Core §3 and OAuth 2.0 Multiple Response Type Encoding Practices §3–§5), how
//! they reach the redirect URI (`response_mode`: the query, the fragment, or OAuth 2.0 Form Post
//! Response Mode), and its parameters as they arrive in a query or a form body.

use serde::{Deserialize, Serialize};

/// Longest callback query accepted (GET).
pub const MAX_QUERY: usize = 8192;
/// Longest callback body accepted (POST: form_post, and the fragment relayed by our page). An
/// ID token with an access token fits in a few KiB; the shell refuses a longer body with 413.
pub const MAX_BODY: usize = 16 * 1024;
/// The parameter our relay pages add when they post a response again (see `site::relay`): a
/// POST carrying it never gets another relay page, whatever its headers say.
pub const RELAY_MARKER: &str = "edge_oidc_relay";

/// What the authorization endpoint returns. Serialized into the pending login with short names
/// (the cookie stays small); `code` is the default and is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResponseType {
    /// `code`: the authorization code flow (Core §3.1).
    #[default]
    #[serde(rename = "c")]
    Code,
    /// `id_token`: the implicit flow without an access token (Core §3.2).
    #[serde(rename = "i")]
    IdToken,
    /// `id_token token`: the implicit flow (Core §3.2).
    #[serde(rename = "it")]
    IdTokenToken,
    /// `code id_token`: the hybrid flow (Core §3.3).
    #[serde(rename = "ci")]
    CodeIdToken,
    /// `code token`: the hybrid flow (Core §3.3).
    #[serde(rename = "ct")]
    CodeToken,
    /// `code id_token token`: the hybrid flow (Core §3.3).
    #[serde(rename = "cit")]
    CodeIdTokenToken,
}

const RESPONSE_TYPES: [ResponseType; 6] = [
    ResponseType::Code,
    ResponseType::IdToken,
    ResponseType::IdTokenToken,
    ResponseType::CodeIdToken,
    ResponseType::CodeToken,
    ResponseType::CodeIdTokenToken,
];

impl ResponseType {
    /// Parses a `response_type` value: space-separated words in any order (RFC 6749 §3.1.1),
    /// each at most once. `None` for anything but the six OpenID Connect types.
    pub fn parse(value: &str) -> Option<ResponseType> {
        let words = Words::of(value)?;
        RESPONSE_TYPES
            .into_iter()
            .find(|t| Words::of(t.as_str()) == Some(words))
    }

    /// The value sent, in the order Core §3 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
            ResponseType::IdToken => "id_token",
            ResponseType::IdTokenToken => "id_token token",
            ResponseType::CodeIdToken => "code id_token",
            ResponseType::CodeToken => "code token",
            ResponseType::CodeIdTokenToken => "code id_token token",
        }
    }

    /// An authorization code comes back (then PKCE is used and the code redeemed).
    pub fn code(self) -> bool {
        matches!(
            self,
            ResponseType::Code | ResponseType::CodeIdToken | ResponseType::CodeToken | ResponseType::CodeIdTokenToken
        )
    }

    /// An ID token comes back from the authorization endpoint.
    pub fn id_token(self) -> bool {
        matches!(
            self,
            ResponseType::IdToken
                | ResponseType::IdTokenToken
                | ResponseType::CodeIdToken
                | ResponseType::CodeIdTokenToken
        )
    }

    /// An access token comes back from the authorization endpoint.
    pub fn token(self) -> bool {
        matches!(
            self,
            ResponseType::IdTokenToken | ResponseType::CodeToken | ResponseType::CodeIdTokenToken
        )
    }

    /// The mode the specs default to: the query for `code` alone, the fragment for every type
    /// that returns a token (Multiple Response Type Encoding Practices §5).
    pub fn default_mode(self) -> ResponseMode {
        if self == ResponseType::Code {
            ResponseMode::Query
        } else {
            ResponseMode::Fragment
        }
    }

    /// Whether a provider's `response_types_supported` lists this type (compared as sets of
    /// words: `id_token code` is `code id_token`).
    pub fn listed_in(self, supported: &[String]) -> bool {
        let ours = Words::of(self.as_str());
        supported.iter().any(|s| Words::of(s).is_some() && Words::of(s) == ours)
    }
}

/// The set of `response_type` words, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Words(u8);

impl Words {
    fn of(value: &str) -> Option<Words> {
        let mut bits = 0u8;
        for word in value.split(' ') {
            let bit = match word {
                "code" => 1,
                "id_token" => 2,
                "token" => 4,
                _ => return None,
            };
            if bits & bit != 0 {
                return None;
            }
            bits |= bit;
        }
        Some(Words(bits))
    }
}

/// How the response reaches the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResponseMode {
    /// In the query of a GET (RFC 6749 §4.1.2): only for `code`.
    #[default]
    #[serde(rename = "q")]
    Query,
    /// In the fragment (RFC 6749 §4.2.2): the browser keeps it; our relay page posts it.
    #[serde(rename = "f")]
    Fragment,
    /// In the body of a POST from the provider's page (OAuth 2.0 Form Post Response Mode).
    #[serde(rename = "p")]
    FormPost,
}

impl ResponseMode {
    /// Parses a `response_mode` value.
    pub fn parse(value: &str) -> Option<ResponseMode> {
        match value {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }

    /// The value sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
        }
    }

    /// Whether the response arrives as a POST (form_post, or the fragment relayed by our page)
    /// rather than in the query of a GET.
    pub fn posted(self) -> bool {
        self != ResponseMode::Query
    }
}

/// Why an authorization response was refused before any token in it was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The query or body is longer than [`MAX_QUERY`] / [`MAX_BODY`].
    #[error("the callback {0} is too long")]
    TooLong(&'static str),
    /// A parameter appears twice (RFC 6749 §3.1: parameters must not be included more than once).
    #[error("the parameter `{0}` is repeated")]
    Repeated(String),
    /// A POST whose body is not `application/x-www-form-urlencoded`.
    #[error("the callback body must be application/x-www-form-urlencoded")]
    NotForm,
    /// The response came by another way than this login asked for (a form_post or fragment
    /// login answered in the query, or a query login answered by a POST).
    #[error("the provider's answer came {got}, but this login asked for response_mode {expected}")]
    WrongMode {
        /// How it came.
        got: &'static str,
        /// The mode the login was started with.
        expected: &'static str,
    },
    /// A part the response type returns is missing (Core §3.1.2.5, §3.2.2.5, §3.3.2.5).
    #[error("the provider's answer has no `{0}`, which this login's response_type returns")]
    Missing(&'static str),
    /// A part the response type does not return is present: this login did not ask for it.
    #[error("the provider's answer carries `{0}`, which this login's response_type does not return")]
    Unexpected(&'static str),
}

/// The parameters of an authorization response (Core §3.1.2.5, §3.1.2.6, §3.2.2.5, §3.3.2.5;
/// RFC 9207 `iss`). Other parameters are ignored (but may not repeat either).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `id_token`.
    pub id_token: Option<String>,
    /// `access_token`.
    pub access_token: Option<String>,
    /// `token_type` (of the access token).
    pub token_type: Option<String>,
    /// `expires_in` (of the access token), as sent.
    pub expires_in: Option<String>,
    /// `error` (Core §3.1.2.6).
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// The response was posted again by one of our relay pages ([`RELAY_MARKER`]).
    pub relayed: bool,
}

impl AuthorizationResponse {
    /// Parses the query of a GET callback.
    pub fn from_query(query: &str) -> Result<AuthorizationResponse, ResponseError> {
        if query.len() > MAX_QUERY {
            return Err(ResponseError::TooLong("query"));
        }
        Self::parse(query.as_bytes())
    }

    /// Parses the body of a POST callback: `application/x-www-form-urlencoded` only (a charset
    /// parameter is allowed; the body is read as UTF-8 as browsers send it), at most
    /// [`MAX_BODY`] bytes.
    pub fn from_form(content_type: Option<&str>, body: &[u8]) -> Result<AuthorizationResponse, ResponseError> {
        let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ResponseError::NotForm);
        }
        if body.len() > MAX_BODY {
            return Err(ResponseError::TooLong("body"));
        }
        Self::parse(body)
    }

    fn parse(encoded: &[u8]) -> Result<AuthorizationResponse, ResponseError> {
        let mut params = AuthorizationResponse::default();
        // Names of ignored parameters, sorted: a repeat is refused for them too.
        let mut others: Vec<String> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(encoded) {
            let slot = match k.as_ref() {
                "state" => &mut params.state,
                "code" => &mut params.code,
                "id_token" => &mut params.id_token,
                "access_token" => &mut params.access_token,
                "token_type" => &mut params.token_type,
                "expires_in" => &mut params.expires_in,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                "iss" => &mut params.iss,
                RELAY_MARKER if !params.relayed => {
                    params.relayed = true;
                    continue;
                }
                RELAY_MARKER => return Err(ResponseError::Repeated(RELAY_MARKER.to_owned())),
                other => match others.binary_search_by(|o| o.as_str().cmp(other)) {
                    Ok(_) => return Err(ResponseError::Repeated(other.to_owned())),
                    Err(at) => {
                        others.insert(at, other.to_owned());
                        continue;
                    }
                },
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(ResponseError::Repeated(k.into_owned()));
            }
        }
        Ok(params)
    }

    /// The parameters a relay page posts again: the ones edge-oidc reads, nothing else.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("state", &self.state),
            ("code", &self.code),
            ("id_token", &self.id_token),
            ("access_token", &self.access_token),
            ("token_type", &self.token_type),
            ("expires_in", &self.expires_in),
            ("error", &self.error),
            ("error_description", &self.error_description),
            ("iss", &self.iss),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// Checks that the response holds exactly the parts `response_type` returns: each one it
    /// returns is there and not empty, and none it does not return (a `code` login answered
    /// with an `id_token` in the front channel is refused, as is an implicit one with a code).
    pub fn check_parts(&self, response_type: ResponseType) -> Result<(), ResponseError> {
        let parts = [
            ("code", response_type.code(), &self.code),
            ("id_token", response_type.id_token(), &self.id_token),
            ("access_token", response_type.token(), &self.access_token),
        ];
        for (name, expected, value) in parts {
            match (expected, value.as_deref()) {
                (true, None | Some("")) => return Err(ResponseError::Missing(name)),
                (false, Some(_)) => return Err(ResponseError::Unexpected(name)),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
