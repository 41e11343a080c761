//! Reading a body with a size cap applied while it streams in: reading stops at the first chunk
//! that goes over the cap (the caller then cancels the rest), so a huge or endless body costs
//! at most the cap in memory, never the whole body. Used for provider responses
//! (`MAX_RESPONSE_BYTES`) and for request bodies the core asks for (`App::body_limit`).

use futures::{Stream, StreamExt};

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError<E> {
    /// More than the cap: reading stopped there.
    TooLarge,
    /// The stream failed.
    Stream(E),
}

/// A declared `Content-Length` already over `limit` (checked before reading anything).
pub(crate) fn declared_too_large(content_length: Option<&str>, limit: usize) -> bool {
    content_length
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// The whole body, if it is at most `limit` bytes.
pub(crate) async fn read_capped<S, E>(stream: S, limit: usize) -> Result<Vec<u8>, ReadError<E>>
where
    S: Stream<Item = Result<Vec<u8>, E>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ReadError::Stream)?;
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
