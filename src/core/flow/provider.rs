//! Provider metadata and JWKS, fetched on first use and cached in the isolate, so a warm
//! isolate does no discovery or JWKS fetch per login.

use super::{App, Io};
use crate::core::config::{MetadataSource, ProviderConfig};
use crate::core::discovery::{discovery_url, ProviderMetadata};
use crate::core::error::AppError;
use crate::core::http::{HttpClient, HttpRequest, HttpResponse, KvStore};
use crate::core::jwks::Jwks;
use std::cell::RefCell;
use std::collections::HashMap;
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
}

/// Per-isolate cache. Borrows never span an `.await` (requests interleave on one thread).
#[derive(Default)]
pub(super) struct ProviderCache {
    entries: RefCell<HashMap<String, Entry>>,
}

impl App {
    /// The provider's metadata: static, cached, or discovered now.
    pub(super) async fn metadata<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        io: &Io<'_, H, K>,
    ) -> Result<Rc<ProviderMetadata>, AppError> {
        let now = io.clock.now();
        if let Some((meta, at)) = self
            .cache
            .entries
            .borrow()
            .get(&provider.name)
            .and_then(|e| e.metadata.clone())
        {
            if matches!(provider.metadata, MetadataSource::Static(_)) || now - at < CACHE_TTL_SECS {
                return Ok(meta);
            }
        }
        let meta = match &provider.metadata {
            MetadataSource::Static(meta) => Rc::new((**meta).clone()),
            MetadataSource::Discover => {
                let response = fetch_ok(io, HttpRequest::get_json(&discovery_url(&provider.issuer))).await?;
                Rc::new(ProviderMetadata::from_json(&response.body, &provider.issuer)?)
            }
        };
        self.cache
            .entries
            .borrow_mut()
            .entry(provider.name.clone())
            .or_default()
            .metadata = Some((meta.clone(), now));
        Ok(meta)
    }

    /// The provider's JWKS. `refetch`: the cached set lacks the token's key (rotation);
    /// returns `None` when a refetch is not allowed yet.
    pub(super) async fn jwks<H: HttpClient, K: KvStore>(
        &self,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        io: &Io<'_, H, K>,
        refetch: bool,
    ) -> Result<Option<Rc<Jwks>>, AppError> {
        let now = io.clock.now();
        {
            let entries = self.cache.entries.borrow();
            let entry = entries.get(&provider.name);
            if refetch {
                if entry
                    .and_then(|e| e.last_refetch)
                    .is_some_and(|t| now - t < REFETCH_INTERVAL_SECS)
                {
                    return Ok(None);
                }
            } else if let Some((jwks, at)) = entry.and_then(|e| e.jwks.clone()) {
                if now - at < CACHE_TTL_SECS {
                    return Ok(Some(jwks));
                }
            }
        }
        let response = fetch_ok(io, HttpRequest::get_json(&metadata.jwks_uri)).await?;
        let jwks = Rc::new(Jwks::parse(&response.body)?);
        let mut entries = self.cache.entries.borrow_mut();
        let entry = entries.entry(provider.name.clone()).or_default();
        entry.jwks = Some((jwks.clone(), now));
        if refetch {
            entry.last_refetch = Some(now);
        }
        Ok(Some(jwks))
    }
}

/// Sends a GET and insists on a 200.
async fn fetch_ok<H: HttpClient, K: KvStore>(
    io: &Io<'_, H, K>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let url = request.url.clone();
    let response = io.http.send(request).await?;
    if response.status != 200 {
        return Err(AppError::Upstream(crate::core::http::HttpError::Network(format!(
            "{url} answered with HTTP status {}",
            response.status
        ))));
    }
    Ok(response)
}
