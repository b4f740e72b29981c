#!/usr/bin/env bash
# A local demo from a fresh Debian 12 machine: installs what is missing,
# builds, and runs groupsync on https://127.0.0.1:8443 (self-signed
# certificate) in the foreground, with a store under .demo/. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=$(scripts/build.sh Release)
demo=$PWD/.demo
mkdir -p "$demo/data"
if [ ! -f "$demo/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$demo/key.pem" -out "$demo/cert.pem" -days 30 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
  chmod 600 "$demo/key.pem"
fi
if [ ! -f "$demo/hook-secret" ]; then
  (umask 077; echo "Bearer $(openssl rand -hex 24)" >"$demo/hook-secret")
fi
port=${DEMO_PORT:-8443}
samples=$PWD/tests/fuzz/corpus/delivery   # copies of Okta-shaped deliveries
cat <<MSG

groupsync demo on https://127.0.0.1:$port  (store: $demo/data, Ctrl-C stops)
In another terminal:

  S="\$(cat $demo/hook-secret)"
  # Okta's one-time verification
  curl --cacert $demo/cert.pem -H "Authorization: \$S" \\
       -H "X-Okta-Verification-Challenge: hello" https://127.0.0.1:$port/hooks/okta
  # a delivery (user added to the group)
  curl --cacert $demo/cert.pem -H "Authorization: \$S" -H "Content-Type: application/json" \\
       --data @$samples/delivery-group-add.json https://127.0.0.1:$port/hooks/okta
  # the queued jobs
  sqlite3 $demo/data/groupsync.db 'select id,user_id,event_type,state from jobs'

MSG
export GROUPSYNC_LISTEN=127.0.0.1:$port
export GROUPSYNC_TLS_CERT=$demo/cert.pem GROUPSYNC_TLS_KEY=$demo/key.pem
export GROUPSYNC_HOOK_SECRET_FILE=$demo/hook-secret
export GROUPSYNC_OKTA_ORG_URL=${GROUPSYNC_OKTA_ORG_URL:-http://127.0.0.1:8444}
export GROUPSYNC_OKTA_API_TOKEN=${GROUPSYNC_OKTA_API_TOKEN:-demo-token-for-the-local-stand-in}
export GROUPSYNC_GROUP_IDS=${GROUPSYNC_GROUP_IDS:-00g8sync7AbCdEfGh4x7}
export GROUPSYNC_DATA_DIR=$demo/data
export GROUPSYNC_LOG_FORMAT=${GROUPSYNC_LOG_FORMAT:-text}
exec "$dir/groupsync" serve
