// The physical limit of the benchmark: a worker that does no authentication at all, only passes
// each request to the static assets binding (what edge-oidc does after a session check).
export default {
  fetch(request, env) {
    return env.ASSETS.fetch(request);
  },
};
