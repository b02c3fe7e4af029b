package algorithm_test

import (
	"context"
	"path/filepath"
	"testing"

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

// TestOwnScenarios runs scenarios of the shared form written for rules the
// shared ones leave out (testdata/classes.json): the order in which passed
// jobs decide, where every continues from, and has_next over several jobs.
func TestOwnScenarios(t *testing.T) {
	scenarios, err := scenario.Load("testdata/classes.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("no scenarios")
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

func check(s scenario.Scenario) string {
	db, err := algorithmtest.New(s)
	if err != nil {
		return err.Error()
	}
	diff, err := scenario.Verify(context.Background(), s, db)
	if err != nil {
		return err.Error()
	}
	return diff
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
