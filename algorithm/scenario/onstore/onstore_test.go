package onstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/algorithm/scenario/onstore"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// The shared scenarios, and the project's own (classes.json), on the real
// store: the SQL VersionsDB must give the answers Concourse gives.
func TestScenariosOnStore(t *testing.T) {
	scenarios, err := scenario.Load("../../testdata/scenarios.json")
	if err != nil {
		t.Fatal(err)
	}
	own, err := scenario.Load("../../testdata/classes.json")
	if err != nil {
		t.Fatal(err)
	}
	scenarios = append(scenarios, own...)
	st := storetest.New(t)
	for _, s := range scenarios {
		t.Run(s.ID, func(t *testing.T) { verifyOnStore(t, st, s) })
	}
}

func TestRegressionScenariosOnStore(t *testing.T) {
	if testing.Short() {
		t.Skip("production-sized scenarios take a while to load")
	}
	files, _ := filepath.Glob("../../testdata/regression/*.json.gz")
	st := storetest.New(t)
	for _, f := range files {
		scenarios, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scenarios {
			if s.Expected == nil || s.HasTag("benchmark_only") || (os.Getenv("SWITCHYARD_SCENARIO") != "" && os.Getenv("SWITCHYARD_SCENARIO") != s.ID) {
				continue
			}
			t.Run(s.ID, func(t *testing.T) { verifyOnStore(t, st, s) })
		}
	}
}

// verifyOnStore loads a scenario into the store and checks the resolver's answer.
func verifyOnStore(t *testing.T, st *store.Store, s scenario.Scenario) {
	t.Helper()
	ctx := t.Context()
	w, err := onstore.Load(ctx, st, s, "scenario-"+s.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := scenario.Verify(ctx, s, w)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Errorf("%s: %s", s.Name, diff)
	}
}
