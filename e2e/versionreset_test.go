package e2e

import (
	"strings"
	"testing"
)

// A resource whose source changes starts its version history again, through
// fly: the new source's versions only, the old build keeping its input;
// back to the old source, its history is back.
func TestResourceHistoryResetsOnNewSource(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	pipeline := func(version string) string {
		return `
resources:
- name: r
  type: mock
  check_every: never
  source: {initial_version: ` + version + `}
jobs:
- name: j
  plan:
  - get: r
`
	}
	f.setPipeline("reset", pipeline("old-1"))
	f.mustFly("check-resource", "-r", "reset/r")
	if out := f.mustFly("trigger-job", "-j", "reset/j", "-w"); !strings.Contains(out, "succeeded") {
		t.Fatalf("build 1:\n%s", out)
	}
	f.setPipeline("reset", pipeline("new-1"))
	if out := f.mustFly("resource-versions", "-r", "reset/r"); strings.Contains(out, "old-1") {
		t.Errorf("the new source kept the old history:\n%s", out)
	}
	f.mustFly("check-resource", "-r", "reset/r")
	if out := f.mustFly("resource-versions", "-r", "reset/r"); !strings.Contains(out, "new-1") || strings.Contains(out, "old-1") {
		t.Errorf("the new source's history:\n%s", out)
	}
	if out := f.mustFly("builds", "-j", "reset/j"); !strings.Contains(out, "succeeded") {
		t.Errorf("the old build is gone:\n%s", out)
	}
	f.setPipeline("reset", pipeline("old-1"))
	if out := f.mustFly("resource-versions", "-r", "reset/r"); !strings.Contains(out, "old-1") || strings.Contains(out, "new-1") {
		t.Errorf("the old source did not bring its history back:\n%s", out)
	}
}
