package server_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// The UI's session: a sign-in from a page sets the cookies and goes back
// to that page, never to another site; the cookie reads, and changes only
// with the session's CSRF token; signing out ends it.
func TestWebSession(t *testing.T) {
	hs := replica(t, storetest.New(t))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(redirect string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(hs.URL+"/sky/login", url.Values{"username": {"admin"}, "password": {"pw"}, "redirect_uri": {redirect}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, hostile := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`, "evil", "/a\r\nSet-Cookie: x=1"} {
		resp := post(hostile)
		if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusFound || loc != "" {
			t.Errorf("a sign-in asked to go to %q went to %q (%d)", hostile, loc, resp.StatusCode)
		}
	}
	if resp := post("/teams/main/pipelines/p?x=1"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/teams/main/pipelines/p?x=1" {
		t.Fatalf("a sign-in from a page: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	u, _ := url.Parse(hs.URL)
	csrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "skymarshal_csrf" {
			csrf = ck.Value
		}
	}
	if csrf == "" {
		t.Fatal("no CSRF cookie")
	}
	do := func(method, path, token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, hs.URL+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("X-Csrf-Token", token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("GET", "/api/v1/user", ""); code != http.StatusOK {
		t.Errorf("a read with the session cookie: %d", code)
	}
	if code := do("PUT", "/api/v1/teams/main", ""); code != http.StatusForbidden {
		t.Errorf("a change with the cookie and no CSRF token: %d, want 403", code)
	}
	if code := do("PUT", "/api/v1/teams/main", "not-"+csrf); code != http.StatusForbidden {
		t.Errorf("a change with the cookie and a wrong CSRF token: %d, want 403", code)
	}
	if code := do("PUT", "/api/v1/wall", csrf); code != http.StatusOK && code != http.StatusNoContent {
		t.Errorf("a change with the cookie and its CSRF token: %d", code)
	}
	if code := do("GET", "/fleet", ""); code != http.StatusOK {
		t.Errorf("the fleet page signed in: %d", code)
	}
	if code := do("GET", "/sky/logout?redirect_uri=/", ""); code != http.StatusFound {
		t.Errorf("sign out: %d", code)
	}
	if code := do("GET", "/fleet", ""); code != http.StatusFound {
		t.Errorf("the fleet page after signing out: %d, want a redirect to sign in", code)
	}
}

// Pages go gzipped to a browser that takes it, plain to one that does not.
func TestPagesAreGzipped(t *testing.T) {
	hs := replica(t, storetest.New(t))
	for _, enc := range []string{"gzip, deflate, br", "", "gzip;q=0"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+"/", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		gzipped := resp.Header.Get("Content-Encoding") == "gzip"
		if gzipped {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		page, _ := io.ReadAll(body)
		resp.Body.Close()
		if want := enc == "gzip, deflate, br"; gzipped != want {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", enc, gzipped, want)
		}
		if !strings.Contains(string(page), "<title>Pipelines") {
			t.Errorf("Accept-Encoding %q: the page is not the dashboard: %.200s", enc, page)
		}
	}
}
