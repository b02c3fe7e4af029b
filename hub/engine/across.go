package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/vars"
)

// across runs its step once per combination of its vars' values, as nested
// in_parallel steps (the first var outermost), each level at most its var's
// max_in_flight at once (default 1), fail_fast across all. Each run is the
// step's template with the vars' values in place of their ((.:var))
// references and ids of its own (<id>/<n>), so its events are its own.

// DefaultMaxAcrossCombinations bounds the runs of one across step.
const DefaultMaxAcrossCombinations = 1000

func (r *run) across(ctx context.Context, p *pipeline.Plan) (bool, error) {
	a := p.Across
	resolver, err := r.vars(ctx)
	if err != nil {
		return false, err
	}
	values := make([][]any, len(a.Vars))
	total := 1
	bound := r.e.maxAcross
	if bound <= 0 {
		bound = DefaultMaxAcrossCombinations
	}
	for i, v := range a.Vars {
		resolved, err := vars.Interpolate(ctx, v.Values, resolver)
		if err != nil {
			return false, fmt.Errorf("across var %s: %w", v.Var, err)
		}
		list, ok := resolved.([]any)
		if !ok {
			return false, fmt.Errorf("across var %s: its values are %T, not a list", v.Var, resolved)
		}
		values[i] = list
		if total *= len(list); total > bound {
			return false, fmt.Errorf("across step %s: its vars make %s combinations or more, past the hub's bound of %d (switchyard hub --max-across-combinations)", p.ID, strconv.Itoa(total), bound)
		}
	}
	if total == 0 {
		return true, nil
	}
	var template any
	if err := json.Unmarshal([]byte(a.SubStepTemplate), &template); err != nil {
		return false, fmt.Errorf("across step %s: its template: %w", p.ID, err)
	}
	n := 0
	var substeps []map[string]any // each run as a public plan, for the across-substeps event
	var level func(depth int, chosen map[string]any) (pipeline.Plan, error)
	level = func(depth int, chosen map[string]any) (pipeline.Plan, error) {
		if depth == len(a.Vars) {
			n++
			sub, err := substep(template, chosen, "/"+strconv.Itoa(n))
			substeps = append(substeps, pipeline.Public(sub))
			return sub, err
		}
		v := a.Vars[depth]
		steps := make([]pipeline.Plan, 0, len(values[depth]))
		for _, val := range values[depth] {
			next := make(map[string]any, len(chosen)+1)
			for k, x := range chosen {
				next[k] = x
			}
			next[v.Var] = val
			sub, err := level(depth+1, next)
			if err != nil {
				return pipeline.Plan{}, err
			}
			steps = append(steps, sub)
		}
		limit, err := maxInFlight(v.MaxInFlight, len(steps))
		if err != nil {
			return pipeline.Plan{}, fmt.Errorf("across var %s: %w", v.Var, err)
		}
		return pipeline.Plan{ID: p.ID + "/" + v.Var, InParallel: &pipeline.InParallelPlan{Steps: steps, Limit: limit, FailFast: a.FailFast}}, nil
	}
	expanded, err := level(0, map[string]any{})
	if err != nil {
		return false, err
	}
	r.acrossSubsteps(ctx, p.ID, substeps)
	return r.step(ctx, &expanded)
}

// maxInFlight reads a var's max_in_flight: all, a positive number, or 1.
func maxInFlight(v any, all int) (int, error) {
	switch x := v.(type) {
	case nil:
		return 1, nil
	case string:
		if x == "all" {
			return all, nil
		}
		if n, err := strconv.Atoi(x); err == nil && n > 0 {
			return n, nil
		}
	case float64:
		if x >= 1 && x == float64(int(x)) {
			return int(x), nil
		}
	case int:
		if x >= 1 {
			return x, nil
		}
	case int64: // a plan compiled in memory, not read back from JSON
		if x >= 1 {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("max_in_flight %v: give all or a positive number", v)
}

// localRef finds ((.:name)) and ((.:name.field...)) references.
var localRef = regexp.MustCompile(`\(\(\s*\.:([^)\s]+)\s*\)\)`)

// substep is the template with the chosen values in place of their local
// var references (other references stay, for the steps to resolve as they
// run) and its ids suffixed with suffix. A reference that is a whole value
// takes the value's type where the step's field allows it, its JSON text
// where the field wants a string (a task param).
func substep(template any, chosen map[string]any, suffix string) (pipeline.Plan, error) {
	var plan pipeline.Plan
	var err error
	for _, typed := range []bool{true, false} {
		raw, merr := json.Marshal(substitute("", template, chosen, suffix, typed))
		if merr != nil {
			return pipeline.Plan{}, merr
		}
		plan = pipeline.Plan{}
		if err = json.Unmarshal(raw, &plan); err == nil {
			return plan, nil
		}
	}
	return pipeline.Plan{}, fmt.Errorf("across: the step with its values: %w", err)
}

func substitute(key string, v any, chosen map[string]any, suffix string, typed bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = substitute(k, val, chosen, suffix, typed)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = substitute("", val, chosen, suffix, typed)
		}
		return out
	case string:
		if key == "id" || key == "version_from" {
			return x + suffix
		}
		if m := localRef.FindStringSubmatch(x); typed && m != nil && m[0] == x {
			if val, ok := lookupChosen(chosen, m[1]); ok {
				return val
			}
		}
		return localRef.ReplaceAllStringFunc(x, func(ref string) string {
			val, ok := lookupChosen(chosen, localRef.FindStringSubmatch(ref)[1])
			if !ok {
				return ref
			}
			if s, isString := val.(string); isString {
				return s
			}
			b, _ := json.Marshal(val)
			return string(b)
		})
	}
	return v
}

// lookupChosen finds name (with .field paths into maps) among the values.
func lookupChosen(chosen map[string]any, ref string) (any, bool) {
	parts := strings.Split(ref, ".")
	v, ok := chosen[parts[0]]
	if !ok {
		return nil, false
	}
	for _, f := range parts[1:] {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		if v, ok = m[f]; !ok {
			return nil, false
		}
	}
	return v, true
}

// acrossSubsteps tells the build's events of an across step's runs, as
// Concourse's across-substeps event, for the UIs that draw them.
func (r *run) acrossSubsteps(ctx context.Context, planID string, substeps []map[string]any) {
	if r.e == nil || r.e.store == nil {
		return // plan_test.go's runs have no store
	}
	payload, _ := json.Marshal(api.AcrossSubstepsEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: planID}, Substeps: substeps})
	r.appendEvent(ctx, store.Event{Type: api.EventAcrossSubsteps, Version: api.EventVersions[api.EventAcrossSubsteps], Payload: payload})
}
