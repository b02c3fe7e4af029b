#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_REGISTRY set to a distribution registry
# binary (hack/registry.sh); the registry-image tests start their own
# registries from it, with and without basic auth and TLS.
#   hack/with-registry.sh go test ./spoke/resource/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_REGISTRY=$("$here/registry.sh")
export SWITCHYARD_TEST_REGISTRY
"$@"
