#!/usr/bin/env bash
# The end-to-end suite on real kind clusters: a hub cluster and two spoke
# clusters, the image loaded with `kind load`, both charts installed with
# helm, then a pipeline whose job runs a task on each spoke cluster, the
# second reading what the first made (artifacts through the hub).
#   e2e/kind/run.sh          make e2e-kind
#   e2e/kind/run.sh --check  validate the configs and this script; no clusters
# Needs a Docker engine. Without one it says so and exits 0 (nothing ran,
# nothing passed). KEEP=1 leaves the clusters for a look.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=$("$root/hack/helm.sh")
kind=$tools/kind helm=$tools/helm
clusters=(switchyard-hub switchyard-spoke-1 switchyard-spoke-2)

check() {
  bash -n "$0"
  for c in "$here"/*-cluster.yaml; do
    # kind decodes the config strictly, then stops at the first thing it
    # needs Docker for (pointed nowhere here, so nothing is created).
    out=$(DOCKER_HOST=unix:///nonexistent "$kind" create cluster --config "$c" --name kind-config-check 2>&1 || true)
    if ! grep -q "docker" <<<"$out" || grep -q "decode config" <<<"$out"; then
      echo "e2e/kind: $c: $out" >&2; exit 1
    fi
    if grep -q "role:" "$c" && grep "role:" "$c" | grep -vqE "role: (control-plane|worker)$"; then
      echo "e2e/kind: $c: a node role is neither control-plane nor worker" >&2; exit 1
    fi
  done
  "$helm" lint --strict "$root/charts/hub" --set postgresql.enabled=true >/dev/null
  "$helm" lint --strict "$root/charts/spoke" --set hub.url=http://h --set joinToken.existingSecret=t \
    --set capacity.cpus=2 --set capacity.memory=4Gi >/dev/null
  echo "e2e/kind: configs, charts and script are valid"
}

if [ "${1:-}" = --check ]; then check; exit 0; fi
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "e2e/kind: no Docker engine on this host, so no kind clusters: the kind suite did not run (it is not a pass)."
  echo "e2e/kind: run \`make e2e-kind\` on a host with Docker; \`e2e/kind/run.sh --check\` validates the configs here."
  exit 0
fi
check

cleanup() {
  [ "${KEEP:-}" = 1 ] && return
  for c in "${clusters[@]}"; do "$kind" delete cluster --name "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

make -C "$root" image build >/dev/null
image=switchyard:e2e
docker tag "$(docker load -i "$root/bin/image/switchyard.tar" | sed -n 's/^Loaded image: //p' | tail -1)" "$image"
docker pull -q busybox:1.37 >/dev/null

for c in "${clusters[@]}"; do
  "$kind" create cluster --config "$here/${c#switchyard-}-cluster.yaml" --wait 120s
  "$kind" load docker-image "$image" --name "$c"
  "$kind" load docker-image busybox:1.37 --name "$c"
done

hubctx=kind-switchyard-hub
"$helm" --kube-context "$hubctx" install hub "$root/charts/hub" --namespace switchyard --create-namespace --wait --timeout 5m \
  --set image.repository=switchyard --set image.tag=e2e --set image.pullPolicy=Never \
  --set postgresql.enabled=true --set service.type=NodePort --set externalURL=http://127.0.0.1:18080
kubectl --context "$hubctx" -n switchyard patch svc hub-switchyard-hub --type json \
  -p '[{"op":"replace","path":"/spec/ports/0/nodePort","value":30080}]'
token=$(kubectl --context "$hubctx" -n switchyard get secret hub-switchyard-hub-generated -o jsonpath='{.data.spoke-join-tokens}' | base64 -d)
password=$(kubectl --context "$hubctx" -n switchyard get secret hub-switchyard-hub-generated -o jsonpath='{.data.local-users}' | base64 -d | cut -d: -f2-)
# Spoke clusters reach the hub through the hub cluster node's address on kind's network.
hubip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' switchyard-hub-control-plane)

for n in 1 2; do
  ctx=kind-switchyard-spoke-$n
  kubectl --context "$ctx" create namespace switchyard
  kubectl --context "$ctx" -n switchyard create secret generic join --from-literal=token="$token"
  "$helm" --kube-context "$ctx" install spoke "$root/charts/spoke" --namespace switchyard --wait --timeout 5m \
    --set image.repository=switchyard --set image.tag=e2e --set image.pullPolicy=Never \
    --set hub.url="http://$hubip:30080" --set joinToken.existingSecret=join --set name="kind-$n" \
    --set steps.helperImage=busybox:1.37 --set capacity.cpus=2 --set capacity.memory=4Gi --set "labels.cluster=spoke-$n" \
    --set "tags={$([ "$n" = 1 ] && echo one || echo two)}"
done

fly=$root/bin/fly
export HOME=$(mktemp -d)
"$fly" -t kind login -c http://127.0.0.1:18080 -u admin -p "$password"
for _ in $(seq 1 60); do
  [ "$("$fly" -t kind workers | grep -c 'kind-[12]')" = 2 ] && break; sleep 2
done
"$fly" -t kind workers
"$fly" -t kind set-pipeline -n -p kind -c "$here/pipeline.yml"
"$fly" -t kind unpause-pipeline -p kind
"$fly" -t kind trigger-job -j kind/build -w | tee "$HOME/build.log"
grep -q "selected worker: kind-1" "$HOME/build.log"
grep -q "selected worker: kind-2" "$HOME/build.log"
grep -q "^built on spoke-1" "$HOME/build.log"
echo "e2e/kind: passed: a task on kind-1, its output read by a task on kind-2"
