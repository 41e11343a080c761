// The worker's entry module (scripts/build.sh bundles it with the wasm-bindgen output into
// build/index.js): a module worker whose fetch handler is the wasm's (src/edge/fast.rs).
//
// A trap (a panic traps: panic = "abort") needs nothing here. workers-rs' panic hook logs it and
// its abort handler schedules a re-initialisation; wasm-bindgen's glue (built with
// --experimental-reset-state-function --force-enable-abort-handler) then replaces the instance
// on the next call into the wasm, before the next request runs. Requests that were waiting in the
// old instance are answered with a 500 by src/edge/fast.rs.
import { fetch } from './index.js';

export default { fetch };
