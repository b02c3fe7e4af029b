package placer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchyard-ci/switchyard/placement"
)

// Admission questions, as Concourse's policy checks ask them: the action,
// who asks, and what (set_pipeline: the config; use_image: the job, step
// and image; use_privileged: the job and step).
type Question struct {
	Action   string `json:"action"`
	Team     string `json:"team"`
	User     string `json:"user"`
	Pipeline string `json:"pipeline"`
	Data     any    `json:"data"`
}

// Verdict is what the policies in force answer to questions: reasons that
// block the action, and reasons that only warn.
type Verdict struct {
	Blocked  []string
	Warnings []string
}

// admissionAnswer is what admission reads of a policy's answer: Concourse's
// allowed, block (false: warn only; default true) and reasons.
type admissionAnswer struct {
	Admission *struct {
		Allowed *bool    `json:"allowed"`
		Block   *bool    `json:"block"`
		Reasons []string `json:"reasons"`
	} `json:"admission"`
}

// Admit asks the policies in force for a team each question. A policy with
// no admission answer allows; one that fails blocks (on_error deny) or warns
// (skip); a warn-only policy never blocks.
func (p *Placer) Admit(ctx context.Context, teamID int64, questions []Question) (Verdict, error) {
	policies, err := p.policiesFor(ctx, teamID)
	if err != nil {
		return Verdict{}, err
	}
	var v Verdict
	for _, q := range questions {
		raw, err := json.Marshal(q)
		if err != nil {
			return v, err
		}
		for _, pol := range policies {
			say := func(block bool, msg string) {
				if block && !pol.warnOnly {
					v.Blocked = append(v.Blocked, msg)
				} else {
					v.Warnings = append(v.Warnings, msg)
				}
			}
			out, err := pol.p.Eval(ctx, raw)
			var ans admissionAnswer
			if err == nil {
				err = json.Unmarshal(out, &ans)
			}
			if err != nil {
				say(pol.onError != placement.OnErrorSkip, fmt.Sprintf("policy %s failed on %s: %v", pol.name, q.Action, err))
				continue
			}
			a := ans.Admission
			if a == nil || a.Allowed == nil || *a.Allowed {
				continue
			}
			reasons := strings.Join(a.Reasons, "; ")
			if reasons == "" {
				reasons = "no reason given"
			}
			say(a.Block == nil || *a.Block, fmt.Sprintf("policy %s: %s: %s", pol.name, q.Action, reasons))
		}
	}
	return v, nil
}
