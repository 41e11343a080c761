//! The OpenID Connect protocol pieces, named as the specs name them (`jws` is what ID tokens and
//! logout tokens share).

pub mod access_token;
pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod end_session;
pub mod id_token;
pub mod introspection;
pub mod issuer;
pub mod jwks;
pub mod jws;
pub mod logout_token;
pub mod par;
pub mod registration;
pub mod response;
pub mod token;
