//! The core's [`KvStore`] on Workers KV. The binding is looked up on first use only, so the
//! authenticated hot path never touches it.

use crate::core::http::{KvStore, StoreError};
use std::cell::OnceCell;
use worker::Env;

pub(super) struct Kv<'a> {
    env: &'a Env,
    binding: &'static str,
    store: OnceCell<Option<worker::KvStore>>,
}

impl<'a> Kv<'a> {
    pub(super) fn new(env: &'a Env, binding: &'static str) -> Self {
        Kv {
            env,
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
                    "the KV namespace binding `{}` is missing (see README: Deploy)",
                    self.binding
                ))
            })
    }
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl KvStore for Kv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.store()?.get(key).text().await.map_err(store_error)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        self.store()?
            .put(key, value)
            .map_err(store_error)?
            .expiration_ttl(ttl_secs.max(60))
            .execute()
            .await
            .map_err(store_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store()?.delete(key).await.map_err(store_error)
    }
}
