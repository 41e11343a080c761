// Canonical paths, end to end: raw request paths (sent byte for byte over node:http, as an
// attacker would) through workerd and the built worker, with `public_paths: ["/public/"]` and
// `/admin/` restricted to provider b. Every known bypass is refused (400) or needs a login, and
// what reaches the echo origin is exactly the canonical path the rules were applied to.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startPyop, startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { rawFetch } from './lib/fault_op.mjs';
import { RP, opConfig, browser } from './lib/fixture.mjs';

let nodeop;
let pyop;
let echo;
let worker;
let send; // (rawPath, headers) -> Response, the path sent untouched
const sessions = {}; // provider name -> Cookie header of a signed-in browser

const NAVIGATION = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

before(async () => {
  [nodeop, pyop, echo] = await Promise.all([startNodeOp(opConfig()), startPyop(opConfig()), startEchoOrigin()]);
  worker = await startWorker({
    config: {
      providers: {
        a: { issuer: nodeop.url, client_id: 'edge-basic', client_secret_binding: 'A_SECRET' },
        b: { issuer: pyop.url, client_id: 'edge-post', token_endpoint_auth_method: 'client_secret_post', client_secret_binding: 'B_SECRET' },
      },
      public_paths: ['/public/'],
      routes: [{ path_prefix: '/admin/', providers: ['b'] }],
      identity_headers: { provider: 'X-Auth-Provider' },
      origin: echo.url,
    },
    secrets: { A_SECRET: 'basic-secret-0123456789', B_SECRET: 'post-secret-0123456789' },
  });
  const fetchRaw = rawFetch(worker.url);
  send = (rawPath, headers = NAVIGATION) => fetchRaw(`${RP}/`, { rawPath, headers });
  for (const name of ['a', 'b']) {
    const client = browser(worker);
    const { final } = await client.follow(`${RP}/login?provider=${name}&return_to=%2Fdocs`);
    assert.equal(final.status, 200, `login at ${name}: ${final.body.slice(0, 500)}`);
    assert.equal(JSON.parse(final.body).headers['x-auth-provider'], name);
    sessions[name] = client.cookiesFor(new URL(RP)).map((c) => `${c.name}=${c.value}`).join('; ');
  }
});

after(async () => {
  await worker?.stop();
  await Promise.all([nodeop?.stop(), pyop?.stop(), echo?.stop()]);
});

/** Sends `rawPath` and returns the response, its body and what reached the origin (or null). */
async function probe(rawPath, { session, headers = NAVIGATION } = {}) {
  const before = echo.requests.length;
  const res = await send(rawPath, session ? { ...headers, cookie: sessions[session] } : headers);
  const body = await res.text();
  const reached = echo.requests.slice(before);
  assert.ok(reached.length <= 1, `${rawPath}: forwarded once at most`);
  return { res, body, origin: reached[0] ?? null };
}

/** The request needs a login: a redirect to `provider`'s authorization endpoint (or to the
 * chooser when several are allowed), and nothing reaches the origin. */
function assertLogin({ res, origin }, provider, what) {
  assert.equal(res.status, 302, what);
  const location = res.headers.get('location');
  const expected = { a: nodeop.url, b: pyop.url }[provider] ?? '/login?return_to=';
  assert.ok(location.startsWith(expected), `${what}: ${location}`);
  assert.equal(origin, null, `${what}: nothing reached the origin`);
}

describe('paths without a canonical form', () => {
  const REFUSED = [
    ['/public/..%2Fsecret', /encoded slash/],
    ['/public/..%2fsecret', /encoded slash/],
    ['/public/..;/secret', /semicolon/],
    ['/admin;/x', /semicolon/],
    ['/admin;jsessionid=x/x', /semicolon/],
    ['/public/..%3Bx/secret', /semicolon/],
    ['/x/..%2Fadmin/x', /encoded slash/],
    ['/public/..%5Csecret', /backslash/],
    ['/public/%00/x', /control character/],
    ['/public/%0d%0aX-Injected:%20yes', /control character/],
    ['/public/%C0%AE%C0%AE/secret', /not UTF-8/],
    ['/public/%zz', /two hexadecimal digits/],
  ];

  test('are refused with 400 (HTML for a navigation, JSON otherwise) with or without a session, and nothing is passed on', async () => {
    for (const [rawPath, reason] of REFUSED) {
      for (const session of [undefined, 'a', 'b']) {
        const what = `${rawPath} (session: ${session ?? 'none'})`;
        const page = await probe(rawPath, { session });
        assert.equal(page.res.status, 400, `${what}: ${page.body.slice(0, 300)}`);
        assert.match(page.res.headers.get('content-type'), /^text\/html/, what);
        assert.match(page.body, reason, what);
        assert.equal(page.origin, null, `${what}: nothing reached the origin`);
        const api = await probe(rawPath, { session, headers: API });
        assert.equal(api.res.status, 400, what);
        const json = JSON.parse(api.body);
        assert.equal(json.error, 'invalid_path', what);
        assert.match(json.error_description, reason, what);
        assert.equal(api.origin, null, `${what}: nothing reached the origin`);
      }
    }
  });
});

