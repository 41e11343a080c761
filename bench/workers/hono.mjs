// The peer on our own platform: @hono/oidc-auth, wired as its README shows for a Cloudflare
// worker in front of static assets ("Cloudflare Pages with OpenID connect login"). Configured by
// environment bindings (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_AUTH_SECRET, ...,
// see bench/lib/servers.mjs). bench/lib/hono.mjs bundles it with esbuild at bench time.
import { Hono } from 'hono';
import { getAuth, oidcAuthMiddleware } from '@hono/oidc-auth';

const app = new Hono();

app.use('*', oidcAuthMiddleware());
app.get('*', async (c) => {
  const auth = await getAuth(c);
  if (!auth?.email.endsWith('@example.com')) {
    return c.text('Unauthorized', 401);
  }
  const response = await c.env.ASSETS.fetch(c.req.raw);
  // clone the response to return a response with modifiable headers
  return new Response(response.body, response);
});

export default app;
