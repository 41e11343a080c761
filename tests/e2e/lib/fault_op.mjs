// A fault-injecting OpenID Provider for the negative end-to-end suites (conformance, tampering,
// faults), on 127.0.0.1, with no dependency beyond node:crypto and node:http.
//
// One server hosts many *tenants*: tenant NAME is the issuer `${op.url}/NAME` with its own
// discovery document, JWKS, authorization, token, userinfo and end-session endpoints. Each test
// (one RP conformance case) gets its own tenant, configured with exactly one fault, so cases never
// share a provider cache in the worker, and one worker can hold every case as a provider
// (`/login?provider=NAME`).
//
// A tenant can also take a *profile* (third argument of `tenant()`), the shape a real provider
// gives its issuer and endpoints, for the recipe tests (tests/e2e/recipes.test.mjs):
//   prefix       endpoints live under `${op.url}/NAME/${prefix}` (Keycloak: 'realms/staff')
//   issuer       the issuer ID tokens and the `iss` parameter carry (Auth0: with a trailing slash;
//                Entra: one tenant's `${root}/${tid}/v2.0`); default: the endpoints' base
//   docIssuer    the issuer the discovery document names (Entra: the `{tenantid}` template)
//   authMethods  token endpoint authentication accepted (default ['client_secret_basic'];
//                'client_secret_post' reads client_id and client_secret from the body)
// The discovery document is at `<endpoints' base>/.well-known/openid-configuration`.
//
// Without a fault a tenant behaves like a small but strict OP: it checks client_id, redirect_uri,
// response_type and PKCE S256 at the authorization endpoint, client_secret_basic, the code (single
// use), redirect_uri and code_verifier at the token endpoint, and the bearer token at userinfo. It
// sends RFC 9207 `iss` and signs ID tokens RS256 with kid "rsa-1".
//
// Fault hooks (all optional; see `tenant()`), each may also return a raw response `reply(...)`,
// or one of HANG (accept, never answer), RESET (destroy the connection) or DRIP (send the
// headers and a few bytes of body, then never finish):
//   discovery(doc, t)               -> doc
//   jwks(keys, t)                   -> keys (array of JWKs) or a whole document object
//   authorize(params, request, t)   -> params of the redirect back to redirect_uri
//   idToken: { header(h, ctx), claims(c, ctx), alg, key, secret, tamper }
//                                   -> how the ID token is made ('RS256', 'ES256', 'HS256', 'none')
//   token(body, ctx, t)             -> the token response body (object) or a raw response
//   userinfo(claims, t)             -> the claims (object) or a raw response
// A raw response may also be `endless(record)`: a 200 whose chunked body never ends (see there).
import { constants, createHash, createHmac, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { Client } from './client.mjs';

export const HANG = Symbol('hang');
export const RESET = Symbol('reset');
export const DRIP = Symbol('drip');

export const CLIENT_ID = 'edge-fault-client';
export const CLIENT_SECRET = 'fault-secret-0123456789';
export const SUBJECT = 'alice-248289761001';
export const USER = { email: 'alice@example.com', email_verified: true, name: 'Alice Example' };

/** A raw HTTP response for a fault hook to return. `body` may be a string, Buffer or object (JSON). */
export function reply(status, body = '', headers = {}) {
  const isJson = body !== null && typeof body === 'object' && !Buffer.isBuffer(body);
  return {
    raw: true,
    status,
    headers: isJson ? { 'content-type': 'application/json', ...headers } : headers,
    body: isJson ? JSON.stringify(body) : body,
  };
}

export const b64u = (data) => Buffer.from(typeof data === 'string' ? data : data).toString('base64url');
const b64json = (obj) => b64u(JSON.stringify(obj));
const now = () => Math.floor(Date.now() / 1000);

function makeKey(type, kid, alg) {
  const { privateKey, publicKey } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

/** Keys every tenant can use: `rsa1` and `ec1` are published by default; `rsa2` is for rotation;
 * `rsaOther` is never published unless a fault does so. */
export function makeKeys() {
  return {
    rsa1: makeKey('rsa', 'rsa-1', 'RS256'),
    ec1: makeKey('ec', 'ec-1', 'ES256'),
    rsa2: makeKey('rsa', 'rsa-2', 'RS256'),
    rsaOther: makeKey('rsa', 'rsa-other', 'RS256'),
    // Not published by default: an RSA key without a JWK alg (for RS384/512, PS*) and Ed25519.
    rsaAny: makeKey('rsa', 'rsa-any', undefined),
    ed1: makeKey('ed25519', 'ed-1', 'EdDSA'),
  };
}

/** A compact JWS (RFC 7515 §7.1). alg: RS256/384/512 | PS256/384/512 | ES256 | EdDSA (key:
 * KeyObject) | HS256 (secret) | none. */
export function signJws(header, payload, { alg, key, secret }) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const bits = alg.slice(2);
  let sig;
  if (/^RS(256|384|512)$/.test(alg)) sig = cryptoSign(`sha${bits}`, Buffer.from(input), key);
  else if (/^PS(256|384|512)$/.test(alg)) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    sig = cryptoSign(`sha${bits}`, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 });
  } else if (alg === 'EdDSA') sig = cryptoSign(null, Buffer.from(input), key);
  else if (alg === 'ES256') sig = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'HS256') sig = createHmac('sha256', secret).update(input).digest();
  else if (alg === 'none') sig = Buffer.alloc(0);
  else throw new Error(`signJws: unsupported alg ${alg}`);
  return `${input}.${b64u(sig)}`;
}

