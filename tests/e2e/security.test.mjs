// End-to-end checks of the security review (issue 9), in workerd against node oidc-provider:
// no secret on a public page, no KV write for anonymous traffic, one public origin, logout only
// from this site, no attacker text on the site's pages, sessions bound to their deployment.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { startCounting, io } from './lib/counting.mjs';
import { Client } from './lib/client.mjs';
import { RP, opConfig, rpOptions, browser, withWorker, sessionCookies, waitFor } from './lib/fixture.mjs';

let op;
let echo;

before(async () => {
  [op, echo] = await Promise.all([startNodeOp(opConfig()), startEchoOrigin()]);
});

after(async () => {
  await Promise.all([op?.stop(), echo?.stop()]);
});

const withOrigin = (options) => ({ ...options, config: { origin: echo.url, ...options.config } });

describe('item 1: a malformed private key never reaches a page', () => {
  test('the visitor gets a generic 500; the log names the member, never its value', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    // Padded base64 (and '+' '/' for good measure): not the unpadded base64url a JWK needs.
    const d = Buffer.from(jwk.d, 'base64url').toString('base64');
    const bad = JSON.stringify({ ...jwk, d: `${d.replace(/=+$/, '')}+/==` });
    const opts = rpOptions(op, 'client_secret_basic', { provider: { token_endpoint_auth_method: 'private_key_jwt' } });
    opts.secrets = { CLIENT_PRIVATE_KEY: bad };
    await withWorker(startWorker, opts, async (w) => {
      const secretPart = d.slice(4, 20);
      for (const headers of [{}, { accept: 'application/json', 'sec-fetch-mode': 'cors' }]) {
        const res = await browser(w).request(`${RP}/private`, { headers });
        assert.equal(res.status, 500);
        assert.ok(!res.body.includes(secretPart), 'the key is not on the page');
        assert.doesNotMatch(res.body, /CLIENT_PRIVATE_KEY|member/);
      }
      await waitFor(() => /member `d` is not unpadded base64url/.test(w.logs()), w.logs);
      assert.ok(!w.logs().includes(secretPart), 'the key is not in the log either');
    });
  });
});

describe('item 4: anonymous traffic writes nothing to KV', () => {
  test('0 KV writes per anonymous request; 1 per completed login', async () => {
    const worker = await startCounting(withOrigin(rpOptions(op)));
    try {
      const hops = [];
      const count = async (url, init) => {
        const res = await worker.fetch(url, init);
        hops.push({ path: new URL(url).pathname, io: io(res) });
        return res;
      };
      // Warm up: the first login caches the provider's metadata and JWKS in KV.
      const warm = new Client({ rpOrigin: RP, rpFetch: count });
      assert.equal((await warm.follow(`${RP}/warm`)).final.status, 200);

      hops.length = 0;
      const NAV = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'user-agent': 'crawler' };
      for (let i = 0; i < 40; i += 1) {
        const nav = await count(`${RP}/page/${i}?q=${i}`, { headers: NAV });
        assert.equal(nav.status, 302);
        const api = await count(`${RP}/api/${i}`, { headers: { accept: 'application/json' } });
        assert.equal(api.status, 401);
        const forged = await count(`${RP}/redirect_uri?state=${'s'.repeat(43)}&code=${i}`, { headers: NAV });
        assert.equal(forged.status, 400);
      }
      const writes = hops.reduce((n, h) => n + h.io.kv_put + h.io.kv_delete, 0);
      assert.equal(writes, 0, `KV writes by ${hops.length} anonymous requests`);
      assert.equal(hops.reduce((n, h) => n + h.io.kv_get, 0), 0, 'and no KV reads either');

      // One more complete login: exactly one write (the session record), at the callback.
      hops.length = 0;
      const c = new Client({ rpOrigin: RP, rpFetch: count });
      assert.equal((await c.follow(`${RP}/after`)).final.status, 200);
      const puts = hops.map((h) => `${h.path}:${h.io.kv_put}`);
      assert.equal(hops.reduce((n, h) => n + h.io.kv_put, 0), 1, puts.join(' '));
      assert.equal(hops.find((h) => h.path === '/redirect_uri').io.kv_put, 1);
    } finally {
      await worker.stop();
    }
  });
});

