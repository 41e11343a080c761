// Self-test of the test peers: both real OpenID Providers (pyOP, panva oidc-provider), driven by
// the scripted browser. Run: node --test tests/e2e/peers.test.mjs
import { strict as assert } from 'node:assert';
import { createHash, createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client, parseForm } from './lib/client.mjs';
import { startEchoOrigin, startNodeOp, startPyop } from './lib/peers.mjs';

const RP = 'http://rp.test';
const CB = `${RP}/cb`;
const BYE = `${RP}/bye`;
const CLIENTS = [
  { client_id: 'rp-basic', client_secret: 'basic-secret', redirect_uris: [CB], post_logout_redirect_uris: [BYE], token_endpoint_auth_method: 'client_secret_basic', response_types: ['code'] },
  { client_id: 'rp-post', client_secret: 'post-secret', redirect_uris: [CB], post_logout_redirect_uris: [BYE], token_endpoint_auth_method: 'client_secret_post', response_types: ['code'] },
  { client_id: 'rp-public', redirect_uris: [CB], post_logout_redirect_uris: [BYE], token_endpoint_auth_method: 'none', response_types: ['code'] },
];
const CONFIG = { clients: CLIENTS, refresh_tokens: true };

const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const newClient = () => new Client({ rpOrigin: RP, rpFetch: async () => new Response('rp') });

async function discover(url) {
  const res = await fetch(`${url}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  return res.json();
}

/** Drive the authorization endpoint until the browser lands on the RP; return the callback params. */
async function authorize(client, meta, params) {
  const u = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries({ response_type: 'code', scope: 'openid email profile', redirect_uri: CB, ...params })) {
    if (v !== undefined) u.searchParams.set(k, v);
  }
  const { hops, final } = await client.follow(u.href);
  assert.ok(final.url.startsWith(`${CB}?`), `flow should end at the RP callback, ended at ${final.url} (${final.status}): ${final.body.slice(0, 500)}`);
  assert.equal(final.body, 'rp');
  return { params: new URL(final.url).searchParams, hops };
}

async function tokenRequest(meta, form, headers = {}) {
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, json: await res.json() };
}

async function verifyJwt(jwt, meta) {
  const [h, p, s] = jwt.split('.');
  const header = b64json(h);
  const { keys } = await (await fetch(meta.jwks_uri)).json();
  const jwk = keys.find((k) => k.kid === header.kid) ?? keys[0];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`),
    header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s, 'base64url'));
  assert.ok(ok, `${header.alg} signature of the ID token must verify with the published JWKS`);
  return { header, payload: b64json(p) };
}

async function userinfo(meta, accessToken) {
  const res = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, json: await res.json() };
}

const pkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

// ---- what differs between the two providers --------------------------------------------------
const PROVIDERS = [
  {
    name: 'pyOP',
    start: (cfg) => startPyop(cfg),
    issParam: false, // no RFC 9207 iss in the authorization response
    audIsArray: true,
    profileClaimsInIdToken: false, // ID token: sub/nonce/at_hash only, profile claims via userinfo
    pkceRequiredForPublic: false,
    secretBasicPostInterchangeable: false, // the registered method is enforced
    idTokenOnRefresh: false,
    revokesOnCodeReuse: false,
    revocation: false,
  },
  {
    name: 'node oidc-provider',
    start: (cfg) => startNodeOp(cfg),
    issParam: true,
    audIsArray: false,
    profileClaimsInIdToken: true,
    pkceRequiredForPublic: true,
    secretBasicPostInterchangeable: true, // client_secret_basic and _post both accepted for either
    idTokenOnRefresh: true,
    revokesOnCodeReuse: true,
    revocation: true,
  },
];

