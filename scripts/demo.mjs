// Starts the demo provider and the worker; see scripts/demo.sh.
import { startNodeOp } from '../tests/e2e/lib/peers.mjs';
import { startWorker, cookieKey } from '../tests/e2e/lib/worker.mjs';

const opPort = Number(process.env.DEMO_OP_PORT ?? 9090);
const rpPort = Number(process.env.DEMO_PORT ?? 8787);
const rp = `http://127.0.0.1:${rpPort}`;
const secret = cookieKey();

const op = await startNodeOp({
  clients: [{
    client_id: 'edge-oidc-demo',
    client_secret: secret,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [`${rp}/redirect_uri`],
    post_logout_redirect_uris: [`${rp}/logged-out`],
  }],
}, { interactive: true, port: opPort });

const worker = await startWorker({
  port: rpPort,
  assets: new URL('../demo/site', import.meta.url).pathname,
  logs: true,
  config: {
    providers: {
      demo: {
        display_name: 'Local demo provider',
        issuer: op.url,
        client_id: 'edge-oidc-demo',
        token_endpoint_auth_method: 'client_secret_basic',
      },
    },
    public_paths: ['/public/'],
    // The demo page shows the signed-in user's name from here (demo/site/public/who.js).
    session_endpoint_path: '/.auth/me',
  },
  secrets: { CLIENT_SECRET: secret },
});

console.log(`
edge-oidc demo is running.
  Open ${rp}/  and sign in as "alice" (any password) at the local provider ${op.url}
  Public page: ${rp}/public/   Sign out: ${rp}/logout
Press Ctrl-C to stop.`);

const stop = async () => {
  await Promise.allSettled([worker.stop(), op.stop()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
