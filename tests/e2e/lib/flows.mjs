// Logins whose answer comes by fragment or form_post, followed as a browser follows them. The
// scripted client (client.mjs) runs no JavaScript, so the two scripts on the way are played here:
// - a provider's form_post page (a form that posts itself): its form is submitted from the
//   provider's origin, i.e. cross-site, so the client withholds the RP's SameSite=Lax cookies;
// - edge-oidc's relay page: for a fragment, what its script does (the fragment's parameters and
//   the page's hidden fields posted from the RP's origin); for a form_post, its form submitted
//   from the RP's origin (as its script, or its <noscript> button, does).
// Headless Chromium runs the real scripts (browser_flows.test.mjs).
import { parseForm } from './client.mjs';

/** The hidden field edge-oidc's relay pages post (src/core/oidc/response.rs). */
export const RELAY_MARKER = 'edge_oidc_relay';

/** Whether a response is one of edge-oidc's relay pages. */
export function isRelayPage(res) {
  return res.status === 200 && res.body.includes(`name="${RELAY_MARKER}"`);
}

/**
 * Follows `start` (a URL, or `{ url, ...follow options }`) to the end of the login. Returns
 * `{ hops, final, relays }`: every hop, the last response, and the relay pages met
 * (`{ kind: 'fragment' | 'form_post', url, page }`).
 */
export async function followLogin(client, start, { rp, maxPages = 4 } = {}) {
  const { url: first, ...opts } = typeof start === 'string' ? { url: start } : start;
  let { hops, final } = await client.follow(first, opts);
  const all = [...hops];
  const relays = [];
  const rpOrigin = new URL(rp ?? first).origin;
  for (let i = 0; i < maxPages && final.status === 200 && /<form\b/i.test(final.body); i += 1) {
    const at = new URL(final.url);
    if (isRelayPage(final)) {
      const form = parseForm(final.body, final.url);
      const fragment = at.hash ? [...new URLSearchParams(at.hash.slice(1))] : [];
      relays.push({ kind: at.hash ? 'fragment' : 'form_post', url: final.url, page: final });
      // A fragment page with nothing to post only shows its message.
      if (!at.hash && form.fields.length === 1) break;
      ({ hops, final } = await client.follow(form.action, {
        form: Object.fromEntries([...fragment, ...form.fields]),
        initiator: rpOrigin,
      }));
    } else if (at.origin !== rpOrigin && parseForm(final.body, final.url).method === 'POST') {
      // The provider's page that posts the response (Form Post Response Mode).
      ({ hops, final } = await client.submitForm(final));
    } else {
      break;
    }
    all.push(...hops);
  }
  return { hops: all, final, relays };
}

/** The parameters a relay page or a provider's form_post page would post. */
export function formFields(res) {
  return Object.fromEntries(parseForm(res.body, res.url).fields);
}
