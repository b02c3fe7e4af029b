package e2e

import (
	"strings"
	"testing"
)

// load_var: a value from a file of an artifact, as the build's local var
// for later steps; redacted in their logs unless reveal; parsed by format
// or extension; a missing file errors the build.
func TestLoadVar(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("loadvar", `
jobs:
- name: j
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, 'printf "  s3cr3t-%s \n" token > out/token; echo "{\"region\": \"eu-1\", \"size\": 3}" > out/conf.json']}
  - load_var: token
    file: out/token
  - load_var: conf
    file: out/conf.json
    reveal: true
  - task: use
    config:
      platform: linux
      params: {TOKEN: ((.:token)), REGION: ((.:conf.region))}
      run: {path: sh, args: [-c, 'echo "token=$TOKEN region=$REGION"; test "$TOKEN" = "s3cr3t-$(echo token)"']}
- name: missing
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: "true"}
  - load_var: nothing
    file: out/nothing.txt
`)
	out := f.mustFly("trigger-job", "-j", "loadvar/j", "-w")
	if !strings.Contains(out, "region=eu-1") || !strings.Contains(out, "succeeded") {
		t.Errorf("load_var:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t-token") || !strings.Contains(out, "token=((redacted))") {
		t.Errorf("a load_var without reveal shows in the log:\n%s", out)
	}
	out, code := f.fly("trigger-job", "-j", "loadvar/missing", "-w")
	if code == 0 || !strings.Contains(out, "load_var: file out/nothing.txt") {
		t.Errorf("load_var of a missing file: exit %d\n%s", code, out)
	}
}
