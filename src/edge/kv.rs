//! The core's [`KvStore`] on Workers KV. The binding is looked up on first use only, so the
//! authenticated hot path never touches it.

use super::js::{self, Ctx, Env};
use crate::core::http::{KvStore, StoreError};
use js_sys::futures::JsFuture;
use js_sys::Promise;
use std::cell::OnceCell;
use wasm_bindgen::JsValue;

pub(super) struct Kv<'a> {
    env: &'a Env,
    ctx: &'a Ctx,
    binding: &'static str,
    store: OnceCell<Option<JsValue>>,
}

impl<'a> Kv<'a> {
    pub(super) fn new(env: &'a Env, ctx: &'a Ctx, binding: &'static str) -> Self {
        Kv {
            env,
            ctx,
            binding,
            store: OnceCell::new(),
        }
    }

    fn store(&self) -> Result<&JsValue, StoreError> {
        self.store
            .get_or_init(|| {
                let ns = super::binding(self.env, self.binding);
                ns.is_object().then_some(ns)
            })
            .as_ref()
            .ok_or_else(|| {
                StoreError(format!(
                    "the KV namespace binding `{}` is missing (see README: Deploy)",
                    self.binding
                ))
            })
    }
}

async fn settle(pending: Promise) -> Result<JsValue, StoreError> {
    JsFuture::from(pending).await.map_err(|e| StoreError(js::text(&e)))
}

impl KvStore for Kv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(settle(js::kv_get(self.store()?, key)).await?.as_string())
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let ttl = ttl_secs.max(60) as f64;
        settle(js::kv_put(self.store()?, key, value, ttl)).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        settle(js::kv_delete(self.store()?, key)).await.map(drop)
    }

    fn put_background(&self, key: &str, value: &str, ttl_secs: u64) {
        match self.store() {
            Ok(store) => js::kv_put_background(self.ctx, store, key, value, ttl_secs.max(60) as f64),
            Err(e) => js::console_error(&format!("edge-oidc: background KV write failed: {e}")),
        }
    }
}