for (const P of PROVIDERS) {
  describe(P.name, () => {
    let op;
    let meta;
    const started = [];
    before(async () => {
      op = await P.start(CONFIG);
      started.push(op);
      meta = await discover(op.url);
    });
    after(async () => { await Promise.all(started.map((s) => s.stop())); });

    test('discovery: issuer is the loopback URL, endpoints on it', () => {
      assert.match(op.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(meta.issuer, op.url);
      for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'registration_endpoint', 'end_session_endpoint']) {
        assert.ok(meta[k]?.startsWith(`${op.url}/`), `${k}: ${meta[k]}`);
      }
      assert.equal(meta.subject_types_supported[0], 'public');
      assert.ok(meta.id_token_signing_alg_values_supported.includes('RS256'));
    });

    test('code flow, client_secret_basic: tokens, signed ID token, userinfo (alice by default)', async () => {
      const client = newClient();
      const { params } = await authorize(client, meta, { client_id: 'rp-basic', state: 'st-1', nonce: 'n-1' });
      assert.equal(params.get('state'), 'st-1');
      assert.ok(params.get('code'));
      assert.equal(params.get('iss'), P.issParam ? op.url : null);
      const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(tok.status, 200, JSON.stringify(tok.json));
      assert.ok(tok.json.id_token && tok.json.access_token && tok.json.refresh_token);
      assert.equal(tok.json.token_type, 'Bearer');
      const { header, payload } = await verifyJwt(tok.json.id_token, meta);
      assert.equal(header.alg, 'RS256');
      assert.equal(payload.iss, op.url);
      assert.deepEqual(payload.aud, P.audIsArray ? ['rp-basic'] : 'rp-basic');
      assert.equal(payload.nonce, 'n-1');
      assert.ok(payload.exp > Date.now() / 1000 && payload.iat <= Date.now() / 1000 + 5);
      assert.equal(payload.email, P.profileClaimsInIdToken ? 'alice@example.com' : undefined);
      const ui = await userinfo(meta, tok.json.access_token);
      assert.equal(ui.status, 200);
      assert.deepEqual({ ...ui.json, sub: undefined }, { sub: undefined, email: 'alice@example.com', email_verified: true, name: 'Alice Example' });
      assert.equal(ui.json.sub, payload.sub);

      // refresh token grant
      const ref = await tokenRequest(meta, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(ref.status, 200, JSON.stringify(ref.json));
      assert.ok(ref.json.access_token && ref.json.access_token !== tok.json.access_token);
      assert.equal(Boolean(ref.json.id_token), P.idTokenOnRefresh);
      assert.equal((await userinfo(meta, ref.json.access_token)).json.email, 'alice@example.com');

      // the code is single use; oidc-provider also revokes what was issued from it
      const again = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(again.status, 400);
      assert.equal(again.json.error, 'invalid_grant');
      assert.equal((await userinfo(meta, ref.json.access_token)).status, P.revokesOnCodeReuse ? 401 : 200);
      assert.equal((await userinfo(meta, 'not-a-token')).status, 401);
    });

    test('login_hint=bob logs in bob', async () => {
      const { params } = await authorize(newClient(), meta, { client_id: 'rp-basic', state: 's', nonce: 'n', login_hint: 'bob' });
      const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(tok.status, 200);
      const ui = await userinfo(meta, tok.json.access_token);
      assert.equal(ui.json.email, 'bob@other.example');
      assert.equal(ui.json.name, 'Bob Other');
    });

    test('token endpoint refuses a wrong secret and the wrong auth method', async () => {
      const { params } = await authorize(newClient(), meta, { client_id: 'rp-basic', state: 's', nonce: 'n' });
      const form = { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB };
      const wrong = await tokenRequest(meta, form, { authorization: basic('rp-basic', 'wrong-secret') });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, 'invalid_client');
      // the right secret, but in the body although the client is registered for client_secret_basic
      const asPost = await tokenRequest(meta, { ...form, client_id: 'rp-basic', client_secret: 'basic-secret' });
      if (P.secretBasicPostInterchangeable) {
        assert.equal(asPost.status, 200, JSON.stringify(asPost.json));
      } else {
        assert.equal(asPost.status, 401);
        assert.equal(asPost.json.error, 'invalid_client');
      }
      // no secret at all for a confidential client
      const p1 = (await authorize(newClient(), meta, { client_id: 'rp-basic', state: 's', nonce: 'n' })).params;
      const none = await tokenRequest(meta, { grant_type: 'authorization_code', code: p1.get('code'), redirect_uri: CB, client_id: 'rp-basic' });
      assert.equal(none.status, 401);
      assert.equal(none.json.error, 'invalid_client');

      // a client_secret_post client: basic is refused (pyOP) or accepted (oidc-provider), post works
      const p2 = (await authorize(newClient(), meta, { client_id: 'rp-post', state: 's', nonce: 'n' })).params;
      const form2 = { grant_type: 'authorization_code', code: p2.get('code'), redirect_uri: CB };
      if (!P.secretBasicPostInterchangeable) {
        const asBasic = await tokenRequest(meta, form2, { authorization: basic('rp-post', 'post-secret') });
        assert.equal(asBasic.status, 401);
        assert.equal(asBasic.json.error, 'invalid_client');
      }
      const wrongPost = await tokenRequest(meta, { ...form2, client_id: 'rp-post', client_secret: 'nope' });
      assert.equal(wrongPost.status, 401);
      assert.equal(wrongPost.json.error, 'invalid_client');
      const ok = await tokenRequest(meta, { ...form2, client_id: 'rp-post', client_secret: 'post-secret' });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.ok(ok.json.id_token);
    });

    test('unregistered redirect_uri is refused without redirecting', async () => {
      const u = new URL(meta.authorization_endpoint);
      u.search = new URLSearchParams({ response_type: 'code', client_id: 'rp-basic', redirect_uri: 'http://evil.test/cb', scope: 'openid', state: 's' });
      const res = await newClient().request(u.href);
      assert.equal(res.status, 400);
      assert.equal(res.location, null);
    });

    test('public client with PKCE (token_endpoint_auth_method none)', async () => {
      const { verifier, challenge } = pkcePair();
      if (P.pkceRequiredForPublic) {
        const { params } = await authorize(newClient(), meta, { client_id: 'rp-public', state: 'np', nonce: 'n' });
        assert.equal(params.get('error'), 'invalid_request');
        assert.match(params.get('error_description'), /PKCE|code_challenge/);
        assert.equal(params.get('state'), 'np');
      }
      const { params } = await authorize(newClient(), meta, { client_id: 'rp-public', state: 'p', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' });
      const form = { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB, client_id: 'rp-public' };
      const bad = await tokenRequest(meta, { ...form, code_verifier: pkcePair().verifier });
      assert.ok(bad.status === 400 && ['invalid_grant', 'invalid_request'].includes(bad.json.error), JSON.stringify(bad));
      if (P.name === 'pyOP') {
        // pyOP does not consume the code on a failed PKCE check: the right verifier still works
      } else {
        const again = await authorize(newClient(), meta, { client_id: 'rp-public', state: 'p', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' });
        form.code = again.params.get('code');
      }
      const ok = await tokenRequest(meta, { ...form, code_verifier: verifier });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.ok(ok.json.id_token && ok.json.access_token);
    });

    test('RP-initiated logout redirects to the registered post_logout_redirect_uri with state', async () => {
      const client = newClient();
      const { params } = await authorize(client, meta, { client_id: 'rp-basic', state: 's', nonce: 'n' });
      const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      const u = new URL(meta.end_session_endpoint);
      u.search = new URLSearchParams({ id_token_hint: tok.json.id_token, post_logout_redirect_uri: BYE, state: 'bye-1' });
      let { final } = await client.follow(u.href);
      if (final.status === 200 && /<form/i.test(final.body)) {
        // oidc-provider asks for confirmation: a plain POST form
        const form = parseForm(final.body, final.url);
        assert.equal(form.method, 'POST');
        assert.ok(form.fields.some(([k, v]) => k === 'logout' && v === 'yes'));
        ({ final } = await client.submitForm(final));
      }
      assert.equal(final.url, `${BYE}?state=bye-1`);
      // an unregistered post_logout_redirect_uri is not followed
      u.searchParams.set('post_logout_redirect_uri', 'http://evil.test/bye');
      const res = await client.follow(u.href);
      assert.ok(!res.hops.some((h) => h.url.startsWith('http://evil.test')), JSON.stringify(res.hops));
    });

    if (P.revocation) test('token revocation', async () => {
      assert.ok(meta.revocation_endpoint);
      const { params } = await authorize(newClient(), meta, { client_id: 'rp-basic', state: 's', nonce: 'n' });
      const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      const rev = await fetch(meta.revocation_endpoint, {
        method: 'POST',
        headers: { authorization: basic('rp-basic', 'basic-secret'), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: tok.json.refresh_token, token_type_hint: 'refresh_token' }),
      });
      assert.equal(rev.status, 200);
      const ref = await tokenRequest(meta, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(ref.status, 400);
      assert.equal(ref.json.error, 'invalid_grant');
    });

    test('dynamic client registration', async () => {
      const res = await fetch(meta.registration_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [CB], response_types: ['code'], grant_types: ['authorization_code'] }),
      });
      assert.equal(res.status, 201);
      const reg = await res.json();
      assert.ok(reg.client_id && reg.client_secret);
      const { params } = await authorize(newClient(), meta, { client_id: reg.client_id, state: 'r', nonce: 'n' });
      const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic(reg.client_id, reg.client_secret) });
      assert.equal(tok.status, 200, JSON.stringify(tok.json));
    });

    test('ES256 signing', async () => {
      const es = await P.start({ ...CONFIG, signing_alg: 'ES256' });
      started.push(es);
      const m = await discover(es.url);
      assert.ok(m.id_token_signing_alg_values_supported.includes('ES256'));
      const { params } = await authorize(newClient(), m, { client_id: 'rp-basic', state: 's', nonce: 'n' });
      const tok = await tokenRequest(m, { grant_type: 'authorization_code', code: params.get('code'), redirect_uri: CB },
        { authorization: basic('rp-basic', 'basic-secret') });
      assert.equal(tok.status, 200, JSON.stringify(tok.json));
      const { header, payload } = await verifyJwt(tok.json.id_token, m);
      assert.equal(header.alg, 'ES256');
      assert.equal(payload.iss, es.url);
      const { keys } = await (await fetch(m.jwks_uri)).json();
      assert.deepEqual(keys.map((k) => [k.kty, k.crv, k.d]), [['EC', 'P-256', undefined]]);
    });
  });
}

