// The server-CPU-added measurement of bench/bench.mjs on its own (bench/lib/cpuadded.mjs): ~2 min
// instead of a full run. Logs in to edge-oidc and @hono/oidc-auth (through miniflare, which has
// the KV edge-oidc's login needs), measures in plain workerd, and stores the result as
// `cpu_added` in bench/out/results.json (the report says when it was measured).
//
//   node bench/cpu-added.mjs            measure, merge into results.json, print the figures
//   node bench/cpu-added.mjs --write    ... and re-render BENCHMARKS.md from results.json
// Requires build/ (scripts/build.sh). Settings: BENCH_CPU_PAIRS, BENCH_CPU_SECONDS, BENCH_QUICK.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNodeOp } from '../tests/e2e/lib/peers.mjs';
import { opConfig, rpOptions } from '../tests/e2e/lib/fixture.mjs';
import { BENCH, ORIGINS, startWorkerd } from './lib/servers.mjs';
import { buildHono, honoBindings, HONO_CLIENT } from './lib/hono.mjs';
import { loginEdge, loginHono } from './lib/logins.mjs';
import { measureCpuAdded } from './bench.mjs';
import { writeReport } from './report.mjs';

const RESULTS = path.join(BENCH, 'out', 'results.json');

const op = await startNodeOp(opConfig({ extraClients: [HONO_CLIENT] }));
let cpu;
try {
  const hono = await buildHono();
  const rp = rpOptions(op, 'client_secret_basic');
  const edgeOptions = { config: rp.config, secrets: { ...rp.secrets, COOKIE_KEYS: randomBytes(32).toString('base64url') } };
  const honoOptions = { origin: ORIGINS.https, hono: { ...hono, bindings: honoBindings(op, randomBytes(32).toString('base64url')) } };
  const login = async (options, fn) => {
    const w = await startWorkerd({ site: 'memory', ...options });
    try {
      return await fn(w.fetch, op);
    } finally {
      await w.stop();
    }
  };
  const cookies = {
    edge: await login({ worker: 'edge', ...edgeOptions }, loginEdge),
    hono: await login({ worker: 'hono', ...honoOptions }, (f, o) => loginHono(f, o, ORIGINS.https)),
  };
  cpu = await measureCpuAdded({ edgeOptions, honoOptions, cookies });
} finally {
  await op.stop();
}

const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
console.log(`bare ${f(cpu.bare_us)} µs/request; added: edge-oidc ${f(cpu.edge.median)} µs [${cpu.edge.quartiles.map(f).join(', ')}], `
  + `@hono/oidc-auth ${f(cpu.hono.median)} µs [${cpu.hono.quartiles.map(f).join(', ')}], A/A ${f(cpu.aa.median)} µs [${cpu.aa.quartiles.map(f).join(', ')}]`);
if (existsSync(RESULTS)) {
  const results = JSON.parse(readFileSync(RESULTS, 'utf8'));
  results.cpu_added = { ...cpu, source: 'bench/cpu-added.mjs' };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.error(`stored in ${RESULTS}`);
  if (process.argv.includes('--write')) {
    writeReport(results, { write: true });
    console.error('wrote BENCHMARKS.md');
  }
}
