package charts_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm runs the helm that hack/helm.sh builds (once, cached by version) and
// returns its output; err holds stderr when it fails.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	helmOnce.Do(func() {
		out, err := exec.Command("../hack/helm.sh").Output()
		if err != nil {
			helmErr = fmt.Errorf("hack/helm.sh: %w", err)
			return
		}
		helmPath = filepath.Join(strings.TrimSpace(string(out)), "helm")
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	cmd := exec.Command(helmPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(os.TempDir(), "switchyard-helm-cache"),
		"HELM_CONFIG_HOME="+filepath.Join(os.TempDir(), "switchyard-helm-config"), "HELM_DATA_HOME="+filepath.Join(os.TempDir(), "switchyard-helm-data"))
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// render is `helm template` of a chart with --set values; the test fails
// when it does not render.
func render(t testing.TB, chart, namespace string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, withValues([]string{"template", "rel", chart, "--namespace", namespace}, set)...)
	if err != nil {
		t.Fatalf("helm template %s %v: %v", chart, set, err)
	}
	return decode(t, out)
}

// withValues is args with a --set for each of values.
func withValues(args, values []string) []string {
	for _, v := range values {
		args = append(args, "--set", v)
	}
	return args
}

// decode splits a YAML stream into objects.
func decode(t testing.TB, stream string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, stream)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// find is the rendered object of a kind and name suffix.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, suffix string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), suffix) {
			return o
		}
	}
	t.Fatalf("no %s *%s rendered", kind, suffix)
	return nil
}
