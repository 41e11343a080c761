// Runs wrk and parses its report. Every run uses the same settings; only the target differs.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Counts responses whose status is not the expected one (wrk itself only counts >= 400 and
// socket errors; a 302 where a 200 is expected would otherwise pass unnoticed).
const STATUS_SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) expected = tonumber(args[1]); unexpected = 0; first = "" end
function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    if first == "" then first = tostring(status) end
  end
end
function done(summary, latency, requests)
  local n, f = 0, ""
  for _, t in ipairs(threads) do
    n = n + t:get("unexpected")
    if f == "" then f = t:get("first") end
  end
  io.write(string.format("UNEXPECTED %d %s\\n", n, f))
end
`;
const scriptPath = path.join(tmpdir(), `edge-oidc-bench-status-${process.pid}.lua`);
writeFileSync(scriptPath, STATUS_SCRIPT);

function toMs(v, unit) {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60000 : n;
}

export function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  const lat = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) lat[`p${m[1]}`] = toMs(m[2], m[3]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const unexpected = /^UNEXPECTED (\d+) ?(\S*)/m.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50_ms: lat.p50,
    p99_ms: lat.p99,
    socket_errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
    non_2xx_3xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    unexpected_status: unexpected ? Number(unexpected[1]) : NaN,
    first_unexpected: unexpected?.[2] || null,
  };
}

/**
 * wrk against `url` with `headers`; `expect` is the status every response must have.
 * Returns the parsed report plus the raw output.
 */
export function wrk(url, { headers = {}, threads = 1, connections = 32, seconds = 10, expect = 200 } = {}) {
  // A response slower than 5 s counts as a timeout (a socket error), not as latency.
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', scriptPath];
  // wrk replaces its own Host header only when given as exactly `Host` (else it sends two).
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k.toLowerCase() === 'host' ? 'Host' : k}: ${v}`);
  args.push(url, '--', String(expect));
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 1 << 20, timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      resolve({ ...parseWrk(stdout), raw: stdout });
    });
  });
}
