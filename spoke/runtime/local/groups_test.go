package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/wire"
)

// A spoke that restarts reads the process groups its previous process
// recorded: the groups still running are found, the ended ones are not, a
// line cut short by a crash is skipped, and the file is rewritten with the
// running ones once it grows.
func TestProcessGroupsOutliveTheSpoke(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, groupsFile)
	before := &groups{path: path}
	if err := before.started("1/steps/a-1", 4242); err != nil {
		t.Fatal(err)
	}
	if err := before.started(`2/steps/odd "name"-1`, 4343); err != nil {
		t.Fatal(err)
	}
	if err := before.started("3/steps/c-1", 4444); err != nil {
		t.Fatal(err)
	}
	before.ended("3/steps/c-1")
	// The previous process died in the middle of a line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`99 "4/steps/d`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	after := &groups{path: path}
	for step, want := range map[string]int{"1/steps/a-1": 4242, `2/steps/odd "name"-1`: 4343} {
		if got, ok := after.group(step); !ok || got != want {
			t.Errorf("group of %s after a restart: %d, %v; want %d", step, got, ok, want)
		}
	}
	for _, step := range []string{"3/steps/c-1", "4/steps/d"} {
		if got, ok := after.group(step); ok {
			t.Errorf("group of %s after a restart: %d, want none", step, got)
		}
	}

	// Many short steps later, the file holds little more than what runs.
	for i := range 3000 {
		step := "5/steps/s-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
		if err := after.started(step, 5000+i); err != nil {
			t.Fatal(err)
		}
		after.ended(step)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data); n > 64<<10 {
		t.Errorf("the file holds %d bytes after 3,000 ended steps: it is not rewritten", n)
	}
	again := &groups{path: path}
	if got, ok := again.group("1/steps/a-1"); !ok || got != 4242 {
		t.Errorf("a running group was lost in the rewrite: %d, %v", got, ok)
	}
}

// Reap stops the process group that a previous process of the spoke left
// running for a step's run.
func TestReapStopsWhatARunLeft(t *testing.T) {
	dir := t.TempDir()
	a := wire.Assignment{BuildID: 7, PlanID: "task", Attempt: 1}
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	died := &Runtime{Dir: dir} // the spoke process that started the run
	if err := died.groups().started(groupKey(a), cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	(&Runtime{Dir: dir}).Reap(a) // the restarted spoke
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the run's process group still runs after Reap")
	}
	if _, ok := (&Runtime{Dir: dir}).groups().group(groupKey(a)); ok {
		t.Error("the reaped group is still recorded")
	}
}
