// End-to-end: the worker's log (workerd's console output) during real logins, failures and
// logouts — against node oidc-provider, and against the fault OP, whose tokens the test sees —
// holds one JSON object per line and never a token, a cookie value, a secret, a code, a state, a
// nonce or a query string. And the Analytics Engine binding: present or absent, logins work.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeOp, startEchoOrigin } from './lib/peers.mjs';
import { startWorker, cookieKey } from './lib/worker.mjs';
import { startFaultOp, workerOptions, loginAt, rawBrowser, CLIENT_SECRET as FAULT_SECRET } from './lib/fault_op.mjs';
import { RP, opConfig, rpOptions, browser, withWorker, CLIENTS, waitFor } from './lib/fixture.mjs';

let op;
let faultOp;
let echo;

before(async () => {
  [op, faultOp, echo] = await Promise.all([startNodeOp(opConfig()), startFaultOp(), startEchoOrigin()]);
});

after(async () => {
  await Promise.all([op?.stop(), faultOp?.stop(), echo?.stop()]);
});

/** Collects every value a test must never find in the log. */
class Secrets {
  constructor() {
    this.values = new Set();
  }

  add(value) {
    if (typeof value === 'string' && value.length >= 8) this.values.add(value);
  }

  /** Every cookie value the client is given from now on. */
  watchCookies(client) {
    const store = client.storeCookie.bind(client);
    client.storeCookie = (header, url, now) => {
      const pair = header.split(';')[0];
      this.add(pair.slice(pair.indexOf('=') + 1).trim());
      return store(header, url, now);
    };
  }

  /** The protocol values in every URL the client requested or was sent to. */
  fromUrls(client) {
    for (const { url } of client.log) {
      for (const [k, v] of new URL(url).searchParams) {
        if (['code', 'state', 'nonce', 'code_challenge', 'id_token_hint', 'token'].includes(k)) this.add(v);
      }
    }
  }

  addToken(jwt) {
    this.add(jwt);
    for (const part of jwt.split('.')) this.add(part);
  }

  /** The lines: each a JSON object with an event; none holds a secret or a query string. */
  check(log) {
    const lines = log.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
    assert.ok(this.values.size >= 8, `too few secrets collected: ${[...this.values]}`);
    for (const value of this.values) assert.ok(!log.includes(value), `the log holds ${value}:\n${log}`);
    const events = lines.map((l) => JSON.parse(l));
    for (const e of events) {
      assert.equal(typeof e.event, 'string', JSON.stringify(e));
      for (const v of Object.values(e)) assert.ok(!String(v).includes('?'), `a query in ${JSON.stringify(e)}`);
    }
    return events;
  }
}

