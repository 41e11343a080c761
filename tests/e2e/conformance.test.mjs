// OpenID Connect RP conformance, end to end: the built worker in workerd against a fault-injecting
// OP (tests/e2e/lib/fault_op.mjs). Every case is one provider of one worker, named after the
// OpenID Foundation's RP test ID (or, for cases that suite lacks, after what they break), served
// by its own OP tenant with exactly one fault.
//
// Accepted cases must end on the protected page with a session; refused ones on an error page
// (HTML, the expected status and reason) with no session cookie, and the next navigation must
// start a login again.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { RP, browser, sessionCookies } from './lib/fixture.mjs';
import {
  startFaultOp, workerOptions, loginAt, deadPort, reply, atHash, SUBJECT, USER, CLIENT_ID,
} from './lib/fault_op.mjs';

let op;
let echo;
let worker;
const tenants = {};
const now = () => Math.floor(Date.now() / 1000);
const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));

// Cases the worker must accept. `check` gets the tenant and the login's final response.
const ACCEPT = [
  { id: 'rp-id_token-sig-rs256', what: 'an RS256-signed ID token', fault: {} },
  { id: 'rp-id_token-sig-es256', what: 'an ES256-signed ID token', fault: { idToken: { alg: 'ES256' } } },
  // Every other algorithm, each verified by workerd's WebCrypto (RSA key without a JWK alg).
  ...['RS384', 'RS512', 'PS256', 'PS384', 'PS512'].map((alg) => ({
    id: `rp-id_token-sig-${alg.toLowerCase()}`,
    what: `an ${alg}-signed ID token`,
    fault: ({ keys }) => ({ idToken: { alg, key: keys.rsaAny }, jwks: (published) => [...published, keys.rsaAny.jwk] }),
  })),
  {
    id: 'rp-id_token-sig-eddsa',
    what: 'an EdDSA (Ed25519)-signed ID token',
    fault: ({ keys }) => ({ idToken: { alg: 'EdDSA' }, jwks: (published) => [...published, keys.ed1.jwk] }),
  },
  {
    id: 'rp-id_token-kid-absent-single-jwks',
    what: 'no kid in the header, a single key in the JWKS',
    fault: ({ keys }) => ({
      idToken: { header: (h) => without(h, 'kid') },
      jwks: () => [keys.rsa1.jwk],
    }),
  },
  {
    id: 'rp-jwks-unknown-key-types',
    what: 'a JWKS that also holds keys of unknown types (ignored)',
    fault: () => ({
      jwks: (keys) => [
        { kty: 'XYZ', kid: 'future-1', use: 'sig', crv: 'Quantum', x: b64(32) },
        { kty: 'OKP', crv: 'X448', kid: 'x448-1', use: 'enc', x: b64(56) },
        { kty: 'EC', crv: 'P-521', kid: 'p521-1', use: 'sig', alg: 'ES512', x: b64(66), y: b64(66) },
        'not even an object',
        ...keys,
      ],
    }),
  },
  {
    id: 'rp-userinfo-claims-only',
    what: 'profile claims only in the UserInfo response',
    fault: {
      idToken: { claims: (c) => without(c, 'email', 'email_verified', 'name') },
      userinfo: (claims) => ({ ...claims, name: 'Alice From Userinfo' }),
    },
    check: (t, seen) => {
      assert.equal(t.hits.userinfo, 1);
      assert.equal(seen.headers['x-auth-email'], USER.email);
      assert.equal(seen.headers['x-auth-name'], 'Alice From Userinfo');
    },
  },
];

function b64(n) {
  return randomBytes(n).toString('base64url');
}

