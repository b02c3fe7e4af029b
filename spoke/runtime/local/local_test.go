package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

type lines []string

func (l *lines) Line(_, text string) { *l = append(*l, text) }

// The runtime resolves every name from a build inside the build's directory,
// whatever the hub's checks let through: a request crafted past them still
// neither reads, replaces nor deletes anything outside.
func TestNamesFromBuildsStayInside(t *testing.T) {
	work := t.TempDir()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.MkdirAll(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.yml")
	if err := os.WriteFile(secret, []byte("platform: linux\nrun: {path: echo, args: [leaked]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{Dir: work}
	// An artifact "repo" of build 1 whose task.yml links outside it.
	repo := rt.Artifact(1, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(repo, "task.yml")); err != nil {
		t.Fatal(err)
	}
	climb, err := filepath.Rel(filepath.Join(rt.buildDir(1), "artifacts"), victim)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(out pipeline.TaskOutput) *pipeline.TaskConfig {
		return &pipeline.TaskConfig{Platform: "linux", Run: &pipeline.RunConfig{Path: "true"}, Outputs: []pipeline.TaskOutput{out}}
	}
	tests := []struct {
		name string
		req  wire.StepRequest
		want string
	}{
		{"output mapped over a host directory", wire.StepRequest{Kind: "task", Task: &wire.TaskRequest{Config: cfg(pipeline.TaskOutput{Name: "out"}),
			OutputMapping: map[string]string{"out": climb}}}, "artifact name"},
		{"output path out of the step", wire.StepRequest{Kind: "task", Task: &wire.TaskRequest{Config: cfg(pipeline.TaskOutput{Name: "out", Path: "../../../../" + victim})}}, "leaves"},
		{"input from a host directory", wire.StepRequest{Kind: "task", Inputs: map[string]string{"in": climb},
			Task: &wire.TaskRequest{Config: &pipeline.TaskConfig{Platform: "linux", Run: &pipeline.RunConfig{Path: "true"}, Inputs: []pipeline.TaskInput{{Name: "in"}}}}}, "artifact name"},
		{"task file linked out of its artifact", wire.StepRequest{Kind: "task", Inputs: map[string]string{"repo": "repo"},
			Task: &wire.TaskRequest{ConfigPath: "repo/task.yml"}}, "read task config"},
		{"task file climbing out of its artifact", wire.StepRequest{Kind: "task", Inputs: map[string]string{"repo": "repo"},
			Task: &wire.TaskRequest{ConfigPath: "repo/../../../" + secret}}, "read task config"},
		{"get into a host directory", wire.StepRequest{Kind: "get", Type: "mock", Source: []byte(`{}`), Version: map[string]string{"version": "1"},
			Outputs: map[string]string{"repo": climb}}, "artifact name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log lines
			res := rt.Run(context.Background(), wire.Assignment{BuildID: 1, PlanID: "1", Attempt: 1, Request: tt.req}, &log)
			if res.Error == "" || !strings.Contains(res.Error, tt.want) {
				t.Fatalf("got %+v, want an error containing %q", res, tt.want)
			}
			if strings.Contains(strings.Join(log, ""), "leaked") {
				t.Fatalf("a host file was read into the build: %q", log)
			}
			if b, err := os.ReadFile(filepath.Join(victim, "keep")); err != nil || string(b) != "keep" {
				t.Fatalf("the host directory was touched: %v", err)
			}
			entries, _ := os.ReadDir(outside)
			if len(entries) != 2 {
				t.Fatalf("something was written outside: %v", entries)
			}
		})
	}
}

// An input at path: . has its entries linked into the step's directory; the
// step's params win over its config's.
func TestHostTaskInputAtDot(t *testing.T) {
	rt := &Runtime{Dir: t.TempDir()}
	src := rt.Artifact(1, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "msg"), []byte("from src\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log lines
	cfg := &pipeline.TaskConfig{Inputs: []pipeline.TaskInput{{Name: "src", Path: "."}}, Params: pipeline.Env{"WHO": "config", "KEEP": "kept"},
		Run: &pipeline.RunConfig{Path: "sh", Args: []string{"-c", `cat msg; echo "$WHO $KEEP"`}}}
	res := rt.Run(t.Context(), wire.Assignment{BuildID: 1, PlanID: "1", Attempt: 1, Request: wire.StepRequest{
		Kind: wire.KindTask, Inputs: map[string]string{"src": "src"}, Task: &wire.TaskRequest{Config: cfg, Params: map[string]string{"WHO": "step"}},
	}}, &log)
	if got := strings.Join(log, ""); res.ExitStatus != 0 || got != "from src\nstep kept\n" {
		t.Fatalf("%+v %q", res, got)
	}
}
