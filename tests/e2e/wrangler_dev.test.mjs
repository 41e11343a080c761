// `npx wrangler dev`, as README.md tells a user to run it: provider settings in a wrangler.toml,
// secrets in .dev.vars next to it (made from .dev.vars.example), the build run by wrangler's [build] (scripts/build.sh), local
// KV persisted to a directory. A real login against node oidc-provider with the scripted
// browser, then the protected page from the static assets.
//
// The test writes its own wrangler.toml (the checkout's points at example.com) into a temporary
// directory under tests/e2e/.tmp, with absolute paths to the checkout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNodeOp, freePort } from './lib/peers.mjs';
import { ROOT, cookieKey, httpFetch } from './lib/worker.mjs';
import { CLIENTS, opConfig } from './lib/fixture.mjs';
import { Client } from './lib/client.mjs';

const READY_TIMEOUT_MS = 120_000; // a stale build/ is rebuilt first
const TMP = path.join(ROOT, 'tests/e2e/.tmp');

let op;
let dev;
let dir;
let rp;
let output = '';

/** The wrangler.toml a user would write for this provider (README: Deploying). */
function wranglerToml(issuer) {
  const abs = (p) => JSON.stringify(path.join(ROOT, p));
  return `name = "edge-oidc-dev-test"
main = ${abs('build/index.js')}
compatibility_date = "2026-04-01"

[build]
command = "bash scripts/build.sh"
cwd = ${JSON.stringify(ROOT)}
watch_dir = ${abs('src')}

[[kv_namespaces]]
binding = "EDGE_OIDC_KV"
id = "00000000000000000000000000000000"

[assets]
directory = ${abs('demo/site')}
binding = "ASSETS"
run_worker_first = true

[vars.EDGE_OIDC_CONFIG]
public_paths = ["/public/"]

[vars.EDGE_OIDC_CONFIG.providers.main]
issuer = ${JSON.stringify(issuer)}
client_id = ${JSON.stringify(CLIENTS.client_secret_basic.client_id)}
token_endpoint_auth_method = "client_secret_basic"
`;
}

before(async () => {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  rp = `http://127.0.0.1:${port}`;
  op = await startNodeOp(opConfig({ rp }));
  mkdirSync(TMP, { recursive: true });
  dir = mkdtempSync(path.join(TMP, 'wrangler-dev-'));
  writeFileSync(path.join(dir, 'wrangler.toml'), wranglerToml(op.url));
  // .dev.vars made the way README.md says: .dev.vars.example with the values filled in.
  const example = readFileSync(path.join(ROOT, '.dev.vars.example'), 'utf8');
  const devVars = example
    .replace(/^COOKIE_KEYS=.*$/m, `COOKIE_KEYS=${cookieKey()}`)
    .replace(/^CLIENT_SECRET=.*$/m, `CLIENT_SECRET=${CLIENTS.client_secret_basic.client_secret}`);
  assert.notEqual(devVars, example, '.dev.vars.example has the COOKIE_KEYS and CLIENT_SECRET lines');
  writeFileSync(path.join(dir, '.dev.vars'), devVars);
  dev = spawn('npx', ['wrangler', 'dev', '-c', path.join(dir, 'wrangler.toml'), '--persist-to', path.join(dir, 'state'),
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--show-interactive-dev-session=false'], {
    cwd: ROOT,
    // Its own process group, so that stopping it stops wrangler's workerd too.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' },
  });
  dev.unref();
  for (const stream of [dev.stdout, dev.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (d) => { output += d; });
    stream.unref?.();
  }
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev not ready in ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const check = () => {
      if (output.includes(`Ready on ${rp}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    dev.stdout.on('data', check);
    dev.stderr.on('data', check);
    dev.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited (${code}):\n${output}`));
    });
  });
});

after(async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev.once('exit', resolve));
    try { process.kill(-dev.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-dev.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(t);
  }
  await op?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('wrangler dev: log in at the provider, then the protected page from the assets', async () => {
  const client = new Client({ rpOrigin: rp, rpFetch: httpFetch(rp) });
  const { hops, final } = await client.follow(`${rp}/`);
  assert.ok(hops[0].location?.startsWith(`${op.url}/`), `redirected to the provider: ${JSON.stringify(hops[0])}\n${output}`);
  assert.ok(hops.some((h) => h.url.startsWith(`${rp}/redirect_uri`)), JSON.stringify(hops));
  assert.equal(final.status, 200, `${final.body.slice(0, 500)}\n${output}`);
  assert.match(final.body, /<html/i);
  assert.match(final.headers.get('cache-control') ?? '', /^private\b/);
  assert.ok([...client.jar.values()].some((c) => c.name === 'edge_oidc'), 'a session cookie');

  // The pending login went to the local KV under --persist-to (one blob per stored value).
  const kv = path.join(dir, 'state/v3/kv');
  const blobs = readdirSync(kv, { recursive: true }).filter((f) => f.includes('blobs/'));
  assert.ok(blobs.length >= 1, `KV blobs under ${kv}: ${blobs}`);

  // Without the session: fetch/XHR gets 401 JSON, a public page is served.
  const anonymous = httpFetch(rp);
  const api = await anonymous(`${rp}/`, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
  assert.equal(api.status, 401);
  assert.equal((await api.json()).error, 'login_required');
  assert.doesNotMatch(output, /uncaught|panicked|RuntimeError/i);
});
