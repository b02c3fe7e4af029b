#!/usr/bin/env bash
# Proves the test infrastructure that later suites stand on: builds (or reuses from
# the cache) the Kubernetes control plane and MinIO, starts each on 127.0.0.1,
# checks it really serves, and stops it. Fails loudly on any step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/switchyard-infra.XXXXXX)
trap '"$here/kube.sh" stop "$work/kube" || true; "$here/minio-server.sh" stop "$work/minio" || true; rm -rf "$work"' EXIT

kubeconfig=$("$here/kube.sh" start "$work/kube")
server=$(sed -n 's/.*server: "\(.*\)".*/\1/p' "$kubeconfig")
token=$(sed -n 's/.*token: "\(.*\)".*/\1/p' "$kubeconfig")
api() { curl -skf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
api -X POST "$server/api/v1/namespaces" -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"infra-smoke"}}' >/dev/null
# The controller-manager creates a default service account in every new namespace.
for _ in $(seq 1 120); do
  api "$server/api/v1/namespaces/infra-smoke/serviceaccounts/default" >/dev/null 2>&1 && break
  sleep 0.25
done
api "$server/api/v1/namespaces/infra-smoke/serviceaccounts/default" >/dev/null ||
  { log "controller-manager did not create the default service account"; exit 1; }
api "$server/version" | grep -q '"gitVersion": "v1.34' || { log "apiserver reports an unexpected version"; exit 1; }
log "control plane ok: $server"

endpoint=$("$here/minio-server.sh" start "$work/minio")
curl -sf "$endpoint/minio/health/ready" >/dev/null || { log "MinIO is not ready"; exit 1; }
log "MinIO ok: $endpoint"
