// Budgets of issue 5 that are deterministic enough to be tests (timings stay in bench/):
// 1. the authenticated hot path does no KV operation and no subrequest besides passing the
//    request on -- counted inside workerd, around the real bundle;
// 2. the deployable bundle's gzip size, as `wrangler deploy --dry-run --outdir` builds it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { ROOT, httpFetch } from './lib/worker.mjs';
import { Client } from './lib/client.mjs';
import { RP, opConfig, rpOptions, sessionCookies } from './lib/fixture.mjs';
import { bundleSize } from '../../bench/lib/size.mjs';

const BUILD = path.join(ROOT, 'build');
const SITE = path.join(ROOT, 'bench/site');
const NAV = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'user-agent': 'edge-oidc-e2e' };

// An entry module around the built worker that counts, per request, every call the worker makes
// on its KV binding, its ASSETS binding and the global fetch (every subrequest goes through one
// of them), and reports the counts in an `x-io` response header.
const COUNTING_ENTRY = `
import Edge from './index.js';
const counts = { kv_get: 0, kv_put: 0, kv_delete: 0, kv_list: 0, assets: 0, fetch: 0 };
const bump = (k) => { counts[k] += 1; };
class KvNamespace {
  constructor(inner) { this.inner = inner; }
  get(...a) { bump('kv_get'); return this.inner.get(...a); }
  getWithMetadata(...a) { bump('kv_get'); return this.inner.getWithMetadata(...a); }
  put(...a) { bump('kv_put'); return this.inner.put(...a); }
  delete(...a) { bump('kv_delete'); return this.inner.delete(...a); }
  list(...a) { bump('kv_list'); return this.inner.list(...a); }
}
class Fetcher {
  constructor(inner) { this.inner = inner; }
  fetch(...a) { bump('assets'); return this.inner.fetch(...a); }
  connect(...a) { return this.inner.connect(...a); }
}
const globalFetch = globalThis.fetch;
globalThis.fetch = (...a) => { bump('fetch'); return globalFetch(...a); };
export default {
  async fetch(request, env, ctx) {
    const before = { ...counts };
    const wrapped = { ...env, EDGE_OIDC_KV: new KvNamespace(env.EDGE_OIDC_KV) };
    if (env.ASSETS) wrapped.ASSETS = new Fetcher(env.ASSETS);
    const response = await Edge.fetch(request, wrapped, ctx);
    const io = Object.fromEntries(Object.keys(counts).map((k) => [k, counts[k] - before[k]]));
    const copy = new Response(response.body, response);
    copy.headers.set('x-io', JSON.stringify(io));
    return copy;
  },
};
`;

async function startCounting({ config, secrets, assets }) {
  const mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: path.join(BUILD, '__counting_entry.mjs'), contents: COUNTING_ENTRY },
      { type: 'ESModule', path: path.join(BUILD, 'index.js') },
      { type: 'CompiledWasm', path: path.join(BUILD, 'index_bg.wasm') },
    ],
    modulesRoot: BUILD,
    compatibilityDate: '2026-04-01',
    bindings: { EDGE_OIDC_CONFIG: config, COOKIE_KEYS: randomBytes(32).toString('base64url'), ...secrets },
    kvNamespaces: ['EDGE_OIDC_KV'],
    ...(assets ? {
      assets: { directory: assets, binding: 'ASSETS', routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
    } : {}),
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); },
    cf: false,
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await mf.ready).toString();
  return { fetch: httpFetch(url), stop: () => mf.dispose() };
}

const io = (res) => {
  const raw = res.headers.get('x-io');
  assert.ok(raw, 'the counting entry reported the I/O');
  return JSON.parse(raw);
};
const NO_IO = { kv_get: 0, kv_put: 0, kv_delete: 0, kv_list: 0 };

/** A complete login; returns the client and the I/O of every hop through the worker. */
async function login(worker) {
  const hops = [];
  const fetchRp = async (url, init) => {
    const res = await worker.fetch(url, init);
    hops.push({ path: new URL(url).pathname, status: res.status, io: io(res) });
    return res;
  };
  const client = new Client({ rpOrigin: RP, rpFetch: fetchRp });
  const { final } = await client.follow(`${RP}/`);
  assert.equal(final.status, 200, final.body);
  assert.ok(sessionCookies(client).length > 0, 'a session cookie was set');
  return { client, hops };
}

