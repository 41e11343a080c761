// Faults, end to end: the provider refusing connections, hanging, answering 5xx or garbage, the
// JWKS unreachable, Workers KV failing. Each gives a clear error page (never an uncaught exception)
// and the worker keeps serving other requests during and after.
//
// KV failures: the worker's EDGE_OIDC_KV is a miniflare *wrapped binding* (a JS object with the
// KV API) that forwards to a real miniflare KV namespace unless the test has told it, through a
// Node-side service binding, to make get, put or delete throw. One case also runs without the
// binding at all.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { startEchoOrigin } from './lib/peers.mjs';
import { ROOT, cookieKey, startWorker } from './lib/worker.mjs';
import { RP, sessionCookies, waitFor } from './lib/fixture.mjs';
import {
  startFaultOp, workerOptions, loginAt, rawBrowser, deadPort, reply, endless, HANG, RESET, DRIP, SUBJECT, CLIENT_ID,
} from './lib/fault_op.mjs';

const TIMEOUT_MS = 1000;
// The worker must answer a hanging provider within its timeout plus this.
const MARGIN_MS = 750;

let op;
let echo;
let worker;
const t = {};
const kvFaults = { get: false, put: false, delete: false };
const runtimeLog = [];
const endlessToken = {}; // what the endless token endpoint wrote, and whether the worker hung up

// The wrapped KV binding: the KV API over an inner namespace, failing on demand.
const FAULTY_KV = `
export default function (env) {
  async function check(op) {
    const faults = await (await env.CONTROL.fetch('http://control/')).json();
    if (faults[op]) throw new Error('KV ' + op + ' failed (injected by the test)');
  }
  return {
    async get(key, options) { await check('get'); return env.INNER.get(key, options); },
    async getWithMetadata(key, options) { await check('get'); return env.INNER.getWithMetadata(key, options); },
    async put(key, value, options) { await check('put'); return env.INNER.put(key, value, options); },
    async delete(key) { await check('delete'); return env.INNER.delete(key); },
    async list(options) { return env.INNER.list(options); },
  };
}`;

/**
 * The built worker in workerd, like worker.mjs's startWorker, with KV as `kv`: 'faulty' (the
 * wrapped binding above) or 'none'; workerd's own output is kept in `runtimeLog`.
 */
