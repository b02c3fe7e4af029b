package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/switchyard-ci/switchyard/onboard"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// managementCluster starts a second control plane (hack/kube.sh, without
// controllers) with Cluster API's Cluster CRD, taken from the Cluster API
// module this one requires, and returns its kubeconfig.
func managementCluster(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "management")
	cmd := exec.Command("../hack/kube.sh", "start", dir)
	cmd.Env = append(os.Environ(), "KUBE_CONTROLLERS=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start the management control plane: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() { _ = exec.Command("../hack/kube.sh", "stop", dir).Run() })
	kubeconfig := strings.TrimSpace(string(out))
	mod, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/cluster-api").Output()
	if err != nil {
		t.Fatalf("find the Cluster API module: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(mod)), "config", "crd", "bases", "cluster.x-k8s.io_clusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096).Decode(&crd); err != nil {
		t.Fatal(err)
	}
	dyn := dynamicFor(t, kubeconfig)
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Create(t.Context(), &unstructured.Unstructured{Object: crd}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the Cluster CRD: %v", err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		_, err := dyn.Resource(clusterv1.GroupVersion.WithResource("clusters")).List(t.Context(), metav1.ListOptions{})
		if err == nil {
			return kubeconfig
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Cluster CRD is not served after a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dynamicFor(t *testing.T, kubeconfig string) dynamic.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return dynamic.NewForConfigOrDie(cfg)
}

// capiCluster is a Cluster API Cluster to onboard for team, with its
// kubeconfig Secret; ready makes it provisioned and available.
type capiCluster struct {
	t    *testing.T
	dyn  dynamic.Interface
	core kubernetes.Interface
	name string
}

var capiClusters = clusterv1.GroupVersion.WithResource("clusters")

func newCAPICluster(t *testing.T, kubeconfig, name, team string, workload []byte) *capiCluster {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := &capiCluster{t: t, dyn: dynamic.NewForConfigOrDie(cfg), core: kubernetes.NewForConfigOrDie(cfg), name: name}
	ctx := t.Context()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: "default"}, Data: map[string][]byte{"value": workload}}
	if _, err := c.core.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clusterv1.GroupVersion.String(), "kind": "Cluster",
		"metadata": map[string]any{"name": name, "namespace": "default",
			"labels": map[string]any{"switchyard.dev/onboard": "true"}, "annotations": map[string]any{onboard.AnnotationTeam: team}},
		"spec": map[string]any{"controlPlaneEndpoint": map[string]any{"host": "127.0.0.1", "port": int64(6443)}},
	}}
	if _, err := c.dyn.Resource(capiClusters).Namespace("default").Create(ctx, cl, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Cluster %s: %v", name, err)
	}
	return c
}

