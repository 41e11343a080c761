// Operator pages and forwarding edge cases, end to end (issue 13). Templates come from the static
// assets (ASSETS binding) or from a var, are loaded once per isolate, and every placeholder is
// HTML-escaped whatever it holds: a provider's error_description, a return URL, a rule's name.
// A template that cannot be loaded falls back to the built-in page and the reason is logged. A
// WebSocket upgrade on an authenticated path reaches the origin and talks through the worker; a
// form posted without a session starts a login, an API POST gets 401 (the body is not kept).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPyop, startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { RP, CLIENTS, opConfig, rpOptions, browser, sessionCookies, waitFor } from './lib/fixture.mjs';

const HOSTILE = '<img src=x onerror=alert(1)>"\'&';

let pyop;
let nodeop;
let echo;
let assets;

before(async () => {
  [pyop, nodeop, echo] = await Promise.all([startPyop(opConfig()), startNodeOp(opConfig()), startEchoOrigin()]);
  assets = mkdtempSync(join(tmpdir(), 'edge-oidc-pages-'));
  mkdirSync(join(assets, '_pages'));
  writeFileSync(join(assets, '_pages/forbidden.html'),
    '<!doctype html><title>{{title}}</title><main id="custom-403"><p>{{status}} {{error}}</p><p id="d">{{error_description}}</p><a href="{{return_url}}">home</a></main>');
  writeFileSync(join(assets, '_pages/chooser.html'),
    '<!doctype html><main id="custom-chooser"><p id="r">{{return_url}}</p>{{providers}}</main>');
});

after(async () => {
  await Promise.all([pyop?.stop(), nodeop?.stop(), echo?.stop()]);
  rmSync(assets, { recursive: true, force: true });
});

