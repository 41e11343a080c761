// End-to-end: every way to meet a provider — dynamic client registration, several providers
// with per-path routes and a chooser, every client authentication method, request parameters.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPyop, startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { RP, opConfig, browser, withWorker, sessionCookies } from './lib/fixture.mjs';

const JWT_SECRET = randomBytes(32).toString('base64url'); // HS256 needs >= 256 bits
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PRIVATE_JWK = { ...ec.privateKey.export({ format: 'jwk' }), kid: 'rp-key-1' };
const PUBLIC_JWK = { ...ec.publicKey.export({ format: 'jwk' }), kid: 'rp-key-1', use: 'sig', alg: 'ES256' };
// RS256 private_key_jwt; no kid, so the worker names the key by its RFC 7638 thumbprint.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE_JWK = rsa.privateKey.export({ format: 'jwk' });
const rsaPublic = rsa.publicKey.export({ format: 'jwk' });
const RSA_KID = createHash('sha256').update(JSON.stringify({ e: rsaPublic.e, kty: 'RSA', n: rsaPublic.n })).digest('base64url');
const RSA_PUBLIC_JWK = { ...rsaPublic, kid: RSA_KID, use: 'sig', alg: 'RS256' };
const uris = { redirect_uris: [`${RP}/redirect_uri`], post_logout_redirect_uris: [`${RP}/logged-out`] };

let pyop;
let nodeop;
let echo;
let tmp;

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'edge-oidc-providers-'));
  const extraClients = [
    { client_id: 'edge-jwt', client_secret: JWT_SECRET, token_endpoint_auth_method: 'client_secret_jwt', ...uris },
    { client_id: 'edge-pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [PUBLIC_JWK] }, ...uris },
    {
      client_id: 'edge-pkjwt-rsa',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: { keys: [RSA_PUBLIC_JWK] },
      ...uris,
    },
  ];
  [pyop, nodeop, echo] = await Promise.all([startPyop(opConfig()), startNodeOp(opConfig({ extraClients })), startEchoOrigin()]);
});

