#!/usr/bin/env bash
# Proves the test infrastructure that later suites stand on: builds (or reuses from
# the cache) the Kubernetes control plane and MinIO, starts each on 127.0.0.1,
# checks it really serves, and stops it. Fails loudly on any step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need curl curl
need kubectl kubectl
work=$(mktemp -d /tmp/switchyard-infra.XXXXXX)
trap '"$here/vknode.sh" stop "$work/node" || true; "$here/kube.sh" stop "$work/kube" || true; "$here/minio-server.sh" stop "$work/minio" || true; rm -rf "$work"' EXIT

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

# Pods that really run: the test node runs each container's command as a host
# process with its env and volumes; logs, exit codes and exec are real.
node=$("$here/vknode.sh" start "$work/node" "$kubeconfig" infra-node)
export KUBECONFIG=$kubeconfig
kubectl apply -f - >/dev/null <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: smoke, namespace: infra-smoke}
spec:
  restartPolicy: Never
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: write
    image: ignored
    command: [sh, -c, 'echo "from init" > /tmp/switchyard-vk-smoke/shared/file']
    volumeMounts: [{name: shared, mountPath: /tmp/switchyard-vk-smoke/shared}]
  containers:
  - name: main
    image: ignored
    command: [sh, -c]
    args: ['cat /tmp/switchyard-vk-smoke/shared/file; echo "greeting=$GREETING"; exit 3']
    env: [{name: GREETING, value: hello}]
    volumeMounts: [{name: shared, mountPath: /tmp/switchyard-vk-smoke/shared}]
  - name: sleeper
    image: ignored
    command: [sleep, "30"]
POD
kubectl -n infra-smoke wait --for=jsonpath='{.status.containerStatuses[?(@.name=="main")].state.terminated.exitCode}'=3 pod/smoke --timeout=60s >/dev/null
logs=$(kubectl -n infra-smoke logs smoke -c main)
[ "$logs" = "$(printf 'from init\ngreeting=hello')" ] || { log "unexpected pod logs: $logs"; exit 1; }
[ "$(kubectl -n infra-smoke exec smoke -c sleeper -- sh -c 'echo exec-$HOSTNAME')" = exec-smoke ] ||
  { log "exec into the test node's pod failed"; exit 1; }
if [ -e /tmp/switchyard-vk-smoke/shared/file ]; then log "a pod's volume leaked onto the host"; exit 1; fi
kubectl -n infra-smoke delete pod smoke --wait=true --timeout=60s >/dev/null
rm -rf /tmp/switchyard-vk-smoke
log "test node ok: $node (logs, exit codes, volumes, exec)"

endpoint=$("$here/minio-server.sh" start "$work/minio")
curl -sf "$endpoint/minio/health/ready" >/dev/null || { log "MinIO is not ready"; exit 1; }
log "MinIO ok: $endpoint"
