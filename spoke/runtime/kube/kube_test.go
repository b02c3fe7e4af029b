package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/wire"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func assignment(build int64, pipeline, job, step string, cfg *pipeline.TaskConfig) wire.Assignment {
	return wire.Assignment{BuildID: build, PlanID: "3", Attempt: 1, Request: wire.StepRequest{
		Kind: "task", Name: step, Task: &wire.TaskRequest{Config: cfg},
		Env: map[string]string{"BUILD_PIPELINE_NAME": pipeline, "BUILD_JOB_NAME": job, "BUILD_ID": "1"},
	}}
}

func TestPodName(t *testing.T) {
	a := assignment(42, "My_Pipeline", "unit tests", "run", nil)
	name := kube.PodName(a)
	if !strings.HasPrefix(name, "my-pipeline-unit-tests-b42-run-") || !dnsLabel.MatchString(name) || name != kube.PodName(a) {
		t.Errorf("pod name %q", name)
	}
	long := assignment(42, strings.Repeat("p", 50), strings.Repeat("j", 50), "step", nil)
	if n := kube.PodName(long); len(n) > 63 || !dnsLabel.MatchString(n) {
		t.Errorf("long pod name %q (%d)", n, len(n))
	}
	other := a
	other.Attempt = 2
	if kube.PodName(other) == name {
		t.Error("two attempts of a step share a pod name")
	}
	first := a
	first.Run = 1
	again := a
	again.Run = 2
	if kube.PodName(first) != name || kube.PodName(again) == name {
		t.Error("a second run of a step needs a pod name of its own, and the first run keeps the step's")
	}
}

func cluster(t *testing.T) (kubernetes.Interface, string) {
	c, _, ns := kubetest.Namespace(t)
	return c, ns
}

// lines collects a step's log (stdout apart from stderr, where the pod's
// news goes) and signals its first line on stdout.
type lines struct {
	mu     sync.Mutex
	text   strings.Builder
	stderr strings.Builder
	first  chan struct{}
	once   sync.Once
}

func newLines() *lines { return &lines{first: make(chan struct{})} }

func (l *lines) Line(source, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if source == "stderr" {
		l.stderr.WriteString(text)
		return
	}
	l.text.WriteString(text)
	l.once.Do(func() { close(l.first) })
}

// String is what the step wrote on stdout.
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// Stderr is what the step and the runtime wrote on stderr.
func (l *lines) Stderr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stderr.String()
}

// runUntilLogging runs a step until its first line on stdout and returns
// its log, its result to come, and its pod.
func runUntilLogging(t *testing.T, c kubernetes.Interface, ns string, rt *kube.Runtime, a wire.Assignment) (*lines, <-chan wire.Result, *corev1.Pod) {
	t.Helper()
	logs := newLines()
	done := make(chan wire.Result, 1)
	go func() { done <- rt.Run(context.Background(), a, logs) }()
	select {
	case <-logs.first:
	case res := <-done:
		t.Fatalf("the step ended before logging: %+v\n%s", res, logs.Stderr())
	case <-time.After(60 * time.Second):
		t.Fatal("no log line within a minute")
	}
	pod, err := c.CoreV1().Pods(ns).Get(t.Context(), kube.PodName(a), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return logs, done, pod
}

func task(script string) *pipeline.TaskConfig {
	return &pipeline.TaskConfig{Platform: "linux", Run: &pipeline.RunConfig{Path: "sh", Args: []string{"-c", script}},
		Params: pipeline.Env{"GREETING": "hello"}}
}

// A task runs as a pod with the step's name, labels, a restricted security
// context and a NetworkPolicy; its logs stream and its exit code is reported;
// the pod and policy are gone afterwards.
func TestTaskPod(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	a := assignment(7, "ci", "unit", "test", task(`echo "$GREETING from $BUILD_JOB_NAME"; sleep 2; echo done; exit 3`))
	logs, done, pod := runUntilLogging(t, c, ns, rt, a)
	ctx := t.Context()
	name := pod.Name
	if pod.Labels[kube.LabelBuild] != "7" || pod.Labels[kube.LabelSpoke] != "spoke-1" || pod.Labels[kube.LabelManagedBy] != kube.ManagedBy {
		t.Errorf("pod labels %v", pod.Labels)
	}
	psc, sc := pod.Spec.SecurityContext, pod.Spec.Containers[0].SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 {
		t.Errorf("security context: pod %+v, container %+v", psc, sc)
	}
	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.Ingress) != 0 || len(np.Spec.PolicyTypes) != 2 || np.Spec.PodSelector.MatchLabels[kube.LabelStep] != name {
		t.Errorf("network policy %+v", np.Spec)
	}
	if len(np.Spec.Egress) != 1 || len(np.Spec.Egress[0].To) != 0 {
		t.Errorf("network policy egress %+v, want one rule open to everywhere", np.Spec.Egress)
	}
	if len(np.OwnerReferences) != 1 || np.OwnerReferences[0].UID != pod.UID {
		t.Errorf("network policy owners %+v, want the pod", np.OwnerReferences)
	}
	res := <-done
	if res.Error != "" || res.ExitStatus != 3 {
		t.Errorf("result %+v", res)
	}
	if got := logs.String(); got != "hello from unit\ndone\n" {
		t.Errorf("logs %q", got)
	}
	if got := logs.Stderr(); got != "pod "+name+": scheduled on node test-node\n" {
		t.Errorf("pod news on stderr %q", got)
	}
	if _, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("the pod is still there after the step")
	}
}

