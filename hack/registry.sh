#!/usr/bin/env bash
# Builds the CNCF distribution registry (the registry-image resource's tests run
# it) with go install, cached by version. Prints the binary's path.
#   hack/registry.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

REGISTRY_VERSION=${REGISTRY_VERSION:-v3.1.2}
dest=$(cache_root)/registry-$REGISTRY_VERSION
if [ -x "$dest/registry" ]; then echo "$dest/registry"; exit 0; fi

log "building the distribution registry $REGISTRY_VERSION into $dest (about 3 minutes cold)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOTOOLCHAIN=local GOBIN=$tmp go install -ldflags "-s -w" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" >&2
publish "$tmp" "$dest"
trap - EXIT
echo "$dest/registry"
