// A trap in the middle of requests, end to end. A panic aborts (panic = "abort"), which traps the
// wasm and leaves its instance unusable. workers-rs' panic hook logs it and its abort handler
// schedules a re-initialisation that wasm-bindgen's glue carries out on the next call: the next
// request runs in a fresh instance. The request that panicked gets a 500 from the runtime, and
// those waiting in the old instance (they can never complete) a 500 from the shell at once.
//
// The trigger exists only in the test build (`bash scripts/build.sh --test-trap`: cargo feature
// `test-trap`, bundle in target/test-trap/bundle/, see src/edge/test_trap.rs); the last test
// checks that the deployable bundle in build/ has no such endpoint.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startWorker, ROOT } from './lib/worker.mjs';
import { RP, waitFor } from './lib/fixture.mjs';
import { startFaultOp, workerOptions, loginAt, rawBrowser } from './lib/fault_op.mjs';
import { startEchoOrigin } from './lib/peers.mjs';

const TRAP_BUILD = path.join(ROOT, 'target/test-trap/bundle');
const TEST = `${RP}/__edge_oidc_test`;

let op;
let echo;
let worker;
let browser;

before(async () => {
  if (!existsSync(path.join(TRAP_BUILD, 'index_bg.wasm'))) {
    throw new Error('the test build is missing: run `bash scripts/build.sh --test-trap` (scripts/test.sh does)');
  }
  [op, echo] = await Promise.all([startFaultOp(), startEchoOrigin()]);
  worker = await startWorker({ ...workerOptions([op.tenant('main')], { origin: echo.url }), build: TRAP_BUILD });
  browser = rawBrowser(worker);
  const { final } = await loginAt(browser, RP, 'main');
  assert.equal(final.status, 200, final.body.slice(0, 300));
});

after(async () => {
  await worker?.stop();
  await Promise.all([op?.stop(), echo?.stop()]);
});

const instance = async () => {
  const res = await browser.request(`${TEST}/instance`);
  assert.equal(res.status, 200);
  return res.body;
};

const timed = (p) => {
  const started = performance.now();
  return p.then((res) => ({ res, ms: performance.now() - started }));
};

describe('a panic in the middle of requests', () => {
  test('answers it and the requests in flight with 500, and the next request is served by a new instance', async () => {
    const before = await instance();
    assert.equal(await instance(), before, 'one instance serves request after request');
    const quiet = await browser.request(`${TEST}/wait?ms=50`);
    assert.equal(quiet.status, 200, 'without a trap, a waiting request completes');
    // Requests waiting inside the instance when it traps: a timer (a login waiting on KV or a
    // provider is the same to the instance).
    const inFlight = [timed(browser.request(`${TEST}/wait?ms=3000`)), timed(browser.request(`${TEST}/wait?ms=60000`))];
    await new Promise((r) => setTimeout(r, 100));
    const panicked = await browser.request(`${TEST}/panic`);
    assert.equal(panicked.status, 500);

    // The very next request: a fresh instance, the session still valid, the site served.
    const page = await browser.request(`${RP}/private/after-the-trap`);
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.equal(JSON.parse(page.body).headers['x-auth-email'], 'alice@example.com');
    const after = await instance();
    assert.notEqual(after, before, 'the trapped instance was replaced');

    // The waiting requests got a 500 at once, not when their wait would have ended (or never).
    for (const { res, ms } of await Promise.all(inFlight)) {
      assert.equal(res.status, 500);
      assert.ok(ms < 2000, `answered after ${ms.toFixed(0)} ms`);
    }
    // The panic is logged with its message (the bundle is built without panic locations:
    // scripts/build.sh, -Zlocation-detail=none).
    await waitFor(() => /panicked/.test(worker.logs()) && /edge-oidc test trap/.test(worker.logs()), worker.logs);
  });

  test('traps while page views are in flight: every one is answered, and serving goes on', async () => {
    for (let round = 0; round < 3; round += 1) {
      const views = Array.from({ length: 12 }, (_, i) => browser.request(`${RP}/private/busy-${round}-${i}`));
      const panicked = browser.request(`${TEST}/panic`);
      const answers = await Promise.all([...views, panicked]);
      for (const res of answers.slice(0, -1)) assert.ok([200, 500].includes(res.status), `status ${res.status}`);
      assert.equal(answers.at(-1).status, 500);
      const next = await browser.request(`${RP}/private/round-${round}`);
      assert.equal(next.status, 200, `after trap ${round + 1}`);
    }
    // A full login still works in the replaced instance (KV, provider, WebCrypto).
    const fresh = rawBrowser(worker);
    const { final } = await loginAt(fresh, RP, 'main');
    assert.equal(final.status, 200);
  });
});

test('the deployable bundle has no test endpoints', async () => {
  const wasm = readFileSync(path.join(ROOT, 'build/index_bg.wasm'));
  assert.ok(readFileSync(path.join(TRAP_BUILD, 'index_bg.wasm')).includes('__edge_oidc_test'), 'the marker is findable');
  assert.ok(!wasm.includes('__edge_oidc_test'), 'build/index_bg.wasm contains the test endpoints');
  // And the path is an ordinary protected path there.
  const production = await startWorker(workerOptions([op.tenant('production')], { origin: echo.url }));
  try {
    const res = await rawBrowser(production).request(`${TEST}/panic`);
    assert.equal(res.status, 302, 'a login starts, nothing panics');
  } finally {
    await production.stop();
  }
});
