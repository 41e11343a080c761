// Every response type and mode end to end: the built worker in workerd against node
// oidc-provider and pyOP, and pushed authorization requests (RFC 9126) against oidc-provider set
// to require them.
//
// The relying party is https://rp.test (oidc-provider accepts implicit and hybrid clients only
// with https redirect URIs): the requests reach miniflare over plain HTTP and its entry worker
// hands the worker the https URL (lib/worker.mjs, originalUrl), so the cookies are the
// `__Host-`, `Secure` ones of a real deployment.
//
// Each case is one provider of one worker (all with the same issuer and client). A case passes
// when the login ends on the protected page as alice, the response came the way the mode says
// (no token in any URL the worker saw for fragment and form_post; a relay page where one is due)
// and the provider accepts the session's ID token as `id_token_hint` at logout (it validates the
// signature, issuer and audience), which shows the session kept a genuine ID token.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeOp, startPyop, startEchoOrigin } from './lib/peers.mjs';
import { startWorker } from './lib/worker.mjs';
import { browser } from './lib/fixture.mjs';
import { followLogin } from './lib/flows.mjs';

const RP = 'https://rp.test';
const SESSION = '__Host-edge_oidc';
const TYPES = ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'];
const CLIENT = { client_id: 'edge-flows', client_secret: 'flows-secret-0123456789' };

// [response_type, response_mode (undefined: the type's default)]
const CASES = [
  ['code', undefined], ['code', 'fragment'], ['code', 'form_post'],
  ...TYPES.slice(1).flatMap((rt) => [[rt, undefined], [rt, 'form_post']]),
];

const providerName = (rt, mode) => `${rt} ${mode ?? 'default'}`.replaceAll(' ', '-');

function opConfig(extra = {}) {
  return {
    response_types: TYPES,
    clients: [{
      ...CLIENT,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [`${RP}/redirect_uri`],
      post_logout_redirect_uris: [`${RP}/logged-out`],
      response_types: TYPES,
      grant_types: ['authorization_code', 'implicit', 'refresh_token'],
    }],
    ...extra,
  };
}

function workerOptions(op, echo, providers) {
  const names = Object.keys(providers);
  return {
    config: {
      origin: echo.url,
      providers: Object.fromEntries(names.map((name) => [name, {
        issuer: op.url,
        client_id: CLIENT.client_id,
        token_endpoint_auth_method: 'client_secret_basic',
        ...providers[name],
      }])),
    },
    secrets: Object.fromEntries(names.map((n) => [`CLIENT_SECRET_${n.toUpperCase().replaceAll('-', '_')}`, CLIENT.client_secret])),
  };
}

/** One login at provider `name`, checked as the file's header says. */
async function loginAndLogout(worker, op, name, rt, mode, subject) {
  const client = browser(worker, RP);
  const effective = mode ?? (rt === 'code' ? 'query' : 'fragment');
  const { hops, final, relays } = await followLogin(client, `${RP}/login?provider=${name}&return_to=/private`);
  assert.equal(final.status, 200, `${name}: ${final.url}\n${final.body.slice(0, 600)}`);
  const seen = JSON.parse(final.body);
  assert.equal(seen.url, '/private');
  // oidc-provider names alice by her account id, pyOP by a hash of it (the same in every case).
  if (subject instanceof RegExp) assert.match(seen.headers['x-auth-subject'], subject);
  else assert.equal(seen.headers['x-auth-subject'], subject);
  assert.equal(seen.headers['x-auth-email'], 'alice@example.com');
  assert.ok(client.cookie(SESSION, RP), 'a __Host- session cookie');
  // The way the answer came.
  const toRp = hops.filter((h) => h.url.startsWith(`${RP}/redirect_uri`));
  const expectedRelays = effective === 'query' ? [] : [effective];
  assert.deepEqual(relays.map((r) => r.kind), expectedRelays, `${name}: ${JSON.stringify(toRp)}`);
  if (effective !== 'query') {
    for (const h of toRp) {
      const search = new URL(h.url).search;
      assert.ok(!/(^|[?&])(code|id_token|access_token)=/.test(search), `${name}: a token in a URL the worker saw: ${h.url}`);
    }
  }
  const authorize = hops.find((h) => h.url.startsWith(op.url) && new URL(h.url).searchParams.has('response_type'));
  assert.equal(new URL(authorize.url).searchParams.get('response_type'), rt);
  // Logout through the provider with the session's ID token as id_token_hint.
  const out = await client.follow(`${RP}/logout`, { initiator: RP });
  let last = out.final;
  if (last.url.startsWith(op.url) && /<form/i.test(last.body)) ({ final: last } = await client.submitForm(last));
  assert.equal(last.url, `${RP}/logged-out`, `${name}: the provider took the id_token_hint: ${last.url}\n${last.body.slice(0, 400)}`);
  assert.match(last.body, /Signed out/);
  return seen.headers['x-auth-subject'];
}

