package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's pipeline, set with fly, runs on a local spoke and succeeds, watched live.
func TestHelloPipeline(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	hello, err := os.ReadFile("../examples/hello.yml")
	if err != nil {
		t.Fatal(err)
	}
	f.setPipeline("hello", string(hello))
	out := f.mustFly("trigger-job", "-j", "hello/hello", "-w")
	for _, want := range []string{"started hello/hello #1", "selected worker: local-1", "hello from a mock resource\n", "hello, world\n", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("trigger-job -w output lacks %q:\n%s", want, out)
		}
	}
	builds := f.mustFly("builds", "-j", "hello/hello")
	if !strings.Contains(builds, "hello/hello/1") || !strings.Contains(builds, "succeeded") {
		t.Errorf("builds:\n%s", builds)
	}
	workers := f.mustFly("workers")
	if !strings.Contains(workers, "local-1") || !strings.Contains(workers, "running") {
		t.Errorf("workers:\n%s", workers)
	}
}

// fly exits with the exit status of the last task that finished, as Concourse's
// fly does (CONCOURSE.md 5.3): the failing task's 7, or, when a hook task ran
// after it and exited 0, 1 for "failed".
func TestFailingTaskExitCode(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("fails", `
jobs:
- name: broken
  plan:
  - task: boom
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo about to fail; exit 7"]}
- name: hooked
  plan:
  - task: boom
    config:
      platform: linux
      run: {path: sh, args: [-c, "exit 7"]}
    on_failure:
      task: report
      config:
        platform: linux
        run: {path: echo, args: [the build failed]}
`)
	for _, tt := range []struct {
		job  string
		code int
		want []string
	}{
		{"fails/broken", 7, []string{"about to fail", "failed"}},
		{"fails/hooked", 1, []string{"the build failed", "failed"}},
	} {
		out, code := f.fly("trigger-job", "-j", tt.job, "-w")
		if code != tt.code {
			t.Errorf("%s: exit code %d, want %d:\n%s", tt.job, code, tt.code, out)
		}
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tt.job, want, out)
			}
		}
	}
}

// A hub killed mid-build and started again resumes the build: it re-attaches to
// the running task instead of starting it again, and no log line is lost or
// repeated.
func TestHubKilledMidBuildResumes(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	marker := filepath.Join(f.dir, "runs")
	started := filepath.Join(f.dir, "started")
	f.setPipeline("slow", fmt.Sprintf(`
jobs:
- name: slow
  plan:
  - task: count
    config:
      platform: linux
      run:
        path: sh
        args:
        - -c
        - |
          echo run >> %s
          touch %s
          for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.5; done
`, marker, started))
	f.mustFly("trigger-job", "-j", "slow/slow")
	waitFile(t, started, 30*time.Second)
	f.killHub()
	time.Sleep(time.Second) // the task keeps running; its logs wait on the spoke
	f.startHub()
	out := f.mustFly("watch", "-j", "slow/slow")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("watch after restart:\n%s", out)
	}
	for i := 1; i <= 8; i++ {
		if n := strings.Count(out, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d appears %d times:\n%s", i, n, out)
		}
	}
	runs, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(runs), "run"); n != 1 {
		t.Errorf("the task ran %d times, want once (the hub must re-attach, not restart it)", n)
	}
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %s", path, timeout)
}

// waitStopped waits until the process whose pid a task wrote to pidFile has
// ended (a task that never started wrote none), so that what it would have
// done next can be checked not to have happened.
func waitStopped(t *testing.T, pidFile string, timeout time.Duration) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", pidFile, err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the task's process %d still runs after %s", pid, timeout)
}

// A spoke cut off from the hub mid-step keeps running it and, once the network
// is back, resumes reporting: every log line arrives once and in order.
func TestSpokeReconnectsWithoutLosingLogs(t *testing.T) {
	f := newFleet(t)
	p := newProxy(t, f.listen)
	f.startSpoke("behind-proxy", p.url())
	started := filepath.Join(f.dir, "started")
	f.setPipeline("chatty", fmt.Sprintf(`
jobs:
- name: chatty
  plan:
  - task: talk
    config:
      platform: linux
      run:
        path: sh
        args:
        - -c
        - |
          touch %s
          i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done
`, started))
	f.mustFly("trigger-job", "-j", "chatty/chatty")
	waitFile(t, started, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	p.cut()
	time.Sleep(2 * time.Second)
	p.restore()
	out := f.mustFly("watch", "-j", "chatty/chatty")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("watch:\n%s", out)
	}
	last := -1
	for i := 1; i <= 30; i++ {
		line := fmt.Sprintf("line %d\n", i)
		if n := strings.Count(out, line); n != 1 {
			t.Errorf("%q appears %d times", line, n)
		}
		at := strings.Index(out, line)
		if at < last {
			t.Errorf("%q is out of order", line)
		}
		last = at
	}
	if t.Failed() {
		t.Logf("watch output:\n%s", out)
	}
	// The cut must have hit the spoke while it reported, or this shows nothing.
	spokeLog, _ := os.ReadFile(filepath.Join(f.dir, "spoke-behind-proxy.log"))
	if !strings.Contains(string(spokeLog), `"msg":"report logs"`) && !strings.Contains(string(spokeLog), `"msg":"lost hub"`) {
		t.Errorf("the spoke never noticed the cut:\n%s", spokeLog)
	}
}

