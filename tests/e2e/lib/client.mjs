// A scripted "browser" for end-to-end flows: a cookie jar, manual redirects, plain form posts.
// Requests to `rpOrigin` go to `rpFetch(url, init)` (e.g. miniflare's `mf.dispatchFetch`), all
// others to the global fetch (the real OPs on 127.0.0.1). Dependency-free.
//
// Browser-like details:
// - cookies are keyed by host name like a browser's (ports share cookies; Domain honoured),
//   Path / Max-Age / Expires honoured, Secure cookies only over https;
// - SameSite (default Lax, as Chromium): a request has an initiator (the origin of the page that
//   caused it; none for a typed URL). Strict cookies are withheld when the initiator is cross-site
//   or the redirect chain has passed through another site than the one it started from; Lax ones
//   also on cross-site non-GET requests. Sites are compared by host name (rp.test vs 127.0.0.1);
// - `sec-fetch-site` is computed from the initiator, `origin` is sent on non-GET requests.

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_HEADERS = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'user-agent': 'edge-oidc-e2e' };

function defaultPath(pathname) {
  if (!pathname.startsWith('/')) return '/';
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function pathMatches(cookiePath, reqPath) {
  return reqPath === cookiePath || (reqPath.startsWith(cookiePath)
    && (cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/'));
}

function domainMatches(cookie, host) {
  return cookie.hostOnly ? host === cookie.domain : host === cookie.domain || host.endsWith(`.${cookie.domain}`);
}

function setCookieHeaders(headers) {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
  const raw = headers.get('set-cookie');
  return raw ? raw.split(/,(?=\s*[^;,=\s]+=)/) : []; // split only before "name=": Expires has commas
}

function decodeEntities(s) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return named[e.toLowerCase()] ?? m;
  });
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** Parse the index-th <form> of an HTML page: { action, method, fields: [[name, value]] }. */
export function parseForm(html, baseUrl, index = 0) {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  if (!forms[index]) throw new Error(`no <form> #${index} in page ${baseUrl}:\n${html.slice(0, 2000)}`);
  const [, formAttrs, inner] = forms[index];
  const a = attrs(formAttrs);
  const fields = [];
  let submitter = false;
  for (const m of inner.matchAll(/<(input|button|textarea|select)\b([^>]*)>([\s\S]*?<\/(?:textarea|select)>)?/gi)) {
    const tag = m[1].toLowerCase();
    const at = attrs(m[2]);
    if (!at.name || 'disabled' in at) continue;
    if (tag === 'textarea') {
      fields.push([at.name, decodeEntities(m[3]?.replace(/<\/textarea>$/i, '') ?? '')]);
    } else if (tag === 'select') {
      const opts = [...(m[3] ?? '').matchAll(/<option\b([^>]*)>([^<]*)/gi)].map((o) => ({ ...attrs(o[1]), text: o[2] }));
      const opt = opts.find((o) => 'selected' in o) ?? opts[0];
      if (opt) fields.push([at.name, opt.value ?? decodeEntities(opt.text).trim()]);
    } else {
      const type = (at.type ?? (tag === 'button' ? 'submit' : 'text')).toLowerCase();
      if (type === 'submit' || type === 'image') {
        // a browser sends only the button that was clicked: pick the first one (Enter key)
        if (!submitter) fields.push([at.name, at.value ?? '']);
        submitter = true;
      } else if (type === 'checkbox' || type === 'radio') {
        if ('checked' in at) fields.push([at.name, at.value ?? 'on']);
      } else if (type !== 'button' && type !== 'reset' && type !== 'file') {
        fields.push([at.name, at.value ?? '']);
      }
    }
  }
  return {
    action: new URL(a.action || baseUrl, baseUrl).href,
    method: (a.method || 'GET').toUpperCase(),
    fields,
  };
}

export class Client {
  constructor({ rpOrigin, rpFetch, headers = DEFAULT_HEADERS } = {}) {
    this.rpOrigin = rpOrigin ? new URL(rpOrigin).origin : null;
    this.rpFetch = rpFetch;
    this.headers = { ...headers };
    this.jar = new Map(); // `${domain};${path};${name}` -> cookie
    this.log = []; // every request made: { method, url, status }
  }

  // ---- cookies -------------------------------------------------------------------------------
  storeCookie(header, url, now = Date.now()) {
    const [pair, ...attrParts] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq < 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!name) return;
    const host = url.hostname;
    const c = { name, value, domain: host, hostOnly: true, path: defaultPath(url.pathname), expires: null, secure: false, httpOnly: false, sameSite: 'lax' };
    let maxAge;
    for (const part of attrParts) {
      const i = part.indexOf('=');
      const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
      const v = i < 0 ? '' : part.slice(i + 1).trim();
      if (k === 'path' && v.startsWith('/')) c.path = v;
      else if (k === 'domain' && v) {
        const d = v.replace(/^\./, '').toLowerCase();
        if (host !== d && !host.endsWith(`.${d}`)) return; // a foreign domain: browsers reject it
        c.domain = d;
        c.hostOnly = false;
      } else if (k === 'max-age' && /^-?\d+$/.test(v)) maxAge = Number(v);
      else if (k === 'expires' && maxAge === undefined) {
        const t = Date.parse(v);
        if (!Number.isNaN(t)) c.expires = t;
      } else if (k === 'secure') c.secure = true;
      else if (k === 'httponly') c.httpOnly = true;
      else if (k === 'samesite') c.sameSite = ['strict', 'lax', 'none'].includes(v.toLowerCase()) ? v.toLowerCase() : 'lax';
    }
    if (maxAge !== undefined) c.expires = maxAge <= 0 ? 0 : now + maxAge * 1000;
    if (c.secure && url.protocol !== 'https:') return; // not settable from an insecure origin
    const key = `${c.domain};${c.path};${c.name}`;
    if (c.expires !== null && c.expires <= now) this.jar.delete(key);
    else this.jar.set(key, c);
  }

  cookiesFor(url, { sameSite = true, crossSite = false, method = 'GET' } = {}, now = Date.now()) {
    const out = [];
    for (const [key, c] of this.jar) {
      if (c.expires !== null && c.expires <= now) { this.jar.delete(key); continue; }
      if (!domainMatches(c, url.hostname) || !pathMatches(c.path, url.pathname)) continue;
      if (c.secure && url.protocol !== 'https:') continue;
      if (crossSite && c.sameSite === 'strict') continue;
      if (crossSite && c.sameSite === 'lax' && method !== 'GET' && method !== 'HEAD') continue;
      out.push(c);
    }
    return out.sort((a, b) => b.path.length - a.path.length);
  }

  /** The value of cookie `name` that would be sent to `origin` (a URL), or undefined. */
  cookie(name, origin) {
    return this.cookiesFor(new URL(origin)).find((c) => c.name === name)?.value;
  }

  /** Store a cookie as if `origin` had sent `Set-Cookie: <setCookie>` (e.g. 'name=value; Path=/'). */
  setCookie(origin, setCookie) {
    this.storeCookie(setCookie, new URL(origin));
  }

  /** Delete cookie `name` of `origin`'s host (every path), or only the one with `path`. */
  deleteCookie(name, origin, path) {
    const host = new URL(origin).hostname;
    for (const [key, c] of this.jar) {
      if (c.name === name && domainMatches(c, host) && (path === undefined || c.path === path)) this.jar.delete(key);
    }
  }

  // ---- requests ------------------------------------------------------------------------------
  /**
   * One request, no redirect following. opts: method, headers, body, form (object: urlencoded POST),
   * initiator (origin of the page that caused the request; default none = typed URL), crossSiteChain.
   * Returns { status, headers, body, url, location, setCookies }.
   */
  async request(url, { method, headers, body, form, initiator = null, crossSiteChain = false } = {}) {
    const target = new URL(url);
    method = (method ?? (form ? 'POST' : 'GET')).toUpperCase();
    const h = new Headers(this.headers);
    if (form) {
      body = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== undefined && v !== null)).toString();
      h.set('content-type', 'application/x-www-form-urlencoded');
    }
    const init = initiator ? new URL(initiator) : null;
    const sameOrigin = init && init.origin === target.origin;
    const crossSite = crossSiteChain || (init !== null && init.hostname !== target.hostname);
    if (!h.has('sec-fetch-site')) {
      h.set('sec-fetch-site', crossSite ? 'cross-site' : !init ? 'none' : sameOrigin ? 'same-origin' : 'same-site');
    }
    if (method !== 'GET' && method !== 'HEAD' && init) h.set('origin', init.origin);
    const cookies = this.cookiesFor(target, { crossSite, method });
    if (cookies.length) h.set('cookie', cookies.map((c) => `${c.name}=${c.value}`).join('; '));
    for (const [k, v] of Object.entries(headers ?? {})) {
      if (v === null || v === undefined) h.delete(k); else h.set(k, v);
    }
    const reqInit = { method, headers: Object.fromEntries(h), body: method === 'GET' || method === 'HEAD' ? undefined : body, redirect: 'manual' };
    const res = this.rpOrigin && target.origin === this.rpOrigin
      ? await this.rpFetch(target.href, reqInit)
      : await fetch(target.href, reqInit);
    const setCookies = setCookieHeaders(res.headers);
    for (const sc of setCookies) this.storeCookie(sc, target);
    const text = await res.text();
    const loc = res.headers.get('location');
    this.log.push({ method, url: target.href, status: res.status });
    return {
      status: res.status,
      headers: res.headers,
      body: text,
      url: target.href,
      location: loc ? new URL(loc, target).href : null,
      setCookies,
    };
  }

  /** Follow redirects (max 20). Returns { hops: [{ url, status, location }], final }. */
  async follow(url, opts = {}) {
    const hops = [];
    let { method = opts.form ? 'POST' : 'GET', body, form } = opts;
    const initiator = opts.initiator ?? null;
    // the site that started the navigation: the initiator's, or the typed URL's own
    const chainSite = new URL(initiator ?? url).hostname;
    let crossSiteChain = opts.crossSiteChain ?? false;
    let current = url;
    for (let i = 0; i <= 20; i += 1) {
      const res = await this.request(current, { ...opts, method, body, form, initiator, crossSiteChain });
      hops.push({ url: res.url, status: res.status, location: res.location });
      if (!REDIRECTS.has(res.status) || !res.location) return { hops, final: res };
      // once a redirect chain has passed through another site, it stays cross-site (as in
      // Chromium: SameSite=Strict cookies of the RP are not sent on the OP's redirect back)
      if (new URL(res.url).hostname !== chainSite || new URL(res.location).hostname !== chainSite) crossSiteChain = true;
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        form = undefined;
      }
      current = res.location;
    }
    throw new Error(`more than 20 redirects: ${hops.map((h) => h.url).join(' -> ')}`);
  }

  /**
   * Submit the first (or `index`-th) form of `page` (a response from request/follow), with
   * `overrides` merged into its fields (null/undefined removes a field); then follow redirects.
   */
  async submitForm(page, overrides = {}, { index = 0 } = {}) {
    const res = page.final ?? page;
    const f = parseForm(res.body, res.url, index);
    const fields = new Map(f.fields);
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null || v === undefined) fields.delete(k); else fields.set(k, String(v));
    }
    const initiator = new URL(res.url).origin;
    if (f.method === 'POST') return this.follow(f.action, { form: Object.fromEntries(fields), initiator });
    const target = new URL(f.action);
    target.search = new URLSearchParams([...fields]).toString();
    return this.follow(target.href, { initiator });
  }
}
