// Shared setup for the end-to-end suites: the relying party's address, the clients every test
// provider registers, and the edge-oidc configuration that points at them.
import assert from 'node:assert/strict';
import { Client } from './client.mjs';

export const RP = 'http://rp.test';
export const REDIRECT_URI = `${RP}/redirect_uri`;
export const POST_LOGOUT_URI = `${RP}/logged-out`;

export const CLIENTS = {
  client_secret_basic: { client_id: 'edge-basic', client_secret: 'basic-secret-0123456789' },
  client_secret_post: { client_id: 'edge-post', client_secret: 'post-secret-0123456789' },
  none: { client_id: 'edge-public' },
};

/** Provider config (for pyop_server.py / node_op.mjs) registering every client for `rp`. */
export function opConfig({ rp = RP, signingAlg = 'RS256', extraClients = [] } = {}) {
  return {
    signing_alg: signingAlg,
    clients: [
      ...Object.entries(CLIENTS).map(([method, c]) => ({
        ...c,
        token_endpoint_auth_method: method,
        redirect_uris: [`${rp}/redirect_uri`],
        post_logout_redirect_uris: [`${rp}/logged-out`],
      })),
      ...extraClients,
    ],
  };
}

/** Worker options: EDGE_OIDC_CONFIG for one provider, plus the client secret binding. */
export function rpOptions(op, method = 'client_secret_basic', { config = {}, provider = {} } = {}) {
  const client = CLIENTS[method];
  return {
    config: {
      providers: {
        main: {
          display_name: 'Test provider',
          issuer: op.url,
          client_id: client.client_id,
          token_endpoint_auth_method: method,
          ...provider,
        },
      },
      ...config,
    },
    secrets: client.client_secret ? { CLIENT_SECRET: client.client_secret } : {},
  };
}

/** A scripted browser whose requests to RP go into the worker. */
export function browser(worker, rp = RP) {
  return new Client({ rpOrigin: rp, rpFetch: worker.fetch });
}

/** Runs fn with a started worker and always stops it. */
export async function withWorker(startWorker, options, fn) {
  const worker = await startWorker(options);
  try {
    return await fn(worker);
  } finally {
    await worker.stop();
  }
}

/** The session cookies (edge_oidc and its chunks) a client holds for the RP. */
export function sessionCookies(client, rp = RP) {
  const host = new URL(rp).hostname;
  return [...client.jar.values()].filter((c) => c.domain === host && /^edge_oidc(\.\d+)?$/.test(c.name));
}

/** Waits (up to 5 s) for `check()` to hold; `describe()` explains a timeout. The worker's
 * console output reaches the test asynchronously. */
export async function waitFor(check, describe = () => '') {
  for (let i = 0; i < 100 && !check(); i += 1) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), `not seen in time:\n${describe()}`);
}