/** Flips one bit in the middle of a JWS signature, keeping the encoding valid. */
export function tamperSignature(jws) {
  const [h, p, s] = jws.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${b64u(sig)}`;
}

/** The `at_hash` of an access token for RS256/ES256 (Core §3.1.3.6). */
export function atHash(accessToken) {
  return b64u(createHash('sha256').update(accessToken).digest().subarray(0, 16));
}

const pkceS256 = (verifier) => b64u(createHash('sha256').update(verifier).digest());

function send(res, spec, hung) {
  if (spec === HANG) {
    hung.add(res);
    return;
  }
  if (spec === RESET) {
    res.socket?.destroy();
    return;
  }
  if (spec === DRIP) {
    hung.add(res);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"access_token":');
    return;
  }
  if (spec.stream) {
    spec.stream(res, hung);
    return;
  }
  res.writeHead(spec.status, { 'cache-control': 'no-store', ...spec.headers });
  res.end(spec.body);
}

/**
 * A raw response whose body never ends: JSON-looking chunks of 64 KiB, written as fast as the
 * peer reads them, no Content-Length. `record.bytes` counts what was written and `record.closed`
 * becomes true when the peer closed the connection (it stopped reading).
 */
export function endless(record) {
  return {
    raw: true,
    stream(res, hung) {
      hung.add(res);
      record.bytes = 0;
      record.closed = false;
      res.on('close', () => { record.closed = true; });
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && record.bytes < 1 << 30) {
          record.bytes += chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        return undefined;
      };
      res.write('{"access_token":"');
      pump();
    },
  };
}

const isRaw = (v) => v === HANG || v === RESET || v === DRIP || (v && v.raw === true);

async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/**
 * Starts the OP. Returns { url, keys, tenant(name, fault), stop() }.
 * `redirectUri` is the only redirect_uri the tenants accept (the worker's callback).
 */
export async function startFaultOp({ redirectUri = 'http://rp.test/redirect_uri', keys = makeKeys() } = {}) {
  const tenants = new Map();
  const hung = new Set();
  let base;

  /**
   * A tenant (one provider). `fault` holds the hooks above; it can be replaced between two logins
   * (`t.fault = {...}`), e.g. for key rotation. `t.hits` counts requests per endpoint and
   * `t.requests` keeps the authorization and token requests as received.
   */
  function tenant(name, fault = {}, profile = {}) {
    if (!/^[A-Za-z0-9_-]+$/.test(name) || tenants.has(name)) throw new Error(`bad or duplicate tenant ${name}`);
    const root = `${base}/${name}`;
    const prefix = profile.prefix ?? '';
    const endpoints = prefix ? `${root}/${prefix}` : root;
    const issuer = profile.issuer ?? endpoints;
    const t = {
      name,
      root,
      prefix,
      endpoints,
      issuer,
      docIssuer: profile.docIssuer ?? issuer,
      authMethods: profile.authMethods ?? ['client_secret_basic'],
      clientId: CLIENT_ID,
      fault,
      hits: { discovery: 0, jwks: 0, authorize: 0, token: 0, userinfo: 0, end_session: 0 },
      requests: { authorize: [], token: [] },
      codes: new Map(),
      tokens: new Map(),
    };
    tenants.set(name, t);
    return t;
  }

  function discovery(t) {
    const doc = {
      issuer: t.docIssuer,
      authorization_endpoint: `${t.endpoints}/authorize`,
      token_endpoint: `${t.endpoints}/token`,
      userinfo_endpoint: `${t.endpoints}/userinfo`,
      jwks_uri: `${t.endpoints}/jwks`,
      end_session_endpoint: `${t.endpoints}/end_session`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      token_endpoint_auth_methods_supported: t.authMethods,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    };
    const out = t.fault.discovery ? t.fault.discovery(doc, t) : doc;
    return isRaw(out) ? out : reply(200, out);
  }

  function jwks(t) {
    const published = [keys.rsa1.jwk, keys.ec1.jwk];
    const out = t.fault.jwks ? t.fault.jwks(published, t) : published;
    if (isRaw(out)) return out;
    return reply(200, Array.isArray(out) ? { keys: out } : out);
  }

  function authorize(t, url) {
    const q = Object.fromEntries(url.searchParams);
    t.requests.authorize.push(q);
    const problem = q.client_id !== t.clientId ? 'unknown client_id'
      : q.redirect_uri !== redirectUri ? 'redirect_uri is not registered'
        : q.response_type !== 'code' ? 'response_type must be code'
          : q.code_challenge_method !== 'S256' || !q.code_challenge ? 'PKCE S256 is required'
            : !(q.scope ?? '').split(' ').includes('openid') ? 'scope must contain openid' : null;
    if (problem) return reply(400, `authorization request refused: ${problem}`, { 'content-type': 'text/plain' });
    const code = b64u(randomBytes(24));
    t.codes.set(code, { nonce: q.nonce, challenge: q.code_challenge, redirectUri: q.redirect_uri, used: false });
    let params = { code, state: q.state, iss: t.issuer };
    if (t.fault.authorize) params = t.fault.authorize(params, q, t);
    if (isRaw(params)) return params;
    const target = new URL(q.redirect_uri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) target.searchParams.set(k, v);
    return reply(302, '', { location: target.href });
  }

  function idToken(t, ctx) {
    const f = t.fault.idToken ?? {};
    const alg = f.alg ?? 'RS256';
    const key = f.key ?? (alg === 'ES256' ? keys.ec1 : alg === 'EdDSA' ? keys.ed1 : keys.rsa1);
    let header = { alg, typ: 'JWT', kid: key.kid };
    if (f.header) header = f.header(header, ctx);
    const iat = now();
    let claims = {
      iss: t.issuer, sub: SUBJECT, aud: t.clientId, exp: iat + 300, iat, nonce: ctx.nonce, ...USER,
    };
    if (f.claims) claims = f.claims(claims, ctx);
    let jws = signJws(header, claims, { alg, key: key.privateKey, secret: f.secret });
    if (f.tamper) jws = tamperSignature(jws);
    return jws;
  }

  function token(t, form, authorization) {
    t.requests.token.push(form);
    const expected = `Basic ${Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
    const basic = t.authMethods.includes('client_secret_basic') && authorization === expected;
    const post = t.authMethods.includes('client_secret_post') && authorization === undefined
      && form.client_id === t.clientId && form.client_secret === CLIENT_SECRET;
    if (!basic && !post) return reply(401, { error: 'invalid_client' });
    const grant = t.codes.get(form.code);
    const problem = form.grant_type !== 'authorization_code' ? 'unsupported_grant_type'
      : !grant || grant.used ? 'invalid_grant'
        : form.redirect_uri !== grant.redirectUri ? 'invalid_grant'
          : pkceS256(form.code_verifier ?? '') !== grant.challenge ? 'invalid_grant' : null;
    // A failed redemption still burns the code (RFC 6749 §4.1.2: single use).
    if (grant) grant.used = true;
    const ctx = { nonce: grant?.nonce, code: form.code };
    const accessToken = b64u(randomBytes(24));
    ctx.accessToken = accessToken;
    let body = problem
      ? { error: problem }
      : { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken(t, ctx) };
    if (t.fault.token) {
      const out = t.fault.token(body, ctx, t);
      if (isRaw(out)) return out;
      body = out;
    }
    if (body.error) return reply(400, body);
    t.tokens.set(body.access_token ?? accessToken, true);
    return reply(200, body);
  }

  function userinfo(t, authorization) {
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (!bearer || !t.tokens.has(bearer)) return reply(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    const claims = { sub: SUBJECT, ...USER };
    const out = t.fault.userinfo ? t.fault.userinfo(claims, t) : claims;
    return isRaw(out) ? out : reply(200, out);
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, base);
      const [, name, ...rest] = url.pathname.split('/');
      const t = tenants.get(name);
      const body = req.method === 'POST' ? await readBody(req) : '';
      if (!t) return send(res, reply(404, 'no such tenant'), hung);
      const path = rest.join('/');
      const endpoint = !t.prefix ? path : path.startsWith(`${t.prefix}/`) ? path.slice(t.prefix.length + 1) : null;
      let out;
      if (endpoint === '.well-known/openid-configuration') {
        t.hits.discovery += 1;
        out = discovery(t);
      } else if (endpoint === 'jwks') {
        t.hits.jwks += 1;
        out = jwks(t);
      } else if (endpoint === 'authorize') {
        t.hits.authorize += 1;
        out = authorize(t, url);
      } else if (endpoint === 'token' && req.method === 'POST') {
        t.hits.token += 1;
        out = token(t, Object.fromEntries(new URLSearchParams(body)), req.headers.authorization);
      } else if (endpoint === 'userinfo') {
        t.hits.userinfo += 1;
        out = userinfo(t, req.headers.authorization);
      } else if (endpoint === 'end_session') {
        t.hits.end_session += 1;
        const back = url.searchParams.get('post_logout_redirect_uri');
        out = back ? reply(302, '', { location: back }) : reply(200, 'signed out at the OP');
      } else {
        out = reply(404, 'not found');
      }
      return send(res, out, hung);
    } catch (e) {
      // A bug in a fault hook must show up in the test, not as a hung request.
      res.writeHead(599, { 'content-type': 'text/plain' });
      res.end(`fault OP error: ${e.stack}`);
    }
  });
  server.unref();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  base = `http://127.0.0.1:${server.address().port}`;

  return {
    url: base,
    keys,
    tenant,
    /** Answers every request that a HANG/DRIP fault is holding (with a reset). */
    releaseHung() {
      for (const res of hung) res.socket?.destroy();
      hung.clear();
    },
    stop() {
      for (const res of hung) res.socket?.destroy();
      hung.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A loopback port with nothing listening (connection refused). */
export async function deadPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Worker options with one provider per tenant (provider name = tenant name), all sharing the
 * client secret, forwarding to `origin`.
 */
/** The default secret binding of a provider: CLIENT_SECRET_<NAME> (README, provider settings). */
export function secretBinding(name) {
  return `CLIENT_SECRET_${name.toUpperCase().replaceAll('-', '_')}`;
}

export function workerOptions(tenantList, { origin, config = {}, secrets = {}, provider = {} } = {}) {
  const providers = {};
  for (const t of tenantList) {
    providers[t.name] = {
      issuer: t.issuer,
      client_id: t.clientId,
      token_endpoint_auth_method: 'client_secret_basic',
      ...provider,
      ...(t.provider ?? {}),
    };
  }
  // Each provider's secret under its own name (CLIENT_SECRET_<NAME>), as edge-oidc expects
  // when there are several providers.
  const own = Object.fromEntries(Object.keys(providers).map((n) => [secretBinding(n), CLIENT_SECRET]));
  return {
    config: { providers, ...(origin ? { origin } : {}), ...config },
    secrets: { ...own, ...secrets },
  };
}

// ---- helpers shared by the suites that use the fault OP ------------------------------------------

/** Starts a login at provider `name` (`/login?provider=`) and follows it to the end. */
export async function loginAt(client, rp, name, returnTo = '/private') {
  const start = `${rp}/login?provider=${encodeURIComponent(name)}&return_to=${encodeURIComponent(returnTo)}`;
  const { hops, final } = await client.follow(start);
  return { hops, final, callback: hops.find((h) => h.url.startsWith(`${rp}/redirect_uri`)) };
}

/**
 * Like worker.mjs's httpFetch (plain HTTP to the worker on loopback, Host from the URL, no
 * redirects), but accepting response headers up to 1 MiB as browsers do (Node's default is 16 KiB,
 * less than a chunked session's Set-Cookie headers), and sending headers as given, including
 * names Node's fetch would refuse.
 */
export function rawFetch(listenUrl) {
  const target = new URL(listenUrl);
  return (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(input);
    const headers = { ...(init.headers instanceof Headers ? Object.fromEntries(init.headers) : init.headers ?? {}) };
    headers.host = url.host;
    const body = init.body ?? null;
    if (body !== null) headers['content-length'] = Buffer.byteLength(body);
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      method: init.method ?? 'GET',
      path: init.rawPath ?? url.pathname + url.search,
      headers,
      maxHeaderSize: 1 << 20,
      // A fresh connection per request: workerd closes one after refusing oversized headers.
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const nullBody = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

/** A scripted browser (client.mjs) whose requests to `rp` go to `worker` through rawFetch. */
export function rawBrowser(worker, rp = 'http://rp.test') {
  return new Client({ rpOrigin: rp, rpFetch: rawFetch(worker.url) });
}
