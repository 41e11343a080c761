// Start to first response only (bench/bench.mjs section 4, alone): for comparing builds quickly.
// `node bench/start.mjs [runs]`: fresh workerd processes, bare worker and edge-oidc alternating,
// each answering two authenticated requests; prints the medians of workerd's own trace (making the
// worker, first request) and of V8's compile log for edge-oidc's first request (functions compiled,
// their bytes and time, the largest). Uses the built bundle in build/.
import { randomBytes } from 'node:crypto';
import { startNodeOp } from '../tests/e2e/lib/peers.mjs';
import { opConfig, rpOptions, RP } from '../tests/e2e/lib/fixture.mjs';
import { startWorkerd } from './lib/servers.mjs';
import { BROWSER_HEADERS, MARKER, loginEdge } from './lib/logins.mjs';
import { startProfile } from './lib/startprofile.mjs';

const runs = Number(process.argv[2] ?? 5);
const op = await startNodeOp(opConfig());
try {
  const rp = rpOptions(op, 'client_secret_basic');
  const edgeOptions = { config: rp.config, secrets: { ...rp.secrets, COOKIE_KEYS: randomBytes(32).toString('base64url') } };
  const login = await startWorkerd({ worker: 'edge', site: 'assets', kv: true, ...edgeOptions });
  let cookie;
  try {
    cookie = await loginEdge(login.fetch, op);
  } finally {
    await login.stop();
  }
  const headers = { ...BROWSER_HEADERS, host: new URL(RP).host, cookie };
  const ok = (status, body) => status === 200 && body.includes(MARKER);
  const v = (id, label, worker, extra = {}) => ({ id, label, options: { site: 'assets', kv: true, worker, ...(worker === 'edge' ? edgeOptions : {}) }, url: `${RP}/`, headers, check: ok, ...extra });
  const profile = await startProfile([
    v('bare', 'bare worker', 'bare'),
    v('edge', 'edge-oidc', 'edge'),
    v('edge-traced', 'edge-oidc, V8 --trace-wasm-compilation-times', 'edge', { flags: ['--trace-wasm-compilation-times'], traceCompiles: true }),
  ], { runs });
  const pick = (r) => Object.fromEntries(Object.entries(r).filter(([, x]) => typeof x === 'number'));
  for (const id of ['bare', 'edge', 'edge-traced']) console.log(id, JSON.stringify(pick(profile[id])));
  const t = profile['edge-traced'].runs?.[0];
  if (t) console.log('largest compiled on the first request:', JSON.stringify(t.compiled_first_largest));
} finally {
  await op.stop();
}
