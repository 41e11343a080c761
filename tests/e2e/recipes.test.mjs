// Provider recipes (docs/providers/*.md), end to end. Each test reads its page's ```toml block
// (smol-toml), puts the local provider's address where the page names the real one and the
// test RP (http://rp.test) where it names the site, and logs in with exactly that configuration
// through the built worker in workerd against the project's fault OP (tests/e2e/lib/fault_op.mjs)
// set up to behave like that provider: the issuer's form (Auth0's trailing slash, Keycloak's
// /realms/<name>, Entra's {tenantid} template with tid), where the claims are (ID token or
// UserInfo, under which names), and which endpoints are missing (no end_session_endpoint at
// Google and GitLab). The client id and the secret's name are the page's own, so a page that
// drifts from what edge-oidc accepts fails here. What each recipe test proves is in its title and
// in the page's "Checked by" section.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { startEchoOrigin, startNodeOp } from './lib/peers.mjs';
import { startWorker, ROOT } from './lib/worker.mjs';
import { RP, REDIRECT_URI, POST_LOGOUT_URI, browser, sessionCookies } from './lib/fixture.mjs';
import { startFaultOp, CLIENT_SECRET, SUBJECT } from './lib/fault_op.mjs';

const SITE = 'https://app.example.com';

/**
 * The page's configuration as the worker will get it: the first ```toml block, with `real` (the
 * provider's origin on the page) replaced by `local` and the site by the test RP. Also the name of
 * the client secret the page tells the operator to store (`wrangler secret put CLIENT_SECRET_…`).
 */
export function readRecipe(name, real, local) {
  const page = readFileSync(path.join(ROOT, 'docs/providers', `${name}.md`), 'utf8');
  const block = /^```toml\n([\s\S]*?)^```$/m.exec(page)?.[1];
  assert.ok(block, `docs/providers/${name}.md has a toml block`);
  assert.ok(block.includes(real), `the page's toml names ${real}`);
  assert.ok(block.includes(SITE), `the page's toml names ${SITE}`);
  const toml = parseToml(block.replaceAll(real, local).replaceAll(SITE, RP));
  const config = toml?.vars?.EDGE_OIDC_CONFIG;
  assert.ok(config?.providers?.[name], `the page configures providers.${name}`);
  const secret = /wrangler secret put (CLIENT_SECRET\w*)/.exec(page)?.[1];
  assert.ok(secret, `docs/providers/${name}.md names the client secret to store`);
  return { config, provider: config.providers[name], secret };
}

let op;
let echo;
before(async () => {
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
});
after(async () => {
  await echo?.stop();
  await op?.stop();
});

/**
 * One recipe: an OP tenant shaped like the provider, and a worker running the page's
 * configuration. `user` is what the provider says about the next user to sign in (changed by the
 * tests): `idToken` claims to add (or `undefined` to drop), `userinfo` claims to add, and for
 * Entra the tenant (`issuer` of that user's tokens).
 */
async function recipe(name, { real, profile = {}, discovery, authorize, adjust = (c) => c }) {
  const r = { user: { idToken: {}, userinfo: {} } };
  r.tenant = op.tenant(name, {
    discovery: discovery ?? ((doc) => doc),
    authorize: authorize ?? ((p) => p),
    idToken: {
      claims: (c) => {
        const out = { ...c, ...r.user.idToken };
        for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
        return out;
      },
    },
    userinfo: (claims) => ({ ...claims, ...r.user.userinfo }),
  }, profile);
  const { config, provider, secret } = readRecipe(name, real, r.tenant.root);
  r.page = provider;
  r.tenant.clientId = provider.client_id;
  r.worker = await startWorker({
    config: adjust({ ...config, origin: echo.url }),
    secrets: { [secret]: CLIENT_SECRET },
  });
  return r;
}

