package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCompileGolden compiles every job of the pipelines in testdata/plans and of
// the valid ones in testdata/valid, and compares the plans with NAME.plans.json.
func TestCompileGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/plans/*.yml")
	valid, _ := filepath.Glob("testdata/valid/*.yml")
	for _, file := range append(files, valid...) {
		if strings.HasSuffix(file, ".vars.yml") {
			continue
		}
		t.Run(file, func(t *testing.T) {
			cfg := mustLoad(t, file)
			plans := map[string]Plan{}
			for _, j := range cfg.Jobs {
				p, err := cfg.CompileJob(j.Name)
				if err != nil {
					t.Fatal(err)
				}
				checkIDs(t, p)
				again, _ := mustLoad(t, file).CompileJob(j.Name)
				if diff := cmp.Diff(p, again); diff != "" {
					t.Errorf("job %s: second compilation differs:\n%s", j.Name, diff)
				}
				plans[j.Name] = p
			}
			got, err := json.MarshalIndent(plans, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".yml") + ".plans.json"
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./pipeline -run CompileGolden -update creates it)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("plans differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestCompileUnknownJob(t *testing.T) {
	cfg := mustLoad(t, "testdata/valid/hello.yml")
	if _, err := cfg.CompileJob("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("got %v", err)
	}
}

// checkIDs fails the test if two nodes of a plan share an id.
func checkIDs(t *testing.T, p Plan) {
	t.Helper()
	seen := map[string]bool{}
	var walk func(p *Plan)
	walk = func(p *Plan) {
		if p.ID == "" || seen[p.ID] {
			t.Errorf("plan id %q is empty or repeated", p.ID)
		}
		seen[p.ID] = true
		for _, c := range children(p) {
			walk(c)
		}
	}
	walk(&p)
}

func mustLoad(t *testing.T, file string) *Config {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	vars := Vars{}
	if v := strings.TrimSuffix(file, ".yml") + ".vars.yml"; fileExists(v) {
		if err := vars.LoadFile(v); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(data, Options{File: file, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	return p.Config
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A task file's ((vars)) are refused by name, never run as text.
func TestTaskFileVarsRefused(t *testing.T) {
	_, err := LoadTaskConfig("ci/task.yml", []byte("platform: linux\nrun: {path: sh}\nparams:\n  TOKEN: ((token))\n"))
	if err == nil || !strings.Contains(err.Error(), "ci/task.yml:4") || !strings.Contains(err.Error(), "((token)) in a task file") {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadTaskConfig("ci/task.yml", []byte("platform: linux\nrun: {path: sh}\n")); err != nil {
		t.Fatal(err)
	}
}
