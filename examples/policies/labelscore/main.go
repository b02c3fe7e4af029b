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
package main

import (
	"encoding/json"
	"unsafe"
)

type input struct {
	Step struct {
		Tags []string `json:"tags"`
	} `json:"step"`
	Spokes []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"spokes"`
}

type placement struct {
	Deny  map[string][]string `json:"deny"`
	Score map[string]float64  `json:"score"`
}

func decide(raw []byte) []byte {
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		out, _ := json.Marshal(map[string]any{"placement": map[string]any{"error": err.Error()}})
		return out
	}
	p := placement{Deny: map[string][]string{}, Score: map[string]float64{}}
	for _, s := range in.Spokes {
		if s.Labels["switchyard.dev/draining"] == "true" {
			p.Deny[s.Name] = append(p.Deny[s.Name], "the spoke is draining")
		}
		for _, tag := range in.Step.Tags {
			if s.Labels[tag] == "true" {
				p.Score[s.Name] += 10
			}
		}
	}
	out, _ := json.Marshal(map[string]any{"placement": p})
	return out
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

//go:wasmexport switchyard_eval
func eval(ptr, size uint32) uint64 {
	in := buffers[ptr][:size]
	delete(buffers, ptr)
	out := decide(in)
	return uint64(keep(out))<<32 | uint64(len(out))
}

func main() {}
