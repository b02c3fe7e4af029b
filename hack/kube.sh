#!/usr/bin/env bash
# A throwaway Kubernetes control plane on 127.0.0.1 from the binaries hack/k8s.sh caches.
#   hack/kube.sh start DIR   etcd + kube-apiserver (+ kube-scheduler and kube-controller-manager
#                            unless KUBE_CONTROLLERS=0); prints the path of an admin kubeconfig
#   hack/kube.sh stop DIR    stop everything started in DIR and delete DIR
# NetworkPolicies are stored and validated but not enforced (no network plugin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need curl curl
need openssl openssl

wait_ready() { # URL TOKEN LOG
  for _ in $(seq 1 240); do
    if curl -skf -H "Authorization: Bearer $2" "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "not ready after 60s: $1"; tail -30 "$3" >&2; return 1
}

start() {
  local dir=$1 bins
  bins=$("$here/k8s.sh")
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local etcd_port peer_port api_port token
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "$token,admin,admin,system:masters" >"$dir/tokens.csv"
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null

  spawn etcd "$dir" "$bins/etcd" --data-dir "$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --log-level warn

  local admission=()
  [ "${KUBE_CONTROLLERS:-1}" = 0 ] && admission=(--disable-admission-plugins ServiceAccount)
  spawn apiserver "$dir" "$bins/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$dir/certs" \
    --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/sa.pub" \
    --service-account-signing-key-file "$dir/sa.key" --service-cluster-ip-range 10.0.0.0/24 \
    --endpoint-reconciler-type none "${admission[@]}"
  wait_ready "https://127.0.0.1:$api_port/readyz" "$token" "$dir/apiserver.log"

  cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$api_port", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC
  if [ "${KUBE_CONTROLLERS:-1}" != 0 ]; then
    spawn scheduler "$dir" "$bins/kube-scheduler" --kubeconfig "$dir/kubeconfig" --leader-elect=false \
      --bind-address 127.0.0.1 --secure-port "$(free_port)"
    # Keep nodelifecycle on (the default set), or new nodes keep their not-ready taint.
    # The apiserver's own self-signed CA is what pods' kube-root-ca.crt holds, so
    # in-cluster clients on the test node verify the apiserver.
    spawn controller-manager "$dir" "$bins/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
      --leader-elect=false --bind-address 127.0.0.1 --secure-port "$(free_port)" \
      --service-account-private-key-file "$dir/sa.key" --use-service-account-credentials=false \
      --root-ca-file "$dir/certs/apiserver.crt" \
      --cluster-signing-duration 1h
  fi
  echo "$dir/kubeconfig"
}

stop() {
  local dir=$1 name
  for name in controller-manager scheduler apiserver etcd; do
    stop_pidfile "$dir/$name.pid"
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?usage: kube.sh start DIR}" ;;
  stop) stop "${2:?usage: kube.sh stop DIR}" ;;
  *) echo "usage: kube.sh start|stop DIR" >&2; exit 2 ;;
esac