/** One provider per response type and mode of CASES, all at the same OP. */
function everyCase() {
  return Object.fromEntries(CASES.map(([rt, mode]) => [providerName(rt, mode), {
    response_type: rt,
    ...(mode ? { response_mode: mode } : {}),
  }]));
}

describe('node oidc-provider: every response type and mode', () => {
  let op;
  let echo;
  let worker;
  before(async () => {
    [op, echo] = await Promise.all([startNodeOp(opConfig()), startEchoOrigin()]);
    worker = await startWorker(workerOptions(op, echo, everyCase()));
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([op?.stop(), echo?.stop()]);
  });

  for (const [rt, mode] of CASES) {
    test(`${rt} / ${mode ?? 'default mode'}`, async () => {
      await loginAndLogout(worker, op, providerName(rt, mode), rt, mode, 'alice');
    });
  }
});

describe('pyOP: every response type and mode', () => {
  let pyopSubject;
  let op;
  let echo;
  let worker;
  before(async () => {
    [op, echo] = await Promise.all([startPyop(opConfig()), startEchoOrigin()]);
    worker = await startWorker(workerOptions(op, echo, everyCase()));
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([op?.stop(), echo?.stop()]);
  });

  for (const [rt, mode] of CASES) {
    test(`${rt} / ${mode ?? 'default mode'}`, async () => {
      const sub = await loginAndLogout(worker, op, providerName(rt, mode), rt, mode, pyopSubject ?? /^[0-9a-f]{64}$/);
      pyopSubject ??= sub;
    });
  }
});

describe('pushed authorization requests (RFC 9126) at oidc-provider set to require them', () => {
  let op;
  let echo;
  let worker;
  before(async () => {
    [op, echo] = await Promise.all([startNodeOp(opConfig({ require_par: true })), startEchoOrigin()]);
    const options = workerOptions(op, echo, {
      'par-hybrid': { response_type: 'code id_token', response_mode: 'form_post' },
      'par-code': { response_type: 'code' },
      'par-off': { response_type: 'code', pushed_authorization_requests: 'off' },
      'par-wrong-secret': { response_type: 'code' },
    });
    options.secrets.CLIENT_SECRET_PAR_WRONG_SECRET = 'not-the-secret';
    worker = await startWorker(options);
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([op?.stop(), echo?.stop()]);
  });

  test('the provider requires PAR (discovery): the browser carries only client_id and request_uri', async () => {
    for (const name of ['par-hybrid', 'par-code']) {
      const client = browser(worker, RP);
      const { hops, final } = await followLogin(client, `${RP}/login?provider=${name}&return_to=/private`);
      assert.equal(final.status, 200, `${name}: ${final.body.slice(0, 400)}`);
      assert.equal(JSON.parse(final.body).headers['x-auth-subject'], 'alice');
      const authorize = hops.find((h) => new URL(h.url).pathname === '/auth' && h.url.startsWith(op.url));
      const params = [...new URL(authorize.url).searchParams.keys()].sort();
      assert.deepEqual(params, ['client_id', 'request_uri'], authorize.url);
      assert.match(new URL(authorize.url).searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
    }
  });

  test('the provider refusing the pushed request (a wrong client secret) is shown as its error, with no login started', async () => {
    const client = browser(worker, RP);
    const res = await client.request(`${RP}/login?provider=par-wrong-secret&return_to=/private`);
    assert.equal(res.status, 401, res.body);
    assert.match(res.body, /invalid_client/);
    assert.equal(res.setCookies.length, 0, 'no pending login');
  });

  test('pushed_authorization_requests "off" with a provider that requires PAR: a generic page, the key in the log', async () => {
    const client = browser(worker, RP);
    const res = await client.request(`${RP}/login?provider=par-off&return_to=/private`);
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.body, /pushed/);
    const deadline = Date.now() + 5000;
    while (!worker.logs().includes('providers.par-off.pushed_authorization_requests') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(worker.logs(), /providers\.par-off\.pushed_authorization_requests.*set it to auto or on/);
  });
});
