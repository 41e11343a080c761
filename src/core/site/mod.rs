//! What the operator protects: return URLs and the pages edge-oidc serves itself.

pub mod pages;
pub mod return_url;
