package policy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/policy"
)

const labelsRego = `package switchyard.placement

# Untrusted builds go to the shared pool only.
deny[s.name] contains "untrusted builds run only in the shared pool" if {
	some s in input.spokes
	input.build.trusted == false
	s.pool != "shared"
}

# Spokes labelled gpu=true score 10 for steps tagged gpu.
score[s.name] := 10 if {
	some s in input.spokes
	"gpu" in input.step.tags
	s.labels.gpu == "true"
}

# Spokes with fewer running steps score higher.
load[s.name] := 0 - s.load.steps if {
	some s in input.spokes
}
`

func eval(t *testing.T, p policy.Policy, input string) map[string]any {
	t.Helper()
	out, err := p.Eval(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return v
}

func TestRegoAndOPAWASMAgree(t *testing.T) {
	ctx := context.Background()
	rego, err := policy.Load(ctx, "labels.rego", []byte(labelsRego), policy.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := policy.CompileRego(ctx, "labels.rego", []byte(labelsRego))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := policy.Load(ctx, "labels.wasm", mod, policy.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if rego.Engine() != "rego" || wasm.Engine() != "opa-wasm" {
		t.Errorf("engines %s and %s", rego.Engine(), wasm.Engine())
	}
	input := `{"build":{"trusted":false},"step":{"tags":["gpu"]},"spokes":[
		{"name":"a","pool":"shared","labels":{"gpu":"true"},"load":{"steps":3}},
		{"name":"b","pool":"team","labels":{},"load":{"steps":1}}]}`
	got, want := eval(t, wasm, input), eval(t, rego, input)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) || !strings.Contains(string(wj), "untrusted builds run only in the shared pool") {
		t.Errorf("opa-wasm %s\nrego      %s", gj, wj)
	}
}
