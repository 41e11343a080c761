// The server CPU an auth layer adds per authenticated request, over a bare worker, measured in
// plain workerd (bench/lib/plain.mjs: no miniflare entry worker, site from memory) with short
// interleaved slices: for each of `pairs` rounds, wrk for `seconds` against
//   bare (edge-oidc's cookie), edge-oidc, bare (@hono/oidc-auth's cookie), @hono/oidc-auth,
//   bare (edge-oidc's cookie) again,
// and workerd's CPU time over each slice (/proc/<pid>/task/*/schedstat, ns; waiting for a core
// does not count) divided by the responses. Each round gives paired differences taken seconds
// apart, so slow drifts of the machine's load cancel; the last slice against the first is an
// A/A difference: what the method reports when nothing differs (its noise).
import { startPlainWorkerd } from './plain.mjs';
import { threadCpuNs } from './proc.mjs';
import { wrk } from './wrk.mjs';

const median = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const quartiles = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return s.length ? [q(0.25), q(0.75)] : [NaN, NaN];
};

/**
 * `edge` / `hono`: startWorkerd-style options ({ config, secrets } / { hono }); `cookies`:
 * { edge, hono } Cookie headers from logins with the same keys; `headers`: the browser headers.
 */
export async function cpuAdded({ edge, hono, cookies, headers, pairs = 10, seconds = 2, connections = 8 }) {
  const servers = {};
  try {
    servers.bare = await startPlainWorkerd({ worker: 'bare' });
    servers.edge = await startPlainWorkerd({ worker: 'edge', ...edge });
    servers.hono = await startPlainWorkerd({ worker: 'hono', ...hono });
    const H = {
      edge: { ...headers, host: 'rp.test', cookie: cookies.edge },
      // the scheme @hono/oidc-auth's Secure cookies need, as behind TLS (plain.mjs)
      hono: { ...headers, host: 'rp.test', 'x-forwarded-proto': 'https', cookie: cookies.hono },
    };
    const slice = async (server, h) => {
      const a = threadCpuNs(server.pid);
      const out = await wrk(`${server.url}/`, { headers: h, connections, seconds, expect: 200 });
      const b = threadCpuNs(server.pid);
      if (out.unexpected_status > 0 || out.socket_errors > 0) {
        throw new Error(`CPU added: ${out.unexpected_status} responses with another status than 200 (first ${out.first_unexpected}), ${out.socket_errors} socket errors`);
      }
      return { us: (b.total - a.total) / 1e3 / out.requests, requests: out.requests };
    };
    const rounds = [];
    for (let i = 0; i < pairs; i += 1) {
      const bare = await slice(servers.bare, H.edge);
      const e = await slice(servers.edge, H.edge);
      const bareHono = await slice(servers.bare, H.hono);
      const h = await slice(servers.hono, H.hono);
      const bareAgain = await slice(servers.bare, H.edge);
      rounds.push({
        bare_us: bare.us, edge_us: e.us, bare_hono_us: bareHono.us, hono_us: h.us, bare_again_us: bareAgain.us,
        edge_added_us: e.us - bare.us, hono_added_us: h.us - bareHono.us, aa_us: bareAgain.us - bare.us,
        requests: bare.requests + e.requests + bareHono.requests + h.requests + bareAgain.requests,
      });
    }
    const sum = (k) => ({ median: median(rounds.map((r) => r[k])), quartiles: quartiles(rounds.map((r) => r[k])) });
    return {
      pairs, seconds, connections,
      bare_us: median(rounds.map((r) => r.bare_us)),
      edge: sum('edge_added_us'),
      hono: sum('hono_added_us'),
      aa: sum('aa_us'),
      rounds,
    };
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
}
