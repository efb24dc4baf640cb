#!/bin/sh
# Creates .env from .env.example with a fresh master key and admin token (once; never overwrites).
set -eu
cd "$(dirname "$0")"
env_file="${ENV_FILE:-.env}"
if [ -e "$env_file" ]; then echo "$env_file exists; leaving it as it is"; exit 0; fi
random() { node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64url'))"; }
sed -e "s|^BACKCHANNEL_MASTER_KEY=.*|BACKCHANNEL_MASTER_KEY=$(random)|" \
    -e "s|^BACKCHANNEL_ADMIN_TOKEN=.*|BACKCHANNEL_ADMIN_TOKEN=bca_$(random)|" .env.example > "$env_file"
chmod 600 "$env_file"
echo "wrote $env_file (keep it secret; back up BACKCHANNEL_MASTER_KEY: without it stored secrets cannot be read)"
