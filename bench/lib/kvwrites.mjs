// KV operations of edge-oidc per kind of request, counted inside workerd: the worker runs behind
// the counting entry of bench/lib/servers.mjs (`countKv`), which wraps its EDGE_OIDC_KV binding
// and answers the running totals at /__bench/kv. A write is a put or a delete (both are billed
// as writes by Workers KV, and both are limited to one per second per key).
//
// Measured on one fresh isolate, in this order:
// 1. one anonymous navigation, not counted (the isolate's first: provider metadata may be fetched
//    and cached once), then `anonymous` more: GET / with the browser headers and no cookie, each
//    a 302 to the provider (what a visitor without a session, or a crawler, causes);
// 2. `logins` complete logins through the provider with the scripted browser (each a fresh
//    browser: the navigation, the provider, the callback, the page); the first separately;
// 3. `authenticated` page views with the last login's cookie.
import { Client } from '../../tests/e2e/lib/client.mjs';
import { RP, sessionCookies } from '../../tests/e2e/lib/fixture.mjs';
import { BROWSER_HEADERS, MARKER } from './logins.mjs';

const OPS = ['get', 'list', 'put', 'delete'];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

function minus(a, b) {
  const d = Object.fromEntries(OPS.map((k) => [k, a[k] - b[k]]));
  return { ...d, reads: d.get + d.list, writes: d.put + d.delete };
}

const per = (d, n) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v / n]));

/** `worker`: a started edge-oidc with `countKv`; `op`: its provider. */
export async function kvOperations({ worker, op, anonymous = 20, logins = 5, authenticated = 20 }) {
  const totals = async () => {
    const res = await worker.fetch(`${RP}/__bench/kv`);
    if (res.status !== 200) throw new Error(`KV counter: ${res.status}`);
    return res.json();
  };
  const navigate = async (cookie) => {
    const res = await worker.fetch(`${RP}/`, { headers: { ...BROWSER_HEADERS, ...(cookie ? { cookie } : {}) } });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  };

  // 1. anonymous navigations
  let t0 = await totals();
  const first = await navigate();
  if (first.status !== 302 || !first.location?.startsWith(op.url)) throw new Error(`anonymous navigation: ${first.status} ${first.location}`);
  let t1 = await totals();
  const firstAnonymous = minus(t1, t0);
  t0 = t1;
  for (let i = 0; i < anonymous; i += 1) {
    const r = await navigate();
    if (r.status !== 302 || !r.location?.startsWith(op.url)) throw new Error(`anonymous navigation: ${r.status} ${r.location}`);
  }
  t1 = await totals();
  const anon = minus(t1, t0);

  // 2. complete logins
  const perLogin = [];
  let cookie = null;
  for (let i = 0; i < logins; i += 1) {
    const before = await totals();
    const client = new Client({ rpOrigin: RP, rpFetch: worker.fetch });
    const { final } = await client.follow(`${RP}/`);
    if (final.status !== 200 || !final.body.includes(MARKER)) throw new Error(`login ${i}: ${final.status}`);
    perLogin.push(minus(await totals(), before));
    cookie = sessionCookies(client).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  // 3. authenticated page views
  t0 = await totals();
  for (let i = 0; i < authenticated; i += 1) {
    const r = await navigate(cookie);
    if (r.status !== 200 || !r.body.includes(MARKER)) throw new Error(`authenticated page view: ${r.status}`);
  }
  const auth = minus(await totals(), t0);

  const rest = perLogin.slice(1);
  const loginMedian = Object.fromEntries(['get', 'list', 'put', 'delete', 'reads', 'writes'].map((k) => [k, median((rest.length ? rest : perLogin).map((x) => x[k]))]));
  return {
    anonymous: { n: anonymous, total: anon, per_request: per(anon, anonymous), first_in_isolate: firstAnonymous },
    login: { n: logins, first_in_isolate: perLogin[0], median_after_first: loginMedian, each: perLogin },
    authenticated: { n: authenticated, total: auth, per_request: per(auth, authenticated) },
  };
}
