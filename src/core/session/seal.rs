//! Authenticated encryption of cookie values, key rotation and chunking.
//!
//! A sealed value is `base64url(version || key id || nonce || ciphertext ||
//! tag)`, encrypted with XChaCha20-Poly1305 (the extended-nonce variant of
//! RFC 8439's AEAD, so random 192-bit nonces never realistically repeat).
//! The associated data is the header (version, key id, nonce) followed by the
//! caller's context, which names what the value is for and where it is valid
//! (cookie name, deployment, issuer: see `session::SealContext`), so a value is
//! only ever accepted in the place it was made for. The key id lets `open` pick
//! its key directly: opening costs exactly one AEAD decryption.

use std::borrow::Cow;

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cookies::{remove_cookie, set_cookie, CookieAttrs, CookieJar, MAX_COOKIE_HEADER};

/// Longest sealed value `open` will decode: what fits in `MAX_CHUNKS` chunks.
pub const MAX_SEALED_LEN: usize = MAX_CHUNKS * CHUNK_LEN;

/// Longest value stored in one cookie. Browsers drop cookies over ~4096 bytes
/// (RFC 6265 §6.1 minimum, name + value + attributes), so a long sealed value
/// is split into numbered chunks.
pub const CHUNK_LEN: usize = 3800;

/// Most chunks one value may be split into. A value the browser stores but
/// cannot send back (its `Cookie` header over [`MAX_COOKIE_HEADER`]) would lock
/// the user out, logout included, until the cookies expire; three chunks (about
/// 11.5 KB with their names) leave 4 KB or more for the site's own cookies.
pub const MAX_CHUNKS: usize = 3;

// Every chunk with its `name.N=` and `; ` separator, plus room for other cookies.
const _: () = assert!(MAX_CHUNKS * (CHUNK_LEN + 32) + 4096 <= MAX_COOKIE_HEADER);

/// Format version, first byte of every sealed value. Version 1 (before the
/// header and the deployment were authenticated) is no longer accepted.
const VERSION: u8 = 2;
/// Domain separation for the key id hash, so it is never a hash some other
/// protocol computes over the same key.
const KEY_ID_CONTEXT: &[u8] = b"edge-oidc key id";
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
/// Poly1305 tag length (RFC 8439 §2.5).
const TAG_LEN: usize = 16;
/// version || key id || nonce.
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Errors from key parsing, sealing, opening and chunking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A configured key is neither base64url nor standard base64.
    #[error("cookie key is not valid base64 or base64url")]
    BadKeyEncoding,
    /// A configured key decoded to something other than 32 bytes.
    #[error("cookie key must decode to 32 bytes, got {0}")]
    WrongKeyLength(usize),
    /// The key list is empty.
    #[error("no cookie keys configured")]
    NoKeys,
    /// The sealed value is longer than [`MAX_SEALED_LEN`]; it was not decoded.
    #[error("sealed value is {0} bytes, more than the {max} allowed", max = MAX_SEALED_LEN)]
    TooLong(usize),
    /// The sealed value is not unpadded base64url, or too short to hold a
    /// header and a tag.
    #[error("sealed value is not a well-formed base64url sealed value")]
    BadEncoding,
    /// The sealed value has a version byte this code does not understand.
    #[error("unsupported sealed value version {0}")]
    UnsupportedVersion(u8),
    /// No configured key has the value's key id: it was sealed with a key that
    /// has since been retired (or the id was tampered with).
    #[error("sealed with an unknown (retired) key")]
    UnknownKey,
    /// AEAD authentication failed: the value was tampered with, truncated, or
    /// sealed for another purpose.
    #[error("sealed value failed authentication")]
    AuthFailed,
    /// The value would need more than [`MAX_CHUNKS`] cookies.
    #[error("value needs at least {needed} cookies, more than the {max} allowed", max = MAX_CHUNKS)]
    TooManyChunks {
        /// Chunks the value would need.
        needed: usize,
    },
}

/// A 256-bit cookie key with its key id (first 4 bytes of
/// SHA-256("edge-oidc key id" || key)). `Debug` prints only the id, equality
/// is constant time.
#[derive(Clone)]
pub struct CookieKey {
    bytes: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The id is in every sealed cookie, so it is not secret; it helps tell
        // keys apart during rotation.
        let [a, b, c, d] = self.id;
        write!(f, "CookieKey {{ id: {a:02x}{b:02x}{c:02x}{d:02x}, key: [redacted] }}")
    }
}

impl ConstantTimeEq for CookieKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for CookieKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for CookieKey {}

