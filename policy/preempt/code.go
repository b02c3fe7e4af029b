package preempt

import (
	"errors"
	"fmt"

	"github.com/switchyard-ci/switchyard/policy/wasmbin"
)

// instrumentCode adds the check at the entry of every function body of a
// code section, and at the head of every loop.
func instrumentCode(sec []byte, fuel, refill uint32) ([]byte, error) {
	r := &reader{b: sec}
	n := r.count()
	if r.err != nil {
		return nil, fmt.Errorf("code section: %w", r.err)
	}
	out := wasmbin.ULEB(n)
	chk := check(fuel, refill)
	for i := range n {
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("code section: function %d: %w", i, r.err)
		}
		b, err := instrumentBody(body, chk)
		if err != nil {
			return nil, fmt.Errorf("code section: function %d: %w", i, err)
		}
		out = append(out, codeEntry(b)...)
	}
	if r.pos != len(r.b) {
		return nil, fmt.Errorf("code section: %d bytes after its last function", len(r.b)-r.pos)
	}
	return out, nil
}

func instrumentBody(body, chk []byte) ([]byte, error) {
	r := &reader{b: body}
	var locals uint64
	for range r.count() { // locals: count and type
		locals += uint64(r.u32())
		r.refType()
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals > MaxLocals {
		return nil, fmt.Errorf("%d locals, more than the %d this host allows", locals, MaxLocals)
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	out = append(out, body[:r.pos]...)
	out = append(out, chk...)
	copied := r.pos
	for r.pos < len(r.b) && r.err == nil {
		op := r.byte()
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		if op == 0x03 { // loop: check at its head, each iteration
			out = append(out, body[copied:r.pos]...)
			out = append(out, chk...)
			copied = r.pos
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, body[copied:]...), nil
}

// skipImmediates reads the immediates of the instruction op.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		// no immediates
	case op >= 0x02 && op <= 0x04: // block, loop, if
		r.blockType()
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op >= 0x20 && op <= 0x26, op == 0xd2,
		op == 0x3f, op == 0x40, op == 0x41, op == 0x42:
		r.leb()
	case op == 0x0e: // br_table
		for range r.count() {
			r.leb()
		}
		r.leb()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.leb()
		r.leb()
	case op == 0x1c: // select t*
		r.skipVec(1)
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xfc:
		return r.skipFC(r.u32())
	case op == 0xfd:
		return r.skipSIMD(r.u32())
	case op == 0xfe:
		if sub := r.u32(); sub == 0x03 { // atomic.fence
			r.byte()
		} else {
			r.memarg()
		}
	default:
		return fmt.Errorf("instruction 0x%02x at byte %d is not one this host can instrument", op, r.pos-1)
	}
	return r.err
}

func (r *reader) skipFC(sub uint32) error {
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.leb()
		r.leb()
	case sub == 15:
		return errors.New("instruction table.grow is not one this host allows: a table must stay within the size it declares")
	case sub == 9, sub == 11, sub == 13, sub == 16, sub == 17:
		r.leb()
	default:
		return fmt.Errorf("instruction 0xfc %d is not one this host can instrument", sub)
	}
	return r.err
}

func (r *reader) skipSIMD(sub uint32) error {
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 0xff:
		// the rest take no immediates
	default:
		return fmt.Errorf("instruction 0xfd %d is not one this host can instrument", sub)
	}
	return r.err
}

// reader reads the binary format; its first error sticks.
type reader struct {
	b   []byte
	pos int
	err error
}

var errShort = errors.New("unexpected end")

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || r.pos+n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	r.pos += n
	return r.b[r.pos-n : r.pos]
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.b)
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		b := r.byte()
		v |= uint32(b&0x7f) << shift
		if b&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("a LEB128 number longer than 5 bytes"))
	return 0
}

// leb skips a LEB128 number of any kind and width.
func (r *reader) leb() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail(errors.New("a LEB128 number longer than 10 bytes"))
}

// blockType reads an empty type, a value type, or a type index (s33).
func (r *reader) blockType() {
	if r.pos < len(r.b) {
		switch r.b[r.pos] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.pos++
			return
		}
	}
	r.leb()
}

// memarg reads an alignment (whose bit 6 announces a memory index) and an
// offset.
func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 {
		r.leb()
	}
	r.leb()
}

// limits reads a table's or a memory's limits and returns the minimum.
func (r *reader) limits() uint32 {
	flags := r.byte()
	low := r.u32()
	if flags&0x01 != 0 {
		r.u32()
	}
	return low
}

// typeIndex reads a function's type index, which must name one of the
// module's types (wazero does not check it everywhere before using it).
func (r *reader) typeIndex(types int) {
	if i := r.u32(); r.err == nil && int64(i) >= int64(types) {
		r.fail(fmt.Errorf("a function of type %d, but the module has %d types", i, types))
	}
}

// refType reads a value or reference type: one byte, or a nullable or
// non-nullable reference prefix and its heap type.
func (r *reader) refType() {
	if b := r.byte(); b == 0x63 || b == 0x64 {
		r.leb()
	}
}

// table reads a table type (with its initializer, when it has one) and
// returns its minimum size.
func (r *reader) table() uint32 {
	if r.pos < len(r.b) && r.b[r.pos] == 0x40 { // table with an initializer: 0x40 0x00 type limits expr
		r.bytes(2)
		r.refType()
		low := r.limits()
		r.constExpr()
		return low
	}
	r.refType()
	return r.limits()
}

// constExpr reads a constant expression up to its end.
func (r *reader) constExpr() {
	for r.err == nil {
		op := r.byte()
		if op == 0x0b {
			return
		}
		if err := r.skipImmediates(op); err != nil {
			r.fail(err)
		}
	}
}

// elementSegment reads an element segment in any of its eight forms and
// returns how many items it has.
func (r *reader) elementSegment() uint32 {
	flags := r.u32()
	if flags > 7 {
		r.fail(fmt.Errorf("an element segment of unknown form %d", flags))
		return 0
	}
	if flags&3 == 2 { // an explicit table index
		r.u32()
	}
	if flags&1 == 0 { // active: the offset
		r.constExpr()
	}
	exprs := flags&4 != 0
	if flags&3 != 0 { // an element kind or a reference type
		if exprs {
			r.refType()
		} else {
			r.byte()
		}
	}
	n := r.count()
	for range n {
		if exprs {
			r.constExpr()
		} else {
			r.u32()
		}
	}
	return n
}

// dataSegment reads a data segment in any of its three forms.
func (r *reader) dataSegment() {
	switch r.u32() {
	case 0: // active, memory 0
		r.constExpr()
	case 1: // passive
	case 2: // active, a memory index
		r.u32()
		r.constExpr()
	default:
		r.fail(errors.New("a data segment of unknown form"))
		return
	}
	r.skipVec(1)
}

// count reads the length of a vector, which cannot be more than the bytes
// that follow (each item takes one at least): a module cannot make the
// rewrite loop billions of times for nothing.
func (r *reader) count() uint32 {
	n := r.u32()
	if int64(n) > int64(len(r.b)-r.pos) {
		r.fail(errors.New("a vector longer than the bytes that follow"))
		return 0
	}
	return n
}

// skipVec skips a vector of fixed-size items.
func (r *reader) skipVec(size int) { r.bytes(int(r.u32()) * size) }

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) skipName() { r.bytes(int(r.u32())) }
