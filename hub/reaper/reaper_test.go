package reaper_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/reaper"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

func TestEffective(t *testing.T) {
	for _, c := range []struct {
		name string
		job  store.Retention
		l    reaper.Limits
		want store.Retention
	}{
		{"nothing set", store.Retention{}, reaper.Limits{}, store.Retention{}},
		{"the job's own", store.Retention{Builds: 5, Days: 2, MinSucceeded: 1}, reaper.Limits{DefaultBuilds: 9}, store.Retention{Builds: 5, Days: 2, MinSucceeded: 1}},
		{"defaults fill in", store.Retention{}, reaper.Limits{DefaultBuilds: 9, DefaultDays: 3}, store.Retention{Builds: 9, Days: 3}},
		{"a max caps more", store.Retention{Builds: 50}, reaper.Limits{MaxBuilds: 10}, store.Retention{Builds: 10}},
		{"a max is used for unset", store.Retention{}, reaper.Limits{MaxBuilds: 10, MaxDays: 7}, store.Retention{Builds: 10, Days: 7}},
		{"a smaller ask wins over a max", store.Retention{Builds: 3, Days: 1}, reaper.Limits{MaxBuilds: 10, MaxDays: 7}, store.Retention{Builds: 3, Days: 1}},
		{"min succeeded over a max's builds goes", store.Retention{Builds: 50, MinSucceeded: 20}, reaper.Limits{MaxBuilds: 10}, store.Retention{Builds: 10}},
		{"min succeeded within builds stays", store.Retention{Builds: 50, MinSucceeded: 5}, reaper.Limits{MaxBuilds: 10}, store.Retention{Builds: 10, MinSucceeded: 5}},
	} {
		if got := reaper.Effective(c.job, c.l); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestReap(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ago := func(days float64) *time.Time {
		at := now.Add(-time.Duration(days * 24 * float64(time.Hour)))
		return &at
	}
	// Newest first: 8 running, 7 failed, 6 succeeded, 5 failed, 4 failed,
	// 3 succeeded, 2 failed (a day ago), 1 succeeded (ten days ago).
	builds := []store.ReapCandidate{
		{ID: 8, Status: api.BuildStarted},
		{ID: 7, Status: api.BuildFailed, EndTime: ago(0.1)},
		{ID: 6, Status: api.BuildSucceeded, EndTime: ago(0.2)},
		{ID: 5, Status: api.BuildFailed, EndTime: ago(0.3)},
		{ID: 4, Status: api.BuildFailed, EndTime: ago(0.4)},
		{ID: 3, Status: api.BuildSucceeded, EndTime: ago(0.5)},
		{ID: 2, Status: api.BuildFailed, EndTime: ago(1)},
		{ID: 1, Status: api.BuildSucceeded, EndTime: ago(10)},
	}
	for _, c := range []struct {
		name string
		r    store.Retention
		want []int64
	}{
		{"nothing set keeps all", store.Retention{}, nil},
		{"builds keeps the newest", store.Retention{Builds: 3}, []int64{4, 3, 2, 1}},
		{"days keeps those that ended within", store.Retention{Days: 2}, []int64{1}},
		{"builds wins over days", store.Retention{Builds: 2, Days: 30}, []int64{5, 4, 3, 2, 1}},
		{"min succeeded keeps older succeeded builds within the cap", store.Retention{Builds: 3, MinSucceeded: 3}, []int64{7, 5, 4, 2}},
		{"min succeeded alone does nothing", store.Retention{MinSucceeded: 2}, nil},
		{"builds 1, min succeeded 1", store.Retention{Builds: 1, MinSucceeded: 1}, []int64{7, 5, 4, 3, 2, 1}},
	} {
		got := reaper.Reap(builds, c.r, now)
		slices.Sort(got)
		slices.Reverse(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: reaps %v, want %v", c.name, got, c.want)
		}
	}
}

// A pass on a real store deletes the events of the builds a job's
// retention lets go and marks them reaped; the rows stay, the kept build
// keeps its events, and a paused job is left alone.
func TestPass(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	job := func(name string, builds int) store.Part {
		return store.Part{Name: name, Config: json.RawMessage(`{"name":"` + name + `"}`),
			Job: &store.JobSchedule{Plan: json.RawMessage(`{"id":"1","do":[]}`), Retention: store.Retention{Builds: builds}}}
	}
	p, err := st.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{}`), Jobs: []store.Part{job("kept", 1), job("paused", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	unpaused := false
	if err := st.UpdatePipeline(ctx, p.ID, store.PipelineChange{Paused: &unpaused}); err != nil {
		t.Fatal(err)
	}
	builds := map[string][]int64{}
	for _, name := range []string{"kept", "paused"} {
		j, err := st.JobByName(ctx, p.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, err := st.CreateJobBuild(ctx, j.ID, "test", true, json.RawMessage(`{"id":"1","do":[]}`), "")
			if err != nil {
				t.Fatal(err)
			}
			taken, err := st.TakeBuilds(ctx, []int64{b.ID}, "test", time.Minute, store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{}`)})
			if err != nil || len(taken) != 1 {
				t.Fatalf("take build %d: %v %v", b.ID, taken, err)
			}
			if err := st.AppendEvents(ctx, b.ID, store.Event{Type: "log", Version: "5.1", Payload: json.RawMessage(`{"payload":"hi"}`)}); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishBuild(ctx, b.ID, j.ID, taken[0].Fence, api.BuildSucceeded, nil, store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			builds[name] = append(builds[name], b.ID)
		}
		if name == "paused" {
			if err := st.SetJobPaused(ctx, j.ID, true, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An archived pipeline goes after the archived retention.
	gone, err := st.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "gone", Config: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdatePipeline(ctx, gone.ID, store.PipelineChange{Archive: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := reaper.New(st, reaper.Options{ArchivedRetention: time.Millisecond}, slog.New(slog.DiscardHandler)).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PipelineByID(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the archived pipeline is still there: %v", err)
	}
	if _, err := st.PipelineByID(ctx, p.ID); err != nil {
		t.Errorf("the pipeline in use went: %v", err)
	}
	for name, ids := range builds {
		for i, id := range ids {
			events, err := st.Events(ctx, id, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			reaped := name == "kept" && i < 2
			if (len(events) == 0) != reaped {
				t.Errorf("job %s, build %d: %d events, reaped %v", name, id, len(events), reaped)
			}
			if _, err := st.Build(ctx, id); err != nil {
				t.Errorf("build %d's row went: %v", id, err)
			}
		}
	}
}
