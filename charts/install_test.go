package charts_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// installImage is the image the install test's charts name; the test node
// runs the chart's command line with the built binary at the image's path.
const installImage = "switchyard-test:install"

// Both charts install on the test control plane and work together: the hub
// (from the chart's command line, on a real database named by a Secret)
// answers, the spoke (in-cluster config, the chart's ServiceAccount and
// Role, the join token from the hub's generated Secret) joins it, and a
// pipeline's build runs its task as a pod in the spoke's steps namespace.
// helm upgrade keeps the secrets the chart generated.
func TestInstallBothCharts(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	steps := ns + "-steps"
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), steps, metav1.DeleteOptions{}) })
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/switchyard", "./cmd/fly")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kubetest.ImageBinary(t, installImage, filepath.Join(bin, "switchyard"))
	secret(t, c, ns, "db", map[string]string{"url": storetest.URL(t)})

	port := freePort(t)
	hub := []string{"image.repository=switchyard-test", "image.tag=install", "database.existingSecret=db",
		"listenPort=" + port, "externalURL=http://127.0.0.1:" + port, "config.build-lease=10s"}
	install(t, ns, "hub", "hub", hub...)
	url := "http://127.0.0.1:" + port
	waitFor(t, "the hub to answer", func() bool {
		resp, err := http.Get(url + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	generated := readSecret(t, c, ns, "hub-switchyard-hub-generated")
	for _, k := range []string{"encryption-key", "local-users", "spoke-join-tokens", "metrics-token"} {
		if len(generated[k]) < 24 {
			t.Fatalf("generated secret %s: %q", k, generated[k])
		}
	}

	secret(t, c, ns, "join", map[string]string{"token": generated["spoke-join-tokens"]})
	install(t, ns, "spoke", "spoke", "image.repository=switchyard-test", "image.tag=install", "hub.url="+url,
		"joinToken.existingSecret=join", "name=chart-spoke", "steps.namespace="+steps, "capacity.cpus=4", "capacity.memory=8Gi",
		"metrics.port="+freePort(t))

	fly := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "fly"), append([]string{"-t", "chart"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fly %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	user, password, _ := strings.Cut(generated["local-users"], ":")
	fly("login", "-c", url, "-u", user, "-p", password)
	waitFor(t, "the chart's spoke to join", func() bool { return strings.Contains(fly("workers"), "chart-spoke") })
	pipeline := filepath.Join(bin, "p.yml")
	if err := os.WriteFile(pipeline, []byte(`
jobs:
- name: hello
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo hello from $(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace 2>/dev/null || echo a pod)"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fly("set-pipeline", "-n", "-p", "p", "-c", pipeline)
	fly("unpause-pipeline", "-p", "p")
	out := fly("trigger-job", "-j", "p/hello", "-w")
	if !strings.Contains(out, "selected worker: chart-spoke") || !strings.Contains(out, "hello from") || !strings.Contains(out, "succeeded") {
		t.Errorf("the build on the chart's spoke:\n%s", out)
	}
	waitFor(t, "the step's pod to be deleted by the spoke", func() bool {
		pods, err := c.CoreV1().Pods(steps).List(t.Context(), metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0
	})

	install(t, ns, "hub", "hub", append(hub, "config.build-lease=12s")...)
	again := readSecret(t, c, ns, "hub-switchyard-hub-generated")
	for k, v := range generated {
		if again[k] != v {
			t.Errorf("helm upgrade changed the generated %s", k)
		}
	}
}

// install is helm upgrade --install of a chart, waiting for its pods.
func install(t *testing.T, ns, release, chart string, set ...string) {
	t.Helper()
	if out, err := helm(t, withValues([]string{"upgrade", "--install", release, chart, "--namespace", ns, "--kubeconfig", kubetest.Kubeconfig(t), "--wait", "--timeout", "3m"}, set)...); err != nil {
		t.Fatalf("helm install %s: %v\n%s", chart, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			podLogs(t, ns)
		}
		_, _ = helm(t, "uninstall", release, "--namespace", ns, "--kubeconfig", kubetest.Kubeconfig(t), "--wait")
	})
}

// podLogs logs the logs of the namespace's pods, for a failed test.
func podLogs(t *testing.T, ns string) {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubetest.Kubeconfig(t))
	if err != nil {
		t.Log(err)
		return
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Log(err)
		return
	}
	for _, p := range pods.Items {
		for _, ct := range p.Spec.Containers {
			data, err := c.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: ct.Name}).DoRaw(ctx)
			t.Logf("pod %s (%s), container %s: %v\n%s", p.Name, p.Status.Phase, ct.Name, err, tail(string(data), 30))
		}
	}
}

func secret(t *testing.T, c kubernetes.Interface, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data}
	if _, err := c.CoreV1().Secrets(ns).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func readSecret(t *testing.T, c kubernetes.Interface, ns, name string) map[string]string {
	t.Helper()
	s, err := c.CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitFor polls ok for up to two minutes.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("waited two minutes for %s", what))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