async function startFaultWorker({ config, secrets }, { kv = 'faulty' } = {}) {
  const build = path.join(ROOT, 'build');
  const edge = {
    name: 'edge-oidc',
    modules: [
      { type: 'ESModule', path: path.join(build, 'index.js') },
      { type: 'CompiledWasm', path: path.join(build, 'index_bg.wasm') },
    ],
    modulesRoot: build,
    compatibilityDate: '2026-04-01',
    bindings: { EDGE_OIDC_CONFIG: config, COOKIE_KEYS: cookieKey(), ...secrets },
  };
  const workers = [edge];
  if (kv === 'faulty') {
    edge.wrappedBindings = { EDGE_OIDC_KV: 'faulty-kv' };
    workers.push({
      name: 'faulty-kv',
      modules: true,
      script: FAULTY_KV,
      kvNamespaces: ['INNER'],
      serviceBindings: { CONTROL: () => new Response(JSON.stringify(kvFaults)) },
    });
  }
  const mf = new Miniflare({
    workers,
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', (d) => runtimeLog.push(...String(d).split('\n').filter(Boolean)));
      }
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { url, stop: () => mf.dispose() };
}

before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  const dead = await deadPort();
  const endpoint = (name, at) => (doc) => ({ ...doc, [name]: at });
  const faults = {
    '0-home': {},
    // connection refused / reset
    'token-refused': { discovery: endpoint('token_endpoint', `http://127.0.0.1:${dead}/token`) },
    'token-reset': { token: () => RESET },
    'userinfo-refused': { discovery: endpoint('userinfo_endpoint', `http://127.0.0.1:${dead}/userinfo`) },
    // hangs
    'token-hang': { token: () => HANG },
    'token-drip': { token: () => DRIP },
    'discovery-hang': { discovery: () => HANG },
    'jwks-hang': { jwks: () => HANG },
    'userinfo-hang': { userinfo: () => HANG },
    // 5xx
    'discovery-500': { discovery: () => reply(500, 'Internal Server Error', { 'content-type': 'text/plain' }) },
    'jwks-503': { jwks: () => reply(503, '<h1>Service Unavailable</h1>', { 'content-type': 'text/html' }) },
    'token-500': { token: () => reply(500, { error: 'server_error' }) },
    'token-502': { token: () => reply(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' }) },
    'userinfo-500': { userinfo: () => reply(500, 'oops') },
    // garbage
    'discovery-html': { discovery: () => reply(200, '<!doctype html><title>Login</title>', { 'content-type': 'text/html' }) },
    'discovery-not-object': { discovery: () => reply(200, '["issuer"]') },
    'jwks-garbage': { jwks: () => reply(200, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22])) },
    'jwks-no-keys-array': { jwks: () => ({ keys: 'none' }) },
    'jwks-empty': { jwks: () => [] },
    'token-binary': { token: () => reply(200, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00]), { 'content-type': 'application/json' }) },
    'token-truncated-json': { token: () => reply(200, '{"access_token":"abc","token_type":"Bearer","id_token":"eyJ') },
    'token-wrong-types': { token: () => reply(200, { access_token: 42, token_type: ['Bearer'], id_token: { a: 1 } }) },
    'token-huge': { token: () => reply(200, `{"access_token":"${'a'.repeat(600 * 1024)}"}`) },
    'token-endless': { token: () => endless(endlessToken) },
    'token-redirect': { token: () => reply(307, '', { location: `${echo.url}/stolen-token-request` }) },
    'id_token-garbage': { token: (body) => ({ ...body, id_token: 'eyJ!!!.@@@.###' }) },
    'userinfo-garbage': { userinfo: () => reply(200, 'sub=alice', { 'content-type': 'text/plain' }) },
    'userinfo-jwt': { userinfo: () => reply(200, 'eyJhbGciOiJub25lIn0.e30.', { 'content-type': 'application/jwt' }) },
    // unreachable JWKS
    'jwks-refused': { discovery: endpoint('jwks_uri', `http://127.0.0.1:${dead}/jwks`) },
  };
  for (const [name, fault] of Object.entries(faults)) t[name] = op.tenant(name, fault);
  // The issuer itself refuses connections: no tenant, a provider entry pointing at a dead port.
  const refused = { name: 'discovery-refused', issuer: `http://127.0.0.1:${dead}/op`, clientId: CLIENT_ID };
  worker = await startFaultWorker(workerOptions([...Object.values(t), refused], {
    origin: echo.url,
    config: { http_timeout_ms: TIMEOUT_MS, public_paths: ['/public/'] },
  }));
});

after(async () => {
  await worker?.stop();
  await Promise.all([op?.stop(), echo?.stop()]);
});

