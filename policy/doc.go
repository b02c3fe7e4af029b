// Package policy runs the policies that place steps and answer admission
// questions, behind one interface and two engines:
//
//   - Rego (opa/v1/rego), prepared once per policy and evaluated with a
//     deadline (rego.go);
//   - WebAssembly on wazero: modules OPA compiles from Rego, through our own
//     host for OPA's WASM ABI (opawasm.go), and modules in any language
//     against Switchyard's small JSON ABI (jsonabi.go; examples/policies has a
//     Go reference).
//
// Every policy answers one question: given an input document, what is its
// document at data.switchyard (for a JSON ABI module: what its eval returns)?
// Placement reads the "placement" key of that answer, admission the
// "admission" key. A policy that fails, runs past its deadline, traps,
// allocates past its memory limit, or returns too much or garbage gives an
// error saying which; the caller records it as a decision error.
package policy
