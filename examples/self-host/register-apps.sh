#!/bin/sh
# Registers one OIDC application (by issuer: discovery runs now) and one HMAC application through
# the CLI, with the admin token of .env. The HMAC app's secret is printed once: hand it to that
# application's backend.
set -eu
cd "$(dirname "$0")"
set -a
. "${ENV_FILE:-./.env}"
set +a
export BACKCHANNEL_URL="${BACKCHANNEL_URL:-http://localhost:${PORT:-3000}}"
backchannel() { node ../../packages/server/bin/backchannel.js "$@"; }

backchannel apps create --name "${OIDC_APP:-wiki}" \
  --issuer "${OIDC_ISSUER:-http://localhost:4000}" --client-id "${OIDC_CLIENT_ID:-demo}"
backchannel apps create --name "${HMAC_APP:-billing}"
