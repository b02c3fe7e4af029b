#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_HYDRA set to an Ory Hydra binary
# (hack/hydra.sh); the sign-in tests start their own Hydra from it, pointed at
# their own login and consent pages.
#   hack/with-hydra.sh go test ./e2e/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_HYDRA=$("$here/hydra.sh")
export SWITCHYARD_TEST_HYDRA
"$@"
