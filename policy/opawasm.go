package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/policy/wasmbin"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Our host for OPA's WASM ABI (policies OPA compiles from Rego with
// `opa build -t wasm -e switchyard`). The module imports its memory and
// opa_abort, opa_println and opa_builtin0..4 from "env"; wazero's host modules
// export functions only, so a small glue module "env", built here as raw
// bytes, owns the memory (bounded by the policy's limit) and re-exports the
// host functions of module "opa". Evaluation takes ABI 1.2's one-call path,
// opa_eval. Builtins that OPA does not compile into the module (sprintf, the
// time and crypto functions, ...) are not provided: a module that needs them
// is refused at upload, naming them.

var opaImports = map[string]map[string]bool{
	"env": {"memory": true, "opa_abort": true, "opa_println": true,
		"opa_builtin0": true, "opa_builtin1": true, "opa_builtin2": true, "opa_builtin3": true, "opa_builtin4": true},
}

// opaEntrypoint is the one entrypoint evaluated: the document at
// data.switchyard.
const opaEntrypoint = "switchyard"

type opaInstance struct {
	r          wazero.Runtime
	g          *guest
	mem        api.Memory
	data       uint64 // address of the parsed data document ({})
	heap       uint32 // first free address after initialisation
	items      opaItems
	entrypoint uint64
	lim        Limits
}

func newOPAInstance(ctx context.Context, src []byte, lim Limits) (instance, error) {
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(lim))
	in := &opaInstance{r: r, lim: lim}
	fail := func(err error) (instance, error) {
		r.Close(ctx)
		return nil, err
	}
	abort := func(_ context.Context, m api.Module, addr uint32) {
		panic(fmt.Errorf("policy aborted: %s", cString(in.mem, addr, 4096)))
	}
	builtin := func(_ context.Context, stack []uint64) {
		panic(fmt.Errorf("policy called builtin %d, which this host does not provide", stack[0]))
	}
	i32 := api.ValueTypeI32
	host := r.NewHostModuleBuilder("opa").
		NewFunctionBuilder().WithFunc(abort).Export("opa_abort").
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32) {}).Export("opa_println")
	for n := 0; n <= 4; n++ {
		params := make([]api.ValueType, n+2)
		for i := range params {
			params[i] = i32
		}
		host = host.NewFunctionBuilder().WithGoFunction(api.GoFunc(builtin), params, []api.ValueType{i32}).Export(fmt.Sprintf("opa_builtin%d", n))
	}
	if _, err := host.Instantiate(ctx); err != nil {
		return fail(err)
	}
	compiled, err := r.CompileModule(ctx, src)
	if err != nil {
		return fail(err)
	}
	minPages := uint32(2)
	for _, m := range compiled.ImportedMemories() {
		minPages = max(minPages, m.Min())
	}
	if minPages > lim.MemoryPages {
		return fail(fmt.Errorf("the module needs %d pages of memory, more than the %d allowed", minPages, lim.MemoryPages))
	}
	if _, err := r.InstantiateWithConfig(ctx, envModule(minPages, lim.MemoryPages), wazero.NewModuleConfig().WithName("env")); err != nil {
		return fail(fmt.Errorf("env glue: %w", err))
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("policy").WithStartFunctions())
	if err != nil {
		return fail(err)
	}
	if in.g, err = newGuest(mod); err != nil {
		return fail(err)
	}
	if err := in.g.start(ctx, lim); err != nil {
		return fail(err)
	}
	// Setting up runs the module's code too: bound it like _initialize.
	ctx, cancel := context.WithTimeout(ctx, 10*lim.Timeout)
	defer cancel()
	in.mem = mod.Memory()
	if in.mem == nil {
		in.mem = r.Module("env").Memory()
	}
	major, minor := globalValue(mod, "opa_wasm_abi_version"), globalValue(mod, "opa_wasm_abi_minor_version")
	if major != 1 || minor < 2 {
		return fail(fmt.Errorf("OPA WASM ABI %d.%d: this host needs 1.2 or later (OPA 0.27 and after)", major, minor))
	}
	needs, err := in.dumpJSON(ctx, "builtins")
	if err != nil {
		return fail(err)
	}
	if len(needs) > 0 {
		names := make([]string, 0, len(needs))
		for name := range needs {
			names = append(names, name)
		}
		sort.Strings(names)
		return fail(fmt.Errorf("the policy needs builtins %s, which the WASM host does not provide; run it as Rego, or write it without them", strings.Join(names, ", ")))
	}
	eps, err := in.dumpJSON(ctx, "entrypoints")
	if err != nil {
		return fail(err)
	}
	ep, ok := eps[opaEntrypoint]
	if !ok {
		return fail(fmt.Errorf("the module has no entrypoint %q: build it with `opa build -t wasm -e %s`", opaEntrypoint, opaEntrypoint))
	}
	var id int
	if err := json.Unmarshal(ep, &id); err != nil {
		return fail(fmt.Errorf("entrypoint %s: %w", opaEntrypoint, err))
	}
	in.entrypoint = uint64(id)
	// The data document is empty: policies decide from their input.
	addr, err := in.g.call(ctx, "opa_malloc", 2)
	if err != nil {
		return fail(err)
	}
	in.mem.Write(uint32(addr), []byte("{}"))
	if in.data, err = in.g.call(ctx, "opa_json_parse", addr, 2); err != nil {
		return fail(err)
	}
	heap, err := in.g.call(ctx, "opa_heap_ptr_get")
	if err != nil {
		return fail(err)
	}
	in.heap = uint32(heap)
	in.items.ok = in.checkLayout(ctx)
	return in, nil
}

