//! Canonical request paths and the rules that match them (`public_paths`, `routes`, edge-oidc's
//! own endpoints).
//!
//! Every path rule runs on one canonical form of the request path, decided once per request
//! before any rule; the request passed on to the origin carries that same form, so the origin
//! reads exactly the path that was checked. Input whose meaning depends on the origin (an
//! encoded `/`, a `\`, path parameters) is refused rather than guessed at.
//!
//! The canonical form of a path (as `url::Url::path()` gives it, or as configured):
//! - RFC 3986 §6.2.2.2: percent-escapes of unreserved characters (§2.3: ALPHA DIGIT `-` `.` `_`
//!   `~`) are decoded; every other escape is kept, its hex digits upper-cased (§6.2.2.1).
//!   `%25` stays `%25`: an origin that decodes a path twice is out of scope.
//! - Characters the WHATWG URL standard's path percent-encode set holds (space, `"`, `<`, `>`,
//!   `^`, `` ` ``, `{`, `}`) and non-ASCII are percent-encoded as UTF-8, as a browser would.
//! - Repeated slashes are merged (`//admin/x` is `/admin/x`: what most origins read, e.g. nginx
//!   with `merge_slashes`). An empty segment is dropped as it is read, so `/a//..` is `/`.
//! - RFC 3986 §5.2.4: `.` and `..` segments are removed, after decoding (`%2e%2E` is `..`).
//!
//! What reaches the worker (checked through workerd by tests/e2e/paths.test.mjs): workerd's
//! `request.url` is WHATWG-parsed, so `.`, `..` and their `%2e` spellings are already resolved
//! (clamped at the root) and a raw `\` is already `/`; `//`, `;`, `%2F`, `%5C`, `%3B`, lower-case
//! hex and overlong escapes arrive unchanged. Doing every step here anyway makes the form the
//! same for any input, configured paths included.
//!
//! Refused ([`PathError`]): an encoded `/`, `\` raw or encoded (the WHATWG parser turns a raw `\`
//! into `/` for http(s) URLs before the worker sees it), `;` raw or encoded, control characters
//! raw or encoded, a `%` without two hex digits, escapes that do not decode to UTF-8, `..`
//! above the root, and `?` or `#` (only possible in a configured path).

use std::fmt::Write;
use url::Url;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A raw `?` or `#`: a query or fragment, not part of a path (a URL's path never holds one;
    /// a configured path might).
    #[error("the path holds `?` or `#`")]
    QueryOrFragment,
    /// A `%` not followed by two hex digits (RFC 3986 §2.1): origins disagree on what it means.
    #[error("the path holds a `%` that is not followed by two hexadecimal digits")]
    BadEscape,
    /// `%2F`: some origins decode it into a separator, others keep it inside a segment.
    #[error("the path holds an encoded slash (%2F)")]
    EncodedSlash,
    /// `\` or `%5C`: a separator on some origins (Windows, IIS), a character on others.
    #[error("the path holds a backslash (\\ or %5C)")]
    Backslash,
    /// `;` or `%3B`: path parameters (`/admin;x=1/`), which some origins strip before routing
    /// (Tomcat, Jetty, Spring) and others keep; an origin that decodes first strips `%3B` too.
    #[error("the path holds a semicolon (; or %3B)")]
    PathParameters,
    /// A control character, raw or encoded (`%00`–`%1F`, `%7F`): truncation and header tricks.
    #[error("the path holds a control character")]
    ControlCharacter,
    /// Escapes that do not decode to UTF-8, such as the overlong `%C0%AE` (a `.` to decoders
    /// that accept overlong forms).
    #[error("the path holds percent-escapes that are not UTF-8")]
    InvalidUtf8,
    /// A `..` segment that would climb above the root.
    #[error("the path climbs above the root with `..`")]
    AboveRoot,
    /// A configured path holds a `.` or `..` segment (`"/a/.."` would quietly mean `/`).
    #[error("the path holds a `.` or `..` segment")]
    DotSegment,
}

/// A request path in canonical form (see the module documentation). The only way to make one
/// is [`CanonicalPath::parse`], so a rule taking a `&CanonicalPath` cannot see a raw path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath(String);