impl CookieKey {
    /// Parses base64url or standard base64, padded or not, of exactly 32
    /// bytes. Surrounding whitespace is ignored.
    pub fn from_base64(s: &str) -> Result<CookieKey, SealError> {
        let s = s.trim_ascii();
        let mut decoded = Base64UrlUnpadded::decode_vec(s)
            .or_else(|_| Base64Url::decode_vec(s))
            .or_else(|_| Base64Unpadded::decode_vec(s))
            .or_else(|_| Base64::decode_vec(s))
            .map_err(|_| SealError::BadKeyEncoding)?;
        let key = <[u8; 32]>::try_from(decoded.as_slice())
            .map(CookieKey::from_bytes)
            .map_err(|_| SealError::WrongKeyLength(decoded.len()));
        // Best effort: no zeroize dependency, but don't leave key bytes in
        // freed memory on purpose.
        decoded.fill(0);
        key
    }

    /// Wraps raw key bytes and derives the key id.
    pub fn from_bytes(bytes: [u8; 32]) -> CookieKey {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(KEY_ID_CONTEXT)
            .chain_update(bytes)
            .finalize()
            .into();
        let [a, b, c, d, ..] = digest;
        CookieKey {
            bytes,
            id: [a, b, c, d],
        }
    }

    /// The key id written into values sealed with this key (not secret).
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.bytes.into())
    }
}

/// Parses keys separated by commas and/or whitespace, newest first. An empty
/// list is [`SealError::NoKeys`].
pub fn parse_key_list(s: &str) -> Result<Vec<CookieKey>, SealError> {
    let keys = s
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|k| !k.is_empty())
        .map(CookieKey::from_base64)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(SealError::NoKeys);
    }
    Ok(keys)
}

/// Seals and opens cookie values with XChaCha20-Poly1305. The first key
/// seals; every key opens. Rotation: put the new key first and keep the old
/// one until cookies sealed with it have expired, then drop it.
#[derive(Clone, Debug)]
pub struct Sealer {
    /// Never empty (checked by [`Sealer::new`]).
    keys: Vec<CookieKey>,
}

impl Sealer {
    /// Fails with [`SealError::NoKeys`] when `keys` is empty.
    pub fn new(keys: Vec<CookieKey>) -> Result<Sealer, SealError> {
        if keys.is_empty() {
            return Err(SealError::NoKeys);
        }
        Ok(Sealer { keys })
    }

    /// Seals `plaintext` with the first key. Output: unpadded base64url of
    /// `2 || key id (4) || nonce (24) || ciphertext || tag (16)`.
    ///
    /// The AAD is the 29-byte header followed by `context` (what the value is
    /// for and where it is valid), so a value sealed for one purpose, cookie,
    /// deployment or issuer is refused in any other. `nonce` must be fresh
    /// random bytes (XChaCha20's 192-bit nonce makes random nonces safe).
    pub fn seal(&self, context: &str, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        // Unreachable fallbacks return "" which `open` rejects: fail closed
        // rather than panic.
        let Some(key) = self.keys.first() else {
            return String::new();
        };
        let mut buf = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&key.id);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let Some((header, body)) = buf.split_at_mut_checked(HEADER_LEN) else {
            return String::new();
        };
        let aad = associated_data(header, context);
        // Only fails for plaintexts over RFC 8439's 256 GiB limit.
        let Ok(tag) = key.cipher().encrypt_in_place_detached(&XNonce::from(nonce), &aad, body) else {
            return String::new();
        };
        buf.extend_from_slice(&tag);
        Base64UrlUnpadded::encode_string(&buf)
    }

    /// Opens a value produced by [`Sealer::seal`] with the same `context`.
    ///
    /// One allocation (the decoded buffer, decrypted in place and returned)
    /// and one AEAD decryption. Never panics on hostile input.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        // Bound the work an attacker can make us do before decoding anything.
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SealError::TooLong(sealed.len()));
        }
        let mut buf = decode_sealed(sealed).ok_or(SealError::BadEncoding)?;
        let plain_len = self.decrypt_in_place(context, &mut buf)?;
        // Drop the tag, then shift the plaintext over the header (no realloc).
        buf.truncate(HEADER_LEN + plain_len);
        buf.drain(..HEADER_LEN.min(buf.len()));
        Ok(buf)
    }

    /// Checks the header and decrypts `buf[HEADER_LEN..len - TAG_LEN]` in
    /// place, returning its length.
    fn decrypt_in_place(&self, context: &str, buf: &mut [u8]) -> Result<usize, SealError> {
        match buf.first() {
            None => return Err(SealError::BadEncoding),
            Some(&v) if v != VERSION => return Err(SealError::UnsupportedVersion(v)),
            Some(_) => {}
        }
        let (header, rest) = buf
            .split_first_chunk_mut::<HEADER_LEN>()
            .ok_or(SealError::BadEncoding)?;
        let (body, tag) = rest.split_last_chunk_mut::<TAG_LEN>().ok_or(SealError::BadEncoding)?;
        let aad = associated_data(header, context);
        let [_, k0, k1, k2, k3, nonce @ ..] = *header;
        let (id, nonce, tag) = ([k0, k1, k2, k3], XNonce::from(nonce), Tag::from(*tag));

        // Normally exactly one key matches. On a 1-in-2^32 id collision we
        // try each match; a failed decryption leaves the buffer untouched
        // (the tag is verified before decrypting).
        let mut known = false;
        for key in self.keys.iter().filter(|k| k.id == id) {
            known = true;
            let cipher = key.cipher();
            if cipher.decrypt_in_place_detached(&nonce, &aad, body, &tag).is_ok() {
                return Ok(body.len());
            }
        }
        Err(if known {
            SealError::AuthFailed
        } else {
            SealError::UnknownKey
        })
    }
}