after(async () => {
  await Promise.all([pyop?.stop(), nodeop?.stop(), echo?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function worker(providers, { config = {}, secrets = {}, kvPersist } = {}) {
  return { config: { providers, origin: echo.url, ...config }, secrets, kvPersist };
}

async function loginOk(c, pathname = '/private') {
  const { hops, final } = await c.follow(RP + pathname);
  assert.equal(final.status, 200, `login failed: ${final.status} ${final.body.slice(0, 600)}`);
  return { hops, final, seen: JSON.parse(final.body) };
}

describe('dynamic client registration', () => {
  for (const name of ['pyop', 'oidc-provider']) {
    test(`${name}: registers on first use, reuses the stored client after a restart, renews it after expiry`, async () => {
      const op = name === 'pyop' ? pyop : nodeop;
      const kvPersist = path.join(tmp, `kv-${name}`);
      const providers = { main: { issuer: op.url, registration: { client_name: 'edge-oidc e2e', contacts: ['ops@example.com'] } } };
      const keys = cookieKey();
      const opts = worker(providers, { kvPersist, secrets: { COOKIE_KEYS: keys }, config: { public_origin: RP } });
      let firstId;
      await withWorker(startWorker, opts, async (w) => {
        const { hops, seen } = await loginOk(browser(w));
        firstId = new URL(hops[0].location).searchParams.get('client_id');
        assert.ok(firstId && firstId.length > 4, 'a client id was issued');
        assert.equal(seen.headers['x-auth-email'], 'alice@example.com');
        const stored = JSON.parse(await (await w.kv()).get('registration:main'));
        assert.equal(stored.client_id, firstId);
        assert.equal(stored.redirect_uri, `${RP}/redirect_uri`);
      });
      // A new worker (a new isolate) finds the registration in KV: same client id.
      await withWorker(startWorker, opts, async (w) => {
        const { hops } = await loginOk(browser(w));
        assert.equal(new URL(hops[0].location).searchParams.get('client_id'), firstId);
        // Expire the stored registration: the next login registers a new client.
        const kv = await w.kv();
        const stored = JSON.parse(await kv.get('registration:main'));
        stored.client_secret_expires_at = Math.floor(Date.now() / 1000) - 10;
        await kv.put('registration:main', JSON.stringify(stored));
      });
      await withWorker(startWorker, opts, async (w) => {
        const { hops } = await loginOk(browser(w));
        const renewed = new URL(hops[0].location).searchParams.get('client_id');
        assert.notEqual(renewed, firstId);
        assert.equal(JSON.parse(await (await w.kv()).get('registration:main')).client_id, renewed);
      });
    });
  }

  test('two first logins at once both succeed', async () => {
    const providers = { main: { issuer: nodeop.url, registration: { client_name: 'race' } } };
    await withWorker(startWorker, worker(providers, { config: { public_origin: RP } }), async (w) => {
      const [a, b] = await Promise.all([loginOk(browser(w), '/a'), loginOk(browser(w), '/b')]);
      assert.equal(a.seen.url, '/a');
      assert.equal(b.seen.url, '/b');
    });
  });

  test('a registration refused by the provider is shown and not retried in a loop', async () => {
    // A provider without a registration endpoint (static metadata without it).
    const meta = await (await fetch(`${nodeop.url}/.well-known/openid-configuration`)).json();
    delete meta.registration_endpoint;
    const noReg = { main: { issuer: nodeop.url, registration: { client_name: 'x' }, metadata: meta } };
    await withWorker(startWorker, worker(noReg, { config: { public_origin: RP } }), async (w) => {
      const res = await browser(w).request(`${RP}/x`);
      assert.equal(res.status, 502);
      assert.match(res.body, /does not offer dynamic client registration/);
    });
    // oidc-provider refuses invalid client metadata; the second attempt is held back.
    const refusing = { main: { issuer: nodeop.url, registration: { client_name: 'x', jwks_uri: 'not a url', jwks: { keys: [] } } } };
    await withWorker(startWorker, worker(refusing, { config: { public_origin: RP } }), async (w) => {
      const first = await browser(w).request(`${RP}/x`);
      assert.equal(first.status, 502);
      assert.match(first.body, /refused the client registration: invalid_client_metadata/);
      const second = await browser(w).request(`${RP}/x`);
      assert.equal(second.status, 502);
      assert.match(second.body, /failed recently and is not retried yet/);
    });
  });
});

describe('several providers', () => {
  const providers = () => ({
    corp: { display_name: 'Corporate (oidc-provider)', issuer: nodeop.url, client_id: 'edge-basic', client_secret_binding: 'CORP_SECRET' },
    partner: { display_name: 'Partner (pyOP)', issuer: pyop.url, client_id: 'edge-post', token_endpoint_auth_method: 'client_secret_post', client_secret_binding: 'PARTNER_SECRET' },
  });
  const secrets = { CORP_SECRET: 'basic-secret-0123456789', PARTNER_SECRET: 'post-secret-0123456789' };
  const routes = [{ path_prefix: '/corp/', providers: ['corp'] }, { path_prefix: '/partner/', providers: ['partner'] }];

  test('per-path mapping, the chooser page, session bound to its provider, logout at that provider', async () => {
    await withWorker(startWorker, worker(providers(), { secrets, config: { routes, identity_headers: { provider: 'X-Auth-Provider' } } }), async (w) => {
      const c = browser(w);
      const corp = await c.request(`${RP}/corp/x`);
      assert.ok(corp.location.startsWith(nodeop.url), corp.location);
      const partner = await c.request(`${RP}/partner/y`);
      assert.ok(partner.location.startsWith(pyop.url), partner.location);

      // Anywhere else both are allowed: the chooser (plain HTML links, no script).
      const home = await c.request(`${RP}/docs/page?q=1`);
      assert.equal(home.status, 302);
      assert.equal(home.location, `${RP}/login?return_to=%2Fdocs%2Fpage%3Fq%3D1`);
      const chooser = await c.request(home.location);
      assert.equal(chooser.status, 200);
      assert.doesNotMatch(chooser.body, /<script/);
      const links = [...chooser.body.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1].replaceAll('&amp;', '&'), m[2]]);
      const names = links.map(([, t]) => t);
      assert.ok(names.includes('Sign in with Corporate (oidc-provider)'), names.join());
      assert.ok(names.includes('Sign in with Partner (pyOP)'), names.join());
      const partnerLink = links.find(([, t]) => t.includes('Partner'))[0];
      assert.match(partnerLink, /return_to=%2Fdocs%2Fpage%3Fq%3D1/);
      const { final } = await c.follow(new URL(partnerLink, RP).href);
      assert.equal(final.status, 200, final.body);
      const seen = JSON.parse(final.body);
      assert.equal(seen.url, '/docs/page?q=1');
      assert.equal(seen.headers['x-auth-provider'], 'partner');

      // The partner session serves the partner paths but not the corp-only ones.
      assert.equal((await c.request(`${RP}/partner/z`)).status, 200);
      const corpAgain = await c.request(`${RP}/corp/x`);
      assert.equal(corpAgain.status, 302);
      assert.ok(corpAgain.location.startsWith(nodeop.url));

      // Logout goes to the session's provider (pyOP).
      const out = await c.follow(`${RP}/logout`);
      assert.ok(out.hops.some((h) => h.location?.startsWith(pyop.url)), JSON.stringify(out.hops));
      assert.equal(sessionCookies(c).length, 0);
    });
  });

  test('a callback is only accepted for the provider its login was started with', async () => {
    await withWorker(startWorker, worker(providers(), { secrets, config: { routes } }), async (w) => {
      // Start at corp, then answer the callback with partner's issuer: mix-up refused.
      const c = browser(w);
      const start = await c.request(`${RP}/corp/x`);
      const state = new URL(start.location).searchParams.get('state');
      const res = await c.request(`${RP}/redirect_uri?code=abc&state=${state}&iss=${encodeURIComponent(pyop.url)}`);
      assert.equal(res.status, 400);
      assert.match(res.body, /unexpected issuer/);
      assert.equal(sessionCookies(c).length, 0);
    });
  });

  test('the login endpoint refuses a provider not allowed for the return path', async () => {
    await withWorker(startWorker, worker(providers(), { secrets, config: { routes } }), async (w) => {
      const res = await browser(w).request(`${RP}/login?provider=partner&return_to=/corp/x`);
      assert.equal(res.status, 400);
      assert.match(res.body, /may not be used/);
    });
  });
});

describe('client authentication at the token endpoint', () => {
  const cases = [
    ['client_secret_basic', () => pyop, 'edge-basic', { CLIENT_SECRET: 'basic-secret-0123456789' }],
    ['client_secret_post', () => pyop, 'edge-post', { CLIENT_SECRET: 'post-secret-0123456789' }],
    ['client_secret_jwt', () => nodeop, 'edge-jwt', { CLIENT_SECRET: JWT_SECRET }],
    ['private_key_jwt', () => nodeop, 'edge-pkjwt', { CLIENT_PRIVATE_KEY: JSON.stringify(PRIVATE_JWK) }],
    ['private_key_jwt (RS256)', () => nodeop, 'edge-pkjwt-rsa', { CLIENT_PRIVATE_KEY: JSON.stringify(RSA_PRIVATE_JWK) }],
    ['none', () => nodeop, 'edge-public', {}],
  ];
  for (const [method, op, clientId, secrets] of cases) {
    test(`${method} against a provider that enforces it`, async () => {
      const providers = { main: { issuer: op().url, client_id: clientId, token_endpoint_auth_method: method.split(' ')[0] } };
      await withWorker(startWorker, worker(providers, { secrets }), async (w) => {
        const { seen } = await loginOk(browser(w));
        assert.equal(seen.headers['x-auth-email'], 'alice@example.com');
      });
    });
  }

  test('a wrong method is refused by the provider (the test can fail)', async () => {
    // edge-post is registered for client_secret_post at pyOP, which enforces it.
    const providers = { main: { issuer: pyop.url, client_id: 'edge-post', token_endpoint_auth_method: 'client_secret_basic' } };
    await withWorker(startWorker, worker(providers, { secrets: { CLIENT_SECRET: 'post-secret-0123456789' } }), async (w) => {
      const { final } = await browser(w).follow(`${RP}/private`);
      assert.equal(final.status, 502);
      assert.match(final.body, /invalid_client/);
      // A forged JWT-based assertion is refused too.
    });
    const forged = { main: { issuer: nodeop.url, client_id: 'edge-jwt', token_endpoint_auth_method: 'client_secret_jwt' } };
    await withWorker(startWorker, worker(forged, { secrets: { CLIENT_SECRET: randomBytes(32).toString('base64url') } }), async (w) => {
      const { final } = await browser(w).follow(`${RP}/private`);
      assert.equal(final.status, 502);
      assert.match(final.body, /invalid_client/);
    });
  });

  test('the method is chosen from the provider\'s supported methods when not configured', async () => {
    const providers = { main: { issuer: pyop.url, client_id: 'edge-basic' } };
    await withWorker(startWorker, worker(providers, { secrets: { CLIENT_SECRET: 'basic-secret-0123456789' } }), async (w) => {
      await loginOk(browser(w));
    });
  });

  test('the public JWK set is published at the well-known path, without private parts', async () => {
    const providers = { main: { issuer: nodeop.url, client_id: 'edge-pkjwt', token_endpoint_auth_method: 'private_key_jwt' } };
    await withWorker(startWorker, worker(providers, { secrets: { CLIENT_PRIVATE_KEY: JSON.stringify(PRIVATE_JWK) } }), async (w) => {
      const res = await browser(w).request(`${RP}/.well-known/jwks.json`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
      assert.equal(res.status, 200);
      const doc = JSON.parse(res.body);
      assert.equal(doc.keys.length, 1);
      assert.equal(doc.keys[0].kid, 'rp-key-1');
      assert.equal(doc.keys[0].x, PUBLIC_JWK.x);
      assert.equal(doc.keys[0].d, undefined);
    });
  });
});

describe('authentication request parameters', () => {
  test('scope, prompt, max_age, acr_values, ui_locales, claims, login_hint pass-through and free extras', async () => {
    const providers = {
      main: {
        issuer: nodeop.url,
        client_id: 'edge-basic',
        scope: 'openid email',
        prompt: 'login',
        max_age: 600,
        acr_values: 'urn:example:loa:2',
        ui_locales: 'de en',
        claims: { id_token: { email: { essential: true } } },
        auth_params: { resource: 'https://api.example' },
        passthrough_params: ['login_hint'],
      },
    };
    await withWorker(startWorker, worker(providers, { secrets: { CLIENT_SECRET: 'basic-secret-0123456789' } }), async (w) => {
      const c = browser(w);
      const res = await c.request(`${RP}/login?return_to=/x&login_hint=bob&domain_hint=evil`);
      const q = new URL(res.location).searchParams;
      assert.equal(q.get('scope'), 'openid email');
      assert.equal(q.get('prompt'), 'login');
      assert.equal(q.get('max_age'), '600');
      assert.equal(q.get('acr_values'), 'urn:example:loa:2');
      assert.equal(q.get('ui_locales'), 'de en');
      assert.deepEqual(JSON.parse(q.get('claims')), { id_token: { email: { essential: true } } });
      assert.equal(q.get('resource'), 'https://api.example');
      assert.equal(q.get('login_hint'), 'bob');
      assert.equal(q.get('domain_hint'), null, 'not allowed by passthrough_params');
    });
  });

  test('max_age: auth_time is required and checked', async () => {
    // oidc-provider sends auth_time when max_age is requested: the login succeeds.
    const ok = { main: { issuer: nodeop.url, client_id: 'edge-basic', max_age: 600 } };
    await withWorker(startWorker, worker(ok, { secrets: { CLIENT_SECRET: 'basic-secret-0123456789' } }), async (w) => {
      await loginOk(browser(w));
    });
    // pyOP ignores max_age and sends no auth_time: the ID token is refused.
    const missing = { main: { issuer: pyop.url, client_id: 'edge-basic', max_age: 600 } };
    await withWorker(startWorker, worker(missing, { secrets: { CLIENT_SECRET: 'basic-secret-0123456789' } }), async (w) => {
      const c = browser(w);
      const { final } = await c.follow(`${RP}/private`);
      assert.equal(final.status, 502, final.body);
      assert.match(final.body, /auth_time/);
      assert.equal(sessionCookies(c).length, 0);
    });
  });
});
