#!/usr/bin/env bash
# Prints the path of Debian's Chromium, installed from Debian's packages when
# it is not there (about 1.5 min cold): the web UI's tests drive it headless.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need chromium chromium
command -v chromium
