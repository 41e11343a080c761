//! Provider metadata and JWKS, cached in the isolate and in KV (so a new isolate does not
//! rediscover either), and the dynamic registration cache.

use super::{App, Io};
use crate::core::config::{MetadataSource, ProviderConfig};
use crate::core::error::AppError;
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse, KvStore};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::jwks::Jwks;
use crate::core::oidc::registration::RegisteredClient;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// How long discovered metadata and a JWKS are reused.
const CACHE_TTL_SECS: i64 = 3600;
/// An unknown `kid` triggers at most one JWKS refetch per provider in this interval, so a
/// stream of forged tokens cannot make us hammer the provider.
const REFETCH_INTERVAL_SECS: i64 = 10;

#[derive(Default)]
struct Entry {
    metadata: Option<(Rc<ProviderMetadata>, i64)>,
    jwks: Option<(Rc<Jwks>, i64)>,
    last_refetch: Option<i64>,
    registered: Option<RegisteredClient>,
    /// Every registration this isolate made or read, by client id: a login started with one
    /// finishes with it even if another (concurrent) registration became current meanwhile.
    by_client_id: Vec<RegisteredClient>,
    registration_failure: Option<(i64, String)>,
}

/// Per-isolate cache, one entry per provider (a handful: a list, not a hash map, which would
/// cost its own copy of the hashing code in the wasm). Borrows never span an `.await`
/// (requests interleave on one thread).
#[derive(Default)]
pub(super) struct ProviderCache {
    entries: RefCell<Vec<(String, Entry)>>,
}

impl ProviderCache {
    fn with<R>(&self, provider: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut entries = self.entries.borrow_mut();
        let i = match entries.iter().position(|(name, _)| name == provider) {
            Some(i) => i,
            None => {
                entries.push((provider.to_owned(), Entry::default()));
                entries.len() - 1
            }
        };
        match entries.get_mut(i) {
            Some((_, entry)) => f(entry),
            None => f(&mut Entry::default()),
        }
    }
    pub(super) fn registered(&self, provider: &str) -> Option<RegisteredClient> {
        self.with(provider, |e| e.registered.clone())
    }
    pub(super) fn registered_by_id(&self, provider: &str, client_id: &str) -> Option<RegisteredClient> {
        self.with(provider, |e| {
            e.by_client_id.iter().find(|c| c.client_id == client_id).cloned()
        })
    }
    /// The client ids of every registration this isolate knows for `provider`.
    pub(super) fn registered_ids(&self, provider: &str) -> Vec<String> {
        self.with(provider, |e| {
            e.by_client_id.iter().map(|c| c.client_id.clone()).collect()
        })
    }
    /// Remembers a registration by its client id (not as the current one).
    pub(super) fn remember_registration(&self, provider: &str, client: RegisteredClient) {
        self.with(provider, |e| {
            // A handful per provider at most (one per expiry); bounded all the same.
            if e.by_client_id.len() >= 16 {
                e.by_client_id.clear();
            }
            e.by_client_id.retain(|c| c.client_id != client.client_id);
            e.by_client_id.push(client);
        });
    }
    pub(super) fn set_registered(&self, provider: &str, client: RegisteredClient) {
        self.remember_registration(provider, client.clone());
        self.with(provider, |e| {
            e.registered = Some(client);
            e.registration_failure = None;
        });
    }
    pub(super) fn registration_failure(&self, provider: &str) -> Option<(i64, String)> {
        self.with(provider, |e| e.registration_failure.clone())
    }
    pub(super) fn set_registration_failure(&self, provider: &str, at: i64, why: String) {
        self.with(provider, |e| e.registration_failure = Some((at, why)));
    }
}

/// A document cached in KV with the time it was fetched.
#[derive(Serialize, Deserialize)]
struct Cached {
    /// Where the document came from: a cached copy is only used for the same URL, so a
    /// provider moved to another issuer (or JWKS location) is refetched at once.
    #[serde(default)]
    url: String,
    fetched_at: i64,
    body: String,
}

