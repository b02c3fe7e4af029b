package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// setPipelineParent is a pipeline whose job reads a list of branches with
// load_var and sets an instanced child pipeline per branch with across and
// set_pipeline; the child's config uses its instance var as a ((var)).
const setPipelineParent = `
resources:
- name: configs
  type: mock
  check_every: never
  source:
    create_files:
      branches.json: '%s'
      child.yml: |
        jobs:
        - name: hello
          plan:
          - task: say
            config:
              platform: linux
              run: {path: echo, args: ["hello from START_VARbranchEND_VAR"]}
jobs:
- name: set-children
  plan:
  - get: configs
  - load_var: branches
    file: configs/branches.json
  - across:
    - var: branch
      values: ((.:branches))
    set_pipeline: child
    file: configs/child.yml
    instance_vars: {branch: ((.:branch))}
`

// A parent pipeline sets an instanced child per branch (load_var, across,
// set_pipeline, with stock fly watching); the children are grouped in stock
// fly's pipelines, run with their instance var filled in, and the child of a
// branch the list drops is archived when the parent's job next succeeds.
func TestSetPipelineAcrossBranches(t *testing.T) {
	stock := stockFlyPath()
	if stock == "" {
		t.Skip("no stock fly")
	}
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	_, must := stockFlyAt(t, stock, t.TempDir())
	must("s", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	set := func(branches string) {
		t.Helper()
		file := filepath.Join(f.dir, "parent.yml")
		if err := os.WriteFile(file, []byte(strings.Replace(setPipelineParent, "%s", branches, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		must("s", "set-pipeline", "-n", "-p", "parent", "-c", file)
		must("s", "unpause-pipeline", "-p", "parent")
	}
	set(`["main","dev"]`)
	must("s", "check-resource", "-r", "parent/configs")
	out := must("s", "trigger-job", "-j", "parent/set-children", "-w")
	for _, want := range []string{"setting pipeline: child/branch:main", "setting pipeline: child/branch:dev", `+ jobs:`, "hello from main", "done", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the parent's build:\n%s", want, out)
		}
	}
	// The build's public plan shows the across step as Concourse's, and its
	// events list the runs as public plans.
	var plan struct {
		Schema string         `json:"schema"`
		Plan   map[string]any `json:"plan"`
	}
	spokeCall(t, f.url, "GET", "/api/v1/builds/"+buildID(t, f, "parent/set-children", "1")+"/plan", f.token(), nil, &plan, 200)
	if raw, _ := json.Marshal(plan.Plan); plan.Schema != "exec.v2" || !strings.Contains(string(raw), `"across":{"fail_fast":false,"vars":[{"name":"branch"}]}`) {
		t.Errorf("the public plan: %s %s", plan.Schema, raw)
	}
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	if events := f.mustFly("watch", "-j", "parent/set-children", "-b", "1"); !strings.Contains(events, "succeeded") {
		t.Errorf("our fly's watch of a build with across-substeps events:\n%s", events)
	}
	pipelines := must("s", "pipelines")
	for _, want := range []string{"child/branch:main", "child/branch:dev"} {
		if !strings.Contains(pipelines, want) {
			t.Errorf("no %s in stock fly's pipelines:\n%s", want, pipelines)
		}
	}
	var child struct {
		ParentJobID   int64 `json:"parent_job_id"`
		ParentBuildID int64 `json:"parent_build_id"`
		Paused        bool  `json:"paused"`
	}
	spokeCall(t, f.url, "GET", `/api/v1/teams/main/pipelines/child?vars.branch=%22main%22`, f.token(), nil, &child, 200)
	if child.ParentJobID == 0 || child.ParentBuildID == 0 || child.Paused {
		t.Errorf("the child of main: %+v, want its parent job and build, unpaused", child)
	}
	// Instances are ordered within their group, by stock fly and by ours.
	if out := must("s", "order-instanced-pipelines", "-g", "child", "-p", "branch:dev", "-p", "branch:main"); !strings.Contains(out, "ordered instanced pipelines") {
		t.Errorf("stock fly order-instanced-pipelines:\n%s", out)
	}
	if ps := must("s", "pipelines"); strings.Index(ps, "child/branch:dev") > strings.Index(ps, "child/branch:main") {
		t.Errorf("dev is not ordered before main:\n%s", ps)
	}
	f.mustFly("order-instanced-pipelines", "-g", "child", "-p", "branch:main", "-p", "branch:dev")
	if ps := must("s", "pipelines"); strings.Index(ps, "child/branch:main") > strings.Index(ps, "child/branch:dev") {
		t.Errorf("main is not ordered before dev:\n%s", ps)
	}
	if out, code := f.fly("order-instanced-pipelines", "-g", "child", "-p", "branch:nope"); code == 0 || !strings.Contains(out, "pipeline 'child/branch:nope' not found") {
		t.Errorf("ordering an instance that does not exist: exit %d\n%s", code, out)
	}
	// The children were created unpaused, and run with their var filled in.
	if out := must("s", "trigger-job", "-j", "child/branch:dev/hello", "-w"); !strings.Contains(out, "hello from dev") || !strings.Contains(out, "succeeded") {
		t.Errorf("the dev child's build:\n%s", out)
	}
	// Setting them again changes nothing.
	if out := must("s", "trigger-job", "-j", "parent/set-children", "-w"); !strings.Contains(out, "no changes to apply") {
		t.Errorf("the parent's second build:\n%s", out)
	}

	// The list drops dev: the parent's next successful build archives it.
	set(`["main"]`)
	must("s", "check-resource", "-r", "parent/configs")
	deadline := time.Now().Add(time.Minute)
	for {
		out := must("s", "trigger-job", "-j", "parent/set-children", "-w")
		if !strings.Contains(out, "setting pipeline: child/branch:dev") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parent still sets dev:\n%s", out)
		}
	}
	pipelines = must("s", "pipelines")
	if !strings.Contains(pipelines, "child/branch:main") || strings.Contains(pipelines, "child/branch:dev") {
		t.Errorf("dev is not archived, or main went too:\n%s", pipelines)
	}
	if all := must("s", "pipelines", "--include-archived"); !strings.Contains(all, "child/branch:dev") {
		t.Errorf("the archived child is gone from --include-archived:\n%s", all)
	}
}

// set_pipeline refuses what it must: another team's pipeline from a team
// that is not main and a config that does not load (with the file and
// line); a pipeline that sets itself sets once per build. (A name that is a
// path is refused when the parent is set, by the config's validation.)
func TestSetPipelineRefusals(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.mustFly("set-team", "-n", "blue", "--local-user", "admin", "--non-interactive")
	f.setPipelineAs("blue", "sneaky", `
resources:
- name: configs
  type: mock
  check_every: never
  source:
    create_files:
      p.yml: "jobs: [{name: j, plan: [{task: t, config: {platform: linux, run: {path: echo}}}]}]"
      bad.yml: "jobs:\n- name: j\n  plan:\n  - bogus_step: x\n"
jobs:
- name: into-main
  plan:
  - get: configs
  - set_pipeline: stolen
    team: main
    file: configs/p.yml
- name: bad-config
  plan:
  - get: configs
  - set_pipeline: broken
    file: configs/bad.yml
- name: self
  plan:
  - get: configs
  - set_pipeline: self
    file: configs/p.yml
- name: no-artifact
  plan:
  - get: configs
  - set_pipeline: other
    file: configs/p.yml
    var_files: [nowhere/vars.yml]
`)
	f.mustFly("check-resource", "-r", "sneaky/configs")
	for job, want := range map[string]string{
		"into-main":   "only the main team can set another team's pipelines",
		"bad-config":  "bad.yml",
		"no-artifact": "unknown artifact source: 'nowhere' in file path 'nowhere/vars.yml'",
	} {
		out, _ := f.fly("trigger-job", "-j", "sneaky/"+job, "-w")
		if !strings.Contains(out, want) || !strings.Contains(out, "errored") {
			t.Errorf("%s: no %q, or not errored:\n%s", job, want, out)
		}
	}
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", "main")
	if out := f.mustFly("pipelines"); strings.Contains(out, "stolen") {
		t.Errorf("a pipeline was set into main from team blue:\n%s", out)
	}
	// set_pipeline: self replaces the pipeline with p.yml, whose job j is
	// not triggered by anything: one build, no loop.
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", "blue")
	if out := f.mustFly("trigger-job", "-j", "sneaky/self", "-w"); !strings.Contains(out, "setting pipeline: sneaky") || !strings.Contains(out, "succeeded") {
		t.Errorf("set_pipeline: self:\n%s", out)
	}
	if out := f.mustFly("jobs", "-p", "sneaky"); strings.Contains(out, "into-main") || !strings.Contains(out, "j ") {
		t.Errorf("the pipeline after setting itself:\n%s", out)
	}
}

// Our fly names instances as stock fly does: set-pipeline -i NAME=VALUE
// (the instance var is a var of the config too), PIPELINE/k:v wherever a
// command names a pipeline, and PIPELINE/k:v/JOB for a job.
func TestOurFlyInstancedPipelines(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	file := filepath.Join(f.dir, "ci.yml")
	if err := os.WriteFile(file, []byte(`
jobs:
- name: j
  plan:
  - task: t
    config: {platform: linux, run: {path: echo, args: ["building ((branch))"]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"main", "dev"} {
		if out := f.mustFly("set-pipeline", "-n", "-p", "ci", "-c", file, "-i", "branch="+b); !strings.Contains(out, "unpause-pipeline -p ci/branch:"+b) {
			t.Errorf("set-pipeline -i branch=%s:\n%s", b, out)
		}
		f.mustFly("unpause-pipeline", "-p", "ci/branch:"+b)
	}
	if out := f.mustFly("pipelines"); !strings.Contains(out, "ci/branch:main") || !strings.Contains(out, "ci/branch:dev") {
		t.Errorf("pipelines:\n%s", out)
	}
	if out := f.mustFly("trigger-job", "-j", "ci/branch:dev/j", "-w"); !strings.Contains(out, "building dev") || !strings.Contains(out, "succeeded") {
		t.Errorf("trigger-job of the dev instance:\n%s", out)
	}
	if out := f.mustFly("jobs", "-p", "ci/branch:main"); !strings.Contains(out, "j") {
		t.Errorf("jobs of the main instance:\n%s", out)
	}
	if out := f.mustFly("builds", "-j", "ci/branch:main/j"); strings.Contains(out, "succeeded") {
		t.Errorf("the main instance has the dev instance's build:\n%s", out)
	}
	f.mustFly("archive-pipeline", "-p", "ci/branch:dev", "-n")
	if out := f.mustFly("pipelines"); strings.Contains(out, "ci/branch:dev") || !strings.Contains(out, "ci/branch:main") {
		t.Errorf("pipelines after archiving the dev instance:\n%s", out)
	}
	if out, code := f.fly("set-pipeline", "-n", "-p", "ci/branch:x", "-c", file); code == 0 || !strings.Contains(out, "cannot contain '/'") {
		t.Errorf("set-pipeline -p with a slash: exit %d\n%s", code, out)
	}
}

// buildID is the id of a job's build by name.
func buildID(t *testing.T, f *fleet, job, name string) string {
	t.Helper()
	pipeline, j, _ := strings.Cut(job, "/")
	var b struct {
		ID int64 `json:"id"`
	}
	spokeCall(t, f.url, "GET", "/api/v1/teams/main/pipelines/"+pipeline+"/jobs/"+j+"/builds/"+name, f.token(), nil, &b, 200)
	return strconv.FormatInt(b.ID, 10)
}
