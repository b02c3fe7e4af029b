package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// switchyard policy test places the example inputs as they expect, with the
// Rego policy and with the same policy built for OPA's WASM ABI.
func TestPolicyTest(t *testing.T) {
	inputs, err := filepath.Glob("../../examples/policies/inputs/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("example inputs: %v", err)
	}
	wasm := filepath.Join(t.TempDir(), "placement.wasm")
	if code, _, errOut := runCmd("policy", "build", "-f", "../../examples/policies/placement.rego", "-o", wasm); code != 0 {
		t.Fatalf("policy build exited %d: %s", code, errOut)
	}
	var outputs []string
	for _, p := range []string{"../../examples/policies/placement.rego", wasm} {
		code, out, errOut := runCmd(append([]string{"policy", "test", "-p", p}, inputs...)...)
		if code != 0 || strings.Count(out, "(as expected)") != len(inputs) || !strings.Contains(out, "filtered: policy placement: untrusted builds run only in the shared pool") {
			t.Errorf("policy test with %s exited %d:\n%s%s", p, code, out, errOut)
		}
		outputs = append(outputs, out)
	}
	if outputs[0] != outputs[1] {
		t.Errorf("Rego and OPA WASM disagree:\n%s\n---\n%s", outputs[0], outputs[1])
	}
}

// An unmet expectation fails the command; a bad input file is named with
// what is wrong in it.
func TestPolicyTestFailures(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.json")
	raw, _ := os.ReadFile("../../examples/policies/inputs/untrusted.json")
	_ = os.WriteFile(wrong, bytes.Replace(raw, []byte(`"expect": {"spoke": "pool-2"}`), []byte(`"expect": {"spoke": "blue-1"}`), 1), 0o644)
	code, out, _ := runCmd("policy", "test", "-p", "../../examples/policies/placement.rego", wrong)
	if code != 1 || !strings.Contains(out, "(EXPECTED blue-1)") {
		t.Errorf("an unmet expectation: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"step": {"kind": "task"}, "spokez": []}`), 0o644)
	code, _, errOut := runCmd("policy", "test", "-p", "../../examples/policies/placement.rego", bad)
	if code != 1 || !strings.Contains(errOut, bad+`: json: unknown field "spokez"`) {
		t.Errorf("a bad input: exit %d: %s", code, errOut)
	}
	broken := filepath.Join(dir, "broken.rego")
	_ = os.WriteFile(broken, []byte("package switchyard.placement\n\ndeny contains x if {\n  x := y\n}\n"), 0o644)
	code, _, errOut = runCmd("policy", "test", "-p", broken, bad)
	if code != 1 || !strings.Contains(errOut, broken+":4: var y is unsafe") {
		t.Errorf("a broken policy: exit %d: %s", code, errOut)
	}
}

// A policy that runs too long fails its evaluation at --policy-timeout, as
// on the hub (100ms unless said), and the error says the bound.
func TestPolicyTestTimeout(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow.rego")
	_ = os.WriteFile(slow, []byte(`package switchyard.placement

deny contains "never" if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
}
`), 0o644)
	input := "../../examples/policies/inputs/untrusted.json"
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "(100ms)"},
		{[]string{"--policy-timeout", "250ms"}, "(250ms)"},
	} {
		args := append(append([]string{"policy", "test", "-p", slow}, c.args...), input)
		code, out, errOut := runCmd(args...)
		if code != 1 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, no %q in:\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
	if code, _, errOut := runCmd("policy", "test", "-p", slow, "--policy-timeout", "0s", input); code != 2 || !strings.Contains(errOut, "positive duration") {
		t.Errorf("--policy-timeout 0s: exit %d: %s", code, errOut)
	}
}
