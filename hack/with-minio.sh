#!/usr/bin/env bash
# Runs a command beside a throwaway MinIO on 127.0.0.1 (hack/minio-server.sh):
# SWITCHYARD_TEST_S3_ENDPOINT, SWITCHYARD_TEST_S3_ACCESS_KEY and
# SWITCHYARD_TEST_S3_SECRET_KEY say how to reach it. It is stopped, and its
# data deleted, when the command ends.
#   hack/with-minio.sh go test ./volumes/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/switchyard-minio.XXXXXX)
trap '"$here/minio-server.sh" stop "$work/minio" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
endpoint=$("$here/minio-server.sh" start "$work/minio")
set -a; . "$work/minio/env"; set +a
export SWITCHYARD_TEST_S3_ENDPOINT=$endpoint
export SWITCHYARD_TEST_S3_ACCESS_KEY=$MINIO_ROOT_USER
export SWITCHYARD_TEST_S3_SECRET_KEY=$MINIO_ROOT_PASSWORD
unset MINIO_ROOT_USER MINIO_ROOT_PASSWORD
"$@"
