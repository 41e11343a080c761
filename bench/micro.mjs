// Section 3 of the benchmark: CPU of the core compiled to wasm, timed in V8 (Node's; workerd
// embeds the same engine). The wasm comes from bench/wasm (built by bench/run.sh with the release
// profile of the deployed bundle and the same wasm-opt pass).
//
//   node bench/micro.mjs [pkgDir]      prints the results as JSON
//
// Work measured (each repeated in a loop inside wasm, median of 7 batches of >= 150 ms):
// - hot path: App::handle for a request with a valid session cookie -> forward with identity
//   headers (cookie parse, AEAD open, JSON parse, allow-lists, header values);
// - callback: App::handle for the redirect back from the provider, warm isolate, provider answers
//   canned (KV read of the pending login, token response parse, ID token signature + claims,
//   at_hash, UserInfo parse, session JSON + seal, Set-Cookie) -- everything but the network wait;
// - its parts on their own, the unauthenticated redirect, and the configuration parse a fresh
//   isolate does once (cold: the first in the process; warm).
// Signatures are checked by the runtime's WebCrypto, as in the worker (Node's crypto.subtle
// here, native code; workerd's is the same BoringSSL-class native code). WebCrypto is
// asynchronous, so the callback and the ID token validation are timed through async exports;
// process CPU time includes the crypto Node runs on its thread pool (plus the hand-off to it,
// which workerd does not have: it runs WebCrypto on the request's thread).
import { createRequire } from 'node:module';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signingKey, idToken, opaqueToken } from './lib/tokens.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ISSUER = 'https://op.example';
const CLIENT_ID = 'bench-rp';
const RP = 'https://rp.example';
// The RP is https: the identity cookie is __Host-edge_oidc (pending logins __Host-edge_oidc_s.*).
const COOKIE = '__Host-edge_oidc';

const META = {
  authorization_endpoint: `${ISSUER}/auth`,
  token_endpoint: `${ISSUER}/token`,
  jwks_uri: `${ISSUER}/jwks`,
  userinfo_endpoint: `${ISSUER}/me`,
  end_session_endpoint: `${ISSUER}/session/end`,
};

/** Times `fn(n)` (which must return n, or a promise of n: every repetition succeeded);
 * microseconds per call. */
export async function measure(name, fn, { minMs = 150, samples = 7 } = {}) {
  // CPU time of this process (user + system, all threads), not wall time: on a shared machine
  // other processes' work shows up in wall time only. After warm-up no compiler threads run, so
  // this is the wasm's own CPU (plus, for WebCrypto, the native crypto on Node's thread pool).
  const run = async (n) => {
    const c = process.cpuUsage();
    const ok = await fn(n);
    const { user, system } = process.cpuUsage(c);
    if (ok !== n) throw new Error(`${name}: ${ok} of ${n} repetitions gave the expected result`);
    return (user + system) / 1000;
  };
  // Warm-up: lazy compilation, then V8's tier-up to optimised code (triggered by the work
  // done in a function, effective from its next call), caches.
  let warm = 0;
  for (let k = 1; warm < 100; k *= 2) warm += await run(k);
  let n = 1;
  let dt = await run(n);
  while (dt < minMs / 4) {
    n *= 4;
    dt = await run(n);
  }
  n = Math.max(1, Math.ceil((n * minMs) / dt));
  const per = [];
  for (let i = 0; i < samples; i += 1) per.push(((await run(n)) * 1000) / n);
  per.sort((a, b) => a - b);
  return { name, us: per[Math.floor(per.length / 2)], min_us: per[0], max_us: per.at(-1), n };
}

function cookieHeader(setCookies, extra = []) {
  const pairs = setCookies.map(([, v]) => v.split(';')[0]).filter((p) => !p.endsWith('='));
  return [...extra, ...pairs].join('; ');
}

/** The sealed session value: the cookie, or its chunks joined in order (seal.rs chunking). */
function sealedFrom(setCookies) {
  const values = new Map();
  for (const [, v] of setCookies) {
    const pair = v.split(';')[0];
    const i = pair.indexOf('=');
    values.set(pair.slice(0, i), pair.slice(i + 1));
  }
  if (values.has(`${COOKIE}.0`)) {
    const parts = [];
    for (let i = 0; values.has(`${COOKIE}.${i}`); i += 1) parts.push(values.get(`${COOKIE}.${i}`));
    return { sealed: parts.join(''), chunks: parts.length };
  }
  return { sealed: values.get(COOKIE), chunks: 1 };
}

