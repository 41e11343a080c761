// The deployable bundle's size, measured the way Cloudflare counts it: `wrangler deploy --dry-run`
// (which runs scripts/build.sh first) prints "Total Upload: <raw> KiB / gzip: <gzip> KiB", the
// gzip of the modules it would upload (JS + wasm). The per-file figures are recomputed from its
// output directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EDGE } from './layout.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function bundleSize() {
  const outdir = mkdtempSync(path.join(tmpdir(), 'edge-oidc-dry-run-'));
  try {
    const output = await new Promise((resolve, reject) => {
      execFile('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
        cwd: ROOT, maxBuffer: 16 << 20, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      }, (err, stdout, stderr) => (err ? reject(new Error(`wrangler deploy --dry-run failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout + stderr)));
    });
    const line = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
    if (!line) throw new Error(`no "Total Upload" line in wrangler's output:\n${output}`);
    const files = {};
    for (const f of readdirSync(outdir)) {
      const kind = f.endsWith('.wasm') ? 'wasm' : f === EDGE.entry ? 'js' : null;
      if (!kind) continue;
      const b = readFileSync(path.join(outdir, f));
      files[kind] = { raw: b.length, gzip: gzipSync(b).length, name: f };
    }
    return { total_kib: Number(line[1]), gzip_kib: Number(line[2]), gzip_bytes: Math.round(Number(line[2]) * 1024), files };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
