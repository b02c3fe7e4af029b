#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_JAEGER set to a Jaeger binary
# (hack/jaeger.sh); the tracing tests start their own Jaeger from it.
#   hack/with-jaeger.sh go test ./e2e/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_JAEGER=$("$here/jaeger.sh")
export SWITCHYARD_TEST_JAEGER
"$@"
