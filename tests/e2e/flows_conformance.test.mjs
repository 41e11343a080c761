// The implicit and hybrid flows against the fault-injecting OP (lib/fault_op.mjs): what OpenID
// Connect Core §3.2.2 and §3.3.2–§3.3.3 require of a relying party, one fault per tenant, plus
// replays of fragment and form_post responses and a form_post that is not bound to the browser.
// Each case is one provider of one worker (provider name = tenant name), with its response_type
// and response_mode.
//
// Accepted cases end on the protected page, the session keeps the ID token the spec says (the
// front channel's for the implicit flow, the token endpoint's for the hybrid flow: the
// `id_token_hint` the worker sends at logout is compared with what the tenant issued), and
// UserInfo is called with an access token when there is one. Refused ones end on an HTML error
// page with the expected status and reason, and no session.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { RP, browser, sessionCookies } from './lib/fixture.mjs';
import { startFaultOp, workerOptions, atHash, SUBJECT } from './lib/fault_op.mjs';
import { followLogin, formFields, isRelayPage, RELAY_MARKER } from './lib/flows.mjs';

let op;
let echo;
let worker;
const tenants = {};
const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
// Keeps the token endpoint's ID token, to compare with what the session kept.
const keepIssued = (body, ctx, t) => {
  t.issued = body.id_token;
  return body;
};

const ACCEPT = [
  { id: 'id_token-form_post', type: 'id_token', mode: 'form_post', kept: 'front' },
  { id: 'id_token-token-fragment', type: 'id_token token', mode: 'fragment', kept: 'front' },
  { id: 'code-id_token-form_post', type: 'code id_token', mode: 'form_post', kept: 'token' },
  { id: 'code-token-fragment', type: 'code token', mode: 'fragment', kept: 'token' },
  { id: 'code-id_token-token-form_post', type: 'code id_token token', mode: 'form_post', kept: 'token' },
];

const REJECT = [
  {
    id: 'hybrid-c_hash-missing',
    what: 'code id_token: the front-channel ID token has no c_hash (Core §3.3.2.11)',
    type: 'code id_token',
    mode: 'form_post',
    fault: { idToken: { claims: (c, ctx) => (ctx.front ? without(c, 'c_hash') : c) } },
    status: 502,
    reason: /has no c_hash/,
  },
  {
    id: 'hybrid-c_hash-wrong',
    what: 'code id_token token: a c_hash of another code',
    type: 'code id_token token',
    mode: 'fragment',
    fault: { idToken: { claims: (c, ctx) => (ctx.front ? { ...c, c_hash: atHash('another code') } : c) } },
    status: 502,
    reason: /at_hash or c_hash does not match/,
  },
  {
    id: 'implicit-at_hash-wrong',
    what: 'id_token token: an at_hash of another access token (Core §3.2.2.9)',
    type: 'id_token token',
    mode: 'fragment',
    fault: { idToken: { claims: (c, ctx) => (ctx.front ? { ...c, at_hash: atHash('another token') } : c) } },
    status: 502,
    reason: /at_hash or c_hash does not match/,
  },
  {
    id: 'implicit-nonce-missing',
    what: 'id_token: no nonce in the implicit ID token (Core §3.2.2.11)',
    type: 'id_token',
    mode: 'form_post',
    fault: { idToken: { claims: (c) => without(c, 'nonce') } },
    status: 502,
    reason: /has no nonce/,
  },
  {
    id: 'hybrid-token-endpoint-other-sub',
    what: 'code id_token: the token endpoint\'s ID token names another sub (Core §3.3.3.6)',
    type: 'code id_token',
    mode: 'form_post',
    fault: { idToken: { claims: (c, ctx) => (ctx.front ? c : { ...c, sub: 'mallory-0001' }) } },
    status: 502,
    reason: /name different users/,
    tokenHits: 1,
  },
  {
    id: 'code-with-front-id_token',
    what: 'code (query): the response also carries an id_token',
    type: 'code',
    mode: undefined,
    fault: { authorize: (p) => ({ ...p, id_token: 'eyJhbGciOiJub25lIn0.e30.' }) },
    status: 400,
    reason: /carries `id_token`/,
  },
  {
    id: 'form_post-answered-in-query',
    what: 'a form_post login answered in the query (tokens in a URL)',
    type: 'code id_token',
    mode: 'form_post',
    // The tenant ignores response_mode and answers in the query.
    fault: { authorize: (p, q) => { q.response_mode = 'query'; return p; } },
    status: 400,
    reason: /came in the URL query, but this login asked for response_mode form_post/,
  },
];

