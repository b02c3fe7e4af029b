package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/switchyard-ci/switchyard/spoke/resource/registrytest"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// startKubeSpoke starts a spoke whose tasks run as pods in namespace ns of
// the test cluster.
func (f *fleet) startKubeSpoke(name, ns string) *exec.Cmd {
	return f.start("spoke-"+name, "spoke", "--hub-url", f.url, "--join-token", "pool-token", "--name", name,
		"--work-dir", filepath.Join(f.dir, "spoke-"+name), "--runtime", "kube",
		"--kubeconfig", kubetest.SpokeKubeconfig(f.t, ns), "--namespace", ns)
}

// kubeFleet is a fleet with one kube spoke, kube-1, whose pods run in a
// namespace of the test's own.
func kubeFleet(t *testing.T) (*fleet, kubernetes.Interface, string) {
	c, _, ns := kubetest.Namespace(t)
	f := newFleet(t)
	f.startKubeSpoke("kube-1", ns)
	return f, c, ns
}

// runningPod waits up to a minute for the namespace's one pod to run (and for
// ready to hold, when given) and returns it.
func runningPod(t *testing.T, c kubernetes.Interface, ns string, ready func() bool) corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning && (ready == nil || ready()) {
			return pods.Items[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("the step's pod did not run within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get → task → put in one job, and a second job passed by the first, on a
// spoke with the kube runtime: tasks run as pods that get their inputs and
// give back their outputs.
func TestKubeSpokePassedPipeline(t *testing.T) {
	f, _, _ := kubeFleet(t)
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

// A kube spoke killed mid-step and started again re-attaches to the step's
// pod instead of creating another: the step runs once and the build succeeds.
func TestKubeSpokeRestartReattaches(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	f := newFleet(t)
	spoke := f.startKubeSpoke("kube-1", ns)
	f.setPipeline("restart", `
jobs:
- name: long
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo begun; sleep 6; echo ended"]}
`)
	f.mustFly("trigger-job", "-j", "restart/long")
	ctx := t.Context()
	first := runningPod(t, c, ns, nil).UID
	_ = syscall.Kill(-spoke.Process.Pid, syscall.SIGKILL)
	_, _ = spoke.Process.Wait()
	f.startKubeSpoke("kube-1", ns)
	seen := map[types.UID]bool{first: true}
	done := make(chan string)
	go func() { out, _ := f.fly("watch", "-j", "restart/long", "-b", "1"); done <- out }()
	for {
		select {
		case out := <-done:
			if !strings.Contains(out, "begun") || !strings.Contains(out, "ended") || !strings.Contains(out, "succeeded") {
				t.Errorf("the build after the spoke's restart:\n%s", out)
			}
			if len(seen) != 1 {
				t.Errorf("%d pods ran the step, want 1: the restarted spoke did not re-attach", len(seen))
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			seen[p.UID] = true
		}
	}
}

// An evicted step's pod is a lost run: the hub runs the step again as run 2,
// in a new pod, and the build succeeds; fly shows why.
func TestKubeEvictionRunsStepAgain(t *testing.T) {
	f, c, ns := kubeFleet(t)
	marker := filepath.Join(t.TempDir(), "first-run")
	f.setPipeline("evict", `
jobs:
- name: long
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: [-c, "if [ -e `+marker+` ]; then echo second run; exit 0; fi; touch `+marker+`; echo first run; sleep 60"]}
`)
	f.mustFly("trigger-job", "-j", "evict/long")
	pod := runningPod(t, c, ns, func() bool { _, err := os.Stat(marker); return err == nil })
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns}}
	if err := c.PolicyV1().Evictions(ns).Evict(context.Background(), eviction); err != nil {
		t.Fatal(err)
	}
	out := f.mustFly("watch", "-j", "evict/long", "-b", "1")
	for _, want := range []string{"first run", "pod lost", "running the step again (run 2 of at most 3)", "second run", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the build's output:\n%s", want, out)
		}
	}
}

// What a kube spoke leaves in its namespace while a step runs: the pod, its
// NetworkPolicy and the job's cache claim, with the names, labels and
// security context the README promises (read through the API, as kubectl
// would show them). The pod and policy go with the step; the claim stays.
func TestKubeObjects(t *testing.T) {
	f, c, ns := kubeFleet(t)
	release := filepath.Join(t.TempDir(), "release")
	f.setPipeline("objs", `
jobs:
- name: build
  plan:
  - task: compile
    config:
      platform: linux
      caches: [{path: deps}]
      run: {path: sh, args: [-c, "touch deps/warm; until [ -e `+release+` ]; do sleep 0.1; done"]}
`)
	f.mustFly("trigger-job", "-j", "objs/build")
	ctx := t.Context()
	pod := runningPod(t, c, ns, nil)
	if !strings.HasPrefix(pod.Name, "objs-build-b1-compile-") || pod.Labels["switchyard.dev/step"] != pod.Name || pod.Labels["app.kubernetes.io/managed-by"] != "switchyard-spoke" {
		t.Errorf("pod %s labels %v", pod.Name, pod.Labels)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", pod.Spec.SecurityContext)
	}
	for _, ctr := range pod.Spec.Containers {
		if sc := ctr.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) == 0 {
			t.Errorf("container %s security context %+v", ctr.Name, ctr.SecurityContext)
		}
	}
	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the step's NetworkPolicy: %v", err)
	}
	if np.Spec.PodSelector.MatchLabels["switchyard.dev/step"] != pod.Name || len(np.Spec.Ingress) != 0 {
		t.Errorf("network policy %+v", np.Spec)
	}
	claims, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{LabelSelector: "switchyard.dev/cache=task,switchyard.dev/job=build"})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 1 || !strings.HasPrefix(claims.Items[0].Name, "objs-build-compile-cache-") || claims.Items[0].Status.Phase != corev1.ClaimBound {
		t.Fatalf("cache claims %+v", claims.Items)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := f.mustFly("watch", "-j", "objs/build", "-b", "1"); !strings.Contains(out, "succeeded") {
		t.Errorf("build:\n%s", out)
	}
	if _, err := c.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err == nil {
		t.Error("the pod outlived its step")
	}
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claims.Items[0].Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the cache claim went with the step: %v", err)
	}
}