impl CanonicalPath {
    /// The canonical form of `raw`, or why it is refused.
    pub fn parse(raw: &str) -> Result<CanonicalPath, PathError> {
        canonicalise(raw).map(|(path, _)| CanonicalPath(path))
    }

    /// The canonical form of a request URL's path.
    pub fn from_url(url: &Url) -> Result<CanonicalPath, PathError> {
        CanonicalPath::parse(url.path())
    }

    /// The canonical path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path and query to pass on instead of `url`'s when they differ: the canonical path
    /// and `url`'s query untouched. `None` when `url`'s path is already canonical.
    pub fn forward_target(&self, url: &Url) -> Option<String> {
        if self.0 == url.path() {
            return None;
        }
        Some(match url.query() {
            Some(q) => format!("{}?{q}", self.0),
            None => self.0.clone(),
        })
    }
}

/// A configured path rule (`public_paths`, `routes[].path_prefix`), in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(String);

impl PathPattern {
    /// Canonicalises a configured path; refuses what a request path would be refused for, and
    /// `.` or `..` segments (which would change which paths it means).
    pub fn parse(raw: &str) -> Result<PathPattern, PathError> {
        match canonicalise(raw)? {
            (_, true) => Err(PathError::DotSegment),
            (path, false) => Ok(PathPattern(path)),
        }
    }

    /// The canonical pattern.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule of `public_paths`, read as narrowly as possible (a path it does not cover needs
    /// a login): a pattern ending in `/` covers the path without that slash and every path
    /// below it (`/x/` covers `/x`, `/x/` and `/x/y`, not `/xy`); any other pattern covers
    /// exactly itself. Case-sensitive, and an escape matches only the same escape.
    pub fn covers_as_written(&self, path: &CanonicalPath) -> bool {
        covers(self.0.bytes(), path.0.bytes(), false)
    }

    /// The rule of `routes`, read as broadly as possible (a path it covers is restricted to the
    /// route's providers): escapes decoded and ASCII case ignored on both sides, since an origin
    /// may read `/ADMIN/` or `/%41dmin/` as `/admin/`. A pattern ending in `/` covers what it
    /// does in [`covers_as_written`](Self::covers_as_written); any other pattern is a plain
    /// prefix (`/admin` covers `/admin`, `/admin/x` and `/administrator`).
    pub fn covers_any_spelling(&self, path: &CanonicalPath) -> bool {
        let fold = |b: u8| b.to_ascii_lowercase();
        covers(
            Decoded(self.0.bytes()).map(fold),
            Decoded(path.0.bytes()).map(fold),
            true,
        )
    }
}

impl PathPattern {
    /// A rule's `path`, read narrowly (as written): exactly this path, byte for byte.
    pub fn is_as_written(&self, path: &CanonicalPath) -> bool {
        self.0 == path.0
    }

    /// A rule's `path`, read broadly: the same path with escapes decoded and ASCII case
    /// ignored, with or without one final `/` (origins commonly serve `/a` and `/a/` alike).
    pub fn is_any_spelling(&self, path: &CanonicalPath) -> bool {
        let fold = |b: u8| b.to_ascii_lowercase();
        let trimmed = |s: &str| -> usize { s.len() - usize::from(s.len() > 1 && s.ends_with('/')) };
        let (p, q) = (
            self.0.get(..trimmed(&self.0)).unwrap_or(&self.0),
            path.0.get(..trimmed(&path.0)).unwrap_or(&path.0),
        );
        Decoded(p.bytes()).map(fold).eq(Decoded(q.bytes()).map(fold))
    }

    /// A rule's `path_prefix`, read narrowly: case and escapes as written; a final `/` also
    /// covers the path without it (`/x/` covers `/x`, `/x/y`, not `/xy`); otherwise a plain prefix.
    pub fn prefixes_as_written(&self, path: &CanonicalPath) -> bool {
        covers(self.0.bytes(), path.0.bytes(), true)
    }
}

