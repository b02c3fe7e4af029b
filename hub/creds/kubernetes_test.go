package creds

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
	"github.com/switchyard-ci/switchyard/vars"
)

func putSecret(t testing.TB, c kubernetes.Interface, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if _, err := c.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Every lookup path of the kubernetes manager, on the real kube-apiserver:
// team namespaces PREFIX+TEAM, PIPELINE.VAR before VAR, the value key or the
// whole map, and another team's secrets out of reach through every source.
func TestKubernetes(t *testing.T) {
	c, _, nsA := kubetest.Namespace(t)
	_, _, nsB := kubetest.Namespace(t)
	teamA := strings.TrimPrefix(nsA, "test-")
	putSecret(t, c, nsA, "p.db", map[string]string{"user": "alice", "password": "pw-pipeline"})
	putSecret(t, c, nsA, "db", map[string]string{"user": "team-user", "password": "pw-team"})
	putSecret(t, c, nsA, "token", map[string]string{"value": "tok", "other": "hidden"})
	putSecret(t, c, nsA, "binary", map[string]string{"value": "\xff\xfe"})
	putSecret(t, c, nsB, "b-only", map[string]string{"value": "team-b-secret"})
	putSecret(t, c, nsB, "p.b-pipeline", map[string]string{"value": "team-b-secret-2"})

	reg := &Registry{Kube: c, Prefix: "test-", Cluster: &Kubernetes{Client: c, Prefix: "test-"}}
	scope := Scope{Team: teamA, Pipeline: "p", Job: "j"}
	r, err := reg.Resolver(scope, true, []VarSource{
		{Name: "own", Type: "kubernetes", Config: map[string]any{"namespace": nsA}},
		{Name: "theirs", Type: "kubernetes", Config: map[string]any{"namespace": nsB}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := vars.Interpolate(ctx, map[string]any{"pw": "((db.password))", "tok": "((token))", "own": "((own:db.user))"}, r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"pw": "pw-pipeline", "tok": "tok", "own": "alice"}
	for k, v := range want {
		if got.(map[string]any)[k] != v {
			t.Errorf("%s = %v, want %v", k, got.(map[string]any)[k], v)
		}
	}
	// The team path, for a pipeline without its own secret.
	other, _ := reg.Resolver(Scope{Team: teamA, Pipeline: "q"}, true, nil)
	if v, err := vars.Interpolate(ctx, "((db.password))", other); err != nil || v != "pw-team" {
		t.Errorf("team-scoped: %v, %v", v, err)
	}

	for ref, want := range map[string]string{
		"((token.other))":     "cannot access field 'other' of non-map value", // a value key hides the rest, as in Concourse
		"((nope))":            "undefined vars: nope",
		"((b-only))":          "undefined vars: b-only",           // team B's namespace is not asked
		"((b-pipeline))":      "undefined vars: b-pipeline",       // nor its pipeline paths
		"((theirs:b-only))":   "namespace \"" + nsB + "\" is not", // a var source cannot name it either
		"((x/y))":             "cannot hold '/'",
		"((Not_A_Name))":      "cannot name a kubernetes secret",
		"((binary))":          "not UTF-8 text",
		"((db.nope))":         "missing field 'nope' in var: db.nope",
		`(("` + nsB + `/x"))`: "cannot hold '/'",
	} {
		if _, err := vars.Interpolate(ctx, ref, r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", ref, err, want)
		}
	}
}

// A manager that is down or hangs errors the lookup after bounded retries,
// each bounded by its timeout; one that answers garbage errors at once.
func TestKubernetesUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() { // accepts and never answers
		for {
			conn, err := hang.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			conn, err := garbage.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{garbage!"))
			conn.Close()
		}
	}()
	for _, c := range []struct {
		name, addr, want string
	}{
		{"down", closedAddr, "(after 2 retries)"},
		{"hangs", hang.Addr().String(), "(after 2 retries)"},
		{"garbage", garbage.Addr().String(), "read secret"},
	} {
		client, err := kubernetes.NewForConfig(&rest.Config{Host: "http://" + c.addr})
		if err != nil {
			t.Fatal(err)
		}
		src := &Retrying{Source: &Kubernetes{Client: client, Prefix: "p-"}, Attempts: 3, Interval: 10 * time.Millisecond, Timeout: 300 * time.Millisecond}
		r, _ := (&Registry{Cluster: src}).Resolver(Scope{Team: "a", Pipeline: "p"}, true, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = vars.Interpolate(ctx, "((x))", r)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "look up ((x))") {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
