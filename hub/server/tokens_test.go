package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/server"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

func replica(t *testing.T, st *store.Store) *httptest.Server {
	t.Helper()
	users := auth.Users{}
	_ = users.Add("admin:pw")
	srv, err := server.New(t.Context(), server.Config{Users: users, MainTeamUsers: []string{"admin"}}, st, noWaker{},
		notify.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs
}

func userStatus(t *testing.T, hubURL, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hubURL+"/api/v1/user", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fly logout revokes the token: the replica it reached refuses it at once,
// another replica within server.RevocationStaleness; other tokens of the
// same user still work.
func TestLogoutRevokes(t *testing.T) {
	st := storetest.New(t)
	a, b := replica(t, st), replica(t, st)
	tok, other := login(t, a.URL, "admin"), login(t, a.URL, "admin")
	if userStatus(t, a.URL, tok) != http.StatusOK || userStatus(t, b.URL, tok) != http.StatusOK {
		t.Fatal("a fresh token is refused")
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+"/sky/logout", nil)
	req.Header.Set("Cookie", `skymarshal_auth="bearer `+tok+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code := userStatus(t, a.URL, tok); code != http.StatusUnauthorized {
		t.Errorf("the replica that revoked it: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*server.RevocationStaleness)
	defer cancel()
	for userStatus(t, b.URL, tok) != http.StatusUnauthorized {
		if ctx.Err() != nil {
			t.Fatal("another replica still accepts the revoked token")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if userStatus(t, a.URL, other) != http.StatusOK || userStatus(t, b.URL, other) != http.StatusOK {
		t.Error("the user's other token was revoked too")
	}
}

// A token the hub did not issue is refused, however well-formed: one with a
// far-future expiry, a hub's token with its expiry bytes changed, garbage.
func TestForgedTokensRefused(t *testing.T) {
	st := storetest.New(t)
	a := replica(t, st)
	real := login(t, a.URL, "admin")
	forged, err := auth.NewToken(time.Now().Add(100 * 365 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawStdEncoding.DecodeString(real)
	raw[len(raw)-2]++ // push the expiry out
	stretched := base64.RawStdEncoding.EncodeToString(raw)
	for name, tok := range map[string]string{"forged": forged, "stretched": stretched, "garbage": "not-a-token", "jwt alg none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."} {
		if code := userStatus(t, a.URL, tok); code != http.StatusUnauthorized {
			t.Errorf("%s token: %d, want 401", name, code)
		}
	}
	if code := userStatus(t, a.URL, real); code != http.StatusOK {
		t.Errorf("the real token: %d", code)
	}
}

// Repeated wrong passwords from one address are slowed down: even the right
// password waits, with 429 and Retry-After.
func TestSigninSlowsDown(t *testing.T) {
	a := replica(t, storetest.New(t))
	grant := func(password string) *http.Response {
		form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {password}}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", a.URL+"/sky/issuer/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("fly", "Zmx5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := grant("pw"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the right password: %d", resp.StatusCode)
	}
	for range 11 {
		grant("wrong")
	}
	if resp := grant("pw"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 11 wrong passwords: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
