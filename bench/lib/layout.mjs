// Where the built edge-oidc worker is: the one place to change when the build output moves (the
// workerd harness, the start probes, the KV counter and the size measurement read it from here).
// `entry` is the ES module workerd runs (default export: `{ fetch }` or a WorkerEntrypoint
// class), `wasm` the compiled module it imports; `modules()` every module of the bundle, as
// miniflare loads them. In `wrangler deploy --dry-run --outdir` the entry keeps its name and the
// wasm may be renamed (any *.wasm).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const EDGE = {
  dir: path.join(ROOT, 'build'),
  entry: 'index.js',
  wasm: 'index_bg.wasm',
  modules(dir = EDGE.dir) {
    return [
      { type: 'ESModule', path: path.join(dir, EDGE.entry) },
      { type: 'CompiledWasm', path: path.join(dir, EDGE.wasm) },
    ];
  },
};
