// Package preempt rewrites a WebAssembly module so that a host can stop it:
// every function entry and every loop iteration counts down a budget, and
// when the budget runs out the module calls memory.grow(0), which wazero
// serves in Go (a point where the Go scheduler and garbage collector can
// reach the goroutine), and traps if the host has set the exported global
// StopGlobal.
//
// It replaces wazero's WithCloseOnContextDone, which leaves compiled code to
// call into Go on every loop iteration: about 40 ns each, which made a
// policy parsing 20 KB of JSON take 2 ms instead of 0.2 ms. The checks
// added here cost a global decrement and a branch.
//
// It is not a full validator: wazero validates the rewritten module when it
// compiles it. It refuses modules it cannot rewrite (an instruction it does
// not know, no memory, an export already named StopGlobal), and it is the
// bound wazero lacks: wazero allocates what a module declares (tables,
// segments, locals) before checking it, so a module of a few bytes could
// make the hub run out of memory and die. Every count is checked against
// the bytes that follow, locals and table sizes against MaxLocals and
// MaxTableElements, table.grow is refused, and custom sections (names,
// debug information) are dropped unread.
package preempt
