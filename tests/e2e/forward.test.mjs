// Passing requests on, end to end (the edge shell, src/edge/fast.rs): what the origin receives
// and what the browser gets back. A page let through on a session must not be stored by a shared
// cache: the origin subrequest is sent with `cache: "no-store"` (workerd then adds
// `Cache-Control: no-cache` and `Pragma: no-cache` to it) and the response carries
// `Cache-Control: private`. Methods, bodies, statuses and Set-Cookie headers pass unchanged; an
// unreachable origin gives a 502 page.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import path from 'node:path';
import { startWorker, ROOT } from './lib/worker.mjs';
import { RP, waitFor } from './lib/fixture.mjs';
import { startFaultOp, workerOptions, loginAt, rawBrowser, deadPort } from './lib/fault_op.mjs';

/** An origin that echoes the request and answers as its query says: `cc` (Cache-Control),
 * `status`, `cookies` (that many Set-Cookie headers). */
async function startOrigin() {
  const requests = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url, 'http://origin');
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const headers = { 'content-type': 'application/json' };
    if (url.searchParams.has('cc')) headers['cache-control'] = url.searchParams.get('cc');
    const n = Number(url.searchParams.get('cookies') ?? 0);
    const cookies = Array.from({ length: n }, (_, i) => `origin${i}=v${i}; Path=/; HttpOnly`);
    res.writeHead(Number(url.searchParams.get('status') ?? 200), 'Origin Says', { ...headers, ...(n ? { 'set-cookie': cookies } : {}) });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
  });
  server.unref();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    stop: () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }),
  };
}

let op;
let origin;
let worker;
let signedIn;

before(async () => {
  [op, origin] = await Promise.all([startFaultOp(), startOrigin()]);
  const main = op.tenant('main');
  worker = await startWorker(workerOptions([main], { origin: origin.url, config: { public_paths: ['/public/'] } }));
  signedIn = rawBrowser(worker);
  const { final } = await loginAt(signedIn, RP, 'main');
  assert.equal(final.status, 200, final.body.slice(0, 300));
});

after(async () => {
  await worker?.stop();
  await Promise.all([op?.stop(), origin?.stop()]);
});

const last = () => origin.requests.at(-1);

describe('a page let through on a session is private', () => {
  const CASES = [
    // [origin's Cache-Control (null: none), what the browser gets]
    [null, 'private'],
    ['public, max-age=600', 'private, max-age=600'],
    ['max-age=60', 'private, max-age=60'],
    ['s-maxage=3600, public', 's-maxage=3600, private'],
    ['private, max-age=60', 'private, max-age=60'],
    ['no-store', 'no-store'],
  ];
  for (const [cc, want] of CASES) {
    test(`origin says ${cc ?? 'nothing'} → ${want}`, async () => {
      const q = cc === null ? '' : `?cc=${encodeURIComponent(cc)}`;
      const res = await signedIn.request(`${RP}/reports/1${q}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), want);
      assert.equal(JSON.parse(res.body).headers['x-auth-subject'] !== undefined, true, 'it was let through on the session');
    });
  }

  test('the origin subrequest bypasses the shared cache (cache: no-store)', async () => {
    const res = await signedIn.request(`${RP}/reports/2`);
    assert.equal(res.status, 200);
    assert.equal(last().headers['cache-control'], 'no-cache');
    assert.equal(last().headers.pragma, 'no-cache');
  });

  test('a public page without a session is neither marked nor sent uncached', async () => {
    const anonymous = rawBrowser(worker);
    const res = await anonymous.request(`${RP}/public/page?cc=${encodeURIComponent('public, max-age=600')}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=600');
    assert.equal(last().headers['cache-control'], undefined);
    assert.equal(last().headers.pragma, undefined);
  });
});

describe('what passes unchanged', () => {
  test('methods the worker does not know, with their body', async () => {
    for (const method of ['PROPFIND', 'PATCH', 'MKCOL']) {
      const res = await signedIn.request(`${RP}/dav/x`, { method, body: `<propfind ${method}/>`, headers: { 'content-type': 'text/xml' } });
      assert.equal(res.status, 200, method);
      assert.equal(last().method, method);
      assert.equal(last().body, `<propfind ${method}/>`);
    }
  });

  test('a POST body of 1 MB', async () => {
    const body = 'b'.repeat(1 << 20);
    const res = await signedIn.request(`${RP}/upload`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 200);
    assert.equal(last().body.length, body.length);
  });

  test('status, status text and every Set-Cookie of the origin', async () => {
    const res = await signedIn.request(`${RP}/made?status=201&cookies=3&cc=public`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'private');
    for (let i = 0; i < 3; i += 1) assert.ok(res.setCookies.some((c) => c.startsWith(`origin${i}=v${i}`)), res.setCookies.join('\n'));
    const missing = await signedIn.request(`${RP}/gone?status=404`);
    assert.equal(missing.status, 404);
  });

  test('query strings and encoded paths reach the origin as sent', async () => {
    await signedIn.request(`${RP}/a%20b/c?x=1&y=%2F&z`);
    assert.equal(last().url, '/a%20b/c?x=1&y=%2F&z');
  });
});

test('an unreachable origin gives a 502 page, logged', async () => {
  const dead = await startWorker(workerOptions([op.tenant('dead-origin')], { origin: `http://127.0.0.1:${await deadPort()}`, config: { public_paths: ['/public/'] } }));
  try {
    const browser = rawBrowser(dead);
    const page = await browser.request(`${RP}/public/x`);
    assert.equal(page.status, 502);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const api = await browser.request(`${RP}/public/x`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
    assert.equal(api.status, 502);
    assert.equal(JSON.parse(api.body).error, 'internal_error');
    await waitFor(() => dead.logs().includes('{"event":"internal_error","level":"error","reason":"origin_unreachable"}'), dead.logs);
  } finally {
    await dead.stop();
  }
});

test('the static assets binding: the protected page comes back private', async () => {
  const assets = await startWorker({
    ...workerOptions([op.tenant('assets')], {}),
    assets: path.join(ROOT, 'demo/site'),
  });
  try {
    const browser = rawBrowser(assets);
    const { final } = await loginAt(browser, RP, 'assets', '/');
    assert.equal(final.status, 200);
    const page = await browser.request(`${RP}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    assert.match(page.headers.get('cache-control'), /^private\b/);
    assert.doesNotMatch(page.headers.get('cache-control'), /public/);
  } finally {
    await assets.stop();
  }
});
