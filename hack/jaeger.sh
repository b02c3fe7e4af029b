#!/usr/bin/env bash
# Builds Jaeger (its all-in-one binary: an OTLP receiver, in-memory storage and
# the query API), the real trace backend the tracing tests run, into the cache,
# keyed by hack/jaeger's go.mod and go.sum (the version is there). Prints the
# binary's path.
#   hack/jaeger.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
version=$(sed -n 's/^\tgithub.com\/jaegertracing\/jaeger \(v[^ ]*\).*/\1/p' "$here/jaeger/go.mod")
hash=$(cat "$here/jaeger/go.mod" "$here/jaeger/go.sum" | sha256sum | cut -c1-12)
dest=$(cache_root)/jaeger-$version-$hash
if [ -x "$dest/jaeger" ]; then echo "$dest/jaeger"; exit 0; fi
log "building Jaeger $version into $dest (a few minutes, once)"
tmp=$(mktemp -d)
(cd "$here/jaeger" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) >&2
publish "$tmp" "$dest"
echo "$dest/jaeger"