// A spoke that restarts mid-step re-attaches to the step's pod by name; an
// aborted step's pod is deleted.
func TestReattachAndAbort(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	first := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	a := assignment(8, "ci", "long", "wait", task(`echo started; sleep 3; echo finished`))
	logs := newLines()
	go first.Run(context.Background(), a, logs)
	<-logs.first
	restarted := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	res := restarted.Run(context.Background(), a, newLines())
	if res.Error != "" || res.ExitStatus != 0 {
		t.Errorf("re-attached step: %+v", res)
	}

	b := assignment(9, "ci", "long", "wait", task(`echo started; sleep 60`))
	ctx, cancel := context.WithCancel(context.Background())
	logs = newLines()
	done := make(chan wire.Result)
	go func() { done <- first.Run(ctx, b, logs) }()
	<-logs.first
	cancel()
	if res := <-done; res.Error != "aborted" {
		t.Errorf("aborted step: %+v", res)
	}
	if _, err := c.CoreV1().Pods(ns).Get(context.Background(), kube.PodName(b), metav1.GetOptions{}); err == nil {
		t.Error("the aborted step's pod is still there")
	}
}

func TestRefusals(t *testing.T) {
	rt := &kube.Runtime{Spoke: "spoke-1"}
	priv := assignment(1, "p", "j", "s", task("true"))
	priv.Request.Task.Privileged = true
	if res := rt.Run(context.Background(), priv, newLines()); !strings.Contains(res.Error, "privileged steps are not allowed on spoke spoke-1") {
		t.Errorf("privileged: %+v", res)
	}
	get := assignment(1, "p", "j", "s", nil)
	get.Request.Kind = "get"
	if res := rt.Run(context.Background(), get, newLines()); !strings.Contains(res.Error, "cannot run get steps of core types without a local runtime") {
		t.Errorf("get: %+v", res)
	}
}

