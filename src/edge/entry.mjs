// The worker's entry module (scripts/build.sh bundles it with the wasm-bindgen output and
// glue.js into build/index.js). A plain module worker: the wasm is instantiated once per isolate,
// when this module loads, and every request is one call into it.
//
// A trap (a panic traps: panic = "abort") leaves the instance unusable. The request that hit it
// and those waiting on the instance are answered with a 500 (glue.js), and the instance is
// replaced before the next request.
import { fetch as handle, errorPage, __wbg_reset_state as resetInstance } from './index.js';
import { state, trapped, crashResponse } from './glue.js';

// A request passed on whose origin could not be reached.
state.failed = (error, navigation) => {
  console.error(`edge-oidc: internal error: ${error}`);
  if (state.broken) return crashResponse();
  try {
    return errorPage(navigation);
  } catch (e) {
    return crashed(e);
  }
};

function crashed(error) {
  console.error('edge-oidc: the instance failed, replacing it:', error);
  trapped();
  return crashResponse();
}

// A trap the panic hook did not see (out of memory, stack overflow) in a promise callback.
if (typeof addEventListener === 'function') {
  const onTrap = (error) => {
    if (error instanceof WebAssembly.RuntimeError && !state.broken) crashed(error);
  };
  addEventListener('error', (event) => onTrap(event.error));
  addEventListener('unhandledrejection', (event) => onTrap(event.reason));
}

export default {
  fetch(request, env, ctx) {
    try {
      if (state.broken) {
        resetInstance();
        state.broken = false;
      }
      return handle(request, env, ctx);
    } catch (e) {
      return crashed(e);
    }
  },
};
