package charts_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard-ci/switchyard/onboard"
)

// switchyard onboard installs into each Cluster API cluster what
// charts/spoke renders (as release "switchyard-spoke" with the controller's
// settings): the same objects with the same names, Role, binding and pod.
// A change to one that the other lacks fails here. (The chart's metrics
// Service and its helm labels are the chart's alone.)
func TestOnboardInstallsTheChartsObjects(t *testing.T) {
	sp := onboard.Spoke{Name: "capi-c1", Namespace: "switchyard", StepsNamespace: "switchyard-steps", HubURL: "https://hub.example",
		Image: "registry.example/switchyard:1.2.3", HelperImage: "busybox:1.37", CPUs: "4", Memory: "8Gi", MaxSteps: 6, Token: "secret"}
	out, err := helm(t, withValues([]string{"template", "switchyard-spoke", "spoke", "--namespace", sp.Namespace}, []string{
		"hub.url=" + sp.HubURL, "joinToken.existingSecret=switchyard-spoke-join", "name=" + sp.Name, "steps.namespace=" + sp.StepsNamespace,
		"image.repository=registry.example/switchyard", "image.tag=1.2.3", "retireOnStop=true", "terminationGracePeriodSeconds=3600",
		"capacity.cpus=4", "capacity.memory=8Gi", "capacity.maxSteps=6"})...)
	if err != nil {
		t.Fatal(err)
	}
	chart := decode(t, out)
	ours, err := sp.Objects()
	if err != nil {
		t.Fatal(err)
	}
	key := func(u *unstructured.Unstructured) string {
		return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, u := range ours {
		byKey[key(u)] = u
	}
	compared := 0
	for _, c := range chart {
		if c.GetKind() == "Service" {
			continue
		}
		o, ok := byKey[key(c)]
		if !ok {
			t.Errorf("the chart renders %s; switchyard onboard does not install it", key(c))
			continue
		}
		delete(byKey, key(c))
		compared++
		for _, field := range [][]string{{"rules"}, {"roleRef"}, {"subjects"}, {"automountServiceAccountToken"}, {"spec", "replicas"},
			{"spec", "strategy"}, {"spec", "selector"}, {"spec", "template", "spec"}, {"metadata", "labels", "pod-security.kubernetes.io/enforce"}} {
			want, _, _ := unstructured.NestedFieldNoCopy(c.Object, field...)
			got, _, _ := unstructured.NestedFieldNoCopy(o.Object, field...)
			if !reflect.DeepEqual(jsonish(t, got), jsonish(t, want)) {
				t.Errorf("%s %v:\nswitchyard onboard: %v\nthe chart:          %v", key(c), field, got, want)
			}
		}
	}
	for k := range byKey {
		if k != "Secret switchyard/switchyard-spoke-join" && k != "Namespace /switchyard" { // the chart takes them as given
			t.Errorf("switchyard onboard installs %s, which the chart does not render", k)
		}
	}
	if compared < 5 {
		t.Errorf("compared %d objects, want the chart's namespace, service account, role, binding and deployment", compared)
	}
}

// jsonish is v as JSON reads it back, so that numbers compare alike.
func jsonish(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