describe('authenticated hot path: no KV, no extra subrequest', () => {
  let op;
  let echo;
  before(async () => {
    [op, echo] = await Promise.all([startNodeOp(opConfig()), startEchoOrigin()]);
  });
  after(async () => {
    await Promise.all([op?.stop(), echo?.stop()]);
  });

  test('site from the ASSETS binding: exactly one ASSETS fetch per request, nothing else', async () => {
    const rp = rpOptions(op, 'client_secret_basic');
    const worker = await startCounting({ ...rp, assets: SITE });
    try {
      const { client, hops } = await login(worker);
      // The counters see I/O where there is some (else this test could not fail): the first
      // navigation stores the pending login, the callback reads it and calls the provider.
      const [start] = hops;
      const callback = hops.find((h) => h.path === '/redirect_uri');
      assert.ok(start.io.kv_put >= 1, `login start: ${JSON.stringify(start.io)}`);
      assert.ok(callback.io.kv_get >= 1 && callback.io.fetch >= 1, `callback: ${JSON.stringify(callback.io)}`);

      // Now the hot path, in the shapes a browser sends it.
      const cookie = sessionCookies(client).map((c) => `${c.name}=${c.value}`).join('; ');
      const cases = [
        ['GET', '/', NAV],
        ['GET', '/style.css', { accept: 'text/css,*/*;q=0.1', 'sec-fetch-mode': 'no-cors', 'user-agent': 'edge-oidc-e2e' }],
        ['GET', '/app.js', { accept: '*/*', 'sec-fetch-mode': 'cors', 'x-requested-with': 'XMLHttpRequest' }],
        ['HEAD', '/', NAV],
      ];
      for (let round = 0; round < 3; round += 1) {
        for (const [method, p, headers] of cases) {
          const res = await worker.fetch(`${RP}${p}`, { method, headers: { ...headers, cookie } });
          await res.arrayBuffer();
          const seen = io(res);
          assert.equal(res.status, 200, `${method} ${p}`);
          assert.deepEqual(seen, { ...NO_IO, assets: 1, fetch: 0 }, `${method} ${p}: ${JSON.stringify(seen)}`);
        }
      }
    } finally {
      await worker.stop();
    }
  });

  test('origin server: exactly one subrequest per request (the forwarded one), no KV', async () => {
    const rp = rpOptions(op, 'client_secret_basic', { config: { origin: echo.url } });
    const worker = await startCounting(rp);
    try {
      const { client } = await login(worker);
      const cookie = sessionCookies(client).map((c) => `${c.name}=${c.value}`).join('; ');
      const seenBefore = echo.requests.length;
      for (let i = 0; i < 5; i += 1) {
        const res = await worker.fetch(`${RP}/reports/${i}`, { headers: { ...NAV, cookie } });
        const body = JSON.parse(await res.text());
        assert.equal(res.status, 200);
        assert.equal(body.url, `/reports/${i}`);
        assert.equal(body.headers['x-auth-email'], 'alice@example.com');
        assert.deepEqual(io(res), { ...NO_IO, assets: 0, fetch: 1 });
      }
      assert.equal(echo.requests.length - seenBefore, 5, 'each request reached the origin once');
    } finally {
      await worker.stop();
    }
  });
});

// ---- size -----------------------------------------------------------------------------------------

/**
 * A regression guard on the deployable bundle as `wrangler deploy --dry-run --outdir` builds it
 * (its "Total Upload … gzip" figure: what Cloudflare counts): the size measured when the shell
 * moved back onto workers-rs (2026-11-28: 285.03 KiB = 291,871 B) plus a margin of 2,000 B. It
 * may only go down; raise it only with a note in BENCHMARKS.md saying what the bytes buy.
 * The budget goal is 250,000 B with workers-rs in; the gap and what costs the bytes are in
 * BENCHMARKS.md (Notes).
 */
const CEILING_BYTES = 293_871;

describe('deployable bundle size (wrangler deploy --dry-run, gzip)', () => {
  test(`is at most ${CEILING_BYTES.toLocaleString('en')} bytes`, async () => {
    const size = await bundleSize();
    assert.ok(size.gzip_bytes <= CEILING_BYTES,
      `the bundle grew to ${size.gzip_kib} KiB (${size.gzip_bytes} B) gzip, over the ceiling of ${CEILING_BYTES} B: `
      + 'find what grew (twiggy top on a build with strip = false) before raising it');
    // wrangler's figure is the modules it uploads: it must cover the wasm itself.
    assert.ok(size.gzip_bytes >= size.files.wasm.gzip, JSON.stringify(size));
  });
});
