package preempt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/switchyard-ci/switchyard/policy/wasmbin"
)

// StopGlobal is the exported mutable i32 global a host sets to a non-zero
// value to make the module trap at its next check.
const StopGlobal = "switchyard_stop"

// StartExport is the name under which the module's start function (its
// start section's) is exported instead: instantiation would run it outside
// any deadline, so the rewrite drops the start section and the host calls
// this export first, under the same deadline and checks as everything else.
const StartExport = "switchyard_start"

// Every is how many checks (function entries and loop iterations) run
// between two calls into the host: a few tens of microseconds of work.
const Every = 1 << 14

// Section ids of the binary format, in the order they must appear.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// Bounds on what a module may declare. wazero allocates what a module
// declares before it checks it against the bytes that follow (a 20-byte
// module declaring 4 billion tables made the hub run out of memory and
// die), so every count is checked here first, against the bytes that
// follow and against these bounds.
const (
	// MaxLocals is the most locals a function may declare (V8's bound).
	MaxLocals = 50_000
	// MaxTableElements bounds the elements of all tables together, and of
	// all element segments together: 8 MB of references.
	MaxTableElements = 1 << 20
)

// order ranks non-custom sections: the binary format wants them ascending.
var order = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12}

type section struct {
	id   byte
	body []byte
}

// Instrument returns the module with its checks, the stop global and the
// function that refills the budget.
func Instrument(src []byte) ([]byte, error) {
	if len(src) < 8 || !bytes.Equal(src[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly module: no WebAssembly 1.0 binary header")
	}
	var sections []section
	r := &reader{b: src, pos: 8}
	for r.pos < len(r.b) {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("not a WebAssembly module: section %d: %w", id, r.err)
		}
		if _, known := order[id]; !known && id != secCustom {
			return nil, fmt.Errorf("not a WebAssembly module this host accepts: section id %d", id)
		}
		if id == secCustom {
			continue // names and debug information: the host needs none, and wazero would decode them
		}
		sections = append(sections, section{id, body})
	}
	m := &module{}
	for _, s := range sections {
		if err := m.read(s); err != nil {
			return nil, err
		}
	}
	if m.memories == 0 {
		return nil, errors.New("the module has no memory")
	}
	for _, name := range []string{StopGlobal, StartExport} {
		if m.exportNames[name] {
			return nil, fmt.Errorf("the module already exports %s, a name the host keeps for itself", name)
		}
	}
	return m.write(sections)
}

// module is what the rewrite needs to know of a module.
type module struct {
	types           [][]byte // each type's encoding, 0x60 included
	importedFuncs   uint32
	importedGlobals uint32
	memories        uint32
	definedFuncs    uint32
	definedGlobals  uint32
	tableElements   uint64 // the tables' minimum sizes, summed
	segmentElements uint64 // the element segments' items, summed
	exportNames     map[string]bool
	start           *uint32 // the start section's function
}

func (m *module) read(s section) error {
	r := &reader{b: s.body}
	switch s.id {
	case secType:
		for range r.count() {
			start := r.pos
			if r.byte() != 0x60 {
				return errors.New("type section: a type that is not a function type")
			}
			r.skipVec(1)
			r.skipVec(1)
			m.types = append(m.types, s.body[start:r.pos])
		}
	case secImport:
		for range r.count() {
			r.skipName()
			r.skipName()
			switch r.byte() {
			case 0: // function
				r.typeIndex(len(m.types))
				m.importedFuncs++
			case 1: // table
				r.refType()
				m.tableElements += uint64(r.limits())
			case 2: // memory
				r.limits()
				m.memories++
			case 3: // global
				r.byte()
				r.byte()
				m.importedGlobals++
			default:
				return errors.New("import section: an import of an unknown kind")
			}
		}
	case secFunction:
		m.definedFuncs = r.count()
		for range m.definedFuncs {
			r.typeIndex(len(m.types))
		}
	case secTable:
		for range r.count() {
			m.tableElements += uint64(r.table())
		}
	case secElement:
		for range r.count() {
			m.segmentElements += uint64(r.elementSegment())
		}
	case secData:
		for range r.count() {
			r.dataSegment()
		}
	case secMemory:
		n := r.count()
		for range n {
			r.limits()
		}
		m.memories += n
	case secGlobal:
		m.definedGlobals = r.count()
		for range m.definedGlobals {
			r.refType()
			r.byte() // mutability
			r.constExpr()
		}
	case secStart:
		idx := r.u32()
		m.start = &idx
	case secDataCount:
		r.u32()
	case secExport:
		m.exportNames = map[string]bool{}
		for range r.count() {
			m.exportNames[r.name()] = true
			r.byte()
			r.u32()
		}
	}
	if r.err == nil && s.id != secCode && r.pos != len(r.b) {
		// The rewrite appends items to sections: bytes after the last item
		// would be read as part of the added one.
		r.fail(fmt.Errorf("%d bytes after its last item", len(r.b)-r.pos))
	}
	if r.err != nil {
		return fmt.Errorf("not a WebAssembly module: section %d: %w", s.id, r.err)
	}
	if m.tableElements > MaxTableElements {
		return fmt.Errorf("the module's tables hold %d elements at least, more than the %d this host allows", m.tableElements, MaxTableElements)
	}
	if m.segmentElements > MaxTableElements {
		return fmt.Errorf("the module's element segments hold %d elements, more than the %d this host allows", m.segmentElements, MaxTableElements)
	}
	return nil
}

