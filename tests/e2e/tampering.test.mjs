// Tampering, end to end: what a visitor (or an attacker holding a browser) can change on their
// side: session cookies, login state, the callback, return URLs, identity headers, sizes. Each is
// refused with a clear 4xx and no session. The worker runs in workerd; the provider is the
// fault-injecting OP (tests/e2e/lib/fault_op.mjs), healthy here except where a case says.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoOrigin } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { RP, sessionCookies, waitFor } from './lib/fixture.mjs';
import {
  startFaultOp, workerOptions, loginAt, rawBrowser, rawFetch, SUBJECT, USER,
} from './lib/fault_op.mjs';

let op;
let echo;
let worker;
let single; // a worker with one provider: the gate starts its login directly
const t = {};
const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
const noIss = {
  discovery: (doc) => ({ ...doc, authorization_response_iss_parameter_supported: false }),
  authorize: (p) => without(p, 'iss'),
};
const KEY = cookieKey();

before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  t.main = op.tenant('main');
  // A session of about 6 KB sealed: two chunks.
  // The identity cookie holds the name (tokens and UserInfo go to KV): a long name chunks it.
  t.big = op.tenant('big', { idToken: { claims: (c) => ({ ...c, name: 'b'.repeat(5000) }) } });
  // A session too large for any browser to send back.
  t.huge = op.tenant('huge', { idToken: { claims: (c) => ({ ...c, name: 'h'.repeat(14000) }) } });
  t.alpha = op.tenant('alpha');
  t.beta = op.tenant('beta');
  t.alphaNoIss = op.tenant('alpha-noiss', noIss);
  t.betaNoIss = op.tenant('beta-noiss', noIss);
  worker = await startWorker(workerOptions(Object.values(t), {
    origin: echo.url,
    config: { public_paths: ['/public/'] },
    secrets: { COOKIE_KEYS: KEY },
  }));
  single = await startWorker(workerOptions([t.main], { origin: echo.url }));
});

after(async () => {
  await Promise.all([worker?.stop(), single?.stop()]);
  await Promise.all([op?.stop(), echo?.stop()]);
});

/** A browser signed in at `provider` on `w`; returns it with its session cookies. */
async function signedIn(w = worker, provider = 'main') {
  const client = rawBrowser(w);
  const { final } = await loginAt(client, RP, provider);
  assert.equal(final.status, 200, final.body.slice(0, 500));
  return { client, cookies: sessionCookies(client) };
}

/** Replaces the browser's session cookies with `pairs` ([name, value]). */
function setSession(client, pairs) {
  for (const c of sessionCookies(client)) client.deleteCookie(c.name, RP);
  for (const [name, value] of pairs) client.setCookie(RP, `${name}=${value}; Path=/`);
}

/** The session is refused: fetch gets 401 and the session cookies the browser held are cleared,
 * a navigation starts a login, and nothing reaches the origin. */
