// The JavaScript half of the edge shell: the calls the wasm makes into the Workers runtime
// (src/edge/js.rs binds them). Each does in one call what would otherwise take many crossings
// between wasm and JavaScript: the hot path (an authenticated request passed on) costs two,
// readRequest and forward. wasm-bindgen copies it into its output (snippets/) and imports it
// from there; scripts/build.sh gives entry.mjs the same module as "./glue.js" and bundles the
// three into build/index.js.

/**
 * Shared with entry.mjs. `failed(error, navigation)`: the 500 response for a failed forward;
 * `broken`: the instance trapped and must be replaced before it runs again.
 */
export const state = { failed: null, broken: false };

const present = (v) => (v === null ? '' : `+${v}`);

const encoder = new TextEncoder();

/**
 * The parts of a request the core reads, UTF-8 encoded into `buf` (a view of the wasm's
 * memory; encodeInto is much faster than wasm-bindgen's string passing for a 2 KB cookie):
 * URL, method, then the headers named in `names` (core::flow::REQUEST_HEADERS, space-separated),
 * each '' when absent else '+' and the value; separated by '\n', which none of them can contain
 * (the URL parser drops newlines, Headers refuses them). Returns the bytes written, or when `buf`
 * is too small a length that is large enough (nothing usable written).
 */
let headerNames = null;
let headerList = null;
export function readRequest(req, buf, names) {
  if (names !== headerList) {
    headerNames = names.split(' ');
    headerList = names;
  }
  const h = req.headers;
  let all = `${req.url}\n${req.method}`;
  for (const name of headerNames) all += `\n${present(h.get(name))}`;
  const { read, written } = encoder.encodeInto(all, buf);
  return read === all.length ? written : all.length * 3;
}

/** A response from the core's reply: `headers` is "name\nvalue\nname\nvalue…" (may repeat). */
export function reply(status, headers, body) {
  const h = new Headers();
  if (headers !== '') {
    const a = headers.split('\n');
    for (let i = 0; i + 1 < a.length; i += 2) h.append(a[i], a[i + 1]);
  }
  return new Response(body === '' ? null : body, { status, headers: h });
}

// Identity header names to remove, as given (space-separated) and as a set of their '-'
// spellings; the same on every request of a configuration, so computed once.
let removeList = null;
let removeSet = null;
const dashes = (name) => name.replaceAll('_', '-');

/**
 * Passes `req` on, changed as `spec` says, to the ASSETS binding (when `assets` and it exists)
 * or the network; resolves to the response, with Set-Cookie headers added. `spec`, '\n'-separated:
 * target URL ('' = the request's own), Cookie header ('' = none, else '+' and the value),
 * the identity header names to remove (lower-case, space-separated: request headers equal to
 * one of them in any case and with '_' for '-' go), the number of headers to add, that many
 * name and value lines, then the Set-Cookie values. Throws (synchronously) when the request
 * cannot be built; a failed fetch resolves to `state.failed(error, navigation)`.
 */
export function forward(req, env, spec, assets, navigation) {
  const p = spec.split('\n');
  const init = { method: req.method, headers: req.headers, redirect: 'manual' };
  const body = req.body;
  if (body !== null) init.body = body;
  const outgoing = new Request(p[0] === '' ? req.url : p[0], init);
  const headers = outgoing.headers;
  if (p[2] !== '') {
    if (p[2] !== removeList) {
      removeSet = new Set(p[2].split(' ').map(dashes));
      removeList = p[2];
    }
    const copies = [];
    for (const name of headers.keys()) if (removeSet.has(dashes(name))) copies.push(name);
    for (const name of copies) headers.delete(name);
  }
  if (p[1] !== '') headers.set('cookie', p[1].slice(1));
  else headers.delete('cookie');
  const end = 4 + 2 * Number(p[3]);
  for (let i = 4; i < end; i += 2) headers.set(p[i], p[i + 1]);
  const fetcher = assets ? env.ASSETS : undefined;
  const pending = typeof fetcher === 'object' && fetcher !== null ? fetcher.fetch(outgoing) : fetch(outgoing);
  const fail = (e) => state.failed(e, navigation);
  if (end >= p.length) return pending.catch(fail);
  return pending.then((response) => {
    // Responses from fetch have immutable headers: copy them into a new response.
    const h = new Headers(response.headers);
    for (let i = end; i < p.length; i += 1) h.append('set-cookie', p[i]);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers: h });
  }).catch(fail);
}

