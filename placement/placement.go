package placement

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/switchyard-ci/switchyard/policy"
)

// Policy is a policy as placement uses it.
type Policy struct {
	Name    string
	Policy  policy.Policy
	OnError string // OnErrorDeny or OnErrorSkip
}

// What a policy's failure does to a decision.
const (
	OnErrorDeny = "deny" // the step waits: no spoke is chosen
	OnErrorSkip = "skip" // the policy is left out
)

// PolicyError is a policy that failed in a decision: which, what its
// on_error is, and why.
type PolicyError struct {
	Policy  string `json:"policy"`
	OnError string `json:"on_error"`
	Err     string `json:"error"`
}

func (e PolicyError) Error() string { return e.Policy + ": " + e.Err }

// Blocks tells whether the failure makes the step wait.
func (e PolicyError) Blocks() bool { return e.OnError != OnErrorSkip }

// UnmarshalJSON also reads decisions stored before errors were values: a
// string "policy: error", whose on_error was not kept (it then blocks).
func (e *PolicyError) UnmarshalJSON(b []byte) error {
	var legacy string
	if json.Unmarshal(b, &legacy) == nil {
		e.Policy, e.Err, _ = strings.Cut(legacy, ": ")
		return nil
	}
	type plain PolicyError
	return json.Unmarshal(b, (*plain)(e))
}

// Decision is where a step goes and why.
type Decision struct {
	Spoke      string        `json:"spoke"` // "" when no spoke may run the step
	Reason     string        `json:"reason,omitempty"`
	Candidates []Candidate   `json:"candidates"` // the chosen spoke first, then by score
	Errors     []PolicyError `json:"errors,omitempty"`
}

// Candidate is one spoke's verdict.
type Candidate struct {
	Spoke    string             `json:"spoke"`
	Filtered bool               `json:"filtered"`
	Reasons  []string           `json:"reasons,omitempty"` // why it was filtered out: "plugin: reason"
	Score    float64            `json:"score"`
	Scores   map[string]float64 `json:"scores,omitempty"` // by plugin or policy
}

// Weights of the built-in scores.
const (
	localityWeight = 100 // share of the inputs' bytes the spoke holds
	spreadWeight   = 10  // share of the spoke's step capacity that is free
)

// Decide places one step.
func Decide(ctx context.Context, in Input, policies []Policy) Decision {
	cands := make([]Candidate, len(in.Spokes))
	scores := scorers(&in)
	for i := range in.Spokes {
		sp := &in.Spokes[i]
		// Built-in scores and about one policy's.
		c := Candidate{Spoke: sp.Name, Scores: make(map[string]float64, 3+len(policies))}
		for _, f := range filters {
			if v := f.Filter(&in, sp); !v.Fits {
				c.Filtered = true
				c.Reasons = append(c.Reasons, f.Name()+": "+v.Reason)
			}
		}
		for _, s := range scores {
			c.Scores[s.Name()] = s.Score(sp)
		}
		cands[i] = c
	}
	var d Decision
	if len(policies) > 0 {
		d.Errors = applyPolicies(ctx, in, policies, cands)
	}
	for i := range cands {
		for _, s := range cands[i].Scores {
			cands[i].Score += s
		}
	}
	// Sorted through indices: moving the candidates themselves cost more.
	order := make([]int32, len(cands))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &cands[i], &cands[j]
		switch {
		case a.Filtered != b.Filtered:
			if a.Filtered {
				return 1
			}
			return -1
		case a.Score != b.Score:
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.Spoke, b.Spoke)
	})
	sorted := make([]Candidate, len(cands))
	for i, k := range order {
		sorted[i] = cands[k]
	}
	cands = sorted
	d.Candidates = cands
	switch {
	case slices.ContainsFunc(d.Errors, PolicyError.Blocks):
		d.Reason = "a policy failed, and its on_error is deny: the step waits"
	case len(cands) == 0:
		d.Reason = "no spoke is connected"
	case cands[0].Filtered:
		d.Reason = "every spoke was filtered out"
	default:
		d.Spoke = cands[0].Spoke
	}
	return d
}

// applyPolicies evaluates each policy once over all candidates, and adds its
// denials and scores; it returns the policies' errors.
func applyPolicies(ctx context.Context, in Input, policies []Policy, cands []Candidate) []PolicyError {
	var doc, raw []byte
	var spokes [][]byte
	var value ast.Value
	byName := make(map[string]*Candidate, len(cands))
	for i := range cands {
		byName[cands[i].Spoke] = &cands[i]
	}
	var errs []PolicyError
	for i, p := range policies {
		var v any
		var out []byte
		var err error
		if ve, ok := p.Policy.(policy.ValueEvaluator); ok {
			if value == nil {
				value = in.Value()
			}
			v, err = ve.EvalValue(ctx, value)
		} else {
			if doc == nil {
				if doc, spokes, err = in.Split(); err != nil {
					// No more policies can be asked: each fails as its on_error says.
					for _, q := range policies[i:] {
						errs = append(errs, PolicyError{Policy: q.Name, OnError: q.OnError, Err: "its input: " + err.Error()})
					}
					return errs
				}
			}
			if se, ok := p.Policy.(policy.SplitEvaluator); ok {
				out, err = se.EvalSplit(ctx, doc, "spokes", spokes)
			} else {
				if raw == nil {
					raw = policy.JoinArray(doc, "spokes", spokes)
				}
				out, err = p.Policy.Eval(ctx, raw)
			}
			if err == nil {
				dec := json.NewDecoder(bytes.NewReader(out))
				dec.UseNumber()
				err = dec.Decode(&v)
			}
		}
		var ans answer
		if err == nil {
			ans, err = readAnswer(v)
		}
		if err != nil {
			errs = append(errs, PolicyError{Policy: p.Name, OnError: p.OnError, Err: err.Error()})
			continue
		}
		for spoke, reasons := range ans.deny {
			if c := byName[spoke]; c != nil {
				c.Filtered = true
				for _, r := range reasons {
					c.Reasons = append(c.Reasons, "policy "+p.Name+": "+r)
				}
			}
		}
		for spoke, score := range ans.score {
			if c := byName[spoke]; c != nil {
				c.Scores["policy "+p.Name] = score
			}
		}
	}
	return errs
}
