//! The core's [`HttpClient`] on the Workers `fetch`, with a timeout (AbortController) and a
//! response size cap.

use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse, MAX_RESPONSE_BYTES};
use futures::future::{select, Either};
use std::time::Duration;
use worker::{AbortController, AbortSignal, Delay, Fetch, Request};

pub(super) struct FetchClient {
    timeout: Duration,
}

impl FetchClient {
    pub(super) fn new(timeout_ms: u64) -> Self {
        FetchClient {
            timeout: Duration::from_millis(timeout_ms),
        }
    }
}

fn network(e: impl std::fmt::Display) -> HttpError {
    HttpError::Network(e.to_string())
}

fn build(request: &HttpRequest) -> Result<Request, HttpError> {
    let headers = web_sys::Headers::new().map_err(|_| network("headers"))?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| network("header value"))?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    init.set_headers(&headers);
    // A token endpoint that redirects is misbehaving; never re-send credentials elsewhere.
    if request.method != "GET" {
        init.set_redirect(web_sys::RequestRedirect::Manual);
    }
    if let Some(body) = &request.body {
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    web_sys::Request::new_with_str_and_init(&request.url, &init)
        .map(Request::from)
        .map_err(|_| network("invalid request URL"))
}

async fn send_and_read(request: Request, signal: AbortSignal) -> Result<HttpResponse, HttpError> {
    let mut response = Fetch::Request(request)
        .send_with_signal(&signal)
        .await
        .map_err(network)?;
    let declared = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_RESPONSE_BYTES) {
        return Err(network("the response is too large"));
    }
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = response.bytes().await.map_err(network)?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(network("the response is too large"));
    }
    Ok(HttpResponse {
        status: response.status_code(),
        content_type,
        body,
    })
}

impl HttpClient for FetchClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let outgoing = build(&request)?;
        let controller = AbortController::default();
        // The timeout covers headers and body together.
        let work = Box::pin(send_and_read(outgoing, controller.signal()));
        let timer = Box::pin(Delay::from(self.timeout));
        match select(work, timer).await {
            Either::Left((result, _)) => result,
            Either::Right(((), work)) => {
                drop(work);
                controller.abort();
                Err(HttpError::Timeout)
            }
        }
    }
}
