package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// EnvKubeconfig names the variable that holds the test cluster's kubeconfig.
const EnvKubeconfig = "SWITCHYARD_TEST_KUBECONFIG"

// Kubeconfig returns the test cluster's kubeconfig path, failing the test
// when there is none: kube tests never skip.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-kube.sh", EnvKubeconfig)
	}
	return path
}

// Namespace connects to the test cluster and makes a namespace, deleted at
// the end of the test, whose default service account exists.
func Namespace(t testing.TB) (kubernetes.Interface, *rest.Config, string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400 // as the spoke sets them
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "test-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	for i := 0; ; i++ { // pods need the default service account the controller-manager makes
		if _, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return c, cfg, ns
		}
		if i > 300 {
			t.Fatal("no default service account in the test namespace after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
