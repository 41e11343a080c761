// Identity the origin can verify, end to end: the built worker in workerd, a login at the fault OP,
// and a tiny origin that verifies the assertion header with an independent standard JWT library
// (npm `jose`) against the JWKS the worker publishes — also across a key rotation (two workers with
// the same cookie keys, the second with the keys switched). Token pass-through and claim→header
// mappings arrive at the origin; the client-sent copies of every configured header are stripped.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { RP, waitFor } from './lib/fixture.mjs';
import { startFaultOp, workerOptions, loginAt, rawBrowser, SUBJECT, USER } from './lib/fault_op.mjs';

const JWKS_PATH = '/.well-known/edge-oidc/jwks.json';
const HEADER = 'x-edge-oidc-assertion';

function p256() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    jwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
  };
}

/** The tiny origin: verifies the assertion with jose against the JWKS it was given (its cached
 * copy of the worker's), answers 200 with the claims or 401 with the reason. */
async function startVerifyingOrigin() {
  const state = { jwks: null, audience: 'http://rp.test', requests: [] };
  const server = createServer(async (req, res) => {
    state.requests.push({ url: req.url, headers: req.headers });
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const jwt = req.headers[HEADER];
      if (!jwt) return send(401, { error: 'no assertion' });
      const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(state.jwks), {
        issuer: 'http://rp.test',
        audience: state.audience,
        algorithms: ['ES256'],
        maxTokenAge: '10 minutes',
      });
      send(200, { payload, kid: protectedHeader.kid, headers: req.headers });
    } catch (e) {
      send(401, { error: e.code ?? e.message });
    }
  });
  server.unref();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }),
  };
}

let fop;
let origin;
const k1 = p256();
const k2 = p256();
const cookieKeys = cookieKey();

before(async () => {
  [fop, origin] = await Promise.all([startFaultOp(), startVerifyingOrigin()]);
});
after(async () => {
  await fop?.stop();
  await origin?.stop();
});

function options(t, secrets, config = {}) {
  return workerOptions([t], {
    origin: origin.url,
    secrets: { COOKIE_KEYS: cookieKeys, ...secrets },
    config: {
      assertion: { claims: ['idp'] },
      forward: {
        access_token: 'X-Access-Token',
        id_token: 'X-Id-Token',
        claim_headers: [{ claim: 'email', header: 'X-Mail' }, { claim: 'email_verified', header: 'X-Mail-Verified' }],
      },
      ...config,
    },
  });
}