async function assertNoSession(client, what) {
  const before = echo.requests.length;
  const held = sessionCookies(client).map((c) => c.name);
  const api = await client.request(`${RP}/api/me`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
  assert.equal(api.status, 401, `${what}: fetch gets 401`);
  for (const name of held) {
    assert.ok(api.setCookies.some((s) => s.startsWith(`${name}=;`) && /Max-Age=0/.test(s)), `${what}: ${name} is cleared`);
  }
  assert.equal(sessionCookies(client).length, 0, `${what}: no session cookie left`);
  const nav = await client.request(`${RP}/private`);
  assert.equal(nav.status, 302, `${what}: a navigation starts a login`);
  // At the provider when the worker has one, else at the chooser.
  assert.ok(nav.location.startsWith(`${op.url}/`) || nav.location === `${RP}/login?return_to=%2Fprivate`, nav.location);
  assert.equal(echo.requests.length, before, `${what}: nothing reached the origin`);
}

/** The session works: the origin gets the request with the user's identity. */
async function assertSession(client, what) {
  const res = await client.request(`${RP}/private`);
  assert.equal(res.status, 200, `${what}: ${res.body.slice(0, 300)}`);
  assert.equal(JSON.parse(res.body).headers['x-auth-subject'], SUBJECT);
}

/** Flips bit 0 of byte `i` (negative: from the end) of a base64url value. */
function flip(value, i) {
  const bytes = Buffer.from(value, 'base64url');
  const at = i < 0 ? bytes.length + i : i;
  bytes[at] ^= 0x01;
  return bytes.toString('base64url');
}

/** A 4xx page or JSON with no session cookie set. */
function assertRefusal(res, status, reason, what) {
  assert.equal(res.status, status, `${what}: ${res.body.slice(0, 300)}`);
  if (reason) assert.match(res.body, reason, what);
  assert.ok(!res.setCookies.some((s) => /^edge_oidc(\.\d+)?=[^;]/.test(s)), `${what}: no session cookie set`);
}

describe('session cookie', () => {
  test('a bit flipped in any part of the sealed value (version, key id, nonce, ciphertext, tag) is refused', async () => {
    const { client, cookies } = await signedIn();
    assert.equal(cookies.length, 1);
    const [{ name, value }] = cookies;
    const len = Buffer.from(value, 'base64url').length;
    const parts = { version: 0, 'key id': 2, nonce: 12, 'ciphertext start': 30, 'ciphertext middle': len >> 1, 'ciphertext end': -17, tag: -1 };
    for (const [part, i] of Object.entries(parts)) {
      setSession(client, [[name, value]]);
      await assertSession(client, 'the untouched cookie');
      setSession(client, [[name, flip(value, i)]]);
      await assertNoSession(client, `bit flip in the ${part}`);
    }
  });

  test('a truncated, extended, re-encoded or empty cookie is refused', async () => {
    const { client, cookies: [{ name, value }] } = await signedIn();
    const padded = Buffer.from(value, 'base64url').toString('base64');
    for (const [what, v] of Object.entries({
      'last character dropped': value.slice(0, -1),
      'tag dropped': Buffer.from(value, 'base64url').subarray(0, -16).toString('base64url'),
      'first half only': value.slice(0, value.length >> 1),
      'header only': value.slice(0, 39),
      'one character added': `${value}A`,
      'standard base64 with padding': padded,
      empty: '',
      'quoted garbage': '"not-a-session"',
    })) {
      setSession(client, [[name, v]]);
      await assertNoSession(client, what);
    }
  });

  test('chunks missing, swapped, spliced from another session, or extra are refused', async () => {
    const { client, cookies } = await signedIn(worker, 'big');
    const chunks = cookies.map((c) => [c.name, c.value]).sort();
    assert.deepEqual(chunks.map(([n]) => n), ['edge_oidc.0', 'edge_oidc.1']);
    const { cookies: other } = await signedIn(worker, 'big');
    const otherChunk = other.find((c) => c.name === 'edge_oidc.1').value;
    const [[n0, c0], [n1, c1]] = chunks;
    const cases = {
      'the last chunk missing': [[n0, c0]],
      'chunk 0 missing': [[n1, c1]],
      'chunks swapped': [[n0, c1], [n1, c0]],
      'chunk 1 from another session of the same user': [[n0, c0], [n1, otherChunk]],
      'an extra chunk': [[n0, c0], [n1, c1], ['edge_oidc.2', c1]],
      'chunk 0 under the single-cookie name, chunk 1 kept': [['edge_oidc', c0], [n1, c1]],
    };
    for (const [what, pairs] of Object.entries(cases)) {
      setSession(client, chunks);
      await assertSession(client, 'the untouched chunks');
      setSession(client, pairs);
      await assertNoSession(client, what);
    }
  });

  test('key rotation: a cookie sealed with a retired key is refused, one sealed with a kept old key is accepted', async () => {
    const old = cookieKey();
    const next = cookieKey();
    const opts = (keys) => workerOptions([t.main], { origin: echo.url, secrets: { COOKIE_KEYS: keys } });
    let sealed;
    const w1 = await startWorker(opts(old));
    try {
      sealed = (await signedIn(w1)).cookies.map((c) => [c.name, c.value]);
    } finally {
      await w1.stop();
    }
    // Rotation in progress: the new key seals, the old one still opens.
    const w2 = await startWorker(opts(`${next},${old}`));
    try {
      const client = rawBrowser(w2);
      setSession(client, sealed);
      await assertSession(client, 'old key still listed');
    } finally {
      await w2.stop();
    }
    // Rotation done: the old key is retired.
    const w3 = await startWorker(opts(next));
    try {
      const client = rawBrowser(w3);
      setSession(client, sealed);
      await assertNoSession(client, 'old key retired');
    } finally {
      await w3.stop();
    }
  });

  test('a session sealed by another deployment (another key) is refused', async () => {
    const w = await startWorker(workerOptions([t.main], { origin: echo.url, secrets: { COOKIE_KEYS: cookieKey() } }));
    let foreign;
    try {
      foreign = (await signedIn(w)).cookies.map((c) => [c.name, c.value]);
    } finally {
      await w.stop();
    }
    const client = rawBrowser(worker);
    setSession(client, foreign);
    await assertNoSession(client, 'foreign key');
  });
});

describe('login state and the callback', () => {
  /** Starts a login at `provider` and returns the OP's redirect back to the callback, unfollowed. */
  async function authorizationResponse(client, provider) {
    const start = await client.request(`${RP}/login?provider=${provider}&return_to=/private`);
    assert.equal(start.status, 302);
    const back = await client.request(start.location);
    assert.equal(back.status, 302);
    assert.ok(back.location.startsWith(`${RP}/redirect_uri?`), back.location);
    return new URL(back.location);
  }

  test('a state replayed after a successful login is refused, and the code is not redeemed again', async () => {
    const client = rawBrowser(worker);
    const { callback, final } = await loginAt(client, RP, 'main');
    assert.equal(final.status, 200);
    const tokens = t.main.hits.token;
    const fresh = rawBrowser(worker);
    for (const c of [client, fresh]) {
      const replay = await c.request(callback.url);
      assertRefusal(replay, 400, /expired or was already used|another browser/, 'replay');
    }
    assert.equal(t.main.hits.token, tokens, 'the token endpoint was not called again');
  });

  test('a callback without the login cookie, or with another login\'s, is refused and does not burn the login', async () => {
    const victim = rawBrowser(worker);
    const callback = await authorizationResponse(victim, 'main');
    const tokens = t.main.hits.token;

    const noCookie = rawBrowser(worker);
    assertRefusal(await noCookie.request(callback.href), 400, /another browser or its cookie is missing/, 'no login cookie');

    const attacker = rawBrowser(worker);
    await authorizationResponse(attacker, 'main'); // a login cookie of its own
    assertRefusal(await attacker.request(callback.href), 400, /another browser/, 'another login\'s cookie');
    await assertNoSession(attacker, 'attacker');
    assert.equal(t.main.hits.token, tokens, 'no code was redeemed');

    const { final } = await victim.follow(callback.href);
    assert.equal(final.status, 200, 'the real browser still completes its login');
  });

  test('a code from one provider delivered to another provider\'s callback is refused (RFC 9207 iss)', async () => {
    const client = rawBrowser(worker);
    const fromAlpha = await authorizationResponse(client, 'alpha');
    const fromBeta = await authorizationResponse(client, 'beta');
    const mixed = new URL(fromAlpha);
    mixed.searchParams.set('state', fromBeta.searchParams.get('state'));
    const res = await client.request(mixed.href);
    assertRefusal(res, 400, /unexpected issuer/, 'alpha\'s code with beta\'s state');
    assert.equal(t.alpha.hits.token + t.beta.hits.token, 0, 'no token endpoint saw the code');
    await assertNoSession(client, 'mix-up');
  });

  test('without RFC 9207 iss, a mixed-up code goes only to the provider the state names, which refuses it (PKCE binds it)', async () => {
    const client = rawBrowser(worker);
    const fromAlpha = await authorizationResponse(client, 'alpha-noiss');
    const fromBeta = await authorizationResponse(client, 'beta-noiss');
    const mixed = new URL(fromAlpha);
    mixed.searchParams.set('state', fromBeta.searchParams.get('state'));
    const res = await client.request(mixed.href);
    // The provider's refusal of the code (invalid_grant) is reported as an upstream failure.
    assertRefusal(res, 502, /invalid_grant/, 'alpha\'s code at beta');
    assert.equal(t.alphaNoIss.hits.token, 0, 'alpha never saw a token request');
    assert.equal(t.betaNoIss.requests.token.at(-1).code, fromAlpha.searchParams.get('code'));
    await assertNoSession(client, 'mix-up without iss');
    // Alpha's own login was not burnt by the attempt.
    const { final } = await client.follow(fromAlpha.href);
    assert.equal(final.status, 200);
  });

  test('a code answer posted to a query login, or with repeated parameters, is refused', async () => {
    const client = rawBrowser(worker);
    const callback = await authorizationResponse(client, 'main');
    // The login asked for the query (response_mode query): the same answer in a POST body is
    // not what it asked for (issue 11: the mode is sealed into the pending login).
    const post = await client.request(`${RP}/redirect_uri`, { method: 'POST', body: callback.search.slice(1), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assertRefusal(post, 400, /came in a POST body, but this login asked for response_mode query/, 'form_post');
    const repeated = await client.request(`${callback.href}&state=${'x'.repeat(43)}`);
    assertRefusal(repeated, 400, /`state` is repeated/, 'repeated state');
    assert.equal(t.main.requests.token.filter((r) => r.code === callback.searchParams.get('code')).length, 0);
  });
});

describe('open redirects', () => {
  const EVIL = [
    '//evil.example', '//evil.example/path', '///evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example',
    'https://evil.example', 'http://evil.example/', 'http:evil.example', 'https:\\\\evil.example', 'HTTPS://evil.example',
    'https://rp.test.evil.example/', 'https://rp.test@evil.example/', 'http://rp.test:80@evil.example/',
    'javascript:alert(document.domain)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>alert(1)</script>',
    '/%2F%2Fevil.example', '/%2f/evil.example', '/%5Cevil.example', '%2F%2Fevil.example',
    '/\r\nLocation: https://evil.example', '/%0d%0aLocation:%20https://evil.example', '/%0aSet-Cookie:x=1',
    '/\t/evil.example', '/\x00/evil.example', 'evil.example', '',
  ];

  test('the login endpoint refuses return URLs that leave the site', async () => {
    const client = rawBrowser(worker);
    const authorizations = t.main.hits.authorize;
    for (const bad of EVIL) {
      const res = await client.request(`${RP}/login?provider=main&return_to=${encodeURIComponent(bad)}`);
      assertRefusal(res, 400, /return URL must be a path on this site/, JSON.stringify(bad));
      assert.equal(res.location, null, JSON.stringify(bad));
    }
    assert.equal(t.main.hits.authorize, authorizations, 'no login was started');
    // The control: a path on this site is fine.
    const ok = await client.request(`${RP}/login?provider=main&return_to=${encodeURIComponent('/docs?a=1')}`);
    assert.equal(ok.status, 302);
  });

  test('a protected URL whose path looks like another site returns to this site after login', async () => {
    const fetchRaw = rawFetch(single.url);
    for (const rawPath of ['//evil.example', '//evil.example/x?y=1', '/\\evil.example', '/\\/evil.example', '///evil.example']) {
      const client = rawBrowser(single);
      // Sent as is: a URL parser on the client side would normalise the backslashes.
      const start = await fetchRaw(`${RP}/`, { rawPath, headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
      assert.equal(start.status, 302, rawPath);
      for (const sc of start.headers.getSetCookie()) client.storeCookie(sc, new URL(RP));
      const { hops, final } = await client.follow(start.headers.get('location'));
      const callback = hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`));
      assert.equal(callback.status, 302, rawPath);
      assert.equal(new URL(callback.location).origin, RP, `${rawPath} -> ${callback.location}`);
      assert.equal(final.status, 200, rawPath);
    }
    // With several providers the gate sends the browser to the chooser, with the same check.
    const start = await rawFetch(worker.url)(`${RP}/`, { rawPath: '//evil.example', headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
    assert.equal(start.status, 302);
    assert.equal(start.headers.get('location'), '/login?return_to=%2F');
  });

  test('logout never redirects to a URL from the request', async () => {
    const { client } = await signedIn();
    const q = new URLSearchParams({
      post_logout_redirect_uri: 'https://evil.example/',
      return_to: '//evil.example',
      redirect_uri: 'https://evil.example/',
      state: 'attacker',
    });
    const res = await client.request(`${RP}/logout?${q}`);
    assert.equal(res.status, 302);
    const endSession = new URL(res.location);
    assert.equal(endSession.origin + endSession.pathname, `${t.main.issuer}/end_session`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${RP}/logged-out`);
    assert.notEqual(endSession.searchParams.get('state'), 'attacker');
    assert.doesNotMatch(res.location, /evil/);
    const { final } = await client.follow(res.location);
    assert.equal(final.url.split('?')[0], `${RP}/logged-out`);
    assert.equal(final.status, 200);
    assert.doesNotMatch(final.body, /evil/);
    // Without a session: the logged-out page, no redirect at all.
    const again = await client.request(`${RP}/logout?${q}`);
    assert.equal(again.status, 200);
    assert.doesNotMatch(again.body, /evil/);
  });

  test('a post-logout URL that leaves the site is refused in the configuration', async () => {
    for (const bad of ['//evil.example', '/\\evil.example', 'javascript:alert(1)']) {
      const w = await startWorker(workerOptions([t.main], { origin: echo.url, config: { post_logout_redirect_uri: bad } }));
      try {
        const res = await rawBrowser(w).request(`${RP}/logout`);
        assert.equal(res.status, 500, bad);
        assert.doesNotMatch(res.body, /post_logout_redirect_uri|evil|javascript/, bad);
        assert.equal(res.location, null);
        await waitFor(() => w.logs().includes('post_logout_redirect_uri'), w.logs);
      } finally {
        await w.stop();
      }
    }
  });
});

describe('identity headers sent by the client', () => {
  const SPOOF = {
    'X-Auth-Subject': 'root',
    'x-auth-email': 'mallory@evil.example',
    'X-AUTH-NAME': 'Mallory',
    X_Auth_Subject: 'root-underscore',
    x_auth_email: 'underscore@evil.example',
    'X-Auth_Name': 'Mixed',
  };
  const spoofedValues = Object.values(SPOOF);

  test('never reach the origin on a public path without a session', async () => {
    const client = rawBrowser(worker);
    const res = await client.request(`${RP}/public/page`, { headers: SPOOF });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body).headers;
    for (const [name, value] of Object.entries(seen)) {
      assert.ok(!spoofedValues.includes(value), `${name}: ${value} reached the origin`);
      assert.doesNotMatch(name, /^x[-_]auth[-_]/i);
    }
  });

  test('are replaced by the session\'s identity, in every spelling', async () => {
    const { client } = await signedIn();
    const res = await client.request(`${RP}/private`, { headers: SPOOF });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body).headers;
    assert.equal(seen['x-auth-subject'], SUBJECT);
    assert.equal(seen['x-auth-email'], USER.email);
    assert.equal(seen['x-auth-name'], USER.name);
    for (const [name, value] of Object.entries(seen)) {
      assert.ok(!spoofedValues.includes(value), `${name}: ${value} reached the origin`);
    }
  });

  test('do not get a request without a session to the origin', async () => {
    const client = rawBrowser(worker);
    const before = echo.requests.length;
    const res = await client.request(`${RP}/private`, { headers: SPOOF });
    assert.equal(res.status, 302);
    assert.equal(echo.requests.length, before);
  });
});

describe('oversized input', () => {
  test('a Cookie header over 16 KiB gets 431, and the sign-in cookies are cleared so the browser recovers', async () => {
    const { client } = await signedIn();
    client.setCookie(RP, `site_junk=${'j'.repeat(17 * 1024)}; Path=/`);
    const res = await client.request(`${RP}/private`);
    assertRefusal(res, 431, /too much cookie data|more cookie data/, 'big cookie header');
    assert.match(res.headers.get('content-type'), /^text\/html/);
    for (const name of ['edge_oidc', 'edge_oidc.0', 'edge_oidc.2']) {
      assert.ok(res.setCookies.some((s) => s.startsWith(`${name}=;`) && /Max-Age=0/.test(s)), `${name} is cleared`);
    }
    assert.equal(sessionCookies(client).length, 0);
    const api = await client.request(`${RP}/api`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
    assert.equal(api.status, 431);
    assert.equal(JSON.parse(api.body).error, 'request_header_too_large');
    client.deleteCookie('site_junk', RP);
    const { final } = await client.follow(`${RP}/private`);
    assert.equal(final.status, 200, 'the browser can sign in again');
  });

  test('a session too large for cookies is refused at login instead of locking the browser out', async () => {
    const client = rawBrowser(worker);
    const { final } = await loginAt(client, RP, 'huge');
    assertRefusal(final, 400, /session is too large for cookies/, 'huge session');
    assert.equal(sessionCookies(client).length, 0);
    const next = await client.request(`${RP}/private`);
    assert.equal(next.status, 302, 'the browser is not locked out');
  });

  test('an oversized callback query or return URL is refused', async () => {
    const client = rawBrowser(worker);
    const start = await client.request(`${RP}/login?provider=main&return_to=/`);
    const state = new URL(start.location).searchParams.get('state');
    const cb = await client.request(`${RP}/redirect_uri?state=${state}&code=abc&pad=${'p'.repeat(9000)}`);
    assertRefusal(cb, 400, /callback query is too long/, 'long callback query');
    const ret = await client.request(`${RP}/login?return_to=${encodeURIComponent(`/${'r'.repeat(3000)}`)}`);
    assertRefusal(ret, 400, /return URL is too long/, 'long return_to');
    await assertNoSession(client, 'oversized');
  });

  test('a protected URL with a huge query starts a login that returns to /', async () => {
    const client = rawBrowser(single);
    const { hops, final } = await client.follow(`${RP}/private?q=${'q'.repeat(6000)}`);
    const callback = hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`));
    assert.equal(callback.location, `${RP}/`);
    assert.equal(final.status, 200);
  });

  test('a 100 KB header is refused before the worker (431), and the worker keeps serving', async () => {
    const { client } = await signedIn();
    const res = await client.request(`${RP}/private`, { headers: { 'x-padding': 'x'.repeat(100_000) } });
    assertRefusal(res, 431, null, 'huge header');
    await assertSession(client, 'after the huge header');
  });
});
