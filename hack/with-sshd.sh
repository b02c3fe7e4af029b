#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_SSHD naming OpenSSH's sshd (hack/sshd.sh);
# each test that needs one starts its own on loopback.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_SSHD=$("$here/sshd.sh")
export SWITCHYARD_TEST_SSHD
"$@"
