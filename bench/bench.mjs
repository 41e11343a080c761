// The benchmark of issues 5 and 10, in one run (started by bench/run.sh, which builds and
// installs first):
//   1. hot path: bare worker vs edge-oidc (session / no cookie) vs @hono/oidc-auth (the peer on
//      our own platform) in workerd, under wrk;
//   2. the peer off our platform: Apache without and with mod_auth_openidc, same wrk settings;
//   3. CPU of the core in wasm (bench/micro.mjs, in a child process);
//   4. size of the deployable bundle, start-to-first-response, and what the start consists of
//      (workerd's own trace spans, V8's compile log, CPU per thread: bench/lib/startprofile.mjs);
//   5. soak: mixed traffic, errors and workerd memory;
//   6. KV operations per anonymous navigation, per login, per page view (bench/lib/kvwrites.mjs);
// then writes bench/out/results.json and BENCHMARKS.md (bench/report.mjs).
//
// Settings (environment): BENCH_SECONDS (throughput run, 8), BENCH_LATENCY_SECONDS (4),
// BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_SOAK_SECONDS (60), BENCH_STARTS (5),
// BENCH_PROFILE_STARTS (5), BENCH_KV_ANONYMOUS (20), BENCH_KV_LOGINS (5), BENCH_CPU_PAIRS (12),
// BENCH_CPU_SECONDS (2), BENCH_QUICK=1 (short everything: a smoke test of the harness, not a
// result).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { startNodeOp, freePort } from '../tests/e2e/lib/peers.mjs';
import { opConfig, rpOptions, RP } from '../tests/e2e/lib/fixture.mjs';
import { BENCH, ORIGINS, startApache, startWorkerd } from './lib/servers.mjs';
import { BROWSER_HEADERS, MARKER, loginApache, loginEdge, loginHono } from './lib/logins.mjs';
import { buildHono, honoBindings, HONO_CLIENT } from './lib/hono.mjs';
import { startProfile } from './lib/startprofile.mjs';
import { kvOperations } from './lib/kvwrites.mjs';
import { cpuAdded } from './lib/cpuadded.mjs';
import { wrk } from './lib/wrk.mjs';
import { machineLoad, threadCpuNs, treeCpuSeconds } from './lib/proc.mjs';
import { memoryVersusControl, soak, soakControl } from './lib/soak.mjs';
import { attachIsolate } from './lib/inspector.mjs';
import { bundleSize } from './lib/size.mjs';
import { writeReport } from './report.mjs';

const ROOT = path.resolve(BENCH, '..');
const OUT = path.join(BENCH, 'out');
const quick = process.env.BENCH_QUICK === '1';
const num = (name, dflt, q) => Number(process.env[name] ?? (quick ? q : dflt));
const S = {
  seconds: num('BENCH_SECONDS', 8, 2),
  latencySeconds: num('BENCH_LATENCY_SECONDS', 4, 1),
  rounds: num('BENCH_ROUNDS', 3, 1),
  connections: num('BENCH_CONNECTIONS', 32, 32),
  soakSeconds: num('BENCH_SOAK_SECONDS', 60, 8),
  starts: num('BENCH_STARTS', 5, 2),
  profileStarts: num('BENCH_PROFILE_STARTS', 5, 1),
  kvAnonymous: num('BENCH_KV_ANONYMOUS', 20, 5),
  kvLogins: num('BENCH_KV_LOGINS', 5, 2),
  cpuPairs: num('BENCH_CPU_PAIRS', 12, 2),
  cpuSeconds: num('BENCH_CPU_SECONDS', 2, 1),
  threads: 1,
};

