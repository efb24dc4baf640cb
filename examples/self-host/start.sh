#!/bin/sh
# Runs the gateway with the settings of .env (ENV_FILE=path for another file). Build first: pnpm build.
# The file's settings win over variables already exported in this shell (node --env-file would keep
# those), so this script and register-apps.sh always agree on the admin token and the port.
set -eu
cd "$(dirname "$0")"
set -a
. "${ENV_FILE:-./.env}"
set +a
exec node ../../packages/server/bin/backchannel.js serve "$@"