// fly check-resource -f makes a version of a mock resource (testflight's way of
// driving pipelines), and the next build gets it.
func TestCheckResource(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("checks", `
resources:
- name: input
  type: mock
  source: {no_initial_version: true}
- name: broken
  type: mock
  source: {check_failure: on purpose}
jobs:
- name: use
  plan:
  - get: input
    trigger: true
  - task: show
    config:
      platform: linux
      inputs: [{name: input}]
      run: {path: cat, args: [input/version]}
- name: needs-broken
  plan:
  - get: broken
`)
	out := f.mustFly("check-resource", "-r", "checks/input", "-f", "version:v42")
	if !strings.Contains(out, "checking checks/input in build") || !strings.Contains(out, "succeeded") {
		t.Fatalf("check-resource:\n%s", out)
	}
	out, code := f.fly("check-resource", "-r", "checks/broken")
	if code == 0 || !strings.Contains(out, "intentionally failing to check: on purpose") {
		t.Errorf("failing check: exit %d:\n%s", code, out)
	}
	out = f.mustFly("trigger-job", "-j", "checks/use", "-w")
	if !strings.Contains(out, "v42\n") || !strings.Contains(out, "succeeded") {
		t.Errorf("the build did not get the checked version:\n%s", out)
	}
	// A build of a job whose resource has no versions waits, as in Concourse,
	// and watching it says why and what to do.
	out = f.mustFly("trigger-job", "-j", "checks/needs-broken")
	if !strings.Contains(out, "started checks/needs-broken #1") {
		t.Fatalf("trigger-job:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	out, _ = f.flyContext(ctx, "watch", "-j", "checks/needs-broken", "-b", "1")
	if !strings.Contains(out, "waiting: input broken: latest version of resource not found") ||
		!strings.Contains(out, "fly check-resource -r checks/broken") {
		t.Errorf("watching a build that cannot get its input:\n%s", out)
	}
}

// fly abort-build stops a running build: its task's process is killed, the
// on_abort and ensure hooks run, and the build ends aborted (fly's exit code 3).
func TestAbortBuild(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	started := filepath.Join(f.dir, "started")
	finished := filepath.Join(f.dir, "finished")
	pid := filepath.Join(f.dir, "pid")
	onAbort := filepath.Join(f.dir, "on-abort-ran")
	ensured := filepath.Join(f.dir, "ensure-ran")
	f.setPipeline("long", fmt.Sprintf(`
jobs:
- name: long
  plan:
  - task: sleep
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo $$ > %s; touch %s; sleep 5; touch %s"]}
    on_abort:
      task: note-abort
      config: {platform: linux, run: {path: touch, args: [%s]}}
  ensure:
    task: cleanup
    config: {platform: linux, run: {path: touch, args: [%s]}}
`, pid, started, finished, onAbort, ensured))
	f.mustFly("trigger-job", "-j", "long/long")
	waitFile(t, started, 30*time.Second)
	if out := f.mustFly("abort-build", "-j", "long/long", "-b", "1"); !strings.Contains(out, "build successfully aborted") {
		t.Fatalf("abort-build:\n%s", out)
	}
	out, code := f.fly("watch", "-j", "long/long", "-b", "1")
	if code != 3 || !strings.Contains(out, "aborted") {
		t.Errorf("watch of the aborted build: exit %d:\n%s", code, out)
	}
	for _, hook := range []string{onAbort, ensured} {
		if _, err := os.Stat(hook); err != nil {
			t.Errorf("hook did not run after the abort: %s", filepath.Base(hook))
		}
	}
	waitStopped(t, pid, time.Minute)
	if _, err := os.Stat(finished); err == nil {
		t.Error("the aborted task kept running to its end")
	}
}

// A task whose image is an artifact that holds no image (image: NAME)
// errors with why, rather than running in another image.
func TestTaskImageWithoutRootfsIsRefused(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("images", `
resources:
- name: rootfs
  type: mock
jobs:
- name: use
  plan:
  - get: rootfs
  - task: show
    image: rootfs
    config:
      platform: linux
      run: {path: echo, args: [ran]}
`)
	out, code := f.fly("trigger-job", "-j", "images/use", "-w")
	if code == 0 || !strings.Contains(out, "image rootfs has no rootfs/ directory: give the task an artifact from a registry-image get") || strings.Contains(out, "\nran\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
