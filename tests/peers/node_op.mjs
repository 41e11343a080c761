// A real OpenID Provider for tests: panva `oidc-provider` (OpenID Certified), on 127.0.0.1.
//
//   node tests/peers/node_op.mjs --port 0 --config cfg.json [--interactive]
//
// Prints `READY http://127.0.0.1:<port>` once listening (the issuer is that URL) and serves until
// SIGTERM/SIGINT. Config JSON (all optional), same shape as tests/peers/pyop_server.py:
//   {"clients": [{client_id, client_secret?, redirect_uris, post_logout_redirect_uris,
//                 token_endpoint_auth_method, response_types}],
//    "users": {"alice": {email, email_verified, name, ...any other claims}},
//    "signing_alg": "RS256"|"ES256", "refresh_tokens": true,
//    "claims": {"groups": ["groups"]},   extra scopes and the user claims each releases (e.g.
//                                         Okta's `groups` scope; tests/e2e/recipes.test.mjs)
//    "rotate_refresh_tokens": false, "backchannel_logout": false,
//    "frontchannel_logout": {"<client_id>": "<frontchannel_logout_uri>"},
//    "response_types": ["code", "id_token", ...]   (the provider's; default: the library's),
//    "require_par": true                            (RFC 9126: pushed requests only),
//    "resource_servers": {"<resource indicator>": {"scope": "read write", "format": "jwt"|"opaque"}}
//                        (RFC 8707 resource indicators: access tokens for these APIs, RFC 9068
//                         JWTs or opaque ones; the client_credentials grant is on with them)}
// Session features for the session tests (all off unless set): refresh tokens rotated at every
// use (a reused one is refused and revokes the grant, the library's behaviour); Back-Channel
// Logout 1.0 (clients then carry backchannel_logout_uri); Front-Channel Logout 1.0, which
// oidc-provider 9 does not implement: here the page that confirms a logout at the provider
// loads each listed client's URI (with iss and the sid its ID tokens carried) in iframes.
// Test hooks: GET /test/stats ({refreshes, refresh_errors, backchannel}); POST /test/users/<id>
// with JSON claims merged into that user's.
// Without --interactive, GET /interaction/:uid logs in the user named by the authorization
// request's login_hint (else alice) and grants consent at once (a chain of redirects that needs a
// cookie jar). With --interactive it serves plain login and consent forms (any password).
// Every page served here is local HTML: nothing is loaded from the internet.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    config: { type: 'string' },
    interactive: { type: 'boolean', default: false },
  },
});
const cfg = args.config ? JSON.parse(readFileSync(args.config, 'utf8')) : {};
const users = cfg.users ?? {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Example' },
  bob: { email: 'bob@other.example', email_verified: true, name: 'Bob Other' },
};
const alg = cfg.signing_alg ?? 'RS256';
const refresh = cfg.refresh_tokens ?? true;
const stats = { refreshes: 0, refresh_errors: 0, backchannel: 0, introspections: 0 };
const resourceServers = cfg.resource_servers ?? {};
const frontchannel = cfg.frontchannel_logout ?? {};
// The iframes of the logout being confirmed (a test peer serves one user at a time).
let pendingFrontchannel = [];
const grantTypes = refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'];