/**
 * An outgoing request of the core (to a provider), with a timeout covering headers and body
 * and a size cap. `headers` as in `reply`; `body` undefined for none. Resolves to
 * { status, type (content type or null), body (bytes) }, a string saying why it failed, or
 * null after `timeoutMs`.
 */
export function http(method, url, headers, body, timeoutMs, maxBytes) {
  const controller = new AbortController();
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(null);
    }, timeoutMs);
  });
  const work = (async () => {
    const h = new Headers();
    try {
      const a = headers.split('\n');
      for (let i = 0; i + 1 < a.length; i += 2) h.set(a[i], a[i + 1]);
    } catch {
      return 'header value';
    }
    const init = { method, headers: h };
    // A token endpoint that redirects is misbehaving; never re-send credentials elsewhere.
    if (method !== 'GET') init.redirect = 'manual';
    if (body != null) init.body = body;
    let request;
    try {
      request = new Request(url, init);
    } catch {
      return 'invalid request URL';
    }
    try {
      const response = await fetch(request, { signal: controller.signal });
      const declared = response.headers.get('content-length');
      if (declared !== null && /^\+?\d+$/.test(declared) && Number(declared) > maxBytes) return 'the response is too large';
      const type = response.headers.get('content-type');
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.length > maxBytes) return 'the response is too large';
      return { status: response.status, type, body: bytes };
    } catch (e) {
      return String(e);
    }
  })();
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export async function kvGet(ns, key) {
  return ns.get(key, 'text');
}

export async function kvPut(ns, key, value, ttl) {
  return ns.put(key, value, { expirationTtl: ttl });
}

/** A KV write the answer does not wait for; the runtime keeps the request alive until it ends. */
export function kvPutBackground(ctx, ns, key, value, ttl) {
  const done = ns.put(key, value, { expirationTtl: ttl }).catch((e) => {
    console.error(`edge-oidc: background KV write failed: ${e}`);
  });
  if (ctx && typeof ctx.waitUntil === 'function') ctx.waitUntil(done);
}

export async function kvDelete(ns, key) {
  return ns.delete(key);
}

// ---- traps ---------------------------------------------------------------------------------
// A trap (a panic traps: panic = "abort") leaves the instance unusable, and the requests it
// has in flight can never finish. Those waiting in the executor are answered with a 500 here;
// entry.mjs replaces the instance before the next request.

/** A plain 500, for when the instance cannot render its own error page. */
export function crashResponse() {
  return new Response('INTERNAL SERVER ERROR', { status: 500, headers: { 'content-type': 'text/plain' } });
}

/** The settle functions of the requests waiting in the executor. */
const waiting = new Set();

/** `p`, a request's promise from the executor, or a 500 if the instance traps first. */
export function track(p) {
  let settle;
  const done = new Promise((resolve) => {
    settle = resolve;
  });
  waiting.add(settle);
  p.then(
    (response) => {
      waiting.delete(settle);
      settle(response);
    },
    () => {
      waiting.delete(settle);
      settle(crashResponse());
    },
  );
  return done;
}

/** Marks the instance broken and answers its waiting requests. */
export function trapped() {
  state.broken = true;
  for (const settle of waiting) settle(crashResponse());
  waiting.clear();
}

/** Called by the wasm's panic hook, just before it traps. */
export function panicked(message) {
  console.error(`edge-oidc: panic: ${message}`);
  trapped();
}

/** A thrown value as text, for the log. */
export function text(e) {
  try {
    return String(e);
  } catch {
    return 'unprintable error';
  }
}
