//! Passing an authenticated (or public) request on: to the configured origin, else to the static
//! assets binding, else to the request's own URL (the zone's origin), changed as the core's
//! [`Forward`] says.

use super::handler::Failure;
use super::rewrite::{private_cache_control, RemovedNames};
use crate::core::flow::{App, Forward, Incoming};
use worker::web_sys::{self, RequestCache, RequestRedirect};
use worker::{Env, Fetch, Headers, Request, Response};

/// The static assets binding, used when no `origin` is configured.
const ASSETS_BINDING: &str = "ASSETS";

pub(super) async fn pass_on(
    req: &Request,
    env: &Env,
    app: &App,
    incoming: &Incoming,
    forward: Forward,
) -> Result<Response, Failure> {
    let origin = app.config().origin.as_ref();
    let assets = match origin {
        Some(_) => None,
        None => env.assets(ASSETS_BINDING).ok(),
    };
    let outgoing = outgoing_request(req, incoming, &forward, origin, assets.is_none()).map_err(Failure::Internal)?;
    let response = match assets {
        Some(assets) => assets.fetch_request(outgoing).await,
        None => Fetch::Request(outgoing).send().await,
    }
    .map_err(Failure::Origin)?;
    if !forward.private {
        return Ok(response);
    }
    private(response).map_err(Failure::Internal)
}

/// The request to send: the client's, with the identity headers and cookies of `forward`, to
/// the target URL, never following redirects (the browser gets them).
fn outgoing_request(
    req: &Request,
    incoming: &Incoming,
    forward: &Forward,
    origin: Option<&url::Url>,
    network: bool,
) -> worker::Result<Request> {
    let headers = Headers(web_sys::Headers::new_with_headers(&req.headers().0)?);
    if !forward.remove_headers.is_empty() {
        let removed = RemovedNames::new(&forward.remove_headers);
        let copies: Vec<String> = headers.keys().filter(|name| removed.contains(name)).collect();
        for name in copies {
            headers.delete(&name)?;
        }
    }
    match &forward.cookie {
        Some(cookie) => headers.set("cookie", cookie)?,
        None => headers.delete("cookie")?,
    }
    for (name, value) in &forward.add_headers {
        headers.set(name, value)?;
    }
    // web_sys's RequestInit, not worker::RequestInit: the latter carries a worker::Method, which
    // turns methods it does not know (PROPFIND, …) into GET.
    let init = web_sys::RequestInit::new();
    init.set_method(&incoming.method);
    init.set_headers(&headers.0);
    init.set_redirect(RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.set_body(&body);
    }
    // A page let through on a session must not land in (or come from) the zone's shared cache.
    // The assets binding has no such cache; its answer is marked private below.
    if forward.private && network {
        init.set_cache(RequestCache::NoStore);
    }
    let url = target_url(incoming, forward.path.as_deref(), origin);
    Ok(web_sys::Request::new_with_str_and_init(&url, &init)?.into())
}

/// The request's URL; with `path`, its canonical path and query instead; with `origin`, that
/// scheme, host and port instead.
fn target_url(incoming: &Incoming, path: Option<&str>, origin: Option<&url::Url>) -> String {
    let url = &incoming.url;
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

/// The response with `Cache-Control: private` (see [`private_cache_control`]).
fn private(response: Response) -> worker::Result<Response> {
    let current = response.headers().get("cache-control")?;
    let Some(value) = private_cache_control(current.as_deref()) else {
        return Ok(response);
    };
    // A fetched response's headers are immutable: the new value goes on a copy.
    let headers = Headers(web_sys::Headers::new_with_headers(&response.headers().0)?);
    headers.set("cache-control", &value)?;
    Ok(response.with_headers(headers))
}
