package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/api"
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
      image_resource: {type: mock, source: {mirror_self: true}}
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

	// The same questions are asked again as tasks run: a warning in the log,
	// and once the policy blocks again, a build error; fly execute's one-off
	// builds are checked there too.
	f.startSpoke("adm-1", f.url)
	f.mustFly("unpause-pipeline", "-p", "priv")
	if out := f.mustFly("trigger-job", "-j", "priv/build", "-w"); !strings.Contains(out, "policy check warning: policy admission: use_privileged") || !strings.Contains(out, "building") {
		t.Errorf("a warn-only policy as the task runs:\n%s", out)
	}
	f.mustFly("set-policy", "-p", "admission", "-f", "../examples/policies/admission.rego")
	if out, code := f.fly("trigger-job", "-j", "priv/build", "-w"); code == 0 || !strings.Contains(out, "policy check failed: policy admission: use_privileged: task docker of job build is privileged") || strings.Contains(out, "building") {
		t.Errorf("a blocking policy as the task runs: exit %d\n%s", code, out)
	}
	task := filepath.Join(t.TempDir(), "task.yml")
	_ = os.WriteFile(task, []byte("platform: linux\nrun: {path: sh, args: [-c, 'echo escalated']}\n"), 0o644)
	if out, code := f.fly("execute", "-c", task, "-p"); code == 0 || !strings.Contains(out, "policy check failed: policy admission: use_privileged: task one-off") {
		t.Errorf("fly execute -p under a blocking policy: exit %d\n%s", code, out)
	}
}

// asAdmin calls the hub's API with the token fly keeps for the e2e target.
func (f *fleet) asAdmin(method, path string, body any) {
	f.t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.flyHome, ".flyrc"))
	if err != nil {
		f.t.Fatal(err)
	}
	var rc struct {
		Targets map[string]struct {
			Token struct{ Value string } `yaml:"token"`
		} `yaml:"targets"`
	}
	if err := yaml.Unmarshal(raw, &rc); err != nil {
		f.t.Fatal(err)
	}
	c := &api.Client{URL: f.url, Token: rc.Targets["e2e"].Token.Value}
	if _, err := c.Do(context.Background(), method, path, nil, body, nil); err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
}

// Three spokes, of team main, of team blue and of the shared pool. A global
// Rego policy sends untrusted builds to the pool only: an untrusted
// pipeline's build lands there, and an untrusted job's; a trusted one's on
// main's spoke, and no build of main lands on blue's spoke; fly placement
// says why for each.
func TestPlacementTeamsAndTrust(t *testing.T) {
	f := newFleet(t)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.asAdmin("PUT", "/api/v1/teams/blue", api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}}})
	for name, token := range map[string]string{"main-1": "main-token", "blue-1": "blue-token", "pool-1": "pool-token"} {
		f.start("spoke-"+name, "spoke", "--hub-url", f.url, "--join-token", token, "--name", name,
			"--work-dir", filepath.Join(f.dir, "spoke-"+name))
	}
	f.mustFly("set-policy", "-p", "placement", "-f", "../examples/policies/placement.rego", "--global")
	if out := f.mustFly("policies"); !strings.Contains(out, "global") {
		t.Errorf("policies:\n%s", out)
	}
	job := oneTaskJob("echo testing")
	f.setPipeline("fork", job)
	f.setPipeline("trunk", job)
	f.mustFly("untrust-pipeline", "-p", "fork")
	for _, p := range []string{"fork", "trunk"} {
		f.mustFly("trigger-job", "-j", p+"/test", "-w")
	}
	fork := f.mustFly("placement", "-j", "fork/test", "-b", "1")
	for _, want := range []string{"step run → pool-1", "main-1", "policy global/placement: untrusted builds run only in the shared pool",
		"blue-1", "team: the spoke belongs to team blue, the build to team main"} {
		if !strings.Contains(fork, want) {
			t.Errorf("no %q in the untrusted build's placement:\n%s", want, fork)
		}
	}
	trunk := f.mustFly("placement", "-j", "trunk/test", "-b", "1")
	if !strings.Contains(trunk, "step run → main-1") || !strings.Contains(trunk, "team: the spoke belongs to team blue") {
		t.Errorf("the trusted build's placement:\n%s", trunk)
	}

	// One untrusted job in a trusted pipeline: its builds go to the pool,
	// the pipeline's other jobs' builds do not, and the mark survives
	// set-pipeline.
	withPR := func(message string) string {
		return job + `
- name: pr
  plan:
  - task: run
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo ` + message + `"]}
`
	}
	f.setPipeline("trunk", withPR("testing a pull request"))
	if out := f.mustFly("untrust-job", "-j", "trunk/pr"); !strings.Contains(out, "untrusted 'pr'") {
		t.Errorf("untrust-job: %s", out)
	}
	f.setPipeline("trunk", withPR("testing a pull request again"))
	for _, j := range []string{"trunk/pr", "trunk/test"} {
		f.mustFly("trigger-job", "-j", j, "-w")
	}
	if pr := f.mustFly("placement", "-j", "trunk/pr", "-b", "1"); !strings.Contains(pr, "step run → pool-1") ||
		!strings.Contains(pr, "policy global/placement: untrusted builds run only in the shared pool") {
		t.Errorf("the untrusted job's build:\n%s", pr)
	}
	if test := f.mustFly("placement", "-j", "trunk/test", "-b", "2"); !strings.Contains(test, "step run → main-1") {
		t.Errorf("the trusted job's second build:\n%s", test)
	}
	f.mustFly("trust-job", "-j", "trunk/pr")
	f.mustFly("trigger-job", "-j", "trunk/pr", "-w")
	if pr := f.mustFly("placement", "-j", "trunk/pr", "-b", "2"); !strings.Contains(pr, "step run → main-1") {
		t.Errorf("the job's build once trusted again:\n%s", pr)
	}
}

