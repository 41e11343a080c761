// Section 5: mixed traffic for a while against one edge-oidc workerd, watching for errors and the
// workerd process's memory.
//
// Virtual users run concurrently, each in its own loop:
// - `auth` users: authenticated page views (random site file, a random session of the pool);
// - one `anon` user: unauthenticated requests, alternately a navigation (302 to the provider)
//   and an API call (401 JSON);
// - one `login` user: complete logins through the provider (each adds its session to the pool).
// Every response is checked; anything unexpected counts as an error (first few kept).
import { Client } from '../../tests/e2e/lib/client.mjs';
import { RP, sessionCookies } from '../../tests/e2e/lib/fixture.mjs';
import { rssKiB } from './proc.mjs';
import { BROWSER_HEADERS, MARKER } from './logins.mjs';

const PAGES = ['/', '/style.css', '/app.js', '/logo.svg'];

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

/** Least-squares slope of (t seconds, v) points, per minute. */
function slopePerMinute(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Runs the soak against `worker` ({ url, pid, fetch }) with provider `op` for `seconds`.
 * `sessions`: initial session Cookie headers. Returns counts, errors and the memory series.
 */
export async function soak({ worker, op, sessions, seconds = 60, authUsers = 6, warmupSeconds = 10, isolate, isolateEverySeconds = 10 }) {
  // Short (smoke) runs: warm-up and isolate samples scaled down so there is something to compare.
  warmupSeconds = Math.min(warmupSeconds, seconds / 4);
  isolateEverySeconds = Math.min(isolateEverySeconds, seconds / 4);
  const pool = [...sessions];
  const counts = { auth: 0, anon_navigation: 0, anon_api: 0, login: 0 };
  const errors = [];
  let errorCount = 0;
  const fail = (kind, what) => {
    errorCount += 1;
    if (errors.length < 10) errors.push(`${kind}: ${what}`);
  };
  const start = Date.now();
  const deadline = start + seconds * 1000;
  const memory = [];
  // A login is three requests to the worker (start, callback, the page).
  const done = () => counts.auth + counts.anon_navigation + counts.anon_api + 3 * counts.login;
  const sample = () => memory.push({ t: (Date.now() - start) / 1000, n: done(), v: rssKiB(worker.pid) });
  const sampler = setInterval(sample, 1000);
  sampler.unref();
  sample();
  // The isolate's own memory (bench/lib/inspector.mjs): JS heap after a full GC, Wasm memory.
  const heap = [];
  const sampleIsolate = async () => {
    const t = (Date.now() - start) / 1000;
    const n = done();
    heap.push({ t, n, ...(await isolate.measure()) });
  };
  let isolateBusy = Promise.resolve();
  const isolateSampler = isolate
    ? setInterval(() => { isolateBusy = isolateBusy.then(sampleIsolate).catch((e) => fail('inspector', e.message)); }, isolateEverySeconds * 1000)
    : null;
  isolateSampler?.unref();
  if (isolate) await sampleIsolate();

  const authUser = async () => {
    while (Date.now() < deadline) {
      const page = pick(PAGES);
      try {
        const res = await worker.fetch(`${RP}${page}`, { headers: { ...BROWSER_HEADERS, cookie: pick(pool) } });
        const body = await res.text();
        if (res.status !== 200 || (page === '/' && !body.includes(MARKER))) fail('auth', `${page} -> ${res.status}`);
      } catch (e) {
        fail('auth', e.message);
      }
      counts.auth += 1;
    }
  };
  const anonUser = async () => {
    for (let i = 0; Date.now() < deadline; i += 1) {
      const navigation = i % 2 === 0;
      try {
        const res = await worker.fetch(`${RP}/reports/q${i % 7}`, {
          headers: navigation ? BROWSER_HEADERS : { accept: 'application/json', 'user-agent': BROWSER_HEADERS['user-agent'] },
        });
        const body = await res.text();
        if (navigation && !(res.status === 302 && res.headers.get('location')?.startsWith(op.url))) {
          fail('anon navigation', `${res.status} ${res.headers.get('location')}`);
        }
        if (!navigation && !(res.status === 401 && body.includes('login_required'))) fail('anon api', `${res.status} ${body.slice(0, 100)}`);
      } catch (e) {
        fail('anon', e.message);
      }
      counts[navigation ? 'anon_navigation' : 'anon_api'] += 1;
    }
  };
  const loginUser = async () => {
    while (Date.now() < deadline) {
      try {
        const client = new Client({ rpOrigin: RP, rpFetch: worker.fetch });
        const { final } = await client.follow(`${RP}/?soak=${counts.login}`);
        const cookies = sessionCookies(client);
        if (final.status !== 200 || !final.body.includes(MARKER) || cookies.length === 0) {
          fail('login', `ended with ${final.status} at ${final.url}`);
        } else {
          const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
          if (pool.length < 50) pool.push(header); else pool[counts.login % 50] = header;
        }
      } catch (e) {
        fail('login', e.message);
      }
      counts.login += 1;
    }
  };
  await Promise.all([...Array.from({ length: authUsers }, authUser), anonUser(), loginUser()]);
  clearInterval(sampler);
  clearInterval(isolateSampler);
  const elapsed = (Date.now() - start) / 1000;
  sample();
  await isolateBusy;
  if (isolate) await sampleIsolate();
  const warm = heap.filter((p) => p.t >= warmupSeconds);

  const after = memory.filter((p) => p.t >= warmupSeconds);
  const first = median(after.filter((p) => p.t < warmupSeconds + 10).map((p) => p.v));
  const last = median(after.filter((p) => p.t >= elapsed - 10).map((p) => p.v));
  return {
    seconds: elapsed,
    counts,
    requests: counts.auth + counts.anon_navigation + counts.anon_api,
    errors: errorCount,
    error_samples: errors,
    memory_kib: {
      start: memory[0].v,
      after_warmup: first,
      end: last,
      max: Math.max(...memory.map((p) => p.v)),
      slope_per_min: slopePerMinute(after),
      series: memory.map((p) => [Math.round(p.t), p.n, p.v]),
    },
    isolate: isolate && warm.length >= 2 ? {
      heap_kib: { start: heap[0].heap_kib, after_warmup: warm[0].heap_kib, end: warm.at(-1).heap_kib, max: Math.max(...heap.map((p) => p.heap_kib)) },
      wasm_kib: { start: heap[0].wasm_kib, after_warmup: warm[0].wasm_kib, end: warm.at(-1).wasm_kib, max: Math.max(...heap.map((p) => p.wasm_kib)) },
      series: heap.map((p) => [Math.round(p.t), p.n, p.heap_kib, p.wasm_kib]),
    } : null,
  };
}

/**
 * Whether the isolate kept no memory: after the warm-up, the JS heap after a full GC and the Wasm
 * memory grew by at most `toleranceKib` each. null without isolate figures.
 */
export function isolateFlat(isolate, toleranceKib = 1024) {
  if (!isolate) return null;
  return isolate.heap_kib.end - isolate.heap_kib.after_warmup <= toleranceKib
    && isolate.wasm_kib.end - isolate.wasm_kib.after_warmup <= toleranceKib;
}

/**
 * The control for the memory figures: the same number of users making page views against a bare
 * worker for the same time. workerd's resident memory grows under any load until V8's heaps and
 * the allocator settle (several hundred MiB under miniflare, bare worker included), so edge-oidc's
 * memory is judged against this curve at equal request counts, not against a flat line.
 */
export async function soakControl({ worker, seconds = 60, users = 8 }) {
  let n = 0;
  let errors = 0;
  const start = Date.now();
  const deadline = start + seconds * 1000;
  const memory = [];
  const sample = () => memory.push({ t: (Date.now() - start) / 1000, n, v: rssKiB(worker.pid) });
  const sampler = setInterval(sample, 1000);
  sampler.unref();
  sample();
  const user = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await worker.fetch(`${RP}${pick(PAGES)}`, { headers: BROWSER_HEADERS });
        await res.arrayBuffer();
        if (res.status !== 200) errors += 1;
      } catch {
        errors += 1;
      }
      n += 1;
    }
  };
  await Promise.all(Array.from({ length: users }, user));
  clearInterval(sampler);
  sample();
  return { requests: n, errors, series: memory.map((p) => [Math.round(p.t), p.n, p.v]) };
}

/** RSS of `series` ([t, n, kib]) at request count `n`, linearly interpolated; NaN outside. */
function rssAt(series, n) {
  for (let i = 1; i < series.length; i += 1) {
    const [, n0, v0] = series[i - 1];
    const [, n1, v1] = series[i];
    if (n >= n0 && n <= n1) return n1 === n0 ? v1 : v0 + ((v1 - v0) * (n - n0)) / (n1 - n0);
  }
  return NaN;
}

/**
 * edge-oidc's RSS minus the control's at the same request count, from the end of the warm-up to
 * the last count both reached: its start, end and change (KiB). Flat when the change is small.
 */
export function memoryVersusControl(edgeSeries, controlSeries, warmupSeconds = 10) {
  const points = edgeSeries
    .filter(([t]) => t >= warmupSeconds)
    .map(([, n, v]) => ({ n, d: v - rssAt(controlSeries, n) }))
    .filter((p) => Number.isFinite(p.d));
  if (points.length < 2) return null;
  const first = points[0];
  const last = points.at(-1);
  return { from_requests: first.n, to_requests: last.n, diff_start_kib: first.d, diff_end_kib: last.d, change_kib: last.d - first.d };
}

