// Bearer-token APIs, end to end: the built worker in workerd in front of an echo origin.
// - RFC 9068 JWT access tokens issued by node oidc-provider (resource indicators, the
//   client_credentials grant) are accepted; the origin gets the token's subject; no cookie, no
//   redirect, ever.
// - Every claim fault, minted by the fault-injecting OP with its published keys (and a key it does
//   not publish), is refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`; a
//   missing scope with 403 `insufficient_scope` (RFC 6750 §3.1).
// - Opaque tokens introspected at oidc-provider (RFC 7662): active accepted, a revoked one
//   refused, answers reused (the provider's introspection requests are counted).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from './lib/worker.mjs';
import { startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startFaultOp, workerOptions, signJws, tamperSignature } from './lib/fault_op.mjs';
import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify, createLocalJWKSet } from 'jose';

const API = 'https://api.test';
const OPAQUE = 'https://opaque.test';
const CLIENT = { client_id: 'api-client', client_secret: 'api-secret-0123456789' };
const RP = 'http://rp.test';

let op;
let origin;
const basic = 'Basic ' + Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64');

async function tokenFor(resource, scope = 'read') {
  const r = await fetch(`${op.url}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.access_token;
}

async function introspections() {
  return (await (await fetch(`${op.url}/test/stats`)).json()).introspections;
}

function assertRefused(res, status, error) {
  assert.equal(res.status, status);
  const www = res.headers.get('www-authenticate') ?? '';
  assert.match(www, /^Bearer realm="edge-oidc"/);
  if (error) assert.match(www, new RegExp(`error="${error}"`));
  else assert.doesNotMatch(www, /error=/);
  assert.equal(res.headers.get('location'), null, 'never a redirect');
  assert.equal(res.headers.get('set-cookie'), null, 'never a cookie');
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

before(async () => {
  origin = await startEchoOrigin();
  op = await startNodeOp({
    clients: [{ ...CLIENT, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    resource_servers: { [API]: { scope: 'read write', format: 'jwt' }, [OPAQUE]: { scope: 'read write', format: 'opaque' } },
  });
});

after(async () => {
  await op?.stop();
  await origin?.stop();
});

describe('RFC 9068 JWT access tokens from oidc-provider', () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      config: {
        providers: { main: { issuer: op.url, client_id: CLIENT.client_id } },
        origin: origin.url,
        bearer: { mode: 'require', path_prefixes: ['/api/'], audiences: [API], scopes: ['read'] },
        assertion: { audience: 'urn:api' },
      },
      secrets: {
        CLIENT_SECRET: CLIENT.client_secret,
        ASSERTION_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      },
    });
  });
  after(async () => worker?.stop());

  test('an accepted token also gets the signed assertion, verified by jose', async () => {
    const token = await tokenFor(API);
    const res = await worker.fetch(`${RP}/api/me`, { headers: { authorization: `Bearer ${token}`, 'x-edge-oidc-assertion': 'forged' } });
    assert.equal(res.status, 200);
    const jwt = (await res.json()).headers['x-edge-oidc-assertion'];
    const jwks = await (await worker.fetch(`${RP}/.well-known/edge-oidc/jwks.json`)).json();
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: RP, audience: 'urn:api', algorithms: ['ES256'] });
    assert.equal(payload.sub, CLIENT.client_id);
    assert.equal(payload.client_id, CLIENT.client_id);
    assert.equal(payload.scope, 'read');
    assert.ok(payload.exp <= JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp, 'never outlives the token');
  });

  test('a token for this API is accepted and the origin gets its subject', async () => {
    const token = await tokenFor(API);
    for (let i = 0; i < 2; i += 1) {
      const res = await worker.fetch(`${RP}/api/items?x=${i}`, {
        headers: { authorization: `Bearer ${token}`, 'x-auth-subject': 'forged', cookie: 'edge_oidc=forged' },
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('set-cookie'), null);
      const echo = await res.json();
      assert.equal(echo.url, `/api/items?x=${i}`);
      assert.equal(echo.headers['x-auth-subject'], CLIENT.client_id);
      assert.equal(echo.headers.authorization, `Bearer ${token}`, 'the API still gets its token');
      assert.equal(echo.headers.cookie, undefined, 'our cookies are never forwarded');
    }
  });

  test('no token: 401 without an error code, never a login redirect', async () => {
    const res = await worker.fetch(`${RP}/api/items`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assertRefused(res, 401, null);
  });

  test('a malformed Authorization header: 400 invalid_request', async () => {
    const res = await worker.fetch(`${RP}/api/items`, { headers: { authorization: 'Bearer a b' } });
    assertRefused(res, 400, 'invalid_request');
  });

  test('a token without the required scope: 403 insufficient_scope', async () => {
    const token = await tokenFor(API, 'write');
    const res = await worker.fetch(`${RP}/api/items`, { headers: { authorization: `Bearer ${token}` } });
    assertRefused(res, 403, 'insufficient_scope');
    assert.match(res.headers.get('www-authenticate'), /scope="read"/);
  });

  test('a token for another resource (opaque) is refused', async () => {
    const token = await tokenFor(OPAQUE);
    const res = await worker.fetch(`${RP}/api/items`, { headers: { authorization: `Bearer ${token}` } });
    assertRefused(res, 401, 'invalid_token');
  });

  test('outside the bearer paths the cookie rules apply (a navigation gets a login)', async () => {
    const res = await worker.fetch(`${RP}/page`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assert.equal(res.status, 302);
  });
});

describe('per rule: bearer settings on the API rule, pages by cookie', () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      config: {
        providers: { main: { issuer: op.url, client_id: CLIENT.client_id } },
        origin: origin.url,
        rules: [
          { path_prefix: '/health', action: 'public' },
          { path_prefix: '/api/', action: 'authenticated', bearer: { mode: 'require', audiences: [API], scopes: ['write'] } },
          { path_prefix: '/', action: 'authenticated' },
        ],
      },
      secrets: { CLIENT_SECRET: CLIENT.client_secret },
    });
  });
  after(async () => worker?.stop());

  test("the rule's scopes decide; a public rule needs no token; pages still log in", async () => {
    const read = await tokenFor(API, 'read');
    assertRefused(await worker.fetch(`${RP}/api/x`, { headers: { authorization: `Bearer ${read}` } }), 403, 'insufficient_scope');
    const write = await tokenFor(API, 'write');
    assert.equal((await worker.fetch(`${RP}/api/x`, { headers: { authorization: `Bearer ${write}` } })).status, 200);
    assert.equal((await worker.fetch(`${RP}/health`)).status, 200);
    const page = await worker.fetch(`${RP}/page`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assert.equal(page.status, 302);
  });

  test('a rule that mixes bearer with group requirements is a configuration error', async () => {
    const w = await startWorker({
      config: {
        providers: { main: { issuer: op.url, client_id: CLIENT.client_id } },
        rules: [{ path_prefix: '/api/', action: 'authenticated', groups: ['admin'], bearer: { audiences: [API] } }],
      },
      secrets: { CLIENT_SECRET: CLIENT.client_secret },
    });
    try {
      assert.equal((await w.fetch(`${RP}/api/x`)).status, 500);
    } finally {
      await w.stop();
    }
  });
});

describe('every claim fault, minted by the fault OP', () => {
  let fop;
  let t;
  let worker;
  const now = () => Math.floor(Date.now() / 1000);
  const good = () => ({
    iss: t.issuer, sub: 'svc-1', aud: API, client_id: 'c1', scope: 'read write',
    iat: now() - 5, exp: now() + 300, jti: `j${Math.random()}`,
  });
  const header = { alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' };
  const mint = (claims = good(), h = header, key = fop.keys.rsa1.privateKey, alg = h.alg) => signJws(h, claims, { alg, key, secret: 'x' });
  const call = (token) => worker.fetch(`${RP}/api/x`, { headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    fop = await startFaultOp();
    t = fop.tenant('main');
    worker = await startWorker(workerOptions([t], {
      origin: origin.url,
      config: { bearer: { mode: 'accept', audiences: [API], scopes: ['read'] } },
    }));
  });
  after(async () => {
    await worker?.stop();
    await fop?.stop();
  });

  test('the well-formed token is accepted (RS256 and ES256)', async () => {
    assert.equal((await call(mint())).status, 200);
    const es = mint(good(), { alg: 'ES256', kid: 'ec-1', typ: 'at+jwt' }, fop.keys.ec1.privateKey);
    const res = await call(es);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).headers['x-auth-subject'], 'svc-1');
  });

  const faults = {
    'wrong iss': (c) => ({ ...c, iss: 'https://evil.example' }),
    'wrong aud': (c) => ({ ...c, aud: 'edge-fault-client' }),
    'expired': (c) => ({ ...c, exp: now() - 120 }),
    'no exp': ({ exp, ...c }) => c,
    'issued in the future': (c) => ({ ...c, iat: now() + 600 }),
    'no sub': ({ sub, ...c }) => c,
    'no client_id': ({ client_id: _, ...c }) => c,
    'no jti': ({ jti, ...c }) => c,
  };
  for (const [name, change] of Object.entries(faults)) {
    test(`refused: ${name}`, async () => assertRefused(await call(mint(change(good()))), 401, 'invalid_token'));
  }

  test('refused: typ JWT (an ID token shape), and no typ', async () => {
    assertRefused(await call(mint(good(), { ...header, typ: 'JWT' })), 401, 'invalid_token');
    const { typ, ...noTyp } = header;
    assertRefused(await call(mint(good(), noTyp)), 401, 'invalid_token');
  });

  test('refused: alg none, HS256 with the client secret, a bad signature, an unpublished key', async () => {
    assertRefused(await call(mint(good(), { ...header, alg: 'none' }, undefined, 'none')), 401, 'invalid_token');
    assertRefused(await call(signJws({ ...header, alg: 'HS256' }, good(), { alg: 'HS256', secret: 'fault-secret-0123456789' })), 401, 'invalid_token');
    assertRefused(await call(tamperSignature(mint())), 401, 'invalid_token');
    assertRefused(await call(mint(good(), { ...header, kid: 'rsa-other' }, fop.keys.rsaOther.privateKey)), 401, 'invalid_token');
  });

  test('refused: missing scope is 403', async () => {
    assertRefused(await call(mint({ ...good(), scope: 'write' })), 403, 'insufficient_scope');
  });

  test('mode accept: without a token the cookie decides (an API call gets 401 login_required)', async () => {
    const res = await worker.fetch(`${RP}/api/x`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'login_required');
  });

  test('refused tokens write nothing to KV', async () => {
    const kv = await worker.kv();
    const keys = (await kv.list()).keys.map((k) => k.name);
    assert.deepEqual(keys.filter((k) => !/^(metadata|jwks):/.test(k)), []);
  });
});

describe('RFC 7662 introspection against oidc-provider', () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      config: {
        providers: { main: { issuer: op.url, client_id: CLIENT.client_id } },
        origin: origin.url,
        bearer: { mode: 'require', path_prefixes: ['/api/'], audiences: [OPAQUE], scopes: ['read'], introspection: true, introspection_cache_secs: 120 },
      },
      secrets: { CLIENT_SECRET: CLIENT.client_secret },
    });
  });
  after(async () => worker?.stop());

  test('an active token is accepted once asked, then from the cache (isolate and KV)', async () => {
    const token = await tokenFor(OPAQUE);
    const before = await introspections();
    for (let i = 0; i < 3; i += 1) {
      const res = await worker.fetch(`${RP}/api/a`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await res.json()).headers['x-auth-subject'], CLIENT.client_id);
    }
    assert.equal(await introspections() - before, 1, 'one introspection for three requests');
    // Cached in KV under a hash of the token, never the token itself.
    const kv = await worker.kv();
    const keys = (await kv.list({ prefix: 'introspect:' })).keys.map((k) => k.name);
    assert.equal(keys.length, 1);
    assert.ok(!keys[0].includes(token));
    const stored = await kv.get(keys[0]);
    assert.ok(!stored.includes(token));
  });

  test('an inactive (revoked) token is refused and not written to KV', async () => {
    const token = await tokenFor(OPAQUE);
    const r = await fetch(`${op.url}/token/revocation`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    assert.equal(r.status, 200);
    const kv = await worker.kv();
    const before = (await kv.list({ prefix: 'introspect:' })).keys.length;
    const n0 = await introspections();
    for (let i = 0; i < 2; i += 1) {
      assertRefused(await worker.fetch(`${RP}/api/a`, { headers: { authorization: `Bearer ${token}` } }), 401, 'invalid_token');
    }
    assert.equal(await introspections() - n0, 1, 'the inactive answer is remembered in the isolate');
    assert.equal((await kv.list({ prefix: 'introspect:' })).keys.length, before, 'nothing written');
  });

  test('made-up tokens are refused and never written to KV', async () => {
    const kv = await worker.kv();
    const before = (await kv.list({ prefix: 'introspect:' })).keys.length;
    for (let i = 0; i < 5; i += 1) {
      assertRefused(await worker.fetch(`${RP}/api/a`, { headers: { authorization: `Bearer made-up-${i}` } }), 401, 'invalid_token');
    }
    assert.equal((await kv.list({ prefix: 'introspect:' })).keys.length, before);
  });
});
