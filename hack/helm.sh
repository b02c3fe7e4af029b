#!/usr/bin/env bash
# Builds the chart tools into the cache, by version: helm (the charts' tests
# lint, render and install them) and kind (e2e/kind's scripts; it needs a
# Docker engine to start clusters). Prints the directory that holds both.
# About 2 minutes once on 2 cores.
#   hack/helm.sh          build (once) and print the directory
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
helm_version=v3.22.0
kind_version=v0.33.0
dest=$(cache_root)/helm-$helm_version-kind-$kind_version
if [ -x "$dest/helm" ] && [ -x "$dest/kind" ]; then echo "$dest"; exit 0; fi
exec 9>"$dest.lock"
flock 9
if [ -x "$dest/helm" ] && [ -x "$dest/kind" ]; then echo "$dest"; exit 0; fi
log "building helm $helm_version and kind $kind_version into $dest (about 2 minutes, once)"
tmp=$(mktemp -d)
GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN=$tmp go install -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN=$tmp go install -ldflags='-s -w' "sigs.k8s.io/kind@$kind_version" >&2
publish "$tmp" "$dest"
echo "$dest"
