package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// script is a build whose leaves are tasks that do what their names say:
// ok…, fail… (exit non-zero), err… (a step error), block… (until cancelled),
// abort… (someone aborts the build while it runs), flaky… (fails its
// first two attempts), par… (counts how many run at once); late-… waits
// until a block… step runs, then does what the rest of its name says.
type script struct {
	r      *run
	cancel context.CancelFunc

	blocked     chan struct{} // closed when a block… step runs
	blockedOnce sync.Once

	mu           sync.Mutex
	ran, said    []string
	tries        map[string]int
	active, peak int
}

func (s *script) leaf(ctx context.Context, p *pipeline.Plan) (bool, error) {
	if p.Across != nil { // the engine's own expansion, its runs back here
		return s.r.across(ctx, p)
	}
	name := p.Task.Name
	if do, ok := p.Task.Params["DO"]; ok { // an across run's name, from its values
		name = do
	}
	if rest, ok := strings.CutPrefix(name, "late-"); ok {
		<-s.blocked
		name = rest
	}
	s.mu.Lock()
	s.ran = append(s.ran, name)
	s.tries[name]++
	try := s.tries[name]
	s.mu.Unlock()
	switch {
	case strings.HasPrefix(name, "ok"):
		return true, nil
	case strings.HasPrefix(name, "fail"):
		return false, nil
	case strings.HasPrefix(name, "err"):
		return false, fmt.Errorf("%s broke", name)
	case strings.HasPrefix(name, "flaky"):
		return try >= 3, nil
	case strings.HasPrefix(name, "abort"):
		s.r.aborted.Store(true)
		s.cancel()
	case strings.HasPrefix(name, "par"):
		s.mu.Lock()
		s.active++
		s.peak = max(s.peak, s.active)
		s.mu.Unlock()
		time.Sleep(5 * time.Millisecond) // lets siblings overlap if the limit allows; no result depends on it
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
		return true, nil
	}
	if strings.HasPrefix(name, "block") {
		s.blockedOnce.Do(func() { close(s.blocked) })
	}
	<-ctx.Done() // block…, abort…
	s.mu.Lock()
	s.ran = append(s.ran, name+" stopped")
	s.mu.Unlock()
	return false, ctx.Err()
}

// runPlan runs job j of a pipeline whose tasks are written {task: NAME, C}.
func runPlan(t *testing.T, jobYAML string) (bool, error, *script) {
	t.Helper()
	src := "jobs:\n- name: j\n  plan:\n" + strings.ReplaceAll(jobYAML, ", C}", ", config: {platform: linux, run: {path: x}}}")
	p, err := pipeline.Load([]byte(src), pipeline.Options{File: "plan.yml"})
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	plan, err := p.Config.CompileJob("j")
	if err != nil {
		t.Fatal(err)
	}
	// A step that is never stopped would block for ever: a minute bounds it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := &script{cancel: cancel, tries: map[string]int{}, blocked: make(chan struct{})}
	s.r = &run{e: &Engine{maxAcross: 8}, resolver: &creds.Resolver{}, life: t.Context(), leaf: s.leaf, say: func(_ context.Context, _, msg string) {
		s.mu.Lock()
		s.said = append(s.said, msg)
		s.mu.Unlock()
	}}
	ok, err := s.r.step(ctx, &plan)
	return ok, err, s
}

