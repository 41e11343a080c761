// The relay pages in a real browser: headless Chromium signs in through oidc-provider with the
// answer in the fragment (edge-oidc's fragment relay page runs its script) and by form_post (the
// provider's page posts cross-site, edge-oidc's relay page posts again from its own origin).
//
// Cross-site for real: the worker is http://localhost:PORT, the provider http://127.0.0.1:PORT,
// two sites, so Chromium withholds the SameSite=Lax pending-login cookie from the provider's
// POST. oidc-provider takes implicit and hybrid clients with http redirect URIs only as native
// clients (loopback hosts), hence `application_type: 'native'`. The provider logs alice in
// without a form (non-interactive): the relay pages are what is under test here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './lib/browser.mjs';
import { startNodeOp, freePort } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { RELAY_MARKER } from './lib/flows.mjs';

const TOKEN_PARAM = /[?&#](code|id_token|access_token)=/;
let op;
let worker;
let browser;
let rp;

before(async () => {
  const port = await freePort();
  rp = `http://localhost:${port}`;
  const secret = cookieKey();
  op = await startNodeOp({
    response_types: ['code', 'id_token token', 'code id_token'],
    clients: [{
      client_id: 'edge-browser-flows',
      client_secret: secret,
      application_type: 'native',
      response_types: ['code', 'id_token token', 'code id_token'],
      grant_types: ['authorization_code', 'implicit', 'refresh_token'],
      redirect_uris: [`${rp}/redirect_uri`],
      post_logout_redirect_uris: [`${rp}/logged-out`],
    }],
  });
  assert.ok(new URL(op.url).hostname === '127.0.0.1', 'the provider is on another site than the worker');
  worker = await startWorker({
    port,
    assets: new URL('../../demo/site', import.meta.url).pathname,
    config: {
      providers: {
        // Implicit: the fragment is the spec's default mode for it.
        fragment: { issuer: op.url, client_id: 'edge-browser-flows', response_type: 'id_token token' },
        form: { issuer: op.url, client_id: 'edge-browser-flows', response_type: 'code id_token', response_mode: 'form_post' },
      },
    },
    secrets: { CLIENT_SECRET_FRAGMENT: secret, CLIENT_SECRET_FORM: secret },
  });
  browser = await launchChromium(['--host-resolver-rules=MAP localhost 127.0.0.1']);
});

after(async () => {
  await browser?.close();
  await Promise.allSettled([worker?.stop(), op?.stop()]);
});

/**
 * Records what reaches the worker at the redirect path (in order; `settled()` waits for the
 * headers read asynchronously), and every URL the page asked for. A relay page is told by its
 * Content-Security-Policy: the only pages of edge-oidc that allow a script (by its hash).
 */
function watch(page) {
  const callbacks = [];
  const pending = [];
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('response', (res) => {
    const req = res.request();
    if (!req.url().startsWith(`${rp}/redirect_uri`)) return;
    const csp = res.headers()['content-security-policy'] ?? '';
    const entry = {
      method: req.method(), url: req.url(), status: res.status(), csp, relay: /script-src 'sha256-/.test(csp),
    };
    callbacks.push(entry);
    pending.push(req.allHeaders().then((h) => {
      Object.assign(entry, { site: h['sec-fetch-site'], referer: h.referer, cookie: h.cookie ?? '' });
    }));
  });
  return { callbacks, urls, settled: () => Promise.all(pending) };
}

/** Waits for `url`; on a timeout, says where the page is instead. */
async function reach(page, url) {
  try {
    await page.waitForURL(url, { timeout: 15000 });
  } catch (err) {
    const body = await page.content().catch(() => '');
    assert.fail(`${err.message.split('\n')[0]}; the page is at ${page.url()}:\n${body.slice(0, 800)}\n${worker.logs().slice(-1500)}`);
  }
}

async function signedIn(context, page) {
  await reach(page, `${rp}/docs/`);
  assert.equal(await page.textContent('#docs'), 'Still signed in, no new login needed.');
  const session = (await context.cookies(rp)).find((c) => c.name === 'edge_oidc');
  assert.ok(session, 'a session cookie');
  assert.equal(session.sameSite, 'Lax');
  assert.equal(page.url().includes('#'), false, 'no fragment left in the address');
}

test('Chromium, cross-site: implicit login through the fragment relay page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { callbacks, urls, settled } = watch(page);
  await page.goto(`${rp}/login?provider=fragment&return_to=/docs/`);
  await signedIn(context, page);
  await settled();
  // GET (the fragment stays in the browser) -> relay page; its script's POST -> the login.
  assert.deepEqual(callbacks.map((c) => [c.method, c.status, c.relay]), [['GET', 200, true], ['POST', 302, false]],
    JSON.stringify(callbacks, null, 1));
  const [get, post] = callbacks;
  assert.equal(new URL(get.url).search, '', 'the GET carried nothing');
  assert.match(get.csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
  assert.equal(post.site, 'same-origin');
  assert.equal(post.referer, undefined, 'no Referer (Referrer-Policy: no-referrer)');
  assert.match(post.cookie, /edge_oidc_s\./, 'the pending-login cookie came with the POST');
  for (const url of urls.filter((u) => u.startsWith(rp))) {
    assert.doesNotMatch(new URL(url).search, TOKEN_PARAM, `a token in a URL sent to the worker: ${url}`);
  }
  await context.close();
});

test('Chromium, cross-site: hybrid form_post login, relayed from this origin', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { callbacks, urls, settled } = watch(page);
  await page.goto(`${rp}/login?provider=form&return_to=/docs/`);
  await signedIn(context, page);
  await settled();
  // The provider's cross-site POST (no Lax cookie) -> relay page; the relayed POST -> the login.
  assert.deepEqual(callbacks.map((c) => [c.method, c.site, c.status, c.relay]),
    [['POST', 'cross-site', 200, true], ['POST', 'same-origin', 302, false]], JSON.stringify(callbacks, null, 1));
  assert.doesNotMatch(callbacks[0].cookie, /edge_oidc_s\./, 'SameSite=Lax withheld the cookie cross-site');
  assert.match(callbacks[1].cookie, /edge_oidc_s\./);
  assert.equal(callbacks[1].referer, undefined);
  for (const url of urls.filter((u) => u.startsWith(rp))) {
    assert.doesNotMatch(new URL(url).search, TOKEN_PARAM, `a token in a URL sent to the worker: ${url}`);
  }
  await context.close();
});

test('Chromium with JavaScript off: the fragment relay page says what to do, no session', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${rp}/login?provider=fragment&return_to=/docs/`);
  await reach(page, `${rp}/redirect_uri**`);
  assert.match(await page.locator('body').innerText(), /This sign-in needs JavaScript to finish/);
  assert.equal((await context.cookies(rp)).some((c) => c.name === 'edge_oidc'), false);
  await context.close();
});
