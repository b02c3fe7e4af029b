#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_PROMETHEUS naming Prometheus's server
# (hack/prometheus.sh); each test that needs one starts its own on loopback.
#   hack/with-prometheus.sh go test ./e2e/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_PROMETHEUS=$("$here/prometheus.sh")
export SWITCHYARD_TEST_PROMETHEUS
"$@"
