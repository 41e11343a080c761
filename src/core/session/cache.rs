//! A per-isolate cache of opened identity cookies, keyed by the exact cookie value.
//!
//! A browser sends the same cookie on every request: a hit skips the base64 decoding, the AEAD
//! and the JSON parse, which are most of the gate's work. Only what a successful open proved is
//! kept (the value opened under this cookie name and deployment), so a hit is exactly as
//! trustworthy as opening again; the caller still checks expiry (and every other rule) on every
//! use. The key is the whole value (a forged value cannot collide with a cached one: it would
//! have to be byte-for-byte equal), bounded in number; when full the cache starts over, which
//! costs one open per active cookie.

use super::Identity;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most cached identities per isolate (about 0.5 KB each).
pub const MAX_ENTRIES: usize = 512;

/// One cached open: where it was valid, and what it gave.
struct Entry {
    /// The cookie name and the deployment, joined: the value is only valid there.
    place: Box<str>,
    identity: Rc<Identity>,
}

/// See the module documentation. Borrows never span an `.await`.
#[derive(Default)]
pub struct IdentityCache {
    entries: RefCell<HashMap<Box<str>, Entry>>,
}

fn place(name: &str, deployment: &str) -> String {
    let mut p = String::with_capacity(name.len() + 1 + deployment.len());
    p.push_str(name);
    p.push('\0');
    p.push_str(deployment);
    p
}

impl IdentityCache {
    /// The identity `value` opened to under `name` and `deployment`, if cached.
    pub fn get(&self, value: &str, name: &str, deployment: &str) -> Option<Rc<Identity>> {
        let entries = self.entries.borrow();
        let entry = entries.get(value)?;
        let (n, d) = entry.place.split_once('\0')?;
        (n == name && d == deployment).then(|| entry.identity.clone())
    }

    /// Remembers a successful open.
    pub fn insert(&self, value: &str, name: &str, deployment: &str, identity: Rc<Identity>) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            value.into(),
            Entry {
                place: place(name, deployment).into(),
                identity,
            },
        );
    }

    /// How many identities are cached (tests, benchmarks).
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}
