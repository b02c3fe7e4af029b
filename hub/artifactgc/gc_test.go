package artifactgc_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/hub/artifactgc"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/volumes"
)

// The GC deletes the artifacts of builds past retention, orphaned uploads and
// the hub's leftover staging objects; it keeps what running builds refer to
// and what is still being uploaded (written, not yet recorded).
func TestCollect(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	dir := t.TempDir()
	b, err := volumes.OpenBucket(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	team, err := st.SaveTeam(ctx, "gc", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	digest := func(c string) volumes.Digest { return volumes.Digest("sha256:" + strings.Repeat(c, 64)) }
	old := time.Now().Add(-3 * time.Hour)
	put := func(key string, at time.Time) {
		w, err := b.NewWriter(ctx, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, "bytes")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(key)), at, at); err != nil {
			t.Fatal(err)
		}
	}
	build := func(finish bool) int64 {
		bd, err := st.CreateOneOffBuild(ctx, team.ID, 0, "test", json.RawMessage(`{"id":"x"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		status := func(s string) store.Event {
			return store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"` + s + `","time":0}`)}
		}
		fence := storetest.Take(t, st, bd.ID, status("started"))
		if finish {
			if err := st.FinishBuild(ctx, bd.ID, 0, fence, "succeeded", nil, status("succeeded")); err != nil {
				t.Fatal(err)
			}
		}
		return bd.ID
	}
	keys := map[string]string{
		"finished": volumes.Key(team.ID, digest("a")), // its build ended: past retention
		"running":  volumes.Key(team.ID, digest("b")), // its build still runs
		"orphan":   volumes.Key(team.ID, digest("c")), // uploaded long ago, never recorded
		"inflight": volumes.Key(team.ID, digest("d")), // being uploaded now, not recorded yet
		"staging":  volumes.UploadsPrefix + "leftover",
	}
	for name, key := range keys {
		at := old
		if name == "inflight" {
			at = time.Now()
		}
		put(key, at)
	}
	for name, d := range map[string]string{"finished": "a", "running": "b"} {
		if _, err := st.AddArtifact(ctx, store.Artifact{BuildID: build(name == "finished"), TeamID: team.ID, Name: "out", Digest: string(digest(d)), Size: 5}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)

	gc := artifactgc.New(st, b, artifactgc.Options{Retention: time.Millisecond, Grace: time.Hour}, slog.New(slog.DiscardHandler))
	stats, err := gc.Collect(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for name, key := range keys {
		ok, err := b.Exists(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		left[name] = ok
	}
	want := map[string]bool{"finished": false, "running": true, "orphan": false, "inflight": true, "staging": false}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("objects left after GC (-want +got):\n%s", diff)
	}
	if stats.Expired != 1 || stats.Deleted != 3 {
		t.Errorf("stats %+v, want 1 expired and 3 deleted", stats)
	}
}