/// The AEAD's associated data: the header, then the caller's context.
fn associated_data(header: &[u8], context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// Strict unpadded base64url (RFC 4648 §5) for sealed values: `None` on any
/// character outside the alphabet, on padding, on an impossible length, or on
/// non-zero unused bits in the last character (the canonical form only, as
/// `Base64UrlUnpadded` checks).
///
/// Not constant time, on purpose: the input is ciphertext the client already
/// holds, so how long decoding takes reveals nothing. base64ct's
/// constant-time decoder took ~60 % of the authenticated hot path
/// (BENCHMARKS.md). Keys, which are secret, still go through base64ct.
fn decode_sealed(s: &str) -> Option<Vec<u8>> {
    const INVALID: u8 = 0xff;
    // Evaluated at compile time: an index out of range fails the build, not a request.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u8; 256] = {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 64 {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let sextet = |c: u8| {
        TABLE
            .get(usize::from(c))
            .copied()
            .filter(|&v| v != INVALID)
            .map(u32::from)
    };
    let bytes = s.as_bytes();
    let tail_len = match bytes.len() % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    // Sized once and written in place: no growth checks in the loop.
    let mut out = vec![0u8; bytes.len() / 4 * 3 + tail_len];
    let mut quads = bytes.chunks_exact(4);
    let mut triples = out.chunks_exact_mut(3);
    for (quad, triple) in (&mut quads).zip(&mut triples) {
        let ([a, b, c, d], [x, y, z]) = (<[u8; 4]>::try_from(quad).ok()?, triple) else {
            return None;
        };
        let [_, p, q, r] = (sextet(a)? << 18 | sextet(b)? << 12 | sextet(c)? << 6 | sextet(d)?).to_be_bytes();
        (*x, *y, *z) = (p, q, r);
    }
    // The last 2 or 3 characters carry 1 or 2 bytes; their unused low bits must be zero.
    match (quads.remainder(), triples.into_remainder()) {
        ([], []) => {}
        ([a, b], [x]) => {
            let [_, p, q, _] = (sextet(*a)? << 18 | sextet(*b)? << 12).to_be_bytes();
            if q != 0 {
                return None;
            }
            *x = p;
        }
        ([a, b, c], [x, y]) => {
            let [_, p, q, r] = (sextet(*a)? << 18 | sextet(*b)? << 12 | sextet(*c)? << 6).to_be_bytes();
            if r != 0 {
                return None;
            }
            (*x, *y) = (p, q);
        }
        _ => return None,
    }
    Some(out)
}

/// `Some(digits)` when `cookie` is `base.<digits>`, i.e. looks like a chunk.
fn chunk_suffix<'c>(cookie: &'c str, base: &str) -> Option<&'c str> {
    let digits = cookie.strip_prefix(base)?.strip_prefix('.')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The chunk number of `cookie` when it is exactly a name we write
/// (`base.0`, `base.1`, ... without leading zeros).
fn chunk_index(cookie: &str, base: &str) -> Option<usize> {
    let digits = chunk_suffix(cookie, base)?;
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// Splits `value` into at most `MAX_CHUNKS` pieces of at most `CHUNK_LEN`
/// bytes; empty when it fits in a single cookie.
fn split_chunks(value: &str) -> Result<Vec<&str>, SealError> {
    if value.len() <= CHUNK_LEN {
        return Ok(Vec::new());
    }
    let too_many = || SealError::TooManyChunks {
        needed: value.len().div_ceil(CHUNK_LEN),
    };
    if value.len() > MAX_CHUNKS * CHUNK_LEN {
        return Err(too_many());
    }
    let mut chunks = Vec::with_capacity(value.len().div_ceil(CHUNK_LEN));
    let mut rest = value;
    while !rest.is_empty() {
        // Values are base64url (ASCII); backing off to a char boundary only
        // matters for misuse, where it keeps us from panicking.
        let mut end = CHUNK_LEN.min(rest.len());
        while end > 0 && !rest.is_char_boundary(end) {
            end -= 1;
        }
        let Some((chunk, tail)) = rest.split_at_checked(end) else {
            break;
        };
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
        rest = tail;
    }
    if chunks.len() > MAX_CHUNKS {
        return Err(too_many());
    }
    Ok(chunks)
}

/// Removal `Set-Cookie`s for each distinct cookie name in `jar` selected by
/// `stale` (the jar may repeat a name, the response should not).
fn removals<'a>(jar: &CookieJar<'a>, attrs: &CookieAttrs, stale: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<&'a str> = jar.iter().map(|(n, _)| n).filter(|n| stale(n)).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(|n| remove_cookie(n, attrs)).collect()
}

