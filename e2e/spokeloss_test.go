package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitForLines waits up to a minute for path to hold n lines.
func waitForLines(t *testing.T, path string, n int) {
	t.Helper()
	waitForLinesWithin(t, path, n, time.Minute)
}

// waitForLinesWithin waits until the file at path has n lines, for at most
// within.
func waitForLinesWithin(t *testing.T, path string, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), "\n") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d lines within %s: %q", path, n, within, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A spoke that dies mid-step stops renewing its lease: after the lease its
// running step moves to another spoke as a new run, the build says why and
// where, and succeeds; the step ran at most twice and only once to the end
// (the dead spoke's task died with it).
func TestSpokeLossMovesSteps(t *testing.T) {
	const lease = 3 * time.Second
	f := newFleetOf(t, bin, "", []string{"--spoke-lease", lease.String()})
	a := f.startSpoke("lost-a", f.url)
	marks := filepath.Join(t.TempDir(), "marks")
	f.setPipeline("loss", fmt.Sprintf(`
jobs:
- name: long
  plan:
  - task: work
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, "echo start >> %[1]s; sleep 20; echo done >> %[1]s; echo made > out/file"]}
  - task: after
    config:
      platform: linux
      inputs: [{name: out}]
      run: {path: sh, args: [-c, "cat out/file"]}
`, marks))
	f.mustFly("trigger-job", "-j", "loss/long")
	waitForLines(t, marks, 1)
	f.startSpoke("lost-b", f.url)
	killed := time.Now()
	_ = syscall.Kill(-a.Process.Pid, syscall.SIGKILL)
	_, _ = a.Process.Wait()
	waitForLines(t, marks, 2)
	t.Logf("spoke killed → the step running again on the other spoke: %s (lease %s)", time.Since(killed).Round(10*time.Millisecond), lease)

	out, code := f.fly("watch", "-j", "loss/long", "-b", "1")
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "made") {
		t.Fatalf("the build after its spoke died (exit %d):\n%s", code, out)
	}
	if !strings.Contains(out, "spoke lost-a stopped answering at ") || !strings.Contains(out, "; step moved to spoke lost-b (run 2)") {
		t.Errorf("the build does not say why and where the step moved:\n%s", out)
	}
	b, _ := os.ReadFile(marks)
	if starts, ends := strings.Count(string(b), "start"), strings.Count(string(b), "done"); starts != 2 || ends != 1 {
		t.Errorf("the step started %d times and ended %d, want 2 and 1", starts, ends)
	}
}

// A put whose spoke dies mid-put is not run again: its effects outside the
// build may have happened. The build errors with the rule's words.
func TestSpokeLossDoesNotRerunAPut(t *testing.T) {
	const lease = 3 * time.Second
	// A git server that accepts and never answers: the put's push hangs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	f := newFleetOf(t, bin, "", []string{"--spoke-lease", lease.String()})
	a := f.startSpoke("put-a", f.url)
	f.setPipeline("putloss", fmt.Sprintf(`
resources:
- name: repo
  type: git
  check_every: never
  source: {uri: "git://%s/repo.git", branch: main}
jobs:
- name: ship
  plan:
  - task: commit
    config:
      platform: linux
      outputs: [{name: repo}]
      run: {path: sh, args: [-c, "cd repo && git init -q -b main && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m one"]}
  - put: repo
    params: {repository: repo}
`, ln.Addr()))
	f.mustFly("trigger-job", "-j", "putloss/ship")
	select {
	case <-accepted:
	case <-time.After(time.Minute):
		t.Fatal("the put did not dial the git server within a minute")
	}
	f.startSpoke("put-b", f.url)
	_ = syscall.Kill(-a.Process.Pid, syscall.SIGKILL)
	_, _ = a.Process.Wait()
	out, code := f.fly("watch", "-j", "putloss/ship", "-b", "1")
	if code == 0 || !strings.Contains(out, "spoke put-a stopped answering at ") || !strings.Contains(out, "a put is not run again when its run is lost") {
		t.Fatalf("the put's build after its spoke died (exit %d):\n%s", code, out)
	}
	if strings.Contains(out, "step moved to spoke") || strings.Contains(out, "selected worker: put-b") {
		t.Errorf("the put ran again on the other spoke:\n%s", out)
	}
}

// A step no spoke can run waits, saying why, and errors with the reason
// after the hub's --step-placement-wait.
func TestStepPlacementWaitIsBounded(t *testing.T) {
	f := newFleetOf(t, bin, "", []string{"--step-placement-wait", "2s"})
	f.startSpoke("plain", f.url)
	f.setPipeline("bounded", `
jobs:
- name: gpu
  plan:
  - task: train
    tags: [gpu]
    config:
      platform: linux
      run: {path: echo, args: [never]}
`)
	out, code := f.fly("trigger-job", "-j", "bounded/gpu", "-w")
	if code == 0 || !strings.Contains(out, "placement: ") || !strings.Contains(out, "no spoke could run the step for 2s (the hub's --step-placement-wait): ") ||
		!strings.Contains(out, "errored") {
		t.Fatalf("a step no spoke can run (exit %d):\n%s", code, out)
	}
}
