// The built worker in workerd behind an entry module that counts, per request, every call the
// worker makes on its KV binding, its ASSETS binding and the global fetch (every subrequest goes
// through one of them), and reports the counts in an `x-io` response header. Used by the hot-path
// budget (budget.test.mjs) and the KV-write checks of the security tests.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { ROOT, httpFetch } from './worker.mjs';

const BUILD = path.join(ROOT, 'build');

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

export async function startCounting({ config, secrets, assets }) {
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

/** The I/O counts of one response. */
export function io(res) {
  const raw = res.headers.get('x-io');
  assert.ok(raw, 'the counting entry reported the I/O');
  return JSON.parse(raw);
}
