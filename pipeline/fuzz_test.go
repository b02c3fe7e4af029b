package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the whole loader: it must return a config or
// an error, never panic, and stay within its limits. Crashers found are kept in
// testdata/fuzz/FuzzLoad and replay as regression cases in every `go test`.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yml", "testdata/invalid/*.yml", "testdata/plans/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load(data, Options{File: "fuzz.yml", Vars: Vars{"org": "x", "branch": "main"}, Limits: Limits{MaxBytes: 1 << 16, MaxNodes: 20_000, MaxDepth: 40}})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, j := range p.Config.Jobs {
			if _, err := p.Config.CompileJob(j.Name); err != nil {
				t.Fatalf("valid config does not compile: %v", err)
			}
		}
	})
}

// FuzzExpansionBound checks the loader's size bound: whatever the YAML, a
// config it accepts expands (aliases and vars included) to JSON within a
// small multiple of MaxExpandedBytes, so what the hub stores and serves is
// bounded by the limit, not by how often a value is referenced. The seeds
// are anchored strings referenced many times.
func FuzzExpansionBound(f *testing.F) {
	f.Add([]byte("a: &a xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\njobs: [{name: j, plan: [{task: t, config: {platform: linux, run: {path: *a, args: [*a, *a, *a, *a, *a, *a, *a, *a]}}}]}]\n"), uint8(4))
	f.Add([]byte("a: &a [((big)), ((big))]\nb: &b [*a, *a, *a, *a]\njobs: [{name: j, plan: [{task: t, config: {platform: linux, run: {path: sh, args: [*b, *b, *b]}}}]}]\n"), uint8(8))
	f.Add([]byte("jobs: [{name: j, plan: [{task: t, config: {platform: linux, params: {A: ((big)) ((big)) ((big)) ((big))}, run: {path: sh}}}]}]\n"), uint8(2))
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte, varKB uint8) {
		big := string(make([]byte, int(varKB)*64))
		p, err := Load(data, Options{File: "fuzz.yml", Vars: Vars{"big": big}, Limits: Limits{MaxBytes: 1 << 14, MaxNodes: 20_000, MaxDepth: 40, MaxExpandedBytes: limit}})
		if err != nil {
			return
		}
		// JSON adds quotes, commas, brackets and escapes: at most a few
		// bytes per node, and 6 per byte of text (\u0000).
		if max := 6*limit + 16*20_000; len(p.JSON) > max {
			t.Fatalf("accepted config expands to %d bytes of JSON, over %d", len(p.JSON), max)
		}
	})
}
