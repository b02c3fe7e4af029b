#!/usr/bin/env bash
# Builds the virtual-kubelet test node (hack/vknode) into the cache, keyed by the
# hash of its sources and module versions. Prints the binary's path.
#   hack/vknode.sh                 build (or reuse) and print the path
#   hack/vknode.sh start DIR KUBECONFIG [NAME]
#                                  run a node against the apiserver; prints its name
#   hack/vknode.sh stop DIR        stop it and delete DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

build() {
  local hash dest
  hash=$(cd "$here/vknode" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
  dest=$(cache_root)/vknode-$hash
  if [ -x "$dest/vknode" ]; then echo "$dest/vknode"; return 0; fi
  log "building the virtual-kubelet test node into $dest"
  local tmp
  tmp=$(mktemp -d)
  (cd "$here/vknode" && GOTOOLCHAIN=local go build -o "$tmp/vknode" .) >&2
  publish "$tmp" "$dest"
  echo "$dest/vknode"
}

start() {
  local dir=$1 kubeconfig=$2 name=${3:-vknode} bin
  bin=$(build)
  mkdir -p "$dir"
  mkdir -p "${VKNODE_IMAGES:-$dir/images}"
  spawn vknode "$dir" "$bin" --name "$name" --kubeconfig "$kubeconfig" --root "$dir/root" \
    --images "${VKNODE_IMAGES:-$dir/images}" --listen "127.0.0.1:$(free_port)"
  for _ in $(seq 1 240); do
    grep -q '"node ready"' "$dir/vknode.log" 2>/dev/null && { echo "$name"; return 0; }
    kill -0 "$(cat "$dir/vknode.pid")" 2>/dev/null || break
    sleep 0.25
  done
  log "test node $name did not become ready"; tail -20 "$dir/vknode.log" >&2; exit 1
}

stop() {
  stop_pidfile "$1/vknode.pid"
  rm -rf "$1"
}

case "${1:-}" in
  "") build ;;
  start) start "${2:?usage: vknode.sh start DIR KUBECONFIG [NAME]}" "${3:?kubeconfig}" "${4:-}" ;;
  stop) stop "${2:?usage: vknode.sh stop DIR}" ;;
  *) echo "usage: vknode.sh [start DIR KUBECONFIG [NAME] | stop DIR]" >&2; exit 2 ;;
esac
