package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each job exercises one part of plan execution; fly's exit code and output say
// how it went.
func TestPlanSemantics(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	counter := filepath.Join(f.dir, "attempts")
	slowMarker := filepath.Join(f.dir, "slow-sibling-finished")
	slowPID := filepath.Join(f.dir, "slow-sibling-pid")
	task := func(script string) string {
		return fmt.Sprintf("config: {platform: linux, run: {path: sh, args: [-c, %q]}}", script)
	}
	f.setPipeline("semantics", fmt.Sprintf(`
resources:
- name: versioned
  type: mock
  source: {}
jobs:
- name: try
  plan:
  - try: {task: fails, %[1]s}
  - {task: after, %[2]s}
- name: timeout
  plan:
  - {task: sleeps, timeout: 1s, %[3]s}
- name: attempts
  plan:
  - {task: flaky, attempts: 3, %[4]s}
- name: ensure
  plan:
  - task: fails
    %[1]s
    ensure: {task: cleanup, %[5]s}
- name: on-success
  plan:
  - task: works
    %[2]s
    on_success: {task: celebrate, %[6]s}
- name: fail-fast
  plan:
  - in_parallel:
      fail_fast: true
      steps:
      - {task: fails, %[1]s}
      - {task: slow, %[7]s}
- name: put-get
  plan:
  - put: versioned
    params: {version: v5}
  - task: read
    config:
      platform: linux
      inputs: [{name: versioned}]
      run: {path: sh, args: [-c, "echo got $(cat versioned/version)"]}
`,
		task("exit 1"), task("echo after try"), task("sleep 10"),
		task(fmt.Sprintf("n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; echo attempt $n; [ $n -ge 3 ]", counter)),
		task("echo cleaned up"), task("echo celebrate"),
		task(fmt.Sprintf("echo $$ > %s; sleep 3; touch %s", slowPID, slowMarker))))

	tests := []struct {
		job  string
		code int
		want []string
	}{
		{"try", 0, []string{"after try", "succeeded"}},
		{"timeout", 1, []string{"timeout exceeded (1s)", "failed"}},
		{"attempts", 0, []string{"attempt 1", "attempt 2", "attempt 3", "succeeded"}},
		{"ensure", 1, []string{"cleaned up", "failed"}}, // cleanup's finish-task (0) is the last, so failed gives 1
		{"on-success", 0, []string{"celebrate", "succeeded"}},
		{"fail-fast", 1, []string{"failed"}},
		{"put-get", 0, []string{"got v5", "succeeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			out, code := f.fly("trigger-job", "-j", "semantics/"+tt.job, "-w")
			if code != tt.code {
				t.Errorf("exit code %d, want %d:\n%s", code, tt.code, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	// fail_fast stopped the slow sibling: it never finished.
	waitStopped(t, slowPID, time.Minute)
	if _, err := os.Stat(slowMarker); err == nil {
		t.Error("fail_fast did not stop the sibling step")
	}
}
