//go:build wasip1

// A JSON ABI policy that misbehaves as its mode (set with -ldflags -X
// main.mode=...) says: loop, alloc, trap, garbage or huge; or placeloop,
// which loops on placement questions and allows every admission question.
package main

import (
	"strings"
	"unsafe"
)

var mode string

var buffers = map[uint32][]byte{}

func keep(b []byte) uint32 {
	if len(b) == 0 {
		b = make([]byte, 1)
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	buffers[p] = b
	return p
}

var sink [][]byte

func decide(input []byte) []byte {
	switch mode {
	case "placeloop":
		if strings.Contains(string(input), `"action"`) {
			return []byte("{}")
		}
		fallthrough
	case "loop":
		for n := 0; ; n++ {
			if n < 0 {
				break
			}
		}
	case "alloc":
		for {
			sink = append(sink, make([]byte, 16<<20))
		}
	case "trap":
		panic("boom")
	case "garbage":
		return []byte("this is not JSON")
	case "huge":
		return []byte(`"` + strings.Repeat("x", 4<<20) + `"`)
	}
	return []byte("{}")
}

//go:wasmexport switchyard_malloc
func malloc(size uint32) uint32 { return keep(make([]byte, size)) }

//go:wasmexport switchyard_free
func free(ptr uint32) { delete(buffers, ptr) }

//go:wasmexport switchyard_eval
func eval(ptr, size uint32) uint64 {
	input := buffers[ptr][:size]
	delete(buffers, ptr)
	out := decide(input)
	return uint64(keep(out))<<32 | uint64(len(out))
}

func main() {}
