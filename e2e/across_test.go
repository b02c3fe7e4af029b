package e2e

import (
	"sort"
	"strings"
	"testing"
)

// across: a step run once per value (and per combination of two vars),
// values written in the pipeline or loaded with load_var, each run with its
// own events; past the hub's bound, the build errors with why.
func TestAcross(t *testing.T) {
	f := newFleetOf(t, bin, "", []string{"--max-across-combinations", "6"})
	f.startSpoke("local-1", f.url)
	f.setPipeline("across", `
jobs:
- name: matrix
  plan:
  - task: list
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, 'echo "[\"x\", \"y\"]" > out/list.json']}
  - load_var: letters
    file: out/list.json
    reveal: true
  - task: say
    across:
    - var: number
      values: [1, 2, 3]
      max_in_flight: all
    - var: letter
      values: ((.:letters))
    config:
      platform: linux
      params: {N: ((.:number)), L: ((.:letter))}
      run: {path: sh, args: [-c, 'echo "run $N$L"']}
- name: too-many
  plan:
  - task: say
    across:
    - var: a
      values: [1, 2, 3]
    - var: b
      values: [1, 2, 3]
    config:
      platform: linux
      run: {path: "true"}
`)
	out := f.mustFly("trigger-job", "-j", "across/matrix", "-w")
	var runs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "run ") {
			runs = append(runs, strings.TrimSpace(line))
		}
	}
	sort.Strings(runs)
	if strings.Join(runs, ",") != "run 1x,run 1y,run 2x,run 2y,run 3x,run 3y" || !strings.Contains(out, "succeeded") {
		t.Errorf("across runs %v:\n%s", runs, out)
	}
	out, code := f.fly("trigger-job", "-j", "across/too-many", "-w")
	if code == 0 || !strings.Contains(out, "make 9 combinations or more, past the hub's bound of 6 (switchyard hub --max-across-combinations)") {
		t.Errorf("across past the bound: exit %d\n%s", code, out)
	}
}