// A pipeline's custom resource type runs on a kube spoke from its image:
// the checker's checks, the job's get and its put all speak the resource
// protocol in pods.
func TestKubeCustomResourceType(t *testing.T) {
	_, _, ns := kubetest.Namespace(t)
	// The type's image is in a real registry; the test node runs the image
	// by the digest the type's check found, with the counter's scripts.
	reg := registrytest.Start(t, registrytest.Options{})
	repo, tag := reg.Host+"/e2e/counter", "1"
	pushed := pushImage(t, repo+":"+tag, map[string]string{"opt/resource/README": "scripts come from the test node\n"}, nil)
	digest, err := remote.Head(pushed, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	kubetest.ImageAt(t, repo+"@"+digest.Digest.String(), kubetest.CounterResource)
	f := newFleet(t)
	f.startKubeSpoke("kube-1", ns)
	f.setPipeline("custom", `
resource_types:
- name: counter
  type: registry-image
  source: {repository: `+repo+`, tag: "`+tag+`", insecure: true}
resources:
- name: thing
  type: counter
  check_every: 1s
  source: {secret: x}
- name: shipped
  type: counter
  check_every: never
  source: {}
jobs:
- name: use
  plan:
  - get: thing
    trigger: true
  - task: show
    config:
      platform: linux
      inputs: [{name: thing}]
      outputs: [{name: built}]
      run: {path: sh, args: [-c, "echo got $(cat thing/ref); echo shipped-$(cat thing/ref) > built/version"]}
  - put: shipped
    params: {file: built/version}
`)
	out := f.watchWhenCreated("custom/use", "1", 2*time.Minute)
	for _, want := range []string{"fetching into", "got v2", "putting built/version", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in build #1:\n%s", want, out)
		}
	}
	if versions := f.mustFly("resource-versions", "-r", "custom/shipped"); !strings.Contains(versions, "shipped-v2") {
		t.Errorf("the put's version is not among the resource's versions:\n%s", versions)
	}
}

// fly intercept runs a process in a running step's pod through the hub: the
// hub relays Concourse's hijack websocket to the step's spoke, which execs in
// the pod. stdin, output and the exit status go through; a step that has
// ended cannot be intercepted.
func TestKubeIntercept(t *testing.T) {
	f, _, _ := kubeFleet(t)
	release := filepath.Join(t.TempDir(), "release")
	f.setPipeline("icpt", `
jobs:
- name: build
  plan:
  - task: compile
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, "echo made > out/artifact; until [ -e `+release+` ]; do sleep 0.1; done"]}
`)
	f.mustFly("trigger-job", "-j", "icpt/build")
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := f.fly("intercept", "-j", "icpt/build", "-s", "compile", "--", "sh", "-c", "cat out/artifact")
		if strings.Contains(out, "made") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running step to intercept within a minute:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, code := f.flyWithStdin(ctx, "hello there\n", "intercept", "-j", "icpt/build", "-b", "1", "-s", "compile", "--",
		"sh", "-c", "read line; echo \"got: $line\"; echo oops >&2; exit 7")
	if code != 7 || !strings.Contains(out, "got: hello there") || !strings.Contains(out, "oops") {
		t.Errorf("intercept exited %d:\n%s", code, out)
	}
	out, code = f.fly("intercept", "-j", "icpt/build", "-s", "compile", "--", "no-such-binary")
	if code == 0 || !strings.Contains(out, "no-such-binary is not in the step's container") {
		t.Errorf("intercept of a missing binary exited %d:\n%s", code, out)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFly("watch", "-j", "icpt/build", "-b", "1")
	out, code = f.fly("intercept", "-j", "icpt/build", "-s", "compile", "--", "true")
	if code == 0 || !strings.Contains(out, "no containers matched your search parameters") {
		t.Errorf("intercept after the step succeeded exited %d:\n%s", code, out)
	}
}

// A failed step stays interceptable a while: its pod is kept with the build
// directory, and fly intercept runs in it.
func TestKubeInterceptFailedStep(t *testing.T) {
	f, _, _ := kubeFleet(t)
	f.setPipeline("failing", `
jobs:
- name: build
  plan:
  - task: compile
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, "echo half-built > out/artifact; exit 1"]}
`)
	f.mustFly("trigger-job", "-j", "failing/build")
	if out, code := f.fly("watch", "-j", "failing/build", "-b", "1"); code != 1 {
		t.Fatalf("the build exited %d, want 1 (failed):\n%s", code, out)
	}
	out, code := f.fly("intercept", "-j", "failing/build", "-b", "1", "-s", "compile", "--", "cat", "out/artifact")
	if code != 0 || !strings.Contains(out, "half-built") {
		t.Errorf("intercept of the failed step exited %d:\n%s", code, out)
	}
}