/** Signs in from a fresh browser; returns the browser, the hops and the final response. */
async function signIn(r) {
  const client = browser(r.worker);
  const { hops, final } = await client.follow(`${RP}/private`);
  return { client, hops, final, auth: new URL(hops[0].location) };
}

/** The login ended at the origin, as the provider's user, with a session. */
function assertSignedIn({ client, final }) {
  assert.equal(final.status, 200, final.body.slice(0, 600));
  const seen = JSON.parse(final.body);
  assert.equal(seen.url, '/private');
  assert.equal(seen.headers['x-auth-subject'], SUBJECT);
  assert.ok(sessionCookies(client).length >= 1, 'a session cookie');
  return seen;
}

/** A 403 page naming the unmet claim (never its value), and no session. */
function assertDenied({ client, final }, claim) {
  assert.equal(final.status, 403, final.body.slice(0, 600));
  assert.match(final.body, new RegExp(`sign-in requirements \\(claim [^)]*\\b${claim}\\b[^)]*\\)`));
  assert.equal(sessionCookies(client).length, 0, 'no session');
}

/** Logout at a provider with an end_session_endpoint: there with id_token_hint, then back. */
async function assertProviderLogout(r, client) {
  const out = await client.follow(`${RP}/logout`);
  const toOp = out.hops.find((h) => h.location?.startsWith(r.tenant.endpoints));
  assert.ok(toOp, `logout went to the provider: ${JSON.stringify(out.hops)}`);
  const endSession = new URL(toOp.location);
  assert.equal(endSession.pathname, new URL(`${r.tenant.endpoints}/end_session`).pathname);
  assert.ok(endSession.searchParams.get('id_token_hint'));
  assert.equal(out.final.url.split('?')[0], `${RP}/logged-out`);
  assert.equal(r.tenant.hits.end_session, 1);
  assert.equal(sessionCookies(client).length, 0);
}

/** Logout without an end_session_endpoint: local, and the page names the provider. */
async function assertLocalLogout(r, client, displayName) {
  const out = await client.follow(`${RP}/logout`);
  assert.equal(out.final.status, 200);
  assert.ok(out.hops.every((h) => !h.location?.startsWith(op.url)), 'never sent to the provider');
  assert.match(out.final.body, new RegExp(`may still be signed in at ${displayName}`));
  assert.equal(r.tenant.hits.end_session, 0);
  assert.equal(sessionCookies(client).length, 0);
  const next = await client.request(`${RP}/private`);
  assert.equal(next.status, 302, 'signed out here: the next navigation logs in again');
}

const stop = (r) => r?.worker?.stop();
const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));

// Proves: Google's shape (issuer without a path, no end_session_endpoint, hd in the ID token)
// works with the page's TOML; required_claims on hd refuses other domains and personal accounts;
// no UserInfo call; logout is local and names Google.
describe('google', () => {
  let r;
  before(async () => {
    r = await recipe('google', {
      real: 'https://accounts.google.com',
      // Google's discovery document has no end_session_endpoint.
      discovery: (doc) => without(doc, 'end_session_endpoint'),
    });
  });
  after(() => stop(r));

  test('the page\'s configuration signs in a Workspace user (hd) without UserInfo, with the hd hint', async () => {
    r.user.idToken = { hd: 'example.com' };
    const login = await signIn(r);
    assertSignedIn(login);
    assert.equal(login.auth.searchParams.get('hd'), 'example.com', 'auth_params.hd is sent');
    assert.equal(r.tenant.hits.userinfo, 0, 'fetch_userinfo = false: no UserInfo request');
    await assertLocalLogout(r, login.client, 'Google');
  });

  test('another hd, or none (a consumer account), gets 403 and no session', async () => {
    for (const hd of ['evil.example', undefined]) {
      r.user.idToken = { hd };
      assertDenied(await signIn(r), 'hd');
    }
  });
});

// A tenant id the page allows, and one it does not.
const OTHER_TENANT = '11112222-3333-4444-5555-666677778888';

