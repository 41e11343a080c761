// The worker isolate's own memory, read through workerd's V8 inspector (miniflare's
// `inspectorPort`): the JS heap after a forced garbage collection and the size of every
// WebAssembly.Memory (edge-oidc's linear memory). Unlike workerd's RSS, which also holds
// miniflare's entry worker, the KV simulator and allocator slack, these grow only if the worker
// itself keeps memory.
import WebSocket from 'ws';

/** Connects to the inspector target of the user worker named `name` (miniflare's "main"). */
export async function attachIsolate(inspectorPort, name = 'main') {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl?.includes(`core:user:${name}`));
  if (!target) throw new Error(`no inspector target for worker ${name}: ${JSON.stringify(targets.map((t) => t.id))}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const contexts = [];
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (msg.method === 'Runtime.executionContextCreated') contexts.push(msg.params.context.id);
    const done = pending.get(msg.id);
    if (done) {
      pending.delete(msg.id);
      done(msg);
    }
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    id += 1;
    const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 20_000);
    pending.set(id, (msg) => {
      clearTimeout(timer);
      if (msg.error) reject(new Error(`inspector: ${method}: ${msg.error.message}`));
      else resolve(msg.result);
    });
    ws.send(JSON.stringify({ id, method, params }));
  });

  await call('Runtime.enable');
  await call('HeapProfiler.enable').catch(() => {});

  /** Forces a full GC, then returns { heap_kib (used JS heap), wasm_kib (all Wasm memories) }. */
  async function measure() {
    await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const usage = await call('Runtime.getHeapUsage');
    const proto = await call('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', ...(contexts.length ? { contextId: contexts.at(-1) } : {}) });
    const memories = await call('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
    const sizes = await call('Runtime.callFunctionOn', {
      objectId: memories.objects.objectId,
      functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
      returnByValue: true,
    });
    for (const o of [proto.result, memories.objects]) {
      await call('Runtime.releaseObject', { objectId: o.objectId }).catch(() => {});
    }
    const wasm = sizes.result.value.reduce((a, b) => a + b, 0);
    return { heap_kib: Math.round(usage.usedSize / 1024), wasm_kib: Math.round(wasm / 1024), wasm_memories: sizes.result.value.length };
  }

  return { measure, close: () => ws.close() };
}
