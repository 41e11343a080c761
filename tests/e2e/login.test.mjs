// End-to-end: the built worker in workerd (miniflare) against real OpenID Providers (pyOP and
// node oidc-provider) started on 127.0.0.1, driven by a scripted browser.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startPyop, startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { RP, opConfig, rpOptions, browser, withWorker, sessionCookies, CLIENTS, waitFor } from './lib/fixture.mjs';

let pyop;
let nodeop;
let echo;

before(async () => {
  [pyop, nodeop, echo] = await Promise.all([startPyop(opConfig()), startNodeOp(opConfig()), startEchoOrigin()]);
});

after(async () => {
  await Promise.all([pyop?.stop(), nodeop?.stop(), echo?.stop()]);
});

const ops = () => ({ pyop, 'oidc-provider': nodeop });

function withOrigin(options) {
  return { ...options, config: { origin: echo.url, ...options.config } };
}

/** Logs in through `path` and returns the hops and the final response. */
async function login(client, path = '/private/page?x=1&y=%C3%A9') {
  const { hops, final } = await client.follow(RP + path);
  return { hops, final, callback: hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`)) };
}

async function logoutAt(client, op) {
  const res = await client.follow(`${RP}/logout`);
  if (op !== nodeop) return res;
  // oidc-provider asks for confirmation with a plain form.
  assert.match(res.final.body, /<form/);
  const confirmed = await client.submitForm(res.final);
  return { hops: [...res.hops, ...confirmed.hops], final: confirmed.final };
}

for (const opName of ['pyop', 'oidc-provider']) {
  for (const method of ['client_secret_basic', 'client_secret_post', 'none']) {
    test(`${opName} / ${method}: login, session reuse, identity to origin, RP-initiated logout`, async () => {
      const op = ops()[opName];
      await withWorker(startWorker, withOrigin(rpOptions(op, method)), async (w) => {
        const c = browser(w);
        c.setCookie(RP, 'site_pref=dark');
        const { hops, final, callback } = await login(c);

        // 1. The redirect to the provider: code flow with PKCE S256, state and nonce.
        const auth = new URL(hops[0].location);
        assert.equal(hops[0].status, 302);
        assert.ok(auth.href.startsWith(op.url), auth.href);
        assert.equal(auth.searchParams.get('response_type'), 'code');
        assert.equal(auth.searchParams.get('client_id'), CLIENTS[method].client_id);
        assert.equal(auth.searchParams.get('redirect_uri'), `${RP}/redirect_uri`);
        assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
        assert.match(auth.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
        assert.match(auth.searchParams.get('state'), /^[A-Za-z0-9_-]{43}$/);
        assert.match(auth.searchParams.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
        assert.equal(auth.searchParams.get('scope'), 'openid email profile');
        assert.ok(callback, 'the provider sent the browser back to the callback');
        assert.equal(callback.status, 302);
        assert.equal(callback.location, `${RP}/private/page?x=1&y=%C3%A9`);

        // 2. The origin got the request with identity and without our cookies.
        assert.equal(final.status, 200, final.body);
        const seen = JSON.parse(final.body);
        assert.equal(seen.url, '/private/page?x=1&y=%C3%A9');
        assert.equal(seen.headers['x-auth-email'], 'alice@example.com');
        assert.equal(seen.headers['x-auth-name'], 'Alice Example');
        assert.ok(seen.headers['x-auth-subject']?.length > 0);
        assert.equal(seen.headers.cookie, 'site_pref=dark');

        // 3. Session cookie attributes.
        const session = sessionCookies(c);
        assert.ok(session.length >= 1);
        assert.ok(session.every((s) => s.httpOnly && s.sameSite === 'lax' && !s.secure && s.path === '/'));

        // 4. The next request is served from the session: no redirect, identity present,
        //    client-sent identity headers replaced.
        const next = await c.request(`${RP}/other`, { headers: { 'x-auth-email': 'mallory@evil.example', 'X-Auth-Subject': 'root' } });
        assert.equal(next.status, 200);
        const seen2 = JSON.parse(next.body);
        assert.equal(seen2.headers['x-auth-email'], 'alice@example.com');
        assert.equal(seen2.headers['x-auth-subject'], seen.headers['x-auth-subject']);

        // 5. Logout: RP-initiated at the provider, back to the logged-out page.
        const out = await logoutAt(c, op);
        const toOp = out.hops.find((h) => h.location?.startsWith(op.url));
        assert.ok(toOp, `logout went to the provider: ${JSON.stringify(out.hops)}`);
        const endSession = new URL(toOp.location);
        assert.ok(endSession.searchParams.get('id_token_hint'));
        assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${RP}/logged-out`);
        assert.equal(endSession.searchParams.get('state'), null, 'no state that nothing would check');
        assert.equal(out.final.url.split('?')[0], `${RP}/logged-out`);
        assert.equal(out.final.status, 200);
        assert.match(out.final.body, /signed out/i);
        assert.equal(sessionCookies(c).length, 0);

        // 6. Logged out: a navigation goes to the provider again.
        const after = await c.request(`${RP}/private/page`);
        assert.equal(after.status, 302);
        assert.ok(after.location.startsWith(op.url));
      });
    });
  }
}

