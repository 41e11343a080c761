//! The I/O the core needs, as small traits the edge shell implements (and tests fake).
//!
//! Futures are not `Send`: on Workers everything runs on one thread, and wasm-bindgen
//! futures are not `Send` either.

use std::fmt;
use url::Url;

/// What is wrong with a JSON document, as a short fixed text with its position: the kind of
/// error and where, never the parser's own message. That message can quote the input (a value
/// of the wrong type: possibly a secret), and formatting it pulls float printing into the wasm.
pub fn json_problem(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a member is missing or has the wrong type",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// Parses a URL that must be ASCII (configuration values, provider metadata, return URLs).
///
/// `url` hands host names it cannot take as plain lower-case ASCII to its IDNA back end, which
/// this build pins to the stub without Unicode tables (`idna_adapter` 1.0.0, see Cargo.toml).
/// The stub expects lower-case ASCII (a `debug_assert!` fires otherwise) and its result on
/// anything else is unspecified. So the host must reach it lower-case and ASCII: non-ASCII input
/// and percent-escapes in the host (which decode to anything) are refused, and the host is
/// lower-cased first (host names are case-insensitive; the punycode of an `xn--` label then
/// decodes to lower-case letters too). Internationalised names are written in punycode
/// (`xn--…`). Request URLs come from the runtime already serialised this way, and the shell
/// parses them with this function too. Fuzz findings: FUZZING.md.
pub fn parse_ascii_url(input: &str) -> Option<Url> {
    // Spaces and control characters are dropped or trimmed by the URL parser, which would let
    // the text checked below differ from what it parses.
    if !input.is_ascii() || input.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return None;
    }
    let Some((scheme, rest)) = input.split_once(':') else {
        return Url::parse(input).ok();
    };
    // Only the WHATWG "special" schemes have hosts that go through IDNA (others have opaque
    // hosts). Those must be written `scheme://authority…`: the parser's leniencies
    // (`https:host`, `https:\\host`) would move the authority where the checks below do not look.
    let special = ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme));
    if scheme.eq_ignore_ascii_case("file") {
        return None;
    }
    if !special {
        return Url::parse(input).ok();
    }
    let rest = rest.strip_prefix("//")?;
    // More slashes are skipped by the parser too (`http:////host`): refused likewise.
    if rest.starts_with(['/', '\\']) {
        return None;
    }
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end)?;
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    if host.contains('%') {
        return None;
    }
    if !host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Url::parse(input).ok();
    }
    let mut lowered = String::with_capacity(input.len());
    lowered.push_str(scheme);
    lowered.push_str("://");
    if let Some(user) = userinfo {
        lowered.push_str(user);
        lowered.push('@');
    }
    lowered.push_str(&host.to_ascii_lowercase());
    lowered.push_str(tail);
    Url::parse(&lowered).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_ascii_url;

    #[test]
    fn hosts_reach_the_idna_stub_lower_case_and_ascii() {
        let host = |u: &str| parse_ascii_url(u).and_then(|u| u.host_str().map(str::to_owned));
        assert_eq!(
            host("https://Docs.Example.COM/A?B#C").as_deref(),
            Some("docs.example.com")
        );
        assert_eq!(
            host("https://XN--BCHER-KVA.example/").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(host("https://U:P@Op.Example:8443/x").as_deref(), Some("op.example"));
        let kept = parse_ascii_url("https://U:P@Op.Example:8443/Path?Q=1").unwrap();
        assert_eq!(
            (kept.username(), kept.password(), kept.path(), kept.query()),
            ("U", Some("P"), "/Path", Some("Q=1"))
        );
        // Refused: non-ASCII, and escapes in the host.
        assert_eq!(host("https://d\u{f6}cs.example/"), None);
        assert_eq!(host("https://%44ocs.example/"), None);
        // The fuzz finding (config target): an upper-case punycode label with an escape.
        let crash = "http://..XN-..XN--clohhhhhhhhhhhHHHHHhhhhhhh11AkcD%eewcy_shhhh11Akc_leewcy_se/";
        assert_eq!(host(crash), None);
        // Without the escape, it parses, lower-cased.
        assert!(host("http://..XN-..XN--clohhhhHHHHHhhhh/").is_some_and(|h| h == h.to_ascii_lowercase()));
        // The second config finding: a special scheme without `//` (the parser would take
        // `.@9%5a…` as the authority). Refused, like the other leniencies.
        for lenient in [
            "https:.@9%5a%derpleredi-1ec",
            "https:Op.Example/x",
            "https:\\\\Op.Example/x",
            " https://Op.Example/",
            "https://Op.Exa\tmple/",
            "file://Op.Example/x",
            // The third config finding: extra slashes before the authority.
            "http://////hhhhhhhhAAAAA%AA..Xleewcy_seew:c",
            "https:///\\Op.Example/",
        ] {
            assert_eq!(host(lenient), None, "{lenient}");
        }
        // Non-special schemes have opaque hosts (no IDNA): parsed as they are.
        assert!(parse_ascii_url("mailto:Ops@Example.com").is_some());
    }
}