func TestPlanSemantics(t *testing.T) {
	broke := errors.New("") // any error other than an abort
	for _, tt := range []struct {
		name, plan string
		ok         bool
		err        error
		ran, said  []string
	}{
		{"do runs steps in order", "  - {task: ok1, C}\n  - {task: ok2, C}\n", true, nil, []string{"ok1", "ok2"}, nil},
		{"do stops at a failure", "  - {task: fail1, C}\n  - {task: ok2, C}\n", false, nil, []string{"fail1"}, nil},
		{"do stops at an error", "  - {task: err1, C}\n  - {task: ok2, C}\n", false, broke, []string{"err1"}, nil},
		{"try turns a failure into success", "  - try: {task: fail1, C}\n  - {task: ok2, C}\n", true, nil, []string{"fail1", "ok2"}, nil},
		{"try turns an error into success", "  - try: {task: err1, C}\n  - {task: ok2, C}\n", true, nil, []string{"err1", "ok2"}, nil},
		{"try does not hide an abort", "  - try: {task: abort1, C}\n  - {task: ok2, C}\n", false, errAborted, []string{"abort1", "abort1 stopped"}, nil},
		{"timeout fails the step and says why", "  - {task: block1, timeout: 20ms, C}\n  - {task: ok2, C}\n", false, nil,
			[]string{"block1", "block1 stopped"}, []string{"timeout exceeded (20ms)"}},
		{"attempts retry a failure until it succeeds", "  - {task: flaky1, attempts: 3, C}\n", true, nil, []string{"flaky1", "flaky1", "flaky1"}, nil},
		{"attempts give up after the last", "  - {task: fail1, attempts: 2, C}\n", false, nil, []string{"fail1", "fail1"}, nil},
		{"attempts stop at an abort", "  - {task: abort1, attempts: 3, C}\n", false, errAborted, []string{"abort1", "abort1 stopped"}, nil},
		{"on_success runs after success", "  - {task: ok1, on_success: {task: ok-hook, C}, C}\n", true, nil, []string{"ok1", "ok-hook"}, nil},
		{"on_success's failure fails the step", "  - {task: ok1, on_success: {task: fail-hook, C}, C}\n", false, nil, []string{"ok1", "fail-hook"}, nil},
		{"on_success does not run after failure", "  - {task: fail1, on_success: {task: ok-hook, C}, C}\n", false, nil, []string{"fail1"}, nil},
		{"on_failure runs after failure, which stays", "  - {task: fail1, on_failure: {task: ok-hook, C}, C}\n", false, nil, []string{"fail1", "ok-hook"}, nil},
		{"on_failure does not run after an error", "  - {task: err1, on_failure: {task: ok-hook, C}, C}\n", false, broke, []string{"err1"}, nil},
		{"on_error runs after an error", "  - {task: err1, on_error: {task: ok-hook, C}, C}\n", false, broke, []string{"err1", "ok-hook"}, nil},
		{"on_error does not run after failure", "  - {task: fail1, on_error: {task: ok-hook, C}, C}\n", false, nil, []string{"fail1"}, nil},
		{"ensure runs after success", "  - {task: ok1, ensure: {task: ok-hook, C}, C}\n", true, nil, []string{"ok1", "ok-hook"}, nil},
		{"ensure runs after failure", "  - {task: fail1, ensure: {task: ok-hook, C}, C}\n", false, nil, []string{"fail1", "ok-hook"}, nil},
		{"ensure's failure fails the step", "  - {task: ok1, ensure: {task: fail-hook, C}, C}\n", false, nil, []string{"ok1", "fail-hook"}, nil},
		{"on_abort and ensure run after an abort; nothing else does",
			"  - {task: ok1, C}\n  - {task: abort1, on_abort: {task: ok-on-abort, C}, ensure: {task: ok-ensure, C}, C}\n  - {task: ok2, C}\n",
			false, errAborted, []string{"ok1", "abort1", "abort1 stopped", "ok-on-abort", "ok-ensure"}, nil},
		{"on_abort does not run after failure", "  - {task: fail1, on_abort: {task: ok-hook, C}, C}\n", false, nil, []string{"fail1"}, nil},
		{"in_parallel runs every step; one failure fails it",
			"  - in_parallel: [{task: fail1, C}, {task: ok2, C}]\n", false, nil, []string{"fail1", "ok2"}, nil},
		{"in_parallel with fail_fast stops the siblings, not the build",
			"  - in_parallel: {fail_fast: true, steps: [{task: block1, C}, {task: late-fail2, C}]}\n", false, nil, []string{"block1", "fail2", "block1 stopped"}, nil},
		{"an abort stops in_parallel", "  - in_parallel: [{task: block1, C}, {task: late-abort2, C}]\n", false, errAborted,
			[]string{"abort2", "abort2 stopped", "block1", "block1 stopped"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, err, s := runPlan(t, tt.plan)
			if ok != tt.ok {
				t.Errorf("ok %v, want %v (error %v)", ok, tt.ok, err)
			}
			switch {
			case tt.err == nil && err != nil, tt.err == errAborted && !errors.Is(err, errAborted),
				tt.err == broke && (err == nil || errors.Is(err, errAborted)):
				t.Errorf("error %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(sorted(s.ran, tt.plan), sorted(tt.ran, tt.plan)) {
				t.Errorf("ran %q, want %q", s.ran, tt.ran)
			}
			if !reflect.DeepEqual(s.said, tt.said) {
				t.Errorf("said %q, want %q", s.said, tt.said)
			}
		})
	}
}

// sorted orders what ran when the plan runs steps in parallel (their order
// is the scheduler's), and keeps it otherwise.
func sorted(ran []string, plan string) []string {
	if !strings.Contains(plan, "in_parallel") {
		return ran
	}
	out := append([]string{}, ran...)
	slices.Sort(out)
	return out
}

// in_parallel's limit bounds how many steps run at once.
func TestInParallelLimit(t *testing.T) {
	ok, err, s := runPlan(t, "  - in_parallel: {limit: 2, steps: [{task: par1, C}, {task: par2, C}, {task: par3, C}, {task: par4, C}, {task: par5, C}]}\n")
	if !ok || err != nil {
		t.Fatalf("ok %v, error %v", ok, err)
	}
	if len(s.ran) != 5 || s.peak > 2 {
		t.Errorf("ran %q with %d at once, want all 5 with at most 2", s.ran, s.peak)
	}
}

// across runs its step once per combination, each level at most its var's
// max_in_flight at once (1 by default), fail_fast stopping the others; past
// the hub's bound (8 here) it errors before running anything.
func TestAcrossSemantics(t *testing.T) {
	five := "[{var: v, values: [1, 2, 3, 4, 5]%s}]"
	for _, tt := range []struct {
		name, plan string
		ok         bool
		ran        []string
		peak       int
	}{
		{"one at a time by default", "  - {task: par, across: " + fmt.Sprintf(five, "") + ", C}\n", true, []string{"par", "par", "par", "par", "par"}, 1},
		{"max_in_flight bounds the runs at once", "  - {task: par, across: " + fmt.Sprintf(five, ", max_in_flight: 2") + ", C}\n", true, []string{"par", "par", "par", "par", "par"}, 2},
		{"a matrix runs every combination", "  - {task: t, params: {DO: 'ok((.:x))((.:z))'}, across: [{var: x, values: [a, b]}, {var: z, values: [1, 2]}], C}\n",
			true, []string{"oka1", "oka2", "okb1", "okb2"}, 0},
		{"a failed run fails the step, the others run",
			"  - {task: t, params: {DO: '((.:v))'}, across: [{var: v, values: [fail1, ok2], max_in_flight: all}], C}\n", false, []string{"fail1", "ok2"}, 0},
		{"fail_fast stops the other runs",
			"  - {task: t, params: {DO: '((.:v))'}, across: [{var: v, values: [block1, late-fail2], max_in_flight: all}], fail_fast: true, C}\n",
			false, []string{"block1", "block1 stopped", "fail2"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, err, s := runPlan(t, tt.plan)
			if ok != tt.ok || err != nil {
				t.Errorf("ok %v, error %v; want ok %v", ok, err, tt.ok)
			}
			ran := slices.Clone(s.ran)
			slices.Sort(ran)
			if !reflect.DeepEqual(ran, tt.ran) {
				t.Errorf("ran %q, want %q", ran, tt.ran)
			}
			if tt.peak > 0 && s.peak > tt.peak {
				t.Errorf("%d at once, want at most %d", s.peak, tt.peak)
			}
		})
	}
	ok, err, s := runPlan(t, "  - {task: par, across: [{var: x, values: [1, 2, 3]}, {var: z, values: [1, 2, 3]}], C}\n")
	if ok || err == nil || !strings.Contains(err.Error(), "past the hub's bound of 8") || len(s.ran) != 0 {
		t.Errorf("9 combinations over a bound of 8: ok %v, error %v, ran %q", ok, err, s.ran)
	}
}
