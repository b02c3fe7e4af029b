package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Policy evaluates an input document (JSON) to the policy's answer (JSON).
// It is safe for concurrent use.
type Policy interface {
	Eval(ctx context.Context, input []byte) ([]byte, error)
	// Engine says which engine runs it: rego, opa-wasm or wasm.
	Engine() string
	Close(ctx context.Context) error
}

// ValueEvaluator is a policy that also takes its input as a Rego value and
// gives its answer as Go values (as encoding/json decodes into any, numbers
// as json.Number), which callers that build and read those directly use to
// skip JSON both ways (Rego policies).
type ValueEvaluator interface {
	EvalValue(ctx context.Context, input ast.Value) (any, error)
}

// Limits bound one policy.
type Limits struct {
	Timeout     time.Duration // per evaluation (default 100ms)
	MemoryPages uint32        // WASM linear memory, 64 KiB pages (default 1024: 64 MiB)
	MaxOutput   int           // bytes of answer (default 1 MiB)
	Instances   int           // WASM instances kept for concurrent evaluations (default 4)
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = 100 * time.Millisecond
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = 1024
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = 1 << 20
	}
	if l.Instances <= 0 {
		l.Instances = 4
	}
	return l
}

// wasmMagic starts every WebAssembly binary.
var wasmMagic = []byte("\x00asm")

// Load prepares a policy from its source: Rego text, or a WebAssembly module
// (OPA-compiled, or our JSON ABI). name is used in error messages (a file
// name, so that Rego errors read file:line).
func Load(ctx context.Context, name string, src []byte, lim Limits) (p Policy, err error) {
	// A fault of a policy runtime on hostile input refuses the policy; it
	// does not take the hub down.
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("%s: refused: the policy runtime failed on it: %v", name, v)
		}
	}()
	lim = lim.withDefaults()
	if bytes.HasPrefix(src, wasmMagic) {
		return loadWASM(ctx, name, src, lim)
	}
	return loadRego(ctx, name, src, lim)
}

// ErrTimeout is an evaluation stopped at its deadline.
var ErrTimeout = errors.New("policy ran past its deadline")

// checkAnswer refuses answers that are too large or not JSON.
func checkAnswer(out []byte, lim Limits) ([]byte, error) {
	if len(out) > lim.MaxOutput {
		return nil, fmt.Errorf("policy answered %d bytes, more than the %d allowed", len(out), lim.MaxOutput)
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("policy answered with something that is not JSON: %.100q", out)
	}
	return out, nil
}

// deadline gives ctx the policy's timeout, and turns a deadline error into
// ErrTimeout.
func deadline(ctx context.Context, lim Limits) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, lim.Timeout)
}

func timeoutError(ctx context.Context, err error, lim Limits) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s)", ErrTimeout, lim.Timeout)
	}
	return err
}
