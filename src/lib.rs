//! edge-oidc: an OpenID Connect relying party for Cloudflare Workers.
//!
//! Two layers in one crate:
//! - [`core`]: the protocol core. Pure Rust, no runtime types; builds and tests natively.
//! - `edge` (wasm32 only): the thin shell between the Workers runtime and the core.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod edge;

/// The runtime's WebCrypto as [`core::crypto::Signatures`] (wasm32 only; the benchmarks use it).
#[cfg(target_arch = "wasm32")]
pub use edge::webcrypto::WebCrypto;
