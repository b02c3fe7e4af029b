package spoke

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A build's working directory goes once no step has used it for buildIdle;
// one in use, one used lately and what is not a build stay.
func TestSweepBuilds(t *testing.T) {
	dir := t.TempDir()
	a := New(Config{Artifacts: &Artifacts{BuildsDir: dir}}, nil, slog.New(slog.DiscardHandler))
	old := time.Now().Add(-2 * buildIdle)
	for _, name := range []string{"1", "2", "3", "notes"} {
		if err := os.MkdirAll(filepath.Join(dir, name, "artifacts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	running := a.useBuild(2) // a step of build 2 runs
	a.useBuild(3)()          // a step of build 3 just ended
	if err := a.sweepBuilds(); err != nil {
		t.Fatal(err)
	}
	running()
	var left []string
	list, _ := os.ReadDir(dir)
	for _, e := range list {
		left = append(left, e.Name())
	}
	if diff := cmp.Diff([]string{"2", "3", "notes"}, left); diff != "" {
		t.Errorf("directories left (-want +got):\n%s", diff)
	}
}
