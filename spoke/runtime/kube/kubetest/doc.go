// Package kubetest gives tests a namespace of their own on the control plane
// that hack/with-kube.sh starts.
package kubetest
