package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Builds are listed as Concourse lists them, through stock fly and ours: a
// rerun next to the build it reruns, check builds left out, and --since and
// --until bounding the builds' start times (timestamps=true on the wire).
func TestBuildLists(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("list", `
resources:
- name: r
  type: mock
  check_every: 1s
  source: {initial_version: v1}
jobs:
- name: j
  plan:
  - get: r
  - task: t
    config: {platform: linux, run: {path: sh, args: [-c, "echo ok"]}}
`)
	f.mustFly("check-resource", "-r", "list/r")
	for range 2 {
		if out := f.mustFly("trigger-job", "-j", "list/j", "-w"); !strings.Contains(out, "succeeded") {
			t.Fatalf("trigger:\n%s", out)
		}
	}
	stock := stockFlyPath()
	if stock == "" {
		t.Skip("no stock fly")
	}
	_, must := stockFlyAt(t, stock, t.TempDir())
	must("s", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	if out := must("s", "rerun-build", "-j", "list/j", "-b", "1", "-w"); !strings.Contains(out, "succeeded") {
		t.Fatalf("rerun:\n%s", out)
	}
	names := func(out string) []string {
		t.Helper()
		var bs []struct {
			Name         string `json:"name"`
			ResourceName string `json:"resource_name"`
		}
		if err := json.Unmarshal([]byte(out), &bs); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var n []string
		for _, b := range bs {
			n = append(n, b.Name+b.ResourceName)
		}
		return n
	}
	if got := strings.Join(names(must("s", "builds", "-j", "list/j", "--json")), " "); got != "2 1.1 1" {
		t.Errorf("the job's builds: %s, want 2 1.1 1 (a rerun next to its original)", got)
	}
	// The resource is checked every second: none of its check builds is listed.
	time.Sleep(2 * time.Second)
	for _, out := range []string{must("s", "builds", "--json"), must("s", "builds", "-p", "list", "--json"), f.mustFly("builds", "--json")} {
		if got := strings.Join(names(out), " "); got != "2 1.1 1" {
			t.Errorf("all builds: %s, want 2 1.1 1 and no check builds", got)
		}
	}
	hourAgo := time.Now().Add(-time.Hour).Format("2006-01-02 15:04:05")
	if got := names(must("s", "builds", "--since", hourAgo, "--json")); len(got) != 3 {
		t.Errorf("stock fly builds --since an hour ago: %v", got)
	}
	if got := names(must("s", "builds", "--until", hourAgo, "--json")); len(got) != 0 {
		t.Errorf("stock fly builds --until an hour ago: %v", got)
	}
	if got := names(f.mustFly("builds", "--since", hourAgo, "--json")); len(got) != 3 {
		t.Errorf("our fly builds --since an hour ago: %v", got)
	}
	if out, code := f.fly("builds", "--since", "yesterday"); code == 0 || !strings.Contains(out, "YYYY-MM-DD HH:MM:SS") {
		t.Errorf("our fly builds --since yesterday: exit %d\n%s", code, out)
	}
	// Hostile paging: not numbers, negative, from after to.
	tok := f.token()
	for _, q := range []string{"?from=x", "?to=-5", "?from=9&to=2", "?timestamps=true&from=99999999999999999999"} {
		if code := spokeCall(t, f.url, "GET", "/api/v1/builds"+q, tok, nil, nil, 0); code != 400 {
			t.Errorf("GET /api/v1/builds%s: %d, want 400", q, code)
		}
	}
}
