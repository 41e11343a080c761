#!/usr/bin/env bash
# The demo: a local OpenID Provider with a real login form (node oidc-provider), and edge-oidc
# in workerd protecting the sample static site in demo/site. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BROWSER=1 bash scripts/setup.sh
bash scripts/build.sh
exec node scripts/demo.mjs "$@"
