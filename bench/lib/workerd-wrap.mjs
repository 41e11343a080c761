// Profiling hooks into the workerd that miniflare starts, which has no option for either:
// - V8 flags: workerd reads them from its config (`Config.v8Flags`, pointer slot 2 of the root
//   struct); miniflare pipes the config as a binary Cap'n Proto message on stdin and never sets
//   them. `addV8Flags` appends a segment holding the flag list to that message and points the
//   root's slot 2 at it with a far pointer (Cap'n Proto encoding spec, "Far pointers").
// - a Perfetto trace of workerd's own spans (`--perfetto-trace=<file>=<categories>`), read by
//   bench/lib/perfetto.mjs.
// `wrapperEnv()` gives the environment for Miniflare (MINIFLARE_WORKERD_PATH) that runs
// bench/lib/workerd-wrap.sh, which calls this file to patch the config and then execs the real
// workerd (same pid, so the harness still finds a `workerd` process).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V8_FLAGS_SLOT = 2;

/** The workerd binary miniflare would run. */
export function workerdBinary() {
  const require = createRequire(import.meta.url);
  return require('workerd').default ?? require('workerd');
}

const words = (n) => Math.ceil(n / 8);

/** Returns a copy of the binary Config message `msg` with `flags` as its v8Flags. */
export function addV8Flags(msg, flags) {
  if (flags.length === 0) return msg;
  const count = msg.readUInt32LE(0) + 1;
  const sizes = Array.from({ length: count }, (_, i) => msg.readUInt32LE(4 + 4 * i));
  const headerBytes = 8 * words(4 + 4 * count);
  const seg0 = headerBytes;
  // The root pointer (word 0 of segment 0) must be a plain struct pointer in segment 0.
  const rootLo = msg.readUInt32LE(seg0);
  const rootHi = msg.readUInt32LE(seg0 + 4);
  if ((rootLo & 3) !== 0) throw new Error('workerd config: root is not a struct pointer in segment 0');
  const structWord = 1 + (rootLo >> 2);
  const dataWords = rootHi & 0xffff;
  const ptrCount = rootHi >>> 16;
  if (ptrCount <= V8_FLAGS_SLOT) throw new Error(`workerd config: root struct has ${ptrCount} pointers`);
  const slot = seg0 + 8 * (structWord + dataWords + V8_FLAGS_SLOT);
  if (msg.readBigUInt64LE(slot) !== 0n) throw new Error('workerd config: v8Flags already set');

  // New segment: [landing pad: list pointer to the pointer list][N text pointers][texts].
  const texts = flags.map((f) => Buffer.from(`${f}\0`, 'utf8'));
  const segWords = 1 + flags.length + texts.reduce((a, t) => a + words(t.length), 0);
  const seg = Buffer.alloc(8 * segWords);
  // Landing pad at word 0: list of pointers (element size 6), offset 0 (starts at word 1).
  seg.writeUInt32LE(1, 0);
  seg.writeUInt32LE(6 | (flags.length << 3), 4);
  let at = 1 + flags.length;
  texts.forEach((t, i) => {
    const ptrWord = 1 + i;
    const offset = at - (ptrWord + 1);
    seg.writeUInt32LE(((offset << 2) | 1) >>> 0, 8 * ptrWord);
    seg.writeUInt32LE((2 | (t.length << 3)) >>> 0, 8 * ptrWord + 4); // byte list, NUL included
    t.copy(seg, 8 * at);
    at += words(t.length);
  });

  const newCount = count + 1;
  const newHeaderBytes = 8 * words(4 + 4 * newCount);
  const header = Buffer.alloc(newHeaderBytes);
  header.writeUInt32LE(newCount - 1, 0);
  sizes.forEach((s, i) => header.writeUInt32LE(s, 4 + 4 * i));
  header.writeUInt32LE(segWords, 4 + 4 * count);
  const body = Buffer.from(msg.subarray(headerBytes));
  // Far pointer in slot 2: landing pad at word 0 of the new segment (id = count).
  const rel = slot - seg0;
  body.writeUInt32LE(2, rel);
  body.writeUInt32LE(count, rel + 4);
  return Buffer.concat([header, body, seg]);
}

/**
 * Environment for `new Miniflare(...)` (read by miniflare when it spawns workerd) that adds V8
 * `flags` and/or a Perfetto trace written to `perfetto` ({ file, categories }).
 */
export function wrapperEnv({ flags = [], perfetto = null } = {}) {
  return {
    MINIFLARE_WORKERD_PATH: path.join(HERE, 'workerd-wrap.sh'),
    BENCH_WORKERD_BIN: workerdBinary(),
    BENCH_WORKERD_PATCH: fileURLToPath(import.meta.url),
    BENCH_V8_FLAGS: JSON.stringify(flags),
    BENCH_PERFETTO: perfetto ? `${perfetto.file}=${perfetto.categories ?? 'workerd'}` : '',
  };
}

// Command-line use (from workerd-wrap.sh): binary config on stdin -> patched config on stdout.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flags = JSON.parse(process.env.BENCH_V8_FLAGS || '[]');
  writeFileSync(1, addV8Flags(readFileSync(0), flags));
}