describe('configuration', () => {
  test('static provider metadata (no discovery)', async () => {
    const doc = await (await fetch(`${pyop.url}/.well-known/openid-configuration`)).json();
    const metadata = {
      authorization_endpoint: doc.authorization_endpoint,
      token_endpoint: doc.token_endpoint,
      userinfo_endpoint: doc.userinfo_endpoint,
      jwks_uri: doc.jwks_uri,
      end_session_endpoint: doc.end_session_endpoint,
    };
    await withWorker(startWorker, withOrigin(rpOptions(pyop, 'client_secret_basic', { provider: { metadata } })), async (w) => {
      const c = browser(w);
      const { final } = await login(c);
      assert.equal(final.status, 200, final.body);
      assert.equal(JSON.parse(final.body).headers['x-auth-email'], 'alice@example.com');
    });
  });

  test('a discovered issuer that differs from the configured one is refused', async () => {
    const opts = rpOptions(nodeop, 'client_secret_basic', { provider: { issuer: `${nodeop.url}/` } });
    await withWorker(startWorker, withOrigin(opts), async (w) => {
      const c = browser(w);
      const res = await c.request(`${RP}/private`);
      assert.equal(res.status, 502);
      assert.match(res.body, /issuer/);
      assert.equal(sessionCookies(c).length, 0);
    });
  });

  test('an invalid configuration: a generic 500 page for visitors, the key and the fix in the log', async () => {
    const opts = rpOptions(nodeop, 'client_secret_basic', { provider: { scope: 'email profile' } });
    await withWorker(startWorker, opts, async (w) => {
      const res = await browser(w).request(`${RP}/`);
      assert.equal(res.status, 500);
      assert.match(res.body, /not configured correctly/);
      assert.doesNotMatch(res.body, /providers\.main|scope|openid/);
      await waitFor(() => /providers\.main\.scope/.test(w.logs()) && /add `openid`/.test(w.logs()), w.logs);
    });
    await withWorker(startWorker, { ...rpOptions(nodeop, 'client_secret_basic'), secrets: {} }, async (w) => {
      const res = await browser(w).request(`${RP}/`);
      assert.equal(res.status, 500);
      assert.doesNotMatch(res.body, /CLIENT_SECRET|wrangler secret/);
      await waitFor(() => /CLIENT_SECRET/.test(w.logs()) && /wrangler secret put/.test(w.logs()), w.logs);
    });
  });

  test('the static assets binding serves the protected site; public paths need no login', async () => {
    const opts = rpOptions(nodeop, 'client_secret_basic', { config: { public_paths: ['/public/'] } });
    await withWorker(startWorker, { ...opts, assets: new URL('../../demo/site', import.meta.url).pathname }, async (w) => {
      const c = browser(w);
      const pub = await c.request(`${RP}/public/`);
      assert.equal(pub.status, 200);
      assert.match(pub.body, /Anyone can read this page/);
      const { final } = await login(c, '/');
      assert.equal(final.status, 200);
      assert.match(final.body, /only served after an OpenID Connect login/);
      const docs = await c.request(`${RP}/docs/`);
      assert.equal(docs.status, 200);
      assert.match(docs.body, /Still signed in/);
    });
  });
});

