//! What the operator protects: canonical paths and their rules, return URLs, and the pages
//! edge-oidc serves itself.

pub mod assertion;
pub mod pages;
pub mod path;
pub mod relay;
pub mod return_url;
pub mod rules;
pub mod templates;