// A task's inputs are streamed into its pod at their paths and its outputs
// out of it into build artifacts (with output_mapping).
func TestInputsAndOutputs(t *testing.T) {
	_, _, ns := kubetest.Namespace(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	loc := &local.Runtime{Dir: t.TempDir()}
	rt := &kube.Runtime{Client: sk, Config: skCfg, Local: loc, Namespace: ns, Spoke: "spoke-1"}
	src := loc.Artifact(10, "repo")
	if err := os.MkdirAll(filepath.Join(src, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "dir", "file"), []byte("from the repo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := &pipeline.TaskConfig{Platform: "linux",
		Inputs:  []pipeline.TaskInput{{Name: "source", Path: "src"}},
		Outputs: []pipeline.TaskOutput{{Name: "built"}},
		Run:     &pipeline.RunConfig{Path: "sh", Args: []string{"-c", "cat src/dir/file; cp src/dir/file built/copy; mkdir built/sub; echo x > built/sub/y; ln -s copy built/link"}}}
	a := assignment(10, "ci", "build", "compile", task)
	a.Request.Inputs = map[string]string{"source": "repo"}
	a.Request.Task.OutputMapping = map[string]string{"built": "binary"}
	logs := newLines()
	res := rt.Run(context.Background(), a, logs)
	if res.Error != "" || res.ExitStatus != 0 || len(res.Outputs) != 1 || res.Outputs[0] != "binary" {
		t.Fatalf("result %+v\n%s", res, logs)
	}
	if logs.String() != "from the repo\n" {
		t.Errorf("logs %q", logs)
	}
	out := loc.Artifact(10, "binary")
	for file, want := range map[string]string{"copy": "from the repo\n", "sub/y": "x\n", "link": "from the repo\n"} {
		if got, err := os.ReadFile(filepath.Join(out, file)); err != nil || string(got) != want {
			t.Errorf("output %s: %q %v", file, got, err)
		}
	}
}

// An evicted pod ends its step with a Lost result, which the hub answers
// with a new run (in a new pod, with another name).
func TestEvictedStepIsLost(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	a := assignment(11, "ci", "evict", "long", task(`echo first run; sleep 60`))
	logs := newLines()
	done := make(chan wire.Result)
	go func() { done <- rt.Run(context.Background(), a, logs) }()
	<-logs.first
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: kube.PodName(a), Namespace: ns}}
	if err := c.PolicyV1().Evictions(ns).Evict(context.Background(), eviction); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if !res.Lost || !strings.Contains(res.Error, "pod lost: pod "+kube.PodName(a)) {
			t.Errorf("result %+v, want a lost run", res)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the evicted step did not end")
	}
}

// Sweep deletes the spoke's pods of steps the hub no longer has open (a
// crashed spoke's leftovers) and leaves open steps' and other spokes' pods.
func TestSweepDeletesOrphans(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	ctx := t.Context()
	pod := func(name, spoke, stepID string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			kube.LabelManagedBy: kube.ManagedBy, kube.LabelSpoke: spoke, kube.LabelStepID: stepID}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "task", Image: "x", Command: []string{"sleep", "60"}}}}}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("orphan", "spoke-1", "1")
	pod("open", "spoke-1", "2")
	pod("elsewhere", "spoke-2", "3")
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	if err := rt.Sweep(ctx, map[int64]bool{2: true}); err != nil {
		t.Fatal(err)
	}
	list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			left = append(left, p.Name)
		}
	}
	if strings.Join(left, ",") != "elsewhere,open" {
		t.Errorf("pods left after the sweep: %v", left)
	}
}

// A pod whose image cannot be pulled fails the step with the image and the
// reason (the test node fails pulls of unpullable.invalid/ images).
func TestImagePullFailure(t *testing.T) {
	_, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	cfg := task("true")
	cfg.ImageResource = &pipeline.ImageResource{Type: "registry-image", Source: map[string]any{"repository": "unpullable.invalid/nothing", "tag": "1"}}
	res := rt.Run(context.Background(), assignment(12, "ci", "pull", "run", cfg), newLines())
	if !strings.Contains(res.Error, "cannot pull image unpullable.invalid/nothing:1: ErrImagePull") || !strings.Contains(res.Error, "pull access denied") {
		t.Errorf("result %+v", res)
	}
}

// A task that passes its memory limit fails with OOMKilled and the limit
// (the test node kills a container's processes past their limit, as the
// kernel does a cgroup's).
func TestOOMKilled(t *testing.T) {
	_, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	cfg := task("echo filling; head -c 400000000 /dev/zero | tail; echo survived")
	cfg.ContainerLimits = &pipeline.ContainerLimits{Memory: 64 << 20}
	logs := newLines()
	res := rt.Run(context.Background(), assignment(13, "ci", "oom", "fill", cfg), logs)
	if res.Error != "OOMKilled at limit 64Mi" || strings.Contains(logs.String(), "survived") {
		t.Errorf("result %+v, logs %q", res, logs)
	}
}

// A pod the cluster cannot place says why in the step's log while the step
// waits, and the step can still be aborted.
func TestUnschedulableSaysWhy(t *testing.T) {
	_, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	cfg := task("true")
	cfg.ContainerLimits = &pipeline.ContainerLimits{Memory: 1 << 50}
	logs := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan wire.Result)
	go func() { done <- rt.Run(ctx, assignment(14, "ci", "big", "run", cfg), logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.Stderr(), "unschedulable: 0/1 nodes are available: 1 Insufficient memory") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the pod being unschedulable; stderr %q", logs.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if res := <-done; res.Error != "aborted" {
		t.Errorf("result %+v", res)
	}
}

