package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Stock fly's clear-task-cache and clear-resource-cache: a job's task cache
// grows build by build until it is cleared, then starts empty; a path the
// step does not have clears nothing; unknown jobs and resources are 404s.
func TestStockFlyClearsCaches(t *testing.T) {
	stock := stockFly(t)
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	fly, must := stockFlyAt(t, stock, t.TempDir())
	must("s", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	file := filepath.Join(f.dir, "p.yml")
	if err := os.WriteFile(file, []byte(`
resources:
- name: r
  type: mock
  source: {initial_version: v1}
jobs:
- name: j
  plan:
  - get: r
  - task: count
    config:
      platform: linux
      caches: [{path: cache}, {path: other}]
      run: {path: sh, args: [-c, 'echo x >> cache/n; echo "builds: $(wc -l < cache/n)"']}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	must("s", "set-pipeline", "-n", "-p", "p", "-c", file)
	must("s", "unpause-pipeline", "-p", "p")
	must("s", "check-resource", "-r", "p/r")
	run := func(want string) {
		t.Helper()
		if out := must("s", "trigger-job", "-j", "p/j", "-w"); !strings.Contains(out, want) {
			t.Fatalf("want %q in\n%s", want, out)
		}
	}
	run("builds: 1")
	run("builds: 2")
	if out := must("s", "clear-task-cache", "-j", "p/j", "-s", "count", "-c", "elsewhere", "-n"); !strings.Contains(out, "0 caches removed") {
		t.Errorf("clear a path the step has not:\n%s", out)
	}
	run("builds: 3")
	if out := must("s", "clear-task-cache", "-j", "p/j", "-s", "count", "-n"); !strings.Contains(out, "2 caches removed") {
		t.Errorf("clear-task-cache:\n%q", out)
	}
	run("builds: 1")
	run("builds: 2")
	if out := must("s", "clear-task-cache", "-j", "p/j", "-s", "count", "-c", "cache", "-n"); !strings.Contains(out, "1 caches removed") {
		t.Errorf("clear-task-cache -c cache:\n%s", out)
	}
	run("builds: 1")
	if out, err := fly("s", "clear-task-cache", "-j", "p/nothing", "-s", "count", "-n"); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("clear-task-cache of no job: %v\n%s", err, out)
	}

	// Hostile input: a cache path out of the step, a step name that is a
	// path, a version body past the bound: refused, nothing cleared.
	tok, base := f.token(), f.url+"/api/v1/teams/main/pipelines/p"
	for path, body := range map[string]any{
		"/jobs/j/tasks/count/cache?cache_path=../../etc": nil,
		"/jobs/j/tasks/..%2F..%2Fx/cache":                nil,
		"/resources/r/cache":                             map[string]any{"version": map[string]string{"v": strings.Repeat("x", 100<<10)}},
	} {
		if code := spokeCall(t, base, "DELETE", path, tok, body, nil, 0); code < 400 || code >= 500 {
			t.Errorf("DELETE %s: %d, want a refusal", path, code)
		}
	}
	run("builds: 2")

	// Stock fly's clear-resource-cache asks on a terminal only; ours has -n.
	if out := f.mustFly("clear-resource-cache", "-r", "p/r", "-n"); !strings.Contains(out, "1 caches removed") {
		t.Errorf("clear-resource-cache:\n%s", out)
	}
	if out := f.mustFly("clear-resource-cache", "-r", "p/r", "-v", "version:v0", "-n"); !strings.Contains(out, "with version: `{\"version\":\"v0\"}`") || !strings.Contains(out, "0 caches removed") {
		t.Errorf("clear-resource-cache of a version never fetched:\n%s", out)
	}
	if out, code := f.fly("clear-resource-cache", "-r", "p/nothing", "-n"); code == 0 || !strings.Contains(out, "not found") {
		t.Errorf("clear-resource-cache of no resource: exit %d\n%s", code, out)
	}
	if out := f.mustFly("clear-task-cache", "-j", "p/j", "-s", "count", "-n"); !strings.Contains(out, "2 caches removed") {
		t.Errorf("our clear-task-cache:\n%s", out)
	}
}
