//! Login-time requirements on the claims of a validated ID token (and UserInfo): the tenant of a
//! templated issuer and `required_claims`. A refusal is a 403 page and no session. Nothing here
//! runs on the hot path: a session exists only once these passed.

use crate::core::config::ProviderConfig;
use crate::core::error::AppError;
use crate::core::oidc::id_token::IdTokenClaims;
use serde_json::{Map, Value};

/// For a templated issuer (Entra multi-tenant): the ID token's `tid` (already checked to be a
/// GUID that, put into the template, gives the token's `iss`) must be an allowed tenant, and an
/// RFC 9207 `iss` parameter, when the provider sent one, must name that same tenant: the
/// authorization response and the token come from one issuer (RFC 9207 §2.4).
pub(super) fn check_tenant(
    provider: &ProviderConfig,
    claims: &IdTokenClaims,
    iss_param: Option<&str>,
) -> Result<(), AppError> {
    let Some(template) = &provider.tenant else {
        return Ok(());
    };
    if iss_param.is_some_and(|iss| iss != claims.iss) {
        return Err(AppError::IssuerMismatch);
    }
    let tenant = claims.extra.get("tid").and_then(Value::as_str).unwrap_or_default();
    if template.allows(tenant) {
        Ok(())
    } else {
        Err(AppError::ClaimNotMet { claim: "tid".into() })
    }
}

/// `required_claims`: each listed claim must carry one of its accepted values. The ID token's
/// claim decides when the token has it (it is signed by the provider); only a claim the ID token
/// lacks is looked up in UserInfo (fetched over TLS with the access token, its `sub` checked
/// against the ID token's: Core §5.3.2). A claim in neither refuses the login.
pub(super) fn check_required_claims(
    provider: &ProviderConfig,
    claims: &IdTokenClaims,
    userinfo: Option<&Map<String, Value>>,
) -> Result<(), AppError> {
    for required in &provider.required_claims {
        let met = match id_token_claim(claims, &required.name) {
            Some(Claim::Text(s)) => required.accepts_str(s),
            Some(Claim::List(items)) => items.iter().any(|s| required.accepts_str(s)),
            Some(Claim::Json(v)) => required.accepts(v),
            None => userinfo
                .and_then(|u| u.get(&required.name))
                .is_some_and(|v| required.accepts(v)),
        };
        if !met {
            return Err(AppError::ClaimNotMet {
                claim: required.name.clone(),
            });
        }
    }
    Ok(())
}

/// A claim of the validated ID token, borrowed as it is held (no copies at the callback).
enum Claim<'a> {
    Text(&'a str),
    List(&'a [String]),
    Json(&'a Value),
}

/// A claim of the validated ID token by name. The claims `required_claims` may not name (`iss`,
/// `aud`, `email`, …: see config/quirks.rs) are not looked up.
fn id_token_claim<'a>(claims: &'a IdTokenClaims, name: &str) -> Option<Claim<'a>> {
    match name {
        "sub" => Some(Claim::Text(&claims.sub)),
        "sid" => claims.sid.as_deref().map(Claim::Text),
        "name" => claims.name.as_deref().map(Claim::Text),
        "preferred_username" => claims.preferred_username.as_deref().map(Claim::Text),
        "amr" => claims.amr.as_deref().map(Claim::List),
        other => claims.extra.get(other).map(Claim::Json),
    }
}
