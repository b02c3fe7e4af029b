package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// Names that become paths on spokes (artifact names, mappings, input and
// output paths, task files) are refused when they would leave their place;
// names Concourse only warns about are still accepted.
func TestHostileNames(t *testing.T) {
	long := strings.Repeat("x", 5000)
	task := func(extra string) string {
		return `
resources: [{name: repo, type: mock}]
jobs:
- name: j
  plan:
  - get: repo
  - task: t
` + extra
	}
	config := func(inputs, outputs string) string {
		return task(`    config:
      platform: linux
      run: {path: sh}
      inputs: [` + inputs + `]
      outputs: [` + outputs + `]
`)
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"job with a slash", "jobs:\n- name: a/b\n  plan: [{task: t, config: {platform: linux, run: {path: sh}}}]\n", `holds '/'`},
		{"job named ..", "jobs:\n- name: ..\n  plan: [{task: t, config: {platform: linux, run: {path: sh}}}]\n", `is a path`},
		{"job with a NUL", "jobs:\n- name: \"a\\0b\"\n  plan: [{task: t, config: {platform: linux, run: {path: sh}}}]\n", `holds '\x00'`},
		{"resource with a long name", fmt.Sprintf("resources: [{name: %s, type: mock}]\njobs: [{name: j, plan: [{get: %s}]}]\n", long, long), "names are at most 255"},
		{"get named ..", "resources: [{name: repo, type: mock}]\njobs: [{name: j, plan: [{get: .., resource: repo}]}]\n", "is a path"},
		{"input named ../x", config("{name: ../x, optional: true}", ""), `holds '/'`},
		{"input path climbing", config("{name: repo, path: ../../etc}", ""), "leaves the task's working directory"},
		{"output path climbing", config("", "{name: out, path: a/../../b}"), "leaves the task's working directory"},
		{"output named ..", config("", "{name: ..}"), "is a path"},
		{"output_mapping to a path", config("", "{name: out}") + "    output_mapping: {out: ../../victim}\n", "output_mapping"},
		{"input_mapping from a path", config("{name: src}", "") + "    input_mapping: {src: ../repo}\n", "input_mapping"},
		{"task file climbing", task("    file: repo/../../etc/passwd\n"), "a file inside an artifact"},
		{"cache climbing", task("    config:\n      platform: linux\n      run: {path: sh}\n      caches: [{path: ../../x}]\n"), "caches[0]"},
		{"run.dir climbing", task("    config:\n      platform: linux\n      run: {path: sh, dir: ../..}\n"), "run.dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml), Options{File: "p.yml"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "p.yml:") {
				t.Errorf("error does not name the file and line: %v", err)
			}
		})
	}

	// Concourse only warns about these; so do we.
	res, err := Load([]byte("jobs:\n- name: Build_Job\n  plan: [{task: t, config: {platform: linux, run: {path: sh}, caches: [{path: /root/.cache}], inputs: [{name: x, path: ./a/b, optional: true}]}}]\n"), Options{})
	if err != nil {
		t.Fatalf("a name Concourse accepts with a warning was refused: %v", err)
	}
	if len(res.Warnings) == 0 {
		t.Errorf("no invalid_identifier warning for Build_Job")
	}
}

func TestRelPath(t *testing.T) {
	for in, want := range map[string]string{"": ".", ".": ".", "/root/.cache": "root/.cache", "a/./b/": "a/b", "a/../b": "b"} {
		got, err := RelPath(in)
		if err != nil || got != want {
			t.Errorf("RelPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "/../x", "a\x00b"} {
		if got, err := RelPath(in); err == nil {
			t.Errorf("RelPath(%q) = %q, want an error", in, got)
		}
	}
}
