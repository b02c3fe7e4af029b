package charts_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// hubValues are the least a hub install needs.
var hubValues = []string{"database.existingSecret=db"}

// Both charts pass helm lint --strict with the values an install needs.
func TestLint(t *testing.T) {
	for chart, values := range map[string][]string{"hub": hubValues, "spoke": spokeValues} {
		args := withValues([]string{"lint", "--strict", chart}, values)
		if out, err := helm(t, args...); err != nil {
			t.Errorf("helm lint %s: %v\n%s", chart, err, out)
		}
	}
}

// Values that would make a broken install are refused by the charts'
// schemas, naming the field, before anything reaches the cluster.
func TestBadValuesAreRefused(t *testing.T) {
	for _, c := range []struct {
		name, chart string
		set         []string
		want        string
	}{
		{"a spoke without a token", "spoke", []string{"hub.url=https://hub.example", "capacity.cpus=4", "capacity.memory=8Gi"}, "/joinToken/existingSecret"},
		{"a spoke without a hub", "spoke", []string{"joinToken.existingSecret=join", "capacity.cpus=4", "capacity.memory=8Gi"}, "/hub/url"},
		{"a hub URL that is not one", "spoke", []string{"hub.url=hub.example", "joinToken.existingSecret=join", "capacity.cpus=4", "capacity.memory=8Gi"}, "/hub/url"},
		{"no capacity and no node access", "spoke", []string{"hub.url=https://hub.example", "joinToken.existingSecret=join"}, "/capacity/cpus"},
		{"a label that breaks the flag", "spoke", append(slices.Clone(spokeValues), "labels.zone=eu\\,evil=1"), "/labels/zone"},
		{"a spoke name that is not a DNS label", "spoke", append(slices.Clone(spokeValues), "name=../x"), "/name"},
		{"an unknown value", "spoke", append(slices.Clone(spokeValues), "capcity.cpus=4"), "capcity"},
		{"no database", "hub", nil, "/database/existingSecret"},
		{"two databases", "hub", []string{"database.existingSecret=db", "postgresql.enabled=true"}, "/database/existingSecret"},
		{"two hubs on their own disks", "hub", []string{"database.existingSecret=db", "replicas=2"}, "/artifactStore/url"},
		{"an ingress without a host", "hub", []string{"database.existingSecret=db", "ingress.enabled=true"}, "/ingress/host"},
		{"a setting the chart owns, in config", "hub", []string{"database.existingSecret=db", "config.encryption-key=x"}, "'encryption-key' not allowed"},
		{"a setting the hub does not have", "hub", []string{"database.existingSecret=db", "config.no-such-flag=1"}, "'no-such-flag' not allowed"},
		{"an artifact store of another scheme", "hub", []string{"database.existingSecret=db", "artifactStore.url=http://x"}, "/artifactStore/url"},
	} {
		args := withValues([]string{"template", "rel", c.chart}, c.set)
		_, err := helm(t, args...)
		if err == nil || !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: helm template %v: %v, want the schema to name %s", c.name, c.set, err, c.want)
		}
	}
}

// The hub chart's config takes every hub setting by its flag's name, except
// those the chart sets from values of their own; a new hub flag must be
// added to the schema (or to the chart) before this passes.
func TestHubConfigCoversEveryFlag(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "switchyard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/switchyard")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	usage, _ := exec.Command(bin, "hub", "--help").CombinedOutput()
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(usage), -1)
	if len(flags) < 20 {
		t.Fatalf("hub --help lists %d flags:\n%s", len(flags), usage)
	}
	schema := readSchema(t, "hub")
	config := schema["properties"].(map[string]any)["config"].(map[string]any)["properties"].(map[string]any)
	objs := render(t, "hub", "ci", append(slices.Clone(hubValues), "auth.oidc.clientSecretSecret=oidc", "encryption.existingSecret=enc")...)
	deployment := find(t, objs, "Deployment", "hub")
	env, cm := text(deployment), text(find(t, objs, "ConfigMap", "-config"))
	for _, f := range flags {
		name := f[1]
		variable := "SWITCHYARD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		_, inConfig := config[name]
		byChart := strings.Contains(env, variable) || strings.Contains(cm, variable)
		if inConfig == byChart {
			t.Errorf("hub flag --%s: in the schema's config %v, set by the chart %v (want exactly one)", name, inConfig, byChart)
		}
	}
	for name := range config {
		if !slices.ContainsFunc(flags, func(f []string) bool { return f[1] == name }) {
			t.Errorf("the schema's config names %s, which the hub does not have", name)
		}
	}
}

