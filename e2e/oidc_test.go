package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// Sign-in through a real OpenID provider (Ory Hydra) with stock fly 8.2.5:
// fly login without -u prints the hub's login page and waits on its local
// port; the test is the browser, following the page's OIDC link through
// Hydra's login and consent and back to the hub, which hands the token to
// fly's port. Groups map to roles as set-team says. The paste-a-token
// fallback, a provider that refuses, one that is down and one whose ID
// token is forged each end as they should, and local users still sign in.
func TestStockFlyOIDCLogin(t *testing.T) {
	stock := stockFly(t)
	p := startProvider(t)
	id, secret := p.client()
	f := newFleetOf(t, bin, "", []string{"--oidc-issuer", p.issuer, "--oidc-client-id", id, "--oidc-client-secret", secret, "--oidc-display-name", "Hydra"})
	p.redirectTo(id, f.url)
	home := t.TempDir()
	fly, must := stockFlyAt(t, stock, home)
	must("admin", "login", "-c", f.url, "-u", "admin", "-p", "secret")
	teamFile := filepath.Join(f.dir, "blue.yml")
	if err := os.WriteFile(teamFile, []byte("roles:\n- name: owner\n  oidc: {groups: [devs]}\n- name: viewer\n  oidc: {users: [victor]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("admin", "set-team", "-n", "blue", "-c", teamFile, "--non-interactive")

	// The browser flow: alice, in group devs, owns blue.
	p.signInAs("Alice", "Devs", "others")
	if out, err := browserLogin(t, stock, home, "alice", f.url, "blue"); err != nil || !strings.Contains(out, "target saved") {
		t.Fatalf("fly login through OIDC: %v\n%s", err, out)
	}
	if out := must("alice", "userinfo"); !strings.Contains(out, "alice") || !strings.Contains(out, "blue") {
		t.Errorf("alice's userinfo:\n%s", out)
	}
	if out := must("alice", "teams"); strings.Contains(out, "main") {
		t.Errorf("alice sees main:\n%s", out)
	}
	pipelineFile := filepath.Join(f.dir, "p.yml")
	if err := os.WriteFile(pipelineFile, []byte("jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("alice", "set-pipeline", "-n", "-p", "p", "-c", pipelineFile) // owners set pipelines
	if out, err := fly("alice", "pipelines", "--team", "main"); err == nil {
		t.Errorf("alice listed main's pipelines:\n%s", out)
	}

	// The paste-a-token fallback: a browser without fly's port gets a page
	// with the token, which fly reads where it asks for one.
	p.signInAs("victor")
	browser := newBrowser(t)
	page := browser.get(browser.oidcLink(f.url + "/login"))
	m := regexp.MustCompile(`<pre id="token">([^<]+)</pre>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token on the page:\n%s", page)
	}
	if out, err := pasteLogin(t, stock, home, "victor", f.url, "blue", html.UnescapeString(m[1])); err != nil || !strings.Contains(out, "target saved") {
		t.Fatalf("fly login with a pasted token: %v\n%s", err, out)
	}
	if out, err := fly("victor", "set-pipeline", "-n", "-p", "q", "-c", pipelineFile); err == nil {
		t.Errorf("a viewer set a pipeline:\n%s", out)
	}
	if out := must("victor", "pipelines"); !strings.Contains(out, "p") {
		t.Errorf("a viewer's pipelines:\n%s", out)
	}

	// Someone with no role on blue gets a token fly refuses for the team.
	p.signInAs("mallory", "strangers")
	if out, err := browserLogin(t, stock, home, "mallory", f.url, "blue"); err == nil || !strings.Contains(out, "you are not a member of 'blue'") {
		t.Errorf("mallory logged in to blue:\n%s", out)
	}

	// Refusals and failures say which, and local users still sign in.
	for _, c := range []struct {
		name string
		set  func(p *provider)
		want string
	}{
		{"refused", func(p *provider) { p.refuse = true }, "refused the sign-in"},
		{"forged ID token", func(p *provider) { p.refuse, p.spoilID = false, true }, "ID token is not valid"},
	} {
		p.set(c.set)
		page := newBrowser(t).get(newBrowser(t).oidcLink(f.url + "/login"))
		if !strings.Contains(page, c.want) || strings.Contains(page, `id="token"`) {
			t.Errorf("%s: the page does not say %q:\n%s", c.name, c.want, page)
		}
	}
	// A hub that starts while its provider is down says so at sign-in.
	p.set(func(p *provider) { p.spoilID, p.down = false, true })
	other := newFleetOf(t, bin, "", []string{"--oidc-issuer", p.issuer, "--oidc-client-id", id, "--oidc-client-secret", secret})
	page = newBrowser(t).get(other.url + "/sky/login/oidc")
	if !strings.Contains(page, "cannot be reached") || !strings.Contains(page, "Local users can still sign in") {
		t.Errorf("provider down: the page says:\n%s", page)
	}
	if out := must("local", "login", "-c", other.url, "-u", "admin", "-p", "secret"); !strings.Contains(out, "target saved") {
		t.Errorf("a local user while the provider is down:\n%s", out)
	}

	// The hub remembers who signed in through which connector.
	var users []api.User
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/api/v1/users?since=2000-01-01", nil)
	req.Header.Set("Authorization", "Bearer "+f.token())
	if err := doJSON(req, &users); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(users); !strings.Contains(s, "alice") || !strings.Contains(s, "oidc") {
		t.Errorf("active users: %s", s)
	}
}

// browser is a cookie-keeping HTTP client that follows redirects, as a
// browser does.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// get follows u to its last page and returns that page.
func (b *browser) get(u string) string {
	b.t.Helper()
	page, err := b.follow(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return page
}

func (b *browser) follow(u string) (string, error) {
	resp, err := b.c.Get(u)
	if err != nil {
		return "", fmt.Errorf("browser GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return string(data), err
}

// oidcLink opens the login page at u and returns its OIDC link.
func (b *browser) oidcLink(u string) string {
	b.t.Helper()
	link, err := b.findOIDCLink(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return link
}

func (b *browser) findOIDCLink(u string) (string, error) {
	page, err := b.follow(u)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`<a id="oidc" href="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("no OIDC link on the login page %s:\n%s", u, page)
	}
	base := u[:strings.Index(u[len("http://"):], "/")+len("http://")]
	return base + html.UnescapeString(m[1]), nil
}

// browserLogin runs stock fly login without -u and plays the browser it
// asks for: it opens the URL fly prints and follows the OIDC link.
func browserLogin(t *testing.T, stock, home, target, hubURL, team string) (string, error) {
	t.Helper()
	return flyLogin(t, stock, home, target, hubURL, team, func(loginURL string, _ io.Writer) error {
		b := newBrowser(t)
		link, err := b.findOIDCLink(loginURL)
		if err != nil {
			return err
		}
		_, err = b.follow(link)
		return err
	})
}

// pasteLogin runs stock fly login without -u and types token where it asks.
func pasteLogin(t *testing.T, stock, home, target, hubURL, team, token string) (string, error) {
	t.Helper()
	return flyLogin(t, stock, home, target, hubURL, team, func(_ string, stdin io.Writer) error {
		_, err := io.WriteString(stdin, token+"\r")
		return err
	})
}

// flyLogin runs stock fly login without -u; when fly prints its login URL,
// act gets it and fly's stdin (a pipe kept open: fly reads a pasted token
// from it while it waits on its port). When act fails, fly is stopped.
func flyLogin(t *testing.T, stock, home, target, hubURL, team string, act func(loginURL string, stdin io.Writer) error) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stock, "-t", target, "login", "-c", hubURL, "-n", team)
	cmd.Env = append(os.Environ(), "HOME="+home)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	loginURL := regexp.MustCompile(`http://\S+/login\?fly_port=\d+`)
	scanner := bufio.NewScanner(stdout)
	acted := false
	for scanner.Scan() {
		line := scanner.Text()
		out.WriteString(line + "\n")
		if u := loginURL.FindString(line); u != "" && !acted {
			acted = true
			go func() {
				if err := act(u, stdin); err != nil {
					t.Errorf("the browser's part of fly login: %v", err)
					cancel()
				}
			}()
		}
	}
	return out.String(), cmd.Wait()
}