describe('item 5: one public origin', () => {
  test('other hosts are redirected (GET) or refused (POST) before any login work', async () => {
    const opts = withOrigin(rpOptions(op, 'client_secret_basic', { config: { public_origin: RP } }));
    await withWorker(startWorker, opts, async (w) => {
      const other = new Client({ rpOrigin: 'http://www.rp.test', rpFetch: w.fetch });
      const res = await other.request('http://www.rp.test/docs?x=1');
      assert.equal(res.status, 308);
      assert.equal(res.location, `${RP}/docs?x=1`);
      assert.equal(res.setCookies.length, 0, 'no pending login for another host');
      const post = await other.request('http://www.rp.test/api', { method: 'POST', body: '' });
      assert.equal(post.status, 421);
      // On the public origin the login uses its redirect URI.
      const start = await browser(w).request(`${RP}/docs`);
      assert.equal(new URL(start.location).searchParams.get('redirect_uri'), `${RP}/redirect_uri`);
    });
  });
});

describe('item 8: logout only from this site', () => {
  test('a cross-site GET gets a confirmation page, a cross-site POST 403; the confirmation logs out', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(op)), async (w) => {
      const c = browser(w);
      assert.equal((await c.follow(`${RP}/private`)).final.status, 200);
      const evil = 'https://evil.example';
      // A link or <img> on another site.
      const get = await c.request(`${RP}/logout`, { initiator: evil });
      assert.equal(get.status, 200);
      assert.match(get.body, /<form method="post" action="\/logout">/);
      assert.equal(get.setCookies.length, 0);
      // A form on another site posting here (SameSite=Lax keeps the cookie back, but the
      // answer could still clear it: it is refused instead).
      const post = await c.request(`${RP}/logout`, { method: 'POST', body: '', initiator: evil });
      assert.equal(post.status, 403);
      assert.equal(post.setCookies.length, 0);
      assert.equal((await c.request(`${RP}/private`)).status, 200, 'still signed in');
      // The confirmation page's button: a POST from this site.
      const confirmed = await c.submitForm(get);
      const toOp = confirmed.hops.find((h) => h.location?.startsWith(op.url));
      assert.ok(toOp, JSON.stringify(confirmed.hops));
      assert.ok(new URL(toOp.location).searchParams.get('id_token_hint'), 'the hint comes from the session record');
      assert.equal(sessionCookies(c).length, 0);
    });
  });
});

describe('item 9: no attacker text on the site', () => {
  test('a crafted error link without this browser\'s pending login shows a generic page', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(op)), async (w) => {
      const c = browser(w);
      const start = await c.request(`${RP}/private`);
      const state = new URL(start.location).searchParams.get('state');
      const text = 'Your account is locked. Call +1 555 0100 now';
      const q = (s) => `error=access_denied&error_description=${encodeURIComponent(text)}${s ? `&state=${s}` : ''}`;
      for (const [who, query] of [[browser(w), q(null)], [browser(w), q(state)], [c, q('A'.repeat(43))]]) {
        const res = await who.request(`${RP}/redirect_uri?${query}`);
        assert.equal(res.status, 400);
        assert.ok(!res.body.includes('555'), res.body);
        assert.match(res.body, /not completed/);
      }
      // The real answer to this browser's own login is shown.
      const real = await c.request(`${RP}/redirect_uri?${q(state)}`);
      assert.equal(real.status, 403);
      assert.match(real.body, /Call \+1 555 0100 now/);
    });
  });
});

describe('sessions are bound to their deployment', () => {
  test('a session cookie sent to another host with the same keys is not a session there', async () => {
    const keys = cookieKey();
    const opts = withOrigin(rpOptions(op));
    opts.secrets = { ...opts.secrets, COOKIE_KEYS: keys };
    await withWorker(startWorker, opts, async (w) => {
      const c = browser(w);
      assert.equal((await c.follow(`${RP}/private`)).final.status, 200);
      const cookie = sessionCookies(c).map((k) => `${k.name}=${k.value}`).join('; ');
      const staging = new Client({ rpOrigin: 'http://staging.rp.test', rpFetch: w.fetch });
      const res = await staging.request('http://staging.rp.test/private', { headers: { cookie } });
      assert.equal(res.status, 302, 'not accepted on another host');
      assert.ok(res.location.startsWith(op.url));
      // The same cookie on its own host still works.
      assert.equal((await browser(w).request(`${RP}/private`, { headers: { cookie } })).status, 200);
    });
  });
});
