// Package policytest gives tests policies to run: Go packages built for the
// JSON ABI, and a small placement policy in Rego.
package policytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildGo builds a Go package for GOOS=wasip1 as a reactor (a JSON ABI
// module), with extra linker flags, and returns the module.
func BuildGo(t testing.TB, pkg, ldflags string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "policy.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for wasip1: %v\n%s", pkg, err, msg)
	}
	mod, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// PlacementRego is a three-rule placement policy: untrusted builds run only
// in the shared pool; spokes labelled for a step's tag score 10; spokes
// labelled switchyard.dev/draining=true are denied.
const PlacementRego = `package switchyard.placement

deny[s.name] contains "untrusted builds run only in the shared pool" if {
	some s in input.spokes
	input.build.trusted == false
	s.pool != "shared"
}

deny[s.name] contains "the spoke is draining" if {
	some s in input.spokes
	s.labels["switchyard.dev/draining"] == "true"
}

score[s.name] := 10 if {
	some s in input.spokes
	some tag in input.step.tags
	s.labels[tag] == "true"
}
`
