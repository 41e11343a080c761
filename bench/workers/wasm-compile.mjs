// Start-time probe: the bare worker plus edge-oidc's wasm module imported (workerd compiles it
// when it loads the worker), but never instantiated.
import wasm from './edge.wasm'; // the bundle's wasm (bench/lib/servers.mjs EDGE)

export default {
  fetch(request, env) {
    if (!(wasm instanceof WebAssembly.Module)) return new Response('no module', { status: 500 });
    return env.ASSETS.fetch(request);
  },
};
