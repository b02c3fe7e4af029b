package policy

import (
	"context"
	"encoding/binary"
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
// The input is the JSON document; the answer is JSON. A buffer the host
// passes to the module (input, items, handles) is the module's afterwards.
// A reactor's _initialize runs once when the instance starts. The only
// imports allowed are WASI preview 1's, which toolchains need to start: the
// host gives them no files, no environment, no arguments, and discards
// stdout and stderr.
//
// A module may also take the spokes one at a time, and keep them between
// evaluations (placement passes only the spokes that changed):
//
//	switchyard_item(ptr i32, len i32) -> handle i32      one spoke's JSON; 0 refuses it
//	switchyard_eval_items(ptr i32, len i32, handles i32, n i32) -> i64
//	                                  the input without spokes, and n handles (u32, little-endian)
//	switchyard_drop(handle i32)       the host will not pass the handle again
const (
	jsonMalloc    = "switchyard_malloc"
	jsonEval      = "switchyard_eval"
	jsonFree      = "switchyard_free"
	jsonItem      = "switchyard_item"
	jsonEvalItems = "switchyard_eval_items"
	jsonDrop      = "switchyard_drop"
)

var jsonImports = map[string]map[string]bool{wasi_snapshot_preview1.ModuleName: {}}

type jsonInstance struct {
	r     wazero.Runtime
	g     *guest
	lim   Limits
	items map[string]uint32 // item JSON -> the module's handle, when it takes items
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
	if err := g.start(ctx, lim); err != nil {
		r.Close(ctx)
		return nil, err
	}
	j := &jsonInstance{r: r, g: g, lim: lim}
	if mod.ExportedFunction(jsonItem) != nil && mod.ExportedFunction(jsonEvalItems) != nil && mod.ExportedFunction(jsonDrop) != nil {
		j.items = map[string]uint32{}
	}
	return j, nil
}

func (j *jsonInstance) eval(ctx context.Context, input []byte) ([]byte, error) {
	ptr, err := j.pass(ctx, input)
	if err != nil {
		return nil, err
	}
	packed, err := j.g.call(ctx, jsonEval, ptr, uint64(len(input)))
	if err != nil {
		return nil, err
	}
	return j.answer(ctx, packed)
}

// evalSplit passes the items the module has not seen, then the document
// and the handles of all items; a module without the item exports gets the
// joined document.
func (j *jsonInstance) evalSplit(ctx context.Context, doc []byte, field string, items [][]byte) ([]byte, error) {
	if j.items == nil {
		return j.eval(ctx, JoinArray(doc, field, items))
	}
	if len(j.items) > itemCacheFactor*len(items)+64 {
		if err := j.dropStale(ctx, items); err != nil {
			return nil, err
		}
	}
	handles := make([]byte, 0, 4*len(items))
	for k, it := range items {
		h, ok := j.items[string(it)]
		if !ok {
			ptr, err := j.pass(ctx, it)
			if err != nil {
				return nil, err
			}
			v, err := j.g.call(ctx, jsonItem, ptr, uint64(len(it)))
			if err != nil {
				return nil, err
			}
			if h = uint32(v); h == 0 {
				return nil, fmt.Errorf("policy refused %s item %d: %.100s", field, k, it)
			}
			j.items[string(it)] = h
		}
		handles = binary.LittleEndian.AppendUint32(handles, h)
	}
	docPtr, err := j.pass(ctx, doc)
	if err != nil {
		return nil, err
	}
	hPtr, err := j.pass(ctx, handles)
	if err != nil {
		return nil, err
	}
	packed, err := j.g.call(ctx, jsonEvalItems, docPtr, uint64(len(doc)), hPtr, uint64(len(items)))
	if err != nil {
		return nil, err
	}
	return j.answer(ctx, packed)
}

// dropStale tells the module to forget the items not in use.
func (j *jsonInstance) dropStale(ctx context.Context, items [][]byte) error {
	keep := make(map[string]bool, len(items))
	for _, it := range items {
		keep[string(it)] = true
	}
	for it, h := range j.items {
		if !keep[it] {
			if _, err := j.g.call(ctx, jsonDrop, uint64(h)); err != nil {
				return err
			}
			delete(j.items, it)
		}
	}
	return nil
}

// pass copies b into a buffer of the module's.
func (j *jsonInstance) pass(ctx context.Context, b []byte) (uint64, error) {
	ptr, err := j.g.call(ctx, jsonMalloc, uint64(len(b)))
	if err != nil {
		return 0, err
	}
	if !j.g.mod.Memory().Write(uint32(ptr), b) {
		return 0, fmt.Errorf("%s gave a buffer outside the module's memory", jsonMalloc)
	}
	return ptr, nil
}

// answer reads the answer ptr << 32 | len, and frees it.
func (j *jsonInstance) answer(ctx context.Context, packed uint64) ([]byte, error) {
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
