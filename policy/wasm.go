package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/policy/preempt"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// cache is the one compilation cache of every WASM policy: a module is
// compiled once, whatever runtimes instantiate it.
var cache = wazero.NewCompilationCache()

// runtimeConfig is how every WASM instance runs: its own runtime (a module
// imports its memory and host functions by module name, so instances cannot
// share one), with bounded memory. Calls are stopped at their deadline by
// the checks package preempt adds to the module, not by wazero's
// WithCloseOnContextDone, which calls into Go on every loop iteration and
// made policies ten times slower (see preempt).
func runtimeConfig(lim Limits) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCompilationCache(cache).WithMemoryLimitPages(lim.MemoryPages)
}

// instance is one instantiated policy module, used by one evaluation at a
// time.
type instance interface {
	eval(ctx context.Context, input []byte) ([]byte, error)
	// evalSplit evaluates doc with field set to the array of items.
	evalSplit(ctx context.Context, doc []byte, field string, items [][]byte) ([]byte, error)
	close(ctx context.Context)
}

// wasmPolicy keeps a pool of instances of one module.
type wasmPolicy struct {
	engine string
	lim    Limits
	create func(ctx context.Context) (instance, error)
	idle   chan instance
	slots  chan struct{} // at most lim.Instances evaluations at once
}

// loadWASM tells an OPA-compiled module from one of our JSON ABI and checks
// that it imports nothing outside its ABI.
func loadWASM(ctx context.Context, name string, src []byte, lim Limits) (Policy, error) {
	src, err := preempt.Instrument(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(lim))
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("%s: not a WebAssembly module wazero can compile: %w", name, err)
	}
	exports := compiled.ExportedFunctions()
	p := &wasmPolicy{lim: lim, idle: make(chan instance, lim.Instances), slots: make(chan struct{}, lim.Instances)}
	switch {
	case exports["opa_eval"] != nil:
		if err := checkImports(name, compiled, opaImports); err != nil {
			return nil, err
		}
		p.engine = "opa-wasm"
		p.create = func(ctx context.Context) (instance, error) { return newOPAInstance(ctx, src, lim) }
	case exports[jsonEval] != nil:
		if err := checkImports(name, compiled, jsonImports); err != nil {
			return nil, err
		}
		for _, fn := range []string{jsonMalloc, jsonFree} {
			if exports[fn] == nil {
				return nil, fmt.Errorf("%s: the module exports %s but not %s: see the JSON ABI in the README", name, jsonEval, fn)
			}
		}
		p.engine = "wasm"
		p.create = func(ctx context.Context) (instance, error) { return newJSONInstance(ctx, src, lim) }
	default:
		return nil, fmt.Errorf("%s: the module exports neither opa_eval (a policy OPA compiled from Rego) nor %s (Switchyard's JSON ABI)", name, jsonEval)
	}
	// Instantiate once now, so that a module that cannot start is refused at
	// upload rather than at its first step.
	in, err := p.create(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.idle <- in
	return p, nil
}

