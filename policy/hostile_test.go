package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/policy/policytest"
)

// Each way a policy can misbehave is stopped within its limits and reported
// as an error that says what happened; the next evaluation of a good policy
// still works.
func TestHostilePolicies(t *testing.T) {
	ctx := t.Context()
	// Only the loop is a test of the deadline; the others get one no busy
	// machine reaches, so that they fail for their own reason.
	ample := policy.Limits{Timeout: 5 * time.Minute, MemoryPages: 512, MaxOutput: 1 << 20}
	deadline := ample
	deadline.Timeout = time.Second
	for _, tt := range []struct{ mode, want string }{
		{"loop", "ran past its deadline (1s)"},
		{"alloc", "policy trapped (wasm error: unreachable)"},
		{"trap", "policy trapped (wasm error: unreachable)"},
		{"garbage", "not JSON"},
		{"huge", "more than the 1048576 allowed"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			lim := ample
			if tt.mode == "loop" {
				lim = deadline
			}
			p, err := policy.Load(ctx, tt.mode+".wasm", policytest.BuildGo(t, "./testdata/hostile", "-X main.mode="+tt.mode), lim)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			start := time.Now()
			_, err = p.Eval(ctx, []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if tt.mode == "loop" && !errors.Is(err, policy.ErrTimeout) {
				t.Errorf("a loop is not reported as a timeout: %v", err)
			}
			if took := time.Since(start); took > 2*time.Minute { // a loop that was not stopped would run forever
				t.Errorf("stopping the policy took %s", took)
			}
		})
	}
	t.Run("rego that answers too much", func(t *testing.T) {
		// 100 KB of answer, over a cap of 64 KiB.
		src := "package switchyard.placement\n\nx := concat(\"\", [\"0123456789\" | some _ in numbers.range(1, 10000)])\n"
		p, err := policy.Load(ctx, "big.rego", []byte(src), policy.Limits{Timeout: 30 * time.Second, MaxOutput: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "more than the 65536") {
			t.Errorf("Eval: error %v, want the answer refused", err)
		}
		if _, err := p.(policy.ValueEvaluator).EvalValue(ctx, ast.NewObject()); err == nil || !strings.Contains(err.Error(), "more than the 65536") {
			t.Errorf("EvalValue: error %v, want the answer refused", err)
		}
	})
	t.Run("rego that computes too long", func(t *testing.T) {
		src := "package switchyard.placement\n\nn := count([x | some x in numbers.range(1, 100000000)])\n"
		p, err := policy.Load(ctx, "slow.rego", []byte(src), deadline)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(ctx, []byte(`{}`)); !errors.Is(err, policy.ErrTimeout) {
			t.Errorf("error %v, want a timeout", err)
		}
	})
	t.Run("opa wasm that computes too long", func(t *testing.T) {
		src := "package switchyard.placement\n\nn := count([x | some x in numbers.range(1, 100000000)])\n"
		mod, err := policy.CompileRego(ctx, "slow.rego", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Load(ctx, "slow.wasm", mod, deadline)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(ctx, []byte(`{}`)); err == nil {
			t.Error("no error from a policy that runs for ever")
		}
	})
}

// Uploads that cannot work are refused with a message naming the problem.
func TestRefusedPolicies(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		name, src, want string
	}{
		{"syntax.rego", "package switchyard.placement\n\ndeny contains x if {\n", "syntax.rego:4: unexpected eof token"},
		{"unsafe.rego", "package switchyard.placement\n\nx := y\n", "unsafe.rego:3: var y is unsafe"},
		{"elsewhere.rego", "package other\n\nx := 1\n", "policies are packages under switchyard"},
		{"junk.wasm", "\x00asm\x01\x00\x00\x00\x99", "not a WebAssembly module"},
		// 20 bytes that declared 4 billion tables made wazero run the hub out of memory.
		{"tables.wasm", "\x00asm\x01\x00\x00\x00\x04\x05\xff\xff\xff\xff\x0f\x05\x03\x01\x00\x01", "tables.wasm: not a WebAssembly module: section 4: a vector longer than the bytes that follow"},
	} {
		if _, err := policy.Load(ctx, tt.name, []byte(tt.src), policy.Limits{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	src := "package switchyard.placement\n\nmsg := sprintf(\"%d\", [input.n])\n"
	mod, err := policy.CompileRego(ctx, "sprintf.rego", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Load(ctx, "sprintf.wasm", mod, policy.Limits{}); err == nil || !strings.Contains(err.Error(), "needs builtins sprintf") {
		t.Errorf("a module needing sprintf: %v", err)
	}
}

// The Go reference policy for the JSON ABI (examples/policies/labelscore).
func TestGoReferencePolicy(t *testing.T) {
	ctx := t.Context()
	p, err := policy.Load(ctx, "labelscore.wasm", policytest.BuildGo(t, "../examples/policies/labelscore", ""), policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	if p.Engine() != "wasm" {
		t.Errorf("engine %s", p.Engine())
	}
	got := eval(t, p, `{"step":{"tags":["gpu"]},"spokes":[{"name":"a","labels":{"gpu":"true"}},{"name":"b","labels":{"switchyard.dev/draining":"true"}}]}`)
	pl, _ := got["placement"].(map[string]any)
	score, _ := pl["score"].(map[string]any)
	deny, _ := pl["deny"].(map[string]any)
	if score["a"] != float64(10) || deny["b"] == nil {
		t.Errorf("answer %v", got)
	}
}
