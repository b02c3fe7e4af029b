#!/usr/bin/env bash
# make bench: every benchmark, one package at a time (so that none disturbs
# another's figures), on a throwaway PostgreSQL, Kubernetes control plane and
# MinIO, with the registry and Jaeger built and Chromium installed. e2e's BenchmarkHotPath also runs the binaries of a baseline commit in
# the same run: the commit in hack/bench-baseline, or SWITCHYARD_BENCH_BASELINE
# (any git revision), built once and cached by commit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
GO=${GO:-go}
root=$(cd "$here/.." && pwd)
rev=${SWITCHYARD_BENCH_BASELINE:-$(cat "$here/bench-baseline")}
if commit=$(git -C "$root" rev-parse --verify -q "$rev^{commit}"); then
  dest="$(cache_root)/bench-baseline/$commit"
  if [ ! -x "$dest/switchyard" ] || [ ! -x "$dest/fly" ]; then
    log "building the baseline $commit for BenchmarkHotPath"
    src=$(mktemp -d)
    git -C "$root" archive "$commit" | tar -x -C "$src"
    tmp="$dest.tmp.$$"
    (cd "$src" && "$GO" build -o "$tmp/" ./cmd/switchyard ./cmd/fly)
    rm -rf "$src"
    mkdir -p "$(dirname "$dest")"
    publish "$tmp" "$dest"
  fi
  export SWITCHYARD_BENCH_BASELINE_BIN=$dest
else
  log "baseline $rev is not a commit of this clone: BenchmarkHotPath runs without a baseline"
fi
exec "$here/with-postgres.sh" "$here/with-kube.sh" "$here/with-minio.sh" "$here/with-registry.sh" "$here/with-jaeger.sh" "$here/with-chromium.sh" \
  "$GO" test -p 1 -run '^$' -bench "${BENCH:-.}" -benchmem -count=1 "${BENCH_PACKAGES:-./...}"
