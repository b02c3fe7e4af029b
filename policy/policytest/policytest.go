// Package policytest gives tests policies to run: Go packages built for the
// JSON ABI, and a small placement policy in Rego.
package policytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/policy"
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

// PlacementRego is examples/policies/placement.rego, a three-rule placement policy: untrusted builds run only
// in the shared pool; spokes labelled for a step's tag score 10; spokes
// labelled switchyard.dev/draining=true are denied.
var PlacementRego = func() string {
	_, here, _, _ := runtime.Caller(0)
	src, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "examples", "policies", "placement.rego"))
	if err != nil {
		panic(err)
	}
	return string(src)
}()

// Ample is the limits for tests of what a policy decides, not of how fast:
// a deadline no busy machine reaches (the default 100ms was reached under
// -race on a loaded 2-core machine). Deadlines are tested on their own, with
// work that cannot finish.
var Ample = policy.Limits{Timeout: 5 * time.Minute}