describe('public paths', () => {
  test('match as written: another case or a path that climbs out needs a login', async () => {
    // workerd's URL parser resolves `\`, `%2e` and `..` before the worker sees the path.
    for (const rawPath of ['/PUBLIC/x', '/Public/x', '/publicx', '/public/%2e%2e/secret', '/public/..\\secret', '/public/../secret']) {
      assertLogin(await probe(rawPath), 'chooser', rawPath);
    }
  });

  test('spelled otherwise, are passed on without a login in their canonical form', async () => {
    for (const [rawPath, canonical] of [
      ['/public/x', '/public/x'],
      ['/public', '/public'],
      ['//public/x?q=%2F..%2f&r=;', '/public/x?q=%2F..%2f&r=;'],
      ['/public//a///b/', '/public/a/b/'],
      ['/%70ublic/%7euser/%41', '/public/~user/A'],
      ['/public/caf%c3%a9', '/public/caf%C3%A9'],
      ['/public/a/./b/%2e/c', '/public/a/b/c'],
      ['/public/x/..\\y', '/public/y'],
      ['/public/%2561', '/public/%2561'],
    ]) {
      const { res, origin } = await probe(rawPath);
      assert.equal(res.status, 200, rawPath);
      assert.equal(origin?.url, canonical, rawPath);
      assert.equal(origin.headers['x-auth-subject'], undefined, `${rawPath}: no identity without a session`);
    }
  });
});

describe('routes', () => {
  const SPELLINGS = ['/admin/x', '/ADMIN/', '/admin', '/Admin/x', '//admin/x', '/%61dmin/x', '/x/%2e%2e/admin/x', '/x/..\\admin/x', '/admin//x'];

  test("every spelling of /admin/ refuses provider a's session and starts a login at b", async () => {
    for (const rawPath of SPELLINGS) {
      assertLogin(await probe(rawPath, { session: 'a' }), 'b', rawPath);
    }
    // The control: a's session serves the other paths.
    const { res, origin } = await probe('/docs', { session: 'a' });
    assert.equal(res.status, 200);
    assert.equal(origin.headers['x-auth-provider'], 'a');
  });

  test("provider b's session is passed on, with the canonical path", async () => {
    const expected = ['/admin/x', '/ADMIN/', '/admin', '/Admin/x', '/admin/x', '/admin/x', '/admin/x', '/admin/x', '/admin/x'];
    for (const [i, rawPath] of SPELLINGS.entries()) {
      const { res, origin } = await probe(rawPath, { session: 'b' });
      assert.equal(res.status, 200, rawPath);
      assert.equal(origin.url, expected[i], rawPath);
      assert.equal(origin.headers['x-auth-provider'], 'b', rawPath);
    }
  });

  test('a login started at a non-canonical spelling of a route goes to its provider; then the origin gets the canonical path', async () => {
    const client = browser(worker);
    const start = await send('//ADMIN//x?y=1');
    assert.equal(start.status, 302);
    assert.ok(start.headers.get('location').startsWith(pyop.url), start.headers.get('location'));
    for (const sc of start.headers.getSetCookie()) client.storeCookie(sc, new URL(RP));
    const { hops } = await client.follow(start.headers.get('location'));
    const callback = hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`));
    assert.equal(callback.status, 302);
    // The return URL `//ADMIN//x` would leave the site: the login returns to `/`.
    assert.equal(callback.location, `${RP}/`);
    const cookie = client.cookiesFor(new URL(RP)).map((c) => `${c.name}=${c.value}`).join('; ');
    const before = echo.requests.length;
    const res = await send('//ADMIN//x?y=1', { ...NAVIGATION, cookie });
    assert.equal(res.status, 200);
    assert.equal(echo.requests.slice(before).at(-1).url, '/ADMIN/x?y=1');
  });
});

describe("edge-oidc's own endpoints", () => {
  test('are matched on the canonical path, exactly', async () => {
    for (const rawPath of ['//logged-out', '/logged%2Dout', '/%6Cogged-out']) {
      const { res, body, origin } = await probe(rawPath);
      assert.equal(res.status, 200, rawPath);
      assert.match(body, /Signed out/, rawPath);
      assert.equal(origin, null, rawPath);
    }
    // Another case or a trailing slash is not the endpoint: a protected path of the origin.
    for (const rawPath of ['/LOGGED-OUT', '/logged-out/']) {
      assertLogin(await probe(rawPath), 'chooser', rawPath);
    }
  });
});