// checkImports refuses imports outside allowed (module -> names; an empty
// set allows every name of the module).
func checkImports(name string, compiled wazero.CompiledModule, allowed map[string]map[string]bool) error {
	var bad []string
	for _, f := range compiled.ImportedFunctions() {
		mod, fn, _ := f.Import()
		names, ok := allowed[mod]
		if !ok || (len(names) > 0 && !names[fn]) {
			bad = append(bad, mod+"."+fn)
		}
	}
	for _, m := range compiled.ImportedMemories() {
		mod, field, _ := m.Import()
		if names, ok := allowed[mod]; !ok || (len(names) > 0 && !names[field]) {
			bad = append(bad, mod+"."+field+" (memory)")
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%s: the module imports %s, outside the ABI it follows; policies get no host functions beyond it", name, strings.Join(bad, ", "))
	}
	return nil
}

func (p *wasmPolicy) Engine() string { return p.engine }

// Eval runs the input through an idle instance, or a new one. An instance
// whose evaluation failed is dropped: after a trap or a deadline its state
// cannot be trusted (wazero has closed it).
func (p *wasmPolicy) Eval(ctx context.Context, input []byte) ([]byte, error) {
	return p.run(ctx, func(ctx context.Context, in instance) ([]byte, error) { return in.eval(ctx, input) })
}

// EvalSplit evaluates doc with field set to items; OPA instances, and
// modules that take items, parse only the items they have not seen.
func (p *wasmPolicy) EvalSplit(ctx context.Context, doc []byte, field string, items [][]byte) ([]byte, error) {
	return p.run(ctx, func(ctx context.Context, in instance) ([]byte, error) {
		return in.evalSplit(ctx, doc, field, items)
	})
}

var _ SplitEvaluator = (*wasmPolicy)(nil)

func (p *wasmPolicy) run(ctx context.Context, eval func(context.Context, instance) ([]byte, error)) (out []byte, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	// A fault of the WebAssembly runtime on a hostile module fails this
	// evaluation (its instance is dropped), not the hub.
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("the WebAssembly runtime failed on this policy: %v", v)
		}
	}()
	var in instance
	select {
	case in = <-p.idle:
	default:
		var err error
		if in, err = p.create(ctx); err != nil {
			return nil, err
		}
	}
	ectx, cancel := deadline(ctx, p.lim)
	defer cancel()
	out, err = eval(ectx, in)
	if err != nil {
		in.close(context.Background())
		return nil, timeoutError(ectx, wasmError(err), p.lim)
	}
	p.idle <- in
	return checkAnswer(out, p.lim)
}

// wasmError says what a failed call means.
func wasmError(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("policy exited with status %d", exit.ExitCode())
	}
	if msg := err.Error(); strings.HasPrefix(msg, "wasm error: ") {
		first, _, _ := strings.Cut(msg, "\n")
		return fmt.Errorf("policy trapped (%s): a panic, an abort, or its memory limit reached", first)
	}
	return fmt.Errorf("policy failed: %w", err)
}

func (p *wasmPolicy) Close(ctx context.Context) error {
	for {
		select {
		case in := <-p.idle:
			in.close(ctx)
		default:
			return nil
		}
	}
}

// readBytes copies n bytes of a module's memory.
func readBytes(mem api.Memory, ptr, n uint32) ([]byte, error) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("policy pointed outside its memory (%d+%d of %d bytes)", ptr, n, mem.Size())
	}
	return append([]byte(nil), b...), nil
}

// guest is an instantiated module whose calls stop when their context ends.
type guest struct {
	mod   api.Module
	stop  api.MutableGlobal       // preempt.StopGlobal
	funcs map[string]api.Function // each made once: making one allocates its stack
}

func newGuest(mod api.Module) (*guest, error) {
	stop, ok := mod.ExportedGlobal(preempt.StopGlobal).(api.MutableGlobal)
	if !ok {
		return nil, fmt.Errorf("the module was not instrumented: no global %s", preempt.StopGlobal)
	}
	return &guest{mod: mod, stop: stop, funcs: map[string]api.Function{}}, nil
}

// call calls an exported function and returns its first result. When ctx
// ends first, the module is told to stop, traps at its next check, and
// must not be used again: call then fails even if the function returned.
// start runs what instantiation would have run: the module's start
// function (which the rewrite exports as preempt.StartExport), then a
// reactor's _initialize, each under ten times the evaluation deadline and
// the same checks, so that a module that loops there is stopped and refused.
func (g *guest) start(ctx context.Context, lim Limits) error {
	for _, fn := range []string{preempt.StartExport, "_initialize"} {
		if g.mod.ExportedFunction(fn) == nil {
			continue
		}
		name := fn
		if fn == preempt.StartExport {
			name = "the start function"
		}
		sctx, cancel := context.WithTimeout(ctx, 10*lim.Timeout)
		_, err := g.call(sctx, fn)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, timeoutError(sctx, wasmError(err), Limits{Timeout: 10 * lim.Timeout}))
		}
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *guest) call(ctx context.Context, name string, args ...uint64) (uint64, error) {
	fn := g.funcs[name]
	if fn == nil {
		if fn = g.mod.ExportedFunction(name); fn == nil {
			return 0, fmt.Errorf("the module does not export %s", name)
		}
		g.funcs[name] = fn
	}
	stop := context.AfterFunc(ctx, func() { g.stop.Set(1) })
	res, err := fn.Call(ctx, args...)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}