async function jwksOf(worker) {
  const res = await worker.fetch(`${RP}${JWKS_PATH}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control'), /max-age=300/);
  return res.json();
}

describe('the assertion, pass-through and mappings', () => {
  let t;
  let a;
  let b;
  let browser;
  before(async () => {
    t = fop.tenant('main');
    // Worker A signs with k1 and publishes k2 ahead of the switch (rotation step 1).
    a = await startWorker(options(t, { ASSERTION_KEY: k1.pem, ASSERTION_KEY_NEXT: k2.jwk }));
    browser = rawBrowser(a);
    origin.state.jwks = await jwksOf(a); // the origin's cached copy
    const { final } = await loginAt(browser, RP, 'main');
    assert.equal(final.status, 200, final.body.slice(0, 300));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  test('the JWKS publishes both keys as public JWKs', async () => {
    const { keys } = await jwksOf(a);
    assert.equal(keys.length, 2);
    for (const k of keys) {
      assert.equal(k.kty, 'EC');
      assert.equal(k.alg, 'ES256');
      assert.equal(k.d, undefined, 'no private part');
    }
    assert.notEqual(keys[0].kid, keys[1].kid);
  });

  test('jose verifies the assertion; pass-through and mappings arrive; forged copies are stripped', async () => {
    const forged = {
      [HEADER]: 'forged', 'x_edge_oidc_assertion': 'forged', 'x-access-token': 'forged', 'x-id-token': 'forged',
      'X-MAIL': 'forged', 'x-mail-verified': 'forged',
    };
    const res = await browser.request(`${RP}/private`, { headers: forged });
    assert.equal(res.status, 200, res.body);
    const { payload, kid, headers } = JSON.parse(res.body);
    const [signing] = (await jwksOf(a)).keys;
    assert.equal(kid, signing.kid);
    assert.equal(payload.sub, SUBJECT);
    assert.equal(payload.email, USER.email);
    assert.equal(payload.name, USER.name);
    assert.equal(payload.idp, 'main');
    assert.equal(payload.aud, 'http://rp.test');
    assert.ok(payload.exp - payload.iat <= 300 && payload.exp > payload.iat);
    assert.equal(decodeProtectedHeader(headers[HEADER]).typ, 'JWT');
    assert.ok(headers['x-access-token'] && headers['x-access-token'] !== 'forged');
    const idPayload = JSON.parse(Buffer.from(headers['x-id-token'].split('.')[1], 'base64url'));
    assert.equal(idPayload.sub, SUBJECT);
    assert.equal(headers['x-mail'], USER.email);
    assert.equal(headers['x-mail-verified'], 'true');
    assert.ok(!Object.values(headers).includes('forged'), JSON.stringify(headers));
  });

  test('the assertion is reused (one signature per session per isolate), and the origin refuses a tampered one', async () => {
    const first = origin.state.requests.length;
    for (let i = 0; i < 3; i += 1) assert.equal((await browser.request(`${RP}/private?i=${i}`)).status, 200);
    const seen = new Set(origin.state.requests.slice(first).map((r) => r.headers[HEADER]));
    assert.equal(seen.size, 1, 'the same signed assertion within its lifetime');
    const [jwt] = seen;
    const [h, p, s] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    const forgedJwt = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${s}`;
    await assert.rejects(jwtVerify(forgedJwt, createLocalJWKSet(origin.state.jwks), { issuer: 'http://rp.test', audience: 'http://rp.test' }));
  });

  test('rotation: the next key signs and verifies against the JWKS the origin cached before the switch', async () => {
    // Step 2: ASSERTION_KEY = k2 (published ahead), ASSERTION_KEY_NEXT = k1 (kept as previous).
    b = await startWorker(options(t, { ASSERTION_KEY: k2.pem, ASSERTION_KEY_NEXT: k1.pem }));
    const onB = rawBrowser(b);
    onB.jar = browser.jar; // the same session cookie, on the worker with the switched keys
    const res = await onB.request(`${RP}/private`);
    assert.equal(res.status, 200, res.body);
    const { kid } = JSON.parse(res.body);
    const oldCopy = origin.state.jwks.keys.map((k) => k.kid);
    assert.equal(kid, oldCopy[1], 'signed by the key published as next before the switch');
    // And an assertion from before the switch still verifies against the new JWKS (k1 kept).
    const newJwks = await jwksOf(b);
    assert.deepEqual(newJwks.keys.map((k) => k.kid), [oldCopy[1], oldCopy[0]]);
    const before = origin.state.requests.at(-2)?.headers[HEADER];
    assert.ok(before);
    await jwtVerify(before, createLocalJWKSet(newJwks), { issuer: 'http://rp.test', audience: 'http://rp.test' });
  });

  test('an audience of its own: the origin that expects another refuses', async () => {
    const c = await startWorker(options(t, { ASSERTION_KEY: k1.pem }, { assertion: { audience: 'urn:app:one' } }));
    try {
      const onC = rawBrowser(c);
      onC.jar = browser.jar;
      let res = await onC.request(`${RP}/private`);
      assert.equal(res.status, 401, 'the origin expects http://rp.test');
      origin.state.audience = 'urn:app:one';
      res = await onC.request(`${RP}/private`);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).payload.aud, 'urn:app:one');
    } finally {
      origin.state.audience = 'http://rp.test';
      await c.stop();
    }
  });
});

describe('per rule: the assertion audience, and projected claims in the assertion and headers', () => {
  let t;
  let w;
  let browser;
  before(async () => {
    t = fop.tenant('ruled', {
      idToken: { claims: (c) => ({ ...c, realm_access: { roles: ['admin', 'staff'] } }) },
    });
    w = await startWorker(options(t, { ASSERTION_KEY: k1.pem }, {
      rules: [
        { path_prefix: '/api/', action: 'authenticated', assertion_audience: 'urn:api' },
        { path_prefix: '/', action: 'authenticated', assertion_audience: 'urn:pages' },
      ],
      assertion: { claims: ['realm_access.roles'] },
      forward: { claim_headers: [{ claim: 'realm_access.roles', header: 'X-Roles' }] },
    }));
    browser = rawBrowser(w);
    origin.state.jwks = await jwksOf(w);
    origin.state.audience = 'urn:pages';
    const { final } = await loginAt(browser, RP, 'ruled', '/page');
    assert.equal(final.status, 200, final.body.slice(0, 300));
  });
  after(async () => {
    origin.state.audience = 'http://rp.test';
    await w?.stop();
  });

  test('each rule signs for its own audience; the whole claim arrives, in the assertion and as a header', async () => {
    let res = await browser.request(`${RP}/page`, { headers: { 'x-roles': 'forged' } });
    assert.equal(res.status, 200, res.body);
    const { payload, headers } = JSON.parse(res.body);
    assert.equal(payload.aud, 'urn:pages');
    assert.deepEqual(payload['realm_access.roles'], ['admin', 'staff']);
    assert.equal(headers['x-roles'], 'admin,staff');
    origin.state.audience = 'urn:api';
    res = await browser.request(`${RP}/api/items`);
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).payload.aud, 'urn:api');
    origin.state.audience = 'urn:pages';
  });
});

test('a missing or unusable ASSERTION_KEY is a configuration error naming the secret', async () => {
  const t = fop.tenant('cfg');
  for (const key of [undefined, 'not a key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----']) {
    const w = await startWorker(options(t, key === undefined ? {} : { ASSERTION_KEY: key }));
    try {
      const res = await w.fetch(`${RP}/private`);
      assert.equal(res.status, 500);
      await waitFor(() => /ASSERTION_KEY/.test(w.logs()), () => w.logs());
      assert.doesNotMatch(await res.text(), /BEGIN|AAAA/);
    } finally {
      await w.stop();
    }
  }
});
