//! Issuers that name a tenant: a configured issuer that is a template with `{tenantid}`, as the
//! multi-tenant authorities of Microsoft Entra ID publish it.
//!
//! Microsoft documents this behaviour ("OpenID Connect on the Microsoft identity platform",
//! "Microsoft identity platform ID tokens", "Secure applications and APIs by validating claims"):
//! - the discovery documents of the `organizations` and `common` authorities
//!   (`https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration`)
//!   name the issuer `https://login.microsoftonline.com/{tenantid}/v2.0`, placeholder included;
//! - each ID token's `iss` names the user's own tenant: that URL with the tenant's GUID in place of
//!   `{tenantid}`, and the same GUID is the token's `tid` claim (personal Microsoft accounts have
//!   the tenant `9188040d-6c67-4c5b-b112-36a304b66dad`);
//! - an application that accepts several tenants validates `iss` by putting the token's own `tid`
//!   into the template, and checks `tid` against the tenants it serves (Microsoft.Identity.Web's
//!   `AadIssuerValidator` does the first part the same way).
//!
//! So nothing here loosens the exact comparison of OpenID Connect Core §3.1.3.7 step 2: the
//! expected issuer is built from the template and a GUID-shaped `tid`, then compared exactly.
//! Sealed values stay bound to the configured template string (the provider's identity), never
//! to one tenant's issuer.

/// The placeholder a templated issuer carries, as Microsoft writes it.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// A tenant id that only shows the shape (for validating a template as a URL).
pub const SAMPLE_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// An issuer template with one `{tenantid}`, and the tenants allowed to sign in (empty: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantIssuer {
    prefix: String,
    suffix: String,
    allowed: Vec<String>,
}

impl TenantIssuer {
    /// `None` unless `template` holds [`TENANT_PLACEHOLDER`] exactly once. `allowed` are tenant
    /// ids (compared without regard to case).
    pub fn new(template: &str, allowed: Vec<String>) -> Option<TenantIssuer> {
        let (prefix, suffix) = template.split_once(TENANT_PLACEHOLDER)?;
        if suffix.contains(TENANT_PLACEHOLDER) {
            return None;
        }
        Some(TenantIssuer {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            allowed: allowed.iter().map(|t| t.to_ascii_lowercase()).collect(),
        })
    }

    /// The issuer of one tenant: the template with `tenant` in place of the placeholder.
    pub fn issuer_for(&self, tenant: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + tenant.len() + self.suffix.len());
        s.push_str(&self.prefix);
        s.push_str(tenant);
        s.push_str(&self.suffix);
        s
    }

    /// The tenant a concrete issuer names, when it is this template with a tenant id (a GUID) in
    /// place of the placeholder (an RFC 9207 `iss` parameter, before any token is seen).
    pub fn tenant_in<'a>(&self, issuer: &'a str) -> Option<&'a str> {
        let tenant = issuer
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        is_tenant_id(tenant).then_some(tenant)
    }

    /// Whether users of `tenant` may sign in (`allowed_tenants`; empty: every tenant).
    pub fn allows(&self, tenant: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|t| t.eq_ignore_ascii_case(tenant))
    }

    /// The allowed tenants, lower-case (empty: any).
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }
}

/// Whether `s` has the shape of a Microsoft tenant id: a GUID, 8-4-4-4-12 hexadecimal digits.
/// Anything else in `tid` (a domain name, a path, `..`) is refused before it reaches an issuer.
pub fn is_tenant_id(s: &str) -> bool {
    let groups = [8usize, 4, 4, 4, 12];
    let mut parts = s.split('-');
    let shaped = groups.iter().all(|&len| {
        parts
            .next()
            .is_some_and(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    shaped && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn builds_and_reads_tenant_issuers() {
        let t = TenantIssuer::new(TEMPLATE, vec![]).unwrap();
        let issuer = t.issuer_for(TID);
        assert_eq!(issuer, format!("https://login.microsoftonline.com/{TID}/v2.0"));
        assert_eq!(t.tenant_in(&issuer), Some(TID));
        // The template itself, other shapes and other URLs name no tenant.
        for other in [
            TEMPLATE,
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/x",
            "https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/../v2.0",
        ] {
            assert_eq!(t.tenant_in(other), None, "{other}");
        }
        assert!(t.allows(TID), "no allow-list: every tenant");
    }

    #[test]
    fn allow_list_ignores_case() {
        let t = TenantIssuer::new(TEMPLATE, vec![TID.to_ascii_uppercase()]).unwrap();
        assert!(t.allows(TID));
        assert!(!t.allows("9188040d-6c67-4c5b-b112-36a304b66dad"));
    }

    #[test]
    fn template_needs_exactly_one_placeholder() {
        assert!(TenantIssuer::new("https://op.example", vec![]).is_none());
        assert!(TenantIssuer::new("https://op.example/{tenantid}/{tenantid}", vec![]).is_none());
    }

    #[test]
    fn tenant_ids_are_guids() {
        assert!(is_tenant_id(TID));
        assert!(is_tenant_id("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
        for bad in [
            "",
            "common",
            "72f988bf86f141af91ab2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db47-0",
            "72f988bg-86f1-41af-91ab-2d7cd011db47",
            "../../../../../../../../../../../.",
        ] {
            assert!(!is_tenant_id(bad), "{bad}");
        }
    }
}