function signingKey() {
  const [type, opts] = alg === 'RS256' ? ['rsa', { modulusLength: 2048 }]
    : alg === 'ES256' ? ['ec', { namedCurve: 'P-256' }] : [];
  if (!type) throw new Error(`unsupported signing_alg ${alg}`);
  const { privateKey } = generateKeyPairSync(type, opts);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `node-op-${alg.toLowerCase()}` };
}

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26em;margin:3em auto;padding:0 1em}
input,button{display:block;width:100%;margin:.4em 0;padding:.5em;font-size:1em;box-sizing:border-box}
.hint{color:#666;font-size:.9em}.err{color:#b00}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;

const server = createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: (cfg.clients ?? []).map((c) => ({
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : 'none',
    post_logout_redirect_uris: [],
    ...c,
  })),
  clientDefaults: {
    grant_types: grantTypes,
    id_token_signed_response_alg: alg,
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  ...(cfg.response_types ? { responseTypes: cfg.response_types } : {}),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(users, id)) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...users[id] }) };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale', 'updated_at'],
    ...(cfg.claims ?? {}),
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', ...Object.keys(cfg.claims ?? {})],
  conformIdTokenClaims: false, // scope claims also go into the ID token, not only into userinfo
  ...(cfg.rotate_refresh_tokens ? { rotateRefreshToken: true } : {}),
  // Logout tokens go to a relying party on 127.0.0.1, which the library's SSRF guard (rightly, in
  // production) refuses: this peer only ever runs on loopback.
  ...(cfg.backchannel_logout ? { fetch: (url, { dispatcher, ...options }) => fetch(url, options) } : {}),
  features: {
    devInteractions: { enabled: false }, // its pages load a web font; ours are served below
    registration: { enabled: true }, // open dynamic client registration
    revocation: { enabled: true },
    backchannelLogout: { enabled: Boolean(cfg.backchannel_logout) },
    // The front-channel test asks for `sid` in the ID token with the claims parameter.
    claimsParameter: { enabled: Boolean(cfg.frontchannel_logout) },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    // Bearer-token APIs (tests/e2e/bearer.test.mjs): access tokens for the listed resources, as
    // RFC 9068 JWTs (typ at+jwt) or opaque tokens to introspect.
    clientCredentials: { enabled: Object.keys(resourceServers).length > 0 },
    resourceIndicators: {
      enabled: Object.keys(resourceServers).length > 0,
      useGrantedResource: () => true,
      async getResourceServerInfo(ctx, indicator) {
        const rs = resourceServers[indicator];
        if (!rs) throw new errors.InvalidTarget();
        return {
          scope: rs.scope ?? 'read',
          audience: indicator,
          accessTokenTTL: rs.ttl ?? 300,
          accessTokenFormat: rs.format ?? 'jwt',
          ...(rs.format === 'opaque' ? {} : { jwt: { sign: { alg } } }),
        };
      },
    },
    // On by default in oidc-provider; `require_par` makes it the only way in.
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: cfg.require_par ?? false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const session = ctx.oidc.session;
        pendingFrontchannel = Object.entries(frontchannel)
          .filter(([clientId]) => session?.authorizations?.[clientId])
          .map(([clientId, uri]) => {
            const u = new URL(uri);
            u.searchParams.set('iss', issuer);
            u.searchParams.set('sid', session.sidFor(clientId));
            return u.href;
          });
        // form = <form id="op.logoutForm" method="post" action=...><input type=hidden name=xsrf ...></form>
        const buttons = '<button type="submit" name="logout" value="yes" autofocus>Yes, sign me out</button>'
          + '<button type="submit">No, stay signed in</button>';
        ctx.body = page('Sign out', `<p>Do you want to sign out from ${esc(ctx.host)}?</p>${form.replace('</form>', `${buttons}</form>`)}`);
      },
      async postLogoutSuccessSource(ctx) {
        const frames = pendingFrontchannel.map((u) => `<iframe src="${esc(u)}" title="sign-out" width="300" height="120"></iframe>`).join('');
        pendingFrontchannel = [];
        ctx.body = page('Signed out', `<p>Your sign-out was successful.</p>${frames}`);
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p><b>${esc(k)}</b>: ${esc(v)}</p>`).join(''));
  },
  pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
  // a refresh token for every authorization_code grant of a client allowed the refresh_token grant
  // (the library default also requires the offline_access scope and consent prompt)
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400,
    Interaction: 600, Session: 86400, Grant: 86400,
  },
});

// error details (invalid_grant hides them from the client) go to stderr, which the tests keep
for (const event of ['grant.error', 'server_error', 'authorization.error', 'end_session.error', 'userinfo.error', 'registration_create.error']) {
  provider.on(event, (ctx, err) => console.error(`${event}: ${err.name}: ${err.message}${err.error_detail ? ` (${err.error_detail})` : ''}`));
}

async function finishLogin(req, res, accountId) {
  await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
}

async function finishConsent(req, res, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scope] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scope.join(' '));
  }
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

function loginPage(uid, params, error) {
  return page('Sign in', `${error ? `<p class="err">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<input name="login" placeholder="user name" value="${esc(params.login_hint)}" autofocus required>
<input name="password" type="password" placeholder="password (anything)">
<button type="submit">Sign in</button></form>
<p class="hint">Demo users: ${Object.keys(users).map(esc).join(', ')} (try alice, any password).</p>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, details) {
  const scopes = [...(details.prompt.details.missingOIDCScope ?? [])];
  return page('Authorize', `<p>Client <b>${esc(details.params.client_id)}</b> asks for:
${esc(scopes.join(' ') || 'access')}</p>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit" autofocus>Continue</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

provider.on('grant.success', (ctx) => { if (ctx.oidc.params.grant_type === 'refresh_token') stats.refreshes += 1; });
provider.on('grant.error', (ctx) => { if (ctx.oidc.params?.grant_type === 'refresh_token') stats.refresh_errors += 1; });
provider.on('backchannel.success', () => { stats.backchannel += 1; });
provider.on('backchannel.error', (ctx, err) => console.error(`backchannel.error: ${err.message} ${err.cause?.message ?? ''}`));

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (req.url.startsWith('/token/introspection')) stats.introspections += 1;
  if (req.url === '/test/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(stats));
  }
  const user = /^\/test\/users\/(\w+)$/.exec(req.url);
  if (user && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    users[user[1]] = { ...users[user[1]], ...JSON.parse(body) };
    res.writeHead(204);
    return res.end();
  }
  const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?\/?(?:\?|$)/.exec(req.url);
  if (!m) return callback(req, res);
  const [, uid, action] = m;
  try {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params } = details;
    if (action === 'abort' && req.method === 'POST') {
      return await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    }
    if (!args.interactive && !action && req.method === 'GET') {
      if (prompt.name === 'login') {
        return await finishLogin(req, res, Object.hasOwn(users, params.login_hint ?? '') ? params.login_hint : 'alice');
      }
      if (prompt.name === 'consent') return await finishConsent(req, res, details);
    } else if (!action && req.method === 'GET') {
      if (prompt.name === 'login') return sendHtml(res, 200, loginPage(uid, params));
      if (prompt.name === 'consent') return sendHtml(res, 200, consentPage(uid, details));
    } else if (action === 'login' && req.method === 'POST' && prompt.name === 'login') {
      const { login } = await readForm(req);
      if (!Object.hasOwn(users, login ?? '')) return sendHtml(res, 200, loginPage(uid, params, `Unknown user "${login}".`));
      return await finishLogin(req, res, login);
    } else if (action === 'confirm' && req.method === 'POST' && prompt.name === 'consent') {
      return await finishConsent(req, res, details);
    }
    sendHtml(res, 400, page('Error', `<p>Unexpected interaction step (${esc(prompt.name)}).</p>`));
  } catch (err) {
    if (!res.headersSent) sendHtml(res, 400, page('Error', `<p>${esc(err.name)}: ${esc(err.message)}</p>`));
  }
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`READY ${issuer}`);
