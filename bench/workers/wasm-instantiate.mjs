// Start-time probe: the bare worker plus edge-oidc's wasm module compiled and instantiated at
// load time (with inert imports), as the bundle's glue does, but without running any of it.
import wasm from './edge.wasm'; // the bundle's wasm (bench/lib/servers.mjs EDGE)

const imports = {};
for (const { module, name, kind } of WebAssembly.Module.imports(wasm)) {
  imports[module] ??= {};
  imports[module][name] = kind === 'function' ? () => undefined
    : kind === 'tag' ? (WebAssembly.JSTag ?? new WebAssembly.Tag({ parameters: ['externref'] }))
      : undefined;
}
const instance = new WebAssembly.Instance(wasm, imports);

export default {
  fetch(request, env) {
    if (!instance.exports.memory) return new Response('no instance', { status: 500 });
    return env.ASSETS.fetch(request);
  },
};