describe('node oidc-provider --interactive', () => {
  let op;
  before(async () => { op = await startNodeOp(CONFIG, { interactive: true }); });
  after(() => op?.stop());

  test('login and consent forms, then the code', async () => {
    const meta = await discover(op.url);
    const client = newClient();
    const u = new URL(meta.authorization_endpoint);
    u.search = new URLSearchParams({ response_type: 'code', client_id: 'rp-basic', redirect_uri: CB, scope: 'openid email', state: 'i', nonce: 'n' });
    const login = (await client.follow(u.href)).final;
    assert.equal(login.status, 200);
    assert.match(login.body, /try alice/);
    assert.doesNotMatch(login.body, /https?:\/\/(?!127\.0\.0\.1)/, 'no external resources');
    const retry = (await client.submitForm(login, { login: 'mallory', password: 'x' })).final;
    assert.match(retry.body, /Unknown user/);
    const consent = (await client.submitForm(retry, { login: 'bob', password: 'x' })).final;
    assert.equal(consent.status, 200);
    assert.match(consent.body, /Authorize/);
    const done = (await client.submitForm(consent)).final;
    assert.ok(done.url.startsWith(`${CB}?code=`), done.url);
    const tok = await tokenRequest(meta, { grant_type: 'authorization_code', code: new URL(done.url).searchParams.get('code'), redirect_uri: CB },
      { authorization: basic('rp-basic', 'basic-secret') });
    assert.equal(tok.status, 200);
    assert.equal(b64json(tok.json.id_token.split('.')[1]).email, 'bob@other.example');
  });
});