/// `Set-Cookie` values storing `value` under `name`: a single cookie `name`
/// when `value.len() <= CHUNK_LEN`, else `name.0`, `name.1`, ... Also removes
/// every cookie the browser sent (per `jar`) of the other layout or with a
/// chunk number we no longer use, so stale chunks never linger.
pub fn write_chunked(name: &str, value: &str, attrs: &CookieAttrs, jar: &CookieJar) -> Result<Vec<String>, SealError> {
    let chunks = split_chunks(value)?;
    let count = chunks.len();
    let mut out = Vec::with_capacity(count.max(1) + 1);
    if chunks.is_empty() {
        out.push(set_cookie(name, value, attrs));
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        out.push(set_cookie(&format!("{name}.{i}"), chunk, attrs));
    }
    let stale = |cookie: &str| {
        if cookie == name {
            return count > 0;
        }
        // Any `name.<digits>` that we did not just overwrite.
        chunk_suffix(cookie, name).is_some() && chunk_index(cookie, name).is_none_or(|i| i >= count)
    };
    out.extend(removals(jar, attrs, stale));
    Ok(out)
}

/// Reads a value written by [`write_chunked`]: `name` if present, else
/// `name.0`, `name.1`, ... concatenated up to the first missing number (at
/// most `MAX_CHUNKS`). `None` when neither layout is present.
///
/// Missing, extra or reordered chunks are not detected here: the result then
/// fails AEAD authentication in [`Sealer::open`], which is the integrity
/// check. Borrows from the header (no allocation) when there is one cookie.
pub fn read_chunked<'a>(jar: &CookieJar<'a>, name: &str) -> Option<Cow<'a, str>> {
    if let Some(value) = jar.get(name) {
        return Some(Cow::Borrowed(value));
    }
    let mut parts: [Option<&'a str>; MAX_CHUNKS] = [None; MAX_CHUNKS];
    for (cookie, value) in jar.iter() {
        if let Some(slot) = chunk_index(cookie, name).and_then(|i| parts.get_mut(i)) {
            // First occurrence wins, as in `CookieJar::get`.
            slot.get_or_insert(value);
        }
    }
    let mut present = parts.iter().map_while(|p| *p);
    let first = present.next()?;
    let Some(second) = present.next() else {
        return Some(Cow::Borrowed(first));
    };
    let total = parts.iter().map_while(|p| *p).map(str::len).sum();
    let mut joined = String::with_capacity(total);
    joined.push_str(first);
    joined.push_str(second);
    present.for_each(|p| joined.push_str(p));
    Some(Cow::Owned(joined))
}

