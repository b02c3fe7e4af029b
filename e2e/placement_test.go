package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/policy/policytest"
)

// Steps land where the policies say: a Rego policy denies a draining spoke
// and scores a spoke whose labels match the step's tags, the Go reference
// policy (JSON ABI WASM) scores the same, and fly placement explains it.
// Policies that cannot work are refused at upload; a policy that denies
// every spoke makes the build wait and say why.
func TestPlacementPolicies(t *testing.T) {
	f := newFleet(t)
	for _, sp := range []struct {
		name  string
		flags []string
	}{
		{"gpu-1", []string{"--tag", "gpu", "--label", "gpu=true"}},
		{"plain-1", []string{"--tag", "gpu"}},
		{"draining-1", []string{"--tag", "gpu", "--label", "gpu=true", "--label", "switchyard.dev/draining=true"}},
	} {
		f.startSpoke(sp.name, f.url, sp.flags...)
	}
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	wasm := filepath.Join(t.TempDir(), "labelscore.wasm")
	if err := os.WriteFile(wasm, policytest.BuildGo(t, "../examples/policies/labelscore", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := f.mustFly("set-policy", "-p", "placement", "-f", "../examples/policies/placement.rego"); !strings.Contains(out, "policy placement version 1 (rego, on error deny) is in force for team main") {
		t.Errorf("set-policy: %s", out)
	}
	if out := f.mustFly("set-policy", "-p", "labelscore", "-f", wasm, "--on-error", "skip"); !strings.Contains(out, "(wasm, on error skip)") {
		t.Errorf("set-policy wasm: %s", out)
	}
	if out := f.mustFly("policies"); !strings.Contains(out, "labelscore") || !strings.Contains(out, "placement") {
		t.Errorf("policies:\n%s", out)
	}
	broken := filepath.Join(t.TempDir(), "broken.rego")
	_ = os.WriteFile(broken, []byte("package switchyard.placement\n\ndeny contains x if {\n  x := y\n}\n"), 0o644)
	if out, code := f.fly("set-policy", "-p", "broken", "-f", broken); code == 0 || !strings.Contains(out, "broken:4: var y is unsafe") {
		t.Errorf("a broken policy: exit %d\n%s", code, out)
	}

	f.setPipeline("placed", `
jobs:
- name: train
  plan:
  - task: fit
    tags: [gpu]
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo fitting"]}
`)
	f.mustFly("trigger-job", "-j", "placed/train", "-w")
	out := f.mustFly("watch", "-j", "placed/train", "-b", "1")
	if !strings.Contains(out, "selected worker: gpu-1") {
		t.Errorf("the build did not land on gpu-1:\n%s", out)
	}
	explain := f.mustFly("placement", "-j", "placed/train", "-b", "1")
	for _, want := range []string{"step fit → gpu-1", "draining-1", "policy placement: the spoke is draining", "policy labelscore: the spoke is draining",
		"policy labelscore 10", "policy placement 10"} {
		if !strings.Contains(explain, want) {
			t.Errorf("no %q in fly placement:\n%s", want, explain)
		}
	}

	// A policy that denies every spoke: the build waits and says why.
	deny := filepath.Join(t.TempDir(), "closed.rego")
	_ = os.WriteFile(deny, []byte("package switchyard.placement\n\ndeny[s.name] contains \"closed for maintenance\" if {\n  some s in input.spokes\n}\n"), 0o644)
	f.mustFly("set-policy", "-p", "closed", "-f", deny)
	f.mustFly("trigger-job", "-j", "placed/train")
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := f.fly("placement", "-j", "placed/train", "-b", "2")
		if strings.Contains(out, "no spoke yet: every spoke was filtered out") && strings.Contains(out, "policy closed: closed for maintenance") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("build 2 does not say why it waits:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.mustFly("destroy-policy", "-p", "closed")
	if out := f.mustFly("watch", "-j", "placed/train", "-b", "2"); !strings.Contains(out, "placement: every spoke was filtered out") || !strings.Contains(out, "succeeded") {
		t.Errorf("build 2 after the policy went:\n%s", out)
	}
}

// Admission: the same policies answer Concourse-style checks when a pipeline
// is set. A privileged task is refused with the policy's reasons and nothing
// is saved; set warn-only, the same policy lets it through with a warning.
func TestAdmissionPolicies(t *testing.T) {
	f := newFleet(t)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.mustFly("set-policy", "-p", "admission", "-f", "../examples/policies/admission.rego")
	config := filepath.Join(t.TempDir(), "pipeline.yml")
	_ = os.WriteFile(config, []byte(`
jobs:
- name: build
  plan:
  - task: docker
    privileged: true
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: registry.example.com/builder, tag: "1"}}
      run: {path: sh, args: [-c, "echo building"]}
`), 0o644)
	out, code := f.fly("set-pipeline", "-n", "-p", "priv", "-c", config)
	if code == 0 || !strings.Contains(out, "policy check failed") || !strings.Contains(out, "policy admission: use_privileged: task docker of job build is privileged, which only team ops may run") {
		t.Errorf("a privileged task was not refused: exit %d\n%s", code, out)
	}
	if out, _ := f.fly("pipelines"); strings.Contains(out, "priv") {
		t.Errorf("the refused pipeline was saved:\n%s", out)
	}
	f.mustFly("set-policy", "-p", "admission", "-f", "../examples/policies/admission.rego", "--warn-only")
	out = f.mustFly("set-pipeline", "-n", "-p", "priv", "-c", config)
	if !strings.Contains(out, "WARNING: policy admission: use_privileged") || strings.Contains(out, "uses image") {
		t.Errorf("warn-only admission:\n%s", out)
	}
}
