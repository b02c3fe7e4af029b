// Package vars parses Concourse's ((var)) references and interpolates them
// into values at run time: a whole-string reference takes its value with its
// type, one inside a longer string takes its text, fields walk into maps, and
// every reference nothing defines is reported at once, in Concourse's words
// ("undefined vars: a, b").
//
// It knows nothing of where values come from: the caller's Lookup answers
// each reference (hub/creds resolves them from var sources and the
// credential manager). It does not redact; package redact does.
package vars
