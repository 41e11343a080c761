// workerd without miniflare, for the one figure miniflare drowns: the server CPU an auth layer
// adds per request. Under miniflare every request also runs its entry worker (a new Request,
// header rewrites) and goes through its loopback plumbing, several hundred µs of CPU in the same
// process whose run-to-run variation on this shared machine is larger than the 30 µs budget.
// Here workerd's socket leads straight to the worker, and ASSETS is the memory site (the same
// worker source as in lib/servers.mjs), so a request costs workerd's HTTP handling, the worker
// and the site, nothing else.
//
// Config in workerd's text format (its schema is built in: "/workerd/workerd.capnp"), written to
// a temporary directory with the modules next to it; `--control-fd` reports the port.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { httpFetch } from '../../tests/e2e/lib/worker.mjs';
import { EDGE } from './layout.mjs';
import { BENCH, memorySiteSource } from './servers.mjs';
import { workerdBinary } from './workerd-wrap.mjs';

const text = (s) => JSON.stringify(String(s)); // a Cap'n Proto text literal (JSON escapes are valid)

/** The worker's modules (copied into `dir`) and bindings, in capnp text. */
function mainWorker({ worker, config, secrets, hono }, dir) {
  const esm = (name, src) => {
    copyFileSync(src, path.join(dir, name));
    return `(name = ${text(name)}, esModule = embed ${text(name)})`;
  };
  const modules = [];
  const bindings = ['(name = "ASSETS", service = "site")'];
  if (worker === 'bare') {
    modules.push(esm('bare.mjs', path.join(BENCH, 'workers', 'bare.mjs')));
  } else if (worker === 'edge') {
    modules.push(esm(EDGE.entry, path.join(EDGE.dir, EDGE.entry)));
    copyFileSync(path.join(EDGE.dir, EDGE.wasm), path.join(dir, EDGE.wasm));
    modules.push(`(name = ${text(EDGE.wasm)}, wasm = embed ${text(EDGE.wasm)})`);
    bindings.push(`(name = "EDGE_OIDC_CONFIG", json = ${text(JSON.stringify(config))})`);
    for (const [k, v] of Object.entries(secrets ?? {})) bindings.push(`(name = ${text(k)}, text = ${text(v)})`);
    // The hot path touches no KV (tests/e2e/budget.test.mjs); the binding only has to exist.
    bindings.push('(name = "EDGE_OIDC_KV", kvNamespace = "nokv")');
  } else if (worker === 'hono') {
    modules.push(esm(hono.entry, path.join(hono.dir, hono.entry)));
    for (const [k, v] of Object.entries(hono.bindings ?? {})) bindings.push(`(name = ${text(k)}, text = ${text(v)})`);
  } else {
    throw new Error(`plain workerd: unknown worker ${worker}`);
  }
  return `(modules = [${modules.join(', ')}], compatibilityDate = "2026-04-01", bindings = [${bindings.join(', ')}])`;
}

function configText(opts, dir) {
  writeFileSync(path.join(dir, 'site.mjs'), memorySiteSource());
  writeFileSync(path.join(dir, 'nokv.mjs'), 'export default { fetch() { return new Response("no KV here", { status: 500 }); } };\n');
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = ${mainWorker(opts, dir)}),
    (name = "site", worker = (modules = [(name = "site.mjs", esModule = embed "site.mjs")], compatibilityDate = "2026-04-01")),
    (name = "nokv", worker = (modules = [(name = "nokv.mjs", esModule = embed "nokv.mjs")], compatibilityDate = "2026-04-01")),
  ],
  # X-Forwarded-Proto sets the scheme of the URL the worker sees (https for @hono/oidc-auth,
  # whose cookies are Secure), as a TLS-terminating edge would.
  sockets = [(name = "http", address = "127.0.0.1:0", http = (forwardedProtoHeader = "X-Forwarded-Proto"), service = "main")],
);
`;
}

/**
 * Plain workerd on 127.0.0.1 running `worker` ('bare' | 'edge' | 'hono', options as for
 * startWorkerd) in front of the memory site. Returns { url, pid, fetch, stop }.
 */
export async function startPlainWorkerd(opts) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-plain-workerd-'));
  writeFileSync(path.join(dir, 'config.capnp'), configText(opts, dir));
  const child = spawn(workerdBinary(), ['serve', '--experimental', '--control-fd=3', path.join(dir, 'config.capnp')], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let output = '';
  for (const s of [child.stdout, child.stderr]) s.on('data', (d) => { output = (output + d).slice(-20_000); });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('plain workerd: not listening after 20 s')), 20_000);
      exited.then((code) => reject(new Error(`plain workerd exited (${code})`)));
      readline.createInterface(child.stdio[3]).on('line', (line) => {
        try {
          const m = JSON.parse(line);
          if (m.event === 'listen' && m.socket === 'http') {
            clearTimeout(timer);
            resolve(m.port);
          }
        } catch { /* not ours */ }
      });
    });
    const url = `http://127.0.0.1:${port}`;
    return { url, pid: child.pid, fetch: httpFetch(url), stop, output: () => output };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${output}`);
  }
}
