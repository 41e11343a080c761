// Per-request CPU of the edge shell in workerd, for comparing builds side by side (issue 10).
//
// Each build directory (build/index.js + index_bg.wasm) runs in its own workerd (miniflare) under
// a small driver module. A real login against node oidc-provider gives a session cookie (the
// driver passes ordinary requests to edge-oidc). Then one request to `/__bench?n=N` makes the
// driver call edge-oidc's fetch handler N times in a row inside the isolate, with an
// authenticated page view each time, its `ASSETS` binding answering from memory; workerd's CPU
// time for that request (all threads, /proc/<pid>/task/*/schedstat, ns) divided by N is the
// figure. No HTTP, no miniflare entry worker and no asset server per call: what remains is the
// shell, the core's hot path and the driver's own loop, which the "bare" row (the same loop around
// a pass-through handler) measures. Rounds are interleaved across builds; medians are reported.
//
//   node bench/shell.mjs [--calls 1000] [--rounds 25] label=build-dir [label=build-dir ...]
//
// Used to choose the build (worker-build or scripts/build.sh) and to check the shell's fast
// paths (src/edge/); the figures quoted there come from this script. Not part of bench/run.sh.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { startNodeOp } from '../tests/e2e/lib/peers.mjs';
import { opConfig, rpOptions, RP } from '../tests/e2e/lib/fixture.mjs';
import { httpFetch } from '../tests/e2e/lib/worker.mjs';
import { BROWSER_HEADERS, loginEdge } from './lib/logins.mjs';
import { children, comm, machineLoad } from './lib/proc.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : fallback;
};
const CALLS = opt('calls', 1000);
const ROUNDS = opt('rounds', 25);
const targets = args.map((a) => {
  const [label, dir] = a.split('=');
  if (!label || !dir) throw new Error(`expected label=build-dir, got ${a}`);
  return { label, build: path.resolve(dir) };
});
if (targets.length === 0) throw new Error('usage: node bench/shell.mjs [--calls N] [--rounds R] label=build-dir ...');

const PAGE = `<!doctype html><title>edge-oidc benchmark page</title>${'<p>text</p>'.repeat(40)}`;

// The driver: `edge` is the build's default export (a plain handler object, or worker-build's
// WorkerEntrypoint class, which the runtime instantiates per request with (ctx, env)).
const DRIVER = (bare) => `
${bare ? '' : "import edge from './index.js';"}
const PAGE = ${JSON.stringify(PAGE)};
// The memory site, as a binding: workers-rs checks that an assets binding is a "Fetcher".
class Fetcher {
  async fetch(request) {
    return new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=0, must-revalidate' } });
  }
}
const call = ${bare
    ? '(request, env) => env.ASSETS.fetch(request)'
    : "typeof edge === 'function' ? (request, env, ctx) => new edge(ctx, env).fetch(request) : (request, env, ctx) => edge.fetch(request, env, ctx)"};
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname !== '/__bench') return call(request, { ...env, ASSETS: new Fetcher() }, ctx);
    const n = Number(url.searchParams.get('n'));
    const headers = { ...${JSON.stringify(BROWSER_HEADERS)}, 'sec-fetch-mode': 'navigate', cookie: request.headers.get('x-session') };
    const site = { ...env, ASSETS: new Fetcher() };
    for (let i = 0; i < n; i += 1) {
      const res = await call(new Request('${RP}/reports/' + (i % 7), { headers }), site, ctx);
      const body = await res.text();
      if (res.status !== 200 || body !== PAGE) return new Response('call ' + i + ': ' + res.status + ' ' + body.slice(0, 300), { status: 500 });
      if (i === n - 1) return new Response(String(res.headers.get('cache-control')));
    }
    return new Response('no calls');
  },
};`;

/** CPU nanoseconds used so far by every thread of `pid`. */
function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* thread gone */ }
  }
  return total;
}

async function start({ build, bare, config, secrets }) {
  const before = new Set(children(process.pid));
  const modules = [{ type: 'ESModule', path: path.join(build ?? '/tmp', 'driver.mjs'), contents: DRIVER(bare) }];
  if (!bare) {
    modules.push({ type: 'ESModule', path: path.join(build, 'index.js') }, { type: 'CompiledWasm', path: path.join(build, 'index_bg.wasm') });
  }
  const mf = new Miniflare({
    modules,
    modulesRoot: build ?? '/tmp',
    compatibilityDate: '2026-04-01',
    bindings: { EDGE_OIDC_CONFIG: config, ...secrets },
    kvNamespaces: ['EDGE_OIDC_KV'],
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); },
    cf: false,
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const pids = children(process.pid).filter((p) => !before.has(p) && comm(p) === 'workerd');
  if (pids.length !== 1) throw new Error(`expected one new workerd, found ${pids.length}`);
  return { mf, url, pid: pids[0], fetch: httpFetch(url) };
}

async function batch(t, cookie, n) {
  const cpu0 = cpuNs(t.pid);
  const res = await t.fetch(`${RP}/__bench?n=${n}`, { headers: { 'x-session': cookie } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${t.label}: ${res.status} ${body}`);
  t.cacheControl = body;
  return (cpuNs(t.pid) - cpu0) / 1000 / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const op = await startNodeOp(opConfig());
const all = [];
try {
  const rp = rpOptions(op, 'client_secret_basic');
  const secrets = { ...rp.secrets, COOKIE_KEYS: randomBytes(32).toString('base64url') };
  all.push({ label: 'bare (driver loop only)', ...(await start({ bare: true, config: rp.config, secrets })) });
  for (const t of targets) all.push({ label: t.label, ...(await start({ build: t.build, config: rp.config, secrets })) });
  // Same keys and configuration everywhere: one session serves every build.
  const cookie = await loginEdge(all[1].fetch, op, '/reports/0');
  const load = machineLoad();
  for (const t of all) await batch(t, cookie, Math.min(1000, CALLS)); // warm-up: JIT, lazy compilation
  for (const t of all) t.samples = [];
  for (let r = 0; r < ROUNDS; r += 1) for (const t of all) t.samples.push(await batch(t, cookie, CALLS));
  // Paired per round (the rounds of all builds run back to back, so they share the machine's
  // load): each build's figure minus the bare loop's, and minus the first build's.
  const paired = (t, ref) => median(t.samples.map((x, i) => x - ref.samples[i]));
  const ref = all[1];
  console.log(`${CALLS} calls x ${ROUNDS} rounds per build; load average ${load.load1} before, ${machineLoad().load1} after`);
  console.log(`| build | workerd CPU µs/call (median) | min–max | minus the bare loop (paired median) | minus ${ref.label} (paired median) | Cache-Control of the answer |`);
  console.log('|---|--:|--:|--:|--:|---|');
  for (const t of all) {
    const m = median(t.samples);
    const vsBare = t === all[0] ? '' : paired(t, all[0]).toFixed(1);
    const vsRef = t === all[0] || t === ref ? '' : `${paired(t, ref) >= 0 ? '+' : ''}${paired(t, ref).toFixed(1)}`;
    console.log(`| ${t.label} | ${m.toFixed(1)} | ${Math.min(...t.samples).toFixed(1)}–${Math.max(...t.samples).toFixed(1)} | ${vsBare} | ${vsRef} | ${t.cacheControl} |`);
  }
} finally {
  await Promise.all(all.map((t) => t.mf.dispose()));
  await op.stop();
}
