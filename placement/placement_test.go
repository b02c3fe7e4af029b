package placement_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/policy/policytest"
)

func spoke(name string, mod func(*placement.Spoke)) placement.Spoke {
	sp := placement.Spoke{Name: name, Health: "healthy", Labels: map[string]string{}, Capacity: placement.Resources{Steps: 10}}
	if mod != nil {
		mod(&sp)
	}
	return sp
}

func candidate(d placement.Decision, name string) placement.Candidate {
	for _, c := range d.Candidates {
		if c.Spoke == name {
			return c
		}
	}
	return placement.Candidate{}
}

// The built-in filters say why each spoke may not run the step.
func TestBuiltinFilters(t *testing.T) {
	in := placement.Input{
		Step:  placement.Step{Kind: "task", Tags: []string{"linux"}, Resources: placement.Resources{Memory: 2 << 30}},
		Build: placement.Build{Team: "blue"},
		Spokes: []placement.Spoke{
			spoke("lost", func(s *placement.Spoke) { s.Health = "unknown"; s.Tags = []string{"linux"} }),
			spoke("red", func(s *placement.Spoke) { s.Team = "red"; s.Tags = []string{"linux"} }),
			spoke("untagged", nil),
			spoke("full", func(s *placement.Spoke) { s.Tags = []string{"linux"}; s.Load.Steps = 10 }),
			spoke("small", func(s *placement.Spoke) { s.Tags = []string{"linux"}; s.Capacity.Memory = 1 << 30 }),
			spoke("ok", func(s *placement.Spoke) { s.Team = "blue"; s.Tags = []string{"linux"} }),
		},
	}
	d := placement.Decide(context.Background(), in, nil)
	if d.Spoke != "ok" {
		t.Fatalf("chose %q: %+v", d.Spoke, d)
	}
	for name, want := range map[string]string{
		"lost": "health: the spoke is unknown", "red": "team: the spoke belongs to team red",
		"untagged": "tags: the spoke lacks the step's tags linux", "full": "capacity: the spoke is full (10 of 10 steps)",
		"small": "capacity: the step asks for 2147483648 bytes of memory",
	} {
		c := candidate(d, name)
		if !c.Filtered || !strings.Contains(strings.Join(c.Reasons, "; "), want) {
			t.Errorf("%s: %+v, want %q", name, c, want)
		}
	}
	// An untagged step avoids tagged spokes, as in Concourse.
	in.Step.Tags = nil
	d = placement.Decide(context.Background(), in, nil)
	if d.Spoke != "untagged" {
		t.Errorf("an untagged step went to %q", d.Spoke)
	}
	// No spoke at all.
	if d := placement.Decide(context.Background(), placement.Input{}, nil); d.Spoke != "" || d.Reason != "no spoke is connected" {
		t.Errorf("no spokes: %+v", d)
	}
}

// Locality prefers the spoke that holds more of the inputs' bytes; spread
// the one with more free capacity.
func TestScores(t *testing.T) {
	in := placement.Input{
		Artifacts: []placement.Artifact{{Name: "repo", Size: 900, Spokes: []string{"a"}}, {Name: "deps", Size: 100, Spokes: []string{"b"}}},
		Spokes:    []placement.Spoke{spoke("a", func(s *placement.Spoke) { s.Load.Steps = 5 }), spoke("b", nil)},
	}
	d := placement.Decide(context.Background(), in, nil)
	if d.Spoke != "a" || candidate(d, "a").Scores["locality"] != 90 || candidate(d, "b").Scores["spread"] != 10 {
		t.Errorf("decision %+v", d)
	}
	in.Artifacts = nil
	if d := placement.Decide(context.Background(), in, nil); d.Spoke != "b" {
		t.Errorf("without inputs, the less busy spoke should win: %+v", d)
	}
}

