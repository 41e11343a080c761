"""A real OpenID Provider for tests: pyOP (PyPI `pyop`) inside a small Flask app.

    .venv/bin/python tests/peers/pyop_server.py --port 0 --config cfg.json

Listens on 127.0.0.1 only, prints `READY http://127.0.0.1:<port>` once bound, serves until
SIGTERM/SIGINT. The issuer is that URL. No login page: the authorization endpoint logs in the
user named by `login_hint` (if configured, else "alice") and answers 303 to the redirect URI.

Config JSON (all optional):
  {"clients": [{"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris",
                "token_endpoint_auth_method", "response_types"}],
   "users": {"alice": {"email": ..., "email_verified": ..., "name": ...}},
   "signing_alg": "RS256" | "ES256", "refresh_tokens": true,
   "response_types": ["code", "id_token", ...]}   (the provider's response_types_supported)

Response modes: pyOP itself encodes a response in the query or the fragment; OAuth 2.0 Form Post
(`response_mode=form_post`) is added here, as the page that posts pyOP's response.
"""
import argparse
import html
import json
import logging
import signal
import sys
from urllib.parse import urlencode

from Cryptodome.PublicKey import RSA
from flask import Flask, Response, jsonify, request
from jwkest.ecc import NISTEllipticCurve
from jwkest.jwk import ECKey, RSAKey
from oic.oic.message import EndSessionRequest
from pyop.authz_state import AuthorizationState
from pyop.exceptions import (BearerTokenError, InvalidAuthenticationRequest,
                             InvalidClientAuthentication, InvalidClientRegistrationRequest,
                             OAuthError)
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo
from pyop.util import should_fragment_encode
from werkzeug.serving import make_server

DEFAULT_USERS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Example"},
    "bob": {"email": "bob@other.example", "email_verified": True, "name": "Bob Other"},
}

app = Flask(__name__)
provider = None  # set in main()


def oauth_error(error, description, status=400, headers=None):
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def build_provider(base, cfg):
    alg = cfg.get("signing_alg", "RS256")
    if alg == "RS256":
        key = RSAKey(key=RSA.generate(2048), alg="RS256", use="sig", kid="pyop-rs256")
    elif alg == "ES256":
        key = ECKey(key=NISTEllipticCurve(256), alg="ES256", use="sig", kid="pyop-es256")
    else:
        raise SystemExit("unsupported signing_alg %r" % alg)
    clients = {}
    for c in cfg.get("clients", []):
        c = dict(c)
        c.setdefault("response_types", ["code"])
        c.setdefault("token_endpoint_auth_method",
                     "client_secret_basic" if "client_secret" in c else "none")
        c.setdefault("post_logout_redirect_uris", [])
        clients[c["client_id"]] = c
    users = cfg.get("users") or DEFAULT_USERS
    refresh = cfg.get("refresh_tokens", True)
    configuration = {
        # oic refuses a non-https issuer at construction: placeholder, replaced below.
        "issuer": "https://placeholder.invalid",
        "authorization_endpoint": base + "/authorization",
        "token_endpoint": base + "/token",
        "userinfo_endpoint": base + "/userinfo",
        "jwks_uri": base + "/jwks",
        "registration_endpoint": base + "/registration",
        "end_session_endpoint": base + "/end_session",
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "response_types_supported": cfg.get("response_types", ["code"]),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code"] + (["refresh_token"] if refresh else []),
        "subject_types_supported": ["public", "pairwise"],  # the first one is what pyOP uses
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["sub", "email", "email_verified", "name"],
        "request_uri_parameter_supported": False,
        "code_challenge_methods_supported": ["S256"],
    }
    authz_state = AuthorizationState(HashBasedSubjectIdentifierFactory("edge-oidc-tests"),
                                     refresh_token_lifetime=86400 if refresh else None)
    p = Provider(key, configuration, authz_state, clients, Userinfo(users))
    p.configuration_information["issuer"] = base
    return p


