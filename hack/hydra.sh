#!/usr/bin/env bash
# Builds Ory Hydra, the real OpenID provider the sign-in tests run, into the
# cache, keyed by hack/hydra's go.mod and go.sum (the version is there). With
# SQLite built in, so a test runs it on an in-memory database (DSN=memory).
# Prints the binary's path.
#   hack/hydra.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
version=$(sed -n 's/^\tgithub.com\/ory\/hydra\/v2 \(v[^ ]*\).*/\1/p' "$here/hydra/go.mod")
hash=$(cat "$here/hydra/go.mod" "$here/hydra/go.sum" | sha256sum | cut -c1-12)
dest=$(cache_root)/hydra-$version-$hash
if [ -x "$dest/hydra" ]; then echo "$dest/hydra"; exit 0; fi
need gcc gcc # SQLite is C, built with cgo
log "building Ory Hydra $version into $dest (a few minutes, once)"
tmp=$(mktemp -d)
(cd "$here/hydra" && GOTOOLCHAIN=local CGO_ENABLED=1 go build -tags sqlite -o "$tmp/hydra" github.com/ory/hydra/v2) >&2
publish "$tmp" "$dest"
echo "$dest/hydra"
