// End-to-end: sessions that follow the provider (issue 12), with the built worker in workerd
// against real providers on 127.0.0.1: refresh by refresh token (node oidc-provider with
// rotation: a second redemption of a token is refused and revokes the grant, so any double
// refresh shows), 30 concurrent requests on one and on two workerd instances sharing KV, a
// refresh token revoked at the provider, claims updated at a refresh, silent refresh
// (`prompt=none`) and its `login_required`, and pyOP's refresh tokens.
// Run: node --test tests/e2e/sessions.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './lib/client.mjs';
import { startNodeOp, startPyop, startEchoOrigin } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { RP, opConfig, rpOptions, browser, withWorker, sessionCookies } from './lib/fixture.mjs';

const INTERVAL = 2; // session_refresh_interval_secs (the smallest allowed)
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const due = () => sleep(INTERVAL * 1000 + 1100); // the cookie counts whole seconds

let rotating; // oidc-provider, refresh tokens rotated at every use
let silent; // oidc-provider without refresh tokens
let pyop;
let echo;

before(async () => {
  [rotating, silent, pyop, echo] = await Promise.all([
    startNodeOp({ ...opConfig(), rotate_refresh_tokens: true }),
    startNodeOp({ ...opConfig(), refresh_tokens: false }),
    startPyop(opConfig()),
    startEchoOrigin(),
  ]);
});

after(async () => {
  await Promise.all([rotating?.stop(), silent?.stop(), pyop?.stop(), echo?.stop()]);
});

function options(op, provider = {}, extra = {}) {
  const o = rpOptions(op, 'client_secret_basic', { provider: { session_refresh_interval_secs: INTERVAL, ...provider } });
  return { ...o, ...extra, config: { origin: echo.url, ...o.config }, secrets: { ...o.secrets, ...extra.secrets } };
}

async function stats(op) {
  return (await fetch(`${op.url}/test/stats`)).json();
}

async function setName(op, name) {
  const res = await fetch(`${op.url}/test/users/alice`, { method: 'POST', body: JSON.stringify({ name }) });
  assert.equal(res.status, 204);
}

async function login(c, path = '/private/page') {
  const { final } = await c.follow(RP + path);
  assert.equal(final.status, 200, final.body);
  return JSON.parse(final.body);
}

/** The user logs out at the provider itself (not through this site): the grant is revoked. */
async function logoutAtProvider(c, op) {
  const page = await c.follow(`${op.url}/session/end`);
  const done = await c.submitForm(page.final, { logout: 'yes' });
  assert.equal(done.final.status, 200, done.final.body);
}

/** `n` API calls at once; every answer must be the origin's. */
async function burst(c, n) {
  const all = await Promise.all(Array.from({ length: n }, (_, i) => c.request(`${RP}/api/item/${i}`, { headers: API })));
  for (const r of all) assert.equal(r.status, 200, `${r.status} ${r.body}`);
  return all.map((r) => ({ seen: JSON.parse(r.body), setCookies: r.setCookies }));
}

test('oidc-provider with rotation: 30 concurrent requests, one refresh, claims updated, lifetime kept', async () => {
  await withWorker(startWorker, options(rotating), async (w) => {
    const c = browser(w);
    assert.equal((await login(c)).headers['x-auth-name'], 'Alice Example');
    const cookie = sessionCookies(c).map((s) => s.value).join('');
    assert.ok(cookie.length + 'edge_oidc='.length <= 400, `the session cookie is ${cookie.length} bytes`);
    console.log(`# session cookie with refresh (d) and sid: ${cookie.length + 'edge_oidc='.length} bytes`);
    const before = await stats(rotating);
    // Not due yet: no refresh, no new cookie.
    const quiet = await burst(c, 3);
    assert.ok(quiet.every((r) => r.setCookies.length === 0));

    await setName(rotating, 'Alice Renamed');
    await due();
    const started = Date.now();
    const answers = await burst(c, 30);
    const took = Date.now() - started;
    const after = await stats(rotating);
    assert.equal(after.refreshes - before.refreshes, 1, 'one refresh for 30 concurrent requests');
    assert.equal(after.refresh_errors - before.refresh_errors, 0, 'no second redemption of the rotated token');
    assert.ok(answers.every((a) => a.seen.headers['x-auth-name'] === 'Alice Renamed'), 'every answer has the new claims');
    const cookies = new Set(answers.flatMap((a) => a.setCookies.map((s) => s.split(';')[0])));
    assert.equal(cookies.size, 1, 'one new cookie for all of them');
    console.log(`# 30 concurrent requests with a due session: ${took} ms in all (one refresh)`);

    // Next requests: the new cookie, nothing due, nothing set.
    const next = await burst(c, 2);
    assert.ok(next.every((r) => r.setCookies.length === 0));
    assert.equal((await stats(rotating)).refreshes, after.refreshes);
    await setName(rotating, 'Alice Example');
  });
});

