package charts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// spokeValues are the least a spoke install needs.
var spokeValues = []string{"hub.url=https://hub.example", "joinToken.existingSecret=join", "capacity.cpus=4", "capacity.memory=8Gi"}

// kubeCases are the kube cases the spoke's Role is proven against: the
// runtime's own (task, reattach, inputs and outputs, caches, custom types,
// eviction, sweep, secrets, egress, images) and the e2e ones through a spoke
// process (a pipeline, eviction, the objects a step leaves, custom types,
// intercept).
var kubeCases = map[string]string{
	"spoke/runtime/kube": "TestTaskPod|TestReattachAndAbort|TestInputsAndOutputs|TestEvictedStepIsLost|TestSweepDeletesOrphans|" +
		"TestTaskCachesPersistPerJob|TestRefusedPodLeavesNothing|TestCustomResourceType|TestSecretsStayOutOfThePodSpec|TestDenyEgress|TestTaskImageFromArtifact|TestUnschedulableSaysWhy",
	"e2e": "TestKubeSpokePassedPipeline|TestKubeEvictionRunsStepAgain|TestKubeObjects|TestKubeCustomResourceType|TestKubeIntercept|TestKubeInterceptFailedStep",
}

// needs names, for each verb of the Role, a case that fails without it.
var needs = map[string]string{
	"pods/create":                   "spoke/runtime/kube:TestTaskPod",
	"pods/get":                      "spoke/runtime/kube:TestTaskPod",
	"pods/list":                     "spoke/runtime/kube:TestSweepDeletesOrphans",
	"pods/watch":                    "spoke/runtime/kube:TestTaskPod",
	"pods/patch":                    "e2e:TestKubeInterceptFailedStep",
	"pods/delete":                   "spoke/runtime/kube:TestSweepDeletesOrphans",
	"pods/exec/create":              "spoke/runtime/kube:TestInputsAndOutputs",
	"pods/log/get":                  "spoke/runtime/kube:TestTaskPod",
	"secrets/create":                "spoke/runtime/kube:TestSecretsStayOutOfThePodSpec",
	"secrets/get":                   "spoke/runtime/kube:TestSecretsStayOutOfThePodSpec",
	"secrets/update":                "spoke/runtime/kube:TestSecretsStayOutOfThePodSpec",
	"secrets/delete":                "spoke/runtime/kube:TestRefusedPodLeavesNothing",
	"persistentvolumeclaims/create": "spoke/runtime/kube:TestTaskCachesPersistPerJob",
	"persistentvolumeclaims/delete": "spoke/runtime/kube:TestTaskCachesPersistPerJob",
	"networkpolicies/create":        "spoke/runtime/kube:TestTaskPod",
	"networkpolicies/get":           "spoke/runtime/kube:TestTaskPod",
	"networkpolicies/update":        "spoke/runtime/kube:TestTaskPod",
	"networkpolicies/delete":        "spoke/runtime/kube:TestRefusedPodLeavesNothing",
}

// The spoke chart's Role is all a spoke needs and nothing more: the kube
// cases pass with the spoke running as a ServiceAccount that holds that Role
// alone (a token for it, no admin), and taking any one verb out of the Role
// makes a case that passed with it fail.
func TestSpokeRoleIsLeastPrivilege(t *testing.T) {
	kubetest.Kubeconfig(t)
	role := find(t, render(t, "spoke", "ci", spokeValues...), "Role", "")
	var r rbacv1.Role
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
		t.Fatal(err)
	}
	bins := buildCases(t)
	dir := t.TempDir()
	run := func(name string, rules []rbacv1.PolicyRule, pkg, cases string) (string, error) {
		path := filepath.Join(dir, name+".json")
		data, _ := json.Marshal(rules)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bins[pkg], "-test.run", "^("+cases+")$", "-test.count", "1", "-test.failfast", "-test.v")
		cmd.Dir = filepath.Join("..", pkg)
		cmd.Env = append(os.Environ(), kubetest.EnvSpokeRole+"="+path)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for pkg, cases := range kubeCases {
		if out, err := run("whole", r.Rules, pkg, cases); err != nil {
			t.Fatalf("%s with the spoke chart's Role: %v\n%s", pkg, err, tail(out, 60))
		}
	}
	seen := map[string]bool{}
	for i, rule := range r.Rules {
		for _, res := range rule.Resources {
			for _, verb := range rule.Verbs {
				key := res + "/" + verb
				seen[key] = true
				pkgCase, ok := needs[key]
				if !ok {
					t.Errorf("the Role grants %s, and no case is named to need it", key)
					continue
				}
				pkg, tc, _ := strings.Cut(pkgCase, ":")
				out, err := run(strings.ReplaceAll(key, "/", "-"), without(r.Rules, i, res, verb), pkg, tc)
				if err == nil {
					t.Errorf("without %s, %s still passed: the Role holds what the spoke does not use", key, pkgCase)
				} else {
					t.Logf("without %s, %s fails:\n%s", key, pkgCase, tail(out, 6))
				}
			}
		}
	}
	for key := range needs {
		if !seen[key] {
			t.Errorf("needs names %s, which the Role does not grant", key)
		}
	}
}

// without is rules less one verb on one resource.
func without(rules []rbacv1.PolicyRule, i int, resource, verb string) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, 0, len(rules)+1)
	for j, r := range rules {
		if j != i {
			out = append(out, r)
			continue
		}
		for _, res := range r.Resources {
			kept := r.DeepCopy()
			kept.Resources = []string{res}
			if res == resource {
				kept.Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == verb })
			}
			if len(kept.Verbs) > 0 {
				out = append(out, *kept)
			}
		}
	}
	return out
}

// buildCases compiles the packages of kubeCases' tests once.
func buildCases(t *testing.T) map[string]string {
	dir := t.TempDir()
	bins := map[string]string{}
	for pkg := range kubeCases {
		bin := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "-")+".test")
		cmd := exec.Command("go", "test", "-c", "-o", bin, "./"+pkg)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the %s tests: %v\n%s", pkg, err, out)
		}
		bins[pkg] = bin
	}
	return bins
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintln(strings.Join(lines, "\n"))
}
