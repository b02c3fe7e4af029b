#!/usr/bin/env bash
# Runs a command with SWITCHYARD_TEST_CHROMIUM naming Debian's Chromium
# (hack/chromium.sh); each UI test starts its own headless browser.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SWITCHYARD_TEST_CHROMIUM=$("$here/chromium.sh")
export SWITCHYARD_TEST_CHROMIUM
"$@"
