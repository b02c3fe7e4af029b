#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-scheduler and kube-controller-manager from the Go
# module proxy through throwaway wrapper modules (INFRA.md), cached by version.
# Prints the directory holding the binaries. A warm cache returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
dest=$(cache_root)/k8s-$K8S_VERSION-etcd-$ETCD_VERSION
bins=(etcd kube-apiserver kube-scheduler kube-controller-manager)

complete() { for b in "${bins[@]}"; do [ -x "$dest/$b" ] || return 1; done; }
if complete; then echo "$dest"; exit 0; fi

log "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION into $dest (about 5 minutes cold)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out
mkdir -p "$out"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

# etcd
mkdir -p "$work/etcd"
cd "$work/etcd"
cat > go.mod <<MOD
module switchyard.local/etcdbuild

go 1.25

require (
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)
MOD
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3/etcdmain"
GO
go mod tidy >&2
go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3 >&2

# Kubernetes: replace each staging module with its published v0 version.
mkdir -p "$work/k8s"
cd "$work/k8s"
modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging_version=v0.${K8S_VERSION#v1.}
{
  echo "module switchyard.local/k8sbuild"
  echo
  echo "go 1.25"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$modfile"
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
GO
go mod tidy >&2
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done
for b in kube-apiserver kube-scheduler kube-controller-manager; do
  go build -ldflags "$ld" -o "$out/$b" "k8s.io/kubernetes/cmd/$b" >&2
done

publish "$out" "$dest"
echo "$dest"