// A spoke that runs at most one step at once (--max-steps 1) gets no second
// one: of two steps that both wait for a gate, the one placed second waits,
// saying the spoke is full, and runs once the first has finished.
func TestPlacementCapacity(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("small-1", f.url, "--max-steps", "1")
	f.startSpoke("mem-1", f.url, "--tag", "mem", "--memory", "1Gi", "--cpus", "2")
	for _, tt := range []struct {
		name, tag, limits, refused string
	}{
		{"steps", "", "", "the spoke is full (1 of 1 steps)"},
		// Two tasks asking for 600 MB (MiB, as Concourse reads it) each do not
		// fit in 1 GiB together.
		{"memory", "mem", "container_limits: {memory: 600MB}", "the step asks for 629145600 bytes of memory, the spoke has 444596224 free"},
	} {
		func() { // not a subtest: the fleet's helpers fail the test itself
			gate := filepath.Join(t.TempDir(), "gate")
			tags := ""
			if tt.tag != "" {
				tags = "tags: [" + tt.tag + "]"
			}
			f.setPipeline("full-"+tt.name, `
jobs:
- name: two
  plan:
  - in_parallel:
    - task: first
      `+tags+`
      config:
        platform: linux
        `+tt.limits+`
        run: {path: sh, args: [-c, "until [ -e `+gate+` ]; do sleep 0.1; done; echo first done"]}
    - task: second
      `+tags+`
      config:
        platform: linux
        `+tt.limits+`
        run: {path: sh, args: [-c, "until [ -e `+gate+` ]; do sleep 0.1; done; echo second done"]}
`)
			job := "full-" + tt.name + "/two"
			f.mustFly("trigger-job", "-j", job)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for ctx.Err() == nil {
				out, _ := f.fly("placement", "-j", job, "-b", "1")
				if strings.Contains(out, tt.refused) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if ctx.Err() != nil {
				out, _ := f.fly("placement", "-j", job, "-b", "1")
				t.Fatalf("%s: the second step was never refused with %q:\n%s", tt.name, tt.refused, out)
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := f.fly("watch", "-j", job, "-b", "1")
			if code != 0 || !strings.Contains(out, "first done") || !strings.Contains(out, "second done") || !strings.Contains(out, "placement: every spoke was filtered out") {
				t.Errorf("%s: exit %d:\n%s", tt.name, code, out)
			}
		}()
	}
}

// A team whose placement policy runs for minutes delays only its own steps:
// while main's step is being placed by a policy that loops (the hub gives a
// policy ten minutes here), blue's build is placed on the same spoke and
// succeeds.
func TestSlowPolicyDelaysOnlyItsTeam(t *testing.T) {
	f := newFleetOn(t, "", "SWITCHYARD_POLICY_TIMEOUT=10m")
	f.startSpoke("pool-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.asAdmin("PUT", "/api/v1/teams/blue", api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}}})
	wasm := filepath.Join(f.dir, "placeloop.wasm")
	if err := os.WriteFile(wasm, policytest.BuildGo(t, "../policy/testdata/hostile", "-X main.mode=placeloop"), 0o644); err != nil {
		t.Fatal(err)
	}
	job := oneTaskJob("echo placed")
	f.setPipeline("slow", job)
	f.mustFly("set-policy", "-p", "slow", "-f", wasm)
	f.mustFly("trigger-job", "-j", "slow/test")
	f.waitRunning("slow/test")

	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", "blue")
	f.setPipelineAs("blue", "fast", job)
	if out, code := f.fly("trigger-job", "-j", "fast/test", "-w"); code != 0 || !strings.Contains(out, "placed") {
		t.Fatalf("blue's build while main's policy runs: exit %d\n%s", code, out)
	}
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", "main")
	if out := f.mustFly("builds", "-j", "slow/test"); !strings.Contains(out, "started") {
		t.Errorf("main's build is no longer being placed:\n%s", out)
	}
}

// oneTaskJob is a pipeline with one job, test, whose task run runs command
// in sh.
func oneTaskJob(command string) string {
	return `
jobs:
- name: test
  plan:
  - task: run
    config:
      platform: linux
      run: {path: sh, args: [-c, "` + command + `"]}
`
}
