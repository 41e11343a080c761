//! The protocol core: everything edge-oidc decides, with I/O behind small traits
//! ([`http::HttpClient`], [`http::KvStore`], [`http::Clock`], [`http::Random`],
//! [`crypto::Signatures`]).
//!
//! Grouped by what the code is about:
//! - [`oidc`]: the protocol as the specs name it (discovery, authorization request, token,
//!   ID token, JWKS, registration, client authentication, end session);
//! - [`session`]: what the browser carries (sealing, cookies, the session);
//! - [`site`]: what the operator protects (return URLs, pages);
//! - [`config`]: `EDGE_OIDC_CONFIG` and its validation;
//! - [`crypto`]: signatures and secrets;
//! - [`flow`]: one file per endpoint, over [`flow::Io`].

pub mod config;
pub mod crypto;
pub mod error;
pub mod flow;
pub mod http;
pub mod log;
pub mod oidc;
pub mod session;
pub mod site;