// write re-encodes the module with the additions.
func (m *module) write(sections []section) ([]byte, error) {
	voidType := []byte{0x60, 0, 0}
	typeIdx := -1
	for i, t := range m.types {
		if bytes.Equal(t, voidType) {
			typeIdx = i
			break
		}
	}
	fuel := m.importedGlobals + m.definedGlobals
	stop := fuel + 1
	refill := m.importedFuncs + m.definedFuncs

	var err error
	add := map[byte]func(body []byte) []byte{
		secType: func(body []byte) []byte {
			if typeIdx >= 0 {
				return body
			}
			typeIdx = len(m.types)
			return appendVec(body, voidType)
		},
		secFunction: func(body []byte) []byte { return appendVec(body, wasmbin.ULEB(uint32(typeIdx))) },
		secGlobal: func(body []byte) []byte {
			body = appendVec(body, global(Every))
			return appendVec(body, global(0))
		},
		secExport: func(body []byte) []byte {
			e := append(wasmbin.Name(StopGlobal), 0x03)
			body = appendVec(body, append(e, wasmbin.ULEB(stop)...))
			if m.start != nil {
				e := append(wasmbin.Name(StartExport), 0x00)
				body = appendVec(body, append(e, wasmbin.ULEB(*m.start)...))
			}
			return body
		},
		secCode: func(body []byte) []byte {
			var out []byte
			out, err = instrumentCode(body, fuel, refill)
			return appendVec(out, codeEntry(refillBody(fuel, stop)))
		},
	}
	// Sections the module lacks are added empty, then extended.
	present := map[byte]bool{}
	for _, s := range sections {
		present[s.id] = true
	}
	for _, id := range []byte{secType, secFunction, secGlobal, secExport, secCode} {
		if !present[id] {
			sections = insertSection(sections, section{id, []byte{0}})
		}
	}
	// The type section comes first, so the type index is known by the time
	// the function section is written.
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		if s.id == secStart {
			continue // exported as StartExport instead
		}
		body := s.body
		if f := add[s.id]; f != nil && s.id != secCustom {
			body = f(body)
			if err != nil {
				return nil, err
			}
		}
		out = append(out, s.id)
		out = append(out, wasmbin.ULEB(uint32(len(body)))...)
		out = append(out, body...)
	}
	return out, nil
}

// insertSection puts s before the first section that must follow it.
func insertSection(sections []section, s section) []section {
	for i, o := range sections {
		if o.id != secCustom && order[o.id] > order[s.id] {
			return append(sections[:i], append([]section{s}, sections[i:]...)...)
		}
	}
	return append(sections, s)
}

// appendVec adds one item to a vector (its count first, then its items).
func appendVec(vec, item []byte) []byte {
	r := &reader{b: vec}
	n := r.u32()
	out := append(wasmbin.ULEB(n+1), vec[r.pos:]...)
	return append(out, item...)
}

// global is a mutable i32 global starting at v.
func global(v int32) []byte {
	return append(append([]byte{0x7f, 0x01, 0x41}, wasmbin.SLEB(v)...), 0x0b)
}

func codeEntry(body []byte) []byte { return append(wasmbin.ULEB(uint32(len(body))), body...) }

// refillBody is the function the checks call when the budget is spent: it
// refills the budget, calls into the host through memory.grow(0), and traps
// if the host asked it to stop.
func refillBody(fuel, stop uint32) []byte {
	b := []byte{0} // no locals
	b = append(b, 0x41)
	b = append(b, wasmbin.SLEB(Every)...)
	b = append(append(b, 0x24), wasmbin.ULEB(fuel)...) // global.set fuel
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a)        // memory.grow 0, drop
	b = append(append(b, 0x23), wasmbin.ULEB(stop)...) // global.get stop
	b = append(b, 0x04, 0x40, 0x00, 0x0b)              // if unreachable end
	return append(b, 0x0b)
}

// check is the sequence run at function entries and loop headers: take one
// from the budget, and call refill when it is spent.
func check(fuel, refill uint32) []byte {
	b := append([]byte{0x23}, wasmbin.ULEB(fuel)...)     // global.get fuel
	b = append(b, 0x41, 0x01, 0x6b)                      // i32.const 1, i32.sub
	b = append(append(b, 0x24), wasmbin.ULEB(fuel)...)   // global.set fuel
	b = append(append(b, 0x23), wasmbin.ULEB(fuel)...)   // global.get fuel
	b = append(b, 0x45, 0x04, 0x40)                      // i32.eqz, if
	b = append(append(b, 0x10), wasmbin.ULEB(refill)...) // call refill
	return append(b, 0x0b)                               // end
}
