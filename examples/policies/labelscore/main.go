//go:build wasip1

// Command labelscore is the reference placement policy for Switchyard's JSON
// ABI, in Go: build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o labelscore.wasm ./examples/policies/labelscore
//
// and set it with fly set-policy -p labelscore -f labelscore.wasm. It scores
// each candidate spoke by its labels: 10 for every label the step's tags name
// (tag "gpu" and label gpu=true), and it denies spokes labelled
// switchyard.dev/draining=true.
//
// It reads its input in one pass that keeps only the fields it needs
// (scan.go): encoding/json took 5 ms for a hundred spokes in WebAssembly.
package main

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

type spoke struct {
	name   string
	labels [][2]string
}

func (sp *spoke) label(name string) string {
	for _, l := range sp.labels {
		if l[0] == name {
			return l[1]
		}
	}
	return ""
}

func decide(raw []byte) []byte {
	tags, spokes, err := read(raw, root)
	if err != nil {
		return errorAnswer(err)
	}
	return answer(tags, spokes)
}

func errorAnswer(err error) []byte {
	out := append([]byte(`{"placement":{"error":`), quote(err.Error())...)
	return append(out, "}}"...)
}

// answer denies draining spokes, and scores spokes by the step's tags.
func answer(tags []string, spokes []spoke) []byte {
	deny := []byte(`{"placement":{"deny":{`)
	score := []byte(`},"score":{`)
	denied, scored := 0, 0
	for i := range spokes {
		sp := &spokes[i]
		if sp.label("switchyard.dev/draining") == "true" {
			if denied++; denied > 1 {
				deny = append(deny, ',')
			}
			deny = append(append(deny, quote(sp.name)...), `:["the spoke is draining"]`...)
		}
		points := 0
		for _, tag := range tags {
			if sp.label(tag) == "true" {
				points += 10
			}
		}
		if points > 0 {
			if scored++; scored > 1 {
				score = append(score, ',')
			}
			score = appendInt(append(append(score, quote(sp.name)...), ':'), points)
		}
	}
	return append(append(deny, score...), "}}}"...)
}

// buffers keeps what the host holds pointers to alive until it frees them.
var buffers = map[uint32][]byte{}

func keep(b []byte) uint32 {
	if len(b) == 0 {
		b = make([]byte, 1)
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	buffers[p] = b
	return p
}

//go:wasmexport switchyard_malloc
func malloc(size uint32) uint32 { return keep(make([]byte, size)) }

//go:wasmexport switchyard_free
func free(ptr uint32) { delete(buffers, ptr) }

// take hands over a buffer the host filled.
func take(ptr, size uint32) []byte {
	b := buffers[ptr]
	delete(buffers, ptr)
	if uint32(len(b)) < size {
		return nil
	}
	return b[:size]
}

func reply(out []byte) uint64 { return uint64(keep(out))<<32 | uint64(len(out)) }

//go:wasmexport switchyard_eval
func eval(ptr, size uint32) uint64 { return reply(decide(take(ptr, size))) }

// The optional item exports: the host passes each spoke once, and then
// only the input without spokes and the spokes' handles.
var (
	items      = map[uint32]spoke{}
	lastHandle uint32
)

//go:wasmexport switchyard_item
func item(ptr, size uint32) uint32 {
	_, spokes, err := read(take(ptr, size), aSpoke)
	if err != nil || len(spokes) != 1 {
		return 0
	}
	lastHandle++
	items[lastHandle] = spokes[0]
	return lastHandle
}

//go:wasmexport switchyard_drop
func drop(handle uint32) { delete(items, handle) }

//go:wasmexport switchyard_eval_items
func evalItems(ptr, size, handlesPtr, n uint32) uint64 {
	tags, _, err := read(take(ptr, size), root)
	handles := take(handlesPtr, 4*n)
	if err != nil || len(handles) != int(4*n) {
		return reply(errorAnswer(fmt.Errorf("read the input: %v", err)))
	}
	spokes := make([]spoke, n)
	for k := range spokes {
		h := binary.LittleEndian.Uint32(handles[4*k:])
		sp, ok := items[h]
		if !ok {
			return reply(errorAnswer(fmt.Errorf("no spoke has handle %d", h)))
		}
		spokes[k] = sp
	}
	return reply(answer(tags, spokes))
}

func main() {}