@app.get("/.well-known/openid-configuration")
def discovery():
    return jsonify(provider.provider_configuration.to_dict())


@app.get("/jwks")
def jwks():
    return jsonify(provider.jwks)


@app.route("/authorization", methods=["GET", "POST"])
def authorization():
    query = request.query_string.decode() if request.method == "GET" else request.get_data(as_text=True)
    try:
        auth_req = provider.parse_authentication_request(query)
    except InvalidAuthenticationRequest as e:
        url = e.to_error_url()
        if url:
            return Response(status=303, headers={"Location": url})
        return Response("invalid authentication request: %s" % e, status=400, mimetype="text/plain")
    hint = auth_req.get("login_hint")
    user = hint if hint in provider.userinfo else "alice"
    resp = provider.authorize(auth_req, user)
    mode = auth_req.get("response_mode")
    if mode == "form_post":
        return form_post(auth_req["redirect_uri"], resp.to_dict())
    fragment = should_fragment_encode(auth_req) if mode is None else mode == "fragment"
    return Response(status=303, headers={"Location": resp.request(auth_req["redirect_uri"], fragment)})


def form_post(action, params):
    """OAuth 2.0 Form Post Response Mode §2: a page that posts the response to the client."""
    inputs = "".join('<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(str(v)))
                     for k, v in params.items())
    page = ('<!doctype html><html><head><title>Submit</title></head>'
            '<body onload="document.forms[0].submit()"><form method="post" action="%s">%s'
            '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
            % (html.escape(action), inputs))
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


@app.post("/token")
def token():
    try:
        resp = provider.handle_token_request(request.get_data(as_text=True), request.headers)
    except InvalidClientAuthentication as e:
        return oauth_error("invalid_client", str(e), 401, {"WWW-Authenticate": 'Basic realm="pyop"'})
    except OAuthError as e:
        return oauth_error(e.oauth_error, str(e))
    except (KeyError, ValueError) as e:  # malformed Basic header, token revoked by logout, ...
        return oauth_error("invalid_grant" if isinstance(e, KeyError) else "invalid_request", repr(e))
    if request.form.get("grant_type") == "refresh_token":
        STATS["refreshes"] += 1
    out = jsonify(resp.to_dict())
    out.headers["Cache-Control"] = "no-store"
    return out


# Test hook: refresh token grants answered (the session tests count them).
STATS = {"refreshes": 0}


@app.get("/test/stats")
def stats():
    return jsonify(STATS)


@app.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    body = request.get_data(as_text=True) if request.method == "POST" else request.query_string.decode()
    try:
        resp = provider.handle_userinfo_request(body, request.headers)
    except (BearerTokenError, OAuthError) as e:
        return oauth_error("invalid_token", str(e), 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return jsonify(resp.to_dict())


@app.post("/registration")
def registration():
    try:
        resp = provider.handle_client_registration_request(request.get_data(as_text=True))
    except InvalidClientRegistrationRequest as e:
        return Response(e.to_json(), status=400, mimetype="application/json")
    return Response(resp.to_json(), status=201, mimetype="application/json")


@app.route("/end_session", methods=["GET", "POST"])
def end_session():
    params = request.form if request.method == "POST" else request.args
    end_req = EndSessionRequest().from_dict(dict(params.items()))
    try:
        if "id_token_hint" in end_req:
            provider.logout_user(end_session_request=end_req)
        redirect = provider.do_post_logout_redirect(end_req)
    except Exception as e:  # bad id_token_hint, unknown subject, ...
        return Response("logout failed: %r" % e, status=400, mimetype="text/plain")
    if redirect:
        return Response(status=303, headers={"Location": redirect})
    return Response("<!doctype html><title>Logged out</title><p>You are logged out.</p>",
                    mimetype="text/html")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--config")
    args = ap.parse_args()
    cfg = {}
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    base = "http://127.0.0.1:%d" % server.server_port
    global provider
    provider = build_provider(base, cfg)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY " + base, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
