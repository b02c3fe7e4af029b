// Package local is the spoke runtime that runs steps as host processes, for the
// embedded default and development: each step gets a working directory under
// the spoke's directory, build artifacts are directories, task inputs are linked
// in and outputs moved out, params become the environment. A task without an
// image runs from the host; a task whose image is a build artifact (image:, a
// registry-image get) runs inside that artifact's rootfs/ with the image's env
// and user, when the spoke runs as root (package imageexec). Resource types
// run natively (see package resource).
//
// It is not isolation: steps run as the spoke's user. Use the kube runtime for
// untrusted work.
package local
