// The servers of the benchmark, all on 127.0.0.1 and all stopped by the caller:
// - workerd (via miniflare) running a bare pass-through worker, edge-oidc or @hono/oidc-auth,
//   serving bench/site through the ASSETS binding;
// - Apache from a private config, serving bench/site, with or without mod_auth_openidc.
import { Miniflare, Log, LogLevel } from 'miniflare';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { httpFetch } from '../../tests/e2e/lib/worker.mjs';
import { children, comm } from './proc.mjs';
import { wrapperEnv } from './workerd-wrap.mjs';
import { EDGE } from './layout.mjs';

export { EDGE };

export const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SITE = path.join(BENCH, 'site');

/** workerd's own output: kept (last 20 kB) for error messages, never echoed; `onOutput` sees
 * every chunk (profiling: V8's traces). */
function quietRuntime(onOutput) {
  let tail = '';
  const keep = (d) => {
    tail = (tail + d).slice(-20_000);
    onOutput?.(String(d));
  };
  return {
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', keep);
      stderr.on('data', keep);
    },
    tail: () => tail,
  };
}

/** The workerd process miniflare started during `start()` (a child of this process). */
async function withWorkerdPid(start) {
  const before = new Set(children(process.pid));
  const server = await start();
  const pids = children(process.pid).filter((p) => !before.has(p) && comm(p) === 'workerd');
  if (pids.length !== 1) {
    await server.stop();
    throw new Error(`expected one new workerd process, found ${pids.length}`);
  }
  return { ...server, pid: pids[0] };
}

const MIME = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.svg': 'image/svg+xml' };

/**
 * bench/site as a worker that answers from memory: an origin far cheaper than miniflare's asset
 * server, so what the worker in front adds stands out. Bound as ASSETS (a Fetcher, like the
 * assets binding). The module's source (also used by bench/lib/plain.mjs).
 */
export function memorySiteSource() {
  const files = {};
  for (const name of readdirSync(SITE)) {
    files[`/${name}`] = { body: readFileSync(path.join(SITE, name), 'utf8'), type: MIME[path.extname(name)] ?? 'application/octet-stream' };
  }
  files['/'] = files['/index.html'];
  return `const FILES = ${JSON.stringify(files)};
export default {
  fetch(request) {
    const file = FILES[new URL(request.url).pathname];
    if (!file) return new Response('not found', { status: 404 });
    return new Response(file.body, { headers: { 'content-type': file.type, 'cache-control': 'no-cache' } });
  },
};
`;
}

function memorySiteWorker() {
  return { name: 'site', modules: true, compatibilityDate: '2026-04-01', script: memorySiteSource() };
}

/** The origin every worker believes it serves (miniflare's `upstream`; wrk sends this Host). */
export const ORIGINS = {
  // edge-oidc's test configuration (tests/e2e/lib/fixture.mjs RP) and the bare worker
  http: 'http://rp.test',
  // @hono/oidc-auth sets its cookies `Secure` (as on Cloudflare, where requests are https)
  https: 'https://rp.test',
};

/**
 * An entry module in front of edge-oidc that counts every call the worker makes on its KV
 * binding (reads: get/getWithMetadata/list, writes: put/delete) and answers the running totals at
 * GET /__bench/kv (without passing that request on). The counting technique of
 * tests/e2e/budget.test.mjs, kept in this process so a test of the worker's KV use cannot
 * disturb the measurement.
 */
const countingEntry = (entry) => `
import Edge from './${entry}';
const counts = { get: 0, list: 0, put: 0, delete: 0 };
class KvNamespace {
  constructor(inner) { this.inner = inner; }
  get(...a) { counts.get += 1; return this.inner.get(...a); }
  getWithMetadata(...a) { counts.get += 1; return this.inner.getWithMetadata(...a); }
  list(...a) { counts.list += 1; return this.inner.list(...a); }
  put(...a) { counts.put += 1; return this.inner.put(...a); }
  delete(...a) { counts.delete += 1; return this.inner.delete(...a); }
}
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/__bench/kv') return Response.json(counts);
    const wrapped = { ...env, EDGE_OIDC_KV: new KvNamespace(env.EDGE_OIDC_KV) };
    return typeof Edge === 'function' ? new Edge(ctx, wrapped).fetch(request) : Edge.fetch(request, wrapped, ctx);
  },
};
`;

const PROBES = { 'wasm-compile': 'wasm-compile.mjs', 'wasm-instantiate': 'wasm-instantiate.mjs' };

