package policy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/policy/policytest"
)

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
	ctx := t.Context()
	rego, err := policy.Load(ctx, "labels.rego", []byte(policytest.PlacementRego), policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := policy.CompileRego(ctx, "labels.rego", []byte(policytest.PlacementRego))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := policy.Load(ctx, "labels.wasm", mod, policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	if rego.Engine() != "rego" || wasm.Engine() != "opa-wasm" {
		t.Errorf("engines %s and %s", rego.Engine(), wasm.Engine())
	}
	inputs := []string{
		`{"build":{"trusted":false},"step":{"tags":["gpu"]},"spokes":[
			{"name":"a","pool":"shared","labels":{"gpu":"true"}},{"name":"b","pool":"team","labels":{}}]}`,
		`{"build":{"trusted":true},"step":{"tags":[]},"spokes":[
			{"name":"a","pool":"shared","labels":{"switchyard.dev/draining":"true"}},{"name":"b","labels":{"gpu":"true"}}]}`,
		`{"build":{"trusted":true},"step":{"tags":["gpu","ssd"]},"spokes":[
			{"name":"a","labels":{"gpu":"true","ssd":"true"}},{"name":"b","labels":{"ssd":"true"}},{"name":"c","labels":{}}]}`,
		`{"build":{"trusted":true},"step":{"tags":[]},"spokes":[]}`,
		`{}`,
	}
	for i, input := range inputs {
		gj, _ := json.Marshal(eval(t, wasm, input))
		wj, _ := json.Marshal(eval(t, rego, input))
		if string(gj) != string(wj) {
			t.Errorf("input %d: opa-wasm %s\nrego      %s", i, gj, wj)
		}
		if i == 0 && !strings.Contains(string(wj), "untrusted builds run only in the shared pool") {
			t.Errorf("input 0: %s", wj)
		}
	}
}

func TestJoinArray(t *testing.T) {
	for _, tt := range []struct {
		doc   string
		items []string
		want  string
	}{
		{`{}`, []string{`1`, `{"a":2}`}, `{"spokes":[1,{"a":2}]}`},
		{`{"step":{"id":"1"}}`, nil, `{"step":{"id":"1"},"spokes":[]}`},
		{" { \"a\": 1 } \n", []string{`"x"`}, `{ "a": 1,"spokes":["x"]}`},
		{` { } `, nil, `{"spokes":[]}`},
	} {
		items := make([][]byte, len(tt.items))
		for i, it := range tt.items {
			items[i] = []byte(it)
		}
		if got := string(policy.JoinArray([]byte(tt.doc), "spokes", items)); got != tt.want {
			t.Errorf("JoinArray(%q) = %s, want %s", tt.doc, got, tt.want)
		}
	}
}