impl App {
    /// The provider's metadata: static, cached (isolate, then KV), or discovered now.
    pub(super) async fn metadata<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        io: &Io<'_, H, K>,
    ) -> Result<Rc<ProviderMetadata>, AppError> {
        let now = io.clock.now();
        if let MetadataSource::Static(meta) = &provider.metadata {
            return Ok(self.cache.with(&provider.name, |e| {
                e.metadata
                    .get_or_insert_with(|| (Rc::new((**meta).clone()), now))
                    .0
                    .clone()
            }));
        }
        if let Some((meta, at)) = self.cache.with(&provider.name, |e| e.metadata.clone()) {
            if now - at < CACHE_TTL_SECS {
                return Ok(meta);
            }
        }
        let key = format!("metadata:{}", provider.name);
        let url = provider.discovery_url.as_str();
        let (body, fetched_at, fresh) = match self.kv_cached(io, &key, url, now).await {
            Some((body, at)) => (body, at, false),
            None => {
                let response = fetch_ok(io, HttpRequest::get_json(url)).await?;
                (String::from_utf8_lossy(&response.body).into_owned(), now, true)
            }
        };
        // Checked on every read, so a cached document never outlives a changed issuer.
        let meta = Rc::new(ProviderMetadata::from_json(
            body.as_bytes(),
            &provider.issuer,
            provider.allow_http,
        )?);
        // Only a document fetched now is written: KV allows one write per second per key.
        if fresh {
            self.kv_store(io, &key, url, &body, now).await;
        }
        self.cache
            .with(&provider.name, |e| e.metadata = Some((meta.clone(), fetched_at)));
        Ok(meta)
    }

    /// The provider's JWKS: cached in the isolate, else in KV, else fetched now.
    pub(super) async fn jwks<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        io: &Io<'_, H, K>,
    ) -> Result<Rc<Jwks>, AppError> {
        let now = io.clock.now();
        if let Some((jwks, at)) = self.cache.with(&provider.name, |e| e.jwks.clone()) {
            if now - at < CACHE_TTL_SECS {
                return Ok(jwks);
            }
        }
        let key = jwks_key(provider);
        if let Some((body, at)) = self.kv_cached(io, &key, &metadata.jwks_uri, now).await {
            if let Ok(jwks) = Jwks::parse(body.as_bytes()) {
                let jwks = Rc::new(jwks);
                self.cache.with(&provider.name, |e| e.jwks = Some((jwks.clone(), at)));
                return Ok(jwks);
            }
        }
        self.fetch_jwks(provider, metadata, io, true).await
    }

    /// The JWKS fetched again because the cached one lacks a token's key (rotation); `None`
    /// when a refetch is not allowed yet ([`REFETCH_INTERVAL_SECS`]). Stored in KV for other
    /// isolates: for tokens from the provider's token endpoint only.
    pub(super) async fn refetch_jwks<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        io: &Io<'_, H, K>,
    ) -> Result<Option<Rc<Jwks>>, AppError> {
        self.refetch_jwks_for(provider, metadata, io, true).await
    }

    /// [`App::refetch_jwks`]; `store: false` keeps the refetched set in this isolate only: a
    /// token anyone can send (a logout token) must not be able to make us write KV.
    pub(super) async fn refetch_jwks_for<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        io: &Io<'_, H, K>,
        store: bool,
    ) -> Result<Option<Rc<Jwks>>, AppError> {
        let now = io.clock.now();
        if self
            .cache
            .with(&provider.name, |e| e.last_refetch)
            .is_some_and(|t| now - t < REFETCH_INTERVAL_SECS)
        {
            return Ok(None);
        }
        // Counted before the fetch, so failing refetches are rate-limited too.
        self.cache.with(&provider.name, |e| e.last_refetch = Some(now));
        self.fetch_jwks(provider, metadata, io, store).await.map(Some)
    }

    async fn fetch_jwks<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        io: &Io<'_, H, K>,
        store: bool,
    ) -> Result<Rc<Jwks>, AppError> {
        let now = io.clock.now();
        let response = fetch_ok(io, HttpRequest::get_json(&metadata.jwks_uri)).await?;
        let jwks = Rc::new(Jwks::parse(&response.body)?);
        if store {
            self.kv_store(
                io,
                &jwks_key(provider),
                &metadata.jwks_uri,
                &String::from_utf8_lossy(&response.body),
                now,
            )
            .await;
        }
        self.cache.with(&provider.name, |e| e.jwks = Some((jwks.clone(), now)));
        Ok(jwks)
    }

    /// A fresh cached document from KV. KV failures only cost a fetch.
    async fn kv_cached<H: HttpClient, K: KvStore>(
        &self,
        io: &Io<'_, H, K>,
        key: &str,
        url: &str,
        now: i64,
    ) -> Option<(String, i64)> {
        let value = io.kv.get(key).await.ok().flatten()?;
        let cached: Cached = serde_json::from_str(&value).ok()?;
        (cached.url == url && now - cached.fetched_at < CACHE_TTL_SECS).then_some((cached.body, cached.fetched_at))
    }

    async fn kv_store<H: HttpClient, K: KvStore>(&self, io: &Io<'_, H, K>, key: &str, url: &str, body: &str, now: i64) {
        if let Ok(value) = serde_json::to_string(&Cached {
            url: url.to_owned(),
            fetched_at: now,
            body: body.to_owned(),
        }) {
            // A cache write that fails is not worth failing the login for.
            let _ = io.kv.put(key, &value, CACHE_TTL_SECS as u64).await;
        }
    }
}

/// The KV key of a provider's cached JWKS.
fn jwks_key(provider: &ProviderConfig) -> String {
    format!("jwks:{}", provider.name)
}

/// Sends an idempotent GET (discovery, JWKS) and insists on a 200. A connection failure is
/// retried once at once (a dropped keep-alive connection, a restarting provider); a timeout is
/// not (it already took the whole timeout).
async fn fetch_ok<H: HttpClient, K: KvStore>(
    io: &Io<'_, H, K>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let url = request.url.clone();
    let response = match io.http.send(request.clone()).await {
        Err(HttpError::Network(_)) => io.http.send(request).await?,
        other => other?,
    };
    if response.status != 200 {
        return Err(AppError::Upstream(HttpError::Network(format!(
            "{url} answered with HTTP status {}",
            response.status
        ))));
    }
    Ok(response)
}