// Cases the worker must refuse: [status, the reason the error page must give].
const REJECT = [
  { id: 'rp-id_token-bad-sig-rs256', what: 'an RS256 signature that does not verify', fault: { idToken: { tamper: true } }, status: 502, reason: /signature is invalid/ },
  { id: 'rp-id_token-bad-sig-es256', what: 'an ES256 signature that does not verify', fault: { idToken: { alg: 'ES256', tamper: true } }, status: 502, reason: /signature is invalid/ },
  {
    id: 'rp-id_token-bad-sig-ps256',
    what: 'a PS256 signature that does not verify',
    fault: ({ keys }) => ({ idToken: { alg: 'PS256', key: keys.rsaAny, tamper: true }, jwks: (published) => [...published, keys.rsaAny.jwk] }),
    status: 502,
    reason: /signature is invalid/,
  },
  {
    id: 'rp-id_token-bad-sig-eddsa',
    what: 'an EdDSA signature that does not verify',
    fault: ({ keys }) => ({ idToken: { alg: 'EdDSA', tamper: true }, jwks: (published) => [...published, keys.ed1.jwk] }),
    status: 502,
    reason: /signature is invalid/,
  },
  {
    id: 'rp-id_token-sig-ps256-with-pkcs1-key',
    what: 'a PS256 token whose kid names an RSA key published for RS256 only',
    fault: ({ keys }) => ({ idToken: { alg: 'PS256', key: keys.rsa1 } }),
    status: 502,
    reason: /no key usable with PS256/,
  },
  {
    id: 'rp-jwks-ec-point-off-curve',
    what: 'the signing EC key published with a point off the curve (WebCrypto refuses to import it)',
    fault: ({ keys }) => ({
      idToken: { alg: 'ES256' },
      jwks: () => [keys.rsa1.jwk, { ...keys.ec1.jwk, y: keys.ec1.jwk.x }],
    }),
    status: 502,
    reason: /signature is invalid/,
  },
  {
    id: 'rp-jwks-ed25519-not-a-point',
    what: 'the signing Ed25519 key published as 32 bytes that are not a curve point',
    fault: ({ keys }) => ({
      idToken: { alg: 'EdDSA' },
      jwks: () => [{ ...keys.ed1.jwk, x: Buffer.alloc(32, 0xff).toString('base64url') }],
    }),
    status: 502,
    reason: /signature is invalid/,
  },
  { id: 'rp-id_token-sig-none', what: 'alg none (unsigned)', fault: { idToken: { alg: 'none', header: () => ({ alg: 'none', typ: 'JWT' }) } }, status: 502, reason: /algorithm &quot;none&quot;.*never accepted/ },
  {
    id: 'rp-id_token-sig-hs256-rsa-pubkey',
    what: 'HS256 MACed with the OP\'s RSA public key (algorithm confusion)',
    fault: ({ keys }) => ({ idToken: { alg: 'HS256', secret: keys.rsa1.pem, header: (h) => ({ ...h, kid: 'rsa-1' }) } }),
    status: 502,
    reason: /algorithm &quot;HS256&quot;.*never accepted/,
  },
  { id: 'rp-id_token-issuer-mismatch', what: 'a wrong iss', fault: ({ url }) => ({ idToken: { claims: (c) => ({ ...c, iss: `${url}/another-issuer` }) } }), status: 502, reason: /not issued by the configured issuer/ },
  { id: 'rp-id_token-aud', what: 'a wrong aud', fault: { idToken: { claims: (c) => ({ ...c, aud: 'someone-else' }) } }, status: 502, reason: /not addressed to this client/ },
  { id: 'rp-id_token-aud-multiple-no-azp', what: 'several audiences without azp', fault: { idToken: { claims: (c) => ({ ...c, aud: [CLIENT_ID, 'other-client'] }) } }, status: 502, reason: /several audiences but no authorized party/ },
  { id: 'rp-id_token-azp-wrong', what: 'several audiences and an azp that is another client', fault: { idToken: { claims: (c) => ({ ...c, aud: [CLIENT_ID, 'other-client'], azp: 'other-client' }) } }, status: 502, reason: /issued to another client/ },
  { id: 'rp-id_token-azp-wrong-single-aud', what: 'our aud but an azp that is another client', fault: { idToken: { claims: (c) => ({ ...c, azp: 'other-client' }) } }, status: 502, reason: /issued to another client/ },
  { id: 'rp-id_token-sub', what: 'no sub', fault: { idToken: { claims: (c) => without(c, 'sub') } }, status: 502, reason: /no subject/ },
  { id: 'rp-id_token-sub-empty', what: 'an empty sub', fault: { idToken: { claims: (c) => ({ ...c, sub: '' }) } }, status: 502, reason: /no subject/ },
  { id: 'rp-id_token-iat', what: 'no iat', fault: { idToken: { claims: (c) => without(c, 'iat') } }, status: 502, reason: /no issue time/ },
  { id: 'rp-id_token-iat-future', what: 'an iat an hour in the future', fault: { idToken: { claims: (c) => ({ ...c, iat: now() + 3600, exp: now() + 7200 }) } }, status: 502, reason: /issue time is in the future/ },
  { id: 'rp-id_token-exp', what: 'an exp an hour ago', fault: { idToken: { claims: (c) => ({ ...c, iat: now() - 7200, exp: now() - 3600 }) } }, status: 502, reason: /has expired/ },
  { id: 'rp-id_token-exp-missing', what: 'no exp', fault: { idToken: { claims: (c) => without(c, 'exp') } }, status: 502, reason: /no expiry time/ },
  { id: 'rp-id_token-nbf-future', what: 'an nbf an hour in the future', fault: { idToken: { claims: (c) => ({ ...c, nbf: now() + 3600 }) } }, status: 502, reason: /not valid yet/ },
  { id: 'rp-nonce-invalid', what: 'a nonce from another login', fault: { idToken: { claims: (c) => ({ ...c, nonce: b64(32) }) } }, status: 502, reason: /nonce does not match/ },
  { id: 'rp-nonce-missing', what: 'no nonce', fault: { idToken: { claims: (c) => without(c, 'nonce') } }, status: 502, reason: /has no nonce/ },
  { id: 'rp-id_token-bad-at_hash', what: 'an at_hash of another access token', fault: { idToken: { claims: (c) => ({ ...c, at_hash: atHash('another-access-token') }) } }, status: 502, reason: /at_hash or c_hash does not match/ },
  { id: 'rp-id_token-crit-header', what: 'a critical header extension', fault: { idToken: { header: (h) => ({ ...h, crit: ['exp'] }) } }, status: 502, reason: /critical extensions/ },
  { id: 'rp-id_token-jwe', what: 'an encrypted (five-part) ID token', fault: { token: (body) => ({ ...body, id_token: `${body.id_token}.${b64(16)}.${b64(16)}` }) }, status: 502, reason: /not three dot-separated parts/ },
  {
    id: 'rp-id_token-kid-unknown',
    what: 'a kid that is not in the JWKS even after a refetch',
    fault: ({ keys }) => ({ idToken: { key: keys.rsaOther } }),
    status: 502,
    reason: /unknown kid/,
    check: (t) => assert.equal(t.hits.jwks, 2, 'one fetch, then exactly one refetch'),
  },
  {
    id: 'rp-id_token-kid-absent-multiple-jwks',
    what: 'no kid and several RSA keys in the JWKS (refusing is one of the two allowed outcomes)',
    fault: ({ keys }) => ({ idToken: { header: (h) => without(h, 'kid') }, jwks: () => [keys.rsa1.jwk, keys.rsa2.jwk] }),
    status: 502,
    reason: /several keys usable with RS256/,
  },
  {
    id: 'rp-id_token-kid-wrong-key-type',
    what: 'an RS256 token whose kid names the EC key',
    fault: { idToken: { header: (h) => ({ ...h, kid: 'ec-1' }) } },
    status: 502,
    reason: /no key usable with RS256/,
  },
  {
    id: 'rp-id_token-alg-not-allowed',
    what: 'RS256 when the configuration allows only ES256',
    fault: {},
    provider: { id_token_signing_algs: ['ES256'] },
    status: 502,
    reason: /configuration does not allow/,
  },
  {
    id: 'rp-userinfo-bad-sub-claim',
    what: 'a UserInfo sub that differs from the ID token\'s',
    fault: { userinfo: (claims) => ({ ...claims, sub: 'mallory' }) },
    status: 502,
    reason: /UserInfo subject does not match/,
  },
  {
    id: 'rp-discovery-issuer-not-matching-config',
    what: 'a discovery document whose issuer differs',
    fault: ({ url }) => ({ discovery: (doc) => ({ ...doc, issuer: `${url}/impostor` }) }),
    status: 502,
    reason: /provider metadata names issuer/,
    check: (t) => assert.equal(t.hits.authorize, 0, 'the browser was never sent to the provider'),
  },
  {
    id: 'rp-response-state-wrong',
    what: 'an authorization response with another state',
    fault: { authorize: (p) => ({ ...p, state: b64(32) }) },
    status: 400,
    // No pending-login cookie of this browser matches that state.
    reason: /started in another browser/,
    check: (t) => assert.equal(t.hits.token, 0, 'the code was not redeemed'),
  },
  {
    id: 'rp-response-iss-wrong',
    what: 'an RFC 9207 iss parameter naming another issuer',
    fault: ({ url }) => ({ authorize: (p) => ({ ...p, iss: `${url}/another-issuer` }) }),
    status: 400,
    reason: /unexpected issuer/,
    check: (t) => assert.equal(t.hits.token, 0, 'the code was not redeemed'),
  },
  {
    id: 'rp-response-iss-missing',
    what: 'no iss parameter although the OP advertises it',
    fault: { authorize: (p) => without(p, 'iss') },
    status: 400,
    reason: /unexpected issuer/,
    check: (t) => assert.equal(t.hits.token, 0, 'the code was not redeemed'),
  },
  {
    id: 'rp-token-endpoint-400',
    what: 'a token endpoint answering 400 invalid_grant',
    fault: { token: () => reply(400, { error: 'invalid_grant', error_description: 'the code has expired' }) },
    status: 502,
    reason: /refused the request: invalid_grant \(the code has expired\)/,
  },
  {
    id: 'rp-token-endpoint-not-json',
    what: 'a token endpoint answering 200 with HTML',
    fault: { token: () => reply(200, '<html><body>Welcome!</body></html>', { 'content-type': 'text/html' }) },
    status: 502,
    reason: /response is not valid/,
  },
  {
    id: 'rp-token-response-no-id_token',
    what: 'a token response without id_token',
    fault: { token: (body) => without(body, 'id_token') },
    status: 502,
    reason: /has no id_token/,
  },
  {
    id: 'rp-token-response-token-type',
    what: 'a token response whose token_type is not Bearer',
    fault: { token: (body) => ({ ...body, token_type: 'MAC' }) },
    status: 502,
    reason: /is not Bearer/,
  },
  {
    id: 'rp-jwks-unreachable',
    what: 'a jwks_uri nothing listens on',
    fault: ({ dead }) => ({ discovery: (doc) => ({ ...doc, jwks_uri: `http://127.0.0.1:${dead}/jwks` }) }),
    status: 502,
    reason: /could not be reached/,
  },
  {
    id: 'rp-response-access-denied',
    what: 'an authorization error response (access_denied with a description)',
    fault: { authorize: (p) => ({ error: 'access_denied', error_description: 'The user <declined> the request', state: p.state, iss: p.iss }) },
    status: 403,
    reason: /access_denied.*The user &lt;declined&gt; the request/s,
    check: (t) => assert.equal(t.hits.token, 0),
  },
];

