#!/usr/bin/env bash
# `make stop`: stop what `make run` left running; keep .switchyard/ for the next run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
state=${SWITCHYARD_STATE:-$(dirname "$here")/.switchyard}
stop_pidfile "$state/spoke.pid"
stop_pidfile "$state/hub.pid"
rm -f "$state/spoke.pid" "$state/hub.pid"
[ "${1:-}" = quiet ] || { "$here/postgres.sh" halt "$state/postgres"; echo "stopped; data kept in .switchyard/"; }
