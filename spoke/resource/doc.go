// Package resource implements the resource types a spoke runs natively,
// without an image: mock (Concourse's mock-resource semantics), time
// (upstream's rules, over a clock tests set), git (on the git CLI, over SSH
// with a source's key), s3 (upstream's rules, with minio-go),
// registry-image (with go-containerregistry) and semver (its s3 and git
// drivers). Each takes the JSON request of Concourse's resource
// protocol and a directory, and returns the protocol's response; logs go to
// the writer it is given.
//
// Other types are declared under resource_types with an image, which the kube
// runtime runs.
package resource
