package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"go.yaml.in/yaml/v3"
)

// Stock fly 8.2.5 manages teams at run time: set-team for a second team with
// a local user, teams -d, get-team, rename-team, destroy-team (never main).
// The second team's owner sees only its team: it cannot trigger main's jobs
// or read main's builds, events or artifacts by id.
func TestStockFlyTeams(t *testing.T) {
	stock := stockFly(t)
	f := newFleetOf(t, bin, "", []string{"--add-local-user", "bob:bobpw"})
	f.startSpoke("local-1", f.url)
	home := t.TempDir()
	fly, must := stockFlyAt(t, stock, home)
	must("admin", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	if out := must("admin", "set-team", "-n", "blue", "--local-user", "bob", "--non-interactive"); !strings.Contains(out, "team created") {
		t.Errorf("set-team:\n%s", out)
	}
	if out := must("admin", "set-team", "-n", "blue", "--local-user", "bob", "--non-interactive"); !strings.Contains(out, "team updated") {
		t.Errorf("set-team again:\n%s", out)
	}
	if out := must("admin", "teams", "-d"); !strings.Contains(out, "blue/owner") || !strings.Contains(out, "local:bob") {
		t.Errorf("teams -d:\n%s", out)
	}
	if out := must("admin", "get-team", "-n", "blue"); !strings.Contains(out, "local:bob") {
		t.Errorf("get-team:\n%s", out)
	}

	// main has a pipeline with a build that made an artifact-free log.
	pipelineFile := filepath.Join(f.dir, "p.yml")
	if err := os.WriteFile(pipelineFile, []byte("jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: sh, args: [-c, echo main-only]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("admin", "set-pipeline", "-n", "-p", "p", "-c", pipelineFile)
	must("admin", "unpause-pipeline", "-p", "p")
	must("admin", "trigger-job", "-j", "p/j", "-w")

	must("bob", "login", "-c", f.url, "-u", "bob", "-p", "bobpw", "-n", "blue")
	if out := must("bob", "teams"); strings.Contains(out, "main") || !strings.Contains(out, "blue") {
		t.Errorf("bob's teams:\n%s", out)
	}
	if out := must("bob", "pipelines"); strings.Contains(out, "p ") {
		t.Errorf("bob sees main's pipelines:\n%s", out)
	}
	if out, err := fly("bob", "trigger-job", "-j", "p/j", "--team", "main"); err == nil || !strings.Contains(out, "you do not have a role on team 'main'") {
		t.Errorf("bob triggered main's job: %v\n%s", err, out)
	}
	if out, err := fly("bob", "login", "-c", f.url, "-u", "bob", "-p", "bobpw", "-n", "main"); err == nil {
		t.Errorf("bob logged in to main:\n%s", out)
	}
	must("bob", "login", "-c", f.url, "-u", "bob", "-p", "bobpw", "-n", "blue")
	bob := bobToken(t, home)
	for _, path := range []string{"/api/v1/builds/1", "/api/v1/builds/1/events", "/api/v1/builds/1/plan", "/api/v1/builds/1/artifacts",
		"/api/v1/teams/main/artifacts/1", "/api/v1/teams/main/pipelines/p/config", "/api/v1/teams/main/builds"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+bob)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound || strings.Contains(body.String(), "main-only") {
			t.Errorf("bob GET %s: %d %s", path, resp.StatusCode, body)
		}
	}

	if out := must("admin", "rename-team", "-o", "blue", "-n", "green"); !strings.Contains(out, "Team successfully renamed to green") {
		t.Errorf("rename-team:\n%s", out)
	}
	if out, err := fly("admin", "destroy-team", "-n", "main", "--non-interactive"); err == nil {
		t.Errorf("destroy-team main:\n%s", out)
	}
	if out := must("admin", "destroy-team", "-n", "green", "--non-interactive"); !strings.Contains(out, "`green` deleted") {
		t.Errorf("destroy-team:\n%s", out)
	}
	if out := must("admin", "teams"); strings.Contains(out, "green") || !strings.Contains(out, "main") {
		t.Errorf("teams after destroy:\n%s", out)
	}
	// The destroyed team's owner has no team left.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/api/v1/user", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	var user api.UserInfo
	if err := doJSON(req, &user); err != nil || len(user.Teams) != 0 {
		t.Errorf("bob after destroy: %+v, %v", user, err)
	}

	// Tokens are JWTs stock fly reads (targets shows their expiry), and fly
	// logout revokes them on the hub.
	if out := must("bob", "targets"); !strings.Contains(out, time.Now().Add(24*time.Hour).UTC().Format("2006")) {
		t.Errorf("targets shows no expiry:\n%s", out)
	}
	must("bob", "logout")
	if err := doJSON(req, &user); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a token after fly logout: %v", err)
	}
}

// stockFlyAt runs stock fly with home as its HOME, by target: fly returns
// its output and error, must fails the test unless it exits 0.
func stockFlyAt(t *testing.T, stock, home string) (fly func(target string, args ...string) (string, error), must func(target string, args ...string) string) {
	fly = func(target string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, stock, append([]string{"-t", target}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader("")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must = func(target string, args ...string) string {
		t.Helper()
		out, err := fly(target, args...)
		if err != nil {
			t.Fatalf("stock fly %v: %v\n%s", args, err, out)
		}
		return out
	}
	return fly, must
}

// bobToken reads target bob's token from the stock fly's ~/.flyrc.
func bobToken(t *testing.T, home string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(home, ".flyrc"))
	if err != nil {
		t.Fatal(err)
	}
	var rc struct {
		Targets map[string]struct {
			Token struct{ Value string } `yaml:"token"`
		} `yaml:"targets"`
	}
	if err := yaml.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	return rc.Targets["bob"].Token.Value
}

func doJSON(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Our fly's set-team reads Concourse's team config and refuses bad ones by
// file, line and field, changing nothing.
func TestSetTeamConfig(t *testing.T) {
	f := newFleet(t)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	write := func(name, text string) string {
		path := filepath.Join(f.dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yml", "roles:\n- name: owner\n  local: {users: [Admin]}\n- name: viewer\n  oidc: {groups: [Everyone]}\n")
	if out := f.mustFly("set-team", "-n", "red", "-c", good, "--non-interactive"); !strings.Contains(out, "team created") {
		t.Errorf("set-team:\n%s", out)
	}
	if out := f.mustFly("teams", "-d"); !strings.Contains(out, "red/owner") || !strings.Contains(out, "local:admin") || !strings.Contains(out, "oidc:everyone") {
		t.Errorf("teams -d:\n%s", out)
	}
	for file, want := range map[string]string{
		write("unknown.yml", "roles:\n- name: owner\n  github: {users: [x]}\n"): "unknown.yml:3",
		write("empty.yml", "roles:\n- name: owner\n  local: {users: []}\n"):     "role owner has no users and no groups",
		write("noname.yml", "roles:\n- local: {users: [x]}\n"):                  "a role has no name",
		write("nothing.yml", "roles: []\n"):                                     "auth config for the team must not be empty",
		write("huge.yml", "roles:\n"+strings.Repeat("# padding\n", 120000)):     "over the limit",
		write("bomb.yml", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nroles: []\n"): "bomb.yml",
	} {
		out, code := f.fly("set-team", "-n", "red", "-c", file, "--non-interactive")
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("set-team -c %s: exit %d, want %q:\n%s", filepath.Base(file), code, want, out)
		}
	}
	if out := f.mustFly("get-team", "-n", "red"); !strings.Contains(out, "local:admin") {
		t.Errorf("a refused config changed the team:\n%s", out)
	}
}

// Stock fly's wall, active-users, userinfo and sync against the hub.
func TestStockFlyWallUsersSync(t *testing.T) {
	stock := stockFly(t)
	cli := t.TempDir()
	ours, err := os.ReadFile(filepath.Join(bin, "fly"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cli, "fly-linux-amd64"), ours, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFleetOf(t, bin, "", []string{"--cli-artifacts-dir", cli})
	home := t.TempDir()
	// A copy of stock fly, which sync replaces with the hub's fly.
	copied := filepath.Join(t.TempDir(), "fly")
	raw, err := os.ReadFile(stock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), copied, append([]string{"-t", "w"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stock fly %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	must("login", "-c", f.url, "-u", "admin", "-p", "secret")
	must("set-wall", "-m", "maintenance at noon", "--ttl", "1h")
	if out := must("get-wall"); !strings.Contains(out, "maintenance at noon") {
		t.Errorf("get-wall:\n%s", out)
	}
	must("clear-wall")
	if out := must("get-wall"); strings.Contains(out, "maintenance") {
		t.Errorf("get-wall after clear-wall:\n%s", out)
	}
	// Switchyard's fly has the wall's commands too, on the same route.
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.mustFly("set-wall", "-m", "upgrade at six", "--ttl", "1h")
	if out := must("get-wall"); !strings.Contains(out, "upgrade at six") {
		t.Errorf("stock get-wall of our set-wall:\n%s", out)
	}
	if out := f.mustFly("get-wall"); !strings.Contains(out, "upgrade at six") || !strings.Contains(out, "expires in") {
		t.Errorf("our get-wall:\n%s", out)
	}
	f.mustFly("clear-wall")
	if out := f.mustFly("get-wall"); !strings.Contains(out, "no wall message is set") {
		t.Errorf("our get-wall after clear-wall:\n%s", out)
	}
	if out := must("active-users"); !strings.Contains(out, "admin") || !strings.Contains(out, "local") {
		t.Errorf("active-users:\n%s", out)
	}
	if out := must("userinfo"); !strings.Contains(out, "admin") || !strings.Contains(out, "main/owner") {
		t.Errorf("userinfo:\n%s", out)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the hub's fly download is built for linux/amd64 here")
	}
	must("sync", "-f")
	synced, err := os.ReadFile(copied)
	if err != nil || !bytes.Equal(synced, ours) {
		t.Errorf("fly sync did not install the hub's fly (%d bytes, want %d): %v", len(synced), len(ours), err)
	}
}