/// Whether `pattern` covers `path` (both as bytes): a final `/` in the pattern also matches the
/// end of the path; otherwise, when the pattern is used up, the path must be too, unless
/// `open_prefix`.
fn covers(pattern: impl Iterator<Item = u8>, mut path: impl Iterator<Item = u8>, open_prefix: bool) -> bool {
    let mut pattern = pattern.peekable();
    while let Some(b) = pattern.next() {
        if b == b'/' && pattern.peek().is_none() {
            // `/x/` covers `/x` itself and everything below `/x/`.
            return matches!(path.next(), None | Some(b'/'));
        }
        if path.next() != Some(b) {
            return false;
        }
    }
    open_prefix || path.next().is_none()
}

/// The bytes a canonical path decodes to (every `%XX` as its byte). Canonical forms hold only
/// valid escapes; anything else is passed through as is.
struct Decoded<'a>(std::str::Bytes<'a>);

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = self.0.next()?;
        if b != b'%' {
            return Some(b);
        }
        let mut ahead = self.0.clone();
        match (ahead.next().and_then(hex), ahead.next().and_then(hex)) {
            (Some(hi), Some(lo)) => {
                self.0 = ahead;
                Some((hi << 4) | lo)
            }
            _ => Some(b),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The canonical form of `raw`, and whether it held `.` or `..` segments.
fn canonicalise(raw: &str) -> Result<(String, bool), PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut out = String::with_capacity(raw.len() + 8);
    // Where each kept segment starts in `out` (at its `/`), for `..` to remove it.
    let mut starts: Vec<usize> = Vec::new();
    let mut dots = false;
    // Whether the path ends in `/`: after an empty segment, and after `.` or `..` (RFC 3986
    // §5.2.4: `/a/b/..` is `/a/`).
    let mut trailing_slash = false;
    for segment in rest.split('/') {
        let start = out.len();
        out.push('/');
        normalise_segment(segment, &mut out)?;
        match out.get(start + 1..).unwrap_or_default() {
            // An empty segment: repeated slashes merge.
            "" => out.truncate(start),
            "." => {
                out.truncate(start);
                dots = true;
            }
            ".." => {
                let previous = starts.pop().ok_or(PathError::AboveRoot)?;
                out.truncate(previous);
                dots = true;
            }
            _ => {
                starts.push(start);
                trailing_slash = false;
                continue;
            }
        }
        trailing_slash = true;
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Ok((out, dots))
}

/// Appends the canonical form of one segment (without its `/`) to `out`.
fn normalise_segment(segment: &str, out: &mut String) -> Result<(), PathError> {
    let start = out.len();
    let mut escaped_non_ascii = false;
    let mut bytes = segment.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let value = match (bytes.next().and_then(hex), bytes.next().and_then(hex)) {
                (Some(hi), Some(lo)) => (hi << 4) | lo,
                _ => return Err(PathError::BadEscape),
            };
            refuse_byte(value)?;
            if value == b'/' {
                return Err(PathError::EncodedSlash);
            }
            escaped_non_ascii |= !value.is_ascii();
            // RFC 3986 §6.2.2.2: an escaped unreserved character is that character.
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                push_escape(out, value);
            }
            continue;
        }
        refuse_byte(b)?;
        if matches!(b, b'?' | b'#') {
            return Err(PathError::QueryOrFragment);
        }
        // The WHATWG URL standard's path percent-encode set, and non-ASCII as UTF-8 bytes.
        if !b.is_ascii() || matches!(b, b' ' | b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'}') {
            push_escape(out, b);
        } else {
            out.push(char::from(b));
        }
    }
    // Raw characters are UTF-8 already (`segment` is a str); only escapes can break it. The
    // segment written so far decodes to exactly the bytes the input's segment decodes to.
    if escaped_non_ascii {
        let decoded: Vec<u8> = Decoded(out.get(start..).unwrap_or_default().bytes()).collect();
        if std::str::from_utf8(&decoded).is_err() {
            return Err(PathError::InvalidUtf8);
        }
    }
    Ok(())
}

/// The bytes refused whether raw or escaped.
fn refuse_byte(b: u8) -> Result<(), PathError> {
    match b {
        b'\\' => Err(PathError::Backslash),
        b';' => Err(PathError::PathParameters),
        _ if b < 0x20 || b == 0x7f => Err(PathError::ControlCharacter),
        _ => Ok(()),
    }
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_escape(out: &mut String, b: u8) {
    let _ = write!(out, "%{b:02X}");
}

#[cfg(test)]
mod tests;
