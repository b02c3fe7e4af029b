// Package kube runs steps as pods on a Kubernetes cluster, the way the
// JetBridge runtime does for Concourse: one pod per step in the spoke's
// namespace, with a NetworkPolicy of its own, labelled so that everything of a
// build can be found.
//
// The built-in resource types (get, put, check) run in the spoke's process as
// on the local runtime; a build's artifacts are kept on the spoke's disk and
// streamed into and out of task pods (see artifacts.go).
//
// Not built yet, and said so in the step's error or here: custom resource
// types as pods, caches on PVCs (a task's caches are empty directories that
// do not outlive its pod), retries the hub sees as new attempts (an evicted
// pod is replaced here, inside the step), intercept and pod events.
package kube
