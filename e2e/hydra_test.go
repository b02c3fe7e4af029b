package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvHydra names the variable that holds the Ory Hydra binary (hack/with-hydra.sh).
const EnvHydra = "SWITCHYARD_TEST_HYDRA"

// provider is a real OpenID provider for one test: Ory Hydra on an
// in-memory database, with the test's own login and consent app (which
// accepts whom the test says, through Hydra's admin API), reached through
// a proxy that can play dead or spoil the ID token it hands out.
type provider struct {
	t      testing.TB
	issuer string // the proxy's URL, which Hydra calls itself
	admin  string

	mu      sync.Mutex
	user    string
	groups  []string
	refuse  bool
	down    bool
	spoilID bool
}

// startProvider starts Hydra; sign-ins are refused until signInAs.
func startProvider(t testing.TB) *provider {
	t.Helper()
	bin := os.Getenv(EnvHydra)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-hydra.sh", EnvHydra)
	}
	p := &provider{t: t, refuse: true}
	public, admin := freeAddr(t), freeAddr(t)
	p.admin = "http://" + admin
	target, _ := url.Parse("http://" + public)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = p.spoil
	proxy.ErrorLog = log.New(io.Discard, "", 0) // Hydra is not up yet while the test waits for it
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			http.Error(w, "the provider is down", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	p.issuer = front.URL
	app := httptest.NewServer(http.HandlerFunc(p.serveApp))
	t.Cleanup(app.Close)

	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "all", "--dev")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DSN=memory", "LOG_LEVEL=warn",
		"URLS_SELF_ISSUER="+p.issuer, "URLS_LOGIN="+app.URL+"/login", "URLS_CONSENT="+app.URL+"/consent",
		"SECRETS_SYSTEM=switchyard-e2e-system-secret-0123456789",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+port(public),
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+port(admin))
	startServer(t, "hydra", dir, cmd)
	for i := 0; ; i++ {
		if resp, err := http.Get(p.issuer + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 600 {
			t.Fatal("hydra did not become ready in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func port(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

// client registers the hub as an OAuth2 client and returns its id and
// secret; redirectTo sets its redirect once the hub's address is known.
func (p *provider) client() (string, string) {
	p.t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	p.adminCall(http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                "switchyard",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"scope":                      "openid profile email groups",
		"redirect_uris":              []string{"http://127.0.0.1/unset"},
		"token_endpoint_auth_method": "client_secret_basic",
	}, &c)
	return c.ID, c.Secret
}

func (p *provider) redirectTo(clientID, hubURL string) {
	p.t.Helper()
	var c map[string]any
	p.adminCall(http.MethodPatch, "/admin/clients/"+url.PathEscape(clientID),
		[]map[string]any{{"op": "replace", "path": "/redirect_uris", "value": []string{hubURL + "/sky/issuer/callback"}}}, &c)
}

// signInAs makes the login app accept the next sign-ins as user with groups.
func (p *provider) signInAs(user string, groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user, p.groups, p.refuse = user, groups, false
}

func (p *provider) set(f func(p *provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// serveApp is the provider's login and consent app: it accepts or refuses
// each challenge through Hydra's admin API and sends the browser on.
func (p *provider) serveApp(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	user, groups, refuse := p.user, p.groups, p.refuse
	p.mu.Unlock()
	var to struct {
		RedirectTo string `json:"redirect_to"`
	}
	switch r.URL.Path {
	case "/login":
		q := "?login_challenge=" + url.QueryEscape(r.URL.Query().Get("login_challenge"))
		if refuse {
			p.adminCall(http.MethodPut, "/admin/oauth2/auth/requests/login/reject"+q,
				map[string]any{"error": "access_denied", "error_description": "the test refuses this sign-in"}, &to)
		} else {
			p.adminCall(http.MethodPut, "/admin/oauth2/auth/requests/login/accept"+q, map[string]any{"subject": user}, &to)
		}
	case "/consent":
		q := "?consent_challenge=" + url.QueryEscape(r.URL.Query().Get("consent_challenge"))
		var req struct {
			Scope []string `json:"requested_scope"`
		}
		p.adminCall(http.MethodGet, "/admin/oauth2/auth/requests/consent"+q, nil, &req)
		p.adminCall(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept"+q, map[string]any{
			"grant_scope": req.Scope,
			"session":     map[string]any{"id_token": map[string]any{"preferred_username": user, "groups": groups}},
		}, &to)
	default:
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, to.RedirectTo, http.StatusFound)
}

func (p *provider) adminCall(method, path string, body, out any) {
	var in io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		in = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, p.admin+path, in)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Errorf("hydra admin %s %s: %v", method, path, err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		p.t.Errorf("hydra admin %s %s: %s: %s", method, path, resp.Status, data)
		return
	}
	if err := json.Unmarshal(data, out); err != nil {
		p.t.Errorf("hydra admin %s %s: %v", method, path, err)
	}
}

// spoil forges the ID token in token responses while
// spoilID is set.
func (p *provider) spoil(resp *http.Response) error {
	p.mu.Lock()
	spoilID := p.spoilID
	p.mu.Unlock()
	if !spoilID || resp.Request.URL.Path != "/oauth2/token" {
		return nil
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var tok map[string]any
	if err := json.Unmarshal(data, &tok); err != nil {
		return fmt.Errorf("token response: %w", err)
	}
	if id, ok := tok["id_token"].(string); ok {
		// The same token claiming to be admin: its signature no longer matches.
		parts := strings.Split(id, ".")
		claims, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return fmt.Errorf("ID token: %w", err)
		}
		var c map[string]any
		if err := json.Unmarshal(claims, &c); err != nil {
			return fmt.Errorf("ID token: %w", err)
		}
		c["preferred_username"] = "admin"
		claims, _ = json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(claims)
		tok["id_token"] = strings.Join(parts, ".")
	}
	data, _ = json.Marshal(tok)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Set("Content-Length", fmt.Sprint(len(data)))
	return nil
}
