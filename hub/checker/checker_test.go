package checker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/checker"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// Due resources get one check build each, per check_every; never and paused
// pipelines get none; a check still running is not started again; two hubs
// ticking at once start each check once.
func TestPeriodicChecks(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	resources := []store.Part{
		{Name: "default", Type: "mock", Config: json.RawMessage(`{"name":"default","type":"mock","source":{"a":1}}`)},
		{Name: "fast", Type: "mock", Config: json.RawMessage(`{"name":"fast","type":"mock","check_every":"10ms"}`)},
		{Name: "off", Type: "mock", Config: json.RawMessage(`{"name":"off","type":"mock","check_every":"never"}`)},
	}
	var pipelines []int64
	for _, name := range []string{"live", "paused"} {
		saved, err := st.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: name, Config: json.RawMessage(`{}`), Resources: resources})
		if err != nil {
			t.Fatal(err)
		}
		pipelines = append(pipelines, saved.ID)
	}
	unpaused := false
	if err := st.UpdatePipeline(ctx, pipelines[0], store.PipelineChange{Paused: &unpaused}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var started []int64
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newChecker := func() *checker.Checker {
		return checker.New(st, log, checker.Options{PerSecond: 1000, Started: func(id int64) {
			mu.Lock()
			started = append(started, id)
			mu.Unlock()
		}})
	}
	one, two := newChecker(), newChecker()
	done := make(chan error)
	go func() { done <- one.Tick(ctx) }()
	if err := two.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checked := checkedResources(t, st, pipelines)
	if want := []string{"live/default", "live/fast"}; !equal(checked, want) {
		t.Fatalf("first tick checked %v, want %v", checked, want)
	}
	if len(started) != 2 {
		t.Errorf("%d check builds handed to the engine, want 2", len(started))
	}
	plan, err := st.Build(ctx, started[0])
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Check struct {
			Type   string         `json:"type"`
			Source map[string]any `json:"source"`
		} `json:"check"`
	}
	if err := json.Unmarshal(plan.Plan, &p); err != nil || p.Check.Type != "mock" {
		t.Errorf("check plan %s: %v", plan.Plan, err)
	}

	// The checks are still pending: nothing new starts, even once fast is due.
	time.Sleep(20 * time.Millisecond)
	if err := one.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if len(started) != 2 {
		t.Errorf("a check was started while the last one runs: %d", len(started))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkedResources lists PIPELINE/RESOURCE for every check build.
func checkedResources(t *testing.T, st *store.Store, pipelines []int64) []string {
	t.Helper()
	var out []string
	for _, id := range pipelines {
		bs, err := st.Builds(context.Background(), store.BuildFilter{PipelineID: id, Checks: true}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			out = append(out, b.PipelineName+"/"+b.ResourceName)
		}
	}
	sort.Strings(out)
	return out
}

func TestInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{"": time.Minute, "30s": 30 * time.Second, "bogus": time.Minute, "1h": time.Hour} {
		if got := checker.Interval(in); got != want {
			t.Errorf("Interval(%q) = %s, want %s", in, got, want)
		}
	}
}
