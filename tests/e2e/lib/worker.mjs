// Runs the built edge-oidc bundle (build/index.js + build/index_bg.wasm) in workerd via miniflare.
import { Miniflare, Log, LogLevel } from 'miniflare';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import http from 'node:http';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BUILD = path.join(ROOT, 'build');

export function cookieKey() {
  return randomBytes(32).toString('base64url');
}

/**
 * Starts the worker.
 * @param {object} opts
 * @param {object} opts.config   EDGE_OIDC_CONFIG object
 * @param {object} [opts.secrets] secret bindings (COOKIE_KEYS is added when absent)
 * @param {string} [opts.assets] directory served through the ASSETS binding
 * @param {number} [opts.port]   listen on 127.0.0.1:port (0 = any) for a real browser
 * @param {boolean} [opts.withKv=true]
 * @param {string} [opts.kvPersist] directory to persist KV across restarts
 * @param {string} [opts.build] the bundle's directory (default build/)
 * @param {object} [opts.analyticsEngineDatasets] miniflare's Analytics Engine bindings (its
 *   simulator drops the data points)
 * @param {string} [opts.recordDataPoints] a binding name: an Analytics Engine stand-in whose
 *   writeDataPoint prints each point to the worker's output (read them with `dataPoints()`)
 */
export async function startWorker({ config, secrets = {}, assets, port, withKv = true, kvPersist, logs = false, build = BUILD, analyticsEngineDatasets, recordDataPoints } = {}) {
  if (!existsSync(path.join(build, 'index_bg.wasm'))) {
    throw new Error(`${path.relative(ROOT, build)}/index_bg.wasm is missing: run scripts/build.sh first`);
  }
  const bindings = { EDGE_OIDC_CONFIG: config, COOKIE_KEYS: cookieKey(), ...secrets };
  const output = [];
  const options = {
    modules: [
      { type: 'ESModule', path: path.join(build, 'index.js') },
      { type: 'CompiledWasm', path: path.join(build, 'index_bg.wasm') },
    ],
    modulesRoot: build,
    compatibilityDate: '2026-04-01',
    bindings,
    log: new Log(logs ? LogLevel.DEBUG : LogLevel.NONE),
    // The worker's console output (workerd's stdout/stderr), kept for the tests to read.
    handleRuntimeStdio: (stdout, stderr) => {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
          output.push(chunk);
          if (logs) process.stderr.write(chunk);
        });
      }
    },
    cf: false,
  };
  if (withKv) options.kvNamespaces = ['EDGE_OIDC_KV'];
  if (kvPersist) options.kvPersist = kvPersist;
  if (analyticsEngineDatasets) options.analyticsEngineDatasets = analyticsEngineDatasets;
  if (assets) {
    options.assets = {
      directory: assets,
      binding: 'ASSETS',
      routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
    };
  }
  // Always on a real loopback port: requests go in over plain HTTP, so the worker sees exactly
  // the headers a browser sends (fetch() would force `Sec-Fetch-Mode: cors`).
  options.host = '127.0.0.1';
  options.port = port ?? 0;
  const mf = new Miniflare(recordDataPoints ? withRecorder(options, recordDataPoints) : options);
  const url = await mf.ready;
  return {
    mf,
    url: url.toString().replace(/\/$/, ''),
    fetch: httpFetch(url),
    dispatch: (input, init) => httpFetch(url)(input, init),
    kv: () => mf.getKVNamespace('EDGE_OIDC_KV'),
    /** Everything the worker has logged so far (console output from workerd). */
    logs: () => output.join(''),
    /** The data points the `recordDataPoints` stand-in received, in order. */
    dataPoints: () => output.join('').split('\n').filter((l) => l.startsWith(DATA_POINT))
      .map((l) => JSON.parse(l.slice(DATA_POINT.length))),
    stop: () => mf.dispose(),
  };
}

const DATA_POINT = 'edge-oidc-test data point ';

/**
 * The options as two workers: edge-oidc, and a module that miniflare wraps as the binding `name`
 * (a wrapped binding: an object made by the module's default export) standing in for an
 * Analytics Engine dataset. Its writeDataPoint prints the point to workerd's output.
 */
function withRecorder(options, name) {
  const { host, port, log, handleRuntimeStdio, cf, kvPersist, ...worker } = options;
  const recorder = `export default function () {
    return { writeDataPoint(point) { console.log(${JSON.stringify(DATA_POINT)} + JSON.stringify(point)); } };
  }`;
  return {
    host, port, log, handleRuntimeStdio, cf, ...(kvPersist ? { kvPersist } : {}),
    workers: [
      { ...worker, name: 'edge-oidc', wrappedBindings: { [name]: { scriptName: 'data-point-recorder' } } },
      { name: 'data-point-recorder', modules: true, script: recorder },
    ],
  };
}

/**
 * A fetch-like function that sends `input` (any absolute URL: its host becomes the Host header)
 * to the worker listening at `listenUrl`, over node:http, without redirects, headers untouched.
 */
export function httpFetch(listenUrl) {
  const target = new URL(listenUrl);
  return (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(input);
    const headers = { ...(init.headers instanceof Headers ? Object.fromEntries(init.headers) : init.headers ?? {}) };
    headers.host = url.host;
    const body = init.body ?? null;
    if (body !== null) headers['content-length'] = Buffer.byteLength(body);
    const req = http.request({
      host: target.hostname, port: target.port, method: init.method ?? 'GET', path: url.pathname + url.search, headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode;
        const nullBody = [101, 204, 205, 304].includes(status);
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}
