package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// watchWhenCreated watches a job's build, waiting first for the scheduler to
// create it.
func (f *fleet) watchWhenCreated(job, build string, within time.Duration) string {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, code := f.fly("watch", "-j", job, "-b", build)
		if !strings.Contains(out, "build not found") {
			if code != 0 {
				f.t.Fatalf("watch %s #%s: exit %d:\n%s", job, build, code, out)
			}
			return out
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s #%s was not created within %s", job, build, within)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Periodic checks find versions, trigger: true builds them, passed carries
// them to the next job, and pins, reruns, disabled versions and webhooks work
// through fly and the API.
func TestSchedulingThroughPassed(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("flow", `
resources:
- name: repo
  type: mock
  check_every: 1s
  webhook_token: s3cret
  source: {initial_version: v1}
- name: shipped
  type: mock
  check_every: never
  source: {no_initial_version: true}
jobs:
- name: build
  plan:
  - get: repo
    trigger: true
  - task: compile
    config:
      platform: linux
      inputs: [{name: repo}]
      run: {path: cat, args: [repo/version]}
- name: ship
  plan:
  - get: repo
    trigger: true
    passed: [build]
  - put: shipped
    params: {version: shipped-1}
`)
	if out := f.watchWhenCreated("flow/build", "1", time.Minute); !strings.Contains(out, "v1\n") {
		t.Errorf("build #1 did not get the checked version:\n%s", out)
	}
	f.watchWhenCreated("flow/ship", "1", time.Minute)
	if out := f.mustFly("resource-versions", "-r", "flow/shipped"); !strings.Contains(out, `{"version":"shipped-1"}`) {
		t.Errorf("ship's put left no version:\n%s", out)
	}

	f.mustFly("check-resource", "-r", "flow/repo", "-f", "version:v2")
	if out := f.watchWhenCreated("flow/build", "2", time.Minute); !strings.Contains(out, "v2\n") {
		t.Errorf("build #2 did not get v2:\n%s", out)
	}
	f.watchWhenCreated("flow/ship", "2", time.Minute)

	out := f.mustFly("pin-resource", "-r", "flow/repo", "-v", "version:v1", "-c", "hold the line")
	if !strings.Contains(out, `pinned 'repo' with version {"version":"v1"}`) || !strings.Contains(out, "pin comment 'hold the line' is saved") {
		t.Errorf("pin-resource:\n%s", out)
	}
	if out := f.mustFly("trigger-job", "-j", "flow/build", "-w"); !strings.Contains(out, "v1\n") {
		t.Errorf("a build of a pinned resource did not get the pin:\n%s", out)
	}
	if out := f.mustFly("unpin-resource", "-r", "flow/repo"); !strings.Contains(out, "unpinned 'repo'") {
		t.Errorf("unpin-resource:\n%s", out)
	}
	out = f.mustFly("rerun-build", "-j", "flow/build", "-b", "2", "-w")
	if !strings.Contains(out, "started flow/build #2.1") || !strings.Contains(out, "v2\n") {
		t.Errorf("rerun of build 2:\n%s", out)
	}
	if out := f.mustFly("disable-resource-version", "-r", "flow/repo", "-v", "version:v2"); !strings.Contains(out, `disabled 'repo' with version {"version":"v2"}`) {
		t.Errorf("disable-resource-version:\n%s", out)
	}
	if out := f.mustFly("resource-versions", "-r", "flow/repo"); !strings.Contains(out, `{"version":"v2"}  no`) {
		t.Errorf("resource-versions after disabling v2:\n%s", out)
	}
	if out := f.mustFly("trigger-job", "-j", "flow/build", "-w"); !strings.Contains(out, "v1\n") {
		t.Errorf("with v2 disabled the build should get v1:\n%s", out)
	}
	if out := f.mustFly("schedule-job", "-j", "flow/build"); !strings.Contains(out, "scheduled 'build'") {
		t.Errorf("schedule-job:\n%s", out)
	}

	// The job and its next inputs through the API.
	c := &api.Client{URL: f.url, Token: f.token()}
	var job api.Job
	if err := c.Get(context.Background(), api.PipelinePath("main", "flow")+"/jobs/ship", &job); err != nil {
		t.Fatal(err)
	}
	if len(job.Inputs) != 1 || job.Inputs[0].Resource != "repo" || !job.Inputs[0].Trigger || len(job.Inputs[0].Passed) != 1 || job.Inputs[0].Passed[0] != "build" {
		t.Errorf("inputs of job ship: %+v", job.Inputs)
	}
	var resources []api.Resource
	if err := c.Get(context.Background(), api.PipelinePath("main", "flow")+"/resources", &resources); err != nil {
		t.Fatal(err)
	}
	if len(resources) != 2 || resources[0].Name != "repo" || resources[0].LastChecked == 0 || resources[0].Build == nil ||
		resources[0].Build.Name != "check" || resources[0].Build.PipelineName != "flow" {
		t.Errorf("resources: %+v", resources)
	}
	var next []api.BuildInput
	if err := c.Get(context.Background(), api.PipelinePath("main", "flow")+"/jobs/ship/inputs", &next); err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].Name != "repo" || next[0].Type != "mock" || next[0].Version["version"] == "" {
		t.Errorf("next inputs of ship: %+v", next)
	}

	// The versions-db export replays on a fresh database to the answer the
	// scheduler gave for ship.
	req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v1/teams/main/pipelines/flow/versions-db?job=ship", nil)
	req.Header.Set("Authorization", "Bearer "+f.token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	export, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	file := filepath.Join(f.dir, "flow-db.json")
	if err := os.WriteFile(file, export, 0o644); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(filepath.Join(bin, "switchyard"), "algorithm", "check", "--scenarios", file, "--database-url", storetest.URL(t))
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 passed, 0 failed") {
		t.Errorf("replaying the export: %v\n%s\nexport: %.2000s", err, out, export)
	}

	// Webhooks: the token in the resource's config, and no other, starts a check.
	hook := f.url + "/api/v1/teams/main/pipelines/flow/resources/repo/check/webhook?webhook_token="
	for token, want := range map[string]int{"s3cret": http.StatusCreated, "wrong": http.StatusUnauthorized} {
		resp, err := http.Post(hook+token, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("webhook with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
}
