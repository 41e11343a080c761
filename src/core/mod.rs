//! The protocol core: everything edge-oidc decides, with I/O behind small traits
//! ([`http::HttpClient`], [`http::KvStore`], [`http::Clock`], [`http::Random`],
//! [`crypto::Signatures`]).

pub mod authorize;
pub mod client_auth;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod http;
pub mod id_token;
pub mod jwks;
pub mod logout;
pub mod registration;
pub mod return_url;
pub mod seal;
pub mod secret;
pub mod session;
pub mod token;
pub mod views;
