// session.cookie_domain in a real browser: headless Chromium maps *.example.test to the worker
// on 127.0.0.1 (--host-resolver-rules), signs in once through oidc-provider's real form (the login
// starts on docs.example.test, the callback is on the auth host auth.example.test) and is then
// signed in on docs. and app.example.test; a session cookie sealed by a deployment with another
// cookie domain (same COOKIE_KEYS) does not open; a host outside the domain is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './lib/browser.mjs';
import { startNodeOp, startEchoOrigin, freePort } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { startFaultOp, workerOptions, loginAt, rawBrowser } from './lib/fault_op.mjs';

let op;
let faultOp;
let echo;
let worker;
let browser;
let port;
const COOKIE_KEYS = cookieKey();
const at = (host, path = '/') => `http://${host}.example.test:${port}${path}`;

before(async () => {
  port = await freePort();
  const secret = cookieKey();
  op = await startNodeOp({
    clients: [{
      client_id: 'edge-subdomains',
      client_secret: secret,
      redirect_uris: [at('auth', '/redirect_uri')],
      post_logout_redirect_uris: [at('auth', '/logged-out')],
    }],
  }, { interactive: true });
  [faultOp, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  worker = await startWorker({
    port,
    assets: new URL('../../demo/site', import.meta.url).pathname,
    config: {
      providers: { main: { issuer: op.url, client_id: 'edge-subdomains' } },
      public_origin: at('auth', '').replace(/\/$/, ''),
      session: { cookie_domain: 'example.test' },
      public_paths: ['/public/'],
    },
    secrets: { CLIENT_SECRET: secret, COOKIE_KEYS },
  });
  browser = await launchChromium(['--host-resolver-rules=MAP *.example.test 127.0.0.1']);
});

after(async () => {
  await browser?.close();
  await Promise.allSettled([worker?.stop(), op?.stop(), faultOp?.stop(), echo?.stop()]);
});

/** A session cookie value sealed by another deployment (cookie domain rp.test) with the same keys. */
async function foreignSession() {
  const t = faultOp.tenant('elsewhere');
  const opts = workerOptions([t], { origin: echo.url, config: { session: { cookie_domain: 'rp.test' } } });
  opts.secrets.COOKIE_KEYS = COOKIE_KEYS;
  const other = await startWorker(opts);
  try {
    const c = rawBrowser(other);
    const { final } = await loginAt(c, 'http://rp.test', 'elsewhere', '/public/x');
    assert.equal(final.status, 200, `signed in there: ${final.body}`);
    const value = c.cookie('edge_oidc', 'http://rp.test/');
    assert.ok(value, 'a session cookie there');
    // It opens there: proof that it is a valid value, refused only for its binding.
    const again = await c.request('http://rp.test/private');
    assert.equal(again.status, 200);
    return value;
  } finally {
    await other.stop();
  }
}

test('Chromium: one login on docs.example.test serves app.example.test too; foreign cookies do not open', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));

  await page.goto(at('docs', '/docs/'));
  assert.ok(page.url().startsWith(op.url), `redirected to the provider: ${page.url()}`);
  const auth = new URL(seen.find((u) => u.startsWith(op.url)));
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any password');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  if (page.url().includes('/interaction/')) {
    await Promise.all([page.waitForURL(`${at('docs')}**`), page.click('text=Continue')]);
  }
  assert.equal(page.url(), at('docs', '/docs/'), 'back on the host the login started on');
  assert.equal(await page.textContent('#docs'), 'Still signed in, no new login needed.');
  assert.equal(auth.searchParams.get('redirect_uri'), at('auth', '/redirect_uri'), 'the callback is on the auth host');

  const cookies = await context.cookies(at('app'));
  const session = cookies.find((c) => c.name === 'edge_oidc');
  assert.ok(session, `a session cookie for app.example.test: ${JSON.stringify(cookies)}`);
  assert.equal(session.domain, '.example.test');
  assert.equal(session.httpOnly, true);

  // The other host: signed in at once, no visit to the provider.
  seen.length = 0;
  await page.goto(at('app', '/'));
  assert.equal(page.url(), at('app', '/'));
  assert.match(await page.textContent('#secret'), /only served after an OpenID Connect login/);
  assert.ok(!seen.some((u) => u.startsWith(op.url)), `no provider visit: ${seen}`);

  // A host outside the cookie domain reaching the same worker is refused.
  const res = await page.request.get(`http://127.0.0.1:${port}/`, { maxRedirects: 0 });
  assert.equal(res.status(), 421);

  // A session sealed for another cookie domain, with the same keys, does not open here.
  const foreign = await foreignSession();
  await context.clearCookies();
  await context.addCookies([{ name: 'edge_oidc', value: foreign, domain: '.example.test', path: '/', httpOnly: true, sameSite: 'Lax' }]);
  await page.goto(at('app', '/'));
  assert.ok(page.url().startsWith(op.url), `a foreign cookie is no session: ${page.url()}`);
  await context.close();
});
