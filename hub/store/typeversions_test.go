package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// A custom type's versions are kept by its source: the newest one is the
// last a check found (a known version moves up only when it is a check's
// newest), a new source starts an empty history, clearing forgets them, and
// a type the pipeline does not have is not found.
func TestTypeVersions(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{}`),
		ResourceTypes: []store.Part{{Name: "counter", Type: "registry-image", Config: json.RawMessage(`{"name":"counter","type":"registry-image"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := map[string]any{"repository": "a"}, map[string]any{"repository": "b"}
	newest := func(source map[string]any) (string, bool) {
		t.Helper()
		tv, ok, err := s.NewestTypeVersion(ctx, saved.ID, "counter", source)
		if err != nil {
			t.Fatal(err)
		}
		if ok && time.Since(tv.Checked) > time.Minute {
			t.Errorf("checked at %v, not now", tv.Checked)
		}
		return tv.Version["digest"], ok
	}
	if _, ok := newest(a); ok {
		t.Fatal("a type that was never checked has a version")
	}
	if err := s.SaveTypeVersions(ctx, saved.ID, "counter", a, []map[string]string{{"digest": "d1"}, {"digest": "d2"}}); err != nil {
		t.Fatal(err)
	}
	if v, ok := newest(a); !ok || v != "d2" {
		t.Fatalf("newest = %q %v, want d2", v, ok)
	}
	if err := s.SaveTypeVersions(ctx, saved.ID, "counter", a, []map[string]string{{"digest": "d2"}, {"digest": "d1"}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := newest(a); v != "d1" {
		t.Fatalf("a known version a check finds newest again: newest = %q, want d1", v)
	}
	if _, ok := newest(b); ok {
		t.Fatal("a new source kept the old history")
	}
	n, err := s.ClearTypeVersions(ctx, saved.ID, "counter")
	if err != nil || n != 2 {
		t.Fatalf("clear = %d, %v; want 2 removed", n, err)
	}
	if _, ok := newest(a); ok {
		t.Fatal("cleared versions are still there")
	}
	if err := s.SaveTypeVersions(ctx, saved.ID, "nothing", a, []map[string]string{{"digest": "d1"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("versions of a type the pipeline does not have: %v", err)
	}
	if _, err := s.CreateTypeCheckBuild(ctx, saved.ID, "nothing", "admin", json.RawMessage(`{}`)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a check build of a type the pipeline does not have: %v", err)
	}
}
