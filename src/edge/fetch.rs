//! The core's [`HttpClient`] on the Workers `fetch`, with a timeout (AbortController) and a
//! response size cap, both applied by glue.js's `http`.

use super::js::{self, Answer};
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse, MAX_RESPONSE_BYTES};
use js_sys::futures::JsFuture;
use wasm_bindgen::JsCast;

pub(super) struct FetchClient {
    timeout_ms: u64,
}

impl FetchClient {
    pub(super) fn new(timeout_ms: u64) -> Self {
        FetchClient { timeout_ms }
    }
}

impl HttpClient for FetchClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut headers = String::new();
        for (name, value) in &request.headers {
            // The runtime refuses a header value with a newline; so does the list.
            if name.contains('\n') || value.contains('\n') {
                return Err(HttpError::Network("header value".to_owned()));
            }
            headers.push_str(name);
            headers.push('\n');
            headers.push_str(value);
            headers.push('\n');
        }
        headers.pop();
        let pending = js::http(
            request.method,
            &request.url,
            &headers,
            request.body.as_deref(),
            self.timeout_ms as f64,
            MAX_RESPONSE_BYTES as f64,
        );
        // glue.js resolves in every case (a rejection here would be a bug in it).
        let answer = JsFuture::from(pending)
            .await
            .map_err(|e| HttpError::Network(js::text(&e)))?;
        if answer.is_null() {
            return Err(HttpError::Timeout);
        }
        if let Some(why) = answer.as_string() {
            return Err(HttpError::Network(why));
        }
        let answer: Answer = answer.unchecked_into();
        Ok(HttpResponse {
            status: answer.status(),
            content_type: answer.content_type(),
            body: answer.body(),
        })
    }
}