/// Removal `Set-Cookie`s for every cookie of `name` (either layout) that the
/// browser sent.
pub fn clear_chunked(name: &str, attrs: &CookieAttrs, jar: &CookieJar) -> Vec<String> {
    removals(jar, attrs, |cookie| {
        cookie == name || chunk_suffix(cookie, name).is_some()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};

    const PURPOSE: &str = "__Host-session";

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(8439)
    }

    fn key(fill: u8) -> CookieKey {
        CookieKey::from_bytes([fill; 32])
    }

    fn sealer(keys: &[u8]) -> Sealer {
        Sealer::new(keys.iter().map(|&k| key(k)).collect()).unwrap()
    }

    fn nonce(rng: &mut impl RngCore) -> [u8; 24] {
        let mut n = [0u8; 24];
        rng.fill_bytes(&mut n);
        n
    }

    #[test]
    fn round_trip() {
        let s = sealer(&[1]);
        let mut rng = rng();
        for msg in [&b""[..], b"x", b"hello session", &[0xffu8; 5000]] {
            let sealed = s.seal(PURPOSE, msg, nonce(&mut rng));
            assert!(sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(s.open(PURPOSE, &sealed).unwrap(), msg);
        }
    }

    #[test]
    fn layout_is_version_key_id_nonce() {
        let s = sealer(&[1]);
        let n = [7u8; 24];
        let raw = Base64UrlUnpadded::decode_vec(&s.seal(PURPOSE, b"abc", n)).unwrap();
        assert_eq!(raw.len(), HEADER_LEN + 3 + TAG_LEN);
        assert_eq!(raw[0], VERSION);
        assert_eq!(raw[1..5], key(1).id());
        assert_eq!(raw[5..29], n);
        assert_ne!(&raw[29..32], b"abc");
        // Different nonces give different ciphertexts.
        assert_ne!(s.seal(PURPOSE, b"abc", n), s.seal(PURPOSE, b"abc", [8u8; 24]));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        let k = [9u8; 32];
        let mut input = b"edge-oidc key id".to_vec();
        input.extend_from_slice(&k);
        let digest = Sha256::digest(&input);
        assert_eq!(CookieKey::from_bytes(k).id(), digest[..4]);
        assert_ne!(key(1).id(), key(2).id());
    }

    #[test]
    fn wrong_purpose_fails() {
        let s = sealer(&[1]);
        let sealed = s.seal("session", b"data", [0; 24]);
        assert_eq!(s.open("state", &sealed), Err(SealError::AuthFailed));
        assert_eq!(s.open("", &sealed), Err(SealError::AuthFailed));
    }

    #[test]
    fn every_bit_flip_fails() {
        let s = sealer(&[1]);
        let sealed = s.seal(PURPOSE, b"short", [3; 24]);
        // Every bit of the binary value.
        let raw = Base64UrlUnpadded::decode_vec(&sealed).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut t = raw.clone();
                t[i] ^= 1 << bit;
                let enc = Base64UrlUnpadded::encode_string(&t);
                assert!(s.open(PURPOSE, &enc).is_err(), "byte {i} bit {bit}");
            }
        }
        // Every bit of the text (including non-canonical last characters).
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut t = sealed.clone().into_bytes();
                t[i] ^= 1 << bit;
                if let Ok(text) = String::from_utf8(t) {
                    assert!(s.open(PURPOSE, &text).is_err(), "char {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn truncation_fails() {
        let s = sealer(&[1]);
        let sealed = s.seal(PURPOSE, b"some plaintext", [4; 24]);
        for len in 0..sealed.len() {
            assert!(s.open(PURPOSE, &sealed[..len]).is_err(), "len {len}");
        }
        let raw = Base64UrlUnpadded::decode_vec(&sealed).unwrap();
        for len in 0..raw.len() {
            let enc = Base64UrlUnpadded::encode_string(&raw[..len]);
            assert!(s.open(PURPOSE, &enc).is_err(), "raw len {len}");
        }
        // Appending also fails.
        let mut longer = raw.clone();
        longer.push(0);
        let enc = Base64UrlUnpadded::encode_string(&longer);
        assert_eq!(s.open(PURPOSE, &enc), Err(SealError::AuthFailed));
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let s = sealer(&[1]);
        let mut rng = rng();
        for _ in 0..2000 {
            let len = rng.gen_range(0..120);
            let mut raw = vec![0u8; len];
            rng.fill_bytes(&mut raw);
            if let Some(b) = raw.first_mut() {
                *b = VERSION;
            }
            let enc = Base64UrlUnpadded::encode_string(&raw);
            assert!(s.open(PURPOSE, &enc).is_err());
            let text = String::from_utf8_lossy(&raw);
            assert!(s.open(PURPOSE, &text).is_err());
        }
        assert_eq!(s.open(PURPOSE, ""), Err(SealError::BadEncoding));
        assert_eq!(s.open(PURPOSE, "AQ=="), Err(SealError::BadEncoding));
        assert_eq!(s.open(PURPOSE, "a+b/"), Err(SealError::BadEncoding));
        // The right version byte, then nothing: too short for a header and a tag.
        assert_eq!(s.open(PURPOSE, "Ag"), Err(SealError::BadEncoding));
        assert_eq!(s.open(PURPOSE, "AQ"), Err(SealError::UnsupportedVersion(1)));
    }

    #[test]
    fn unsupported_version() {
        let s = sealer(&[1]);
        let mut raw = Base64UrlUnpadded::decode_vec(&s.seal(PURPOSE, b"x", [0; 24])).unwrap();
        for version in [1, VERSION + 1] {
            raw[0] = version;
            let enc = Base64UrlUnpadded::encode_string(&raw);
            assert_eq!(s.open(PURPOSE, &enc), Err(SealError::UnsupportedVersion(version)));
        }
    }

    #[test]
    fn too_long_rejected_before_decoding() {
        let s = sealer(&[1]);
        // Not even base64: proves the length check comes first.
        let long = "!".repeat(MAX_SEALED_LEN + 1);
        assert_eq!(s.open(PURPOSE, &long), Err(SealError::TooLong(MAX_SEALED_LEN + 1)));
        let ok_len = "!".repeat(MAX_SEALED_LEN);
        assert_eq!(s.open(PURPOSE, &ok_len), Err(SealError::BadEncoding));
    }

    #[test]
    fn retired_key_is_unknown() {
        let old = sealer(&[1]);
        let sealed = old.seal(PURPOSE, b"x", [0; 24]);
        assert_eq!(sealer(&[2, 3]).open(PURPOSE, &sealed), Err(SealError::UnknownKey));
    }

    #[test]
    fn rotation() {
        let old = sealer(&[1]);
        let rotated = sealer(&[2, 1]);
        let from_old = old.seal(PURPOSE, b"old", [0; 24]);
        assert_eq!(rotated.open(PURPOSE, &from_old).unwrap(), b"old");
        let from_new = rotated.seal(PURPOSE, b"new", [0; 24]);
        let raw = Base64UrlUnpadded::decode_vec(&from_new).unwrap();
        assert_eq!(raw[1..5], key(2).id());
        assert_eq!(rotated.open(PURPOSE, &from_new).unwrap(), b"new");
        // The old deployment cannot read the new key's cookies.
        assert_eq!(old.open(PURPOSE, &from_new), Err(SealError::UnknownKey));
    }

    #[test]
    fn key_id_collision_tries_each_match() {
        // Forge a second key with the same id to exercise the fallback.
        let mut impostor = key(5);
        impostor.id = key(1).id();
        let s = Sealer::new(vec![impostor, key(1)]).unwrap();
        let sealed = sealer(&[1]).seal(PURPOSE, b"x", [0; 24]);
        assert_eq!(s.open(PURPOSE, &sealed).unwrap(), b"x");
        let s = Sealer::new(vec![{
            let mut k = key(5);
            k.id = key(1).id();
            k
        }])
        .unwrap();
        assert_eq!(s.open(PURPOSE, &sealed), Err(SealError::AuthFailed));
    }

    #[test]
    fn key_parsing() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(0xfb));
        let expected = CookieKey::from_bytes(bytes);
        for enc in [
            Base64UrlUnpadded::encode_string(&bytes),
            Base64Url::encode_string(&bytes),
            Base64::encode_string(&bytes),
            Base64Unpadded::encode_string(&bytes),
        ] {
            assert_eq!(CookieKey::from_base64(&enc).unwrap(), expected, "{enc}");
            assert_eq!(CookieKey::from_base64(&format!(" {enc}\n")).unwrap(), expected);
        }
        // The test key must exercise both alphabets.
        assert!(Base64::encode_string(&bytes).contains(['+', '/']));
        assert_eq!(
            CookieKey::from_base64(&Base64UrlUnpadded::encode_string(&[1u8; 31])),
            Err(SealError::WrongKeyLength(31))
        );
        assert_eq!(
            CookieKey::from_base64(&Base64::encode_string(&[1u8; 33])),
            Err(SealError::WrongKeyLength(33))
        );
        assert_eq!(CookieKey::from_base64(""), Err(SealError::WrongKeyLength(0)));
        for bad in ["not base64!", "@@@@", "a", "ab-+cd", "%%%%%%%%"] {
            assert_eq!(CookieKey::from_base64(bad), Err(SealError::BadKeyEncoding), "{bad}");
        }
    }

    #[test]
    fn key_list_parsing() {
        let a = Base64UrlUnpadded::encode_string(&[1u8; 32]);
        let b = Base64::encode_string(&[2u8; 32]);
        let c = Base64UrlUnpadded::encode_string(&[3u8; 32]);
        let keys = parse_key_list(&format!(" {a},{b}\n\t{c} , ")).unwrap();
        assert_eq!(keys, vec![key(1), key(2), key(3)]);
        assert_eq!(parse_key_list(&a).unwrap(), vec![key(1)]);
        assert_eq!(parse_key_list(""), Err(SealError::NoKeys));
        assert_eq!(parse_key_list(" ,, \n"), Err(SealError::NoKeys));
        assert_eq!(parse_key_list(&format!("{a},junk!")), Err(SealError::BadKeyEncoding));
        assert_eq!(Sealer::new(Vec::new()).err(), Some(SealError::NoKeys));
    }

    #[test]
    fn key_equality() {
        assert_eq!(key(1), key(1));
        assert_ne!(key(1), key(2));
        assert!(bool::from(key(1).ct_eq(&key(1))));
    }

    #[test]
    fn debug_is_redacted() {
        let bytes = [0xabu8; 32];
        let k = CookieKey::from_bytes(bytes);
        let s = Sealer::new(vec![k.clone()]).unwrap();
        for dbg in [format!("{k:?}"), format!("{s:?}"), format!("{s:#?}")] {
            assert!(dbg.contains("[redacted]"), "{dbg}");
            assert!(
                !dbg.contains("ab, ab") && !dbg.contains("171") && !dbg.contains("abab"),
                "{dbg}"
            );
            assert!(!dbg.contains(&Base64UrlUnpadded::encode_string(&bytes)));
        }
    }

    // ---- chunking ----

    fn attrs() -> CookieAttrs {
        CookieAttrs::default()
    }

    /// The Cookie header a browser would send after applying `set_cookies`
    /// (removals dropped), starting from no cookies.
    fn browser_header(set_cookies: &[String]) -> String {
        set_cookies
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn names(set_cookies: &[String]) -> Vec<&str> {
        set_cookies.iter().map(|c| c.split('=').next().unwrap()).collect()
    }

    fn removed(set_cookies: &[String]) -> Vec<&str> {
        let removals: Vec<_> = set_cookies
            .iter()
            .filter(|c| c.contains("Max-Age=0"))
            .cloned()
            .collect();
        set_cookies
            .iter()
            .filter(|c| removals.contains(c))
            .map(|c| c.split('=').next().unwrap())
            .collect()
    }

    fn big_sealed(rng: &mut impl RngCore, plain_len: usize) -> (Sealer, String) {
        let s = sealer(&[1]);
        let mut plain = vec![0u8; plain_len];
        rng.fill_bytes(&mut plain);
        let sealed = s.seal("sess", &plain, nonce(rng));
        (s, sealed)
    }

    #[test]
    fn ten_kb_value_splits_into_three_chunks() {
        let mut rng = rng();
        let (s, sealed) = big_sealed(&mut rng, 7500);
        assert!(
            sealed.len() > 2 * CHUNK_LEN && sealed.len() <= 3 * CHUNK_LEN,
            "{}",
            sealed.len()
        );
        let out = write_chunked("sess", &sealed, &attrs(), &CookieJar::parse(None)).unwrap();
        assert_eq!(names(&out), ["sess.0", "sess.1", "sess.2"]);
        let header = browser_header(&out);
        let jar = CookieJar::parse(Some(&header));
        assert!(jar.iter().all(|(_, v)| v.len() <= CHUNK_LEN));
        let read = read_chunked(&jar, "sess").unwrap();
        assert!(matches!(read, Cow::Owned(_)));
        assert_eq!(read, sealed);
        assert_eq!(s.open("sess", &read).unwrap().len(), 7500);
    }

    #[test]
    fn missing_or_swapped_chunks_fail_to_open() {
        let mut rng = rng();
        let (s, sealed) = big_sealed(&mut rng, 7500);
        let out = write_chunked("sess", &sealed, &attrs(), &CookieJar::parse(None)).unwrap();
        let h = browser_header(&out);
        let parts: Vec<&str> = h.split("; ").collect();
        let missing_middle = format!("{}; {}", parts[0], parts[2]);
        let jar = CookieJar::parse(Some(&missing_middle));
        let read = read_chunked(&jar, "sess").unwrap();
        assert!(s.open("sess", &read).is_err());

        let v = |i: usize| parts[i].split_once('=').unwrap().1;
        let swapped = format!("sess.0={}; sess.1={}; sess.2={}", v(1), v(0), v(2));
        let jar = CookieJar::parse(Some(&swapped));
        assert!(s.open("sess", &read_chunked(&jar, "sess").unwrap()).is_err());
        // Header order does not matter, numbers do.
        let reordered = format!("{}; {}; {}", parts[2], parts[0], parts[1]);
        let jar = CookieJar::parse(Some(&reordered));
        assert_eq!(read_chunked(&jar, "sess").unwrap(), sealed);
    }

    #[test]
    fn short_write_removes_old_chunks() {
        let jar = CookieJar::parse(Some("sess.0=a; other=1; sess.1=b; sess.2=c; sess.2=dup"));
        let out = write_chunked("sess", "short", &attrs(), &jar).unwrap();
        assert_eq!(out[0], set_cookie("sess", "short", &attrs()));
        assert_eq!(removed(&out), ["sess.0", "sess.1", "sess.2"]);
        assert_eq!(out.len(), 4);
        assert_eq!(out[1], remove_cookie("sess.0", &attrs()));
    }

    #[test]
    fn chunked_write_removes_single_and_extra_chunks() {
        let value = "A".repeat(CHUNK_LEN + 1);
        let jar = CookieJar::parse(Some("sess=old; sess.0=x; sess.5=y; sess.01=z; sessx.9=k; sess.a=q"));
        let out = write_chunked("sess", &value, &attrs(), &jar).unwrap();
        assert_eq!(names(&out)[..2], ["sess.0", "sess.1"]);
        assert_eq!(removed(&out), ["sess", "sess.01", "sess.5"]);
        // Short write with only a single cookie present removes nothing.
        let jar = CookieJar::parse(Some("sess=old"));
        assert_eq!(write_chunked("sess", "new", &attrs(), &jar).unwrap().len(), 1);
    }

    #[test]
    fn chunk_boundaries() {
        let jar = CookieJar::parse(None);
        let exact = "A".repeat(CHUNK_LEN);
        assert_eq!(names(&write_chunked("s", &exact, &attrs(), &jar).unwrap()), ["s"]);
        let max = "A".repeat(MAX_CHUNKS * CHUNK_LEN);
        let out = write_chunked("s", &max, &attrs(), &jar).unwrap();
        assert_eq!(out.len(), MAX_CHUNKS);
        let h = browser_header(&out);
        assert_eq!(read_chunked(&CookieJar::parse(Some(&h)), "s").unwrap(), max);
        let over = "A".repeat(MAX_CHUNKS * CHUNK_LEN + 1);
        assert_eq!(
            write_chunked("s", &over, &attrs(), &jar),
            Err(SealError::TooManyChunks { needed: MAX_CHUNKS + 1 })
        );
        // Misuse with multi-byte characters splits on char boundaries
        // (write_chunked itself would trip set_cookie's debug_assert).
        let wide = "€".repeat(CHUNK_LEN / 2);
        let chunks = split_chunks(&wide).unwrap();
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_LEN));
        assert_eq!(chunks.concat(), wide);
    }

    #[test]
    fn read_chunked_layouts() {
        let jar = CookieJar::parse(Some("a=1; sess=single; sess.0=x"));
        assert!(matches!(read_chunked(&jar, "sess"), Some(Cow::Borrowed("single"))));
        let jar = CookieJar::parse(Some("sess.0=only; sess.2=gap"));
        assert!(matches!(read_chunked(&jar, "sess"), Some(Cow::Borrowed("only"))));
        let jar = CookieJar::parse(Some("sess.1=x; sess.00=y; sessx=z"));
        assert_eq!(read_chunked(&jar, "sess"), None);
        assert_eq!(read_chunked(&CookieJar::parse(None), "sess"), None);
        let jar = CookieJar::parse(Some("sess.0=a; sess.1=b; sess.0=ignored; sess.8=beyond"));
        assert_eq!(read_chunked(&jar, "sess").unwrap(), "ab");
        let all: String = (0..=MAX_CHUNKS).map(|i| format!("sess.{i}={i}; ")).collect();
        let upto_max: String = (0..MAX_CHUNKS).map(|i| i.to_string()).collect();
        assert_eq!(read_chunked(&CookieJar::parse(Some(&all)), "sess").unwrap(), upto_max);
    }

    #[test]
    fn clear_removes_both_layouts() {
        let jar = CookieJar::parse(Some("sess=a; sess.0=b; keep=1; sess.3=c; sess.3=d; session=x"));
        let out = clear_chunked("sess", &attrs(), &jar);
        assert_eq!(removed(&out), ["sess", "sess.0", "sess.3"]);
        assert_eq!(out.len(), 3);
        assert!(clear_chunked("sess", &attrs(), &CookieJar::parse(Some("x=1"))).is_empty());
    }

    #[test]
    fn chunk_name_helpers() {
        assert_eq!(chunk_index("s.0", "s"), Some(0));
        assert_eq!(chunk_index("s.10", "s"), Some(10));
        assert_eq!(chunk_index("s.01", "s"), None);
        assert_eq!(chunk_suffix("s.01", "s"), Some("01"));
        assert_eq!(chunk_index("s.99999999999999999999999", "s"), None);
        assert_eq!(chunk_suffix("s.", "s"), None);
        assert_eq!(chunk_suffix("s.1a", "s"), None);
        assert_eq!(chunk_suffix("sx.1", "s"), None);
        assert_eq!(chunk_suffix("s", "s"), None);
    }

    #[test]
    fn random_sizes_round_trip_through_chunks() {
        let mut rng = rng();
        let s = sealer(&[1]);
        for _ in 0..30 {
            // Up to the largest plaintext whose sealed form fits in MAX_CHUNKS chunks.
            let len = rng.gen_range(0..(MAX_SEALED_LEN * 3 / 4 - HEADER_LEN - TAG_LEN));
            let mut plain = vec![0u8; len];
            rng.fill_bytes(&mut plain);
            let sealed = s.seal("c", &plain, nonce(&mut rng));
            let out = write_chunked("c", &sealed, &attrs(), &CookieJar::parse(None)).unwrap();
            let h = browser_header(&out);
            let read = read_chunked(&CookieJar::parse(Some(&h)), "c").unwrap();
            assert_eq!(s.open("c", &read).unwrap(), plain);
        }
    }

    #[test]
    fn sealed_decoding_matches_base64ct() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let enc = Base64UrlUnpadded::encode_string(&bytes);
            assert_eq!(decode_sealed(&enc), Some(bytes), "{enc}");
        }
        // Every 1..=4 character string over the alphabet plus the characters base64ct
        // must refuse: same verdict and same bytes.
        let chars: Vec<char> = "AQgw_-9+/=. \u{e9}".chars().collect();
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let next: Vec<String> = cases
                .iter()
                .flat_map(|s| chars.iter().map(move |c| format!("{s}{c}")))
                .collect();
            for s in &next {
                assert_eq!(decode_sealed(s), Base64UrlUnpadded::decode_vec(s).ok(), "{s:?}");
            }
            cases = next;
        }
    }
}