// Proves: the {tenantid} template (discovered at discovery_url, naming the template) accepts a
// token whose iss is the template with its own tid; allowed_tenants refuses other tenants (403);
// an iss of another tenant, a non-GUID tid, or an RFC 9207 iss of another tenant is refused;
// require_email_verified = false is what lets Entra's unverified email pass an allow-list;
// client_secret_post; logout at the end-session endpoint.
describe('entra', () => {
  let r;
  let tid;
  const asTenant = (id, claims = {}) => {
    // Entra: the token's iss is the template with the user's own tenant in it, tid says which;
    // no email_verified claim.
    r.tenant.issuer = `${r.tenant.root}/${id}/v2.0`;
    r.user.idToken = { tid: id, email_verified: undefined, ...claims };
  };
  before(async () => {
    r = await recipe('entra', {
      real: 'https://login.microsoftonline.com',
      // The organizations authority: discovery at /organizations/v2.0, issuer a template.
      profile: { prefix: 'organizations/v2.0', authMethods: ['client_secret_post', 'client_secret_basic'] },
      discovery: (doc) => ({
        ...without(doc, 'authorization_response_iss_parameter_supported'),
        issuer: `${r.tenant.root}/{tenantid}/v2.0`,
      }),
      // Entra sends no RFC 9207 iss parameter.
      authorize: (p) => without(p, 'iss'),
      // A test addition: an email allow-list, which passes only with require_email_verified = false.
      adjust: (c) => ({ ...c, allowed_email_domains: ['example.com'] }),
    });
    [tid] = r.page.allowed_tenants;
  });
  after(() => stop(r));

  test('a user of the allowed tenant signs in: iss from the template and tid, email unverified, client_secret_post', async () => {
    asTenant(tid);
    const login = await signIn(r);
    const seen = assertSignedIn(login);
    assert.equal(seen.headers['x-auth-email'], 'alice@example.com', 'the email passed the allow-list');
    const token = r.tenant.requests.token.at(-1);
    assert.equal(token.client_secret, CLIENT_SECRET, 'client_secret_post, as the page says');
    await assertProviderLogout(r, login.client);
  });

  test('a user of another tenant gets 403 (claim tid) and no session', async () => {
    asTenant(OTHER_TENANT);
    assertDenied(await signIn(r), 'tid');
  });

  test('an iss naming another tenant than the token\'s tid, or a tid that is not a GUID, is refused', async () => {
    asTenant(OTHER_TENANT, { tid });
    let login = await signIn(r);
    assert.equal(login.final.status, 502, login.final.body.slice(0, 600));
    assert.match(login.final.body, /not issued by the configured issuer/);
    assert.equal(sessionCookies(login.client).length, 0);

    asTenant('evil.example');
    login = await signIn(r);
    assert.equal(login.final.status, 502, login.final.body.slice(0, 600));
    assert.equal(sessionCookies(login.client).length, 0);
  });

  test('an RFC 9207 iss parameter must name the ID token\'s own tenant', async () => {
    asTenant(tid);
    r.tenant.fault.authorize = (p) => ({ ...p, iss: `${r.tenant.root}/${OTHER_TENANT}/v2.0` });
    try {
      const login = await signIn(r);
      assert.equal(login.final.status, 400, login.final.body.slice(0, 600));
      assert.match(login.final.body, /unexpected issuer/);
      assert.equal(sessionCookies(login.client).length, 0);
      // The same parameter naming the token's tenant is accepted.
      r.tenant.fault.authorize = (p) => ({ ...p, iss: `${r.tenant.root}/${tid}/v2.0` });
      assertSignedIn(await signIn(r));
    } finally {
      r.tenant.fault.authorize = (p) => without(p, 'iss');
    }
  });

  test('with require_email_verified left at true the unverified email fails the allow-list', async () => {
    const { config } = readRecipe('entra', 'https://login.microsoftonline.com', r.tenant.root);
    config.providers.entra.require_email_verified = true;
    const strict = await startWorker({
      config: { ...config, origin: echo.url, allowed_email_domains: ['example.com'] },
      secrets: { CLIENT_SECRET_ENTRA: CLIENT_SECRET },
    });
    try {
      asTenant(tid);
      const client = browser(strict);
      const { final } = await client.follow(`${RP}/private`);
      assert.equal(final.status, 403, final.body.slice(0, 600));
      assert.equal(sessionCookies(client).length, 0);
    } finally {
      await strict.stop();
    }
  });
});