describe('the log never holds a secret', () => {
  test('oidc-provider: login, pages, a replayed callback, logout (log_level debug)', async () => {
    const secrets = new Secrets();
    const COOKIE_KEYS = cookieKey();
    secrets.add(COOKIE_KEYS);
    secrets.add(CLIENTS.client_secret_basic.client_secret);
    const opts = rpOptions(op, 'client_secret_basic', { config: { origin: echo.url, log_level: 'debug' } });
    opts.secrets = { ...opts.secrets, COOKIE_KEYS };
    await withWorker(startWorker, opts, async (w) => {
      const c = browser(w);
      secrets.watchCookies(c);
      const { hops, final } = await c.follow(`${RP}/private/page?token=query-secret-1234`);
      assert.equal(final.status, 200, final.body);
      const callback = hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`));
      assert.equal((await c.request(`${RP}/other?token=query-secret-5678`)).status, 200);
      // The callback once more: used, refused (a failed login, logged at info).
      assert.equal((await c.request(callback.url)).status, 400);
      const out = await c.follow(`${RP}/logout`);
      const confirmed = await c.submitForm(out.final);
      const endSession = [...out.hops, ...confirmed.hops].find((h) => h.location?.includes('id_token_hint'));
      assert.ok(endSession, 'logout went to the provider with the ID token');
      secrets.addToken(new URL(endSession.location).searchParams.get('id_token_hint'));
      secrets.fromUrls(c);
      secrets.add('query-secret-1234');
      secrets.add('query-secret-5678');
      await waitFor(() => w.logs().includes('"event":"logout"'), w.logs);
      const events = secrets.check(w.logs());
      assert.deepEqual(
        events.map((e) => e.event),
        ['login_started', 'login_completed', 'forwarded', 'forwarded', 'login_failed', 'logout'],
        w.logs(),
      );
      const done = events[1];
      assert.equal(done.provider, 'main');
      assert.ok(done.sub?.length > 0 && Number.isInteger(done.duration_ms), JSON.stringify(done));
      assert.equal(events[4].reason, 'state_not_bound', 'the pending-login cookie went with the first callback');
      assert.deepEqual(events.slice(2, 4).map((e) => e.path), ['/private/page', '/other']);
    });
  });

  test('fault OP: its access, refresh and ID tokens never reach the log', async () => {
    const secrets = new Secrets();
    secrets.add(FAULT_SECRET);
    const t = faultOp.tenant('logs', {
      token: (body) => {
        if (body.access_token) secrets.add(body.access_token);
        if (body.id_token) secrets.addToken(body.id_token);
        const refresh = `refresh-${Math.random().toString(36).slice(2)}-secret`;
        secrets.add(refresh);
        return { ...body, refresh_token: refresh };
      },
    });
    const opts = workerOptions([t], { origin: echo.url });
    await withWorker(startWorker, opts, async (w) => {
      const c = rawBrowser(w);
      secrets.watchCookies(c);
      const { final } = await loginAt(c, RP, 'logs');
      assert.equal(final.status, 200, final.body);
      const out = await c.follow(`${RP}/logout`);
      assert.ok(out.hops.some((h) => h.location?.startsWith(`${t.issuer}/end_session`)), JSON.stringify(out.hops));
      secrets.fromUrls(c);
      await waitFor(() => w.logs().includes('"event":"logout"'), w.logs);
      const events = secrets.check(w.logs());
      assert.deepEqual(events.map((e) => e.event), ['login_started', 'login_completed', 'logout'], w.logs());
      assert.ok(events.every((e) => e.provider === 'logs'), w.logs());
    });
  });
});

describe('Analytics Engine', () => {
  test('one data point per event: login, a failed login, logout (a stand-in dataset records them)', async () => {
    const opts = rpOptions(op, 'client_secret_basic', { config: { origin: echo.url, metrics_binding: 'EDGE_OIDC_METRICS' } });
    opts.recordDataPoints = 'EDGE_OIDC_METRICS';
    await withWorker(startWorker, opts, async (w) => {
      const c = browser(w);
      const { hops, final } = await c.follow(`${RP}/private`);
      assert.equal(final.status, 200, final.body);
      assert.equal((await c.request(`${RP}/elsewhere`)).status, 200, 'the hot path: no data point');
      const callback = hops.find((h) => h.url.startsWith(`${RP}/redirect_uri`));
      assert.equal((await c.request(callback.url)).status, 400);
      const out = await c.follow(`${RP}/logout`);
      await c.submitForm(out.final);
      await waitFor(() => w.dataPoints().length >= 4, w.logs);
      const points = w.dataPoints();
      assert.deepEqual(points.map((p) => p.blobs), [
        ['login_started', 'main', ''],
        ['login_completed', 'main', ''],
        ['login_failed', '', 'state_not_bound'],
        ['logout', 'main', ''],
      ], w.logs());
      assert.deepEqual(points.map((p) => p.indexes), [['main'], ['main'], [''], ['main']]);
      assert.ok(points.every((p) => p.doubles.length === 2 && p.doubles[0] === 1), JSON.stringify(points));
      assert.ok(points[1].doubles[1] >= 0 && points[1].doubles[1] % 1000 === 0, 'duration_ms, whole seconds');
    });
  });

  for (const [name, datasets] of [
    ['bound', { EDGE_OIDC_METRICS: { dataset: 'edge_oidc' } }],
    ['configured but not bound', undefined],
  ]) {
    test(`metrics_binding ${name}: a login and a logout work, nothing is logged about metrics`, async () => {
      const opts = rpOptions(op, 'client_secret_basic', { config: { origin: echo.url, metrics_binding: 'EDGE_OIDC_METRICS' } });
      opts.analyticsEngineDatasets = datasets;
      await withWorker(startWorker, opts, async (w) => {
        const c = browser(w);
        const { final } = await c.follow(`${RP}/private`);
        assert.equal(final.status, 200, final.body);
        const out = await c.follow(`${RP}/logout`);
        await c.submitForm(out.final);
        await waitFor(() => w.logs().includes('"event":"logout"'), w.logs);
        assert.doesNotMatch(w.logs(), /metrics_write|internal_error/, w.logs());
      });
    });
  }
});
