#!/usr/bin/env bash
# Builds Jaeger (its all-in-one binary: an OTLP receiver, in-memory storage and
# the query API), the real trace backend the tracing tests run, into the cache,
# keyed by hack/jaeger's go.mod and go.sum (the version is there). Prints the
# binary's path. About 12 minutes once on 2 cores; hack/with-jaeger.sh runs it
# beside the tests instead of before them.
#   hack/jaeger.sh          build (once) and print the path
#   hack/jaeger.sh --path   print where the binary is or will be, building nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
version=$(sed -n 's/^\tgithub.com\/jaegertracing\/jaeger \(v[^ ]*\).*/\1/p' "$here/jaeger/go.mod")
hash=$(cat "$here/jaeger/go.mod" "$here/jaeger/go.sum" | sha256sum | cut -c1-12)
dest=$(cache_root)/jaeger-$version-$hash
if [ "${1:-}" = --path ] || [ -x "$dest/jaeger" ]; then echo "$dest/jaeger"; exit 0; fi
# One build at a time (make test and make bench may both ask).
exec 9>"$dest.lock"
flock 9
if [ -x "$dest/jaeger" ]; then echo "$dest/jaeger"; exit 0; fi
log "building Jaeger $version into $dest (about 12 minutes on 2 cores, once)"
tmp=$(mktemp -d)
# A test's server: no optimisation or debug information to build, which
# cuts the build's time.
(cd "$here/jaeger" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -gcflags=all='-N -l' -ldflags='-s -w' -o "$tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) >&2
publish "$tmp" "$dest"
echo "$dest/jaeger"
