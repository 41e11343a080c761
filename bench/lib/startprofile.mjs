// What "start to first response" consists of, from workerd's own trace spans (Perfetto,
// bench/lib/perfetto.mjs) rather than from the outside: for each variant a fresh workerd (through
// bench/lib/workerd-wrap.sh, which may also set V8 flags), two authenticated requests, then
// SIGTERM so that workerd writes its trace. Per run:
//   listen_ms      Server.run -> listenOnSockets: workerd building every service (miniflare's own
//                  workers included) from a parsed config, until its sockets listen;
//   make_main_ms   Server::makeWorker() of the user worker ("core:user:main"): module compile
//                  (WorkerdApi::compileModules, wasm included), globals, bindings;
//   compile_main_ms  its WorkerdApi::compileModules() alone;
//   first_ms / second_ms  the first / second Connection:request(): the whole request inside
//                  workerd (miniflare's entry worker, the user worker, the site), first = with
//                  the isolate's one-time work;
//   first_cpu_ms / second_cpu_ms  CPU time of workerd's main thread (JavaScript and wasm run
//                  there) during each request, from /proc (ns resolution; waiting for a CPU on
//                  the loaded machine does not count, unlike the spans' wall time);
//   *_cpu_all_ms   the same for all of workerd's threads (V8's background compilers too);
//   compiled_*     with V8's --trace-wasm-compilation-times (variant `traceCompiles`): the wasm
//                  functions V8 compiled before listening / during each request, how many, how
//                  long they took by its own account (wall time) and with which compiler.
// Timestamps are workerd's (monotonic clock), so the wrapper's own start-up (a Node process that
// patches the config) is not in them. V8 flags here are for the profile only.
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readTrace } from './perfetto.mjs';
import { startWorkerd } from './servers.mjs';
import { threadCpuNs } from './proc.mjs';

const median = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Figures of one trace (see the header). */
export function summarise(trace) {
  const S = trace.slices;
  const one = (name) => S.find((s) => s.name === name);
  const run = one('Server.run');
  const listen = one('listenOnSockets');
  const main = S.find((s) => s.name === 'Server::makeWorker()' && s.args?.name === 'core:user:main');
  const compile = main && S.find((s) => s.name === 'WorkerdApi::compileModules()' && s.start_ms >= main.start_ms && s.start_ms <= main.start_ms + main.dur_ms);
  const requests = S.filter((s) => s.name === 'Connection:request()');
  return {
    listen_ms: run && listen ? listen.start_ms - run.start_ms : NaN,
    make_main_ms: main?.dur_ms ?? NaN,
    compile_main_ms: compile?.dur_ms ?? NaN,
    first_ms: requests[0]?.dur_ms ?? NaN,
    second_ms: requests[1]?.dur_ms ?? NaN,
  };
}

/**
 * Sums V8's "Compiled function <module>#<index> using <tier>, took <t> μs and <n> bytes; bodysize
 * <b> codesize <c>" lines of `text`: count, time, wasm body bytes, per tier, and the largest few.
 */
export function compiles(text) {
  const out = { n: 0, ms: 0, body_bytes: 0, tiers: {}, largest: [] };
  const all = [];
  for (const m of text.matchAll(/Compiled function \S*#(\d+) using (\w+), took (\d+) μs and \d+ bytes; bodysize (\d+)/g)) {
    out.n += 1;
    out.ms += Number(m[3]) / 1000;
    out.body_bytes += Number(m[4]);
    out.tiers[m[2]] = (out.tiers[m[2]] ?? 0) + 1;
    all.push({ index: Number(m[1]), tier: m[2], us: Number(m[3]), body_bytes: Number(m[4]) });
  }
  out.largest = all.sort((a, b) => b.body_bytes - a.body_bytes).slice(0, 5);
  return out;
}

/**
 * Runs every variant `runs` times (interleaved). variant: { id, worker options for startWorkerd
 * (`options`), `flags` (V8), `url`, `headers` (of both requests), `check(status, body)` }.
 * Returns { [id]: { median figures..., runs: [...] } }.
 */
export async function startProfile(variants, { runs = 3 } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-perfetto-'));
  const out = Object.fromEntries(variants.map((v) => [v.id, []]));
  try {
    for (let i = 0; i < runs; i += 1) {
      for (const v of variants) {
        const file = path.join(dir, `${v.id}-${i}.pftrace`);
        let output = '';
        const w = await startWorkerd({
          ...v.options, v8Flags: v.flags ?? [], perfetto: { file, categories: 'workerd' },
          ...(v.traceCompiles ? { onOutput: (d) => { output += d; } } : {}),
        });
        const cpu = {};
        // V8's output reaches us through a pipe: let it drain before each cut.
        const settle = () => new Promise((r) => setTimeout(r, v.traceCompiles ? 200 : 0));
        await settle();
        let mark = 0;
        const cut = (name) => {
          const c = compiles(output.slice(mark));
          mark = output.length;
          cpu[`compiled_${name}_n`] = c.n;
          cpu[`compiled_${name}_ms`] = c.ms;
          cpu[`compiled_${name}_bytes`] = c.body_bytes;
          cpu[`compiled_${name}_tiers`] = c.tiers;
          cpu[`compiled_${name}_largest`] = c.largest;
        };
        if (v.traceCompiles) cut('start');
        try {
          for (const which of ['first', 'second']) {
            const c0 = threadCpuNs(w.pid);
            const res = await w.fetch(v.url, { headers: v.headers });
            const body = await res.text();
            const c1 = threadCpuNs(w.pid);
            if (!v.check(res.status, body)) throw new Error(`start profile ${v.id}: ${which} response ${res.status}`);
            cpu[`${which}_cpu_ms`] = (c1.main - c0.main) / 1e6;
            cpu[`${which}_cpu_all_ms`] = (c1.total - c0.total) / 1e6;
            if (v.traceCompiles) {
              await settle();
              cut(which);
            }
          }
          // workerd writes its trace when it shuts down cleanly (miniflare would SIGKILL it).
          process.kill(w.pid, 'SIGTERM');
          for (let t = 0; t < 100 && alive(w.pid); t += 1) await new Promise((r) => setTimeout(r, 50));
        } finally {
          await w.stop();
        }
        if (!existsSync(file) || statSync(file).size === 0) throw new Error(`start profile ${v.id}: workerd wrote no trace`);
        // The V8 flags went in through the patched config: if they had not, V8 would print nothing.
        if (v.traceCompiles && !(cpu.compiled_start_n + cpu.compiled_first_n > 0)) {
          throw new Error(`start profile ${v.id}: no compile trace from V8 (did the V8 flags reach workerd?)`);
        }
        out[v.id].push({ ...summarise(readTrace(file)), ...cpu });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const keys = ['listen_ms', 'make_main_ms', 'compile_main_ms', 'first_ms', 'second_ms', 'first_cpu_ms', 'second_cpu_ms', 'first_cpu_all_ms', 'second_cpu_all_ms',
    'compiled_start_n', 'compiled_start_ms', 'compiled_start_bytes', 'compiled_first_n', 'compiled_first_ms', 'compiled_first_bytes',
    'compiled_second_n', 'compiled_second_ms'];
  return Object.fromEntries(variants.map((v) => [v.id, {
    label: v.label,
    flags: v.flags ?? [],
    ...Object.fromEntries(keys.map((k) => [k, median(out[v.id].map((r) => r[k]))])),
    runs: out[v.id],
  }]));
}