// What the charts render is valid against the OpenAPI of the real
// kube-apiserver (v1.34): every object is created with dry run and strict
// field validation (unknown or duplicate fields refused), with every
// optional part switched on. ServiceMonitors are left out: the test cluster
// has no Prometheus operator's CRDs.
func TestRenderedObjectsAreValid(t *testing.T) {
	admin, _, ns := kubetest.Namespace(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubetest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	steps := ns + "-steps"
	t.Cleanup(func() { _ = admin.CoreV1().Namespaces().Delete(context.Background(), steps, metav1.DeleteOptions{}) })
	var objs = render(t, "hub", ns, "postgresql.enabled=true", "ingress.enabled=true", "ingress.host=ci.example.com",
		"ingress.tlsSecret=ci-tls", "ingress.className=nginx", "metrics.serviceMonitor.enabled=true", "replicas=3",
		"artifactStore.url=s3://artifacts?endpoint=https://s3.example.com", "artifactStore.credentialsSecret=s3",
		"auth.oidc.clientSecretSecret=oidc", "config.oidc-issuer=https://id.example.com", "config.build-lease=20s",
		"config.secret-cache-enabled=true", "extraEnv[0].name=OTEL_EXPORTER_OTLP_ENDPOINT", "extraEnv[0].value=http://otel:4318")
	objs = append(objs, render(t, "spoke", ns, append(slices.Clone(spokeValues), "rbac.readNodes=true", "steps.namespace="+steps,
		"tags[0]=gpu", "labels.zone=eu-west-1a", "metrics.serviceMonitor.enabled=true", "capacity.maxSteps=8")...)...)
	kinds := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "ServiceMonitor" {
			continue
		}
		kinds[o.GetKind()] = true
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s %s: %v", gvk, o.GetName(), err)
			continue
		}
		res := dyn.Resource(m.Resource)
		opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
		if o.GetKind() == "Namespace" {
			opts.DryRun = nil // the steps' namespace is made, so that what goes in it can be checked
		}
		var client dynamic.ResourceInterface = res
		if m.Scope.Name() == "namespace" {
			client = res.Namespace(o.GetNamespace())
		}
		if _, err := client.Create(t.Context(), o, opts); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("%s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	for _, k := range []string{"Deployment", "Service", "Ingress", "ConfigMap", "Secret", "PodDisruptionBudget", "StatefulSet",
		"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Namespace"} {
		if !kinds[k] {
			t.Errorf("no %s was rendered", k)
		}
	}
}

// readSchema is a chart's values.schema.json.
func readSchema(t testing.TB, chart string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatalf("%s/values.schema.json: %v", chart, err)
	}
	return schema
}

// text is an object as JSON, to look for strings in.
func text(o *unstructured.Unstructured) string {
	data, _ := json.Marshal(o.Object)
	return string(data)
}

// e2e/kind's cluster configs decode as kind reads them, its script parses,
// and on a host without a Docker engine `make e2e-kind` says it did not run
// and exits 0.
func TestKindSuiteIsValid(t *testing.T) {
	check := exec.Command("../e2e/kind/run.sh", "--check")
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("e2e/kind/run.sh --check: %v\n%s", err, out)
	}
	run := exec.Command("../e2e/kind/run.sh")
	run.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent", "PATH=/usr/bin:/bin")
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "did not run (it is not a pass)") {
		t.Errorf("e2e/kind/run.sh without a Docker engine: %v\n%s", err, out)
	}
}

// A Secret a value names must exist, with its key, when the chart is
// installed: helm install fails naming it, and nothing is created.
func TestMissingSecretsAreRefused(t *testing.T) {
	c, _, ns := kubetest.Namespace(t)
	if _, err := c.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-key"},
		StringData: map[string]string{"other": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		chart string
		set   []string
		want  string
	}{
		{"spoke", append(slices.Clone(spokeValues), "joinToken.existingSecret=missing"), `joinToken.existingSecret: there is no Secret "missing"`},
		{"spoke", append(slices.Clone(spokeValues), "joinToken.existingSecret=wrong-key"), `Secret "wrong-key" has no key "token"`},
		{"hub", []string{"database.existingSecret=missing"}, `database.existingSecret: there is no Secret "missing"`},
		{"hub", []string{"database.existingSecret=wrong-key"}, `Secret "wrong-key" has no key "url"`},
	} {
		args := withValues([]string{"install", "rel", c.chart, "--namespace", ns, "--kubeconfig", kubetest.Kubeconfig(t), "--dry-run=server"}, c.set)
		if _, err := helm(t, args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("helm install %s %v: %v, want %q", c.chart, c.set, err, c.want)
		}
	}
}
