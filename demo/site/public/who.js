// Shows who is signed in, from edge-oidc's session endpoint (session_endpoint_path): a static
// page has no server to ask, and the identity cookie is HttpOnly. A same-origin fetch; nothing
// is shown when the endpoint answers 401 (not signed in, or the endpoint is off).
fetch('/.auth/me', { credentials: 'same-origin' })
  .then((res) => (res.ok ? res.json() : null))
  .then((me) => {
    if (!me) return;
    document.getElementById('who-name').textContent = me.name ?? me.email ?? me.sub;
    document.getElementById('who-provider').textContent = me.provider;
    document.getElementById('who').hidden = false;
  })
  .catch(() => {});