/// An outgoing HTTP request built by the core (to a provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Header name/value pairs. Values may hold secrets (Authorization): never log them.
    pub headers: Vec<(&'static str, String)>,
    /// Body for `POST` (form-urlencoded or JSON).
    pub body: Option<String>,
    /// Whether redirects may be followed. Only for GETs that carry no credentials (discovery,
    /// JWKS); a request with a client secret, an assertion or a bearer token never follows one
    /// (the shell uses `redirect: "manual"` and the 3xx is the answer).
    pub follow_redirects: bool,
}

impl HttpRequest {
    /// A `GET` with an `Accept: application/json` header.
    pub fn get_json(url: &str) -> Self {
        HttpRequest {
            method: "GET",
            url: url.to_owned(),
            headers: vec![("accept", "application/json".to_owned())],
            body: None,
            follow_redirects: true,
        }
    }
}

/// A provider's answer. The shell stops reading a body at [`MAX_RESPONSE_BYTES`] while it
/// streams in (an error, never a truncated body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, capped by the client at [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
}

#[cfg(test)]
impl HttpResponse {
    /// A JSON answer with this status (tests of the provider-response parsers).
    pub fn json(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// Provider responses larger than this are refused (a JWKS or token response is a few KB).
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

/// Why an outgoing request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No answer within the configured timeout.
    Timeout,
    /// Connection refused, DNS failure, TLS failure, body too large, ….
    Network(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("no answer within the timeout"),
            HttpError::Network(why) => write!(f, "request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Outbound HTTP (the Workers `fetch`, with a timeout).
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    /// Sends one request; the implementation enforces the timeout and the size cap.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// A key-value store failure (Workers KV unreachable, quota exceeded, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key-value store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Workers KV (eventually consistent; minimum TTL 60 s).
#[allow(async_fn_in_trait)]
pub trait KvStore {
    /// Reads a value; `Ok(None)` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes a value that expires after `ttl_secs` (at least 60).
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError>;
    /// Deletes a value (absent is fine).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Writes a value without making the answer wait for it (`ctx.waitUntil` in the worker). A
    /// failure is only logged: use it where a lost write costs nothing but a later refetch.
    fn put_background(&self, key: &str, value: &str, ttl_secs: u64);
}

/// Wall-clock time, injected so tests pin it.
pub trait Clock {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;

    /// Waits `millis` milliseconds: only the rare waits of a session refresh use it (the
    /// refresh lease's settling time, another isolate's refresh awaited; src/core/flow/refresh.rs).
    /// The default does not wait (tests and fuzzing drive time themselves) but yields once, so
    /// that a request waiting for another one lets it run.
    fn sleep(&self, millis: u32) -> crate::core::crypto::LocalBoxFuture<'_, ()> {
        let _ = millis;
        let mut yielded = false;
        Box::pin(std::future::poll_fn(move |cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }))
    }
}

/// A source of cryptographically secure randomness.
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// 32 random bytes, base64url without padding (43 characters): state, nonce, PKCE verifier.
    fn token(&self) -> String {
        let mut bytes = [0u8; 32];
        self.fill(&mut bytes);
        crate::core::crypto::secret::b64url(&bytes)
    }
}

/// Randomness from the operating system (`crypto.getRandomValues` in Workers).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // getrandom only fails when the platform has no entropy source at all; there is no
        // safe fallback, and all-zero output must never be used as a secret, so abort.
        if getrandom::getrandom(buf).is_err() {
            std::process::abort();
        }
    }
}
