package pipeline

import (
	"strings"
	"testing"
)

// A string field whose value YAML 1.1 reads as a boolean is refused where it
// is written, as the hub refuses it once the config is JSON and as
// Concourse does; quoted, it is the text.
func TestYAML11BooleanInAStringField(t *testing.T) {
	plan := func(v string) string {
		return "jobs:\n- name: j\n  plan:\n  - across:\n    - var: " + v + "\n      values: [1]\n    task: t\n    config: {platform: linux, run: {path: echo}}\n"
	}
	_, err := Load([]byte(plan("n")), Options{File: "p.yml"})
	if err == nil || !strings.Contains(err.Error(), "p.yml:5") || !strings.Contains(err.Error(), "expected a string, got bool false") {
		t.Errorf("var: n: %v", err)
	}
	p, err := Load([]byte(plan(`"n"`)), Options{File: "p.yml"})
	if err != nil {
		t.Fatalf(`var: "n": %v`, err)
	}
	// What the hub stores loads again the same way.
	if _, err := Load(p.JSON, Options{File: "stored"}); err != nil {
		t.Errorf("the stored config does not load again: %v", err)
	}
}
