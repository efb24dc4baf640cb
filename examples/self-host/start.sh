#!/bin/sh
# Runs the gateway with the settings of .env (ENV_FILE=path for another file). Build first: pnpm build.
cd "$(dirname "$0")"
exec node --env-file="${ENV_FILE:-.env}" ../../packages/server/bin/backchannel.js serve "$@"
