package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/internal/stockfly"
)

// stockFly is the stock Concourse fly 8.2.5 that ../shared/tools holds, next
// to the project's root; tests that need it skip without it.
func stockFly(t *testing.T) string {
	t.Helper()
	path := stockFlyPath()
	if path == "" {
		t.Skipf("stock fly is not at ../../shared/tools/fly: this test proves compatibility with it")
	}
	return path
}

// stockFlyPath is the stock fly's path, or "" when it is not there.
func stockFlyPath() string { return stockfly.Path() }

// TestStockFlyRunsABuild drives the stock fly, unchanged, against a hub
// whose spoke joined through the gateway: log in, set and unpause a
// pipeline, trigger a job and watch its events to success, then list the
// builds, the workers (spokes) and the pipelines, and read the build's
// events again.
func TestStockFlyRunsABuild(t *testing.T) {
	stock := stockFly(t)
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	home := t.TempDir()
	fly := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, stock, append([]string{"-t", "stock"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("stock fly %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	fly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	file := filepath.Join(f.dir, "hello.yml")
	if err := os.WriteFile(file, []byte(`
jobs:
- name: say
  plan:
  - task: hello
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo hello from a spoke"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fly("set-pipeline", "-n", "-p", "hello", "-c", file)
	fly("unpause-pipeline", "-p", "hello")
	out := fly("trigger-job", "-j", "hello/say", "-w")
	for _, want := range []string{"started hello/say #1", "hello from a spoke", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("trigger-job -w: no %q in:\n%s", want, out)
		}
	}
	if out := fly("builds"); !strings.Contains(out, "hello/say") || !strings.Contains(out, "succeeded") {
		t.Errorf("builds:\n%s", out)
	}
	if out := fly("workers"); !strings.Contains(out, "local-1") {
		t.Errorf("workers: no spoke local-1 in:\n%s", out)
	}
	if out := fly("pipelines"); !strings.Contains(out, "hello") {
		t.Errorf("pipelines:\n%s", out)
	}
	if out := fly("watch", "-j", "hello/say", "-b", "1"); !strings.Contains(out, "hello from a spoke") || !strings.Contains(out, "succeeded") {
		t.Errorf("watch of the finished build:\n%s", out)
	}
	// A one-off build, its input uploaded by fly.
	in := filepath.Join(f.dir, "in")
	task := filepath.Join(f.dir, "task.yml")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "note"), []byte("uploaded by stock fly"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(task, []byte(`
platform: linux
inputs: [{name: in}]
run: {path: cat, args: [in/note]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := fly("execute", "-c", task, "-i", "in="+in); !strings.Contains(out, "uploaded by stock fly") || !strings.Contains(out, "succeeded") {
		t.Errorf("execute:\n%s", out)
	}
	// --check-creds: a var nothing defines refuses the config, one given with -v passes.
	vars := filepath.Join(f.dir, "vars.yml")
	if err := os.WriteFile(vars, []byte("jobs:\n- name: say\n  plan:\n  - task: hello\n    config: {platform: linux, params: {X: ((undefined-here))}, run: {path: sh, args: [-c, echo]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), stock, "-t", "stock", "set-pipeline", "-n", "-p", "checked", "-c", vars, "--check-creds")
	cmd.Env = append(os.Environ(), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "credential validation failed") || !strings.Contains(string(out), "undefined vars: undefined-here") {
		t.Errorf("stock fly set-pipeline --check-creds with an undefined var: %v\n%s", err, out)
	}
	fly("set-pipeline", "-n", "-p", "checked", "-c", vars, "--check-creds", "-v", "undefined-here=given")
}