before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  for (const c of [...ACCEPT, ...REJECT]) {
    const fault = c.fault ?? {};
    const t = op.tenant(c.id, { ...fault, token: fault.token ?? keepIssued });
    t.provider = { response_type: c.type, ...(c.mode ? { response_mode: c.mode } : {}) };
    tenants[c.id] = t;
  }
  for (const [id, type, mode] of [['replay-fragment', 'id_token token', 'fragment'], ['replay-form_post', 'code id_token', 'form_post']]) {
    tenants[id] = op.tenant(id);
    tenants[id].provider = { response_type: type, response_mode: mode };
  }
  worker = await startWorker(workerOptions(Object.values(tenants), { origin: echo.url }));
});

after(async () => {
  await worker?.stop();
  await Promise.all([op?.stop(), echo?.stop()]);
});

const login = (client, name) => followLogin(client, `${RP}/login?provider=${name}&return_to=/private`);

describe('implicit and hybrid: must accept', () => {
  for (const c of ACCEPT) {
    test(`${c.id}: ${c.type} by ${c.mode}`, async () => {
      const t = tenants[c.id];
      const client = browser(worker);
      const { final, relays } = await login(client, c.id);
      assert.equal(final.status, 200, final.body.slice(0, 600));
      const seen = JSON.parse(final.body);
      assert.equal(seen.headers['x-auth-subject'], SUBJECT);
      assert.deepEqual(relays.map((r) => r.kind), [c.mode]);
      const words = c.type.split(' ');
      const hasCode = words.includes('code');
      const hasToken = hasCode || words.includes('token');
      assert.equal(t.hits.token, hasCode ? 1 : 0);
      assert.equal(t.hits.userinfo, hasToken ? 1 : 0, 'UserInfo with the access token, when there is one');
      const auth = t.requests.authorize[0];
      assert.equal(auth.response_type, c.type);
      assert.equal(auth.code_challenge_method === 'S256', hasCode, 'PKCE where a code comes back');
      // The session keeps the right ID token: logout hands it back as id_token_hint.
      const out = await client.follow(`${RP}/logout`, { initiator: RP });
      assert.equal(out.final.url, `${RP}/logged-out`);
      const hint = t.requests.end_session[0]?.id_token_hint;
      const expected = c.kept === 'front' ? t.responses[0].id_token : t.issued;
      assert.ok(expected, 'the tenant issued it');
      assert.equal(hint, expected, `the ${c.kept === 'front' ? 'authorization' : 'token'} endpoint's ID token`);
    });
  }
});

