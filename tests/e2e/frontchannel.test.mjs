// Front-Channel Logout 1.0 in headless Chromium: a user signs in at the site (on `localhost`)
// through oidc-provider's real forms (on `127.0.0.1`, another site), then signs out at the
// provider; the provider's logout page loads the site's front-channel logout URI in an iframe. As
// in real deployments the iframe is cross-site, so the SameSite=Lax session cookie is not sent
// with it: the logout is recorded by `sid` in KV and the gate's revocation check ends the session
// within revocation_check_secs. The page may be framed by the provider's origin only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './lib/browser.mjs';
import { startNodeOp, freePort } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';

const CHECK = 2;
let op;
let worker;
let browser;
let rp;

before(async () => {
  const port = await freePort();
  rp = `http://localhost:${port}`;
  const secret = cookieKey();
  op = await startNodeOp({
    clients: [{
      client_id: 'edge-browser',
      client_secret: secret,
      redirect_uris: [`${rp}/redirect_uri`],
      post_logout_redirect_uris: [`${rp}/logged-out`],
    }],
    frontchannel_logout: { 'edge-browser': `${rp}/frontchannel-logout` },
  }, { interactive: true });
  worker = await startWorker({
    port,
    assets: new URL('../../demo/site', import.meta.url).pathname,
    config: {
      providers: {
        main: {
          issuer: op.url,
          client_id: 'edge-browser',
          frontchannel_logout: true,
          revocation_check_secs: CHECK,
          // oidc-provider puts `sid` into ID tokens for back-channel clients only; a provider with
          // front-channel logout (frontchannel_logout_session_required) always does. Asked here.
          claims: { id_token: { sid: null } },
        },
      },
      public_paths: ['/public/'],
    },
    secrets: { CLIENT_SECRET: secret },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.allSettled([worker?.stop(), op?.stop()]);
});

test('Chromium: signing out at the provider ends the site session through the front-channel iframe', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const frontchannel = [];
  page.on('response', (r) => {
    if (r.url().startsWith(`${rp}/frontchannel-logout`)) frontchannel.push(r);
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

  // Signing out at the provider itself: its page frames our front-channel logout URI.
  await page.goto(`${op.url}/session/end`);
  await Promise.all([page.waitForURL(`${op.url}/session/end/success**`), page.click('button[name=logout]')]);
  const frame = page.frames().find((f) => f.url().startsWith(`${rp}/frontchannel-logout`));
  assert.ok(frame, `the provider's page frames ${rp}/frontchannel-logout: ${page.frames().map((f) => f.url())}`);
  await frame.waitForLoadState();
  assert.equal(await frame.textContent('h1'), 'Signed out', 'the page rendered inside the provider frame');
  assert.equal(frontchannel.length, 1);
  const response = frontchannel[0];
  assert.equal(response.status(), 200);
  const csp = (await response.allHeaders())['content-security-policy'];
  assert.match(csp, new RegExp(`frame-ancestors ${op.url.replace(/[.]/g, '\\.')}(;|$)`));
  const url = new URL(response.url());
  assert.equal(url.searchParams.get('iss'), op.url);
  assert.ok(url.searchParams.get('sid'));
  const request = response.request();
  assert.ok(!(await request.allHeaders()).cookie?.includes('edge_oidc='), 'cross-site iframe: no session cookie sent');
  const at = Date.now();

  // The session cookie is still in the browser; the next check finds the revocation.
  let landed = `${rp}/docs/`;
  while (landed.startsWith(rp) && Date.now() - at < (CHECK + 3) * 1000) {
    await page.goto(`${rp}/docs/`);
    landed = page.url();
    if (landed.startsWith(rp)) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(landed.startsWith(op.url), `signed out at the edge too: ${landed}`);
  assert.ok(Date.now() - at <= (CHECK + 1) * 1000, `${Date.now() - at} ms`);
  await context.close();
});
