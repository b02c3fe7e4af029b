package algorithm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/algorithm/algorithmtest"
	"github.com/switchyard-ci/switchyard/algorithm/scenario"
)

// TestScenarios runs the shared scenarios (copied from shared/algorithm) through
// the pure resolver over an in-memory VersionsDB.
func TestScenarios(t *testing.T) {
	scenarios, err := scenario.Load("testdata/scenarios.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) != 44 {
		t.Fatalf("%d scenarios, want 44", len(scenarios))
	}
	for _, s := range scenarios {
		t.Run(s.ID, func(t *testing.T) {
			if diff := check(s); diff != "" {
				t.Errorf("%s: %s", s.Name, diff)
			}
		})
	}
}

// TestRegressionScenarios runs the production-sized scenarios that have an
// expectation.
func TestRegressionScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("production-sized scenarios take seconds")
	}
	files, _ := filepath.Glob("testdata/regression/*.json.gz")
	if len(files) == 0 {
		t.Fatal("no regression scenarios")
	}
	for _, f := range files {
		scenarios, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scenarios {
			if s.Expected == nil || s.HasTag("benchmark_only") {
				continue
			}
			t.Run(s.ID, func(t *testing.T) {
				if diff := check(s); diff != "" {
					t.Errorf("%s: %s", s.Name, diff)
				}
			})
		}
	}
}

// check resolves a scenario and says how the answer differs from what it expects.
func check(s scenario.Scenario) string {
	ctx := context.Background()
	db, err := algorithmtest.New(s)
	if err != nil {
		return err.Error()
	}
	inputs := make([]algorithm.Input, 0, len(s.JobInputs))
	resources := map[string]scenario.Resource{}
	for _, r := range s.Resources {
		resources[r.Name] = r
	}
	for _, in := range s.JobInputs {
		ai := algorithm.Input{Name: in.Name, ResourceID: db.ResourceID(in.Resource), Every: in.Version == "every"}
		for _, p := range in.Passed {
			ai.Passed = append(ai.Passed, db.JobID(p))
		}
		switch {
		case in.Version == "pinned" && in.PinnedVersion != nil:
			ai.Pinned = map[string]string{"ver": *in.PinnedVersion}
		case resources[in.Resource].PinnedVersion != nil:
			ai.Pinned = map[string]string{"ver": *resources[in.Resource].PinnedVersion}
		}
		inputs = append(inputs, ai)
	}
	iterations := max(s.Iterations, 1)
	var first string
	for i := range iterations {
		res, err := algorithm.Resolve(ctx, db, db.JobID(s.CurrentJob), inputs)
		if err != nil {
			return err.Error()
		}
		got := describe(s, db, inputs, res)
		if i == 0 {
			first = got
		} else if got != first {
			return fmt.Sprintf("iteration %d differs:\n%s", i, cmp.Diff(first, got))
		}
	}
	return compare(s, db, inputs, first)
}

func describe(s scenario.Scenario, db *algorithmtest.Memory, inputs []algorithm.Input, res algorithm.Result) string {
	var lines []string
	lines = append(lines, fmt.Sprintf("ok=%v has_next=%v", res.OK(), res.HasNext()))
	for _, in := range inputs {
		if e, ok := res.Errors[in.Name]; ok {
			lines = append(lines, fmt.Sprintf("error %s: %s", in.Name, e))
			continue
		}
		c := res.Candidates[in.Name]
		ids := make([]int, len(c.PassedBuilds))
		for i, b := range c.PassedBuilds {
			ids[i] = int(b)
		}
		sort.Ints(ids)
		lines = append(lines, fmt.Sprintf("version %s: %s passed=%v first=%v", in.Name, db.VersionValue(in.ResourceID, c.Version), ids, c.FirstOccurrence))
	}
	return strings.Join(lines, "\n")
}