test('two workerd instances sharing KV: one refresh for a burst split across them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-oidc-kv-'));
  const shared = { kvPersist: dir, secrets: { COOKIE_KEYS: cookieKey() } };
  const a = await startWorker(options(rotating, {}, shared));
  const b = await startWorker(options(rotating, {}, shared));
  try {
    let n = 0;
    const c = new Client({ rpOrigin: RP, rpFetch: (u, i) => ((n++ % 2) ? b : a).fetch(u, i) });
    await login(c);
    const before = await stats(rotating);
    await due();
    const answers = await burst(c, 30);
    const after = await stats(rotating);
    assert.equal(after.refreshes - before.refreshes, 1, 'one refresh across both instances');
    assert.equal(after.refresh_errors - before.refresh_errors, 0);
    assert.ok(answers.every((x) => x.setCookies.length === 1), 'each answer carries the refreshed session');
    // Both instances accept the new cookie at once.
    const next = await burst(c, 4);
    assert.ok(next.every((r) => r.setCookies.length === 0));
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a refresh token revoked at the provider ends the session: 401 for API calls, a login for navigations', async () => {
  await withWorker(startWorker, options(rotating), async (w) => {
    const c = browser(w);
    await login(c);
    await logoutAtProvider(c, rotating);
    await due();
    const api = await c.request(`${RP}/api/item`, { headers: API });
    assert.equal(api.status, 401, api.body);
    assert.equal(JSON.parse(api.body).error, 'login_required');
    const nav = await c.request(`${RP}/private/page`);
    assert.equal(nav.status, 302);
    assert.ok(nav.location.startsWith(`${rotating.url}/auth?`), nav.location);
  });
});

test('no refresh token: API calls are served, a navigation refreshes with prompt=none; login_required leads to one login', async () => {
  await withWorker(startWorker, options(silent), async (w) => {
    const c = browser(w);
    await login(c);
    await due();
    const api = await c.request(`${RP}/api/item`, { headers: API });
    assert.equal(api.status, 200, 'served with the current session');
    assert.equal(api.setCookies.length, 0);

    const old = sessionCookies(c).map((s) => s.value).join('');
    const { hops, final } = await c.follow(`${RP}/private/page`);
    assert.equal(final.status, 200, final.body);
    const auth = new URL(hops[0].location);
    assert.equal(auth.searchParams.get('prompt'), 'none');
    assert.ok(auth.searchParams.get('id_token_hint'), 'the ID token as hint');
    assert.notEqual(sessionCookies(c).map((s) => s.value).join(''), old, 'the session was sealed again');

    // Logged out at the provider: the silent request gets login_required, then one login.
    await logoutAtProvider(c, silent);
    await due();
    const again = await c.follow(`${RP}/private/page`);
    assert.equal(again.final.status, 200, again.final.body);
    const authorizations = again.hops.filter((h) => h.location?.startsWith(`${silent.url}/auth?`));
    const prompts = authorizations.map((h) => new URL(h.location).searchParams.get('prompt'));
    assert.deepEqual(prompts, ['none', null], `one silent attempt, then one interactive login: ${again.hops.map((h) => h.url).join(' -> ')}`);
  });
});

test('pyOP: a refresh token renews the session in the back channel', async () => {
  await withWorker(startWorker, options(pyop), async (w) => {
    const c = browser(w);
    await login(c);
    const before = (await stats(pyop)).refreshes;
    let started = Date.now();
    await burst(c, 1);
    const plain = Date.now() - started;
    await due();
    started = Date.now();
    const answers = await burst(c, 1);
    const refreshing = Date.now() - started;
    assert.ok(answers.every((a) => a.setCookies.length === 1), 'the session was sealed again');
    assert.equal((await stats(pyop)).refreshes - before, 1, 'one refresh token grant');
    console.log(`# a request that runs a refresh: ${refreshing} ms (one that does not: ${plain} ms)`);
    const next = await burst(c, 2);
    assert.ok(next.every((r) => r.setCookies.length === 0));
  });
});