// A job's task caches are claims that outlive the pod: the next build of the
// job finds what the last one left; another job does not.
func TestTaskCachesPersistPerJob(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	cfg := task(`echo "seen: $(cat deps/stamp 2>/dev/null)"; echo "$BUILD_ID" > deps/stamp`)
	cfg.Caches = []pipeline.TaskCache{{Path: "deps"}}
	run := func(build int64, job string) string {
		a := assignment(build, "ci", job, "compile", cfg)
		a.Request.Env["BUILD_ID"] = strconv.FormatInt(build, 10)
		logs := newLines()
		if res := rt.Run(context.Background(), a, logs); res.Error != "" || res.ExitStatus != 0 {
			t.Fatalf("build %d of %s: %+v\n%s", build, job, res, logs.Stderr())
		}
		return logs.String()
	}
	if got := run(21, "unit"); got != "seen: \n" {
		t.Errorf("first build saw %q in a fresh cache", got)
	}
	if got := run(22, "unit"); got != "seen: 21\n" {
		t.Errorf("second build saw %q, want what the first left", got)
	}
	if got := run(23, "other"); got != "seen: \n" {
		t.Errorf("another job saw %q in its cache", got)
	}
	claim, err := c.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), kube.CacheClaim(assignment(22, "ci", "unit", "compile", cfg), "deps"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if claim.Labels[kube.LabelCache] != "task" || claim.Labels[kube.LabelJob] != "unit" || claim.Labels[kube.LabelSpoke] != "spoke-1" || claim.Status.Phase != corev1.ClaimBound {
		t.Errorf("claim %s: labels %v, phase %s", claim.Name, claim.Labels, claim.Status.Phase)
	}

	// fly clear-task-cache moves the cache's epoch: the next build starts
	// from an empty claim, and the cleared one is deleted.
	cfg.Caches[0].Path = "deps"
	a := assignment(24, "ci", "unit", "compile", cfg)
	a.Request.Env["BUILD_ID"] = "24"
	a.Request.CacheEpochs = map[string]int64{"deps": 1}
	logs := newLines()
	if res := rt.Run(t.Context(), a, logs); res.Error != "" || res.ExitStatus != 0 || logs.String() != "seen: \n" {
		t.Fatalf("the build after the cache was cleared: %+v, log %q\n%s", res, logs.String(), logs.Stderr())
	}
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), claim.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cleared cache's claim %s is still there (%v)", claim.Name, err)
	}
}