// dumpJSON calls an export that returns a value and decodes its JSON dump.
func (in *opaInstance) dumpJSON(ctx context.Context, fn string) (map[string]json.RawMessage, error) {
	v, err := in.g.call(ctx, fn)
	if err != nil {
		return nil, err
	}
	s, err := in.g.call(ctx, "opa_json_dump", v)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(cString(in.mem, uint32(s), 1<<20), &out); err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return out, nil
}

// eval writes the input after the initial heap and runs opa_eval, which
// answers [{"result": <data.switchyard>}] (or [] when undefined).
func (in *opaInstance) eval(ctx context.Context, input []byte) ([]byte, error) {
	need := uint64(in.heap) + uint64(len(input)) + 64<<10
	if size := uint64(in.mem.Size()); need > size {
		if _, ok := in.mem.Grow(uint32((need - size + 65535) / 65536)); !ok {
			return nil, fmt.Errorf("the input (%d bytes) does not fit in the policy's memory limit", len(input))
		}
	}
	in.items.values = nil // overwritten
	in.mem.Write(in.heap, input)
	res, err := in.g.call(ctx, "opa_eval", 0, in.entrypoint, in.data, uint64(in.heap), uint64(len(input)), uint64(in.heap)+uint64(len(input)), 0)
	if err != nil {
		return nil, err
	}
	return in.resultSet(uint32(res))
}

// resultSet reads the result set dumped at addr, and answers its first
// result.
func (in *opaInstance) resultSet(addr uint32) ([]byte, error) {
	raw := cString(in.mem, addr, in.lim.MaxOutput+64)
	if len(raw) > in.lim.MaxOutput+32 {
		return nil, fmt.Errorf("policy answered more than the %d bytes allowed", in.lim.MaxOutput)
	}
	var sets []struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &sets); err != nil {
		return nil, fmt.Errorf("policy answered with something that is not a result set: %.100q", raw)
	}
	if len(sets) == 0 {
		return []byte("{}"), nil
	}
	return sets[0].Result, nil
}

func (in *opaInstance) close(ctx context.Context) { in.r.Close(ctx) }

// cString reads a NUL-terminated string of at most max bytes.
func cString(mem api.Memory, addr uint32, max int) []byte {
	var out []byte
	for len(out) <= max {
		n := uint32(min(4096, max+1-len(out)))
		if rest := mem.Size() - addr; rest < n {
			n = rest
		}
		if n == 0 {
			break
		}
		b, ok := mem.Read(addr, n)
		if !ok {
			break
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return append(out, b[:i]...)
		}
		out = append(out, b...)
		addr += n
	}
	return out
}

func globalValue(mod api.Module, name string) uint64 {
	g := mod.ExportedGlobal(name)
	if g == nil {
		return 0
	}
	return g.Get()
}

// envModule is the glue module "env": it defines the memory (min pages, at
// most max) and re-exports the host functions of module "opa".
func envModule(minPages, maxPages uint32) []byte {
	i32 := byte(0x7f)
	types := [][]byte{
		{0x60, 1, i32, 0},                               // (i32) -> ()
		{0x60, 2, i32, i32, 1, i32},                     // builtin0
		{0x60, 3, i32, i32, i32, 1, i32},                // builtin1
		{0x60, 4, i32, i32, i32, i32, 1, i32},           // builtin2
		{0x60, 5, i32, i32, i32, i32, i32, 1, i32},      // builtin3
		{0x60, 6, i32, i32, i32, i32, i32, i32, 1, i32}, // builtin4
	}
	funcs := []struct {
		name string
		typ  byte
	}{{"opa_abort", 0}, {"opa_println", 0}, {"opa_builtin0", 1}, {"opa_builtin1", 2}, {"opa_builtin2", 3}, {"opa_builtin3", 4}, {"opa_builtin4", 5}}
	var imports, exports [][]byte
	for i, f := range funcs {
		imports = append(imports, append(append(wasmbin.Name("opa"), wasmbin.Name(f.name)...), 0x00, f.typ))
		exports = append(exports, append(append(wasmbin.Name(f.name), 0x00), wasmbin.ULEB(uint32(i))...))
	}
	exports = append(exports, append(wasmbin.Name("memory"), 0x02, 0))
	memory := append(append([]byte{0x01}, wasmbin.ULEB(minPages)...), wasmbin.ULEB(maxPages)...)
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, wasmbin.Section(1, types)...)
	out = append(out, wasmbin.Section(2, imports)...)
	out = append(out, wasmbin.Section(5, [][]byte{memory})...)
	out = append(out, wasmbin.Section(7, exports)...)
	return out
}
