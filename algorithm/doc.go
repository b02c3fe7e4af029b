// Package algorithm resolves a job's input versions with Concourse's v6+
// semantics: independent inputs take the latest, the next (every) or a pinned
// version; inputs whose passed jobs overlap are resolved together over the
// output sets of those jobs' succeeded builds, so that their versions passed
// through the same builds.
//
// It is pure: it reads a snapshot through the small VersionsDB interface (the
// store implements it with bounded queries) and returns versions and reasons.
// It does no I/O of its own, reads no clock and writes no logs.
package algorithm