before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  const dead = await deadPort();
  const ctx = { keys: op.keys, url: op.url, dead };
  tenants.home = op.tenant('0-home');
  for (const c of [...ACCEPT, ...REJECT]) {
    const t = op.tenant(c.id, typeof c.fault === 'function' ? c.fault(ctx) : c.fault);
    if (c.provider) t.provider = c.provider;
    tenants[c.id] = t;
  }
  tenants.rotation = op.tenant('rp-key-rotation-op-sign-key', { jwks: () => [op.keys.rsa1.jwk] });
  worker = await startWorker(workerOptions(Object.values(tenants), { origin: echo.url }));
});

after(async () => {
  await worker?.stop();
  await Promise.all([op?.stop(), echo?.stop()]);
});

/** The login ended on the protected page, with identity and a session. */
function assertAccepted(client, final) {
  assert.equal(final.status, 200, final.body.slice(0, 500));
  const seen = JSON.parse(final.body);
  assert.equal(seen.url, '/private');
  assert.equal(seen.headers['x-auth-subject'], SUBJECT);
  assert.ok(sessionCookies(client).length >= 1, 'a session cookie was set');
  return seen;
}

/** An HTML error page with the status and reason, no session, and the next navigation logs in. */
async function assertRefused(client, final, status, reason) {
  assert.equal(final.status, status, final.body.slice(0, 800));
  assert.match(final.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(final.body, /<h1>/);
  assert.match(final.body, reason);
  assert.equal(sessionCookies(client).length, 0, 'no session cookie');
  // With several providers, a login starts at the chooser.
  const next = await client.request(`${RP}/private`);
  assert.equal(next.status, 302, 'the next navigation starts a login');
  assert.equal(next.location, `${RP}/login?return_to=%2Fprivate`);
}

describe('must accept', () => {
  for (const c of ACCEPT) {
    test(`${c.id}: ${c.what}`, async () => {
      const client = browser(worker);
      const { final, hops } = await loginAt(client, RP, c.id);
      const seen = assertAccepted(client, final);
      const t = tenants[c.id];
      assert.equal(t.hits.token, 1);
      // The request that got this far was a code flow with PKCE, state and nonce.
      const auth = new URL(hops[0].location);
      assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
      assert.match(auth.searchParams.get('nonce'), /^[\w-]{43}$/);
      c.check?.(t, seen);
      // The session serves the next request without the provider.
      const again = await client.request(`${RP}/private`);
      assert.equal(again.status, 200);
      assert.equal(t.hits.authorize, 1);
    });
  }

  test('rp-key-rotation-op-sign-key: a second login signed with a key published only after the first', async () => {
    const t = tenants.rotation;
    const first = browser(worker);
    assertAccepted(first, (await loginAt(first, RP, t.name)).final);
    assert.equal(t.hits.jwks, 1);
    // The OP rotates: rsa-2 replaces rsa-1 in the JWKS and signs from now on.
    t.fault = { jwks: () => [op.keys.rsa2.jwk], idToken: { key: op.keys.rsa2 } };
    const second = browser(worker);
    assertAccepted(second, (await loginAt(second, RP, t.name)).final);
    assert.equal(t.hits.jwks, 2, 'the unknown kid made the worker refetch the JWKS once');
    // The first session is a cookie: rotation at the OP does not end it.
    assert.equal((await first.request(`${RP}/private`)).status, 200);
  });
});

describe('must reject, with an error page and no session', () => {
  for (const c of REJECT) {
    test(`${c.id}: ${c.what} → ${c.status}`, async () => {
      const client = browser(worker);
      const { final } = await loginAt(client, RP, c.id);
      await assertRefused(client, final, c.status, c.reason);
      c.check?.(tenants[c.id]);
    });
  }
});