describe('operator templates', () => {
  let w;
  before(async () => {
    w = await startWorker({
      assets,
      config: {
        providers: {
          py: { issuer: pyop.url, client_id: CLIENTS.client_secret_basic.client_id },
          node: { issuer: nodeop.url, client_id: CLIENTS.client_secret_basic.client_id },
        },
        rules: [{ name: `closed ${HOSTILE}`, path_prefix: '/closed/', action: 'deny' }],
        pages: {
          forbidden: { asset: '/_pages/forbidden.html' },
          chooser: { asset: '/_pages/chooser.html' },
          error: { var: 'ERROR_PAGE' },
          logged_out: { asset: '/_pages/missing.html' },
        },
      },
      secrets: {
        CLIENT_SECRET_PY: CLIENTS.client_secret_basic.client_secret,
        CLIENT_SECRET_NODE: CLIENTS.client_secret_basic.client_secret,
        ERROR_PAGE: '<!doctype html><main id="custom-error"><h1>{{status}}</h1><p id="e">{{error}}</p><p id="d">{{error_description}}</p></main>',
      },
    });
  });
  after(async () => { await w?.stop(); });

  test('the 403 page from the assets, with the rule name escaped', async () => {
    const res = await browser(w).request(`${RP}/closed/x`);
    assert.equal(res.status, 403);
    assert.match(res.body, /id="custom-403"/);
    assert.match(res.body, /403 access_denied/);
    assert.ok(!res.body.includes('<img'), res.body);
    assert.ok(res.body.includes('closed &lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'), res.body);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy'), /script-src 'none'/);
    // An API client still gets JSON.
    const api = await browser(w).request(`${RP}/closed/x`, { headers: { 'sec-fetch-mode': 'cors', accept: 'application/json' } });
    assert.equal(JSON.parse(api.body).error, 'access_denied');
  });

  test('the error view from a var, with the provider\'s hostile error_description escaped', async () => {
    const c = browser(w);
    const start = await c.request(`${RP}/login?provider=py&return_to=/x`);
    assert.equal(start.status, 302);
    const state = new URL(start.location).searchParams.get('state');
    const res = await c.request(`${RP}/redirect_uri?state=${state}&error=server_error&error_description=${encodeURIComponent(HOSTILE)}`);
    assert.equal(res.status, 401, res.body);
    assert.match(res.body, /id="custom-error"/);
    assert.match(res.body, /<p id="e">server_error<\/p>/);
    assert.ok(!res.body.includes('<img'), res.body);
    assert.ok(res.body.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'), res.body);
  });

  test('the chooser from the assets: provider links and a hostile return URL escaped', async () => {
    const returnTo = `/a?q=${encodeURIComponent('"><script>alert(1)</script>')}`;
    const res = await browser(w).request(`${RP}/login?return_to=${encodeURIComponent(returnTo)}`);
    assert.equal(res.status, 200);
    assert.match(res.body, /id="custom-chooser"/);
    assert.ok(!res.body.includes('<script>'), res.body);
    const links = [...res.body.matchAll(/<a href="([^"]+)">Sign in with (\w+)<\/a>/g)];
    assert.deepEqual(links.map((m) => m[2]), ['node', 'py']);
    const href = links[0][1].replaceAll('&amp;', '&');
    assert.equal(new URL(href, RP).searchParams.get('return_to'), returnTo);
  });

  test('a template that cannot be loaded: the built-in page, and the reason in the log', async () => {
    const res = await browser(w).request(`${RP}/logged-out`);
    assert.equal(res.status, 200);
    assert.match(res.body, /<h1>Signed out<\/h1>/);
    await waitFor(() => w.logs().includes('pages.logged_out'), () => w.logs());
    assert.match(w.logs(), /pages\.logged_out: the template is not used.*missing\.html: status 404/);
  });
});

describe('forwarding edge cases', () => {
  let w;
  let alice;
  before(async () => {
    const base = rpOptions(pyop);
    w = await startWorker({ ...base, config: { ...base.config, origin: echo.url } });
    alice = browser(w);
    const { final } = await alice.follow(`${RP}/start`);
    assert.equal(final.status, 200);
  });
  after(async () => { await w?.stop(); });

  test('a WebSocket upgrade on an authenticated path reaches the origin and echoes', async () => {
    const [cookie] = sessionCookies(alice);
    const res = await w.mf.dispatchFetch(`${RP}/ws/chat`, {
      headers: { upgrade: 'websocket', cookie: `${cookie.name}=${cookie.value}; other=1` },
    });
    assert.equal(res.status, 101);
    const ws = res.webSocket;
    ws.accept();
    const got = new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data)));
    ws.send('hello');
    assert.equal(await got, 'echo: hello');
    ws.close();
    const handshake = echo.requests.findLast((r) => r.upgrade);
    assert.equal(handshake.url, '/ws/chat');
    assert.equal(handshake.headers['x-auth-subject'] !== undefined, true, 'identity headers on the upgrade');
    assert.equal(handshake.headers.cookie, 'other=1', 'our cookie is not forwarded');
    // Without a session the upgrade is refused before the origin.
    const before = echo.requests.length;
    const anonymous = await w.mf.dispatchFetch(`${RP}/ws/chat`, { headers: { upgrade: 'websocket' } });
    assert.equal(anonymous.status, 401);
    assert.equal(echo.requests.length, before);
  });

  test('a POST whose session expired: a form navigation logs in, an API call gets 401', async () => {
    const stale = browser(w);
    stale.setCookie(RP, 'edge_oidc=main.expired-or-forged; Path=/');
    const form = await stale.request(`${RP}/comments`, { method: 'POST', form: { text: 'hi' }, initiator: RP, headers: { connection: 'close' } });
    assert.equal(form.status, 302, form.body);
    assert.ok(form.location.startsWith(pyop.url), form.location);
    assert.ok(form.setCookies.some((c) => /^edge_oidc=;/.test(c)), 'the stale cookie is cleared');
    const api = await stale.request(`${RP}/comments`, {
      method: 'POST', body: '{"text":"hi"}', initiator: RP,
      headers: { 'sec-fetch-mode': 'cors', accept: 'application/json', 'content-type': 'application/json', connection: 'close' },
    });
    assert.equal(api.status, 401);
    assert.equal(JSON.parse(api.body).error, 'login_required');
  });
});
