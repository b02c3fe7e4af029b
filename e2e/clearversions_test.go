package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Stock fly's clear-versions: an admin clears a resource's versions (the
// API pin goes with them; the builds that used them keep their inputs), the
// next check starts the history again; a resource type has none to clear;
// a team owner who is not an admin is refused.
func TestStockFlyClearVersions(t *testing.T) {
	stock := stockFly(t)
	f := newFleetOf(t, bin, "", []string{"--add-local-user", "bob:bobpw"})
	f.startSpoke("local-1", f.url)
	fly, must := stockFlyAt(t, stock, t.TempDir())
	must("admin", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	file := filepath.Join(f.dir, "p.yml")
	if err := os.WriteFile(file, []byte(`
resource_types:
- name: t
  type: registry-image
  source: {repository: example/t}
resources:
- name: r
  type: mock
  source: {no_initial_version: true}
  check_every: never
jobs:
- name: j
  plan:
  - get: r
  - task: show
    config: {platform: linux, inputs: [{name: r}], run: {path: cat, args: [r/version]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	must("admin", "set-pipeline", "-n", "-p", "p", "-c", file)
	must("admin", "unpause-pipeline", "-p", "p")
	for _, v := range []string{"v1", "v2", "v3"} {
		must("admin", "check-resource", "-r", "p/r", "-f", "version:"+v)
	}
	must("admin", "pin-resource", "-r", "p/r", "-v", "version:v2")
	if out := must("admin", "trigger-job", "-j", "p/j", "-w"); !strings.Contains(out, "v2\n") {
		t.Fatalf("the pinned version:\n%s", out)
	}

	must("admin", "set-team", "-n", "blue", "--local-user", "bob", "--non-interactive")
	must("bob", "login", "-c", f.url, "-u", "bob", "-p", "bobpw", "-n", "blue")
	if out, err := fly("bob", "clear-versions", "--resource", "p/r", "--team", "main", "-n"); err == nil {
		t.Errorf("a non-admin cleared versions:\n%s", out)
	}

	if out := must("admin", "clear-versions", "--resource", "p/r", "-n"); !strings.Contains(out, "3 versions removed") {
		t.Errorf("clear-versions:\n%s", out)
	}
	if out := must("admin", "resource-versions", "-r", "p/r"); strings.Contains(out, "v1") || strings.Contains(out, "v2") {
		t.Errorf("versions after clearing:\n%s", out)
	}
	if out := must("admin", "resources", "-p", "p"); strings.Contains(out, "pinned") {
		t.Errorf("the API pin outlived its version:\n%s", out)
	}
	if out := must("admin", "builds", "-j", "p/j"); !strings.Contains(out, "succeeded") {
		t.Errorf("the build that used a cleared version:\n%s", out)
	}
	must("admin", "check-resource", "-r", "p/r", "-f", "version:v9")
	if out := must("admin", "trigger-job", "-j", "p/j", "-w"); !strings.Contains(out, "v9\n") {
		t.Errorf("after a new check:\n%s", out)
	}
	if out := must("admin", "clear-versions", "--resource-type", "p/t", "-n"); !strings.Contains(out, "0 versions removed") {
		t.Errorf("clear-versions of a resource type:\n%s", out)
	}
	if out, err := fly("admin", "clear-versions", "--resource", "p/nope", "-n"); err == nil {
		t.Errorf("clear-versions of a resource that does not exist:\n%s", out)
	}
}

// Stock fly's order-pipelines places the named pipelines first, in order;
// an unknown name changes nothing.
func TestStockFlyOrderPipelines(t *testing.T) {
	stock := stockFly(t)
	f := newFleet(t)
	fly, must := stockFlyAt(t, stock, t.TempDir())
	must("admin", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	file := filepath.Join(f.dir, "p.yml")
	if err := os.WriteFile(file, []byte("jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"alpha", "bravo", "charlie", "delta"} {
		must("admin", "set-pipeline", "-n", "-p", p, "-c", file)
	}
	order := func() string {
		t.Helper()
		var names []string
		for _, line := range strings.Split(must("admin", "pipelines"), "\n") {
			if fields := strings.Fields(line); len(fields) > 1 {
				names = append(names, fields[1])
			}
		}
		return strings.Join(names, " ")
	}
	if got := order(); got != "alpha bravo charlie delta" {
		t.Fatalf("pipelines before ordering: %s", got)
	}
	must("admin", "order-pipelines", "-p", "charlie", "-p", "alpha")
	if got := order(); got != "charlie alpha bravo delta" {
		t.Errorf("pipelines after ordering: %s", got)
	}
	if out, err := fly("admin", "order-pipelines", "-p", "delta", "-p", "nope"); err == nil || !strings.Contains(out, "nope") {
		t.Errorf("ordering with an unknown pipeline: %v\n%s", err, out)
	}
	if got := order(); got != "charlie alpha bravo delta" {
		t.Errorf("a refused ordering changed the order: %s", got)
	}
	must("admin", "set-pipeline", "-n", "-p", "echo", "-c", file)
	if got := order(); got != "charlie alpha bravo delta echo" {
		t.Errorf("a new pipeline is not last: %s", got)
	}

	// Our fly's pipeline commands, read back through stock fly.
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	if out := f.mustFly("order-pipelines", "-a"); !strings.Contains(out, "ordered pipelines\n  - alpha\n  - bravo") {
		t.Errorf("order-pipelines -a:\n%s", out)
	}
	if got := order(); got != "alpha bravo charlie delta echo" {
		t.Errorf("pipelines after order-pipelines -a: %s", got)
	}
	public := func() int {
		resp, err := http.Get(f.url + "/api/v1/teams/main/pipelines/alpha")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if out := f.mustFly("expose-pipeline", "-p", "alpha"); !strings.Contains(out, "exposed 'alpha'") || public() != 200 {
		t.Errorf("expose-pipeline:\n%s", out)
	}
	if out := f.mustFly("hide-pipeline", "-p", "alpha"); !strings.Contains(out, "hid 'alpha'") || public() != 401 {
		t.Errorf("hide-pipeline:\n%s", out)
	}
	if out := f.mustFly("rename-pipeline", "-o", "bravo", "-n", "beta"); !strings.Contains(out, "pipeline successfully renamed to 'beta'") {
		t.Errorf("rename-pipeline:\n%s", out)
	}
	if out := f.mustFly("archive-pipeline", "-p", "echo", "-n"); !strings.Contains(out, "archived 'echo'") {
		t.Errorf("archive-pipeline:\n%s", out)
	}
	if got := order(); got != "alpha beta charlie delta" {
		t.Errorf("pipelines after rename and archive: %s", got)
	}

	// The same commands from stock fly.
	if out := must("admin", "expose-pipeline", "-p", "beta"); !strings.Contains(out, "exposed 'beta'") {
		t.Errorf("stock expose-pipeline:\n%s", out)
	}
	if out := must("admin", "hide-pipeline", "-p", "beta"); !strings.Contains(out, "hid 'beta'") {
		t.Errorf("stock hide-pipeline:\n%s", out)
	}
	if out := must("admin", "rename-pipeline", "-o", "beta", "-n", "bravo"); !strings.Contains(out, "pipeline successfully renamed to 'bravo'") {
		t.Errorf("stock rename-pipeline:\n%s", out)
	}
	if out := must("admin", "archive-pipeline", "-p", "delta", "-n"); !strings.Contains(out, "archived 'delta'") {
		t.Errorf("stock archive-pipeline:\n%s", out)
	}
	if got := order(); got != "alpha bravo charlie" {
		t.Errorf("pipelines after stock fly's rename and archive: %s", got)
	}
}