const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => { const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

function sh(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

async function shOr(cmd, args, fallback = '?') {
  try {
    return (await sh(cmd, args)).stdout.trim();
  } catch {
    return fallback;
  }
}

// ---- machine -----------------------------------------------------------------------------------

async function machine() {
  const cpu = cpus();
  const dpkg = async (pkg) => shOr('dpkg-query', ['-W', '-f=${Version}', pkg]);
  const pkgVersion = (name) => JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  return {
    date: new Date().toISOString(),
    cpu: `${cpu[0]?.model ?? '?'} x ${cpu.length}`,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    kernel: await shOr('uname', ['-sr']),
    commit: await shOr('git', ['rev-parse', '--short', 'HEAD']),
    dirty: (await shOr('git', ['status', '--porcelain', '--untracked-files=no'], '')).length > 0,
    versions: {
      node: process.version,
      v8: process.versions.v8,
      workerd: `miniflare ${pkgVersion('miniflare')}`,
      rustc: await shOr('rustc', ['--version']),
      wrk: (await shOr('sh', ['-c', 'wrk -v 2>&1 | head -1'])).split(' [')[0],
      apache2: await dpkg('apache2'),
      mod_auth_openidc: await dpkg('libapache2-mod-auth-openidc'),
      oidc_provider: pkgVersion('oidc-provider'),
      hono: pkgVersion('hono'),
      hono_oidc_auth: pkgVersion('@hono/oidc-auth'),
      oauth4webapi: pkgVersion('oauth4webapi'),
    },
    settings: S,
  };
}

// ---- 4b. start ---------------------------------------------------------------------------------

/**
 * Fresh workerd processes, `S.starts` rounds of every kind: spawn -> listening, then the first
 * and second authenticated requests (wall time from this process), and workerd's CPU time
 * (/proc, per thread) up to listening and for each request. `workers`: { kind: { options, url,
 * headers } }.
 */
async function startTimes(workers) {
  const kinds = Object.keys(workers);
  const runs = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let i = 0; i < S.starts; i += 1) {
    for (const kind of kinds) {
      const { options, url, headers } = workers[kind];
      // Every worker gets edge-oidc's KV binding: miniflare starts a KV service per namespace
      // (+17 ms to listening, measured), which is not edge-oidc's start cost.
      const w = await startWorkerd({ site: 'assets', kv: true, ...options });
      try {
        const c0 = threadCpuNs(w.pid);
        let t = performance.now();
        const first = await w.fetch(url, { headers });
        const firstBody = await first.text();
        const firstMs = performance.now() - t;
        const c1 = threadCpuNs(w.pid);
        if (first.status !== 200 || !firstBody.includes(MARKER)) throw new Error(`${kind}: first response ${first.status}`);
        t = performance.now();
        await (await w.fetch(url, { headers })).text();
        const secondMs = performance.now() - t;
        const c2 = threadCpuNs(w.pid);
        runs[kind].push({
          start_ms: w.startMs, first_ms: firstMs, second_ms: secondMs, total_ms: w.startMs + firstMs,
          start_cpu_ms: c0.total / 1e6, first_cpu_ms: (c1.main - c0.main) / 1e6, second_cpu_ms: (c2.main - c1.main) / 1e6,
        });
      } finally {
        await w.stop();
      }
    }
  }
  const keys = ['start_ms', 'first_ms', 'second_ms', 'total_ms', 'start_cpu_ms', 'first_cpu_ms', 'second_cpu_ms'];
  const summary = (kind) => Object.fromEntries(keys.map((k) => [k, median(runs[kind].map((r) => r[k]))]));
  return { ...Object.fromEntries(kinds.map((k) => [k, summary(k)])), runs };
}

/**
 * What start-to-first-response consists of (bench/lib/startprofile.mjs): the same workers as
 * startTimes plus edge-oidc under V8 flags that move its compilation: `--no-wasm-lazy-compilation
 * --no-liftoff` (every function compiled by TurboFan before listening: nothing left to compile on
 * the first request), the same with Liftoff, and `--trace-wasm-compilation-times` (V8 prints each
 * function it compiles and how long that took: summed per phase). Plus edge-oidc answering a
 * public path first (configuration parse and forward, no session).
 */
async function startBreakdown(workers, edgeOptions) {
  const ok = (status, body) => status === 200 && body.includes(MARKER);
  const v = (id, label, worker, extra = {}) => ({ id, label, options: { site: 'assets', kv: true, ...worker.options }, url: worker.url, headers: worker.headers, check: ok, ...extra });
  const publicConfig = { ...edgeOptions.config, public_paths: ['/public/'] };
  const variants = [
    v('bare', 'bare worker', workers.bare),
    v('wasm-compile', 'bare worker + the bundle\'s wasm compiled', workers['wasm-compile']),
    v('wasm-instantiate', 'bare worker + the bundle\'s wasm instantiated', workers['wasm-instantiate']),
    v('edge', 'edge-oidc', workers.edge),
    v('edge-public', 'edge-oidc, first request to a public path (configuration, no session)', workers.edge, {
      options: { site: 'assets', kv: true, ...workers.edge.options, config: publicConfig },
      url: `${RP}/public/none`,
      check: (status) => status === 404, // forwarded to the site, which has no such file
    }),
    v('edge-traced', 'edge-oidc, V8 --trace-wasm-compilation-times', workers.edge, { flags: ['--trace-wasm-compilation-times'], traceCompiles: true }),
    v('edge-eager-liftoff', 'edge-oidc, V8 --no-wasm-lazy-compilation --liftoff-only (+ trace)', workers.edge, {
      flags: ['--no-wasm-lazy-compilation', '--liftoff-only', '--trace-wasm-compilation-times'], traceCompiles: true,
    }),
    v('edge-turbofan', 'edge-oidc, V8 --no-wasm-lazy-compilation --no-liftoff', workers.edge, { flags: ['--no-wasm-lazy-compilation', '--no-liftoff'] }),
    v('hono', '@hono/oidc-auth', workers.hono),
  ];
  return startProfile(variants, { runs: S.profileStarts });
}

// ---- 1 + 2. load -------------------------------------------------------------------------------

async function loadRun(target) {
  const cpu0 = treeCpuSeconds(target.pid);
  const thr = await wrk(target.url, { headers: target.headers, threads: S.threads, connections: S.connections, seconds: S.seconds, expect: target.expect });
  const cpu = treeCpuSeconds(target.pid) - cpu0;
  const lat = await wrk(target.url, { headers: target.headers, threads: 1, connections: 1, seconds: S.latencySeconds, expect: target.expect });
  // Responses with another status than expected (the Lua hook sees every one, >= 400 included),
  // and connection-level failures (timeouts included) separately.
  const unexpected = thr.unexpected_status + lat.unexpected_status;
  const socketErrors = thr.socket_errors + lat.socket_errors;
  return {
    rps: thr.rps,
    p50_ms: thr.p50_ms,
    p99_ms: thr.p99_ms,
    cpu_us: (cpu * 1e6) / thr.requests,
    c1_rps: lat.rps,
    c1_p50_ms: lat.p50_ms,
    c1_p99_ms: lat.p99_ms,
    unexpected,
    socket_errors: socketErrors,
    timeouts: thr.timeouts + lat.timeouts,
    first_unexpected: thr.first_unexpected ?? lat.first_unexpected,
    requests: thr.requests + lat.requests,
  };
}

async function loadTests(targets) {
  const rounds = {};
  for (let r = 0; r < S.rounds; r += 1) {
    for (const t of targets) {
      log(`round ${r + 1}/${S.rounds}: ${t.name}`);
      (rounds[t.id] ??= []).push(await loadRun(t));
    }
  }
  const out = {};
  for (const t of targets) {
    const rs = rounds[t.id];
    const m = (k) => median(rs.map((x) => x[k]));
    out[t.id] = {
      name: t.name,
      expect: t.expect,
      rps: m('rps'),
      p50_ms: m('p50_ms'),
      p99_ms: m('p99_ms'),
      cpu_us: m('cpu_us'),
      c1_rps: m('c1_rps'),
      c1_p50_ms: m('c1_p50_ms'),
      c1_p99_ms: m('c1_p99_ms'),
      unexpected: rs.reduce((a, x) => a + x.unexpected, 0),
      socket_errors: rs.reduce((a, x) => a + x.socket_errors, 0),
      timeouts: rs.reduce((a, x) => a + x.timeouts, 0),
      requests: rs.reduce((a, x) => a + x.requests, 0),
      first_unexpected: rs.find((x) => x.first_unexpected)?.first_unexpected ?? null,
      rounds: rs.map(({ rps, cpu_us, c1_p50_ms, c1_p99_ms }) => ({ rps, cpu_us, c1_p50_ms, c1_p99_ms })),
    };
  }
  return out;
}

// ---- the server CPU an auth layer adds (plain workerd) ------------------------------------------

/** bench/lib/cpuadded.mjs with the run's settings, stamped with when and under what load. */
export async function measureCpuAdded({ edgeOptions, honoOptions, cookies }) {
  const loadBefore = machineLoad();
  const out = await cpuAdded({
    edge: edgeOptions, hono: { hono: honoOptions.hono }, cookies, headers: BROWSER_HEADERS,
    pairs: S.cpuPairs, seconds: S.cpuSeconds,
  });
  return { date: new Date().toISOString(), load_before: loadBefore, load_after: machineLoad(), ...out };
}

// ---- 3. micro ------------------------------------------------------------------------------------

async function micro() {
  const { stdout } = await sh(process.execPath, [path.join(BENCH, 'micro.mjs'), path.join(OUT, 'wasm-pkg')], { timeout: 300_000 });
  return JSON.parse(stdout);
}

// ---- the KV / subrequest proof (tests/e2e/budget.test.mjs) -------------------------------------

async function budgetTest() {
  try {
    const { stdout } = await sh(process.execPath, ['--test', '--test-reporter=tap', 'tests/e2e/budget.test.mjs'], { timeout: 300_000 });
    return { passed: true, summary: stdout.split('\n').filter((l) => /^# (pass|fail|todo)/.test(l)).join(', ') };
  } catch (e) {
    return { passed: false, summary: e.message.split('\n').filter((l) => /not ok|^# (pass|fail|todo)/.test(l)).slice(0, 8).join('\n') };
  }
}

// ---- main ----------------------------------------------------------------------------------------

async function main() {
  mkdirSync(OUT, { recursive: true });
  const started = Date.now();
  const results = { machine: await machine(), load_before: machineLoad() };

  log('size of the deployable bundle (wrangler deploy --dry-run)');
  results.size = await bundleSize();

  log('CPU in wasm (bench/micro.mjs)');
  results.micro = await micro();

  log('@hono/oidc-auth worker (esbuild bundle of bench/workers/hono.mjs)');
  const hono = await buildHono();
  results.hono = { versions: hono.versions, bundle: { raw: hono.raw, gzip: hono.gzip } };

  const apachePort = await freePort();
  const apacheClient = {
    client_id: 'apache-rp',
    client_secret: 'apache-secret-0123456789',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [`http://127.0.0.1:${apachePort}/redirect_uri`],
  };
  const op = await startNodeOp(opConfig({ extraClients: [apacheClient, HONO_CLIENT] }));
  const stops = [() => op.stop()];
  try {
    const rp = rpOptions(op, 'client_secret_basic');
    const edgeOptions = { config: rp.config, secrets: { ...rp.secrets, COOKIE_KEYS: randomBytes(32).toString('base64url') } };
    const honoOptions = { origin: ORIGINS.https, hono: { ...hono, bindings: honoBindings(op, randomBytes(32).toString('base64url')) } };

    log('starting workerd (bare, edge-oidc, @hono/oidc-auth; site from assets and from memory) and Apache (plain, mod_auth_openidc)');
    const servers = {};
    for (const [id, opts] of [
      ['bare_assets', { worker: 'bare', site: 'assets' }],
      ['edge_assets', { worker: 'edge', site: 'assets', ...edgeOptions }],
      ['hono_assets', { worker: 'hono', site: 'assets', ...honoOptions }],
      ['bare_memory', { worker: 'bare', site: 'memory' }],
      ['edge_memory', { worker: 'edge', site: 'memory', ...edgeOptions }],
      ['hono_memory', { worker: 'hono', site: 'memory', ...honoOptions }],
    ]) {
      servers[id] = await startWorkerd(opts);
      stops.push(() => servers[id].stop());
    }
    servers.apache = await startApache({ port: await freePort(), op });
    stops.push(() => servers.apache.stop());
    servers.apache_oidc = await startApache({ port: apachePort, op, auth: { clientId: apacheClient.client_id, clientSecret: apacheClient.client_secret } });
    stops.push(() => servers.apache_oidc.stop());

    log('logging in (edge-oidc, @hono/oidc-auth and mod_auth_openidc, scripted browser against node oidc-provider)');
    const edgeCookie = await loginEdge(servers.edge_assets.fetch, op);
    // One login serves both hono workers: same secret, and the session JWT names no host.
    const honoCookie = await loginHono(servers.hono_assets.fetch, op, ORIGINS.https);
    const apacheCookie = await loginApache(servers.apache_oidc.url, op);
    results.sessions = { edge_cookie_bytes: edgeCookie.length, hono_cookie_bytes: honoCookie.length, apache_cookie_bytes: apacheCookie.length };

    const edgeHeaders = { ...BROWSER_HEADERS, host: new URL(RP).host, cookie: edgeCookie };
    const honoHeaders = { ...BROWSER_HEADERS, host: new URL(ORIGINS.https).host, cookie: honoCookie };
    const startWorkers = {
      bare: { options: { worker: 'bare' }, url: `${RP}/`, headers: edgeHeaders },
      'wasm-compile': { options: { worker: 'wasm-compile' }, url: `${RP}/`, headers: edgeHeaders },
      'wasm-instantiate': { options: { worker: 'wasm-instantiate' }, url: `${RP}/`, headers: edgeHeaders },
      edge: { options: { worker: 'edge', ...edgeOptions }, url: `${RP}/`, headers: edgeHeaders },
      hono: { options: { worker: 'hono', ...honoOptions }, url: `${ORIGINS.https}/`, headers: honoHeaders },
    };
    log('start to first response (fresh workerd each time)');
    results.start = await startTimes(startWorkers);
    log('what the start consists of (workerd trace spans, V8 compile log, CPU per thread)');
    results.start_profile = await startBreakdown(startWorkers, edgeOptions);

    log('KV operations per anonymous navigation, per login, per page view (counted inside workerd)');
    {
      const kvWorker = await startWorkerd({ worker: 'edge', site: 'memory', ...edgeOptions, countKv: true });
      stops.push(() => kvWorker.stop());
      results.kv = await kvOperations({ worker: kvWorker, op, anonymous: S.kvAnonymous, logins: S.kvLogins });
      await kvWorker.stop();
    }

    // Every target gets the same headers as its peer: the same Cookie bytes go to the bare
    // worker as to the auth layer in front of it (edge-oidc's, or for the paired memory-site
    // baseline @hono/oidc-auth's), and to plain Apache as to mod_auth_openidc.
    const anonHeaders = { ...BROWSER_HEADERS, host: new URL(RP).host };
    const apacheHeaders = { ...BROWSER_HEADERS, cookie: apacheCookie };
    const w = (id, name, server, headers, expect) => ({ id, name, url: `${server.url}/`, pid: server.pid, headers, expect });
    const targets = [
      w('bare_assets', '(a) bare worker', servers.bare_assets, edgeHeaders, 200),
      w('edge_assets', '(b) edge-oidc, valid session', servers.edge_assets, edgeHeaders, 200),
      w('edge_anon', '(c) edge-oidc, no cookie: redirect to login', servers.edge_assets, anonHeaders, 302),
      w('hono_assets', '(d) @hono/oidc-auth, valid session', servers.hono_assets, honoHeaders, 200),
      w('bare_memory', '(a) bare worker, site from memory', servers.bare_memory, edgeHeaders, 200),
      w('edge_memory', '(b) edge-oidc, valid session, site from memory', servers.edge_memory, edgeHeaders, 200),
      w('bare_memory_hono', '(a) bare worker, site from memory, @hono/oidc-auth\'s cookie', servers.bare_memory, honoHeaders, 200),
      w('hono_memory', '(d) @hono/oidc-auth, valid session, site from memory', servers.hono_memory, honoHeaders, 200),
      w('apache', 'Apache, no auth', servers.apache, apacheHeaders, 200),
      w('apache_oidc', 'Apache + mod_auth_openidc, valid session', servers.apache_oidc, apacheHeaders, 200),
      w('apache_anon', 'Apache + mod_auth_openidc, no cookie: redirect to login', servers.apache_oidc, BROWSER_HEADERS, 302),
    ];
    log(`load: ${targets.length} targets x ${S.rounds} rounds (wrk -t${S.threads} -c${S.connections} -d${S.seconds}s, then -c1 -d${S.latencySeconds}s)`);
    results.load = await loadTests(targets);

    // The hono session must still have been valid without a refresh (else every request would
    // have called the token endpoint and answered with a new cookie).
    {
      const res = await servers.hono_memory.fetch(`${ORIGINS.https}/`, { headers: honoHeaders });
      await res.text();
      results.sessions.hono_after_load = { status: res.status, set_cookie: res.headers.has('set-cookie') };
      if (res.status !== 200 || res.headers.has('set-cookie')) throw new Error(`@hono/oidc-auth after the load: ${res.status}, set-cookie ${res.headers.get('set-cookie')}`);
    }

    for (const id of ['bare_assets', 'edge_assets', 'hono_assets', 'bare_memory', 'edge_memory', 'hono_memory', 'apache', 'apache_oidc']) {
      await servers[id].stop();
    }

    log(`server CPU added per request: plain workerd, ${S.cpuPairs} rounds of interleaved ${S.cpuSeconds} s slices (bench/lib/cpuadded.mjs)`);
    results.cpu_added = await measureCpuAdded({ edgeOptions, honoOptions, cookies: { edge: edgeCookie, hono: honoCookie } });

    log(`soak: ${S.soakSeconds} s of mixed traffic, then ${S.soakSeconds} s of page views on a bare worker (memory control)`);
    const soakDir = mkdtempSync(path.join(tmpdir(), 'bench-soak-kv-'));
    stops.push(() => rmSync(soakDir, { recursive: true, force: true }));
    const inspectorPort = await freePort();
    const soakWorker = await startWorkerd({ worker: 'edge', site: 'memory', ...edgeOptions, kvPersist: soakDir, inspectorPort });
    stops.push(() => soakWorker.stop());
    const isolate = await attachIsolate(inspectorPort);
    stops.push(() => isolate.close());
    results.soak = await soak({ worker: soakWorker, op, sessions: [edgeCookie], seconds: S.soakSeconds, isolate });
    isolate.close();
    await soakWorker.stop();
    const controlWorker = await startWorkerd({ worker: 'bare', site: 'memory' });
    stops.push(() => controlWorker.stop());
    results.soak.control = await soakControl({ worker: controlWorker, seconds: S.soakSeconds });
    results.soak.versus_control = memoryVersusControl(results.soak.memory_kib.series, results.soak.control.series);
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (e) {
        log(`stop failed: ${e.message}`);
      }
    }
  }

  log('zero KV reads / extra subrequests on the hot path (tests/e2e/budget.test.mjs)');
  results.budget_test = await budgetTest();
  results.load_after = machineLoad();
  results.duration_s = Math.round((Date.now() - started) / 1000);

  writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = writeReport(results, { write: !quick });
  console.log(md);
  log(quick ? 'quick run: BENCHMARKS.md left unchanged' : 'wrote BENCHMARKS.md');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
