#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: initdb into DIR, a server
# that listens only on a unix socket in DIR (no TCP port to collide with
# anything), stopped and removed at the end. Never the system's cluster.
#
#   tests/pg/cluster.sh start DIR   prints the URI of its "postgres" database
#   tests/pg/cluster.sh restart DIR  (a database restart under load)
#   tests/pg/cluster.sh stop DIR
#
# GS_PG_FSYNC=1 keeps fsync on (benchmarks: a commit costs what it costs
# in production); the tests turn it off.
#
# initdb refuses to run as root: as root, the cluster runs as the
# "postgres" user that Debian's postgresql package creates, and DIR is
# made its own.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|restart|stop DIR}
dir=${2:?usage: cluster.sh start|restart|stop DIR}
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "cluster.sh: no PostgreSQL server (initdb) found: run scripts/setup.sh" >&2
  exit 1
fi
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

case $cmd in
start)
  stop
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  # fsync off: a test cluster that a crash of the machine may lose
  sync_opts="-c fsync=off -c full_page_writes=off"
  if [ "${GS_PG_FSYNC:-0}" = 1 ]; then sync_opts=""; fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 \
    --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -k $dir $sync_opts -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgresql:///postgres?host=$dir&user=postgres"
  ;;
restart)
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart >/dev/null
  ;;
stop)
  stop
  rm -rf "$dir"
  ;;
*)
  echo "usage: cluster.sh start|restart|stop DIR" >&2
  exit 2
  ;;
esac
