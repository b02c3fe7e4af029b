// Package resource implements the resource types a spoke runs natively, without
// an image: mock (Concourse's mock-resource semantics), time and git. Each takes
// the JSON request of Concourse's resource protocol and a directory, and
// returns the protocol's response; logs go to the writer it is given.
//
// Other types need the kube runtime, which runs their images.
package resource
