//! The client a login uses: static from the configuration, or registered dynamically at the
//! provider on first use (Dynamic Client Registration 1.0), stored in KV and reused by every
//! isolate until its secret expires.

use super::{App, Incoming, Io};
use crate::core::config::{ClientConfig, ProviderConfig};
use crate::core::error::AppError;
use crate::core::http::{HttpClient, KvStore};
use crate::core::oidc::client_auth::{choose_method, AuthMethod, Client};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::registration::{parse_response, RegisteredClient, RegistrationError, RegistrationRequest};

/// After a failed registration, no new attempt for this long (no tight retry loop).
const REGISTRATION_BACKOFF_SECS: i64 = 30;
/// KV lifetime of a registration without expiry (KV needs a TTL in our store trait).
const REGISTRATION_KV_TTL: u64 = 365 * 86400;

/// KV key of a provider's current registration.
pub(crate) fn registration_key(provider: &str) -> String {
    format!("registration:{provider}")
}

/// KV key of one registration by its client id (what a callback looks up: the login may have
/// been started with a registration that is no longer the current one).
fn registration_id_key(provider: &str, client_id: &str) -> String {
    format!("registration:{provider}:{client_id}")
}

impl App {
    /// The client for a new login, and the registration to remember in the pending login.
    /// `authenticates`: the login will authenticate the client (a code to redeem, or a pushed
    /// request); an implicit login without PAR only needs the client id.
    pub(super) async fn client_for_login<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        req: &Incoming,
        io: &Io<'_, H, K>,
        authenticates: bool,
    ) -> Result<(Client, Option<RegisteredClient>), AppError> {
        match &provider.client {
            ClientConfig::Static { client_id } => {
                Ok((static_client(provider, metadata, client_id, authenticates)?, None))
            }
            ClientConfig::Dynamic { registration } => {
                let registered = self
                    .registered_client(provider, metadata, registration, req, io)
                    .await?;
                Ok((dynamic_client(provider, &registered), Some(registered)))
            }
        }
    }

    /// The client for a callback: the one the login was started with (for a dynamically
    /// registered client, the registration with that client id: from the isolate, else KV).
    pub(super) async fn client_for_callback<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        client_id: Option<&str>,
        io: &Io<'_, H, K>,
        authenticates: bool,
    ) -> Result<Client, AppError> {
        let ClientConfig::Dynamic { .. } = &provider.client else {
            if let ClientConfig::Static { client_id } = &provider.client {
                return static_client(provider, metadata, client_id, authenticates);
            }
            return Err(AppError::UnknownState);
        };
        let wanted = client_id.ok_or(AppError::UnknownState)?;
        if let Some(c) = self.cache.registered_by_id(&provider.name, wanted) {
            return Ok(dynamic_client(provider, &c));
        }
        let stored = io.kv.get(&registration_id_key(&provider.name, wanted)).await?;
        match stored.and_then(|v| serde_json::from_str::<RegisteredClient>(&v).ok()) {
            Some(c) if c.client_id == wanted => {
                self.cache.remember_registration(&provider.name, c.clone());
                Ok(dynamic_client(provider, &c))
            }
            // Expired (or never made) while this login was under way.
            _ => Err(AppError::UnknownState),
        }
    }

    async fn registered_client<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        extra: &serde_json::Map<String, serde_json::Value>,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<RegisteredClient, AppError> {
        let now = io.clock.now();
        let redirect_uri = self.our_url(req, &self.config.redirect_path);
        // A registration made for another response type would be refused by the provider.
        let usable = |c: &RegisteredClient| {
            !c.expired(now)
                && c.issuer == provider.issuer
                && c.redirect_uri == redirect_uri
                && c.response_type == provider.response_type
        };
        if let Some(c) = self.cache.registered(&provider.name).filter(|c| usable(c)) {
            return Ok(c);
        }
        if let Some((at, why)) = self.cache.registration_failure(&provider.name) {
            if now - at < REGISTRATION_BACKOFF_SECS {
                return Err(RegistrationError::Backoff(why).into());
            }
        }
        let key = registration_key(&provider.name);
        if let Some(stored) = io.kv.get(&key).await? {
            if let Some(c) = serde_json::from_str::<RegisteredClient>(&stored)
                .ok()
                .filter(|c| usable(c))
            {
                self.cache.set_registered(&provider.name, c.clone());
                return Ok(c);
            }
        }
        match self.register(provider, metadata, extra, &redirect_uri, req, io).await {
            Ok(c) => {
                let ttl = match c.client_secret_expires_at {
                    0 => REGISTRATION_KV_TTL,
                    at => u64::try_from(at - now).unwrap_or(60).max(60),
                };
                let value = serde_json::to_string(&c).map_err(|e| AppError::Internal(e.to_string()))?;
                // Two isolates registering at once both succeed; the last write wins the
                // current slot, and each pending login finds its own client by id.
                io.kv
                    .put(&registration_id_key(&provider.name, &c.client_id), &value, ttl)
                    .await?;
                io.kv.put(&key, &value, ttl).await?;
                self.cache.set_registered(&provider.name, c.clone());
                Ok(c)
            }
            Err(e) => {
                self.cache.set_registration_failure(&provider.name, now, e.to_string());
                Err(e)
            }
        }
    }

    async fn register<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        extra: &serde_json::Map<String, serde_json::Value>,
        redirect_uri: &str,
        req: &Incoming,
        io: &Io<'_, H, K>,
    ) -> Result<RegisteredClient, AppError> {
        let endpoint = metadata
            .registration_endpoint
            .as_deref()
            .ok_or(RegistrationError::NotSupported)?;
        let method = choose_method(
            provider.auth_method,
            metadata.token_endpoint_auth_methods_supported.as_deref(),
            true,
            provider.private_key.is_some(),
        )?;
        let jwks_uri = provider
            .private_key
            .as_ref()
            .map(|_| self.our_url(req, &self.config.jwks_path));
        let post_logout = self.our_url(req, &self.config.post_logout_redirect_uri);
        let follow = &provider.follow;
        let backchannel = follow
            .backchannel_logout
            .then(|| self.our_url(req, &self.config.backchannel_logout_path));
        let frontchannel = follow
            .frontchannel_logout
            .then(|| self.our_url(req, &self.config.frontchannel_logout_path));
        let request = RegistrationRequest {
            endpoint,
            redirect_uri,
            post_logout_redirect_uri: &post_logout,
            method,
            jwks_uri: jwks_uri.as_deref(),
            response_type: provider.response_type,
            backchannel_logout_uri: backchannel.as_deref(),
            frontchannel_logout_uri: frontchannel.as_deref(),
            extra,
        };
        let response = io.http.send(request.to_http()).await?;
        let mut registered = parse_response(&response, method, &provider.issuer, redirect_uri)?;
        registered.response_type = provider.response_type;
        Ok(registered)
    }
}

fn static_client(
    provider: &ProviderConfig,
    metadata: &ProviderMetadata,
    client_id: &str,
    authenticates: bool,
) -> Result<Client, AppError> {
    let method = choose_method(
        provider.auth_method,
        metadata.token_endpoint_auth_methods_supported.as_deref(),
        provider.client_secret.is_some(),
        provider.private_key.is_some(),
    );
    // A login that never authenticates the client does not need a method the provider lists.
    let method = match method {
        Err(_) if !authenticates => AuthMethod::None,
        other => other?,
    };
    Ok(Client {
        client_id: client_id.to_owned(),
        method,
        secret: provider.client_secret.clone(),
        private_key: provider.private_key.clone(),
    })
}

fn dynamic_client(provider: &ProviderConfig, reg: &RegisteredClient) -> Client {
    Client {
        client_id: reg.client_id.clone(),
        method: reg.method,
        secret: reg.client_secret.clone(),
        private_key: provider.private_key.clone(),
    }
}
