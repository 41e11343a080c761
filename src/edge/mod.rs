//! The edge shell: converts Workers types (workers-rs) to the core's and back. No protocol
//! decisions here.
//!
//! - `fast`: the entry point (`fetch`, polled once) and the authenticated hot path: reading the
//!   request in one crossing, passing it on; the only code that is not plain workers-rs, each
//!   piece there for a measured reason;
//! - `handler`: a request from the runtime to the core's `Incoming` and the core's answer back;
//! - `fetch`: the core's `HttpClient` on `Fetch`, with an `AbortController` timeout and a size cap;
//! - `kv`: the core's `KvStore` on Workers KV, background writes through `Context::wait_until`;
//! - `webcrypto`: signatures by the runtime's `crypto.subtle`;
//! - `rewrite`, `body`: pure helpers (header rules, capped body reading), tested natively.

mod body;
mod rewrite;

#[cfg(target_arch = "wasm32")]
mod events;
#[cfg(target_arch = "wasm32")]
mod fast;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod kv;
#[cfg(all(target_arch = "wasm32", feature = "test-trap"))]
mod test_trap;
#[cfg(target_arch = "wasm32")]
pub(crate) mod webcrypto;