/** miniflare's options for the worker `worker` (see startWorkerd). */
function mainWorker({ worker, config, secrets, hono, countKv, build }) {
  if (worker === 'bare') {
    return { modules: [{ type: 'ESModule', path: path.join(BENCH, 'workers/bare.mjs') }], modulesRoot: path.join(BENCH, 'workers') };
  }
  if (PROBES[worker]) {
    // Start-time probes: the bare worker plus the bundle's wasm (see bench/workers/), which they
    // import as ./edge.wasm.
    const wasm = path.join(build, EDGE.wasm);
    if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run scripts/build.sh`);
    return {
      modules: [
        { type: 'ESModule', path: path.join(BENCH, 'workers', PROBES[worker]) },
        { type: 'CompiledWasm', path: path.join(BENCH, 'workers', 'edge.wasm'), contents: readFileSync(wasm) },
      ],
      modulesRoot: path.join(BENCH, 'workers'),
    };
  }
  if (worker === 'hono') {
    if (!hono?.dir) throw new Error('hono: build it first (bench/lib/hono.mjs buildHono) and pass { hono: { dir, entry, bindings } }');
    return {
      modules: [{ type: 'ESModule', path: path.join(hono.dir, hono.entry) }],
      modulesRoot: hono.dir,
      bindings: hono.bindings,
    };
  }
  if (worker !== 'edge') throw new Error(`unknown worker ${worker}`);
  if (!existsSync(path.join(build, EDGE.wasm))) throw new Error(`${build} is missing the bundle: run scripts/build.sh`);
  const modules = EDGE.modules(build);
  if (countKv) modules.unshift({ type: 'ESModule', path: path.join(build, '__bench_count_kv.mjs'), contents: countingEntry(EDGE.entry) });
  return {
    modules,
    modulesRoot: build,
    bindings: { EDGE_OIDC_CONFIG: config, ...secrets },
    kvNamespaces: ['EDGE_OIDC_KV'],
  };
}

/**
 * workerd (via miniflare) on 127.0.0.1 running `worker`:
 *   'bare'   bench/workers/bare.mjs;
 *   'edge'   the built edge-oidc bundle (EDGE), with `config` and `secrets`; `countKv` puts the
 *            KV-counting entry in front of it;
 *   'hono'   @hono/oidc-auth, `hono` = { dir, entry } from bench/lib/hono.mjs plus `bindings`;
 *   'wasm-compile' / 'wasm-instantiate'  start-time probes;
 * in front of bench/site, served by miniflare's asset server (`site: 'assets'`, the real
 * [assets] binding) or from memory (`site: 'memory'`). `origin`: the URL the worker sees
 * (ORIGINS). `v8Flags` / `perfetto` ({ file, categories }): profiling (workerd-wrap.mjs);
 * `onOutput(chunk)`: workerd's stdout/stderr (else kept quietly for error messages).
 * Returns { url, pid (the workerd process), fetch (raw HTTP, see worker.mjs), stop }.
 */
export function startWorkerd({
  worker, site = 'assets', config, secrets = {}, hono, countKv = false, kvPersist, port = 0, build = EDGE.dir,
  inspectorPort, kv = false, origin = ORIGINS.http, v8Flags = [], perfetto = null, onOutput,
}) {
  return withWorkerdPid(async () => {
    const main = mainWorker({ worker, config, secrets, hono, countKv, build });
    // `kv`: give a bare or probe worker edge-oidc's KV namespace binding too (unused), so start
    // times compare workers with the same bindings (miniflare adds a KV service per namespace).
    if (kv && !main.kvNamespaces) main.kvNamespaces = ['EDGE_OIDC_KV'];
    Object.assign(main, { name: 'main', compatibilityDate: '2026-04-01' });
    if (site === 'assets') {
      main.assets = {
        directory: SITE,
        binding: 'ASSETS',
        routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
      };
    } else {
      main.serviceBindings = { ASSETS: 'site' };
    }
    const runtime = quietRuntime(onOutput);
    // Profiling runs swap in bench/lib/workerd-wrap.sh for workerd (miniflare reads the
    // environment when it spawns workerd, during `ready`).
    const wrapped = v8Flags.length > 0 || perfetto ? wrapperEnv({ flags: v8Flags, perfetto }) : null;
    const saved = wrapped ? Object.fromEntries(Object.keys(wrapped).map((k) => [k, process.env[k]])) : null;
    if (wrapped) Object.assign(process.env, wrapped);
    const t0 = performance.now();
    let mf;
    let url;
    try {
      mf = new Miniflare({
        workers: site === 'assets' ? [main] : [main, memorySiteWorker()],
        handleRuntimeStdio: runtime.handleRuntimeStdio,
        ...(kvPersist ? { kvPersist } : {}),
        ...(inspectorPort ? { inspectorPort } : {}),
        // Every request reaches the worker with this origin in its URL (and Host), as on the
        // edge; miniflare's entry worker rewrites the URL for every worker alike.
        upstream: origin,
        log: new Log(LogLevel.NONE),
        cf: false,
        host: '127.0.0.1',
        port,
      });
      url = (await mf.ready).toString().replace(/\/$/, '');
    } finally {
      if (saved) {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k]; else process.env[k] = v;
        }
      }
    }
    // From spawning workerd to its sockets listening (workers compiled and instantiated).
    const startMs = performance.now() - t0;
    let stopped;
    return { mf, url, startMs, fetch: httpFetch(url), stop: () => (stopped ??= mf.dispose()), runtimeLog: runtime.tail };
  });
}

// ---- Apache -------------------------------------------------------------------------------------

const MODULES = '/usr/lib/apache2/modules';

function apacheConfig({ dir, port, op, auth }) {
  const lines = [
    `ServerRoot ${dir}`,
    `Listen 127.0.0.1:${port}`,
    'ServerName 127.0.0.1',
    `PidFile ${dir}/httpd.pid`,
    `ErrorLog ${dir}/error.log`,
    'LogLevel warn',
    'User www-data',
    'Group www-data',
    // Same connection handling as workerd: keep-alive without a per-connection request cap.
    'KeepAlive On',
    'MaxKeepAliveRequests 0',
    'KeepAliveTimeout 5',
    ...['mpm_event', 'authz_core', 'authz_user', 'authn_core', 'mime', 'dir']
      .map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    'TypesConfig /etc/mime.types',
    `DocumentRoot ${SITE}`,
    `<Directory ${SITE}>`,
    '  Require all granted',
    '  AllowOverride None',
    '</Directory>',
    'DirectoryIndex index.html',
  ];
  if (auth) {
    lines.push(
      `LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so`,
      `OIDCProviderMetadataURL ${op.url}/.well-known/openid-configuration`,
      `OIDCClientID ${auth.clientId}`,
      `OIDCClientSecret ${auth.clientSecret}`,
      `OIDCRedirectURI http://127.0.0.1:${port}/redirect_uri`,
      `OIDCCryptoPassphrase ${randomBytes(24).toString('base64url')}`,
      // An encrypted cookie holds the session, as edge-oidc's does (no server-side cache).
      'OIDCSessionType client-cookie',
      'OIDCScope "openid email profile"',
      'OIDCSessionInactivityTimeout 3600',
      'OIDCSessionMaxDuration 28800',
      '<Location />',
      '  AuthType openid-connect',
      '  Require valid-user',
      '</Location>',
    );
  }
  return `${lines.join('\n')}\n`;
}

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