/**
 * Rules for the hot path with rules on: eight rules, the page under test matched by the last,
 * so the walk passes seven (each with a host, method or path test) and then checks a domain, a
 * group and a nested claim against the projected claims.
 */
export const BENCH_RULES = [
  { path: '/healthz', action: 'public' },
  { path_prefix: '/public/', action: 'public' },
  { path_prefix: '/internal/', action: 'deny' },
  { host: 'api.example', path_prefix: '/v1/', action: 'authenticated', allow_preflight: true },
  { path_prefix: '/admin/', action: 'authenticated', groups: ['admins'] },
  { path_prefix: '/write/', methods: ['POST', 'PUT'], action: 'authenticated', groups: ['writers'] },
  { path: '/docs/secret.html', action: 'deny' },
  { name: 'docs', path_prefix: '/docs/', action: 'authenticated', email_domains: ['example.com'], groups: ['staff'],
    claims: [{ path: 'realm_access.roles', any_of: ['reader', 'admin'] }] },
];

/** EDGE_OIDC_CONFIG and the secret bindings of the micro-benchmarks (one provider). */
function configFor(keys, { rules = false, extra = {}, secrets = {} } = {}) {
  const config = {
    providers: { main: { issuer: ISSUER, client_id: CLIENT_ID, token_endpoint_auth_method: 'client_secret_basic', metadata: META } },
    session: { lifetime_secs: 28800 },
    ...(rules ? { rules: BENCH_RULES } : {}),
    ...extra,
  };
  return [JSON.stringify(config), JSON.stringify({ COOKIE_KEYS: keys, CLIENT_SECRET: 'bench-secret-0123456789', ...secrets })];
}

/** The P-256 key that signs identity assertions (PKCS#8 PEM, as `openssl genpkey` writes it). */
const ASSERTION_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });

/**
 * The hot path with the signed identity assertion on (`[assertion]`): the first request of the
 * session signs (WebCrypto, async), the measured ones reuse it from the isolate's cache; and the
 * signature itself, which a session pays once per isolate per 3/4 of the assertion's lifetime.
 */
async function assertionCases(wasm, f, now, hotPath, { rules = false } = {}) {
  const rp = new wasm.Rp(...configFor(f.keys, { rules, extra: { assertion: {} }, secrets: { ASSERTION_KEY } }), now);
  const first = JSON.parse(await rp.request('GET', hotPath, f.sessionCookie, 'text/html'));
  if (first.kind !== 'forward' || !first.add_headers.some(([k]) => k === 'x-edge-oidc-assertion')) {
    throw new Error(`assertion: ${JSON.stringify(first).slice(0, 500)}`);
  }
  const hot = await measure(`hot path with the assertion (reused from the isolate cache)${rules ? ' and 8 rules' : ''}`, (n) => rp.run(n, 'GET', hotPath, f.sessionCookie, 'text/html', 0));
  // No I/O on the hot path with the assertion on either (KV gets/puts/deletes, HTTP requests).
  const before = Array.from(rp.io());
  rp.run(1000, 'GET', hotPath, f.sessionCookie, 'text/html', 0);
  const io = Array.from(rp.io()).map((v, i) => v - before[i]);
  if (io.some((v) => v !== 0)) throw new Error(`assertion hot path did I/O: ${io}`);
  hot.io_x1000 = io;
  const identity = wasm.open_session_json(f.keys, COOKIE, RP, ISSUER, f.sealed);
  const sign = await measure('assertion: claims + ES256 signature (WebCrypto), once per session per isolate', (n) => wasm.run_sign_assertion(n, ASSERTION_KEY, identity, now));
  return { hot_path_assertion: hot, sign_assertion: sign };
}

/**
 * The configuration parse a fresh isolate does once, on its first request (Config::from_json
 * with the secret bindings, then App::new): `cold_us` the very first one in this process (lazy
 * compilation of the wasm functions it needs included; one sample), then warm like the rest.
 */
