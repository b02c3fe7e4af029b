#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_JAEGER set to a Jaeger binary
# (hack/jaeger.sh); the tracing tests start their own Jaeger from it. When
# it is not built yet it is built beside the command (the tests wait for it,
# and most of them do not need it), with SWITCHYARD_TEST_JAEGER_BUILD set to
# the build's pid and log, so that a test that waits sees a failed build.
#   hack/with-jaeger.sh go test ./e2e/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHYARD_TEST_JAEGER=$("$here/jaeger.sh" --path)
export SWITCHYARD_TEST_JAEGER
if [ ! -x "$SWITCHYARD_TEST_JAEGER" ]; then
  buildlog=$(cache_root)/jaeger-build.log
  log "building Jaeger beside the tests (log: $buildlog)"
  "$here/jaeger.sh" >"$buildlog" 2>&1 &
  export SWITCHYARD_TEST_JAEGER_BUILD="$!:$buildlog"
fi
"$@"
