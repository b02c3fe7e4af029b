package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Our fly's format-pipeline writes what stock fly's writes, byte for byte,
// for the example pipeline and one with groups, a task with image_resource
// and params of several types, flow maps and a comment; -w writes in place;
// a config that does not load is refused with its line.
func TestFormatPipelineAsStockFly(t *testing.T) {
	stock := stockFlyPath()
	if stock == "" {
		t.Skip("no stock fly")
	}
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.yml")
	if err := os.WriteFile(sample, []byte(`jobs:
- name: unit
  serial: true
  plan:
  - get: repo
    trigger: true
  - task: test
    privileged: false
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: golang}}
      run: {path: go, args: [test, ((pkg))]}
      params: {FOO: yes, COUNT: 3, S: text}
  - put: repo
    params: {repository: repo, force: true}
resources:
- name: repo
  type: git
  icon: github
  source: {uri: "https://example.com/x.git", branch: main}
# a comment
groups:
- name: all
  jobs: [unit]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{sample, filepath.Join("..", "examples", "hello.yml")} {
		want, err := exec.Command(stock, "format-pipeline", "-c", file).Output()
		if err != nil {
			t.Fatalf("stock fly format-pipeline %s: %v", file, err)
		}
		got, err := exec.Command(filepath.Join(bin, "fly"), "format-pipeline", "-c", file).CombinedOutput()
		if err != nil || string(got) != string(want) {
			t.Errorf("format-pipeline %s (%v):\n--- ours\n%s\n--- stock fly's\n%s", file, err, got, want)
		}
	}
	if out, err := exec.Command(filepath.Join(bin, "fly"), "format-pipeline", "-c", sample, "-w").CombinedOutput(); err != nil {
		t.Fatalf("format-pipeline -w: %v\n%s", err, out)
	}
	want, _ := exec.Command(stock, "format-pipeline", "-c", sample).Output()
	if got, _ := os.ReadFile(sample); string(got) != string(want) {
		t.Errorf("format-pipeline -w wrote:\n%s\nwant:\n%s", got, want)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("jobs:\n- name: j\n  plan:\n  - bogus: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "fly"), "format-pipeline", "-c", bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "4:") {
		t.Errorf("format-pipeline of a bad config: %v\n%s", err, out)
	}
}