// Policies deny and score with their own reasons; a failing policy makes the
// step wait (on_error deny) or is left out (skip).
func TestPolicies(t *testing.T) {
	ctx := t.Context()
	rego, err := policy.Load(ctx, "labels.rego", []byte(policytest.PlacementRego), policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	broken, err := policy.Load(ctx, "broken.rego", []byte("package switchyard.placement\n\nx := to_number(input.step.kind)\n"), policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	in := placement.Input{
		Step:  placement.Step{Tags: []string{"gpu"}},
		Build: placement.Build{Trusted: false},
		Spokes: []placement.Spoke{
			spoke("team-gpu", func(s *placement.Spoke) { s.Labels["gpu"] = "true"; s.Tags = []string{"gpu"} }),
			spoke("pool-gpu", func(s *placement.Spoke) { s.Pool = "shared"; s.Labels["gpu"] = "true"; s.Tags = []string{"gpu"} }),
			spoke("pool", func(s *placement.Spoke) { s.Pool = "shared"; s.Tags = []string{"gpu"} }),
		},
	}
	d := placement.Decide(ctx, in, []placement.Policy{{Name: "labels", Policy: rego}})
	if d.Spoke != "pool-gpu" || candidate(d, "pool-gpu").Scores["policy labels"] != 10 {
		t.Errorf("decision %+v", d)
	}
	if c := candidate(d, "team-gpu"); !c.Filtered || !strings.Contains(strings.Join(c.Reasons, ";"), "policy labels: untrusted builds run only in the shared pool") {
		t.Errorf("team-gpu: %+v", c)
	}
	in.Build.Trusted = true
	in.Build.Team = "blue"
	d = placement.Decide(ctx, in, []placement.Policy{{Name: "labels", Policy: rego}, {Name: "broken", Policy: broken, OnError: "deny"}})
	if d.Spoke != "" || len(d.Errors) != 1 || d.Errors[0].Policy != "broken" || !d.Errors[0].Blocks() || !strings.Contains(d.Reason, "on_error is deny") {
		t.Errorf("a failing deny policy: %+v", d)
	}
	d = placement.Decide(ctx, in, []placement.Policy{{Name: "labels", Policy: rego}, {Name: "broken", Policy: broken, OnError: "skip"}})
	if d.Spoke == "" || len(d.Errors) != 1 || d.Errors[0].Blocks() {
		t.Errorf("a failing skip policy: %+v", d)
	}
}

// Decisions stored before policy errors were values still read, as
// blocking errors of the policy their text names.
func TestStoredDecisionWithStringErrors(t *testing.T) {
	var d placement.Decision
	if err := json.Unmarshal([]byte(`{"spoke":"","errors":["broken: policy ran past its deadline (100ms)"]}`), &d); err != nil {
		t.Fatal(err)
	}
	want := placement.PolicyError{Policy: "broken", Err: "policy ran past its deadline (100ms)"}
	if len(d.Errors) != 1 || d.Errors[0] != want || !d.Errors[0].Blocks() {
		t.Errorf("errors %+v, want %+v", d.Errors, want)
	}
	out, _ := json.Marshal(placement.Decision{Errors: []placement.PolicyError{{Policy: "p", OnError: placement.OnErrorSkip, Err: "boom"}}})
	if !strings.Contains(string(out), `"errors":[{"policy":"p","on_error":"skip","error":"boom"}]`) {
		t.Errorf("a decision as JSON: %s", out)
	}
}

func TestDecisionSummary(t *testing.T) {
	d := placement.Decision{Spoke: "a", Candidates: []placement.Candidate{
		{Spoke: "a", Score: 110, Scores: map[string]float64{"spread": 10, "locality": 100}},
		{Spoke: "b", Score: 10, Scores: map[string]float64{"spread": 10}},
		{Spoke: "c", Filtered: true, Reasons: []string{"tags: lacks gpu"}},
	}}
	want := "a, score 110 (locality 100, spread 10); 1 other spokes scored no higher, 1 filtered out"
	if got := d.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got := (placement.Decision{Reason: "every spoke is filtered out"}).Summary(); got != "no spoke: every spoke is filtered out" {
		t.Errorf("Summary() of no decision = %q", got)
	}
}

// An OPA WASM policy, which keeps the spokes it has parsed between
// decisions, decides as the same policy in Rego while spokes change, come
// and go, and its cache fills and starts over; and after a plain
// evaluation of another input on the same instance.
func TestOPAWASMKeepsDecidingAsRego(t *testing.T) {
	ctx := t.Context()
	mod, err := policy.CompileRego(ctx, "labels.rego", []byte(policytest.PlacementRego))
	if err != nil {
		t.Fatal(err)
	}
	decideAlike(t, policytest.PlacementRego, mod)
}

// labelscoreRego is what the Go reference policy decides, in Rego.
const labelscoreRego = `package switchyard.placement

deny[s.name] contains "the spoke is draining" if {
	some s in input.spokes
	s.labels["switchyard.dev/draining"] == "true"
}

score[s.name] := count([tag | some tag in input.step.tags; s.labels[tag] == "true"]) * 10 if {
	some s in input.spokes
	some tag in input.step.tags
	s.labels[tag] == "true"
}
`

// The Go reference policy, which takes spokes one at a time and keeps
// them, decides as its Rego twin.
func TestGoReferenceKeepsDecidingAsRego(t *testing.T) {
	decideAlike(t, labelscoreRego, policytest.BuildGo(t, "../examples/policies/labelscore", ""))
}

// decideAlike runs a series of decisions, through a Rego policy and a WASM
// one, over spokes that change.
func decideAlike(t *testing.T, regoSrc string, wasmSrc []byte) {
	t.Helper()
	ctx := t.Context()
	rego, err := policy.Load(ctx, "p.rego", []byte(regoSrc), policytest.Ample)
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := policy.Load(ctx, "p.wasm", wasmSrc, policy.Limits{Instances: 1, Timeout: policytest.Ample.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	scored, denied := 0, 0
	in := fleetInput(12)
	in.Step.Tags = []string{"gpu", `ss"d\`}
	in.Spokes[1].Name = "spöke \"quoted\" \\ \u00e9\t"
	in.Spokes[1].Labels[`ss"d\`] = "true"
	in.Spokes[2].Labels = nil
	for i := range 400 {
		sp := &in.Spokes[(i*7)%len(in.Spokes)]
		switch i % 5 {
		case 0:
			sp.Load.Steps = (sp.Load.Steps + 1) % 20
		case 1:
			if sp.Labels == nil {
				sp.Labels = map[string]string{}
			}
			sp.Labels["gpu"] = map[string]string{"true": "false", "false": "true", "": "true"}[sp.Labels["gpu"]]
		case 2:
			in.Build.Trusted = !in.Build.Trusted
		case 3:
			if len(in.Spokes) > 4 {
				in.Spokes = in.Spokes[1:]
			}
		case 4:
			in.Spokes = append(in.Spokes, spoke(fmt.Sprintf("new-%d", i), func(s *placement.Spoke) {
				s.Pool = "shared"
				s.Labels["switchyard.dev/draining"] = fmt.Sprint(i%3 == 0)
			}))
		}
		if i%37 == 20 {
			other, _ := json.Marshal(fleetInput(40))
			if _, err := wasm.Eval(ctx, other); err != nil {
				t.Fatal(err)
			}
		}
		want := placement.Decide(ctx, in, []placement.Policy{{Name: "p", Policy: rego}})
		got := placement.Decide(ctx, in, []placement.Policy{{Name: "p", Policy: wasm}})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decision %d (-rego +wasm):\n%s", i, diff)
		}
		if len(got.Errors) > 0 {
			t.Fatalf("decision %d: %v", i, got.Errors)
		}
		for _, c := range got.Candidates {
			if c.Scores["policy p"] > 0 {
				scored++
			}
			if strings.Contains(strings.Join(c.Reasons, ";"), "policy p: ") {
				denied++
			}
		}
	}
	if scored == 0 || denied == 0 {
		t.Errorf("the policies scored %d and denied %d spokes in all: the comparison says little", scored, denied)
	}
}
