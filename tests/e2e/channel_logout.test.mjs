// End-to-end: logout that reaches the edge (issue 12). Back-Channel Logout 1.0 against the
// fault-injecting OP (every logout_token claim wrong or missing, bad signatures, replay: each a
// 400 JSON answer, never cached, and no KV write) and against node oidc-provider's own end-session
// flow (a user logged out at the provider loses the edge session within the stated bound,
// measured); the gate's revocation check costs no KV read between checks.
// Run: node --test tests/e2e/channel_logout.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './lib/client.mjs';
import { startCounting, io } from './lib/counting.mjs';
import { startEchoOrigin, startNodeOp, freePort } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { RP, opConfig, rpOptions, CLIENTS } from './lib/fixture.mjs';
import { startFaultOp, workerOptions, loginAt, signJws, tamperSignature, CLIENT_ID } from './lib/fault_op.mjs';

const CHECK = 2; // revocation_check_secs
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

let op;
let echo;
let t;
let w;

before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  t = op.tenant('main', { idToken: { claims: (c) => ({ ...c, sid: 'fault-sid-1' }) } });
  w = await startCounting(workerOptions([t], {
    origin: echo.url,
    provider: { backchannel_logout: true, revocation_check_secs: CHECK },
  }));
});

after(async () => {
  await w?.stop();
  await Promise.all([op?.stop(), echo?.stop()]);
});

function claims(extra = {}) {
  return {
    iss: t.issuer, aud: CLIENT_ID, iat: now(), jti: `jti-${Math.random()}`, sid: 'fault-sid-1', events: { [EVENT]: {} }, ...extra,
  };
}

function token(payload, { header = {}, key = op.keys.rsa1, alg = 'RS256', secret } = {}) {
  return signJws({ alg, kid: key.kid, typ: 'logout+jwt', ...header }, payload, { alg, key: key.privateKey, secret });
}

async function post(body, contentType = 'application/x-www-form-urlencoded') {
  return w.fetch(`${RP}/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

const omit = (name) => { const c = claims(); delete c[name]; return c; };

test('logout_token negatives: 400 JSON, no-store, and no KV write', async () => {
  // The provider's metadata and keys are cached in KV by the first login, as always.
  const warm = await loginAt(new Client({ rpOrigin: RP, rpFetch: w.fetch }), RP, 'main');
  assert.equal(warm.final.status, 200, warm.final.body);
  const cases = {
    'iss of another provider': token(claims({ iss: 'https://other.example' })),
    'iss missing': token(omit('iss')),
    'aud wrong': token(claims({ aud: 'someone-else' })),
    'aud missing': token(omit('aud')),
    'iat missing': token(omit('iat')),
    'iat in the future': token(claims({ iat: now() + 3600 })),
    'iat too old': token(claims({ iat: now() - 7200 })),
    'exp passed': token(claims({ exp: now() - 3600 })),
    'events missing': token(omit('events')),
    'events without the back-channel member': token(claims({ events: { 'http://other/event': {} } })),
    'events member not an object': token(claims({ events: { [EVENT]: 'yes' } })),
    'neither sub nor sid': token(omit('sid')),
    'nonce present': token(claims({ nonce: 'n-1' })),
    'jti missing': token(omit('jti')),
    'typ of another token': token(claims(), { header: { typ: 'at+jwt' } }),
    'bad signature': tamperSignature(token(claims())),
    'key not the provider\'s': token(claims(), { key: op.keys.rsaOther }),
    'alg none': `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`,
    'alg HS256 keyed with the client secret': token(claims(), { alg: 'HS256', secret: 'fault-secret-0123456789' }),
    'not a JWT': 'garbage',
  };
  for (const [name, jwt] of Object.entries(cases)) {
    const res = await post(`logout_token=${encodeURIComponent(jwt)}`);
    const body = await res.text();
    assert.equal(res.status, 400, `${name}: ${body}`);
    assert.equal(res.headers.get('cache-control'), 'no-store', name);
    assert.equal(JSON.parse(body).error, 'invalid_request', name);
    assert.ok(JSON.parse(body).error_description, name);
    assert.equal(io(res).kv_put, 0, `${name}: no KV write`);
  }
  for (const [name, req] of Object.entries({
    'no body': ['', undefined],
    'JSON body': [JSON.stringify({ logout_token: 'x' }), 'application/json'],
    'repeated parameter': [`logout_token=${token(claims())}&logout_token=${token(claims())}`, undefined],
  })) {
    const res = await post(...req);
    assert.equal(res.status, 400, name);
    assert.equal(io(res).kv_put, 0, name);
  }
});

test('a valid logout token ends the session within the check interval; replays are refused', async () => {
  const c = new Client({ rpOrigin: RP, rpFetch: w.fetch });
  const { final } = await loginAt(c, RP, 'main');
  assert.equal(final.status, 200, final.body);
  // Between checks: 0 KV, no subrequest but the forwarded one.
  const quiet = await c.request(`${RP}/api/x`, { headers: API });
  assert.deepEqual([io(quiet).kv_get, io(quiet).fetch], [0, 1]);
  // Each interval: one check (one KV read: this session has a sid, the records are read at once)
  // and one new cookie, then nothing again until the next interval.
  for (let round = 1; round <= 2; round += 1) {
    await sleep((CHECK + 1) * 1000);
    const checked = await c.request(`${RP}/api/x`, { headers: API });
    assert.equal(io(checked).kv_get, 2, `round ${round}: the sid and sub records`);
    assert.equal(checked.setCookies.length, 1, `round ${round}`);
    const after = await c.request(`${RP}/api/x`, { headers: API });
    assert.deepEqual([io(after).kv_get, after.setCookies.length], [0, 0], `round ${round}`);
  }

  const jwt = token(claims());
  const res = await post(`logout_token=${encodeURIComponent(jwt)}`);
  assert.equal(res.status, 200, await res.text());
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const at = Date.now();
  const again = await post(`logout_token=${encodeURIComponent(jwt)}`);
  assert.equal(again.status, 400, 'a replayed jti');
  assert.match(JSON.parse(await again.text()).error_description, /already used/);

  let status = 200;
  let reads = 0;
  while (status === 200 && Date.now() - at < (CHECK + 3) * 1000) {
    const r = await c.request(`${RP}/api/x`, { headers: API });
    status = r.status;
    reads += io(r).kv_get;
    if (status === 200) await sleep(100);
  }
  const delay = Date.now() - at;
  assert.equal(status, 401, 'the session ended');
  assert.ok(delay <= (CHECK + 1) * 1000, `ended ${delay} ms after the logout token (bound ${CHECK} s + 1 s clock granularity)`);
  assert.ok(reads <= 2, `${reads} KV reads: one check (two records at once)`);
  console.log(`# back-channel logout to the last request served: ${delay} ms (revocation_check_secs ${CHECK}; local KV has no read cache)`);
});

