#!/usr/bin/env bash
# Runs a command beside a throwaway Kubernetes control plane with one test node
# (hack/kube.sh, hack/vknode.sh): SWITCHYARD_TEST_KUBECONFIG names its admin
# kubeconfig, and SWITCHYARD_TEST_IMAGES the test node's image overlays
# (hack/vknode/images.go). Everything is stopped when the command ends.
#   hack/with-kube.sh go test ./spoke/runtime/kube/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/switchyard-kube.XXXXXX)
trap '"$here/vknode.sh" stop "$work/node" >/dev/null 2>&1 || true; "$here/kube.sh" stop "$work/kube" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
kubeconfig=$("$here/kube.sh" start "$work/kube")
export SWITCHYARD_TEST_IMAGES=$work/images
VKNODE_IMAGES=$SWITCHYARD_TEST_IMAGES "$here/vknode.sh" start "$work/node" "$kubeconfig" test-node >/dev/null
export SWITCHYARD_TEST_KUBECONFIG=$kubeconfig
"$@"