async function waitFor(check, what, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Apache serving bench/site on 127.0.0.1:`port`; with `auth` ({clientId, clientSecret}) the
 * whole site is behind mod_auth_openidc against `op`. Returns { url, pid, stop, errorLog }.
 */
export async function startApache({ port, op, auth = null }) {
  if (!existsSync('/usr/sbin/apache2')) throw new Error('apache2 is not installed (bench/run.sh installs it)');
  const dir = mkdtempSync(path.join(tmpdir(), `bench-apache-${auth ? 'oidc' : 'plain'}-`));
  chmodSync(dir, 0o755); // the children run as www-data
  writeFileSync(path.join(dir, 'httpd.conf'), apacheConfig({ dir, port, op, auth }));
  const env = {
    APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir, APACHE_LOG_DIR: dir, APACHE_PID_FILE: `${dir}/httpd.pid`,
    APACHE_RUN_USER: 'www-data', APACHE_RUN_GROUP: 'www-data', LANG: 'C',
  };
  await run('/usr/sbin/apache2', ['-d', dir, '-f', `${dir}/httpd.conf`, '-k', 'start'], env);
  const pidFile = path.join(dir, 'httpd.pid');
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the Apache pid file');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/style.css`, { redirect: 'manual' })).status > 0, 'Apache to answer');
  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      try {
        process.kill(pid, 'SIGTERM'); // graceful-stop of the master and its children
      } catch { /* already gone */ }
      await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'Apache to stop', 10_000)
        .catch(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { url, pid, stop, errorLog: () => readFileSync(path.join(dir, 'error.log'), 'utf8') };
}