// Proves: Okta's org server shape with the groups scope and an ID token groups claim: a listed
// group signs in, none of them is 403; logout at the end-session endpoint.
describe('okta', () => {
  let r;
  before(async () => {
    r = await recipe('okta', { real: 'https://example.okta.com' });
  });
  after(() => stop(r));

  test('a member of a listed group (ID token groups) signs in; the groups scope is requested', async () => {
    r.user.idToken = { groups: ['Everyone', 'edge-admins'] };
    const login = await signIn(r);
    assertSignedIn(login);
    assert.ok(login.auth.searchParams.get('scope').split(' ').includes('groups'));
    await assertProviderLogout(r, login.client);
  });

  test('a user in none of the listed groups gets 403 and no session', async () => {
    r.user.idToken = { groups: ['Everyone'] };
    assertDenied(await signIn(r), 'groups');
  });
});

// Proves: the same page works against a certified OP (node oidc-provider, tests/peers/node_op.mjs)
// playing Okta's org authorization server (issuer without a path, a `groups` scope releasing a
// groups claim into the ID token): a member of a listed group signs in, a user in none gets 403,
// and logout goes through the OP's end-session endpoint back to /logged-out.
describe('okta against node oidc-provider', () => {
  const secret = 'okta-node-secret-0123456789';
  let nodeop;
  let worker;
  before(async () => {
    // The client id the page registers: read before the OP starts (it must know the client).
    const { provider } = readRecipe('okta', 'https://example.okta.com', 'http://127.0.0.1:1');
    const user = (name, email, groups) => ({ email, email_verified: true, name, groups });
    nodeop = await startNodeOp({
      clients: [{
        client_id: provider.client_id,
        client_secret: secret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [REDIRECT_URI],
        post_logout_redirect_uris: [POST_LOGOUT_URI],
      }],
      users: {
        alice: user('Alice Example', 'alice@example.com', ['Everyone', 'edge-users']),
        bob: user('Bob Other', 'bob@example.com', ['Everyone']),
      },
      claims: { groups: ['groups'] },
    });
    const page = readRecipe('okta', 'https://example.okta.com', nodeop.url);
    worker = await startWorker({ config: { ...page.config, origin: echo.url }, secrets: { [page.secret]: secret } });
  });
  after(async () => {
    await worker?.stop();
    await nodeop?.stop();
  });

  test('a listed group signs in, another user gets 403, logout ends the OP session', async () => {
    const alice = browser(worker);
    const { final } = await alice.follow(`${RP}/login?return_to=%2Fprivate&login_hint=alice`);
    assert.equal(final.status, 200, final.body.slice(0, 600));
    assert.equal(JSON.parse(final.body).headers['x-auth-email'], 'alice@example.com');

    const bob = browser(worker);
    const denied = await bob.follow(`${RP}/login?return_to=%2Fprivate&login_hint=bob`);
    assertDenied({ client: bob, final: denied.final }, 'groups');

    const out = await alice.follow(`${RP}/logout`);
    assert.ok(out.hops.some((h) => h.location?.startsWith(`${nodeop.url}/session/end`)), JSON.stringify(out.hops));
    const confirmed = await alice.submitForm(out.final);
    assert.equal(confirmed.final.url.split('?')[0], `${RP}/logged-out`);
    assert.equal(sessionCookies(alice).length, 0);
  });
});

