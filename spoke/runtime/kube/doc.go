// Package kube runs steps as pods on a Kubernetes cluster, the way the
// JetBridge runtime does for Concourse: one pod per step in the spoke's
// namespace, with a NetworkPolicy of its own, labelled so that everything of a
// build can be found.
//
// Tasks run in their image; custom resource types' check, in and out run in
// the type's image (resource.go); the built-in types (mock, time, git) run in
// the spoke's process as on the local runtime. A build's artifacts are kept on
// the spoke's disk and streamed into and out of pods through exec
// (artifacts.go). Task caches are PersistentVolumeClaims per job, step and path
// (caches.go); a custom type's gets are kept on the spoke's disk by version
// (resourcecache.go).
//
// Pods are followed with the API's watch (watch.go), whose news (where a pod
// was scheduled, why it cannot be, why a container waits) goes to the step's
// log. A pod evicted or lost with its node ends the step's run as lost, and
// the hub runs the step again. fly intercept execs in a running step's pod,
// or in a failed step's kept pod (intercept.go).
package kube
