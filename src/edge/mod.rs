//! The edge shell: converts Workers types (workers-rs) to the core's and back. No protocol
//! decisions here.
//!
//! - `handler`: the fetch event: reads the request into the core's `Incoming`, runs the core,
//!   turns its `Reply` into a response or passes the request on (`forward`);
//! - `fetch`: the core's `HttpClient` on `Fetch`, with an `AbortController` timeout and a size cap;
//! - `kv`: the core's `KvStore` on Workers KV, background writes through `Context::wait_until`;
//! - `webcrypto`: signatures by the runtime's `crypto.subtle`;
//! - `rewrite`, `body`: pure helpers (header rules, capped body reading), tested natively.

mod body;
mod rewrite;

#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod forward;
#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod kv;
#[cfg(all(target_arch = "wasm32", feature = "test-trap"))]
mod test_trap;
#[cfg(target_arch = "wasm32")]
pub(crate) mod webcrypto;
