//! Every failure of a request, classed client / upstream / internal and mapped to a response in
//! one place: an HTML page for browsers, JSON for `fetch`/XHR.
//!
//! Client faults are not logged (they are the visitor's or an attacker's doing); upstream and
//! internal faults are, without secrets.

use crate::core::config::ConfigError;
use crate::core::http::{HttpError, StoreError};
use crate::core::oidc::discovery::DiscoveryError;
use crate::core::oidc::id_token::{IdTokenError, IdTokenFault};
use crate::core::oidc::jwks::JwksError;
use crate::core::oidc::token::TokenError;
use crate::core::site::pages::{html_page, json_error, Reply};
use crate::core::site::path::PathError;
use crate::core::site::return_url::ReturnUrlError;

/// Who is at fault, which decides the status and whether to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// The request (or the visitor's browser) is wrong: 4xx, not logged.
    Client,
    /// The provider or a binding failed: 502/503/504, logged.
    Upstream,
    /// edge-oidc itself or its configuration: 500, logged.
    Internal,
}

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration is invalid; shown on every request until fixed.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A malformed request (duplicate or missing parameters, oversized input).
    #[error("{0}")]
    BadRequest(String),
    /// The request path has no canonical form (src/core/site/path.rs): nothing is passed on.
    #[error("the request path is not accepted: {0}")]
    Path(#[from] PathError),
    /// The authorization response has the wrong shape or came the wrong way.
    #[error("{0}")]
    Response(#[from] crate::core::oidc::response::ResponseError),
    /// The callback's `state` is unknown: expired, already used, or forged.
    #[error("this login has expired or was already used; please start again")]
    UnknownState,
    /// The callback came without this browser's login cookie, or with another browser's.
    #[error("this login was started in another browser or its cookie is missing; please start again")]
    StateNotBound,
    /// The provider answered the authentication request with an error (Core §3.1.2.6).
    #[error("the provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        /// `error` code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The callback carries a provider `error` but matches no pending login of this browser:
    /// the text is anyone's (a crafted link), so it is not shown.
    #[error("the sign-in was not completed; please start again")]
    ProviderUnverified,
    /// A state-changing request (logout) that did not come from this site.
    #[error("this request did not come from this site and was refused")]
    CrossSiteRequest,
    /// The ID token's `acr` is not one of the provider's `required_acr`.
    #[error("the sign-in did not use a required authentication method (acr {})", got.as_deref().unwrap_or("missing"))]
    AcrNotMet {
        /// The `acr` the ID token had.
        got: Option<String>,
    },
    /// A claim the provider's `required_claims` (or, for `tid`, its `allowed_tenants`) asks
    /// for is missing or has another value. Only the claim's name is shown, never its value.
    #[error("your account does not meet this site's sign-in requirements (claim `{claim}`)")]
    ClaimNotMet {
        /// The claim's name.
        claim: String,
    },
    /// RFC 9207: `iss` in the authorization response is not the provider's issuer, or is
    /// missing although the provider promised to send it.
    #[error("the authorization response comes from an unexpected issuer")]
    IssuerMismatch,
    /// The return URL is not on this site.
    #[error("{0}")]
    ReturnUrl(#[from] ReturnUrlError),
    /// The ID token is invalid.
    #[error("the ID token was rejected: {0}")]
    IdToken(#[from] IdTokenError),
    /// The token or UserInfo response was refused.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The provider metadata was refused.
    #[error("{0}")]
    Discovery(#[from] DiscoveryError),
    /// The provider's JWKS was refused.
    #[error("the provider's key set is not valid: {0}")]
    Jwks(#[from] JwksError),
    /// A request to the provider got no answer.
    #[error("the provider could not be reached: {0}")]
    Upstream(#[from] HttpError),
    /// Dynamic client registration failed.
    #[error("{0}")]
    Registration(#[from] crate::core::oidc::registration::RegistrationError),
    /// The client cannot authenticate at the token endpoint.
    #[error("{0}")]
    ClientAuth(#[from] crate::core::oidc::client_auth::ClientAuthError),
    /// Workers KV failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The signed-in user is not on the allow-list.
    #[error("your account ({0}) is not allowed to access this site")]
    Forbidden(String),
    /// A rule refused the request (`deny`, or requirements the session does not meet). Names
    /// the rule (its `name`, else `rules[i]`), never the claims it looked at.
    #[error("access to this page is refused by rule `{0}`")]
    RuleRefused(String),
    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The fault class.
    pub fn class(&self) -> FaultClass {
        match self {
            AppError::BadRequest(_)
            | AppError::Response(_)
            | AppError::Path(_)
            | AppError::UnknownState
            | AppError::StateNotBound
            | AppError::ProviderUnverified
            | AppError::CrossSiteRequest
            | AppError::AcrNotMet { .. }
            | AppError::ClaimNotMet { .. }
            | AppError::Provider { .. }
            | AppError::IssuerMismatch
            | AppError::ReturnUrl(_)
            | AppError::Forbidden(_)
            | AppError::RuleRefused(_) => FaultClass::Client,
            AppError::IdToken(_)
            | AppError::Registration(_)
            | AppError::ClientAuth(_)
            | AppError::Token(_)
            | AppError::Discovery(_)
            | AppError::Jwks(_)
            | AppError::Upstream(_)
            | AppError::Store(_) => FaultClass::Upstream,
            AppError::Config(_) | AppError::Internal(_) => FaultClass::Internal,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Forbidden(_)
            | AppError::RuleRefused(_)
            | AppError::AcrNotMet { .. }
            | AppError::ClaimNotMet { .. }
            | AppError::CrossSiteRequest => 403,
            AppError::Provider { error, .. } if error == "access_denied" => 403,
            AppError::Provider { .. } => 401,
            AppError::Upstream(HttpError::Timeout) => 504,
            AppError::Store(_) => 503,
            _ => match self.class() {
                FaultClass::Client => 400,
                FaultClass::Upstream => 502,
                FaultClass::Internal => 500,
            },
        }
    }

    /// A short machine-readable code for JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Config(_) => "configuration_error",
            AppError::BadRequest(_) | AppError::Response(_) | AppError::ReturnUrl(_) => "invalid_request",
            AppError::Path(_) => "invalid_path",
            AppError::UnknownState | AppError::StateNotBound => "invalid_state",
            AppError::ProviderUnverified => "login_failed",
            AppError::CrossSiteRequest => "cross_site_request",
            AppError::AcrNotMet { .. } => "insufficient_authentication",
            AppError::Provider { .. } => "provider_error",
            AppError::IssuerMismatch => "issuer_mismatch",
            AppError::IdToken(_) => "invalid_id_token",
            AppError::Token(_) | AppError::Discovery(_) | AppError::Jwks(_) => "provider_response_invalid",
            AppError::Registration(_) => "registration_failed",
            AppError::ClientAuth(_) => "client_authentication_unavailable",
            AppError::Upstream(HttpError::Timeout) => "provider_timeout",
            AppError::Upstream(_) => "provider_unreachable",
            AppError::Store(_) => "store_unavailable",
            AppError::Forbidden(_) | AppError::ClaimNotMet { .. } | AppError::RuleRefused(_) => "access_denied",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// The page title.
    pub fn title(&self) -> &'static str {
        if let AppError::Path(_) = self {
            return "Bad request";
        }
        if let AppError::IdToken(e) = self {
            return match e.fault() {
                IdTokenFault::Configuration => "Sign-in is not set up correctly",
                IdTokenFault::Security => "The sign-in response failed a security check",
                IdTokenFault::Clock => "The sign-in response is outside its validity time",
                IdTokenFault::Reauthenticate => "Please sign in again",
                IdTokenFault::Provider => "The sign-in provider is not answering correctly",
            };
        }
        match self.status() {
            403 => "Access denied",
            401 => "Sign-in was not completed",
            400 => "Sign-in could not be completed",
            502 | 504 => "The sign-in provider is not answering correctly",
            503 => "Temporarily unavailable",
            _ => "Server error",
        }
    }

    /// What a visitor is told (never internal details).
    pub fn message(&self) -> String {
        match self {
            // Internal details (bug descriptions) and configuration messages (keys, fixes: the
            // operator's) stay in the log.
            AppError::Internal(_) | AppError::Config(_) => {
                "Something went wrong on our side. Please try again later.".to_owned()
            }
            AppError::IdToken(e) => id_token_message(e),
            other => other.to_string(),
        }
    }

    /// The response for this error; `api` selects JSON.
    pub fn to_reply(&self, api: bool) -> Reply {
        let status = self.status();
        let message = self.message();
        if api {
            return json_error(status, self.code(), &message, None);
        }
        let mut details: Vec<(&str, &str)> = Vec::new();
        if let AppError::Provider { error, description } = self {
            details.push(("error", error));
            if let Some(d) = description {
                details.push(("error_description", d));
            }
        }
        html_page(status, self.title(), &message, &details, &[("/", "Back to the site")])
    }
}

/// What a visitor is told about a refused ID token: what kind of problem it is and who can fix
/// it, then the check that failed.
fn id_token_message(e: &IdTokenError) -> String {
    let lead = match e.fault() {
        IdTokenFault::Configuration => {
            "The provider's answer is not meant for this site's settings (client id or signature algorithms): the site's administrator must check edge-oidc's configuration."
        }
        IdTokenFault::Security => {
            "The sign-in response did not pass a security check and was refused. If this keeps happening, tell the site's administrator."
        }
        IdTokenFault::Clock => "The sign-in response is not valid at this time; the clocks of the provider and this site may disagree.",
        IdTokenFault::Reauthenticate => "Your last sign-in is too old for this site.",
        IdTokenFault::Provider => "The sign-in provider sent an answer that cannot be used.",
    };
    format!("{lead} ({e})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_classes() {
        assert_eq!(AppError::UnknownState.status(), 400);
        assert_eq!(AppError::Forbidden("a@b".into()).status(), 403);
        assert_eq!(AppError::Upstream(HttpError::Timeout).status(), 504);
        assert_eq!(AppError::Upstream(HttpError::Network("refused".into())).status(), 502);
        assert_eq!(AppError::Store(StoreError("down".into())).status(), 503);
        assert_eq!(AppError::Internal("bug".into()).class(), FaultClass::Internal);
        assert_eq!(
            AppError::Provider {
                error: "access_denied".into(),
                description: None
            }
            .status(),
            403
        );
    }

    #[test]
    fn provider_error_page_shows_error_and_description() {
        let e = AppError::Provider {
            error: "access_denied".into(),
            description: Some("User said <no>".into()),
        };
        let page = e.to_reply(false);
        assert!(page.body.contains("access_denied"));
        assert!(page.body.contains("User said &lt;no&gt;"));
        let json = e.to_reply(true);
        assert!(json.body.contains("\"error\":\"provider_error\""));
    }

    /// Each class of ID-token failure gets its own wording: our settings, an attack, clocks.
    #[test]
    fn id_token_failures_are_worded_by_class() {
        let page = |e: IdTokenError| AppError::IdToken(e).to_reply(false).body;
        let aud = page(IdTokenError::WrongAudience);
        assert!(
            aud.contains("Sign-in is not set up correctly") && aud.contains("administrator"),
            "{aud}"
        );
        let sig = page(IdTokenError::BadSignature);
        assert!(sig.contains("failed a security check"), "{sig}");
        assert!(!sig.contains("not answering correctly"));
        let clock = page(IdTokenError::IssuedInFuture);
        assert!(clock.contains("clocks"), "{clock}");
        let junk = page(IdTokenError::MissingSub);
        assert!(junk.contains("not answering correctly"), "{junk}");
    }

    #[test]
    fn a_refused_path_is_a_client_fault() {
        let e = AppError::Path(PathError::EncodedSlash);
        assert_eq!((e.status(), e.class()), (400, FaultClass::Client));
        let page = e.to_reply(false);
        assert!(page.body.contains("Bad request") && page.body.contains("encoded slash"));
        assert!(e.to_reply(true).body.contains("\"error\":\"invalid_path\""));
    }

    #[test]
    fn internal_details_are_not_shown() {
        let page = AppError::Internal("secret detail".into()).to_reply(false);
        assert!(!page.body.contains("secret detail"));
        assert_eq!(page.status, 500);
    }
}
