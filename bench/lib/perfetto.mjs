// A minimal reader for the Perfetto traces workerd writes with `--perfetto-trace=<file>=<cats>`:
// just enough protobuf to turn its TrackEvent packets into slices { name, cat, track, ts, dur }
// (nanoseconds, one clock for all threads). No dependency (trace_processor downloads a binary).
import { readFileSync } from 'node:fs';

function* fields(buf, start = 0, end = buf.length) {
  let i = start;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
  };
  while (i < end) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield [no, varint()];
    else if (wire === 1) { yield [no, buf.readBigUInt64LE(i)]; i += 8; }
    else if (wire === 5) { yield [no, buf.readUInt32LE(i)]; i += 4; }
    else if (wire === 2) {
      const len = Number(varint());
      yield [no, buf.subarray(i, i + len)];
      i += len;
    } else throw new Error(`perfetto: unsupported wire type ${wire} at ${i}`);
  }
}
const str = (b) => b.toString('utf8');
const INCREMENTAL = 64n; // Perfetto's per-sequence incremental clock (deltas since the last packet)

/** Parses a trace file into { slices, instants, tracks }. */
export function readTrace(file) {
  const buf = readFileSync(file);
  const seqs = new Map(); // sequence id -> { cats, names, last, clock, track }
  const tracks = new Map(); // uuid -> name
  const open = new Map(); // track uuid -> stack of open slices
  const slices = [];
  const instants = [];
  for (const [no, packet] of fields(buf)) {
    if (no !== 1) continue;
    const p = { ts: null, seq: 0, ev: null, interned: null, cleared: false, defaults: null, clockId: null, track: null, snapshot: null };
    for (const [f, v] of fields(packet)) {
      if (f === 8) p.ts = v;
      else if (f === 10) p.seq = Number(v);
      else if (f === 11) p.ev = v;
      else if (f === 12) p.interned = v;
      else if (f === 41) p.cleared = v !== 0n;
      else if (f === 59) p.defaults = v;
      else if (f === 58) p.clockId = v;
      else if (f === 60) p.track = v;
      else if (f === 6) p.snapshot = v;
    }
    let s = seqs.get(p.seq);
    if (!s || p.cleared) {
      s = { cats: new Map(), names: new Map(), argNames: new Map(), argValues: new Map(), last: s?.last ?? 0n, clock: s?.clock ?? null, track: s?.track ?? null };
      seqs.set(p.seq, s);
    }
    if (p.defaults) {
      for (const [f, v] of fields(p.defaults)) {
        if (f === 58) s.clock = v;
        if (f === 11) for (const [g, w] of fields(v)) if (g === 11) s.track = w;
      }
    }
    if (p.snapshot) {
      for (const [f, clock] of fields(p.snapshot)) {
        if (f !== 1) continue;
        let id = null;
        let t = null;
        for (const [g, w] of fields(clock)) { if (g === 1) id = w; if (g === 2) t = w; }
        if (id === INCREMENTAL) s.last = t;
      }
    }
    if (p.interned) {
      for (const [f, v] of fields(p.interned)) {
        const table = { 1: s.cats, 2: s.names, 3: s.argNames, 29: s.argValues }[f];
        if (!table) continue;
        let iid = null;
        let name = '';
        for (const [g, w] of fields(v)) { if (g === 1) iid = w; if (g === 2) name = str(w); }
        table.set(iid, name);
      }
    }
    if (p.track) {
      let uuid = null;
      let name = '';
      for (const [f, v] of fields(p.track)) {
        if (f === 1) uuid = v;
        else if (f === 2) name = str(v);
        else if (f === 4 || f === 3) for (const [g, w] of fields(v)) if (g === 5 || g === 6) name ||= str(w);
      }
      if (uuid !== null) tracks.set(uuid, name);
    }
    let ts = p.ts;
    if (ts !== null && (p.clockId ?? s.clock) === INCREMENTAL) {
      ts = s.last + ts;
      s.last = ts;
    }
    if (!p.ev || ts === null) continue;
    const e = { type: 0, name: null, cats: [], track: s.track, args: {} };
    for (const [f, v] of fields(p.ev)) {
      if (f === 9) e.type = Number(v);
      else if (f === 10) e.name = s.names.get(v) ?? `iid:${v}`;
      else if (f === 23) e.name = str(v);
      else if (f === 3) e.cats.push(s.cats.get(v) ?? `iid:${v}`);
      else if (f === 22) e.cats.push(str(v));
      else if (f === 11) e.track = v;
      else if (f === 4) {
        let k = '?';
        let val = null;
        for (const [g, w] of fields(v)) {
          if (g === 1) k = s.argNames.get(w) ?? k;
          else if (g === 10) k = str(w);
          else if (g === 6) val = str(w);
          else if (g === 17) val = s.argValues.get(w) ?? val;
          else if (g === 3 || g === 4) val = Number(w);
        }
        e.args[k] = val;
      }
    }
    const key = String(e.track);
    if (e.type === 1) {
      if (!open.has(key)) open.set(key, []);
      open.get(key).push({ name: e.name, cat: e.cats.join(','), track: e.track, ts, args: e.args });
    } else if (e.type === 2) {
      const b = open.get(key)?.pop();
      if (b) slices.push({ ...b, dur: ts - b.ts });
    } else if (e.type === 3) {
      instants.push({ name: e.name, cat: e.cats.join(','), track: e.track, ts, args: e.args });
    }
  }
  const t0 = [...slices, ...instants].reduce((m, x) => (m === null || x.ts < m ? x.ts : m), null) ?? 0n;
  const ms = (ns) => Number(ns) / 1e6;
  return {
    slices: slices.map((x) => ({ ...x, track: tracks.get(x.track) ?? String(x.track), start_ms: ms(x.ts - t0), dur_ms: ms(x.dur) })).sort((a, b) => a.start_ms - b.start_ms),
    instants: instants.map((x) => ({ ...x, track: tracks.get(x.track) ?? String(x.track), start_ms: ms(x.ts - t0) })),
    tracks,
  };
}
