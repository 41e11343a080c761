// KV operations per active user per minute with session refresh and revocation checks on
// (issue 12). A soak on the built worker in workerd behind the counting entry (every KV call of
// every request is counted, tests/e2e/lib/counting.mjs) against node oidc-provider rotating its
// refresh tokens: `users` signed-in users each send a page view every `gap` ms for `seconds`.
// Every answer must be 200. The figures scale with the settings: a revocation check costs 2 reads
// (the `sub` and `sid` records, read at once; 1 without a sid) per `revocation_check_secs`, a refresh 4 reads and 3 writes per
// `session_refresh_interval_secs`; the script prints what it measured next to that model, and
// the model's figure for the defaults (check every 60 s, refresh every 900 s). Not part of
// bench/run.sh.
//
//   node bench/session-kv.mjs [--seconds 60] [--users 4] [--gap 250] [--check 10] [--refresh 30]
import assert from 'node:assert/strict';
import { startCounting, io } from '../tests/e2e/lib/counting.mjs';
import { startNodeOp, startEchoOrigin } from '../tests/e2e/lib/peers.mjs';
import { Client } from '../tests/e2e/lib/client.mjs';
import { RP, opConfig, rpOptions } from '../tests/e2e/lib/fixture.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = opt('seconds', 60);
const USERS = opt('users', 4);
const GAP = opt('gap', 250);
const CHECK = opt('check', 10);
const REFRESH = opt('refresh', 30);

const op = await startNodeOp({ ...opConfig(), rotate_refresh_tokens: true });
const echo = await startEchoOrigin();
const options = rpOptions(op, 'client_secret_basic', {
  provider: { session_refresh_interval_secs: REFRESH, backchannel_logout: true, revocation_check_secs: CHECK },
});
const worker = await startCounting({ ...options, config: { origin: echo.url, ...options.config } });
try {
  const users = [];
  for (let i = 0; i < USERS; i += 1) {
    const c = new Client({ rpOrigin: RP, rpFetch: worker.fetch });
    const { final } = await c.follow(`${RP}/private/start`);
    assert.equal(final.status, 200, final.body);
    users.push(c);
  }
  const totals = { requests: 0, kv_get: 0, kv_put: 0, kv_delete: 0, cookies: 0 };
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(users.map(async (c, i) => {
    await new Promise((r) => setTimeout(r, (GAP / USERS) * i));
    while (Date.now() < end) {
      const r = await c.request(`${RP}/private/page`);
      assert.equal(r.status, 200, r.body);
      const n = io(new Response(null, { headers: r.headers }));
      totals.requests += 1;
      totals.kv_get += n.kv_get;
      totals.kv_put += n.kv_put;
      totals.kv_delete += n.kv_delete;
      totals.cookies += r.setCookies.length > 0 ? 1 : 0;
      await new Promise((res) => setTimeout(res, GAP));
    }
  }));
  const perUserMinute = (v) => (v / USERS / (SECONDS / 60)).toFixed(2);
  // A check reads the `sub` record, and the `sid` record when the session has a sid (node
  // oidc-provider puts none into these sessions' ID tokens: 1 read); a refresh 4 reads.
  const model = (check, refresh, perCheck) => ((perCheck * 60) / check + (4 * 60) / refresh).toFixed(2);
  const out = {
    settings: { seconds: SECONDS, users: USERS, gap_ms: GAP, revocation_check_secs: CHECK, session_refresh_interval_secs: REFRESH },
    requests: totals.requests,
    requests_per_user_minute: perUserMinute(totals.requests),
    kv_reads_per_user_minute: perUserMinute(totals.kv_get),
    kv_writes_per_user_minute: perUserMinute(totals.kv_put),
    responses_setting_a_cookie: totals.cookies,
    model_reads_per_user_minute: model(CHECK, REFRESH, 1),
    model_reads_per_user_minute_defaults_with_sid: model(60, 900, 2),
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await worker.stop();
  await Promise.all([op.stop(), echo.stop()]);
}
