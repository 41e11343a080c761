// Start and stop the real peers of the end-to-end tests, all on 127.0.0.1:
// pyOP (tests/peers/pyop_server.py in the .venv), panva oidc-provider (tests/peers/node_op.mjs)
// and an echo origin. Every child is killed when this process exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PEERS = join(ROOT, 'tests/peers');
const READY_TIMEOUT_MS = 20_000;

const children = new Map(); // child -> its temporary config directory
function killAll() {
  for (const [child, dir] of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

export function pythonBin() {
  const venv = join(ROOT, '.venv/bin/python');
  return process.env.PYOP_PYTHON ?? (existsSync(venv) ? venv : 'python3');
}

/** Spawn a peer that prints `READY <url>` on stdout; resolve to { url, stop, child, stderr() }. */
export async function startPeer(name, command, argv, config, { port = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config ?? {}));
  const child = spawn(command, [...argv, '--port', String(port), '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  children.set(child, dir);
  // Never let a forgotten peer keep the test runner alive: the exit handler above kills it.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
  child.stdout.setEncoding('utf8');

  const exited = new Promise((res) => child.once('exit', (code, signal) => {
    children.delete(child);
    rmSync(dir, { recursive: true, force: true });
    res({ code, signal });
  }));
  let timer;
  const url = await new Promise((res, rej) => {
    let out = '';
    const fail = (why) => rej(new Error(`${name} did not start: ${why}\n--- stderr ---\n${stderr}`));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^READY (http:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(out);
      if (m) res(m[1]);
    });
    child.once('error', (e) => fail(e.message));
    exited.then(({ code, signal }) => fail(`exited (code ${code}, signal ${signal})`));
    timer = setTimeout(() => fail(`no READY line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
  }).catch(async (e) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }).finally(() => clearTimeout(timer));
  child.stdout.resume(); // keep draining stdout so the child never blocks on a full pipe

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    })();
    return stopping;
  };
  return { url, stop, child, stderr: () => stderr };
}

export function startPyop(config, { port = 0 } = {}) {
  return startPeer('pyop', pythonBin(), [join(PEERS, 'pyop_server.py')], config, { port });
}

export function startNodeOp(config, { interactive = false, port = 0 } = {}) {
  return startPeer('node-op', process.execPath,
    [join(PEERS, 'node_op.mjs'), ...(interactive ? ['--interactive'] : [])], config, { port });
}

function listen(server) {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res(server.address().port));
  });
}

function stopServer(server) {
  return new Promise((res) => {
    server.close(() => res());
    server.closeAllConnections();
  });
}

/** An origin that answers every request with JSON {method, url, headers, body}. */
export async function startEchoOrigin() {
  const requests = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const echo = { method: req.method, url: req.url, headers: req.headers, body };
    requests.push(echo);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(echo));
  });
  // WebSocket upgrades (RFC 6455): the handshake is recorded like a request, then every text
  // message is echoed back prefixed with `echo: `.
  server.on('upgrade', (req, socket) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers, body: '', upgrade: true });
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const frame = readFrame(buffered);
        if (!frame) return;
        buffered = buffered.subarray(frame.length);
        if (frame.opcode === 0x8) { socket.end(); return; }
        if (frame.opcode === 0x1) socket.write(textFrame(`echo: ${frame.payload.toString('utf8')}`));
      }
    });
    socket.on('error', () => {});
  });
  server.unref();
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, requests, stop: () => stopServer(server) };
}

/** One client frame (always masked, RFC 6455 §5.2) from the front of `buf`, or null. */
function readFrame(buf) {
  if (buf.length < 2) return null;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); offset = 4; }
  else if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); offset = 10; }
  if (buf.length < offset + 4 + len) return null;
  const mask = buf.subarray(offset, offset + 4);
  const payload = Buffer.from(buf.subarray(offset + 4, offset + 4 + len));
  for (let i = 0; i < payload.length; i += 1) payload[i] ^= mask[i % 4];
  return { opcode: buf[0] & 0x0f, payload, length: offset + 4 + len };
}

/** An unmasked server text frame. */
function textFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A port that was free a moment ago (racy by nature: prefer port 0 where possible). */
export async function freePort() {
  const server = createServer();
  server.unref();
  const port = await listen(server);
  await stopServer(server);
  return port;
}