// A step whose pod the cluster refuses (here, a quota of no pods) errors
// with the cluster's reason and leaves nothing behind: its NetworkPolicy and
// its Secret of hidden params are deleted, as no pod owns them.
func TestRefusedPodLeavesNothing(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "no-pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}}}
	if _, err := c.CoreV1().ResourceQuotas(ns).Create(t.Context(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Admission enforces a quota once the controller has counted its use.
	for deadline := time.Now().Add(time.Minute); ; {
		q, err := c.CoreV1().ResourceQuotas(ns).Get(t.Context(), quota.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, counted := q.Status.Used[corev1.ResourcePods]; counted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the quota's use was not counted within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := assignment(15, "ci", "quota", "run", task("echo never"))
	a.Request.Task.Params = map[string]string{"TOKEN": "s3cr3t"}
	a.Redact = []string{"s3cr3t"}
	res := rt.Run(t.Context(), a, newLines())
	if !strings.Contains(res.Error, "exceeded quota") {
		t.Fatalf("result %+v, want the quota's refusal", res)
	}
	nps, err := c.NetworkingV1().NetworkPolicies(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := c.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	if len(nps.Items) != 0 || len(secrets.Items) != 0 {
		t.Errorf("left behind: %d NetworkPolicies, %d Secrets", len(nps.Items), len(secrets.Items))
	}
}

// A custom resource type's check, get and put run in pods of the type's
// image by the resource protocol: the request on stdin (the source never in
// the pod's spec), the response on stdout, logs on stderr; a get's directory
// becomes the build's artifact, and a put reads the build's artifacts.
func TestCustomResourceType(t *testing.T) {
	_, _, ns := kubetest.Namespace(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	loc := &local.Runtime{Dir: t.TempDir()}
	rt := &kube.Runtime{Client: sk, Config: skCfg, Local: loc, Namespace: ns, Spoke: "spoke-1"}
	// The type's image artifact, as the image get of a registry-image type
	// leaves it on a kube spoke: what names the image, by digest.
	digest := "sha256:" + strings.Repeat("cd", 32)
	kubetest.ImageAt(t, "test.invalid/counter@"+digest, kubetest.CounterResource)
	for file, data := range map[string]string{"repository": "test.invalid/counter\n", "digest": digest} {
		if err := os.MkdirAll(loc.Artifact(30, ".type"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(loc.Artifact(30, ".type"), file), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func(kind wire.StepKind, req wire.StepRequest) (wire.Result, *lines) {
		req.Kind, req.Name, req.Type, req.TypeImage = kind, "counter", "counter", ".type"
		req.Source = []byte(`{"secret":"s3cr3t"}`)
		req.Env = map[string]string{"BUILD_PIPELINE_NAME": "ci", "BUILD_JOB_NAME": "j"}
		logs := newLines()
		res := rt.Run(context.Background(), wire.Assignment{BuildID: 30, PlanID: string(kind), Attempt: 1, Request: req}, logs)
		if res.Error != "" || res.ExitStatus != 0 {
			t.Fatalf("%s: %+v\n%s", kind, res, logs.Stderr())
		}
		return res, logs
	}
	res, logs := step("check", wire.StepRequest{})
	if len(res.Versions) != 2 || res.Versions[1]["ref"] != "v2" || !strings.Contains(logs.String(), "checking") {
		t.Errorf("check: %+v, logs %q", res, logs)
	}
	res, _ = step("get", wire.StepRequest{Version: map[string]string{"ref": "v2"}, Outputs: map[string]string{"counter": "counter"}})
	if res.Version["ref"] != "v2" || len(res.Metadata) != 1 || res.Metadata[0].Value != "v2" || len(res.Outputs) != 1 {
		t.Errorf("get: %+v", res)
	}
	// The same version again comes from the spoke's resource cache, without a pod.
	again, logs := step("get", wire.StepRequest{Version: map[string]string{"ref": "v2"}, Outputs: map[string]string{"again": "again"}})
	if again.Version["ref"] != "v2" || len(again.Metadata) != 1 || !strings.Contains(logs.Stderr(), "resource cache") || strings.Contains(logs.String(), "fetching") {
		t.Errorf("second get: %+v, logs %q / %q", again, logs, logs.Stderr())
	}
	if ref, err := os.ReadFile(filepath.Join(loc.Artifact(30, "again"), "ref")); err != nil || string(ref) != "v2\n" {
		t.Errorf("the cached get's directory: %q (%v)", ref, err)
	}
	got, err := os.ReadFile(filepath.Join(loc.Artifact(30, "counter"), "request.json"))
	if err != nil || !strings.Contains(string(got), `"secret":"s3cr3t"`) || !strings.Contains(string(got), `"version":{"ref":"v2"}`) {
		t.Errorf("the request in got %q (%v)", got, err)
	}
	built := loc.Artifact(30, "built")
	if err := os.MkdirAll(built, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(built, "version"), []byte("v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _ = step("put", wire.StepRequest{Params: []byte(`{"file":"built/version"}`), Inputs: map[string]string{"built": "built"}})
	if res.Version["ref"] != "v3" {
		t.Errorf("put: %+v", res)
	}
}

// A spoke that denies egress gives its steps NetworkPolicies with no egress
// rule: the pods may open no connection.
func TestDenyEgress(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "untrusted", DenyEgress: true}
	a := assignment(15, "ci", "fork", "test", task("echo hello; sleep 2"))
	logs := newLines()
	done := make(chan wire.Result)
	go func() { done <- rt.Run(context.Background(), a, logs) }()
	<-logs.first
	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(context.Background(), kube.PodName(a), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.Egress) != 0 || len(np.Spec.PolicyTypes) != 2 {
		t.Errorf("network policy %+v, want egress denied", np.Spec)
	}
	if res := <-done; res.Error != "" || res.ExitStatus != 0 {
		t.Errorf("result %+v", res)
	}
}

// A step's secrets stay out of its pod spec: its params come from a Secret
// the spoke creates for the pod and deletes with it, and a command word
// that holds a secret is expanded from that Secret by the node.
func TestSecretsStayOutOfThePodSpec(t *testing.T) {
	c, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	const secret = "pod-spec-s3cret"
	cfg := task(`echo "env=$TOKEN arg=$0"; sleep 2`)
	cfg.Run.Args = append(cfg.Run.Args, "word-"+secret)
	a := assignment(8, "ci", "unit", "test", cfg)
	a.Request.Task.Params = map[string]string{"TOKEN": secret}
	a.Redact = []string{secret}
	logs, done, pod := runUntilLogging(t, c, ns, rt, a)
	ctx := t.Context()
	name := pod.Name
	spec, _ := json.Marshal(pod)
	if strings.Contains(string(spec), secret) {
		t.Errorf("the pod spec holds the secret:\n%s", spec)
	}
	s, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["TOKEN"]) != secret || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != pod.UID {
		t.Errorf("the step's Secret: data %v, owners %+v", s.Data, s.OwnerReferences)
	}
	if res := <-done; res.Error != "" || res.ExitStatus != 0 {
		t.Errorf("result %+v", res)
	}
	if got, want := logs.String(), "env="+secret+" arg=word-"+secret+"\n"; got != want {
		t.Errorf("the task saw %q, want %q", got, want)
	}
	if _, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("the step's Secret is still there after the step")
	}
}

// A task whose image is a build artifact runs the registry image that
// artifact names, by digest; an artifact that names none errors with why.
func TestTaskImageFromArtifact(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	loc := &local.Runtime{Dir: t.TempDir()}
	rt := &kube.Runtime{Client: sk, Config: skCfg, Local: loc, Namespace: ns, Spoke: "spoke-1"}
	digest := "sha256:" + strings.Repeat("ab", 32)
	for file, data := range map[string]string{"repository": "registry.test:5000/team/app\n", "digest": digest, "rootfs/bin/x": "", "plain/file": ""} {
		p := filepath.Join(loc.Artifact(13, "img"), file)
		if file == "plain/file" {
			p = filepath.Join(loc.Artifact(13, "plain"), "file")
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := assignment(13, "ci", "img", "run", task("echo in the image; sleep 1"))
	a.Request.Task.Image = "img"
	a.Request.Task.ImageSource = json.RawMessage(`{"repository":"registry.test:5000/team/app","username":"robot","password":"s3cret"}`)
	logs, done, pod := runUntilLogging(t, c, ns, rt, a)
	if got, want := pod.Spec.Containers[0].Image, "registry.test:5000/team/app@"+digest; got != want {
		t.Errorf("task image %q, want %q", got, want)
	}
	// The source's credentials pull the image, through a Secret the pod owns.
	if len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != pod.Name+"-pull" {
		t.Fatalf("image pull secrets %+v", pod.Spec.ImagePullSecrets)
	}
	pull, err := c.CoreV1().Secrets(ns).Get(t.Context(), pod.Name+"-pull", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := `{"auths":{"registry.test:5000":{"auth":"cm9ib3Q6czNjcmV0","password":"s3cret","username":"robot"}}}`
	if pull.Type != corev1.SecretTypeDockerConfigJson || string(pull.Data[corev1.DockerConfigJsonKey]) != wantConfig {
		t.Errorf("pull secret %s: %s", pull.Type, pull.Data[corev1.DockerConfigJsonKey])
	}
	if len(pull.OwnerReferences) != 1 || pull.OwnerReferences[0].UID != pod.UID {
		t.Errorf("pull secret owners %+v, want the pod", pull.OwnerReferences)
	}
	if strings.Contains(fmt.Sprint(pod.Spec), "s3cret") {
		t.Error("the password is in the pod spec")
	}
	if !strings.HasPrefix(logs.Stderr(), "image registry.test:5000/team/app@"+digest+", from artifact img\n") {
		t.Errorf("the log does not say which image runs: %q", logs.Stderr())
	}
	if res := <-done; res.Error != "" || res.ExitStatus != 0 {
		t.Errorf("result %+v", res)
	}
	if _, err := c.CoreV1().Secrets(ns).Get(t.Context(), pod.Name+"-pull", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the pull secret outlived its step: %v", err)
	}

	a = assignment(13, "ci", "img", "plain", task("true"))
	a.Request.Task.Image = "plain"
	if res := rt.Run(t.Context(), a, newLines()); !strings.Contains(res.Error, "image plain has no repository file, so it names no registry image") {
		t.Errorf("an artifact without a registry image: %+v", res)
	}
}
