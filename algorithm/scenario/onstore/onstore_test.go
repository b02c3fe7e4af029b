package onstore_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/switchyard-ci/switchyard/algorithm"
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

// The output set is read when the resolver asks, not fixed when the build
// succeeds: enabling a build's disabled output makes it the version the
// build passes on, and disabling it again passes on the input's version.
func TestDisablingAnOutputIsReadWhenResolving(t *testing.T) {
	scenarios, err := scenario.Load("../../testdata/classes.json")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(scenarios, func(s scenario.Scenario) bool { return s.ID == "switchyard/disabled-output-01" })
	if i < 0 {
		t.Fatal("scenario switchyard/disabled-output-01 is missing")
	}
	s := scenarios[i]
	ctx := t.Context()
	st := storetest.New(t)
	w, err := onstore.Load(ctx, st, s, "disabled-output")
	if err != nil {
		t.Fatal(err)
	}
	x := w.ResourceID("resource-x")
	versions, err := st.Versions(ctx, x, 10)
	if err != nil {
		t.Fatal(err)
	}
	var rxv2 int64
	for _, v := range versions {
		if v.Version["ver"] == "rxv2" {
			rxv2 = v.ID
		}
	}
	if rxv2 == 0 {
		t.Fatalf("no version rxv2 among %v", versions)
	}
	want := func(wantX, wantY string) {
		t.Helper()
		res, err := algorithm.Resolve(ctx, w, w.JobID(s.CurrentJob), scenario.Inputs(s, w))
		if err != nil || !res.OK() {
			t.Fatalf("resolve: %v %v", err, res.Errors)
		}
		gotX := w.VersionValue(x, res.Candidates["resource-x"].Version)
		gotY := w.VersionValue(0, res.Candidates["resource-y"].Version)
		if gotX != wantX || gotY != wantY {
			t.Errorf("resolved resource-x %s, resource-y %s; want %s, %s", gotX, gotY, wantX, wantY)
		}
	}
	want("rxv1", "ryv2")
	if err := st.SetVersionEnabled(ctx, x, rxv2, true); err != nil {
		t.Fatal(err)
	}
	want("rxv2", "ryv2")
	if err := st.SetVersionEnabled(ctx, x, rxv2, false); err != nil {
		t.Fatal(err)
	}
	want("rxv1", "ryv2")
}