/** An HTML error page with the status and reason, and no session. */
function assertRefused(client, final, status, reason) {
  assert.equal(final.status, status, final.body.slice(0, 800));
  assert.match(final.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(final.body, reason);
  assert.equal(sessionCookies(client).length, 0, 'no session cookie');
}

describe('implicit and hybrid: must reject, with an error page and no session', () => {
  for (const c of REJECT) {
    test(`${c.id}: ${c.what} → ${c.status}`, async () => {
      const client = browser(worker);
      const { final } = await login(client, c.id);
      assertRefused(client, final, c.status, c.reason);
      assert.equal(tenants[c.id].hits.token, c.tokenHits ?? 0, 'the code (if any) redeemed only when asked');
      const next = await client.request(`${RP}/private`);
      assert.equal(next.status, 302, 'the next navigation starts a login');
    });
  }
});

/**
 * Starts a login at `name` and lets the provider answer, stopping before the answer reaches the
 * worker: returns the pending-login cookie and the answer's parameters.
 */
async function answerOf(client, name) {
  const start = await client.request(`${RP}/login?provider=${name}&return_to=/private`);
  const state = new URL(start.location).searchParams.get('state');
  const cookie = start.setCookies.find((s) => s.includes(`_s.${state.slice(0, 12)}=`)).split(';')[0];
  const answer = await client.request(start.location, { initiator: RP });
  const params = answer.status === 302
    ? Object.fromEntries(new URLSearchParams(new URL(answer.location).hash.slice(1)))
    : formFields(answer);
  return { cookie, params, answer };
}

/** A form posted to the callback: from this site (same-origin) or from the provider's. */
function post(client, params, from) {
  return client.request(`${RP}/redirect_uri`, { form: params, initiator: from });
}

describe('replays and binding', () => {
  for (const [name, mode] of [['replay-fragment', 'fragment'], ['replay-form_post', 'form_post']]) {
    test(`a ${mode} response replayed after the login is refused; the session record is the mark`, async () => {
      const t = tenants[name];
      const client = browser(worker);
      const { cookie, params, answer } = await answerOf(client, name);
      // The answer as the browser delivers it.
      const delivered = mode === 'fragment'
        ? await followLogin(client, answer.location)
        : await (async () => {
          const relay = await post(client, params, op.url);
          assert.ok(isRelayPage(relay), 'a cross-site form_post gets the relay page');
          return followLogin(client, { url: `${RP}/redirect_uri`, form: formFields(relay), initiator: RP });
        })();
      assert.equal(delivered.final.status, 200, delivered.final.body.slice(0, 500));
      const tokenHits = t.hits.token;
      const records = (await (await worker.kv()).list({ prefix: 'session:' })).keys.length;
      // The same answer again, by a browser that still holds the pending-login cookie.
      client.setCookie(RP, `${cookie}; Path=/`);
      const replay = await post(client, { ...params, [RELAY_MARKER]: '1' }, RP);
      assert.equal(replay.status, 400, replay.body.slice(0, 400));
      assert.match(replay.body, /expired or was already used/);
      // And by another browser: no login of its own to finish.
      const other = browser(worker);
      const foreign = await post(other, { ...params, [RELAY_MARKER]: '1' }, RP);
      assert.equal(foreign.status, 400);
      assert.match(foreign.body, /started in another browser/);
      assert.equal(t.hits.token, tokenHits, 'no code redeemed again');
      assert.equal((await (await worker.kv()).list({ prefix: 'session:' })).keys.length, records, 'no second session');
    });
  }

  test('a form_post in a browser that did not start the login: relayed, then refused (no binding)', async () => {
    const t = tenants['replay-form_post'];
    const victim = browser(worker);
    const { params } = await answerOf(victim, 'replay-form_post');
    const tokenHits = t.hits.token;
    // An attacker's page posts the victim's (or its own) answer in another browser.
    const other = browser(worker);
    const relay = await post(other, params, 'http://evil.test');
    assert.ok(isRelayPage(relay), relay.body.slice(0, 300));
    assert.equal(relay.setCookies.length, 0);
    const { final } = await followLogin(other, { url: `${RP}/redirect_uri`, form: formFields(relay), initiator: RP });
    assertRefused(other, final, 400, /started in another browser/);
    assert.equal(t.hits.token, tokenHits, 'the code was not redeemed');
  });
});

/**
 * A POST that declares `length` bytes of form body and sends none: the shell must answer from
 * the declared length alone (a body it will not read, sent anyway, may meet a reset connection).
 */
function declaredOnly(path, length) {
  return new Promise((resolve, reject) => {
    const at = new URL(worker.url);
    const req = http.request({
      host: at.hostname,
      port: at.port,
      method: 'POST',
      path,
      headers: {
        host: new URL(RP).host,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': length,
        'sec-fetch-site': 'cross-site',
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode, body });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('the posted callback body', () => {
  test('larger than 16 KiB: 413 from the shell, before the core, at every spelling of the redirect path', async () => {
    for (const path of ['/redirect_uri', '/%72edirect_uri', '/redirect_uri?x=1']) {
      const res = await declaredOnly(path, 16 * 1024 + 1);
      assert.equal(res.status, 413, `${path}: ${res.body.slice(0, 300)}`);
    }
    // A body of exactly the limit is read and answered by the callback.
    const client = browser(worker);
    const body = `state=${'x'.repeat(40)}&pad=`;
    const res = await client.request(`${RP}/%72edirect_uri`, {
      method: 'POST',
      body: body + 'a'.repeat(16 * 1024 - body.length),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      initiator: RP,
    });
    assert.equal(res.status, 400, res.body.slice(0, 300));
    assert.match(res.body, /started in another browser/);
  });

  test('not a form, or a repeated parameter: a clear 400 page', async () => {
    const client = browser(worker);
    const json = await client.request(`${RP}/redirect_uri`, {
      method: 'POST', body: '{"state":"x"}', headers: { 'content-type': 'application/json', accept: 'text/html' }, initiator: op.url,
    });
    assert.equal(json.status, 400);
    assert.match(json.body, /application\/x-www-form-urlencoded/);
    const repeated = await client.request(`${RP}/redirect_uri`, {
      method: 'POST', body: 'state=a&code=b&state=c', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, initiator: op.url,
    });
    assert.equal(repeated.status, 400);
    assert.match(repeated.body, /`state` is repeated/);
    assert.match(repeated.headers.get('content-type') ?? '', /^text\/html/);
  });
});
