// Bundles bench/workers/hono.mjs (hono + @hono/oidc-auth from node_modules, the versions pinned
// in package.json) into one ES module with esbuild, as `wrangler deploy` would: workerd's export
// conditions, minified like edge-oidc's own index.js. Output under bench/out (never committed).
import { build } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = path.resolve(BENCH, '..');
export const HONO_OUT = path.join(BENCH, 'out', 'hono');

const version = (name) => JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

/** Builds the worker; returns { dir, entry, versions, raw, gzip } (sizes of the bundle). */
export async function buildHono() {
  mkdirSync(HONO_OUT, { recursive: true });
  const entry = 'worker.mjs';
  await build({
    entryPoints: [path.join(BENCH, 'workers', 'hono.mjs')],
    outfile: path.join(HONO_OUT, entry),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    minify: true,
    logLevel: 'warning',
  });
  const bytes = readFileSync(path.join(HONO_OUT, entry));
  return {
    dir: HONO_OUT,
    entry,
    versions: { hono: version('hono'), oidc_auth: version('@hono/oidc-auth'), oauth4webapi: version('oauth4webapi') },
    raw: bytes.length,
    gzip: gzipSync(bytes).length,
  };
}

/**
 * The client @hono/oidc-auth is registered as at node oidc-provider (tests/peers/node_op.mjs).
 * Its default grant types there include refresh_token, and node_op.mjs overrides
 * `issueRefreshToken` to issue one for every code grant of such a client (the library default
 * wants the offline_access scope and a consent prompt): @hono/oidc-auth requires a refresh token.
 */
export const HONO_CLIENT = {
  client_id: 'hono-rp',
  client_secret: 'hono-secret-0123456789',
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: ['https://rp.test/callback'],
};

/**
 * The worker's environment, as `wrangler.toml` [vars] plus `wrangler secret put` would give it
 * (the README's variables). Deviations from the defaults: the scopes edge-oidc and
 * mod_auth_openidc ask for (the default is every scope the provider lists), and a refresh
 * interval of 1 h instead of 15 min so that no refresh falls inside a benchmark run (wrk keeps
 * sending the cookie of the login; after the interval every request would call the token
 * endpoint). The hot path measured is a valid session within its refresh interval either way.
 */
export function honoBindings(op, secret) {
  return {
    OIDC_ISSUER: op.url,
    OIDC_CLIENT_ID: HONO_CLIENT.client_id,
    OIDC_CLIENT_SECRET: HONO_CLIENT.client_secret,
    OIDC_AUTH_SECRET: secret,
    OIDC_SCOPES: 'openid email profile',
    OIDC_AUTH_REFRESH_INTERVAL: '3600',
  };
}