describe('client and echo origin', () => {
  let echo;
  before(async () => { echo = await startEchoOrigin(); });
  after(() => echo?.stop());

  test('echo origin returns method, url and headers; cookie jar honours Path, Max-Age, Secure, SameSite', async () => {
    const client = new Client();
    client.setCookie(echo.url, 'a=1; Path=/');
    client.setCookie(echo.url, 'scoped=2; Path=/x');
    client.setCookie(echo.url, 'sec=3; Secure');
    client.setCookie(echo.url, 'strict=4; SameSite=Strict');
    const res = await client.request(`${echo.url}/x/y?q=1`, { headers: { 'x-test': 'yes' } });
    const j = JSON.parse(res.body);
    assert.equal(j.method, 'GET');
    assert.equal(j.url, '/x/y?q=1');
    assert.equal(j.headers['x-test'], 'yes');
    assert.equal(j.headers['user-agent'], 'edge-oidc-e2e');
    assert.equal(j.headers.cookie, 'scoped=2; a=1; strict=4');
    assert.equal(JSON.parse((await client.request(`${echo.url}/`)).body).headers.cookie, 'a=1; strict=4');
    const cross = await client.request(`${echo.url}/`, { method: 'POST', body: 'z', initiator: 'http://other.test' });
    assert.equal(JSON.parse(cross.body).headers.cookie, undefined); // Lax and Strict withheld
    client.setCookie(echo.url, 'a=gone; Max-Age=0; Path=/');
    assert.equal(client.cookie('a', echo.url), undefined);
    client.setCookie(echo.url, `old=1; Expires=${new Date(Date.now() - 1000).toUTCString()}`);
    assert.equal(client.cookie('old', echo.url), undefined);
    client.deleteCookie('strict', echo.url);
    assert.equal(client.cookie('strict', echo.url), undefined);
    assert.equal(echo.requests.length, 3);
  });
});
