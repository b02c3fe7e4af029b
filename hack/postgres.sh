#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and `make run` (INFRA.md).
#   hack/postgres.sh start DIR   initdb + start in DIR on 127.0.0.1, print the database URL
#   hack/postgres.sh stop DIR    stop it and delete DIR
#   hack/postgres.sh ensure DIR  start the cluster in DIR, creating it only if missing
#                                (data survives); print the URL
#   hack/postgres.sh halt DIR    stop the cluster in DIR and keep its data
# Installs Debian's postgresql package when no server binaries are found.
# The server runs SERIALIZABLE by default, like CockroachDB, and trades durability for speed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_installed() {
  pg_bindir >/dev/null && return 0
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
  pg_bindir >/dev/null || { log "no PostgreSQL server binaries after installing the postgresql package"; exit 1; }
}

# as_pg runs a command as the postgres user when we are root (PostgreSQL refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start starts the cluster in DIR on its port: serializable by default, like
# CockroachDB, and trading durability for speed.
# pg_stat_statements is loaded when the server has it, for make bench's
# statement counts.
pg_start() {
  local dir=$1 preload=""
  [ -f "$(dirname "$(pg_bindir)")/lib/pg_stat_statements.so" ] && preload="-c shared_preload_libraries=pg_stat_statements"
  as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "-p $(cat "$dir/port") -k $dir \
    -c listen_addresses=127.0.0.1 -c default_transaction_isolation=serializable \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
    -c max_pred_locks_per_transaction=1024 $preload" >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
}

start() {
  local dir=$1
  ensure_installed
  local bin port
  bin=$(pg_bindir)
  port=$(free_port)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  pg_start "$dir"
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

ensure() {
  local dir=$1 port
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir"
    start "$dir"
    return
  fi
  ensure_installed
  port=$(cat "$dir/port")
  as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || pg_start "$dir"
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

halt() {
  local dir=$1
  [ -d "$dir/data" ] && as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?usage: postgres.sh start DIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  ensure) ensure "${2:?usage: postgres.sh ensure DIR}" ;;
  halt) halt "${2:?usage: postgres.sh halt DIR}" ;;
  *) echo "usage: postgres.sh start|stop|ensure|halt DIR" >&2; exit 2 ;;
esac
