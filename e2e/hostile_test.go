package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/wire"
)

// gatedPipeline is a job whose task waits until the file gate exists.
func gatedPipeline(gate string) string {
	return fmt.Sprintf(`
jobs:
- name: hold
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: [-c, "until [ -e %s ]; do sleep 0.1; done; echo released"]}
`, gate)
}

// waitRunning waits until the job's first build is started.
func (f *fleet) waitRunning(job string) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if out, _ := f.fly("builds", "-j", job); strings.Contains(out, "started") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.t.Fatalf("%s did not start", job)
}

// A join token of any team, the pool's or the spoke's own team's, does not
// take over a live spoke by joining under its name: its steps, their params
// and results stay with the spoke that was given them.
func TestJoinCannotTakeOverASpoke(t *testing.T) {
	f := newFleet(t)
	f.start("spoke-victim", "spoke", "--hub-url", f.url, "--join-token", "main-token", "--name", "victim",
		"--work-dir", filepath.Join(f.dir, "spoke-victim"))
	gate := filepath.Join(f.dir, "gate")
	f.setPipeline("p", gatedPipeline(gate))
	f.asAdmin("PUT", "/api/v1/teams/blue", api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}}})
	f.mustFly("trigger-job", "-j", "p/hold")
	f.waitRunning("p/hold")

	for _, join := range []wire.JoinRequest{
		{Token: "blue-token", Name: "victim"},
		{Token: "pool-token", Name: "victim"},
		{Token: "main-token", Name: "victim"},
		{Token: "main-token", Name: "victim", Credential: "not-its-credential"},
	} {
		join.Runtime = "local"
		status := spokeCall(t, f.url, http.MethodPost, wire.PathJoin, "", join, nil, 0)
		if status != http.StatusConflict {
			t.Fatalf("join as victim with %s (credential %q): %d, want 409", join.Token, join.Credential, status)
		}
	}
	for _, name := range []string{"../x", "a/b", "", strings.Repeat("a", 64), "a\x00b", "-x"} {
		status := spokeCall(t, f.url, http.MethodPost, wire.PathJoin, "", wire.JoinRequest{Token: "pool-token", Name: name, Runtime: "local"}, nil, 0)
		if status != http.StatusBadRequest {
			t.Errorf("join as %q: %d, want 400", name, status)
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.fly("watch", "-j", "p/hold", "-b", "1")
	if code != 0 || !strings.Contains(out, "selected worker: victim") || !strings.Contains(out, "released") {
		t.Fatalf("the victim's build did not finish on it (exit %d):\n%s", code, out)
	}
}

// A local spoke killed while its step runs comes back as the same spoke (its
// credential), reports the run lost and stops what it left running; the hub
// runs the step again as a new run whose log starts afresh after an event
// that says why. Nothing runs twice as the same run, and no line of the
// second run is dropped as a duplicate of the first.
func TestKilledLocalSpokeLosesTheRun(t *testing.T) {
	f := newFleet(t)
	work := filepath.Join(f.dir, "spoke-victim")
	start := func() *exec.Cmd {
		return f.start("spoke-victim", "spoke", "--hub-url", f.url, "--join-token", "main-token", "--name", "victim", "--work-dir", work)
	}
	spoke := start()
	marks := filepath.Join(f.dir, "runs")
	f.setPipeline("p", fmt.Sprintf(`
jobs:
- name: count
  plan:
  - task: count
    config:
      platform: linux
      run:
        path: sh
        args: [-c, "echo run >> %s; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line-$i; sleep 0.3; done"]
`, marks))
	f.mustFly("trigger-job", "-j", "p/count")
	deadline := time.Now().Add(time.Minute)
	for {
		if b, _ := os.ReadFile(marks); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a few lines are out
	_ = syscall.Kill(-spoke.Process.Pid, syscall.SIGKILL)
	_, _ = spoke.Process.Wait()
	start()
	out, code := f.fly("watch", "-j", "p/count", "-b", "1")
	if code != 0 {
		t.Fatalf("the build did not succeed after the spoke came back (exit %d):\n%s", code, out)
	}
	lost := strings.Index(out, "restarted while the step ran")
	if lost < 0 || !strings.Contains(out, "running the step again (run 2") {
		t.Fatalf("no event says the run was lost:\n%s", out)
	}
	second := out[lost:]
	if !strings.Contains(second, "line-1\n") || !strings.Contains(second, "line-12\n") {
		t.Fatalf("the new run's log does not start afresh and run to its end:\n%s", out)
	}
	b, _ := os.ReadFile(marks)
	if runs := strings.Count(string(b), "run"); runs != 2 {
		t.Fatalf("the step ran %d times, want 2 (the lost run and the new one)", runs)
	}
}