test('node oidc-provider: logging out at the provider reaches the edge by back-channel logout', async () => {
  const port = await freePort();
  const rp = `http://127.0.0.1:${port}`;
  const client = { ...CLIENTS.client_secret_basic, token_endpoint_auth_method: 'client_secret_basic' };
  const nodeop = await startNodeOp({
    ...opConfig({ rp }),
    backchannel_logout: true,
    clients: [{
      ...client,
      redirect_uris: [`${rp}/redirect_uri`],
      post_logout_redirect_uris: [`${rp}/logged-out`],
      backchannel_logout_uri: `${rp}/backchannel-logout`,
      backchannel_logout_session_required: true,
    }],
  });
  const options = rpOptions(nodeop, 'client_secret_basic', { provider: { backchannel_logout: true, revocation_check_secs: CHECK } });
  const worker = await startWorker({ ...options, config: { origin: echo.url, ...options.config }, port });
  try {
    const c = new Client({ rpOrigin: rp, rpFetch: worker.fetch });
    const { final } = await c.follow(`${rp}/private/page`);
    assert.equal(final.status, 200, final.body);
    // The user signs out at the provider (not through this site).
    const page = await c.follow(`${nodeop.url}/session/end`);
    const done = await c.submitForm(page.final, { logout: 'yes' });
    assert.equal(done.final.status, 200);
    const at = Date.now();
    const stats = await (await fetch(`${nodeop.url}/test/stats`)).json();
    assert.equal(stats.backchannel, 1, `the provider delivered the logout token: ${nodeop.stderr()}`);
    let status = 200;
    while (status === 200 && Date.now() - at < (CHECK + 3) * 1000) {
      status = (await c.request(`${rp}/api/x`, { headers: API })).status;
      if (status === 200) await sleep(100);
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - at <= (CHECK + 1) * 1000, `${Date.now() - at} ms`);
  } finally {
    await worker.stop();
    await nodeop.stop();
  }
});
