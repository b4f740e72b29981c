#!/usr/bin/env bash
# A local demo from a fresh Debian 12 machine: installs what is missing,
# builds, and runs the whole loop on loopback:
#   Okta stand-in (tests/standins/okta.js, :8444) --event hooks--> groupsync
#   (https://127.0.0.1:8443, self-signed) --REST--> json-server (:3000)
# Ctrl-C stops everything. State lives under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=$(scripts/build.sh Release)
demo=$PWD/.demo
port=${DEMO_PORT:-8443} okta_port=${DEMO_OKTA_PORT:-8444} remote_port=${DEMO_REMOTE_PORT:-3000}
group=00g8sync7AbCdEfGh4x7
mkdir -p "$demo/data"
if [ ! -f "$demo/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$demo/key.pem" -out "$demo/cert.pem" -days 30 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
  chmod 600 "$demo/key.pem"
fi
[ -f "$demo/hook-secret" ] || (umask 077; echo "Bearer $(openssl rand -hex 24)" >"$demo/hook-secret")
[ -f "$demo/okta-token" ] || (umask 077; openssl rand -hex 20 >"$demo/okta-token")
[ -f "$demo/remote-db.json" ] || echo '{"users": [], "groups": []}' >"$demo/remote-db.json"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The Okta stand-in trusts groupsync's self-signed certificate for its hook calls.
NODE_EXTRA_CA_CERTS=$demo/cert.pem node tests/standins/okta.js --port "$okta_port" \
  --api-token "$(cat "$demo/okta-token")" --hook-url "https://127.0.0.1:$port/hooks/okta" \
  --hook-secret "$(cat "$demo/hook-secret")" >"$demo/okta-standin.log" 2>&1 &
pids+=($!)
tests/node_modules/.bin/json-server --host 127.0.0.1 --port "$remote_port" --quiet \
  "$demo/remote-db.json" >"$demo/json-server.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$okta_port/__admin/state" "http://127.0.0.1:$remote_port/users"; do
  for _ in $(seq 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
done
curl -sf -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"id\":\"$group\",\"name\":\"API Provisioning Group\"}" \
  "http://127.0.0.1:$okta_port/__admin/groups" || true

cat <<MSG

groupsync demo: https://127.0.0.1:$port  Okta stand-in: http://127.0.0.1:$okta_port
remote (json-server): http://127.0.0.1:$remote_port/users  logs: $demo/*.log
In another terminal, play Okta's admin:

  A=http://127.0.0.1:$okta_port/__admin
  # a user, then add them to the synced group: the stand-in sends the event hook
  U=\$(curl -s -H 'Content-Type: application/json' -d '{"profile":{"login":"jane@example.com",
      "email":"jane@example.com","firstName":"Jane","lastName":"Doe","city":"Springfield"}}' \\
      \$A/users | grep -o '"id":"00u[^"]*"' | head -n1 | cut -d'"' -f4)
  curl -s -X POST \$A/groups/$group/members/\$U
  curl -s http://127.0.0.1:$remote_port/users          # the remote record
  curl -s \$A/users/\$U | grep -o '"customId":"[^"]*"'  # the ID written back
  # edit, then remove: the record follows
  curl -s -H 'Content-Type: application/json' -d '{"city":"Shelbyville"}' \$A/users/\$U/profile
  curl -s -X DELETE \$A/groups/$group/members/\$U

MSG
export GROUPSYNC_LISTEN=127.0.0.1:$port
export GROUPSYNC_TLS_CERT=$demo/cert.pem GROUPSYNC_TLS_KEY=$demo/key.pem
export GROUPSYNC_HOOK_SECRET_FILE=$demo/hook-secret
export GROUPSYNC_OKTA_ORG_URL=http://127.0.0.1:$okta_port
export GROUPSYNC_OKTA_API_TOKEN_FILE=$demo/okta-token
export GROUPSYNC_GROUP_IDS=$group
export GROUPSYNC_DATA_DIR=$demo/data
export GROUPSYNC_HOOKS_DIR=$PWD/hooks/rest
export REMOTE_BASE_URL=http://127.0.0.1:$remote_port
export GROUPSYNC_LOG_FORMAT=${GROUPSYNC_LOG_FORMAT:-text}
"$dir/groupsync" serve &
pids+=($!)
wait "${pids[-1]}"
