package policy

import (
	"context"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Switchyard's JSON ABI, for policies in any language compiled to WASM:
//
//	switchyard_malloc(size i32) -> ptr i32     a buffer for the input
//	switchyard_eval(ptr i32, len i32) -> i64   the answer: ptr << 32 | len
//	switchyard_free(ptr i32)                   the host is done with a buffer
//	memory                                     the module's linear memory
//
// The input is the JSON document; the answer is JSON. A reactor's
// _initialize runs once when the instance starts. The only imports allowed
// are WASI preview 1's, which toolchains need to start: the host gives them
// no files, no environment, no arguments, and discards stdout and stderr.
const (
	jsonMalloc = "switchyard_malloc"
	jsonEval   = "switchyard_eval"
	jsonFree   = "switchyard_free"
)

var jsonImports = map[string]map[string]bool{wasi_snapshot_preview1.ModuleName: {}}

type jsonInstance struct {
	r   wazero.Runtime
	g   *guest
	lim Limits
}

func newJSONInstance(ctx context.Context, src []byte, lim Limits) (instance, error) {
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(lim))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, err
	}
	compiled, err := r.CompileModule(ctx, src)
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	cfg := wazero.NewModuleConfig().WithName("policy").WithStdout(io.Discard).WithStderr(io.Discard).WithStartFunctions()
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("start the module: %w", err)
	}
	g, err := newGuest(mod)
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	if mod.ExportedFunction("_initialize") != nil {
		ictx, cancel := context.WithTimeout(ctx, 10*lim.Timeout)
		defer cancel()
		if _, err := g.call(ictx, "_initialize"); err != nil {
			r.Close(ctx)
			return nil, fmt.Errorf("_initialize: %w", timeoutError(ictx, wasmError(err), Limits{Timeout: 10 * lim.Timeout}))
		}
	}
	return &jsonInstance{r: r, g: g, lim: lim}, nil
}

func (j *jsonInstance) eval(ctx context.Context, input []byte) ([]byte, error) {
	ptr, err := j.g.call(ctx, jsonMalloc, uint64(len(input)))
	if err != nil {
		return nil, err
	}
	if !j.g.mod.Memory().Write(uint32(ptr), input) {
		return nil, fmt.Errorf("%s gave a buffer outside the module's memory", jsonMalloc)
	}
	packed, err := j.g.call(ctx, jsonEval, ptr, uint64(len(input)))
	if err != nil {
		return nil, err
	}
	outPtr, outLen := uint32(packed>>32), uint32(packed)
	if int(outLen) > j.lim.MaxOutput {
		return nil, fmt.Errorf("policy answered %d bytes, more than the %d allowed", outLen, j.lim.MaxOutput)
	}
	out, err := readBytes(j.g.mod.Memory(), outPtr, outLen)
	if err != nil {
		return nil, err
	}
	if _, err := j.g.call(ctx, jsonFree, uint64(outPtr)); err != nil {
		return nil, err
	}
	return out, nil
}

func (j *jsonInstance) close(ctx context.Context) { j.r.Close(ctx) }