/** An HTML error page with this status and reason, no session, not the runtime's own error. */
function assertErrorPage(res, status, reason, what) {
  assert.equal(res.status, status, `${what}: ${res.body.slice(0, 400)}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
  assert.match(res.body, /^<!doctype html>.*<h1>/s, what);
  assert.match(res.body, reason, what);
  assert.ok(!res.setCookies.some((s) => /^edge_oidc(\.\d+)?=[^;]/.test(s)), `${what}: no session cookie`);
}

/** The worker still serves: a public page and a full login. */
async function assertServing(what) {
  const client = rawBrowser(worker);
  const pub = await client.request(`${RP}/public/ping`);
  assert.equal(pub.status, 200, `${what}: public page`);
  const { final } = await loginAt(client, RP, '0-home');
  assert.equal(final.status, 200, `${what}: a healthy login`);
  assert.equal(JSON.parse(final.body).headers['x-auth-subject'], SUBJECT);
}

const CASES = [
  // [provider, status, reason, extra check]
  ['discovery-refused', 502, /could not be reached/],
  ['token-refused', 502, /could not be reached/],
  ['token-reset', 502, /could not be reached/],
  ['userinfo-refused', 502, /could not be reached/],
  ['discovery-500', 502, /answered with HTTP status 500/],
  ['jwks-503', 502, /answered with HTTP status 503/],
  ['token-500', 502, /HTTP status 500/],
  ['token-502', 502, /HTTP status 502/],
  ['userinfo-500', 502, /HTTP status 500/],
  ['discovery-html', 502, /metadata is not valid JSON/],
  ['discovery-not-object', 502, /metadata is not valid JSON/],
  ['jwks-garbage', 502, /JWKS document is not valid JSON/],
  ['jwks-no-keys-array', 502, /has no &quot;keys&quot; array/],
  ['jwks-empty', 502, /unknown kid/],
  ['token-binary', 502, /response is not valid/],
  ['token-truncated-json', 502, /response is not valid/],
  ['token-wrong-types', 502, /response is not valid/],
  ['token-huge', 502, /too large/],
  ['token-redirect', 502, /HTTP status 307/, () => {
    // A redirecting token endpoint does not get the code and secret re-sent elsewhere.
    assert.equal(t['token-redirect'].hits.token, 1);
    assert.ok(!echo.requests.some((r) => r.url.includes('stolen')), 'the request was not followed');
  }],
  ['id_token-garbage', 502, /ID token is malformed/],
  ['userinfo-garbage', 502, /response is not valid/],
  ['userinfo-jwt', 502, /signed UserInfo responses are not supported/],
  ['jwks-refused', 502, /could not be reached/],
];

describe('provider faults: a clear error page each time', () => {
  for (const [name, status, reason, check] of CASES) {
    test(`${name} → ${status}`, async () => {
      const client = rawBrowser(worker);
      const { final } = await loginAt(client, RP, name);
      assertErrorPage(final, status, reason, name);
      assert.equal(sessionCookies(client).length, 0);
      check?.();
    });
  }
});

describe('a response body is capped while it streams in', () => {
  test('an endless token response: 502 "too large" long before the timeout, and the worker hangs up', async () => {
    const client = rawBrowser(worker);
    const started = performance.now();
    const { final } = await loginAt(client, RP, 'token-endless');
    const elapsed = performance.now() - started;
    assertErrorPage(final, 502, /too large/, 'token-endless');
    // Buffering the whole body first would run into the timeout (a 504) instead.
    assert.ok(elapsed < TIMEOUT_MS, `answered after ${elapsed.toFixed(0)} ms`);
    await waitFor(() => endlessToken.closed === true, () => JSON.stringify(endlessToken));
    // It stopped near the cap (512 KiB), not after megabytes: what was written but not yet read
    // sits in socket buffers, a few MiB at most.
    assert.ok(endlessToken.bytes < 16 << 20, `${endlessToken.bytes} bytes written before the worker hung up`);
  });
});

describe('hanging provider: 504 within the timeout, while the worker serves others', () => {
  for (const name of ['token-hang', 'token-drip', 'discovery-hang', 'jwks-hang', 'userinfo-hang']) {
    test(`${name} → 504 within ${TIMEOUT_MS} ms + ${MARGIN_MS} ms`, async (ctx) => {
      const client = rawBrowser(worker);
      const other = rawBrowser(worker);
      await loginAt(other, RP, '0-home');
      const started = performance.now();
      const pending = loginAt(client, RP, name).then((r) => ({ ...r, at: performance.now() }));
      // During the hang: a public page and an authenticated page are served at once.
      await new Promise((r) => setTimeout(r, 200));
      const during = performance.now();
      const pub = await other.request(`${RP}/public/during`);
      const priv = await other.request(`${RP}/private/during`);
      const servedIn = performance.now() - during;
      assert.equal(pub.status, 200);
      assert.equal(priv.status, 200);
      const { final, at } = await pending;
      assert.ok(servedIn < 300, `other requests took ${servedIn.toFixed(0)} ms during the hang`);
      assertErrorPage(final, 504, /not answering correctly|could not be reached: no answer within the timeout/, name);
      // The whole login (start, OP, callback) includes one timed-out request.
      const elapsed = at - started;
      assert.ok(elapsed >= TIMEOUT_MS - 50, `answered after ${elapsed.toFixed(0)} ms, before the timeout`);
      assert.ok(elapsed <= TIMEOUT_MS + MARGIN_MS, `answered after ${elapsed.toFixed(0)} ms`);
      ctx.diagnostic(`504 after ${elapsed.toFixed(0)} ms; other requests served in ${servedIn.toFixed(0)} ms meanwhile`);
    });
  }
});

describe('KV failures: the callback needs KV (503, no session); nothing else does', () => {
  test('KV get throws → the callback answers 503 (it cannot check the state was not used), no session', async () => {
    const { client } = await signedInAtHome();
    const fresh = rawBrowser(worker);
    kvFaults.get = true;
    try {
      const { final } = await loginAt(fresh, RP, '0-home');
      assertErrorPage(final, 503, /key-value store error: .*KV get failed/, 'KV get');
      assert.equal(sessionCookies(fresh).length, 0);
      // Signed-in users never touch KV: their requests go on.
      const priv = await client.request(`${RP}/private/kv-down`);
      assert.equal(priv.status, 200);
    } finally {
      kvFaults.get = false;
    }
    await assertServing('after the KV get failure');
  });

  for (const opName of ['put', 'delete']) {
    test(`KV ${opName} throws → logins still complete (the session record is written in the background)`, async () => {
      const fresh = rawBrowser(worker);
      const logged = runtimeLog.length;
      kvFaults[opName] = true;
      try {
        const { final } = await loginAt(fresh, RP, '0-home');
        assert.equal(final.status, 200, final.body.slice(0, 600));
        assert.ok(sessionCookies(fresh).length > 0);
        if (opName === 'put') {
          // The lost write is logged (it only costs the logout's id_token_hint).
          await waitFor(() => runtimeLog.slice(logged).some((l) => l.includes('{"event":"kv_error","level":"error","reason":"background_write"}')), () => runtimeLog.slice(logged).join('\n'));
        }
      } finally {
        kvFaults[opName] = false;
      }
      await assertServing(`after the KV ${opName} failure`);
    });
  }

  test('no KV binding at all → logins start (no KV needed), the callback answers 503 naming the binding', async () => {
    const w = await startFaultWorker(workerOptions([t['0-home']], {
      origin: echo.url,
      config: { public_paths: ['/public/'] },
    }), { kv: 'none' });
    try {
      const client = rawBrowser(w);
      const start = await client.request(`${RP}/private`);
      assert.equal(start.status, 302, 'a login starts without KV');
      const { final } = await loginAt(client, RP, '0-home');
      assertErrorPage(final, 503, /EDGE_OIDC_KV/, 'no KV binding');
      const api = await client.request(`${RP}/private`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
      assert.equal(api.status, 401, 'fetch/XHR gets 401 without touching KV');
      assert.equal((await client.request(`${RP}/public/x`)).status, 200);
    } finally {
      await w.stop();
    }
  });
});

describe('provider documents cached in KV', () => {
  test('after the operator moves a provider to another issuer, logins use the new issuer at once', async () => {
    const before = op.tenant('moved-from');
    const moved = op.tenant('moved-to');
    const kvPersist = mkdtempSync(path.join(tmpdir(), 'edge-oidc-kv-'));
    const options = (tenant) => ({
      ...workerOptions([{ ...tenant, name: 'main' }], { origin: echo.url }),
      kvPersist,
    });
    try {
      let w = await startWorker(options(before));
      try {
        assert.equal((await loginAt(rawBrowser(w), RP, 'main')).final.status, 200);
      } finally {
        await w.stop();
      }
      // A new deployment: same provider name, new issuer, same KV namespace.
      w = await startWorker(options(moved));
      try {
        const { final } = await loginAt(rawBrowser(w), RP, 'main');
        assert.equal(final.status, 200, final.body.slice(0, 600));
        assert.equal(moved.hits.discovery, 1);
      } finally {
        await w.stop();
      }
    } finally {
      rmSync(kvPersist, { recursive: true, force: true });
    }
  });
});

async function signedInAtHome() {
  const client = rawBrowser(worker);
  const { final } = await loginAt(client, RP, '0-home');
  assert.equal(final.status, 200);
  return { client };
}

describe('after every fault', () => {
  test('the worker still serves, and never threw an uncaught exception', async () => {
    await assertServing('after all faults');
    const crashes = runtimeLog.filter((l) => /uncaught|panicked|RuntimeError|unreachable executed|exception thrown/i.test(l));
    assert.deepEqual(crashes, []);
    // The faults were logged by edge-oidc itself, as provider errors.
    assert.ok(runtimeLog.some((l) => /^\{"event":"provider_error","level":"error","provider":"[^"]+","reason":"provider_timeout","status":504/.test(l)), runtimeLog.slice(-20).join('\n'));
  });
});
