//! The core's [`KvStore`] on Workers KV (workers-rs [`worker::KvStore`]). The binding is looked
//! up on first use only, so the authenticated hot path never touches it. Background writes run
//! under [`Context::wait_until`]: the answer does not wait for them, the runtime does.

use crate::core::http::{KvStore, StoreError};
use std::cell::OnceCell;
use wasm_bindgen::JsCast;
use worker::{Context, Env, KvError};

pub(super) struct Kv<'a> {
    env: &'a Env,
    ctx: &'a Context,
    binding: &'static str,
    store: OnceCell<Option<worker::KvStore>>,
}

impl<'a> Kv<'a> {
    pub(super) fn new(env: &'a Env, ctx: &'a Context, binding: &'static str) -> Self {
        Kv {
            env,
            ctx,
            binding,
            store: OnceCell::new(),
        }
    }

    fn store(&self) -> Result<&worker::KvStore, StoreError> {
        self.store
            .get_or_init(|| self.env.kv(self.binding).ok())
            .as_ref()
            .ok_or_else(|| {
                StoreError(format!(
                    "the KV namespace binding `{}` is missing (see README: Deploying)",
                    self.binding
                ))
            })
    }
}

/// The error's own text (`Error: message`), not workers-rs' debug print of the JS value.
fn text(e: KvError) -> StoreError {
    StoreError(match e {
        KvError::JavaScript(value) => value
            .dyn_ref::<worker::js_sys::Error>()
            .map(|e| String::from(e.to_string()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "the KV operation failed".to_owned()),
        other => other.to_string(),
    })
}

/// Workers KV refuses a TTL under 60 s.
fn ttl(secs: u64) -> u64 {
    secs.max(60)
}

impl KvStore for Kv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.store()?.get(key).text().await.map_err(text)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let put = self.store()?.put(key, value).map_err(text)?;
        put.expiration_ttl(ttl(ttl_secs)).execute().await.map_err(text)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store()?.delete(key).await.map_err(text)
    }

    fn put_background(&self, key: &str, value: &str, ttl_secs: u64) {
        let put = match self.store().and_then(|s| s.put(key, value).map_err(text)) {
            Ok(put) => put.expiration_ttl(ttl(ttl_secs)),
            Err(e) => {
                let _ = e;
                super::events::kv_error("background_write");
                return;
            }
        };
        self.ctx.wait_until(async move {
            if let Err(e) = put.execute().await {
                let _ = e;
                super::events::kv_error("background_write");
            }
        });
    }
}
