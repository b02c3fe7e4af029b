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
