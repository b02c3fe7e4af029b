package e2e

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/switchyard-ci/switchyard/spoke/resource/registrytest"
)

// A custom type of a custom type on a local spoke: maker is an image in a
// real registry whose resource writes images of a type (the probe as a
// resource type), counter is a type whose image comes from maker, and the
// pipeline's resources are counters. A build checks and fetches each type's
// image as steps of its own, once per build however many steps use the
// type; fly check-resource-type (ours and stock fly's) checks a type, and
// clear-versions --resource-type forgets what it found.
func TestCustomTypeOfCustomType(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	probe := probeProgram(t)
	pushImage(t, reg.Host+"/e2e/maker:latest", map[string]string{
		"bin/probe": probe, "opt/resource/check": probe, "opt/resource/in": probe, "opt/resource/out": probe,
		"etc/passwd": "root:x:0:0:root:/root:/bin/probe\n", "etc/group": "root:x:0:\n",
	}, func(cfg *v1.ConfigFile) { cfg.Config.Env = []string{"PATH=/bin"} })

	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("types", `
resource_types:
- name: maker
  type: registry-image
  source: {repository: `+reg.Host+`/e2e/maker, tag: latest, insecure: true}
- name: counter
  type: maker
  source: {image: true, versions: [t1, t2]}
resources:
- name: thing
  type: counter
  check_every: never
  source: {versions: [v1, v2, v3]}
- name: shipped
  type: counter
  check_every: never
  source: {}
jobs:
- name: use
  plan:
  - get: thing
  - task: show
    config:
      platform: linux
      inputs: [{name: thing}]
      outputs: [{name: built}]
      run: {path: sh, args: [-c, "echo got $(cat thing/ref); echo shipped-$(cat thing/ref) > built/version"]}
  - put: shipped
    params: {file: built/version}
`)
	if out := f.mustFly("check-resource", "-r", "types/thing"); !strings.Contains(out, "succeeded") {
		t.Fatalf("check of a resource of the type:\n%s", out)
	}
	out := f.mustFly("trigger-job", "-j", "types/use", "-w")
	for _, want := range []string{"fetching t2 into", "got v3", "putting built/version", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the build:\n%s", want, out)
		}
	}
	// check-resource checked the types a moment ago: the build takes their
	// newest versions without checking them again.
	if strings.Contains(out, "checking") {
		t.Errorf("the build checked a type checked a moment ago:\n%s", out)
	}
	// The get and the put of counter run in one image, fetched once.
	if n := strings.Count(out, "fetching t2 into"); n != 1 {
		t.Errorf("counter's image was fetched %d times in one build:\n%s", n, out)
	}
	if versions := f.mustFly("resource-versions", "-r", "types/shipped"); !strings.Contains(versions, "shipped-v3") {
		t.Errorf("the put's version is not among the resource's versions:\n%s", versions)
	}

	if out := f.mustFly("check-resource-type", "-r", "types/counter"); !strings.Contains(out, "checking types/counter in build") || !strings.Contains(out, "succeeded") {
		t.Errorf("fly check-resource-type:\n%s", out)
	}
	if out, code := f.fly("check-resource-type", "-r", "types/nothing"); code == 0 || !strings.Contains(out, "not found") {
		t.Errorf("check-resource-type of no type: exit %d\n%s", code, out)
	}
	// A type name that is a path, a from-version past the body's bound, no
	// credentials: refused, nothing checked.
	tok, base := f.token(), f.url+"/api/v1/teams/main/pipelines/types"
	for path, c := range map[string]struct {
		cred string
		body any
	}{
		"/resource-types/..%2F..%2Fresources%2Fthing/check": {tok, nil},
		"/resource-types/counter/check":                     {tok, map[string]any{"from": map[string]string{"ref": strings.Repeat("x", 100<<10)}}},
		"/resource-types/maker/check":                       {"", nil},
	} {
		if code := spokeCall(t, base, "POST", path, c.cred, c.body, nil, 0); code < 400 || code >= 500 {
			t.Errorf("POST %s: %d, want a refusal", path, code)
		}
	}

	if stock := stockFlyPath(); stock != "" {
		_, must := stockFlyAt(t, stock, t.TempDir())
		must("s", "login", "-c", f.url, "-u", "admin", "-p", "secret")
		if out := must("s", "check-resource-type", "-r", "types/counter"); !strings.Contains(out, "succeeded") {
			t.Errorf("stock fly check-resource-type:\n%s", out)
		}
		if out := must("s", "clear-versions", "--resource-type", "types/counter", "-n"); !strings.Contains(out, "2 versions removed") {
			t.Errorf("stock fly clear-versions of a type:\n%s", out)
		}
	}
}