describe('refusals', () => {
  test('fetch/XHR without a session gets 401 JSON, not a redirect', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      const before = echo.requests.length;
      const res = await c.request(`${RP}/api/items`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
      assert.equal(res.status, 401);
      const body = JSON.parse(res.body);
      assert.equal(body.error, 'login_required');
      assert.equal(body.login_url, '/login?return_to=%2Fapi%2Fitems');
      // Without a body: a body the worker does not read breaks miniflare's connection for the
      // request after it (a harness artifact); the form below, with one, comes last.
      const post = await c.request(`${RP}/form`, { method: 'POST', headers: { 'sec-fetch-mode': 'cors', accept: 'application/json' } });
      assert.equal(post.status, 401);
      // A form the page posts is a navigation: a login (issue 13; its body is not kept).
      const form = await c.request(`${RP}/form`, { method: 'POST', body: 'a=1', headers: { 'sec-fetch-mode': 'navigate' } });
      assert.equal(form.status, 302);
      assert.ok(form.location.startsWith(nodeop.url), form.location);
      assert.equal(echo.requests.length, before, 'nothing reached the origin');
    });
  });

  test('a tampered session cookie is refused and cleared', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      await login(c);
      const [cookie] = sessionCookies(c);
      const v = cookie.value;
      const i = Math.floor(v.length / 2);
      const flipped = v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1);
      c.setCookie(RP, `${cookie.name}=${flipped}; Path=/`);
      const before = echo.requests.length;
      const api = await c.request(`${RP}/api`, { headers: { 'sec-fetch-mode': 'cors', accept: 'application/json' } });
      assert.equal(api.status, 401);
      c.setCookie(RP, `${cookie.name}=${flipped}; Path=/`);
      const nav = await c.request(`${RP}/private`);
      assert.equal(nav.status, 302);
      assert.ok(nav.location.startsWith(nodeop.url));
      assert.ok(nav.setCookies.some((s) => s.startsWith(`${cookie.name}=;`) && /Max-Age=0/.test(s)), nav.setCookies.join('\n'));
      assert.equal(echo.requests.length, before, 'nothing reached the origin');
    });
  });

  test('a replayed state is refused, even with a captured pending-login cookie', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      // Capture the pending-login cookie on its way to the callback (what an attacker who
      // stole it would hold).
      let captured = null;
      const realFetch = c.rpFetch;
      c.rpFetch = (url, init) => {
        if (url.startsWith(`${RP}/redirect_uri`)) captured ??= init.headers.cookie;
        return realFetch(url, init);
      };
      const { final, callback } = await login(c);
      assert.equal(final.status, 200);
      assert.match(captured, /edge_oidc_s\./);
      // The browser itself no longer has it.
      const again = await c.request(callback.url);
      assert.equal(again.status, 400);
      assert.match(again.body, /another browser/);
      // The captured cookie: the session record marks the state as used.
      const replay = await browser(w).request(callback.url, { headers: { cookie: captured } });
      assert.equal(replay.status, 400);
      assert.match(replay.body, /expired or was already used/);
    });
  });

  test('a callback without (or with another browser\'s) login cookie is refused and does not burn the login', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      let held = null;
      const victim = browser(w);
      const realFetch = victim.rpFetch;
      victim.rpFetch = (url, init) => {
        if (url.startsWith(`${RP}/redirect_uri`) && !held) {
          held = url;
          return new Response('held by the test', { status: 200 });
        }
        return realFetch(url, init);
      };
      await victim.follow(`${RP}/private`);
      assert.ok(held, 'the provider redirected to the callback');

      const noCookie = browser(w);
      const r1 = await noCookie.request(held);
      assert.equal(r1.status, 400);
      assert.match(r1.body, /another browser|cookie is missing/);

      const attacker = browser(w);
      await attacker.request(`${RP}/private`); // gets its own login cookie
      const r2 = await attacker.request(held);
      assert.equal(r2.status, 400);
      assert.equal(sessionCookies(attacker).length, 0);

      const ok = await victim.follow(held);
      assert.equal(ok.final.status, 200, `the real browser can still finish its login: ${ok.final.body}`);
    });
  });

  test('concurrent logins in several tabs each get their own pending-login cookie and all complete', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      const starts = [];
      for (const p of ['/a', '/b', '/c']) starts.push(await c.request(RP + p));
      const pending = () => [...c.jar.values()].filter((k) => k.name.startsWith('edge_oidc_s.'));
      assert.equal(pending().length, 3);
      // Finish the middle tab's login after the others started, then the others.
      for (const [i, path] of [[1, '/b'], [0, '/a'], [2, '/c']]) {
        const { final } = await c.follow(starts[i].location);
        assert.equal(final.status, 200, final.body);
        assert.equal(JSON.parse(final.body).url, path);
      }
      assert.equal(pending().length, 0, 'each callback removed its own pending login');
    });
  });

  test('allow-lists: emails and domains; anyone else gets 403 and no session', async () => {
    for (const [op, config] of [
      [pyop, { allowed_emails: ['alice@example.com'] }],
      [nodeop, { allowed_email_domains: ['example.com'] }],
    ]) {
      await withWorker(startWorker, withOrigin(rpOptions(op, 'client_secret_basic', { config })), async (w) => {
        const bob = browser(w);
        const denied = await bob.follow(`${RP}/login?return_to=/private&login_hint=bob`);
        assert.equal(denied.final.status, 403, denied.final.body);
        assert.match(denied.final.body, /not allowed/);
        assert.match(denied.final.body, /bob@other\.example/);
        assert.equal(sessionCookies(bob).length, 0);
        const alice = browser(w);
        const allowed = await alice.follow(`${RP}/login?return_to=/private&login_hint=alice`);
        assert.equal(allowed.final.status, 200);
      });
    }
  });

  test('the login endpoint refuses open redirects', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/%2F%2Fevil.example', '/%0d%0aSet-Cookie:x=1']) {
        const res = await c.request(`${RP}/login?return_to=${encodeURIComponent(bad)}`);
        assert.equal(res.status, 400, bad);
      }
    });
  });

  test('an unreachable provider gives a 502 page, and the worker keeps serving', async () => {
    const opts = rpOptions({ url: 'http://127.0.0.1:9' }, 'none', { config: { public_paths: ['/public/'] } });
    await withWorker(startWorker, withOrigin(opts), async (w) => {
      const c = browser(w);
      const res = await c.request(`${RP}/private`);
      assert.equal(res.status, 502);
      assert.match(res.body, /could not be reached/);
      const pub = await c.request(`${RP}/public/x`);
      assert.equal(pub.status, 200);
    });
  });

  test('the provider\'s error response is shown with its description', async () => {
    await withWorker(startWorker, withOrigin(rpOptions(nodeop)), async (w) => {
      const c = browser(w);
      const start = await c.request(`${RP}/private`);
      const state = new URL(start.location).searchParams.get('state');
      const res = await c.request(`${RP}/redirect_uri?error=access_denied&error_description=${encodeURIComponent('The user <said> no')}&state=${state}&iss=${encodeURIComponent(nodeop.url)}`);
      assert.equal(res.status, 403);
      assert.match(res.body, /access_denied/);
      assert.match(res.body, /The user &lt;said&gt; no/);
    });
  });
});
