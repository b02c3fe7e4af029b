package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// workerState is a spoke's state in `fly workers` (stock fly's table), or
// "" when it is not listed.
func workerState(t *testing.T, must func(string, ...string) string, name string) string {
	t.Helper()
	for _, line := range strings.Split(must("sy", "workers"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != name {
			continue
		}
		for _, f := range fields {
			switch f {
			case "running", "stalled", "landing", "landed", "retiring":
				return f
			}
		}
		return "?"
	}
	return ""
}

// waitState waits up to a minute for a spoke's state in `fly workers`.
func waitState(t *testing.T, must func(string, ...string) string, name, want string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		if got := workerState(t, must, name); got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("spoke %s is %q in fly workers after a minute, want %q:\n%s", name, got, want, must("sy", "workers"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitExit waits up to a minute for a spoke's process to exit, and wants
// it to exit 0.
func waitExit(t *testing.T, spoke *exec.Cmd, what string) {
	t.Helper()
	exited := make(chan *os.ProcessState, 1)
	go func() { st, _ := spoke.Process.Wait(); exited <- st }()
	select {
	case st := <-exited:
		if st == nil || !st.Success() {
			t.Errorf("%s exited with %v", what, st)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit within a minute", what)
	}
}

// Stock fly's land-worker and prune-worker on spokes: a landing spoke
// finishes its running step and takes no new ones, then is landed; a
// running spoke cannot be pruned, a landed or stalled one can; a spoke
// started with --retire-on-sigterm retires on SIGTERM: its running step
// finishes, then it leaves the fleet and exits.
func TestLandRetirePruneSpokes(t *testing.T) {
	stock := stockFly(t)
	f := newFleetOf(t, bin, "", []string{"--spoke-lease", "3s"})
	fly, must := stockFlyAt(t, stock, t.TempDir())
	must("sy", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	release := filepath.Join(t.TempDir(), "release")
	marks := filepath.Join(t.TempDir(), "marks")
	lander := f.startSpoke("lander", f.url)
	f.setPipeline("drain", `
jobs:
- name: long
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo begun; echo begun >> `+marks+`; until [ -e `+release+` ]; do sleep 0.1; done; echo ended"]}
`)
	waitState(t, must, "lander", "running")
	must("sy", "trigger-job", "-j", "drain/long")
	waitForLines(t, marks, 1)

	// Landing: the running step goes on, a new build waits.
	if out := must("sy", "land-worker", "-w", "lander"); !strings.Contains(out, "landed 'lander'") {
		t.Errorf("land-worker: %s", out)
	}
	waitState(t, must, "lander", "landing")
	must("sy", "trigger-job", "-j", "drain/long")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := must("sy", "watch", "-j", "drain/long", "-b", "1"); !strings.Contains(out, "ended") || !strings.Contains(out, "succeeded") {
		t.Errorf("the landing spoke's running build:\n%s", out)
	}
	waitState(t, must, "lander", "landed")
	// A landed spoke's process leaves the fleet and exits at its next
	// heartbeat; pruned before that, it would find its credential void and
	// join again, as a new spoke.
	waitExit(t, lander, "the landed spoke")
	if out, _ := f.fly("placement", "-b", buildID(t, f, "drain/long", "2")); !strings.Contains(out, "takes no new steps") {
		t.Errorf("placement of the build that waits does not say the spoke is landed:\n%s", out)
	}
	if out, err := stockFlyPrune(fly, "sy", "-w", "lander"); err != nil || !strings.Contains(out, "pruned 'lander'") {
		t.Errorf("prune-worker of a landed spoke: %v\n%s", err, out)
	}

	// A running spoke cannot be pruned; a stalled one can. (Its tag keeps
	// the waiting build off it.)
	stalled := f.startSpoke("staller", f.url, "--tag", "elsewhere")
	waitState(t, must, "staller", "running")
	if out, err := stockFlyPrune(fly, "sy", "-w", "staller"); err == nil || !strings.Contains(out, "cannot prune running worker") {
		t.Errorf("prune-worker of a running spoke: %v\n%s", err, out)
	}
	if out, code := f.fly("prune-worker", "-w", "staller"); code == 0 || !strings.Contains(out, "cannot prune running worker") {
		t.Errorf("our fly's prune-worker of a running spoke (exit %d):\n%s", code, out)
	}
	_ = syscall.Kill(-stalled.Process.Pid, syscall.SIGKILL)
	_, _ = stalled.Process.Wait()
	waitState(t, must, "staller", "stalled")
	if out := must("sy", "prune-worker", "--all-stalled"); !strings.Contains(out, "pruned 'staller'") {
		t.Errorf("prune-worker --all-stalled: %s", out)
	}
	if got := workerState(t, must, "staller"); got != "" {
		t.Errorf("a pruned spoke is still listed: %q", got)
	}

	// Retiring itself: the waiting build 2 runs on it, SIGTERM retires it;
	// the step finishes, the spoke leaves and exits 0.
	if err := os.Remove(release); err != nil {
		t.Fatal(err)
	}
	retiree := f.startSpoke("retiree", f.url, "--retire-on-sigterm")
	waitForLines(t, marks, 2)
	if err := retiree.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitState(t, must, "retiree", "retiring")
	must("sy", "trigger-job", "-j", "drain/long") // build 3 waits: nobody takes new steps
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := f.mustFly("watch", "-j", "drain/long", "-b", "2"); !strings.Contains(out, "selected worker: retiree") || !strings.Contains(out, "succeeded") {
		t.Errorf("the retiring spoke's running build:\n%s", out)
	}
	waitExit(t, retiree, "the retired spoke")
	if got := workerState(t, must, "retiree"); got != "" {
		t.Errorf("a retired spoke is still listed: %q", got)
	}
}

// stockFlyPrune runs stock fly's prune-worker.
func stockFlyPrune(fly func(string, ...string) (string, error), target string, args ...string) (string, error) {
	return fly(target, append([]string{"prune-worker"}, args...)...)
}
