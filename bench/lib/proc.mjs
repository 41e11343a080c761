// CPU time and memory of server processes, from /proc (Linux).
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function stat(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces).
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime = field 14, stime 15, cutime 16, cstime 17, ppid = field 4.
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null; // gone
  }
}

/** Child pids of `pid` (one level). */
export function children(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (s && s.ppid === pid) out.push(Number(name));
  }
  return out;
}

/** The command name of a pid, or null. */
export function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by a process tree rooted at `pid` (itself, its live children, and the
 * children it has reaped), so per-request CPU = delta / requests.
 */
export function treeCpuSeconds(pid) {
  const root = stat(pid);
  if (!root) return NaN;
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  for (const c of children(pid)) {
    const s = stat(c);
    if (s) ticks += s.utime + s.stime + s.cutime + s.cstime;
  }
  return ticks / TICKS;
}

/** Resident set size in KiB (VmRSS), or NaN. */
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** 1-minute load average and the busiest other processes (for the record of each run). */
export function machineLoad() {
  const [one, five] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  let busy = [];
  try {
    busy = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' })
      .split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 4)
      .map((l) => { const [cpu, ...c] = l.split(/\s+/); return { cpu: Number(cpu), comm: c.join(' ') }; });
  } catch { /* ps missing */ }
  return { load1: one, load5: five, busy };
}

/**
 * CPU time of a process in nanoseconds, from /proc/<pid>/task/<tid>/schedstat (time on a CPU,
 * ns resolution, unlike the 10 ms ticks of /proc/<pid>/stat): `main` for its main thread (where
 * workerd runs JavaScript and wasm), `total` for all its live threads (V8's compiler threads
 * included). Waiting for a CPU on a loaded machine does not count.
 */
export function threadCpuNs(pid) {
  let main = NaN;
  let total = 0;
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { main, total: NaN };
  }
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      total += ns;
      if (Number(tid) === pid) main = ns;
    } catch { /* thread gone */ }
  }
  return { main, total };
}
