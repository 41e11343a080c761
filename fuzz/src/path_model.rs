//! A reference model of edge-oidc's canonical paths (src/core/site/path.rs), written apart from
//! it and as plainly as possible, for the `path` fuzz target to compare against: the whole path
//! is checked first, then decoded into a list of segments, then the list is resolved; the rules
//! are compared on fully decoded strings with `starts_with`.

/// A path as the model reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelPath {
    /// The segments after resolving `.`, `..` and empty ones, each as tokens (see [`Token`]).
    pub segments: Vec<Vec<Token>>,
    /// Whether the path ends in `/` (when it has segments).
    pub trailing_slash: bool,
}

/// One character of a segment: written raw, or written as an escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Raw(u8),
    Escaped(u8),
}

impl Token {
    fn byte(self) -> u8 {
        match self {
            Token::Raw(b) | Token::Escaped(b) => b,
        }
    }
}

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// Raw characters a browser would percent-encode in a path (WHATWG path percent-encode set).
const ENCODE_RAW: &[u8] = b" \"<>^`{}";

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Splits `text` into tokens, or `None` if a `%` lacks two hex digits.
fn tokens(text: &str) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(Token::Escaped(u8::from_str_radix(hex, 16).ok()?));
            i += 3;
        } else {
            out.push(Token::Raw(bytes[i]));
            i += 1;
        }
    }
    Some(out)
}

/// The model's reading of `raw`, or `None` when it must be refused.
pub fn model(raw: &str) -> Option<ModelPath> {
    if !raw.starts_with('/') {
        return None;
    }
    let all = tokens(raw)?;
    for t in &all {
        let refused = match *t {
            Token::Raw(b) => b == b'\\' || b == b';' || b == b'?' || b == b'#' || is_control(b),
            Token::Escaped(b) => b == b'/' || b == b'\\' || b == b';' || is_control(b),
        };
        if refused {
            return None;
        }
    }
    let mut stack: Vec<Vec<Token>> = Vec::new();
    let mut trailing_slash = false;
    for piece in raw[1..].split('/') {
        let segment = tokens(piece)?;
        let decoded: Vec<u8> = segment.iter().map(|t| t.byte()).collect();
        String::from_utf8(decoded.clone()).ok()?;
        if decoded.is_empty() || decoded == b"." {
            trailing_slash = true;
        } else if decoded == b".." {
            stack.pop()?;
            trailing_slash = true;
        } else {
            stack.push(segment);
            trailing_slash = false;
        }
    }
    Some(ModelPath { segments: stack, trailing_slash })
}

/// Whether `raw` holds a `.` or `..` segment (after decoding).
pub fn has_dot_segment(raw: &str) -> bool {
    raw.split('/').any(|piece| {
        let decoded: Option<Vec<u8>> = tokens(piece).map(|t| t.iter().map(|t| t.byte()).collect());
        matches!(decoded.as_deref(), Some(b".") | Some(b".."))
    })
}

impl ModelPath {
    /// How the model writes the path: unreserved characters raw, other escapes with upper-case
    /// hex, raw characters a browser would encode (and non-ASCII) encoded, others raw.
    pub fn spelling(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            let mut bytes = Vec::new();
            for t in segment {
                match *t {
                    Token::Escaped(b) if UNRESERVED.contains(&b) => bytes.push(b),
                    Token::Escaped(b) => bytes.extend(format!("%{b:02X}").bytes()),
                    Token::Raw(b) if b >= 0x80 || ENCODE_RAW.contains(&b) => bytes.extend(format!("%{b:02X}").bytes()),
                    Token::Raw(b) => bytes.push(b),
                }
            }
            out.push_str(&String::from_utf8(bytes).expect("ASCII"));
        }
        if self.segments.is_empty() || self.trailing_slash {
            out.push('/');
        }
        out
    }
}

/// Every `%XX` of a canonical path decoded.
pub fn decode(canonical: &str) -> Vec<u8> {
    tokens(canonical).expect("canonical paths hold valid escapes").iter().map(|t| t.byte()).collect()
}

/// `public_paths`: on the canonical strings, case-sensitive; `p/` covers `p` and `p/…`.
pub fn public_covers(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('/') {
        Some(bare) => path == bare || path.starts_with(pattern),
        None => path == pattern,
    }
}

/// `routes`: on the decoded, ASCII-lower-cased bytes; `p/` covers `p` and `p/…`, any other
/// pattern is a plain prefix.
pub fn route_covers(pattern: &str, path: &str) -> bool {
    let pattern = decode(pattern).to_ascii_lowercase();
    let path = decode(path).to_ascii_lowercase();
    match pattern.strip_suffix(b"/") {
        Some(bare) => path == bare || path.starts_with(&pattern),
        None => path.starts_with(&pattern),
    }
}
