package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/server"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// A pipeline stored before the scheduler existed (jobs without plans or
// inputs) gets them when a hub starts.
func TestStartBackfillsSchedules(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	config := `{"resources":[{"name":"repo","type":"mock"}],"jobs":[{"name":"j","plan":[{"get":"repo","trigger":true}]}]}`
	saved, err := st.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "old", Config: json.RawMessage(config),
		Resources: []store.Part{{Name: "repo", Type: "mock", Config: json.RawMessage(`{"name":"repo","type":"mock"}`)}},
		Jobs:      []store.Part{{Name: "j", Config: json.RawMessage(`{"name":"j"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.PipelinesWithoutSchedules(ctx)
	if err != nil || len(before) != 1 || before[0] != saved.ID {
		t.Fatalf("pipelines without schedules before start: %v %v", before, err)
	}
	if _, err := server.New(ctx, server.Config{}, st, noWaker{}, notify.New(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	after, err := st.PipelinesWithoutSchedules(ctx)
	if err != nil || len(after) != 0 {
		t.Fatalf("pipelines without schedules after start: %v %v", after, err)
	}
	j, err := st.JobByName(ctx, saved.ID, "j")
	if err != nil {
		t.Fatal(err)
	}
	sj, err := st.JobForScheduling(ctx, j.ID)
	if err != nil || len(sj.Inputs) != 1 || sj.Inputs[0].Resource != "repo" || !sj.Inputs[0].Trigger {
		t.Errorf("inputs after backfill: %+v %v", sj.Inputs, err)
	}
}