// Proves: Auth0's slash-ended issuer is compared exactly (discovery and tokens; an iss without
// the slash is refused); auth_params.organization is sent and org_id is required (403 otherwise).
describe('auth0', () => {
  let r;
  let org;
  before(async () => {
    // Auth0's issuer ends with a slash; its endpoints and discovery document hang off the host.
    r = await recipe('auth0', { real: 'https://example.eu.auth0.com', profile: { issuer: `${op.url}/auth0/` } });
    org = r.page.required_claims.org_id;
  });
  after(() => stop(r));

  test('the slash-ended issuer is compared exactly; the organization is requested and its org_id signs in', async () => {
    assert.ok(r.page.issuer.endsWith('/'));
    r.user.idToken = { org_id: org };
    const login = await signIn(r);
    assertSignedIn(login);
    assert.equal(login.auth.searchParams.get('organization'), org);
    await assertProviderLogout(r, login.client);
  });

  test('a token of another organization gets 403; an iss without the slash is refused', async () => {
    r.user.idToken = { org_id: 'org_SomeoneElse0000' };
    assertDenied(await signIn(r), 'org_id');
    r.user.idToken = { org_id: org, iss: r.tenant.root };
    const login = await signIn(r);
    assert.equal(login.final.status, 502, login.final.body.slice(0, 600));
    assert.match(login.final.body, /not issued by the configured issuer/);
    assert.equal(sessionCookies(login.client).length, 0);
  });
});

// Proves: a realm issuer (/realms/<name>) with its endpoints under it; roles required on the
// mapped top-level claim, and the nested realm_access.roles alone does not satisfy it.
describe('keycloak', () => {
  let r;
  before(async () => {
    r = await recipe('keycloak', { real: 'https://sso.example.com', profile: { prefix: 'realms/staff' } });
  });
  after(() => stop(r));

  test('a user with the realm role (mapped to roles) signs in with the /realms/<name> issuer', async () => {
    assert.match(r.page.issuer, /\/realms\/staff$/);
    r.user.idToken = { realm_access: { roles: ['docs-reader'] }, roles: ['docs-reader', 'offline_access'] };
    const login = await signIn(r);
    assertSignedIn(login);
    assert.ok(login.auth.href.startsWith(`${r.tenant.root}/realms/staff/`));
    await assertProviderLogout(r, login.client);
  });

  test('without the role, or with it only under realm_access.roles (no mapper), 403 and no session', async () => {
    r.user.idToken = { realm_access: { roles: ['offline_access'] }, roles: ['offline_access'] };
    assertDenied(await signIn(r), 'roles');
    r.user.idToken = { realm_access: { roles: ['docs-reader'] } };
    assertDenied(await signIn(r), 'roles');
  });
});

// Proves: a claim missing from the ID token (groups) is read from UserInfo and decides; no
// end_session_endpoint: logout is local and names GitLab.
describe('gitlab', () => {
  let r;
  before(async () => {
    r = await recipe('gitlab', {
      real: 'https://gitlab.com',
      discovery: (doc) => without(doc, 'end_session_endpoint'),
    });
  });
  after(() => stop(r));

  test('a group member signs in, the group read from UserInfo (the ID token has groups_direct only)', async () => {
    r.user.idToken = { groups_direct: ['example-org'] };
    r.user.userinfo = { groups: ['example-org', 'example-org/team'] };
    const login = await signIn(r);
    assertSignedIn(login);
    assert.equal(r.tenant.hits.userinfo, 1);
    await assertLocalLogout(r, login.client, 'GitLab');
  });

  test('a user whose UserInfo groups lack the group gets 403 and no session', async () => {
    r.user.idToken = { groups_direct: ['example-org'] };
    r.user.userinfo = { groups: ['other-org'] };
    assertDenied(await signIn(r), 'groups');
  });
});
