package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A team at its fleet quota of open steps: its next step waits, fly
// placement says why, and it runs once the team's running step is done,
// though the spoke had room for both.
func TestTeamQuotaHoldsSteps(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("roomy", f.url)
	gate := filepath.Join(t.TempDir(), "gate")
	marks := filepath.Join(t.TempDir(), "marks")
	f.setPipeline("quota", `
jobs:
- name: hold
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo begun >> `+marks+`; until [ -e `+gate+` ]; do sleep 0.1; done"]}
`)
	if out, code := f.fly("set-team-quota", "-n", "main", "--max-steps", "1", "--max-memory", "lots"); code == 0 || !strings.Contains(out, "max_memory") {
		t.Errorf("a quota of no quantity (exit %d):\n%s", code, out)
	}
	if out, code := f.fly("set-team-quota", "-n", "main", "--max-steps", "-1"); code == 0 || !strings.Contains(out, "max_steps") {
		t.Errorf("a negative quota (exit %d):\n%s", code, out)
	}
	if out, code := f.fly("set-team-quota", "-n", "../main", "--max-steps", "1"); code == 0 {
		t.Errorf("a quota for a team that is not one (exit %d):\n%s", code, out)
	}
	f.mustFly("set-team-quota", "-n", "main", "--max-steps", "1")
	f.mustFly("trigger-job", "-j", "quota/hold")
	waitForLines(t, marks, 1)
	f.mustFly("trigger-job", "-j", "quota/hold")
	id := buildID(t, f, "quota/hold", "2")
	for deadline := time.Now().Add(time.Minute); ; {
		out, _ := f.fly("placement", "-b", id)
		if strings.Contains(out, "team main is at its fleet quota: 1 of 1 open steps") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second build's placement does not say it waits on the quota:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b, _ := os.ReadFile(marks); strings.Count(string(b), "begun") != 1 {
		t.Fatalf("two steps ran under a quota of one: %q", b)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := f.fly("watch", "-j", "quota/hold", "-b", "2"); code != 0 || !strings.Contains(out, "team main is at its fleet quota") || !strings.Contains(out, "succeeded") {
		t.Errorf("the second build (exit %d):\n%s", code, out)
	}
}
