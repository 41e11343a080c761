// Real logins against the local provider, with the scripted browser of the end-to-end tests,
// to obtain the session cookies that wrk then sends.
import { Client } from '../../tests/e2e/lib/client.mjs';
import { RP, sessionCookies } from '../../tests/e2e/lib/fixture.mjs';
import { httpFetch } from '../../tests/e2e/lib/worker.mjs';

/** The headers every load-generator request carries (constant User-Agent: mod_auth_openidc binds
 * its state to it; an HTML Accept header: both relying parties then redirect, not 401). */
export const BROWSER_HEADERS = { accept: 'text/html', 'user-agent': 'edge-oidc-e2e' };

export const MARKER = 'edge-oidc benchmark page';

/** Logs in to edge-oidc (listening behind `fetchRp`) and returns its session Cookie header. */
export async function loginEdge(fetchRp, op, path = '/') {
  const client = new Client({ rpOrigin: RP, rpFetch: fetchRp });
  const { hops, final } = await client.follow(`${RP}${path}`);
  if (!hops[0].location?.startsWith(op.url)) throw new Error(`edge-oidc did not redirect to the provider: ${JSON.stringify(hops)}`);
  if (final.status !== 200 || !final.body.includes(MARKER)) {
    throw new Error(`edge-oidc login did not end on the site: ${final.status} ${JSON.stringify(hops)}`);
  }
  const cookies = sessionCookies(client);
  if (cookies.length === 0) throw new Error('edge-oidc set no session cookie');
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

/** Logs in to Apache + mod_auth_openidc at `url` and returns its session Cookie header. */
export async function loginApache(url, op) {
  // Raw HTTP, as wrk sends it (Node's fetch would add `Sec-Fetch-Mode: cors`, for which
  // mod_auth_openidc answers 401 instead of redirecting).
  const client = new Client({ rpOrigin: url, rpFetch: httpFetch(url) });
  const { hops, final } = await client.follow(`${url}/`);
  if (!hops[0].location?.startsWith(op.url)) throw new Error(`mod_auth_openidc did not redirect to the provider: ${JSON.stringify(hops)}`);
  if (final.status !== 200 || !final.body.includes(MARKER)) {
    throw new Error(`mod_auth_openidc login did not end on the site: ${final.status} ${JSON.stringify(hops)}`);
  }
  // Provider and Apache share the host name 127.0.0.1: keep only mod_auth_openidc's cookies.
  const cookies = [...client.jar.values()].filter((c) => c.domain === '127.0.0.1' && c.name.startsWith('mod_auth_openidc_session'));
  if (cookies.length === 0) throw new Error('mod_auth_openidc set no session cookie');
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

/**
 * Logs in to @hono/oidc-auth (listening behind `fetchRp`, seen as https://rp.test) and returns
 * its session Cookie header. Checks that the session JWT carries a refresh token (the middleware
 * needs one to keep a session past its refresh interval).
 */
export async function loginHono(fetchRp, op, origin = 'https://rp.test') {
  const client = new Client({ rpOrigin: origin, rpFetch: fetchRp });
  const { hops, final } = await client.follow(`${origin}/`);
  if (!hops[0].location?.startsWith(op.url)) throw new Error(`@hono/oidc-auth did not redirect to the provider: ${JSON.stringify(hops)}`);
  if (final.status !== 200 || !final.body.includes(MARKER)) {
    throw new Error(`@hono/oidc-auth login did not end on the site: ${final.status} ${final.body.slice(0, 300)} ${JSON.stringify(hops)}`);
  }
  const host = new URL(origin).hostname;
  const cookies = [...client.jar.values()].filter((c) => c.domain === host && c.name === 'oidc-auth');
  if (cookies.length !== 1) throw new Error(`@hono/oidc-auth set ${cookies.length} session cookies`);
  const payload = JSON.parse(Buffer.from(cookies[0].value.split('.')[1], 'base64url').toString('utf8'));
  if (!payload.rtk) throw new Error(`@hono/oidc-auth session without a refresh token: ${JSON.stringify(payload)}`);
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}