async function configParse(wasm, now) {
  const [config, secrets] = configFor(randomBytes(32).toString('base64url'));
  const c = process.cpuUsage();
  new wasm.Rp(config, secrets, now).free();
  const { user, system } = process.cpuUsage(c);
  const warm = await measure('configuration parse (Config::from_json + App::new)', (n) => {
    for (let i = 0; i < n; i += 1) new wasm.Rp(config, secrets, now).free();
    return n;
  });
  return { ...warm, cold_us: user + system };
}

/** One login through App::handle with canned provider answers; returns what the benches need. */
export async function setUp(wasm, alg, now, { rules = false } = {}) {
  const key = signingKey(alg);
  const jwks = JSON.stringify({ keys: [key.jwk] });
  const keys = randomBytes(32).toString('base64url');
  const rp = new wasm.Rp(...configFor(keys, { rules }), now);
  const ask = async (method, url, cookie, accept = 'text/html') => JSON.parse(await rp.request(method, url, cookie, accept));

  // 1. A navigation without a session: the redirect to the provider.
  const start = await ask('GET', `${RP}/docs/page.html`, 'theme=dark');
  if (start.kind !== 'reply' || start.status !== 302) throw new Error(`login start: ${JSON.stringify(start)}`);
  const location = new URL(start.headers.find(([k]) => k === 'location')[1]);
  const state = location.searchParams.get('state');
  const nonce = location.searchParams.get('nonce');
  const loginCookie = cookieHeader(start.headers.filter(([k]) => k === 'set-cookie'));

  // 2. The provider's answers for this login.
  const accessToken = opaqueToken();
  const token = idToken(key, { issuer: ISSUER, clientId: CLIENT_ID, nonce, now, accessToken });
  const tokenBody = JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600, id_token: token, scope: 'openid email profile' });
  rp.respond('POST', META.token_endpoint, 200, tokenBody);
  rp.respond('GET', META.jwks_uri, 200, jwks);
  // 50 groups and nested roles: what rules test (projected into the cookie only with rules on).
  const groups = ['staff', ...Array.from({ length: 49 }, (_, i) => `team-${i}`)];
  rp.respond('GET', META.userinfo_endpoint, 200, JSON.stringify({ sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', groups, realm_access: { roles: ['reader'] } }));
  rp.keep_pending(true); // the session record marks the state as used; forget it for replays

  // 3. The callback, twice: the first fetches the JWKS, the second is the warm-isolate case.
  const callbackUrl = `${RP}/redirect_uri?code=${opaqueToken()}&state=${state}&iss=${encodeURIComponent(ISSUER)}`;
  const cookie = `theme=dark; ${loginCookie}`;
  const first = await ask('GET', callbackUrl, cookie);
  const warm = await ask('GET', callbackUrl, cookie);
  for (const r of [first, warm]) {
    if (r.kind !== 'reply' || r.status !== 302) throw new Error(`callback: ${JSON.stringify(r).slice(0, 2000)}`);
  }
  const setCookies = warm.headers.filter(([k, v]) => k === 'set-cookie' && v.startsWith(COOKIE) && !v.startsWith(`${COOKIE}_s.`));
  const { sealed, chunks } = sealedFrom(setCookies);
  const sessionCookie = cookieHeader(setCookies, ['theme=dark']);

  // 4. The hot path once, to check it forwards with identity and touches neither KV nor HTTP.
  const hot = await ask('GET', `${RP}/docs/page.html`, sessionCookie);
  if (hot.kind !== 'forward' || !hot.add_headers.some(([, v]) => v === 'alice')) {
    throw new Error(`hot path: ${JSON.stringify(hot)}`);
  }
  return {
    rp, keys, jwks, token, tokenBody, nonce, callbackUrl, callbackCookie: cookie, sessionCookie, sealed, chunks,
    io: { callback_first: first.io, callback_warm: warm.io, hot: hot.io, login_start: start.io },
    sizes: { id_token: token.length, session_cookie_header: sessionCookie.length, sealed: sealed.length },
  };
}

export async function runMicro(pkgDir = path.join(HERE, 'out/wasm-pkg')) {
  const require = createRequire(import.meta.url);
  const wasm = require(path.resolve(pkgDir, 'edge_oidc_bench.js'));
  const now = Math.floor(Date.now() / 1000);
  const results = { engine: `V8 ${process.versions.v8} (Node ${process.version})`, algs: {} };
  // First, while the module is fresh: its cold figure includes lazy compilation.
  results.config_parse = await configParse(wasm, now);

  for (const alg of ['RS256', 'ES256']) {
    const f = await setUp(wasm, alg, now);
    const r = {};
    const hotPath = `${RP}/docs/page.html`;
    r.hot_path = await measure('hot path: App::handle, valid session -> forward', (n) => f.rp.run(n, 'GET', hotPath, f.sessionCookie, 'text/html', 0));
    Object.assign(r, await assertionCases(wasm, f, now, hotPath));
    r.callback = await measure('callback: App::handle, warm isolate, no network wait', (n) => f.rp.run_async(n, 'GET', f.callbackUrl, f.callbackCookie, 'text/html', 302), { minMs: 300 });
    r.parse_token_response = await measure('token response parse', (n) => wasm.run_parse_token_response(n, f.tokenBody));
    r.validate_id_token = await measure('ID token signature (WebCrypto) + claims', (n) => wasm.run_validate_id_token(n, f.token, f.jwks, ISSUER, CLIENT_ID, f.nonce, now));
    const sessionJson = wasm.open_session_json(f.keys, COOKIE, RP, ISSUER, f.sealed);
    r.seal_session = await measure('identity JSON + seal (XChaCha20-Poly1305)', (n) => wasm.run_seal_session(n, f.keys, COOKIE, RP, ISSUER, 'main', sessionJson));
    r.open_session = await measure('identity cookie open (AEAD + JSON; a cache miss)', (n) => wasm.run_open_session(n, f.keys, COOKIE, RP, ISSUER, f.sealed, now));
    r.parse_jwks = await measure('JWKS parse (once per isolate and hour)', (n) => wasm.run_parse_jwks(n, f.jwks));
    r.unauthenticated = await measure('unauthenticated navigation -> 302 to provider', (n) => f.rp.run(n, 'GET', hotPath, 'theme=dark', 'text/html', 302));
    // I/O during the hot-path batches: must be none (KV gets/puts/deletes, HTTP requests).
    const ioBefore = Array.from(f.rp.io());
    f.rp.run(1000, 'GET', hotPath, f.sessionCookie, 'text/html', 0);
    const hotOnly = Array.from(f.rp.io()).map((v, i) => v - ioBefore[i]);
    if (alg === 'RS256') [results.hot_rp, results.hot_cookie] = [f.rp, f.sessionCookie];
    results.algs[alg] = { ...r, io: { ...f.io, hot_path_x1000: hotOnly }, sizes: f.sizes, chunks: f.chunks };
  }
  // The hot path with rules on (BENCH_RULES; RS256 session), next to the same without rules.
  const ruled = await setUp(wasm, 'RS256', now, { rules: true });
  const page = `${RP}/docs/page.html`;
  results.rules = {
    hot_path: await measure('hot path with 8 rules: App::handle, valid session -> forward', (n) => ruled.rp.run(n, 'GET', page, ruled.sessionCookie, 'text/html', 0)),
    hot_path_without_rules: await measure('hot path without rules (same run)', (n) => results.hot_rp.run(n, 'GET', page, results.hot_cookie, 'text/html', 0)),
    refused: await measure('hot path with rules, refused by rule -> 403', (n) => ruled.rp.run(n, 'GET', `${RP}/docs/secret.html`, ruled.sessionCookie, 'text/html', 403)),
    hot_path_with_assertion: (await assertionCases(wasm, ruled, now, page, { rules: true })).hot_path_assertion,
    sizes: ruled.sizes,
  };
  const ioBefore = Array.from(ruled.rp.io());
  ruled.rp.run(1000, 'GET', page, ruled.sessionCookie, 'text/html', 0);
  results.rules.io_x1000 = Array.from(ruled.rp.io()).map((v, i) => v - ioBefore[i]);
  delete results.hot_rp;
  delete results.hot_cookie;
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await runMicro(process.argv[2]);
  console.log(JSON.stringify(out, null, 2));
}