// ready makes the Cluster provisioned and available, as Cluster API would;
// the controller writes its annotations on the same object meanwhile, so a
// conflict reads it again and retries, as a controller does.
func (c *capiCluster) ready() {
	ctx := c.t.Context()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := c.dyn.Resource(capiClusters).Namespace("default").Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		u.Object["status"] = map[string]any{"phase": string(clusterv1.ClusterPhaseProvisioned), "conditions": []any{map[string]any{
			"type": clusterv1.ClusterAvailableCondition, "status": "True", "reason": "Available", "message": "",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
		_, err = c.dyn.Resource(capiClusters).Namespace("default").UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		c.t.Fatalf("make Cluster %s available: %v", c.name, err)
	}
}

// waitFor waits up to within for the Cluster's onboarding annotation to be
// state, and returns its message.
func (c *capiCluster) waitFor(state string, within time.Duration) string {
	c.t.Helper()
	var got map[string]string
	for deadline := time.Now().Add(within); ; {
		u, err := c.dyn.Resource(capiClusters).Namespace("default").Get(c.t.Context(), c.name, metav1.GetOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		got = u.GetAnnotations()
		if got[onboard.AnnotationState] == state {
			return got[onboard.AnnotationMessage]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("Cluster %s is not %q after %s: %v", c.name, state, within, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A Cluster API Cluster of team main, once provisioned and available, gets
// a spoke (charts/spoke's objects, installed by switchyard onboard into its
// workload cluster) that joins the hub and runs a build as pods there;
// deleting the Cluster retires the spoke, removes what was installed and
// revokes its join token. Clusters whose kubeconfig would run a command,
// or that name a team the controller does not onboard for, get nothing.
func TestClusterAPIOnboarding(t *testing.T) {
	management := managementCluster(t)
	f := newFleet(t)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	kubetest.ImageBinary(t, "switchyard-test:onboard", filepath.Join(bin, "switchyard"))
	workload, err := os.ReadFile(kubetest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ourFly := func(_ string, args ...string) string { return f.mustFly(args...) }
	c, _, ns := kubetest.Namespace(t) // the spoke's namespace; its steps run in ns-steps
	steps := ns + "-steps"
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), steps, metav1.DeleteOptions{}) })
	f.start("onboard", "onboard", "--kubeconfig", management, "--hub-url", f.url, "--hub-username", "admin", "--hub-password", "secret",
		"--image", "switchyard-test:onboard", "--team", "main", "--spoke-namespace", ns, "--steps-namespace", steps, "--resync", "2s")

	c1 := newCAPICluster(t, management, "c1", "main", workload)
	if msg := c1.waitFor(onboard.StateWaiting, time.Minute); !strings.Contains(msg, "Provisioned") {
		t.Errorf("a Cluster not provisioned yet waits, saying why: %q", msg)
	}
	ran := filepath.Join(t.TempDir(), "ran")
	evil, err := clientcmd.Load(workload)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range evil.AuthInfos {
		u.Token, u.Exec = "", &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: "sh", Args: []string{"-c", "touch " + ran}}
	}
	evilRaw, err := clientcmd.Write(*evil)
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCAPICluster(t, management, "c2", "main", evilRaw)
	c3 := newCAPICluster(t, management, "c3", "blue", workload)
	for _, cl := range []*capiCluster{c1, c2, c3} {
		cl.ready()
	}
	msg := c1.waitFor(onboard.StateOnboarded, 2*time.Minute)
	if !strings.Contains(msg, "spoke default-c1 installed") || !strings.Contains(msg, "team main") {
		t.Errorf("the onboarded Cluster says %q", msg)
	}
	if msg := c2.waitFor(onboard.StateFailed, time.Minute); !strings.Contains(msg, "exec") {
		t.Errorf("a Cluster whose kubeconfig runs a command: %q", msg)
	}
	if msg := c3.waitFor(onboard.StateFailed, time.Minute); !strings.Contains(msg, `team "blue"`) {
		t.Errorf("a Cluster of a team the controller does not onboard for: %q", msg)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the hostile kubeconfig's command ran")
	}

	waitState(t, ourFly, "default-c1", "running")
	if out := f.mustFly("join-tokens"); !strings.Contains(out, "default-c1") {
		t.Errorf("no join token default-c1 for team main:\n%s", out)
	}
	f.setPipeline("capi", `
jobs:
- name: hello
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo hello from the workload cluster"]}
`)
	if out, code := f.fly("trigger-job", "-j", "capi/hello", "-w"); code != 0 || !strings.Contains(out, "selected worker: default-c1") ||
		!strings.Contains(out, "hello from the workload cluster") {
		t.Fatalf("a build on the onboarded spoke (exit %d):\n%s", code, out)
	}

	// Deleting the Cluster removes its spoke and revokes its token; the
	// Cluster goes once that is done.
	if err := c1.dyn.Resource(capiClusters).Namespace("default").Delete(t.Context(), "c1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, err := c1.dyn.Resource(capiClusters).Namespace("default").Get(t.Context(), "c1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted Cluster is still there after 2 minutes: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := f.mustFly("join-tokens"); strings.Contains(out, "default-c1") {
		t.Errorf("the deleted Cluster's join token is still there:\n%s", out)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		deps, err := c.AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(deps.Items) == 0 && workerState(t, ourFly, "default-c1") == "" {
			break
		}
		if time.Now().After(deadline) {
			raw, _ := json.Marshal(deps.Items)
			t.Fatalf("the deleted Cluster's spoke is still there after 2 minutes:\n%s\n%s", f.mustFly("workers"), raw)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
