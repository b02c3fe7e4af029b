// Package local is the spoke runtime that runs steps as host processes, for the
// embedded default and development: each step gets a working directory under
// the spoke's directory, build artifacts are directories, task inputs are linked
// in and outputs moved out, params become the environment. Images are ignored:
// commands run from the host. Resource types run natively (see package resource).
//
// It is not isolation: steps run as the spoke's user. Use the kube runtime for
// untrusted work.
package local
