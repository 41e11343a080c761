//! The core's [`HttpClient`] on the Workers `fetch` (workers-rs [`Fetch`]): one timeout for
//! headers and body (an [`AbortController`] aborted when a [`Delay`] wins the race), the size cap
//! applied while the body streams in, and `redirect: "manual"` for every request that may carry
//! credentials.

use super::body::{declared_too_large, read_capped, ReadError};
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse, MAX_RESPONSE_BYTES};
use futures::future::{select, Either};
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

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
        let controller = AbortController::default();
        let result = {
            let exchange = pin!(exchange(request, &controller));
            let timeout = pin!(Delay::from(Duration::from_millis(self.timeout_ms)));
            match select(exchange, timeout).await {
                Either::Left((result, _)) => result,
                Either::Right(((), _)) => Err(HttpError::Timeout),
            }
        };
        if result.is_err() {
            // Stops whatever is still in flight (the body of a response refused as too large,
            // a request that timed out).
            controller.abort();
        }
        result
    }
}

/// The request and the whole response.
async fn exchange(request: HttpRequest, controller: &AbortController) -> Result<HttpResponse, HttpError> {
    let network = |e: worker::Error| HttpError::Network(e.to_string());
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(network)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(request.method.to_owned()))
        .with_headers(headers)
        // Never re-send a client secret, an assertion or a bearer token elsewhere: the 3xx is
        // the answer (and the core refuses it).
        .with_redirect(match request.follow_redirects {
            true => RequestRedirect::Follow,
            false => RequestRedirect::Manual,
        });
    if let Some(body) = &request.body {
        init.with_body(Some(JsValue::from_str(body)));
    }
    let outgoing = Request::new_with_init(&request.url, &init).map_err(network)?;
    let mut response = Fetch::Request(outgoing)
        .send_with_signal(&controller.signal())
        .await
        .map_err(network)?;
    let too_large = || HttpError::Network("the response is too large".to_owned());
    let declared = response.headers().get("content-length").ok().flatten();
    if declared_too_large(declared.as_deref(), MAX_RESPONSE_BYTES) {
        return Err(too_large());
    }
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = match response.stream() {
        Ok(stream) => read_capped(stream, MAX_RESPONSE_BYTES).await.map_err(|e| match e {
            ReadError::TooLarge => too_large(),
            ReadError::Stream(e) => network(e),
        })?,
        Err(_) => Vec::new(), // no body
    };
    Ok(HttpResponse {
        status: response.status_code(),
        content_type,
        body,
    })
}
