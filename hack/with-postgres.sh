#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL whose URL is in SWITCHYARD_TEST_DATABASE_URL,
# and stops the server when the command ends, whatever its outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/switchyard-pg.XXXXXX)
trap '"$here/postgres.sh" stop "$dir"' EXIT
SWITCHYARD_TEST_DATABASE_URL=$("$here/postgres.sh" start "$dir")
export SWITCHYARD_TEST_DATABASE_URL
"$@"
