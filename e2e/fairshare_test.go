package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// Fair share: two teams of weights 1 and 3 each trigger 100 builds onto a
// spoke that runs 8 steps at once, team main's first. While both teams
// have steps waiting, blue's steps start about three times as often as
// main's, though main's came first.
func TestFairShareAcrossTeams(t *testing.T) {
	const builds, slots = 100, 8
	f := newFleet(t)
	f.startSpoke("shared", f.url, "--max-steps", strconv.Itoa(slots))
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.asAdmin("PUT", "/api/v1/teams/blue", api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}}})
	dir := t.TempDir()
	gate, marks := filepath.Join(dir, "gate"), filepath.Join(dir, "marks")
	for _, team := range []string{"main", "blue"} {
		f.setPipelineAs(team, "fair", `
jobs:
- name: work
  plan:
  - task: run
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo `+team+` >> `+marks+`; until [ -e `+gate+` ]; do sleep 0.05; done; sleep 0.2"]}
`)
	}
	if out, code := f.fly("set-team-quota", "-n", "blue", "--weight", "-1"); code == 0 || !strings.Contains(out, "weight") {
		t.Errorf("a negative weight (exit %d):\n%s", code, out)
	}
	if out, code := f.fly("set-team-quota", "-n", "blue", "--weight", "1e9"); code == 0 || !strings.Contains(out, "weight") {
		t.Errorf("a weight beyond bounds (exit %d):\n%s", code, out)
	}
	f.mustFly("set-team-quota", "-n", "blue", "--weight", "3")
	for _, team := range []string{"main", "blue"} {
		for range builds {
			f.asAdmin("POST", "/api/v1/teams/"+team+"/pipelines/fair/jobs/work/builds", nil)
		}
	}
	// Every step but the first 8 waits for room before the gate opens.
	waiting := regexp.MustCompile(`(?m)^concourse_steps_waiting\{[^}]*\} (\d+)`)
	for deadline := time.Now().Add(3 * time.Minute); ; {
		n := 0
		for _, m := range waiting.FindAllStringSubmatch(f.asAdminGet("/metrics"), -1) {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
		if n == 2*builds-slots {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d steps wait, want %d", n, 2*builds-slots)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitForLinesWithin(t, marks, 2*builds, 5*time.Minute)
	raw, _ := os.ReadFile(marks)
	starts := strings.Fields(string(raw))
	// The starts while both teams had more steps waiting than the spoke
	// runs at once: after the first fill (main's, which came first and
	// which the gate held) and the refill as it ended, until either team
	// has no more than a spoke's worth left (then the other takes the room
	// it leaves, as it should).
	count := map[string]int{}
	window := map[string]int{}
	for i, team := range starts {
		count[team]++
		if count[team] > builds-slots {
			break
		}
		if i >= 2*slots {
			window[team]++
		}
	}
	ratio := float64(window["blue"]) / float64(max(window["main"], 1))
	t.Logf("while both teams waited: %d starts of blue (weight 3), %d of main (weight 1): %.2f to 1\n%v", window["blue"], window["main"], ratio, starts)
	if ratio < 2.25 || ratio > 4 {
		t.Errorf("blue (weight 3) started %d steps and main (weight 1) %d while both waited: %.2f to 1, want about 3 to 1\nstarts: %v",
			window["blue"], window["main"], ratio, starts)
	}
	for _, team := range []string{"main", "blue"} {
		f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", team)
		for deadline := time.Now().Add(time.Minute); ; {
			out := f.mustFly("builds", "-j", "fair/work", "--count", "200")
			if n := strings.Count(out, " succeeded "); n == builds {
				break
			} else if time.Now().After(deadline) || strings.Contains(out, " failed ") || strings.Contains(out, " errored ") {
				t.Fatalf("team %s: %d builds succeeded, want %d:\n%s", team, n, builds, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
