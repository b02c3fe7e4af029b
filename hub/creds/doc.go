// Package creds resolves a build's ((vars)) at run time: from the
// pipeline's var_sources (dummy, kubernetes, idtoken), the hub's
// cluster-wide credential manager (kubernetes or dummy), and the build's
// local vars, in Concourse's order. A Resolver serves one build; it refuses
// every managed value to an untrusted build, and remembers the values it
// handed out so the spoke can redact them from logs.
//
// Lookups retry network errors a bounded number of times, each attempt under
// a timeout, and may be cached briefly (off by default). Values are never
// written anywhere: the engine checks a step's vars before placing it, and
// the gateway resolves them again (or takes the engine's answer in this
// process) when it hands the step to its spoke.
//
// It does not parse references (package vars) or redact (package redact).
package creds
