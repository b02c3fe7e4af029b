#!/usr/bin/env bash
# Builds MinIO with go install (INFRA.md), cached by version. Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
dest=$(cache_root)/minio-$MINIO_VERSION
if [ -x "$dest/minio" ]; then echo "$dest/minio"; exit 0; fi

log "building MinIO $MINIO_VERSION into $dest (about 3 minutes cold)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOTOOLCHAIN=local GOBIN=$tmp go install -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION" >&2
publish "$tmp" "$dest"
trap - EXIT
echo "$dest/minio"
