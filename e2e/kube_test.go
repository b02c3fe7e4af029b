package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// startKubeSpoke starts a spoke whose tasks run as pods in namespace ns of
// the test cluster.
func (f *fleet) startKubeSpoke(name, ns string) {
	f.start("spoke-"+name, "spoke", "--hub-url", f.url, "--join-token", "pool-token", "--name", name,
		"--work-dir", filepath.Join(f.dir, "spoke-"+name), "--runtime", "kube",
		"--kubeconfig", kubetest.Kubeconfig(f.t), "--namespace", ns)
}

// get → task → put in one job, and a second job passed by the first, on a
// spoke with the kube runtime: tasks run as pods that get their inputs and
// give back their outputs.
func TestKubeSpokePassedPipeline(t *testing.T) {
	_, _, ns := kubetest.Namespace(t)
	f := newFleet(t)
	f.startKubeSpoke("kube-1", ns)
	f.setPipeline("kube", `
resources:
- name: repo
  type: mock
  check_every: 1s
  source: {initial_version: v1, create_files: {greeting.txt: "hello from the repo\n"}}
- name: release
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
      outputs: [{name: built}]
      run: {path: sh, args: [-c, "cat repo/greeting.txt; echo rel-$(cat repo/version) > built/version"]}
  - put: release
    params: {file: built/version}
- name: ship
  plan:
  - get: release
    trigger: true
    passed: [build]
  - task: show
    config:
      platform: linux
      inputs: [{name: release}]
      run: {path: sh, args: [-c, "echo shipping $(cat release/version)"]}
`)
	out := f.watchWhenCreated("kube/build", "1", 2*time.Minute)
	if !strings.Contains(out, "hello from the repo") || !strings.Contains(out, "selected worker: kube-1") {
		t.Errorf("build #1 on the kube spoke:\n%s", out)
	}
	out = f.watchWhenCreated("kube/ship", "1", 2*time.Minute)
	if !strings.Contains(out, "shipping rel-v1") {
		t.Errorf("ship #1 did not get the released version:\n%s", out)
	}
}
