//! Pure rules of the shell for passing a request on (no runtime types, unit-tested natively):
//! the URL it goes to, which client-sent header names count as copies of an identity header,
//! and the `Cache-Control` of a response to a request let through on a session.

use url::Url;

/// Where a request passed on goes: the request's URL; with `path` (the core's canonical path and
/// query, `Forward::path`), that path and query instead, so the origin reads exactly what the
/// rules were applied to; with `origin`, that scheme, host and port instead (its path is not
/// used, as before).
pub(crate) fn target_url(url: &Url, path: Option<&str>, origin: Option<&Url>) -> String {
    if path.is_none() && origin.is_none() {
        return url.as_str().to_owned();
    }
    let base = origin.unwrap_or(url).origin().ascii_serialization();
    let path_and_query = match path {
        Some(path) => path.to_owned(),
        None => match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        },
    };
    base + &path_and_query
}

/// The identity header names to remove from a forwarded request, matched the way an origin
/// might read them: in any case, and with `_` spelled for `-` (many servers, CGI and PHP among
/// them, map both `X-Auth-Email` and `X_Auth_Email` to the same variable).
#[derive(Debug, Default)]
pub(crate) struct RemovedNames(Vec<String>);

impl RemovedNames {
    pub(crate) fn new(names: &[String]) -> RemovedNames {
        RemovedNames(names.iter().map(|n| fold(n)).collect())
    }

    /// The folded names, space-separated (for the JavaScript that removes them:
    /// `fast::forward_request`, which folds each header name the same way).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn joined(&self) -> String {
        self.0.join(" ")
    }

    /// Whether the header `name` (as the client sent it) is a copy of one of the names: the rule
    /// `fast::forward_request` applies in JavaScript, stated and tested here.
    #[cfg(test)]
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|removed| {
            removed.len() == name.len() && removed.bytes().zip(name.bytes()).all(|(r, n)| r == fold_byte(n))
        })
    }
}

fn fold_byte(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

fn fold(name: &str) -> String {
    name.bytes().map(|b| char::from(fold_byte(b))).collect()
}

/// The `Cache-Control` a response to a request let through on a session must carry so that no
/// shared cache (Cloudflare's, a CDN, a corporate proxy) stores one user's page for another
/// (RFC 9111 §5.2.2.7), or `None` when `value` can stay: it already says `private` or
/// `no-store`. Otherwise `public` becomes `private`, and `private` is added where there is none.
/// A qualified `private="field"` only hides those fields (§5.2.2.7), so it is made unqualified.
pub(crate) fn private_cache_control(value: Option<&str>) -> Option<String> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Some("private".to_owned());
    };
    let directives = split_directives(value);
    let name = |d: &str| d.split('=').next().unwrap_or_default().trim().to_ascii_lowercase();
    if directives
        .iter()
        .any(|d| (name(d) == "private" && !d.contains('=')) || name(d) == "no-store")
    {
        return None;
    }
    let mut out: Vec<&str> = Vec::with_capacity(directives.len() + 1);
    let mut replaced = false;
    for d in &directives {
        if matches!(name(d).as_str(), "public" | "private") {
            if !replaced {
                out.push("private");
                replaced = true;
            }
        } else {
            out.push(d);
        }
    }
    if !replaced {
        out.insert(0, "private");
    }
    Some(out.join(", "))
}

/// The directives of a `Cache-Control` value, trimmed, without empty ones; a comma inside a
/// quoted string (`no-cache="a, b"`) does not split.
fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default());
    out.into_iter().map(str::trim).filter(|d| !d.is_empty()).collect()
}

#[cfg(test)]
mod tests;
