//! edge-oidc: an OpenID Connect relying party for Cloudflare Workers.
//!
//! Two layers in one crate:
//! - [`core`]: the protocol core. Pure Rust, no runtime types; builds and tests natively.
//! - `edge` (wasm32 only): the thin shell between the Workers runtime and the core.

pub mod core;

// The shell runs on wasm32 only; its pure helpers (src/edge/rewrite.rs, body.rs) are also
// compiled for the native unit tests.
#[cfg(any(target_arch = "wasm32", test))]
mod edge;

/// The runtime's WebCrypto as [`core::crypto::Signatures`] (wasm32 only; the benchmarks use it).
#[cfg(target_arch = "wasm32")]
pub use edge::webcrypto::WebCrypto;
