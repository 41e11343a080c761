// The browser journey: headless Chromium (Debian's, driven by playwright-core) signs in through
// oidc-provider's real login and consent forms, reads the protected sample site, signs out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './lib/browser.mjs';
import { startNodeOp, freePort } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';

let op;
let worker;
let browser;

let rp;

before(async () => {
  const port = await freePort();
  rp = `http://127.0.0.1:${port}`;
  const secret = cookieKey();
  op = await startNodeOp({
    clients: [{
      client_id: 'edge-browser',
      client_secret: secret,
      redirect_uris: [`${rp}/redirect_uri`],
      post_logout_redirect_uris: [`${rp}/logged-out`],
    }],
  }, { interactive: true });
  worker = await startWorker({
    port,
    assets: new URL('../../demo/site', import.meta.url).pathname,
    config: {
      providers: { main: { issuer: op.url, client_id: 'edge-browser' } },
      public_paths: ['/public/'],
      session_endpoint_path: '/.auth/me',
    },
    secrets: { CLIENT_SECRET: secret },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.allSettled([worker?.stop(), op?.stop()]);

});

test('Chromium: real login form, protected page, session reuse, logout', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const offsite = [];
  page.on('request', (r) => {
    const host = new URL(r.url()).hostname;
    if (host !== '127.0.0.1') offsite.push(r.url());
  });

  await page.goto(`${rp}/docs/`);
  assert.ok(page.url().startsWith(op.url), `redirected to the provider: ${page.url()}`);
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any password');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  if (page.url().includes('/interaction/')) {
    await Promise.all([page.waitForURL(`${rp}/**`), page.click('text=Continue')]);
  }
  assert.equal(page.url(), `${rp}/docs/`);
  assert.equal(await page.textContent('#docs'), 'Still signed in, no new login needed.');

  const cookies = await context.cookies(rp);
  const session = cookies.find((c) => c.name === 'edge_oidc');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');

  await page.goto(`${rp}/`);
  assert.equal(page.url(), `${rp}/`);
  assert.match(await page.textContent('#secret'), /only served after an OpenID Connect login/);
  // The page's own script reads the session endpoint (a same-origin fetch) and shows the name.
  await page.waitForSelector('#who:not([hidden])');
  assert.equal(await page.textContent('#who-name'), 'Alice Example');
  assert.equal(await page.textContent('#who-provider'), 'main');
  const me = await page.evaluate(async () => (await fetch('/.auth/me')).json());
  assert.equal(me.sub, 'alice');
  assert.equal(JSON.stringify(me).includes('eyJ'), false, 'no token in the answer');

  await page.goto(`${rp}/logout`);
  assert.ok(page.url().startsWith(op.url), 'RP-initiated logout at the provider');
  await Promise.all([page.waitForURL(`${rp}/logged-out**`), page.click('button[name=logout]')]);
  assert.match(await page.textContent('h1'), /Signed out/);
  assert.equal((await context.cookies(rp)).filter((c) => c.name.startsWith('edge_oidc') && c.name !== 'edge_oidc_login').length, 0);

  // Signed out: the endpoint answers 401 (read from a public page of the site).
  await page.goto(`${rp}/public/`);
  assert.equal(await page.evaluate(async () => (await fetch('/.auth/me')).status), 401);
  await page.goto(`${rp}/`);
  assert.ok(page.url().startsWith(op.url), 'signed out: the next visit needs a login again');
  assert.deepEqual(offsite, [], 'no request left the machine');
  await context.close();
});