// compare checks the described answer against the scenario's expectation.
func compare(s scenario.Scenario, db *algorithmtest.Memory, inputs []algorithm.Input, got string) string {
	e := s.Expected
	var want []string
	var problems []string
	has := func(line string) bool { return strings.Contains("\n"+got+"\n", "\n"+line) }
	if !strings.HasPrefix(got, fmt.Sprintf("ok=%v ", e.OK)) {
		problems = append(problems, fmt.Sprintf("ok: want %v", e.OK))
	}
	if e.HasNext != nil && !strings.Contains(strings.SplitN(got, "\n", 2)[0], fmt.Sprintf("has_next=%v", *e.HasNext)) {
		problems = append(problems, fmt.Sprintf("has_next: want %v", *e.HasNext))
	}
	if e.OK {
		for name, v := range e.Versions {
			want = append(want, fmt.Sprintf("version %s: %s ", name, v))
		}
	}
	for name, msg := range e.Errors {
		want = append(want, fmt.Sprintf("error %s: %s", name, msg))
	}
	errorLines := strings.Count(got, "\nerror ")
	if errorLines != len(e.Errors) {
		problems = append(problems, fmt.Sprintf("%d inputs failed, want %d", errorLines, len(e.Errors)))
	}
	for name, ids := range e.PassedBuildIDs {
		sorted := append([]int64(nil), ids...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		want = append(want, fmt.Sprintf("version %s: ", name)+"*passed="+strings.ReplaceAll(fmt.Sprint(sorted), " ", " "))
	}
	for name, first := range e.FirstOccurrence {
		want = append(want, fmt.Sprintf("version %s: *first=%v", name, first))
	}
	for _, w := range want {
		if strings.Contains(w, "*") {
			prefix, suffix, _ := strings.Cut(w, "*")
			found := false
			for _, line := range strings.Split(got, "\n") {
				if strings.HasPrefix(line, prefix) && strings.Contains(line, suffix) {
					found = true
				}
			}
			if !found {
				problems = append(problems, "want "+prefix+suffix)
			}
			continue
		}
		if !has(w) {
			problems = append(problems, "want "+w)
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "; ") + "\ngot:\n" + got
}

// The comparison itself must catch wrong answers, or the scenarios prove nothing.
func TestCheckDetectsWrongAnswers(t *testing.T) {
	scenarios, err := scenario.Load("testdata/scenarios.json")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]scenario.Scenario{}
	for _, s := range scenarios {
		byID[s.ID] = s
	}
	mutations := map[string]func(e *scenario.Expected){
		"algorithm/002": func(e *scenario.Expected) {
			for k := range e.Versions {
				e.Versions[k] = "not-this-one"
				break
			}
		},
		"algorithm/012": func(e *scenario.Expected) { e.OK = true },
		"algorithm/044": func(e *scenario.Expected) { e.Errors["resource-x"] = "some other reason" },
		"algorithm/052": func(e *scenario.Expected) { e.Errors = map[string]string{} },
		"algorithm/062": func(e *scenario.Expected) { f := false; e.HasNext = &f },
		"algorithm/006": func(e *scenario.Expected) { e.PassedBuildIDs["resource-x"] = []int64{1, 2} },
		"first_occurrence/001": func(e *scenario.Expected) {
			for k, v := range e.FirstOccurrence {
				e.FirstOccurrence[k] = !v
			}
		},
	}
	for id, mutate := range mutations {
		s, ok := byID[id]
		if !ok {
			t.Fatalf("no scenario %s", id)
		}
		if diff := check(s); diff != "" {
			t.Fatalf("%s fails before mutation: %s", id, diff)
		}
		e := cloneExpected(*s.Expected)
		mutate(&e)
		s.Expected = &e
		if check(s) == "" {
			t.Errorf("%s: a wrong expectation passed", id)
		}
	}
}

func cloneExpected(e scenario.Expected) scenario.Expected {
	out := e
	out.Versions = map[string]string{}
	for k, v := range e.Versions {
		out.Versions[k] = v
	}
	out.Errors = map[string]string{}
	for k, v := range e.Errors {
		out.Errors[k] = v
	}
	out.PassedBuildIDs = map[string][]int64{}
	for k, v := range e.PassedBuildIDs {
		out.PassedBuildIDs[k] = append([]int64(nil), v...)
	}
	out.FirstOccurrence = map[string]bool{}
	for k, v := range e.FirstOccurrence {
		out.FirstOccurrence[k] = v
	}
	return out
}
