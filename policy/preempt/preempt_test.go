package preempt_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/policy/preempt"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// module assembles a module from its sections (id, body).
func module(sections ...[]byte) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		out = append(out, s[0], byte(len(s)-1))
		out = append(out, s[1:]...)
	}
	return out
}

// spinSum exports spin, a loop without end, and sum(n) = n + ... + 1, a
// loop inside a block; with a memory unless noMemory.
func spinSum(noMemory bool) []byte { return spinSumNamed(noMemory, "spin") }

func spinSumNamed(noMemory bool, spinName string) []byte {
	types := []byte{1, 2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f}
	funcs := []byte{3, 2, 0, 1}
	memory := []byte{5, 1, 0, 1}
	exports := append([]byte{7, 2, byte(len(spinName))}, spinName...)
	exports = append(exports, 0, 0, 3, 's', 'u', 'm', 0, 1)
	spin := []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}
	sum := []byte{1, 1, 0x7f,
		0x02, 0x40, 0x03, 0x40,
		0x20, 0, 0x45, 0x0d, 1,
		0x20, 1, 0x20, 0, 0x6a, 0x21, 1,
		0x20, 0, 0x41, 1, 0x6b, 0x21, 0,
		0x0c, 0, 0x0b, 0x0b,
		0x20, 1, 0x0b}
	code := append([]byte{10, 2, byte(len(spin))}, spin...)
	code = append(append(code, byte(len(sum))), sum...)
	if noMemory {
		return module(types, funcs, exports, code)
	}
	return module(types, funcs, memory, exports, code)
}

func instantiate(t *testing.T, src []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	out, err := preempt.Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate the rewritten module: %v", err)
	}
	return mod
}

// The rewritten module computes what the original did, through many
// refills of its budget.
func TestInstrumentedModuleComputesTheSame(t *testing.T) {
	mod := instantiate(t, spinSum(false))
	res, err := mod.ExportedFunction("sum").Call(context.Background(), 50000)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := int32(res[0]), int32(50000*50001/2); got != want {
		t.Errorf("sum(50000) = %d, want %d", got, want)
	}
}

// A loop without end stops once the host sets the stop global, although
// wazero inserts no checks of its own (WithCloseOnContextDone is off).
func TestStopGlobalStopsALoop(t *testing.T) {
	mod := instantiate(t, spinSum(false))
	stop, ok := mod.ExportedGlobal(preempt.StopGlobal).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %s exported", preempt.StopGlobal)
	}
	timer := time.AfterFunc(50*time.Millisecond, func() { stop.Set(1) })
	defer timer.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("spin ended with %v, want a trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spin was not stopped")
	}
}

func TestInstrumentRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  []byte
		want string
	}{
		{"junk", []byte("\x00asm junk"), "not a WebAssembly module"},
		{"no memory", spinSum(true), "has no memory"},
		{"export named like the stop global", spinSumNamed(false, preempt.StopGlobal), "already exports " + preempt.StopGlobal},
		{"truncated", spinSum(false)[:20], "unexpected end"},
		{"unknown instruction", []byte(strings.Replace(string(spinSum(false)), "\x03\x40\x0c\x00", "\x03\x40\x06\x00", 1)), "instruction 0x06"},
		{"unknown section", module([]byte{13, 0}, []byte{5, 1, 0, 1}), "section id 13"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := preempt.Instrument(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// hostileModules are small modules that declare far more than they hold, or
// more than the host allows: wazero allocates what they declare before it
// checks (the first one made the hub run out of memory and die).
func hostileModules() map[string]struct {
	src  []byte
	want string
} {
	memory := []byte{5, 1, 0, 1}
	oneFunc := []byte{1, 1, 0x60, 0, 0}
	funcs := []byte{3, 1, 0}
	table := []byte{4, 1, 0x70, 0, 1}
	many := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 4294967295
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string]struct {
		src  []byte
		want string
	}{
		"4 billion tables":    {module(cat([]byte{4}, many), memory), "vector longer than the bytes"},
		"a huge table":        {module([]byte{4, 1, 0x70, 0, 0xff, 0xff, 0xff, 0x3f}, memory), "more than the 1048576"},
		"an imported table":   {module([]byte{2, 1, 1, 'm', 1, 't', 1, 0x70, 0, 0x80, 0x80, 0x80, 0x01}, memory), "more than the 1048576"},
		"4 billion elements":  {module(table, memory, cat([]byte{9, 1, 1, 0}, many)), "vector longer than the bytes"},
		"a huge data segment": {module(memory, cat([]byte{11, 1, 0, 0x41, 0, 0x0b}, many)), "unexpected end"},
		"4 billion locals": {module(oneFunc, funcs, memory, cat([]byte{10, 1, 8, 1}, many, []byte{0x7f, 0x0b})),
			"4294967295 locals, more than the 50000"},
		"4 billion locals behind a count of functions the section cannot hold": {module(oneFunc, funcs, memory,
			cat([]byte{10, 25, 8, 1}, many, []byte{0x7f, 0x0b})), "code section: a vector longer than the bytes"},
		// The rewrite appends a type: the junk after the last one would have
		// been read as a type with 3 billion parameters.
		"bytes after the last type": {module(cat([]byte{1, 0}, []byte("`\xf6\xf6\xf6\xf6\x0b10")), memory), "section 1: 8 bytes after its last item"},
		// wazero indexed its types by this before checking it, and panicked.
		"a function of a type the module lacks": {module(oneFunc, []byte{3, 2, 0, 48}, memory,
			[]byte{10, 2, 2, 0, 0x0b, 2, 0, 0x0b}), "a function of type 48, but the module has 1 types"},
		"table.grow": {module(oneFunc, funcs, table, memory,
			[]byte{10, 1, 10, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, 0x0b}), "table.grow"},
	}
}

func TestInstrumentRefusesHostileModules(t *testing.T) {
	for name, tt := range hostileModules() {
		t.Run(name, func(t *testing.T) {
			_, err := preempt.Instrument(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// A name section that declares 4 billion names is dropped unread: the
// rewritten module compiles, and wazero never decodes the names.
func TestInstrumentDropsCustomSections(t *testing.T) {
	names := module([]byte{0, 4, 'n', 'a', 'm', 'e', 1, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0})[8:]
	src := append(spinSum(false), names...)
	out, err := preempt.Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "name") {
		t.Error("the rewritten module still has its name section")
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, out); err != nil {
		t.Fatal(err)
	}
}

// withoutCustom is src without its custom sections, or src when it is not a
// sequence of sections.
func withoutCustom(src []byte) []byte {
	out := append([]byte{}, src[:8]...)
	for pos := 8; pos < len(src); {
		id := src[pos]
		n, size, shift := 0, 0, 0
		for i := pos + 1; ; i++ {
			if i >= len(src) || shift > 28 {
				return src
			}
			n |= int(src[i]&0x7f) << shift
			shift += 7
			if src[i]&0x80 == 0 {
				size = i + 1 - pos
				break
			}
		}
		end := pos + size + n
		if end > len(src) {
			return src
		}
		if id != 0 {
			out = append(out, src[pos:end]...)
		}
		pos = end
	}
	return out
}

// FuzzInstrument: whatever the bytes, Instrument returns within bounds and
// does not panic; a module wazero compiles still compiles once rewritten.
func FuzzInstrument(f *testing.F) {
	f.Add(spinSum(false))
	f.Add(spinSum(true))
	f.Add(spinSumNamed(false, preempt.StopGlobal))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	for _, m := range hostileModules() {
		f.Add(m.src)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := preempt.Instrument(src)
		if err != nil {
			return
		}
		// Only what Instrument accepted reaches wazero, as in the hub:
		// wazero cannot be given unchecked bytes, even here. The
		// interpreter decodes and validates as the compiler does, without
		// generating machine code: a slow compile is not what this tests.
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer r.Close(ctx)
		_, err = r.CompileModule(ctx, out)
		if err == nil {
			return
		}
		// The rewrite dropped the custom sections, which wazero decodes
		// without bounds: the original without them must not compile either.
		if _, orig := r.CompileModule(ctx, withoutCustom(src)); orig == nil {
			t.Fatalf("a module wazero compiles does not compile once rewritten: %v", err)
		}
	})
}
