// Package pipeline reads Concourse pipeline YAML: it parses it within bounds
// (size, depth, alias expansion), interpolates static ((vars)), decodes it strictly
// into typed config with the line of every part, validates names and
// cross-references, and compiles a job's plan into the tree of steps that the build
// engine executes.
//
// Every error names the file, the line and the field, and says what to do.
//
// It does not talk to the hub, read credentials or resolve versions: ((source:var))
// references are left for the var sources at run time, and the versions a get
// fetches are chosen by the algorithm.
package pipeline
