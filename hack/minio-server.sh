#!/usr/bin/env bash
# A throwaway MinIO on 127.0.0.1 from the binary hack/minio.sh caches.
#   hack/minio-server.sh start DIR   prints the endpoint URL; credentials are in DIR/env
#   hack/minio-server.sh stop DIR    stop it and delete DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need curl curl

start() {
  local dir=$1 bin port console
  bin=$("$here/minio.sh")
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  port=$(free_port); console=$(free_port)
  cat >"$dir/env" <<ENV
MINIO_ROOT_USER=switchyard
MINIO_ROOT_PASSWORD=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
ENV
  set -a; . "$dir/env"; set +a
  spawn minio "$dir" "$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" "$dir/data"
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null 2>&1; then
      echo "http://127.0.0.1:$port"; return 0
    fi
    sleep 0.25
  done
  log "MinIO not ready after 30s"; tail -20 "$dir/minio.log" >&2; exit 1
}

stop() {
  stop_pidfile "$1/minio.pid"
  rm -rf "$1"
}

case "${1:-}" in
  start) start "${2:?usage: minio-server.sh start DIR}" ;;
  stop) stop "${2:?usage: minio-server.sh stop DIR}" ;;
  *) echo "usage: minio-server.sh start|stop DIR" >&2; exit 2 ;;
esac
